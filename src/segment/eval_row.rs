//! The row evaluator: does one profile satisfy a plan? Written plainly from the rules, it
//! is the reference the bitmap evaluator must agree with, and what real time re-checks.

use crate::engine::Engine;
use crate::event::computed_value::ComputedValue;
use crate::event::store::{EventHistory, EventRef, PropValue};
use crate::event::text::TextPool;
use crate::ids::{ProfileId, TraitId};
use crate::money::Money;
use crate::profile::Profile;
use crate::profile::merge::Aggregate;
use crate::record::Value;
use crate::segment::compile::{CTest, Filter, Node};
use crate::segment::sample;
use crate::time::{Timestamp, Window};

/// A trait's current value, borrowed where it can be.
pub(crate) enum Current<'a> {
    One(&'a Value),
    Int(i64),
    Money(&'a [Money]),
    Set(&'a [String]),
}

/// The current value of trait `id` of `profile`.
pub(crate) fn current(profile: &Profile, id: TraitId) -> Option<Current<'_>> {
    let state = profile.trait_state(id)?;
    Some(match state.aggregate.get() {
        Aggregate::None => Current::One(&state.winner()?.value),
        Aggregate::Int(n) => Current::Int(*n),
        Aggregate::Money(totals) => Current::Money(totals),
        Aggregate::Union(set) => Current::Set(set),
    })
}

/// Whether a current value passes a test.
pub(crate) fn passes(test: &CTest, value: Option<Current<'_>>) -> bool {
    match (test, value) {
        (CTest::Exists, v) => v.is_some(),
        (CTest::Missing, v) => v.is_none(),
        (_, None) => false,
        (CTest::Contains(item), Some(Current::Set(set))) => {
            set.binary_search_by(|s| s.as_str().cmp(item)).is_ok()
        }
        (t, Some(Current::Set(set))) => {
            let same = |v: &Value| matches!(v, Value::TextSet(x) if x.as_slice() == set);
            match t {
                CTest::Eq(v) => same(v),
                CTest::In(vs) => vs.iter().any(same),
                _ => false,
            }
        }
        (t, Some(Current::Money(totals))) => {
            totals.iter().any(|m| passes_value(t, &Value::Money(*m)))
        }
        (t, Some(Current::Int(n))) => passes_value(t, &Value::Integer(n)),
        (t, Some(Current::One(v))) => passes_value(t, v),
    }
}

/// Amounts compare only within one currency; other values within their type.
fn comparable(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Money(x), Value::Money(y)) => x.currency == y.currency,
        _ => a.trait_type() == b.trait_type(),
    }
}

/// Whether one value passes a test.
pub(crate) fn passes_value(test: &CTest, v: &Value) -> bool {
    match test {
        CTest::Eq(x) => x == v,
        CTest::In(xs) => xs.binary_search(v).is_ok(),
        CTest::Range { min, max } => {
            let above = min.as_ref().is_none_or(|(m, inclusive)| {
                comparable(m, v) && if *inclusive { v >= m } else { v > m }
            });
            let below = max.as_ref().is_none_or(|(m, inclusive)| {
                comparable(m, v) && if *inclusive { v <= m } else { v < m }
            });
            above && below
        }
        CTest::Prefix(p) => matches!(v, Value::Text(s) if s.starts_with(p.as_str())),
        CTest::Contains(_) | CTest::Exists | CTest::Missing => false,
    }
}

/// A computed value as tests see it.
pub(crate) fn computed_as_value(v: ComputedValue) -> Option<Value> {
    Some(match v {
        ComputedValue::Count(n) => Value::Integer(i64::try_from(n).unwrap_or(i64::MAX)),
        ComputedValue::Integer(n) | ComputedValue::Days(n) => Value::Integer(n),
        ComputedValue::Money(m) => Value::Money(m),
        ComputedValue::Value(v) => v,
        ComputedValue::Time(t) => Value::Timestamp(t),
        ComputedValue::Habit(h) => Value::Text(habit_name(h.dominant?).to_string()),
    })
}

