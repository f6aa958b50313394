//! A bit-sliced index over one integer trait, laid out for one pass: for every 256
//! profiles (a block), one row of four words saying which have a value, then one row per
//! bit of `value − base`, side by side. A comparison reads those rows once, in order, and
//! settles a block with a few register operations per bit (7 bits for ages, 20 for amounts
//! up to a million), its four words side by side so they do not wait on each other; a
//! profile's value is read back from its block's bits.
//!
//! `base` and the number of bits grow with the values: a value outside the span rebuilds
//! the groups with the span at least doubled, so rebuilds are at most ~128 in all.

use roaring::RoaringBitmap;

/// Words per row of a block.
const WORDS: usize = 4;

/// Profiles per block.
const BLOCK: usize = WORDS * 64;

/// One row of a block: a bit per profile.
type Row = [u64; WORDS];

/// Values by profile, sliced into bits, 256 profiles a block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Bsi {
    exists: RoaringBitmap,
    /// The least value the slices can hold.
    base: i64,
    /// Bits per value: offsets `0..2^bits` from `base`.
    bits: usize,
    /// Block `p / 256` is `1 + bits` rows of four words; profile `p` is bit `p % 64` of
    /// word `p / 64 % 4` of each. Its bit in row 0 says it has a value; in row `1 + i`, it
    /// is bit `i` of `value − base`.
    groups: Vec<u64>,
}

/// The number of bits `span` needs.
fn width(span: u128) -> usize {
    (u128::BITS - span.leading_zeros()) as usize
}

/// Row `i` of a block's slices (after its row of values).
fn rows(slices: &[u64]) -> impl DoubleEndedIterator<Item = (usize, Row)> + ExactSizeIterator + '_ {
    slices
        .chunks_exact(WORDS)
        .enumerate()
        .map(|(i, row)| (i, Row::try_from(row).unwrap_or_default()))
}

/// Per profile of a block's `slices`: whether its offset is at least `lo` and, with
/// `above`, not at least `above`. One pass from the lowest bit up: once the bits below
/// `i` are settled, bit `i` of the bound set keeps only the profiles whose bit `i` is set
/// too (`&`), and clear admits every profile whose bit is set (`|`), so each row costs
/// one operation per bound, and rows are read in memory order. Rows under a bound's
/// lowest set bit leave every profile in.
fn between(slices: &[u64], lo: u64, above: Option<u64>) -> Row {
    let (mut at_least_lo, mut at_least_above) = ([!0u64; WORDS], [!0u64; WORDS]);
    let high = above.unwrap_or(0);
    let first = lo.trailing_zeros().min(high.trailing_zeros()) as usize;
    for (i, row) in rows(slices).skip(first) {
        let (l, h) = (lo >> i & 1 == 1, high >> i & 1 == 1);
        for ((a, b), s) in at_least_lo.iter_mut().zip(&mut at_least_above).zip(row) {
            *a = if l { *a & s } else { *a | s };
            *b = if h { *b & s } else { *b | s };
        }
    }
    match above {
        Some(_) => and(at_least_lo, at_least_above.map(|w| !w)),
        None => at_least_lo,
    }
}

/// Word by word `a & b`.
fn and(mut a: Row, b: Row) -> Row {
    a.iter_mut().zip(b).for_each(|(x, y)| *x &= y);
    a
}

impl Bsi {
    /// Words per block.
    fn stride(&self) -> usize {
        (self.bits + 1) * WORDS
    }

    /// The greatest offset the slices hold.
    fn top(&self) -> u64 {
        match self.bits {
            0 => 0,
            b => u64::MAX >> (64 - b.min(64)),
        }
    }

    /// Where `p` is: its block, its word in each row, and its bit in that word.
    fn place(p: u32) -> (usize, usize, usize) {
        let p = p as usize;
        (p / BLOCK, p / 64 % WORDS, p % 64)
    }

    /// The offset of `p`'s value from `base`, if it has one.
    fn offset_of(&self, p: u32) -> Option<u64> {
        let (b, word, lane) = Self::place(p);
        let s = self.stride();
        let mut column = self
            .groups
            .get(b * s..(b + 1) * s)?
            .iter()
            .skip(word)
            .step_by(WORDS);
        let head = column.next()?;
        (head >> lane & 1 == 1).then(|| {
            column
                .enumerate()
                .fold(0u64, |k, (i, s)| k | (s >> lane & 1) << i)
        })
    }

