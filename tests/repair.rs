//! Identity repair through the public API: provenance, the dry run, retroactive blocking
//! and unmerge, with ids, segments, the split log and bad input.

use audience::segment::trait_;
use audience::{Cause, Change, Engine, LookupError, ProfileId, RepairError};

use crate::common::{rec, retail};

/// Three people fused by a shared test address, each with a country.
fn fused() -> (Engine, Vec<ProfileId>) {
    let mut e = retail();
    e.advance_time(crate::common::t(100)).unwrap();
    let people = [("ann", "DE"), ("bob", "FR"), ("cy", "DK")];
    let mut ids = Vec::new();
    for (i, (who, country)) in people.iter().enumerate() {
        let p = e
            .ingest(
                &rec(i as i64 * 10, "web")
                    .identifier("anonymous_id", format!("{who}-phone"))
                    .trait_value("country", *country)
                    .build(),
            )
            .unwrap()
            .profile;
        ids.push(p);
        e.ingest(
            &rec(i as i64 * 10 + 1, "app")
                .identifier("anonymous_id", format!("{who}-phone"))
                .identifier("email", "test@shop.example")
                .build(),
        )
        .unwrap();
    }
    assert_eq!(e.profile_count(), 1);
    (e, ids)
}

#[test]
fn provenance_names_every_link_and_merge() {
    let (e, ids) = fused();
    let why = e.explain_identity(ids[2]).unwrap();
    assert_eq!(why.profile, ids[0]);
    assert_eq!(why.links.len(), 4);
    let email = why.links.iter().find(|l| l.kind == "email").unwrap();
    assert_eq!(
        (email.value.as_str(), email.records),
        ("test@shop.example", 3)
    );
    assert_eq!(email.first_seen.source, "app");
    assert_eq!(why.merges.len(), 2);
    for m in &why.merges {
        assert_eq!(
            m.kind, "anonymous_id",
            "the phone reached the retired profile"
        );
        assert!(m.because.starts_with(&format!(
            "{} was merged into {} because both used",
            m.retired, m.survivor
        )));
    }
    assert!(serde_json::to_string(&why).is_ok());
}

#[test]
fn a_dry_run_changes_nothing_and_says_what_ingest_will_do() {
    let (mut e, ids) = fused();
    let before = e.clone();
    let new = rec(50, "web").identifier("user_id", "zed").build();
    let preview = e.preview(&new).unwrap();
    assert!(preview.created);
    assert_eq!(e, before);
    assert_eq!(e.ingest(&new).unwrap().profile, preview.profile);
    let blocked = rec(51, "web")
        .identifier("user_id", "zed")
        .identifier("email", "  ")
        .build();
    let preview = e.preview(&blocked).unwrap();
    assert_eq!(preview.dropped.len(), 1);
    assert_eq!(e.ingest(&blocked).unwrap().dropped, preview.dropped);
    let dup = rec(52, "web")
        .message_id("m1")
        .identifier("user_id", "zed")
        .build();
    e.ingest(&dup).unwrap();
    assert!(e.preview(&dup).unwrap().duplicate_of.is_some());
    let bad = rec(53, "web").identifier("fax", "1").build();
    assert_eq!(e.preview(&bad).unwrap_err(), e.ingest(&bad).unwrap_err());
    let _ = ids;
}

#[test]
fn blocking_a_shared_value_splits_the_people_it_fused() {
    let (mut e, ids) = fused();
    let de = e
        .register_segment("de", trait_("country").eq("DE"))
        .unwrap();
    let dk = e
        .register_segment("dk", trait_("country").eq("DK"))
        .unwrap();
    // The fused profile took the latest country, Denmark.
    assert_eq!(e.segment_count(dk).unwrap(), 1);
    assert_eq!(e.segment_count(de).unwrap(), 0);
    e.drain_changes();
    let report = e
        .block_identifier_value("email", "TEST@shop.example")
        .unwrap();
    assert_eq!(report.before, vec![ids[0]]);
    assert_eq!(report.after, ids, "each person takes back the id they had");
    assert!(report.refused.is_empty());
    for (p, country) in ids.iter().zip(["DE", "FR", "DK"]) {
        assert_eq!(e.resolve(*p).unwrap(), *p);
        assert_eq!(
            e.profile(*p).unwrap().value("country"),
            Some(&country.into())
        );
    }
    assert_eq!(e.find("email", "test@shop.example").unwrap(), None);
    assert!(e.merge_log().is_empty());
    assert_eq!(e.split_log().len(), 1);
    assert_eq!(
        e.blocked_values(),
        vec![("email".to_string(), "test@shop.example".to_string())]
    );
    let changes = e.drain_changes();
    assert!(
        changes
            .iter()
            .all(|c| matches!(&c.cause, Cause::Repair { kind, .. } if kind == "email"))
    );
    assert!(
        changes
            .iter()
            .any(|c| c.segment == de && c.profile == ids[0] && c.change == Change::Entered)
    );
    assert!(
        changes
            .iter()
            .any(|c| c.segment == dk && c.profile == ids[0] && c.change == Change::Exited)
    );
    assert!(
        changes
            .iter()
            .any(|c| c.segment == dk && c.profile == ids[2] && c.change == Change::Entered)
    );
    assert_eq!(e.segment_count(dk).unwrap(), 1);
    e.internal_validate().unwrap();
    // The value links nothing from now on.
    let later = rec(60, "web")
        .identifier("anonymous_id", "ann-phone")
        .identifier("email", "test@shop.example")
        .build();
    assert_eq!(e.ingest(&later).unwrap().dropped.len(), 1);
    // And a snapshot keeps it.
    let back = Engine::restore(e.snapshot()).unwrap();
    assert_eq!(back.blocked_values(), e.blocked_values());
    assert_eq!(back.split_log(), e.split_log());
}

