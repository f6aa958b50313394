//! Consent, suppression and activation through the public API: the rules by example,
//! merges in both time orders, real-time causes, and bad input.

use audience::segment::{consent, segment, suppressed, trait_};
use audience::{
    ActivationOptions, AddressHash, Cause, Change, ConsentBasis, ConsentInput, Engine, IngestError,
    PrivacyError, ProfileId, Suppression, SuppressionTarget,
};

use crate::common::{rec, retail, t};

fn grant(channel: &str) -> ConsentInput {
    ConsentInput::grant("marketing").channel(channel)
}

fn deny(channel: &str) -> ConsentInput {
    ConsentInput::deny("marketing").channel(channel)
}

/// The addresses of an activation's first member.
fn first(a: &audience::Activation) -> Vec<&str> {
    a.members().next().unwrap().addresses().collect()
}

fn granted(e: &Engine, p: ProfileId, purpose: &str, channel: &str) -> bool {
    e.consent(p, purpose, channel).unwrap().granted
}

#[test]
fn defaults_latest_statement_and_ties() {
    let mut e = retail();
    let p = e
        .ingest(&rec(0, "web").identifier("email", "ann@example.com").build())
        .unwrap()
        .profile;
    // With no statement the purpose's default applies.
    assert!(!granted(&e, p, "marketing", "email"), "opt-in");
    assert!(granted(&e, p, "analytics", "web"), "opt-out");
    assert_eq!(
        e.consent(p, "marketing", "email").unwrap().basis,
        ConsentBasis::Default
    );
    // The latest statement wins, whatever the arrival order.
    let r1 = e
        .ingest(
            &rec(20, "web")
                .identifier("email", "ann@example.com")
                .consent(grant("email"))
                .build(),
        )
        .unwrap();
    e.ingest(
        &rec(10, "crm")
            .identifier("email", "ann@example.com")
            .consent(deny("email"))
            .build(),
    )
    .unwrap();
    assert!(granted(&e, p, "marketing", "email"));
    assert_eq!(
        e.consent(p, "marketing", "email").unwrap().basis,
        ConsentBasis::Statement {
            record: r1.record.unwrap(),
            at: t(20)
        }
    );
    // A denial wins a tie.
    e.ingest(
        &rec(20, "crm")
            .identifier("email", "ann@example.com")
            .consent(deny("email"))
            .build(),
    )
    .unwrap();
    assert!(!granted(&e, p, "marketing", "email"));
    // A statement without a channel covers every channel; a later channel one narrows it.
    e.ingest(
        &rec(30, "app")
            .identifier("email", "ann@example.com")
            .consent(ConsentInput::grant("marketing"))
            .build(),
    )
    .unwrap();
    assert!(granted(&e, p, "marketing", "sms") && granted(&e, p, "marketing", "email"));
    e.ingest(
        &rec(40, "app")
            .identifier("email", "ann@example.com")
            .consent(deny("sms"))
            .build(),
    )
    .unwrap();
    assert!(!granted(&e, p, "marketing", "sms") && granted(&e, p, "marketing", "email"));
    // Global Privacy Control: "do not sell or share" is a statement like any other.
    e.ingest(
        &rec(50, "web")
            .identifier("email", "ann@example.com")
            .consent(ConsentInput::deny("sale_or_share").proof("Sec-GPC: 1"))
            .build(),
    )
    .unwrap();
    assert!(!granted(&e, p, "sale_or_share", "ads"));
    let view = e.profile(p).unwrap();
    assert_eq!(view.consent_history.len(), 6);
    assert_eq!(view.consent_history[5].proof.as_deref(), Some("Sec-GPC: 1"));
    assert_eq!(view.consent_history[5].source, "web");
    assert!(view.consented("marketing", "email") && !view.consented("marketing", "sms"));
    e.internal_validate().unwrap();
}

