//! [`Snapshot`]: the whole state of an engine as a versioned serde value with a checksum,
//! and its validated restore.
//!
//! A snapshot holds what cannot be derived — the schema, the settings, the clock, the
//! record log, the identifiers, every profile's identifiers, records, observations,
//! events, consent history and suppressions, the merge log, the de-duplication window,
//! the stored RFM runs, the registered segments (by expression) and the queued changes,
//! the identifier suppressions and the erasure hashes. Everything derived (current trait
//! values, computed traits, RFM tallies, every index and bitmap, segment members) is
//! rebuilt on [`crate::Engine::restore`], never trusted.
//!
//! The form is canonical: identifiers sorted by (kind, value) and texts sorted, each
//! referenced by position; a profile's observations sorted by (record, value); ids by
//! slot, erased slots kept as empty markers so memory stays in proportion to the
//! snapshot's size. Restore then snapshot gives back the identical snapshot.
//!
//! The checksum is xxHash64 (seed 0) of the postcard encoding of [`Snapshot::state`], so
//! it is the same whatever format the host stores the snapshot in (JSON, postcard,
//! bincode). It guards against corruption, not against a forger: restore validates
//! every reference anyway.
//!
//! Older snapshots restore: deserializing a [`Snapshot`] reads every earlier format
//! version, checks it against its own version's checksum, and migrates it (the table is
//! in `src/snapshot/migrate.rs`; version 1 gains "no retention" on every event kind).
//! Tested on fixtures the older code wrote (`tests/data/snapshot/`).
//!
//! Keeping backups honest: a snapshot taken before an erasure still holds the person.
//! Restore it, then re-apply the erasures made since — the host keeps each
//! `ErasureReceipt` (the record ids) and the suppression hashes make a replayed
//! identifier refuse itself — before the restored engine takes new records.

mod carry;
mod digest;
mod migrate;
mod restore;
mod write;

use serde::{Deserialize, Serialize};

use crate::engine::EngineConfig;
use crate::money::Money;
use crate::realtime::SegmentChange;
use crate::record::Value;
use crate::record_log::LinkStatus;
use crate::rfm::RfmRun;
use crate::schema::SchemaDef;
use crate::segment::Expr;
use crate::time::Timestamp;

pub(crate) use carry::{carry, keeps_computed};
pub(crate) use restore::Computed;
pub use restore::RestoreError;

/// The version of the snapshot format this crate writes and reads.
pub const SNAPSHOT_VERSION: u32 = 4;

/// An engine's whole state, versioned and checksummed. See the [module](self)
/// documentation.
///
/// Deserializing reads snapshots of every earlier format version too: `version` first,
/// then `state` as that version wrote it, checked against that version's checksum and
/// migrated, so a decoded snapshot is always of [`SNAPSHOT_VERSION`]. A snapshot from a
/// newer version, or a map with `state` before `version`, is a decoding error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// The format version ([`SNAPSHOT_VERSION`]; older ones are migrated when decoded).
    pub version: u32,
    /// xxHash64 of the postcard encoding of `state`.
    pub checksum: u64,
    /// The state.
    pub state: State,
}

impl Snapshot {
    /// The checksum `state` should carry.
    pub fn checksum_of(state: &State) -> u64 {
        digest::checksum(state)
    }
}

