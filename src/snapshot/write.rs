//! `Engine::snapshot`: the engine's state in the canonical form of [`State`].

use crate::engine::Engine;
use crate::event::store::PropValue;
use crate::ids::{IdentId, RecordId};
use crate::profile::{Profile, Slot};
use crate::snapshot::{
    DedupEntry, EventColumns, IdentifierEntry, IdentifierSuppressionEntry, MergeEntry,
    ObservationEntry, ProfileEntry, ProfileSlot, PropertyEntry, RecordEntry, RestrictionEntry,
    SNAPSHOT_VERSION, SegmentEntry, Snapshot, State, StatementEntry, SuppressionEntry, TraitEntry,
};

/// Positions of ids in a sorted table, by id (`u32::MAX`: not in it).
struct Positions(Vec<u32>);

impl Positions {
    fn new<K: Ord>(mut keyed: Vec<(K, usize)>, ids: usize) -> Self {
        keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut at = vec![u32::MAX; ids];
        for (pos, (_, id)) in keyed.into_iter().enumerate() {
            if let Some(slot) = at.get_mut(id) {
                *slot = u32::try_from(pos).unwrap_or(u32::MAX);
            }
        }
        Positions(at)
    }

    fn of(&self, id: usize) -> u32 {
        self.0.get(id).copied().unwrap_or(u32::MAX)
    }
}

/// A computed trait's state, texts by snapshot position.
fn computed_entry(
    acc: &crate::event::computed::Acc,
    rule: &crate::schema::ComputedRule,
    texts: &Positions,
) -> crate::snapshot::ComputedEntry {
    use crate::event::computed::Acc;
    use crate::snapshot::ComputedEntry as C;
    match acc {
        Acc::Count(n) => C::Count(*n),
        Acc::Sum {
            total,
            count,
            magnitude,
        } => C::Sum {
            total: *total,
            count: *count,
            magnitude: *magnitude,
        },
        Acc::Extreme(x) => C::Extreme(*x),
        Acc::Pick(k) => C::Pick(k.map(|(at, record, seq)| (at.0, record.0, seq))),
        Acc::Tally(entries) => {
            let text = rule.field_type == Some(crate::schema::PropertyType::Text);
            let mut out: Vec<(i64, u32)> = entries
                .iter()
                .map(|t| {
                    let bits = if text {
                        i64::from(texts.of(usize::try_from(t.bits).unwrap_or(usize::MAX)))
                    } else {
                        t.bits
                    };
                    (bits, t.count)
                })
                .collect();
            out.sort_unstable();
            C::Tally(out)
        }
        Acc::Habit(h) => C::Habit(*h),
    }
}

fn suppression(s: &crate::privacy::suppression::SuppressionEntry) -> SuppressionEntry {
    SuppressionEntry {
        channel: s.channel.map(|c| c.0),
        at: s.at,
        reason: s.reason.to_string(),
        anchor: s.anchor.map(|r| r.0),
    }
}

impl Engine {
    /// The engine's whole state, versioned and checksummed (see [`crate::snapshot`]):
    /// serialize it with any serde format, and get the engine back with
    /// [`Engine::restore`].
    ///
    /// ```
    /// use audience::{Engine, Record, Schema, Timestamp};
    /// let mut engine = Engine::new(Schema::retail_default());
    /// let t = Timestamp::from_secs(1_700_000_000)?;
    /// engine.ingest(&Record::builder(t, "web").identifier("email", "ann@example.com").build())?;
    /// let snapshot = engine.snapshot();
    /// let json = serde_json::to_string(&snapshot).expect("a snapshot serializes");
    /// let back = Engine::restore(serde_json::from_str(&json).expect("and deserializes"))?;
    /// assert_eq!(back.find("email", "ann@example.com")?, engine.find("email", "ann@example.com")?);
    /// assert_eq!(back.snapshot(), snapshot);
    /// # Ok::<(), audience::Error>(())
    /// ```
    pub fn snapshot(&self) -> Snapshot {
        let state = self.snapshot_state();
        Snapshot {
            version: SNAPSHOT_VERSION,
            checksum: Snapshot::checksum_of(&state),
            state,
        }
    }

