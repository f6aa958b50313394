//! The main job: a synthetic shop of 100,000 people, stitched into profiles.
//!
//! ```text
//! cargo run --release --example quickstart
//! ```
//!
//! It builds the default retail schema (blocking the shop's shared household email),
//! ingests the shop's records from web, app, crm and pos, and prints what the engine holds:
//! profiles, merges, dropped identifiers by reason, the ingest rate and one profile.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use audience::schema::Schema;
use audience::workload::shop::{HOUSEHOLD_EMAIL, ShopParams, generate};
use audience::{Engine, Error};

fn run() -> Result<(), Error> {
    let mut def = Schema::retail_default().def().clone();
    if let Some(email) = def.identifier_kinds.iter_mut().find(|k| k.name == "email") {
        email.blocked.push(HOUSEHOLD_EMAIL.into());
    }
    let schema = Schema::from_def(def)?;
    let records = generate(&ShopParams {
        people: 100_000,
        seed: 42,
    });
    let mut engine = Engine::new(schema);
    let mut dropped: BTreeMap<String, usize> = BTreeMap::new();
    let mut duplicates = 0;
    let start = Instant::now();
    for record in &records {
        let report = engine.ingest(record)?;
        duplicates += usize::from(report.duplicate_of.is_some());
        for d in report.dropped {
            *dropped.entry(format!("{:?}", d.reason)).or_default() += 1;
        }
    }
    let elapsed = start.elapsed();
    println!("audience quickstart: a synthetic shop of 100,000 people");
    println!("  records ingested   {:>9}", records.len());
    println!("  duplicates skipped {duplicates:>9}");
    println!("  profiles           {:>9}", engine.profile_count());
    println!("  merges             {:>9}", engine.merge_count());
    println!("  identifiers        {:>9}", engine.identifier_count());
    for (reason, n) in &dropped {
        println!("  dropped ({reason:<10}) {n:>6}");
    }
    println!(
        "  ingest             {:>9.0} records/s ({:.0} ms)",
        records.len() as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e3
    );
    println!(
        "  heap               {:>9.0} bytes/profile",
        engine.heap_bytes() as f64 / engine.profile_count().max(1) as f64
    );
    if let Some(p) = engine.find("user_id", "cust-7")? {
        let view = engine.profile(p)?;
        println!("\nprofile of cust-7 ({}):", view.id);
        for i in &view.identifiers {
            println!("  {:<13} {}", i.kind, i.value);
        }
        for t in &view.traits {
            println!(
                "  {:<15} {:?} (from {}, {})",
                t.name, t.current, t.source, t.at
            );
        }
        println!("  records         {}", view.records.len());
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quickstart: {e}");
            ExitCode::FAILURE
        }
    }
}
