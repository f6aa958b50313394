//! A bitmap per distinct value of a categorical trait (text, boolean), with each profile's
//! value id so a change clears the old bit.
//!
//! A value held by at least a 64th of the profiles also keeps its members as plain words
//! (one bit per profile id), so the word evaluator ORs it word by word instead of
//! scattering roaring's array containers (a value at 1–6% of the profiles is stored in
//! arrays, at about 1.4 cycles per member to scatter; a word pass reads 1/8 byte per id).
//! The words are dropped when the value falls below a 128th (checked as it loses members
//! and each time the profile span doubles): the gap keeps a value near the threshold from
//! rebuilding them on every change, and no value below a 256th keeps words, so at most
//! 256 values per trait do (in practice the few common ones, an eighth of a byte per
//! profile each).

use roaring::{MultiOps, RoaringBitmap};

use crate::hash::FastMap;
use crate::index::words::{self, Set};
use crate::record::Value;
use crate::segment::compile::CTest;
use crate::segment::eval_row::passes_value;

/// Profiles by value. A value no profile holds any more is forgotten (its id reused), so
/// an erased person's values leave no trace here.
#[derive(Clone, Debug, Default)]
pub(crate) struct Categorical {
    ids: FastMap<Value, u32>,
    values: Vec<Value>,
    bitmaps: Vec<RoaringBitmap>,
    /// Per value id: its bitmap as words, for a common value (see the module doc).
    dense: Vec<Option<Vec<u64>>>,
    /// Whether common values keep words (text and boolean traits; a number's values are
    /// read through the bit-sliced index for ranges, and as words they would cost an
    /// eighth of a byte per profile for each of up to [`super::FEW`] ages or scores).
    keeps_words: bool,
    /// Per profile: its value's id plus one (0: none).
    of: Vec<u32>,
    /// Ids of forgotten values, to reuse.
    free: Vec<u32>,
}

/// Equal when they hold the same values for the same profiles: which values keep words
/// too depends on the order of past changes, not on what is held.
impl PartialEq for Categorical {
    fn eq(&self, other: &Self) -> bool {
        self.ids == other.ids
            && self.values == other.values
            && self.bitmaps == other.bitmaps
            && self.of == other.of
            && self.free == other.free
    }
}

impl Eq for Categorical {}

/// A value keeps words from this share of the profile span...
const DENSE_FROM: u64 = 64;
/// ...until it falls below this share.
const DENSE_UNTIL: u64 = 128;

/// Whether a value's bitmap is too rare to keep words, out of `span` profile ids.
fn rare(b: &RoaringBitmap, span: u64) -> bool {
    b.len() * DENSE_UNTIL < span
}

impl Categorical {
    /// An empty index whose common values keep words.
    pub(crate) fn keeping_words() -> Self {
        Categorical {
            keeps_words: true,
            ..Categorical::default()
        }
    }

    /// The value id of `p`, if it has a value.
    fn id_of(&self, p: u32) -> Option<u32> {
        self.of.get(p as usize).and_then(|&i| i.checked_sub(1))
    }

    /// The number of distinct values held.
    pub(crate) fn distinct(&self) -> usize {
        self.values.len() - self.free.len()
    }

    /// The value of `p`, if it has one.
    pub(crate) fn value_of(&self, p: u32) -> Option<&Value> {
        self.id_of(p).and_then(|i| self.values.get(i as usize))
    }

    /// Sets (or with `None` clears) the value of `p`.
    pub(crate) fn set(&mut self, p: u32, value: Option<&Value>) {
        if value.is_some_and(|v| self.value_of(p) == Some(v)) {
            return;
        }
        let new = value.map(|v| match self.ids.get(v) {
            Some(&id) => id,
            None => match self.free.pop() {
                Some(id) => {
                    self.ids.insert(v.clone(), id);
                    if let Some(slot) = self.values.get_mut(id as usize) {
                        *slot = v.clone();
                    }
                    id
                }
                None => {
                    let id = u32::try_from(self.values.len()).unwrap_or(u32::MAX);
                    self.ids.insert(v.clone(), id);
                    self.values.push(v.clone());
                    self.bitmaps.push(RoaringBitmap::new());
                    self.dense.push(None);
                    id
                }
            },
        });
        let old = self.id_of(p);
        if old == new {
            return;
        }
        let i = p as usize;
        let before = self.of.len();
        if before <= i {
            self.of.resize(i + 1, 0);
            if before == 0 || before.ilog2() != self.of.len().ilog2() {
                self.drop_rare_words();
            }
        }
        if let Some(slot) = self.of.get_mut(i) {
            *slot = new.map_or(0, |n| n + 1);
        }
        let span = self.of.len() as u64;
        if let Some(i) = old
            && let Some(b) = self.bitmaps.get_mut(i as usize)
        {
            b.remove(p);
            let dense = self.dense.get_mut(i as usize);
            if b.is_empty() {
                if let Some(v) = self.values.get_mut(i as usize) {
                    let gone = std::mem::replace(v, Value::Boolean(false));
                    self.ids.remove(&gone);
                }
                self.free.push(i);
                if let Some(slot) = dense {
                    *slot = None;
                }
            } else if let Some(slot) = dense {
                if rare(b, span) {
                    *slot = None;
                } else if let Some(w) = slot.as_mut().and_then(|w| w.get_mut(p as usize / 64)) {
                    *w &= !(1u64 << (p % 64));
                }
            }
        }
        if let Some(i) = new
            && let Some(b) = self.bitmaps.get_mut(i as usize)
            && let Some(slot) = self.dense.get_mut(i as usize)
        {
            b.insert(p);
            match slot {
                Some(w) => {
                    let at = p as usize / 64;
                    if w.len() <= at {
                        // Grow by an eighth, not double: the words are a cache of size.
                        w.reserve_exact((at + 1 - w.len()).max(w.len() / 8));
                        w.resize(at + 1, 0);
                    }
                    if let Some(w) = w.get_mut(at) {
                        *w |= 1u64 << (p % 64);
                    }
                }
                None if self.keeps_words && b.len() * DENSE_FROM >= span => {
                    *slot = Some(words::from_bitmap(b, words::words_for(span)));
                }
                None => {}
            }
        }
    }

