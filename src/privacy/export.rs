//! [`ProfileExport`]: everything the engine holds about a person, for access and
//! portability requests (GDPR articles 15 and 20): serde, so the host writes JSON.

use serde::Serialize;

use crate::engine::{MergeEvent, RecordView};
use crate::ids::{ProfileId, RecordId, SegmentId};
use crate::profile::ProfileView;
use crate::rfm::{RfmScore, RfmTrend};
use crate::time::Timestamp;

/// Everything held about one person. See [`crate::Engine::export`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ProfileExport {
    /// The profile: identifiers (with first record and last seen), traits with every
    /// observation and its source and time, records, events, computed values, consent
    /// states and history, suppressions.
    pub profile: ProfileView,
    /// Every id the person had (the live one and those merged into it), ascending.
    pub profile_ids: Vec<ProfileId>,
    /// Each record in full: time, source, message id and every identifier with what
    /// became of it.
    pub records: Vec<RecordView>,
    /// Which records carried each linked identifier, sorted by (kind, value).
    pub identifier_records: Vec<IdentifierRecords>,
    /// Merges that made the person one profile.
    pub merges: Vec<MergeEvent>,
    /// Consent restrictions left by those merges.
    pub consent_restrictions: Vec<RestrictionView>,
    /// Registered segments the person is in, with when they entered.
    pub segments: Vec<Membership>,
    /// RFM, per model: the scores of the latest and the previous run and the trend.
    pub rfm: Vec<RfmExport>,
}

/// The records that carried one linked identifier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IdentifierRecords {
    /// The kind.
    pub kind: String,
    /// The normalized value.
    pub value: String,
    /// The records, ascending.
    pub records: Vec<RecordId>,
}

/// A merge restriction: a purpose denied on a channel from a merge on, until a later
/// statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RestrictionView {
    /// The purpose.
    pub purpose: String,
    /// The channel.
    pub channel: String,
    /// The merging record's time.
    pub at: Timestamp,
    /// The merging record.
    pub record: RecordId,
}

/// Membership of one registered segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Membership {
    /// The segment.
    pub segment: SegmentId,
    /// Its name.
    pub name: String,
    /// When the person entered (for members from the start, the registration time).
    pub entered_at: Timestamp,
}

/// One RFM model's view of the person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RfmExport {
    /// The model.
    pub model: String,
    /// The score in the latest run.
    pub latest: Option<RfmScore>,
    /// The score in the previous run.
    pub previous: Option<RfmScore>,
    /// The trend between the two.
    pub trend: Option<RfmTrend>,
    /// The named RFM segment the person is in, if any.
    pub label: Option<String>,
}
