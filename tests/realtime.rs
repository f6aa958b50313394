//! Registered segments through the public API: journeys that enter and exit as records
//! arrive and time passes, merges, RFM runs, dependencies, and bad input.

use audience::segment::{EventSpec, Expr, RfmCond, Sequence, event, segment, trait_};
use audience::{
    Cause, Change, CompileProblem, Currency, Engine, EventInput, Money, Record, Schema,
    SegmentChange, SegmentError, SegmentId, TimeError, Window,
};

use crate::common::t;

const DAY: i64 = 86_400;

fn usd(cents: i64) -> Money {
    Money::new(cents, Currency::new("USD").unwrap())
}

fn spec(kind: &str) -> EventSpec {
    EventSpec {
        kind: kind.into(),
        conditions: vec![],
    }
}

/// "Added to cart in the last 7 days and bought nothing since."
fn abandoned_cart() -> Expr {
    Expr::Sequence(Sequence::NoneSince {
        first: spec("add_to_cart"),
        window: Window::LastDays(7),
        then: spec("order_completed"),
    })
}

fn engine_at(day: i64) -> Engine {
    let mut e = Engine::new(Schema::retail_default());
    e.advance_time(t(day * DAY)).unwrap();
    e
}

fn cart(user: &str, day: i64) -> Record {
    Record::builder(t(day * DAY), "web")
        .identifier("user_id", user)
        .event(EventInput::new("add_to_cart", t(day * DAY)))
        .build()
}

fn order(user: &str, day: i64, cents: i64) -> Record {
    Record::builder(t(day * DAY), "web")
        .identifier("user_id", user)
        .event(EventInput::new("order_completed", t(day * DAY)).property("amount", usd(cents)))
        .build()
}

fn moves(changes: &[SegmentChange]) -> Vec<(SegmentId, u32, Change)> {
    changes
        .iter()
        .map(|c| (c.segment, c.profile.0, c.change))
        .collect()
}

#[test]
fn an_abandoned_cart_enters_on_the_cart_and_exits_on_the_order() {
    let mut e = engine_at(10);
    let carts = e.register_segment("abandoned", abandoned_cart()).unwrap();
    let ann = e.ingest(&cart("ann", 10)).unwrap();
    let changes = e.drain_changes();
    assert_eq!(moves(&changes), [(carts, ann.profile.0, Change::Entered)]);
    assert_eq!(changes[0].cause, Cause::Record(ann.record.unwrap()));
    assert_eq!(changes[0].at, t(10 * DAY));
    assert_eq!(e.segment_count(carts).unwrap(), 1);
    e.advance_time(t(11 * DAY)).unwrap();
    let paid = e.ingest(&order("ann", 11, 4_200)).unwrap();
    let changes = e.drain_changes();
    assert_eq!(moves(&changes), [(carts, ann.profile.0, Change::Exited)]);
    assert_eq!(changes[0].cause, Cause::Record(paid.record.unwrap()));
    assert!(e.segment_members(carts).unwrap().is_empty());
    assert!(e.drain_changes().is_empty(), "drained once");
}

#[test]
fn a_window_segment_exits_exactly_at_the_deadline() {
    let mut e = engine_at(10);
    let carts = e.register_segment("abandoned", abandoned_cart()).unwrap();
    e.ingest(&cart("ann", 10)).unwrap();
    e.advance_time(t(12 * DAY)).unwrap();
    e.ingest(&cart("bob", 12)).unwrap();
    e.drain_changes();
    // Ann's cart leaves the seven-day window first.
    assert_eq!(e.next_deadline(), Some(t(17 * DAY)));
    e.advance_time(t(17 * DAY - 1)).unwrap();
    assert!(e.drain_changes().is_empty());
    e.advance_time(t(17 * DAY)).unwrap();
    let changes = e.drain_changes();
    assert_eq!(moves(&changes), [(carts, 0, Change::Exited)]);
    assert_eq!(
        changes[0].cause,
        Cause::Clock {
            from: Some(t(17 * DAY - 1)),
            to: t(17 * DAY)
        }
    );
    assert_eq!(e.next_deadline(), Some(t(19 * DAY)));
    // One jump over both edges reports the net difference over the call.
    e.ingest(&cart("cy", 17)).unwrap();
    e.drain_changes();
    e.advance_time(t(40 * DAY)).unwrap();
    assert_eq!(
        moves(&e.drain_changes()),
        [(carts, 1, Change::Exited), (carts, 2, Change::Exited)]
    );
    assert_eq!(e.next_deadline(), None);
}

