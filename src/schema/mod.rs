//! The schema: identifier kinds, sources, traits, event kinds, computed traits, RFM
//! models and segments, consent purposes and channels, validated once when it is built.
//!
//! ```
//! use audience::schema::{IdentifierKindDef, Normalizer, Schema, TraitDef, TraitType};
//! let schema = Schema::builder()
//!     .identifier_kind(IdentifierKindDef::new("email", Normalizer::Email, 1).limit(5))
//!     .source("web", 2)
//!     .trait_def(TraitDef::new("country", TraitType::Text))
//!     .build()?;
//! assert!(schema.kind_id("email").is_some());
//! # Ok::<(), audience::SchemaError>(())
//! ```

mod computed;
mod defaults;
mod defs;

pub use computed::{Computation, ComputedDef, EventFilter, Field, PropertyCondition};
pub(crate) use computed::{ComputedRule, Op, Term};
pub use defaults::EVENT_VOCABULARY;
pub use defs::{
    ChannelDef, ConsentDefault, EventKindDef, IdentifierKindDef, MergeStrategy, Normalizer,
    PropertyDef, PropertyType, PurposeDef, SchemaDef, SourceDef, TraitCategory, TraitDef,
    TraitType,
};

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::error::{DropReason, SchemaError};
use crate::hash::{FastMap, fast_map};
use crate::identity::normalize::CompiledNormalizer;
use crate::ids::{ChannelId, ComputedId, EventKindId, KindId, PurposeId, SourceId, TraitId};
use crate::rfm::model::RfmRule;
use crate::rfm::{RfmModelDef, RfmSegmentDef};

/// The compiled rules of one identifier kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KindRule {
    pub(crate) normalizer: CompiledNormalizer,
    /// Blocked values, normalized and sorted.
    pub(crate) blocked: Vec<String>,
}

/// A validated schema. Build it with [`Schema::builder`], [`Schema::from_def`] or serde
/// (which validates too); it cannot exist in an invalid state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SchemaDef", into = "SchemaDef")]
pub struct Schema {
    def: SchemaDef,
    kind_rules: Vec<KindRule>,
    kind_names: FastMap<String, KindId>,
    source_names: FastMap<String, SourceId>,
    trait_names: FastMap<String, TraitId>,
    event_names: FastMap<String, EventKindId>,
    /// Per trait, per source: the rank used to break ties (lower is stronger).
    source_ranks: Vec<Vec<u32>>,
    /// Per kind: its limit (`u32::MAX` when unlimited).
    limits: Vec<u32>,
    /// Per kind: its position in linking order (priority, then name).
    kind_ranks: Vec<u16>,
    /// Computed traits, compiled, by id.
    computed: Vec<ComputedRule>,
    /// Per event kind: the computed traits (by position) that read it.
    computed_readers: Vec<SmallVec<[u16; 4]>>,
    computed_names: FastMap<String, ComputedId>,
    /// Per trait: whether some habit reads it as a time zone.
    time_zone_traits: Vec<bool>,
    /// RFM models, compiled, by position.
    rfm: Vec<RfmRule>,
    rfm_names: FastMap<String, u16>,
    purpose_names: FastMap<String, PurposeId>,
    channel_names: FastMap<String, ChannelId>,
    /// Per channel: the identifier kind that addresses it.
    address_kinds: Vec<Option<KindId>>,
    /// Per event kind: how long its events are kept, in milliseconds (`None`: forever).
    retention: Vec<Option<i64>>,
    /// Whether some event kind, or the record log, has a retention.
    has_retention: bool,
    /// How long records are kept, in milliseconds (`None`: forever).
    record_retention: Option<i64>,
}

impl Schema {
    /// A builder for a schema, starting empty.
    pub fn builder() -> SchemaBuilder {
        SchemaBuilder::default()
    }

