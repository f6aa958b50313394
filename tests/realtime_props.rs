//! The real-time invariants over random interleavings of records (merges among them),
//! clock moves, RFM runs and registrations: members equal a fresh evaluation, the drained
//! changes replay to the members and are exactly the net differences, and `next_deadline`
//! is the first instant time alone changes a membership.

use std::collections::HashMap;

use audience::segment::{Expr, RoaringBitmap, segment};
use audience::{Cause, Change, Engine, SegmentError, SegmentId, Timestamp};
use proptest::prelude::*;

use crate::common::t;
use crate::segments_props::{
    CHANNELS, Person, expr, ingest_record, person, suppress_person, test_schema,
};

const DAY: i64 = 86_400;

#[derive(Clone, Debug)]
enum Op {
    Ingest(Person),
    /// Moves the clock by this many hours.
    Advance(i64),
    /// Moves the clock to the next deadline, if any.
    AdvanceToDeadline,
    Rfm,
    /// Moves the clock to this time (how a fresh engine replays the moves above).
    AdvanceTo(Timestamp),
    /// Registers the expression, and-ed with the n-th registered segment if given.
    Register(Expr, Option<usize>),
    /// Unregisters the n-th registered segment.
    Unregister(usize),
    /// Applies the person's suppression to the profile holding their user id.
    Suppress(Person),
    /// Lifts the suppression of user `u`'s profile (`true`) or of email `e{u}` on a channel
    /// (or on every channel).
    Unsuppress(u8, bool, Option<&'static str>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => person().prop_map(Op::Ingest),
        2 => (0i64..96).prop_map(Op::Advance),
        2 => Just(Op::AdvanceToDeadline),
        1 => Just(Op::Rfm),
        2 => (expr(), prop::option::of(0usize..8)).prop_map(|(x, n)| Op::Register(x, n)),
        1 => (0usize..8).prop_map(Op::Unregister),
        1 => person().prop_map(Op::Suppress),
        1 => (0u8..12, any::<bool>(), prop::option::of(prop::sample::select(CHANNELS.to_vec())))
            .prop_map(|(u, whole, c)| Op::Unsuppress(u, whole, c)),
    ]
}

fn new_engine() -> Engine {
    let mut e = Engine::with_config(
        test_schema(),
        audience::EngineConfig {
            future_tolerance_secs: None,
            ..Default::default()
        },
    );
    e.advance_time(t(10 * DAY)).unwrap();
    e.register_segment("danes", audience::segment::trait_("country").eq("DK"))
        .unwrap();
    e
}

fn memberships(e: &Engine) -> HashMap<SegmentId, RoaringBitmap> {
    e.segments()
        .map(|(id, _)| (id, e.segment_members(id).unwrap().clone()))
        .collect()
}

/// Moves the clock of a copy of `e` to `to`; returns whether any membership changed.
fn changes_by(e: &Engine, to: Timestamp) -> bool {
    let mut copy = e.clone();
    copy.drain_changes();
    copy.advance_time(to).unwrap();
    !copy.drain_changes().is_empty()
}

