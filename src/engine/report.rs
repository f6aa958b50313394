//! What the engine hands back: ingest reports, merge events and record views.

use serde::{Deserialize, Serialize};

use crate::error::DropReason;
use crate::ids::{ProfileId, RecordId};
use crate::record_log::LinkStatus;
use crate::time::Timestamp;

/// An identifier of a record that was not used for linking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DroppedIdentifier {
    /// Position in the record's identifier list.
    pub index: usize,
    /// The kind's name.
    pub kind: String,
    /// The normalized value (the raw value when it did not normalize).
    pub value: String,
    /// Why it was dropped.
    pub reason: DropReason,
    /// For [`DropReason::Limit`]: the kind whose per-profile limit it would break.
    pub limit_kind: Option<String>,
}

/// What one `ingest` did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestReport {
    /// The id given to the record; `None` for a duplicate, which changes nothing.
    pub record: Option<RecordId>,
    /// The live profile the record belongs to.
    pub profile: ProfileId,
    /// Whether the record created that profile.
    pub created: bool,
    /// Profiles retired into `profile` by this record, ascending.
    pub merged: Vec<ProfileId>,
    /// Identifiers not used for linking, with reasons.
    pub dropped: Vec<DroppedIdentifier>,
    /// Events of the record already past their kind's retention at the clock: validated,
    /// then not kept (as if the record had not carried them).
    #[serde(default)]
    pub expired_events: usize,
    /// For a duplicate: the earlier record with the same message id.
    pub duplicate_of: Option<RecordId>,
}

/// One merge of two profiles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeEvent {
    /// The profile that remains (the lower id).
    pub survivor: ProfileId,
    /// The profile retired into it.
    pub retired: ProfileId,
    /// The record that caused the merge.
    pub record: RecordId,
    /// The kind of the identifier that reached the retired profile.
    pub kind: String,
    /// Its normalized value.
    pub value: String,
}

/// One identifier of a logged record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedIdentifierView {
    /// The kind's name.
    pub kind: String,
    /// The normalized value (the raw value when it did not normalize).
    pub value: String,
    /// Whether it was used for linking.
    pub status: LinkStatus,
}

/// What the record log holds about one record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordView {
    /// The record's id.
    pub id: RecordId,
    /// Its time.
    pub at: Timestamp,
    /// Its source's name.
    pub source: String,
    /// Its message id.
    pub message_id: Option<String>,
    /// All its identifiers, including those dropped from linking.
    pub identifiers: Vec<LoggedIdentifierView>,
    /// The live profile it belongs to now.
    pub profile: ProfileId,
}
