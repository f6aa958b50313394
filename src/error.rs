//! Errors: one narrow `#[non_exhaustive]` enum per kind of operation, each variant carrying
//! the offending name or value, and the umbrella [`Error`] that converts from all of them.

use thiserror::Error;

use crate::ids::{ProfileId, SegmentId};
use crate::money::Currency;
use crate::time::Timestamp;

/// A bad time value or a clock misuse.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TimeError {
    /// A timestamp outside years 1..=9999.
    #[error("timestamp {millis} ms is outside years 1..=9999")]
    OutOfRange {
        /// The rejected value, in milliseconds since the epoch.
        millis: i64,
    },
    /// A window that can hold no instant (0 days, or `to <= from`).
    #[error("the window is empty")]
    EmptyWindow,
    /// A time-relative question was asked before the host set the clock.
    #[error("the engine clock is unset: call advance_time first")]
    ClockUnset,
    /// `advance_time` to a time before the current one.
    #[error("the clock cannot move backwards from {now} to {to}")]
    Backwards {
        /// The current time.
        now: Timestamp,
        /// The rejected time.
        to: Timestamp,
    },
}

/// A bad amount of money or an unsafe sum.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MoneyError {
    /// Not an active ISO 4217 code.
    #[error("unknown currency code {0:?}")]
    UnknownCurrency(String),
    /// Two currencies in one sum.
    #[error("cannot add {left} and {right}")]
    MixedCurrencies {
        /// The currency of the left operand.
        left: Currency,
        /// The currency of the right operand.
        right: Currency,
    },
    /// Not a decimal amount with at most the currency's number of decimals.
    #[error("{text:?} is not an amount in {currency} (digits, optional '-', at most {} decimals)", currency.exponent())]
    BadAmount {
        /// The text (at most 64 characters of it).
        text: String,
        /// The currency.
        currency: Currency,
    },
    /// The sum does not fit in 64 bits of minor units.
    #[error("sum of {currency} amounts overflows")]
    Overflow {
        /// The currency summed.
        currency: Currency,
    },
}

/// A schema that cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// Two definitions of one kind of item share a name.
    #[error("duplicate {what} name {name:?}")]
    DuplicateName {
        /// What kind of item (identifier kind, trait, source, …).
        what: &'static str,
        /// The repeated name.
        name: String,
    },
    /// A name that is empty, longer than 64 bytes, or not of `[A-Za-z_][A-Za-z0-9_]*`.
    #[error(
        "invalid {what} name {name:?}: use 1 to 64 ASCII letters, digits and '_', not starting with a digit"
    )]
    InvalidName {
        /// What kind of item.
        what: &'static str,
        /// The rejected name.
        name: String,
    },
    /// An event kind kept for 0 days.
    #[error("event kind {kind:?} has retention_days 0; leave it out to keep events forever")]
    ZeroRetention {
        /// The kind.
        kind: String,
    },
    /// A record log kept for 0 days.
    #[error("record_retention_days is 0; leave it out to keep records forever")]
    ZeroRecordRetention,
    /// An identifier kind with `limit: 0`.
    #[error("identifier kind {kind:?} has limit 0")]
    ZeroLimit {
        /// The kind.
        kind: String,
    },
    /// A priority of 0 (1 is the strongest).
    #[error("{what} {name:?} has priority 0; priorities start at 1")]
    ZeroPriority {
        /// What kind of item.
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// A merge strategy that does not fit the trait's type.
    #[error("trait {name:?}: strategy {strategy} does not fit type {ty}")]
    StrategyMismatch {
        /// The trait.
        name: String,
        /// The strategy.
        strategy: &'static str,
        /// The trait's type.
        ty: &'static str,
    },
    /// A name that refers to a source the schema does not declare.
    #[error("{place} names unknown source {source_name:?}")]
    UnknownSource {
        /// Where the reference is.
        place: String,
        /// The unknown source.
        source_name: String,
    },
    /// A name that refers to an identifier kind the schema does not declare.
    #[error("{place} names unknown identifier kind {kind:?}")]
    UnknownIdentifierKind {
        /// Where the reference is.
        place: String,
        /// The unknown kind.
        kind: String,
    },
    /// A phone region that is not an ISO 3166 alpha-2 code known to libphonenumber.
    #[error("identifier kind {kind:?}: unknown phone region {region:?}")]
    BadRegion {
        /// The kind.
        kind: String,
        /// The rejected region.
        region: String,
    },
    /// A blocked value that its kind's normalizer cannot parse, so it could never match.
    #[error("identifier kind {kind:?}: blocked value {value:?} does not normalize")]
    BadBlockedValue {
        /// The kind.
        kind: String,
        /// The rejected value.
        value: String,
    },
    /// Phone normalization was asked for, but the crate was built without feature `phone`.
    #[error("identifier kind {kind:?} uses phone normalization: enable the `phone` feature")]
    PhoneFeatureDisabled {
        /// The kind.
        kind: String,
    },
    /// A schema with no identifier kind can link nothing.
    #[error("the schema declares no identifier kind")]
    NoIdentifierKinds,
    /// A schema with no source can accept no record.
    #[error("the schema declares no source")]
    NoSources,
    /// A computed trait that does not fit the schema.
    #[error("computed trait {name:?}: {problem}")]
    Computed {
        /// The computed trait.
        name: String,
        /// What is wrong with it.
        problem: ComputedProblem,
    },
    /// An RFM model that cannot be built.
    #[error("RFM model {model:?}: {problem}")]
    Rfm {
        /// The model.
        model: String,
        /// What is wrong with it.
        problem: RfmProblem,
    },
    /// A named RFM segment that cannot be built.
    #[error("RFM segment {name:?}: {problem}")]
    RfmSegment {
        /// The segment.
        name: String,
        /// What is wrong with it.
        problem: RfmProblem,
    },
    /// More items of one kind than the engine addresses (65,535).
    #[error("too many {what}: {count}")]
    TooMany {
        /// What kind of item.
        what: &'static str,
        /// How many were declared.
        count: usize,
    },
}

