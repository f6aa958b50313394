//! One engine shared by a writer and readers behind a `RwLock` — the concurrency
//! contract of `audience` (see the crate docs, "Sharing an engine between threads").
//!
//! ```text
//! cargo run --release --example shared_engine -- [people] [readers]
//! ```
//!
//! The writer ingests `people` (default 200,000) records — carts and orders of
//! `people / 2` users, a third of whom order — in batches of 500 under
//! the write lock; each reader counts a registered segment under the read lock as often
//! as it can. At the end it prints the writer's rate, how many counts each reader did, and
//! the longest a reader waited for the lock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use audience::segment::event;
use audience::{Engine, EventInput, Record, Schema, Timestamp, Window};

fn main() {
    let mut args = std::env::args().skip(1);
    let people: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let readers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let start = Timestamp::from_secs(1_700_000_000).expect("in range");
    let mut engine = Engine::new(Schema::retail_default());
    engine.advance_time(start).expect("first clock");
    let carts = engine
        .register_segment(
            "carts_without_order",
            event("add_to_cart")
                .in_window(Window::LastDays(7))
                .at_least(1)
                .and(
                    event("order_completed")
                        .in_window(Window::LastDays(7))
                        .at_most(0),
                ),
        )
        .expect("valid segment");
    let engine = Arc::new(RwLock::new(engine));
    let done = Arc::new(AtomicBool::new(false));

    let reader_handles: Vec<_> = (0..readers)
        .map(|_| {
            let engine = Arc::clone(&engine);
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let (mut reads, mut longest_wait, mut last) = (0u64, Duration::ZERO, 0u64);
                while !done.load(Ordering::Relaxed) {
                    let asked = Instant::now();
                    let guard = engine.read().expect("not poisoned");
                    longest_wait = longest_wait.max(asked.elapsed());
                    last = guard.segment_count(carts).expect("registered");
                    drop(guard);
                    reads += 1;
                }
                (reads, longest_wait, last)
            })
        })
        .collect();

    let began = Instant::now();
    let records: Vec<Record> = (0..people)
        .map(|i| {
            // During the day before the clock, so inside the segment's window. Everyone
            // adds to cart; a third of them order on their second visit.
            let secs = 1_700_000_000 - 86_400 + i64::try_from(i % 86_400).unwrap_or(0);
            let at = Timestamp::from_secs(secs).expect("in range");
            let half = (people / 2).max(1);
            let kind = if i >= half && i % 3 == 0 {
                "order_completed"
            } else {
                "add_to_cart"
            };
            Record::builder(at, "web")
                .identifier("user_id", format!("u{}", i % half))
                .event(EventInput::new(kind, at))
                .build()
        })
        .collect();
    let mut longest_batch = Duration::ZERO;
    for batch in records.chunks(500) {
        let mut guard = engine.write().expect("not poisoned");
        let held = Instant::now();
        for r in batch {
            guard.ingest(r).expect("valid record");
        }
        guard.drain_changes();
        longest_batch = longest_batch.max(held.elapsed());
    }
    let wrote = began.elapsed();
    done.store(true, Ordering::Relaxed);
    println!(
        "writer: {people} records in {:.2} s ({:.0} records/s), in batches of 500; \
         the longest batch held the lock {:.2} ms",
        wrote.as_secs_f64(),
        people as f64 / wrote.as_secs_f64(),
        longest_batch.as_secs_f64() * 1e3
    );
    for (i, h) in reader_handles.into_iter().enumerate() {
        let (reads, wait, last) = h.join().expect("reader done");
        println!(
            "reader {i}: {reads} counts, longest wait for the lock {:.2} ms, last count {last}",
            wait.as_secs_f64() * 1e3
        );
    }
    let engine = engine.read().expect("not poisoned");
    println!(
        "final: {} profiles, {} in carts_without_order",
        engine.profile_count(),
        engine.segment_count(carts).expect("registered")
    );
}
