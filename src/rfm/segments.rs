//! Named RFM segments (Champions, Hyperactives, Zombies, Fading Stars, …) as data, and
//! score trends between a model's runs.
//!
//! A segment belongs to one model: its members are profiles scored in that model's
//! current run for which every condition holds. Conditions may read another model's
//! current run, or the previous run of a model (for trends). Segments may overlap; a
//! profile's *label* in a model is the first segment of the schema's list, in order, that
//! it belongs to (the ten standard segments are disjoint and cover every (R, F) cell).
//!
//! ```
//! use audience::rfm::{Dimension, RfmCondition, RfmSegmentDef};
//! let standard = RfmSegmentDef::standard("classic");
//! assert_eq!(standard.len(), 10);
//! assert_eq!(standard[0].name, "Champions");
//! let big_spenders = RfmSegmentDef::new("Big Spenders", "classic")
//!     .when(RfmCondition::score(Dimension::Monetary, 5, 5));
//! # let _ = big_spenders;
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{RfmProblem, SchemaError};
use crate::hash::FastMap;

/// One of the three RFM dimensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// Recency: whole days since the last activity (fewer is better).
    Recency,
    /// Frequency: weighted number of activity events.
    Frequency,
    /// Monetary: sum of amounts in minor units.
    Monetary,
}

impl Dimension {
    /// The three, in R, F, M order.
    pub const ALL: [Dimension; 3] = [
        Dimension::Recency,
        Dimension::Frequency,
        Dimension::Monetary,
    ];

    /// Position in R, F, M order.
    pub(crate) fn index(self) -> usize {
        match self {
            Dimension::Recency => 0,
            Dimension::Frequency => 1,
            Dimension::Monetary => 2,
        }
    }
}

/// Which way a score moved between the previous run and the current one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Higher than before.
    Up,
    /// The same as before.
    Flat,
    /// Lower than before.
    Down,
}

impl Direction {
    /// The direction of a score change `delta`.
    pub fn of(delta: i8) -> Self {
        match delta {
            d if d > 0 => Direction::Up,
            0 => Direction::Flat,
            _ => Direction::Down,
        }
    }
}

/// One condition of a named RFM segment. `model: None` reads the segment's own model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RfmCondition {
    /// The score in the current run lies in `min..=max`.
    Score {
        /// The model read (`None`: the segment's own).
        #[serde(default)]
        model: Option<String>,
        /// The dimension.
        dimension: Dimension,
        /// Least score.
        min: u8,
        /// Greatest score.
        max: u8,
    },
    /// The score in the previous run lies in `min..=max`.
    PreviousScore {
        /// The model read (`None`: the segment's own).
        #[serde(default)]
        model: Option<String>,
        /// The dimension.
        dimension: Dimension,
        /// Least score.
        min: u8,
        /// Greatest score.
        max: u8,
    },
    /// The profile is scored in both runs and the score moved this way.
    Trend {
        /// The model read (`None`: the segment's own).
        #[serde(default)]
        model: Option<String>,
        /// The dimension.
        dimension: Dimension,
        /// The direction.
        direction: Direction,
    },
    /// The value in the current run (days, weighted events, minor units) lies in the
    /// range; an absent bound is open.
    Value {
        /// The model read (`None`: the segment's own).
        #[serde(default)]
        model: Option<String>,
        /// The dimension.
        dimension: Dimension,
        /// Least value.
        #[serde(default)]
        min: Option<i64>,
        /// Greatest value.
        #[serde(default)]
        max: Option<i64>,
    },
}

impl RfmCondition {
    /// The own model's current score in `min..=max`.
    pub fn score(dimension: Dimension, min: u8, max: u8) -> Self {
        RfmCondition::Score {
            model: None,
            dimension,
            min,
            max,
        }
    }

    /// The current score of `model` in `min..=max`.
    pub fn score_in(model: &str, dimension: Dimension, min: u8, max: u8) -> Self {
        RfmCondition::Score {
            model: Some(model.to_string()),
            dimension,
            min,
            max,
        }
    }

    /// The own model's previous score in `min..=max`.
    pub fn previous_score(dimension: Dimension, min: u8, max: u8) -> Self {
        RfmCondition::PreviousScore {
            model: None,
            dimension,
            min,
            max,
        }
    }

    /// The own model's score moved this way since the previous run.
    pub fn trend(dimension: Dimension, direction: Direction) -> Self {
        RfmCondition::Trend {
            model: None,
            dimension,
            direction,
        }
    }

    /// The own model's current value in the range.
    pub fn value(dimension: Dimension, min: Option<i64>, max: Option<i64>) -> Self {
        RfmCondition::Value {
            model: None,
            dimension,
            min,
            max,
        }
    }

    /// The model the condition reads (`None`: the segment's own).
    pub(crate) fn model(&self) -> Option<&str> {
        match self {
            RfmCondition::Score { model, .. }
            | RfmCondition::PreviousScore { model, .. }
            | RfmCondition::Trend { model, .. }
            | RfmCondition::Value { model, .. } => model.as_deref(),
        }
    }
}