/// Applies `op`; returns whether it only fed data (to be replayed on a fresh engine).
fn apply(e: &mut Engine, i: usize, op: &Op, names: &mut usize) -> Result<bool, TestCaseError> {
    let now = e.now().unwrap();
    match op {
        Op::Ingest(p) => {
            ingest_record(e, i, p);
            Ok(true)
        }
        Op::Suppress(p) => {
            if let Some(profile) = p.find(e) {
                suppress_person(e, i, p, profile);
            }
            Ok(true)
        }
        Op::Unsuppress(u, whole, channel) => {
            if *whole {
                if let Some(profile) = e.find("user_id", &format!("u{u}")).unwrap() {
                    e.unsuppress_profile(profile, *channel).unwrap();
                }
            } else {
                e.unsuppress_identifier("email", &format!("e{u}@example.com"), *channel)
                    .unwrap();
            }
            Ok(true)
        }
        Op::Advance(hours) => {
            e.advance_time(now.checked_add_millis(hours * 3_600_000).unwrap())
                .unwrap();
            Ok(true)
        }
        Op::AdvanceToDeadline => {
            if let Some(d) = e.next_deadline() {
                e.advance_time(d).unwrap();
            }
            Ok(true)
        }
        Op::AdvanceTo(to) => {
            e.advance_time(*to).unwrap();
            Ok(true)
        }
        Op::Rfm => {
            e.score_rfm("classic", now).unwrap();
            Ok(true)
        }
        Op::Register(x, with) => {
            let registered: Vec<String> = e.segments().map(|(_, n)| n.to_string()).collect();
            let x = match with.and_then(|n| registered.get(n % registered.len().max(1))) {
                Some(name) => x.clone().and(segment(name)),
                None => x.clone(),
            };
            *names += 1;
            e.register_segment(&format!("s{names}"), x).unwrap();
            Ok(false)
        }
        Op::Unregister(n) => {
            // "danes", which generated expressions name, stays.
            let ids: Vec<SegmentId> = e.segments().skip(1).map(|(id, _)| id).collect();
            if let Some(&id) = ids.get(n % ids.len().max(1)) {
                let before = e.clone();
                match e.unregister_segment(id) {
                    Ok(()) => {}
                    Err(SegmentError::InUse { .. }) => prop_assert_eq!(&before, e),
                    Err(other) => return Err(TestCaseError::fail(format!("{other}"))),
                }
            }
            Ok(false)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::common::cases()))]

    #[test]
    fn registered_segments_stay_current_and_report_every_change(
        ops in prop::collection::vec(op(), 1..24),
    ) {
        let mut e = new_engine();
        let mut replay = memberships(&e);
        let mut fed = Vec::new();
        let mut names = 0;
        for (i, op) in ops.iter().enumerate() {
            let before = memberships(&e);
            if apply(&mut e, i, op, &mut names)? {
                let replayed = match op {
                    Op::Advance(_) | Op::AdvanceToDeadline => Op::AdvanceTo(e.now().unwrap()),
                    other => other.clone(),
                };
                fed.push((i, replayed));
            }
            // New registrations start from their members at registration.
            for (id, members) in memberships(&e) {
                if !before.contains_key(&id) && !replay.contains_key(&id) {
                    replay.insert(id, members);
                }
            }
            e.internal_validate().map_err(TestCaseError::fail)?;
            let pending = e.pending_changes();
            prop_assert_eq!(e.pending_change_count(), pending.len());
            let changes = e.drain_changes();
            prop_assert_eq!(&changes, &pending, "draining gives what was pending");
            prop_assert_eq!(e.pending_change_count(), 0);
            // Ordered by (segment, profile) within the call, one per profile at most.
            let keys: Vec<_> = changes.iter().map(|c| (c.segment, c.profile)).collect();
            let mut sorted = keys.clone();
            sorted.sort();
            sorted.dedup();
            prop_assert_eq!(&keys, &sorted, "changes out of order after {:?}", op);
            let after = memberships(&e);
            // Exactly the net differences: nothing spurious, nothing missing.
            for (id, now) in &after {
                let Some(was) = before.get(id) else { continue };
                let entered: Vec<u32> = changes.iter()
                    .filter(|c| c.segment == *id && c.change == Change::Entered)
                    .map(|c| c.profile.0).collect();
                let exited: Vec<u32> = changes.iter()
                    .filter(|c| c.segment == *id && c.change == Change::Exited)
                    .map(|c| c.profile.0).collect();
                prop_assert_eq!(entered, (now - was).iter().collect::<Vec<_>>(), "entered {} after {:?}", id, op);
                prop_assert_eq!(exited, (was - now).iter().collect::<Vec<_>>(), "exited {} after {:?}", id, op);
            }
            for c in &changes {
                prop_assert_eq!(c.at, e.now().unwrap());
                if let Cause::Merge { retired, .. } = c.cause {
                    prop_assert_eq!(retired, c.profile);
                    prop_assert_eq!(c.change, Change::Exited);
                }
                // Replay over the members at registration.
                if let Some(m) = replay.get_mut(&c.segment) {
                    match c.change {
                        Change::Entered => prop_assert!(m.insert(c.profile.0)),
                        Change::Exited => prop_assert!(m.remove(c.profile.0)),
                    }
                }
            }
            for (id, now) in &after {
                prop_assert_eq!(replay.get(id), Some(now), "replay of {}", id);
            }
            // The deadline is the first instant the clock alone changes a membership.
            let clock = e.now().unwrap();
            match e.next_deadline() {
                Some(d) => {
                    prop_assert!(d > clock);
                    prop_assert!(!changes_by(&e, d.checked_add_millis(-1).unwrap()));
                    prop_assert!(changes_by(&e, d), "nothing changes at the deadline {:?}", d);
                }
                None => prop_assert!(!changes_by(&e, clock.checked_add_days(3_650).unwrap())),
            }
        }
        // A fresh engine fed the same data, with the same segments registered at the end,
        // has the same members.
        let mut fresh = new_engine();
        let mut ignored = 0;
        for (i, op) in &fed {
            apply(&mut fresh, *i, op, &mut ignored)?;
        }
        for (id, name) in e.segments().skip(1) {
            let fresh_id = fresh.register_segment(name, e.segment_expr(id).unwrap().clone()).unwrap();
            prop_assert_eq!(fresh.segment_members(fresh_id).unwrap(), e.segment_members(id).unwrap(), "{}", name);
        }
    }
}
