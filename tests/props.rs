//! Property tests of the identity invariants over random record streams.

use std::collections::{BTreeMap, BTreeSet};

use audience::{Currency, Engine, Money, ProfileId, Record, Value};
use proptest::prelude::*;

use crate::common::{limited_schema, rec, unlimited_schema};

fn identifier() -> impl Strategy<Value = (&'static str, String)> {
    prop_oneof![
        (0..4u8).prop_map(|i| ("user_id", format!("u{i}"))),
        (0..5u8, 0..3u8).prop_map(|(i, style)| {
            let e = format!("e{i}@x.com");
            let v = match style {
                0 => e,
                1 => e.to_uppercase(),
                _ => format!(" {e} "),
            };
            ("email", v)
        }),
        (0..8u8).prop_map(|i| ("anonymous_id", format!("a{i}"))),
        Just(("email", "test@test.com".to_string())),
    ]
}

fn trait_value() -> impl Strategy<Value = (&'static str, Value)> {
    let eur = Currency::new("EUR").unwrap();
    let usd = Currency::new("USD").unwrap();
    prop_oneof![
        prop::sample::select(vec!["DE", "FR", "IT"]).prop_map(|c| ("country", Value::from(c))),
        (18..30i64).prop_map(|a| ("age", Value::Integer(a))),
        (0..5i64).prop_map(|s| ("first_seen", Value::Timestamp(crate::common::t(s)))),
        (-5..50i64).prop_map(|p| ("points", Value::Integer(p))),
        (0..1000i64, any::<bool>()).prop_map(move |(m, e)| (
            "spend",
            Value::Money(Money::new(m, if e { eur } else { usd }))
        )),
        prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 0..3).prop_map(|v| (
            "tags",
            Value::TextSet(v.into_iter().map(String::from).collect())
        )),
        (0..9i64).prop_map(|s| ("max_score", Value::Integer(s))),
        (0..9i64).prop_map(|s| ("min_score", Value::Integer(s))),
        any::<bool>().prop_map(|b| ("vip", Value::Boolean(b))),
    ]
}

fn event() -> impl Strategy<Value = audience::EventInput> {
    let eur = Currency::new("EUR").unwrap();
    (0..4i64, any::<bool>(), 0..500i64).prop_map(move |(secs, order, amount)| {
        if order {
            audience::EventInput::new("order_completed", crate::common::t(secs))
                .property("amount", Money::new(amount, eur))
        } else {
            audience::EventInput::new("page_view", crate::common::t(secs))
        }
    })
}

fn record() -> impl Strategy<Value = Record> {
    (
        0..4i64,
        prop::sample::select(vec!["crm", "pos", "web"]),
        prop::collection::vec(identifier(), 1..4),
        prop::collection::vec(trait_value(), 0..3),
        prop::collection::vec(event(), 0..3),
    )
        .prop_map(|(secs, source, ids, traits, events)| {
            let mut b = rec(secs, source);
            for ev in events {
                b = b.event(ev);
            }
            for (k, v) in ids {
                b = b.identifier(k, v);
            }
            for (n, v) in traits {
                b = b.trait_value(n, v);
            }
            b.build()
        })
}

/// Records with an optional defect, to exercise rejection.
fn maybe_bad_record() -> impl Strategy<Value = Record> {
    (record(), 0..8u8).prop_map(|(mut r, defect)| {
        match defect {
            0 => r.source = "nope".into(),
            1 => r.traits.push(audience::TraitInput {
                name: "age".into(),
                value: "x".into(),
            }),
            2 => r.identifiers.clear(),
            3 => r.traits.push(audience::TraitInput {
                name: "points".into(),
                value: Value::Integer(i64::MAX),
            }),
            _ => {}
        }
        r
    })
}

