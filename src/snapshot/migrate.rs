//! Snapshots written by older versions of this crate: decoded in their own format and
//! migrated to the current one.
//!
//! [`Snapshot`]'s `Deserialize` reads `version` first (every format this crate writes
//! puts it first), then decodes `state` as that version wrote it, checks that version's
//! checksum, and migrates the state forward one version at a time. The snapshot it
//! gives is always of [`SNAPSHOT_VERSION`], with the checksum of the migrated state, so
//! [`crate::Engine::restore`] sees only current snapshots.
//!
//! | version | written by | what changed |
//! |---|---|---|
//! | 1 | 0.1 before retention | — |
//! | 2 | 0.1 with event retention | `EventKindDef::retention_days` (none after migration), `EngineConfig::retention_on_advance` (on) |
//! | 3 | 0.1 with record retention | `SchemaDef::record_retention_days` (none after migration) |
//! | 4 | current | `EngineConfig::max_expr_depth`, `max_expr_nodes`, `max_in_values` (the defaults after migration); `Expr::Profiles` |
//!
//! To add a version: freeze the changed types of the old one here (the smallest set of
//! structs whose encoding changed), write their `From` into the next version, and add a
//! row. An enum gains variants only at its end, so older encodings keep their indexes.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::engine::EngineConfig;
use crate::realtime::SegmentChange;
use crate::rfm::{RfmModelDef, RfmRun, RfmSegmentDef};
use crate::schema::{
    ChannelDef, ComputedDef, EventKindDef, IdentifierKindDef, PropertyDef, PurposeDef, SchemaDef,
    SourceDef, TraitDef,
};
use crate::snapshot::{
    DedupEntry, EventColumns, IdentifierEntry, IdentifierSuppressionEntry, MergeEntry, ProfileSlot,
    RecordEntry, SNAPSHOT_VERSION, SegmentEntry, Snapshot, SplitLogEntry, State, digest,
};
use crate::time::Timestamp;

/// Version 1's event kind: no retention.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventKindDefV1 {
    name: String,
    #[serde(default)]
    properties: Vec<PropertyDef>,
}

impl From<EventKindDefV1> for EventKindDef {
    fn from(k: EventKindDefV1) -> EventKindDef {
        EventKindDef {
            name: k.name,
            properties: k.properties,
            retention_days: None,
        }
    }
}

/// An older version's schema definitions (no record retention), with that version's
/// event kind type.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrozenSchemaDef<E> {
    identifier_kinds: Vec<IdentifierKindDef>,
    sources: Vec<SourceDef>,
    #[serde(default)]
    traits: Vec<TraitDef>,
    #[serde(default = "Vec::new")]
    event_kinds: Vec<E>,
    #[serde(default)]
    purposes: Vec<PurposeDef>,
    #[serde(default)]
    channels: Vec<ChannelDef>,
    #[serde(default)]
    computed: Vec<ComputedDef>,
    #[serde(default)]
    rfm_models: Vec<RfmModelDef>,
    #[serde(default)]
    rfm_segments: Vec<RfmSegmentDef>,
}

/// Version 1's schema definitions.
type SchemaDefV1 = FrozenSchemaDef<EventKindDefV1>;
/// Version 2's schema definitions: no record retention.
type SchemaDefV2 = FrozenSchemaDef<EventKindDef>;

impl<E: Into<EventKindDef>> From<FrozenSchemaDef<E>> for SchemaDef {
    fn from(s: FrozenSchemaDef<E>) -> SchemaDef {
        SchemaDef {
            identifier_kinds: s.identifier_kinds,
            sources: s.sources,
            traits: s.traits,
            event_kinds: s.event_kinds.into_iter().map(Into::into).collect(),
            purposes: s.purposes,
            channels: s.channels,
            computed: s.computed,
            rfm_models: s.rfm_models,
            rfm_segments: s.rfm_segments,
            record_retention_days: None,
        }
    }
}

/// Version 1's settings: no `retention_on_advance` (version 1 wrote every field).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EngineConfigV1 {
    duplicate_horizon_days: u32,
    max_identifiers_per_record: usize,
    max_traits_per_record: usize,
    max_text_bytes: usize,
    max_set_len: usize,
    max_events_per_record: usize,
    max_properties_per_event: usize,
    max_consent_per_record: usize,
    future_tolerance_secs: Option<u64>,
}