/// What is wrong with a computed trait's definition.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ComputedProblem {
    /// It names an event kind the schema does not declare.
    #[error("unknown event kind {0:?}")]
    UnknownEventKind(String),
    /// It names a property its event kind does not declare.
    #[error("event kind {kind:?} has no property {property:?}")]
    UnknownProperty {
        /// The event kind.
        kind: String,
        /// The property.
        property: String,
    },
    /// A condition value of the wrong type.
    #[error("condition on {property:?}: expected {expected}, got {got}")]
    ConditionType {
        /// The property.
        property: String,
        /// The property's type.
        expected: &'static str,
        /// The value's type.
        got: &'static str,
    },
    /// The properties it reads have different types across event kinds.
    #[error("the properties it reads differ in type")]
    MixedTypes,
    /// A sum, minimum, maximum or average over a property that is not integer or money.
    #[error("needs an integer or money property, got {got}")]
    NotNumeric {
        /// The property's type.
        got: &'static str,
    },
    /// A sum, minimum, maximum or average that no event kind feeds.
    #[error("no event kind has the property it reads")]
    NoEvents,
    /// A money computation without `currency`.
    #[error("reads money, so it needs a currency")]
    MissingCurrency,
    /// A `currency` on a computation that reads no money.
    #[error("has a currency but reads no money")]
    CurrencyWithoutMoney,
    /// A window that can hold no instant.
    #[error("empty window")]
    EmptyWindow,
    /// It names a trait the schema does not declare.
    #[error("unknown trait {0:?}")]
    UnknownTrait(String),
    /// A time zone trait that is not a text trait.
    #[error("time zone trait {0:?} is not a text trait")]
    TimeZoneNotText(String),
}

