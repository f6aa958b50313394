//! Rectification (GDPR art. 16): deleting a trait's observations from a profile, and
//! correcting a trait to one value. The observations go — not only the current value —
//! so a later replay of the person's records (erasure, repair) cannot bring them back.

use crate::engine::Engine;
use crate::engine::realtime::Dirty;
use crate::error::{IngestError, LookupError, RectifyError};
use crate::ids::{ProfileId, RecordId, TraitId};
use crate::realtime::{Cause, Touched};
use crate::record::{Record, Value};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// What a record-level correction did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordCorrection {
    /// The record corrected.
    pub record: RecordId,
    /// The live profile holding it.
    pub profile: ProfileId,
    /// How many of its trait observations were replaced.
    pub removed: usize,
    /// How many it carries now.
    pub added: usize,
}

/// What a rectification did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rectification {
    /// The live profile rectified.
    pub profile: ProfileId,
    /// The trait.
    pub trait_name: String,
    /// The records whose observations of the trait were deleted, ascending: the host can
    /// correct its own copies.
    pub records: Vec<RecordId>,
    /// How many observations were deleted.
    pub observations: usize,
    /// For a correction: the record that carries the new value (an ordinary record of the
    /// log, from the given source at the clock time, with the profile's first identifier).
    pub correction: Option<RecordId>,
}

impl Engine {
    /// The live profile `id` names and the trait `name`, or why not.
    fn rectify_target(
        &self,
        id: ProfileId,
        name: &str,
    ) -> Result<(ProfileId, TraitId), RectifyError> {
        let live = self.resolve(id)?;
        let trait_id = self
            .schema
            .trait_id(name)
            .ok_or_else(|| RectifyError::UnknownTrait(name.chars().take(64).collect()))?;
        Ok((live, trait_id))
    }

    /// Deletes every observation of trait `name` from the person `profile` names (or the
    /// survivor it was merged into): the trait has no value afterwards, indexes and
    /// registered segments follow (changes have [`Cause::Rectification`]).
    ///
    /// ```
    /// use audience::{Engine, Record, Schema, Timestamp};
    ///
    /// let mut engine = Engine::new(Schema::retail_default());
    /// let t = Timestamp::from_secs(1_700_000_000)?;
    /// let r = engine.ingest(&Record::builder(t, "crm").identifier("user_id", "u1").trait_value("country", "DE").build())?;
    /// let done = engine.delete_trait(r.profile, "country")?;
    /// assert_eq!(done.observations, 1);
    /// assert_eq!(engine.profile(r.profile)?.value("country"), None);
    /// # Ok::<(), audience::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`RectifyError::Lookup`] for an unknown or erased profile,
    /// [`RectifyError::UnknownTrait`]; the engine is unchanged.
    pub fn delete_trait(
        &mut self,
        profile: ProfileId,
        name: &str,
    ) -> Result<Rectification, RectifyError> {
        let (live, trait_id) = self.rectify_target(profile, name)?;
        let (records, observations, latest) = self.remove_observations(live, trait_id);
        let touched = self.trait_touched(trait_id);
        // Changes are dated by the clock, else by the latest observation deleted.
        if let Some(at) = self.clock.now().or(latest) {
            self.update_segments(
                &Dirty::Record {
                    profiles: &[live],
                    touched: &touched,
                    leaves: None,
                },
                at,
                &|_| Cause::Rectification {
                    trait_name: name.to_string(),
                },
            );
        }
        Ok(Rectification {
            profile: live,
            trait_name: name.to_string(),
            records,
            observations,
            correction: None,
        })
    }

