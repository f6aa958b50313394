//! The segment workload of `shared/bench/WORKLOAD.md`: generates the profiles, ingests them
//! (clock at the workload's "now"), defines Q1–Q10 as named segments and times each query.
//!
//! ```text
//! cargo run --release --example workload -- [--profiles N] [--seed S] [--reps R]
//! ```
//!
//! Prints one JSON line: `{"profiles", "seed", "counts": {"Q1": n, …}, "query_ms": {"Q1":
//! median, …}, "register_ms": {…}, "ingest_ms", "bytes"}`. Each query is first defined as a
//! named segment (`register_ms`: compiling, and materializing its event conditions), then
//! compiled from its expression and evaluated `R` times (default 7) after one warm-up; the
//! median is `query_ms`. Q8–Q10 name Q3, Q4, Q6 and Q7, whose members they reuse from the
//! named-segment cache, as the peer's best shot reuses its stored flags. `bytes` is the
//! engine's estimated heap.

use std::process::ExitCode;
use std::time::Instant;

use audience::Engine;
use audience::workload::segments::{NOW_DAY, day_time, generate, ingest, queries, schema};

struct Args {
    profiles: u32,
    seed: u64,
    reps: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        profiles: 1_000_000,
        seed: 42,
        reps: 7,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: std::num::ParseIntError| format!("{value}: {e}");
        match flag.as_str() {
            "--profiles" => a.profiles = value.parse().map_err(bad)?,
            "--seed" => a.seed = value.parse().map_err(bad)?,
            "--reps" => a.reps = value.parse().map_err(bad)?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(a)
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn run(a: &Args) -> Result<String, audience::Error> {
    let mut engine = Engine::new(schema());
    engine.advance_time(day_time(NOW_DAY))?;
    let start = Instant::now();
    for p in generate(a.seed, a.profiles) {
        ingest(&mut engine, &p)?;
    }
    let ingest_ms = ms(start.elapsed());
    let (mut counts, mut times, mut defines) = (Vec::new(), Vec::new(), Vec::new());
    for (name, expr) in queries() {
        // Registering materializes the segment's event conditions (kept current from then on).
        let start = Instant::now();
        engine.register_segment(name, expr.clone())?;
        defines.push(format!("\"{name}\": {:.3}", ms(start.elapsed())));
        let plan = engine.compile(&expr)?;
        let count = engine.count(&plan)?;
        let mut samples = Vec::with_capacity(a.reps);
        for _ in 0..a.reps.max(1) {
            let start = Instant::now();
            let n = engine.count(&plan)?;
            samples.push(ms(start.elapsed()));
            std::hint::black_box(n);
        }
        samples.sort_by(f64::total_cmp);
        let median = samples.get(samples.len() / 2).copied().unwrap_or_default();
        counts.push(format!("\"{name}\": {count}"));
        times.push(format!("\"{name}\": {median:.6}"));
    }
    Ok(format!(
        "{{\"profiles\": {}, \"seed\": {}, \"counts\": {{{}}}, \"query_ms\": {{{}}}, \
         \"register_ms\": {{{}}}, \"ingest_ms\": {ingest_ms:.0}, \"bytes\": {}}}",
        a.profiles,
        a.seed,
        counts.join(", "),
        times.join(", "),
        defines.join(", "),
        engine.heap_bytes()
    ))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("workload: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("workload: {e}");
            ExitCode::FAILURE
        }
    }
}