/// Everything an engine holds that cannot be derived. Ids are positions: a record's in
/// `records`, a profile's in `profiles`, an identifier's in `identifiers`, a text's in
/// `texts`, a kind's, trait's, source's, event kind's, purpose's or channel's in the
/// schema's lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// The schema's definitions.
    pub schema: SchemaDef,
    /// The settings.
    pub config: EngineConfig,
    /// The clock.
    pub clock: Option<Timestamp>,
    /// The record log by record id (`None`: erased).
    pub records: Vec<Option<RecordEntry>>,
    /// Every identifier still referenced, sorted by (kind, value).
    pub identifiers: Vec<IdentifierEntry>,
    /// Every event property text still referenced, sorted.
    pub texts: Vec<String>,
    /// Profiles by id.
    pub profiles: Vec<ProfileSlot>,
    /// All events of all live profiles, in profile id order, as columns.
    pub events: EventColumns,
    /// The merge log, in order.
    pub merges: Vec<MergeEntry>,
    /// How many merges the host has drained.
    pub merges_drained: u64,
    /// Message ids within the de-duplication window, sorted.
    pub dedup: Vec<DedupEntry>,
    /// The latest record time seen (the de-duplication watermark).
    pub dedup_latest: Option<Timestamp>,
    /// Per RFM model, in schema order: the latest and the previous run.
    pub rfm_runs: Vec<[Option<RfmRun>; 2]>,
    /// Registered segments by id (`None`: unregistered).
    pub segments: Vec<Option<SegmentEntry>>,
    /// Changes queued and not drained.
    pub changes: Vec<SegmentChange>,
    /// Identifier suppressions, sorted by (kind, value).
    pub identifier_suppressions: Vec<IdentifierSuppressionEntry>,
    /// Keyed hashes of erased identifiers, sorted.
    pub erased_hashes: Vec<[u8; 32]>,
    /// Identifier values blocked at run time: (kind, normalized value), sorted.
    pub blocked: Vec<(u16, String)>,
    /// Ids whose records went to several profiles, with those profiles, sorted.
    pub splits: Vec<(u32, Vec<u32>)>,
    /// The split log, in order.
    pub split_log: Vec<SplitLogEntry>,
}

/// One split of the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitLogEntry {
    /// The identifier kind of the value that no longer links.
    pub kind: u16,
    /// The value.
    pub value: String,
    /// The profiles before.
    pub before: Vec<u32>,
    /// The profiles after.
    pub after: Vec<u32>,
    /// The engine clock then.
    pub at: Option<Timestamp>,
}

/// One record of the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordEntry {
    /// Its time.
    pub at: Timestamp,
    /// Its source.
    pub source: u16,
    /// Its message id.
    pub message_id: Option<String>,
    /// Its identifiers in input order: position in [`State::identifiers`] and what became
    /// of each.
    pub identifiers: Vec<(u32, LinkStatus)>,
    /// The profile it attached to when it arrived.
    pub profile: u32,
}

/// One identifier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifierEntry {
    /// Its kind.
    pub kind: u16,
    /// Its normalized value (or the raw value of one that did not normalize).
    pub value: String,
    /// The first record that carried it.
    pub first_record: u64,
    /// The live profile that holds it.
    pub owner: Option<u32>,
}

/// A profile id's slot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileSlot {
    /// A live profile.
    Live(ProfileEntry),
    /// Merged into this profile.
    Retired(u32),
    /// Erased.
    Erased,
}

/// What a live profile holds (its events are in [`State::events`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileEntry {
    /// Linked identifiers (positions in [`State::identifiers`], ascending) with the time
    /// each was last seen.
    pub identifiers: Vec<(u32, Timestamp)>,
    /// Its records, ascending.
    pub records: Vec<u64>,
    /// Its traits by id, each with its observations sorted by (record, value).
    pub traits: Vec<TraitEntry>,
    /// How many events of [`State::events`] are its own.
    pub events: u32,
    /// Consent statements in history order.
    pub consent: Vec<StatementEntry>,
    /// Merge restrictions in order.
    pub restrictions: Vec<RestrictionEntry>,
    /// Whole-profile suppressions, sorted.
    pub suppressions: Vec<SuppressionEntry>,
    /// The state of each computed trait, in schema order (empty before the first event):
    /// carried rather than recomputed, so restore does not pass over every event once per
    /// computed trait. Restore checks its shape against the rules and the events.
    pub computed: Vec<ComputedEntry>,
    /// The next instant a computed trait of the profile can change as time passes.
    pub due: Option<Timestamp>,
}

