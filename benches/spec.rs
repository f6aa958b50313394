//! Segment-Spec messages in: parse and ingest 1,000,000 messages (mixed identify/track,
//! about 690 bytes each with `context`) of the identity workload's persons, next to
//! ingesting the same records already parsed and a two-thread pipeline (parse on one,
//! ingest on the other), in one run.
//!
//! `cargo bench --bench spec`
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

use audience::spec::{Mapping, SpecMapper};
use audience::workload::identity::{IdentityParams, Variant};
use audience::workload::spec::messages;
use audience::{Engine, Record, Schema};

fn bench(c: &mut Criterion) {
    let lines = messages(&IdentityParams::full(Variant::Default));
    let bytes: usize = lines.iter().map(String::len).sum();
    let schema = Schema::retail_default();
    let mapper = SpecMapper::new(&schema, Mapping::default()).unwrap();
    let start = Instant::now();
    let records: Vec<Record> = lines.iter().map(|l| mapper.record(l).unwrap()).collect();
    let parse = start.elapsed();
    eprintln!(
        "{} messages, {:.0} bytes on average; parse and map alone: {:.2} s ({:.0} messages/s)",
        lines.len(),
        bytes as f64 / lines.len() as f64,
        parse.as_secs_f64(),
        lines.len() as f64 / parse.as_secs_f64()
    );
    let mut group = c.benchmark_group("spec/1M");
    group.sample_size(10);
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.bench_function("parse_and_ingest", |b| {
        b.iter_batched(
            || Engine::new(schema.clone()),
            |mut engine| {
                for line in &lines {
                    engine.ingest_spec(&mapper, line).unwrap();
                }
                engine
            },
            BatchSize::PerIteration,
        )
    });
    // What a host gets by parsing on one thread and ingesting on another (the mapper is
    // `Sync`; the engine stays on one thread).
    group.bench_function("parse_and_ingest_pipelined", |b| {
        b.iter_batched(
            || Engine::new(schema.clone()),
            |mut engine| {
                std::thread::scope(|s| {
                    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Record>>(64);
                    let mapper = &mapper;
                    let lines = &lines;
                    s.spawn(move || {
                        for chunk in lines.chunks(256) {
                            let batch = chunk.iter().map(|l| mapper.record(l).unwrap()).collect();
                            tx.send(batch).unwrap();
                        }
                    });
                    for batch in rx {
                        for r in &batch {
                            engine.ingest(r).unwrap();
                        }
                    }
                });
                engine
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("ingest_parsed_records", |b| {
        b.iter_batched(
            || Engine::new(schema.clone()),
            |mut engine| {
                for r in &records {
                    engine.ingest(r).unwrap();
                }
                engine
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("parse_only", |b| {
        b.iter(|| {
            lines
                .iter()
                .map(|l| mapper.record(l).unwrap().identifiers.len())
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
