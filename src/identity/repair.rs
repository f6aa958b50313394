//! What identity repair takes and hands back: the provenance of a profile
//! ([`IdentityExplanation`]), and the outcome of undoing links ([`RepairReport`]).

use serde::{Deserialize, Serialize};

use crate::ids::{ProfileId, RecordId};
use crate::time::Timestamp;

/// Where an identifier was first seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstSeen {
    /// The record.
    pub record: RecordId,
    /// Its time.
    pub at: Timestamp,
    /// Its source.
    pub source: String,
    /// Its message id.
    pub message_id: Option<String>,
}

/// One identifier that holds a profile together.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkExplanation {
    /// The kind.
    pub kind: String,
    /// The normalized value.
    pub value: String,
    /// The first record that carried it.
    pub first_seen: FirstSeen,
    /// How many of the profile's records linked it.
    pub records: usize,
}

/// One merge that made the profile what it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeExplanation {
    /// The profile that remained.
    pub survivor: ProfileId,
    /// The profile merged into it.
    pub retired: ProfileId,
    /// The record that linked them.
    pub record: FirstSeen,
    /// The kind of the identifier they shared.
    pub kind: String,
    /// Its value.
    pub value: String,
    /// Where that identifier was first seen.
    pub first_seen: FirstSeen,
    /// The merge in words: "p3 was merged into p1 because both used email
    /// ann@example.com, first seen from crm at …".
    pub because: String,
}

/// Why a profile is one profile: its links and its merges, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityExplanation {
    /// The live profile.
    pub profile: ProfileId,
    /// Its linked identifiers, sorted by (kind, value).
    pub links: Vec<LinkExplanation>,
    /// The merges into it, in the order they happened.
    pub merges: Vec<MergeExplanation>,
}

/// What undoing links did. See [`crate::Engine::block_identifier_value`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RepairReport {
    /// The identifier kind of the value that no longer links.
    pub kind: String,
    /// The value.
    pub value: String,
    /// The profiles rebuilt, as they were.
    pub before: Vec<ProfileId>,
    /// The profiles their records form now.
    pub after: Vec<ProfileId>,
    /// Records that an engine that had the value blocked from the start would have
    /// refused (a sum that now overflows): they are gone.
    pub refused: Vec<RecordId>,
}

/// One split, as logged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitEvent {
    /// The identifier kind of the value that no longer links.
    pub kind: String,
    /// The value.
    pub value: String,
    /// The profiles before.
    pub before: Vec<ProfileId>,
    /// The profiles after.
    pub after: Vec<ProfileId>,
    /// The engine clock when it happened (`None`: unset).
    pub at: Option<Timestamp>,
}
