//! Retroactive blocking at 1,000,000 profiles of the segments workload with the 100
//! segments of the real-time workload registered (`REPAIR_BENCH_PROFILES` to change):
//! a shared test address fused 1,000 people with 20 events each (999 merges); blocking
//! it splits them back. The target is under 50 ms.
//!
//! `cargo bench --bench repair`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

use audience::workload::realtime::register;
use audience::workload::segments::{NOW_DAY, day_time, generate, ingest, schema};
use audience::{Engine, EventInput, Record};

const FUSED: usize = 1_000;
const SHARED: &str = "test@shop.example";

/// Adds 1,000 people with 20 events each, then fuses them through the shared address.
fn fuse(engine: &mut Engine) {
    let now = day_time(NOW_DAY);
    for i in 0..FUSED {
        let mut r =
            Record::builder(now, "app").identifier("email", format!("fused{i}@example.com"));
        for k in 0..20 {
            let kind = if k % 5 == 0 {
                "add_to_cart"
            } else {
                "page_view"
            };
            r = r.event(EventInput::new(kind, day_time(NOW_DAY - (k % 30))));
        }
        engine.ingest(&r.build()).unwrap();
    }
    for i in 0..FUSED {
        let login = Record::builder(now, "app")
            .identifier("email", format!("fused{i}@example.com"))
            .identifier("email", SHARED)
            .build();
        engine.ingest(&login).unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let profiles: u32 = std::env::var("REPAIR_BENCH_PROFILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut engine = Engine::new(schema());
    engine.advance_time(day_time(NOW_DAY)).unwrap();
    for p in generate(42, profiles) {
        ingest(&mut engine, &p).unwrap();
    }
    register(&mut engine).unwrap();
    fuse(&mut engine);
    assert_eq!(engine.merge_count(), FUSED - 1);
    engine.drain_changes();
    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..5 {
        let mut copy = engine.clone();
        let start = Instant::now();
        let report = copy.block_identifier_value("email", SHARED).unwrap();
        times.push(start.elapsed());
        assert_eq!(report.after.len(), FUSED);
        assert_eq!(copy.merge_count(), 0);
    }
    times.sort();
    println!(
        "repair: blocking a value that fused {FUSED} profiles (20 events each) at {profiles} profiles, 100 segments: median {:.1} ms (min {:.1}, max {:.1})",
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
    );
    let mut group = c.benchmark_group("repair");
    group.sample_size(10);
    group.bench_function(format!("block_fused_{FUSED}_{profiles}"), |b| {
        b.iter_batched(
            || engine.clone(),
            |mut e| {
                let report = e.block_identifier_value("email", SHARED).unwrap();
                // Returned, so the engine is dropped outside the measurement.
                (e, report)
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