    /// Drops the words of values below a 128th of the span (run each time the span
    /// doubles, so no value below a 256th keeps words).
    fn drop_rare_words(&mut self) {
        let span = self.of.len() as u64;
        for (b, w) in self.bitmaps.iter().zip(&mut self.dense) {
            if w.is_some() && rare(b, span) {
                *w = None;
            }
        }
    }

    /// Profiles within `within` whose value passes `test`; `whole` says `within` holds
    /// every live profile (the index holds live profiles only, so no intersection is needed).
    pub(crate) fn eval(&self, test: &CTest, within: &RoaringBitmap, whole: bool) -> RoaringBitmap {
        let matching = self.matching(test);
        match (test, matching.as_slice()) {
            (CTest::Missing, _) => within - matching.into_iter().union(),
            (_, []) => RoaringBitmap::new(),
            (_, [one]) if whole => (*one).clone(),
            (_, [one]) => *one & within,
            _ if whole => matching.into_iter().union(),
            _ => matching.into_iter().union() & within,
        }
    }

    /// The ids of the values that pass `test` (for [`CTest::Missing`], every value: the
    /// answer is the complement of theirs).
    fn matching_ids(&self, test: &CTest) -> Vec<usize> {
        match test {
            CTest::Eq(v) => self.ids.get(v).map(|&i| i as usize).into_iter().collect(),
            CTest::In(vs) => vs
                .iter()
                .filter_map(|v| self.ids.get(v).map(|&i| i as usize))
                .collect(),
            CTest::Exists | CTest::Missing => (0..self.bitmaps.len()).collect(),
            other => self
                .values
                .iter()
                .enumerate()
                .filter(|(_, v)| passes_value(other, v))
                .map(|(i, _)| i)
                .collect(),
        }
    }

    /// The bitmaps of the values that pass `test` (for [`CTest::Missing`], of every value:
    /// the answer is their complement).
    pub(crate) fn matching(&self, test: &CTest) -> Vec<&RoaringBitmap> {
        self.matching_ids(test)
            .into_iter()
            .filter_map(|i| self.bitmaps.get(i))
            .collect()
    }

    /// The number of profiles whose value passes `test`, from the values' counts (a
    /// profile holds one value, so they add up); `None` for [`CTest::Missing`], whose
    /// count needs the live profiles.
    pub(crate) fn count(&self, test: &CTest) -> Option<u64> {
        if matches!(test, CTest::Missing) {
            return None;
        }
        let mut ids = self.matching_ids(test);
        ids.sort_unstable();
        ids.dedup();
        Some(
            ids.iter()
                .filter_map(|&i| self.bitmaps.get(i))
                .map(RoaringBitmap::len)
                .sum(),
        )
    }

