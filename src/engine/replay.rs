//! Rebuilding profiles from their records: what erasure (and identity repair) use to
//! leave exactly the profiles the records would have formed.
//!
//! Every observation, event and consent statement names its record, and the log keeps
//! each record's identifiers, so a record's content can be rebuilt. To rebuild profiles,
//! their derived state is taken out of every structure and their records are applied
//! again in record order, into their own log slots; the profiles they form take the old
//! ids — a profile its first record's original id while that is free, else a new one —
//! so a history that replays the same way gets back the same ids, and an id (with the
//! scores stored under it) never passes to a profile holding none of its records.

use std::collections::BTreeSet;

use crate::engine::Engine;
use crate::engine::ingest::Mode;
use crate::event::store::PropValue;
use crate::ids::{IdentId, ProfileId, RecordId};
use crate::privacy::suppression::SuppressionEntry;
use crate::profile::{Profile, Slot};
use crate::record::{ConsentInput, EventInput, IdentifierInput, PropertyInput, Record, TraitInput};
use crate::record_log::LinkStatus;

/// What [`Engine::rebuild`] did.
#[derive(Debug, Default)]
pub(crate) struct Rebuilt {
    /// The live profiles the records formed, ascending.
    pub(crate) profiles: Vec<ProfileId>,
    /// The ids that took part (old and new), for segment updates.
    pub(crate) touched: Vec<ProfileId>,
    /// Records that could not be applied again (they are erased).
    pub(crate) refused: Vec<RecordId>,
}

impl Engine {
    /// The ids that resolve to live profile `p`: itself and every profile merged into it,
    /// ascending.
    pub(crate) fn ids_of(&self, p: ProfileId) -> Vec<ProfileId> {
        let mut ids: BTreeSet<ProfileId> = BTreeSet::from([p]);
        let mut todo = vec![p];
        while let Some(q) = todo.pop() {
            for &r in self.profiles.retired_into(q) {
                if ids.insert(ProfileId(r)) {
                    todo.push(ProfileId(r));
                }
            }
        }
        ids.into_iter().collect()
    }

    /// The content of every record of `profile`, ascending, from the log and from what
    /// the profile holds of each (one pass over its traits, events and statements).
    pub(crate) fn rebuild_records(&self, profile: &Profile) -> Vec<(RecordId, Record)> {
        let schema = &self.schema;
        let mut ids: Vec<RecordId> = profile.records.iter(&self.log).collect();
        ids.sort_unstable();
        let mut out: Vec<(RecordId, Record)> = ids
            .iter()
            .filter_map(|&rid| {
                let r = self.log.get(rid)?;
                let identifiers = r
                    .identifiers
                    .iter()
                    .filter_map(|l| {
                        let e = self.graph.entry(l.ident)?;
                        Some(IdentifierInput {
                            kind: schema.kind(e.kind)?.name.clone(),
                            value: e.value.to_string(),
                        })
                    })
                    .collect();
                Some((
                    rid,
                    Record {
                        timestamp: r.at,
                        source: schema.source(r.source)?.name.clone(),
                        message_id: r.message_id.as_deref().map(str::to_string),
                        identifiers,
                        traits: Vec::new(),
                        events: Vec::new(),
                        consent: Vec::new(),
                    },
                ))
            })
            .collect();
        let slot = |rid: RecordId| out.binary_search_by_key(&rid, |(id, _)| *id).ok();
        let mut traits: Vec<(usize, TraitInput)> = Vec::new();
        for t in &profile.traits {
            let Some(def) = schema.trait_def(t.trait_id) else {
                continue;
            };
            for o in &t.observations {
                if let Some(i) = slot(o.record) {
                    traits.push((
                        i,
                        TraitInput {
                            name: def.name.clone(),
                            value: o.value.clone(),
                        },
                    ));
                }
            }
        }
        let mut events: Vec<(usize, u32, EventInput)> = Vec::new();
        for e in profile.events.iter() {
            let (Some(i), Some(def)) = (slot(e.record()), schema.event_kind(e.kind())) else {
                continue;
            };
            let properties = e
                .props()
                .filter_map(|(pos, v)| {
                    Some(PropertyInput {
                        name: def.properties.get(usize::from(pos))?.name.clone(),
                        value: crate::event::store::prop_value(&self.texts, v),
                    })
                })
                .collect();
            events.push((
                i,
                e.key().2,
                EventInput {
                    kind: def.name.clone(),
                    at: e.at(),
                    properties,
                },
            ));
        }
        events.sort_by_key(|(i, seq, _)| (*i, *seq));
        let mut consent: Vec<(usize, ConsentInput)> = Vec::new();
        for s in profile.privacy.iter().flat_map(|p| &p.statements) {
            let (Some(i), Some(purpose)) = (slot(s.record), schema.purpose(s.purpose)) else {
                continue;
            };
            consent.push((
                i,
                ConsentInput {
                    purpose: purpose.name.clone(),
                    channel: s
                        .channel
                        .and_then(|c| schema.channel(c))
                        .map(|c| c.name.clone()),
                    granted: s.granted,
                    proof: s.proof.as_deref().map(str::to_string),
                },
            ));
        }
        for (i, t) in traits {
            if let Some((_, r)) = out.get_mut(i) {
                r.traits.push(t);
            }
        }
        for (i, _, e) in events {
            if let Some((_, r)) = out.get_mut(i) {
                r.events.push(e);
            }
        }
        for (i, c) in consent {
            if let Some((_, r)) = out.get_mut(i) {
                r.consent.push(c);
            }
        }
        out
    }