fn habit_name(part: crate::event::PartOfDay) -> &'static str {
    use crate::event::PartOfDay as P;
    match part {
        P::Night => "night",
        P::Morning => "morning",
        P::Afternoon => "afternoon",
        P::Evening => "evening",
    }
}

/// Whether a stored property value equals a condition value.
fn prop_equals(texts: &TextPool, stored: PropValue, v: &Value) -> bool {
    match (stored, v) {
        (PropValue::Text(id), Value::Text(s)) => texts.get(id) == s,
        (PropValue::Integer(a), Value::Integer(b)) => a == *b,
        (PropValue::Money(a), Value::Money(b)) => a == *b,
        (PropValue::Boolean(a), Value::Boolean(b)) => a == *b,
        _ => false,
    }
}

/// The events of `h` that can lie in `window` at `now` (a range found by binary search;
/// callers still test `window.contains`).
pub(crate) fn in_window(
    h: &EventHistory,
    window: Window,
    now: Timestamp,
) -> impl DoubleEndedIterator<Item = EventRef<'_>> + '_ {
    let from = window.start(now).map_or(0, |s| h.first_at_or_after(s));
    h.range(from..h.first_after(now))
}

/// Whether an event matches a filter.
pub(crate) fn matches_filter(texts: &TextPool, filter: &Filter, e: &EventRef<'_>) -> bool {
    e.kind() == filter.kind
        && filter.conditions.iter().all(|(pos, values)| {
            e.prop(*pos)
                .is_some_and(|pv| values.iter().any(|v| prop_equals(texts, pv, v)))
        })
}

/// The integer, or the minor units of an amount in `currency` (other amounts: 0).
pub(crate) fn amount(v: Option<PropValue>, currency: Option<crate::money::Currency>) -> i128 {
    match v {
        Some(PropValue::Integer(n)) => i128::from(n),
        Some(PropValue::Money(m)) if Some(m.currency) == currency => i128::from(m.minor),
        _ => 0,
    }
}

