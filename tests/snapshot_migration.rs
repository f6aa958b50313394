//! Snapshots of an older format version (fixtures written by the code of that version,
//! see `tests/data/snapshot/README.md`) decode, migrate and restore, and the restored
//! engine answers what the old code answered.

use audience::Engine;
use audience::segment::{Expr, consent, event, trait_};
use audience::snapshot::{SNAPSHOT_VERSION, Snapshot};
use audience::{Cause, ProfileId, Window};
use serde_json::{Value, json};

const V1_JSON: &[u8] = include_bytes!("data/snapshot/v1.json");
const V1_POSTCARD: &[u8] = include_bytes!("data/snapshot/v1.postcard");
const V1_ANSWERS: &str = include_str!("data/snapshot/v1.answers.json");
const V2_POSTCARD: &[u8] = include_bytes!("data/snapshot/v2.postcard");
const V2_ANSWERS: &str = include_str!("data/snapshot/v2.answers.json");
const V3_POSTCARD: &[u8] = include_bytes!("data/snapshot/v3.postcard");
const V4_POSTCARD: &[u8] = include_bytes!("data/snapshot/v4.postcard");

/// The answers `tests/data/snapshot/README.md`'s generator records, from `e`.
fn answers(e: &Engine) -> Value {
    let exprs: Vec<(&str, Expr)> = vec![
        ("de", trait_("country").eq("DE")),
        (
            "two_orders",
            event("order_completed")
                .in_window(Window::LastDays(365))
                .at_least(2),
        ),
        (
            "emailable_de",
            consent("marketing", "email").and(trait_("country").eq("DE")),
        ),
    ];
    let counts: Vec<_> = exprs
        .iter()
        .map(|(n, x)| json!([n, e.count(&e.compile(x).unwrap()).unwrap()]))
        .collect();
    let segments: Vec<_> = e
        .segments()
        .map(|(id, name)| {
            let members: Vec<u32> = e.segment_members(id).unwrap().iter().collect();
            json!([name, members])
        })
        .collect();
    let live: Vec<ProfileId> = e.profile_ids().collect();
    let profiles: Vec<_> = live
        .iter()
        .step_by(10)
        .map(|&p| e.profile(p).unwrap())
        .collect();
    let exports: Vec<_> = live.iter().take(2).map(|&p| e.export(p).unwrap()).collect();
    json!({
        "profile_count": e.profile_count(),
        "identifier_count": e.identifier_count(),
        "now": e.now(),
        "next_deadline": e.next_deadline(),
        "counts": counts,
        "segments": segments,
        "rfm_classic": e.rfm_segment_sizes("classic").unwrap(),
        "rfm_engagement": e.rfm_segment_sizes("engagement").unwrap(),
        "pending_changes": e.pending_changes(),
        "merge_log": e.merge_log(),
        "profiles": profiles,
        "exports": exports,
    })
}

/// The first place where `got` and `expected` differ, as a path with both values.
fn first_difference(path: &str, got: &Value, expected: &Value) -> Option<String> {
    match (got, expected) {
        (Value::Object(g), Value::Object(x)) => {
            let keys: std::collections::BTreeSet<_> = g.keys().chain(x.keys()).collect();
            keys.into_iter().find_map(|k| {
                let (a, b) = (&g.get(k).cloned(), &x.get(k).cloned());
                let (a, b) = (
                    a.clone().unwrap_or(Value::Null),
                    b.clone().unwrap_or(Value::Null),
                );
                first_difference(&format!("{path}.{k}"), &a, &b)
            })
        }
        (Value::Array(g), Value::Array(x)) if g.len() == x.len() => g
            .iter()
            .zip(x)
            .enumerate()
            .find_map(|(i, (a, b))| first_difference(&format!("{path}[{i}]"), a, b)),
        _ => (got != expected).then(|| format!("{path}: got {got}, expected {expected}")),
    }
}

fn assert_answers_as(e: &Engine, answers_then: &str) {
    let mut expected: Value = serde_json::from_str(answers_then).unwrap();
    // Version 1 listed an export's identifiers in the order they were linked; they are
    // sorted by (kind, value) since.
    for export in expected["exports"].as_array_mut().unwrap() {
        let ids = export["identifier_records"].as_array_mut().unwrap();
        ids.sort_by_key(|i| (i["kind"].to_string(), i["value"].to_string()));
    }
    if let Some(d) = first_difference("", &answers(e), &expected) {
        panic!("answers differ from the old version's at {d}");
    }
}

