//! De-duplication by message id over a horizon of record time.
//!
//! A record is a duplicate when an accepted record carried the same message id at a time
//! no older than `latest record time − horizon`. Older entries are forgotten; when they are
//! pruned is unobservable, because the rule is checked explicitly.
#![deny(clippy::arithmetic_side_effects)]

use crate::hash::{FastMap, fast_map};
use crate::ids::RecordId;
use crate::time::{MILLIS_PER_DAY, Timestamp};

/// Message ids seen within the horizon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Dedup {
    seen: FastMap<Box<str>, (Timestamp, RecordId)>,
    horizon_ms: i64,
    latest: Option<Timestamp>,
    /// How many held records are at `latest`: an erasure lowers the watermark only when
    /// it takes the last of them.
    at_latest: u64,
    prune_at: usize,
}

impl Dedup {
    /// A de-duplicator that remembers ids for `horizon_days` of record time.
    pub(crate) fn new(horizon_days: u32) -> Self {
        Dedup {
            seen: fast_map(),
            horizon_ms: i64::from(horizon_days).saturating_mul(MILLIS_PER_DAY),
            latest: None,
            at_latest: 0,
            prune_at: 1024,
        }
    }

    fn watermark(&self, at: Timestamp) -> i64 {
        let latest = self.latest.map_or(at, |l| l.max(at));
        latest.as_millis().saturating_sub(self.horizon_ms)
    }

    /// The earlier record with this message id, if it is within the horizon of a record at `at`.
    pub(crate) fn check(&self, message_id: &str, at: Timestamp) -> Option<RecordId> {
        let &(seen_at, record) = self.seen.get(message_id)?;
        (seen_at.as_millis() >= self.watermark(at)).then_some(record)
    }

    /// Notes the time of an accepted record (with or without a message id).
    pub(crate) fn note_time(&mut self, at: Timestamp) {
        match self.latest {
            Some(l) if l > at => {}
            Some(l) if l == at => self.at_latest = self.at_latest.saturating_add(1),
            _ => {
                self.latest = Some(at);
                self.at_latest = 1;
            }
        }
    }

    /// A held record at `at` went away (erased, or taken out to be replayed); returns
    /// whether the watermark must be found again (it was the last one at the latest time).
    pub(crate) fn unnote_time(&mut self, at: Timestamp) -> bool {
        if self.latest == Some(at) {
            self.at_latest = self.at_latest.saturating_sub(1);
            return self.at_latest == 0;
        }
        false
    }

    /// Remembers an accepted record's message id.
    pub(crate) fn insert(&mut self, message_id: &str, at: Timestamp, record: RecordId) {
        self.note_time(at);
        self.seen.insert(message_id.into(), (at, record));
        if self.seen.len() >= self.prune_at {
            let mark = self.watermark(at);
            self.seen.retain(|_, (t, _)| t.as_millis() >= mark);
            self.prune_at = self.seen.len().saturating_mul(2).max(1024);
        }
    }

    /// The ids within the horizon of the latest record, sorted, and the latest time.
    pub(crate) fn entries(&self) -> (Vec<(&str, Timestamp, RecordId)>, Option<Timestamp>) {
        let mark = self
            .latest
            .map_or(i64::MIN, |l| l.as_millis().saturating_sub(self.horizon_ms));
        let mut out: Vec<(&str, Timestamp, RecordId)> = self
            .seen
            .iter()
            .filter(|(_, (t, _))| t.as_millis() >= mark)
            .map(|(m, &(t, r))| (&**m, t, r))
            .collect();
        out.sort_unstable();
        (out, self.latest)
    }

    /// Forgets message id `message_id` if record `record` is the one remembered for it.
    pub(crate) fn forget(&mut self, message_id: &str, record: RecordId) {
        if self.seen.get(message_id).is_some_and(|(_, r)| *r == record) {
            self.seen.remove(message_id);
        }
    }

    /// Remembers an id as it was (for restore), without pruning.
    pub(crate) fn restore(&mut self, message_id: &str, at: Timestamp, record: RecordId) {
        self.seen.insert(message_id.into(), (at, record));
    }

    /// Sets the latest record time and how many held records are at it (for restore and
    /// erasure).
    pub(crate) fn set_latest(&mut self, latest: Option<Timestamp>, at_latest: u64) {
        self.latest = latest;
        self.at_latest = at_latest;
    }

    /// The latest record time and how many records are at it (for checks).
    pub(crate) fn watermark_state(&self) -> (Option<Timestamp>, u64) {
        (self.latest, self.at_latest)
    }

    /// Number of remembered ids.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.seen.len()
    }

    /// Estimated heap bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        let entry = std::mem::size_of::<(Box<str>, (Timestamp, RecordId))>().saturating_add(1);
        let keys = self
            .seen
            .keys()
            .map(|k| k.len())
            .fold(0usize, usize::saturating_add);
        self.seen
            .capacity()
            .saturating_mul(entry)
            .saturating_add(keys)
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // Tests compute on small constants.
mod tests {
    use super::*;

    fn day(d: i64) -> Timestamp {
        Timestamp::from_millis(d * MILLIS_PER_DAY).unwrap()
    }

    #[test]
    fn duplicates_within_the_horizon_only() {
        let mut d = Dedup::new(30);
        d.insert("m1", day(100), RecordId(0));
        assert_eq!(d.check("m1", day(100)), Some(RecordId(0)));
        assert_eq!(d.check("m1", day(130)), Some(RecordId(0)));
        assert_eq!(d.check("m1", day(131)), None);
        assert_eq!(d.check("m2", day(100)), None);
        // A later record moves the watermark for everyone.
        d.insert("m3", day(200), RecordId(1));
        assert_eq!(d.check("m1", day(100)), None);
    }

    #[test]
    fn pruning_is_unobservable() {
        let mut d = Dedup::new(1);
        for i in 0..5000 {
            d.insert(&format!("m{i}"), day(i / 100), RecordId(i as u64));
        }
        assert!(d.len() < 5000);
        assert_eq!(d.check("m4999", day(49)), Some(RecordId(4999)));
        assert_eq!(d.check("m0", day(49)), None);
    }
}
