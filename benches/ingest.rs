//! Identity resolution on both variants of `shared/bench/IDENTITY.md` at full size
//! (300,000 persons, 1,000,000 records), asserting the oracle before timing.
//!
//! `cargo bench --bench ingest`; compare in one run with
//! `python3 ../shared/bench/identity_bench.py [--variant merge_heavy]`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

use audience::workload::identity::{IdentityChecks, IdentityParams, Variant, generate};
use audience::{Engine, Record, Schema};

fn records(variant: Variant) -> Vec<Record> {
    generate(&IdentityParams::full(variant))
        .iter()
        .enumerate()
        .map(|(i, r)| r.to_record(i as u64))
        .collect()
}

fn ingest_all(records: &[Record]) -> Engine {
    let mut engine = Engine::new(Schema::retail_default());
    for r in records {
        engine.ingest(r).unwrap();
    }
    engine
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("identity/ingest");
    group.sample_size(10);
    for (variant, expected) in [
        (Variant::Default, (289_351, 127_107_257_122_215_345)),
        (Variant::MergeHeavy, (183_879, 81_480_942_825_876_444)),
    ] {
        let input = records(variant);
        let checks = IdentityChecks::from_engine(&ingest_all(&input), input.len() as u64);
        assert_eq!((checks.n_profiles, checks.label_checksum), expected);
        group.throughput(Throughput::Elements(input.len() as u64));
        group.bench_function(variant.name(), |b| {
            b.iter_batched(|| (), |()| ingest_all(&input), BatchSize::PerIteration)
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
