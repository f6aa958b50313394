//! RFM on the engine: tallies kept current on ingest and merge, runs scored and stored
//! per model (with the previous one, for trends), and named segments evaluated against
//! the stored runs.

use crate::engine::Engine;
use crate::engine::realtime::Dirty;
use crate::error::LookupError;
use crate::event::store::NewEvent;
use crate::ids::ProfileId;
use crate::realtime::Cause;
use crate::rfm::RfmSegmentDef;
use crate::rfm::model::RfmRule;
use crate::rfm::run::{RfmRun, RfmScore, RfmTrend};
use crate::rfm::score::score;
use crate::rfm::segments::RfmCondition;
use crate::rfm::tally::{Tallies, Tally};
use crate::time::{MILLIS_PER_DAY, Timestamp};

/// The RFM state of an engine: per model, the tallies and the last two runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RfmState {
    tallies: Vec<Tallies>,
    current: Vec<Option<RfmRun>>,
    previous: Vec<Option<RfmRun>>,
}

impl RfmState {
    /// Empty state for `models` models.
    pub(crate) fn new(models: usize) -> Self {
        RfmState {
            tallies: vec![Tallies::default(); models],
            current: vec![None; models],
            previous: vec![None; models],
        }
    }

    /// Adds a record's stored events to `p`'s tallies.
    pub(crate) fn add(&mut self, rules: &[RfmRule], p: ProfileId, events: &[NewEvent]) {
        for (rule, tallies) in rules.iter().zip(&mut self.tallies) {
            tallies.add(rule, p, events.iter().map(|e| (e.at, e)));
        }
    }

    /// Adds a whole stored history to `p`'s tallies (restore).
    pub(crate) fn add_history(
        &mut self,
        rules: &[RfmRule],
        p: ProfileId,
        history: &crate::event::store::EventHistory,
    ) {
        let events: Vec<crate::event::store::EventRef<'_>> = history.iter().collect();
        for (rule, tallies) in rules.iter().zip(&mut self.tallies) {
            tallies.add(rule, p, events.iter().map(|e| (e.at(), e)));
        }
    }

    /// Moves `retired`'s tallies into `survivor`'s.
    pub(crate) fn merge(&mut self, survivor: ProfileId, retired: ProfileId) {
        for t in &mut self.tallies {
            t.merge(survivor, retired);
        }
    }

    /// Per model: the latest and the previous run.
    pub(crate) fn runs(&self) -> Vec<[Option<RfmRun>; 2]> {
        self.current
            .iter()
            .zip(&self.previous)
            .map(|(c, p)| {
                [
                    c.as_ref().map(RfmRun::compacted),
                    p.as_ref().map(RfmRun::compacted),
                ]
            })
            .collect()
    }

    /// The runs, mutably (to take erased profiles out, or to restore them).
    pub(crate) fn runs_mut(&mut self) -> impl Iterator<Item = &mut Option<RfmRun>> {
        self.current.iter_mut().chain(self.previous.iter_mut())
    }

    /// Sets model `index`'s runs (for restore).
    pub(crate) fn set_runs(
        &mut self,
        index: usize,
        current: Option<RfmRun>,
        previous: Option<RfmRun>,
    ) {
        if let Some(c) = self.current.get_mut(index) {
            *c = current;
        }
        if let Some(p) = self.previous.get_mut(index) {
            *p = previous;
        }
    }

    /// Clears `p`'s tallies (erasure, replay).
    pub(crate) fn clear(&mut self, p: ProfileId) {
        for t in &mut self.tallies {
            t.clear(p);
        }
    }

    /// The bound on `p`'s monetary sums in model `index`.
    pub(crate) fn magnitude(&self, index: usize, p: ProfileId) -> u64 {
        self.tallies.get(index).map_or(0, |t| t.magnitude(p))
    }

    /// Estimated heap bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.tallies.iter().map(Tallies::heap_bytes).sum::<usize>()
            + self
                .current
                .iter()
                .chain(&self.previous)
                .flatten()
                .map(RfmRun::heap_bytes)
                .sum::<usize>()
    }
}

