//! Erasure through the public API: the whole merged person goes, no trace is left in the
//! snapshot, replayed data is refused on request, segments report the exits, and other
//! people are rebuilt when the person's identifiers had blocked their links.

use audience::segment::{event, trait_};
use audience::{
    Cause, Change, ConsentInput, Engine, ErasureOptions, EventInput, IngestError, IngestOptions,
    LookupError, PrivacyError, ProfileId, Record, Subject, Suppression,
};

use crate::common::{rec, retail, t};

const SUPPRESS: ErasureOptions = ErasureOptions { suppress: true };

/// Ann, seen as a device and by email, merged by a login; and Bob.
fn two_people() -> (Engine, ProfileId, ProfileId) {
    let mut e = retail();
    e.set_erasure_key(b"test key");
    e.advance_time(t(100)).unwrap();
    let device = e
        .ingest(
            &rec(1, "web")
                .identifier("anonymous_id", "dev-ann")
                .event(EventInput::new("product_view", t(1)).property("product_id", "zelda-lamp"))
                .build(),
        )
        .unwrap()
        .profile;
    e.ingest(
        &rec(2, "crm")
            .message_id("crm-ann-1")
            .identifier("email", "ann.zweig@example.com")
            .trait_value("first_name", "Annelie")
            .consent(
                ConsentInput::grant("marketing")
                    .channel("email")
                    .proof("form v7 for Annelie"),
            )
            .build(),
    )
    .unwrap();
    let login = e
        .ingest(
            &rec(3, "app")
                .identifier("anonymous_id", "dev-ann")
                .identifier("email", "ann.zweig@example.com")
                .identifier("user_id", "u-ann")
                .event(
                    EventInput::new("order_completed", t(3))
                        .property("amount", crate::common::usd(4_200)),
                )
                .build(),
        )
        .unwrap();
    assert_eq!(login.profile, device);
    let bob = e
        .ingest(
            &rec(4, "web")
                .identifier("user_id", "u-bob")
                .trait_value("first_name", "Bob")
                .event(EventInput::new("product_view", t(4)).property("product_id", "common-mug"))
                .build(),
        )
        .unwrap()
        .profile;
    e.suppress_identifier(
        "email",
        "ann.zweig@example.com",
        Suppression::new("bounced", t(5)),
    )
    .unwrap();
    (e, device, bob)
}

#[test]
fn the_whole_merged_person_goes_and_leaves_no_trace() {
    let (mut e, ann, bob) = two_people();
    e.score_rfm("classic", t(50)).unwrap();
    let ids = e.merge_log().iter().map(|m| m.retired).collect::<Vec<_>>();
    let receipt = e.erase(ann, ErasureOptions::default()).unwrap();
    assert_eq!(receipt.profile, ann);
    assert_eq!(receipt.profile_ids.len(), 2);
    assert_eq!(receipt.records.len(), 3);
    assert_eq!(receipt.identifiers, 3);
    assert_eq!(
        (
            receipt.events,
            receipt.observations,
            receipt.consent_statements
        ),
        (2, 1, 1)
    );
    assert_eq!(
        (
            receipt.suppressions,
            receipt.rfm_scores,
            receipt.message_ids
        ),
        (1, 1, 1)
    );
    assert!(receipt.rebuilt.is_empty());
    for id in receipt.profile_ids.iter().chain(&ids) {
        assert_eq!(e.resolve(*id), Err(LookupError::Erased(*id)));
    }
    for r in &receipt.records {
        assert!(e.record(*r).is_none());
    }
    assert_eq!(e.find("email", "ann.zweig@example.com").unwrap(), None);
    assert!(e.merge_log().is_empty());
    assert!(e.identifier_suppressions_list().is_empty());
    assert_eq!(e.profile_count(), 1);
    assert_eq!(
        e.profile(bob).unwrap().value("first_name"),
        Some(&"Bob".into())
    );
    e.internal_validate().unwrap();
    // Nothing of Ann is left in the whole state.
    let json = serde_json::to_string(&e.snapshot()).unwrap();
    for trace in [
        "dev-ann",
        "ann.zweig",
        "u-ann",
        "Annelie",
        "zelda-lamp",
        "form v7",
        "crm-ann-1",
        "bounced",
    ] {
        assert!(!json.contains(trace), "{trace} is still in the snapshot");
    }
    assert!(json.contains("u-bob") && json.contains("common-mug"));
    // Erasing again is an error.
    assert_eq!(
        e.erase(ann, ErasureOptions::default()).unwrap_err(),
        PrivacyError::Erased(ann)
    );
}

#[test]
fn erasing_by_identifier_and_refusing_replayed_data_unless_allowed() {
    let (mut e, ann, _) = two_people();
    let receipt = e
        .erase(
            Subject::Identifier {
                kind: "email",
                value: " ANN.zweig@example.com",
            },
            SUPPRESS,
        )
        .unwrap();
    assert_eq!(receipt.profile, ann);
    assert_eq!(receipt.suppressed_hashes, 3);
    let replay = rec(10, "crm")
        .identifier("user_id", "someone")
        .identifier("email", "ann.zweig@example.com")
        .build();
    let before = e.clone();
    assert!(matches!(
        e.ingest(&replay),
        Err(IngestError::Erased { index: 1, .. })
    ));
    assert_eq!(e, before);
    // The host's explicit override starts a new, empty profile, and the identifier is
    // no longer refused.
    let back = e
        .ingest_with(&replay, IngestOptions { allow_erased: true })
        .unwrap();
    assert!(back.created);
    assert_ne!(back.profile, ann);
    assert!(
        e.ingest(
            &rec(11, "crm")
                .identifier("email", "ann.zweig@example.com")
                .build()
        )
        .is_ok()
    );
    // Still refused: her device id.
    assert!(matches!(
        e.ingest(&rec(12, "web").identifier("anonymous_id", "dev-ann").build()),
        Err(IngestError::Erased { .. })
    ));
    e.internal_validate().unwrap();
}

