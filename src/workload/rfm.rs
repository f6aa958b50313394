//! RFM on the segment workload (`shared/bench/RFM.md`): the classic model over the
//! workload's orders, scored at the day after "now", and the checks its oracle lists.
//!
//! ```
//! use audience::Engine;
//! use audience::workload::{rfm, segments};
//! let mut engine = Engine::new(segments::schema());
//! for p in segments::generate(42, 1_000) {
//!     segments::ingest(&mut engine, &p)?;
//! }
//! let checks = rfm::RfmChecks::score(&mut engine)?;
//! assert_eq!(checks.n_scored, 696);
//! # Ok::<(), audience::Error>(())
//! ```

use crate::Engine;
use crate::error::LookupError;
use crate::rfm::Dimension;
use crate::workload::segments::{NOW_DAY, day_time};

/// The model's name in the workload schema.
pub const MODEL: &str = "classic";
/// The reference day: the day after "now" (731).
pub const REFERENCE_DAY: u16 = NOW_DAY + 1;

/// What `shared/bench/expected_rfm_*.json` records about a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RfmChecks {
    /// Profiles with at least one order.
    pub n_scored: usize,
    /// Σ recency_days.
    pub sum_recency_days: i64,
    /// Σ frequency.
    pub sum_frequency: i64,
    /// Σ monetary_minor.
    pub sum_monetary_minor: i64,
    /// The values compared with, per dimension (R, F, M): `s[⌈k(n−1)/5⌉]` for recency,
    /// `s[⌊k(n−1)/5⌋]` for frequency and monetary.
    pub cut_points: [Vec<i64>; 3],
    /// Profiles per score 1..=5, per dimension (R, F, M).
    pub histograms: [Vec<usize>; 3],
    /// Σ profile_id · (100r + 10f + m), wrapping at 2^64.
    pub checksum: u64,
    /// Profiles per standard segment, in the oracle's order.
    pub segments: Vec<(String, usize)>,
}

impl RfmChecks {
    /// Scores the workload's classic model at [`REFERENCE_DAY`] and reads the checks.
    ///
    /// # Errors
    /// [`LookupError::UnknownRfmModel`] when the engine's schema has no `classic` model.
    pub fn score(engine: &mut Engine) -> Result<Self, LookupError> {
        engine.score_rfm(MODEL, day_time(REFERENCE_DAY))?;
        Self::read(engine)
    }

    /// Reads the checks off the engine's latest `classic` run (empty when never scored).
    ///
    /// # Errors
    /// [`LookupError::UnknownRfmModel`] when the engine's schema has no `classic` model.
    pub fn read(engine: &Engine) -> Result<Self, LookupError> {
        let mut checks = RfmChecks {
            n_scored: 0,
            sum_recency_days: 0,
            sum_frequency: 0,
            sum_monetary_minor: 0,
            cut_points: Default::default(),
            histograms: Default::default(),
            checksum: 0,
            segments: Vec::new(),
        };
        let Some(run) = engine.rfm_run(MODEL)? else {
            return Ok(checks);
        };
        checks.n_scored = run.len();
        for s in run.iter() {
            checks.sum_recency_days += s.recency_days;
            checks.sum_frequency += s.frequency;
            checks.sum_monetary_minor += s.monetary_minor;
            let code = 100 * u64::from(s.r) + 10 * u64::from(s.f) + u64::from(s.m);
            checks.checksum = checks
                .checksum
                .wrapping_add(u64::from(s.profile.0).wrapping_mul(code));
        }
        for (d, dimension) in Dimension::ALL.into_iter().enumerate() {
            let lower_is_better = dimension == Dimension::Recency;
            if let Some(slot) = checks.cut_points.get_mut(d) {
                *slot = run
                    .cuts()
                    .of(dimension)
                    .iter()
                    .map(|q| q.threshold_bound(lower_is_better))
                    .collect();
            }
            if let Some(slot) = checks.histograms.get_mut(d) {
                *slot = run.histogram(dimension);
            }
        }
        checks.segments = engine.rfm_segment_sizes(MODEL)?;
        Ok(checks)
    }

