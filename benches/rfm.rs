//! `score_rfm` on the `shared/bench/RFM.md` workload: 1,000,000 profiles whose events are
//! already ingested, the classic model scored at the day after "now" until every score is
//! stored. The oracle of `expected_rfm_1m.json` is asserted before timing.
//!
//! `cargo bench --bench rfm`; peer: `python3 ../shared/bench/rfm_bench.py`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use audience::Engine;
use audience::workload::rfm::{MODEL, REFERENCE_DAY, RfmChecks};
use audience::workload::segments::{day_time, generate, ingest, schema};

fn bench(c: &mut Criterion) {
    let profiles = std::env::var("RFM_BENCH_PROFILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000u32);
    let mut engine = Engine::new(schema());
    for p in generate(42, profiles) {
        ingest(&mut engine, &p).unwrap();
    }
    let checks = RfmChecks::score(&mut engine).unwrap();
    match profiles {
        1_000_000 => assert_eq!(checks, RfmChecks::expected_1m()),
        10_000 => assert_eq!(checks, RfmChecks::expected_10k()),
        _ => {}
    }
    let reference = day_time(REFERENCE_DAY);
    let mut group = c.benchmark_group("rfm/score");
    group.sample_size(20);
    group.throughput(Throughput::Elements(u64::from(profiles)));
    group.bench_function(format!("{profiles}_profiles_threshold"), |b| {
        b.iter(|| engine.score_rfm(MODEL, reference).unwrap().len())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
