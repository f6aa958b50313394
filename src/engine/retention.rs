//! Retention: events older than their kind's `retention_days`, relative to the clock, are
//! dropped — on `advance_time`, on [`Engine::apply_retention`], and on arrival — with
//! computed traits, RFM tallies, materialized conditions and registered segments updated
//! as if the events had never been kept.
//!
//! Records past the record log's retention go whole, as if they had never arrived: the
//! profiles holding them (and those whose replay they could change) are rebuilt from
//! their other records, as an erasure rebuilds, so a merge that rested on an expired
//! record comes undone.
//!
//! Each profile with events of a kind that has a retention waits in a due queue under the
//! instant its oldest such event (or, with a record retention, its oldest record)
//! expires, so a clock move visits only the profiles that lose something.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::engine::Engine;
use crate::engine::realtime::Dirty;
use crate::error::TimeError;
use crate::ids::{EventKindId, ProfileId, RecordId};
use crate::profile::Profile;
use crate::realtime::{Cause, Touched};
use crate::time::Timestamp;

/// What a retention pass dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionReceipt {
    /// Events dropped.
    pub events: usize,
    /// Events dropped per event kind (only kinds that lost some).
    pub events_by_kind: BTreeMap<String, usize>,
    /// The profiles that lost events or records, ascending (for records: every id that
    /// took part in the rebuild, old and new).
    pub profiles: Vec<ProfileId>,
    /// The records whose events were dropped (the records themselves, with their
    /// identifiers and traits, stay), ascending: the host can purge its own copies.
    pub records: Vec<RecordId>,
    /// Records dropped whole, past the record log's retention.
    pub records_expired: usize,
    /// The records dropped whole by this call, ascending (their events are not counted
    /// in `events`).
    pub expired_records: Vec<RecordId>,
    /// The live profiles rebuilt from their remaining records, ascending.
    pub rebuilt: Vec<ProfileId>,
}

impl RetentionReceipt {
    /// Adds the counts of `other` (not its lists) to this receipt.
    pub(crate) fn add_counts(&mut self, other: &RetentionReceipt) {
        self.events += other.events;
        self.records_expired += other.records_expired;
        for (k, n) in &other.events_by_kind {
            *self.events_by_kind.entry(k.clone()).or_default() += n;
        }
    }
}

impl Engine {
    /// Whether an event of `kind` at `at` is past its kind's retention at `now`: more than
    /// the retention older than `now`.
    pub(crate) fn is_expired(&self, kind: EventKindId, at: Timestamp, now: Timestamp) -> bool {
        self.schema
            .event_kind_retention(kind)
            .is_some_and(|keep| at.0 < now.0.saturating_sub(keep))
    }

    /// The instant the oldest event of `profile` with a retention expires: the first
    /// instant at which it is past its retention.
    fn retention_expiry(&self, profile: &Profile) -> Option<Timestamp> {
        // Past it once `now - keep > at`, i.e. from `at + keep + 1` ms on.
        let records = self.schema.record_retention().and_then(|keep| {
            let oldest = profile
                .records
                .iter(&self.log)
                .filter_map(|r| self.log.get(r).map(|x| x.at.0))
                .min()?;
            Some(oldest.saturating_add(keep).saturating_add(1))
        });
        let Some(shortest) = (0..self.schema.def().event_kinds.len())
            .filter_map(|i| {
                self.schema
                    .event_kind_retention(EventKindId(u16::try_from(i).unwrap_or(u16::MAX)))
            })
            .min()
        else {
            return records.map(Timestamp);
        };
        let mut best: Option<i64> = records;
        for e in profile.events.iter() {
            // Events are in time order: none later can expire sooner than `best`.
            if best.is_some_and(|b| e.at().0.saturating_add(shortest) >= b) {
                break;
            }
            if let Some(keep) = self.schema.event_kind_retention(e.kind()) {
                let expires = e.at().0.saturating_add(keep).saturating_add(1);
                best = Some(best.map_or(expires, |b| b.min(expires)));
            }
        }
        best.map(Timestamp)
    }

    /// Puts live profile `p` in the retention queue under its next expiry (or takes it
    /// out).
    pub(crate) fn schedule_retention(&mut self, p: ProfileId) {
        if !self.schema.has_retention() {
            return;
        }
        let next = self
            .profiles
            .get(p)
            .and_then(|profile| self.retention_expiry(profile));
        self.retention_due.set(p, next);
    }

