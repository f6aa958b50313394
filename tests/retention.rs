//! Retention: events older than their kind's `retention_days` go, with everything they
//! fed, as if they had never been kept.

use audience::rfm::RfmModelDef;
use audience::schema::{EventKindDef, Schema, SchemaDef};
use audience::segment::{Expr, event};
use audience::{
    Cause, Change, ComputedValue, Engine, EngineConfig, EventInput, Record, SchemaError, TimeError,
    Window,
};
use proptest::prelude::*;

use crate::common::{eur, rec, t};
use crate::computed::computed_schema;

const DAY: i64 = 86_400;

/// The computed-traits schema with a classic RFM model, page views kept 10 days, orders
/// 20 and opens 5 (refunds forever), or nothing dropped with `keep_all`.
fn def(keep_all: bool) -> SchemaDef {
    let mut def = computed_schema().def().clone();
    for k in &mut def.event_kinds {
        k.retention_days = match (keep_all, k.name.as_str()) {
            (true, _) => None,
            (false, "page_view") => Some(10),
            (false, "order_completed") => Some(20),
            (false, "email_open") => Some(5),
            _ => None,
        };
    }
    def.rfm_models
        .push(RfmModelDef::classic("classic", eur(0).currency).refunds("order_refunded", "amount"));
    def
}

fn engine(keep_all: bool) -> Engine {
    Engine::with_config(
        Schema::from_def(def(keep_all)).unwrap(),
        EngineConfig {
            future_tolerance_secs: None,
            ..EngineConfig::default()
        },
    )
}

/// Segments reading every kind, with and without windows.
fn segments() -> Vec<(&'static str, Expr)> {
    vec![
        ("viewed_ever", event("page_view").at_least(1)),
        ("never_ordered", event("order_completed").at_most(0)),
        (
            "two_orders_30d",
            event("order_completed")
                .in_window(Window::LastDays(30))
                .at_least(2),
        ),
        (
            "opened_no_order",
            event("email_open")
                .at_least(1)
                .and(event("order_completed").at_most(0)),
        ),
    ]
}

fn view(secs: i64) -> EventInput {
    EventInput::new("page_view", t(secs)).property("category", "jazz")
}

fn order(secs: i64, cents: i64) -> EventInput {
    EventInput::new("order_completed", t(secs))
        .property("amount", eur(cents))
        .property("category", "soul")
}

#[test]
fn expired_events_go_with_everything_they_fed() {
    let mut e = engine(false);
    e.advance_time(t(0)).unwrap();
    for (name, expr) in segments() {
        e.register_segment(name, expr).unwrap();
    }
    let r = e
        .ingest(
            &rec(0, "web")
                .identifier("user_id", "ann")
                .event(view(0))
                .event(order(0, 1_500))
                .build(),
        )
        .unwrap();
    let ann = r.profile;
    e.ingest(
        &rec(5 * DAY, "web")
            .identifier("user_id", "ann")
            .event(order(5 * DAY, 2_500))
            .build(),
    )
    .unwrap();
    e.advance_time(t(5 * DAY)).unwrap();
    e.drain_changes();
    assert_eq!(
        e.computed(ann, "jazz_views").unwrap(),
        Some(ComputedValue::Count(1))
    );
    let viewed = e.segment_id("viewed_ever").unwrap();
    let never = e.segment_id("never_ordered").unwrap();
    let two = e.segment_id("two_orders_30d").unwrap();
    assert_eq!(e.segment_count(viewed).unwrap(), 1);
    assert_eq!(e.segment_count(two).unwrap(), 1);

    // Day 11: the view (10 days) is past its retention; the orders (20) are not.
    e.advance_time(t(11 * DAY)).unwrap();
    let p = e.profile(ann).unwrap();
    assert_eq!(p.events.len(), 2);
    assert!(p.events.iter().all(|ev| ev.kind == "order_completed"));
    assert_eq!(
        e.computed(ann, "jazz_views").unwrap(),
        Some(ComputedValue::Count(0))
    );
    let changes = e.drain_changes();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (changes[0].segment, changes[0].change),
        (viewed, Change::Exited)
    );
    assert_eq!(changes[0].cause, Cause::Retention);

    // Day 21: the first order goes; two_orders_30d is left by retention, not by the window.
    e.advance_time(t(21 * DAY)).unwrap();
    let changes = e.drain_changes();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (changes[0].segment, changes[0].cause.clone()),
        (two, Cause::Retention)
    );
    let run = e.score_rfm("classic", t(21 * DAY)).unwrap();
    assert_eq!(run.len(), 1);
    assert_eq!(
        e.rfm_score("classic", ann).unwrap().unwrap().monetary_minor,
        2_500
    );

    // The receipt counts what both clock moves dropped (lists only what it dropped
    // itself: nothing here); a second call is empty.
    let receipt = e.apply_retention().unwrap();
    assert_eq!(receipt.events, 2);
    assert_eq!(receipt.events_by_kind.len(), 2);
    assert_eq!(receipt.events_by_kind["page_view"], 1);
    assert_eq!(receipt.events_by_kind["order_completed"], 1);
    assert!(receipt.profiles.is_empty() && receipt.records.is_empty());
    assert_eq!(e.apply_retention().unwrap(), Default::default());
    let first_record = r.record.unwrap();

    // Day 26: the last order goes; the profile, its identifiers and records stay.
    e.advance_time(t(26 * DAY)).unwrap();
    assert_eq!(e.segment_count(never).unwrap(), 1);
    assert_eq!(e.profile(ann).unwrap().records.len(), 2);
    assert!(e.profile(ann).unwrap().records.contains(&first_record));
    assert_eq!(e.record(first_record).unwrap().profile, ann);
    assert!(e.profile(ann).unwrap().events.is_empty());
    assert_eq!(e.find("user_id", "ann").unwrap(), Some(ann));
    e.internal_validate().unwrap();
    let stats = e.stats();
    assert_eq!(stats.events, 0);
}