impl Engine {
    /// Whether live profile `p` satisfies `node` at clock `now` (the caller has checked that
    /// a plan reading the clock has one).
    pub(crate) fn row_matches(
        &self,
        node: &Node,
        p: ProfileId,
        profile: &Profile,
        now: Timestamp,
    ) -> bool {
        match node {
            Node::All => true,
            Node::None => false,
            Node::And(children) => children
                .iter()
                .all(|c| self.row_matches(c, p, profile, now)),
            Node::Or(children) => children
                .iter()
                .any(|c| self.row_matches(c, p, profile, now)),
            Node::Not(child) => !self.row_matches(child, p, profile, now),
            Node::Trait { id, test } => passes(test, current(profile, *id)),
            Node::Computed { index, test } => {
                let value = self
                    .computed_value(profile, *index)
                    .and_then(computed_as_value);
                passes(test, value.as_ref().map(Current::One))
            }
            Node::Event {
                filter,
                window,
                at_least,
                at_most,
                sum,
            } => {
                let mut count = 0u64;
                let mut total = 0i128;
                for e in in_window(&profile.events, *window, now) {
                    if !window.contains(e.at(), now) || !matches_filter(&self.texts, filter, &e) {
                        continue;
                    }
                    count += 1;
                    if let Some(s) = sum {
                        total += amount(e.prop(s.property), s.currency);
                    }
                }
                let counted = count >= *at_least && at_most.is_none_or(|m| count <= m);
                counted && sum.as_ref().is_none_or(|s| passes_sum(&s.test, total))
            }
            Node::NoneSince {
                first,
                window,
                then,
            } => {
                let h = &profile.events;
                let last_first = in_window(h, *window, now).rev().find(|e| {
                    window.contains(e.at(), now) && matches_filter(&self.texts, first, e)
                });
                last_first.is_some_and(|a| {
                    !h.range(h.first_at_or_after(a.at())..h.first_after(now))
                        .any(|b| matches_filter(&self.texts, then, &b))
                })
            }
            Node::Then {
                first,
                window,
                then,
                within_ms,
            } => profile.events.iter().any(|a| {
                window.contains(a.at(), now)
                    && matches_filter(&self.texts, first, &a)
                    && profile.events.iter().any(|b| {
                        b.key() > a.key()
                            && b.at() <= now
                            && b.at().0 - a.at().0 <= *within_ms
                            && matches_filter(&self.texts, then, &b)
                    })
            }),
            Node::RfmScore {
                model,
                dimension,
                min,
                max,
            } => self
                .run_score(*model, false, p)
                .is_some_and(|s| (*min..=*max).contains(&s.score(*dimension))),
            Node::RfmSegment { model, segment } => {
                self.run_score(*model, false, p).is_some()
                    && self
                        .schema
                        .def()
                        .rfm_segments
                        .get(*segment)
                        .and_then(|s| self.resolve_segment(s))
                        .is_some_and(|r| self.holds(&r, p))
            }
            Node::RfmTrend {
                model,
                dimension,
                direction,
            } => self
                .trend(*model, p)
                .is_some_and(|t| t.of(*dimension).direction == *direction),
            Node::Consent { purpose, channel } => self.consent_of(profile, *purpose, *channel).0,
            Node::Suppressed { channel } => self.is_suppressed(profile, *channel, false),
            Node::Segment(i) => self
                .segments
                .get(*i)
                .is_some_and(|s| self.row_matches(&s.plan.root, p, profile, now)),
            Node::Materialized(i) => self
                .segments
                .materialized
                .get(*i)
                .is_some_and(|m| self.row_matches(&m.leaf, p, profile, now)),
            Node::Sample {
                seed,
                from,
                to,
                key,
            } => {
                let bucket = sample::bucket(self.sample_key(p, *key), *seed);
                (u64::from(*from)..u64::from(*to)).contains(&bucket)
            }
            Node::Profiles(set) => {
                set.contains(p.0) || self.ids_of(p).iter().any(|id| set.contains(id.0))
            }
        }
    }

    /// The key a sample hashes: the profile id, or the smallest value of identifier kind
    /// `kind` on the profile (none: no key, in no bucket).
    pub(crate) fn sample_key(&self, p: ProfileId, kind: Option<crate::ids::KindId>) -> Option<u64> {
        let Some(kind) = kind else {
            return Some(u64::from(p.0));
        };
        let smallest = self
            .profiles
            .identifiers(p)
            .iter()
            .filter(|l| l.kind == kind)
            .filter_map(|l| self.graph.entry(l.ident).map(|e| &*e.value))
            .min()?;
        Some(sample::key_of(smallest))
    }
}

/// Whether an exact sum passes a test on integer or money values (amounts of the test's
/// currency only were summed). Sums beyond `i64` compare by their sign.
pub(crate) fn passes_sum(test: &CTest, total: i128) -> bool {
    let Ok(n) = i64::try_from(total) else {
        return match test {
            CTest::Range { min, max } => {
                if total > 0 {
                    max.is_none() && min.is_some()
                } else {
                    min.is_none() && max.is_some()
                }
            }
            CTest::Exists => true,
            _ => false,
        };
    };
    let as_value = |template: &Value| match template {
        Value::Money(m) => Value::Money(Money::new(n, m.currency)),
        _ => Value::Integer(n),
    };
    let template = match test {
        CTest::Eq(v) => Some(v),
        CTest::In(vs) => vs.first(),
        CTest::Range { min, max } => min.as_ref().or(max.as_ref()).map(|(v, _)| v),
        _ => None,
    };
    match template {
        Some(t) => passes_value(test, &as_value(t)),
        None => matches!(test, CTest::Exists),
    }
}
