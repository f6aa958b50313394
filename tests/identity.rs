//! Linking, limits, merges, duplicates and lookups.

use audience::{DropReason, Engine, LinkStatus, LookupError, ProfileId};

use crate::common::{limited_schema, rec, retail};

#[test]
fn worked_example_of_the_linking_rule() {
    // DESIGN.md: A holds user_id=u1; B holds user_id=u2 and x@y.com. A record
    // {u1, x@y.com}: u1 reaches A; x@y.com would bring B and two user_ids, so it is
    // dropped; the record attaches to A only, and A and B stay apart.
    let mut e = Engine::new(limited_schema());
    let a = e
        .ingest(&rec(0, "web").identifier("user_id", "u1").build())
        .unwrap();
    let b = e
        .ingest(
            &rec(1, "web")
                .identifier("user_id", "u2")
                .identifier("email", "x@y.com")
                .build(),
        )
        .unwrap();
    let r = e
        .ingest(
            &rec(2, "web")
                .identifier("user_id", "u1")
                .identifier("email", "x@y.com")
                .build(),
        )
        .unwrap();
    assert_eq!(r.profile, a.profile);
    assert!(r.merged.is_empty());
    assert_eq!(r.dropped.len(), 1);
    assert_eq!(r.dropped[0].reason, DropReason::Limit);
    assert_eq!(r.dropped[0].value, "x@y.com");
    assert_eq!(r.dropped[0].limit_kind.as_deref(), Some("user_id"));
    assert_eq!(e.find("email", "x@y.com").unwrap(), Some(b.profile));
    assert_eq!(e.profile_count(), 2);
    // The record log keeps the dropped identifier.
    let logged = e.record(r.record.unwrap()).unwrap();
    assert_eq!(logged.identifiers.len(), 2);
    assert!(
        logged
            .identifiers
            .iter()
            .any(|i| i.value == "x@y.com" && i.status == LinkStatus::Dropped(DropReason::Limit))
    );
    e.internal_validate().unwrap();
}

#[test]
fn merges_keep_the_lowest_id_and_log_their_cause() {
    let mut e = retail();
    let p0 = e
        .ingest(&rec(0, "web").identifier("anonymous_id", "d0").build())
        .unwrap()
        .profile;
    let p1 = e
        .ingest(&rec(1, "web").identifier("anonymous_id", "d1").build())
        .unwrap()
        .profile;
    let p2 = e
        .ingest(&rec(2, "crm").identifier("email", "a@x.com").build())
        .unwrap()
        .profile;
    // Link d1 and the email first: p1 survives, p2 retires.
    let r = e
        .ingest(
            &rec(3, "app")
                .identifier("anonymous_id", "d1")
                .identifier("email", "A@X.com")
                .build(),
        )
        .unwrap();
    assert_eq!((r.profile, r.merged.clone()), (p1, vec![p2]));
    // Then d0 with the email: p0 survives, p1 retires, and p2 follows to p0.
    let r = e
        .ingest(
            &rec(4, "app")
                .identifier("anonymous_id", "d0")
                .identifier("email", "a@x.com")
                .build(),
        )
        .unwrap();
    assert_eq!((r.profile, r.merged.clone()), (p0, vec![p1]));
    assert_eq!(e.resolve(p2).unwrap(), p0);
    assert_eq!(e.resolve(p1).unwrap(), p0);
    assert_eq!(
        e.resolve(ProfileId(99)),
        Err(LookupError::UnknownProfile(ProfileId(99)))
    );
    let merges = e.drain_merges();
    assert_eq!(merges.len(), 2);
    assert_eq!((merges[0].survivor, merges[0].retired), (p1, p2));
    assert_eq!(
        (merges[0].kind.as_str(), merges[0].value.as_str()),
        ("email", "a@x.com")
    );
    assert_eq!((merges[1].survivor, merges[1].retired), (p0, p1));
    assert!(e.drain_merges().is_empty(), "drained once");
    assert_eq!(e.merge_log().len(), 2);
    let view = e.profile(p2).unwrap();
    assert_eq!(view.id, p0);
    assert_eq!(view.records.len(), 5);
    assert_eq!(view.identifiers.len(), 3);
    e.internal_validate().unwrap();
}

