//! A model-based test of the engine: a plain model — the records in a `Vec`, identity as
//! connected components of shared identifiers (no limits), traits by their strategies,
//! segments evaluated row by row, erasure as filtering — driven with the engine by
//! random sequences of records, clock moves, (un)registrations, erasures, snapshot +
//! restore and exports. After every step the engine's profiles, traits, registered
//! segments, exports and drained changes equal the model's.

use std::collections::{BTreeMap, BTreeSet};

use audience::schema::{
    EventKindDef, IdentifierKindDef, MergeStrategy, Normalizer, PropertyDef, PropertyType, Schema,
    TraitDef, TraitType,
};
use audience::segment::{Expr, computed, event, trait_};
use audience::{Engine, ErasureOptions, EventInput, Record, Subject, Value, Window};
use proptest::prelude::*;

use crate::common::{eur, memberships, replay_drained, t};

const DAY: i64 = 86_400;
const COUNTRIES: [&str; 3] = ["DE", "FR", "GB"];

fn schema() -> Schema {
    Schema::builder()
        .identifier_kind(IdentifierKindDef::new("user_id", Normalizer::Trim, 1))
        .identifier_kind(IdentifierKindDef::new("email", Normalizer::Email, 2))
        .identifier_kind(IdentifierKindDef::new("anonymous_id", Normalizer::Trim, 3))
        .source("web", 1)
        .trait_def(TraitDef::new("country", TraitType::Text))
        .trait_def(TraitDef::new("points", TraitType::Integer).strategy(MergeStrategy::Sum))
        .event_kind(EventKindDef::new("page_view"))
        .event_kind(EventKindDef::new("order_completed").property(PropertyDef {
            name: "amount".into(),
            ty: PropertyType::Money,
            non_negative: true,
        }))
        .computed(
            audience::schema::ComputedDef::new(
                "orders_7d",
                audience::schema::EventFilter::kind("order_completed"),
                audience::schema::Computation::Count,
            )
            .window(Window::LastDays(7)),
        )
        .build()
        .unwrap()
}

/// The segments a test may register, with their row-by-row model.
fn segment_defs() -> Vec<(&'static str, Expr)> {
    vec![
        ("germans", trait_("country").eq("DE")),
        ("rich", trait_("points").ge(6i64)),
        (
            "buyers",
            event("order_completed")
                .in_window(Window::LastDays(7))
                .at_least(1),
        ),
        (
            "active",
            computed("orders_7d")
                .ge(2i64)
                .or(event("page_view").in_window(Window::LastDays(3)).happened()),
        ),
        (
            "german non-buyers",
            trait_("country").eq("DE").and(
                event("order_completed")
                    .in_window(Window::LastDays(7))
                    .at_least(1)
                    .not(),
            ),
        ),
    ]
}

