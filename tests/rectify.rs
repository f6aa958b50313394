//! Rectification: deleting and correcting a trait, with its observations.

use audience::segment::trait_;
use audience::{
    Cause, Change, Engine, IngestError, LookupError, ProfileId, Record, RectifyError, Value,
};
use proptest::prelude::*;

use crate::common::{rec, retail, t};

/// Ann: web and CRM records joined by her email, both saying where she lives.
fn ann(e: &mut Engine) -> ProfileId {
    e.ingest(
        &rec(0, "web")
            .identifier("anonymous_id", "dev-1")
            .identifier("email", "ann@example.com")
            .trait_value("country", "DE")
            .build(),
    )
    .unwrap();
    e.ingest(
        &rec(10, "crm")
            .identifier("anonymous_id", "dev-2")
            .identifier("email", "ann@example.com")
            .trait_value("country", "DE")
            .trait_value("first_name", "Ann")
            .build(),
    )
    .unwrap()
    .profile
}

#[test]
fn deleting_a_trait_takes_every_observation_and_stays_deleted() {
    let mut e = retail();
    e.advance_time(t(100)).unwrap();
    let p = ann(&mut e);
    let de = e
        .register_segment("de", trait_("country").eq("DE"))
        .unwrap();
    assert_eq!(e.segment_count(de).unwrap(), 1);
    let done = e.delete_trait(p, "country").unwrap();
    assert_eq!(
        (done.profile, done.observations, done.records.len()),
        (p, 2, 2)
    );
    assert_eq!(done.correction, None);
    let view = e.profile(p).unwrap();
    assert_eq!(view.value("country"), None);
    assert!(
        view.trait_view("country").is_none(),
        "no observation is left"
    );
    assert_eq!(view.value("first_name"), Some(&Value::from("Ann")));
    assert_eq!(
        e.count(&e.compile(&trait_("country").eq("DE")).unwrap())
            .unwrap(),
        0
    );
    let changes = e.drain_changes();
    assert_eq!(changes.len(), 1);
    assert_eq!((changes[0].change, changes[0].profile), (Change::Exited, p));
    assert_eq!(
        changes[0].cause,
        Cause::Rectification {
            trait_name: "country".into()
        }
    );
    e.internal_validate().unwrap();
    // Rebuilding the profiles from their records does not bring it back.
    e.unmerge(p, "email", "ann@example.com").unwrap();
    for q in e.profile_ids().collect::<Vec<_>>() {
        assert_eq!(e.profile(q).unwrap().value("country"), None);
    }
    e.internal_validate().unwrap();
    // Nothing to delete: an empty rectification.
    let again = e.delete_trait(p, "country").unwrap();
    assert_eq!((again.observations, again.records.len()), (0, 0));
}

#[test]
fn a_correction_replaces_the_value_with_provenance() {
    let mut e = retail();
    e.advance_time(t(100)).unwrap();
    let p = ann(&mut e);
    let fr = e
        .register_segment("fr", trait_("country").eq("FR"))
        .unwrap();
    let done = e.correct_trait(p, "country", "FR", "crm").unwrap();
    assert_eq!(done.observations, 2);
    let rid = done.correction.unwrap();
    let record = e.record(rid).unwrap();
    assert_eq!(
        (record.source.as_str(), record.at, record.profile),
        ("crm", t(100), p)
    );
    let view = e.profile(p).unwrap();
    let country = view.trait_view("country").unwrap();
    assert_eq!(view.value("country"), Some(&Value::from("FR")));
    assert_eq!(country.observations.len(), 1);
    assert_eq!(country.observations[0].record, rid);
    let changes = e.drain_changes();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (changes[0].segment, changes[0].change),
        (fr, Change::Entered)
    );
    assert_eq!(changes[0].cause, Cause::Record(rid));
    e.internal_validate().unwrap();
}

#[test]
fn a_record_can_be_corrected_in_place() {
    let mut e = retail();
    e.advance_time(t(100)).unwrap();
    let p = ann(&mut e);
    let crm = e.profile(p).unwrap().records[1];
    let fix = [audience::TraitInput {
        name: "first_name".into(),
        value: "Anna".into(),
    }];
    let done = e.correct_record(crm, &fix).unwrap();
    assert_eq!((done.profile, done.removed, done.added), (p, 2, 1));
    let view = e.profile(p).unwrap();
    assert_eq!(view.value("first_name"), Some(&Value::from("Anna")));
    // The web record still says DE; the CRM record no longer does.
    let country = view.trait_view("country").unwrap();
    assert_eq!(country.observations.len(), 1);
    assert_ne!(country.observations[0].record, crm);
    let name = view.trait_view("first_name").unwrap();
    assert_eq!(
        (name.observations[0].record, name.observations[0].at),
        (crm, t(10))
    );
    e.internal_validate().unwrap();
    assert_eq!(
        e.correct_record(audience::RecordId(99), &fix),
        Err(RectifyError::UnknownRecord(audience::RecordId(99)))
    );
    let before = e.snapshot();
    let bad = [audience::TraitInput {
        name: "age".into(),
        value: "old".into(),
    }];
    assert!(matches!(
        e.correct_record(crm, &bad),
        Err(RectifyError::Ingest(IngestError::TraitType { .. }))
    ));
    assert_eq!(e.snapshot(), before);
}

