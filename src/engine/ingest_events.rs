//! The event side of ingest: validating a record's events against the schema, the
//! clock and the computed traits, and turning them into stored events.

use smallvec::SmallVec;

use crate::engine::Engine;
use crate::engine::ingest::Checked;
use crate::error::IngestError;
use crate::event::store::{NewEvent, PropValue};
use crate::ids::{EventKindId, RecordId};
use crate::money::Money;
use crate::record::{EventInput, PropertyInput, Value};
use crate::schema::{Op, PropertyType};

/// The value of the property at schema position `pos` of `event`, whose properties sit at
/// `positions`.
fn value_at<'a>(event: &'a EventInput, positions: &[u16], pos: u16) -> Option<&'a PropertyInput> {
    let i = positions.iter().position(|&p| p == pos)?;
    event.properties.get(i)
}

/// The property at `pos` with its name, if it is an amount of money.
fn money_at<'a>(event: &'a EventInput, positions: &[u16], pos: u16) -> Option<(&'a str, Money)> {
    match value_at(event, positions, pos)? {
        PropertyInput {
            value: Value::Money(m),
            name,
        } => Some((name.as_str(), *m)),
        _ => None,
    }
}

/// The integer or minor units of the property at `pos` (for the sum bounds).
fn amount_at(event: &EventInput, positions: &[u16], pos: u16) -> Option<i64> {
    match &value_at(event, positions, pos)?.value {
        Value::Integer(n) => Some(*n),
        Value::Money(m) => Some(m.minor),
        _ => None,
    }
}

impl Engine {
    /// Checks event `index` of a record against the schema; `kind` is the id its kind
    /// name resolved to (`None`: unknown).
    pub(crate) fn validate_event(
        &self,
        index: usize,
        event: &EventInput,
        kind: Option<EventKindId>,
    ) -> Result<(EventKindId, SmallVec<[u16; 4]>), IngestError> {
        let kind = kind.ok_or_else(|| IngestError::UnknownEventKind {
            index,
            kind: event.kind.chars().take(64).collect(),
        })?;
        let def = self
            .schema
            .event_kind(kind)
            .ok_or_else(|| IngestError::UnknownEventKind {
                index,
                kind: event.kind.clone(),
            })?;
        let max_properties = self.config.max_properties_per_event;
        if event.properties.len() > max_properties {
            // Named only on the error path: a field name costs an allocation.
            self.check_count(
                &format!("events[{index}].properties"),
                event.properties.len(),
                max_properties,
            )?;
        }
        let mut positions = SmallVec::new();
        for p in &event.properties {
            let pos = def
                .properties
                .iter()
                .position(|d| d.name == p.name)
                .ok_or_else(|| IngestError::UnknownProperty {
                    event: index,
                    kind: def.name.clone(),
                    name: p.name.chars().take(64).collect(),
                })?;
            let pos = u16::try_from(pos).unwrap_or(u16::MAX);
            if positions.contains(&pos) {
                return Err(IngestError::DuplicateProperty {
                    event: index,
                    name: p.name.clone(),
                });
            }
            positions.push(pos);
            let Some(pdef) = def.properties.get(usize::from(pos)) else {
                continue;
            };
            let fits = matches!(
                (pdef.ty, &p.value),
                (PropertyType::Text, Value::Text(_))
                    | (PropertyType::Integer, Value::Integer(_))
                    | (PropertyType::Money, Value::Money(_))
                    | (PropertyType::Boolean, Value::Boolean(_))
            );
            if !fits {
                return Err(IngestError::PropertyType {
                    event: index,
                    name: p.name.clone(),
                    expected: pdef.ty.name(),
                    got: p.value.trait_type().name(),
                });
            }
            let negative = match &p.value {
                Value::Integer(n) => *n < 0,
                Value::Money(m) => m.minor < 0,
                _ => false,
            };
            if pdef.non_negative && negative {
                return Err(IngestError::Negative {
                    event: index,
                    name: p.name.clone(),
                });
            }
            if let Value::Text(s) = &p.value {
                self.check_text(|| format!("events[{index}].{}", p.name), s)?;
            }
        }
        self.check_event_time(index, event)?;
        self.check_currencies(index, kind, event, &positions)?;
        Ok((kind, positions))
    }

