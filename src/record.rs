//! [`Record`]: what the host feeds the engine, and [`Value`], a typed trait value.

use serde::{Deserialize, Serialize};

use crate::money::Money;
use crate::schema::TraitType;
use crate::time::Timestamp;

/// A typed value of a trait.
///
/// In JSON a value is tagged by its type: `{"text": "DE"}`, `{"integer": 42}`,
/// `{"money": {"minor": 1299, "currency": "EUR"}}`, `{"text_set": ["jazz", "soul"]}`.
/// Values of one type are totally ordered (texts by bytes, text sets lexicographically).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    /// UTF-8 text.
    Text(String),
    /// A signed integer.
    Integer(i64),
    /// True or false.
    Boolean(bool),
    /// A point in time.
    Timestamp(Timestamp),
    /// An amount of money.
    Money(Money),
    /// A set of texts (kept sorted and without repeats).
    TextSet(Vec<String>),
}

impl Value {
    /// The type of this value.
    pub fn trait_type(&self) -> TraitType {
        match self {
            Value::Text(_) => TraitType::Text,
            Value::Integer(_) => TraitType::Integer,
            Value::Boolean(_) => TraitType::Boolean,
            Value::Timestamp(_) => TraitType::Timestamp,
            Value::Money(_) => TraitType::Money,
            Value::TextSet(_) => TraitType::TextSet,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Integer(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Boolean(b)
    }
}

impl From<Timestamp> for Value {
    fn from(t: Timestamp) -> Self {
        Value::Timestamp(t)
    }
}

impl From<Money> for Value {
    fn from(m: Money) -> Self {
        Value::Money(m)
    }
}

/// One identifier on a record, as the source spelled it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifierInput {
    /// The identifier kind's name, e.g. `email`.
    pub kind: String,
    /// The raw value; normalized by the kind's rule on ingest.
    pub value: String,
}

/// One trait observation on a record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraitInput {
    /// The trait's name.
    pub name: String,
    /// The observed value.
    pub value: Value,
}

/// One property of an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertyInput {
    /// The property's name, from the event kind's definition.
    pub name: String,
    /// Its value: text, integer, money or boolean, as the schema says.
    pub value: Value,
}

/// An event a record carries: a kind from the schema, its own time, typed properties.
///
/// ```
/// use audience::{Currency, EventInput, Money, Timestamp};
/// let at = Timestamp::from_secs(1_700_000_000)?;
/// let order = EventInput::new("order_completed", at)
///     .property("amount", Money::new(1_299, Currency::new("EUR")?))
///     .property("category", "jazz");
/// assert_eq!(order.properties.len(), 2);
/// # Ok::<(), audience::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// The event kind's name, e.g. `order_completed`.
    pub kind: String,
    /// When it happened.
    pub at: Timestamp,
    /// Typed properties.
    #[serde(default)]
    pub properties: Vec<PropertyInput>,
}

impl EventInput {
    /// An event of `kind` at `at` with no properties.
    pub fn new(kind: impl Into<String>, at: Timestamp) -> Self {
        EventInput {
            kind: kind.into(),
            at,
            properties: Vec::new(),
        }
    }

    /// Adds a property.
    pub fn property(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.properties.push(PropertyInput {
            name: name.into(),
            value: value.into(),
        });
        self
    }
}

/// A consent statement a record carries: a person granted or denied a purpose, on one
/// channel or on every channel of the purpose, at the record's time.
///
/// A "do not sell or share" signal (Global Privacy Control) is a denial of the
/// `sale_or_share` purpose on every channel, like any other statement.
///
/// ```
/// use audience::ConsentInput;
/// let opt_in = ConsentInput::grant("marketing").channel("email").proof("signup form v3");
/// assert!(opt_in.granted);
/// let gpc = ConsentInput::deny("sale_or_share"); // every channel
/// assert_eq!(gpc.channel, None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    /// The purpose's name, from the schema.
    pub purpose: String,
    /// The channel's name, from the schema; `None` for every channel of the purpose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Granted (`true`) or denied.
    pub granted: bool,
    /// Proof: the form or banner version, the text shown; kept verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<String>,
}

impl ConsentInput {
    /// A grant of `purpose` on every channel (narrow it with [`ConsentInput::channel`]).
    pub fn grant(purpose: impl Into<String>) -> Self {
        ConsentInput {
            purpose: purpose.into(),
            channel: None,
            granted: true,
            proof: None,
        }
    }

    /// A denial of `purpose` on every channel (narrow it with [`ConsentInput::channel`]).
    pub fn deny(purpose: impl Into<String>) -> Self {
        ConsentInput {
            granted: false,
            ..ConsentInput::grant(purpose)
        }
    }

    /// Limits the statement to one channel.
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = Some(channel.into());
        self
    }

    /// Attaches proof (form or banner version, text shown).
    pub fn proof(mut self, proof: impl Into<String>) -> Self {
        self.proof = Some(proof.into());
        self
    }
}

/// What the host feeds the engine: who (identifiers), when, from where, and what was
/// observed. Validated as a whole before anything changes.
///
/// ```
/// use audience::{Record, Timestamp};
/// let record = Record::builder(Timestamp::from_secs(1_700_000_000)?, "web")
///     .message_id("m-1")
///     .identifier("email", " Ann@Example.com ")
///     .trait_value("country", "DE")
///     .build();
/// assert_eq!(record.identifiers.len(), 1);
/// # Ok::<(), audience::TimeError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// When it happened (event time, not arrival time).
    pub timestamp: Timestamp,
    /// The source's name, from the schema.
    pub source: String,
    /// The sender's message id, for de-duplication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Identifiers that link the record to a profile.
    #[serde(default)]
    pub identifiers: Vec<IdentifierInput>,
    /// Trait observations.
    #[serde(default)]
    pub traits: Vec<TraitInput>,
    /// Events (a track call carries one; a batch import may carry many).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventInput>,
    /// Consent statements, made at the record's time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consent: Vec<ConsentInput>,
}

impl Record {
    /// Starts a record at `timestamp` from `source`.
    pub fn builder(timestamp: Timestamp, source: impl Into<String>) -> RecordBuilder {
        RecordBuilder {
            record: Record {
                timestamp,
                source: source.into(),
                message_id: None,
                identifiers: Vec::new(),
                traits: Vec::new(),
                events: Vec::new(),
                consent: Vec::new(),
            },
        }
    }
}

/// Builds a [`Record`]; nothing is checked until the engine ingests it.
#[derive(Clone, Debug)]
pub struct RecordBuilder {
    record: Record,
}

impl RecordBuilder {
    /// Sets the message id.
    pub fn message_id(mut self, id: impl Into<String>) -> Self {
        self.record.message_id = Some(id.into());
        self
    }

    /// Adds an identifier.
    pub fn identifier(mut self, kind: impl Into<String>, value: impl Into<String>) -> Self {
        self.record.identifiers.push(IdentifierInput {
            kind: kind.into(),
            value: value.into(),
        });
        self
    }

    /// Adds a trait observation.
    pub fn trait_value(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.record.traits.push(TraitInput {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    /// Adds an event.
    pub fn event(mut self, event: EventInput) -> Self {
        self.record.events.push(event);
        self
    }

    /// Adds a consent statement.
    pub fn consent(mut self, statement: ConsentInput) -> Self {
        self.record.consent.push(statement);
        self
    }

    /// The finished record.
    pub fn build(self) -> Record {
        self.record
    }
}