    /// Validates plain definitions into a schema.
    ///
    /// # Errors
    /// The first problem found, as a [`SchemaError`] naming the item.
    pub fn from_def(def: SchemaDef) -> Result<Self, SchemaError> {
        let kind_rules = validate_kinds(&def)?;
        let kind_names = name_map(
            "identifier kind",
            def.identifier_kinds.iter().map(|k| &k.name),
        )?;
        check_sources(&def)?;
        let source_names = name_map("source", def.sources.iter().map(|s| &s.name))?;
        let trait_names = name_map("trait", def.traits.iter().map(|t| &t.name))?;
        let source_ranks = validate_traits(&def, &source_names)?;
        let event_names = name_map("event kind", def.event_kinds.iter().map(|e| &e.name))?;
        if def.record_retention_days == Some(0) {
            return Err(SchemaError::ZeroRecordRetention);
        }
        for event in &def.event_kinds {
            name_map("property", event.properties.iter().map(|p| &p.name))?;
            if event.retention_days == Some(0) {
                return Err(SchemaError::ZeroRetention {
                    kind: event.name.clone(),
                });
            }
        }
        let computed_names = name_map("computed trait", def.computed.iter().map(|c| &c.name))?;
        let computed = computed::compile(&def, &event_names, &trait_names)?;
        let computed_readers = (0..def.event_kinds.len())
            .map(|k| {
                let kind = EventKindId(u16::try_from(k).unwrap_or(u16::MAX));
                (0..computed.len())
                    .filter(|&r| {
                        computed
                            .get(r)
                            .is_some_and(|rule| !rule.terms(kind).is_empty())
                    })
                    .map(|r| u16::try_from(r).unwrap_or(u16::MAX))
                    .collect()
            })
            .collect();
        let mut time_zone_traits = vec![false; def.traits.len()];
        for rule in &computed {
            if let Some(slot) = rule
                .time_zone
                .and_then(|t| time_zone_traits.get_mut(t.index()))
            {
                *slot = true;
            }
        }
        let rfm_names = name_map("RFM model", def.rfm_models.iter().map(|m| &m.name))?;
        let rfm = crate::rfm::model::compile(&def, &event_names)?;
        crate::rfm::segments::validate(&def.rfm_segments, &rfm_names)?;
        let purpose_names = name_map("purpose", def.purposes.iter().map(|p| &p.name))?;
        let channel_names = name_map("channel", def.channels.iter().map(|c| &c.name))?;
        for channel in &def.channels {
            if let Some(kind) = &channel.address_kind
                && !kind_names.contains_key(kind)
            {
                return Err(SchemaError::UnknownIdentifierKind {
                    place: format!("channel {:?}", channel.name),
                    kind: kind.clone(),
                });
            }
        }
        let limits = def
            .identifier_kinds
            .iter()
            .map(|k| k.limit.unwrap_or(u32::MAX))
            .collect();
        let mut order: Vec<usize> = (0..def.identifier_kinds.len()).collect();
        order.sort_by_key(|&i| {
            def.identifier_kinds
                .get(i)
                .map(|k| (k.priority, k.name.clone()))
        });
        let mut kind_ranks = vec![0u16; order.len()];
        for (rank, i) in order.into_iter().enumerate() {
            if let Some(slot) = kind_ranks.get_mut(i) {
                *slot = u16::try_from(rank).unwrap_or(u16::MAX);
            }
        }
        let address_kinds = def
            .channels
            .iter()
            .map(|c| {
                c.address_kind
                    .as_ref()
                    .and_then(|k| kind_names.get(k).map(|&i| KindId(i)))
            })
            .collect();
        let retention: Vec<Option<i64>> = def
            .event_kinds
            .iter()
            .map(|e| {
                e.retention_days
                    .map(|d| i64::from(d) * crate::time::MILLIS_PER_DAY)
            })
            .collect();
        let record_retention = def
            .record_retention_days
            .map(|d| i64::from(d) * crate::time::MILLIS_PER_DAY);
        Ok(Schema {
            has_retention: retention.iter().any(Option::is_some) || record_retention.is_some(),
            record_retention,
            retention,
            limits,
            kind_ranks,
            def,
            kind_rules,
            kind_names: kind_names
                .into_iter()
                .map(|(n, i)| (n, KindId(i)))
                .collect(),
            source_names: source_names
                .into_iter()
                .map(|(n, i)| (n, SourceId(i)))
                .collect(),
            trait_names: trait_names
                .into_iter()
                .map(|(n, i)| (n, TraitId(i)))
                .collect(),
            event_names: event_names
                .into_iter()
                .map(|(n, i)| (n, EventKindId(i)))
                .collect(),
            source_ranks,
            computed,
            computed_readers,
            computed_names: computed_names
                .into_iter()
                .map(|(n, i)| (n, ComputedId(i)))
                .collect(),
            time_zone_traits,
            rfm,
            rfm_names,
            purpose_names: purpose_names
                .into_iter()
                .map(|(n, i)| (n, PurposeId(i)))
                .collect(),
            address_kinds,
            channel_names: channel_names
                .into_iter()
                .map(|(n, i)| (n, ChannelId(i)))
                .collect(),
        })
    }