#[test]
fn one_record_can_merge_several_profiles() {
    let mut e = retail();
    let ids: Vec<_> = (0..3)
        .map(|i| {
            e.ingest(
                &rec(i, "web")
                    .identifier("anonymous_id", format!("d{i}"))
                    .build(),
            )
            .unwrap()
            .profile
        })
        .collect();
    let r = e
        .ingest(
            &rec(9, "web")
                .identifier("anonymous_id", "d2")
                .identifier("anonymous_id", "d0")
                .identifier("anonymous_id", "d1")
                .build(),
        )
        .unwrap();
    assert_eq!(r.profile, ids[0]);
    assert_eq!(r.merged, vec![ids[1], ids[2]]);
    assert_eq!(e.profile_count(), 1);
    e.internal_validate().unwrap();
}

#[test]
fn normalization_links_spellings_and_blocked_values_never_link() {
    let mut e = retail();
    let a = e
        .ingest(
            &rec(0, "web")
                .identifier("email", " Ann@Example.COM ")
                .build(),
        )
        .unwrap();
    let b = e
        .ingest(&rec(1, "crm").identifier("email", "ann@example.com").build())
        .unwrap();
    assert_eq!(a.profile, b.profile);
    let c = e
        .ingest(
            &rec(2, "web")
                .identifier("email", "test@test.com")
                .identifier("anonymous_id", "z")
                .build(),
        )
        .unwrap();
    assert_eq!(c.dropped[0].reason, DropReason::Blocked);
    let d = e
        .ingest(
            &rec(3, "web")
                .identifier("email", "TEST@test.com")
                .identifier("anonymous_id", "y")
                .build(),
        )
        .unwrap();
    assert_ne!(c.profile, d.profile, "a blocked value links nobody");
    assert_eq!(e.find("email", "test@test.com").unwrap(), None);
    assert_eq!(e.find("email", "ANN@example.com").unwrap(), Some(a.profile));
    assert_eq!(
        e.find("fax", "1"),
        Err(LookupError::UnknownIdentifierKind("fax".into()))
    );
}

#[cfg(feature = "phone")]
#[test]
fn phones_link_in_e164() {
    let mut e = retail();
    let a = e
        .ingest(&rec(0, "pos").identifier("phone", "(415) 555-2671").build())
        .unwrap();
    let b = e
        .ingest(&rec(1, "crm").identifier("phone", "+1 415 555 2671").build())
        .unwrap();
    assert_eq!(a.profile, b.profile);
    let view = e.profile(a.profile).unwrap();
    assert_eq!(view.identifiers[0].value, "+14155552671");
}

#[test]
fn duplicates_by_message_id_change_nothing() {
    let mut e = retail();
    let r = rec(0, "web")
        .message_id("m-1")
        .identifier("anonymous_id", "d")
        .trait_value("age", 30)
        .build();
    let first = e.ingest(&r).unwrap();
    let before = e.clone();
    let again = e.ingest(&r).unwrap();
    assert_eq!(again.record, None);
    assert_eq!(again.duplicate_of, first.record);
    assert_eq!(again.profile, first.profile);
    assert_eq!(e, before);
    // Beyond the 30-day horizon the id is forgotten.
    e.ingest(
        &rec(40 * 86_400, "web")
            .identifier("anonymous_id", "d")
            .build(),
    )
    .unwrap();
    let late = e.ingest(&r).unwrap();
    assert!(late.record.is_some());
}

#[test]
fn ingest_batch_reports_per_record() {
    let mut e = retail();
    let batch = vec![
        rec(0, "web").identifier("anonymous_id", "d").build(),
        rec(1, "nope").identifier("anonymous_id", "d").build(),
        rec(2, "web")
            .identifier("anonymous_id", "d")
            .identifier("user_id", "u")
            .build(),
    ];
    let reports = e.ingest_batch(&batch);
    assert!(reports[0].as_ref().unwrap().created);
    assert!(reports[1].is_err());
    assert_eq!(
        reports[2].as_ref().unwrap().profile,
        reports[0].as_ref().unwrap().profile
    );
    assert_eq!(e.record_count(), 2);
}

#[test]
fn record_view_keeps_everything_the_record_said() {
    let mut e = retail();
    let r = e
        .ingest(
            &rec(5, "pos")
                .message_id("m9")
                .identifier("email", "  ")
                .identifier("anonymous_id", "d1")
                .identifier("anonymous_id", "d1")
                .build(),
        )
        .unwrap();
    let v = e.record(r.record.unwrap()).unwrap();
    assert_eq!(v.source, "pos");
    assert_eq!(v.message_id.as_deref(), Some("m9"));
    let statuses: Vec<_> = v.identifiers.iter().map(|i| i.status).collect();
    assert_eq!(
        statuses,
        vec![
            LinkStatus::Dropped(DropReason::Empty),
            LinkStatus::Linked,
            LinkStatus::Dropped(DropReason::Repeated)
        ]
    );
    assert_eq!(v.profile, r.profile);
}
