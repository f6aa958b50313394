//! Snapshot, restore and erase at 1,000,000 profiles of the segments workload
//! (19,993,320 events; `SNAPSHOT_BENCH_PROFILES` to change):
//!
//! - `snapshot` and its postcard encoding (size, MB/s), postcard decoding and `restore`,
//!   and restore against re-ingesting the same records (the target is 10× faster);
//! - `erase` of one person at a time with the 100 segments of the real-time workload
//!   registered (the target is under 1 ms).
//!
//! postcard is the format: compact (varints, no field names) and serde-native, so the
//! bytes are what a host would store. `cargo bench --bench snapshot`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

use audience::snapshot::Snapshot;
use audience::workload::realtime::register;
use audience::workload::segments::{NOW_DAY, day_time, generate, ingest, schema};
use audience::{Engine, ErasureOptions, ProfileId};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn bench(c: &mut Criterion) {
    let profiles: u32 = std::env::var("SNAPSHOT_BENCH_PROFILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let people: Vec<_> = generate(42, profiles).collect();
    let start = Instant::now();
    let mut engine = Engine::new(schema());
    engine.advance_time(day_time(NOW_DAY)).unwrap();
    for p in &people {
        ingest(&mut engine, p).unwrap();
    }
    let ingest_time = start.elapsed();
    drop(people);

    let start = Instant::now();
    let snapshot = engine.snapshot();
    let snapshot_time = start.elapsed();
    let start = Instant::now();
    let bytes = postcard::to_allocvec(&snapshot).unwrap();
    let encode_time = start.elapsed();
    drop(snapshot);
    let start = Instant::now();
    let decoded: Snapshot = postcard::from_bytes(&bytes).unwrap();
    let decode_time = start.elapsed();
    let start = Instant::now();
    let restored = Engine::restore(decoded).unwrap();
    let restore_time = start.elapsed();
    assert_eq!(restored.profile_count(), engine.profile_count());
    let mb = bytes.len() as f64 / 1e6;
    let from_bytes = decode_time + restore_time;
    println!("snapshot: {profiles} profiles, {:.0} MB of postcard", mb);
    println!(
        "  snapshot {:.0} ms + encode {:.0} ms ({:.0} MB/s)",
        ms(snapshot_time),
        ms(encode_time),
        mb / (snapshot_time + encode_time).as_secs_f64()
    );
    println!(
        "  decode {:.0} ms + restore {:.0} ms = {:.0} ms ({:.0} MB/s)",
        ms(decode_time),
        ms(restore_time),
        ms(from_bytes),
        mb / from_bytes.as_secs_f64()
    );
    println!(
        "  re-ingest {:.0} ms: restore from bytes is {:.1}x faster ({:.1}x without decoding)",
        ms(ingest_time),
        ingest_time.as_secs_f64() / from_bytes.as_secs_f64(),
        ingest_time.as_secs_f64() / restore_time.as_secs_f64()
    );
    drop(restored);

    // Erasure with the real-time workload's 100 segments registered.
    register(&mut engine).unwrap();
    engine.drain_changes();
    let mut times: Vec<Duration> = Vec::new();
    let step = (profiles / 1_000).max(1);
    for p in (0..profiles).step_by(step as usize).take(1_000) {
        let start = Instant::now();
        engine
            .erase(ProfileId(p), ErasureOptions::default())
            .unwrap();
        times.push(start.elapsed());
    }
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    println!(
        "  erase one person, 100 segments registered: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms ({} erasures, {} changes)",
        ms(at(0.5)),
        ms(at(0.99)),
        ms(at(1.0)),
        times.len(),
        engine.drain_changes().len()
    );

    let mut group = c.benchmark_group("snapshot");
    group.sample_size(10);
    let mut next = profiles - 1;
    group.bench_function(format!("erase_{profiles}"), |b| {
        b.iter(|| {
            while engine.resolve(ProfileId(next)).is_err() {
                next -= 1;
            }
            engine
                .erase(ProfileId(next), ErasureOptions::default())
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
