//! Operations at 1,000,000 profiles of the segments workload (19,993,320 events;
//! `OPERATIONS_BENCH_PROFILES` to change): paging, lookup and stats, and retention — a
//! one-day clock move that drops the day's expired page views and email events (kept 365
//! days) next to the same move with no retention, in one run.
//!
//! `cargo bench --bench operations`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

use audience::schema::Schema;
use audience::segment::trait_;
use audience::workload::segments::{NOW_DAY, day_time, generate, ingest, schema};
use audience::{Engine, ProfileId};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn with_retention() -> Schema {
    let mut def = schema().def().clone();
    for k in &mut def.event_kinds {
        if matches!(k.name.as_str(), "page_view" | "email_open" | "email_click") {
            k.retention_days = Some(365);
        }
    }
    Schema::from_def(def).unwrap()
}

/// Seven one-day clock moves from the workload's "now": the median time of one.
fn days(engine: &mut Engine) -> Duration {
    let mut times: Vec<Duration> = (1..=7)
        .map(|d| {
            let start = Instant::now();
            engine.advance_time(day_time(NOW_DAY + d)).unwrap();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[3]
}

fn bench(c: &mut Criterion) {
    let profiles: u32 = std::env::var("OPERATIONS_BENCH_PROFILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let people: Vec<_> = generate(42, profiles).collect();
    let mut plain = Engine::new(schema());
    plain.advance_time(day_time(NOW_DAY)).unwrap();
    let mut kept = Engine::new(with_retention());
    kept.advance_time(day_time(NOW_DAY)).unwrap();
    let mut expired_on_arrival = 0;
    for p in &people {
        ingest(&mut plain, p).unwrap();
        expired_on_arrival += ingest(&mut kept, p).unwrap().expired_events;
    }
    drop(people);
    let before = kept.stats().events;
    let plain_day = days(&mut plain);
    let kept_day = days(&mut kept);
    let receipt = kept.apply_retention().unwrap();
    println!(
        "retention: {profiles} profiles; {expired_on_arrival} events past 365 days on arrival, \
         {before} kept; seven one-day moves dropped {} events",
        receipt.events
    );
    println!(
        "  one day, median of 7: {:.1} ms with retention, {:.1} ms without ({:.2}x)",
        ms(kept_day),
        ms(plain_day),
        kept_day.as_secs_f64() / plain_day.as_secs_f64()
    );
    drop(kept);

    let de = plain
        .register_segment("de", trait_("country").eq("DE"))
        .unwrap();
    let members = plain.segment_count(de).unwrap();
    let middle = ProfileId(profiles / 2);
    let mut group = c.benchmark_group(format!("operations/{profiles}"));
    group.bench_function("members_page_1000_from_the_middle", |b| {
        b.iter(|| black_box(plain.members_page(de, Some(middle), 1_000).unwrap()))
    });
    group.bench_function("profiles_page_1000_from_the_middle", |b| {
        b.iter(|| black_box(plain.profiles_page(Some(middle), 1_000).unwrap()))
    });
    group.bench_function("find", |b| {
        b.iter(|| black_box(plain.find("user_id", "500000").unwrap()))
    });
    group.sample_size(10);
    group.bench_function("stats", |b| b.iter(|| black_box(plain.stats())));
    group.finish();
    println!("  (segment de has {members} members)");
}

criterion_group!(benches, bench);
criterion_main!(benches);