    pub(crate) fn snapshot_state(&self) -> State {
        let idents = self.graph.ident_slots();
        let ident_pos = Positions::new(
            self.graph
                .iter()
                .map(|(id, e)| ((e.kind, e.value.as_str()), id.index()))
                .collect(),
            idents,
        );
        let mut identifiers: Vec<(u32, IdentifierEntry)> = self
            .graph
            .iter()
            .map(|(id, e)| {
                (
                    ident_pos.of(id.index()),
                    IdentifierEntry {
                        kind: e.kind.0,
                        value: e.value.to_string(),
                        first_record: e.first_record.0,
                        owner: self.graph.owner(id).map(|p| p.0),
                    },
                )
            })
            .collect();
        identifiers.sort_unstable_by_key(|(pos, _)| *pos);
        let text_pos = Positions::new(
            self.texts
                .iter()
                .map(|(id, t)| (t, id.0 as usize))
                .collect(),
            self.texts.slots(),
        );
        let mut texts: Vec<(u32, String)> = self
            .texts
            .iter()
            .map(|(id, t)| (text_pos.of(id.0 as usize), t.to_string()))
            .collect();
        texts.sort_unstable_by_key(|(pos, _)| *pos);
        let ident = |id: IdentId| ident_pos.of(id.index());
        let records = (0..self.log.len() as u64)
            .map(|i| {
                self.log.get(RecordId(i)).map(|r| RecordEntry {
                    at: r.at,
                    source: r.source.0,
                    message_id: r.message_id.as_deref().map(str::to_string),
                    identifiers: r
                        .identifiers
                        .iter()
                        .map(|l| (ident(l.ident), l.status))
                        .collect(),
                    profile: r.profile.0,
                })
            })
            .collect();
        let mut events = EventColumns::default();
        let profiles = (0..self.profiles.slot_count())
            .map(|i| {
                let id = crate::ids::ProfileId(u32::try_from(i).unwrap_or(u32::MAX));
                match self.profiles.slot(id) {
                    Some(Slot::Live(p)) => {
                        ProfileSlot::Live(self.profile_entry(id, p, &ident, &text_pos, &mut events))
                    }
                    Some(Slot::Retired(into)) => ProfileSlot::Retired(into.0),
                    _ => ProfileSlot::Erased,
                }
            })
            .collect();
        let (dedup, dedup_latest) = self.dedup.entries();
        State {
            schema: self.schema.def().clone(),
            config: self.config().clone(),
            clock: self.clock.now(),
            records,
            identifiers: identifiers.into_iter().map(|(_, e)| e).collect(),
            texts: texts.into_iter().map(|(_, t)| t).collect(),
            profiles,
            events,
            merges: self
                .merge_entries()
                .iter()
                .map(|m| MergeEntry {
                    survivor: m.survivor.0,
                    retired: m.retired.0,
                    record: m.record.0,
                    cause: ident(m.cause),
                })
                .collect(),
            merges_drained: self.merges_drained() as u64,
            dedup: dedup
                .into_iter()
                .map(|(m, at, record)| DedupEntry {
                    message_id: m.to_string(),
                    at,
                    record: record.0,
                })
                .collect(),
            dedup_latest,
            rfm_runs: self.rfm.runs(),
            segments: self
                .segments
                .slots()
                .map(|s| {
                    s.map(|r| {
                        let mut entered: Vec<(u32, crate::time::Timestamp)> =
                            r.entered.iter().map(|(p, t)| (*p, *t)).collect();
                        entered.sort_unstable();
                        SegmentEntry {
                            name: r.name.clone(),
                            expr: r.expr.clone(),
                            registered_at: r.registered_at,
                            entered,
                        }
                    })
                })
                .collect(),
            changes: self.segments.changes.to_vec(),
            identifier_suppressions: self
                .suppressed_ids
                .iter()
                .flat_map(|(kind, values)| values.iter().map(move |(v, e)| (kind, v, e)))
                .map(|(kind, value, entries)| IdentifierSuppressionEntry {
                    kind: kind.0,
                    value: value.to_string(),
                    suppressions: entries.iter().map(suppression).collect(),
                })
                .collect(),
            erased_hashes: self.erased_hashes.iter().copied().collect(),
            blocked: self
                .blocked
                .iter()
                .flat_map(|(k, values)| values.iter().map(move |v| (k.0, v.to_string())))
                .collect(),
            splits: {
                let mut splits: Vec<(u32, Vec<u32>)> = self
                    .splits
                    .iter()
                    .map(|(id, parts)| (id.0, parts.iter().map(|p| p.0).collect()))
                    .collect();
                splits.sort_unstable();
                splits
            },
            split_log: self
                .split_log
                .iter()
                .map(|s| crate::snapshot::SplitLogEntry {
                    kind: s.kind.0,
                    value: s.value.to_string(),
                    before: s.before.iter().map(|p| p.0).collect(),
                    after: s.after.iter().map(|p| p.0).collect(),
                    at: s.at,
                })
                .collect(),
        }
    }

