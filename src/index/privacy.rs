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

    /// The profiles whose (purpose, channel) state is not the purpose's default, and
    /// whether that default is opt-out (so they are the ones that denied); `None` for a
    /// key the index does not know.
    pub(crate) fn consent_exceptions(
        &self,
        schema: &Schema,
        purpose: PurposeId,
        channel: ChannelId,
    ) -> Option<(&RoaringBitmap, bool)> {
        let exceptions = self.consent.get(schema.consent_key(purpose, channel))?;
        let opt_out = matches!(
            schema.purpose(purpose).map(|p| p.default),
            Some(ConsentDefault::OptOut)
        );
        Some((exceptions, opt_out))
    }

    /// Live profiles within `within` whose (purpose, channel) is granted.
    pub(crate) fn granted(
        &self,
        schema: &Schema,
        purpose: PurposeId,
        channel: ChannelId,
        within: &RoaringBitmap,
    ) -> RoaringBitmap {
        match self.consent_exceptions(schema, purpose, channel) {
            None => RoaringBitmap::new(),
            Some((exceptions, true)) => within - exceptions,
            Some((exceptions, false)) => within & exceptions,
        }
    }

    /// The bitmaps whose union is [`PrivacyIndex::suppressed`]'s answer.
    pub(crate) fn suppressed_sets(
        &self,
        channel: Option<ChannelId>,
        whole_profile: bool,
    ) -> smallvec::SmallVec<[&RoaringBitmap; 2]> {
        let bitmaps = if whole_profile {
            &self.profile_suppressed
        } else {
            &self.suppressed
        };
        match channel {
            Some(c) => match (bitmaps.get(c.index()), bitmaps.last()) {
                (Some(one), Some(all)) => smallvec::smallvec![one, all],
                _ => smallvec::SmallVec::new(),
            },
            None => bitmaps.iter().collect(),
        }
    }

    /// The profiles with a suppression on `channel` (or every channel); with `None`, those
    /// with any suppression. Whole-profile suppressions only with `whole_profile`.
    pub(crate) fn suppressed(
        &self,
        channel: Option<ChannelId>,
        whole_profile: bool,
    ) -> RoaringBitmap {
        self.suppressed_sets(channel, whole_profile)
            .into_iter()
            .fold(RoaringBitmap::new(), |acc, b| acc | b)
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
