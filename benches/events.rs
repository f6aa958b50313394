//! Ingest of the `shared/bench/WORKLOAD.md` events (1,000,000 profiles, 19,993,320 events)
//! with its eight computed traits kept current, the clock set to the workload's "now".
//!
//! `cargo bench --bench events`; bytes per event and a JSON line come from
//! `cargo run --release --example events_workload`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

use audience::workload::segments::{NOW_DAY, day_time, generate, schema};
use audience::{Engine, Record};

fn ingest_all(records: &[Record]) -> Engine {
    let mut engine = Engine::new(schema());
    engine.advance_time(day_time(NOW_DAY)).unwrap();
    for r in records {
        engine.ingest(r).unwrap();
    }
    engine
}

fn bench(c: &mut Criterion) {
    let profiles = std::env::var("EVENTS_BENCH_PROFILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000u32);
    let mut events = 0u64;
    let records: Vec<Record> = generate(42, profiles)
        .map(|p| {
            events += p.events.len() as u64;
            p.to_record()
        })
        .collect();
    if profiles == 1_000_000 {
        assert_eq!(events, 19_993_320);
    }
    let mut group = c.benchmark_group("events/ingest");
    group.sample_size(10);
    group.throughput(Throughput::Elements(events));
    group.bench_function(format!("{profiles}_profiles_8_computed"), |b| {
        b.iter_batched(|| (), |()| ingest_all(&records), BatchSize::PerIteration)
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
