//! Indexes over profiles, kept current on every ingest and merge: a bitmap per value of
//! each categorical trait and a bit-sliced index per integer or timestamp trait — plus,
//! while such a trait has at most [`FEW`] distinct values (ages, plans as numbers), a
//! bitmap per value too, which answers a range with one union. Traits of other types
//! (money, text sets) are checked profile by profile.

pub(crate) mod bsi;
pub(crate) mod categorical;
pub(crate) mod privacy;
pub(crate) mod words;

use roaring::RoaringBitmap;

use crate::ids::{ProfileId, TraitId};
use crate::profile::Profile;
use crate::record::Value;
use crate::schema::{Schema, TraitType};
use crate::segment::compile::CTest;
use crate::segment::eval_row::{Current, current};

use bsi::Bsi;
use categorical::Categorical;
use words::Set;

/// Most distinct values a numeric trait keeps a bitmap per value for.
pub(crate) const FEW: usize = 256;

/// Below this many changes, [`set_sorted`] sets bits one by one.
const BULK: usize = 64;

/// Sets each id of `changes` (strictly ascending ids) in `bits` to its flag. Many changes
/// go in as one union and one difference, each linear in the bitmap, instead of one
/// memmove inside a container per change; ids out of order fall back to one by one.
pub(crate) fn set_sorted(bits: &mut RoaringBitmap, changes: &[(u32, bool)]) {
    let one_by_one = |bits: &mut RoaringBitmap| {
        for &(id, on) in changes {
            if on {
                bits.insert(id);
            } else {
                bits.remove(id);
            }
        }
    };
    if changes.len() < BULK {
        return one_by_one(bits);
    }
    let pick = |on: bool| {
        RoaringBitmap::from_sorted_iter(changes.iter().filter(|c| c.1 == on).map(|c| c.0))
    };
    match (pick(true), pick(false)) {
        (Ok(on), Ok(off)) => {
            *bits |= on;
            *bits -= off;
        }
        _ => one_by_one(bits),
    }
}

/// The index of one trait.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TraitIndex {
    Categorical(Categorical),
    /// A bit-sliced index, and bitmaps per value while there are few values.
    Numeric(Bsi, Option<Categorical>),
}

/// An integer or timestamp value as the numeric index stores it.
fn number(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(n) => Some(*n),
        Value::Timestamp(t) => Some(t.0),
        _ => None,
    }
}

impl TraitIndex {
    /// The bitmaps per value that answer `test`, if this index has them and they are the
    /// cheaper way: for a number, a range is one pass over the slices, cheaper than a
    /// union of many values.
    fn by_value(&self, test: &CTest) -> Option<&Categorical> {
        match self {
            TraitIndex::Categorical(c) => Some(c),
            TraitIndex::Numeric(_, few) if !matches!(test, CTest::Range { .. }) => few.as_ref(),
            TraitIndex::Numeric(..) => None,
        }
    }

    /// Profiles within `within` whose value passes `test`; `whole` says `within` holds
    /// every live profile.
    pub(crate) fn eval(&self, test: &CTest, within: &RoaringBitmap, whole: bool) -> RoaringBitmap {
        if let Some(c) = self.by_value(test) {
            return c.eval(test, within, whole);
        }
        // A categorical index always answers by value.
        let TraitIndex::Numeric(b, _) = self else {
            return RoaringBitmap::new();
        };
        match test {
            CTest::Eq(v) => {
                number(v).map_or_else(RoaringBitmap::new, |n| b.equal(n, within, whole))
            }
            CTest::In(vs) => runs(vs.iter().filter_map(number))
                .map(|(lo, hi)| b.range(Some((lo, true)), Some((hi, true)), within, whole))
                .fold(RoaringBitmap::new(), |acc, x| acc | x),
            CTest::Range { min, max } => b.range(bound(min), bound(max), within, whole),
            CTest::Exists => b.exists(within),
            CTest::Missing => within - b.exists(within),
            CTest::Prefix(_) | CTest::Contains(_) => RoaringBitmap::new(),
        }
    }

    /// The number of live profiles whose value passes `test`, when the index counts it
    /// without building the set (a test answered by bitmaps per value, except
    /// [`CTest::Missing`]).
    pub(crate) fn count(&self, test: &CTest) -> Option<u64> {
        self.by_value(test)?.count(test)
    }