    /// The plain definitions this schema was built from.
    pub fn def(&self) -> &SchemaDef {
        &self.def
    }

    /// The id of an identifier kind.
    pub fn kind_id(&self, name: &str) -> Option<KindId> {
        // A scan beats hashing for the handful of kinds a schema has.
        if self.def.identifier_kinds.len() <= 16 {
            let i = self
                .def
                .identifier_kinds
                .iter()
                .position(|k| k.name == name)?;
            return u16::try_from(i).ok().map(KindId);
        }
        self.kind_names.get(name).copied()
    }

    /// The definition of an identifier kind.
    pub fn kind(&self, id: KindId) -> Option<&IdentifierKindDef> {
        self.def.identifier_kinds.get(id.index())
    }

    /// The id of a source.
    pub fn source_id(&self, name: &str) -> Option<SourceId> {
        if self.def.sources.len() <= 16 {
            let i = self.def.sources.iter().position(|s| s.name == name)?;
            return u16::try_from(i).ok().map(SourceId);
        }
        self.source_names.get(name).copied()
    }

    /// The definition of a source.
    pub fn source(&self, id: SourceId) -> Option<&SourceDef> {
        self.def.sources.get(id.index())
    }

    /// The id of a trait.
    pub fn trait_id(&self, name: &str) -> Option<TraitId> {
        self.trait_names.get(name).copied()
    }

    /// The definition of a trait.
    pub fn trait_def(&self, id: TraitId) -> Option<&TraitDef> {
        self.def.traits.get(id.index())
    }

    /// The id of an event kind.
    pub fn event_kind_id(&self, name: &str) -> Option<EventKindId> {
        self.event_names.get(name).copied()
    }

    /// How long events of kind `id` are kept, in milliseconds (`None`: forever).
    pub(crate) fn event_kind_retention(&self, id: EventKindId) -> Option<i64> {
        self.retention.get(id.index()).copied().flatten()
    }

    /// Whether some event kind, or the record log, has a retention.
    pub(crate) fn has_retention(&self) -> bool {
        self.has_retention
    }

    /// How long records are kept, in milliseconds (`None`: forever).
    pub(crate) fn record_retention(&self) -> Option<i64> {
        self.record_retention
    }

    /// The definition of an event kind.
    pub fn event_kind(&self, id: EventKindId) -> Option<&EventKindDef> {
        self.def.event_kinds.get(id.index())
    }

    /// The id of a computed trait.
    pub fn computed_id(&self, name: &str) -> Option<ComputedId> {
        self.computed_names.get(name).copied()
    }

    /// The definition of a computed trait.
    pub fn computed(&self, id: ComputedId) -> Option<&ComputedDef> {
        self.def.computed.get(id.index())
    }

