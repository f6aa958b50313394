//! [`Engine`]: the one entry point. It owns the schema, the clock, the record log, the
//! identity graph and the profile store, and delegates to the modules behind them.

mod activate;
mod check;
mod computed;
mod deadline;
mod erase;
mod evolve;
mod export;
mod ingest;
mod ingest_events;
mod materialize;
mod paging;
mod privacy;
mod realtime;
mod rectify;
mod repair;
mod replay;
mod report;
mod retention;
mod rfm;
mod segments;
mod stats;

pub use evolve::{SchemaChange, SchemaItem};
pub use ingest::IngestOptions;
pub use paging::{MAX_PAGE_LIMIT, Page};
pub use rectify::{RecordCorrection, Rectification};
pub(crate) use repair::SplitEntry;
pub use report::{DroppedIdentifier, IngestReport, LoggedIdentifierView, MergeEvent, RecordView};
pub use retention::RetentionReceipt;
pub use segments::Overlap;
pub use stats::{MemoryStats, SegmentStats, Stats};

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::dedup::Dedup;
use crate::error::LookupError;
use crate::event::text::TextPool;
use crate::identity::IdentityGraph;
use crate::ids::{IdentId, ProfileId, RecordId};
use crate::profile::{ProfileStore, ProfileView, Slot};
use crate::record_log::RecordLog;
use crate::schema::Schema;
use crate::time::{Clock, Timestamp};

/// Limits that make abusive input a typed error, and other engine settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Days of record time a message id is remembered for de-duplication (default 30).
    pub duplicate_horizon_days: u32,
    /// Most identifiers on one record (default 64).
    pub max_identifiers_per_record: usize,
    /// Most trait observations on one record (default 256).
    pub max_traits_per_record: usize,
    /// Longest text, identifier value or message id, in bytes (default 4,096).
    pub max_text_bytes: usize,
    /// Most elements in one text-set value (default 1,024).
    pub max_set_len: usize,
    /// Most events on one record (default 65,536).
    pub max_events_per_record: usize,
    /// Most properties on one event (default 64).
    pub max_properties_per_event: usize,
    /// Most consent statements on one record (default 64).
    pub max_consent_per_record: usize,
    /// How far past the clock an event may lie, in seconds (default one day); `None`
    /// accepts any time. Not checked while the clock is unset.
    pub future_tolerance_secs: Option<u64>,
    /// Whether `advance_time` drops events past their kind's retention (default `true`).
    /// With `false` they stay until [`Engine::apply_retention`], whose receipt then lists
    /// every profile and record that lost events.
    #[serde(default = "yes")]
    pub retention_on_advance: bool,
    /// Deepest nesting of a segment expression (default 64).
    #[serde(default = "default_expr_depth")]
    pub max_expr_depth: usize,
    /// Most nodes of a segment expression: conditions plus the values of `in` lists
    /// (default 10,000).
    #[serde(default = "default_expr_nodes")]
    pub max_expr_nodes: usize,
    /// Most values in one `in` list or property condition of an expression (default
    /// 1,024). Texts in expressions are bounded by `max_text_bytes`.
    #[serde(default = "default_in_values")]
    pub max_in_values: usize,
}

fn default_expr_depth() -> usize {
    crate::segment::MAX_DEPTH
}

fn default_expr_nodes() -> usize {
    crate::segment::MAX_NODES
}

fn default_in_values() -> usize {
    1024
}

fn yes() -> bool {
    true
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            duplicate_horizon_days: 30,
            max_identifiers_per_record: 64,
            max_traits_per_record: 256,
            max_text_bytes: 4096,
            max_set_len: 1024,
            max_events_per_record: 65_536,
            max_properties_per_event: 64,
            max_consent_per_record: 64,
            future_tolerance_secs: Some(86_400),
            retention_on_advance: true,
            max_expr_depth: default_expr_depth(),
            max_expr_nodes: default_expr_nodes(),
            max_in_values: default_in_values(),
        }
    }
}

/// Reusable buffers for ingest; not part of the engine's state (always equal, cloned empty).
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// Normalized candidate values of the record being ingested, back to back.
    pub(crate) text: String,
    /// The value being normalized.
    pub(crate) value: String,
}