    /// As [`Categorical::matching`], each value as words when it keeps them.
    pub(crate) fn matching_sets(&self, test: &CTest) -> Vec<Set<'_>> {
        self.matching_ids(test)
            .into_iter()
            .filter_map(|i| match self.dense.get(i) {
                Some(Some(w)) => Some(Set::Words(w)),
                _ => self.bitmaps.get(i).map(Set::Bitmap),
            })
            .collect()
    }

    /// Checks that each profile sits in exactly the bitmap of its value, and that every
    /// value's words hold its bitmap.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.dense.len() != self.bitmaps.len() {
            return Err("words and bitmaps disagree in number".into());
        }
        for (id, (b, w)) in self.bitmaps.iter().zip(&self.dense).enumerate() {
            if let Some(w) = w
                && words::to_bitmap(w) != *b
            {
                return Err(format!("value {id}: its words differ from its bitmap"));
            }
        }
        for (id, b) in self.bitmaps.iter().enumerate() {
            let free = self.free.contains(&(id as u32));
            let mapped = self
                .values
                .get(id)
                .is_some_and(|v| self.ids.get(v) == Some(&(id as u32)));
            if free == (mapped && !b.is_empty()) || (free && !b.is_empty()) {
                return Err(format!("value {id}: held and forgotten disagree"));
            }
            for p in b {
                if self.id_of(p) != Some(id as u32) {
                    return Err(format!(
                        "profile {p} is in the bitmap of value {id} but not of it"
                    ));
                }
            }
        }
        for (p, _) in self.of.iter().enumerate().filter(|(_, i)| **i > 0) {
            let p = u32::try_from(p).map_err(|e| e.to_string())?;
            let in_bitmap = self
                .id_of(p)
                .and_then(|i| self.bitmaps.get(i as usize))
                .is_some_and(|b| b.contains(p));
            if !in_bitmap {
                return Err(format!("profile {p} is missing from its value's bitmap"));
            }
        }
        Ok(())
    }

    /// Every profile holding a value.
    pub(crate) fn profiles(&self) -> RoaringBitmap {
        self.bitmaps
            .iter()
            .fold(RoaringBitmap::new(), |acc, b| acc | b)
    }

    /// Estimated heap bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.bitmaps
            .iter()
            .map(RoaringBitmap::serialized_size)
            .sum::<usize>()
            + self.of.capacity() * 4
            + self.values.capacity() * std::mem::size_of::<Value>()
            + self
                .dense
                .iter()
                .flatten()
                .map(|w| w.capacity() * 8)
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(i: u8) -> Value {
        Value::Text(format!("v{i}"))
    }

    /// The union of `sets` as a bitmap.
    fn union(sets: &[Set<'_>], n: usize) -> RoaringBitmap {
        let mut out = vec![0u64; n];
        sets.iter().for_each(|s| s.or_into(&mut out));
        words::to_bitmap(&out)
    }

    proptest! {
        #[test]
        fn words_of_common_values_follow_their_bitmaps(
            changes in prop::collection::vec(
                (0u32..3000, prop_oneof![
                    6 => Just(Some(0u8)),
                    3 => Just(Some(1)),
                    1 => (2u8..40).prop_map(Some),
                    1 => Just(None),
                ]),
                0..1500,
            ),
            asked in prop::collection::btree_set(0u8..40, 0..6),
        ) {
            let mut c = Categorical::keeping_words();
            for (p, v) in changes {
                c.set(p, v.map(text).as_ref());
                prop_assert_eq!(c.check(), Ok(()));
            }
            let n = words::words_for(3000);
            let tests = [
                CTest::In(asked.iter().copied().map(text).collect()),
                CTest::Exists,
                CTest::Eq(text(0)),
                CTest::Range { min: Some((text(1), false)), max: None },
            ];
            for test in &tests {
                let want = c.matching(test).into_iter().fold(RoaringBitmap::new(), |a, b| a | b);
                prop_assert_eq!(c.count(test), Some(want.len()));
                prop_assert_eq!(union(&c.matching_sets(test), n), want);
            }
        }
    }

    #[test]
    fn a_value_keeps_words_while_common_and_drops_them_when_rare() {
        let mut c = Categorical::keeping_words();
        for p in 0..1000 {
            c.set(p, Some(&text(u8::from(p % 10 == 0))));
        }
        // Value 1 holds a 10th of the profiles: words.
        assert!(matches!(
            c.matching_sets(&CTest::Eq(text(1)))[..],
            [Set::Words(_)]
        ));
        // Most of its profiles move to value 0: below a 128th, its words go.
        for p in (0..1000).filter(|p| p % 10 == 0).skip(5) {
            c.set(p, Some(&text(0)));
        }
        assert_eq!(c.check(), Ok(()));
        assert!(matches!(
            c.matching_sets(&CTest::Eq(text(1)))[..],
            [Set::Bitmap(_)]
        ));
        // And an index of numbers keeps none.
        let mut numbers = Categorical::default();
        (0..100).for_each(|p| numbers.set(p, Some(&Value::Integer(1))));
        assert!(matches!(
            numbers.matching_sets(&CTest::Exists)[..],
            [Set::Bitmap(_)]
        ));
    }

    #[test]
    fn a_forgotten_value_reused_starts_without_words() {
        let mut c = Categorical::keeping_words();
        c.set(0, Some(&text(1)));
        c.set(0, None);
        c.set(1, Some(&text(2)));
        assert_eq!(c.check(), Ok(()));
        let sets = c.matching_sets(&CTest::Eq(text(2)));
        assert_eq!(union(&sets, 1), RoaringBitmap::from_iter([1]));
    }
}
