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
//! the sizes of the RFM segments (classic and engagement), a short live feed — registered
//! segments reporting entries and exits as records arrive and `next_deadline` drives the
//! clock — an email campaign through the consent gate, a snapshot restored behind a
//! progress bar (as on a restart), and one profile.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use audience::schema::{Computation, ComputedDef, EventFilter, Field, Schema};
use audience::segment::{EventSpec, Expr, Sequence, computed as computed_trait, trait_};
use audience::workload::shop::{HOUSEHOLD_EMAIL, ShopParams, generate};
use audience::{
    ActivationOptions, AddressHash, Cause, Change, ComputedValue, Currency, Engine, Error,
    EventInput, Money, PartOfDay, Progress, Record, SegmentChange, Suppression, Timestamp, Window,
};

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

fn run() -> Result<(), Box<dyn std::error::Error>> {
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
    live_feed(&mut engine, eur)?;
    campaign(&mut engine)?;
    let engine = snapshot_round_trip(engine)?;
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

/// Snapshots the engine, encodes it (postcard), and restores it behind a progress bar,
/// as a host does on restart; the restored engine answers the same.
fn snapshot_round_trip(engine: Engine) -> Result<Engine, Box<dyn std::error::Error>> {
    let start = Instant::now();
    let snapshot = engine.snapshot();
    let bytes = postcard::to_allocvec(&snapshot)?;
    let written = start.elapsed();
    let decoded: audience::snapshot::Snapshot = postcard::from_bytes(&bytes)?;
    let bar = ProgressBar::new(0).with_style(ProgressStyle::with_template(
        "  restoring {bar:40} {pos}/{len} units",
    )?);
    let start = Instant::now();
    let restored = Engine::restore_with_progress(decoded, &mut |p: Progress| {
        bar.set_length(p.total);
        bar.set_position(p.done);
    })?;
    bar.finish_and_clear();
    let read = start.elapsed();
    println!(
        "
snapshot and restore (a restart):"
    );
    println!(
        "  snapshot           {:>9} bytes ({:.0} ms to take and encode)",
        bytes.len(),
        written.as_secs_f64() * 1e3
    );
    println!(
        "  restored           {:>9} profiles ({:.0} ms, every index rebuilt)",
        restored.profile_count(),
        read.as_secs_f64() * 1e3
    );
    if restored.profile_count() != engine.profile_count() || restored.snapshot() != snapshot {
        return Err("the restored engine differs".into());
    }
    Ok(restored)
}

/// Prints up to a few changes, then how many there were.
fn print_changes(engine: &Engine, when: &str, changes: &[SegmentChange]) -> Result<(), Error> {
    for c in changes.iter().take(4) {
        let verb = match c.change {
            Change::Entered => "entered",
            Change::Exited => "exited ",
        };
        let cause = match &c.cause {
            Cause::Record(r) => format!("record {r}"),
            Cause::Merge { retired, .. } => format!("merge of {retired}"),
            Cause::RfmRun { model, .. } => format!("{model} RFM run"),
            Cause::Clock { .. } => "clock".into(),
            other => format!("{other:?}"),
        };
        println!(
            "  {when:<30} {} {verb} {:<14} ({cause})",
            c.profile,
            engine.segment_name(c.segment)?,
        );
    }
    if changes.len() > 4 {
        println!("  {when:<30} … {} changes in all", changes.len());
    }
    Ok(())
}

/// Registers two journeys, feeds a few live records and lets `next_deadline` drive the
/// clock: entries and exits print as they happen.
fn live_feed(engine: &mut Engine, eur: Currency) -> Result<(), Error> {
    let Some(now) = engine.now() else {
        return Ok(());
    };
    let spec = |kind: &str| EventSpec {
        kind: kind.into(),
        conditions: vec![],
    };
    let abandoned = Expr::Sequence(Sequence::NoneSince {
        first: spec("add_to_cart"),
        window: Window::LastDays(7),
        then: spec("order_completed"),
    });
    let start = Instant::now();
    let carts = engine.register_segment("abandoned_cart", abandoned)?;
    let lapsing = engine.register_segment(
        "lapsing",
        computed_trait("days_since_order").between(60i64, 89i64),
    )?;
    println!(
        "
live feed (registered 2 segments in {:.0} ms: abandoned_cart {}, lapsing {}):",
        start.elapsed().as_secs_f64() * 1e3,
        engine.segment_count(carts)?,
        engine.segment_count(lapsing)?
    );
    let minute = |n: i64| now.checked_add_millis(n * 60_000);
    let cart = |who: &str, at: Timestamp| {
        Record::builder(at, "web")
            .identifier("user_id", who)
            .event(EventInput::new("add_to_cart", at))
            .build()
    };
    let order = |who: &str, at: Timestamp| {
        Record::builder(at, "web")
            .identifier("user_id", who)
            .event(
                EventInput::new("order_completed", at)
                    .property("amount", Money::new(4_990, eur))
                    .property("category", "books"),
            )
            .build()
    };
    let feed = [
        ("cust-7 adds to cart", cart("cust-7", minute(1)?)),
        ("cust-8 adds to cart", cart("cust-8", minute(2)?)),
        ("cust-7 buys", order("cust-7", minute(3)?)),
    ];
    engine.drain_changes();
    for (what, record) in &feed {
        engine.advance_time(record.timestamp)?;
        let moved = engine.drain_changes();
        print_changes(engine, &format!("clock {}", record.timestamp), &moved)?;
        let start = Instant::now();
        engine.ingest(record)?;
        let took = start.elapsed();
        let changes = engine.drain_changes();
        print_changes(
            engine,
            &format!("{what} ({:.0} us)", took.as_secs_f64() * 1e6),
            &changes,
        )?;
    }
    for _ in 0..4 {
        let Some(deadline) = engine.next_deadline() else {
            break;
        };
        let start = Instant::now();
        engine.advance_time(deadline)?;
        let took = start.elapsed();
        let changes = engine.drain_changes();
        print_changes(
            engine,
            &format!("clock {deadline} ({:.1} ms)", took.as_secs_f64() * 1e3),
            &changes,
        )?;
    }
    Ok(())
}

/// An email campaign to German customers: counting needs no consent, handing out
/// addresses goes through the gate (consent for marketing by email, suppressions: the
/// shop's email provider reported some hard bounces). The same people for an ad
/// platform's customer list need consent for ads, which the newsletter form did not ask.
fn campaign(engine: &mut Engine) -> Result<(), Error> {
    let Some(now) = engine.now() else {
        return Ok(());
    };
    let mut bounced = 0;
    let people: Vec<_> = engine.profile_ids().step_by(97).collect();
    for p in people {
        let view = engine.profile(p)?;
        if let Some(email) = view.identifiers.iter().find(|i| i.kind == "email") {
            engine.suppress_identifier(
                "email",
                &email.value,
                Suppression::new("hard bounce", now).channel("email"),
            )?;
            bounced += 1;
        }
    }
    let audience = trait_("country").eq("DE");
    let start = Instant::now();
    let plain = engine.activate(
        &audience,
        "marketing",
        "email",
        ActivationOptions::default(),
    )?;
    let took = start.elapsed();
    let hashed = ActivationOptions {
        hash: AddressHash::Sha256,
        ..ActivationOptions::default()
    };
    let for_ads = engine.activate(&audience, "marketing", "ads", hashed)?;
    let removed = plain.removed();
    println!("\nemail campaign to German customers ({bounced} bounced addresses suppressed):");
    println!("  audience                 {:>7}", plain.audience());
    println!(
        "  cleared for email        {:>7} ({:.1} ms)",
        plain.len(),
        took.as_secs_f64() * 1e3
    );
    println!("  no marketing consent     {:>7}", removed.no_consent);
    println!("  suppressed               {:>7}", removed.suppressed);
    println!("  no usable address        {:>7}", removed.no_address);
    println!(
        "  addresses withheld       {:>7}",
        removed.suppressed_addresses
    );
    println!(
        "  cleared for ads          {:>7} (SHA-256 hashed; {} without consent for ads)",
        for_ads.len(),
        for_ads.removed().no_consent
    );
    if let Some(m) = plain.members().next() {
        println!(
            "  first address            {} ({})",
            m.address().unwrap_or("-"),
            m.profile
        );
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
