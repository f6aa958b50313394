//! Plain bit words (bit `p % 64` of word `p / 64` stands for profile `p`), for evaluating
//! a boolean tree of index answers without roaring's per-operation container
//! conversions; and the two conversions to and from roaring bitmaps.
//!
//! A roaring bitmap is read through its portable serialization: bitmap containers are
//! copied word for word and array containers scattered, so a conversion costs about a
//! copy of the bitmap. A layout this reader does not expect (run containers, which the
//! engine never makes) falls back to reading the values one by one.

use roaring::RoaringBitmap;

/// The portable format's cookie when no container is a run.
const COOKIE_NO_RUNS: u32 = 12346;
/// At most this many values a container keeps as an array (else 1,024 words).
const ARRAY_LIMIT: usize = 4096;
/// Bytes of a bitmap container.
const BITMAP_BYTES: usize = 8192;

/// Words enough for ids below `end`.
pub(crate) fn words_for(end: u64) -> usize {
    usize::try_from(end.div_ceil(64)).unwrap_or(usize::MAX)
}

/// Sets the bit of `id` (ids beyond `words` are ignored).
fn set(words: &mut [u64], id: u32) {
    if let Some(w) = words.get_mut(id as usize / 64) {
        *w |= 1u64 << (id % 64);
    }
}

/// A little-endian `u16` at `at`.
fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([*b.first()?, *b.get(1)?]))
}

/// A little-endian `u32` at `at`.
fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(b))
}

/// ORs the containers of a serialized bitmap into `words`; `None` (with `words` maybe
/// partly written, which a caller's fallback rewrites idempotently) if the layout is not
/// the run-free one.
fn or_serialized(words: &mut [u64], bytes: &[u8]) -> Option<()> {
    if u32_at(bytes, 0)? != COOKIE_NO_RUNS {
        return None;
    }
    let size = u32_at(bytes, 4)? as usize;
    let header = 8usize.checked_add(size.checked_mul(8)?)?;
    let mut at = header;
    for c in 0..size {
        let key = usize::from(u16_at(bytes, 8 + c * 4)?);
        let card = usize::from(u16_at(bytes, 8 + c * 4 + 2)?) + 1;
        let base = key * 1024;
        if card > ARRAY_LIMIT {
            let container = bytes.get(at..at + BITMAP_BYTES)?;
            let target = words.get_mut(base..).unwrap_or_default();
            for (w, chunk) in target.iter_mut().zip(container.chunks_exact(8)) {
                let chunk: [u8; 8] = chunk.try_into().ok()?;
                *w |= u64::from_le_bytes(chunk);
            }
            at += BITMAP_BYTES;
        } else {
            let container = bytes.get(at..at + card * 2)?;
            for low in container.chunks_exact(2) {
                let low = u32::from(u16::from_le_bytes([*low.first()?, *low.get(1)?]));
                set(words, u32::try_from(key).ok()? << 16 | low);
            }
            at += card * 2;
        }
    }
    (at == bytes.len()).then_some(())
}

/// ORs `bitmap` into `words`; `scratch` is reused between calls.
pub(crate) fn or_into(words: &mut [u64], bitmap: &RoaringBitmap, scratch: &mut Vec<u8>) {
    scratch.clear();
    let read =
        bitmap.serialize_into(&mut *scratch).is_ok() && or_serialized(words, scratch).is_some();
    if !read {
        bitmap.iter().for_each(|id| set(words, id));
    }
}

/// `bitmap` as `n` words.
pub(crate) fn from_bitmap(bitmap: &RoaringBitmap, n: usize, scratch: &mut Vec<u8>) -> Vec<u64> {
    let mut words = vec![0u64; n];
    or_into(&mut words, bitmap, scratch);
    words
}

/// The bitmap of the set bits of `words`.
pub(crate) fn to_bitmap(words: &[u64]) -> RoaringBitmap {
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    RoaringBitmap::from_lsb0_bytes(0, &bytes)
}

/// The number of set bits.
pub(crate) fn count(words: &[u64]) -> u64 {
    words.iter().map(|w| u64::from(w.count_ones())).sum()
}

/// `a &= b`, word by word.
pub(crate) fn and(a: &mut [u64], b: &[u64]) {
    a.iter_mut().zip(b).for_each(|(x, y)| *x &= y);
}

/// `a |= b`, word by word.
pub(crate) fn or(a: &mut [u64], b: &[u64]) {
    a.iter_mut().zip(b).for_each(|(x, y)| *x |= y);
}

/// `a = within & !a`, word by word.
pub(crate) fn complement(a: &mut [u64], within: &[u64]) {
    a.iter_mut().zip(within).for_each(|(x, y)| *x = y & !*x);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_bitmap_round_trips_through_words(
            ids in prop::collection::vec(0u32..300_000, 0..3000),
            ranges in prop::collection::vec((0u32..300_000, 0u32..70_000), 0..3),
            runs in any::<bool>(),
        ) {
            let mut bitmap: RoaringBitmap = ids.into_iter().collect();
            for (start, len) in ranges {
                bitmap.insert_range(start..start.saturating_add(len));
            }
            if runs {
                // Run containers take the fallback.
                bitmap.optimize();
            }
            let n = words_for(bitmap.max().map_or(0, |m| u64::from(m) + 1));
            let mut scratch = Vec::new();
            let words = from_bitmap(&bitmap, n, &mut scratch);
            prop_assert_eq!(count(&words), bitmap.len());
            prop_assert_eq!(to_bitmap(&words), bitmap.clone());
            let mut doubled = words.clone();
            or_into(&mut doubled, &bitmap, &mut scratch);
            prop_assert_eq!(doubled, words);
        }
    }

    #[test]
    fn operations_are_word_by_word() {
        let (mut a, b, within) = (vec![0b1100u64], vec![0b1010u64], vec![0b1111u64]);
        and(&mut a, &b);
        assert_eq!(a, vec![0b1000]);
        or(&mut a, &[0b0001]);
        assert_eq!(a, vec![0b1001]);
        complement(&mut a, &within);
        assert_eq!(a, vec![0b0110]);
    }
}
