//! A bit-sliced index: one bitmap per bit of `value − base` and an existence bitmap, so a
//! comparison costs one bitmap operation per bit of the values' span (7 for ages, 20 for
//! amounts up to a million), whatever the number of profiles.
//!
//! `base` and the number of bits grow with the values: a value outside the span rebuilds
//! the slices with the span at least doubled, so rebuilds are at most ~128 in all.

use roaring::RoaringBitmap;

/// Values by profile, sliced into bitmaps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Bsi {
    exists: RoaringBitmap,
    /// The least value the slices can hold.
    base: i64,
    /// Bit `i` of every value's `value − base`; `bits` = the number of slices.
    slices: Vec<RoaringBitmap>,
    /// Each profile's value (meaningful where `exists`), to clear its bits on change.
    values: Vec<i64>,
}

/// The number of bits `span` needs.
fn width(span: u128) -> usize {
    (u128::BITS - span.leading_zeros()) as usize
}

impl Bsi {
    /// The value of `p`, if it has one.
    pub(crate) fn get(&self, p: u32) -> Option<i64> {
        if self.exists.contains(p) {
            self.values.get(p as usize).copied()
        } else {
            None
        }
    }

    /// `v − base`, if the slices can hold it.
    fn offset(&self, v: i64) -> Option<u64> {
        let d = i128::from(v) - i128::from(self.base);
        let fits = d >= 0 && width(d as u128) <= self.slices.len();
        fits.then_some(d as u64)
    }

    fn write(&mut self, p: u32, v: i64, insert: bool) {
        let Some(k) = self.offset(v) else {
            return;
        };
        for (i, slice) in self.slices.iter_mut().enumerate() {
            if k >> i & 1 == 1 {
                if insert {
                    slice.insert(p);
                } else {
                    slice.remove(p);
                }
            }
        }
    }

    /// Widens the span to hold `v` (at least doubling it) and rebuilds the slices.
    fn widen(&mut self, v: i64) {
        let (lo, hi) = if self.exists.is_empty() {
            (v, v)
        } else {
            let top = i128::from(self.base) + (1i128 << self.slices.len()) - 1;
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
        let bits = width((i128::from(hi) - i128::from(lo)) as u128).max(1);
        self.slices = vec![RoaringBitmap::new(); bits];
        let present: Vec<u32> = self.exists.iter().collect();
        for p in present {
            if let Some(&old) = self.values.get(p as usize) {
                self.write(p, old, true);
            }
        }
    }

    /// Sets (or with `None` clears) the value of `p`.
    pub(crate) fn set(&mut self, p: u32, value: Option<i64>) {
        let old = self.get(p);
        if old == value {
            return;
        }
        if let Some(old) = old {
            self.write(p, old, false);
            self.exists.remove(p);
            if let Some(slot) = self.values.get_mut(p as usize) {
                *slot = 0;
            }
        }
        if let Some(v) = value {
            if self.offset(v).is_none() {
                self.widen(v);
            }
            self.write(p, v, true);
            self.exists.insert(p);
            let i = p as usize;
            if self.values.len() <= i {
                self.values.resize(i + 1, 0);
            }
            if let Some(slot) = self.values.get_mut(i) {
                *slot = v;
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

    /// Profiles (within `within`) whose value is greater than `c` and those equal to it.
    fn greater_and_equal(&self, c: i64, within: &RoaringBitmap) -> (RoaringBitmap, RoaringBitmap) {
        let present = &self.exists & within;
        if i128::from(c) < i128::from(self.base) {
            return (present, RoaringBitmap::new());
        }
        let Some(k) = self.offset(c) else {
            return (RoaringBitmap::new(), RoaringBitmap::new());
        };
        let mut equal = present;
        let mut greater = RoaringBitmap::new();
        for (i, slice) in self.slices.iter().enumerate().rev() {
            if equal.is_empty() {
                break;
            }
            if k >> i & 1 == 1 {
                equal &= slice;
            } else {
                greater |= &equal & slice;
                equal -= slice;
            }
        }
        (greater, equal)
    }

    /// Profiles within `within` whose value lies in the bounds (each `(value, inclusive)`).
    pub(crate) fn range(
        &self,
        min: Option<(i64, bool)>,
        max: Option<(i64, bool)>,
        within: &RoaringBitmap,
    ) -> RoaringBitmap {
        let mut out = &self.exists & within;
        if let Some((lo, inclusive)) = min {
            let (greater, equal) = self.greater_and_equal(lo, &out);
            out = if inclusive { greater | equal } else { greater };
        }
        if let Some((hi, inclusive)) = max {
            let (greater, equal) = self.greater_and_equal(hi, &out);
            out -= greater;
            if !inclusive {
                out -= equal;
            }
        }
        out
    }

    /// Profiles within `within` whose value is `v`.
    pub(crate) fn equal(&self, v: i64, within: &RoaringBitmap) -> RoaringBitmap {
        self.greater_and_equal(v, within).1
    }

    /// Checks every value against the slices.
    pub(crate) fn check(&self) -> Result<(), String> {
        for p in &self.exists {
            let v = self
                .values
                .get(p as usize)
                .copied()
                .ok_or("value missing")?;
            let k = self
                .offset(v)
                .ok_or_else(|| format!("{v} is outside the span"))?;
            for (i, slice) in self.slices.iter().enumerate() {
                if slice.contains(p) != (k >> i & 1 == 1) {
                    return Err(format!("profile {p}: bit {i} of {v} disagrees"));
                }
            }
        }
        for slice in &self.slices {
            if !slice.is_subset(&self.exists) {
                return Err("a slice holds a profile without a value".into());
            }
        }
        Ok(())
    }

    /// Estimated heap bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.exists.serialized_size()
            + self
                .slices
                .iter()
                .map(RoaringBitmap::serialized_size)
                .sum::<usize>()
            + self.values.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn ranges_equal_a_scan(
            values in prop::collection::vec(prop::option::of(prop_oneof![-50i64..50, any::<i64>()]), 1..200),
            updates in prop::collection::vec((0usize..200, prop::option::of(-50i64..50)), 0..50),
            lo in prop::option::of((-60i64..60, any::<bool>())),
            hi in prop::option::of((-60i64..60, any::<bool>())),
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
            prop_assert_eq!(bsi.range(lo, hi, &all), want);
            if let Some((l, _)) = lo {
                let eq: RoaringBitmap = model.iter().enumerate()
                    .filter(|(_, v)| **v == Some(l)).map(|(p, _)| p as u32).collect();
                prop_assert_eq!(bsi.equal(l, &all), eq);
            }
        }
    }
}
