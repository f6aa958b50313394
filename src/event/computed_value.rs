//! What a computed trait reports: [`ComputedValue`], read off its accumulator.
#![deny(clippy::arithmetic_side_effects)]

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::event::computed::{Acc, Piece, Tally, contributions, window_range};
use crate::event::store::{EventHistory, prop_value};
use crate::event::text::TextPool;
use crate::money::Money;
use crate::record::Value;
use crate::schema::{ComputedRule, Op, Schema};
use crate::time::{Timestamp, days_since};

/// A part of the day, in the profile's local time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartOfDay {
    /// 0–6 h.
    Night,
    /// 6–12 h.
    Morning,
    /// 12–18 h.
    Afternoon,
    /// 18–24 h.
    Evening,
}

const PARTS: [PartOfDay; 4] = [
    PartOfDay::Night,
    PartOfDay::Morning,
    PartOfDay::Afternoon,
    PartOfDay::Evening,
];

/// Events by part of day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Habit {
    /// Events per part: night, morning, afternoon, evening.
    pub counts: [u32; 4],
    /// Each part's share in percent, rounded down.
    pub percent: [u8; 4],
    /// The part with the most events (ties go to the earlier part of the day); `None`
    /// with no events.
    pub dominant: Option<PartOfDay>,
}

/// The current value of a computed trait.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComputedValue {
    /// A count (events, distinct values).
    Count(u64),
    /// An integer sum, minimum, maximum or average.
    Integer(i64),
    /// A money sum, minimum, maximum or average.
    Money(Money),
    /// A first, last or most frequent value (an event kind is its name as text).
    Value(Value),
    /// The time of a first or last event.
    Time(Timestamp),
    /// Whole days since the last event.
    Days(i64),
    /// Events by part of day.
    Habit(Habit),
}

fn piece_value(schema: &Schema, texts: &TextPool, piece: Piece) -> Value {
    match piece {
        Piece::Kind(k) => Value::Text(
            schema
                .event_kind(k)
                .map_or_else(String::new, |d| d.name.clone()),
        ),
        Piece::Prop(v) => prop_value(texts, v),
    }
}

fn number(rule: &ComputedRule, n: i64) -> ComputedValue {
    match rule.currency {
        Some(c) if rule.money => ComputedValue::Money(Money::new(n, c)),
        _ => ComputedValue::Integer(n),
    }
}

/// `total / count`, rounded to the nearest integer, halves away from zero.
pub(crate) fn rounded_mean(total: i64, count: u32) -> Option<i64> {
    if count == 0 {
        return None;
    }
    let (t, c) = (i128::from(total), i128::from(count));
    // |total| < 2^63 and count < 2^32: every step fits an i128.
    let two_c = c.checked_mul(2)?;
    let q = t.abs().checked_mul(2)?.checked_add(c)?.checked_div(two_c)?;
    i64::try_from(if t < 0 { q.checked_neg()? } else { q }).ok()
}

/// The most frequent value: ties go to the value whose latest event is the most recent
/// (found by walking the window back from now), then to the smallest value.
fn favourite(
    schema: &Schema,
    rule: &ComputedRule,
    entries: &[Tally],
    h: &EventHistory,
    now: Timestamp,
    texts: &TextPool,
) -> Option<Value> {
    let top = entries.iter().map(|t| t.count).max()?;
    let tied: SmallVec<[i64; 4]> = entries
        .iter()
        .filter(|t| t.count == top)
        .map(|t| t.bits)
        .collect();
    if let [only] = tied.as_slice() {
        return Some(piece_value(schema, texts, Piece::from_bits(rule, *only)));
    }
    for e in h.range(window_range(h, rule.window, now)).rev() {
        for c in contributions(rule, &e, texts) {
            if tied.contains(&c.piece.bits()) {
                return Some(piece_value(schema, texts, c.piece));
            }
        }
    }
    tied.iter()
        .map(|&b| piece_value(schema, texts, Piece::from_bits(rule, b)))
        .min()
}

/// The value of a computed trait; `None` with the clock unset, or when there is nothing
/// to report (no event for a minimum, a first value, a favourite, …).
pub(crate) fn value(
    schema: &Schema,
    rule: &ComputedRule,
    acc: &Acc,
    h: &EventHistory,
    now: Option<Timestamp>,
    texts: &TextPool,
) -> Option<ComputedValue> {
    let now = now?;
    Some(match acc {
        Acc::Count(n) => ComputedValue::Count(*n),
        Acc::Sum { total, count, .. } => match rule.op {
            Op::Average => number(rule, rounded_mean(*total, *count)?),
            _ => number(rule, *total),
        },
        Acc::Extreme(best) => number(rule, (*best)?),
        Acc::Pick(key) => {
            let key = (*key)?;
            match rule.op {
                Op::FirstTime | Op::LastTime => ComputedValue::Time(key.0),
                Op::DaysSince => ComputedValue::Days(days_since(key.0, now)),
                _ => {
                    let i = h.first_at_or_after(key.0);
                    let e = h.range(i..h.len()).find(|e| e.key() == key)?;
                    let c = contributions(rule, &e, texts).into_iter().next()?;
                    ComputedValue::Value(piece_value(schema, texts, c.piece))
                }
            }
        }
        Acc::Tally(entries) => match rule.op {
            Op::DistinctCount => ComputedValue::Count(entries.len() as u64),
            _ => ComputedValue::Value(favourite(schema, rule, entries, h, now, texts)?),
        },
        Acc::Habit(counts) => {
            let total: u64 = counts.iter().map(|&n| u64::from(n)).sum();
            let mut percent = [0u8; 4];
            let mut dominant = None;
            let mut top = 0;
            for ((p, &n), part) in percent.iter_mut().zip(counts).zip(PARTS) {
                if let Some(share) = (u64::from(n) * 100).checked_div(total) {
                    *p = u8::try_from(share).unwrap_or(100);
                }
                if n > top {
                    top = n;
                    dominant = Some(part);
                }
            }
            ComputedValue::Habit(Habit {
                counts: *counts,
                percent,
                dominant,
            })
        }
    })
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // Tests compute on small constants.
mod tests {
    use super::rounded_mean;

    #[test]
    fn means_round_half_away_from_zero() {
        assert_eq!(rounded_mean(5, 2), Some(3));
        assert_eq!(rounded_mean(-5, 2), Some(-3));
        assert_eq!(rounded_mean(4, 3), Some(1));
        assert_eq!(rounded_mean(5, 3), Some(2));
        assert_eq!(rounded_mean(i64::MAX, 1), Some(i64::MAX));
        assert_eq!(rounded_mean(1, 0), None);
    }
}