/// Two people, one granting and one denying, merged by a login at `merge_at`.
fn merged(
    grant_at: i64,
    deny_at: i64,
    merge_at: i64,
    login: Option<ConsentInput>,
) -> (Engine, ProfileId) {
    let mut e = retail();
    e.ingest(
        &rec(grant_at, "web")
            .identifier("anonymous_id", "dev-1")
            .consent(grant("email"))
            .build(),
    )
    .unwrap();
    e.ingest(
        &rec(deny_at, "crm")
            .identifier("email", "ann@example.com")
            .consent(deny("email"))
            .build(),
    )
    .unwrap();
    let mut b = rec(merge_at, "app")
        .identifier("anonymous_id", "dev-1")
        .identifier("email", "ann@example.com");
    if let Some(c) = login {
        b = b.consent(c);
    }
    let report = e.ingest(&b.build()).unwrap();
    assert_eq!(report.merged.len(), 1);
    e.internal_validate().unwrap();
    (e, report.profile)
}

#[test]
fn a_denial_stands_after_a_merge_in_both_time_orders() {
    for (grant_at, deny_at) in [(10, 20), (20, 10)] {
        let (mut e, p) = merged(grant_at, deny_at, 30, None);
        assert!(
            !granted(&e, p, "marketing", "email"),
            "grant at {grant_at}, deny at {deny_at}"
        );
        assert!(matches!(
            e.consent(p, "marketing", "email").unwrap().basis,
            ConsentBasis::Merge { .. } | ConsentBasis::Statement { .. }
        ));
        // A statement dated before the merge, arriving later, is judged as of its date: a
        // grant on the side that granted anyway does not lift the restriction ...
        e.ingest(
            &rec(25, "web")
                .identifier("anonymous_id", "dev-1")
                .consent(grant("email"))
                .build(),
        )
        .unwrap();
        assert!(!granted(&e, p, "marketing", "email"));
        // ... a later denial is simply the latest word ...
        e.ingest(
            &rec(31, "web")
                .identifier("email", "ann@example.com")
                .consent(deny("email"))
                .build(),
        )
        .unwrap();
        assert!(!granted(&e, p, "marketing", "email"));
        // ... and a statement made after the merge lifts it.
        e.ingest(
            &rec(32, "web")
                .identifier("email", "ann@example.com")
                .consent(grant("email"))
                .build(),
        )
        .unwrap();
        assert!(granted(&e, p, "marketing", "email"));
        // Both histories are kept.
        assert_eq!(e.profile(p).unwrap().consent_history.len(), 5);
        e.internal_validate().unwrap();
    }
    // A re-grant on the denying side dated before the merge, arriving after it, means both
    // sides granted when they joined: no restriction, whatever the arrival order.
    for (grant_at, deny_at) in [(10, 20), (20, 10)] {
        let (mut e, p) = merged(grant_at, deny_at, 30, None);
        e.ingest(
            &rec(25, "web")
                .identifier("email", "ann@example.com")
                .consent(grant("email"))
                .build(),
        )
        .unwrap();
        assert!(granted(&e, p, "marketing", "email"));
        assert!(matches!(
            e.consent(p, "marketing", "email").unwrap().basis,
            ConsentBasis::Statement { at, .. } if at == t(25)
        ));
        e.internal_validate().unwrap();
    }
    // When the grant is the later statement, it is the merge that keeps the denial.
    let (e, p) = merged(20, 10, 30, None);
    assert!(matches!(
        e.consent(p, "marketing", "email").unwrap().basis,
        ConsentBasis::Merge { at, .. } if at == t(30)
    ));
}

#[test]
fn the_merging_records_own_statement_is_the_latest_word() {
    let (e, p) = merged(10, 20, 30, Some(grant("email")));
    assert!(granted(&e, p, "marketing", "email"));
    let (e, p) = merged(20, 10, 30, Some(deny("email")));
    assert!(!granted(&e, p, "marketing", "email"));
    // Two granting sides merge granted; two denying ones denied; others untouched.
    let mut e = retail();
    for id in ["a1", "a2"] {
        e.ingest(
            &rec(1, "web")
                .identifier("anonymous_id", id)
                .consent(grant("sms"))
                .build(),
        )
        .unwrap();
    }
    let p = e
        .ingest(
            &rec(5, "web")
                .identifier("user_id", "u")
                .identifier("anonymous_id", "a1")
                .identifier("email", "x@y.z")
                .build(),
        )
        .unwrap()
        .profile;
    let q = e
        .ingest(
            &rec(6, "web")
                .identifier("anonymous_id", "a2")
                .identifier("email", "x@y.z")
                .build(),
        )
        .unwrap()
        .profile;
    assert_eq!(p, q);
    assert!(granted(&e, p, "marketing", "sms"));
    assert!(!granted(&e, p, "marketing", "email"));
    assert!(granted(&e, p, "analytics", "email"));
    e.internal_validate().unwrap();
}