    /// The first held record that carries `ident`: among those that dropped it and those
    /// of its owner that linked it.
    pub(crate) fn first_record_of(&self, ident: IdentId) -> Option<RecordId> {
        let dropped = self.dropped_in.get(&ident).and_then(|r| r.first().copied());
        let linked = self.graph.owner(ident).and_then(|owner| {
            let profile = self.profiles.get(owner)?;
            profile
                .records
                .iter(&self.log)
                .filter(|rid| {
                    self.log.get(*rid).is_some_and(|r| {
                        r.identifiers
                            .iter()
                            .any(|l| l.ident == ident && l.status == LinkStatus::Linked)
                    })
                })
                .min()
        });
        match (dropped, linked) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// After records referencing `idents` went away or moved: each identifier's first
    /// record is set again, and one no record references any more is erased.
    pub(crate) fn settle_identifiers(&mut self, idents: &BTreeSet<IdentId>) {
        for &ident in idents {
            if self.dropped_in.get(&ident).is_some_and(|r| r.is_empty()) {
                self.dropped_in.remove(&ident);
            }
            match self.first_record_of(ident) {
                Some(first) => self.graph.set_first_record(ident, first),
                None => self.graph.erase(ident),
            }
        }
    }

    /// Takes live profile `p`'s derived state out of every structure (indexes, queues,
    /// materialized conditions, tallies, the live bitmap), and its records out of
    /// de-duplication and the dropped-identifier index; releases its event texts and
    /// unlinks its identifiers. Returns the profile, its slot erased.
    pub(crate) fn detach(&mut self, p: ProfileId) -> Option<Profile> {
        let profile = self.profiles.erase(p)?;
        self.count_events(profile.events.iter().map(|e| e.kind()), false);
        self.segments.live.remove(p.0);
        self.indexes.update_all(p, None);
        self.privacy_index.set(p, &Default::default());
        self.due.set(p, None);
        self.retention_due.set(p, None);
        self.retire_materialized(p);
        self.rfm.clear(p);
        for l in &profile.identifiers {
            self.graph.set_owner(l.ident, None);
        }
        let records: BTreeSet<RecordId> = profile.records.iter(&self.log).collect();
        for &rid in &records {
            let dropped: Vec<IdentId> = self.log.get(rid).map_or_else(Vec::new, |r| {
                r.identifiers
                    .iter()
                    .filter(|l| l.status != LinkStatus::Linked)
                    .map(|l| l.ident)
                    .collect()
            });
            for ident in dropped {
                if let Some(list) = self.dropped_in.get_mut(&ident) {
                    list.retain(|r| *r != rid);
                }
            }
        }
        for &rid in &records {
            if let Some(r) = self.log.get(rid) {
                if let Some(m) = &r.message_id {
                    self.dedup.forget(m, rid);
                }
                if self.dedup.unnote_time(r.at) {
                    self.latest_stale = true;
                }
            }
        }
        for e in profile.events.iter() {
            for (_, v) in e.props() {
                if let PropValue::Text(t) = v {
                    self.texts.release(t);
                }
            }
        }
        Some(profile)
    }

    /// `targets` and every live profile (other than `excluded`) that their replay could
    /// treat differently or that it could change, repeated until nothing is added:
    /// - the owner of an identifier a target's record carries, when that owner has a
    ///   later record (replay sees profiles as they are now, which is how they were at
    ///   the record's time only if nothing came after);
    /// - a profile whose record dropped, for a limit, an identifier a target holds (the
    ///   limit can come out differently).
    pub(crate) fn rebuild_closure(
        &self,
        targets: BTreeSet<ProfileId>,
        excluded: ProfileId,
    ) -> BTreeSet<ProfileId> {
        let latest = |p: ProfileId| {
            self.profiles
                .get(p)
                .and_then(|x| x.records.iter(&self.log).max())
        };
        let mut all = targets.clone();
        let mut todo: Vec<ProfileId> = targets.into_iter().collect();
        while let Some(q) = todo.pop() {
            let Some(profile) = self.profiles.get(q) else {
                continue;
            };
            let mut found: BTreeSet<ProfileId> = BTreeSet::new();
            for rid in profile.records.iter(&self.log) {
                let Some(r) = self.log.get(rid) else {
                    continue;
                };
                for l in &r.identifiers {
                    if let Some(z) = self.graph.owner(l.ident)
                        && z != q
                        && latest(z).is_some_and(|at| at > rid)
                    {
                        found.insert(z);
                    }
                }
            }
            for l in &profile.identifiers {
                for &rid in self.dropped_in.get(&l.ident).into_iter().flatten() {
                    let limit = self.log.get(rid).is_some_and(|r| {
                        r.identifiers.iter().any(|x| {
                            x.ident == l.ident
                                && x.status == LinkStatus::Dropped(crate::error::DropReason::Limit)
                        })
                    });
                    if limit
                        && let Some(w) = self
                            .log
                            .get(rid)
                            .and_then(|r| self.profiles.resolve(r.profile))
                    {
                        found.insert(w);
                    }
                }
            }
            for z in found {
                if z != excluded && all.insert(z) {
                    todo.push(z);
                }
            }
        }
        all
    }

    /// Finds the latest record time again when the last record at it went away.
    pub(crate) fn settle_latest(&mut self) {
        if !std::mem::take(&mut self.latest_stale) {
            return;
        }
        let latest = self.log.iter().map(|(_, r)| r.at).max();
        let count = self
            .log
            .iter()
            .filter(|(_, r)| Some(r.at) == latest)
            .count() as u64;
        self.dedup.set_latest(latest, count);
    }

    /// Removes the merge log entries naming any of `ids`; returns how many.
    pub(crate) fn forget_merges(&mut self, ids: &BTreeSet<ProfileId>) -> usize {
        let before = self.merges.len();
        let mut drained = self.merges_drained;
        let mut i = 0;
        self.merges.retain(|m| {
            let keep = !ids.contains(&m.survivor) && !ids.contains(&m.retired);
            if !keep && i < self.merges_drained {
                drained -= 1;
            }
            i += 1;
            keep
        });
        self.merges_drained = drained;
        before - self.merges.len()
    }

    /// Rebuilds live profiles `targets` from their records (see the module documentation).
    pub(crate) fn rebuild(&mut self, targets: &[ProfileId]) -> Rebuilt {
        self.rebuild_without(targets, &BTreeSet::new())
    }

    /// [`Engine::rebuild`], leaving out records `dropped` of the targets: they are erased
    /// from the log, as if they had never arrived.
    pub(crate) fn rebuild_without(
        &mut self,
        targets: &[ProfileId],
        dropped: &BTreeSet<RecordId>,
    ) -> Rebuilt {
        let mut pool: BTreeSet<ProfileId> = BTreeSet::new();
        let mut records: Vec<(RecordId, Record)> = Vec::new();
        // Each whole-profile suppression with where it may land: its anchor, then the
        // records of its profile that stay, newest first.
        let mut suppressions: Vec<(Vec<RecordId>, SuppressionEntry)> = Vec::new();
        let mut creators: Vec<(ProfileId, RecordId)> = Vec::new();
        for &t in targets {
            let ids = self.ids_of(t);
            let Some(profile) = self.profiles.get(t) else {
                continue;
            };
            let mut mine: Vec<RecordId> = profile.records.iter(&self.log).collect();
            mine.sort_unstable();
            for &id in &ids {
                if let Some(&first) = mine
                    .iter()
                    .find(|rid| self.log.get(**rid).is_some_and(|r| r.profile == id))
                {
                    creators.push((id, first));
                }
            }
            records.extend(self.rebuild_records(profile));
            if let Some(privacy) = &profile.privacy {
                let staying = mine.iter().rev().filter(|rid| !dropped.contains(rid));
                for s in &privacy.suppressions {
                    let places = s.anchor.into_iter().chain(staying.clone().copied());
                    suppressions.push((places.collect(), s.clone()));
                }
            }
            pool.extend(ids);
        }
        let mut touched_idents: BTreeSet<IdentId> = BTreeSet::new();
        for &t in targets {
            if let Some(profile) = self.detach(t) {
                for rid in profile.records.iter(&self.log) {
                    if let Some(r) = self.log.get(rid) {
                        touched_idents.extend(r.identifiers.iter().map(|l| l.ident));
                    }
                }
            }
        }
        for &id in &pool {
            self.profiles.put(id, Slot::Erased);
        }
        self.forget_merges(&pool);
        records.retain(|(rid, _)| !dropped.contains(rid));
        records.sort_by_key(|(rid, _)| *rid);
        // Which records each id had when they arrived, to tell afterwards whether they
        // stayed together.
        let arrived: Vec<(ProfileId, RecordId)> = records
            .iter()
            .filter_map(|(rid, _)| Some((self.log.get(*rid)?.profile, *rid)))
            .collect();
        let mut free = pool.clone();
        let mut refused = Vec::new();
        for (rid, record) in &records {
            let mode = Mode::Replay {
                rid: *rid,
                pool: &mut free,
            };
            if self.ingest_mode(record, mode).is_err() {
                self.log.erase(*rid);
                refused.push(*rid);
            }
        }
        for &rid in dropped {
            self.log.erase(rid);
        }
        for &id in &pool {
            let mut parts: Vec<ProfileId> = arrived
                .iter()
                .filter(|(p, _)| *p == id)
                .filter_map(|(_, rid)| {
                    self.log
                        .get(*rid)
                        .and_then(|r| self.profiles.resolve(r.profile))
                })
                .collect();
            parts.sort_unstable();
            parts.dedup();
            if parts.len() > 1 {
                self.splits.insert(id, parts);
            } else {
                self.splits.remove(&id);
            }
        }
        // Ids no record took again point to where their first record went.
        for &(id, first) in &creators {
            if matches!(self.profiles.slot(id), Some(Slot::Erased))
                && let Some(r) = self.log.get(first)
                && let Some(live) = self.profiles.resolve(r.profile)
            {
                self.profiles.put(id, Slot::Retired(live));
            }
        }
        // A suppression stays with the profile holding its anchor record, else with its
        // profile's newest record that stays (never a record of another profile rebuilt
        // in the same call), which becomes its anchor; with none left, its profile is
        // gone and so is it.
        for (places, mut entry) in suppressions {
            let landing = places.iter().find_map(|&rid| {
                let live = self.profiles.resolve(self.log.get(rid)?.profile)?;
                Some((rid, live))
            });
            let Some((rid, live)) = landing else {
                continue;
            };
            if let Some(profile) = self.profiles.get_mut(live) {
                entry.anchor = Some(rid);
                crate::privacy::suppression::add(&mut profile.privacy_mut().suppressions, entry);
            }
        }
        self.settle_identifiers(&touched_idents);
        self.settle_latest();
        let mut profiles: Vec<ProfileId> = records
            .iter()
            .filter_map(|(rid, _)| self.log.get(*rid))
            .filter_map(|r| self.profiles.resolve(r.profile))
            .collect();
        profiles.sort_unstable();
        profiles.dedup();
        let everything = crate::realtime::Touched {
            everything: true,
            ..Default::default()
        };
        for &p in &profiles {
            self.refresh_privacy(p);
            self.refresh_materialized(p, &everything);
        }
        let mut touched: Vec<ProfileId> =
            pool.into_iter().chain(profiles.iter().copied()).collect();
        touched.sort_unstable();
        touched.dedup();
        Rebuilt {
            profiles,
            touched,
            refused,
        }
    }
}
