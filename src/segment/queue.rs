//! [`ChangeQueue`]: the entries and exits waiting for the host, compact.
//!
//! One record or call queues many changes with one cause (an RFM run moves hundreds of
//! thousands of profiles; a record, a few), so the queue keeps each cause once and each
//! change as 24 bytes (segment, profile, direction, time, cause index) instead of a
//! whole [`SegmentChange`] of 104 bytes with its cause cloned into it. Fewer bytes per
//! change is fewer fresh pages a record touches (on this machine a first touch of a page
//! costs a record about 20 µs) and a smaller copy when the queue grows. Changes become
//! [`SegmentChange`]s when the host reads them.

use crate::ids::{ProfileId, SegmentId};
use crate::realtime::{Cause, Change, SegmentChange};
use crate::time::Timestamp;

/// Up to this many changes' room is kept by a drain.
const KEEP: usize = 1024;

/// One queued change, its cause by position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Queued {
    at: Timestamp,
    segment: u32,
    profile: u32,
    cause: u32,
    entered: bool,
}

/// The queue; see the module documentation.
#[derive(Clone, Debug, Default)]
pub(crate) struct ChangeQueue {
    changes: Vec<Queued>,
    /// Distinct causes in order of first use (consecutive repeats kept once).
    causes: Vec<Cause>,
}

impl ChangeQueue {
    /// How many changes are queued.
    pub(crate) fn len(&self) -> usize {
        self.changes.len()
    }

    /// Queues `change`.
    pub(crate) fn push(&mut self, change: SegmentChange) {
        if self.causes.last() != Some(&change.cause) {
            self.causes.push(change.cause);
        }
        let cause = u32::try_from(self.causes.len().saturating_sub(1)).unwrap_or(u32::MAX);
        self.changes.push(Queued {
            at: change.at,
            segment: change.segment.0,
            profile: change.profile.0,
            cause,
            entered: change.change == Change::Entered,
        });
    }

    /// Queues every change of `changes`, in order.
    pub(crate) fn extend(&mut self, changes: impl IntoIterator<Item = SegmentChange>) {
        for c in changes {
            self.push(c);
        }
    }

    /// The change `q` stands for.
    fn change(&self, q: &Queued) -> SegmentChange {
        SegmentChange {
            segment: SegmentId(q.segment),
            profile: ProfileId(q.profile),
            change: if q.entered {
                Change::Entered
            } else {
                Change::Exited
            },
            at: q.at,
            cause: self
                .causes
                .get(q.cause as usize)
                .cloned()
                .unwrap_or(Cause::SchemaChange),
        }
    }

    /// The changes from position `from` on, in order.
    pub(crate) fn since(&self, from: usize) -> impl Iterator<Item = SegmentChange> + '_ {
        self.changes
            .get(from..)
            .unwrap_or_default()
            .iter()
            .map(|q| self.change(q))
    }

    /// The profiles of the changes from position `from` on.
    pub(crate) fn profiles_since(&self, from: usize) -> impl Iterator<Item = ProfileId> + '_ {
        self.changes
            .get(from..)
            .unwrap_or_default()
            .iter()
            .map(|q| ProfileId(q.profile))
    }

    /// Every queued change, in order.
    pub(crate) fn to_vec(&self) -> Vec<SegmentChange> {
        self.since(0).collect()
    }

    /// Every queued change, in order, leaving the queue empty (its room kept when
    /// small, so a host draining after every record does not reallocate it each time).
    pub(crate) fn take(&mut self) -> Vec<SegmentChange> {
        let out = self.to_vec();
        if self.changes.capacity() > KEEP {
            *self = ChangeQueue::default();
        } else {
            self.changes.clear();
            self.causes.clear();
        }
        out
    }

    /// Keeps only the first `n` changes.
    pub(crate) fn truncate(&mut self, n: usize) {
        self.changes.truncate(n);
        let used = self.changes.iter().map(|q| q.cause as usize + 1).max();
        self.causes.truncate(used.unwrap_or(0));
    }

    /// Orders the changes from position `from` on by (segment, profile).
    pub(crate) fn sort_since(&mut self, from: usize) {
        if let Some(tail) = self.changes.get_mut(from..) {
            tail.sort_by_key(|q| (q.segment, q.profile));
        }
    }

    /// Heap bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.changes.capacity() * std::mem::size_of::<Queued>()
            + self.causes.capacity() * std::mem::size_of::<Cause>()
    }
}

/// Equal when they give back the same changes (the cause tables may differ).
impl PartialEq for ChangeQueue {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.since(0).eq(other.since(0))
    }
}

impl Eq for ChangeQueue {}

impl From<Vec<SegmentChange>> for ChangeQueue {
    fn from(changes: Vec<SegmentChange>) -> Self {
        let mut q = ChangeQueue::default();
        q.extend(changes);
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RecordId;
    use proptest::prelude::*;

    fn change(segment: u32, profile: u32, entered: bool, cause: u8) -> SegmentChange {
        SegmentChange {
            segment: SegmentId(segment),
            profile: ProfileId(profile),
            change: if entered {
                Change::Entered
            } else {
                Change::Exited
            },
            at: Timestamp(i64::from(profile) * 1000),
            cause: match cause {
                0 => Cause::Record(RecordId(u64::from(segment))),
                1 => Cause::Retention,
                _ => Cause::Repair {
                    kind: "email".into(),
                    value: format!("v{segment}"),
                },
            },
        }
    }

    #[test]
    fn a_queued_change_takes_24_bytes_and_a_shared_cause_is_kept_once() {
        assert_eq!(std::mem::size_of::<Queued>(), 24);
        let mut q = ChangeQueue::default();
        q.extend((0..2000).map(|p| change(1, p, true, 2)));
        assert_eq!((q.len(), q.causes.len()), (2000, 1));
        assert_eq!(q.take().len(), 2000);
        assert_eq!(q.heap_bytes(), 0, "a large queue's room is given back");
        q.push(change(1, 1, true, 0));
        assert_eq!(q.take().len(), 1);
        assert!(q.heap_bytes() > 0, "a small queue's room is kept");
    }

    proptest! {
        /// The queue gives back exactly what a vector of changes would, through pushes,
        /// truncations and sorted tails.
        #[test]
        fn behaves_like_a_vector_of_changes(
            ops in proptest::collection::vec((0u32..4, 0u32..6, any::<bool>(), 0u8..3, 0u8..10), 0..200),
        ) {
            let mut q = ChangeQueue::default();
            let mut model: Vec<SegmentChange> = Vec::new();
            let mut pushes = 0;
            for (segment, profile, entered, cause, op) in ops {
                match op {
                    0 => {
                        let n = model.len() / 2;
                        q.truncate(n);
                        model.truncate(n);
                    }
                    1 => {
                        let from = model.len() / 3;
                        q.sort_since(from);
                        if let Some(tail) = model.get_mut(from..) {
                            tail.sort_by_key(|c| (c.segment, c.profile));
                        }
                    }
                    _ => {
                        let c = change(segment, profile, entered, cause);
                        q.push(c.clone());
                        model.push(c);
                        pushes += 1;
                    }
                }
                prop_assert_eq!(q.len(), model.len());
            }
            prop_assert!(q.causes.len() <= pushes);
            prop_assert_eq!(q.to_vec(), model.clone());
            prop_assert_eq!(ChangeQueue::from(model.clone()).to_vec(), model.clone());
            prop_assert_eq!(q.take(), model);
            prop_assert_eq!(q.len(), 0);
        }
    }
}
