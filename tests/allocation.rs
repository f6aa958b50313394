//! Resource use is bounded by input size: the engine's retained heap grows by at most a
//! fixed multiple of the accepted input (as JSON), refused input leaves nothing behind,
//! and no single call — a record, a Segment-Spec line, a compile of the largest allowed
//! expression — allocates past a budget set from its input and the engine's size.
//!
//! A binary of its own, with a counting allocator and one test, so nothing else
//! allocates meanwhile. The budget is enforced by the allocator: an allocation past it
//! fails, which aborts the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::alloc::System;

use audience::segment::{Expr, trait_};
use audience::{Engine, EventInput, Record, Schema, Timestamp};
use cap::Cap;

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// Retained heap per byte of accepted input (JSON), at most: the documented multiple.
const RETAINED_PER_INPUT_BYTE: usize = 8;
/// What one call may allocate beyond the heap it starts with, per byte of its input.
const CALL_PER_INPUT_BYTE: usize = 64;
/// A constant allowance: tables' first allocations and growth steps.
const SLACK: usize = 1 << 20;

/// xorshift64*: deterministic input without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn text(&mut self, max: u64) -> String {
        let len = 1 + self.below(max);
        (0..len)
            .map(|_| char::from(b'a' + self.below(26) as u8))
            .collect()
    }
}

/// Runs `f` with the allocator capped at what is allocated now plus `budget`.
fn within<T>(budget: usize, f: impl FnOnce() -> T) -> T {
    /// Lifts the cap however `f` ends, so a failed assertion can still be reported.
    struct Lift;
    impl Drop for Lift {
        fn drop(&mut self) {
            let _ = ALLOCATOR.set_limit(usize::MAX);
        }
    }
    ALLOCATOR
        .set_limit(ALLOCATOR.allocated().saturating_add(budget))
        .unwrap();
    let _lift = Lift;
    f()
}

fn record(rng: &mut Rng, i: u64) -> Record {
    let at = Timestamp::from_secs(1_700_000_000 + (i as i64) * 60).unwrap();
    let mut b = Record::builder(at, "web")
        .identifier("anonymous_id", format!("a{i}"))
        .identifier("user_id", format!("u{}", rng.below(5_000)))
        .trait_value("city", rng.text(2_048))
        .trait_value("first_name", rng.text(32));
    if rng.below(2) == 0 {
        b = b.identifier("email", format!("e{}@x.example", rng.below(7_000)));
    }
    for k in 0..rng.below(4) {
        let ev = EventInput::new("product_view", at)
            .property("category", rng.text(256))
            .property("product_id", format!("p{i}-{k}"));
        b = b.event(ev);
    }
    b.build()
}

fn json_len(r: &Record) -> usize {
    serde_json::to_string(r).unwrap().len()
}

