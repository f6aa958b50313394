//! Activation of Q4 ("EU email audience", 201,098 members) at 1,000,000 profiles of the
//! segments workload (`ACTIVATION_BENCH_PROFILES` to change), every profile given an email
//! address by a second record: the consent gate, the suppression checks and one address
//! per member, plain and SHA-256 hashed. Prints profiles per second before timing.
//!
//! `cargo bench --bench activation`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use audience::workload::segments::{NOW_DAY, day_time, generate, ingest, register_queries, schema};
use audience::{ActivationOptions, AddressHash, Engine, Record};

fn bench(c: &mut Criterion) {
    let profiles = std::env::var("ACTIVATION_BENCH_PROFILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000u32);
    let mut engine = Engine::new(schema());
    engine.advance_time(day_time(NOW_DAY)).unwrap();
    for p in generate(42, profiles) {
        ingest(&mut engine, &p).unwrap();
        let login = Record::builder(day_time(NOW_DAY), "app")
            .identifier("user_id", p.profile_id.to_string())
            .identifier("email", format!("user{}@example.com", p.profile_id))
            .build();
        engine.ingest(&login).unwrap();
    }
    let ids = register_queries(&mut engine).unwrap();
    let q4 = ids[3];
    let members = engine.segment_count(q4).unwrap();
    if profiles == 1_000_000 {
        assert_eq!(members, 201_098);
    }
    for (name, hash) in [
        ("plain", AddressHash::Plain),
        ("sha256", AddressHash::Sha256),
    ] {
        let options = ActivationOptions {
            hash,
            ..ActivationOptions::default()
        };
        let a = engine.activate(q4, "marketing", "email", options).unwrap();
        // Q4 already requires consent and no suppression: every member is activated.
        assert_eq!(a.len() as u64, members);
        let runs: Vec<f64> = (0..7)
            .map(|_| {
                let start = Instant::now();
                let a = engine.activate(q4, "marketing", "email", options).unwrap();
                assert_eq!(a.audience(), members);
                start.elapsed().as_secs_f64()
            })
            .collect();
        let mut sorted = runs.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        println!(
            "activation ({name}): {members} members of Q4 at {profiles} profiles in {:.1} ms (median of 7): {:.2} M profiles/s",
            median * 1e3,
            members as f64 / median / 1e6
        );
    }
    let mut group = c.benchmark_group("activation");
    group.sample_size(10);
    group.throughput(Throughput::Elements(members));
    for (name, hash) in [
        ("plain", AddressHash::Plain),
        ("sha256", AddressHash::Sha256),
    ] {
        let options = ActivationOptions {
            hash,
            ..ActivationOptions::default()
        };
        group.bench_function(format!("q4_{name}_{profiles}"), |b| {
            b.iter(|| engine.activate(q4, "marketing", "email", options).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
