//! The consent and suppression index: bitmaps kept current whenever a profile's consent
//! history, suppressions or identifiers change, so consent gates and suppression
//! conditions cost one bitmap operation.
//!
//! Consent is stored as the exceptions to the purpose's default: for an `opt_in` purpose
//! the profiles that granted, for an `opt_out` purpose those that denied. A profile with no
//! statement is in no bitmap, so creating one costs nothing.

use roaring::RoaringBitmap;

use crate::ids::{ChannelId, ProfileId, PurposeId};
use crate::schema::{ConsentDefault, Schema};

/// One profile's privacy answers: what the index stores for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PrivacyRow {
    /// Per consent key, whether the state differs from the purpose's default.
    pub(crate) consent_exceptions: Vec<bool>,
    /// Per channel slot (channels, then "every channel"): suppressed there, on the profile
    /// or on one of its identifiers.
    pub(crate) suppressed: Vec<bool>,
    /// The same, whole-profile suppressions only.
    pub(crate) profile_suppressed: Vec<bool>,
}

/// The index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PrivacyIndex {
    /// Per consent key: the profiles whose state is not the purpose's default.
    consent: Vec<RoaringBitmap>,
    /// Per channel slot: profiles with a suppression there.
    suppressed: Vec<RoaringBitmap>,
    /// Per channel slot: profiles with a whole-profile suppression there.
    profile_suppressed: Vec<RoaringBitmap>,
}

fn set(bitmap: Option<&mut RoaringBitmap>, p: ProfileId, on: bool) {
    if let Some(b) = bitmap {
        if on {
            b.insert(p.0);
        } else {
            b.remove(p.0);
        }
    }
}

fn row_get(v: &[bool], i: usize) -> bool {
    v.get(i).copied().unwrap_or(false)
}

impl PrivacyIndex {
    /// Empty bitmaps for the schema's purposes and channels.
    pub(crate) fn new(schema: &Schema) -> Self {
        let slots = schema.def().channels.len() + 1;
        PrivacyIndex {
            consent: vec![RoaringBitmap::new(); schema.consent_keys()],
            suppressed: vec![RoaringBitmap::new(); slots],
            profile_suppressed: vec![RoaringBitmap::new(); slots],
        }
    }

    /// Stores `row` for `p` (an empty row takes `p` out of every bitmap).
    pub(crate) fn set(&mut self, p: ProfileId, row: &PrivacyRow) {
        for (i, b) in self.consent.iter_mut().enumerate() {
            set(Some(b), p, row_get(&row.consent_exceptions, i));
        }
        for (i, b) in self.suppressed.iter_mut().enumerate() {
            set(Some(b), p, row_get(&row.suppressed, i));
        }
        for (i, b) in self.profile_suppressed.iter_mut().enumerate() {
            set(Some(b), p, row_get(&row.profile_suppressed, i));
        }
    }

    /// Live profiles within `within` whose (purpose, channel) is granted.
    pub(crate) fn granted(
        &self,
        schema: &Schema,
        purpose: PurposeId,
        channel: ChannelId,
        within: &RoaringBitmap,
    ) -> RoaringBitmap {
        let key = schema.consent_key(purpose, channel);
        let Some(exceptions) = self.consent.get(key) else {
            return RoaringBitmap::new();
        };
        match schema.purpose(purpose).map(|p| p.default) {
            Some(ConsentDefault::OptOut) => within - exceptions,
            _ => within & exceptions,
        }
    }

    /// The profiles with a suppression on `channel` (or every channel); with `None`, those
    /// with any suppression. Whole-profile suppressions only with `whole_profile`.
    pub(crate) fn suppressed(
        &self,
        channel: Option<ChannelId>,
        whole_profile: bool,
    ) -> RoaringBitmap {
        let bitmaps = if whole_profile {
            &self.profile_suppressed
        } else {
            &self.suppressed
        };
        match channel {
            Some(c) => {
                let all = bitmaps.last();
                let one = bitmaps.get(c.index());
                match (one, all) {
                    (Some(a), Some(b)) => a | b,
                    _ => RoaringBitmap::new(),
                }
            }
            None => bitmaps.iter().fold(RoaringBitmap::new(), |acc, b| acc | b),
        }
    }

    /// What the index holds for `p`.
    pub(crate) fn row(&self, p: ProfileId) -> PrivacyRow {
        let has = |v: &[RoaringBitmap]| v.iter().map(|b| b.contains(p.0)).collect();
        PrivacyRow {
            consent_exceptions: has(&self.consent),
            suppressed: has(&self.suppressed),
            profile_suppressed: has(&self.profile_suppressed),
        }
    }

    /// Every profile any bitmap holds.
    pub(crate) fn profiles(&self) -> RoaringBitmap {
        self.consent
            .iter()
            .chain(&self.suppressed)
            .chain(&self.profile_suppressed)
            .fold(RoaringBitmap::new(), |acc, b| acc | b)
    }

    /// Estimated heap bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.consent
            .iter()
            .chain(&self.suppressed)
            .chain(&self.profile_suppressed)
            .map(RoaringBitmap::serialized_size)
            .sum()
    }
}

/// Normalizes a row so that "nothing" compares equal however it was built.
pub(crate) fn normalized(mut row: PrivacyRow) -> PrivacyRow {
    for v in [
        &mut row.consent_exceptions,
        &mut row.suppressed,
        &mut row.profile_suppressed,
    ] {
        while v.last() == Some(&false) {
            v.pop();
        }
    }
    row
}
