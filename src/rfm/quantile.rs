//! Exact quantiles: order statistics picked in linear time, and the type-7 quantile as a
//! rational number, so no score ever depends on floating point.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The type-7 quantile at `k / bins` of `n` sorted values `s`, exactly:
/// `below + (above − below) · numerator / denominator`, where `below = s[⌊h⌋]`,
/// `above = s[⌊h⌋ + 1]` (or `below` at the end) and `h = k·(n − 1) / bins`.
///
/// For fixed breaks, `below = above` is the break itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quantile {
    /// The order statistic at or below the quantile.
    pub below: i64,
    /// The next order statistic.
    pub above: i64,
    /// Numerator of the fraction of the way from `below` to `above` (`< denominator`).
    pub numerator: u64,
    /// Denominator of that fraction (the number of bins; 1 for an exact value).
    pub denominator: u64,
}

impl Quantile {
    /// An exact value.
    pub fn exact(value: i64) -> Self {
        Quantile {
            below: value,
            above: value,
            numerator: 0,
            denominator: 1,
        }
    }

    /// Whether the quantile is an integer.
    pub fn is_integer(&self) -> bool {
        self.numerator == 0 || self.below == self.above
    }

    /// The quantile as a float, for display only: scores never use it.
    #[allow(clippy::cast_precision_loss)]
    pub fn to_f64(&self) -> f64 {
        let span = i128::from(self.above) - i128::from(self.below);
        self.below as f64 + span as f64 * self.numerator as f64 / self.denominator.max(1) as f64
    }

    /// The order statistic the `threshold` convention compares with: `below` for
    /// "value > Q" (frequency, monetary), and for "value < Q" (recency) `above` when the
    /// quantile lies strictly between the two. No data value lies strictly between them,
    /// so comparing with this integer is exact.
    pub fn threshold_bound(&self, lower_is_better: bool) -> i64 {
        if lower_is_better && self.numerator != 0 {
            self.above
        } else {
            self.below
        }
    }

    /// `x − q` compared with zero, exactly, after shifting the quantile by `offset`:
    /// the sign of `x − (q + offset)`.
    pub(crate) fn cmp_shifted(&self, x: i64, offset: i64) -> std::cmp::Ordering {
        let den = i128::from(self.denominator.max(1));
        let lhs = (i128::from(x) - i128::from(self.below) - i128::from(offset)) * den;
        let rhs = (i128::from(self.above) - i128::from(self.below)) * i128::from(self.numerator);
        lhs.cmp(&rhs)
    }
}

impl fmt::Display for Quantile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_integer() {
            write!(f, "{}", self.below)
        } else {
            write!(f, "{}", self.to_f64())
        }
    }
}

/// Positions into the sorted values that a run needs, for `bins` bins over `n` values:
/// for each `k = 1..bins`, `⌊k(n−1)/bins⌋` and the next one (clamped to `n − 1`).
pub(crate) fn cut_ranks(n: usize, bins: u8) -> Vec<usize> {
    let b = usize::from(bins);
    let mut ranks = Vec::with_capacity(2 * b);
    if n == 0 {
        return ranks;
    }
    for k in 1..b {
        let lo = k * (n - 1) / b;
        ranks.push(lo);
        ranks.push((lo + 1).min(n - 1));
    }
    ranks.sort_unstable();
    ranks.dedup();
    ranks
}

/// The type-7 quantiles at `k / bins`, `k = 1..bins`, from the order statistics `stats`
/// at `ranks` (as given by [`cut_ranks`]).
pub(crate) fn quantiles(n: usize, bins: u8, ranks: &[usize], stats: &[i64]) -> Vec<Quantile> {
    let b = usize::from(bins);
    let at = |r: usize| {
        ranks
            .binary_search(&r)
            .ok()
            .and_then(|i| stats.get(i))
            .copied()
            .unwrap_or_default()
    };
    if n == 0 {
        return Vec::new();
    }
    (1..b)
        .map(|k| {
            let h = k * (n - 1);
            let lo = h / b;
            Quantile {
                below: at(lo),
                above: at((lo + 1).min(n - 1)),
                numerator: (h % b) as u64,
                denominator: b as u64,
            }
        })
        .collect()
}

/// Below this many values, sorting a copy is as fast as anything cleverer.
const SMALL: usize = 4096;
/// Most buckets: 16,384 (a 64 KiB histogram, which stays in cache).
const BUCKET_BITS: u32 = 14;

/// Values grouped by the top bits of `value − min`, in at most 2^14 buckets of equal
/// width; a bucket holds a contiguous range of values.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Buckets {
    min: i64,
    max: i64,
    shift: u32,
}