    fn profile_entry(
        &self,
        id: crate::ids::ProfileId,
        p: &Profile,
        ident: &dyn Fn(IdentId) -> u32,
        texts: &Positions,
        events: &mut EventColumns,
    ) -> ProfileEntry {
        let mut identifiers: Vec<(u32, crate::time::Timestamp)> = p
            .identifiers
            .iter()
            .map(|l| (ident(l.ident), l.seen))
            .collect();
        identifiers.sort_unstable();
        let traits = p
            .traits
            .iter()
            .map(|t| {
                let mut observations: Vec<ObservationEntry> = t
                    .observations
                    .iter()
                    .map(|o| ObservationEntry {
                        value: o.value.clone(),
                        source: o.source.0,
                        at: o.at,
                        record: o.record.0,
                    })
                    .collect();
                observations.sort_by(|a, b| (a.record, &a.value).cmp(&(b.record, &b.value)));
                TraitEntry {
                    id: t.trait_id.0,
                    observations,
                }
            })
            .collect();
        for e in p.events.iter() {
            let (at, record, seq) = e.key();
            events.at.push(at.0);
            events.record.push(record.0);
            events.seq.push(seq);
            events.kind.push(e.kind().0);
            let mut n = 0u8;
            for (pos, v) in e.props() {
                events.property_position.push(pos);
                events.property_value.push(match v {
                    PropValue::Text(t) => PropertyEntry::Text(texts.of(t.0 as usize)),
                    PropValue::Integer(i) => PropertyEntry::Integer(i),
                    PropValue::Money(m) => PropertyEntry::Money(m),
                    PropValue::Boolean(b) => PropertyEntry::Boolean(b),
                });
                n = n.saturating_add(1);
            }
            events.properties.push(n);
        }
        let privacy = p.privacy.as_deref();
        let computed = p
            .computed
            .iter()
            .zip(self.schema.computed_rules())
            .map(|(acc, rule)| computed_entry(acc, rule, texts))
            .collect();
        ProfileEntry {
            computed,
            due: self.due.get(id),
            identifiers,
            records: p
                .records
                .sorted(&self.log)
                .into_iter()
                .map(|r| r.0)
                .collect(),
            traits,
            events: u32::try_from(p.events.len()).unwrap_or(u32::MAX),
            consent: privacy
                .map(|v| {
                    v.statements
                        .iter()
                        .map(|s| StatementEntry {
                            at: s.at,
                            record: s.record.0,
                            source: s.source.0,
                            purpose: s.purpose.0,
                            channel: s.channel.map(|c| c.0),
                            granted: s.granted,
                            proof: s.proof.as_deref().map(str::to_string),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            restrictions: privacy
                .map(|v| {
                    v.restrictions
                        .iter()
                        .map(|r| RestrictionEntry {
                            at: r.at,
                            record: r.record.0,
                            purpose: r.purpose.0,
                            channel: r.channel.0,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            suppressions: privacy
                .map(|v| v.suppressions.iter().map(suppression).collect())
                .unwrap_or_default(),
        }
    }
}