    /// Compiled computed traits, by id.
    /// The id of consent purpose `name`.
    pub fn purpose_id(&self, name: &str) -> Option<PurposeId> {
        self.purpose_names.get(name).copied()
    }

    /// The definition of a consent purpose.
    pub fn purpose(&self, id: PurposeId) -> Option<&PurposeDef> {
        self.def.purposes.get(id.index())
    }

    /// The id of channel `name`.
    pub fn channel_id(&self, name: &str) -> Option<ChannelId> {
        self.channel_names.get(name).copied()
    }

    /// The definition of a channel.
    pub fn channel(&self, id: ChannelId) -> Option<&ChannelDef> {
        self.def.channels.get(id.index())
    }

    /// The identifier kind whose values address channel `id`.
    pub(crate) fn address_kind(&self, id: ChannelId) -> Option<KindId> {
        self.address_kinds.get(id.index()).copied().flatten()
    }

    /// Number of consent keys: one per (purpose, channel).
    pub(crate) fn consent_keys(&self) -> usize {
        self.def.purposes.len() * self.def.channels.len()
    }

    /// The consent key of (purpose, channel).
    pub(crate) fn consent_key(&self, purpose: PurposeId, channel: ChannelId) -> usize {
        purpose.index() * self.def.channels.len() + channel.index()
    }

    pub(crate) fn computed_rules(&self) -> &[ComputedRule] {
        &self.computed
    }

    /// The positions of the computed traits that read events of `kind`.
    pub(crate) fn computed_readers(&self, kind: EventKindId) -> &[u16] {
        self.computed_readers
            .get(kind.index())
            .map_or(&[], |r| r.as_slice())
    }

    /// The position of RFM model `name`.
    pub(crate) fn rfm_index(&self, name: &str) -> Option<usize> {
        self.rfm_names.get(name).map(|&i| usize::from(i))
    }

    /// The definition of the RFM model at `index`.
    pub(crate) fn rfm_model(&self, index: usize) -> Option<&RfmModelDef> {
        self.def.rfm_models.get(index)
    }

    /// Compiled RFM models, by position.
    pub(crate) fn rfm_rules(&self) -> &[RfmRule] {
        &self.rfm
    }

    /// Whether some habit reads trait `id` as a time zone.
    pub(crate) fn is_time_zone_trait(&self, id: TraitId) -> bool {
        self.time_zone_traits
            .get(id.index())
            .copied()
            .unwrap_or(false)
    }

    /// Normalizes a value of identifier kind `kind` and checks it against the blocked list.
    pub(crate) fn normalize_into(
        &self,
        kind: KindId,
        raw: &str,
        out: &mut String,
    ) -> Result<(), DropReason> {
        let rule = self
            .kind_rules
            .get(kind.index())
            .ok_or(DropReason::Unparseable)?;
        rule.normalizer.normalize_into(raw, out)?;
        if rule.blocked.binary_search(out).is_ok() {
            return Err(DropReason::Blocked);
        }
        Ok(())
    }

    /// The kind's per-profile limit (`u32::MAX` when unlimited).
    pub(crate) fn limit(&self, kind: KindId) -> u32 {
        self.limits.get(kind.index()).copied().unwrap_or(u32::MAX)
    }

    /// Every kind's limit, by kind id.
    pub(crate) fn limits(&self) -> &[u32] {
        &self.limits
    }

    /// The kind's position in linking order: by priority (1 first), then by name.
    pub(crate) fn kind_rank(&self, kind: KindId) -> u16 {
        self.kind_ranks
            .get(kind.index())
            .copied()
            .unwrap_or(u16::MAX)
    }

    /// The tie-break rank of `source` for `trait_id` (lower is stronger).
    pub(crate) fn source_rank(&self, trait_id: TraitId, source: SourceId) -> u32 {
        self.source_ranks
            .get(trait_id.index())
            .and_then(|r| r.get(source.index()))
            .copied()
            .unwrap_or(u32::MAX)
    }

