//! RFM: recency, frequency and monetary scores per profile, classic (purchases) and
//! engagement (opens and clicks), with trends between runs and named segments.
//!
//! A model is declared in the schema ([`RfmModelDef`]); the engine keeps each profile's
//! recency, frequency and monetary tallies current as events arrive and profiles merge, so
//! [`crate::Engine::score_rfm`] reads them in one pass, picks the cut points in linear
//! time and stores the run. Everything is integer: money in minor units, quantiles as
//! exact rationals ([`Quantile`]).
//!
//! ```
//! use audience::{Currency, Engine, EventInput, Money, Record, Schema, Timestamp};
//! use audience::rfm::Dimension;
//! let mut engine = Engine::new(Schema::retail_default());
//! let usd = Currency::new("USD")?;
//! let day = |d: i64| Timestamp::from_secs(1_700_000_000 + d * 86_400);
//! for (who, d, cents) in [("ann", 0, 1_500), ("ann", 3, 2_500), ("bob", 1, 900), ("cy", 2, 12_000)] {
//!     let order = EventInput::new("order_completed", day(d)?)
//!         .property("amount", Money::new(cents, usd));
//!     engine.ingest(&Record::builder(day(d)?, "web").identifier("user_id", who).event(order).build())?;
//! }
//! let run = engine.score_rfm("classic", day(4)?)?;
//! assert_eq!(run.len(), 3);
//! let ann = engine.find("user_id", "ann")?.expect("ann is known");
//! let score = engine.rfm_score("classic", ann)?.expect("ann bought");
//! assert_eq!((score.recency_days, score.frequency, score.monetary_minor), (1, 2, 4_000));
//! assert_eq!(score.score(Dimension::Frequency), 5);
//! assert_eq!(engine.rfm_label("classic", ann)?, Some("Champions"));
//! # Ok::<(), audience::Error>(())
//! ```

pub(crate) mod model;
pub(crate) mod quantile;
pub(crate) mod run;
pub(crate) mod score;
pub(crate) mod segments;
pub(crate) mod tally;
pub mod transactions;

pub use model::{ActivityDef, AmountDef, FixedBreaks, MAX_WEIGHT, RfmModelDef, Scoring};
pub use quantile::Quantile;
pub use run::{RfmRun, RfmScore, RfmTrend, ScoreTrend};
pub use score::RfmCuts;
pub use segments::{Dimension, Direction, RfmCondition, RfmSegmentDef};