    /// The value of `p`, if it has one.
    pub(crate) fn get(&self, p: u32) -> Option<i64> {
        let k = self.offset_of(p)?;
        i64::try_from(i128::from(self.base) + i128::from(k)).ok()
    }

    /// `v − base`, if the slices can hold it.
    fn offset(&self, v: i64) -> Option<u64> {
        let d = i128::from(v) - i128::from(self.base);
        let fits = d >= 0 && width(d as u128) <= self.bits;
        fits.then_some(d as u64)
    }

    /// Writes offset `k` for `p` (`None`: clears it), growing the groups to hold `p`.
    fn write(&mut self, p: u32, k: Option<u64>) {
        let (b, word, lane) = Self::place(p);
        let s = self.stride();
        if k.is_some() && self.groups.len() < (b + 1) * s {
            self.groups.resize((b + 1) * s, 0);
        }
        let Some(block) = self.groups.get_mut(b * s..(b + 1) * s) else {
            return;
        };
        let mut column = block.iter_mut().skip(word).step_by(WORDS);
        let Some(head) = column.next() else {
            return;
        };
        let bit = 1u64 << lane;
        match k {
            Some(k) => {
                *head |= bit;
                for (i, slice) in column.enumerate() {
                    if k >> i & 1 == 1 {
                        *slice |= bit;
                    } else {
                        *slice &= !bit;
                    }
                }
            }
            None => {
                *head &= !bit;
                column.for_each(|slice| *slice &= !bit);
            }
        }
    }

    /// Widens the span to hold `v` (at least doubling it) and rebuilds the groups.
    fn widen(&mut self, v: i64) {
        let present: Vec<(u32, i64)> = self
            .exists
            .iter()
            .filter_map(|p| self.get(p).map(|old| (p, old)))
            .collect();
        let (lo, hi) = if present.is_empty() {
            (v, v)
        } else {
            let top = i128::from(self.base) + i128::from(self.top());
            let span = top - i128::from(self.base) + 1;
            let lo = if i128::from(v) < i128::from(self.base) {
                (i128::from(v) - span).max(i128::from(i64::MIN))
            } else {
                i128::from(self.base)
            };
            let hi = if i128::from(v) > top {
                i128::from(v) + span
            } else {
                top
            }
            .min(i128::from(i64::MAX));
            (lo as i64, hi as i64)
        };
        self.base = lo;
        self.bits = width((i128::from(hi) - i128::from(lo)) as u128).max(1);
        self.groups = Vec::new();
        for (p, old) in present {
            let k = self.offset(old);
            self.write(p, k);
        }
    }

    /// Sets (or with `None` clears) the value of `p`.
    pub(crate) fn set(&mut self, p: u32, value: Option<i64>) {
        if self.get(p) == value {
            return;
        }
        match value {
            Some(v) => {
                if self.offset(v).is_none() {
                    self.widen(v);
                }
                let k = self.offset(v);
                self.write(p, k);
                self.exists.insert(p);
            }
            None => {
                self.write(p, None);
                self.exists.remove(p);
            }
        }
    }

    /// Every profile with a value.
    pub(crate) fn profiles(&self) -> &RoaringBitmap {
        &self.exists
    }

    /// Profiles with a value, within `within`.
    pub(crate) fn exists(&self, within: &RoaringBitmap) -> RoaringBitmap {
        &self.exists & within
    }

    /// The bounds (each `(value, inclusive)`) as inclusive offsets, or `None` when no
    /// offset the slices hold lies within them.
    fn offsets(&self, min: Option<(i64, bool)>, max: Option<(i64, bool)>) -> Option<(u64, u64)> {
        let top = i128::from(self.top());
        let base = i128::from(self.base);
        let lo = match min {
            Some((v, inclusive)) => i128::from(v) + i128::from(!inclusive) - base,
            None => 0,
        };
        let hi = match max {
            Some((v, inclusive)) => i128::from(v) - i128::from(!inclusive) - base,
            None => top,
        };
        let (lo, hi) = (lo.max(0), hi.min(top));
        (lo <= hi).then_some((lo as u64, hi as u64))
    }

