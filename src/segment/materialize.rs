//! Materialized conditions: when a named segment is defined, each of its event, sequence
//! and sample leaves becomes a bitmap of the profiles satisfying it, kept current from then
//! on — re-checked for a profile when its records arrive or it merges, and when the clock
//! reaches the next instant its answer can change (an event entering or leaving the
//! window), found from its events and kept in a queue per leaf.

use roaring::RoaringBitmap;

use crate::due::DueQueue;
use crate::event::computed;
use crate::event::store::EventHistory;
use crate::event::text::TextPool;
use crate::ids::ProfileId;
use crate::realtime::Reads;
use crate::record::Value;
use crate::schema::{Op, Schema};
use crate::segment::compile::{CTest, Filter, Node};
use crate::segment::eval_row::{in_window, matches_filter, passes_value};
use crate::time::{MILLIS_PER_DAY, Timestamp, Window, days_since};

/// One materialized leaf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Materialized {
    /// The leaf (an event or sequence condition).
    pub(crate) leaf: Node,
    /// The live profiles satisfying it at the clock.
    pub(crate) members: RoaringBitmap,
    /// Each profile under the instant its answer can next change.
    due: DueQueue,
    /// How many registered segments read it; at 0 it is no longer kept.
    pub(crate) users: u32,
    /// What it reads, to tell which records can change it.
    pub(crate) reads: Reads,
}

/// Whether a leaf can be materialized: conditions on events and computed traits (each
/// with the next instant its answer can change: an event entering or leaving a window, a
/// "days since" value crossing the test's bounds), on RFM scores (which change only with a
/// run or a merge), and samples (which change only when a profile appears, merges or gains
/// an identifier). Trait conditions have indexes of their own.
pub(crate) fn materializable(node: &Node) -> bool {
    matches!(
        node,
        Node::Event { .. }
            | Node::NoneSince { .. }
            | Node::Then { .. }
            | Node::Sample { .. }
            | Node::RfmScore { .. }
            | Node::RfmSegment { .. }
            | Node::RfmTrend { .. }
            | Node::Computed { .. }
    )
}

/// The first instant after `now` at which a "days since `last`" value, tested by `test`,
/// changes its answer: the value steps up by one each day, so the answer can only change
/// where it reaches a bound of the test.
fn days_since_crossing(test: &CTest, last: Timestamp, now: Timestamp) -> Option<Timestamp> {
    let answer = |days: i64| passes_value(test, &Value::Integer(days));
    let today = days_since(last, now);
    let mut bounds: Vec<i64> = Vec::new();
    let mut bound = |v: &Value, after: bool| {
        if let Value::Integer(n) = v {
            bounds.push(if after { n.saturating_add(1) } else { *n });
        }
    };
    match test {
        CTest::Eq(v) => {
            bound(v, false);
            bound(v, true);
        }
        CTest::In(vs) => {
            for v in vs {
                bound(v, false);
                bound(v, true);
            }
        }
        CTest::Range { min, max } => {
            if let Some((v, inclusive)) = min {
                bound(v, !inclusive);
            }
            if let Some((v, inclusive)) = max {
                bound(v, *inclusive);
            }
        }
        _ => {}
    }
    bounds.sort_unstable();
    let at = bounds
        .into_iter()
        .find(|&d| d > today && answer(d) != answer(today))?;
    last.checked_add_millis(at.checked_mul(MILLIS_PER_DAY)?)
        .ok()
}

/// Whether a leaf reads RFM runs (re-checked for everyone at each run).
pub(crate) fn reads_rfm(node: &Node) -> bool {
    matches!(
        node,
        Node::RfmScore { .. } | Node::RfmSegment { .. } | Node::RfmTrend { .. }
    )
}

