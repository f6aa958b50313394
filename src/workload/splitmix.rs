//! SplitMix64, exactly as `WORKLOAD.md` §1 defines it.

/// The SplitMix64 increment.
pub const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

pub use crate::segment::mix64;

/// A SplitMix64 generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplitMix64 {
    /// The generator's state.
    pub state: u64,
}

impl SplitMix64 {
    /// A generator with the given state.
    pub const fn new(state: u64) -> Self {
        SplitMix64 { state }
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        mix64(self.state)
    }

    /// The `i`-th value (0-based) of a generator created with state `s`, without stepping.
    pub const fn nth(s: u64, i: u64) -> u64 {
        mix64(s.wrapping_add(i.wrapping_add(1).wrapping_mul(GAMMA)))
    }
}

/// The index of the first entry whose cumulative weight exceeds `r` (`WORKLOAD.md` §3).
pub fn pick(weights: &[u64], r: u64) -> usize {
    let mut acc = 0u64;
    for (i, w) in weights.iter().enumerate() {
        acc = acc.saturating_add(*w);
        if acc > r {
            return i;
        }
    }
    weights.len().saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values_of_workload_md() {
        assert_eq!(mix64(42), 0xA759_EA27_D472_7622);
        let mut rng = SplitMix64::new(mix64(mix64(42)));
        assert_eq!(rng.state, 0x97EA_87F7_E45C_00A5);
        assert_eq!(rng.next_u64(), 0x9D59_1BB7_266B_13F3);
        assert_eq!(rng.next_u64(), 0x733A_550E_28BD_9590);
        assert_eq!(rng.next_u64(), 0x34D6_1DBD_015A_27D8);
        assert_eq!(
            SplitMix64::nth(0x97EA_87F7_E45C_00A5, 2),
            0x34D6_1DBD_015A_27D8
        );
    }

    #[test]
    fn pick_follows_cumulative_weights() {
        let country = [32, 10, 9];
        assert_eq!(pick(&country, 0), 0);
        assert_eq!(pick(&country, 31), 0);
        assert_eq!(pick(&country, 41), 1);
        assert_eq!(pick(&[0, 5], 0), 1, "weight 0 is never picked");
    }
}