    /// Profiles within `within` whose value lies in the bounds (each `(value, inclusive)`);
    /// `whole` says `within` holds every profile with a value. Few candidates are read
    /// one by one; otherwise one pass over the blocks they span.
    pub(crate) fn range(
        &self,
        min: Option<(i64, bool)>,
        max: Option<(i64, bool)>,
        within: &RoaringBitmap,
        whole: bool,
    ) -> RoaringBitmap {
        let Some((lo, hi)) = self.offsets(min, max) else {
            return RoaringBitmap::new();
        };
        let blocks = self.groups.len() / self.stride();
        if !whole && within.len() <= (blocks * WORDS) as u64 {
            return self.range_each(lo, hi, within);
        }
        let found = self.range_pass(lo, hi, within);
        if whole { found } else { found & within }
    }

    /// [`Bsi::range`] for offsets `lo..=hi`, reading each candidate's value.
    fn range_each(&self, lo: u64, hi: u64, within: &RoaringBitmap) -> RoaringBitmap {
        let ids = within
            .iter()
            .filter(|&p| self.offset_of(p).is_some_and(|k| lo <= k && k <= hi));
        RoaringBitmap::from_sorted_iter(ids).unwrap_or_default()
    }

    /// Calls `emit` with the passing profiles of each block from `first` on (at most
    /// `count` blocks), in one pass: those with offsets in `lo..=hi`.
    fn scan(&self, lo: u64, hi: u64, first: usize, count: usize, mut emit: impl FnMut(Row)) {
        let s = self.stride();
        let span = self
            .groups
            .get(first * s..)
            .unwrap_or_default()
            .chunks_exact(s)
            .take(count);
        let above = (hi < self.top()).then(|| hi + 1);
        let check = lo > 0 || above.is_some();
        for block in span {
            let (head, slices) = block.split_at(WORDS);
            let mut pass = Row::try_from(head).unwrap_or_default();
            if check && pass != [0; WORDS] {
                // At most `hi` is not at least `hi + 1` (which fits: `hi` is under the top).
                pass = and(pass, between(slices, lo, above));
            }
            emit(pass);
        }
    }

    /// Profiles with offsets in `lo..=hi`, in one pass over the blocks from `within`'s
    /// least to its greatest member (not narrowed to `within` itself).
    fn range_pass(&self, lo: u64, hi: u64, within: &RoaringBitmap) -> RoaringBitmap {
        let (Some(first), Some(last)) = (within.min(), within.max()) else {
            return RoaringBitmap::new();
        };
        let (first, last) = (first as usize / BLOCK, last as usize / BLOCK);
        let count = last.saturating_sub(first) + 1;
        let mut bytes = Vec::with_capacity(count * WORDS * 8);
        self.scan(lo, hi, first, count, |pass| {
            pass.iter()
                .for_each(|w| bytes.extend_from_slice(&w.to_le_bytes()));
        });
        let offset = u32::try_from(first * BLOCK).unwrap_or(u32::MAX);
        RoaringBitmap::from_lsb0_bytes(offset, &bytes)
    }

    /// ORs into `words` (bit `p % 64` of word `p / 64`) the profiles whose value lies in
    /// the bounds, as [`Bsi::range`] with every profile as candidate.
    pub(crate) fn range_words(
        &self,
        min: Option<(i64, bool)>,
        max: Option<(i64, bool)>,
        words: &mut [u64],
    ) {
        let Some((lo, hi)) = self.offsets(min, max) else {
            return;
        };
        let mut out = words.chunks_mut(WORDS);
        self.scan(lo, hi, 0, usize::MAX, |pass| {
            if let Some(target) = out.next() {
                target.iter_mut().zip(pass).for_each(|(w, p)| *w |= p);
            }
        });
    }

    /// Narrows `words` (as in [`Bsi::range_words`]) to the profiles whose value lies in
    /// the bounds, in the pass that reads the slices; profiles past the last block hold
    /// no value, so their words are cleared.
    pub(crate) fn and_range_words(
        &self,
        min: Option<(i64, bool)>,
        max: Option<(i64, bool)>,
        words: &mut [u64],
    ) {
        let Some((lo, hi)) = self.offsets(min, max) else {
            words.fill(0);
            return;
        };
        let mut out = words.chunks_mut(WORDS);
        self.scan(lo, hi, 0, usize::MAX, |pass| {
            if let Some(target) = out.next() {
                target.iter_mut().zip(pass).for_each(|(w, p)| *w &= p);
            }
        });
        out.for_each(|rest| rest.fill(0));
    }

    /// Profiles within `within` whose value is `v`.
    pub(crate) fn equal(&self, v: i64, within: &RoaringBitmap, whole: bool) -> RoaringBitmap {
        self.range(Some((v, true)), Some((v, true)), within, whole)
    }

