//! [`SpecMapper`]: a [`Mapping`] resolved against a schema, turning one message into a
//! [`Record`].

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::value::RawValue;
use thiserror::Error;

use crate::ids::{EventKindId, TraitId};
use crate::money::Currency;
use crate::record::{
    ConsentInput, EventInput, IdentifierInput, PropertyInput, Record, TraitInput, Value,
};
use crate::schema::{PropertyType, Schema, TraitType};
use crate::spec::amount::{self, AmountError};
use crate::spec::mapping::{CategoryMapping, Mapping, UnknownEvents};
use crate::spec::message::{Consent, Message, RawMap, id_text, too_deep};
use crate::time::Timestamp;

/// A message that cannot be ingested, with its `messageId` when it has one.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{}{problem}", message_id.as_deref().map_or_else(String::new, |m| format!("message {m:?}: ")))]
pub struct SpecError {
    /// The message's `messageId`, if it has one.
    pub message_id: Option<String>,
    /// What is wrong.
    pub problem: SpecProblem,
}

/// What is wrong with a message.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SpecProblem {
    /// Longer than the mapping's `max_message_bytes`.
    #[error("{len} bytes, more than {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Arrays and objects nested deeper than `max` levels.
    #[error("nested deeper than {max} levels")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// Not JSON, or not a message object.
    #[error("not a message: {0}")]
    Json(String),
    /// A `type` other than identify, track, page, screen, group and alias.
    #[error("unknown type {0:?}")]
    UnknownType(String),
    /// None of `timestamp`, `originalTimestamp`, `receivedAt`.
    #[error("no timestamp, originalTimestamp or receivedAt")]
    NoTimestamp,
    /// A time that is not RFC 3339, or out of range.
    #[error("{field}: {text:?} is not an RFC 3339 time in years 1..=9999")]
    BadTime {
        /// The field.
        field: String,
        /// Its text (at most 64 characters).
        text: String,
    },
    /// An id that is not a string or a number.
    #[error("{0}: not a string or a number")]
    BadId(&'static str),
    /// No `userId`, `anonymousId` or identifier trait.
    #[error("no userId, anonymousId or identifier trait")]
    NoIdentifier,
    /// A value of the wrong JSON type for what the schema expects.
    #[error("{field}: expected {expected}")]
    WrongType {
        /// The field (`traits.age`, `properties.revenue`).
        field: String,
        /// What was expected.
        expected: &'static str,
    },
    /// An amount that is not exact in its currency, or out of range.
    #[error("{field}: {text:?} {reason}")]
    BadAmount {
        /// The field.
        field: String,
        /// Its text (at most 64 characters).
        text: String,
        /// Why.
        reason: AmountError,
    },
    /// A currency code that is not ISO 4217.
    #[error("{field}: unknown currency {code:?}")]
    BadCurrency {
        /// The field.
        field: String,
        /// The code (at most 16 characters).
        code: String,
    },
    /// A `track` event name the mapping does not know, with `unknown_events: refuse`.
    #[error("unknown event {0:?}")]
    UnknownEvent(String),
    /// The record it maps to was refused by the engine.
    #[error(transparent)]
    Ingest(#[from] crate::error::IngestError),
}

/// A mapping that does not fit the schema.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MappingError {
    /// The source is not one of the schema's.
    #[error("unknown source {0:?}")]
    UnknownSource(String),
    /// The default currency is not ISO 4217.
    #[error("unknown currency {0:?}")]
    UnknownCurrency(String),
}

/// A trait target: the schema trait and its type.
#[derive(Clone, Debug)]
struct TraitTarget {
    name: String,
    ty: TraitType,
}

/// Where one event property is read from.
#[derive(Clone, Debug)]
struct PropertyPlan {
    name: String,
    ty: PropertyType,
    candidates: Vec<String>,
}

/// A field name for an error message, put together only when there is an error.
#[derive(Clone, Copy)]
struct Field<'s>(&'s str, &'s str);

