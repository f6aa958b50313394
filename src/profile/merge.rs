//! Trait merge strategies: the current value of a trait as a pure function of its
//! observations, kept incrementally and combined on profile merges.
#![deny(clippy::arithmetic_side_effects)]

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::ids::{RecordId, SourceId, TraitId};
use crate::money::{Currency, Money};
use crate::record::Value;
use crate::schema::{MergeStrategy, Schema};
use crate::time::Timestamp;

/// One observed value of a trait, with where and when it came from. Never dropped by a merge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Observation {
    /// The value.
    pub(crate) value: Value,
    /// The source it came from.
    pub(crate) source: SourceId,
    /// The record's time.
    pub(crate) at: Timestamp,
    /// The record it came from.
    pub(crate) record: RecordId,
}

/// How one trait merges, resolved from the schema.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rules<'a> {
    schema: &'a Schema,
    trait_id: TraitId,
    strategy: &'a MergeStrategy,
}

impl<'a> Rules<'a> {
    pub(crate) fn new(schema: &'a Schema, trait_id: TraitId) -> Option<Self> {
        let def = schema.trait_def(trait_id)?;
        Some(Rules {
            schema,
            trait_id,
            strategy: &def.strategy,
        })
    }

    /// `Greater` when `a` is preferred over `b`: a total order on visible content.
    fn preference(&self, a: &Observation, b: &Observation) -> Ordering {
        let rank = |o: &Observation| self.schema.source_rank(self.trait_id, o.source);
        let recency = a.at.cmp(&b.at);
        let strength = rank(b).cmp(&rank(a));
        let value = a.value.cmp(&b.value);
        let position = b.source.cmp(&a.source);
        match self.strategy {
            MergeStrategy::Oldest => recency.reverse().then(strength).then(value),
            MergeStrategy::SourcePriority(_) => strength.then(recency).then(value),
            MergeStrategy::Max => value.then(recency).then(strength),
            MergeStrategy::Min => value.reverse().then(recency).then(strength),
            _ => recency.then(strength).then(value),
        }
        .then(position)
    }

    fn is_sum(&self) -> bool {
        matches!(self.strategy, MergeStrategy::Sum)
    }

    fn is_union(&self) -> bool {
        matches!(self.strategy, MergeStrategy::Union)
    }

    /// The order that picks the "latest" observation of an aggregate (sum, union).
    fn latest_first(&self, a: &Observation, b: &Observation) -> Ordering {
        let rank = |o: &Observation| self.schema.source_rank(self.trait_id, o.source);
        a.at.cmp(&b.at)
            .then(rank(b).cmp(&rank(a)))
            .then(a.value.cmp(&b.value))
            .then(b.source.cmp(&a.source))
    }
}

/// Per-currency totals, sorted by currency.
pub(crate) type MoneyTotals = SmallVec<[Money; 1]>;

/// The aggregate part of a trait's current value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Aggregate {
    /// A picking strategy: nothing beyond the winner.
    None,
    /// Integer sum.
    Int(i64),
    /// Money sums, one per currency (boxed, as the union: rare, and the enum stays
    /// two words for the common picking traits).
    Money(Box<MoneyTotals>),
    /// Set union, sorted.
    #[allow(clippy::box_collection)] // The extra allocation is the point: a rare variant.
    Union(Box<Vec<String>>),
}

/// One trait of one profile: every observation and the cached current value.
/// A trait's observations.
pub(crate) type Observations = smallvec::SmallVec<[Observation; 1]>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TraitState {
    pub(crate) trait_id: TraitId,
    /// Index of the winning observation (picking strategies) or of the latest one
    /// (aggregates), which gives the current value's source and time (32 bits, so it
    /// packs with `trait_id`).
    winner: u32,
    /// Inline when there is one (the common case): no allocation of its own.
    pub(crate) observations: Observations,
    pub(crate) aggregate: Agg,
}

/// A trait's aggregate, boxed when it has one: picking traits (most) hold none, and a
/// trait's state stays at 80 bytes rather than 88.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Agg(Option<Box<Aggregate>>);

/// What a picking trait's [`Agg`] reads as.
static NO_AGGREGATE: Aggregate = Aggregate::None;

impl Agg {
    fn new(aggregate: Aggregate) -> Agg {
        match aggregate {
            Aggregate::None => Agg(None),
            a => Agg(Some(Box::new(a))),
        }
    }

    /// The aggregate (`Aggregate::None` for a picking trait).
    pub(crate) fn get(&self) -> &Aggregate {
        self.0.as_deref().unwrap_or(&NO_AGGREGATE)
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.0
            .as_ref()
            .map_or(0, |_| std::mem::size_of::<Aggregate>())
    }
}

/// A sum trait would leave 64 bits: in `currency`, or as an integer (`None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Overflow {
    pub(crate) currency: Option<Currency>,
}

fn add_money(totals: &mut MoneyTotals, m: Money) -> Result<(), Overflow> {
    match totals.binary_search_by(|t| t.currency.cmp(&m.currency)) {
        Ok(i) => {
            if let Some(t) = totals.get_mut(i) {
                *t = t.checked_add(m).map_err(|_| Overflow {
                    currency: Some(m.currency),
                })?;
            }
        }
        Err(i) => totals.insert(i, m),
    }
    Ok(())
}

/// Adds `items` to the sorted set `set`.
fn union_into(set: &mut Vec<String>, items: &[String]) {
    for item in items {
        if let Err(i) = set.binary_search(item) {
            set.insert(i, item.clone());
        }
    }
}