impl Engine {
    /// Every RFM tally equals its recomputation from the profile's events (live profiles),
    /// or is empty (retired ones).
    pub(crate) fn check_rfm(&self) -> Result<(), String> {
        for (index, (rule, tallies)) in self
            .schema
            .rfm_rules()
            .iter()
            .zip(&self.rfm.tallies)
            .enumerate()
        {
            for i in 0..self.profiles.slot_count() {
                let p = ProfileId(u32::try_from(i).map_err(|e| e.to_string())?);
                let (want, want_latest) = match self.profiles.get(p) {
                    Some(profile) => (
                        Tally::from_history(rule, &profile.events, Timestamp::MAX),
                        profile
                            .events
                            .iter()
                            .filter(|e| rule.role(e.kind()).matters())
                            .map(|e| e.at().0)
                            .max()
                            .unwrap_or(i64::MIN),
                    ),
                    None => (Tally::EMPTY, i64::MIN),
                };
                let got = tallies.all().get(i).copied().unwrap_or(Tally::EMPTY);
                if got != want {
                    return Err(format!(
                        "RFM model {index}: {p} tally {got:?}, recomputed {want:?}"
                    ));
                }
                let latest = tallies.latest(p);
                let below_max = latest == i64::MIN || tallies.any_after(Timestamp(latest - 1));
                if latest != want_latest || !below_max {
                    return Err(format!(
                        "RFM model {index}: {p} latest event {latest}, recomputed {want_latest}"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A segment with the model of each condition resolved to a position.
pub(crate) struct Resolved<'a> {
    conditions: Vec<(usize, &'a RfmCondition)>,
}

impl Engine {
    fn rfm_model_index(&self, model: &str) -> Result<usize, LookupError> {
        self.schema
            .rfm_index(model)
            .ok_or_else(|| LookupError::UnknownRfmModel(model.to_string()))
    }

    /// Scores every live profile with at least one activity event at or before
    /// `reference` in model `model`, stores the run (the run before it becomes the
    /// previous one, for trends) and returns it.
    ///
    /// Recency is whole days from the last activity to `reference`; events after
    /// `reference` are not counted. A profile with no activity has no score, never a made-up
    /// one. The clock is neither read nor moved.
    ///
    /// # Errors
    /// [`LookupError::UnknownRfmModel`] for a model the schema does not declare.
    pub fn score_rfm(&mut self, model: &str, reference: Timestamp) -> Result<&RfmRun, LookupError> {
        self.score_rfm_with_progress(model, reference, &mut crate::progress::ignore)
    }

    /// [`Engine::score_rfm`], reporting progress in profiles to `progress` (see
    /// [`Progress`](crate::Progress)).
    ///
    /// # Errors
    /// [`LookupError::UnknownRfmModel`] for a model the schema does not declare.
    pub fn score_rfm_with_progress(
        &mut self,
        model: &str,
        reference: Timestamp,
        progress: &mut dyn FnMut(crate::Progress),
    ) -> Result<&RfmRun, LookupError> {
        let index = self.rfm_model_index(model)?;
        let unknown = || LookupError::UnknownRfmModel(model.to_string());
        let rule = self.schema.rfm_rules().get(index).ok_or_else(unknown)?;
        let def = self.schema.rfm_model(index).ok_or_else(unknown)?;
        let tallies = self.rfm.tallies.get(index).ok_or_else(unknown)?;
        let spare = self.rfm.previous.get_mut(index).and_then(Option::take);
        let mut run = RfmRun::recycled(spare, &def.name, reference, def.currency, def.bins);
        run.reserve(tallies.all().len());
        let recompute = tallies.any_after(reference);
        let mut ranges = [(i64::MAX, i64::MIN); 3];
        let mut ticker = crate::progress::Ticker::new(progress, tallies.all().len() as u64);
        for (i, tally) in tallies.all().iter().enumerate() {
            ticker.tick(i as u64);
            let p = ProfileId(u32::try_from(i).unwrap_or(u32::MAX));
            let t = if recompute && tallies.has_after(p, reference) {
                match self.profiles.get(p) {
                    Some(profile) => Tally::from_history(rule, &profile.events, reference),
                    None => continue,
                }
            } else {
                *tally
            };
            if t.frequency == 0 {
                continue;
            }
            let values = [
                (reference.0 - t.last_activity) / MILLIS_PER_DAY,
                i64::try_from(t.frequency).unwrap_or(i64::MAX),
                t.monetary,
            ];
            for ((lo, hi), v) in ranges.iter_mut().zip(values) {
                (*lo, *hi) = ((*lo).min(v), (*hi).max(v));
            }
            let [r, f, m] = values;
            run.profiles.push(p);
            run.recency_days.push(r);
            run.frequency.push(f);
            run.monetary_minor.push(m);
        }
        let range = |(lo, hi): (i64, i64)| (lo <= hi).then_some((lo, hi));
        let unit = 10i64.pow(u32::from(def.currency.exponent()));
        let [r, f, m] = ranges;
        let values = [
            (run.recency_days.as_slice(), range(r)),
            (run.frequency.as_slice(), range(f)),
            (run.monetary_minor.as_slice(), range(m)),
        ];
        run.cuts = score(values, def.bins, &def.scoring, unit, &mut run.scores);
        ticker.finish();
        let current = self.rfm.current.get_mut(index).ok_or_else(unknown)?;
        let before = current.replace(run);
        if let Some(slot) = self.rfm.previous.get_mut(index) {
            *slot = before;
        }
        let cause = Cause::RfmRun {
            model: def.name.clone(),
            reference,
        };
        self.refresh_rfm_materialized();
        let at = self.clock.now().unwrap_or(reference);
        self.update_segments(&Dirty::Rfm, at, &|_| cause.clone());
        self.rfm
            .current
            .get(index)
            .and_then(Option::as_ref)
            .ok_or_else(unknown)
    }

    /// The latest run of `model`, if it was ever scored.
    ///
    /// # Errors
    /// [`LookupError::UnknownRfmModel`] for a model the schema does not declare.
    pub fn rfm_run(&self, model: &str) -> Result<Option<&RfmRun>, LookupError> {
        let index = self.rfm_model_index(model)?;
        Ok(self.rfm.current.get(index).and_then(Option::as_ref))
    }

    /// The run of `model` before the latest one, if there was one.
    ///
    /// # Errors
    /// [`LookupError::UnknownRfmModel`] for a model the schema does not declare.
    pub fn previous_rfm_run(&self, model: &str) -> Result<Option<&RfmRun>, LookupError> {
        let index = self.rfm_model_index(model)?;
        Ok(self.rfm.previous.get(index).and_then(Option::as_ref))
    }

    pub(crate) fn run_score(&self, index: usize, previous: bool, p: ProfileId) -> Option<RfmScore> {
        let runs = if previous {
            &self.rfm.previous
        } else {
            &self.rfm.current
        };
        runs.get(index)?.as_ref()?.get(p)
    }

    /// The score the latest run of `model` gave the live profile `profile` is part of
    /// (`None`: not scored, or merged into a profile that was not).
    ///
    /// # Errors
    /// [`LookupError::UnknownRfmModel`], or [`LookupError::UnknownProfile`] for an id never
    /// handed out.
    pub fn rfm_score(
        &self,
        model: &str,
        profile: ProfileId,
    ) -> Result<Option<RfmScore>, LookupError> {
        let index = self.rfm_model_index(model)?;
        let live = self.resolve(profile)?;
        Ok(self.run_score(index, false, live))
    }

    /// How the profile's scores moved between the previous run of `model` and the latest
    /// (`None` unless it was scored in both).
    ///
    /// # Errors
    /// As [`Engine::rfm_score`].
    pub fn rfm_trend(
        &self,
        model: &str,
        profile: ProfileId,
    ) -> Result<Option<RfmTrend>, LookupError> {
        let index = self.rfm_model_index(model)?;
        let live = self.resolve(profile)?;
        Ok(self.trend(index, live))
    }

    /// How `p`'s scores in model `index` moved between the previous run and the latest.
    pub(crate) fn trend(&self, index: usize, p: ProfileId) -> Option<RfmTrend> {
        self.run_score(index, true, p)
            .zip(self.run_score(index, false, p))
            .map(|(before, now)| RfmTrend::between(&before, &now))
    }

    pub(crate) fn resolve_segment<'a>(&self, segment: &'a RfmSegmentDef) -> Option<Resolved<'a>> {
        let own = self.schema.rfm_index(&segment.model)?;
        let conditions = segment
            .conditions
            .iter()
            .map(|c| {
                let m = c.model().map_or(Some(own), |m| self.schema.rfm_index(m))?;
                Some((m, c))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Resolved { conditions })
    }

    /// Whether every condition of `segment` holds for `p` (scored in its own model).
    pub(crate) fn holds(&self, segment: &Resolved<'_>, p: ProfileId) -> bool {
        segment.conditions.iter().all(|&(m, c)| match c {
            RfmCondition::Score {
                dimension,
                min,
                max,
                ..
            } => self
                .run_score(m, false, p)
                .is_some_and(|s| (*min..=*max).contains(&s.score(*dimension))),
            RfmCondition::PreviousScore {
                dimension,
                min,
                max,
                ..
            } => self
                .run_score(m, true, p)
                .is_some_and(|s| (*min..=*max).contains(&s.score(*dimension))),
            RfmCondition::Trend {
                dimension,
                direction,
                ..
            } => self
                .trend(m, p)
                .is_some_and(|t| t.of(*dimension).direction == *direction),
            RfmCondition::Value {
                dimension,
                min,
                max,
                ..
            } => self.run_score(m, false, p).is_some_and(|s| {
                let v = s.value(*dimension);
                min.is_none_or(|lo| v >= lo) && max.is_none_or(|hi| v <= hi)
            }),
        })
    }

    fn segments_of<'a>(&'a self, model: &'a str) -> impl Iterator<Item = &'a RfmSegmentDef> + 'a {
        self.schema
            .def()
            .rfm_segments
            .iter()
            .filter(move |s| s.model == model)
    }

    /// The profile's label in `model`: the first named segment of the model, in schema
    /// order, that it belongs to (`None`: not scored, or in none).
    ///
    /// # Errors
    /// As [`Engine::rfm_score`].
    pub fn rfm_label<'a>(
        &'a self,
        model: &'a str,
        profile: ProfileId,
    ) -> Result<Option<&'a str>, LookupError> {
        let index = self.rfm_model_index(model)?;
        let live = self.resolve(profile)?;
        if self.run_score(index, false, live).is_none() {
            return Ok(None);
        }
        Ok(self
            .segments_of(model)
            .find(|s| {
                self.resolve_segment(s)
                    .is_some_and(|r| self.holds(&r, live))
            })
            .map(|s| s.name.as_str()))
    }

    /// The live members of named segment `name` of `model`, ascending.
    ///
    /// # Errors
    /// [`LookupError::UnknownRfmModel`], or [`LookupError::UnknownRfmSegment`] for a name
    /// the schema does not declare for the model.
    pub fn rfm_segment(&self, model: &str, name: &str) -> Result<Vec<ProfileId>, LookupError> {
        let index = self.rfm_model_index(model)?;
        let segment = self
            .segments_of(model)
            .find(|s| s.name == name)
            .ok_or_else(|| LookupError::UnknownRfmSegment {
                model: model.to_string(),
                name: name.to_string(),
            })?;
        let (Some(resolved), Some(run)) = (
            self.resolve_segment(segment),
            self.rfm.current.get(index).and_then(Option::as_ref),
        ) else {
            return Ok(Vec::new());
        };
        Ok(run
            .profiles
            .iter()
            .copied()
            .filter(|&p| !self.is_retired(p) && self.holds(&resolved, p))
            .collect())
    }

    /// Every named segment of `model` with its number of live members, in schema order
    /// (segments may overlap).
    ///
    /// # Errors
    /// [`LookupError::UnknownRfmModel`].
    pub fn rfm_segment_sizes(&self, model: &str) -> Result<Vec<(String, usize)>, LookupError> {
        self.rfm_model_index(model)?;
        self.segments_of(model)
            .map(|s| Ok((s.name.clone(), self.rfm_segment(model, &s.name)?.len())))
            .collect()
    }
}