#[test]
fn suppressions_of_profiles_and_identifiers() {
    let mut e = retail();
    let ann = e
        .ingest(&rec(0, "web").identifier("anonymous_id", "dev-1").build())
        .unwrap()
        .profile;
    // An identifier suppressed before it is ever seen applies once a profile holds it.
    e.suppress_identifier(
        "email",
        " Bounce@Example.com ",
        Suppression::new("hard bounce", t(1)).channel("email"),
    )
    .unwrap();
    let email_only = e.compile(&suppressed("email")).unwrap();
    assert_eq!(e.count(&email_only).unwrap(), 0);
    e.ingest(
        &rec(2, "web")
            .identifier("anonymous_id", "dev-1")
            .identifier("email", "bounce@example.com")
            .build(),
    )
    .unwrap();
    assert_eq!(e.count(&email_only).unwrap(), 1);
    assert_eq!(e.count(&e.compile(&suppressed("sms")).unwrap()).unwrap(), 0);
    let views = e.suppressions(ann).unwrap();
    assert_eq!(views.len(), 1);
    assert_eq!(
        views[0].target,
        SuppressionTarget::Identifier {
            kind: "email".into(),
            value: "bounce@example.com".into()
        }
    );
    // A whole-profile suppression follows the person through a merge.
    let bob = e
        .ingest(&rec(3, "crm").identifier("user_id", "bob").build())
        .unwrap()
        .profile;
    e.suppress_profile(bob, Suppression::new("complaint", t(4)))
        .unwrap();
    let sms = e.compile(&suppressed("sms")).unwrap();
    assert_eq!(
        e.members(&sms).unwrap().iter().collect::<Vec<_>>(),
        vec![bob.0]
    );
    let merged = e
        .ingest(
            &rec(5, "app")
                .identifier("user_id", "bob")
                .identifier("anonymous_id", "dev-1")
                .build(),
        )
        .unwrap();
    assert_eq!(merged.profile, ann);
    assert_eq!(
        e.members(&sms).unwrap().iter().collect::<Vec<_>>(),
        vec![ann.0]
    );
    assert_eq!(
        e.suppressions(bob).unwrap().len(),
        2,
        "read through the retired id"
    );
    // Lifting.
    assert!(e.unsuppress_profile(ann, None).unwrap());
    assert!(!e.unsuppress_profile(ann, None).unwrap());
    assert!(
        e.unsuppress_identifier("email", "bounce@example.com", Some("email"))
            .unwrap()
    );
    assert_eq!(
        e.count(
            &e.compile(&audience::segment::suppressed_anywhere())
                .unwrap()
        )
        .unwrap(),
        0
    );
    assert!(e.profile(ann).unwrap().suppressions.is_empty());
    e.internal_validate().unwrap();
}

fn shop() -> (Engine, ProfileId, ProfileId, ProfileId) {
    let mut e = retail();
    let ann = e
        .ingest(
            &rec(10, "web")
                .identifier("email", "ann@old.example")
                .trait_value("country", "DE")
                .consent(grant("email"))
                .build(),
        )
        .unwrap()
        .profile;
    e.ingest(
        &rec(20, "app")
            .identifier("email", "ann@old.example")
            .identifier("email", "ann@new.example")
            .build(),
    )
    .unwrap();
    let bob = e
        .ingest(
            &rec(10, "web")
                .identifier("email", "bob@example.com")
                .trait_value("country", "DE")
                .consent(deny("email"))
                .build(),
        )
        .unwrap()
        .profile;
    let cy = e
        .ingest(
            &rec(10, "web")
                .identifier("user_id", "cy")
                .trait_value("country", "DE")
                .consent(grant("email"))
                .build(),
        )
        .unwrap()
        .profile;
    (e, ann, bob, cy)
}