    /// An event beyond the clock plus the configured tolerance is refused.
    fn check_event_time(&self, index: usize, event: &EventInput) -> Result<(), IngestError> {
        let (Some(now), Some(secs)) = (self.clock.now(), self.config.future_tolerance_secs) else {
            return Ok(());
        };
        let limit = now
            .checked_add_millis(i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000))
            .unwrap_or(crate::time::Timestamp::MAX);
        if event.at > limit {
            return Err(IngestError::EventInFuture {
                event: index,
                at: event.at,
                limit,
            });
        }
        Ok(())
    }

    /// Money that feeds a computed trait must be in that trait's currency.
    fn check_currencies(
        &self,
        index: usize,
        kind: EventKindId,
        event: &EventInput,
        positions: &[u16],
    ) -> Result<(), IngestError> {
        if !event
            .properties
            .iter()
            .any(|p| matches!(p.value, Value::Money(_)))
        {
            return Ok(());
        }
        for (id, rule) in self.schema.computed_rules().iter().enumerate() {
            let Some(expected) = rule.currency else {
                continue;
            };
            for pos in rule.terms(kind).iter().filter_map(|t| t.property) {
                if let Some((name, m)) = money_at(event, positions, pos)
                    && m.currency != expected
                {
                    return Err(IngestError::CurrencyMismatch {
                        event: index,
                        property: name.to_string(),
                        computed: self.computed_name(id),
                        expected,
                        got: m.currency,
                    });
                }
            }
        }
        for (model, rule) in self
            .schema
            .def()
            .rfm_models
            .iter()
            .zip(self.schema.rfm_rules())
        {
            let role = rule.role(kind);
            for pos in [role.adds, role.subtracts].into_iter().flatten() {
                if let Some((name, m)) = money_at(event, positions, pos)
                    && m.currency != rule.currency
                {
                    return Err(IngestError::RfmCurrencyMismatch {
                        event: index,
                        property: name.to_string(),
                        model: model.name.clone(),
                        expected: rule.currency,
                        got: m.currency,
                    });
                }
            }
        }
        Ok(())
    }

    /// The record's events as stored, texts interned.
    pub(crate) fn store_events(&mut self, checked: &Checked<'_>, rid: RecordId) -> Vec<NewEvent> {
        let mut out = Vec::with_capacity(checked.events.len());
        for (seq, input, kind, positions) in checked.kept_events() {
            let mut props: SmallVec<[(u16, PropValue); 2]> = input
                .properties
                .iter()
                .zip(positions)
                .map(|(p, &pos)| {
                    let value = match &p.value {
                        Value::Text(s) => PropValue::Text(self.texts.intern(s)),
                        Value::Integer(n) => PropValue::Integer(*n),
                        Value::Money(m) => PropValue::Money(*m),
                        Value::Boolean(b) => PropValue::Boolean(*b),
                        // Validation admits only the four property types.
                        _ => PropValue::Boolean(false),
                    };
                    (pos, value)
                })
                .collect();
            props.sort_unstable_by_key(|(pos, _)| *pos);
            out.push(NewEvent {
                at: input.at,
                record: rid,
                seq: u32::try_from(seq).unwrap_or(u32::MAX),
                kind,
                props,
            });
        }
        out
    }
}

impl Engine {
    /// Checks that no computed sum of the profile the record lands on (after its merges)
    /// could overflow: the absolute amounts feeding each sum must total at most `i64::MAX`.
    pub(crate) fn check_computed_sums(
        &self,
        checked: &Checked<'_>,
        survivor: Option<crate::ids::ProfileId>,
        others: &[crate::ids::ProfileId],
    ) -> Result<(), IngestError> {
        for (id, rule) in self.schema.computed_rules().iter().enumerate() {
            // Only sums carry a magnitude.
            if !matches!(rule.op, Op::Sum | Op::Average) {
                continue;
            }
            let mut total: u64 = survivor
                .iter()
                .chain(others)
                .filter_map(|p| self.profiles.get(*p))
                .filter_map(|p| p.computed.get(id))
                .map(crate::event::computed::Acc::magnitude)
                .fold(0, u64::saturating_add);
            for (_, input, kind, positions) in checked.kept_events() {
                let m = crate::event::computed::magnitude(rule, kind, |pos| {
                    amount_at(input, positions, pos)
                });
                total = total.saturating_add(m);
            }
            if total > i64::MAX as u64 {
                return Err(IngestError::SumOverflow {
                    name: self.computed_name(id),
                    currency: rule.currency,
                });
            }
        }
        self.check_rfm_sums(checked, survivor, others)
    }

    /// Checks that no RFM monetary sum of the profile the record lands on could overflow.
    fn check_rfm_sums(
        &self,
        checked: &Checked<'_>,
        survivor: Option<crate::ids::ProfileId>,
        others: &[crate::ids::ProfileId],
    ) -> Result<(), IngestError> {
        for (index, (model, rule)) in self
            .schema
            .def()
            .rfm_models
            .iter()
            .zip(self.schema.rfm_rules())
            .enumerate()
        {
            let mut total: u64 = survivor
                .iter()
                .chain(others)
                .map(|&p| self.rfm.magnitude(index, p))
                .fold(0, u64::saturating_add);
            for (_, input, kind, positions) in checked.kept_events() {
                let m = crate::rfm::tally::magnitude(rule, kind, |pos| {
                    money_at(input, positions, pos).map(|(_, m)| m.minor)
                });
                total = total.saturating_add(m);
            }
            if total > i64::MAX as u64 {
                return Err(IngestError::RfmOverflow {
                    model: model.name.clone(),
                });
            }
        }
        Ok(())
    }

    /// The name of the computed trait at position `index`, for errors.
    fn computed_name(&self, index: usize) -> String {
        self.schema
            .def()
            .computed
            .get(index)
            .map_or_else(String::new, |c| c.name.clone())
    }
}
