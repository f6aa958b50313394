//! A plain model of computed traits, written from the documented rules alone: it reads a
//! profile's events from its public view and recomputes every value from scratch.

use std::collections::BTreeMap;

use audience::schema::{Computation, ComputedDef, EventFilter, Field};
use audience::{ComputedValue, EventView, Habit, Money, PartOfDay, Timestamp, Value, days_since};

fn prop<'a>(e: &'a EventView, name: &str) -> Option<&'a Value> {
    e.properties.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

fn passes(filter: &EventFilter, e: &EventView) -> bool {
    (filter.kinds.is_empty() || filter.kinds.contains(&e.kind))
        && filter
            .conditions
            .iter()
            .all(|c| prop(e, &c.property).is_some_and(|v| c.values.contains(v)))
}

fn read(field: &Field, e: &EventView) -> Option<Value> {
    match field {
        Field::Kind => Some(Value::Text(e.kind.clone())),
        Field::Property(p) => prop(e, p).cloned(),
    }
}

fn number(v: &Value) -> i64 {
    match v {
        Value::Integer(n) => *n,
        Value::Money(m) => m.minor,
        _ => 0,
    }
}

fn field_of(c: &Computation) -> Option<Field> {
    match c {
        Computation::Sum { property }
        | Computation::Net { property, .. }
        | Computation::Min { property }
        | Computation::Max { property }
        | Computation::Average { property } => Some(Field::Property(property.clone())),
        Computation::FirstValue { field }
        | Computation::LastValue { field }
        | Computation::MostFrequent { field }
        | Computation::DistinctCount { field } => Some(field.clone()),
        _ => None,
    }
}

/// The local hour of `at` in zone `tz` (UTC without one).
fn hour(at: Timestamp, tz: Option<&str>) -> u32 {
    use chrono::Timelike;
    let utc = at.to_datetime();
    match tz {
        #[cfg(feature = "time-zones")]
        Some(name) if name != "UTC" => utc
            .with_timezone(&name.parse::<chrono_tz::Tz>().unwrap())
            .hour(),
        _ => utc.hour(),
    }
}

/// The value of `def` over `events` (in history order) at `now`.
pub fn model(
    def: &ComputedDef,
    events: &[EventView],
    now: Option<Timestamp>,
    tz: Option<&str>,
) -> Option<ComputedValue> {
    let now = now?;
    let field = field_of(&def.computation);
    let in_window = |e: &&EventView| def.window.contains(e.at, now);
    // (event, value read, sign)
    let mut picked: Vec<(&EventView, Option<Value>, i64)> = events
        .iter()
        .filter(in_window)
        .filter(|e| passes(&def.events, e))
        .filter_map(|e| match &field {
            None => Some((e, None, 1)),
            Some(f) => read(f, e).map(|v| (e, Some(v), 1)),
        })
        .collect();
    if let Computation::Net {
        subtract,
        subtract_property,
        ..
    } = &def.computation
    {
        for e in events
            .iter()
            .filter(in_window)
            .filter(|e| passes(subtract, e))
        {
            if let Some(v) = prop(e, subtract_property) {
                picked.push((e, Some(v.clone()), -1));
            }
        }
    }
    let money = |n: i64| match def.currency {
        Some(c) => ComputedValue::Money(Money::new(n, c)),
        None => ComputedValue::Integer(n),
    };
    let numbers = || {
        picked
            .iter()
            .map(|(_, v, s)| number(v.as_ref().unwrap()) * s)
    };
    Some(match &def.computation {
        Computation::Count => ComputedValue::Count(picked.len() as u64),
        Computation::Sum { .. } | Computation::Net { .. } => money(numbers().sum()),
        Computation::Min { .. } => money(numbers().min()?),
        Computation::Max { .. } => money(numbers().max()?),
        Computation::Average { .. } => {
            let n = picked.len() as i128;
            if n == 0 {
                return None;
            }
            let total: i128 = numbers().map(i128::from).sum();
            let q = (2 * total.abs() + n) / (2 * n);
            money(i64::try_from(if total < 0 { -q } else { q }).unwrap())
        }
        Computation::FirstValue { .. } => ComputedValue::Value(picked.first()?.1.clone()?),
        Computation::LastValue { .. } => ComputedValue::Value(picked.last()?.1.clone()?),
        Computation::FirstTime => ComputedValue::Time(picked.first()?.0.at),
        Computation::LastTime => ComputedValue::Time(picked.last()?.0.at),
        Computation::DaysSince => ComputedValue::Days(days_since(picked.last()?.0.at, now)),
        Computation::DistinctCount { .. } => {
            let mut values: Vec<&Value> =
                picked.iter().map(|(_, v, _)| v.as_ref().unwrap()).collect();
            values.sort();
            values.dedup();
            ComputedValue::Count(values.len() as u64)
        }
        Computation::MostFrequent { .. } => {
            // value → (count, position of its latest event)
            let mut tally: BTreeMap<&Value, (usize, usize)> = BTreeMap::new();
            for (i, (_, v, _)) in picked.iter().enumerate() {
                let entry = tally.entry(v.as_ref().unwrap()).or_default();
                entry.0 += 1;
                entry.1 = i;
            }
            // Highest count, then latest, then smallest value (the map iterates smallest first).
            let mut best: Option<(&Value, (usize, usize))> = None;
            for (v, stats) in tally {
                if best.is_none_or(|(_, b)| stats > b) {
                    best = Some((v, stats));
                }
            }
            ComputedValue::Value(best?.0.clone())
        }
        Computation::Habit { .. } => {
            let mut counts = [0u32; 4];
            for (e, _, _) in &picked {
                counts[(hour(e.at, tz) / 6) as usize] += 1;
            }
            let total: u32 = counts.iter().sum();
            let parts = [
                PartOfDay::Night,
                PartOfDay::Morning,
                PartOfDay::Afternoon,
                PartOfDay::Evening,
            ];
            let max = *counts.iter().max().unwrap();
            ComputedValue::Habit(Habit {
                counts,
                percent: counts.map(|n| (n * 100).checked_div(total).unwrap_or(0) as u8),
                dominant: (max > 0).then(|| parts[counts.iter().position(|&n| n == max).unwrap()]),
            })
        }
    })
}
