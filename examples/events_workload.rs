//! Ingests the events of `shared/bench/WORKLOAD.md` with its eight computed traits kept
//! current, and prints one JSON line.
//!
//! ```text
//! cargo run --release --example events_workload -- [--profiles N] [--seed S]
//! ```
//!
//! Output: `{"profiles", "events", "ingest_ms", "events_per_s", "bytes_per_event",
//! "q5", "q6", "q7"}`. The clock is set to the workload's "now" first, so every computed
//! trait is current after each record. `bytes_per_event` is the allocator's live bytes
//! after ingest minus before (engine only: the records are generated one at a time and
//! freed), divided by the events; `q5`–`q7` are the counts of the workload's event queries
//! read off the computed traits.

use std::alloc::System;
use std::process::ExitCode;
use std::time::Instant;

use audience::Engine;
use audience::workload::segments::{NOW_DAY, day_time, event_query_counts, generate, schema};
use cap::Cap;

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

fn parse_args() -> Result<(u32, u64), String> {
    let (mut profiles, mut seed) = (1_000_000u32, 42u64);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--profiles" => profiles = value.parse().map_err(|e| format!("{value}: {e}"))?,
            "--seed" => seed = value.parse().map_err(|e| format!("{value}: {e}"))?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok((profiles, seed))
}

fn main() -> ExitCode {
    let (profiles, seed) = match parse_args() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("events_workload: {e}");
            return ExitCode::from(2);
        }
    };
    let before = ALLOCATOR.allocated();
    let mut engine = Engine::new(schema());
    if let Err(e) = engine.advance_time(day_time(NOW_DAY)) {
        eprintln!("events_workload: {e}");
        return ExitCode::FAILURE;
    }
    let mut events = 0u64;
    let mut busy = std::time::Duration::ZERO;
    for p in generate(seed, profiles) {
        events += p.events.len() as u64;
        let record = p.to_record();
        let start = Instant::now();
        if let Err(e) = engine.ingest(&record) {
            eprintln!("events_workload: record rejected: {e}");
            return ExitCode::FAILURE;
        }
        busy += start.elapsed();
    }
    let bytes = ALLOCATOR.allocated().saturating_sub(before);
    let (q5, q6, q7) = event_query_counts(&engine);
    let secs = busy.as_secs_f64();
    println!(
        "{{\"profiles\": {profiles}, \"events\": {events}, \"ingest_ms\": {:.0}, \"events_per_s\": {:.0}, \"bytes_per_event\": {:.1}, \"q5\": {q5}, \"q6\": {q6}, \"q7\": {q7}}}",
        secs * 1e3,
        events as f64 / secs.max(1e-9),
        bytes as f64 / events.max(1) as f64,
    );
    ExitCode::SUCCESS
}
