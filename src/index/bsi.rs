//! A bit-sliced index: one bitmap per bit of a 64-bit value (stored offset so that
//! unsigned order is signed order) and an existence bitmap, so a comparison costs at most
//! 64 bitmap operations whatever the number of profiles.

use roaring::RoaringBitmap;

/// Signed order as unsigned order.
fn key(v: i64) -> u64 {
    (v as u64) ^ (1 << 63)
}

/// Values by profile, sliced into bitmaps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Bsi {
    exists: RoaringBitmap,
    /// Bit `i` of every value's key.
    slices: Vec<RoaringBitmap>,
    /// Each profile's value (meaningful where `exists`), to clear its bits on change.
    values: Vec<i64>,
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

    /// Sets (or with `None` clears) the value of `p`.
    pub(crate) fn set(&mut self, p: u32, value: Option<i64>) {
        let old = self.get(p);
        if old == value {
            return;
        }
        if let Some(old) = old {
            let k = key(old);
            for (i, slice) in self.slices.iter_mut().enumerate() {
                if k >> i & 1 == 1 {
                    slice.remove(p);
                }
            }
            self.exists.remove(p);
        }
        if let Some(v) = value {
            if self.slices.is_empty() {
                self.slices = vec![RoaringBitmap::new(); 64];
            }
            let k = key(v);
            for (i, slice) in self.slices.iter_mut().enumerate() {
                if k >> i & 1 == 1 {
                    slice.insert(p);
                }
            }
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

    /// Profiles with a value, within `within`.
    pub(crate) fn exists(&self, within: &RoaringBitmap) -> RoaringBitmap {
        &self.exists & within
    }

    /// Profiles (within `within`) whose value is greater than `c` and those equal to it.
    fn greater_and_equal(&self, c: i64, within: &RoaringBitmap) -> (RoaringBitmap, RoaringBitmap) {
        let mut equal = &self.exists & within;
        let mut greater = RoaringBitmap::new();
        let k = key(c);
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
            let k = key(v);
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
