//! Retention: events older than their kind's `retention_days`, relative to the clock, are
//! dropped — on `advance_time`, on [`Engine::apply_retention`], and on arrival — with
//! computed traits, RFM tallies, materialized conditions and registered segments updated
//! as if the events had never been kept.
//!
//! Each profile with events of a kind that has a retention waits in a due queue under the
//! instant its oldest such event expires, so a clock move visits only the profiles that
//! lose something.

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
    /// The profiles that lost events, ascending.
    pub profiles: Vec<ProfileId>,
    /// The records whose events were dropped (the records themselves, with their
    /// identifiers and traits, stay), ascending: the host can purge its own copies.
    pub records: Vec<RecordId>,
}

impl RetentionReceipt {
    /// Adds the counts of `other` (not its lists) to this receipt.
    pub(crate) fn add_counts(&mut self, other: &RetentionReceipt) {
        self.events += other.events;
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
        let shortest = (0..self.schema.def().event_kinds.len())
            .filter_map(|i| {
                self.schema
                    .event_kind_retention(EventKindId(u16::try_from(i).unwrap_or(u16::MAX)))
            })
            .min()?;
        let mut best: Option<i64> = None;
        for e in profile.events.iter() {
            // Events are in time order: none later can expire sooner than `best`.
            if best.is_some_and(|b| e.at().0.saturating_add(shortest) >= b) {
                break;
            }
            if let Some(keep) = self.schema.event_kind_retention(e.kind()) {
                // Past it once `now - keep > at`, i.e. from `at + keep + 1` ms on.
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
        for p in due {
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
        receipt.events_by_kind = by_kind
            .into_iter()
            .filter_map(|(k, n)| Some((self.schema.event_kind(k)?.name.clone(), n)))
            .collect();
        receipt.records = records.into_iter().collect();
        (receipt, touched)
    }

    /// Drops every event older than its kind's `retention_days` relative to the clock,
    /// updates computed traits, RFM tallies and registered segments as if they had never
    /// been kept (segment changes have [`Cause::Retention`]), and says what went.
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
        }
        self.retention_due.internal_validate()
    }
}
