//! Writes a snapshot fixture in the format version of the code it runs on, and the
//! answers that code gives, for `tests/snapshot_migration.rs` (see README.md here):
//! `cargo run --example snapshot_fixture -- <dir>` writes `<dir>/v<version>.*`.
use audience::segment::{Expr, consent, event, trait_};
use audience::workload::shop::{ShopParams, generate};
use audience::{Currency, Engine, ErasureOptions, EventInput, Money, Record, Schema, Suppression, Window};
use serde_json::json;

fn main() {
    let dir = std::env::args().nth(1).expect("an output directory");
    let eur = Currency::new("EUR").expect("EUR");
    let mut e = Engine::new(Schema::retail_default_in(eur));
    for r in generate(&ShopParams { people: 100, seed: 11 }) {
        if e.now().is_none_or(|now| now < r.timestamp) {
            e.advance_time(r.timestamp).expect("clock");
        }
        e.ingest(&r).expect("valid");
    }
    let now = e.now().expect("clock set");
    let ids: Vec<_> = e.profile_ids().collect();
    e.suppress_profile(ids[0], Suppression::new("complaint", now)).expect("live");
    e.suppress_identifier("email", "nobody@example.com", Suppression::new("bounce", now))
        .expect("valid");
    e.score_rfm("classic", now.checked_add_days(-30).expect("t")).expect("model");
    e.score_rfm("classic", now).expect("model");
    e.score_rfm("engagement", now).expect("model");
    e.register_segment("de", trait_("country").eq("DE")).expect("compiles");
    e.register_segment("carts", event("add_to_cart").in_window(Window::LastDays(30)).at_least(1))
        .expect("compiles");
    e.register_segment("emailable", consent("marketing", "email")).expect("compiles");
    e.drain_changes();
    // Changes left queued: a merge, an order, a clock move, an erasure.
    let later = now.checked_add_millis(60_000).expect("t");
    e.ingest(
        &Record::builder(later, "crm")
            .identifier("user_id", "cust-3")
            .identifier("user_id", "cust-4")
            .event(EventInput::new("add_to_cart", later))
            .build(),
    )
    .expect("valid");
    e.ingest(
        &Record::builder(later, "pos")
            .identifier("user_id", "cust-5")
            .event(EventInput::new("order_completed", later).property("amount", Money::new(1250, eur)))
            .build(),
    )
    .expect("valid");
    e.advance_time(now.checked_add_days(40).expect("t")).expect("clock");
    e.erase(ids[5], ErasureOptions::default()).expect("live");
    let s = e.snapshot();
    let v = s.version;
    std::fs::write(format!("{dir}/v{v}.json"), serde_json::to_vec(&s).expect("json")).expect("write");
    std::fs::write(format!("{dir}/v{v}.postcard"), postcard::to_allocvec(&s).expect("postcard"))
        .expect("write");
    let exprs: Vec<(&str, Expr)> = vec![
        ("de", trait_("country").eq("DE")),
        ("two_orders", event("order_completed").in_window(Window::LastDays(365)).at_least(2)),
        ("emailable_de", consent("marketing", "email").and(trait_("country").eq("DE"))),
    ];
    let counts: Vec<_> = exprs
        .iter()
        .map(|(n, x)| json!([n, e.count(&e.compile(x).expect("compiles")).expect("counts")]))
        .collect();
    let segments: Vec<_> = e
        .segments()
        .map(|(id, name)| json!([name, e.segment_members(id).expect("registered").iter().collect::<Vec<_>>()]))
        .collect();
    let live: Vec<_> = e.profile_ids().collect();
    let profiles: Vec<_> = live.iter().step_by(10).map(|&p| e.profile(p).expect("live")).collect();
    let exports: Vec<_> = live.iter().take(2).map(|&p| e.export(p).expect("live")).collect();
    let answers = json!({
        "profile_count": e.profile_count(),
        "identifier_count": e.identifier_count(),
        "now": e.now(),
        "next_deadline": e.next_deadline(),
        "counts": counts,
        "segments": segments,
        "rfm_classic": e.rfm_segment_sizes("classic").expect("model"),
        "rfm_engagement": e.rfm_segment_sizes("engagement").expect("model"),
        "pending_changes": e.pending_changes(),
        "merge_log": e.merge_log(),
        "profiles": profiles,
        "exports": exports,
    });
    std::fs::write(format!("{dir}/v{v}.answers.json"), serde_json::to_vec(&answers).expect("json"))
        .expect("write");
}
