//! [`Engine::stats`]: what the engine holds, for dashboards.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engine::{Engine, MergeEntry};
use crate::ids::{EventKindId, SegmentId};

/// What the engine holds: counts by kind, estimated memory by structure, and the
/// registered segments with their sizes. Serde, for dashboards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Live profiles.
    pub profiles: usize,
    /// Profile ids ever handed out (live, merged away or erased).
    pub profile_ids_used: usize,
    /// Accepted records held.
    pub records: usize,
    /// Distinct normalized identifiers held (linked or not).
    pub identifiers: usize,
    /// Identifiers held per identifier kind (every kind of the schema, zero included).
    pub identifiers_by_kind: BTreeMap<String, usize>,
    /// Events held.
    pub events: usize,
    /// Events held per event kind (every kind of the schema, zero included).
    pub events_by_kind: BTreeMap<String, usize>,
    /// Merges ever made.
    pub merges: usize,
    /// Estimated heap bytes per structure.
    pub memory: MemoryStats,
    /// The registered segments, in id order.
    pub segments: Vec<SegmentStats>,
}

/// Estimated heap bytes per structure (capacities, not only lengths).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryStats {
    /// The record log.
    pub record_log: usize,
    /// The identity graph.
    pub identity: usize,
    /// Profiles: traits and their observations, events, computed state, consent.
    pub profiles: usize,
    /// Message ids kept for de-duplication.
    pub dedup: usize,
    /// Interned event property texts.
    pub texts: usize,
    /// RFM tallies and stored runs.
    pub rfm: usize,
    /// Registered segments and their materialized conditions.
    pub segments: usize,
    /// Trait indexes (bitmaps per value, bit-sliced indexes).
    pub trait_indexes: usize,
    /// Consent and suppression bitmaps.
    pub privacy_index: usize,
    /// The due queues of the clock (computed traits, retention).
    pub due: usize,
    /// The merge log.
    pub merge_log: usize,
    /// The sum of the above ([`Engine::heap_bytes`]).
    pub total: usize,
}

/// One registered segment's size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentStats {
    /// Its id.
    pub id: SegmentId,
    /// The name it was registered under.
    pub name: String,
    /// Its members now.
    pub members: u64,
}

impl Engine {
    /// Counts `kinds` in (`held`) or out of the per-kind event counts.
    pub(crate) fn count_events(
        &mut self,
        kinds: impl IntoIterator<Item = EventKindId>,
        held: bool,
    ) {
        for k in kinds {
            if let Some(n) = self.event_counts.get_mut(k.index()) {
                *n = if held {
                    n.saturating_add(1)
                } else {
                    n.saturating_sub(1)
                };
            }
        }
    }

    /// The per-kind event counts equal a recount.
    pub(crate) fn check_event_counts(&self) -> Result<(), String> {
        let mut counts = vec![0usize; self.event_counts.len()];
        for (_, p) in self.profiles.iter_live() {
            for e in p.events.iter() {
                if let Some(n) = counts.get_mut(e.kind().index()) {
                    *n += 1;
                }
            }
        }
        if counts != self.event_counts {
            return Err(format!(
                "event counts {:?} != recount {counts:?}",
                self.event_counts
            ));
        }
        Ok(())
    }

    /// What the engine holds. One pass over the identifiers and the profiles (about 0.2 s
    /// at a million profiles): for dashboards, not for every request.
    ///
    /// ```
    /// use audience::{Engine, Record, Schema, Timestamp};
    ///
    /// let mut engine = Engine::new(Schema::retail_default());
    /// let t = Timestamp::from_secs(1_700_000_000)?;
    /// engine.ingest(&Record::builder(t, "web").identifier("email", "ann@example.com").build())?;
    /// let stats = engine.stats();
    /// assert_eq!((stats.profiles, stats.identifiers_by_kind["email"]), (1, 1));
    /// assert_eq!(stats.memory.total, engine.heap_bytes());
    /// # Ok::<(), audience::Error>(())
    /// ```
    pub fn stats(&self) -> Stats {
        let def = self.schema.def();
        let mut by_kind = vec![0usize; def.identifier_kinds.len()];
        for (_, entry) in self.graph.iter() {
            if let Some(n) = by_kind.get_mut(entry.kind.index()) {
                *n += 1;
            }
        }
        let by_event = self.event_counts.clone();
        let events = by_event.iter().sum();
        let mut memory = MemoryStats {
            record_log: self.log.heap_bytes(),
            identity: self.graph.heap_bytes(),
            profiles: self.profiles.heap_bytes(),
            dedup: self.dedup.heap_bytes(),
            texts: self.texts.heap_bytes(),
            rfm: self.rfm.heap_bytes(),
            segments: self.segments.heap_bytes(),
            trait_indexes: self.indexes.heap_bytes(),
            privacy_index: self.privacy_index.heap_bytes(),
            due: self.due.heap_bytes() + self.retention_due.heap_bytes(),
            merge_log: self.merges.capacity() * std::mem::size_of::<MergeEntry>(),
            total: 0,
        };
        // The same sum as `heap_bytes`, without walking every structure twice.
        memory.total = memory.record_log
            + memory.identity
            + memory.profiles
            + memory.dedup
            + memory.texts
            + memory.rfm
            + memory.segments
            + memory.trait_indexes
            + memory.privacy_index
            + memory.due
            + memory.merge_log;
        Stats {
            profiles: self.profile_count(),
            profile_ids_used: self.profiles.slot_count(),
            records: self.record_count(),
            identifiers: self.identifier_count(),
            identifiers_by_kind: def
                .identifier_kinds
                .iter()
                .zip(by_kind)
                .map(|(k, n)| (k.name.clone(), n))
                .collect(),
            events,
            events_by_kind: def
                .event_kinds
                .iter()
                .zip(by_event)
                .map(|(k, n)| (k.name.clone(), n))
                .collect(),
            merges: self.merges.len(),
            memory,
            segments: self
                .segments
                .registered()
                .map(|(i, r)| SegmentStats {
                    id: SegmentId(u32::try_from(i).unwrap_or(u32::MAX)),
                    name: r.name.clone(),
                    members: r.members.len(),
                })
                .collect(),
        }
    }
}
