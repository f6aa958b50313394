//! [`DueQueue`]: profiles waiting for an instant (the next time a computed trait or a
//! materialized condition of theirs can change), each at most once.
//!
//! A reschedule is the hot operation: every record that lands on a profile moves it in
//! several queues. A `BTreeSet<(instant, profile)>` of a million entries costs two
//! cache-missing root-to-leaf walks per move. Here the instant of each profile lives in a
//! flat vector (the truth), and the queue is a small ordered map of coarse buckets (one
//! hour each) holding profile ids, with lazy deletion: a move writes the vector and pushes
//! the id into its new bucket; the old entry goes stale and is skipped when its bucket is
//! taken. Stale entries are dropped whenever they outnumber the scheduled profiles, so
//! memory stays within a small multiple of what is scheduled.
//!
//! A bucket is a list of fixed-size chunks, not one vector: records arriving together
//! land in the same bucket, and a vector of hundreds of thousands of ids, doubled and
//! copied as it grows, would make an occasional record pay for the copy.

use std::collections::BTreeMap;

use crate::ids::ProfileId;
use crate::time::Timestamp;

/// Width of a bucket: one hour.
const BUCKET_MILLIS: i64 = 3_600_000;
/// "Not scheduled" in the instant vector (no valid timestamp is this small).
const NONE: i64 = i64::MIN;
/// Ids per chunk of a bucket.
const CHUNK: usize = 1024;

/// The ids of one bucket, in chunks of at most [`CHUNK`].
#[derive(Clone, Debug, Default)]
struct Bucket(Vec<Vec<u32>>);

impl Bucket {
    fn push(&mut self, id: u32) {
        match self.0.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => chunk.push(id),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(id);
                self.0.push(chunk);
            }
        }
    }

    fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().flatten().copied()
    }

    fn len(&self) -> usize {
        self.0.iter().map(Vec::len).sum()
    }

    /// The bucket of `ids`, sorted and without repeats.
    fn of(mut ids: Vec<u32>) -> Bucket {
        ids.sort_unstable();
        ids.dedup();
        Bucket(ids.chunks(CHUNK).map(<[u32]>::to_vec).collect())
    }

    fn heap_bytes(&self) -> usize {
        self.0.iter().map(|c| c.capacity() * 4 + 24).sum()
    }
}

fn bucket(at: i64) -> i64 {
    at.div_euclid(BUCKET_MILLIS)
}

/// Profiles scheduled at instants; see the module documentation.
#[derive(Clone, Debug, Default)]
pub(crate) struct DueQueue {
    /// By profile id: its instant in milliseconds, or [`NONE`].
    at: Vec<i64>,
    /// Bucket number → profile ids (some stale: their instant moved or was taken).
    buckets: BTreeMap<i64, Bucket>,
    /// Scheduled profiles.
    len: usize,
    /// Entries in all buckets, stale ones included.
    entries: usize,
}

impl PartialEq for DueQueue {
    /// Two queues are equal when they schedule the same profiles at the same instants,
    /// whatever stale entries their buckets hold.
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter_scheduled().eq(other.iter_scheduled())
    }
}

impl Eq for DueQueue {}

impl DueQueue {
    /// The instant `p` is scheduled at.
    pub(crate) fn get(&self, p: ProfileId) -> Option<Timestamp> {
        match self.at.get(p.index()) {
            Some(&t) if t != NONE => Some(Timestamp(t)),
            _ => None,
        }
    }

    /// Number of scheduled profiles.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Schedules `p` at `next`, or takes it out with `None`.
    pub(crate) fn set(&mut self, p: ProfileId, next: Option<Timestamp>) {
        let i = p.index();
        let new = next.map_or(NONE, |t| t.0);
        if self.at.len() <= i {
            if new == NONE {
                return;
            }
            self.at.resize(i + 1, NONE);
        }
        let Some(slot) = self.at.get_mut(i) else {
            return;
        };
        let old = std::mem::replace(slot, new);
        if old == new {
            return;
        }
        match (old == NONE, new == NONE) {
            (true, false) => self.len += 1,
            (false, true) => self.len -= 1,
            _ => {}
        }
        if new != NONE {
            self.buckets.entry(bucket(new)).or_default().push(p.0);
            self.entries += 1;
            if self.entries > 2 * self.len + 4096 {
                self.compact();
            }
        }
    }

