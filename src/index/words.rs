//! Plain bit words (bit `p % 64` of word `p / 64` stands for profile `p`), for evaluating
//! a boolean tree of index answers without roaring's per-operation container
//! conversions; and the two conversions to and from roaring bitmaps.
//!
//! A roaring bitmap is read through its portable serialization, container by container as
//! roaring writes them, without a copy: bitmap containers are combined word for word and
//! array containers scattered. A layout this reader does not expect (run containers,
//! which the engine never makes) falls back to reading the values one by one.

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

/// One container of a serialized bitmap: its values, as 1,024 little-endian words or as
/// sorted little-endian `u16`s.
enum Container<'a> {
    Bitmap(&'a [u8]),
    Array(&'a [u8]),
}

/// An [`std::io::Write`] that reads a bitmap's portable serialization as roaring writes
/// it and hands each container to `f` with its key. Roaring writes a container in one
/// call, which is read where it lies; a container split across calls is gathered first.
struct Reader<F> {
    f: F,
    /// The cookie, the count, then (key, cardinality − 1) and an offset per container.
    header: Vec<u8>,
    /// Containers handed on so far.
    done: usize,
    partial: Vec<u8>,
}

impl<F: FnMut(usize, Container<'_>)> Reader<F> {
    /// Containers in the bitmap, once the header says.
    fn size(&self) -> Option<usize> {
        u32_at(&self.header, 4).map(|n| n as usize)
    }

    /// Header bytes: 8 until the count is known.
    fn header_len(&self) -> usize {
        self.size().map_or(8, |n| 8 + 8 * n)
    }

    /// Key and byte length of container `c`.
    fn describe(&self, c: usize) -> Option<(usize, usize)> {
        let key = usize::from(u16_at(&self.header, 8 + c * 4)?);
        let card = usize::from(u16_at(&self.header, 8 + c * 4 + 2)?) + 1;
        Some((
            key,
            if card > ARRAY_LIMIT {
                BITMAP_BYTES
            } else {
                card * 2
            },
        ))
    }

    fn hand_on(&mut self, key: usize, bytes: &[u8]) {
        let c = if bytes.len() == BITMAP_BYTES {
            Container::Bitmap(bytes)
        } else {
            Container::Array(bytes)
        };
        (self.f)(key, c);
        self.done += 1;
    }

    /// Whether every container was handed on.
    fn complete(&self) -> bool {
        self.header.len() == self.header_len() && self.size() == Some(self.done)
    }
}

impl<F: FnMut(usize, Container<'_>)> std::io::Write for Reader<F> {
    fn write(&mut self, mut buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len();
        let unexpected = || std::io::Error::other("not the run-free layout");
        while !buf.is_empty() {
            let need = self.header_len();
            if self.header.len() < need {
                let (head, rest) = buf.split_at((need - self.header.len()).min(buf.len()));
                self.header.extend_from_slice(head);
                buf = rest;
                if u32_at(&self.header, 0).is_some_and(|c| c != COOKIE_NO_RUNS) {
                    return Err(unexpected());
                }
                continue;
            }
            let (key, len) = self.describe(self.done).ok_or_else(unexpected)?;
            if self.partial.is_empty() && buf.len() >= len {
                let (container, rest) = buf.split_at(len);
                self.hand_on(key, container);
                buf = rest;
            } else {
                let take = (len - self.partial.len()).min(buf.len());
                let (head, rest) = buf.split_at(take);
                self.partial.extend_from_slice(head);
                buf = rest;
                if self.partial.len() == len {
                    let whole = std::mem::take(&mut self.partial);
                    self.hand_on(key, &whole);
                }
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Calls `f` with each container of `bitmap` (key, values), in key order, reading them
/// where they lie; `false` (after some calls, which every caller's fallback redoes
/// idempotently) if the layout is not the run-free one.
fn each_container(bitmap: &RoaringBitmap, f: impl FnMut(usize, Container<'_>)) -> bool {
    let mut reader = Reader {
        f,
        header: Vec::new(),
        done: 0,
        partial: Vec::new(),
    };
    bitmap.serialize_into(&mut reader).is_ok() && reader.complete()
}

/// The words of a bitmap container.
fn container_words(bytes: &[u8]) -> impl Iterator<Item = u64> + '_ {
    bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
}

/// The values (low 16 bits) of an array container.
fn container_values(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    bytes
        .chunks_exact(2)
        .map(|c| usize::from(u16::from_le_bytes(c.try_into().unwrap_or_default())))
}

/// Applies `op(word, bit)` to the word and bit of each value of an array container
/// (`target`: the container's words). Sorted values often share a word, and one run
/// over them would wait for each store before the next load of that word, so four runs
/// over the quarters of the values interleave (ORs and ANDs of bits commute).
fn scatter(target: &mut [u64], values: &[u8], op: impl Fn(&mut u64, u64)) {
    let quarter = values.len() / 8 * 2;
    let (a, rest) = values.split_at(quarter);
    let (b, rest) = rest.split_at(quarter);
    let (c, d) = rest.split_at(quarter);
    let mut apply = |v: usize| {
        if let Some(w) = target.get_mut(v / 64) {
            op(w, 1u64 << (v % 64));
        }
    };
    let lanes = container_values(a)
        .zip(container_values(b))
        .zip(container_values(c))
        .zip(container_values(d));
    for (((va, vb), vc), vd) in lanes {
        apply(va);
        apply(vb);
        apply(vc);
        apply(vd);
    }
    container_values(d).skip(quarter / 2).for_each(apply);
}

/// The 1,024 words of container `key` within `words` (fewer at the end).
fn chunk(words: &mut [u64], key: usize) -> &mut [u64] {
    let start = (key * 1024).min(words.len());
    let end = (start + 1024).min(words.len());
    words.get_mut(start..end).unwrap_or_default()
}

/// ORs `bitmap` into `words`.
pub(crate) fn or_into(words: &mut [u64], bitmap: &RoaringBitmap) {
    let read = each_container(bitmap, |key, c| {
        let target = chunk(words, key);
        match c {
            Container::Bitmap(b) => target
                .iter_mut()
                .zip(container_words(b))
                .for_each(|(w, x)| *w |= x),
            Container::Array(a) => scatter(target, a, |w, bit| *w |= bit),
        }
    });
    if !read {
        bitmap.iter().for_each(|id| set(words, id));
    }
}

/// Calls `f` with each container of `bitmap` and its part of `words`, and zeroes the
/// parts the bitmap holds nothing in; `false` as [`each_container`].
fn each_part_or_zero(
    words: &mut [u64],
    bitmap: &RoaringBitmap,
    mut f: impl FnMut(&mut [u64], Container<'_>),
) -> bool {
    let mut next = 0usize; // parts before `next` are done
    let read = each_container(bitmap, |key, c| {
        for gone in next..key {
            chunk(words, gone).fill(0);
        }
        next = key + 1;
        f(chunk(words, key), c);
    });
    if read {
        for gone in next..words.len().div_ceil(1024) {
            chunk(words, gone).fill(0);
        }
    }
    read
}

/// `words = bitmap` (whatever `words` held), read straight from the bitmap's containers:
/// one write of each word rather than clearing first.
pub(crate) fn assign(words: &mut [u64], bitmap: &RoaringBitmap) {
    let read = each_part_or_zero(words, bitmap, |target, c| match c {
        Container::Bitmap(b) => target
            .iter_mut()
            .zip(container_words(b))
            .for_each(|(w, x)| *w = x),
        Container::Array(a) => {
            target.fill(0);
            scatter(target, a, |w, bit| *w |= bit);
        }
    });
    if !read {
        words.fill(0);
        bitmap.iter().for_each(|id| set(words, id));
    }
}

/// `words &= bitmap`, read straight from the bitmap's containers.
pub(crate) fn and_with(words: &mut [u64], bitmap: &RoaringBitmap) {
    let read = each_part_or_zero(words, bitmap, |target, c| match c {
        Container::Bitmap(b) => target
            .iter_mut()
            .zip(container_words(b))
            .for_each(|(w, x)| *w &= x),
        Container::Array(a) => {
            let mut keep = [0u64; 1024];
            scatter(&mut keep, a, |w, bit| *w |= bit);
            target.iter_mut().zip(keep).for_each(|(w, x)| *w &= x);
        }
    });
    if !read {
        let mut other = vec![0u64; words.len()];
        bitmap.iter().for_each(|id| set(&mut other, id));
        and(words, &other);
    }
}

/// `words &= !bitmap`, read straight from the bitmap's containers.
pub(crate) fn and_not_with(words: &mut [u64], bitmap: &RoaringBitmap) {
    let read = each_container(bitmap, |key, c| {
        let target = chunk(words, key);
        match c {
            Container::Bitmap(b) => target
                .iter_mut()
                .zip(container_words(b))
                .for_each(|(w, x)| *w &= !x),
            Container::Array(a) => scatter(target, a, |w, bit| *w &= !bit),
        }
    });
    if !read {
        bitmap.iter().for_each(|id| {
            if let Some(w) = words.get_mut(id as usize / 64) {
                *w &= !(1u64 << (id % 64));
            }
        });
    }
}

/// A set of profiles as an index stores it: a roaring bitmap, or plain words (bit `p % 64`
/// of word `p / 64`; ids beyond the words are outside) for a value common enough that
/// reading words beats scattering array containers.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Set<'a> {
    /// A roaring bitmap.
    Bitmap(&'a RoaringBitmap),
    /// Plain words.
    Words(&'a [u64]),
}

impl Set<'_> {
    /// `words = self` (whatever `words` held).
    pub(crate) fn assign_to(self, words: &mut [u64]) {
        match self {
            Set::Bitmap(b) => assign(words, b),
            Set::Words(w) => {
                let (head, tail) = words.split_at_mut(w.len().min(words.len()));
                head.copy_from_slice(w.get(..head.len()).unwrap_or_default());
                tail.fill(0);
            }
        }
    }

    /// `words |= self`.
    pub(crate) fn or_into(self, words: &mut [u64]) {
        match self {
            Set::Bitmap(b) => or_into(words, b),
            Set::Words(w) => or(words, w),
        }
    }

    /// `words &= self`.
    pub(crate) fn and_into(self, words: &mut [u64]) {
        match self {
            Set::Bitmap(b) => and_with(words, b),
            Set::Words(w) => {
                and(words, w);
                words.get_mut(w.len()..).unwrap_or_default().fill(0);
            }
        }
    }

    /// `words &= !self`.
    pub(crate) fn and_not_into(self, words: &mut [u64]) {
        match self {
            Set::Bitmap(b) => and_not_with(words, b),
            Set::Words(w) => words.iter_mut().zip(w).for_each(|(a, b)| *a &= !b),
        }
    }
}

/// `bitmap` as `n` words.
pub(crate) fn from_bitmap(bitmap: &RoaringBitmap, n: usize) -> Vec<u64> {
    let mut words = vec![0u64; n];
    or_into(&mut words, bitmap);
    words
}

/// The bitmap of the set bits of `words`.
pub(crate) fn to_bitmap(words: &[u64]) -> RoaringBitmap {
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    RoaringBitmap::from_lsb0_bytes(0, &bytes)
}

/// The number of set bits. The portable build has no popcount instruction, so each
/// block of 16 words sums its bytes' bit counts in simple lane operations (which the
/// compiler vectorizes) and folds them once, instead of a full bit count per word.
pub(crate) fn count(words: &[u64]) -> u64 {
    const M1: u64 = 0x5555_5555_5555_5555;
    const M2: u64 = 0x3333_3333_3333_3333;
    const M4: u64 = 0x0f0f_0f0f_0f0f_0f0f;
    const M8: u64 = 0x00ff_00ff_00ff_00ff;
    const H16: u64 = 0x0001_0001_0001_0001;
    let blocks = words.chunks_exact(16);
    let tail: u64 = blocks
        .remainder()
        .iter()
        .map(|w| u64::from(w.count_ones()))
        .sum();
    let body: u64 = blocks
        .map(|block| {
            // Each byte of a word's count is at most 8, so 16 of them fit a byte.
            let bytes = block.iter().fold(0u64, |acc, &w| {
                let x = w - ((w >> 1) & M1);
                let x = (x & M2) + ((x >> 2) & M2);
                acc + ((x + (x >> 4)) & M4)
            });
            let pairs = (bytes & M8) + ((bytes >> 8) & M8);
            pairs.wrapping_mul(H16) >> 48
        })
        .sum();
    body + tail
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

    /// `len` words of Weyl-sequence noise from `seed`.
    fn noise(seed: u64, len: usize) -> Vec<u64> {
        let mut rng = seed;
        (0..len)
            .map(|_| {
                rng = rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
                rng ^ (rng >> 29)
            })
            .collect()
    }

    proptest! {
        #[test]
        fn a_bitmap_round_trips_through_words(
            ids in prop::collection::vec(0u32..300_000, 0..3000),
            ranges in prop::collection::vec((0u32..300_000, 0u32..70_000), 0..3),
            runs in any::<bool>(),
            other_seed in any::<u64>(),
            extra in 0usize..3000,
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
            let words = from_bitmap(&bitmap, n);
            prop_assert_eq!(count(&words), bitmap.len());
            prop_assert_eq!(to_bitmap(&words), bitmap.clone());
            let mut doubled = words.clone();
            or_into(&mut doubled, &bitmap);
            prop_assert_eq!(&doubled, &words);
            // Read straight into other words: `and` and `and not`, against word by word.
            let other = noise(other_seed, n + extra);
            let mut want_and = other.clone();
            let mut want_not = other.clone();
            for (i, w) in words.iter().chain(std::iter::repeat(&0)).take(n + extra).enumerate() {
                want_and[i] &= w;
                want_not[i] &= !w;
            }
            let mut got = other.clone();
            assign(&mut got, &bitmap);
            prop_assert_eq!(&got[..n], &words[..]);
            prop_assert!(got[n..].iter().all(|&w| w == 0));
            let mut got = other.clone();
            and_with(&mut got, &bitmap);
            prop_assert_eq!(got, want_and);
            let mut got = other;
            and_not_with(&mut got, &bitmap);
            prop_assert_eq!(got, want_not);
        }
    }

    proptest! {
        #[test]
        fn scattering_and_counting_equal_one_value_and_one_word_at_a_time(
            values in prop::collection::btree_set(0u16..u16::MAX, 0..40),
            len in 0usize..1100,
            seed in any::<u64>(),
        ) {
            let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            let start = noise(seed, len);
            let (mut set, mut clear) = (start.clone(), start.clone());
            scatter(&mut set, &bytes, |w, bit| *w |= bit);
            scatter(&mut clear, &bytes, |w, bit| *w &= !bit);
            let (mut want_set, mut want_clear) = (start.clone(), start.clone());
            for &v in values.iter().filter(|&&v| usize::from(v) / 64 < len) {
                want_set[usize::from(v) / 64] |= 1 << (v % 64);
                want_clear[usize::from(v) / 64] &= !(1 << (v % 64));
            }
            prop_assert_eq!(set, want_set);
            prop_assert_eq!(clear, want_clear);
            let naive: u64 = start.iter().map(|w| u64::from(w.count_ones())).sum();
            prop_assert_eq!(count(&start), naive);
            prop_assert_eq!(count(&vec![u64::MAX; len]), 64 * len as u64);
        }
    }

    /// What a reader hands on, as (key, is a bitmap container, bytes).
    fn collect(writes: &[&[u8]]) -> (Vec<(usize, bool, Vec<u8>)>, bool) {
        let mut got = Vec::new();
        let mut reader = Reader {
            f: |key, c: Container<'_>| match c {
                Container::Bitmap(b) => got.push((key, true, b.to_vec())),
                Container::Array(a) => got.push((key, false, a.to_vec())),
            },
            header: Vec::new(),
            done: 0,
            partial: Vec::new(),
        };
        let ok = writes
            .iter()
            .all(|w| std::io::Write::write_all(&mut reader, w).is_ok());
        let complete = ok && reader.complete();
        (got, complete)
    }

    proptest! {
        #[test]
        fn a_serialization_split_anywhere_reads_the_same(
            ids in prop::collection::vec(0u32..300_000, 0..6000),
            dense in 0u32..5,
            cut in 1usize..40,
        ) {
            let mut bitmap: RoaringBitmap = ids.into_iter().collect();
            // Value by value, as the engine builds bitmaps (`insert_range` may make a run).
            bitmap.extend(dense * 65_536..dense * 65_536 + 5_000);
            let mut bytes = Vec::new();
            bitmap.serialize_into(&mut bytes).unwrap();
            let (whole, complete) = collect(&[&bytes]);
            prop_assert!(complete);
            prop_assert_eq!(whole.len() as u64, u64::from(bitmap.statistics().n_containers));
            let pieces: Vec<&[u8]> = bytes.chunks(cut).collect();
            let (split, complete) = collect(&pieces);
            prop_assert!(complete);
            prop_assert_eq!(split, whole);
            // A truncated stream is not complete.
            let short = bytes.len() - 1;
            prop_assert!(!collect(&[&bytes[..short]]).1);
        }
    }

    proptest! {
        #[test]
        fn a_set_as_words_acts_as_its_bitmap(
            ids in prop::collection::vec(0u32..200_000, 0..3000),
            short in 0usize..3200,
            len in 0usize..3200,
            seed in any::<u64>(),
        ) {
            let bitmap: RoaringBitmap = ids.into_iter().collect();
            // Words that may end before or after the target, holding the ids below them.
            let mut held = from_bitmap(&bitmap, words_for(200_000));
            held.truncate(short);
            let as_words = Set::Words(&held);
            let kept = to_bitmap(&held);
            let as_bitmap = Set::Bitmap(&kept);
            let start = noise(seed, len);
            for op in 0..4 {
                let (mut a, mut b) = (start.clone(), start.clone());
                for (set, out) in [(as_words, &mut a), (as_bitmap, &mut b)] {
                    match op {
                        0 => set.assign_to(out),
                        1 => set.or_into(out),
                        2 => set.and_into(out),
                        _ => set.and_not_into(out),
                    }
                }
                prop_assert_eq!(a, b, "operation {}", op);
            }
        }
    }

    #[test]
    fn run_containers_are_not_read_as_containers() {
        let mut bitmap: RoaringBitmap = (0..100_000).collect();
        bitmap.optimize();
        assert!(!each_container(&bitmap, |_, _| {}));
        let mut words = vec![0u64; words_for(100_000)];
        or_into(&mut words, &bitmap);
        assert_eq!(count(&words), 100_000);
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