    /// The sets (bitmaps, or words for common values) whose union answers `test` over live
    /// profiles (with `true`: whose union's complement among them does), when the index
    /// keeps a set per value for it; `None` when the bit-sliced index answers it.
    pub(crate) fn value_sets(&self, test: &CTest) -> Option<(Vec<Set<'_>>, bool)> {
        let missing = matches!(test, CTest::Missing);
        if let Some(c) = self.by_value(test) {
            return Some((c.matching_sets(test), missing));
        }
        let TraitIndex::Numeric(b, _) = self else {
            return None;
        };
        match test {
            CTest::Exists | CTest::Missing => Some((vec![Set::Bitmap(b.profiles())], missing)),
            CTest::Prefix(_) | CTest::Contains(_) => Some((Vec::new(), false)),
            CTest::Eq(_) | CTest::In(_) | CTest::Range { .. } => None,
        }
    }

    /// The bounds of a test the bit-sliced index answers in one pass (equality or a
    /// range; `None` for others).
    fn one_range(test: &CTest) -> Option<(Bound, Bound)> {
        match test {
            CTest::Eq(v) => number(v).map(|n| (Some((n, true)), Some((n, true)))),
            CTest::Range { min, max } => Some((bound(min), bound(max))),
            _ => None,
        }
    }

    /// The profiles whose value passes `test`, ORed into `words` (bit `p % 64` of word
    /// `p / 64`), for the tests the bit-sliced index answers (those without
    /// [`TraitIndex::value_sets`]).
    pub(crate) fn range_words(&self, test: &CTest, words: &mut [u64]) {
        let TraitIndex::Numeric(b, _) = self else {
            return;
        };
        if self.value_sets(test).is_some() {
            return;
        }
        match (Self::one_range(test), test) {
            (Some((min, max)), _) => b.range_words(min, max, words),
            (None, CTest::In(vs)) => runs(vs.iter().filter_map(number))
                .for_each(|(lo, hi)| b.range_words(Some((lo, true)), Some((hi, true)), words)),
            (None, _) => {}
        }
    }

    /// Narrows `words` to the profiles whose value passes `test` in the same pass that
    /// reads the slices, when one range answers it; `false` (nothing written) otherwise.
    pub(crate) fn and_words(&self, test: &CTest, words: &mut [u64]) -> bool {
        match (self, Self::one_range(test)) {
            (TraitIndex::Numeric(b, _), Some((min, max))) if self.value_sets(test).is_none() => {
                b.and_range_words(min, max, words);
                true
            }
            _ => false,
        }
    }
}

/// A range bound `(value, inclusive)` as the numeric index stores it (`None`: open).
type Bound = Option<(i64, bool)>;

/// A range bound `(value, inclusive)` as the numeric index stores it.
fn bound(x: &Option<(Value, bool)>) -> Bound {
    x.as_ref().and_then(|(v, inc)| number(v).map(|n| (n, *inc)))
}

/// Sorted integers as runs of consecutive values `(first, last)`.
fn runs(sorted: impl Iterator<Item = i64>) -> impl Iterator<Item = (i64, i64)> {
    let mut sorted = sorted.peekable();
    std::iter::from_fn(move || {
        let first = sorted.next()?;
        let mut last = first;
        while let Some(&n) = sorted.peek() {
            if last.checked_add(1) != Some(n) {
                break;
            }
            last = n;
            sorted.next();
        }
        Some((first, last))
    })
}

/// Every trait's index, by trait id (`None`: not indexed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TraitIndexes {
    by_trait: Vec<Option<TraitIndex>>,
}

impl TraitIndexes {
    /// Empty indexes for the schema's traits.
    pub(crate) fn new(schema: &Schema) -> Self {
        TraitIndexes {
            by_trait: schema
                .def()
                .traits
                .iter()
                .map(|t| match t.ty {
                    TraitType::Text | TraitType::Boolean => {
                        Some(TraitIndex::Categorical(Categorical::keeping_words()))
                    }
                    TraitType::Integer | TraitType::Timestamp => Some(TraitIndex::Numeric(
                        Bsi::default(),
                        Some(Categorical::default()),
                    )),
                    TraitType::Money | TraitType::TextSet => None,
                })
                .collect(),
        }
    }

    /// The index of trait `id`, if it has one.
    pub(crate) fn get(&self, id: TraitId) -> Option<&TraitIndex> {
        self.by_trait.get(id.index()).and_then(Option::as_ref)
    }

