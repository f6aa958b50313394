//! Paging through profiles and segment members in profile id order, for hosts that
//! export or display them a page at a time.

use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::error::PageError;
use crate::ids::{ProfileId, SegmentId};

/// The most ids one page may hold.
pub const MAX_PAGE_LIMIT: usize = 100_000;

/// A page of profile ids, ascending.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// The ids, ascending, all greater than the `after` asked for.
    pub ids: Vec<ProfileId>,
    /// The `after` of the next page: the last id here when more follow, `None` when this
    /// is the last page.
    pub next: Option<ProfileId>,
}

fn check(limit: usize) -> Result<(), PageError> {
    match limit {
        0 => Err(PageError::ZeroLimit),
        l if l > MAX_PAGE_LIMIT => Err(PageError::LimitTooLarge {
            limit: l,
            max: MAX_PAGE_LIMIT,
        }),
        _ => Ok(()),
    }
}

/// The first `limit` ids of `ids`, and whether more follow.
fn page(mut ids: impl Iterator<Item = ProfileId>, limit: usize) -> Page {
    let taken: Vec<ProfileId> = ids.by_ref().take(limit).collect();
    let next = match (taken.last(), ids.next()) {
        (Some(&last), Some(_)) => Some(last),
        _ => None,
    };
    Page { ids: taken, next }
}

impl Engine {
    /// Up to `limit` live profile ids greater than `after` (from the first with `None`),
    /// ascending. Costs the page plus the merged-away ids skipped over.
    ///
    /// ```
    /// use audience::{Engine, Record, Schema, Timestamp};
    ///
    /// let mut engine = Engine::new(Schema::retail_default());
    /// let t = Timestamp::from_secs(1_700_000_000)?;
    /// for user in ["a", "b", "c"] {
    ///     engine.ingest(&Record::builder(t, "web").identifier("user_id", user).build())?;
    /// }
    /// let first = engine.profiles_page(None, 2)?;
    /// assert_eq!(first.ids.len(), 2);
    /// let second = engine.profiles_page(first.next, 2)?;
    /// assert_eq!((second.ids.len(), second.next), (1, None));
    /// # Ok::<(), audience::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`PageError::ZeroLimit`], [`PageError::LimitTooLarge`] (over [`MAX_PAGE_LIMIT`]).
    pub fn profiles_page(&self, after: Option<ProfileId>, limit: usize) -> Result<Page, PageError> {
        check(limit)?;
        let start = after.map_or(0, |a| a.index().saturating_add(1));
        Ok(page(self.profiles.iter_live_from(start), limit))
    }

    /// Up to `limit` members of registered segment `segment` with ids greater than `after`
    /// (from the first with `None`), ascending. Costs the page (the members bitmap is
    /// entered at `after` directly).
    ///
    /// # Errors
    /// [`PageError::ZeroLimit`], [`PageError::LimitTooLarge`], and
    /// [`PageError::Segment`] for an unknown segment.
    pub fn members_page(
        &self,
        segment: SegmentId,
        after: Option<ProfileId>,
        limit: usize,
    ) -> Result<Page, PageError> {
        check(limit)?;
        let members = self.segment_members(segment)?;
        let mut iter = members.iter();
        if let Some(a) = after {
            match a.0.checked_add(1) {
                Some(start) => iter.advance_to(start),
                None => return Ok(Page::default()),
            }
        }
        Ok(page(iter.map(ProfileId), limit))
    }
}