    /// Whether bucket `b`'s entry `p` is current (its instant lies in that bucket).
    fn current(&self, b: i64, p: u32) -> Option<i64> {
        let &t = self.at.get(p as usize)?;
        (t != NONE && bucket(t) == b).then_some(t)
    }

    /// Takes every profile due at or before `to`, in id order.
    pub(crate) fn take_until(&mut self, to: Timestamp) -> Vec<ProfileId> {
        let last = bucket(to.0);
        let mut out = Vec::new();
        while let Some(entry) = self.buckets.first_entry() {
            let b = *entry.key();
            if b > last {
                break;
            }
            let ids = entry.remove();
            self.entries -= ids.len();
            let mut kept = Vec::new();
            for p in ids.iter() {
                match self.current(b, p) {
                    Some(t) if t <= to.0 => {
                        if let Some(slot) = self.at.get_mut(p as usize) {
                            *slot = NONE;
                        }
                        self.len -= 1;
                        out.push(ProfileId(p));
                    }
                    Some(_) => kept.push(p),
                    None => {}
                }
            }
            if !kept.is_empty() {
                let kept = Bucket::of(kept);
                self.entries += kept.len();
                self.buckets.insert(b, kept);
                break;
            }
        }
        out.sort_unstable();
        out
    }

    /// The scheduled profiles in (instant, id) order.
    pub(crate) fn iter_scheduled(&self) -> impl Iterator<Item = (Timestamp, ProfileId)> + '_ {
        self.buckets.iter().flat_map(move |(&b, ids)| {
            let mut live: Vec<(Timestamp, ProfileId)> = ids
                .iter()
                .filter_map(|p| Some((Timestamp(self.current(b, p)?), ProfileId(p))))
                .collect();
            live.sort_unstable();
            live.dedup();
            live
        })
    }

    /// Drops every stale entry.
    fn compact(&mut self) {
        let buckets = std::mem::take(&mut self.buckets);
        self.entries = 0;
        for (b, ids) in buckets {
            let ids: Vec<u32> = ids
                .iter()
                .filter(|&p| self.current(b, p).is_some())
                .collect();
            if !ids.is_empty() {
                let ids = Bucket::of(ids);
                self.entries += ids.len();
                self.buckets.insert(b, ids);
            }
        }
    }

    /// Unschedules everyone.
    pub(crate) fn clear(&mut self) {
        *self = DueQueue::default();
    }

    /// Estimated heap bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.at.capacity() * 8
            + self
                .buckets
                .values()
                .map(|v| v.heap_bytes() + 48)
                .sum::<usize>()
    }

    /// Checks that every scheduled profile is findable in its bucket and the counts agree.
    pub(crate) fn internal_validate(&self) -> Result<(), String> {
        let scheduled = self.at.iter().filter(|&&t| t != NONE).count();
        if scheduled != self.len {
            return Err(format!(
                "due queue: {scheduled} scheduled, {} counted",
                self.len
            ));
        }
        if self.iter_scheduled().count() != self.len {
            return Err("due queue: a scheduled profile is missing from its bucket".into());
        }
        let entries: usize = self.buckets.values().map(Bucket::len).sum();
        if entries != self.entries {
            return Err(format!(
                "due queue: {entries} entries, {} counted",
                self.entries
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn takes_what_is_due_and_keeps_the_rest_of_a_bucket() {
        let mut q = DueQueue::default();
        q.set(ProfileId(3), Some(Timestamp(10)));
        q.set(ProfileId(1), Some(Timestamp(20)));
        q.set(ProfileId(2), Some(Timestamp(BUCKET_MILLIS * 5)));
        assert_eq!(q.take_until(Timestamp(15)), vec![ProfileId(3)]);
        assert_eq!(q.get(ProfileId(1)), Some(Timestamp(20)));
        q.set(ProfileId(1), Some(Timestamp(BUCKET_MILLIS * 9)));
        assert_eq!(
            q.take_until(Timestamp(BUCKET_MILLIS * 6)),
            vec![ProfileId(2)]
        );
        assert_eq!(q.len(), 1);
        q.set(ProfileId(1), None);
        assert_eq!(q.take_until(Timestamp(i64::MAX)), Vec::<ProfileId>::new());
        q.internal_validate().unwrap();
    }

    #[test]
    fn many_moves_of_few_profiles_stay_within_a_bounded_number_of_entries() {
        let mut q = DueQueue::default();
        for round in 0..20_000i64 {
            let p = ProfileId(u32::try_from(round % 7).unwrap());
            q.set(p, Some(Timestamp(round * BUCKET_MILLIS)));
        }
        assert!(q.entries <= 2 * q.len + 4097, "{} entries", q.entries);
        q.internal_validate().unwrap();
        assert_eq!(q.take_until(Timestamp(19_992 * BUCKET_MILLIS)).len(), 0);
        assert_eq!(q.take_until(Timestamp(i64::MAX)).len(), 7);
    }

    #[test]
    fn a_bucket_of_many_chunks_keeps_what_is_not_due_yet() {
        // 5,000 profiles in one hour's bucket (five chunks), taken in three steps.
        let mut q = DueQueue::default();
        let mut model = BTreeSet::new();
        for i in 0..5_000u32 {
            let at = i64::from(i.wrapping_mul(7_919) % 3_600) * 1_000;
            q.set(ProfileId(i), Some(Timestamp(at)));
            model.insert((at, i));
        }
        assert!(q.buckets.values().any(|b| b.0.len() > 1));
        for to in [1_000_000, 2_500_000, BUCKET_MILLIS] {
            let due: Vec<ProfileId> = q.take_until(Timestamp(to));
            let mut expected: Vec<ProfileId> = model
                .iter()
                .filter(|&&(at, _)| at <= to)
                .map(|&(_, p)| ProfileId(p))
                .collect();
            expected.sort_unstable();
            model.retain(|&(at, _)| at > to);
            assert_eq!(due, expected);
            assert_eq!(q.len, model.len());
            q.internal_validate().unwrap();
        }
        assert_eq!(q.len, 0);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Set(u32, Option<i64>),
        Take(i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0u32..40, proptest::option::of(0i64..BUCKET_MILLIS * 6)).prop_map(|(p, t)| Op::Set(p, t)),
            1 => (0i64..BUCKET_MILLIS * 6).prop_map(Op::Take),
        ]
    }

    proptest! {
        /// The queue behaves like a `BTreeSet<(instant, profile)>` with one entry per
        /// profile, however often profiles move.
        #[test]
        fn behaves_like_an_ordered_set(ops in proptest::collection::vec(op(), 0..400)) {
            let mut q = DueQueue::default();
            let mut model: BTreeSet<(i64, u32)> = BTreeSet::new();
            for op in ops {
                match op {
                    Op::Set(p, t) => {
                        model.retain(|&(_, x)| x != p);
                        if let Some(t) = t {
                            model.insert((t, p));
                        }
                        q.set(ProfileId(p), t.map(Timestamp));
                    }
                    Op::Take(to) => {
                        let mut expected: Vec<u32> =
                            model.iter().filter(|&&(t, _)| t <= to).map(|&(_, p)| p).collect();
                        model.retain(|&(t, _)| t > to);
                        expected.sort_unstable();
                        let got: Vec<u32> = q.take_until(Timestamp(to)).iter().map(|p| p.0).collect();
                        prop_assert_eq!(got, expected);
                    }
                }
                q.internal_validate().map_err(TestCaseError::fail)?;
                let scheduled: Vec<(i64, u32)> =
                    q.iter_scheduled().map(|(t, p)| (t.0, p.0)).collect();
                prop_assert_eq!(scheduled, model.iter().copied().collect::<Vec<_>>());
                prop_assert_eq!(q.len(), model.len());
            }
        }
    }
}
