//! Resolves the identity workload of `shared/bench/IDENTITY.md` and prints one JSON line.
//!
//! ```text
//! cargo run --release --example identity_workload -- --variant default|merge_heavy \
//!     [--seed S] [--persons P] [--records R] [--runs N]
//! ```
//!
//! Output: `{"variant", "seed", "persons", "records", "n_profiles", "n_merges",
//! "sum_min_record_index", "label_checksum", "ingest_ms", "records_per_s",
//! "bytes_per_profile"}`; `ingest_ms` is the median of `--runs` (default 3) runs, each
//! ingesting prebuilt records into a fresh engine.

use std::process::ExitCode;
use std::time::Instant;

use audience::workload::identity::{IdentityChecks, IdentityParams, Variant, generate};
use audience::{Engine, Schema};

fn parse_args() -> Result<(IdentityParams, usize), String> {
    let mut params = IdentityParams::full(Variant::Default);
    let mut runs = 3;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|e| format!("{flag} {value}: {e}"))
        };
        match flag.as_str() {
            "--variant" => {
                params.variant = match value.as_str() {
                    "default" => Variant::Default,
                    "merge_heavy" => Variant::MergeHeavy,
                    other => return Err(format!("unknown variant {other:?}")),
                }
            }
            "--seed" => params.seed = number()?,
            "--persons" => params.persons = number()?.max(1),
            "--records" => params.records = number()?,
            "--runs" => runs = usize::try_from(number()?.max(1)).map_err(|e| e.to_string())?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok((params, runs))
}

fn main() -> ExitCode {
    let (params, runs) = match parse_args() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("identity_workload: {e}");
            return ExitCode::from(2);
        }
    };
    let records: Vec<_> = generate(&params)
        .iter()
        .enumerate()
        .map(|(i, r)| r.to_record(i as u64))
        .collect();
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let mut engine = Engine::new(Schema::retail_default());
        let start = Instant::now();
        for record in &records {
            if let Err(e) = engine.ingest(record) {
                eprintln!("identity_workload: record rejected: {e}");
                return ExitCode::FAILURE;
            }
        }
        times.push(start.elapsed().as_secs_f64() * 1e3);
        last = Some(engine);
    }
    let Some(engine) = last else {
        return ExitCode::FAILURE;
    };
    times.sort_by(f64::total_cmp);
    let ingest_ms = times.get(times.len() / 2).copied().unwrap_or(0.0);
    let checks = IdentityChecks::from_engine(&engine, params.records);
    let bytes_per_profile = engine.heap_bytes() as f64 / checks.n_profiles.max(1) as f64;
    println!(
        "{{\"variant\": \"{}\", \"seed\": {}, \"persons\": {}, \"records\": {}, \"n_profiles\": {}, \"n_merges\": {}, \"sum_min_record_index\": {}, \"label_checksum\": {}, \"ingest_ms\": {:.1}, \"records_per_s\": {:.0}, \"bytes_per_profile\": {:.1}}}",
        params.variant.name(),
        params.seed,
        params.persons,
        params.records,
        checks.n_profiles,
        engine.merge_count(),
        checks.sum_min_record_index,
        checks.label_checksum,
        ingest_ms,
        params.records as f64 / (ingest_ms / 1e3),
        bytes_per_profile,
    );
    ExitCode::SUCCESS
}