    fn expected(
        sums: (usize, i64, i64, i64),
        cut_points: [[i64; 4]; 3],
        histograms: [[usize; 5]; 3],
        checksum: u64,
        segments: [usize; 10],
    ) -> Self {
        RfmChecks {
            n_scored: sums.0,
            sum_recency_days: sums.1,
            sum_frequency: sums.2,
            sum_monetary_minor: sums.3,
            cut_points: cut_points.map(|c| c.to_vec()),
            histograms: histograms.map(|h| h.to_vec()),
            checksum,
            segments: SEGMENT_ORDER
                .iter()
                .zip(segments)
                .map(|(name, n)| ((*name).to_string(), n))
                .collect(),
        }
    }

    /// `expected_rfm_10k.json` (N = 10,000, seed 42).
    pub fn expected_10k() -> Self {
        Self::expected(
            (6725, 786_269, 14_026, 462_556_239),
            [
                [16, 45, 98, 200],
                [1, 1, 2, 3],
                [13_716, 42_572, 73_516, 108_756],
            ],
            [
                [1349, 1347, 1363, 1335, 1331],
                [2784, 0, 1928, 1122, 891],
                [1347, 1343, 1345, 1345, 1345],
            ],
            11_004_314_247,
            [643, 1036, 798, 296, 348, 454, 454, 924, 86, 1686],
        )
    }

    /// `expected_rfm_1m.json` (N = 1,000,000, seed 42).
    pub fn expected_1m() -> Self {
        Self::expected(
            (669_150, 79_161_558, 1_398_326, 46_730_933_055),
            [
                [16, 46, 97, 203],
                [1, 1, 2, 3],
                [15_232, 43_396, 74_922, 111_704],
            ],
            [
                [134_010, 135_321, 132_490, 137_580, 129_749],
                [275_912, 0, 193_120, 112_429, 87_689],
                [133_940, 133_762, 133_881, 133_737, 133_830],
            ],
            109_720_359_438_107,
            [
                64_422, 101_984, 79_783, 28_261, 36_471, 43_554, 45_344, 94_106, 9_389, 165_836,
            ],
        )
    }
}

/// The standard segments in schema order.
const SEGMENT_ORDER: [&str; 10] = [
    "Champions",
    "Loyal",
    "Potential Loyalists",
    "New Customers",
    "Promising",
    "Need Attention",
    "About to Sleep",
    "At Risk",
    "Can't Lose",
    "Hibernating",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProfileId;
    use crate::workload::segments::{generate, ingest, schema};

    #[test]
    fn ten_thousand_profiles_match_the_oracle() {
        let mut engine = Engine::new(schema());
        for p in generate(42, 10_000) {
            ingest(&mut engine, &p).unwrap();
        }
        assert_eq!(
            RfmChecks::score(&mut engine).unwrap(),
            RfmChecks::expected_10k()
        );
        // The golden rows of RFM.md.
        let golden = [
            (0, 120, 4, 102_568, [2, 5, 4], "Can't Lose"),
            (1, 32, 6, 239_233, [4, 5, 5], "Loyal"),
            (2, 64, 2, 53_084, [3, 3, 3], "Need Attention"),
            (3, 17, 3, 27_522, [4, 4, 2], "Loyal"),
            (6, 145, 1, 83_456, [2, 1, 4], "Hibernating"),
        ];
        let run = engine.rfm_run(MODEL).unwrap().unwrap();
        let first: Vec<_> = run.iter().take(5).collect();
        for (s, (p, r, f, m, scores, label)) in first.iter().zip(golden) {
            assert_eq!(s.profile, ProfileId(p));
            assert_eq!((s.recency_days, s.frequency, s.monetary_minor), (r, f, m));
            assert_eq!([s.r, s.f, s.m], scores);
            assert_eq!(engine.rfm_label(MODEL, s.profile).unwrap(), Some(label));
        }
    }
}
