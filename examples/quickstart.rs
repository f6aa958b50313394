//! The main job: a synthetic shop of 100,000 people, stitched into profiles.
//!
//! ```text
//! cargo run --release --example quickstart
//! ```
//!
//! It builds the default retail schema (blocking the shop's shared household email) with
//! six computed traits, ingests two years of the shop's records from web, app, crm and pos
//! while the clock follows them, and prints what the engine holds: profiles, merges,
//! dropped identifiers by reason, events, the ingest rate, computed traits over everyone,
//! the sizes of the RFM segments (classic and engagement), and one profile.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use audience::schema::{Computation, ComputedDef, EventFilter, Field, Schema};
use audience::workload::shop::{HOUSEHOLD_EMAIL, ShopParams, generate};
use audience::{ComputedValue, Currency, Engine, Error, PartOfDay, Window};

/// The computed traits the quickstart declares.
fn computed(eur: Currency) -> Vec<ComputedDef> {
    let orders = || EventFilter::kind("order_completed");
    vec![
        ComputedDef::new("orders_90d", orders(), Computation::Count).window(Window::LastDays(90)),
        ComputedDef::new(
            "net_revenue_365d",
            orders(),
            Computation::Net {
                property: "amount".into(),
                subtract: EventFilter::kind("order_refunded"),
                subtract_property: "amount".into(),
            },
        )
        .window(Window::LastDays(365))
        .currency(eur),
        ComputedDef::new(
            "favourite_category",
            EventFilter::any(),
            Computation::MostFrequent {
                field: Field::Property("category".into()),
            },
        )
        .window(Window::LastDays(180)),
        ComputedDef::new("days_since_order", orders(), Computation::DaysSince),
        ComputedDef::new(
            "habit",
            EventFilter::any(),
            Computation::Habit {
                time_zone_trait: Some("time_zone".into()),
            },
        ),
        ComputedDef::new(
            "email_clicks_30d",
            EventFilter::kind("email_click"),
            Computation::Count,
        )
        .window(Window::LastDays(30)),
    ]
}

fn run() -> Result<(), Error> {
    let eur = Currency::new("EUR")?;
    let mut def = Schema::retail_default_in(eur).def().clone();
    if let Some(email) = def.identifier_kinds.iter_mut().find(|k| k.name == "email") {
        email.blocked.push(HOUSEHOLD_EMAIL.into());
    }
    def.computed = computed(eur);
    let schema = Schema::from_def(def)?;
    let records = generate(&ShopParams {
        people: 100_000,
        seed: 42,
    });
    let mut engine = Engine::new(schema);
    let mut dropped: BTreeMap<String, usize> = BTreeMap::new();
    let mut duplicates = 0;
    let start = Instant::now();
    let mut events = 0;
    for record in &records {
        // The host's clock follows the records (they arrive in time order).
        if engine.now().is_none_or(|now| now < record.timestamp) {
            engine.advance_time(record.timestamp)?;
        }
        events += record.events.len();
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
    println!("  events             {events:>9}");
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
    report_computed(&engine)?;
    report_rfm(&mut engine)?;
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
        println!("  events          {}", view.events.len());
        for (name, value) in &view.computed {
            println!("  {name:<18} {}", show(value.as_ref()));
        }
    }
    Ok(())
}

fn show(value: Option<&ComputedValue>) -> String {
    match value {
        None => "-".into(),
        Some(ComputedValue::Count(n)) => n.to_string(),
        Some(ComputedValue::Money(m)) => m.to_string(),
        Some(ComputedValue::Days(d)) => format!("{d} days"),
        Some(ComputedValue::Value(v)) => format!("{v:?}"),
        Some(ComputedValue::Habit(h)) => {
            format!(
                "{:?}, night/morning/afternoon/evening % = {:?}",
                h.dominant, h.percent
            )
        }
        Some(other) => format!("{other:?}"),
    }
}

/// Computed traits over everyone: who ordered lately, favourite categories, night owls.
fn report_computed(engine: &Engine) -> Result<(), Error> {
    let (mut recent, mut night_owls, mut clickers) = (0, 0, 0);
    let mut favourites: BTreeMap<String, usize> = BTreeMap::new();
    for p in engine.profile_ids() {
        if matches!(engine.computed(p, "orders_90d")?, Some(ComputedValue::Count(n)) if n > 0) {
            recent += 1;
        }
        if let Some(ComputedValue::Habit(h)) = engine.computed(p, "habit")? {
            night_owls += usize::from(h.dominant == Some(PartOfDay::Night));
        }
        if matches!(engine.computed(p, "email_clicks_30d")?, Some(ComputedValue::Count(n)) if n > 0)
        {
            clickers += 1;
        }
        if let Some(ComputedValue::Value(v)) = engine.computed(p, "favourite_category")? {
            *favourites.entry(format!("{v:?}")).or_default() += 1;
        }
    }
    println!(
        "\ncomputed traits at {}:",
        engine.now().map_or_else(|| "-".into(), |t| t.to_string())
    );
    println!("  ordered in the last 90 days  {recent:>7}");
    println!("  clicked an email in 30 days  {clickers:>7}");
    println!("  mostly active at night       {night_owls:>7}");
    for (category, n) in &favourites {
        println!("  favourite category {category:<9} {n:>7}");
    }
    Ok(())
}

/// Scores both RFM models at the clock (classic also a quarter earlier, for trends such
/// as Fading Stars) and prints the named segments' sizes.
fn report_rfm(engine: &mut Engine) -> Result<(), Error> {
    let Some(now) = engine.now() else {
        return Ok(());
    };
    let start = Instant::now();
    engine.score_rfm("classic", now.checked_add_days(-90)?)?;
    let classic = engine.score_rfm("classic", now)?.len();
    let engagement = engine.score_rfm("engagement", now)?.len();
    let elapsed = start.elapsed();
    println!(
        "\nRFM at {now} ({classic} buyers, {engagement} email readers; scored in {:.1} ms):",
        elapsed.as_secs_f64() * 1e3
    );
    println!("  {:<12} {:<20} {:>7}", "model", "segment", "people");
    for model in ["classic", "engagement"] {
        for (segment, n) in engine.rfm_segment_sizes(model)? {
            println!("  {model:<12} {segment:<20} {n:>7}");
        }
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
