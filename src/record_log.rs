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
}

/// All accepted records, by id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RecordLog {
    records: Vec<LoggedRecord>,
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

    /// A record by id.
    pub(crate) fn get(&self, id: RecordId) -> Option<&LoggedRecord> {
        usize::try_from(id.0).ok().and_then(|i| self.records.get(i))
    }

    /// Number of records.
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    /// Records with their ids, in arrival order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (RecordId, &LoggedRecord)> {
        self.records
            .iter()
            .enumerate()
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