/// What is wrong with an RFM model or a named RFM segment.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RfmProblem {
    /// It names an event kind the schema does not declare.
    #[error("unknown event kind {0:?}")]
    UnknownEventKind(String),
    /// It names a property its event kind does not declare.
    #[error("event kind {kind:?} has no property {property:?}")]
    UnknownProperty {
        /// The event kind.
        kind: String,
        /// The property.
        property: String,
    },
    /// An amount property that is not money.
    #[error("property {property:?} of {kind:?} is {got}, not money")]
    NotMoney {
        /// The event kind.
        kind: String,
        /// The property.
        property: String,
        /// Its type.
        got: &'static str,
    },
    /// Bins outside 2..=10.
    #[error("{0} bins: must be 2..=10")]
    Bins(u8),
    /// No activity event kind.
    #[error("no activity event kind")]
    NoActivity,
    /// An activity kind listed twice.
    #[error("activity kind {0:?} is listed twice")]
    DuplicateActivity(String),
    /// A weight outside 1..=1000.
    #[error("weight {weight} of {kind:?}: must be 1..=1000")]
    Weight {
        /// The activity kind.
        kind: String,
        /// The weight.
        weight: u16,
    },
    /// The refund kind is also the purchase kind.
    #[error("refund kind {0:?} is the purchase kind")]
    RefundIsPurchase(String),
    /// Fixed breaks of the wrong number (`bins − 1` are needed).
    #[error("{dimension}: {got} breaks, expected {expected}")]
    BreakCount {
        /// `recency_days`, `frequency` or `monetary_minor`.
        dimension: &'static str,
        /// `bins − 1`.
        expected: usize,
        /// How many were given.
        got: usize,
    },
    /// Fixed breaks that are not strictly ascending.
    #[error("{dimension}: breaks {breaks:?} are not strictly ascending")]
    BreaksNotAscending {
        /// `recency_days`, `frequency` or `monetary_minor`.
        dimension: &'static str,
        /// The breaks.
        breaks: Vec<i64>,
    },
    /// A segment naming an RFM model the schema does not declare.
    #[error("unknown RFM model {0:?}")]
    UnknownModel(String),
    /// A score range outside 1..=10 or with `min > max`.
    #[error("score range {min}..={max} is empty or outside 1..=10")]
    ScoreRange {
        /// Least score.
        min: u8,
        /// Greatest score.
        max: u8,
    },
    /// A value range with `min > max`.
    #[error("value range {min}..={max} is empty")]
    ValueRange {
        /// Least value.
        min: i64,
        /// Greatest value.
        max: i64,
    },
}

/// Why one identifier of a record was not used for linking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DropReason {
    /// Empty after normalization.
    Empty,
    /// The kind's normalizer could not parse it (e.g. not a phone number).
    Unparseable,
    /// A blocked value of its kind (e.g. `test@test.com`).
    Blocked,
    /// Linking it would exceed the per-profile limit of this identifier kind.
    Limit,
    /// The same normalized identifier appears earlier in the record.
    Repeated,
}