impl Clone for Scratch {
    fn clone(&self) -> Self {
        Scratch::default()
    }
}

impl PartialEq for Scratch {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Scratch {}

/// One merge, as logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MergeEntry {
    pub(crate) survivor: ProfileId,
    pub(crate) retired: ProfileId,
    pub(crate) record: RecordId,
    pub(crate) cause: IdentId,
}

/// The engine: feed it records, ask it questions, store what it hands back.
///
/// Two engines compare equal when their whole state is equal.
///
/// ```
/// use audience::{Engine, Record, Schema, Timestamp};
/// let mut engine = Engine::new(Schema::retail_default());
/// let t = Timestamp::from_secs(1_700_000_000)?;
/// let a = engine.ingest(&Record::builder(t, "web").identifier("anonymous_id", "dev-1").build())?;
/// let b = engine.ingest(&Record::builder(t, "crm").identifier("email", "ann@example.com").build())?;
/// // A login carries both: the two profiles merge into the lower id.
/// let login = Record::builder(t, "app")
///     .identifier("anonymous_id", "dev-1")
///     .identifier("email", "ANN@example.com ")
///     .build();
/// let report = engine.ingest(&login)?;
/// assert_eq!(report.profile, a.profile);
/// assert_eq!(report.merged, vec![b.profile]);
/// assert_eq!(engine.resolve(b.profile)?, a.profile);
/// # Ok::<(), audience::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Engine {
    pub(crate) schema: Schema,
    pub(crate) config: EngineConfig,
    pub(crate) clock: Clock,
    pub(crate) log: RecordLog,
    pub(crate) graph: IdentityGraph,
    pub(crate) profiles: ProfileStore,
    pub(crate) merges: Vec<MergeEntry>,
    pub(crate) merges_drained: usize,
    pub(crate) dedup: Dedup,
    pub(crate) texts: TextPool,
    /// Profiles with events, under the next instant a computed trait of theirs can change.
    pub(crate) due: crate::due::DueQueue,
    /// Profiles under the instant their oldest event with a retention expires.
    pub(crate) retention_due: crate::due::DueQueue,
    /// Events held per event kind, kept current (for `stats`).
    pub(crate) event_counts: Vec<usize>,
    /// What `advance_time` dropped since the last `apply_retention` (not in snapshots).
    pub(crate) retention_pending: retention::RetentionReceipt,
    /// RFM tallies and runs, per model.
    pub(crate) rfm: rfm::RfmState,
    /// Trait indexes.
    pub(crate) indexes: crate::index::TraitIndexes,
    /// Named segments, and the live profiles.
    pub(crate) segments: crate::segment::store::SegmentStore,
    /// Consent and suppression bitmaps.
    pub(crate) privacy_index: crate::index::privacy::PrivacyIndex,
    /// Identifier suppressions.
    pub(crate) suppressed_ids: privacy::IdentifierSuppressions,
    /// Identifier values blocked at run time (`block_identifier_value`), by kind, besides
    /// those the schema blocks.
    pub(crate) blocked:
        std::collections::BTreeMap<crate::ids::KindId, std::collections::BTreeSet<Box<str>>>,
    /// Ids whose records went to more than one profile when profiles were rebuilt.
    pub(crate) splits: crate::hash::FastMap<ProfileId, Vec<ProfileId>>,
    /// Every split, in order.
    pub(crate) split_log: Vec<repair::SplitEntry>,
    /// Per dropped identifier, the records that dropped it, ascending (for erasure and
    /// repair: who else carried an identifier).
    pub(crate) dropped_in: crate::hash::FastMap<IdentId, SmallVec<[RecordId; 2]>>,
    /// Set when the last record at the latest record time went away (see
    /// [`Engine::settle_latest`]); false between calls.
    pub(crate) latest_stale: bool,
    /// The host's key for erasure hashes (not state: never compared or snapshotted).
    pub(crate) erasure_key: erase::ErasureKey,
    /// Keyed hashes of erased identifiers: records carrying one are refused.
    pub(crate) erased_hashes: std::collections::BTreeSet<[u8; 32]>,
    scratch: Scratch,
}

impl Engine {
    /// An empty engine with the default [`EngineConfig`].
    pub fn new(schema: Schema) -> Self {
        Self::with_config(schema, EngineConfig::default())
    }

