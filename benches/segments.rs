//! Q1–Q10 of `shared/bench/WORKLOAD.md` at 1,000,000 profiles (`SEGMENTS_BENCH_PROFILES`
//! to change), each compiled once and evaluated per iteration; the counts are asserted
//! before timing. Q8–Q10 read the named segments Q3, Q4, Q6 and Q7 from the cache.
//!
//! `cargo bench --bench segments`; a JSON line comes from
//! `cargo run --release --example workload`.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use criterion::{Criterion, criterion_group, criterion_main};

use audience::Engine;
use audience::workload::segments::{
    NOW_DAY, QUERY_COUNTS_1M, QUERY_COUNTS_10K, day_time, generate, ingest, queries,
    register_queries, schema,
};

fn bench(c: &mut Criterion) {
    let profiles = std::env::var("SEGMENTS_BENCH_PROFILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000u32);
    let mut engine = Engine::new(schema());
    engine.advance_time(day_time(NOW_DAY)).unwrap();
    for p in generate(42, profiles) {
        ingest(&mut engine, &p).unwrap();
    }
    register_queries(&mut engine).unwrap();
    let expected = match profiles {
        1_000_000 => Some(QUERY_COUNTS_1M),
        10_000 => Some(QUERY_COUNTS_10K),
        _ => None,
    };
    let mut group = c.benchmark_group("segments/count");
    group.sample_size(10);
    for (i, (name, expr)) in queries().into_iter().enumerate() {
        let plan = engine.compile(&expr).unwrap();
        let count = engine.count(&plan).unwrap();
        if let Some(want) = expected {
            assert_eq!(count, want[i], "{name}");
        }
        group.bench_function(format!("{name}_{profiles}"), |b| {
            b.iter(|| engine.count(&plan).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
