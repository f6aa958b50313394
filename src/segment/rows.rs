//! [`AnswerRows`]: the answers of registered segments and materialized conditions laid
//! out by profile, one bit per column, mirroring their member bitmaps.
//!
//! A record re-checks one profile against every segment and condition it can affect;
//! reading each one's bitmap costs a cache miss per bitmap (about 150 for the real-time
//! workload's 100 segments and their conditions). Here a profile's answers sit side by
//! side in one row of at most [`MAX_WORDS`] words (one cache line), so the re-check reads
//! one line. The bitmaps stay the truth for whole-population work (counts, members,
//! evaluation); the rows are written on every change of a bit they mirror
//! ([`crate::segment::store::SegmentStore`] is the only writer of both) and checked
//! against the bitmaps by `internal_validate`.
//!
//! Columns interleave: registered segment `i` is column `2i`, materialized condition `j`
//! is column `2j + 1`, so both kinds can grow without renumbering the other. Columns past
//! the row's capacity are not mirrored ([`AnswerRows::get`] says `None`, and the caller
//! reads the bitmap), which keeps memory at most 64 bytes per profile however many
//! segments a host registers.

use roaring::RoaringBitmap;

/// The most words a row holds (512 columns: one 64-byte cache line).
pub(crate) const MAX_WORDS: usize = 8;

/// Answers by profile; see the module documentation.
#[derive(Clone, Debug, Default)]
pub(crate) struct AnswerRows {
    /// Words per row.
    words: usize,
    /// Row after row, by profile id; rows past the end are all zero.
    bits: Vec<u64>,
}

/// A mirror is compared through the bitmaps it mirrors (which `Engine`'s equality
/// compares); two equal engines may have grown their rows differently.
impl PartialEq for AnswerRows {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for AnswerRows {}

/// The column of registered segment `i`.
pub(crate) fn segment_column(i: usize) -> usize {
    i.saturating_mul(2)
}

/// The column of materialized condition `j`.
pub(crate) fn leaf_column(j: usize) -> usize {
    j.saturating_mul(2).saturating_add(1)
}

impl AnswerRows {
    /// `p`'s answer in column `col`; `None` when the column is not mirrored.
    pub(crate) fn get(&self, p: u32, col: usize) -> Option<bool> {
        let word = col / 64;
        if word >= MAX_WORDS {
            return None;
        }
        if word >= self.words {
            return Some(false);
        }
        let at = (p as usize).saturating_mul(self.words).saturating_add(word);
        Some(self.bits.get(at).is_some_and(|w| w >> (col % 64) & 1 == 1))
    }

    /// Sets `p`'s answer in column `col` (nothing for a column not mirrored).
    pub(crate) fn set(&mut self, p: u32, col: usize, on: bool) {
        let word = col / 64;
        if word >= MAX_WORDS {
            return;
        }
        if word >= self.words {
            if !on {
                return;
            }
            self.widen(word + 1);
        }
        let at = (p as usize).saturating_mul(self.words).saturating_add(word);
        if at >= self.bits.len() {
            if !on {
                return;
            }
            self.bits.resize((p as usize + 1) * self.words, 0);
        }
        if let Some(w) = self.bits.get_mut(at) {
            let bit = 1u64 << (col % 64);
            if on {
                *w |= bit;
            } else {
                *w &= !bit;
            }
        }
    }

    /// Column `col` holds exactly `members` from now on.
    pub(crate) fn fill(&mut self, col: usize, members: &RoaringBitmap) {
        self.clear(col);
        for p in members {
            self.set(p, col, true);
        }
    }

    /// Column `col` holds no answer from now on.
    pub(crate) fn clear(&mut self, col: usize) {
        let word = col / 64;
        if word >= self.words {
            return;
        }
        let bit = !(1u64 << (col % 64));
        for w in self.bits.iter_mut().skip(word).step_by(self.words) {
            *w &= bit;
        }
    }

    /// Rows of `words` words (more than now), the answers kept.
    fn widen(&mut self, words: usize) {
        let rows = self.bits.len().checked_div(self.words).unwrap_or(0);
        let mut bits = vec![0u64; rows * words];
        if self.words > 0 {
            for (new, old) in bits
                .chunks_exact_mut(words)
                .zip(self.bits.chunks_exact(self.words))
            {
                if let Some(head) = new.get_mut(..self.words) {
                    head.copy_from_slice(old);
                }
            }
        }
        self.words = words;
        self.bits = bits;
    }

    /// Whether column `col` mirrors `members` exactly (an unmirrored column always does).
    pub(crate) fn mirrors(&self, col: usize, members: &RoaringBitmap) -> bool {
        if col / 64 >= MAX_WORDS {
            return true;
        }
        let rows = self.bits.len().checked_div(self.words).unwrap_or(0);
        let held = (0..rows as u32).filter(|&p| self.get(p, col) == Some(true));
        members.len() == held.clone().count() as u64
            && held.into_iter().all(|p| members.contains(p))
    }

    /// Heap bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.bits.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn columns_past_the_cache_line_are_not_mirrored() {
        let mut rows = AnswerRows::default();
        rows.set(3, 511, true);
        assert_eq!(rows.get(3, 511), Some(true));
        assert_eq!(rows.get(3, 512), None);
        rows.set(3, 512, true);
        assert_eq!(rows.heap_bytes(), 4 * MAX_WORDS * 8);
        assert!(rows.mirrors(512, &RoaringBitmap::new()));
    }

    proptest! {
        /// Each column behaves like its own bitmap through sets, fills and clears, and
        /// columns past the row say they are not mirrored.
        #[test]
        fn behaves_like_a_bitmap_per_column(
            ops in proptest::collection::vec((0u32..300, 0usize..600, 0u8..4), 0..300),
        ) {
            let mut rows = AnswerRows::default();
            let mut model: Vec<RoaringBitmap> = vec![RoaringBitmap::new(); 600];
            for (p, col, op) in ops {
                let Some(m) = model.get_mut(col) else { continue };
                match op {
                    0 | 1 => {
                        rows.set(p, col, op == 0);
                        if op == 0 { m.insert(p); } else { m.remove(p); }
                    }
                    2 => {
                        let mut fresh = m.clone();
                        fresh.insert(p / 2);
                        rows.fill(col, &fresh);
                        *m = fresh;
                    }
                    _ => {
                        rows.clear(col);
                        m.clear();
                    }
                }
            }
            for (col, m) in model.iter().enumerate() {
                prop_assert!(rows.mirrors(col, m), "column {col}");
                for p in 0..300 {
                    match rows.get(p, col) {
                        Some(on) => prop_assert_eq!(on, m.contains(p)),
                        None => prop_assert!(col >= MAX_WORDS * 64),
                    }
                }
            }
        }
    }
}