#[test]
fn allocation_is_bounded_by_input_size() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let base = ALLOCATOR.allocated();
    let mut engine = Engine::new(Schema::retail_default());

    // Accepted records: retained growth within the multiple, each call within budget.
    let mut input = 0usize;
    for i in 0..10_000 {
        let r = record(&mut rng, i);
        let size = json_len(&r);
        input += size;
        let engine_now = ALLOCATOR.allocated() - base;
        within(engine_now * 2 + CALL_PER_INPUT_BYTE * size + SLACK, || {
            engine.ingest(&r).unwrap();
        });
    }
    let retained = ALLOCATOR.allocated() - base;
    println!(
        "accepted: {input} bytes of JSON in, {retained} bytes retained ({:.2}x)",
        retained as f64 / input as f64
    );
    assert!(
        retained <= RETAINED_PER_INPUT_BYTE * input + SLACK,
        "{retained} bytes retained for {input} bytes of input"
    );

    // An event-heavy stream, the densest input there is: short records of many small
    // events (orders with money, views with short properties) into a second engine
    // with registered window segments, so the event store, computed traits, window
    // expiry and segment maintenance all grow.
    let base_events = ALLOCATOR.allocated();
    let mut events_engine = Engine::new(Schema::retail_default());
    let usd = audience::Currency::new("USD").unwrap();
    events_engine
        .advance_time(Timestamp::from_secs(1_700_000_000).unwrap())
        .unwrap();
    let buyers = audience::segment::event("order_completed")
        .in_window(audience::Window::LastDays(7))
        .at_least(2);
    events_engine.register_segment("buyers", buyers).unwrap();
    let viewers = audience::segment::event("product_view")
        .in_window(audience::Window::LastDays(1))
        .happened();
    events_engine.register_segment("viewers", viewers).unwrap();
    let mut event_input = 0usize;
    for i in 0..2_000u64 {
        let at = Timestamp::from_secs(1_700_000_000 + (i as i64) * 600).unwrap();
        let mut b = Record::builder(at, "web").identifier("user_id", format!("u{}", i % 300));
        for k in 0..32u64 {
            let when =
                Timestamp::from_secs(1_700_000_000 + (i as i64) * 600 - (k as i64) * 60).unwrap();
            let ev = if k % 4 == 0 {
                EventInput::new("order_completed", when)
                    .property("amount", audience::Money::new(100 + k as i64, usd))
            } else {
                EventInput::new("product_view", when)
                    .property("category", format!("c{}", rng.below(20)))
            };
            b = b.event(ev);
        }
        let r = b.build();
        let size = json_len(&r);
        event_input += size;
        let engine_now = ALLOCATOR.allocated() - base_events;
        within(engine_now * 2 + CALL_PER_INPUT_BYTE * size + SLACK, || {
            events_engine.advance_time(at).unwrap();
            events_engine.ingest(&r).unwrap();
        });
    }
    let event_retained = ALLOCATOR.allocated() - base_events;
    println!(
        "events: {event_input} bytes of JSON in (64,000 events), {event_retained} bytes retained ({:.2}x)",
        event_retained as f64 / event_input as f64
    );
    assert!(
        event_retained <= RETAINED_PER_INPUT_BYTE * event_input + SLACK,
        "{event_retained} bytes retained for {event_input} bytes of events"
    );
    assert_eq!(events_engine.profile_ids().count(), 300);
    let buyers = events_engine.segment_id("buyers").unwrap();
    assert!(!events_engine.segment_members(buyers).unwrap().is_empty());
    drop(events_engine);

    // Refused records leave nothing behind.
    let long = "x".repeat(engine.config().max_text_bytes + 1);
    let at = Timestamp::from_secs(1_700_000_000).unwrap();
    let held = ALLOCATOR.allocated();
    for i in 0..2_000 {
        let bad = match i % 3 {
            0 => Record::builder(at, "web")
                .identifier("user_id", "u1")
                .trait_value("city", long.as_str())
                .build(),
            1 => Record::builder(at, "web")
                .identifier("user_id", "u1")
                .trait_value("no_such_trait", 1i64)
                .build(),
            _ => {
                let mut b = Record::builder(at, "web");
                for k in 0..=engine.config().max_identifiers_per_record {
                    b = b.identifier("anonymous_id", format!("z{i}-{k}"));
                }
                b.build()
            }
        };
        let size = json_len(&bad);
        within(CALL_PER_INPUT_BYTE * size + SLACK, || {
            assert!(engine.ingest(&bad).is_err());
        });
    }
    let left = ALLOCATOR.allocated().saturating_sub(held);
    println!("refused: 2,000 records, {left} bytes left behind");
    assert!(left <= 4_096, "refused records left {left} bytes");

    // The largest expression allowed compiles and evaluates within budget, and one past
    // the node limit is refused within budget.
    let nodes = engine.config().max_expr_nodes;
    let wide = |n: usize| Expr::Or((0..n).map(|k| trait_("city").eq(format!("c{k}"))).collect());
    for (n, ok) in [(nodes - 1, true), (nodes * 10, false)] {
        let expr = wide(n);
        let size = serde_json::to_string(&expr).unwrap().len();
        within(CALL_PER_INPUT_BYTE * size + 4 * SLACK, || {
            let plan = engine.compile(&expr);
            assert_eq!(plan.is_ok(), ok, "{n} nodes");
            if let Ok(plan) = plan {
                engine.count(&plan).unwrap();
            }
        });
    }

    // Segment-Spec lines at and past the nesting limit, and one huge array.
    #[cfg(feature = "spec")]
    {
        let mapper =
            audience::spec::SpecMapper::new(engine.schema(), audience::spec::Mapping::default())
                .unwrap();
        let nested = |depth: usize| {
            let open = "[".repeat(depth);
            let close = "]".repeat(depth);
            format!(r#"{{"type":"identify","userId":"n1","traits":{{"deep":{open}{close}}}}}"#)
        };
        let wide_array = format!(
            r#"{{"type":"identify","userId":"n2","traits":{{"wide":[{}]}}}}"#,
            vec!["1"; 200_000].join(",")
        );
        for line in [nested(60), nested(100_000), wide_array] {
            within(CALL_PER_INPUT_BYTE * line.len() + SLACK, || {
                let _ = engine.ingest_spec(&mapper, &line);
            });
        }
    }
}
