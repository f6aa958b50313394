//! The full-size identity oracle of `shared/bench/expected_identity.json` (slow: run with
//! `cargo test --release -- --ignored`). The `small` members run as unit tests.

use audience::workload::identity::{IdentityChecks, IdentityParams, Variant, generate};

use crate::common::retail;

fn check(variant: Variant, expected: IdentityChecks, merges: usize) {
    let params = IdentityParams::full(variant);
    let mut e = retail();
    for (i, r) in generate(&params).iter().enumerate() {
        e.ingest(&r.to_record(i as u64)).unwrap();
    }
    assert_eq!(IdentityChecks::from_engine(&e, params.records), expected);
    assert_eq!(e.merge_count(), merges);
}

#[test]
#[ignore = "full size: about 5 s in release"]
fn identity_default_full_size() {
    check(
        Variant::Default,
        IdentityChecks {
            n_profiles: 289_351,
            sum_min_record_index: 76_036_707_394,
            label_checksum: 127_107_257_122_215_345,
        },
        0,
    );
}

#[test]
#[ignore = "full size: about 5 s in release"]
fn identity_merge_heavy_full_size() {
    check(
        Variant::MergeHeavy,
        IdentityChecks {
            n_profiles: 183_879,
            sum_min_record_index: 42_884_680_597,
            label_checksum: 81_480_942_825_876_444,
        },
        257_390,
    );
}