#[test]
fn clock_moves_over_many_profiles_keep_every_segment_exact() {
    // Hundreds of profiles cross a window edge in one move: more than a block of the
    // two-pass re-check and enough changes per bitmap to be applied in bulk.
    let mut e = engine_at(20);
    let abandoned = e.register_segment("abandoned", abandoned_cart()).unwrap();
    let recent = event("add_to_cart")
        .in_window(Window::LastDays(3))
        .at_least(2);
    let busy = e.register_segment("busy", recent).unwrap();
    let quiet = e
        .register_segment("quiet", segment("busy").not().and(segment("abandoned")))
        .unwrap();
    for i in 0..1_500i64 {
        let user = format!("u{i}");
        e.ingest(&cart(&user, 10 + i % 11)).unwrap();
        if i % 3 == 0 {
            e.ingest(&cart(&user, 12 + i % 9)).unwrap();
        }
        if i % 7 == 0 {
            e.ingest(&order(&user, 11 + i % 10, 100)).unwrap();
        }
    }
    let ids = [abandoned, busy, quiet];
    let mut members: Vec<_> = ids
        .iter()
        .map(|&id| e.segment_members(id).unwrap().clone())
        .collect();
    e.drain_changes();
    let mut moved = 0;
    for day in 21..=32 {
        e.advance_time(t(day * DAY)).unwrap();
        e.internal_validate().unwrap();
        let changes = e.drain_changes();
        moved += changes.len();
        for c in &changes {
            let k = ids.iter().position(|&id| id == c.segment).unwrap();
            // Each change is real: an entry of a non-member, an exit of a member.
            assert_eq!(c.change == Change::Entered, members[k].insert(c.profile.0));
            if c.change == Change::Exited {
                members[k].remove(c.profile.0);
            }
        }
        for (k, &id) in ids.iter().enumerate() {
            assert_eq!(&members[k], e.segment_members(id).unwrap(), "day {day}");
        }
    }
    assert!(moved > 1_500, "{moved} changes");
    assert!(ids.iter().all(|&id| e.segment_count(id).unwrap() == 0));
}

#[test]
fn days_since_thresholds_have_deadlines_too() {
    let mut def = Schema::retail_default().def().clone();
    def.computed.push(audience::schema::ComputedDef::new(
        "days_since_order",
        audience::schema::EventFilter::kind("order_completed"),
        audience::schema::Computation::DaysSince,
    ));
    let mut e = Engine::new(Schema::from_def(def).unwrap());
    e.advance_time(t(10 * DAY)).unwrap();
    let lapsing = audience::segment::computed("days_since_order").between(30i64, 59i64);
    let id = e.register_segment("lapsing", lapsing).unwrap();
    e.ingest(&order("ann", 5, 100)).unwrap();
    assert_eq!(e.next_deadline(), Some(t(35 * DAY)));
    e.advance_time(t(35 * DAY)).unwrap();
    assert_eq!(moves(&e.drain_changes()), [(id, 0, Change::Entered)]);
    assert_eq!(e.next_deadline(), Some(t(65 * DAY)));
    e.advance_time(t(70 * DAY)).unwrap();
    assert_eq!(moves(&e.drain_changes()), [(id, 0, Change::Exited)]);
    assert_eq!(e.next_deadline(), None);
}