/// The earliest instant after `now` at which an event at `at` enters or leaves `window`.
fn crossing(window: Window, at: Timestamp, now: Timestamp) -> Option<Timestamp> {
    let enters = (at > now).then_some(at);
    let leaves = match window {
        Window::LastDays(days) => at
            .checked_add_millis(i64::from(days).saturating_mul(MILLIS_PER_DAY))
            .ok()
            .filter(|t| *t > now),
        Window::Between { from, to } if at < from || at >= to => return None,
        _ => None,
    };
    match (enters, leaves) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The events of `h` matching `filter` inside `window` at `now`, oldest first.
fn matching<'a>(
    h: &'a EventHistory,
    texts: &'a TextPool,
    filter: &'a Filter,
    window: Window,
    now: Timestamp,
) -> impl DoubleEndedIterator<Item = crate::event::store::EventRef<'a>> + 'a {
    let from = window.start(now).map_or(0, |s| h.first_at_or_after(s));
    h.range(from..h.first_after(now))
        .filter(move |e| window.contains(e.at(), now) && matches_filter(texts, filter, e))
}

/// The next instant after `now` at which `leaf`'s answer for a profile with history `h`
/// can change.
pub(crate) fn next_change(
    leaf: &Node,
    schema: &Schema,
    h: &EventHistory,
    texts: &TextPool,
    now: Timestamp,
) -> Option<Timestamp> {
    let arriving = |filter: &Filter| {
        h.range(h.first_after(now)..h.len())
            .find(|e| matches_filter(texts, filter, e))
            .map(|e| e.at())
    };
    let earliest = |a: Option<Timestamp>, b: Option<Timestamp>| match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    // The first instant a matching event enters or leaves `window`: the next arrival
    // (inside the window's bounds) or the exit of the oldest event inside a trailing one.
    let windowed = |filter: &Filter, window: Window| {
        let arrival = h
            .range(h.first_after(now)..h.len())
            .find(|e| {
                let bounded = match window {
                    Window::Between { from, to } => from <= e.at() && e.at() < to,
                    _ => true,
                };
                bounded && matches_filter(texts, filter, e)
            })
            .map(|e| e.at());
        let exit = match window {
            Window::LastDays(_) => in_window(h, window, now)
                .find(|e| window.contains(e.at(), now) && matches_filter(texts, filter, e))
                .and_then(|e| crossing(window, e.at(), now)),
            _ => None,
        };
        earliest(arrival, exit)
    };
    // The events matching `filter` inside `window`: how many, the time of the i-th
    // (oldest first), and the window's span when its events leave it (a trailing window).
    // Counted without collecting, so long histories allocate nothing.
    let matching = |filter, window| matching(h, texts, filter, window, now);
    let span = |window: Window| match window {
        Window::LastDays(days) => Some(i64::from(days).saturating_mul(MILLIS_PER_DAY)),
        _ => None,
    };
    let leaves = |at: Option<Timestamp>, span: Option<i64>| {
        at.zip(span)
            .and_then(|(at, span)| at.checked_add_millis(span).ok())
    };
    match leaf {
        // A count test flips only when the count crosses a bound: as events leave the
        // window that is the exit of one particular event; otherwise an arrival.
        Node::Event {
            filter,
            window,
            at_least,
            at_most,
            sum: None,
        } => {
            let count = matching(filter, *window).count() as u64;
            // The exit of the k-th newest matching event (k = 0: the newest), read from
            // the end: the events that matter are the recent ones.
            let nth_newest_exit = |k: u64| {
                let at = usize::try_from(k)
                    .ok()
                    .and_then(|k| matching(filter, *window).rev().nth(k))
                    .map(|e| e.at());
                leaves(at, span(*window))
            };
            let member = count >= *at_least && at_most.is_none_or(|m| count <= m);
            let exit = match *at_most {
                // The (count - at_least)-th oldest is the (at_least - 1)-th newest.
                _ if member && *at_least > 0 => nth_newest_exit(at_least - 1),
                // The (count - m - 1)-th oldest is the m-th newest.
                Some(m) if !member && count > m && *at_least <= m => nth_newest_exit(m),
                _ => None,
            };
            earliest(exit, arriving(filter))
        }
        Node::Event { filter, window, .. } => windowed(filter, *window),
        // Only the latest "first" event matters: when it leaves, every earlier one has.
        Node::NoneSince {
            first,
            window,
            then,
        } => {
            let last = matching(first, *window).next_back().map(|e| e.at());
            let exit = leaves(last, span(*window));
            earliest(exit, earliest(arriving(first), arriving(then)))
        }
        Node::Then {
            first,
            window,
            then,
            ..
        } => earliest(windowed(first, *window), arriving(then)),
        Node::Computed { index, test } => schema.computed_rules().get(*index).and_then(|rule| {
            let events = computed::next_change(std::slice::from_ref(rule), h, Some(now), texts);
            // "Days since" picks the latest contributing event in the window: found from
            // the end, not by recomputing the state over the window.
            let threshold = if rule.op == Op::DaysSince {
                h.range(computed::window_range(h, rule.window, now))
                    .rev()
                    .find(|e| computed::contributes(rule, e, texts))
                    .and_then(|e| days_since_crossing(test, e.at(), now))
            } else {
                None
            };
            earliest(events, threshold)
        }),
        _ => None,
    }
}