impl std::fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// A [`Mapping`] resolved against a schema: what each message field becomes.
#[derive(Clone, Debug)]
pub struct SpecMapper {
    mapping: Mapping,
    currency: Currency,
    user_id: Option<String>,
    anonymous_id: Option<String>,
    previous_id: Option<String>,
    group_id: Option<String>,
    identifier_traits: Vec<(String, String)>,
    traits: BTreeMap<String, TraitTarget>,
    context_traits: BTreeMap<String, TraitTarget>,
    events: BTreeMap<String, EventKindId>,
    /// Per event kind (by index): each schema property and the message names it is read
    /// from, in order (aliases, then its own name, then its camelCase name).
    properties: Vec<Vec<PropertyPlan>>,
    page_event: Option<EventKindId>,
    screen_event: Option<EventKindId>,
    consent_categories: Vec<(String, CategoryMapping)>,
    unsubscribe: Option<CategoryMapping>,
    schema: Schema,
    unmapped: Vec<String>,
}

fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

impl SpecMapper {
    /// Resolves `mapping` against `schema`. Names the schema lacks (a trait, an
    /// identifier kind, an event kind) are left out and listed by
    /// [`SpecMapper::unmapped`], so one mapping serves several schemas.
    ///
    /// # Errors
    /// [`MappingError`] for a source or default currency the schema or ISO 4217 lacks.
    pub fn new(schema: &Schema, mapping: Mapping) -> Result<SpecMapper, MappingError> {
        if schema.source_id(&mapping.source).is_none() {
            return Err(MappingError::UnknownSource(mapping.source.clone()));
        }
        let currency = Currency::new(&mapping.currency)
            .map_err(|_| MappingError::UnknownCurrency(mapping.currency.clone()))?;
        let mut unmapped = Vec::new();
        let mut kind = |what: &str, k: &Option<String>| -> Option<String> {
            let k = k.as_ref()?;
            if schema.kind_id(k).is_some() {
                Some(k.clone())
            } else {
                unmapped.push(format!("{what} → identifier kind {k}"));
                None
            }
        };
        let user_id = kind("userId", &mapping.user_id);
        let anonymous_id = kind("anonymousId", &mapping.anonymous_id);
        let previous_id = kind("previousId", &mapping.previous_id);
        let group_id = kind("groupId", &mapping.group_id);
        let mut identifier_traits = Vec::new();
        for (path, k) in &mapping.identifier_traits {
            if let Some(k) = kind(&format!("traits.{path}"), &Some(k.clone())) {
                identifier_traits.push((path.clone(), k));
            }
        }
        let trait_target = |name: &str| {
            let id: TraitId = schema.trait_id(name)?;
            Some(TraitTarget {
                name: name.to_string(),
                ty: schema.trait_def(id)?.ty,
            })
        };
        let mut traits = BTreeMap::new();
        for (path, name) in &mapping.traits {
            match trait_target(name) {
                Some(t) => {
                    traits.insert(path.clone(), t);
                }
                None => unmapped.push(format!("traits.{path} → trait {name}")),
            }
        }
        let mut context_traits = BTreeMap::new();
        for (field, name) in &mapping.context_traits {
            match trait_target(name) {
                Some(t) => {
                    context_traits.insert(field.clone(), t);
                }
                None => unmapped.push(format!("context.{field} → trait {name}")),
            }
        }
        let mut event = |what: &str, k: &str| match schema.event_kind_id(k) {
            Some(id) => Some(id),
            None => {
                unmapped.push(format!("{what} → event kind {k}"));
                None
            }
        };
        let mut events = BTreeMap::new();
        for (name, k) in &mapping.events {
            if let Some(id) = event(name, k) {
                events.insert(name.clone(), id);
            }
        }
        let page_event = mapping.page_event.clone().and_then(|k| event("page", &k));
        let screen_event = mapping
            .screen_event
            .clone()
            .and_then(|k| event("screen", &k));
        let mut consent = |what: &str, c: &CategoryMapping| {
            let known = schema.purpose_id(&c.purpose).is_some()
                && c.channel
                    .as_ref()
                    .is_none_or(|ch| schema.channel_id(ch).is_some());
            if !known {
                unmapped.push(format!(
                    "{what} → consent {}{}",
                    c.purpose,
                    c.channel
                        .as_ref()
                        .map_or_else(String::new, |ch| format!(" on {ch}"))
                ));
            }
            known
        };
        let consent_categories = mapping
            .consent_categories
            .iter()
            .filter(|(k, c)| consent(&format!("consent category {k}"), c))
            .map(|(k, c)| (k.clone(), c.clone()))
            .collect();
        let unsubscribe = mapping
            .unsubscribe
            .clone()
            .filter(|c| consent("Unsubscribed", c));
        let properties = schema
            .def()
            .event_kinds
            .iter()
            .map(|def| {
                def.properties
                    .iter()
                    .map(|p| {
                        let mut candidates: Vec<String> = mapping
                            .property_aliases
                            .get(&p.name)
                            .cloned()
                            .unwrap_or_default();
                        for n in [p.name.clone(), camel(&p.name)] {
                            if !candidates.contains(&n) {
                                candidates.push(n);
                            }
                        }
                        PropertyPlan {
                            name: p.name.clone(),
                            ty: p.ty,
                            candidates,
                        }
                    })
                    .collect()
            })
            .collect();
        Ok(SpecMapper {
            properties,
            consent_categories,
            unsubscribe,
            currency,
            user_id,
            anonymous_id,
            previous_id,
            group_id,
            identifier_traits,
            traits,
            context_traits,
            events,
            page_event,
            screen_event,
            schema: schema.clone(),
            unmapped,
            mapping,
        })
    }