    /// Drops every event past its retention at the clock, from the profiles due, and
    /// brings what they feed up to date (not registered segments: the caller does, from
    /// the touched kinds returned).
    pub(crate) fn expire_events(&mut self) -> (RetentionReceipt, Touched) {
        let mut receipt = RetentionReceipt::default();
        let mut touched = Touched::default();
        let Some(now) = self.clock.now() else {
            return (receipt, touched);
        };
        if !self.schema.has_retention() {
            return (receipt, touched);
        }
        let due = self.retention_due.take_until(now);
        let mut by_kind: BTreeMap<EventKindId, usize> = BTreeMap::new();
        let mut records: BTreeSet<RecordId> = BTreeSet::new();
        let mut expired_records: BTreeSet<RecordId> = BTreeSet::new();
        let mut holders: BTreeSet<ProfileId> = BTreeSet::new();
        for p in due {
            if let (Some(keep), Some(profile)) =
                (self.schema.record_retention(), self.profiles.get(p))
            {
                let before = expired_records.len();
                expired_records.extend(profile.records.iter(&self.log).filter(|&r| {
                    self.log
                        .get(r)
                        .is_some_and(|x| x.at.0 < now.0.saturating_sub(keep))
                }));
                if expired_records.len() > before {
                    // Rebuilt below, events and all.
                    holders.insert(p);
                    continue;
                }
            }
            let schema = &self.schema;
            let Some(profile) = self.profiles.get_mut(p) else {
                continue;
            };
            let removed = profile.events.remove_where(|e| {
                schema
                    .event_kind_retention(e.kind())
                    .is_some_and(|keep| e.at().0 < now.0.saturating_sub(keep))
            });
            if removed.is_empty() {
                self.schedule_retention(p);
                continue;
            }
            let mut kinds: SmallVec<[EventKindId; 4]> = SmallVec::new();
            self.count_events(removed.iter().map(|(kind, _, _)| *kind), false);
            for (kind, record, texts) in removed {
                *by_kind.entry(kind).or_default() += 1;
                receipt.events += 1;
                records.insert(record);
                if !kinds.contains(&kind) {
                    kinds.push(kind);
                }
                for t in texts {
                    self.texts.release(t);
                }
            }
            self.rfm.clear(p);
            if let Some(profile) = self.profiles.get(p)
                && !profile.events.is_empty()
            {
                self.rfm
                    .add_history(self.schema.rfm_rules(), p, &profile.events);
            }
            if !self.schema.computed_rules().is_empty() {
                self.refresh_computed(p);
            }
            let mut this = Touched::new([], kinds.iter().copied(), []);
            this.computed = !self.schema.computed_rules().is_empty();
            self.refresh_materialized(p, &this);
            for k in kinds {
                touched.kinds.insert(k.index());
            }
            touched.computed |= this.computed;
            self.schedule_retention(p);
            receipt.profiles.push(p);
        }
        if !holders.is_empty() {
            self.expire_records(holders, &expired_records, &mut receipt, &mut touched);
        }
        receipt.events_by_kind = by_kind
            .into_iter()
            .filter_map(|(k, n)| Some((self.schema.event_kind(k)?.name.clone(), n)))
            .collect();
        receipt.records = records.into_iter().collect();
        (receipt, touched)
    }

    /// Drops records `expired` of profiles `holders` as if they had never arrived: the
    /// holders, and every profile whose replay they could change, are rebuilt from their
    /// other records. The rebuilt profiles join `receipt.profiles` (for the segment
    /// update) and `touched` becomes everything. Events the rebuild drops for their own
    /// retention are not counted: they went with a record or were due anyway.
    fn expire_records(
        &mut self,
        holders: BTreeSet<ProfileId>,
        expired: &BTreeSet<RecordId>,
        receipt: &mut RetentionReceipt,
        touched: &mut Touched,
    ) {
        let closure = self.rebuild_closure(holders, ProfileId(u32::MAX));
        let targets: Vec<ProfileId> = closure.into_iter().collect();
        let rebuilt = self.rebuild_without(&targets, expired);
        // Ids no record took again are gone, with their scores in stored runs.
        let gone: BTreeSet<ProfileId> = rebuilt
            .touched
            .iter()
            .copied()
            .filter(|&p| self.profiles.resolve(p).is_none())
            .collect();
        if !gone.is_empty() {
            for run in self.rfm.runs_mut().flatten() {
                run.remove(&gone);
            }
        }
        receipt.records_expired += expired.len();
        receipt.expired_records = expired.iter().copied().collect();
        receipt.rebuilt = rebuilt.profiles;
        let mut moved: Vec<ProfileId> = receipt
            .profiles
            .iter()
            .copied()
            .chain(rebuilt.touched)
            .collect();
        moved.sort_unstable();
        moved.dedup();
        receipt.profiles = moved;
        touched.everything = true;
    }

