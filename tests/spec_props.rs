//! Segment-Spec streams: any permutation of a message stream with distinct timestamps
//! (repeats of a message included) gives the same profiles, computed traits and segment
//! members — whether segments were registered before the stream or after it.

use audience::schema::{Computation, ComputedDef, EventFilter, Field};
use audience::segment::{Expr, consent, event};
use audience::spec::{Mapping, ProfileSummary, SpecMapper, summaries};
use audience::{Engine, Schema, Timestamp, Window};
use proptest::prelude::*;

fn schema() -> Schema {
    let mut def = Schema::retail_default().def().clone();
    let orders = || EventFilter::kind("order_completed");
    def.computed.extend([
        ComputedDef::new("orders_30d", orders(), Computation::Count).window(Window::LastDays(30)),
        ComputedDef::new(
            "revenue",
            orders(),
            Computation::Sum {
                property: "amount".into(),
            },
        )
        .currency(audience::Currency::new("USD").unwrap()),
        ComputedDef::new(
            "last_page",
            EventFilter::kind("page_view"),
            Computation::LastValue {
                field: Field::Property("url".into()),
            },
        ),
    ]);
    Schema::from_def(def).unwrap()
}

fn segments() -> Vec<(&'static str, Expr)> {
    vec![
        ("buyers", event("order_completed").happened()),
        ("emailable", consent("marketing", "email")),
        (
            "recent_browsers",
            event("page_view").in_window(Window::LastDays(3)).happened(),
        ),
    ]
}

/// One message of person `p` at `secs` (distinct per message).
fn message(i: usize, (p, kind, variant, cents): (u8, u8, u8, u32), secs: i64) -> String {
    let at = Timestamp::from_secs(1_790_000_000 + secs).unwrap();
    let ts = chrono::DateTime::<chrono::Utc>::from(at)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let anon = format!("a{p}-{}", variant % 2);
    let email = if variant % 3 == 0 {
        format!("P{p}@Example.COM")
    } else {
        format!("p{p}@example.com")
    };
    let head = format!(r#""messageId":"m{i}","timestamp":"{ts}","sentAt":"2030-01-01T00:00:00Z""#);
    match kind % 6 {
        0 => format!(
            r#"{{"type":"identify",{head},"userId":"u{p}","anonymousId":"{anon}","traits":{{"email":"{email}","firstName":"N{variant}","loyalty_points":{variant}}},"context":{{"timezone":"Europe/Paris"}}}}"#
        ),
        1 => format!(
            r#"{{"type":"track",{head},"anonymousId":"{anon}","event":"Order Completed","properties":{{"order_id":"o{i}","revenue":{}.{:02},"currency":"USD","products":[{{"sku":"s1"}}]}}}}"#,
            cents / 100,
            cents % 100
        ),
        2 => format!(
            r#"{{"type":"page",{head},"anonymousId":"{anon}","properties":{{"url":"/p/{variant}"}}}}"#
        ),
        3 => format!(r#"{{"type":"alias",{head},"previousId":"{anon}","userId":"u{p}"}}"#),
        4 => format!(
            r#"{{"type":"track",{head},"userId":"u{p}","event":"Email Opened","context":{{"consent":{{"categoryPreferences":{{"marketing":{}}}}}}}}}"#,
            variant % 2 == 0
        ),
        _ => format!(
            r#"{{"type":"track",{head},"userId":"u{p}","event":"Unsubscribed","properties":{{"channel":"email"}}}}"#
        ),
    }
}

/// The summaries after ingesting `lines` in order: either with the clock at the latest
/// message time and segments registered first (kept current as messages arrive), or with
/// the clock unset, then moved, then segments registered (evaluated in one batch).
fn run(lines: &[String], register_first: bool) -> (Vec<ProfileSummary>, Vec<u64>) {
    let mapper = SpecMapper::new(&schema(), Mapping::default()).unwrap();
    let latest = lines
        .iter()
        .map(|line| mapper.record(line).unwrap().timestamp)
        .max()
        .unwrap();
    let mut e = Engine::new(schema());
    let register = |e: &mut Engine| {
        segments()
            .into_iter()
            .map(|(name, expr)| e.register_segment(name, expr).unwrap())
            .collect::<Vec<_>>()
    };
    let mut ids = Vec::new();
    if register_first {
        e.advance_time(latest).unwrap();
        ids = register(&mut e);
    }
    for line in lines {
        e.ingest_spec(&mapper, line).unwrap();
    }
    if !register_first {
        e.advance_time(latest).unwrap();
        ids = register(&mut e);
    }
    e.internal_validate().unwrap();
    let counts = ids.iter().map(|id| e.segment_count(*id).unwrap()).collect();
    (summaries(&e), counts)
}

fn stream() -> impl Strategy<Value = (Vec<String>, Vec<String>)> {
    prop::collection::vec((0u8..4, 0u8..6, any::<u8>(), 0u32..100_000), 1..40).prop_flat_map(
        |specs| {
            let mut lines: Vec<String> = specs
                .iter()
                .enumerate()
                .map(|(i, s)| message(i, *s, i64::try_from(i).unwrap() * 3_671))
                .collect();
            // Repeats of a message (same messageId, same content) are duplicates.
            let repeats: Vec<String> = lines.iter().step_by(7).cloned().collect();
            lines.extend(repeats);
            let original = lines.clone();
            (Just(original), Just(lines).prop_shuffle())
        },
    )
}

proptest! {
    #[test]
    fn any_permutation_gives_the_same_output((original, shuffled) in stream()) {
        let (a, a_counts) = run(&original, false);
        let (b, b_counts) = run(&shuffled, true);
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(&a_counts, &b_counts);
        let members: usize = a.iter().map(|s| s.segments.len()).sum();
        prop_assert_eq!(members as u64, a_counts.iter().sum::<u64>());
    }
}
