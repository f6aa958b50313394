//! Suppression lists: identifiers (a bounced email, a number on a do-not-call list) and
//! whole profiles, each for one channel or for all, with a reason and a time.
//!
//! A whole-profile suppression is kept on the profile, so it follows the person through
//! merges. An identifier suppression is kept by (kind, normalized value), whether or not
//! the identifier was ever seen, and applies to whichever profile holds it.

use serde::{Deserialize, Serialize};

use crate::ids::{ChannelId, ProfileId};
use crate::time::Timestamp;

/// A suppression as the host states it.
///
/// ```
/// use audience::{Suppression, Timestamp};
/// let bounced = Suppression::new("hard bounce", Timestamp::from_secs(1_700_000_000)?).channel("email");
/// assert_eq!(bounced.channel.as_deref(), Some("email"));
/// # Ok::<(), audience::TimeError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    /// The channel; `None` for every channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Why (kept verbatim).
    pub reason: String,
    /// When.
    pub at: Timestamp,
}

impl Suppression {
    /// A suppression on every channel (narrow it with [`Suppression::channel`]).
    pub fn new(reason: impl Into<String>, at: Timestamp) -> Self {
        Suppression {
            channel: None,
            reason: reason.into(),
            at,
        }
    }

    /// Limits it to one channel.
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = Some(channel.into());
        self
    }
}

/// One suppression, as kept.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SuppressionEntry {
    /// `None`: every channel.
    pub(crate) channel: Option<ChannelId>,
    pub(crate) at: Timestamp,
    pub(crate) reason: Box<str>,
    /// For a whole-profile suppression, the profile's latest record when it was made:
    /// when profiles are rebuilt from their records, it stays with the profile holding
    /// that record (where merges would have carried it); when that record is gone (record
    /// retention), with its profile's newest record that stays, which becomes the anchor.
    pub(crate) anchor: Option<crate::ids::RecordId>,
}

impl SuppressionEntry {
    /// Whether it applies to `channel` (`None`: to any channel).
    pub(crate) fn applies_to(&self, channel: Option<ChannelId>) -> bool {
        match channel {
            Some(c) => self.channel.is_none_or(|x| x == c),
            None => true,
        }
    }
}

/// Sorts entries by (channel, time, reason), without exact repeats.
pub(crate) fn sort(entries: &mut Vec<SuppressionEntry>) {
    entries.sort_unstable();
    entries.dedup();
}

/// Adds `entry` (an exact repeat is not added twice). Entries are a history: a merge
/// keeps both profiles' and suppressing again adds one, so the two agree.
pub(crate) fn add(entries: &mut Vec<SuppressionEntry>, entry: SuppressionEntry) {
    if let Err(i) = entries.binary_search(&entry) {
        entries.insert(i, entry);
    }
}

/// Removes the entries of one channel slot; whether there were any.
pub(crate) fn remove(entries: &mut Vec<SuppressionEntry>, channel: Option<ChannelId>) -> bool {
    let before = entries.len();
    entries.retain(|e| e.channel != channel);
    entries.len() != before
}

/// What a suppression names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuppressionTarget {
    /// A whole profile (the one it was merged into, from then on).
    Profile(ProfileId),
    /// An identifier, by kind and normalized value.
    Identifier {
        /// The identifier kind.
        kind: String,
        /// The normalized value.
        value: String,
    },
}

/// One suppression of a profile, as a view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppressionView {
    /// The profile, or the identifier of the profile, that is suppressed.
    pub target: SuppressionTarget,
    /// The channel (`None`: every channel).
    pub channel: Option<String>,
    /// Why.
    pub reason: String,
    /// When.
    pub at: Timestamp,
}
