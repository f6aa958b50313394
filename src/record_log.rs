//! The record log: per accepted record, its source, time, message id, the profile it
//! attached to, and its *full* set of identifiers, including those dropped from linking.
//!
//! Every observation, event, consent statement and identity link carries the
//! [`RecordId`] of its record, so exact unmerge, erasure receipts and provenance can be
//! answered from here.

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::error::DropReason;
use crate::ids::{IdentId, ProfileId, RecordId, SourceId};
use crate::time::Timestamp;

/// What became of one identifier of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkStatus {
    /// Used for linking.
    Linked,
    /// Not used for linking, for this reason.
    Dropped(DropReason),
}

/// One identifier of a logged record: interned (the raw value when it did not normalize).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LoggedIdentifier {
    pub(crate) ident: IdentId,
    pub(crate) status: LinkStatus,
}

/// One accepted record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LoggedRecord {
    pub(crate) at: Timestamp,
    pub(crate) source: SourceId,
    pub(crate) message_id: Option<Box<str>>,
    pub(crate) identifiers: SmallVec<[LoggedIdentifier; 3]>,
    /// The profile it attached to when it arrived (follow retired ids to the live one).
    pub(crate) profile: ProfileId,
    /// The next record of the same profile ([`NO_RECORD`] at the end of its list).
    pub(crate) next: u64,
}

/// End of a profile's record list.
pub(crate) const NO_RECORD: u64 = u64::MAX;

/// The `profile` of an erased record's slot.
const ERASED: ProfileId = ProfileId(u32::MAX);

impl LoggedRecord {
    fn erased() -> Self {
        LoggedRecord {
            at: Timestamp::MIN,
            source: SourceId(0),
            message_id: None,
            identifiers: SmallVec::new(),
            profile: ERASED,
            next: NO_RECORD,
        }
    }

    fn is_erased(&self) -> bool {
        self.profile == ERASED
    }
}

/// A profile's records, as a list threaded through the log: adding a record writes only
/// the new log entry and the profile, and a merge joins two lists in O(1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecordList {
    head: u64,
    tail: u64,
    len: u32,
}

impl Default for RecordList {
    fn default() -> Self {
        RecordList {
            head: NO_RECORD,
            tail: NO_RECORD,
            len: 0,
        }
    }
}

impl RecordList {
    /// Number of records.
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    /// Puts `id` (already in the log) at the front.
    pub(crate) fn prepend(&mut self, log: &mut RecordLog, id: RecordId) {
        if let Some(r) = log.get_mut(id) {
            r.next = self.head;
        }
        if self.tail == NO_RECORD {
            self.tail = id.0;
        }
        self.head = id.0;
        self.len = self.len.saturating_add(1);
    }

    /// Moves every record of `other` into this list.
    pub(crate) fn join(&mut self, log: &mut RecordLog, other: RecordList) {
        if other.head == NO_RECORD {
            return;
        }
        if let Some(r) = log.get_mut(RecordId(other.tail)) {
            r.next = self.head;
        }
        if self.tail == NO_RECORD {
            self.tail = other.tail;
        }
        self.head = other.head;
        self.len = self.len.saturating_add(other.len);
    }

    /// The records, newest-linked first (at most `len` steps, whatever the log holds).
    pub(crate) fn iter<'a>(&self, log: &'a RecordLog) -> impl Iterator<Item = RecordId> + 'a {
        let mut at = self.head;
        (0..self.len).map_while(move |_| {
            let id = RecordId(at);
            at = log.get(id)?.next;
            Some(id)
        })
    }

    /// The records, ascending.
    pub(crate) fn sorted(&self, log: &RecordLog) -> Vec<RecordId> {
        let mut ids: Vec<RecordId> = self.iter(log).collect();
        ids.sort_unstable();
        ids
    }
}

/// All accepted records, by id; an erased record leaves an empty slot (ids are never
/// reused).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RecordLog {
    records: Vec<LoggedRecord>,
    erased: usize,
}

impl RecordLog {
    /// The id the next appended record gets.
    pub(crate) fn next_id(&self) -> RecordId {
        RecordId(self.records.len() as u64)
    }

    /// Appends a record.
    pub(crate) fn push(&mut self, record: LoggedRecord) -> RecordId {
        let id = self.next_id();
        self.records.push(record);
        id
    }

    /// Puts `record` in slot `id` (an erased slot, or the end; for restore and replay).
    pub(crate) fn put(&mut self, id: RecordId, record: LoggedRecord) {
        let Ok(i) = usize::try_from(id.0) else {
            return;
        };
        while self.records.len() <= i {
            self.records.push(LoggedRecord::erased());
            self.erased += 1;
        }
        if let Some(slot) = self.records.get_mut(i) {
            if slot.is_erased() {
                self.erased -= 1;
            }
            *slot = record;
            if slot.is_erased() {
                self.erased += 1;
            }
        }
    }

    /// Erases record `id`, returning what it held.
    pub(crate) fn erase(&mut self, id: RecordId) -> Option<LoggedRecord> {
        let slot = usize::try_from(id.0)
            .ok()
            .and_then(|i| self.records.get_mut(i))?;
        if slot.is_erased() {
            return None;
        }
        self.erased += 1;
        Some(std::mem::replace(slot, LoggedRecord::erased()))
    }

    /// A record by id (`None` for an erased one).
    pub(crate) fn get(&self, id: RecordId) -> Option<&LoggedRecord> {
        usize::try_from(id.0)
            .ok()
            .and_then(|i| self.records.get(i))
            .filter(|r| !r.is_erased())
    }

    /// A record by id, mutably.
    pub(crate) fn get_mut(&mut self, id: RecordId) -> Option<&mut LoggedRecord> {
        usize::try_from(id.0)
            .ok()
            .and_then(|i| self.records.get_mut(i))
            .filter(|r| !r.is_erased())
    }

    /// Number of record ids handed out (erased ones included).
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    /// Number of records held (not erased).
    pub(crate) fn held(&self) -> usize {
        self.records.len() - self.erased
    }

    /// Records held, with their ids, in arrival order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (RecordId, &LoggedRecord)> {
        self.records
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.is_erased())
            .map(|(i, r)| (RecordId(i as u64), r))
    }

    /// Estimated heap bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        let mut bytes = self.records.capacity() * std::mem::size_of::<LoggedRecord>();
        for r in &self.records {
            bytes += r.message_id.as_ref().map_or(0, |m| m.len());
            if r.identifiers.spilled() {
                bytes += r.identifiers.capacity() * std::mem::size_of::<LoggedIdentifier>();
            }
        }
        bytes
    }
}