#[test]
fn a_version_1_snapshot_decodes_migrated_from_json_and_postcard_alike() {
    let from_json: Snapshot = serde_json::from_slice(V1_JSON).unwrap();
    let from_postcard: Snapshot = postcard::from_bytes(V1_POSTCARD).unwrap();
    assert_eq!(from_json.version, SNAPSHOT_VERSION);
    assert_eq!(from_json, from_postcard);
    assert_eq!(
        from_json.checksum,
        Snapshot::checksum_of(&from_json.state),
        "checksummed anew after migration"
    );
    // Version 1 had no retention: every kind keeps its events forever.
    let schema = &from_json.state.schema;
    assert!(!schema.event_kinds.is_empty());
    assert!(
        schema
            .event_kinds
            .iter()
            .all(|k| k.retention_days.is_none())
    );
    assert!(from_json.state.config.retention_on_advance);
}

#[test]
fn a_restored_version_1_snapshot_answers_what_version_1_answered() {
    let e = Engine::restore(postcard::from_bytes(V1_POSTCARD).unwrap()).unwrap();
    e.internal_validate().unwrap();
    assert_answers_as(&e, V1_ANSWERS);
    // It is a current engine now: its snapshot round-trips in the current format.
    let again = e.snapshot();
    let bytes = postcard::to_allocvec(&again).unwrap();
    let restored = Engine::restore(postcard::from_bytes(&bytes).unwrap()).unwrap();
    assert_eq!(restored.snapshot(), again);
    assert_answers_as(&restored, V1_ANSWERS);
}

#[test]
fn a_version_2_snapshot_decodes_migrated_and_answers_the_same() {
    let s: Snapshot = postcard::from_bytes(V2_POSTCARD).unwrap();
    assert_eq!(s.version, SNAPSHOT_VERSION);
    assert_eq!(s.state.schema.record_retention_days, None);
    let e = Engine::restore(s).unwrap();
    e.internal_validate().unwrap();
    assert_answers_as(&e, V2_ANSWERS);
}

/// Version 3 (record retention) migrates: the expression limits take their defaults.
/// Its answers are version 2's (the same engine; the format added only the record
/// retention).
#[test]
fn a_version_3_snapshot_decodes_migrated_and_answers_the_same() {
    let s: Snapshot = postcard::from_bytes(V3_POSTCARD).unwrap();
    assert_eq!(s.version, audience::snapshot::SNAPSHOT_VERSION);
    assert_eq!(s.state.config.max_expr_depth, audience::segment::MAX_DEPTH);
    let e = Engine::restore(s.clone()).unwrap();
    e.internal_validate().unwrap();
    assert_answers_as(&e, V2_ANSWERS);
    // Migrated, it is the current version's fixture.
    assert_eq!(postcard::to_allocvec(&e.snapshot()).unwrap(), V4_POSTCARD);
}

/// The current version's own fixture: a change to the format that forgets to bump the
/// version (a field added, an enum variant inserted) fails here. Its answers are still
/// version 2's (the format added only settings).
#[test]
fn the_current_version_fixture_still_decodes_and_answers_the_same() {
    let s: Snapshot = postcard::from_bytes(V4_POSTCARD).unwrap();
    assert_eq!(s.version, 4);
    let e = Engine::restore(s.clone()).unwrap();
    e.internal_validate().unwrap();
    assert_answers_as(&e, V2_ANSWERS);
    assert_answers_as(&e, V1_ANSWERS);
    assert_eq!(postcard::to_allocvec(&e.snapshot()).unwrap(), V4_POSTCARD);
}

