//! Scoring the values of one run: each convention of [`Scoring`], in integer arithmetic.

use std::cmp::Ordering;

use serde::Serialize;

use crate::rfm::model::{FixedBreaks, Scoring};
use crate::rfm::quantile::{Buckets, Quantile, cut_ranks, order_statistics, quantiles};
use crate::rfm::segments::Dimension;

/// The cut points of one run per dimension, so an analyst can see why a profile got its
/// score: the type-7 quantiles at `k / bins` for the quantile conventions (what each
/// convention compares with is documented on [`Scoring`]), the host's breaks for
/// [`Scoring::Fixed`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RfmCuts {
    /// Recency cut points, in days.
    pub recency_days: Vec<Quantile>,
    /// Frequency cut points.
    pub frequency: Vec<Quantile>,
    /// Monetary cut points, in minor units.
    pub monetary_minor: Vec<Quantile>,
}

impl RfmCuts {
    /// The cut points of `dimension`.
    pub fn of(&self, dimension: Dimension) -> &[Quantile] {
        match dimension {
            Dimension::Recency => &self.recency_days,
            Dimension::Frequency => &self.frequency,
            Dimension::Monetary => &self.monetary_minor,
        }
    }
}

/// The values of one dimension of a run, in ascending profile order, with their least and
/// greatest (`None` when there are none).
pub(crate) type Column<'a> = (&'a [i64], Option<(i64, i64)>);

/// Scores every profile of a run into `out` (R, F, M columns, reusing their buffers) from
/// the value columns (R, F, M), and returns the cut points. `money_unit` is one major unit
/// in minor units (the `rpkg` offset for monetary).
pub(crate) fn score(
    values: [Column<'_>; 3],
    bins: u8,
    scoring: &Scoring,
    money_unit: i64,
    out: &mut [Vec<u8>; 3],
) -> RfmCuts {
    let mut cuts: [Vec<Quantile>; 3] = Default::default();
    let units = [1, 1, money_unit];
    for (d, (((values, range), column), cut_slot)) in values
        .into_iter()
        .zip(out.iter_mut())
        .zip(&mut cuts)
        .enumerate()
    {
        let n = values.len();
        let higher_is_better = d != 0;
        let unit = units.get(d).copied().unwrap_or(1);
        column.clear();
        let Some(buckets) = range.map(|(lo, hi)| Buckets::spanning(lo, hi)) else {
            if let Scoring::Fixed(breaks) = scoring {
                *cut_slot = fixed_cuts(breaks, d);
            }
            continue;
        };
        let cut = match scoring {
            Scoring::Fixed(breaks) => fixed_cuts(breaks, d),
            _ => {
                let ranks = cut_ranks(n, bins);
                let stats = order_statistics(values, &ranks, buckets);
                quantiles(n, bins, &ranks, &stats)
            }
        };
        match scoring {
            Scoring::Threshold => {
                by_buckets(values, buckets, &threshold(&cut, higher_is_better), column);
            }
            Scoring::Rank => rank(values, bins, higher_is_better, column),
            Scoring::Rpkg => {
                by_buckets(
                    values,
                    buckets,
                    &rpkg(&cut, bins, higher_is_better, unit),
                    column,
                );
            }
            Scoring::Fixed(_) => {
                by_buckets(
                    values,
                    buckets,
                    &fixed(&cut, bins, higher_is_better),
                    column,
                );
            }
        }
        *cut_slot = cut;
    }
    let [recency_days, frequency, monetary_minor] = cuts;
    RfmCuts {
        recency_days,
        frequency,
        monetary_minor,
    }
}

fn fixed_cuts(breaks: &FixedBreaks, dimension: usize) -> Vec<Quantile> {
    let values = match dimension {
        0 => &breaks.recency_days,
        1 => &breaks.frequency,
        _ => &breaks.monetary_minor,
    };
    values.iter().map(|&v| Quantile::exact(v)).collect()
}

fn as_score(count: usize) -> u8 {
    u8::try_from(count).unwrap_or(u8::MAX)
}

/// Scores `values` with a score that never falls (or never rises) as the value grows:
/// each bucket whose least and greatest values score the same scores all its values so,
/// and only values in the few buckets that straddle a cut point are scored one by one.
fn by_buckets(values: &[i64], buckets: Buckets, score: &dyn Fn(i64) -> u8, out: &mut Vec<u8>) {
    const STRADDLES: u8 = 0;
    let table: Vec<u8> = (0..buckets.len())
        .map(|b| {
            let (lo, hi) = buckets.range(b);
            let s = score(lo);
            if s == score(hi) { s } else { STRADDLES }
        })
        .collect();
    out.extend(values.iter().map(|&x| match table.get(buckets.of(x)) {
        Some(&s) if s != STRADDLES => s,
        _ => score(x),
    }));
}

/// `1 + #{k : x > Q_k}` (or `x < Q_k` where lower is better): ties share a bin.
fn threshold(cut: &[Quantile], higher_is_better: bool) -> impl Fn(i64) -> u8 {
    let bounds: Vec<i64> = cut
        .iter()
        .map(|q| q.threshold_bound(!higher_is_better))
        .collect();
    move |x| {
        if higher_is_better {
            1 + count(&bounds, |b| x > b)
        } else {
            1 + count(&bounds, |b| x < b)
        }
    }
}

/// How many bounds pass `test`, as a score increment (there are at most 9).
fn count(bounds: &[i64], test: impl Fn(i64) -> bool) -> u8 {
    bounds.iter().map(|&b| u8::from(test(b))).sum()
}

/// Equal-count bins on ranks; ties broken by position (ascending profile id).
fn rank(values: &[i64], bins: u8, higher_is_better: bool, out: &mut Vec<u8>) {
    let n = values.len();
    let mut order: Vec<(i64, u32)> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            // Negating i64::MIN would overflow; saturating keeps the order of all others.
            let key = if higher_is_better {
                v
            } else {
                v.saturating_neg()
            };
            (key, u32::try_from(i).unwrap_or(u32::MAX))
        })
        .collect();
    order.sort_unstable();
    out.resize(n, 1);
    let b = u64::from(bins);
    let span = (n as u64).saturating_sub(1);
    for (rank0, &(_, i)) in order.iter().enumerate() {
        let score = if span == 0 {
            1
        } else {
            (b * rank0 as u64).div_ceil(span).max(1)
        };
        if let Some(slot) = out.get_mut(i as usize) {
            *slot = u8::try_from(score).unwrap_or(u8::MAX);
        }
    }
}