impl Buckets {
    /// Buckets spanning `values` (`None` when empty).
    #[cfg(test)]
    pub(crate) fn over(values: &[i64]) -> Option<Self> {
        let first = *values.first()?;
        let (min, max) = values
            .iter()
            .fold((first, first), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        Some(Self::spanning(min, max))
    }

    /// Buckets spanning `min..=max`.
    pub(crate) fn spanning(min: i64, max: i64) -> Self {
        let (min, max) = (min.min(max), max.max(min));
        let span = max.abs_diff(min);
        let shift = (u64::BITS - span.leading_zeros()).saturating_sub(BUCKET_BITS);
        Buckets { min, max, shift }
    }

    /// The number of buckets.
    pub(crate) fn len(&self) -> usize {
        (self.max.abs_diff(self.min) >> self.shift) as usize + 1
    }

    /// The bucket of `v` (which lies within the span).
    pub(crate) fn of(&self, v: i64) -> usize {
        (v.abs_diff(self.min) >> self.shift) as usize
    }

    /// The least and greatest value bucket `b` can hold.
    pub(crate) fn range(&self, b: usize) -> (i64, i64) {
        let lo = self.min.saturating_add_unsigned((b as u64) << self.shift);
        let hi = lo
            .saturating_add_unsigned((1u64 << self.shift) - 1)
            .min(self.max);
        (lo, hi)
    }

    /// Whether every bucket holds exactly one value.
    fn exact(&self) -> bool {
        self.shift == 0
    }
}

/// The values at sorted positions `ranks` (ascending, each `< values.len()`), in linear
/// time: a histogram over `buckets` finds each rank's bucket, and only those buckets are
/// sorted.
pub(crate) fn order_statistics(values: &[i64], ranks: &[usize], buckets: Buckets) -> Vec<i64> {
    if values.len() <= SMALL {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        return ranks
            .iter()
            .filter_map(|&r| sorted.get(r).copied())
            .collect();
    }
    let mut counts = vec![0u32; buckets.len()];
    for &v in values {
        if let Some(c) = counts.get_mut(buckets.of(v)) {
            *c += 1;
        }
    }
    // For each rank: its bucket and its position within the bucket.
    let mut wanted: Vec<(usize, usize)> = Vec::with_capacity(ranks.len());
    let (mut b, mut before) = (0usize, 0usize);
    for &r in ranks {
        while let Some(&c) = counts.get(b) {
            if before + c as usize > r {
                break;
            }
            before += c as usize;
            b += 1;
        }
        wanted.push((b, r - before));
    }
    if buckets.exact() {
        return wanted.iter().map(|&(b, _)| buckets.range(b).0).collect();
    }
    let mut chosen: Vec<usize> = wanted.iter().map(|&(b, _)| b).collect();
    chosen.dedup();
    let mut members: Vec<Vec<i64>> = chosen
        .iter()
        .map(|&b| Vec::with_capacity(counts.get(b).map_or(0, |&c| c as usize)))
        .collect();
    for &v in values {
        if let Ok(i) = chosen.binary_search(&buckets.of(v))
            && let Some(m) = members.get_mut(i)
        {
            m.push(v);
        }
    }
    for m in &mut members {
        m.sort_unstable();
    }
    wanted
        .iter()
        .filter_map(|&(b, offset)| {
            let i = chosen.binary_search(&b).ok()?;
            members.get(i)?.get(offset).copied()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cut_ranks_of_the_worked_example() {
        // n = 7, 5 bins: h = 1.2, 2.4, 3.6, 4.8.
        assert_eq!(cut_ranks(7, 5), vec![1, 2, 3, 4, 5]);
        assert!(cut_ranks(0, 5).is_empty());
        assert_eq!(cut_ranks(1, 5), vec![0]);
    }

    #[test]
    fn quantiles_are_exact_type_7() {
        let s = [1, 2, 2, 5, 8, 8, 10];
        let ranks = cut_ranks(7, 5);
        let stats: Vec<i64> = ranks.iter().map(|&r| s[r]).collect();
        let q = quantiles(7, 5, &ranks, &stats);
        let floats: Vec<f64> = q.iter().map(Quantile::to_f64).collect();
        // numpy.quantile([1,2,2,5,8,8,10], [.2,.4,.6,.8]) = 2.0, 3.2, 6.8, 8.0
        assert_eq!(floats.len(), 4);
        for (got, want) in floats.iter().zip([2.0, 3.2, 6.8, 8.0]) {
            assert!((got - want).abs() < 1e-9, "{got} != {want}");
        }
        assert_eq!(q[0].to_string(), "2");
        assert!(!q[1].is_integer());
    }

    #[test]
    fn shifted_comparison_is_exact() {
        // Q = 15.36 + 0.99 … in cents: below 1536, above 1699, 3/5 of the way.
        let q = Quantile {
            below: 1536,
            above: 1699,
            numerator: 3,
            denominator: 5,
        };
        // q = 1633.8; q + 100 = 1733.8
        assert_eq!(q.cmp_shifted(1733, 100), std::cmp::Ordering::Less);
        assert_eq!(q.cmp_shifted(1734, 100), std::cmp::Ordering::Greater);
        assert_eq!(
            Quantile::exact(7).cmp_shifted(8, 1),
            std::cmp::Ordering::Equal
        );
    }

    #[test]
    fn order_statistics_on_wide_and_skewed_values() {
        let mut values: Vec<i64> = (0..10_000).map(|i| (i * 7919) % 10_007).collect();
        values.push(i64::MIN);
        values.push(i64::MAX);
        values.extend(std::iter::repeat_n(42, 5000));
        let mut sorted = values.clone();
        sorted.sort_unstable();
        let ranks = [0, 1, 5000, 9000, 15_001];
        let want: Vec<i64> = ranks.iter().map(|&r| sorted[r]).collect();
        let buckets = Buckets::over(&values).unwrap();
        assert_eq!(order_statistics(&values, &ranks, buckets), want);
    }

    proptest! {
        #[test]
        fn order_statistics_equal_sorting(
            values in prop::collection::vec(prop_oneof![0i64..50, any::<i64>(), -1000i64..1000], 1..6000),
            picks in prop::collection::vec(any::<prop::sample::Index>(), 1..10),
        ) {
            let mut ranks: Vec<usize> = picks.iter().map(|i| i.index(values.len())).collect();
            ranks.sort_unstable();
            ranks.dedup();
            let mut sorted = values.clone();
            sorted.sort_unstable();
            let want: Vec<i64> = ranks.iter().map(|&r| sorted[r]).collect();
            let buckets = Buckets::over(&values).unwrap();
            prop_assert_eq!(order_statistics(&values, &ranks, buckets), want);
        }
    }
}