#[test]
fn with_retention_on_advance_off_the_host_drops_and_gets_every_record() {
    let mut e = Engine::with_config(
        Schema::from_def(def(false)).unwrap(),
        EngineConfig {
            future_tolerance_secs: None,
            retention_on_advance: false,
            ..EngineConfig::default()
        },
    );
    e.advance_time(t(0)).unwrap();
    let viewed = e
        .register_segment("viewed_ever", event("page_view").at_least(1))
        .unwrap();
    let mut records = Vec::new();
    for (i, user) in ["ann", "bob"].into_iter().enumerate() {
        let secs = i as i64 * DAY;
        let r = e.ingest(
            &rec(secs, "web")
                .identifier("user_id", user)
                .event(view(secs))
                .build(),
        );
        records.push(r.unwrap().record.unwrap());
    }
    e.advance_time(t(12 * DAY)).unwrap();
    assert_eq!(e.stats().events, 2, "clock moves leave them");
    e.internal_validate().unwrap();
    e.drain_changes();
    let receipt = e.apply_retention().unwrap();
    assert_eq!(receipt.events, 2);
    assert_eq!(receipt.records, records);
    assert_eq!(receipt.profiles.len(), 2);
    let changes = e.drain_changes();
    assert_eq!(changes.len(), 2);
    assert!(
        changes.iter().all(|c| c.segment == viewed
            && c.change == Change::Exited
            && c.cause == Cause::Retention)
    );
    e.internal_validate().unwrap();
}

#[test]
fn an_event_past_retention_on_arrival_is_not_kept() {
    let mut e = engine(false);
    e.advance_time(t(30 * DAY)).unwrap();
    let record = rec(0, "web")
        .identifier("user_id", "bob")
        .event(view(10 * DAY)) // 20 days old: past 10
        .event(view(25 * DAY)) // 5 days old: kept
        .event(order(0, 100)) // 30 days old: past 20
        .build();
    let preview = e.preview(&record).unwrap();
    assert_eq!(preview.expired_events, 2);
    let report = e.ingest(&record).unwrap();
    assert_eq!(report.expired_events, 2);
    let p = e.profile(report.profile).unwrap();
    assert_eq!(p.events.len(), 1);
    assert_eq!(p.events[0].at, t(25 * DAY));
    e.internal_validate().unwrap();
    // Exactly on the horizon is kept; one millisecond before it is not.
    let edge = audience::Timestamp::from_millis(t(20 * DAY).as_millis()).unwrap();
    let before = audience::Timestamp::from_millis(t(20 * DAY).as_millis() - 1).unwrap();
    let r = e
        .ingest(
            &rec(0, "web")
                .identifier("user_id", "cy")
                .event(EventInput::new("page_view", edge))
                .event(EventInput::new("page_view", before))
                .build(),
        )
        .unwrap();
    assert_eq!(r.expired_events, 1);
    assert_eq!(e.profile(r.profile).unwrap().events[0].at, edge);
}

#[test]
fn bad_retention_input_is_a_typed_error() {
    let mut d = def(false);
    d.event_kinds[0].retention_days = Some(0);
    let err = Schema::from_def(d).unwrap_err();
    assert_eq!(
        err,
        SchemaError::ZeroRetention {
            kind: "page_view".into()
        }
    );
    assert!(err.to_string().contains("retention_days 0"));
    let json = r#"{"name": "page_view", "retention_days": -1}"#;
    assert!(serde_json::from_str::<EventKindDef>(json).is_err());
    let mut e = engine(false);
    assert_eq!(e.apply_retention(), Err(TimeError::ClockUnset));
    assert_eq!(
        EventKindDef::new("x").retention_days(7).retention_days,
        Some(7)
    );
}

#[test]
fn a_snapshot_keeps_the_retention_and_refuses_expired_events() {
    let mut e = engine(false);
    e.advance_time(t(0)).unwrap();
    e.ingest(
        &rec(0, "web")
            .identifier("user_id", "ann")
            .event(view(0))
            .build(),
    )
    .unwrap();
    let restored = Engine::restore(e.snapshot()).unwrap();
    assert_eq!(restored.snapshot(), e.snapshot());
    let mut restored = restored;
    restored.advance_time(t(11 * DAY)).unwrap();
    restored.internal_validate().unwrap();
    assert_eq!(
        restored.stats().events,
        0,
        "the restored engine keeps the schedule"
    );
}

