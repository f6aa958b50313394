//! The plain, serde definitions a schema is built from.

use serde::{Deserialize, Serialize};

use crate::rfm::{RfmModelDef, RfmSegmentDef};
use crate::schema::computed::ComputedDef;

/// How values of an identifier kind are normalized before they are compared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalizer {
    /// Trim, then lower-case; must look like `local@domain`.
    Email,
    /// E.164 with its `+` (via the `phonenumber` crate); numbers without a country code are
    /// read in `default_region` (ISO 3166 alpha-2, e.g. `"US"`).
    Phone {
        /// The region for national numbers.
        default_region: String,
    },
    /// Trim surrounding white space; case matters.
    Trim,
    /// Trim, then lower-case.
    CaseInsensitive,
}

/// An identifier kind: `user_id`, `email`, `phone`, `anonymous_id`, …
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifierKindDef {
    /// The kind's name.
    pub name: String,
    /// Its normalizer.
    pub normalizer: Normalizer,
    /// The most distinct values one profile may hold (`None`: no limit).
    #[serde(default)]
    pub limit: Option<u32>,
    /// 1 is the strongest; linking visits kinds strongest first.
    pub priority: u32,
    /// Values that never link (compared after normalization), e.g. `test@test.com`.
    #[serde(default)]
    pub blocked: Vec<String>,
}

impl IdentifierKindDef {
    /// A kind with no limit and no blocked values.
    pub fn new(name: impl Into<String>, normalizer: Normalizer, priority: u32) -> Self {
        IdentifierKindDef {
            name: name.into(),
            normalizer,
            limit: None,
            priority,
            blocked: Vec::new(),
        }
    }

    /// Sets the per-profile limit.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Adds blocked values.
    pub fn blocked<I, S>(mut self, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.blocked.extend(values.into_iter().map(Into::into));
        self
    }
}

/// A source of records (`web`, `crm`, …) with its priority for source-priority merges.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceDef {
    /// The source's name.
    pub name: String,
    /// 1 is the most trusted.
    pub priority: u32,
}

/// The type of a trait's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraitType {
    /// UTF-8 text.
    Text,
    /// A signed 64-bit integer.
    Integer,
    /// True or false.
    Boolean,
    /// A [`crate::Timestamp`].
    Timestamp,
    /// A [`crate::Money`] amount.
    Money,
    /// A set of texts.
    TextSet,
}

impl TraitType {
    /// The type's name as written in schemas and errors.
    pub fn name(self) -> &'static str {
        match self {
            TraitType::Text => "text",
            TraitType::Integer => "integer",
            TraitType::Boolean => "boolean",
            TraitType::Timestamp => "timestamp",
            TraitType::Money => "money",
            TraitType::TextSet => "text_set",
        }
    }
}

/// What kind of data a trait holds (documentation and export grouping only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraitCategory {
    /// Who the person is: name, birth date.
    Identity,
    /// Facts about them: country, plan.
    #[default]
    Descriptive,
    /// Opinions and preferences: interests, survey answers.
    Qualitative,
    /// Measures: lifetime value, points.
    Quantitative,
}

/// How a trait's current value follows from all its observations.
///
/// Every strategy is a pure function of the observation set: ties on the primary key are
/// broken by time (newer first), then source priority (stronger first), then value (larger
/// first), then source position, so arrival order never matters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeStrategy {
    /// The newest observation.
    #[default]
    MostRecent,
    /// The oldest observation.
    Oldest,
    /// The observation from the strongest source: the listed sources first, in order, then
    /// the others by their schema priority.
    SourcePriority(Vec<String>),
    /// The largest value (integer, timestamp, boolean).
    Max,
    /// The smallest value (integer, timestamp, boolean).
    Min,
    /// The sum of all values (integer; money keeps one total per currency).
    Sum,
    /// The union of all sets (text sets).
    Union,
}

impl MergeStrategy {
    /// The strategy's name as written in schemas and errors.
    pub fn name(&self) -> &'static str {
        match self {
            MergeStrategy::MostRecent => "most_recent",
            MergeStrategy::Oldest => "oldest",
            MergeStrategy::SourcePriority(_) => "source_priority",
            MergeStrategy::Max => "max",
            MergeStrategy::Min => "min",
            MergeStrategy::Sum => "sum",
            MergeStrategy::Union => "union",
        }
    }

    /// Whether the strategy can merge values of type `ty`.
    pub fn fits(&self, ty: TraitType) -> bool {
        use TraitType as T;
        match self {
            MergeStrategy::MostRecent
            | MergeStrategy::Oldest
            | MergeStrategy::SourcePriority(_) => true,
            MergeStrategy::Max | MergeStrategy::Min => {
                matches!(ty, T::Integer | T::Timestamp | T::Boolean)
            }
            MergeStrategy::Sum => matches!(ty, T::Integer | T::Money),
            MergeStrategy::Union => ty == T::TextSet,
        }
    }
}

