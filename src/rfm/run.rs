//! One scoring run of a model: the values and scores of every scored profile, and the
//! cut points that explain them.
#![deny(clippy::arithmetic_side_effects)]

use serde::{Deserialize, Serialize};

use crate::ids::ProfileId;
use crate::money::Currency;
use crate::rfm::score::RfmCuts;
use crate::rfm::segments::{Dimension, Direction};
use crate::time::Timestamp;

/// One profile's values and scores in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct RfmScore {
    /// The profile.
    pub profile: ProfileId,
    /// Whole days from the last activity to the reference time.
    pub recency_days: i64,
    /// Weighted number of activity events (the number of purchases, for classic RFM).
    pub frequency: i64,
    /// Sum of amounts in minor units of the model's currency, refunds netted.
    pub monetary_minor: i64,
    /// Recency score, 1..=bins (higher is more recent).
    pub r: u8,
    /// Frequency score, 1..=bins.
    pub f: u8,
    /// Monetary score, 1..=bins.
    pub m: u8,
}

impl RfmScore {
    /// The score of `dimension`.
    pub fn score(&self, dimension: Dimension) -> u8 {
        match dimension {
            Dimension::Recency => self.r,
            Dimension::Frequency => self.f,
            Dimension::Monetary => self.m,
        }
    }

    /// The value of `dimension` (days, weighted events, minor units).
    pub fn value(&self, dimension: Dimension) -> i64 {
        match dimension {
            Dimension::Recency => self.recency_days,
            Dimension::Frequency => self.frequency,
            Dimension::Monetary => self.monetary_minor,
        }
    }
}

/// The change of one dimension's score between the previous run and the current one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ScoreTrend {
    /// Current score minus previous score.
    pub delta: i8,
    /// Its direction.
    pub direction: Direction,
}

/// A profile's trend in each dimension, between the previous run and the current one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct RfmTrend {
    /// Recency.
    pub r: ScoreTrend,
    /// Frequency.
    pub f: ScoreTrend,
    /// Monetary.
    pub m: ScoreTrend,
}

impl RfmTrend {
    /// The trend from `previous` to `current`.
    pub fn between(previous: &RfmScore, current: &RfmScore) -> Self {
        let trend = |d: Dimension| {
            let delta = i8::try_from(
                i16::from(current.score(d)).saturating_sub(i16::from(previous.score(d))),
            )
            .unwrap_or_default();
            ScoreTrend {
                delta,
                direction: Direction::of(delta),
            }
        };
        RfmTrend {
            r: trend(Dimension::Recency),
            f: trend(Dimension::Frequency),
            m: trend(Dimension::Monetary),
        }
    }

    /// The trend of `dimension`.
    pub fn of(&self, dimension: Dimension) -> ScoreTrend {
        match dimension {
            Dimension::Recency => self.r,
            Dimension::Frequency => self.f,
            Dimension::Monetary => self.m,
        }
    }
}

/// The scores a model gave at one reference time: every profile live at the run with at
/// least one activity event at or before it, in ascending profile order.
///
/// A run is a snapshot: later events change nothing until the next run. A profile merged
/// away since the run is no longer reported by the engine (its id is not live); the
/// survivor keeps the scores it was given.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct RfmRun {
    pub(crate) model: String,
    pub(crate) reference: Timestamp,
    pub(crate) currency: Currency,
    pub(crate) bins: u8,
    pub(crate) profiles: Vec<ProfileId>,
    pub(crate) recency_days: Vec<i64>,
    pub(crate) frequency: Vec<i64>,
    pub(crate) monetary_minor: Vec<i64>,
    /// R, F and M score columns.
    pub(crate) scores: [Vec<u8>; 3],
    pub(crate) cuts: RfmCuts,
    /// Profiles erased since the run: their rows are skipped (and never serialized), so
    /// an erasure costs no column moves.
    #[serde(skip)]
    pub(crate) erased: roaring::RoaringBitmap,
}

impl Serialize for RfmRun {
    /// The run without the rows of erased profiles.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let keep = |i: usize| {
            self.profiles
                .get(i)
                .is_some_and(|p| !self.erased.contains(p.0))
        };
        let column = |c: &[i64]| -> Vec<i64> {
            c.iter()
                .enumerate()
                .filter(|(i, _)| keep(*i))
                .map(|(_, v)| *v)
                .collect()
        };
        let scores = |c: &[u8]| -> Vec<u8> {
            c.iter()
                .enumerate()
                .filter(|(i, _)| keep(*i))
                .map(|(_, v)| *v)
                .collect()
        };
        let profiles: Vec<ProfileId> = self
            .profiles
            .iter()
            .copied()
            .filter(|p| !self.erased.contains(p.0))
            .collect();
        let [r, f, m] = &self.scores;
        let mut st = s.serialize_struct("RfmRun", 9)?;
        st.serialize_field("model", &self.model)?;
        st.serialize_field("reference", &self.reference)?;
        st.serialize_field("currency", &self.currency)?;
        st.serialize_field("bins", &self.bins)?;
        st.serialize_field("profiles", &profiles)?;
        st.serialize_field("recency_days", &column(&self.recency_days))?;
        st.serialize_field("frequency", &column(&self.frequency))?;
        st.serialize_field("monetary_minor", &column(&self.monetary_minor))?;
        st.serialize_field("scores", &[scores(r), scores(f), scores(m)])?;
        st.serialize_field("cuts", &self.cuts)?;
        st.end()
    }
}

impl RfmRun {
    /// The model's name.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The reference time recency was measured to.
    pub fn reference(&self) -> Timestamp {
        self.reference
    }