#[test]
fn unmerge_takes_one_identifier_out_of_a_profile() {
    let mut e = retail();
    // One tablet shared by two people: bob's email reaches it and fuses them.
    let ann = e
        .ingest(
            &rec(1, "web")
                .identifier("anonymous_id", "tablet")
                .identifier("email", "ann@x.example")
                .build(),
        )
        .unwrap()
        .profile;
    let bob = e
        .ingest(&rec(2, "crm").identifier("email", "bob@x.example").build())
        .unwrap()
        .profile;
    e.ingest(
        &rec(3, "web")
            .identifier("anonymous_id", "tablet")
            .identifier("email", "bob@x.example")
            .build(),
    )
    .unwrap();
    e.ingest(
        &rec(4, "web")
            .identifier("email", "ann@x.example")
            .trait_value("country", "SE")
            .build(),
    )
    .unwrap();
    assert_eq!(e.profile_count(), 1);
    assert_eq!(e.resolve(bob).unwrap(), ann);
    let report = e.unmerge(ann, "anonymous_id", "tablet").unwrap();
    assert_eq!(report.after, vec![ann, bob]);
    assert_eq!(e.find("email", "ann@x.example").unwrap(), Some(ann));
    assert_eq!(e.find("email", "bob@x.example").unwrap(), Some(bob));
    assert_eq!(e.find("anonymous_id", "tablet").unwrap(), None);
    assert_eq!(e.profile(ann).unwrap().value("country"), Some(&"SE".into()));
    assert_eq!(e.profile(bob).unwrap().records.len(), 2);
    e.internal_validate().unwrap();
    // Every id handed out resolves to a live profile, or says where its records went.
    for p in (0..4).map(ProfileId) {
        match e.resolve(p) {
            Ok(live) => assert!(e.profile_ids().any(|x| x == live)),
            Err(LookupError::Split { into, .. }) => {
                assert!(into.len() > 1 && into.iter().all(|x| e.profile_ids().any(|y| y == *x)));
            }
            Err(LookupError::UnknownProfile(_)) => assert!(p.0 as usize >= 2),
            Err(other) => panic!("{other}"),
        }
    }
}

#[test]
fn bad_repairs_are_typed_errors_and_change_nothing() {
    let (mut e, ids) = fused();
    let before = e.clone();
    assert_eq!(
        e.block_identifier_value("fax", "1").unwrap_err(),
        RepairError::UnknownIdentifierKind("fax".into())
    );
    assert!(matches!(
        e.block_identifier_value("email", "   ").unwrap_err(),
        RepairError::BadIdentifier { .. }
    ));
    assert!(matches!(
        e.unmerge(ProfileId(99), "email", "test@shop.example")
            .unwrap_err(),
        RepairError::Lookup(LookupError::UnknownProfile(_))
    ));
    assert!(matches!(
        e.unmerge(ids[0], "email", "other@shop.example")
            .unwrap_err(),
        RepairError::NotHeld { .. }
    ));
    // The phone is the only identifier of each person's first record.
    assert!(matches!(
        e.block_identifier_value("anonymous_id", "ann-phone").unwrap_err(),
        RepairError::Orphans { records } if records.len() == 1
    ));
    assert_eq!(e, before);
    e.block_identifier_value("email", "test@shop.example")
        .unwrap();
    assert!(matches!(
        e.block_identifier_value("email", "test@shop.example")
            .unwrap_err(),
        RepairError::AlreadyBlocked { .. }
    ));
    let mut solo = retail();
    let p = solo
        .ingest(&rec(1, "web").identifier("user_id", "u").build())
        .unwrap()
        .profile;
    assert!(matches!(
        solo.unmerge(p, "user_id", "u").unwrap_err(),
        RepairError::LastIdentifier { .. }
    ));
}
