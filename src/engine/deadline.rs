//! `next_deadline`: the first instant at which the passing of time alone changes the
//! membership of some registered segment.
//!
//! Between two instants at which one of a profile's materialized conditions can change, its
//! answers are constant; so the profiles due in the conditions' queues, taken in time
//! order, are the only candidates. Each is checked at its instant against every segment
//! that reads the clock (evaluated as of that instant, from its events); a candidate whose
//! memberships would not change moves on to its next such instant.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::engine::Engine;
use crate::ids::ProfileId;
use crate::profile::Profile;
use crate::segment::compile::Node;
use crate::segment::eval_row::{Current, computed_as_value, passes};
use crate::segment::materialize::{Materialized, next_change};
use crate::time::Timestamp;

/// Marks a candidate that is a profile's next instant rather than a queue entry.
const NEXT: usize = usize::MAX;

impl Engine {
    /// The earliest time after the clock at which some registered segment's membership
    /// changes by the passing of time alone (a window edge, a "days since" bound), so the
    /// host can call [`Engine::advance_time`] exactly then; `None` when no such time is
    /// ahead (or the clock is unset). Advancing to just before it changes no membership;
    /// advancing to it changes at least one.
    ///
    /// Its cost grows with the number of window edges ahead of the first one that changes
    /// a membership; usually that is the first.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let now = self.clock.now()?;
        let clocked: Vec<_> = self
            .segments
            .registered()
            .filter(|(_, s)| s.reads_clock)
            .map(|(_, s)| s)
            .collect();
        if clocked.is_empty() {
            return None;
        }
        let leaves: Vec<&Node> = self
            .segments
            .materialized
            .iter()
            .filter(|m| m.users > 0 && m.reads.clock)
            .map(|m| &m.leaf)
            .collect();
        let mut queues: Vec<_> = self
            .segments
            .materialized
            .iter()
            .filter(|m| m.users > 0 && m.reads.clock)
            .map(Materialized::due)
            .collect();
        let mut heap = BinaryHeap::new();
        for (q, queue) in queues.iter_mut().enumerate() {
            if let Some((t, p)) = queue.next() {
                heap.push(Reverse((t, p, q)));
            }
        }
        let mut last = None;
        while let Some(Reverse((t, p, source))) = heap.pop() {
            if let Some((t2, p2)) = queues.get_mut(source).and_then(Iterator::next) {
                heap.push(Reverse((t2, p2, source)));
            }
            if last == Some((t, p)) || t <= now {
                continue;
            }
            last = Some((t, p));
            let Some(profile) = self.profiles.get(p) else {
                continue;
            };
            let changes = clocked
                .iter()
                .any(|s| self.row_future(&s.plan.root, p, profile, t) != s.members.contains(p.0));
            if changes {
                return Some(t);
            }
            let next = leaves
                .iter()
                .filter_map(|leaf| next_change(leaf, &self.schema, &profile.events, &self.texts, t))
                .min();
            if let Some(next) = next {
                heap.push(Reverse((next, p, NEXT)));
            }
        }
        None
    }

    /// Whether live profile `p` will satisfy `node` at `at` (on or after the clock), if no
    /// record arrives before: everything time can change is evaluated from the events.
    fn row_future(&self, node: &Node, p: ProfileId, profile: &Profile, at: Timestamp) -> bool {
        match node {
            Node::And(c) => c.iter().all(|n| self.row_future(n, p, profile, at)),
            Node::Or(c) => c.iter().any(|n| self.row_future(n, p, profile, at)),
            Node::Not(c) => !self.row_future(c, p, profile, at),
            Node::Materialized(i) => self
                .segments
                .materialized
                .get(*i)
                .is_some_and(|m| self.row_future(&m.leaf, p, profile, at)),
            Node::Segment(i) => self
                .segments
                .get(*i)
                .is_some_and(|s| self.row_future(&s.plan.root, p, profile, at)),
            Node::Computed { index, test } => {
                let value = self
                    .computed_value_at(profile, *index, at)
                    .and_then(computed_as_value);
                passes(test, value.as_ref().map(Current::One))
            }
            leaf => self.row_matches(leaf, p, profile, at),
        }
    }
}