/// Left-closed bins at `Q_k + unit`: `1 + #{k : x ≥ Q_k + unit}`, or for recency
/// `bins − #{k : d ≥ Q_k + 1}`.
fn rpkg(cut: &[Quantile], bins: u8, higher_is_better: bool, unit: i64) -> impl Fn(i64) -> u8 {
    move |x| {
        let at_or_above = cut
            .iter()
            .filter(|q| q.cmp_shifted(x, unit) != Ordering::Less)
            .count();
        if higher_is_better {
            as_score(1 + at_or_above)
        } else {
            bins.saturating_sub(as_score(at_or_above))
        }
    }
}

/// Host breaks: `1 + #{k : x ≥ b_k}`, or for recency `bins − #{k : d > b_k}`.
fn fixed(cut: &[Quantile], bins: u8, higher_is_better: bool) -> impl Fn(i64) -> u8 {
    let bounds: Vec<i64> = cut.iter().map(|q| q.below).collect();
    move |x| {
        if higher_is_better {
            1 + count(&bounds, |b| x >= b)
        } else {
            bins.saturating_sub(count(&bounds, |b| x > b))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(r: &[i64], f: &[i64], m: &[i64], scoring: &Scoring) -> Vec<[u8; 3]> {
        let mut out: [Vec<u8>; 3] = Default::default();
        let range = |v: &[i64]| Some((*v.iter().min()?, *v.iter().max()?));
        let columns = [(r, range(r)), (f, range(f)), (m, range(m))];
        score(columns, 5, scoring, 100, &mut out);
        let [rs, fs, ms] = out;
        rs.into_iter()
            .zip(fs)
            .zip(ms)
            .map(|((r, f), m)| [r, f, m])
            .collect()
    }

    #[test]
    fn threshold_worked_example() {
        // tests/data/cdnow/README.md step 7.
        let f = [1, 1, 1, 2, 3, 5, 9];
        let r = [1, 2, 2, 5, 8, 8, 10];
        let scores = run(&r, &f, &f, &Scoring::Threshold);
        let fs: Vec<u8> = scores.iter().map(|s| s[1]).collect();
        let rs: Vec<u8> = scores.iter().map(|s| s[0]).collect();
        assert_eq!(fs, [1, 1, 1, 3, 4, 5, 5]);
        assert_eq!(rs, [5, 4, 4, 3, 1, 1, 1]);
    }

    #[test]
    fn rank_worked_example() {
        let v = [3, 3, 3, 3, 3, 3, 3];
        let scores = run(&v, &v, &v, &Scoring::Rank);
        let fs: Vec<u8> = scores.iter().map(|s| s[1]).collect();
        assert_eq!(fs, [1, 1, 2, 3, 4, 5, 5]);
        // Recency ranks on −recency: among ties the lower position ranks lower.
        let rs: Vec<u8> = scores.iter().map(|s| s[0]).collect();
        assert_eq!(rs, [1, 1, 2, 3, 4, 5, 5]);
    }

    #[test]
    fn zero_and_one_profile() {
        assert!(run(&[], &[], &[], &Scoring::Threshold).is_empty());
        for scoring in [Scoring::Threshold, Scoring::Rank] {
            assert_eq!(run(&[4], &[2], &[900], &scoring), vec![[1, 1, 1]]);
        }
        // rpkg: recency scores downward from `bins`.
        assert_eq!(run(&[4], &[2], &[900], &Scoring::Rpkg), vec![[5, 1, 1]]);
    }

    #[test]
    fn rpkg_offsets_by_one_unit() {
        // Values 0..=99 (cents): Q_1 = 19.8, so m ≥ 119.8 is needed for score 2.
        let m: Vec<i64> = (0..100).collect();
        let f = vec![1; 100];
        let scores = run(&f, &f, &m, &Scoring::Rpkg);
        assert!(scores.iter().all(|s| s[2] == 1));
    }

    #[test]
    fn fixed_breaks() {
        let breaks = FixedBreaks {
            recency_days: vec![30, 90, 180, 365],
            frequency: vec![2, 3, 5, 10],
            monetary_minor: vec![1000, 5000, 10_000, 50_000],
        };
        let scores = run(
            &[30, 31, 400],
            &[1, 10, 4],
            &[999, 1000, 50_000],
            &Scoring::Fixed(breaks),
        );
        assert_eq!(scores, vec![[5, 1, 1], [4, 5, 2], [1, 3, 5]]);
    }
}