#[test]
fn a_merge_exits_the_retired_id_and_rechecks_the_survivor() {
    let mut e = engine_at(10);
    let germans = e
        .register_segment("germans", trait_("country").eq("DE"))
        .unwrap();
    let anon = Record::builder(t(10 * DAY), "web")
        .identifier("anonymous_id", "dev-1")
        .trait_value("country", "DE")
        .build();
    let a = e.ingest(&anon).unwrap();
    let b = e
        .ingest(
            &Record::builder(t(10 * DAY), "crm")
                .identifier("email", "ann@example.com")
                .build(),
        )
        .unwrap();
    e.drain_changes();
    // Log in on the device with the email: b retires into a, which stays German.
    let login = Record::builder(t(10 * DAY), "app")
        .identifier("anonymous_id", "dev-1")
        .identifier("email", "ann@example.com")
        .build();
    let report = e.ingest(&login).unwrap();
    assert_eq!(report.merged, vec![b.profile]);
    assert!(
        e.drain_changes().is_empty(),
        "the survivor stays, b was never in"
    );
    // Now the other way round: the retired id was the member.
    let c = e
        .ingest(
            &Record::builder(t(10 * DAY), "crm")
                .identifier("user_id", "cy")
                .trait_value("country", "DE")
                .build(),
        )
        .unwrap();
    let d = e
        .ingest(
            &Record::builder(t(10 * DAY), "crm")
                .identifier("anonymous_id", "dev-9")
                .build(),
        )
        .unwrap();
    e.drain_changes();
    let join = e
        .ingest(
            &Record::builder(t(11 * DAY), "app")
                .identifier("anonymous_id", "dev-9")
                .identifier("user_id", "cy")
                .build(),
        )
        .unwrap();
    assert_eq!(join.profile, c.profile);
    assert_eq!(join.merged, vec![d.profile]);
    assert!(e.drain_changes().is_empty());
    assert_eq!(
        e.segment_members(germans)
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        [a.profile.0, c.profile.0]
    );
    // A record merging a German into a non-German profile: the retired German exits with
    // the merge as cause, the survivor enters.
    let eve = e
        .ingest(
            &Record::builder(t(11 * DAY), "crm")
                .identifier("user_id", "eve")
                .build(),
        )
        .unwrap();
    let fay = e
        .ingest(
            &Record::builder(t(11 * DAY), "crm")
                .identifier("email", "fay@example.com")
                .trait_value("country", "DE")
                .build(),
        )
        .unwrap();
    e.drain_changes();
    let r = e
        .ingest(
            &Record::builder(t(11 * DAY), "app")
                .identifier("user_id", "eve")
                .identifier("email", "fay@example.com")
                .build(),
        )
        .unwrap();
    let changes = e.drain_changes();
    assert_eq!(
        moves(&changes),
        [
            (germans, eve.profile.0, Change::Entered),
            (germans, fay.profile.0, Change::Exited)
        ]
    );
    assert_eq!(changes[0].cause, Cause::Record(r.record.unwrap()));
    assert_eq!(
        changes[1].cause,
        Cause::Merge {
            record: r.record.unwrap(),
            survivor: eve.profile,
            retired: fay.profile
        }
    );
}

#[test]
fn a_change_to_a_segment_reaches_the_segments_naming_it_in_the_same_call() {
    let mut e = engine_at(10);
    let carts = e.register_segment("carts", abandoned_cart()).unwrap();
    let vips = e.register_segment("vips", trait_("vip").eq(true)).unwrap();
    let nudge = e
        .register_segment("nudge", segment("carts").and(segment("vips").not()))
        .unwrap();
    e.ingest(&cart("ann", 10)).unwrap();
    assert_eq!(
        moves(&e.drain_changes()),
        [(carts, 0, Change::Entered), (nudge, 0, Change::Entered)]
    );
    e.ingest(
        &Record::builder(t(10 * DAY), "crm")
            .identifier("user_id", "ann")
            .trait_value("vip", true)
            .build(),
    )
    .unwrap();
    assert_eq!(
        moves(&e.drain_changes()),
        [(vips, 0, Change::Entered), (nudge, 0, Change::Exited)]
    );
    // Time reaches "nudge" through "carts".
    e.advance_time(t(30 * DAY)).unwrap();
    assert_eq!(moves(&e.drain_changes()), [(carts, 0, Change::Exited)]);
}

