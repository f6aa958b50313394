//! Real time at 1,000,000 profiles of the segments workload (`REALTIME_BENCH_PROFILES` to
//! change) with 100 registered segments (Q1–Q10 and 90 variants, 30 reading the clock):
//!
//! - per-record `ingest` latency including all segment maintenance, as a histogram
//!   (p50, p90, p99, p99.9, max) over a feed of live records, and the ratio of p50 and p99
//!   to re-evaluating all 100 segments with the bitmap evaluator; also over the records
//!   that took no page fault (Linux: the thread's minor faults, read outside the
//!   timed region), since a first touch of a page is the bulk of the tail on a VM;
//! - `advance_time` by one day, against re-evaluating the 30 time-dependent segments.
//!
//! Re-evaluation is measured twice: from scratch (before registering, so event conditions
//! scan the events, as a batch system would), and over the maintained bitmaps.
//!
//! `cargo bench --bench realtime`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

use audience::Engine;
use audience::segment::Expr;
use audience::workload::realtime::{TIME_DEPENDENT, live_records, register, segments};
use audience::workload::segments::{NOW_DAY, day_time, generate, ingest, schema};

/// `expr` with every named segment replaced by its expression.
fn inline(expr: &Expr, named: &HashMap<String, Expr>) -> Expr {
    match expr {
        Expr::Segment(name) => inline(&named[name], named),
        Expr::And(c) => Expr::And(c.iter().map(|e| inline(e, named)).collect()),
        Expr::Or(c) => Expr::Or(c.iter().map(|e| inline(e, named)).collect()),
        Expr::Not(c) => Expr::Not(Box::new(inline(c, named))),
        other => other.clone(),
    }
}