/// A named RFM segment: a model and conditions that must all hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RfmSegmentDef {
    /// The segment's name (unique within its model).
    pub name: String,
    /// The model whose scored profiles it ranges over.
    pub model: String,
    /// Conditions, all of which must hold.
    #[serde(default)]
    pub conditions: Vec<RfmCondition>,
}

impl RfmSegmentDef {
    /// A segment of `model` with no conditions yet.
    pub fn new(name: &str, model: &str) -> Self {
        RfmSegmentDef {
            name: name.to_string(),
            model: model.to_string(),
            conditions: Vec::new(),
        }
    }

    /// Adds a condition.
    pub fn when(mut self, condition: RfmCondition) -> Self {
        self.conditions.push(condition);
        self
    }

    /// The ten standard segments on (R, F) of `model`, for 5 bins: Champions, Loyal,
    /// Potential Loyalists, New Customers, Promising, Need Attention, About to Sleep,
    /// At Risk, Can't Lose, Hibernating. They are disjoint and cover all 25 cells.
    pub fn standard(model: &str) -> Vec<RfmSegmentDef> {
        /// (name, R range, F range).
        type Cell = (&'static str, (u8, u8), (u8, u8));
        const MAP: [Cell; 10] = [
            ("Champions", (5, 5), (4, 5)),
            ("Loyal", (3, 4), (4, 5)),
            ("Potential Loyalists", (4, 5), (2, 3)),
            ("New Customers", (5, 5), (1, 1)),
            ("Promising", (4, 4), (1, 1)),
            ("Need Attention", (3, 3), (3, 3)),
            ("About to Sleep", (3, 3), (1, 2)),
            ("At Risk", (1, 2), (3, 4)),
            ("Can't Lose", (1, 2), (5, 5)),
            ("Hibernating", (1, 2), (1, 2)),
        ];
        MAP.iter()
            .map(|&(name, r, f)| {
                RfmSegmentDef::new(name, model)
                    .when(RfmCondition::score(Dimension::Recency, r.0, r.1))
                    .when(RfmCondition::score(Dimension::Frequency, f.0, f.1))
            })
            .collect()
    }

    /// Hyperactives: engagement R = 5 and engagement F = 5 and classic F ≥ 4.
    pub fn hyperactives(engagement: &str, classic: &str) -> Self {
        RfmSegmentDef::new("Hyperactives", engagement)
            .when(RfmCondition::score(Dimension::Recency, 5, 5))
            .when(RfmCondition::score(Dimension::Frequency, 5, 5))
            .when(RfmCondition::score_in(classic, Dimension::Frequency, 4, 10))
    }

    /// Zombies: at least one open or click ever, and none in the last 180 days (engagement
    /// recency of 180 days or more).
    pub fn zombies(engagement: &str) -> Self {
        RfmSegmentDef::new("Zombies", engagement).when(RfmCondition::value(
            Dimension::Recency,
            Some(180),
            None,
        ))
    }

    /// Fading Stars: classic M ≥ 4 in the previous run, and R, F and M all lower than in
    /// the previous run.
    pub fn fading_stars(classic: &str) -> Self {
        RfmSegmentDef::new("Fading Stars", classic)
            .when(RfmCondition::previous_score(Dimension::Monetary, 4, 10))
            .when(RfmCondition::trend(Dimension::Recency, Direction::Down))
            .when(RfmCondition::trend(Dimension::Frequency, Direction::Down))
            .when(RfmCondition::trend(Dimension::Monetary, Direction::Down))
    }
}

/// Checks every segment: known models, unique names per model, score ranges in 1..=10
/// with `min <= max`.
pub(crate) fn validate(
    segments: &[RfmSegmentDef],
    models: &FastMap<String, u16>,
) -> Result<(), SchemaError> {
    let mut seen = FastMap::default();
    for s in segments {
        let fail = |problem| SchemaError::RfmSegment {
            name: s.name.clone(),
            problem,
        };
        if !models.contains_key(&s.model) {
            return Err(fail(RfmProblem::UnknownModel(s.model.clone())));
        }
        if seen
            .insert((s.model.as_str(), s.name.as_str()), ())
            .is_some()
        {
            return Err(SchemaError::DuplicateName {
                what: "RFM segment",
                name: s.name.clone(),
            });
        }
        for c in &s.conditions {
            if let Some(m) = c.model()
                && !models.contains_key(m)
            {
                return Err(fail(RfmProblem::UnknownModel(m.to_string())));
            }
            match c {
                RfmCondition::Score { min, max, .. }
                | RfmCondition::PreviousScore { min, max, .. }
                    if *min < 1 || *max > *crate::rfm::model::BINS.end() || min > max =>
                {
                    return Err(fail(RfmProblem::ScoreRange {
                        min: *min,
                        max: *max,
                    }));
                }
                RfmCondition::Value {
                    min: Some(lo),
                    max: Some(hi),
                    ..
                } if lo > hi => {
                    return Err(fail(RfmProblem::ValueRange { min: *lo, max: *hi }));
                }
                _ => {}
            }
        }
    }
    Ok(())
}