/// A record the engine refuses; the engine is left exactly as it was.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The record is older than the record log keeps
    /// ([`crate::schema::SchemaDef::record_retention_days`]): it would be dropped at once.
    #[error(
        "the record's time {at} is more than {days} days before the clock ({now}): past the record log's retention"
    )]
    PastRetention {
        /// The record's time.
        at: Timestamp,
        /// The clock.
        now: Timestamp,
        /// The record log's retention, in days.
        days: u32,
    },
    /// The record names a source the schema does not declare.
    #[error("unknown source {0:?}")]
    UnknownSource(String),
    /// `identifiers[index]` names an identifier kind the schema does not declare.
    #[error("identifiers[{index}]: unknown identifier kind {kind:?}")]
    UnknownIdentifierKind {
        /// Position in the record's identifier list.
        index: usize,
        /// The unknown kind.
        kind: String,
    },
    /// `traits[index]` names a trait the schema does not declare.
    #[error("traits[{index}]: unknown trait {name:?}")]
    UnknownTrait {
        /// Position in the record's trait list.
        index: usize,
        /// The unknown name.
        name: String,
    },
    /// `traits[index]` has a value of the wrong type.
    #[error("traits[{index}] ({name}): expected {expected}, got {got}")]
    TraitType {
        /// Position in the record's trait list.
        index: usize,
        /// The trait.
        name: String,
        /// The schema's type.
        expected: &'static str,
        /// The value's type.
        got: &'static str,
    },
    /// `events[index]` names an event kind the schema does not declare.
    #[error("events[{index}]: unknown event kind {kind:?}")]
    UnknownEventKind {
        /// Position in the record's event list.
        index: usize,
        /// The unknown kind.
        kind: String,
    },
    /// `events[event]` has a property its kind does not declare.
    #[error("events[{event}]: unknown property {name:?} of {kind}")]
    UnknownProperty {
        /// Position in the record's event list.
        event: usize,
        /// The event kind.
        kind: String,
        /// The unknown property.
        name: String,
    },
    /// `events[event]` has the same property twice.
    #[error("events[{event}]: property {name:?} given twice")]
    DuplicateProperty {
        /// Position in the record's event list.
        event: usize,
        /// The repeated property.
        name: String,
    },
    /// `events[event]` has a property value of the wrong type.
    #[error("events[{event}].{name}: expected {expected}, got {got}")]
    PropertyType {
        /// Position in the record's event list.
        event: usize,
        /// The property.
        name: String,
        /// The schema's type.
        expected: &'static str,
        /// The value's type.
        got: &'static str,
    },
    /// `events[event]` has a negative value where the schema says non-negative.
    #[error("events[{event}].{name}: must not be negative")]
    Negative {
        /// Position in the record's event list.
        event: usize,
        /// The property.
        name: String,
    },
    /// A text longer than the configured maximum.
    #[error("{field}: {len} bytes exceeds the limit of {max}")]
    TooLong {
        /// The field, e.g. `traits[2]` or `identifiers[0]` or `message_id`.
        field: String,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A list longer than the configured maximum.
    #[error("{field}: {len} entries exceed the limit of {max}")]
    TooMany {
        /// The list, e.g. `identifiers`.
        field: String,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// No identifier of the record can link it (all empty, blocked or unparseable).
    #[error("the record has no usable identifier ({} dropped)", dropped.len())]
    NoUsableIdentifier {
        /// Each identifier and why it was dropped.
        dropped: Vec<(String, String, DropReason)>,
    },
    /// `events[event]` lies beyond the clock plus the configured future tolerance.
    #[error("events[{event}]: time {at} is beyond the accepted limit {limit}")]
    EventInFuture {
        /// Position in the record's event list.
        event: usize,
        /// The event's time.
        at: Timestamp,
        /// The latest time accepted now.
        limit: Timestamp,
    },
    /// `events[event]` carries money in another currency than a computed trait it feeds.
    #[error(
        "events[{event}].{property}: {got} cannot feed computed trait {computed} in {expected}"
    )]
    CurrencyMismatch {
        /// Position in the record's event list.
        event: usize,
        /// The property.
        property: String,
        /// The computed trait.
        computed: String,
        /// Its currency.
        expected: Currency,
        /// The event's currency.
        got: Currency,
    },
    /// `traits[index]` should hold a time zone, but the value is not a known IANA name.
    #[error("traits[{index}] ({name}): unknown time zone {value:?}")]
    UnknownTimeZone {
        /// Position in the record's trait list.
        index: usize,
        /// The trait.
        name: String,
        /// The rejected value.
        value: String,
    },
    /// An amount read by an RFM model in another currency than the model's.
    #[error("events[{event}].{property}: RFM model {model} reads {expected}, got {got}")]
    RfmCurrencyMismatch {
        /// Index of the event in the record.
        event: usize,
        /// The property.
        property: String,
        /// The model.
        model: String,
        /// The model's currency.
        expected: Currency,
        /// The amount's currency.
        got: Currency,
    },
    /// Applying the record could overflow an RFM model's monetary sum.
    #[error("RFM model {model}: the monetary sum overflows")]
    RfmOverflow {
        /// The model.
        model: String,
    },
    /// The record log is full (2^48 records).
    #[error("the record log is full")]
    LogFull,
    /// The record carries an identifier of an erased person (see
    /// [`crate::Engine::erase`]); pass [`crate::IngestOptions::allow_erased`] to let it in.
    #[error("identifiers[{index}]: a {kind} identifier of an erased person")]
    Erased {
        /// Position of the identifier in the record.
        index: usize,
        /// Its kind.
        kind: String,
    },
    /// Erasure hashes exist but no key was set to check records against them
    /// ([`crate::Engine::set_erasure_key`]).
    #[error("erased identifiers are kept as keyed hashes, and no erasure key is set")]
    ErasureKeyMissing,
    /// A consent statement names a purpose the schema does not declare.
    #[error("consent[{index}]: unknown purpose {purpose:?}")]
    UnknownPurpose {
        /// Position of the statement in the record.
        index: usize,
        /// The purpose as given (at most 64 characters).
        purpose: String,
    },
    /// A consent statement names a channel the schema does not declare.
    #[error("consent[{index}]: unknown channel {channel:?}")]
    UnknownChannel {
        /// Position of the statement in the record.
        index: usize,
        /// The channel as given (at most 64 characters).
        channel: String,
    },
    /// Applying the record would overflow a sum trait (in `currency`, or as an integer).
    #[error("trait {name}: the sum overflows{}", currency.map(|c| format!(" in {c}")).unwrap_or_default())]
    SumOverflow {
        /// The trait.
        name: String,
        /// The currency of a money sum; `None` for an integer sum.
        currency: Option<Currency>,
    },
}