/// The partition of input records (by input index) and each class's trait views.
fn outcome(e: &Engine, ids: &[Option<audience::RecordId>]) -> BTreeMap<BTreeSet<usize>, String> {
    let mut classes: BTreeMap<ProfileId, BTreeSet<usize>> = BTreeMap::new();
    for (i, id) in ids.iter().enumerate() {
        if let Some(id) = id {
            classes
                .entry(e.record_profile(*id).unwrap())
                .or_default()
                .insert(i);
        }
    }
    classes
        .into_iter()
        .map(|(p, set)| {
            let view = e.profile(p).unwrap();
            let traits: Vec<_> = view
                .traits
                .iter()
                .map(|t| {
                    (
                        t.name.clone(),
                        t.current.clone(),
                        t.source.clone(),
                        t.at,
                        t.observations.len(),
                    )
                })
                .collect();
            // Same-time events of different records may interleave either way; compare as
            // a multiset.
            let mut events: Vec<_> = view
                .events
                .iter()
                .map(|ev| format!("{}{:?}{:?}", ev.kind, ev.at, ev.properties))
                .collect();
            events.sort();
            (set, format!("{traits:?} {events:?}"))
        })
        .collect()
}

fn ingest_in(
    e: &mut Engine,
    records: &[Record],
    order: &[usize],
) -> Vec<Option<audience::RecordId>> {
    let mut ids = vec![None; records.len()];
    for &i in order {
        ids[i] = e.ingest(&records[i]).ok().and_then(|r| r.record);
        e.internal_validate().unwrap();
    }
    ids
}

proptest! {
    /// Invariant 1: with no limit, any permutation gives the same partition and the same
    /// current trait values.
    #[test]
    fn permutations_give_the_same_profiles(
        records in prop::collection::vec(record(), 1..25),
        seed in any::<u64>(),
    ) {
        let n = records.len();
        let identity: Vec<usize> = (0..n).collect();
        let mut shuffled = identity.clone();
        // A seeded Fisher-Yates keeps the case reproducible.
        let mut s = seed;
        for i in (1..n).rev() {
            s = audience::workload::splitmix::mix64(s.wrapping_add(i as u64));
            shuffled.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let mut a = Engine::new(unlimited_schema());
        let mut b = Engine::new(unlimited_schema());
        let ids_a = ingest_in(&mut a, &records, &identity);
        let ids_b = ingest_in(&mut b, &records, &shuffled);
        prop_assert_eq!(outcome(&a, &ids_a), outcome(&b, &ids_b));
    }

    /// Invariants 2 and 3: nothing is lost and the graph stays consistent, limits included.
    #[test]
    fn nothing_is_lost(records in prop::collection::vec(record(), 1..30)) {
        let mut e = Engine::new(limited_schema());
        let mut accepted_traits = 0;
        let mut accepted_events = 0;
        let mut accepted = Vec::new();
        for r in &records {
            if let Ok(report) = e.ingest(r) {
                accepted_traits += r.traits.len();
                accepted_events += r.events.len();
                let id = report.record.unwrap();
                let logged = e.record(id).unwrap();
                prop_assert_eq!(logged.identifiers.len(), r.identifiers.len());
                accepted.push(id);
            }
            e.internal_validate().unwrap();
        }
        let mut held = 0;
        let mut events_held = 0;
        let mut records_held = 0;
        for p in e.profile_ids().collect::<Vec<_>>() {
            let view = e.profile(p).unwrap();
            held += view.traits.iter().map(|t| t.observations.len()).sum::<usize>();
            records_held += view.records.len();
            events_held += view.events.len();
        }
        prop_assert_eq!(held, accepted_traits);
        prop_assert_eq!(records_held, accepted.len());
        prop_assert_eq!(events_held, accepted_events);
    }

    /// Invariant 4: a rejected record leaves the engine exactly as it was.
    #[test]
    fn rejected_records_change_nothing(records in prop::collection::vec(maybe_bad_record(), 1..30)) {
        let mut e = Engine::new(limited_schema());
        for r in &records {
            let before = e.clone();
            if e.ingest(r).is_err() {
                prop_assert_eq!(&e, &before);
            }
        }
        e.internal_validate().unwrap();
    }
}