#[derive(Clone, Debug)]
enum Step {
    Ingest(Record),
    Advance(i64),
}

fn step() -> impl Strategy<Value = Step> {
    let at = -30 * DAY..60 * DAY;
    let ev = prop_oneof![
        at.clone().prop_map(view),
        (at.clone(), 1..5_000i64).prop_map(|(s, c)| order(s, c)),
        (at.clone(), 1..3_000i64)
            .prop_map(|(s, c)| EventInput::new("order_refunded", t(s)).property("amount", eur(c))),
        at.prop_map(|s| EventInput::new("email_open", t(s))),
    ];
    let ids = prop::collection::vec(
        prop_oneof![
            (0..4u8).prop_map(|i| ("user_id", format!("u{i}"))),
            (0..5u8).prop_map(|i| ("email", format!("e{i}@x.com"))),
        ],
        1..3,
    );
    prop_oneof![
        3 => (ids, prop::collection::vec(ev, 0..4)).prop_map(|(ids, events)| {
            let mut b = rec(0, "web");
            for (k, v) in ids {
                b = b.identifier(k, v);
            }
            for e in events {
                b = b.event(e);
            }
            Step::Ingest(b.build())
        }),
        1 => (0..9 * DAY).prop_map(Step::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::common::cases()))]

    /// Retention then any query equals an engine never fed the expired events: the same
    /// records, without the events past their retention at the end, and no retention.
    #[test]
    fn retention_equals_never_keeping_the_events(
        steps in prop::collection::vec(step(), 1..30),
        on_advance in any::<bool>(),
    ) {
        let mut kept = engine(false);
        if !on_advance {
            kept = Engine::with_config(
                kept.schema().clone(),
                EngineConfig { retention_on_advance: false, ..kept.config().clone() },
            );
        }
        // Events reach back before the first clock time.
        kept.advance_time(t(0)).unwrap();
        for (name, expr) in segments() {
            kept.register_segment(name, expr).unwrap();
        }
        let mut now: Option<i64> = Some(0);
        let mut records = Vec::new();
        let mut replayed: std::collections::BTreeSet<(audience::SegmentId, audience::ProfileId)> =
            kept.segments()
                .flat_map(|(id, _)| {
                    kept.segment_members(id).unwrap().iter().map(move |p| (id, audience::ProfileId(p)))
                })
                .collect();
        for s in &steps {
            match s {
                Step::Ingest(r) => {
                    if kept.ingest(r).is_ok() {
                        records.push(r.clone());
                    }
                }
                Step::Advance(d) => {
                    let to = now.unwrap_or(0) + d;
                    kept.advance_time(t(to)).unwrap();
                    if !on_advance {
                        kept.apply_retention().unwrap();
                    }
                    now = Some(to);
                }
            }
            kept.internal_validate().unwrap();
            let replay = crate::common::replay_drained(&mut kept, &mut replayed);
            prop_assert!(replay.is_ok(), "{:?}", replay);
        }
        let members = crate::common::memberships(&kept);
        prop_assert_eq!(replayed, members);
        let mut fresh = engine(true);
        let schema = kept.schema().clone();
        if let Some(n) = now {
            fresh.advance_time(t(n)).unwrap();
        }
        for r in &records {
            let mut r = r.clone();
            if let Some(n) = now {
                r.events.retain(|ev| {
                    let keep = schema
                        .def()
                        .event_kinds
                        .iter()
                        .find(|k| k.name == ev.kind)
                        .and_then(|k| k.retention_days)
                        .map(|d| i64::from(d) * DAY * 1000);
                    keep.is_none_or(|k| ev.at.as_millis() >= t(n).as_millis() - k)
                });
            }
            fresh.ingest(&r).unwrap();
        }
        for (name, expr) in segments() {
            fresh.register_segment(name, expr).unwrap();
        }
        let ids: Vec<_> = kept.profile_ids().collect();
        prop_assert_eq!(&ids, &fresh.profile_ids().collect::<Vec<_>>());
        for &p in &ids {
            prop_assert_eq!(kept.profile(p).unwrap(), fresh.profile(p).unwrap());
        }
        for (name, _) in segments() {
            let a = kept.segment_members(kept.segment_id(name).unwrap()).unwrap().clone();
            let b = fresh.segment_members(fresh.segment_id(name).unwrap()).unwrap().clone();
            prop_assert_eq!(a, b, "segment {}", name);
        }
        if let Some(n) = now {
            kept.score_rfm("classic", t(n)).unwrap();
            fresh.score_rfm("classic", t(n)).unwrap();
            for &p in &ids {
                prop_assert_eq!(kept.rfm_score("classic", p).unwrap(), fresh.rfm_score("classic", p).unwrap());
            }
        }
        prop_assert_eq!(kept.stats().events_by_kind, fresh.stats().events_by_kind);
    }
}
