//! Segment-Spec message lines into a fresh engine: every line is either a record or a
//! typed error; an accepted one leaves a valid engine, a refused one an unchanged one.
#![no_main]

use audience::spec::{Mapping, SpecMapper};
use audience::{Engine, Schema};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let schema = Schema::retail_default();
    let Ok(mapper) = SpecMapper::new(&schema, Mapping::default()) else {
        return;
    };
    let mut e = Engine::new(schema);
    for line in text.lines().take(64) {
        let Ok(record) = mapper.record(line) else {
            continue;
        };
        let before = e.snapshot();
        if e.ingest(&record).is_err() {
            assert_eq!(e.snapshot(), before, "a refused record changed the engine");
        }
    }
    e.internal_validate().expect("a valid engine");
});
