//! Scores the classic RFM model over the events of `shared/bench/WORKLOAD.md` (as in
//! `shared/bench/RFM.md`) and prints one JSON line.
//!
//! ```text
//! cargo run --release --example rfm_workload -- [--profiles N] [--seed S] [--reps R]
//! ```
//!
//! Output: `{"profiles", "seed", "n_scored", "checksum_pid_x_rfm", "oracle", "score_ms",
//! "score_samples_ms"}`. The events are ingested first (untimed); `score_ms` is the median of
//! `R` timed `score_rfm` calls (default 11), each until every score is stored. `oracle`
//! is `"match"` when the run equals `expected_rfm_1m.json` / `expected_rfm_10k.json` (at
//! those sizes with seed 42), `"mismatch"` when it does not, and `"none"` otherwise.

use std::process::ExitCode;
use std::time::Instant;

use audience::Engine;
use audience::workload::rfm::{MODEL, REFERENCE_DAY, RfmChecks};
use audience::workload::segments::{day_time, generate, ingest, schema};

struct Args {
    profiles: u32,
    seed: u64,
    reps: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        profiles: 1_000_000,
        seed: 42,
        reps: 11,
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

fn run(a: &Args) -> Result<String, audience::Error> {
    let mut engine = Engine::new(schema());
    for p in generate(a.seed, a.profiles) {
        ingest(&mut engine, &p)?;
    }
    let reference = day_time(REFERENCE_DAY);
    let mut samples = Vec::with_capacity(a.reps);
    for _ in 0..a.reps.max(1) {
        let start = Instant::now();
        let scored = engine.score_rfm(MODEL, reference)?.len();
        samples.push(start.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box(scored);
    }
    let checks = RfmChecks::read(&engine)?;
    let expected = match (a.seed, a.profiles) {
        (42, 1_000_000) => Some(RfmChecks::expected_1m()),
        (42, 10_000) => Some(RfmChecks::expected_10k()),
        _ => None,
    };
    let oracle = match expected {
        Some(e) if e == checks => "match",
        Some(_) => "mismatch",
        None => "none",
    };
    let mut sorted = samples.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
    let list: Vec<String> = samples.iter().map(|s| format!("{s:.2}")).collect();
    Ok(format!(
        "{{\"profiles\": {}, \"seed\": {}, \"n_scored\": {}, \"checksum_pid_x_rfm\": {}, \
         \"oracle\": \"{oracle}\", \"score_ms\": {median:.2}, \"score_samples_ms\": [{}]}}",
        a.profiles,
        a.seed,
        checks.n_scored,
        checks.checksum,
        list.join(", ")
    ))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rfm_workload: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rfm_workload: {e}");
            ExitCode::FAILURE
        }
    }
}