    /// Re-reads trait `id` of `p` (`None`: a retired profile, in no index).
    pub(crate) fn update(&mut self, p: ProfileId, id: TraitId, profile: Option<&Profile>) {
        let Some(Some(index)) = self.by_trait.get_mut(id.index()) else {
            return;
        };
        let value = profile.and_then(|profile| current(profile, id));
        match index {
            TraitIndex::Categorical(c) => match value {
                Some(Current::One(v)) => c.set(p.0, Some(v)),
                _ => c.set(p.0, None),
            },
            TraitIndex::Numeric(b, few) => {
                let n = match value {
                    Some(Current::One(v)) => number(v),
                    Some(Current::Int(n)) => Some(n),
                    _ => None,
                };
                b.set(p.0, n);
                if let Some(c) = few {
                    let v = match value {
                        Some(Current::One(v)) => Some(v.clone()),
                        Some(Current::Int(n)) => Some(Value::Integer(n)),
                        _ => None,
                    };
                    c.set(p.0, v.as_ref());
                    if c.distinct() > FEW {
                        *few = None;
                    }
                }
            }
        }
    }

    /// Re-reads every indexed trait of `p`.
    pub(crate) fn update_all(&mut self, p: ProfileId, profile: Option<&Profile>) {
        for i in 0..self.by_trait.len() {
            let id = TraitId(u16::try_from(i).unwrap_or(u16::MAX));
            self.update(p, id, profile);
        }
    }

    /// Checks every index's structure, and that every live profile's indexed values are
    /// its current values.
    pub(crate) fn check<'a>(
        &self,
        profiles: impl Iterator<Item = (ProfileId, &'a Profile)>,
    ) -> Result<(), String> {
        for index in self.by_trait.iter().flatten() {
            match index {
                TraitIndex::Categorical(c) | TraitIndex::Numeric(_, Some(c)) => {
                    if let TraitIndex::Numeric(b, _) = index {
                        b.check()?;
                    }
                    c.check()?;
                }
                TraitIndex::Numeric(b, None) => b.check()?,
            }
        }
        for (p, profile) in profiles {
            for (i, index) in self.by_trait.iter().enumerate() {
                let id = TraitId(u16::try_from(i).map_err(|e| e.to_string())?);
                let value = current(profile, id);
                let agrees = match index {
                    None => true,
                    Some(TraitIndex::Categorical(c)) => match value {
                        Some(Current::One(v)) => c.value_of(p.0) == Some(v),
                        _ => c.value_of(p.0).is_none(),
                    },
                    Some(TraitIndex::Numeric(b, few)) => {
                        let n = match value {
                            Some(Current::One(v)) => number(v),
                            Some(Current::Int(n)) => Some(n),
                            _ => None,
                        };
                        let few_agrees = few
                            .as_ref()
                            .is_none_or(|c| c.value_of(p.0).and_then(number) == n);
                        b.get(p.0) == n && few_agrees
                    }
                };
                if !agrees {
                    return Err(format!(
                        "{p}: the index of trait {i} disagrees with its value"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Every profile any trait index holds.
    pub(crate) fn profiles(&self) -> RoaringBitmap {
        let mut all = RoaringBitmap::new();
        for index in self.by_trait.iter().flatten() {
            match index {
                TraitIndex::Categorical(c) => all |= c.profiles(),
                TraitIndex::Numeric(b, few) => {
                    all |= b.profiles();
                    if let Some(c) = few {
                        all |= c.profiles();
                    }
                }
            }
        }
        all
    }

    /// Estimated heap bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.by_trait
            .iter()
            .flatten()
            .map(|i| match i {
                TraitIndex::Categorical(c) => c.heap_bytes(),
                TraitIndex::Numeric(b, few) => {
                    b.heap_bytes() + few.as_ref().map_or(0, Categorical::heap_bytes)
                }
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use roaring::RoaringBitmap;

    use super::set_sorted;

    proptest! {
        #[test]
        fn setting_in_bulk_equals_one_by_one(
            start in proptest::collection::btree_set(0u32..200_000, 0..3_000),
            changes in proptest::collection::btree_map(0u32..200_000, any::<bool>(), 0..600),
        ) {
            let mut bulk: RoaringBitmap = start.iter().copied().collect();
            let mut one = bulk.clone();
            let changes: Vec<(u32, bool)> = changes.into_iter().collect();
            set_sorted(&mut bulk, &changes);
            for &(id, on) in &changes {
                if on { one.insert(id); } else { one.remove(id); }
            }
            prop_assert_eq!(bulk, one);
        }

        #[test]
        fn ids_out_of_order_are_set_one_by_one(ids in proptest::collection::vec(0u32..1_000, 64..200)) {
            let changes: Vec<(u32, bool)> = ids.iter().map(|&id| (id, id % 2 == 0)).collect();
            let mut bits = RoaringBitmap::new();
            set_sorted(&mut bits, &changes);
            let mut one = RoaringBitmap::new();
            for &(id, on) in &changes {
                if on { one.insert(id); } else { one.remove(id); }
            }
            prop_assert_eq!(bits, one);
        }
    }
}