#[test]
fn bad_rectifications_are_typed_errors_and_change_nothing() {
    let mut e = retail();
    let p = ann(&mut e);
    let before = e.snapshot();
    assert_eq!(
        e.correct_trait(p, "country", "FR", "crm"),
        Err(RectifyError::ClockUnset)
    );
    e.advance_time(t(100)).unwrap();
    let before_clock = e.snapshot();
    assert_eq!(
        e.delete_trait(p, "colour"),
        Err(RectifyError::UnknownTrait("colour".into()))
    );
    assert_eq!(
        e.correct_trait(ProfileId(99), "country", "FR", "crm"),
        Err(RectifyError::Lookup(LookupError::UnknownProfile(
            ProfileId(99)
        )))
    );
    assert!(matches!(
        e.correct_trait(p, "country", 7, "crm"),
        Err(RectifyError::Ingest(IngestError::TraitType { .. }))
    ));
    assert!(matches!(
        e.correct_trait(p, "country", "FR", "fax"),
        Err(RectifyError::Ingest(IngestError::UnknownSource { .. }))
    ));
    assert_eq!(e.snapshot(), before_clock);
    assert_ne!(before, before_clock);
    let err = e.delete_trait(p, "colour").unwrap_err();
    assert!(err.to_string().contains("colour"));
}

fn record() -> impl Strategy<Value = Record> {
    let ids = prop::collection::vec(
        prop_oneof![
            (0..5u8).prop_map(|i| ("anonymous_id", format!("a{i}"))),
            (0..3u8).prop_map(|i| ("email", format!("e{i}@x.com"))),
        ],
        1..3,
    );
    let country = prop::option::of(prop::sample::select(vec!["DE", "FR", "IT"]));
    let age = prop::option::of(18..80i64);
    (
        ids,
        country,
        age,
        0..1_000i64,
        prop::sample::select(vec!["web", "crm", "app"]),
    )
        .prop_map(|(ids, country, age, secs, source)| {
            let mut b = rec(secs, source);
            for (k, v) in ids {
                b = b.identifier(k, v);
            }
            if let Some(c) = country {
                b = b.trait_value("country", c);
            }
            if let Some(a) = age {
                b = b.trait_value("age", a);
            }
            b.build()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::common::cases()))]

    /// Deleting (or correcting) a trait equals an engine fed the same records without that
    /// trait on the person's records (plus the correction record).
    #[test]
    fn rectification_equals_the_corrected_records(
        records in prop::collection::vec(record(), 1..20),
        pick in any::<prop::sample::Index>(),
        name in prop::sample::select(vec!["country", "age"]),
        mode in 0..3u8,
        which in any::<prop::sample::Index>(),
    ) {
        let mut a = retail();
        a.advance_time(t(2_000)).unwrap();
        a.register_segment("de", trait_("country").eq("DE")).unwrap();
        a.register_segment("adult", trait_("age").between(30, 60)).unwrap();
        let kept: Vec<Record> = records.into_iter().filter(|r| a.ingest(r).is_ok()).collect();
        let ids: Vec<ProfileId> = a.profile_ids().collect();
        let p = ids[pick.index(ids.len())];
        let mine: Vec<audience::RecordId> = a.profile(p).unwrap().records;
        let value: Value = if name == "country" { "FR".into() } else { Value::Integer(42) };
        // Mode 2: record `fixed` now carries only `name = value`.
        let fixed = which.index(kept.len());
        let done = match mode {
            1 => a.correct_trait(p, name, value.clone(), "crm").unwrap(),
            2 => {
                let fix = [audience::TraitInput { name: name.into(), value: value.clone() }];
                a.correct_record(audience::RecordId(fixed as u64), &fix).unwrap();
                a.delete_trait(p, "first_name").unwrap() // a no-op: nobody has one
            }
            _ => a.delete_trait(p, name).unwrap(),
        };
        a.internal_validate().unwrap();
        let mut b = retail();
        b.advance_time(t(2_000)).unwrap();
        b.register_segment("de", trait_("country").eq("DE")).unwrap();
        b.register_segment("adult", trait_("age").between(30, 60)).unwrap();
        for (i, r) in kept.iter().enumerate() {
            let mut r = r.clone();
            if mode == 2 {
                if i == fixed {
                    r.traits = vec![audience::TraitInput { name: name.into(), value: value.clone() }];
                }
            } else if mine.contains(&audience::RecordId(i as u64)) {
                r.traits.retain(|x| x.name != name);
            }
            b.ingest(&r).unwrap();
        }
        if let Some(rid) = done.correction {
            let v = a.record(rid).unwrap();
            let id = &v.identifiers[0];
            b.ingest(
                &Record::builder(v.at, v.source.clone())
                    .identifier(id.kind.clone(), id.value.clone())
                    .trait_value(name, value)
                    .build(),
            )
            .unwrap();
        }
        let ids: Vec<ProfileId> = a.profile_ids().collect();
        prop_assert_eq!(&ids, &b.profile_ids().collect::<Vec<_>>());
        for &q in &ids {
            prop_assert_eq!(a.profile(q).unwrap(), b.profile(q).unwrap());
        }
        for seg in ["de", "adult"] {
            prop_assert_eq!(
                a.segment_members(a.segment_id(seg).unwrap()).unwrap(),
                b.segment_members(b.segment_id(seg).unwrap()).unwrap()
            );
        }
    }
}