#[test]
fn activation_hands_out_the_latest_usable_address_and_counts_the_rest() {
    let (mut e, ann, _, _) = shop();
    let germans = trait_("country").eq("DE");
    let a = e
        .activate(&germans, "marketing", "email", ActivationOptions::default())
        .unwrap();
    assert_eq!(a.audience(), 3);
    assert_eq!(a.len(), 1);
    assert_eq!(a.profiles()[0], ann);
    // ann@new.example was seen at 20, ann@old.example at 20 too: ties go by value.
    assert_eq!(first(&a), vec!["ann@new.example"]);
    assert_eq!(
        (
            a.removed().no_consent,
            a.removed().suppressed,
            a.removed().no_address
        ),
        (1, 0, 1)
    );
    // Seen later: the old address becomes the latest.
    e.ingest(
        &rec(30, "crm")
            .identifier("email", "ann@old.example")
            .build(),
    )
    .unwrap();
    let all = ActivationOptions {
        all_addresses: true,
        ..Default::default()
    };
    let a = e.activate(&germans, "marketing", "email", all).unwrap();
    assert_eq!(first(&a), vec!["ann@old.example", "ann@new.example"]);
    // A suppressed address is withheld; with none left the profile is removed.
    e.suppress_identifier(
        "email",
        "ann@old.example",
        Suppression::new("bounce", t(31)),
    )
    .unwrap();
    let a = e.activate(&germans, "marketing", "email", all).unwrap();
    assert_eq!(first(&a), vec!["ann@new.example"]);
    assert_eq!(a.removed().suppressed_addresses, 1);
    e.suppress_identifier(
        "email",
        "ann@new.example",
        Suppression::new("bounce", t(32)).channel("email"),
    )
    .unwrap();
    let a = e.activate(&germans, "marketing", "email", all).unwrap();
    assert!(a.is_empty());
    assert_eq!(a.removed().no_address, 2);
    // A whole-profile suppression removes the profile before addresses are looked at.
    e.suppress_profile(ann, Suppression::new("complaint", t(33)).channel("email"))
        .unwrap();
    let a = e.activate(&germans, "marketing", "email", all).unwrap();
    assert_eq!(
        (
            a.removed().no_consent,
            a.removed().suppressed,
            a.removed().no_address
        ),
        (1, 1, 1)
    );
    assert_eq!(
        a.audience(),
        a.len() as u64 + a.removed().no_consent + a.removed().suppressed + a.removed().no_address
    );
}

#[test]
fn activation_hashes_addresses_for_ad_platforms_and_takes_any_audience() {
    let (mut e, ann, _, cy) = shop();
    let hashed = ActivationOptions {
        hash: AddressHash::Sha256,
        ..Default::default()
    };
    let a = e
        .activate(&trait_("country").eq("DE"), "marketing", "email", hashed)
        .unwrap();
    // SHA-256 of "ann@new.example", lowercase hex (from Python's hashlib).
    assert_eq!(
        first(&a),
        vec!["fd0e863ccfe57787c9124ce795f113888c1945e71ac342192609f9114d900c6e"]
    );
    // A channel without an address kind: members without addresses.
    let web = e
        .activate(
            &trait_("country").eq("DE"),
            "analytics",
            "web",
            ActivationOptions::default(),
        )
        .unwrap();
    assert_eq!(web.len(), 3);
    assert!(web.members().all(|m| m.addresses().len() == 0));
    // A registered segment and a plan are audiences too.
    let id = e
        .register_segment("de", trait_("country").eq("DE"))
        .unwrap();
    let by_id = e
        .activate(id, "marketing", "email", ActivationOptions::default())
        .unwrap();
    let plan = e.compile(&segment("de")).unwrap();
    let by_plan = e
        .activate(&plan, "marketing", "email", ActivationOptions::default())
        .unwrap();
    assert_eq!(by_id, by_plan);
    assert_eq!(by_id.profiles()[0], ann);
    assert!(
        by_id.profiles().iter().all(|&p| p != cy),
        "cy has no email address"
    );
    let json = serde_json::to_value(&by_id).unwrap();
    assert_eq!(json["removed"]["no_address"], 1);
}