    /// An empty engine with the given settings.
    pub fn with_config(schema: Schema, config: EngineConfig) -> Self {
        let event_kinds = schema.def().event_kinds.len();
        Engine {
            dedup: Dedup::new(config.duplicate_horizon_days),
            config,
            clock: Clock::default(),
            log: RecordLog::default(),
            graph: IdentityGraph::default(),
            profiles: ProfileStore::default(),
            merges: Vec::new(),
            merges_drained: 0,
            texts: TextPool::default(),
            due: crate::due::DueQueue::default(),
            retention_due: crate::due::DueQueue::default(),
            retention_pending: retention::RetentionReceipt::default(),
            event_counts: vec![0; event_kinds],
            rfm: rfm::RfmState::new(schema.rfm_rules().len()),
            segments: crate::segment::store::SegmentStore::default(),
            indexes: crate::index::TraitIndexes::new(&schema),
            privacy_index: crate::index::privacy::PrivacyIndex::new(&schema),
            suppressed_ids: privacy::IdentifierSuppressions::new(),
            erased_hashes: std::collections::BTreeSet::new(),
            dropped_in: crate::hash::fast_map(),
            blocked: std::collections::BTreeMap::new(),
            splits: crate::hash::fast_map(),
            split_log: Vec::new(),
            erasure_key: erase::ErasureKey::default(),
            latest_stale: false,
            scratch: Scratch::default(),
            schema,
        }
    }

    /// The schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The engine clock ("now"), unset until the first `advance_time`.
    pub fn now(&self) -> Option<Timestamp> {
        self.clock.now()
    }

    /// The live profile that `id` is now part of (itself, or the survivor of its merges).
    ///
    /// # Errors
    /// [`LookupError::UnknownProfile`] for an id never handed out, [`LookupError::Erased`]
    /// for one whose person was erased, [`LookupError::Split`] for one whose records are
    /// now in several profiles (an undone merge: see [`Engine::unmerge`]).
    pub fn resolve(&self, id: ProfileId) -> Result<ProfileId, LookupError> {
        if let Some(into) = self.splits.get(&id)
            && !matches!(self.profiles.slot(id), Some(Slot::Live(_)))
        {
            let mut into: Vec<ProfileId> = into
                .iter()
                .filter_map(|p| self.profiles.resolve(*p))
                .collect();
            into.sort_unstable();
            into.dedup();
            if into.len() > 1 {
                return Err(LookupError::Split { id, into });
            }
        }
        match self.profiles.resolve(id) {
            Some(live) => Ok(live),
            None if id.index() < self.profiles.slot_count() => Err(LookupError::Erased(id)),
            None => Err(LookupError::UnknownProfile(id)),
        }
    }

