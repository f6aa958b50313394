//! Rectification (GDPR art. 16): deleting a trait's observations from a profile, and
//! correcting a trait to one value. The observations go — not only the current value —
//! so a later replay of the person's records (erasure, repair) cannot bring them back.

use crate::engine::Engine;
use crate::engine::realtime::Dirty;
use crate::error::{LookupError, RectifyError};
use crate::ids::{ProfileId, RecordId, TraitId};
use crate::realtime::{Cause, Touched};
use crate::record::{Record, Value};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

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

    /// What changing trait `trait_id` touches.
    fn trait_touched(&self, trait_id: TraitId) -> Touched {
        let mut touched = Touched::new([trait_id], [], []);
        touched.computed = self.schema.is_time_zone_trait(trait_id);
        touched
    }
}
