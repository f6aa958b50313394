//! A bitmap per distinct value of a categorical trait (text, boolean), with each profile's
//! value id so a change clears the old bit.

use roaring::{MultiOps, RoaringBitmap};

use crate::hash::FastMap;
use crate::record::Value;
use crate::segment::compile::CTest;
use crate::segment::eval_row::passes_value;

/// Profiles by value. A value no profile holds any more is forgotten (its id reused), so
/// an erased person's values leave no trace here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Categorical {
    ids: FastMap<Value, u32>,
    values: Vec<Value>,
    bitmaps: Vec<RoaringBitmap>,
    /// Per profile: its value's id plus one (0: none).
    of: Vec<u32>,
    /// Ids of forgotten values, to reuse.
    free: Vec<u32>,
}

impl Categorical {
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
                    id
                }
            },
        });
        let old = self.id_of(p);
        if old == new {
            return;
        }
        if let Some(i) = old
            && let Some(b) = self.bitmaps.get_mut(i as usize)
        {
            b.remove(p);
            if b.is_empty() {
                if let Some(v) = self.values.get_mut(i as usize) {
                    let gone = std::mem::replace(v, Value::Boolean(false));
                    self.ids.remove(&gone);
                }
                self.free.push(i);
            }
        }
        if let Some(b) = new.and_then(|i| self.bitmaps.get_mut(i as usize)) {
            b.insert(p);
        }
        let i = p as usize;
        if self.of.len() <= i {
            self.of.resize(i + 1, 0);
        }
        if let Some(slot) = self.of.get_mut(i) {
            *slot = new.map_or(0, |n| n + 1);
        }
    }

    fn bitmap(&self, v: &Value) -> Option<&RoaringBitmap> {
        self.ids.get(v).and_then(|&i| self.bitmaps.get(i as usize))
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

    /// The bitmaps of the values that pass `test` (for [`CTest::Missing`], of every value:
    /// the answer is their complement).
    pub(crate) fn matching(&self, test: &CTest) -> Vec<&RoaringBitmap> {
        match test {
            CTest::Eq(v) => self.bitmap(v).into_iter().collect(),
            CTest::In(vs) => vs.iter().filter_map(|v| self.bitmap(v)).collect(),
            CTest::Exists | CTest::Missing => self.bitmaps.iter().collect(),
            other => self
                .values
                .iter()
                .zip(&self.bitmaps)
                .filter(|(v, _)| passes_value(other, v))
                .map(|(_, b)| b)
                .collect(),
        }
    }

    /// Checks that each profile sits in exactly the bitmap of its value.
    pub(crate) fn check(&self) -> Result<(), String> {
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
    }
}
