//! Snapshot bytes (postcard, or JSON when they are text) into `restore`: a typed error or
//! a valid engine whose snapshot restores to itself.
#![no_main]

use audience::Engine;
use audience::snapshot::Snapshot;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let decoded = match postcard::from_bytes::<Snapshot>(data) {
        Ok(s) => Some(s),
        Err(_) => std::str::from_utf8(data)
            .ok()
            .and_then(|t| serde_json::from_str::<Snapshot>(t).ok()),
    };
    let Some(snapshot) = decoded else { return };
    let Ok(engine) = Engine::restore(snapshot) else {
        return;
    };
    engine
        .internal_validate()
        .expect("a restored engine is valid");
    let again = engine.snapshot();
    let back = Engine::restore(again.clone()).expect("a snapshot restores");
    assert_eq!(back.snapshot(), again);
});