/// A question about the engine's state that cannot be answered.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LookupError {
    /// No profile ever had this id.
    #[error("unknown profile {0}")]
    UnknownProfile(ProfileId),
    /// The profile was erased.
    #[error("profile {0} was erased")]
    Erased(ProfileId),
    /// The profile's records are now in several profiles: a merge it took part in was
    /// undone (see [`crate::Engine::unmerge`]).
    #[error("profile {id} was split into {into:?}")]
    Split {
        /// The id asked for.
        id: ProfileId,
        /// The live profiles its records are in now.
        into: Vec<ProfileId>,
    },
    /// An identifier kind the schema does not declare.
    #[error("unknown identifier kind {0:?}")]
    UnknownIdentifierKind(String),
    /// A computed trait the schema does not declare.
    #[error("unknown computed trait {0:?}")]
    UnknownComputed(String),
    /// An RFM model the schema does not declare.
    #[error("unknown RFM model {0:?}")]
    UnknownRfmModel(String),
    /// A named RFM segment the schema does not declare for the model.
    #[error("RFM model {model:?} has no segment {name:?}")]
    UnknownRfmSegment {
        /// The model.
        model: String,
        /// The segment.
        name: String,
    },
}

/// A segment expression that cannot be compiled; `path` names the place in it, e.g.
/// `and[1].not.trait(country)`.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{path}: {problem}")]
pub struct CompileError {
    /// Where in the expression.
    pub path: String,
    /// What is wrong there.
    pub problem: CompileProblem,
}

/// What is wrong with one place of a segment expression.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CompileProblem {
    /// A trait the schema does not declare.
    #[error("unknown trait {0:?}")]
    UnknownTrait(String),
    /// A computed trait the schema does not declare.
    #[error("unknown computed trait {0:?}")]
    UnknownComputed(String),
    /// An event kind the schema does not declare.
    #[error("unknown event kind {0:?}")]
    UnknownEventKind(String),
    /// A property its event kind does not declare.
    #[error("event kind {kind:?} has no property {property:?}")]
    UnknownProperty {
        /// The event kind.
        kind: String,
        /// The property.
        property: String,
    },
    /// An identifier kind the schema does not declare.
    #[error("unknown identifier kind {0:?}")]
    UnknownIdentifierKind(String),
    /// A named segment that is not defined.
    #[error("unknown segment {0:?}")]
    UnknownSegment(String),
    /// An RFM model the schema does not declare.
    #[error("unknown RFM model {0:?}")]
    UnknownRfmModel(String),
    /// A named RFM segment the schema does not declare for the model.
    #[error("RFM model {model:?} has no segment {name:?}")]
    UnknownRfmSegment {
        /// The model.
        model: String,
        /// The segment.
        name: String,
    },
    /// A value of the wrong type for what it is compared with.
    #[error("expected a {expected} value, got {got}")]
    TypeMismatch {
        /// The type of what is tested.
        expected: &'static str,
        /// The type of the value given.
        got: &'static str,
    },
    /// A test that values of this type do not support (e.g. `prefix` on an integer).
    #[error("{test} does not apply to {ty} values")]
    Unsupported {
        /// The test.
        test: &'static str,
        /// The type of what is tested.
        ty: &'static str,
    },
    /// An `in` with no values.
    #[error("empty `in` list")]
    EmptyIn,
    /// A window that can hold no instant.
    #[error("empty window")]
    EmptyWindow,
    /// A sample range outside 0..=100 or reversed.
    #[error("sample range {from}..{to} must satisfy from <= to <= 100")]
    SampleRange {
        /// First bucket.
        from: u8,
        /// End bucket.
        to: u8,
    },
    /// A score range outside 1..=10 or reversed.
    #[error("score range {min}..={max} is empty or outside 1..=10")]
    ScoreRange {
        /// Least score.
        min: u8,
        /// Greatest score.
        max: u8,
    },
    /// Nested deeper than the bound.
    #[error("nested deeper than {max} levels (EngineConfig::max_expr_depth)")]
    TooDeep {
        /// The bound.
        max: usize,
    },
    /// More nodes (conditions and `in` values) than the bound.
    #[error("more than {max} nodes (EngineConfig::max_expr_nodes)")]
    TooLarge {
        /// The bound.
        max: usize,
    },
    /// A consent purpose the schema does not declare.
    #[error("unknown purpose {0:?}")]
    UnknownPurpose(String),
    /// A channel the schema does not declare.
    #[error("unknown channel {0:?}")]
    UnknownChannel(String),
    /// An `in` list, property condition or text set with more values than
    /// `EngineConfig::max_in_values`.
    #[error("{len} values exceed the limit of {max} (EngineConfig::max_in_values)")]
    TooManyValues {
        /// How many values it has.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A text longer than `EngineConfig::max_text_bytes`.
    #[error("a text of {len} bytes exceeds the limit of {max} (EngineConfig::max_text_bytes)")]
    TextTooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A fixed set holds a profile id never handed out (the largest such id).
    #[error("profile id {0} was never handed out")]
    UnknownProfile(u32),
}