    /// Corrects trait `name` of the person `profile` names to `value`: every observation
    /// of it is deleted, and a record from `source` at the clock time carrying `value` and
    /// the profile's first identifier (by kind priority, then value) is ingested, so the
    /// correction has provenance like any other value. Segments see one net change per
    /// membership (with the correction record as cause).
    ///
    /// # Errors
    /// [`RectifyError::Lookup`], [`RectifyError::UnknownTrait`],
    /// [`RectifyError::ClockUnset`], [`RectifyError::Ingest`] for a value of the wrong type
    /// or an unknown source (validated before anything changes); the engine is unchanged.
    pub fn correct_trait(
        &mut self,
        profile: ProfileId,
        name: &str,
        value: impl Into<Value>,
        source: &str,
    ) -> Result<Rectification, RectifyError> {
        let (live, trait_id) = self.rectify_target(profile, name)?;
        let at = self.clock.now().ok_or(RectifyError::ClockUnset)?;
        let (kind, ident) = self
            .profiles
            .get(live)
            .into_iter()
            .flat_map(|p| p.identifiers.iter())
            .filter_map(|l| {
                let e = self.graph.entry(l.ident)?;
                Some((self.schema.kind_rank(e.kind), e.kind, e.value.to_string()))
            })
            .min()
            .map(|(_, k, v)| (k, v))
            .ok_or(RectifyError::Lookup(LookupError::UnknownProfile(profile)))?;
        let kind_name = self
            .schema
            .def()
            .identifier_kinds
            .get(kind.index())
            .map(|k| k.name.clone())
            .unwrap_or_default();
        let record = Record::builder(at, source)
            .identifier(kind_name, ident)
            .trait_value(name, value)
            .build();
        // Everything the record could be refused for, before anything changes.
        self.preview(&record)?;
        let (records, observations, _) = self.remove_observations(live, trait_id);
        let report = self.ingest(&record)?;
        Ok(Rectification {
            profile: report.profile,
            trait_name: name.to_string(),
            records,
            observations,
            correction: report.record,
        })
    }

    /// Replaces the trait values record `record` carried with `traits` (validated like a
    /// record's traits; its source and time stay), as if it had arrived so: every trait
    /// it touched, before or after, is recomputed, and segments follow
    /// ([`Cause::RecordCorrected`]). Its identifiers and events are untouched.
    ///
    /// ```
    /// use audience::{Engine, Record, Schema, Timestamp, TraitInput, Value};
    ///
    /// let mut engine = Engine::new(Schema::retail_default());
    /// let t = Timestamp::from_secs(1_700_000_000)?;
    /// let r = engine.ingest(&Record::builder(t, "crm").identifier("user_id", "u1").trait_value("country", "DE").build())?;
    /// let fix = [TraitInput { name: "country".into(), value: Value::from("AT") }];
    /// engine.correct_record(r.record.expect("accepted"), &fix)?;
    /// assert_eq!(engine.profile(r.profile)?.value("country"), Some(&Value::from("AT")));
    /// # Ok::<(), audience::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`RectifyError::UnknownRecord`] for a record not held (never accepted, or erased);
    /// [`RectifyError::Ingest`] for an unknown trait, a wrong type, a text over the limits
    /// or a sum that would overflow; the engine is unchanged.
    pub fn correct_record(
        &mut self,
        record: RecordId,
        traits: &[crate::record::TraitInput],
    ) -> Result<RecordCorrection, RectifyError> {
        let entry = self
            .log
            .get(record)
            .ok_or(RectifyError::UnknownRecord(record))?;
        let (at, source) = (entry.at, entry.source);
        let live = self
            .record_profile(record)
            .ok_or(RectifyError::UnknownRecord(record))?;
        self.check_count("traits", traits.len(), self.config.max_traits_per_record)?;
        let mut values: Vec<(TraitId, Value)> = Vec::with_capacity(traits.len());
        for (i, t) in traits.iter().enumerate() {
            let id = self.validate_trait(i, &t.name, &t.value)?;
            values.push((id, crate::engine::ingest::normalize_value(&t.value)));
        }
        let mut profile = self
            .profiles
            .get(live)
            .cloned()
            .ok_or(RectifyError::UnknownRecord(record))?;
        let mut touched: Vec<TraitId> = Vec::new();
        let mut removed = 0;
        let mut kept_states = Vec::with_capacity(profile.traits.len());
        for state in std::mem::take(&mut profile.traits) {
            if !state.observations.iter().any(|o| o.record == record) {
                kept_states.push(state);
                continue;
            }
            touched.push(state.trait_id);
            let before = state.observations.len();
            let trait_id = state.trait_id;
            let rest: crate::profile::merge::Observations = state
                .observations
                .into_iter()
                .filter(|o| o.record != record)
                .collect();
            removed += before - rest.len();
            let Some(rules) = crate::profile::merge::Rules::new(&self.schema, trait_id) else {
                continue;
            };
            // A sum of what is left can pass 64 bits when the value removed was negative.
            match crate::profile::merge::TraitState::recompute(&rules, rest) {
                Ok(Some(s)) => kept_states.push(s),
                Ok(None) => {}
                Err(e) => return Err(self.sum_overflow(trait_id, e).into()),
            }
        }
        profile.traits = kept_states;
        for (trait_id, value) in values.iter().cloned() {
            let Some(rules) = crate::profile::merge::Rules::new(&self.schema, trait_id) else {
                continue;
            };
            let obs = crate::profile::merge::Observation {
                value,
                source,
                at,
                record,
            };
            profile
                .observe(&rules, trait_id, obs)
                .map_err(|e| self.sum_overflow(trait_id, e))?;
            if !touched.contains(&trait_id) {
                touched.push(trait_id);
            }
        }
        // Validated and computed aside: from here nothing can fail.
        if let Some(slot) = self.profiles.get_mut(live) {
            *slot = profile;
        }
        let mut t = Touched::new(touched.iter().copied(), [], []);
        for &trait_id in &touched {
            self.indexes.update(live, trait_id, self.profiles.get(live));
            t.computed |= self.schema.is_time_zone_trait(trait_id);
        }
        if t.computed && !self.schema.computed_rules().is_empty() {
            self.refresh_computed(live);
        }
        self.refresh_materialized(live, &t);
        let now = self.clock.now().unwrap_or(at);
        self.update_segments(
            &Dirty::Record {
                profiles: &[live],
                touched: &t,
                leaves: None,
            },
            now,
            &|_| Cause::RecordCorrected(record),
        );
        Ok(RecordCorrection {
            record,
            profile: live,
            removed,
            added: values.len(),
        })
    }