/// A trait: a named, typed attribute of a profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraitDef {
    /// The trait's name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: TraitType,
    /// Its category.
    #[serde(default)]
    pub category: TraitCategory,
    /// How observations merge.
    #[serde(default)]
    pub strategy: MergeStrategy,
}

impl TraitDef {
    /// A descriptive trait merged by most recent value.
    pub fn new(name: impl Into<String>, ty: TraitType) -> Self {
        TraitDef {
            name: name.into(),
            ty,
            category: TraitCategory::Descriptive,
            strategy: MergeStrategy::MostRecent,
        }
    }

    /// Sets the category.
    pub fn category(mut self, category: TraitCategory) -> Self {
        self.category = category;
        self
    }

    /// Sets the merge strategy.
    pub fn strategy(mut self, strategy: MergeStrategy) -> Self {
        self.strategy = strategy;
        self
    }
}

/// The type of an event property.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PropertyType {
    /// UTF-8 text.
    Text,
    /// A signed 64-bit integer.
    Integer,
    /// A [`crate::Money`] amount.
    Money,
    /// True or false.
    Boolean,
}

impl PropertyType {
    /// The type's name as written in schemas and errors.
    pub fn name(self) -> &'static str {
        match self {
            PropertyType::Text => "text",
            PropertyType::Integer => "integer",
            PropertyType::Money => "money",
            PropertyType::Boolean => "boolean",
        }
    }
}

/// A typed property of an event kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertyDef {
    /// The property's name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: PropertyType,
    /// Whether negative integers and amounts are refused.
    #[serde(default)]
    pub non_negative: bool,
}

/// An event kind with its properties.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventKindDef {
    /// The kind's name.
    pub name: String,
    /// Its properties.
    #[serde(default)]
    pub properties: Vec<PropertyDef>,
    /// How long events of this kind are kept: an event more than this many days older
    /// than the engine clock is dropped (on `advance_time`, `apply_retention`, or on
    /// arrival), as if it had never been kept. `None` (the default): forever.
    #[serde(default)]
    pub retention_days: Option<u32>,
}

impl EventKindDef {
    /// A kind with no properties, kept forever.
    pub fn new(name: impl Into<String>) -> Self {
        EventKindDef {
            name: name.into(),
            ..EventKindDef::default()
        }
    }

    /// With property `def`.
    pub fn property(mut self, def: PropertyDef) -> Self {
        self.properties.push(def);
        self
    }

    /// Kept for `days` days (0 is refused by the schema).
    pub fn retention_days(mut self, days: u32) -> Self {
        self.retention_days = Some(days);
        self
    }
}

/// What holds for a consent purpose when a person made no statement.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentDefault {
    /// Denied until granted (the default).
    #[default]
    OptIn,
    /// Granted until denied.
    OptOut,
}

/// A consent purpose: marketing, analytics, …
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurposeDef {
    /// The purpose's name.
    pub name: String,
    /// What holds with no statement.
    #[serde(default)]
    pub default: ConsentDefault,
}

/// A channel an audience is activated on, with the identifier kind that addresses it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelDef {
    /// The channel's name.
    pub name: String,
    /// The identifier kind whose values are this channel's addresses (email → `email`).
    #[serde(default)]
    pub address_kind: Option<String>,
}

/// Everything a schema declares, as plain data: what hosts keep in JSON or TOML.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaDef {
    /// Identifier kinds.
    pub identifier_kinds: Vec<IdentifierKindDef>,
    /// Sources.
    pub sources: Vec<SourceDef>,
    /// Traits.
    #[serde(default)]
    pub traits: Vec<TraitDef>,
    /// Event kinds.
    #[serde(default)]
    pub event_kinds: Vec<EventKindDef>,
    /// Consent purposes.
    #[serde(default)]
    pub purposes: Vec<PurposeDef>,
    /// Channels.
    #[serde(default)]
    pub channels: Vec<ChannelDef>,
    /// Computed traits, derived from events.
    #[serde(default)]
    pub computed: Vec<ComputedDef>,
    /// RFM models.
    #[serde(default)]
    pub rfm_models: Vec<RfmModelDef>,
    /// Named RFM segments, in label order (see [`crate::rfm`]).
    #[serde(default)]
    pub rfm_segments: Vec<RfmSegmentDef>,
    /// How long records are kept: a record whose time is more than this many days older
    /// than the engine clock is dropped as if it had never arrived — its observations,
    /// events and consent statements, and the links it made (profiles are rebuilt from
    /// their other records) — on `advance_time` or `apply_retention`, and refused on
    /// arrival. `None` (the default): forever.
    #[serde(default)]
    pub record_retention_days: Option<u32>,
}