/// A rectification that cannot be made.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RectifyError {
    /// The profile is unknown or erased.
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// The schema has no such trait.
    #[error("unknown trait {0:?}")]
    UnknownTrait(String),
    /// No such record is held (never accepted, or erased).
    #[error("unknown record {0}")]
    UnknownRecord(crate::ids::RecordId),
    /// A correction is dated by the engine clock, which is unset.
    #[error("the engine clock is unset: a correction is dated by it; call advance_time first")]
    ClockUnset,
    /// The correcting record is refused (a value of the wrong type, an unknown source).
    #[error(transparent)]
    Ingest(#[from] IngestError),
}

/// A page that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PageError {
    /// A page of 0 ids was asked for.
    #[error("a page limit of 0")]
    ZeroLimit,
    /// More ids than a page may hold were asked for.
    #[error("a page limit of {limit}, more than {max}")]
    LimitTooLarge {
        /// The limit asked for.
        limit: usize,
        /// The largest page ([`crate::MAX_PAGE_LIMIT`]).
        max: usize,
    },
    /// The segment is unknown.
    #[error(transparent)]
    Segment(#[from] SegmentError),
}

/// A segment that cannot be registered, unregistered or read.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SegmentError {
    /// Its expression does not compile.
    #[error(transparent)]
    Compile(#[from] CompileError),
    /// A segment of that name is already defined.
    #[error("segment {0:?} is already defined")]
    Duplicate(String),
    /// No segment of that name is registered.
    #[error("unknown segment {0:?}")]
    Unknown(String),
    /// No segment with that id is registered (never, or not any more).
    #[error("unknown segment id {0}")]
    UnknownId(SegmentId),
    /// The expression names the segment being registered.
    #[error("segment {0:?} names itself")]
    Cycle(String),
    /// The segment cannot be unregistered while another names it.
    #[error("segment {segment:?} is named by segment {by:?}")]
    InUse {
        /// The segment to unregister.
        segment: String,
        /// A registered segment that names it.
        by: String,
    },
    /// The expression needs the clock, which is unset.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// An imported audience is not a portable roaring bitmap.
    #[error(transparent)]
    Portable(#[from] crate::segment::PortableError),
}

/// A consent, suppression or activation call that cannot be carried out; nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PrivacyError {
    /// A purpose the schema does not declare.
    #[error("unknown purpose {0:?}")]
    UnknownPurpose(String),
    /// A channel the schema does not declare.
    #[error("unknown channel {0:?}")]
    UnknownChannel(String),
    /// An identifier kind the schema does not declare.
    #[error("unknown identifier kind {0:?}")]
    UnknownIdentifierKind(String),
    /// An identifier value that does not normalize under its kind's rule.
    #[error("identifier {kind}:{value:?} is {reason:?}")]
    BadIdentifier {
        /// The kind.
        kind: String,
        /// The value as given (at most 64 characters).
        value: String,
        /// Why it does not normalize.
        reason: DropReason,
    },
    /// No profile ever had this id.
    #[error("unknown profile {0}")]
    UnknownProfile(ProfileId),
    /// The profile was erased.
    #[error("profile {0} was erased")]
    Erased(ProfileId),
    /// No profile holds this identifier.
    #[error("no profile holds identifier {kind}:{value:?}")]
    UnknownIdentifier {
        /// The kind.
        kind: String,
        /// The value as given (at most 64 characters).
        value: String,
    },
    /// Suppressing an erasure needs a key ([`crate::Engine::set_erasure_key`]).
    #[error("erasure with suppression needs an erasure key")]
    ErasureKeyMissing,
    /// A text longer than the engine's limit.
    #[error("{field}: {len} bytes exceeds the limit of {max}")]
    TooLong {
        /// Which text.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The audience's segment is unknown or its expression does not compile.
    #[error(transparent)]
    Segment(#[from] SegmentError),
}

/// An identity repair that cannot be carried out; nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RepairError {
    /// An identifier kind the schema does not declare.
    #[error("unknown identifier kind {0:?}")]
    UnknownIdentifierKind(String),
    /// A value that does not normalize under its kind's rule.
    #[error("identifier {kind}:{value:?} is {reason:?}")]
    BadIdentifier {
        /// The kind.
        kind: String,
        /// The value as given (at most 64 characters).
        value: String,
        /// Why.
        reason: DropReason,
    },
    /// The value is blocked already (by the schema or by an earlier call).
    #[error("identifier {kind}:{value:?} is blocked already")]
    AlreadyBlocked {
        /// The kind.
        kind: String,
        /// The normalized value.
        value: String,
    },
    /// No such live profile.
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// The profile does not hold the identifier.
    #[error("{profile} does not hold identifier {kind}:{value:?}")]
    NotHeld {
        /// The profile.
        profile: ProfileId,
        /// The kind.
        kind: String,
        /// The normalized value.
        value: String,
    },
    /// The identifier is the profile's last one: its records would have none left.
    #[error("{kind}:{value:?} is the last identifier of {profile}; erase the profile instead")]
    LastIdentifier {
        /// The profile.
        profile: ProfileId,
        /// The kind.
        kind: String,
        /// The normalized value.
        value: String,
    },
    /// Some records carry no other usable identifier: with the value blocked they would
    /// have been refused. Erase their profiles first, or leave the value linkable.
    #[error("{} records carry no other usable identifier", records.len())]
    Orphans {
        /// Those records.
        records: Vec<crate::ids::RecordId>,
    },
}

/// A line of a transactions CSV that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("line {line}: {problem}")]
pub struct CsvError {
    /// The line, counted from 1.
    pub line: usize,
    /// What is wrong with it.
    pub problem: CsvProblem,
}

/// What is wrong with a line of a transactions CSV.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CsvProblem {
    /// Not three comma-separated fields.
    #[error("{0} fields, expected 3 (customer_id,timestamp,amount)")]
    Fields(usize),
    /// An empty customer id.
    #[error("empty customer_id")]
    EmptyCustomer,
    /// Neither `YYYY-MM-DD` nor RFC 3339.
    #[error("bad timestamp {0:?}: expected YYYY-MM-DD or RFC 3339")]
    BadDate(String),
    /// A bad amount.
    #[error("bad amount: {0}")]
    BadAmount(MoneyError),
}