/// Folds one value into an aggregate; errors on overflow, leaving `agg` unspecified.
fn fold(agg: &mut Aggregate, value: &Value) -> Result<(), Overflow> {
    match (agg, value) {
        (Aggregate::Int(total), Value::Integer(n)) => {
            *total = total.checked_add(*n).ok_or(Overflow { currency: None })?;
        }
        (Aggregate::Money(totals), Value::Money(m)) => add_money(totals, *m)?,
        (Aggregate::Union(set), Value::TextSet(items)) => union_into(set, items),
        _ => {}
    }
    Ok(())
}

/// Folds an aggregate into another.
fn fold_aggregate(agg: &mut Aggregate, other: &Aggregate) -> Result<(), Overflow> {
    match (agg, other) {
        (Aggregate::Int(a), Aggregate::Int(b)) => {
            *a = a.checked_add(*b).ok_or(Overflow { currency: None })?;
        }
        (Aggregate::Money(a), Aggregate::Money(b)) => {
            for m in b.iter() {
                add_money(a, *m)?;
            }
        }
        (Aggregate::Union(a), Aggregate::Union(b)) => union_into(a, b),
        _ => {}
    }
    Ok(())
}

fn empty_aggregate(rules: &Rules<'_>, first: &Value) -> Aggregate {
    if rules.is_sum() {
        match first {
            Value::Money(_) => Aggregate::Money(Box::default()),
            _ => Aggregate::Int(0),
        }
    } else if rules.is_union() {
        Aggregate::Union(Box::default())
    } else {
        Aggregate::None
    }
}

/// Checks that folding the sums of `states` and `values` together does not overflow.
pub(crate) fn check_sum(states: &[&TraitState], values: &[&Value]) -> Result<(), Overflow> {
    let mut acc: Option<Aggregate> = None;
    for state in states {
        match acc.as_mut() {
            None => acc = Some(state.aggregate.get().clone()),
            Some(a) => fold_aggregate(a, state.aggregate.get())?,
        }
    }
    for value in values {
        let a = acc.get_or_insert_with(|| match value {
            Value::Money(_) => Aggregate::Money(Box::default()),
            _ => Aggregate::Int(0),
        });
        fold(a, value)?;
    }
    Ok(())
}

impl TraitState {
    /// The state of one observation.
    pub(crate) fn new(rules: &Rules<'_>, obs: Observation) -> Result<Self, Overflow> {
        let mut aggregate = empty_aggregate(rules, &obs.value);
        fold(&mut aggregate, &obs.value)?;
        Ok(TraitState {
            trait_id: rules.trait_id,
            observations: smallvec::smallvec![obs],
            winner: 0,
            aggregate: Agg::new(aggregate),
        })
    }

    /// The batch definition: the state recomputed from scratch over `observations`.
    pub(crate) fn recompute(
        rules: &Rules<'_>,
        observations: Observations,
    ) -> Result<Option<Self>, Overflow> {
        let Some(first) = observations.first() else {
            return Ok(None);
        };
        let mut aggregate = empty_aggregate(rules, &first.value);
        let mut winner = 0;
        for (i, obs) in observations.iter().enumerate() {
            fold(&mut aggregate, &obs.value)?;
            if let Some(best) = observations.get(winner)
                && rules.ordering(obs, best) == Ordering::Greater
            {
                winner = i;
            }
        }
        let winner = index(winner);
        Ok(Some(TraitState {
            trait_id: rules.trait_id,
            observations,
            winner,
            aggregate: Agg::new(aggregate),
        }))
    }

    /// Adds an observation (sums checked beforehand with [`check_sum`]).
    pub(crate) fn add(&mut self, rules: &Rules<'_>, obs: Observation) -> Result<(), Overflow> {
        if let Some(aggregate) = self.aggregate.0.as_deref_mut() {
            fold(aggregate, &obs.value)?;
        }
        let better = self
            .observations
            .get(self.winner as usize)
            .is_none_or(|best| rules.ordering(&obs, best) == Ordering::Greater);
        if better {
            self.winner = index(self.observations.len());
        }
        self.observations.push(obs);
        Ok(())
    }

    /// Takes every observation of `other` (sums checked beforehand with [`check_sum`]).
    pub(crate) fn absorb(&mut self, rules: &Rules<'_>, other: TraitState) -> Result<(), Overflow> {
        if let Some(aggregate) = self.aggregate.0.as_deref_mut() {
            fold_aggregate(aggregate, other.aggregate.get())?;
        }
        let offset = self.observations.len();
        let take_other = match (
            self.observations.get(self.winner as usize),
            other.observations.get(other.winner as usize),
        ) {
            (Some(a), Some(b)) => rules.ordering(b, a) == Ordering::Greater,
            (None, Some(_)) => true,
            _ => false,
        };
        if take_other {
            self.winner = index(offset).saturating_add(other.winner);
        }
        self.observations.extend(other.observations);
        Ok(())
    }

    /// The observation that gives the current value (or its source and time).
    pub(crate) fn winner(&self) -> Option<&Observation> {
        self.observations.get(self.winner as usize)
    }
}

/// An observation's position as stored: a trait never holds 2^32 observations (that
/// would be hundreds of gigabytes), so the conversion saturates only in theory.
fn index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

impl Rules<'_> {
    /// The order that picks `winner`: the strategy's preference, or "latest" for aggregates.
    fn ordering(&self, a: &Observation, b: &Observation) -> Ordering {
        if self.is_sum() || self.is_union() {
            self.latest_first(a, b)
        } else {
            self.preference(a, b)
        }
    }
}