    /// The mapping.
    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    /// The mapping's entries the schema has no target for, in words.
    pub fn unmapped(&self) -> &[String] {
        &self.unmapped
    }

    /// The record that message `line` (one JSON object) maps to.
    ///
    /// # Errors
    /// A [`SpecError`] naming what is wrong, with the message's `messageId`.
    pub fn record(&self, line: &str) -> Result<Record, SpecError> {
        let fail = |message_id: Option<&str>, problem| SpecError {
            message_id: message_id.map(|m| m.chars().take(256).collect()),
            problem,
        };
        if line.len() > self.mapping.max_message_bytes {
            return Err(fail(
                None,
                SpecProblem::TooLong {
                    len: line.len(),
                    max: self.mapping.max_message_bytes,
                },
            ));
        }
        let max = self.mapping.max_nesting;
        if too_deep(line, max) {
            return Err(fail(None, SpecProblem::TooDeep { max }));
        }
        let m: Message<'_> =
            serde_json::from_str(line).map_err(|e| fail(None, SpecProblem::Json(e.to_string())))?;
        let id = m.message_id.as_deref();
        self.convert(&m).map_err(|p| fail(id, p))
    }

    fn convert(&self, m: &Message<'_>) -> Result<Record, SpecProblem> {
        let kind = m.kind.as_deref().unwrap_or("");
        if !matches!(
            kind,
            "identify" | "track" | "page" | "screen" | "group" | "alias"
        ) {
            return Err(SpecProblem::UnknownType(kind.chars().take(64).collect()));
        }
        let timestamp = self.time(m)?;
        let mut b = Record::builder(timestamp, self.mapping.source.clone());
        if let Some(mid) = &m.message_id {
            b = b.message_id(mid.to_string());
        }
        let mut record = b.build();
        let push_id = |record: &mut Record,
                       kind: &Option<String>,
                       raw: Option<&RawValue>,
                       field: &'static str|
         -> Result<(), SpecProblem> {
            if let (Some(k), Some(raw)) = (kind, raw)
                && let Some(v) = id_text(raw).map_err(|()| SpecProblem::BadId(field))?
            {
                record.identifiers.push(IdentifierInput {
                    kind: k.clone(),
                    value: v,
                });
            }
            Ok(())
        };
        push_id(&mut record, &self.user_id, m.user_id, "userId")?;
        push_id(
            &mut record,
            &self.anonymous_id,
            m.anonymous_id,
            "anonymousId",
        )?;
        if kind == "alias" {
            push_id(&mut record, &self.previous_id, m.previous_id, "previousId")?;
        }
        if kind == "group" {
            push_id(&mut record, &self.group_id, m.group_id, "groupId")?;
        }
        let context = m.context.as_ref();
        let context_traits: Option<RawMap<'_>> = match context.and_then(|c| c.get("traits")) {
            Some(raw) => {
                Some(
                    serde_json::from_str(raw.get()).map_err(|_| SpecProblem::WrongType {
                        field: "context.traits".into(),
                        expected: "an object",
                    })?,
                )
            }
            None => None,
        };
        // A group call's `traits` describe the group, not the person.
        let own_traits = if kind == "group" {
            None
        } else {
            m.traits.as_ref()
        };
        let sources: Vec<(&str, &RawMap<'_>)> = own_traits
            .into_iter()
            .map(|t| ("traits", t))
            .chain(context_traits.iter().map(|t| ("context.traits", t)))
            .collect();
        self.identifier_traits(&mut record, &sources)?;
        self.traits(&mut record, &sources)?;
        if let Some(c) = context {
            for (field, target) in &self.context_traits {
                if let Some(raw) = c.get(field.as_str()) {
                    self.push_trait(&mut record, target, raw, Field("context", field))?;
                }
            }
            if let Some(raw) = c.get("consent") {
                let consent: Consent<'_> =
                    serde_json::from_str(raw.get()).map_err(|_| SpecProblem::WrongType {
                        field: "context.consent".into(),
                        expected: "an object with categoryPreferences",
                    })?;
                for (category, granted) in consent.category_preferences.iter().flatten() {
                    let found = self
                        .consent_categories
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(category));
                    if let Some((_, c)) = found {
                        record.consent.push(statement(c, *granted));
                    }
                }
            }
        }
        let event_kind = match kind {
            "track" => {
                let name = m.event.as_deref().unwrap_or("");
                match self
                    .events
                    .get(name)
                    .copied()
                    .or_else(|| self.schema.event_kind_id(name))
                {
                    Some(k) => Some(k),
                    None if self.mapping.unknown_events == UnknownEvents::Refuse => {
                        return Err(SpecProblem::UnknownEvent(name.chars().take(64).collect()));
                    }
                    None => None,
                }
            }
            "page" => self.page_event,
            "screen" => self.screen_event,
            _ => None,
        };
        if let Some(k) = event_kind {
            let event = self.event(k, m, timestamp)?;
            record.events.push(event);
        }
        if kind == "track"
            && m.event.as_deref() == Some("Unsubscribed")
            && let Some(c) = &self.unsubscribe
        {
            // `properties.channel` naming a schema channel narrows the denial to it.
            let channel = m
                .properties
                .as_ref()
                .and_then(|p| p.get("channel"))
                .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
                .filter(|ch| self.schema.channel_id(ch).is_some());
            let c = match channel {
                Some(ch) => CategoryMapping {
                    purpose: c.purpose.clone(),
                    channel: Some(ch),
                },
                None => c.clone(),
            };
            record.consent.push(statement(&c, false));
        }
        if record.identifiers.is_empty() {
            return Err(SpecProblem::NoIdentifier);
        }
        Ok(record)
    }

    fn time(&self, m: &Message<'_>) -> Result<Timestamp, SpecProblem> {
        let (field, text) = [
            ("timestamp", &m.timestamp),
            ("originalTimestamp", &m.original_timestamp),
            ("receivedAt", &m.received_at),
        ]
        .into_iter()
        .find_map(|(f, t)| t.as_deref().map(|t| (f, t)))
        .ok_or(SpecProblem::NoTimestamp)?;
        parse_time(text).ok_or_else(|| SpecProblem::BadTime {
            field: field.into(),
            text: text.chars().take(64).collect(),
        })
    }

    fn identifier_traits(
        &self,
        record: &mut Record,
        sources: &[(&str, &RawMap<'_>)],
    ) -> Result<(), SpecProblem> {
        for (path, kind) in &self.identifier_traits {
            for (prefix, map) in sources {
                if let Some(raw) = lookup(map, path) {
                    if let Some(v) = id_text(raw).map_err(|()| SpecProblem::WrongType {
                        field: format!("{prefix}.{path}"),
                        expected: "a string",
                    })? {
                        record.identifiers.push(IdentifierInput {
                            kind: kind.clone(),
                            value: v,
                        });
                    }
                    break;
                }
            }
        }
        Ok(())
    }

    fn traits(
        &self,
        record: &mut Record,
        sources: &[(&str, &RawMap<'_>)],
    ) -> Result<(), SpecProblem> {
        let mut seen: Vec<&str> = Vec::new();
        for (path, target) in &self.traits {
            for (prefix, map) in sources {
                if let Some(raw) = lookup(map, path) {
                    seen.push(&target.name);
                    self.push_trait(record, target, raw, Field(prefix, path))?;
                    break;
                }
            }
        }
        // Top-level trait names that are schema traits, not otherwise mapped.
        for (prefix, map) in sources {
            for (key, raw) in map.iter() {
                if self.traits.contains_key(key)
                    || self.identifier_traits.iter().any(|(p, _)| p == key)
                    || seen.contains(&key)
                {
                    continue;
                }
                if let Some(id) = self.schema.trait_id(key)
                    && let Some(def) = self.schema.trait_def(id)
                {
                    seen.push(key);
                    let target = TraitTarget {
                        name: def.name.clone(),
                        ty: def.ty,
                    };
                    self.push_trait(record, &target, raw, Field(prefix, key))?;
                }
            }
        }
        Ok(())
    }

    fn push_trait(
        &self,
        record: &mut Record,
        target: &TraitTarget,
        raw: &RawValue,
        field: Field<'_>,
    ) -> Result<(), SpecProblem> {
        if let Some(value) = self.trait_value(target.ty, raw, field)? {
            record.traits.push(TraitInput {
                name: target.name.clone(),
                value,
            });
        }
        Ok(())
    }

    fn trait_value(
        &self,
        ty: TraitType,
        raw: &RawValue,
        field: Field<'_>,
    ) -> Result<Option<Value>, SpecProblem> {
        let text = raw.get().trim();
        if text == "null" {
            return Ok(None);
        }
        let wrong = |expected| SpecProblem::WrongType {
            field: field.to_string(),
            expected,
        };
        Ok(Some(match ty {
            TraitType::Text => {
                Value::Text(serde_json::from_str::<String>(text).map_err(|_| wrong("a string"))?)
            }
            TraitType::Integer => {
                Value::Integer(text.parse::<i64>().map_err(|_| wrong("an integer"))?)
            }
            TraitType::Boolean => Value::Boolean(
                serde_json::from_str::<bool>(text).map_err(|_| wrong("true or false"))?,
            ),
            TraitType::Timestamp => {
                let s =
                    serde_json::from_str::<String>(text).map_err(|_| wrong("an RFC 3339 time"))?;
                Value::Timestamp(parse_time(&s).ok_or_else(|| wrong("an RFC 3339 time"))?)
            }
            TraitType::Money => Value::Money(self.amount(text, self.currency, field)?),
            TraitType::TextSet => {
                let mut items = serde_json::from_str::<Vec<String>>(text)
                    .map_err(|_| wrong("an array of strings"))?;
                items.sort_unstable();
                items.dedup();
                Value::TextSet(items)
            }
        }))
    }

    fn amount(
        &self,
        text: &str,
        currency: Currency,
        field: Field<'_>,
    ) -> Result<crate::money::Money, SpecProblem> {
        if !text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            return Err(SpecProblem::WrongType {
                field: field.to_string(),
                expected: "a number",
            });
        }
        amount::parse(text, currency, self.mapping.rounding).map_err(|reason| {
            SpecProblem::BadAmount {
                field: field.to_string(),
                text: text.chars().take(64).collect(),
                reason,
            }
        })
    }

    /// The event of kind `kind` a track, page or screen call carries.
    fn event(
        &self,
        kind: EventKindId,
        m: &Message<'_>,
        at: Timestamp,
    ) -> Result<EventInput, SpecProblem> {
        let mut event = EventInput {
            kind: self
                .schema
                .event_kind(kind)
                .map_or_else(String::new, |d| d.name.clone()),
            at,
            properties: Vec::new(),
        };
        let empty = RawMap::default();
        let props = m.properties.as_ref().unwrap_or(&empty);
        let currency = match props.get("currency") {
            Some(raw) => {
                let code = serde_json::from_str::<Cow<'_, str>>(raw.get()).map_err(|_| {
                    SpecProblem::WrongType {
                        field: "properties.currency".into(),
                        expected: "a currency code",
                    }
                })?;
                Currency::new(&code.to_ascii_uppercase()).map_err(|_| SpecProblem::BadCurrency {
                    field: "properties.currency".into(),
                    code: code.chars().take(16).collect(),
                })?
            }
            None => self.currency,
        };
        for p in self.properties.get(kind.index()).into_iter().flatten() {
            let found = p
                .candidates
                .iter()
                .find_map(|n| props.get(n).map(|raw| (n.as_str(), raw)))
                .filter(|(_, raw)| raw.get().trim() != "null");
            let value = match found {
                Some((name, raw)) => {
                    let field = Field("properties", name);
                    let text = raw.get().trim();
                    let wrong = |expected| SpecProblem::WrongType {
                        field: field.to_string(),
                        expected,
                    };
                    Some(match p.ty {
                        PropertyType::Text => Value::Text(
                            serde_json::from_str::<String>(text).map_err(|_| wrong("a string"))?,
                        ),
                        PropertyType::Integer => {
                            Value::Integer(text.parse::<i64>().map_err(|_| wrong("an integer"))?)
                        }
                        PropertyType::Boolean => Value::Boolean(
                            serde_json::from_str::<bool>(text)
                                .map_err(|_| wrong("true or false"))?,
                        ),
                        PropertyType::Money => Value::Money(self.amount(text, currency, field)?),
                    })
                }
                None => match (p.name.as_str(), p.ty) {
                    ("items", PropertyType::Integer) => props
                        .get("products")
                        .and_then(|raw| serde_json::from_str::<Vec<&RawValue>>(raw.get()).ok())
                        .map(|products| {
                            Value::Integer(i64::try_from(products.len()).unwrap_or(i64::MAX))
                        }),
                    ("category", PropertyType::Text) => {
                        m.category.as_deref().map(|c| Value::Text(c.to_string()))
                    }
                    _ => None,
                },
            };
            if let Some(value) = value {
                event.properties.push(PropertyInput {
                    name: p.name.clone(),
                    value,
                });
            }
        }
        Ok(event)
    }
}

fn statement(c: &CategoryMapping, granted: bool) -> ConsentInput {
    ConsentInput {
        purpose: c.purpose.clone(),
        channel: c.channel.clone(),
        granted,
        proof: Some("Segment Spec message".into()),
    }
}

/// The value at `path` (`address.country`) in `map`; `None` where a step is missing or
/// not an object.
fn lookup<'a>(map: &RawMap<'a>, path: &str) -> Option<&'a RawValue> {
    let mut parts = path.split('.');
    let mut raw = map.get(parts.next()?)?;
    for part in parts {
        let inner: RawMap<'a> = serde_json::from_str(raw.get()).ok()?;
        raw = inner.get(part)?;
    }
    Some(raw)
}

/// An RFC 3339 time as a timestamp.
fn parse_time(text: &str) -> Option<Timestamp> {
    let t = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    Timestamp::try_from(t.with_timezone(&chrono::Utc)).ok()
}

#[cfg(test)]
mod tests {
    use super::camel;

    #[test]
    fn camel_case_of_snake_names() {
        assert_eq!(camel("order_id"), "orderId");
        assert_eq!(camel("amount"), "amount");
    }
}