impl From<EngineConfigV1> for EngineConfig {
    fn from(c: EngineConfigV1) -> EngineConfig {
        EngineConfigV2 {
            duplicate_horizon_days: c.duplicate_horizon_days,
            max_identifiers_per_record: c.max_identifiers_per_record,
            max_traits_per_record: c.max_traits_per_record,
            max_text_bytes: c.max_text_bytes,
            max_set_len: c.max_set_len,
            max_events_per_record: c.max_events_per_record,
            max_properties_per_event: c.max_properties_per_event,
            max_consent_per_record: c.max_consent_per_record,
            future_tolerance_secs: c.future_tolerance_secs,
            retention_on_advance: true,
        }
        .into()
    }
}

/// Versions 2 and 3's settings: no expression limits.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EngineConfigV2 {
    duplicate_horizon_days: u32,
    max_identifiers_per_record: usize,
    max_traits_per_record: usize,
    max_text_bytes: usize,
    max_set_len: usize,
    max_events_per_record: usize,
    max_properties_per_event: usize,
    max_consent_per_record: usize,
    future_tolerance_secs: Option<u64>,
    retention_on_advance: bool,
}

impl From<EngineConfigV2> for EngineConfig {
    fn from(c: EngineConfigV2) -> EngineConfig {
        EngineConfig {
            duplicate_horizon_days: c.duplicate_horizon_days,
            max_identifiers_per_record: c.max_identifiers_per_record,
            max_traits_per_record: c.max_traits_per_record,
            max_text_bytes: c.max_text_bytes,
            max_set_len: c.max_set_len,
            max_events_per_record: c.max_events_per_record,
            max_properties_per_event: c.max_properties_per_event,
            max_consent_per_record: c.max_consent_per_record,
            future_tolerance_secs: c.future_tolerance_secs,
            retention_on_advance: c.retention_on_advance,
            ..EngineConfig::default()
        }
    }
}

/// An older version's state: the current one's fields with that version's schema and
/// settings types.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Frozen<S, C> {
    schema: S,
    config: C,
    clock: Option<Timestamp>,
    records: Vec<Option<RecordEntry>>,
    identifiers: Vec<IdentifierEntry>,
    texts: Vec<String>,
    profiles: Vec<ProfileSlot>,
    events: EventColumns,
    merges: Vec<MergeEntry>,
    merges_drained: u64,
    dedup: Vec<DedupEntry>,
    dedup_latest: Option<Timestamp>,
    rfm_runs: Vec<[Option<RfmRun>; 2]>,
    segments: Vec<Option<SegmentEntry>>,
    changes: Vec<SegmentChange>,
    identifier_suppressions: Vec<IdentifierSuppressionEntry>,
    erased_hashes: Vec<[u8; 32]>,
    blocked: Vec<(u16, String)>,
    splits: Vec<(u32, Vec<u32>)>,
    split_log: Vec<SplitLogEntry>,
}

/// Version 1's state.
type StateV1 = Frozen<SchemaDefV1, EngineConfigV1>;
/// Version 2's state.
type StateV2 = Frozen<SchemaDefV2, EngineConfigV2>;
/// Version 3's state.
type StateV3 = Frozen<SchemaDef, EngineConfigV2>;

impl<S: Into<SchemaDef>, C: Into<EngineConfig>> From<Frozen<S, C>> for State {
    fn from(v: Frozen<S, C>) -> State {
        State {
            schema: v.schema.into(),
            config: v.config.into(),
            clock: v.clock,
            records: v.records,
            identifiers: v.identifiers,
            texts: v.texts,
            profiles: v.profiles,
            events: v.events,
            merges: v.merges,
            merges_drained: v.merges_drained,
            dedup: v.dedup,
            dedup_latest: v.dedup_latest,
            rfm_runs: v.rfm_runs,
            segments: v.segments,
            changes: v.changes,
            identifier_suppressions: v.identifier_suppressions,
            erased_hashes: v.erased_hashes,
            blocked: v.blocked,
            splits: v.splits,
            split_log: v.split_log,
        }
    }
}