impl Materialized {
    /// An empty materialization of `leaf`, which reads `reads`.
    pub(crate) fn new(leaf: Node, reads: Reads) -> Self {
        Materialized {
            leaf,
            members: RoaringBitmap::new(),
            due: DueQueue::default(),
            users: 0,
            reads,
        }
    }

    /// One more registered segment reads it.
    pub(crate) fn acquire(&mut self) {
        self.users += 1;
    }

    /// One registered segment fewer reads it; the last one to go empties it.
    pub(crate) fn release(&mut self) {
        self.users = self.users.saturating_sub(1);
        if self.users == 0 {
            self.members = RoaringBitmap::new();
            self.due.clear();
        }
    }

    /// Records `p`'s answer and its next change (`None`: retired, or never again);
    /// returns whether the answer changed.
    pub(crate) fn set(&mut self, p: ProfileId, member: bool, next: Option<Timestamp>) -> bool {
        let changed = if member {
            self.members.insert(p.0)
        } else {
            self.members.remove(p.0)
        };
        self.due.set(p, next);
        changed
    }

    /// Schedules `p` at `next` (its answer unchanged).
    pub(crate) fn schedule(&mut self, p: ProfileId, next: Option<Timestamp>) {
        self.due.set(p, next);
    }

    /// Reads `p`'s instant without using it; see [`ProfileStore::warm`].
    ///
    /// [`ProfileStore::warm`]: crate::profile::ProfileStore::warm
    pub(crate) fn warm(&self, p: ProfileId) -> bool {
        self.due.get(p).is_some()
    }

    /// Records the answers and next changes of `states` (ascending profile ids).
    pub(crate) fn set_sorted(&mut self, states: &[(ProfileId, bool, Option<Timestamp>)]) {
        let changes: Vec<(u32, bool)> = states.iter().map(|&(p, on, _)| (p.0, on)).collect();
        crate::index::set_sorted(&mut self.members, &changes);
        for &(p, _, next) in states {
            self.due.set(p, next);
        }
    }

    /// Takes the profiles due at or before `to`, in id order.
    pub(crate) fn take_due(&mut self, to: Timestamp) -> Vec<ProfileId> {
        self.due.take_until(to)
    }

    /// The profiles scheduled, in (instant, id) order.
    pub(crate) fn due(&self) -> impl Iterator<Item = (Timestamp, ProfileId)> + '_ {
        self.due.iter_scheduled()
    }

    /// The instant `p` is due (for checks).
    pub(crate) fn due_of(&self, p: ProfileId) -> Option<Timestamp> {
        self.due.get(p)
    }

    /// Checks the queue's own structure.
    pub(crate) fn check_queue(&self) -> Result<(), String> {
        self.due.internal_validate()
    }

    /// Estimated heap bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.members.serialized_size() + self.due.heap_bytes()
    }
}