    /// Everything the profile `id` (or the survivor it was merged into) holds.
    ///
    /// # Errors
    /// [`LookupError::UnknownProfile`] for an id never handed out.
    pub fn profile(&self, id: ProfileId) -> Result<ProfileView, LookupError> {
        let live = self.resolve(id)?;
        let profile = self
            .profiles
            .get(live)
            .ok_or(LookupError::UnknownProfile(id))?;
        let mut view = crate::profile::view::view(
            &self.schema,
            &self.graph,
            &self.log,
            &self.texts,
            live,
            profile,
        );
        view.computed = self
            .schema
            .def()
            .computed
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), self.computed_value(profile, i)))
            .collect();
        view.consent = self.consent_states(profile);
        view.consent_history = self.consent_history(profile);
        view.suppressions = self.suppression_views(live, profile);
        Ok(view)
    }

    /// The live profile holding identifier `(kind, value)`; `value` is normalized first.
    ///
    /// # Errors
    /// [`LookupError::UnknownIdentifierKind`] for a kind the schema does not declare.
    pub fn find(&self, kind: &str, value: &str) -> Result<Option<ProfileId>, LookupError> {
        let kind_id = self
            .schema
            .kind_id(kind)
            .ok_or_else(|| LookupError::UnknownIdentifierKind(kind.to_string()))?;
        let mut normalized = String::new();
        if self
            .schema
            .normalize_into(kind_id, value, &mut normalized)
            .is_err()
        {
            return Ok(None);
        }
        Ok(self
            .graph
            .lookup_owned(kind_id, &normalized)
            .and_then(|(_, owner)| owner))
    }

    /// What the record log holds about record `id`.
    pub fn record(&self, id: RecordId) -> Option<RecordView> {
        let r = self.log.get(id)?;
        let identifiers = r
            .identifiers
            .iter()
            .filter_map(|li| {
                let e = self.graph.entry(li.ident)?;
                Some(LoggedIdentifierView {
                    kind: self.schema.kind(e.kind)?.name.clone(),
                    value: e.value.to_string(),
                    status: li.status,
                })
            })
            .collect();
        Some(RecordView {
            id,
            at: r.at,
            source: self.schema.source(r.source)?.name.clone(),
            message_id: r.message_id.as_deref().map(str::to_string),
            identifiers,
            profile: self.profiles.resolve(r.profile)?,
        })
    }

    /// The live profile record `id` belongs to now.
    pub fn record_profile(&self, id: RecordId) -> Option<ProfileId> {
        self.profiles.resolve(self.log.get(id)?.profile)
    }

    /// Merges since the last call, in the order they happened.
    pub fn drain_merges(&mut self) -> Vec<MergeEvent> {
        let start = self.merges_drained;
        self.merges_drained = self.merges.len();
        self.merges
            .get(start..)
            .unwrap_or_default()
            .iter()
            .map(|m| self.merge_event(m))
            .collect()
    }

    /// Every merge ever made, in order.
    pub fn merge_log(&self) -> Vec<MergeEvent> {
        self.merges.iter().map(|m| self.merge_event(m)).collect()
    }

    fn merge_event(&self, m: &MergeEntry) -> MergeEvent {
        let entry = self.graph.entry(m.cause);
        MergeEvent {
            survivor: m.survivor,
            retired: m.retired,
            record: m.record,
            kind: entry
                .and_then(|e| self.schema.kind(e.kind))
                .map_or_else(String::new, |k| k.name.clone()),
            value: entry.map_or_else(String::new, |e| e.value.to_string()),
        }
    }

    /// Number of live profiles.
    pub fn profile_count(&self) -> usize {
        self.profiles.live_count()
    }

    /// Live profile ids, ascending.
    pub fn profile_ids(&self) -> impl Iterator<Item = ProfileId> + '_ {
        self.profiles.iter_live().map(|(id, _)| id)
    }

    /// Number of accepted records held (erased ones are not counted).
    pub fn record_count(&self) -> usize {
        self.log.held()
    }

    /// Number of distinct normalized identifiers held (linked or not; erased ones are not
    /// counted).
    pub fn identifier_count(&self) -> usize {
        self.graph.len()
    }

    /// Number of merges ever made.
    pub fn merge_count(&self) -> usize {
        self.merges.len()
    }

    /// Estimated heap bytes held by the engine's structures.
    pub fn heap_bytes(&self) -> usize {
        self.log.heap_bytes()
            + self.graph.heap_bytes()
            + self.profiles.heap_bytes()
            + self.dedup.heap_bytes()
            + self.texts.heap_bytes()
            + self.rfm.heap_bytes()
            + self.segments.heap_bytes()
            + self.indexes.heap_bytes()
            + self.privacy_index.heap_bytes()
            + self.due.heap_bytes()
            + self.retention_due.heap_bytes()
            + self.merges.capacity() * std::mem::size_of::<MergeEntry>()
    }

    /// The merge log.
    pub(crate) fn merge_entries(&self) -> &[MergeEntry] {
        &self.merges
    }

    /// How many merges the host drained.
    pub(crate) fn merges_drained(&self) -> usize {
        self.merges_drained
    }

    /// Whether normalized `(kind, value)` was blocked at run time.
    pub(crate) fn is_blocked(&self, kind: crate::ids::KindId, value: &str) -> bool {
        !self.blocked.is_empty() && self.blocked.get(&kind).is_some_and(|v| v.contains(value))
    }

    /// Whether `id` names a retired profile.
    pub(crate) fn is_retired(&self, id: ProfileId) -> bool {
        matches!(self.profiles.slot(id), Some(Slot::Retired(_)))
    }
}