#[test]
fn consent_and_suppression_are_real_time_causes() {
    let mut e = retail();
    let id = e
        .register_segment(
            "emailable",
            consent("marketing", "email").and(suppressed("email").not()),
        )
        .unwrap();
    let r = e
        .ingest(
            &rec(1, "web")
                .identifier("email", "ann@example.com")
                .consent(grant("email"))
                .build(),
        )
        .unwrap();
    let changes = e.drain_changes();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (changes[0].change, &changes[0].cause),
        (Change::Entered, &Cause::Record(r.record.unwrap()))
    );
    e.suppress_identifier("email", "ann@example.com", Suppression::new("bounce", t(2)))
        .unwrap();
    let changes = e.drain_changes();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].change, Change::Exited);
    assert!(matches!(
        &changes[0].cause,
        Cause::Suppression {
            suppressed: true,
            ..
        }
    ));
    assert_eq!(
        changes[0].at,
        t(2),
        "the suppression's time while the clock is unset"
    );
    e.unsuppress_identifier("email", "ann@example.com", None)
        .unwrap();
    assert_eq!(e.drain_changes()[0].change, Change::Entered);
    e.ingest(
        &rec(3, "web")
            .identifier("email", "ann@example.com")
            .consent(deny("email"))
            .build(),
    )
    .unwrap();
    assert_eq!(e.drain_changes()[0].change, Change::Exited);
    assert_eq!(e.segment_count(id).unwrap(), 0);
    e.internal_validate().unwrap();
}

#[test]
fn bad_privacy_input_is_a_typed_error_and_changes_nothing() {
    let (mut e, ann, _, _) = shop();
    let before = e.clone();
    let bad = |c: ConsentInput| {
        rec(50, "web")
            .identifier("email", "ann@new.example")
            .consent(c)
            .build()
    };
    assert_eq!(
        e.ingest(&bad(ConsentInput::grant("spam"))).unwrap_err(),
        IngestError::UnknownPurpose {
            index: 0,
            purpose: "spam".into()
        }
    );
    assert_eq!(
        e.ingest(&bad(grant("fax"))).unwrap_err(),
        IngestError::UnknownChannel {
            index: 0,
            channel: "fax".into()
        }
    );
    assert!(matches!(
        e.ingest(&bad(grant("email").proof("x".repeat(5_000))))
            .unwrap_err(),
        IngestError::TooLong { .. }
    ));
    // A statement for an unknown identifier kind.
    assert!(matches!(
        e.ingest(
            &rec(50, "web")
                .identifier("loyalty_card", "42")
                .consent(grant("email"))
                .build()
        )
        .unwrap_err(),
        IngestError::UnknownIdentifierKind { .. }
    ));
    let s = || Suppression::new("r", t(60));
    assert_eq!(
        e.suppress_profile(ProfileId(999), s()).unwrap_err(),
        PrivacyError::UnknownProfile(ProfileId(999))
    );
    assert_eq!(
        e.suppress_profile(ann, s().channel("fax")).unwrap_err(),
        PrivacyError::UnknownChannel("fax".into())
    );
    assert_eq!(
        e.suppress_identifier("loyalty_card", "42", s())
            .unwrap_err(),
        PrivacyError::UnknownIdentifierKind("loyalty_card".into())
    );
    assert!(matches!(
        e.suppress_identifier("email", "   ", s()).unwrap_err(),
        PrivacyError::BadIdentifier { .. }
    ));
    assert!(matches!(
        e.suppress_profile(ann, Suppression::new("r".repeat(5_000), t(60)))
            .unwrap_err(),
        PrivacyError::TooLong {
            field: "reason",
            ..
        }
    ));
    assert_eq!(
        e.unsuppress_profile(ProfileId(999), None).unwrap_err(),
        PrivacyError::UnknownProfile(ProfileId(999))
    );
    let x = trait_("country").eq("DE");
    assert_eq!(
        e.activate(&x, "spam", "email", ActivationOptions::default())
            .unwrap_err(),
        PrivacyError::UnknownPurpose("spam".into())
    );
    assert_eq!(
        e.activate(&x, "marketing", "fax", ActivationOptions::default())
            .unwrap_err(),
        PrivacyError::UnknownChannel("fax".into())
    );
    assert!(matches!(
        e.activate(
            &trait_("colour").eq("red"),
            "marketing",
            "email",
            ActivationOptions::default()
        )
        .unwrap_err(),
        PrivacyError::Segment(_)
    ));
    assert!(matches!(
        e.activate(
            audience::SegmentId(7),
            "marketing",
            "email",
            ActivationOptions::default()
        )
        .unwrap_err(),
        PrivacyError::Segment(_)
    ));
    assert_eq!(
        e.consent(ann, "marketing", "fax").unwrap_err(),
        PrivacyError::UnknownChannel("fax".into())
    );
    assert_eq!(e, before);
}