/// One record of the model.
#[derive(Clone, Debug)]
struct Rec {
    at: i64,
    ids: Vec<(&'static str, String)>,
    country: Option<&'static str>,
    points: Option<i64>,
    /// (kind, time).
    events: Vec<(&'static str, i64)>,
}

#[derive(Clone, Debug)]
enum Op {
    Ingest {
        user: Option<u8>,
        email: Option<u8>,
        anon: u8,
        ago: i64,
        country: Option<usize>,
        points: Option<i64>,
        events: Vec<(bool, i64)>,
    },
    Advance(i64),
    Toggle(usize),
    Erase(u8),
    Restore,
    Export(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (prop::option::of(0u8..6), prop::option::of(0u8..5), 0u8..6, 0i64..5 * DAY, prop::option::of(0usize..3), prop::option::of(0i64..4), prop::collection::vec((any::<bool>(), 0i64..9 * DAY), 0..3))
            .prop_map(|(user, email, anon, ago, country, points, events)| Op::Ingest { user, email, anon, ago, country, points, events }),
        2 => (0i64..4 * DAY).prop_map(Op::Advance),
        2 => (0usize..5).prop_map(Op::Toggle),
        1 => (0u8..6).prop_map(Op::Erase),
        1 => Just(Op::Restore),
        1 => (0u8..6).prop_map(Op::Export),
    ]
}

/// The plain model.
#[derive(Default)]
struct Model {
    now: i64,
    records: Vec<Rec>,
    registered: BTreeSet<usize>,
}

impl Model {
    /// Profiles: connected components of records sharing an identifier, each as its
    /// record indexes.
    fn profiles(&self) -> Vec<Vec<usize>> {
        let n = self.records.len();
        let mut parent: Vec<usize> = (0..n).collect();
        fn root(parent: &mut [usize], mut i: usize) -> usize {
            while parent[i] != i {
                parent[i] = parent[parent[i]];
                i = parent[i];
            }
            i
        }
        let mut owner: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for (i, r) in self.records.iter().enumerate() {
            for (k, v) in &r.ids {
                if let Some(&j) = owner.get(&(*k, v.as_str())) {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    parent[a.max(b)] = a.min(b);
                } else {
                    owner.insert((k, v), i);
                }
            }
        }
        let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for i in 0..n {
            let r = root(&mut parent, i);
            groups.entry(r).or_default().push(i);
        }
        groups.into_values().collect()
    }

    fn country(&self, p: &[usize]) -> Option<&'static str> {
        // The newest observation; a tie goes to the larger value.
        p.iter()
            .filter_map(|&i| self.records[i].country.map(|c| (self.records[i].at, c)))
            .max()
            .map(|(_, c)| c)
    }

    fn points(&self, p: &[usize]) -> Option<i64> {
        let values: Vec<i64> = p.iter().filter_map(|&i| self.records[i].points).collect();
        (!values.is_empty()).then(|| values.iter().sum())
    }

    fn count(&self, p: &[usize], kind: &str, days: i64) -> usize {
        p.iter()
            .flat_map(|&i| &self.records[i].events)
            .filter(|(k, at)| *k == kind && *at <= self.now && *at > self.now - days * DAY)
            .count()
    }

    fn member(&self, segment: usize, p: &[usize]) -> bool {
        let german = self.country(p) == Some("DE");
        let buyer = self.count(p, "order_completed", 7) >= 1;
        match segment {
            0 => german,
            1 => self.points(p).is_some_and(|x| x >= 6),
            2 => buyer,
            3 => self.count(p, "order_completed", 7) >= 2 || self.count(p, "page_view", 3) >= 1,
            _ => german && !buyer,
        }
    }
}

fn record_of(r: &Rec) -> Record {
    let mut b = Record::builder(t(r.at), "web");
    for (k, v) in &r.ids {
        b = b.identifier(*k, v.as_str());
    }
    if let Some(c) = r.country {
        b = b.trait_value("country", c);
    }
    if let Some(p) = r.points {
        b = b.trait_value("points", p);
    }
    for &(kind, at) in &r.events {
        let mut ev = EventInput::new(kind, t(at));
        if kind == "order_completed" {
            ev = ev.property("amount", eur(100));
        }
        b = b.event(ev);
    }
    b.build()
}

/// The engine equals the model: the same partition of identifiers into profiles, the
/// same traits, the same registered segment members.
fn check(e: &Engine, m: &Model) -> Result<(), TestCaseError> {
    e.internal_validate().map_err(TestCaseError::fail)?;
    let profiles = m.profiles();
    prop_assert_eq!(e.profile_ids().count(), profiles.len(), "profile count");
    let mut seen = BTreeSet::new();
    for p in &profiles {
        let (k, v) = &m.records[p[0]].ids[0];
        let id = e
            .find(k, v)
            .unwrap()
            .expect("a model profile's identifier is held");
        prop_assert!(seen.insert(id), "two model profiles are one engine profile");
        for &i in p {
            for (k, v) in &m.records[i].ids {
                prop_assert_eq!(e.find(k, v).unwrap(), Some(id), "{}={} is elsewhere", k, v);
            }
        }
        let view = e.profile(id).unwrap();
        let (country, points) = (m.country(p).map(Value::from), m.points(p).map(Value::from));
        prop_assert_eq!(view.value("country"), country.as_ref());
        prop_assert_eq!(view.value("points"), points.as_ref());
        for (s, (name, _)) in segment_defs().iter().enumerate() {
            if m.registered.contains(&s) {
                let seg = e.segment_id(name).unwrap();
                prop_assert_eq!(
                    e.segment_members(seg).unwrap().contains(id.0),
                    m.member(s, p),
                    "{} of {:?}",
                    name,
                    p
                );
            }
        }
    }
    Ok(())
}

proptest! {
    // Cheap cases (small engines), so sixteen times the pinned count: 4,096 in CI.
    #![proptest_config(ProptestConfig::with_cases(crate::common::cases().saturating_mul(16)))]

    #[test]
    fn the_engine_equals_a_plain_model(ops in prop::collection::vec(op(), 1..40)) {
        let mut e = Engine::new(schema());
        let mut m = Model { now: 30 * DAY, ..Model::default() };
        e.advance_time(t(m.now)).unwrap();
        let mut replayed = BTreeSet::new();
        for op in ops {
            match op {
                Op::Ingest { user, email, anon, ago, country, points, events } => {
                    let at = m.now - ago;
                    let mut ids = vec![("anonymous_id", format!("a{anon}"))];
                    if let Some(u) = user {
                        ids.push(("user_id", format!("u{u}")));
                    }
                    if let Some(n) = email {
                        ids.push(("email", format!("e{n}@example.com")));
                    }
                    let r = Rec {
                        at,
                        ids,
                        country: country.map(|c| COUNTRIES[c]),
                        points,
                        events: events.iter().map(|&(order, back)| (if order { "order_completed" } else { "page_view" }, at - back)).collect(),
                    };
                    e.ingest(&record_of(&r)).unwrap();
                    m.records.push(r);
                }
                Op::Advance(d) => {
                    m.now += d;
                    e.advance_time(t(m.now)).unwrap();
                }
                Op::Toggle(s) => {
                    let (name, expr) = segment_defs()[s].clone();
                    if m.registered.remove(&s) {
                        let id = e.segment_id(name).unwrap();
                        // Registered ones name no other, so unregistering always works.
                        e.unregister_segment(id).unwrap();
                        replayed.retain(|(seg, _)| *seg != id);
                    } else {
                        e.register_segment(name, expr).unwrap();
                        m.registered.insert(s);
                        replayed = memberships(&e);
                        e.drain_changes();
                    }
                }
                Op::Erase(anon) => {
                    let value = format!("a{anon}");
                    if let Some(p) = m.profiles().into_iter().find(|p| p.iter().any(|&i| m.records[i].ids.iter().any(|(k, v)| *k == "anonymous_id" && *v == value))) {
                        let receipt = e.erase(Subject::Identifier { kind: "anonymous_id", value: &value }, ErasureOptions::default()).unwrap();
                        prop_assert_eq!(receipt.records.len(), p.len());
                        let gone: BTreeSet<usize> = p.into_iter().collect();
                        m.records = m.records.iter().enumerate().filter(|(i, _)| !gone.contains(i)).map(|(_, r)| r.clone()).collect();
                    } else {
                        prop_assert!(e.find("anonymous_id", &value).unwrap().is_none());
                    }
                }
                Op::Restore => {
                    let snapshot = e.snapshot();
                    e = Engine::restore(snapshot.clone()).unwrap();
                    prop_assert_eq!(e.snapshot(), snapshot);
                }
                Op::Export(anon) => {
                    let value = format!("a{anon}");
                    if let Some(p) = m.profiles().into_iter().find(|p| p.iter().any(|&i| m.records[i].ids.iter().any(|(k, v)| *k == "anonymous_id" && *v == value))) {
                        let export = e.export(Subject::Identifier { kind: "anonymous_id", value: &value }).unwrap();
                        prop_assert_eq!(export.records.len(), p.len());
                        let events: usize = p.iter().map(|&i| m.records[i].events.len()).sum();
                        prop_assert_eq!(export.profile.events.len(), events);
                    }
                }
            }
            check(&e, &m)?;
            replay_drained(&mut e, &mut replayed).map_err(TestCaseError::fail)?;
            prop_assert_eq!(&replayed, &memberships(&e));
        }
    }
}

/// The model finds merges the way the engine does: a record joining two profiles.
#[test]
fn the_model_merges_through_a_shared_identifier() {
    let rec = |ids: Vec<(&'static str, &str)>| Rec {
        at: 0,
        ids: ids.into_iter().map(|(k, v)| (k, v.to_string())).collect(),
        country: None,
        points: Some(1),
        events: vec![],
    };
    let m = Model {
        now: 0,
        records: vec![
            rec(vec![("user_id", "u1")]),
            rec(vec![("email", "e1@example.com")]),
            rec(vec![("user_id", "u1"), ("email", "e1@example.com")]),
            rec(vec![("user_id", "u2")]),
        ],
        registered: BTreeSet::new(),
    };
    assert_eq!(m.profiles(), vec![vec![0, 1, 2], vec![3]]);
    assert_eq!(m.points(&[0, 1, 2]), Some(3));
}