/// Time to count every expression once.
fn evaluate_all(engine: &Engine, exprs: &[Expr]) -> Duration {
    let plans: Vec<_> = exprs.iter().map(|e| engine.compile(e).unwrap()).collect();
    let start = Instant::now();
    for plan in &plans {
        black_box(engine.count(plan).unwrap());
    }
    start.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The calling thread's minor page faults so far (Linux; 0 elsewhere): a record that
/// touches fresh memory pays for each first touch of a page.
fn page_faults() -> u64 {
    std::fs::read_to_string("/proc/thread-self/stat")
        .ok()
        // Fields after the command's closing parenthesis: state is the first, minflt the
        // eighth.
        .and_then(|s| {
            s.rsplit(')')
                .next()?
                .split_whitespace()
                .nth(7)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// Each record's ingest time, sorted; and, sorted, those of the records that took no
/// page fault.
fn latency(engine: &mut Engine, feed: &[audience::Record]) -> (Vec<Duration>, Vec<Duration>) {
    let mut latencies: Vec<Duration> = Vec::with_capacity(feed.len());
    let mut clean: Vec<Duration> = Vec::with_capacity(feed.len());
    for r in feed {
        let faults = page_faults();
        let start = Instant::now();
        black_box(engine.ingest(r).unwrap());
        let took = start.elapsed();
        latencies.push(took);
        if page_faults() == faults {
            clean.push(took);
        }
    }
    latencies.sort();
    clean.sort();
    (latencies, clean)
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * q) as usize]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn bench(c: &mut Criterion) {
    let profiles: u32 = std::env::var("REALTIME_BENCH_PROFILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut engine = Engine::new(schema());
    engine.advance_time(day_time(NOW_DAY)).unwrap();
    for p in generate(42, profiles) {
        ingest(&mut engine, &p).unwrap();
    }
    let all = segments();
    let named: HashMap<String, Expr> = all.iter().cloned().collect();
    let inlined: Vec<Expr> = all.iter().map(|(_, e)| inline(e, &named)).collect();
    let timed: Vec<Expr> = inlined
        .iter()
        .filter(|e| engine.compile(e).unwrap().reads_clock())
        .cloned()
        .collect();
    assert_eq!(timed.len(), TIME_DEPENDENT);
    let scratch_all = median((0..3).map(|_| evaluate_all(&engine, &inlined)).collect());
    let scratch_timed = median((0..3).map(|_| evaluate_all(&engine, &timed)).collect());

    // The same feed's latency with no segment registered: what maintenance adds to.
    let now = day_time(NOW_DAY);
    let (bare, bare_clean) = latency(&mut engine, &live_records(6, profiles, 50_000, now));

    let start = Instant::now();
    let ids = register(&mut engine).unwrap();
    let register_time = start.elapsed();
    assert_eq!(ids.len(), 100);
    let maintained_all = median((0..5).map(|_| evaluate_all(&engine, &inlined)).collect());
    let maintained_timed = median((0..5).map(|_| evaluate_all(&engine, &timed)).collect());

    // Per-record latency over a live feed at the clock.
    let feed = live_records(7, profiles, 50_000, now);
    let (latencies, clean) = latency(&mut engine, &feed);
    let changes = engine.drain_changes().len();
    let at = |q: f64| quantile(&latencies, q);
    let (p50, p99) = (at(0.5), at(0.99));

    // The clock, one day at a time.
    let mut days = Vec::new();
    let mut day_changes = Vec::new();
    for d in 1..=7u16 {
        let start = Instant::now();
        engine.advance_time(day_time(NOW_DAY + d)).unwrap();
        days.push(start.elapsed());
        day_changes.push(engine.drain_changes().len());
    }
    let day = median(days.clone());

    println!("realtime: {profiles} profiles, 100 segments ({TIME_DEPENDENT} time-dependent)");
    println!("  register all 100: {:.1} s", register_time.as_secs_f64());
    println!(
        "  ingest latency over {} live records ({changes} changes): p50 {:.2} us, p90 {:.2} us, \
         p99 {:.2} us, p99.9 {:.2} us, max {:.0} us",
        feed.len(),
        micros(p50),
        micros(at(0.9)),
        micros(p99),
        micros(at(0.999)),
        micros(at(1.0)),
    );
    println!(
        "  the {} records ({:.1}%) that took no page fault: p50 {:.2} us, p99 {:.2} us",
        clean.len(),
        100.0 * clean.len() as f64 / feed.len() as f64,
        micros(quantile(&clean, 0.5)),
        micros(quantile(&clean, 0.99))
    );
    println!(
        "  the same without segments: p50 {:.2} us, p99 {:.2} us; with no page fault \
         ({:.1}%): p50 {:.2} us, p99 {:.2} us",
        micros(quantile(&bare, 0.5)),
        micros(quantile(&bare, 0.99)),
        100.0 * bare_clean.len() as f64 / bare.len() as f64,
        micros(quantile(&bare_clean, 0.5)),
        micros(quantile(&bare_clean, 0.99))
    );
    println!(
        "  re-evaluating 100 segments: {:.1} ms from scratch, {:.2} ms over maintained bitmaps",
        micros(scratch_all) / 1e3,
        micros(maintained_all) / 1e3
    );
    println!(
        "  ingest p50 is {:.0}x / {:.0}x cheaper, p99 {:.0}x / {:.0}x cheaper (scratch / maintained)",
        scratch_all.as_secs_f64() / p50.as_secs_f64(),
        maintained_all.as_secs_f64() / p50.as_secs_f64(),
        scratch_all.as_secs_f64() / p99.as_secs_f64(),
        maintained_all.as_secs_f64() / p99.as_secs_f64(),
    );
    println!(
        "  advance_time one day: median {:.1} ms (days {:?} ms; changes {day_changes:?})",
        micros(day) / 1e3,
        days.iter()
            .map(|d| (micros(*d) / 100.0).round() / 10.0)
            .collect::<Vec<_>>()
    );
    println!(
        "  re-evaluating the {TIME_DEPENDENT} time-dependent segments: {:.1} ms from scratch \
         ({:.0}x the day), {:.2} ms over maintained bitmaps ({:.1}x the day)",
        micros(scratch_timed) / 1e3,
        scratch_timed.as_secs_f64() / day.as_secs_f64(),
        micros(maintained_timed) / 1e3,
        maintained_timed.as_secs_f64() / day.as_secs_f64(),
    );

    let mut group = c.benchmark_group("realtime");
    group.sample_size(10);
    let mut next = live_records(8, profiles, 1_000_000, now)
        .into_iter()
        .cycle();
    group.bench_function(format!("ingest_live_record_{profiles}"), |b| {
        b.iter_batched(
            || next.next().unwrap(),
            |r| {
                engine.ingest(&r).unwrap();
                engine.drain_changes()
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
