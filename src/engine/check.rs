//! `Engine::internal_validate`: every invariant of the engine's state, checked in full.

use crate::engine::Engine;
use crate::hash::fast_map;
use crate::ids::{KindId, RecordId};
use crate::profile::Slot;
use crate::profile::merge::{Rules, TraitState};
use crate::record_log::LinkStatus;

impl Engine {
    /// Checks every invariant of the engine's state (slow: for tests and fuzzing).
    ///
    /// - the identity graph finds every identifier under its own value;
    /// - every linked identifier maps to one live profile that lists it, and no profile
    ///   exceeds a kind's limit;
    /// - retired ids resolve to live profiles;
    /// - every record belongs to exactly one live profile, which lists it, and every record
    ///   an observation names is the profile's;
    /// - every trait's cached current value equals its recomputation from the observations.
    #[doc(hidden)]
    pub fn internal_validate(&self) -> Result<(), String> {
        self.schema.internal_validate()?;
        self.graph.internal_validate()?;
        self.check_identifiers()?;
        self.check_records()?;
        self.check_traits()?;
        self.check_rfm()?;
        self.indexes.check(self.profiles.iter_live())?;
        self.check_materialized()?;
        self.check_registered()?;
        self.segments.check_rows()?;
        self.check_retention()?;
        self.check_event_counts()?;
        self.check_privacy()?;
        self.check_seen()?;
        self.check_traces()?;
        let live: roaring::RoaringBitmap = self.profiles.iter_live().map(|(id, _)| id.0).collect();
        if live != self.segments.live {
            return Err(format!(
                "{} live profiles, {} in the live bitmap",
                live.len(),
                self.segments.live.len()
            ));
        }
        self.due.internal_validate()?;
        if let Some((_, p)) = self
            .due
            .iter_scheduled()
            .find(|(_, p)| self.profiles.get(*p).is_none())
        {
            return Err(format!("{p} is scheduled but not live"));
        }
        for m in &self.merges {
            if !self.is_retired(m.retired) || m.survivor >= m.retired {
                return Err(format!("merge log entry {m:?} is inconsistent"));
            }
        }
        Ok(())
    }