/// The state of one computed trait of one profile, over the events in its window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComputedEntry {
    /// A count.
    Count(u64),
    /// A sum: its total, how many amounts, and the absolute total of every amount that
    /// feeds it, in or out of the window (the overflow bound).
    Sum {
        /// The total.
        total: i64,
        /// How many amounts.
        count: u32,
        /// The overflow bound.
        magnitude: u64,
    },
    /// A minimum or maximum.
    Extreme(Option<i64>),
    /// The chosen event (first or last): (time in ms, record, position).
    Pick(Option<(i64, u64, u32)>),
    /// Values and how many events carry each, sorted by value (a text by its position
    /// in [`State::texts`], a kind by its position in the schema).
    Tally(Vec<(i64, u32)>),
    /// Events by part of day: night, morning, afternoon, evening.
    Habit([u32; 4]),
}

/// One trait of a profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraitEntry {
    /// The trait.
    pub id: u16,
    /// Its observations.
    pub observations: Vec<ObservationEntry>,
}

/// One observation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservationEntry {
    /// The value.
    pub value: Value,
    /// The source.
    pub source: u16,
    /// The record's time.
    pub at: Timestamp,
    /// The record.
    pub record: u64,
}

/// Events as columns, profile after profile, each profile's in (time, record, position)
/// order; properties likewise, event after event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventColumns {
    /// Times (ms).
    pub at: Vec<i64>,
    /// Records.
    pub record: Vec<u64>,
    /// Positions among the record's events.
    pub seq: Vec<u32>,
    /// Kinds.
    pub kind: Vec<u16>,
    /// Number of properties of each event.
    pub properties: Vec<u8>,
    /// Property positions in the kind's definition.
    pub property_position: Vec<u16>,
    /// Property values.
    pub property_value: Vec<PropertyEntry>,
}

/// A stored property value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PropertyEntry {
    /// A text, by position in [`State::texts`].
    Text(u32),
    /// An integer.
    Integer(i64),
    /// An amount.
    Money(Money),
    /// A boolean.
    Boolean(bool),
}

/// One consent statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementEntry {
    /// When.
    pub at: Timestamp,
    /// The record.
    pub record: u64,
    /// The source.
    pub source: u16,
    /// The purpose.
    pub purpose: u16,
    /// The channel (`None`: every channel).
    pub channel: Option<u16>,
    /// Granted or denied.
    pub granted: bool,
    /// Proof.
    pub proof: Option<String>,
}

/// One merge restriction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestrictionEntry {
    /// The merging record's time.
    pub at: Timestamp,
    /// The merging record.
    pub record: u64,
    /// The purpose.
    pub purpose: u16,
    /// The channel.
    pub channel: u16,
}

/// One suppression.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuppressionEntry {
    /// The channel (`None`: every channel).
    pub channel: Option<u16>,
    /// When.
    pub at: Timestamp,
    /// Why.
    pub reason: String,
    /// For a whole-profile suppression, the profile's latest record when it was made.
    pub anchor: Option<u64>,
}

/// The suppressions of one identifier (which need not be in [`State::identifiers`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifierSuppressionEntry {
    /// The kind.
    pub kind: u16,
    /// The normalized value.
    pub value: String,
    /// Its suppressions, sorted.
    pub suppressions: Vec<SuppressionEntry>,
}

/// One merge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeEntry {
    /// The profile that remained.
    pub survivor: u32,
    /// The profile retired into it.
    pub retired: u32,
    /// The record that caused it.
    pub record: u64,
    /// The identifier that caused it (position in [`State::identifiers`]).
    pub cause: u32,
}

/// One remembered message id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DedupEntry {
    /// The message id.
    pub message_id: String,
    /// Its record's time.
    pub at: Timestamp,
    /// Its record.
    pub record: u64,
}

/// One registered segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentEntry {
    /// Its name.
    pub name: String,
    /// Its expression.
    pub expr: Expr,
    /// When it was registered: the entry time of members in from the start.
    pub registered_at: Timestamp,
    /// Entry times of members that entered later, by profile id, ascending.
    pub entered: Vec<(u32, Timestamp)>,
}