    /// Checks that the groups hold exactly the profiles with a value.
    pub(crate) fn check(&self) -> Result<(), String> {
        if !self.groups.len().is_multiple_of(self.stride()) {
            return Err("the groups are not whole".into());
        }
        let mut held = 0u64;
        for (b, block) in self.groups.chunks_exact(self.stride()).enumerate() {
            let (head, slices) = block.split_at(WORDS);
            held += head.iter().map(|w| u64::from(w.count_ones())).sum::<u64>();
            let stray = slices
                .chunks_exact(WORDS)
                .any(|row| row.iter().zip(head).any(|(s, h)| s & !h != 0));
            if stray {
                return Err(format!(
                    "block {b}: a bit is set for a profile without a value"
                ));
            }
        }
        if held != self.exists.len() {
            return Err(format!(
                "{held} profiles hold a value in the groups, {} in the existence bitmap",
                self.exists.len()
            ));
        }
        if let Some(p) = self.exists.iter().find(|&p| self.offset_of(p).is_none()) {
            return Err(format!("profile {p}: value missing from the groups"));
        }
        Ok(())
    }

    /// Estimated heap bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.exists.serialized_size() + self.groups.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn ranges_equal_a_scan(
            values in prop::collection::vec(prop::option::of(prop_oneof![-50i64..50, any::<i64>()]), 1..400),
            updates in prop::collection::vec((0usize..400, prop::option::of(-50i64..50)), 0..50),
            lo in prop::option::of((-60i64..60, any::<bool>())),
            hi in prop::option::of((-60i64..60, any::<bool>())),
            keep in any::<u64>(),
        ) {
            let mut bsi = Bsi::default();
            let mut model: Vec<Option<i64>> = values.clone();
            for (p, v) in values.iter().enumerate() {
                bsi.set(p as u32, *v);
            }
            for (p, v) in updates {
                if p < model.len() {
                    model[p] = v;
                    bsi.set(p as u32, v);
                }
            }
            bsi.check().unwrap();
            let all: RoaringBitmap = (0..model.len() as u32).collect();
            let want: RoaringBitmap = model
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_some_and(|v| {
                    lo.is_none_or(|(l, inc)| if inc { v >= l } else { v > l })
                        && hi.is_none_or(|(h, inc)| if inc { v <= h } else { v < h })
                }))
                .map(|(p, _)| p as u32)
                .collect();
            let (lo_v, hi_v) = (lo, hi);
            prop_assert_eq!(bsi.range(lo_v, hi_v, &all, true), want.clone());
            prop_assert_eq!(bsi.range(lo_v, hi_v, &all, false), want.clone());
            // Each way of reading, over a part of the profiles.
            let part: RoaringBitmap = all.iter().filter(|p| keep >> (p % 64) & 1 == 1).collect();
            let want_part = &want & &part;
            match bsi.offsets(lo_v, hi_v) {
                Some((l, h)) => {
                    prop_assert_eq!(bsi.range_each(l, h, &part), want_part.clone());
                    prop_assert_eq!(bsi.range_pass(l, h, &part) & &part, want_part.clone());
                }
                None => prop_assert!(want.is_empty()),
            }
            prop_assert_eq!(bsi.range(lo_v, hi_v, &part, false), want_part);
            let mut words = vec![0u64; model.len().div_ceil(64)];
            bsi.range_words(lo_v, hi_v, &mut words);
            prop_assert_eq!(crate::index::words::to_bitmap(&words), want.clone());
            // Narrowing other words, with some past the last block.
            let mut narrowed: Vec<u64> = (0..model.len().div_ceil(64) + 9)
                .map(|i| keep.rotate_left(i as u32))
                .collect();
            let kept = crate::index::words::to_bitmap(&narrowed);
            bsi.and_range_words(lo_v, hi_v, &mut narrowed);
            prop_assert_eq!(crate::index::words::to_bitmap(&narrowed), &want & &kept);
            for (p, v) in model.iter().enumerate() {
                prop_assert_eq!(bsi.get(p as u32), *v);
            }
            if let Some((l, _)) = lo {
                let eq: RoaringBitmap = model.iter().enumerate()
                    .filter(|(_, v)| **v == Some(l)).map(|(p, _)| p as u32).collect();
                prop_assert_eq!(bsi.equal(l, &all, true), eq);
            }
        }
    }
}