    /// What erasure relies on and guarantees: the dropped-identifier index and the text
    /// counts equal their recomputation, every held identifier is carried by its first
    /// record and by no earlier one, and no bitmap holds a profile that is not live.
    fn check_traces(&self) -> Result<(), String> {
        let mut dropped: crate::hash::FastMap<crate::ids::IdentId, Vec<RecordId>> = fast_map();
        for (rid, r) in self.log.iter() {
            for l in r
                .identifiers
                .iter()
                .filter(|l| l.status != LinkStatus::Linked)
            {
                dropped.entry(l.ident).or_default().push(rid);
            }
        }
        let held: crate::hash::FastMap<crate::ids::IdentId, Vec<RecordId>> = self
            .dropped_in
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (*k, v.to_vec()))
            .collect();
        if dropped != held {
            return Err("the dropped-identifier index differs from the log".into());
        }
        let mut counts: crate::hash::FastMap<crate::event::text::TextId, u32> = fast_map();
        for (_, p) in self.profiles.iter_live() {
            for e in p.events.iter() {
                for (_, v) in e.props() {
                    if let crate::event::store::PropValue::Text(t) = v {
                        *counts.entry(t).or_default() += 1;
                    }
                }
            }
        }
        for (t, _) in self.texts.iter() {
            if counts.get(&t).copied().unwrap_or(0) != self.texts.count(t) {
                return Err(format!(
                    "text {t:?}: count {} disagrees",
                    self.texts.count(t)
                ));
            }
        }
        if counts.len() != self.texts.iter().count() {
            return Err("an event holds a text the pool dropped".into());
        }
        for (id, e) in self.graph.iter() {
            if self.first_record_of(id) != Some(e.first_record) {
                return Err(format!(
                    "identifier {id:?}: first record {:?}, its records say {:?}",
                    e.first_record,
                    self.first_record_of(id)
                ));
            }
        }
        let latest = self.log.iter().map(|(_, r)| r.at).max();
        let at_latest = self
            .log
            .iter()
            .filter(|(_, r)| Some(r.at) == latest)
            .count() as u64;
        if self.dedup.watermark_state() != (latest, at_latest) {
            return Err(format!(
                "de-duplication watermark {:?}, the log says {:?}",
                self.dedup.watermark_state(),
                (latest, at_latest)
            ));
        }
        let live = &self.segments.live;
        let outside = |b: &roaring::RoaringBitmap| !b.is_subset(live);
        if outside(&self.indexes.profiles()) || outside(&self.privacy_index.profiles()) {
            return Err("an index holds a profile that is not live".into());
        }
        for (i, s) in self.segments.registered() {
            if outside(&s.members) {
                return Err(format!("segment {i} holds a profile that is not live"));
            }
        }
        for (i, m) in self.segments.materialized.iter().enumerate() {
            if outside(&m.members) {
                return Err(format!(
                    "materialized leaf {i} holds a profile that is not live"
                ));
            }
        }
        Ok(())
    }

    /// Each linked identifier's `seen` is the latest time of a record of its profile that
    /// linked it.
    fn check_seen(&self) -> Result<(), String> {
        for (id, p) in self.profiles.iter_live() {
            let mut latest = fast_map();
            for rid in p.records.iter(&self.log) {
                let Some(r) = self.log.get(rid) else {
                    return Err(format!("{id}: record {rid} missing from the log"));
                };
                for li in r
                    .identifiers
                    .iter()
                    .filter(|l| l.status == LinkStatus::Linked)
                {
                    let t = latest.entry(li.ident).or_insert(r.at);
                    *t = (*t).max(r.at);
                }
            }
            for l in &p.identifiers {
                if latest.get(&l.ident) != Some(&l.seen) {
                    return Err(format!(
                        "{id}: identifier {:?} seen {:?}, its records say {:?}",
                        l.ident,
                        l.seen,
                        latest.get(&l.ident)
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_identifiers(&self) -> Result<(), String> {
        let mut linked = 0usize;
        for (id, p) in self.profiles.iter_live() {
            let mut per_kind = vec![0u32; self.schema.kind_count()];
            for &crate::profile::Linked { kind, ident, .. } in &p.identifiers {
                if self.graph.owner(ident) != Some(id) || self.graph.kind(ident) != Some(kind) {
                    return Err(format!("{id} lists {ident:?}, which it does not own"));
                }
                if let Some(n) = per_kind.get_mut(kind.index()) {
                    *n += 1;
                }
            }
            for (k, n) in per_kind.iter().enumerate() {
                let kind = KindId(u16::try_from(k).map_err(|e| e.to_string())?);
                if *n > self.schema.limit(kind) {
                    return Err(format!(
                        "{id} holds {n} identifiers of kind {k}, over its limit"
                    ));
                }
            }
            linked += p.identifiers.len();
        }
        let owned = self
            .graph
            .iter()
            .filter(|(id, _)| self.graph.owner(*id).is_some())
            .count();
        if owned != linked {
            return Err(format!(
                "{owned} identifiers have owners, {linked} are listed"
            ));
        }
        for i in 0..self.profiles.slot_count() {
            let id = crate::ids::ProfileId(u32::try_from(i).map_err(|e| e.to_string())?);
            if let Some(Slot::Retired(_)) = self.profiles.slot(id)
                && self.profiles.resolve(id).is_none()
            {
                return Err(format!("retired {id} does not resolve"));
            }
        }
        Ok(())
    }

    fn check_records(&self) -> Result<(), String> {
        let mut owner_of = vec![None; self.log.len()];
        for (id, p) in self.profiles.iter_live() {
            if p.records.iter(&self.log).count() != p.records.len() {
                return Err(format!("{id}: record list is shorter than its length"));
            }
            for r in p.records.iter(&self.log) {
                let slot = usize::try_from(r.0)
                    .ok()
                    .and_then(|i| owner_of.get_mut(i))
                    .ok_or_else(|| format!("{id} lists unknown record {r}"))?;
                if slot.replace(id).is_some() {
                    return Err(format!("record {r} is in two profiles"));
                }
            }
        }
        for (rid, r) in self.log.iter() {
            let live = self.profiles.resolve(r.profile);
            let listed = owner_of.get(usize::try_from(rid.0).map_err(|e| e.to_string())?);
            if live.is_none() || listed != Some(&live) {
                return Err(format!(
                    "record {rid} resolves to {live:?} but is listed by {listed:?}"
                ));
            }
            if !r.identifiers.iter().any(|i| i.status == LinkStatus::Linked) {
                return Err(format!("record {rid} has no linked identifier"));
            }
        }
        Ok(())
    }

    fn check_traits(&self) -> Result<(), String> {
        for (id, p) in self.profiles.iter_live() {
            let mut records = fast_map::<RecordId, ()>();
            records.extend(p.records.iter(&self.log).map(|r| (r, ())));
            for w in p.traits.windows(2) {
                if let [a, b] = w
                    && a.trait_id >= b.trait_id
                {
                    return Err(format!("{id}: traits not sorted"));
                }
            }
            p.events.check().map_err(|e| format!("{id}: {e}"))?;
            self.check_computed(id, p)?;
            if p.events.iter().any(|e| !records.contains_key(&e.record())) {
                return Err(format!("{id}: an event names a record not in the profile"));
            }
            for state in &p.traits {
                if state
                    .observations
                    .iter()
                    .any(|o| !records.contains_key(&o.record))
                {
                    return Err(format!(
                        "{id}: an observation names a record not in the profile"
                    ));
                }
                let rules = Rules::new(&self.schema, state.trait_id).ok_or("unknown trait")?;
                let batch = TraitState::recompute(&rules, state.observations.clone())
                    .map_err(|_| format!("{id}: a sum overflows on recomputation"))?
                    .ok_or_else(|| format!("{id}: a trait with no observation"))?;
                let visible =
                    |s: &TraitState| s.winner().map(|o| (o.value.clone(), o.source, o.at));
                if batch.aggregate != state.aggregate || visible(&batch) != visible(state) {
                    return Err(format!(
                        "{id}: trait {:?} differs from its recomputation",
                        state.trait_id
                    ));
                }
            }
        }
        Ok(())
    }
}