#[test]
fn an_rfm_run_reports_the_net_difference() {
    let mut e = engine_at(100);
    let champions = e
        .register_segment(
            "champions",
            Expr::Rfm(RfmCond::Score {
                model: "classic".into(),
                dimension: audience::rfm::Dimension::Monetary,
                min: 5,
                max: 5,
            }),
        )
        .unwrap();
    for (i, user) in ["ann", "bob", "cy", "dee", "eve"].iter().enumerate() {
        e.ingest(&order(user, 90, 1_000 * (i as i64 + 1))).unwrap();
    }
    assert!(e.drain_changes().is_empty(), "no run yet");
    e.score_rfm("classic", t(100 * DAY)).unwrap();
    let changes = e.drain_changes();
    assert_eq!(moves(&changes), [(champions, 4, Change::Entered)]);
    assert_eq!(
        changes[0].cause,
        Cause::RfmRun {
            model: "classic".into(),
            reference: t(100 * DAY)
        }
    );
    e.ingest(&order("ann", 95, 100_000)).unwrap();
    assert!(
        e.drain_changes().is_empty(),
        "scores change only with a run"
    );
    e.score_rfm("classic", t(100 * DAY)).unwrap();
    assert_eq!(
        moves(&e.drain_changes()),
        [
            (champions, 0, Change::Entered),
            (champions, 4, Change::Exited)
        ]
    );
}

#[test]
fn unregistering_stops_the_changes_and_frees_the_name() {
    let mut e = engine_at(10);
    let carts = e.register_segment("carts", abandoned_cart()).unwrap();
    let user = e
        .register_segment("user", segment("carts").and(trait_("vip").eq(true)))
        .unwrap();
    assert_eq!(
        e.unregister_segment(carts),
        Err(SegmentError::InUse {
            segment: "carts".into(),
            by: "user".into()
        })
    );
    e.unregister_segment(user).unwrap();
    e.unregister_segment(carts).unwrap();
    assert_eq!(e.segments().count(), 0);
    e.ingest(&cart("ann", 10)).unwrap();
    assert!(e.drain_changes().is_empty());
    assert_eq!(e.next_deadline(), None);
    assert_eq!(e.segment_count(carts), Err(SegmentError::UnknownId(carts)));
    let again = e.register_segment("carts", abandoned_cart()).unwrap();
    assert_ne!(again, carts, "ids are never reused");
    assert_eq!(e.segment_count(again).unwrap(), 1);
    assert_eq!(e.segment_id("carts").unwrap(), again);
    e.internal_validate().unwrap();
}

#[test]
fn bad_input_is_a_typed_error_and_changes_nothing() {
    let mut unset = Engine::new(Schema::retail_default());
    assert_eq!(
        unset.register_segment("carts", abandoned_cart()),
        Err(SegmentError::Time(TimeError::ClockUnset))
    );
    assert_eq!(unset, Engine::new(Schema::retail_default()));
    let mut e = engine_at(10);
    e.ingest(&cart("ann", 10)).unwrap();
    let carts = e.register_segment("carts", abandoned_cart()).unwrap();
    let before = e.clone();
    let unknown = e.register_segment("x", trait_("shoe_size").eq(42i64));
    assert!(matches!(
        unknown,
        Err(SegmentError::Compile(ref c)) if matches!(c.problem, CompileProblem::UnknownTrait(_))
    ));
    assert_eq!(
        e.register_segment("carts", Expr::All),
        Err(SegmentError::Duplicate("carts".into()))
    );
    assert_eq!(
        e.register_segment(
            "loop",
            segment("loop").or(event("order_completed").happened())
        ),
        Err(SegmentError::Cycle("loop".into()))
    );
    assert_eq!(
        e.unregister_segment(SegmentId(99)),
        Err(SegmentError::UnknownId(SegmentId(99)))
    );
    assert_eq!(
        e.segment_members(SegmentId(99)),
        Err(SegmentError::UnknownId(SegmentId(99)))
    );
    assert_eq!(
        e.advance_time(t(5 * DAY)),
        Err(TimeError::Backwards {
            now: t(10 * DAY),
            to: t(5 * DAY)
        })
    );
    assert_eq!(e, before);
    assert_eq!(e.segment_count(carts).unwrap(), 1);
}

#[test]
fn a_plan_naming_an_unregistered_segment_is_refused() {
    let mut e = engine_at(10);
    let vips = e.register_segment("vips", trait_("vip").eq(true)).unwrap();
    let plan = e.compile(&segment("vips")).unwrap();
    e.unregister_segment(vips).unwrap();
    assert_eq!(e.count(&plan), Err(SegmentError::UnknownId(vips)));
}