#[test]
fn without_the_key_hashes_cannot_be_kept_or_checked() {
    let mut e = retail();
    let p = e
        .ingest(&rec(1, "web").identifier("user_id", "u1").build())
        .unwrap()
        .profile;
    let before = e.clone();
    assert_eq!(
        e.erase(p, SUPPRESS).unwrap_err(),
        PrivacyError::ErasureKeyMissing
    );
    assert_eq!(e, before);
    e.set_erasure_key(b"k");
    e.erase(p, SUPPRESS).unwrap();
    // A restored engine has no key until the host sets it again.
    let mut restored = Engine::restore(e.snapshot()).unwrap();
    assert_eq!(
        restored
            .ingest(&rec(2, "web").identifier("user_id", "u2").build())
            .unwrap_err(),
        IngestError::ErasureKeyMissing
    );
    restored.set_erasure_key(b"k");
    assert!(
        restored
            .ingest(&rec(2, "web").identifier("user_id", "u2").build())
            .is_ok()
    );
    assert!(matches!(
        restored.ingest(&rec(3, "web").identifier("user_id", "u1").build()),
        Err(IngestError::Erased { .. })
    ));
}

#[test]
fn registered_segments_report_the_exits() {
    let (mut e, ann, bob) = two_people();
    let named = e
        .register_segment("named", trait_("first_name").exists())
        .unwrap();
    let viewers = e
        .register_segment("viewers", event("product_view").at_least(1))
        .unwrap();
    e.drain_changes();
    let receipt = e.erase(ann, ErasureOptions::default()).unwrap();
    let changes = e.drain_changes();
    assert_eq!(receipt.segment_exits, 2);
    assert_eq!(changes.len(), 2);
    for c in &changes {
        assert_eq!((c.profile, c.change), (ann, Change::Exited));
        assert_eq!(c.cause, Cause::Erasure { profile: ann });
    }
    assert_eq!(
        e.segment_members(named).unwrap().iter().collect::<Vec<_>>(),
        vec![bob.0]
    );
    assert_eq!(e.segment_count(viewers).unwrap(), 1);
    e.internal_validate().unwrap();
}

#[test]
fn a_profile_kept_apart_by_the_person_is_rebuilt_as_if_they_had_never_been() {
    // user_id has limit 1: Bob's login carries Ann's device, which would bring Ann's
    // user id along, so the device is dropped from Bob's record. Without Ann, the device
    // would have linked to Bob.
    let mut e = retail();
    let ann = e
        .ingest(
            &rec(1, "web")
                .identifier("user_id", "u-ann")
                .identifier("anonymous_id", "tablet")
                .build(),
        )
        .unwrap()
        .profile;
    let bob_login = rec(2, "app")
        .identifier("user_id", "u-bob")
        .identifier("anonymous_id", "tablet")
        .build();
    let bob = e.ingest(&bob_login).unwrap().profile;
    let later = rec(3, "web")
        .identifier("user_id", "u-bob")
        .trait_value("country", "DK")
        .build();
    e.ingest(&later).unwrap();
    assert_eq!(e.find("anonymous_id", "tablet").unwrap(), Some(ann));
    let receipt = e.erase(ann, ErasureOptions::default()).unwrap();
    assert_eq!(receipt.rebuilt, vec![bob]);
    assert_eq!(e.find("anonymous_id", "tablet").unwrap(), Some(bob));
    e.internal_validate().unwrap();
    // Exactly what an engine never fed Ann holds.
    let mut never = retail();
    let fresh_bob = never.ingest(&bob_login).unwrap().profile;
    never.ingest(&later).unwrap();
    let view = |x: &Engine, p| {
        let mut v = x.profile(p).unwrap();
        v.id = ProfileId(0);
        v.records.clear();
        for i in &mut v.identifiers {
            i.first_record = audience::RecordId(0);
        }
        for t in &mut v.traits {
            for o in &mut t.observations {
                o.record = audience::RecordId(0);
            }
        }
        v
    };
    assert_eq!(view(&e, bob), view(&never, fresh_bob));
}

#[test]
fn bad_erasure_input_is_a_typed_error_and_changes_nothing() {
    let (mut e, _, _) = two_people();
    let before = e.clone();
    assert_eq!(
        e.erase(ProfileId(99), ErasureOptions::default())
            .unwrap_err(),
        PrivacyError::UnknownProfile(ProfileId(99))
    );
    assert!(matches!(
        e.erase(
            Subject::Identifier {
                kind: "email",
                value: "nobody@example.com"
            },
            ErasureOptions::default()
        ),
        Err(PrivacyError::UnknownIdentifier { .. })
    ));
    assert!(matches!(
        e.erase(
            Subject::Identifier {
                kind: "fax",
                value: "1"
            },
            ErasureOptions::default()
        ),
        Err(PrivacyError::UnknownIdentifierKind(_))
    ));
    assert_eq!(e, before);
    let _ = Record::builder(t(0), "web");
}
