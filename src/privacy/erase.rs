//! What [`crate::Engine::erase`] takes and hands back.

use serde::{Deserialize, Serialize};

use crate::ids::{ProfileId, RecordId};

/// Who to erase: a profile (any id it ever had), or the person holding an identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject<'a> {
    /// The profile `id` resolves to.
    Profile(ProfileId),
    /// The profile holding identifier `(kind, value)` (normalized first).
    Identifier {
        /// The identifier kind.
        kind: &'a str,
        /// Its value.
        value: &'a str,
    },
}

impl From<ProfileId> for Subject<'_> {
    fn from(id: ProfileId) -> Self {
        Subject::Profile(id)
    }
}

/// Options of [`crate::Engine::erase`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ErasureOptions {
    /// Keep a keyed hash (HMAC-SHA-256 under the key of
    /// [`crate::Engine::set_erasure_key`]) of each of the person's identifiers, so a
    /// later record carrying one is refused with [`crate::IngestError::Erased`] unless
    /// the host passes [`crate::IngestOptions::allow_erased`].
    pub suppress: bool,
}

/// What an erasure removed, so the host can purge its own copies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErasureReceipt {
    /// The live profile that was erased.
    pub profile: ProfileId,
    /// Every id the person had (the live one and those merged into it), ascending.
    pub profile_ids: Vec<ProfileId>,
    /// The person's records, ascending: they are gone from the record log.
    pub records: Vec<RecordId>,
    /// Linked identifiers removed.
    pub identifiers: usize,
    /// Trait observations removed.
    pub observations: usize,
    /// Events removed.
    pub events: usize,
    /// Consent statements removed.
    pub consent_statements: usize,
    /// Suppressions removed (the profile's own and those of its identifiers).
    pub suppressions: usize,
    /// Registered segments the person exited.
    pub segment_exits: usize,
    /// Scores removed from stored RFM runs.
    pub rfm_scores: usize,
    /// Message ids forgotten by de-duplication.
    pub message_ids: usize,
    /// Keyed hashes kept to refuse the identifiers from now on.
    pub suppressed_hashes: usize,
    /// Other profiles rebuilt from their records, because one of their records had not
    /// linked an identifier of the person (a limit) and now does; the ids they have now.
    pub rebuilt: Vec<ProfileId>,
    /// Records of those profiles that an engine never fed the person would have refused
    /// (a sum that now overflows): they are gone too.
    pub refused: Vec<RecordId>,
}