/// A schema change ([`crate::Engine::change_schema`]) that conflicts with the data the
/// engine holds. The engine is left exactly as it was.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SchemaChangeError {
    /// The new schema itself is invalid (from the `add_*` and `remove_schema_item`
    /// helpers, which build it).
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// A trait changed type while observations of it are held.
    #[error(
        "trait {trait_name:?} holds {observations} observations of type {from:?}; it cannot become {to:?}"
    )]
    TraitTypeChanged {
        /// The trait.
        trait_name: String,
        /// Its type now.
        from: crate::schema::TraitType,
        /// The type asked for.
        to: crate::schema::TraitType,
        /// Observations held.
        observations: usize,
    },
    /// An event property changed type while events carry it.
    #[error(
        "property {property:?} of event kind {kind:?} is {from:?} on {events} events; it cannot become {to:?}"
    )]
    PropertyTypeChanged {
        /// The event kind.
        kind: String,
        /// The property.
        property: String,
        /// Its type now.
        from: crate::schema::PropertyType,
        /// The type asked for.
        to: crate::schema::PropertyType,
        /// Events carrying it.
        events: usize,
    },
    /// An identifier kind would be removed, or its rules (normalizer, limit, priority,
    /// blocked values) changed, while identifiers of it are held: linking would have
    /// gone otherwise. Erase, block ([`crate::Engine::block_identifier_value`]) or
    /// unmerge first.
    #[error(
        "identifier kind {kind:?} is in use ({uses} identifiers, suppressions, blocked values or splits): it cannot be {change}"
    )]
    IdentifierKindInUse {
        /// The kind.
        kind: String,
        /// "removed" or "given other rules".
        change: &'static str,
        /// How many things refer to it.
        uses: usize,
    },
    /// A source would be removed while records, observations or consent statements
    /// come from it.
    #[error("source {source_name:?} is in use by {uses} records, observations or statements")]
    SourceInUse {
        /// The source.
        source_name: String,
        /// How many things refer to it.
        uses: usize,
    },
    /// A consent purpose or channel would be removed while statements, restrictions or
    /// suppressions refer to it: consent history is evidence and is never dropped by a
    /// schema change.
    #[error("{item} is in use by {uses} consent statements, restrictions or suppressions")]
    ConsentInUse {
        /// The purpose or channel.
        item: crate::engine::SchemaItem,
        /// How many things refer to it.
        uses: usize,
    },
    /// A registered segment does not compile under the new schema (it refers to
    /// something removed or changed). Unregister it first.
    #[error("registered segment {segment:?} does not compile under the new schema: {problem}")]
    SegmentConflict {
        /// The segment.
        segment: String,
        /// Why.
        problem: String,
    },
    /// The held data does not fit the new schema in another way (for example an RFM
    /// model in a currency the stored orders are not in).
    #[error("the held data does not fit the new schema: {0}")]
    DataConflict(String),
}