    /// Number of identifier kinds.
    pub fn kind_count(&self) -> usize {
        self.def.identifier_kinds.len()
    }

    /// Checks the schema's invariants (every lookup agrees with the definitions).
    #[doc(hidden)]
    pub fn internal_validate(&self) -> Result<(), String> {
        let rebuilt = Schema::from_def(self.def.clone()).map_err(|e| e.to_string())?;
        if &rebuilt != self {
            return Err("schema lookups disagree with its definitions".into());
        }
        for rule in &self.kind_rules {
            if rule.blocked.windows(2).any(|w| w.first() >= w.get(1)) {
                return Err("blocked values not sorted and unique".into());
            }
        }
        Ok(())
    }
}

impl TryFrom<SchemaDef> for Schema {
    type Error = SchemaError;
    fn try_from(def: SchemaDef) -> Result<Self, SchemaError> {
        Schema::from_def(def)
    }
}

impl From<Schema> for SchemaDef {
    fn from(schema: Schema) -> SchemaDef {
        schema.def
    }
}

/// Builds a [`Schema`] call by call; nothing is checked until [`SchemaBuilder::build`].
#[derive(Clone, Debug, Default)]
pub struct SchemaBuilder {
    def: SchemaDef,
}

impl SchemaBuilder {
    /// Adds an identifier kind.
    pub fn identifier_kind(mut self, kind: IdentifierKindDef) -> Self {
        self.def.identifier_kinds.push(kind);
        self
    }

    /// Adds a source with its priority (1 = most trusted).
    pub fn source(mut self, name: impl Into<String>, priority: u32) -> Self {
        self.def.sources.push(SourceDef {
            name: name.into(),
            priority,
        });
        self
    }

    /// Adds a trait.
    pub fn trait_def(mut self, def: TraitDef) -> Self {
        self.def.traits.push(def);
        self
    }

    /// Keeps records `days` days relative to the clock (see
    /// [`SchemaDef::record_retention_days`]).
    pub fn record_retention_days(mut self, days: u32) -> Self {
        self.def.record_retention_days = Some(days);
        self
    }

    /// Adds an event kind.
    pub fn event_kind(mut self, def: EventKindDef) -> Self {
        self.def.event_kinds.push(def);
        self
    }

    /// Adds a computed trait.
    pub fn computed(mut self, def: ComputedDef) -> Self {
        self.def.computed.push(def);
        self
    }

    /// Adds an RFM model.
    pub fn rfm_model(mut self, def: RfmModelDef) -> Self {
        self.def.rfm_models.push(def);
        self
    }

    /// Adds named RFM segments, after those already added (order decides labels).
    pub fn rfm_segments(mut self, defs: impl IntoIterator<Item = RfmSegmentDef>) -> Self {
        self.def.rfm_segments.extend(defs);
        self
    }

    /// Adds a consent purpose.
    pub fn purpose(mut self, name: impl Into<String>, default: ConsentDefault) -> Self {
        self.def.purposes.push(PurposeDef {
            name: name.into(),
            default,
        });
        self
    }

    /// Adds a channel addressed by values of identifier kind `address_kind`.
    pub fn channel(mut self, name: impl Into<String>, address_kind: Option<&str>) -> Self {
        self.def.channels.push(ChannelDef {
            name: name.into(),
            address_kind: address_kind.map(str::to_string),
        });
        self
    }

    /// Validates and builds.
    ///
    /// # Errors
    /// The first problem found, as a [`SchemaError`] naming the item.
    pub fn build(self) -> Result<Schema, SchemaError> {
        Schema::from_def(self.def)
    }
}

/// Checks that a name is 1..=64 bytes of `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn check_name(what: &'static str, name: &str) -> Result<(), SchemaError> {
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    if first_ok && name.len() <= 64 && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(())
    } else {
        Err(SchemaError::InvalidName {
            what,
            name: name.chars().take(80).collect(),
        })
    }
}