/// A state as some version wrote it.
enum Versioned {
    V1(Box<StateV1>),
    V2(Box<StateV2>),
    V3(Box<StateV3>),
    Current(Box<State>),
}

impl Versioned {
    fn checksum(&self) -> u64 {
        match self {
            Versioned::V1(s) => digest::checksum(s),
            Versioned::V2(s) => digest::checksum(s),
            Versioned::V3(s) => digest::checksum(s),
            Versioned::Current(s) => digest::checksum(s),
        }
    }

    fn migrate(self) -> State {
        match self {
            Versioned::V1(s) => (*s).into(),
            Versioned::V2(s) => (*s).into(),
            Versioned::V3(s) => (*s).into(),
            Versioned::Current(s) => *s,
        }
    }
}

/// Decodes `state` as `version` wrote it.
struct StateOf(u32);

impl<'de> de::DeserializeSeed<'de> for StateOf {
    type Value = Versioned;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Versioned, D::Error> {
        match self.0 {
            1 => StateV1::deserialize(d).map(|s| Versioned::V1(Box::new(s))),
            2 => StateV2::deserialize(d).map(|s| Versioned::V2(Box::new(s))),
            3 => StateV3::deserialize(d).map(|s| Versioned::V3(Box::new(s))),
            SNAPSHOT_VERSION => State::deserialize(d).map(|s| Versioned::Current(Box::new(s))),
            v => Err(de::Error::custom(format!(
                "snapshot version {v} is not one this crate reads (1 to {SNAPSHOT_VERSION})"
            ))),
        }
    }
}

/// The snapshot of `version`, `checksum` and `state`: an older version's checksum is
/// checked in its own encoding, then the state is migrated and checksummed anew. A
/// current snapshot is left as it came (restore checks its checksum).
fn finish<E: de::Error>(version: u32, checksum: u64, state: Versioned) -> Result<Snapshot, E> {
    if version == SNAPSHOT_VERSION {
        return Ok(Snapshot {
            version,
            checksum,
            state: state.migrate(),
        });
    }
    let computed = state.checksum();
    if computed != checksum {
        return Err(E::custom(format!(
            "snapshot version {version}: checksum mismatch (stored {checksum:#018x}, computed {computed:#018x})"
        )));
    }
    let state = state.migrate();
    Ok(Snapshot {
        version: SNAPSHOT_VERSION,
        checksum: Snapshot::checksum_of(&state),
        state,
    })
}

struct SnapshotVisitor;

const FIELDS: &[&str] = &["version", "checksum", "state"];

impl<'de> Visitor<'de> for SnapshotVisitor {
    type Value = Snapshot;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a snapshot: version, checksum and state, in that order")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Snapshot, A::Error> {
        let missing = |i| de::Error::invalid_length(i, &self);
        let version: u32 = seq.next_element()?.ok_or_else(|| missing(0))?;
        let checksum: u64 = seq.next_element()?.ok_or_else(|| missing(1))?;
        let state = seq
            .next_element_seed(StateOf(version))?
            .ok_or_else(|| missing(2))?;
        finish(version, checksum, state)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Snapshot, A::Error> {
        let (mut version, mut checksum, mut state) = (None, None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "version" if version.is_none() => version = Some(map.next_value::<u32>()?),
                "checksum" if checksum.is_none() => checksum = Some(map.next_value::<u64>()?),
                "state" if state.is_none() => {
                    let v = version.ok_or_else(|| {
                        de::Error::custom("a snapshot's version must come before its state")
                    })?;
                    state = Some(map.next_value_seed(StateOf(v))?);
                }
                "version" | "checksum" | "state" => {
                    return Err(de::Error::custom(format!("duplicate field `{key}`")));
                }
                other => return Err(de::Error::unknown_field(other, FIELDS)),
            }
        }
        let version = version.ok_or_else(|| de::Error::missing_field("version"))?;
        let checksum = checksum.ok_or_else(|| de::Error::missing_field("checksum"))?;
        let state = state.ok_or_else(|| de::Error::missing_field("state"))?;
        finish(version, checksum, state)
    }
}

impl<'de> Deserialize<'de> for Snapshot {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Snapshot, D::Error> {
        d.deserialize_struct("Snapshot", FIELDS, SnapshotVisitor)
    }
}