#[test]
fn a_restored_version_1_engine_keeps_going() {
    let mut e = Engine::restore(serde_json::from_slice(V1_JSON).unwrap()).unwrap();
    assert_eq!(
        e.drain_changes().len(),
        3,
        "the changes version 1 left queued"
    );
    let now = e.now().unwrap();
    let cart = audience::Record::builder(now, "web")
        .identifier("user_id", "cust-7")
        .event(audience::EventInput::new("add_to_cart", now))
        .build();
    let p = e.ingest(&cart).unwrap().profile;
    let carts = e.segments().find(|(_, n)| *n == "carts").unwrap().0;
    let entered = e.drain_changes();
    assert!(entered.iter().any(|c| c.segment == carts && c.profile == p));
    assert!(e.segment_members(carts).unwrap().contains(p.0));
    e.advance_time(now.checked_add_days(31).unwrap()).unwrap();
    let changes = e.drain_changes();
    assert!(
        changes.iter().any(|c| c.segment == carts
            && c.profile == p
            && matches!(c.cause, Cause::Clock { .. })),
        "the carts window moves on: {changes:?}"
    );
    e.internal_validate().unwrap();
}

/// A snapshot's JSON text with its fields in the order this crate writes them
/// (`serde_json::Value` sorts keys, which would put `state` before `version`).
fn in_order(json: &Value) -> String {
    format!(
        r#"{{"version":{},"checksum":{},"state":{}}}"#,
        json["version"], json["checksum"], json["state"]
    )
}

#[test]
fn a_corrupt_version_1_snapshot_is_a_decoding_error_naming_the_checksum() {
    let mut bytes = V1_POSTCARD.to_vec();
    // The first byte is the version (1); the checksum follows as a varint.
    assert_eq!(bytes[0], 1);
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    let err = postcard::from_bytes::<Snapshot>(&bytes);
    assert!(err.is_err());
    let mut json: Value = serde_json::from_slice(V1_JSON).unwrap();
    json["state"]["clock"] = json!(1);
    let err = serde_json::from_str::<Snapshot>(&in_order(&json)).unwrap_err();
    assert!(err.to_string().contains("checksum mismatch"), "{err}");
}

#[test]
fn unknown_versions_and_state_before_version_are_decoding_errors() {
    let mut json: Value = serde_json::from_slice(V1_JSON).unwrap();
    json["version"] = json!(99);
    let err = serde_json::from_str::<Snapshot>(&in_order(&json)).unwrap_err();
    assert!(err.to_string().contains("version 99"), "{err}");
    let current =
        serde_json::to_value(Engine::new(audience::Schema::retail_default()).snapshot()).unwrap();
    let reordered = format!(
        r#"{{"state":{},"version":{},"checksum":{}}}"#,
        current["state"], current["version"], current["checksum"]
    );
    let err = serde_json::from_str::<Snapshot>(&reordered).unwrap_err();
    assert!(err.to_string().contains("before its state"), "{err}");
    let extra = format!(
        r#"{{"version":{},"checksum":{},"state":{},"x":1}}"#,
        current["version"], current["checksum"], current["state"]
    );
    assert!(serde_json::from_str::<Snapshot>(&extra).is_err());
}

/// A flipped, truncated or inflated old snapshot is a decoding or restore error, never a
/// panic and never another engine (the migration path has its own decoders).
#[test]
fn corrupt_old_snapshots_are_refused_or_change_nothing() {
    let original = Engine::restore(postcard::from_bytes(V1_POSTCARD).unwrap())
        .unwrap()
        .snapshot();
    let outcome = |bytes: &[u8]| match postcard::from_bytes::<Snapshot>(bytes) {
        Err(_) => false,
        Ok(s) => match Engine::restore(s) {
            Err(_) => false,
            Ok(e) => {
                assert_eq!(e.snapshot(), original, "a changed snapshot restored");
                true
            }
        },
    };
    let mut restored = 0;
    for i in (0..V1_POSTCARD.len()).step_by(13) {
        let mut flipped = V1_POSTCARD.to_vec();
        flipped[i] ^= 1 << (i % 8);
        restored += usize::from(outcome(&flipped));
    }
    assert_eq!(restored, 0, "the version-1 checksum catches every flip");
    for len in (0..V1_POSTCARD.len()).step_by(211) {
        assert!(!outcome(&V1_POSTCARD[..len]));
    }
    let four_billion = [0xff, 0xff, 0xff, 0xff, 0x0f];
    for i in (0..V1_POSTCARD.len()).step_by(127) {
        let mut hostile = V1_POSTCARD[..i].to_vec();
        hostile.extend_from_slice(&four_billion);
        hostile.extend_from_slice(&V1_POSTCARD[i..]);
        assert!(!outcome(&hostile));
    }
}