    /// Removes every observation of `trait_id` from live profile `p` and brings the trait
    /// index, computed traits (a time zone) and materialized conditions up to date:
    /// the records that carried them, how many, and the latest one's time.
    fn remove_observations(
        &mut self,
        p: ProfileId,
        trait_id: TraitId,
    ) -> (Vec<RecordId>, usize, Option<Timestamp>) {
        let Some(profile) = self.profiles.get_mut(p) else {
            return (Vec::new(), 0, None);
        };
        let Ok(i) = profile
            .traits
            .binary_search_by(|t| t.trait_id.cmp(&trait_id))
        else {
            return (Vec::new(), 0, None);
        };
        let state = profile.traits.remove(i);
        let latest = state.observations.iter().map(|o| o.at).max();
        let mut records: Vec<RecordId> = state.observations.iter().map(|o| o.record).collect();
        let observations = records.len();
        records.sort_unstable();
        records.dedup();
        self.indexes.update(p, trait_id, self.profiles.get(p));
        if self.schema.is_time_zone_trait(trait_id) && !self.schema.computed_rules().is_empty() {
            self.refresh_computed(p);
        }
        let touched = self.trait_touched(trait_id);
        self.refresh_materialized(p, &touched);
        (records, observations, latest)
    }

    /// The error for a sum of trait `trait_id` that would pass 64 bits.
    fn sum_overflow(&self, trait_id: TraitId, e: crate::profile::merge::Overflow) -> IngestError {
        IngestError::SumOverflow {
            name: self
                .schema
                .trait_def(trait_id)
                .map_or_else(String::new, |d| d.name.clone()),
            currency: e.currency,
        }
    }

    /// What changing trait `trait_id` touches.
    fn trait_touched(&self, trait_id: TraitId) -> Touched {
        let mut touched = Touched::new([trait_id], [], []);
        touched.computed = self.schema.is_time_zone_trait(trait_id);
        touched
    }
}