    /// The currency of monetary values.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The number of bins.
    pub fn bins(&self) -> u8 {
        self.bins
    }

    /// The number of profiles scored (and not erased since).
    pub fn len(&self) -> usize {
        self.profiles
            .len()
            .saturating_sub(usize::try_from(self.erased.len()).unwrap_or(usize::MAX))
    }

    /// Whether no profile was scored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cut points of the run.
    pub fn cuts(&self) -> &RfmCuts {
        &self.cuts
    }

    /// The score of the profile at position `i` (`None` once erased).
    fn at(&self, i: usize) -> Option<RfmScore> {
        if self
            .profiles
            .get(i)
            .is_some_and(|p| self.erased.contains(p.0))
        {
            return None;
        }
        let [r, f, m] = &self.scores;
        let (r, f, m) = (*r.get(i)?, *f.get(i)?, *m.get(i)?);
        Some(RfmScore {
            profile: *self.profiles.get(i)?,
            recency_days: *self.recency_days.get(i)?,
            frequency: *self.frequency.get(i)?,
            monetary_minor: *self.monetary_minor.get(i)?,
            r,
            f,
            m,
        })
    }

    /// The score the run gave `profile` (exactly this id; see [`crate::Engine::rfm_score`]
    /// for a lookup that follows merges).
    pub fn get(&self, profile: ProfileId) -> Option<RfmScore> {
        let i = self.profiles.binary_search(&profile).ok()?;
        self.at(i)
    }

    /// Every score, in ascending profile order.
    pub fn iter(&self) -> impl Iterator<Item = RfmScore> + '_ {
        (0..self.len()).filter_map(|i| self.at(i))
    }

    /// How many profiles got each score of `dimension`: index 0 is score 1.
    pub fn histogram(&self, dimension: Dimension) -> Vec<usize> {
        let mut counts = vec![0usize; usize::from(self.bins)];
        let column = self
            .scores
            .get(dimension.index())
            .map_or(&[][..], Vec::as_slice);
        for (i, &score) in column.iter().enumerate() {
            if self
                .profiles
                .get(i)
                .is_some_and(|p| self.erased.contains(p.0))
            {
                continue;
            }
            if let Some(c) = counts.get_mut(usize::from(score).saturating_sub(1)) {
                *c = (*c).saturating_add(1);
            }
        }
        counts
    }

    /// An empty run of `model`, reusing `spare`'s buffers (cleared) to spare the allocator
    /// and the page faults of fresh memory.
    pub(crate) fn recycled(
        spare: Option<RfmRun>,
        model: &str,
        reference: Timestamp,
        currency: Currency,
        bins: u8,
    ) -> Self {
        let mut run = spare.unwrap_or_else(|| RfmRun {
            model: String::new(),
            reference,
            currency,
            bins,
            profiles: Vec::new(),
            recency_days: Vec::new(),
            frequency: Vec::new(),
            monetary_minor: Vec::new(),
            scores: Default::default(),
            cuts: RfmCuts::default(),
            erased: roaring::RoaringBitmap::new(),
        });
        run.erased.clear();
        model.clone_into(&mut run.model);
        run.reference = reference;
        run.currency = currency;
        run.bins = bins;
        run.profiles.clear();
        run.recency_days.clear();
        run.frequency.clear();
        run.monetary_minor.clear();
        for s in &mut run.scores {
            s.clear();
        }
        run
    }

    /// Takes the profiles in `ids` out of the run (their rows are skipped from now on);
    /// returns how many were in it.
    pub(crate) fn remove(&mut self, ids: &std::collections::BTreeSet<ProfileId>) -> usize {
        let mut removed = 0usize;
        for p in ids {
            if self.profiles.binary_search(p).is_ok() && self.erased.insert(p.0) {
                removed = removed.saturating_add(1);
            }
        }
        removed
    }

    /// The run without the rows of erased profiles.
    pub(crate) fn compacted(&self) -> RfmRun {
        if self.erased.is_empty() {
            return self.clone();
        }
        let keep: Vec<bool> = self
            .profiles
            .iter()
            .map(|p| !self.erased.contains(p.0))
            .collect();
        fn kept<T: Copy>(v: &[T], keep: &[bool]) -> Vec<T> {
            v.iter()
                .zip(keep)
                .filter(|(_, k)| **k)
                .map(|(x, _)| *x)
                .collect()
        }
        let [r, f, m] = &self.scores;
        RfmRun {
            model: self.model.clone(),
            reference: self.reference,
            currency: self.currency,
            bins: self.bins,
            profiles: kept(&self.profiles, &keep),
            recency_days: kept(&self.recency_days, &keep),
            frequency: kept(&self.frequency, &keep),
            monetary_minor: kept(&self.monetary_minor, &keep),
            scores: [kept(r, &keep), kept(f, &keep), kept(m, &keep)],
            cuts: self.cuts.clone(),
            erased: roaring::RoaringBitmap::new(),
        }
    }

    /// Room for `n` profiles in every column.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.profiles.reserve(n);
        self.recency_days.reserve(n);
        self.frequency.reserve(n);
        self.monetary_minor.reserve(n);
        for s in &mut self.scores {
            s.reserve(n);
        }
    }

    /// Estimated heap bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        let columns = self
            .recency_days
            .capacity()
            .saturating_add(self.frequency.capacity())
            .saturating_add(self.monetary_minor.capacity());
        let scores = self
            .scores
            .iter()
            .map(Vec::capacity)
            .fold(0usize, usize::saturating_add);
        self.profiles
            .capacity()
            .saturating_mul(4)
            .saturating_add(scores)
            .saturating_add(columns.saturating_mul(8))
    }
}