    /// Drops every event older than its kind's `retention_days` relative to the clock,
    /// and every record older than the schema's `record_retention_days` (with all it
    /// said and the links it made: the profiles holding it are rebuilt from their other
    /// records), updates computed traits, RFM tallies and registered segments as if they
    /// had never been kept (segment changes have [`Cause::Retention`]), and says what
    /// went.
    ///
    /// `advance_time` applies retention by itself (unless
    /// [`EngineConfig::retention_on_advance`](crate::EngineConfig::retention_on_advance) is
    /// off): the receipt's counts include what clock moves dropped since the last call,
    /// its `profiles` and `records` only what this call dropped, so memory stays bounded
    /// for a host that never asks. A host that purges its own copies by record turns
    /// `retention_on_advance` off and calls this after each clock move.
    ///
    /// ```
    /// use audience::schema::{EventKindDef, IdentifierKindDef, Normalizer, Schema};
    /// use audience::{Engine, EventInput, Record, Timestamp};
    ///
    /// let schema = Schema::builder()
    ///     .identifier_kind(IdentifierKindDef::new("user_id", Normalizer::Trim, 1))
    ///     .source("web", 1)
    ///     .event_kind(EventKindDef::new("page_view").retention_days(30))
    ///     .build()?;
    /// let mut engine = Engine::new(schema);
    /// let day = |d: i64| Timestamp::from_secs(1_700_000_000 + d * 86_400);
    /// engine.advance_time(day(0)?)?;
    /// let view = EventInput::new("page_view", day(0)?);
    /// engine.ingest(&Record::builder(day(0)?, "web").identifier("user_id", "u1").event(view).build())?;
    /// engine.advance_time(day(31)?)?; // the view is now 31 days old: dropped
    /// let receipt = engine.apply_retention()?;
    /// assert_eq!(receipt.events_by_kind["page_view"], 1);
    /// let p = engine.find("user_id", "u1")?.expect("the profile stays");
    /// assert!(engine.profile(p)?.events.is_empty());
    /// # Ok::<(), audience::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`TimeError::ClockUnset`] before the first `advance_time`.
    pub fn apply_retention(&mut self) -> Result<RetentionReceipt, TimeError> {
        let now = self.clock.now().ok_or(TimeError::ClockUnset)?;
        let (fresh, touched) = self.expire_events();
        if !fresh.profiles.is_empty() {
            let profiles = fresh.profiles.clone();
            self.update_segments(
                &Dirty::Record {
                    profiles: &profiles,
                    touched: &touched,
                    leaves: None,
                },
                now,
                &|_| Cause::Retention,
            );
        }
        let mut receipt = fresh;
        receipt.add_counts(&std::mem::take(&mut self.retention_pending));
        Ok(receipt)
    }

    /// Every live profile's place in the retention queue is its next expiry, and (when
    /// clock moves apply retention) no live event is past its retention.
    pub(crate) fn check_retention(&self) -> Result<(), String> {
        if !self.schema.has_retention() {
            return Ok(());
        }
        for (id, p) in self.profiles.iter_live() {
            let next = self.retention_expiry(p);
            if next != self.retention_due.get(id) {
                return Err(format!(
                    "{id}: retention due {:?} != {next:?}",
                    self.retention_due.get(id)
                ));
            }
            if let Some(now) = self.clock.now()
                && self.config.retention_on_advance
                && p.events
                    .iter()
                    .any(|e| self.is_expired(e.kind(), e.at(), now))
            {
                return Err(format!("{id}: holds an event past its retention"));
            }
            if let (Some(now), Some(keep)) = (self.clock.now(), self.schema.record_retention())
                && self.config.retention_on_advance
                && p.records.iter(&self.log).any(|r| {
                    self.log
                        .get(r)
                        .is_some_and(|x| x.at.0 < now.0.saturating_sub(keep))
                })
            {
                return Err(format!(
                    "{id}: holds a record past the record log's retention"
                ));
            }
        }
        self.retention_due.internal_validate()
    }
}