/// Checks names and uniqueness; returns name → position.
fn name_map<'a>(
    what: &'static str,
    names: impl Iterator<Item = &'a String>,
) -> Result<FastMap<String, u16>, SchemaError> {
    let mut map = fast_map();
    for (i, name) in names.enumerate() {
        check_name(what, name)?;
        let id = u16::try_from(i).map_err(|_| SchemaError::TooMany {
            what,
            count: i.saturating_add(1),
        })?;
        if map.insert(name.clone(), id).is_some() {
            return Err(SchemaError::DuplicateName {
                what,
                name: name.clone(),
            });
        }
    }
    Ok(map)
}

fn validate_kinds(def: &SchemaDef) -> Result<Vec<KindRule>, SchemaError> {
    if def.identifier_kinds.is_empty() {
        return Err(SchemaError::NoIdentifierKinds);
    }
    let mut rules = Vec::with_capacity(def.identifier_kinds.len());
    for kind in &def.identifier_kinds {
        check_name("identifier kind", &kind.name)?;
        if kind.limit == Some(0) {
            return Err(SchemaError::ZeroLimit {
                kind: kind.name.clone(),
            });
        }
        if kind.priority == 0 {
            return Err(SchemaError::ZeroPriority {
                what: "identifier kind",
                name: kind.name.clone(),
            });
        }
        let normalizer = CompiledNormalizer::compile(&kind.name, &kind.normalizer)?;
        let mut blocked = Vec::with_capacity(kind.blocked.len());
        for value in &kind.blocked {
            let normalized =
                normalizer
                    .normalize(value)
                    .map_err(|_| SchemaError::BadBlockedValue {
                        kind: kind.name.clone(),
                        value: value.clone(),
                    })?;
            blocked.push(normalized);
        }
        blocked.sort_unstable();
        blocked.dedup();
        rules.push(KindRule {
            normalizer,
            blocked,
        });
    }
    Ok(rules)
}

fn check_sources(def: &SchemaDef) -> Result<(), SchemaError> {
    if def.sources.is_empty() {
        return Err(SchemaError::NoSources);
    }
    for source in &def.sources {
        if source.priority == 0 {
            return Err(SchemaError::ZeroPriority {
                what: "source",
                name: source.name.clone(),
            });
        }
    }
    Ok(())
}

/// Checks strategies against types and computes each trait's source ranks.
fn validate_traits(
    def: &SchemaDef,
    sources: &FastMap<String, u16>,
) -> Result<Vec<Vec<u32>>, SchemaError> {
    let mut ranks = Vec::with_capacity(def.traits.len());
    for t in &def.traits {
        if !t.strategy.fits(t.ty) {
            return Err(SchemaError::StrategyMismatch {
                name: t.name.clone(),
                strategy: t.strategy.name(),
                ty: t.ty.name(),
            });
        }
        // Listed sources rank 0..len in order; the others after them, by schema priority.
        let listed: &[String] = match &t.strategy {
            MergeStrategy::SourcePriority(list) => list,
            _ => &[],
        };
        let offset = u32::try_from(listed.len()).unwrap_or(u32::MAX);
        let mut rank: Vec<u32> = def
            .sources
            .iter()
            .map(|s| offset.saturating_add(s.priority))
            .collect();
        for (pos, name) in listed.iter().enumerate() {
            let id = sources
                .get(name)
                .ok_or_else(|| SchemaError::UnknownSource {
                    place: format!("trait {:?}", t.name),
                    source_name: name.clone(),
                })?;
            if let Some(slot) = rank.get_mut(usize::from(*id)) {
                *slot = (*slot).min(u32::try_from(pos).unwrap_or(u32::MAX));
            }
        }
        ranks.push(rank);
    }
    Ok(ranks)
}

#[cfg(test)]
mod tests;
