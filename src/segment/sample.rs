//! Deterministic sample buckets: `mix64(key ^ seed) % 100`, with SplitMix64's finalizer,
//! so the same key lands in the same bucket in every system that spells the formula out
//! (the benchmark's SQL does, in wrapping `UInt64` arithmetic).
//!
//! ```
//! use audience::segment::{bucket_of, mix64};
//! assert_eq!(mix64(0), 0);
//! assert!(bucket_of(7, 2024) < 100);
//! ```

/// SplitMix64's finalizer.
pub const fn mix64(z: u64) -> u64 {
    let z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The bucket (0..100) of `key` under `seed`.
pub const fn bucket_of(key: u64, seed: u64) -> u64 {
    mix64(key ^ seed) % 100
}

/// The bucket of an optional key (`None`: a profile without the key kind, in no bucket).
pub(crate) fn bucket(key: Option<u64>, seed: u64) -> u64 {
    key.map_or(u64::MAX, |k| bucket_of(k, seed))
}

/// The key of an identifier value: a canonical decimal `u64` (no sign, no leading zero
/// unless it is `0`) is the number itself; any other value is its xxHash64 (seed 0) of the
/// UTF-8 bytes, as ClickHouse's `xxHash64` computes it.
pub fn key_of(value: &str) -> u64 {
    let canonical = !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_digit())
        && (value == "0" || !value.starts_with('0'));
    match value.parse::<u64>() {
        Ok(n) if canonical => n,
        _ => xxhash_rust::xxh64::xxh64(value.as_bytes(), 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_numbers_or_hashes() {
        assert_eq!(key_of("42"), 42);
        assert_eq!(key_of("0"), 0);
        assert_ne!(key_of("042"), 42);
        assert_ne!(key_of("+42"), 42);
        assert_ne!(key_of("18446744073709551616"), 0); // beyond u64: hashed
        // xxHash64 of "" with seed 0 (the reference value of the algorithm).
        assert_eq!(key_of(""), 0xEF46_DB37_51D8_E999);
    }

    #[test]
    fn buckets_follow_the_workload_formula() {
        // WORKLOAD.md: sample_bucket(p) = mix64(p ^ 2024) % 100.
        for p in 0..1000u64 {
            assert_eq!(bucket_of(p, 2024), mix64(p ^ 2024) % 100);
            assert!(bucket_of(p, 2024) < 100);
        }
        assert_eq!(bucket(None, 1), u64::MAX);
    }
}
