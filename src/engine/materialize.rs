//! Keeping materialized event conditions current: on define, for every profile; on
//! ingest and merge, for the profiles touched; as the clock moves, for the profiles due.

use crate::engine::Engine;
use crate::ids::ProfileId;
use crate::segment::compile::Node;
use crate::segment::materialize::{Materialized, next_change, reads_rfm};
use crate::time::Timestamp;

impl Engine {
    /// `p`'s answer to `leaf` and the next instant it can change, at the clock.
    fn leaf_state(&self, leaf: &Node, p: ProfileId) -> (bool, Option<Timestamp>) {
        let (Some(now), Some(profile)) = (self.clock.now(), self.profiles.get(p)) else {
            return (false, None);
        };
        (
            self.row_matches(leaf, p, profile, now),
            next_change(leaf, &self.schema, &profile.events, &self.texts, now),
        )
    }

    /// Materializes `leaf` over every live profile; returns its position.
    pub(crate) fn materialize(&mut self, leaf: Node) -> usize {
        self.segments.materialized.push(Materialized::new(leaf));
        let i = self.segments.materialized.len() - 1;
        let everyone = self.profile_ids().collect();
        self.recheck(i, everyone);
        i
    }

    /// Re-checks profile `p` (just changed) against every materialized leaf; a retired
    /// profile leaves them all.
    pub(crate) fn refresh_materialized(&mut self, p: ProfileId) {
        if self.segments.materialized.is_empty() {
            return;
        }
        let states: Vec<(bool, Option<Timestamp>)> = self
            .segments
            .materialized
            .iter()
            .map(|m| self.leaf_state(&m.leaf, p))
            .collect();
        for (m, (member, next)) in self.segments.materialized.iter_mut().zip(states) {
            m.set(p, member, next);
        }
    }

    /// Re-checks `profiles` against the materialized leaf at `i`.
    fn recheck(&mut self, i: usize, profiles: Vec<ProfileId>) {
        let Some(m) = self.segments.materialized.get(i) else {
            return;
        };
        let states: Vec<_> = profiles
            .into_iter()
            .map(|p| (p, self.leaf_state(&m.leaf, p)))
            .collect();
        if let Some(m) = self.segments.materialized.get_mut(i) {
            for (p, (member, next)) in states {
                m.set(p, member, next);
            }
        }
    }

    /// Re-checks the profiles whose answers can change by the clock's move to `to` (the
    /// clock is already there).
    pub(crate) fn advance_materialized(&mut self, to: Timestamp) {
        for i in 0..self.segments.materialized.len() {
            let due = self
                .segments
                .materialized
                .get_mut(i)
                .map(|m| m.take_due(to))
                .unwrap_or_default();
            self.recheck(i, due);
        }
    }

    /// Re-checks every profile against the materialized leaves that read RFM runs (after
    /// a run of any model).
    pub(crate) fn refresh_rfm_materialized(&mut self) {
        for i in 0..self.segments.materialized.len() {
            if self
                .segments
                .materialized(i)
                .is_some_and(|m| reads_rfm(&m.leaf))
            {
                let everyone = self.profile_ids().collect();
                self.recheck(i, everyone);
            }
        }
    }

    /// Every materialized leaf holds exactly the live profiles satisfying it, each
    /// scheduled at its next change.
    pub(crate) fn check_materialized(&self) -> Result<(), String> {
        for (i, m) in self.segments.materialized.iter().enumerate() {
            let mut members = roaring::RoaringBitmap::new();
            for p in self.profile_ids() {
                let (member, next) = self.leaf_state(&m.leaf, p);
                if member {
                    members.insert(p.0);
                }
                if m.due_of(p) != next {
                    return Err(format!(
                        "materialized leaf {i}: {p} due {:?}, expected {next:?}",
                        m.due_of(p)
                    ));
                }
            }
            if members != m.members {
                return Err(format!(
                    "materialized leaf {i}: {} members, expected {}",
                    m.members.len(),
                    members.len()
                ));
            }
        }
        Ok(())
    }
}
