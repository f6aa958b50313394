//! Operations at 1,000,000 profiles of the segments workload (19,993,320 events;
//! `OPERATIONS_BENCH_PROFILES` to change): paging, lookup and stats, and retention — a
//! one-day clock move that drops the day's expired page views and email events (kept 365
//! days) next to the same move with no retention, in one run; then schema changes (a
//! trait added, a computed trait added and backfilled) next to a snapshot and restore,
//! and a one-day move with records kept 365 days.
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

use audience::schema::{Computation, ComputedDef, EventFilter, Schema, TraitDef, TraitType};
use audience::segment::trait_;
use audience::workload::segments::{NOW_DAY, day_time, generate, ingest, schema};
use audience::{Engine, ProfileId, Window};

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

/// The workload's people again (the first copy is dropped after ingest to save memory).
fn people_again(profiles: u32) -> Vec<audience::workload::segments::WorkloadProfile> {
    generate(42, profiles).collect()
}

/// The workload with records kept 365 days (each person is one record at their last
/// event's day): those older are refused on arrival, and a one-day move drops the
/// records that turn 366 days old, each person rebuilt from what remains (nothing).
fn record_retention(
    people: &[audience::workload::segments::WorkloadProfile],
    plain_day: &Duration,
) {
    let mut def = schema().def().clone();
    def.record_retention_days = Some(365);
    let mut engine = Engine::new(Schema::from_def(def).unwrap());
    engine.advance_time(day_time(NOW_DAY)).unwrap();
    let mut refused = 0;
    for p in people {
        match ingest(&mut engine, p) {
            Ok(_) => {}
            Err(audience::Error::Ingest(audience::IngestError::PastRetention { .. })) => {
                refused += 1
            }
            Err(e) => panic!("{e}"),
        }
    }
    let before = engine.profile_count();
    let day = days(&mut engine);
    let receipt = engine.apply_retention().unwrap();
    println!(
        "record retention: {} people, {refused} refused on arrival, {before} kept; seven \
         one-day moves dropped {} records; one day, median of 7: {:.1} ms ({:.2}x the move \
         without retention)",
        people.len(),
        receipt.records_expired,
        ms(day),
        day.as_secs_f64() / plain_day.as_secs_f64()
    );
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
    record_retention(&people_again(profiles), &plain_day);

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
    schema_changes(&mut plain);
}

/// Schema changes on the whole engine, timed once each beside a snapshot and restore
/// (what a change costs at least: it rebuilds the engine the same way).
fn schema_changes(engine: &mut Engine) {
    let start = Instant::now();
    let restored = Engine::restore(engine.snapshot()).unwrap();
    let restore = start.elapsed();
    drop(restored);
    let start = Instant::now();
    let plain = engine
        .edit_schema(|def| def.traits.push(TraitDef::new("tier", TraitType::Text)))
        .unwrap();
    let add_trait = start.elapsed();
    let start = Instant::now();
    let backfill = engine
        .edit_schema(|def| {
            def.computed.push(
                ComputedDef::new(
                    "views_30d",
                    EventFilter::kind("page_view"),
                    Computation::Count,
                )
                .window(Window::LastDays(30)),
            );
        })
        .unwrap();
    let add_computed = start.elapsed();
    println!(
        "schema changes: snapshot + restore {:.0} ms; add a trait {:.0} ms ({:.2}x, {} profiles \
         recomputed); add a computed trait, backfilled {:.0} ms ({:.2}x, {} profiles recomputed)",
        ms(restore),
        ms(add_trait),
        add_trait.as_secs_f64() / restore.as_secs_f64(),
        plain.profiles_recomputed,
        ms(add_computed),
        add_computed.as_secs_f64() / restore.as_secs_f64(),
        backfill.profiles_recomputed,
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