/// Any error of this crate.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// See [`TimeError`].
    #[error(transparent)]
    Time(#[from] TimeError),
    /// See [`MoneyError`].
    #[error(transparent)]
    Money(#[from] MoneyError),
    /// See [`SchemaError`].
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// See [`IngestError`].
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// See [`LookupError`].
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// See [`CsvError`].
    #[error(transparent)]
    Csv(#[from] CsvError),
    /// See [`CompileError`].
    #[error(transparent)]
    Compile(#[from] CompileError),
    /// See [`SegmentError`].
    #[error(transparent)]
    Segment(#[from] SegmentError),
    /// See [`PrivacyError`].
    #[error(transparent)]
    Privacy(#[from] PrivacyError),
    /// See [`RepairError`].
    #[error(transparent)]
    Repair(#[from] RepairError),
    /// See [`RectifyError`].
    #[error(transparent)]
    Rectify(#[from] RectifyError),
    /// See [`PageError`].
    #[error(transparent)]
    Page(#[from] PageError),
    /// See [`crate::snapshot::RestoreError`].
    #[error(transparent)]
    Restore(#[from] crate::snapshot::RestoreError),
    /// See [`SchemaChangeError`].
    #[error(transparent)]
    SchemaChange(#[from] SchemaChangeError),
    /// See [`crate::segment::PortableError`].
    #[error(transparent)]
    Portable(#[from] crate::segment::PortableError),
    /// See [`crate::sql::SqlError`].
    #[cfg(feature = "sql")]
    #[error(transparent)]
    Sql(#[from] crate::sql::SqlError),
}
