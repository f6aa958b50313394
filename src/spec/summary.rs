//! [`ProfileSummary`]: one line of the `spec_jsonl` example's output — a profile's
//! identifiers, current traits, computed traits and registered segments, by name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Engine;
use crate::event::ComputedValue;
use crate::profile::CurrentValue;

/// A live profile by name, in a form that does not depend on profile ids or ingest order.
///
/// As JSON (the `spec_jsonl` example prints one per line):
/// `{"identifiers": [["email", "ann@example.com"], ["user_id", "u1"]],
///   "traits": {"country": {"value": {"text": "DE"}}},
///   "computed": {"orders_90d": {"count": 2}}, "segments": ["buyers"]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileSummary {
    /// `(kind, normalized value)` pairs, sorted.
    pub identifiers: Vec<(String, String)>,
    /// Current trait values, by trait name.
    pub traits: BTreeMap<String, CurrentValue>,
    /// Computed traits that have a value, by name (none before the clock is set).
    pub computed: BTreeMap<String, ComputedValue>,
    /// The registered segments the profile is in, sorted.
    pub segments: Vec<String>,
}

/// A summary of every live profile, sorted by each profile's smallest `(kind, value)`
/// identifier (which no two live profiles share).
pub fn summaries(engine: &Engine) -> Vec<ProfileSummary> {
    let segments: Vec<(&str, &roaring::RoaringBitmap)> = engine
        .segments()
        .filter_map(|(id, name)| Some((name, engine.segment_members(id).ok()?)))
        .collect();
    let mut out: Vec<ProfileSummary> = engine
        .profile_ids()
        .filter_map(|id| {
            let view = engine.profile(id).ok()?;
            let mut identifiers: Vec<(String, String)> = view
                .identifiers
                .into_iter()
                .map(|i| (i.kind, i.value))
                .collect();
            identifiers.sort_unstable();
            let mut names: Vec<String> = segments
                .iter()
                .filter(|(_, members)| members.contains(id.0))
                .map(|(name, _)| (*name).to_string())
                .collect();
            names.sort_unstable();
            Some(ProfileSummary {
                identifiers,
                traits: view
                    .traits
                    .into_iter()
                    .map(|t| (t.name, t.current))
                    .collect(),
                computed: view
                    .computed
                    .into_iter()
                    .filter_map(|(name, v)| Some((name, v?)))
                    .collect(),
                segments: names,
            })
        })
        .collect();
    out.sort_by(|a, b| a.identifiers.first().cmp(&b.identifiers.first()));
    out
}
