//! Keeping materialized conditions current: when a segment first reads one, for every
//! profile; on ingest and merge, for the profiles touched; as the clock moves, for the
//! profiles due; after an RFM run, for everyone.

use smallvec::SmallVec;

use crate::engine::Engine;
use crate::ids::ProfileId;
use crate::profile::WARM_BLOCK;
use crate::realtime::{Touched, reads_of};
use crate::segment::compile::Node;
use crate::segment::materialize::{Materialized, next_change, reads_rfm};
use crate::time::Timestamp;

impl Engine {
    /// `p`'s answer to `leaf` and the next instant it can change, at the clock (unset: the
    /// leaf does not read it).
    fn leaf_state(&self, leaf: &Node, p: ProfileId) -> (bool, Option<Timestamp>) {
        let Some(profile) = self.profiles.get(p) else {
            return (false, None);
        };
        let now = self.clock.now().unwrap_or(Timestamp::MIN);
        let next = self
            .clock
            .now()
            .and_then(|now| next_change(leaf, &self.schema, &profile.events, &self.texts, now));
        (self.row_matches(leaf, p, profile, now), next)
    }

    /// The position of the materialization of `leaf`, adding an empty one if there is none.
    pub(crate) fn materialized_slot(&mut self, leaf: &Node) -> usize {
        if let Some(i) = self
            .segments
            .materialized
            .iter()
            .position(|m| m.leaf == *leaf)
        {
            return i;
        }
        let reads = reads_of(leaf, &self.schema, &|_| None);
        self.segments
            .materialized
            .push(Materialized::new(leaf.clone(), reads));
        self.segments.materialized.len() - 1
    }

    /// One more segment reads the materialized leaf at `i`; the first fills it from every
    /// live profile.
    pub(crate) fn acquire_materialized(&mut self, i: usize) {
        let fill = self
            .segments
            .materialized
            .get(i)
            .is_some_and(|m| m.users == 0);
        if fill {
            let everyone = self.profile_ids().collect();
            self.recheck(i, everyone);
        }
        if let Some(m) = self.segments.materialized.get_mut(i) {
            m.acquire();
        }
    }

    /// Re-checks profile `p`, which a record just changed as `touched` says, against the
    /// materialized leaves it can affect; returns the positions of those whose answer
    /// changed.
    pub(crate) fn refresh_materialized(
        &mut self,
        p: ProfileId,
        touched: &Touched,
    ) -> SmallVec<[usize; 8]> {
        if self.segments.materialized.is_empty() {
            return SmallVec::new();
        }
        let leaves: SmallVec<[usize; 32]> = self
            .segments
            .materialized
            .iter()
            .enumerate()
            .filter(|(_, m)| m.users > 0 && touched.affects(&m.reads))
            .map(|(i, _)| i)
            .collect();
        let materialized = &self.segments.materialized;
        // First only touch `p`'s entries in each leaf (independent reads, overlapped).
        let seen = leaves
            .iter()
            .filter_map(|&i| materialized.get(i))
            .fold(false, |seen, m| seen ^ m.warm(p));
        std::hint::black_box(seen);
        let states: SmallVec<[(usize, bool, Option<Timestamp>); 32]> = leaves
            .iter()
            .filter_map(|&i| {
                let (member, next) = self.leaf_state(&materialized.get(i)?.leaf, p);
                Some((i, member, next))
            })
            .collect();
        let mut changed = SmallVec::new();
        for (i, member, next) in states {
            if self.segments.set_leaf(i, p, member, next) {
                changed.push(i);
            }
        }
        changed
    }

    /// Takes retired profile `p` out of every materialized leaf.
    pub(crate) fn retire_materialized(&mut self, p: ProfileId) {
        for i in 0..self.segments.materialized.len() {
            if self.segments.materialized(i).is_some() {
                self.segments.set_leaf(i, p, false, None);
            }
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
        for (p, (member, next)) in states {
            self.segments.set_leaf(i, p, member, next);
        }
    }

    /// Re-checks the profiles whose answers can change by the clock's move to `to` (the
    /// clock is already there); returns them, per leaf.
    ///
    /// The re-checks run profile by profile (all leaves due for one profile together), so
    /// each profile's events are read from memory once, not once per leaf.
    pub(crate) fn advance_materialized(&mut self, to: Timestamp) -> Vec<Vec<ProfileId>> {
        let due_per_leaf: Vec<Vec<ProfileId>> = self
            .segments
            .materialized
            .iter_mut()
            .map(|m| m.take_due(to))
            .collect();
        let mut pairs: Vec<(ProfileId, usize)> = due_per_leaf
            .iter()
            .enumerate()
            .flat_map(|(i, due)| due.iter().map(move |&p| (p, i)))
            .collect();
        pairs.sort_unstable();
        let materialized = &self.segments.materialized;
        // Per leaf, its profiles' answers, ascending (the pairs are in profile order).
        let mut states: Vec<Vec<(ProfileId, bool, Option<Timestamp>)>> = due_per_leaf
            .iter()
            .map(|d| Vec::with_capacity(d.len()))
            .collect();
        for block in pairs.chunks(WARM_BLOCK) {
            self.profiles.warm(block.iter().map(|&(p, _)| p));
            for &(p, i) in block {
                if let (Some(m), Some(out)) = (materialized.get(i), states.get_mut(i)) {
                    let (member, next) = self.leaf_state(&m.leaf, p);
                    out.push((p, member, next));
                }
            }
        }
        for (i, states) in states.iter().enumerate() {
            self.segments.set_leaf_sorted(i, states);
        }
        due_per_leaf
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

    /// Every materialized leaf a segment reads holds exactly the live profiles satisfying
    /// it, each scheduled at its next change; one no segment reads is empty.
    pub(crate) fn check_materialized(&self) -> Result<(), String> {
        for (i, m) in self.segments.materialized.iter().enumerate() {
            let users = self
                .segments
                .registered()
                .filter(|(_, r)| r.leaves.contains(&i))
                .count();
            if usize::try_from(m.users).ok() != Some(users) {
                return Err(format!(
                    "materialized leaf {i}: {} users, expected {users}",
                    m.users
                ));
            }
            if users == 0 {
                if !m.members.is_empty() || self.profile_ids().any(|p| m.due_of(p).is_some()) {
                    return Err(format!("materialized leaf {i}: unused but not empty"));
                }
                continue;
            }
            m.check_queue()
                .map_err(|e| format!("materialized leaf {i}: {e}"))?;
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
