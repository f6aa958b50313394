//! Segment-Spec messages through the public API: a fixture of real-shaped messages
//! asserted field by field, the mapping's options, and bad input.

use audience::spec::{
    AmountError, Mapping, MappingError, Rounding, SpecError, SpecMapper, SpecProblem, summaries,
};
use audience::{CurrentValue, Engine, EventView, Money, Schema, Timestamp, Value};

use crate::common::usd;

const FIXTURE: &str = include_str!("data/spec/fixture.jsonl");
const CRM: &str = include_str!("data/spec/crm.jsonl");

fn mapper(source: &str) -> SpecMapper {
    let mapping = Mapping {
        source: source.into(),
        ..Mapping::default()
    };
    SpecMapper::new(&Schema::retail_default(), mapping).unwrap()
}

fn at(text: &str) -> Timestamp {
    let t = chrono::DateTime::parse_from_rfc3339(text).unwrap();
    Timestamp::try_from(t.with_timezone(&chrono::Utc)).unwrap()
}

fn text(v: &str) -> Value {
    Value::Text(v.into())
}

/// The engine after the fixture (web) and the CRM import.
fn fixture_engine() -> Engine {
    let mut e = Engine::new(Schema::retail_default());
    let web = mapper("web");
    for (n, line) in FIXTURE.lines().enumerate() {
        let report = e.ingest_spec(&web, line).unwrap();
        // Line 6 repeats line 5's messageId.
        assert_eq!(report.duplicate_of.is_some(), n == 5, "line {}", n + 1);
    }
    e.ingest_spec(&mapper("crm"), CRM).unwrap();
    e
}

fn event<'a>(events: &'a [EventView], kind: &str) -> Vec<&'a EventView> {
    events.iter().filter(|ev| ev.kind == kind).collect()
}

fn prop<'a>(ev: &'a EventView, name: &str) -> Option<&'a Value> {
    ev.properties
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

#[test]
fn fixture_stitches_one_person_field_by_field() {
    let e = fixture_engine();
    assert_eq!(e.profile_count(), 2);
    let ann = e.find("user_id", "u-1001").unwrap().unwrap();
    for (kind, value) in [
        ("anonymous_id", "a-7f3c"),
        ("anonymous_id", "a-ios-19"), // the alias's previousId
        ("email", "ann@example.com"), // web "Ann@Example.com", CRM "ANN@example.COM"
        ("phone", "+14155550132"),
    ] {
        assert_eq!(e.find(kind, value).unwrap(), Some(ann), "{kind} {value}");
    }
    let view = e.profile(ann).unwrap();
    assert_eq!(view.identifiers.len(), 5);
    // Traits: top level, nested paths, context fields, schema names; not the group's.
    assert_eq!(view.value("first_name"), Some(&text("Ann")));
    assert_eq!(view.value("last_name"), Some(&text("Schmidt")));
    assert_eq!(view.value("city"), Some(&text("Berlin")));
    assert_eq!(view.value("country"), Some(&text("DE")));
    assert_eq!(view.value("time_zone"), Some(&text("Europe/Berlin")));
    assert_eq!(
        view.value("signup_at"),
        Some(&Value::Timestamp(at("2026-11-02T09:20:00Z")))
    );
    assert_eq!(view.value("vip"), Some(&Value::Boolean(true)));
    assert_eq!(view.value("loyalty_points"), Some(&Value::Integer(250)));
    assert_eq!(
        view.value("interests"),
        Some(&Value::TextSet(vec!["jazz".into(), "running".into()]))
    );
    let first_name = view.trait_view("first_name").unwrap();
    assert_eq!(
        first_name.observations.len(),
        1,
        "group traits are the group's"
    );
    assert_eq!(first_name.source, "web");
    assert_eq!(view.trait_view("vip").unwrap().source, "crm");

    // Events: page (from originalTimestamp), product view, one order, screen, open,
    // unsubscribe.
    let kinds: Vec<&str> = view.events.iter().map(|ev| ev.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "page_view",
            "product_view",
            "order_completed",
            "page_view",
            "email_open",
            "unsubscribe"
        ]
    );
    let page = &view.events[0];
    assert_eq!(page.at, at("2026-11-02T09:16:10Z"));
    assert_eq!(prop(page, "url"), Some(&text("https://shop.example/shoes")));
    assert_eq!(prop(page, "category"), Some(&text("shoes")));
    let viewed = event(&view.events, "product_view")[0];
    assert_eq!(prop(viewed, "product_id"), Some(&text("sku-42")));
    assert_eq!(prop(viewed, "price"), Some(&Value::Money(usd(8950))));
    assert_eq!(prop(viewed, "brand"), Some(&text("Acme")));
    let orders = event(&view.events, "order_completed");
    assert_eq!(orders.len(), 1, "the duplicate messageId changed nothing");
    let order = orders[0];
    assert_eq!(order.at, at("2026-11-02T09:31:00Z"));
    assert_eq!(prop(order, "order_id"), Some(&text("o-5001")));
    assert_eq!(
        prop(order, "amount"),
        Some(&Value::Money(usd(8950))),
        "revenue before total, lower-case currency"
    );
    assert_eq!(
        prop(order, "items"),
        Some(&Value::Integer(2)),
        "products counted"
    );
    assert_eq!(prop(order, "category"), Some(&text("shoes")));
    let screen = &view.events[3];
    assert_eq!(prop(screen, "url"), Some(&text("app://cart")));
    assert_eq!(
        prop(event(&view.events, "email_open")[0], "campaign"),
        Some(&text("november-sale"))
    );

    // Consent: categoryPreferences (case-insensitive, unknown categories ignored), then
    // the unsubscribe narrowed to its channel.
    assert!(
        !view.consented("marketing", "email"),
        "unsubscribed from email"
    );
    assert!(
        view.consented("marketing", "sms"),
        "granted on every channel"
    );
    assert!(
        !view.consented("sale_or_share", "ads"),
        "Advertising: false"
    );
    assert_eq!(view.consent_history.len(), 3);

    // The other visitor: camelCase productId, a UTC offset, an unknown event dropped.
    let other = e.find("anonymous_id", "a-99").unwrap().unwrap();
    let view = e.profile(other).unwrap();
    assert_eq!(view.events.len(), 1);
    let cart = &view.events[0];
    assert_eq!(cart.kind, "add_to_cart");
    assert_eq!(cart.at, at("2026-11-04T11:00:00Z"));
    assert_eq!(prop(cart, "product_id"), Some(&text("sku-9")));
    assert_eq!(prop(cart, "price"), Some(&Value::Money(usd(1200))));
    assert_eq!(prop(cart, "quantity"), Some(&Value::Integer(1)));
    assert_eq!(
        view.records.len(),
        2,
        "the unknown event's message still counts"
    );
}

#[test]
fn summaries_are_sorted_and_complete() {
    let e = fixture_engine();
    let all = summaries(&e);
    assert_eq!(all.len(), 2);
    assert_eq!(
        all[0].identifiers[0],
        ("anonymous_id".to_string(), "a-7f3c".to_string())
    );
    assert_eq!(all[1].identifiers, [("anonymous_id".into(), "a-99".into())]);
    assert_eq!(
        all[0].traits.get("city"),
        Some(&CurrentValue::Value(text("Berlin")))
    );
    assert!(all[1].traits.is_empty());
    let json = serde_json::to_string(&all[1]).unwrap();
    assert_eq!(
        json,
        r#"{"identifiers":[["anonymous_id","a-99"]],"traits":{},"computed":{},"segments":[]}"#
    );
}

/// Ingests one message into a fresh engine and returns its error.
fn refused(mapper: &SpecMapper, line: &str) -> SpecError {
    let mut e = Engine::new(Schema::retail_default());
    e.ingest_spec(mapper, FIXTURE.lines().next().unwrap())
        .unwrap();
    let before = e.snapshot().checksum;
    let err = e.ingest_spec(mapper, line).unwrap_err();
    assert_eq!(e.snapshot().checksum, before, "{line:.80}: engine changed");
    err
}

fn order(revenue: &str) -> String {
    format!(
        r#"{{"type":"track","messageId":"m-{}","userId":"u1","event":"Order Completed","timestamp":"2026-11-02T10:00:00Z","properties":{{"revenue":{revenue}}}}}"#,
        revenue.replace('"', "")
    )
}

#[test]
fn amounts_are_exact_from_the_text() {
    let web = mapper("web");
    for (revenue, minor) in [
        ("12.99", 1299),
        ("0.1", 10),
        ("1.005e3", 100_500),
        ("19.9900", 1999),
    ] {
        let r = web.record(&order(revenue)).unwrap();
        let amount = r.events[0]
            .properties
            .iter()
            .find(|p| p.name == "amount")
            .unwrap();
        assert_eq!(amount.value, Value::Money(usd(minor)), "{revenue}");
    }
    let err = refused(&web, &order("12.995"));
    assert_eq!(err.message_id.as_deref(), Some("m-12.995"));
    assert!(matches!(
        err.problem,
        SpecProblem::BadAmount {
            reason: AmountError::TooPrecise { max: 2 },
            ..
        }
    ));
    let rounding = SpecMapper::new(
        &Schema::retail_default(),
        Mapping {
            rounding: Rounding::HalfEven,
            ..Mapping::default()
        },
    )
    .unwrap();
    let r = rounding.record(&order("12.995")).unwrap();
    assert_eq!(
        r.events[0].properties[0].value,
        Value::Money(usd(1300)),
        "half to even"
    );
    // A currency without decimals.
    let line = r#"{"type":"track","userId":"u1","event":"Order Completed","timestamp":"2026-11-02T10:00:00Z","properties":{"revenue":1200,"currency":"JPY"}}"#;
    let r = web.record(line).unwrap();
    let jpy = Money::new(1200, audience::Currency::new("JPY").unwrap());
    assert_eq!(r.events[0].properties[0].value, Value::Money(jpy));
}

/// A bad line, a test of the problem it must be refused with, and a word the message says.
type BadCase = (String, fn(&SpecProblem) -> bool, &'static str);

#[test]
fn every_bad_message_says_why_and_changes_nothing() {
    let web = mapper("web");
    let ts = r#""timestamp":"2026-11-02T10:00:00Z""#;
    let cases: Vec<BadCase> = vec![
        (
            "{\"type\":\"track\"".into(),
            |p| matches!(p, SpecProblem::Json(_)),
            "invalid JSON",
        ),
        (
            "[1, 2]".into(),
            |p| matches!(p, SpecProblem::Json(_)),
            "not an object",
        ),
        (
            format!(r#"{{"type":"identify","messageId":"m1",{ts},"traits":{{"firstName":"A"}}}}"#),
            |p| matches!(p, SpecProblem::NoIdentifier),
            "no identifier",
        ),
        (
            format!(r#"{{"type":"identify","userId":null,"anonymousId":null,{ts}}}"#),
            |p| matches!(p, SpecProblem::NoIdentifier),
            "null identifiers",
        ),
        (
            format!(r#"{{"type":"purchase","messageId":"m1","userId":"u1",{ts}}}"#),
            |p| matches!(p, SpecProblem::UnknownType(t) if t == "purchase"),
            "unknown type",
        ),
        (
            r#"{"type":"identify","userId":"u1"}"#.into(),
            |p| matches!(p, SpecProblem::NoTimestamp),
            "no time",
        ),
        (
            r#"{"type":"identify","userId":"u1","timestamp":"yesterday"}"#.into(),
            |p| matches!(p, SpecProblem::BadTime { field, .. } if field == "timestamp"),
            "bad time",
        ),
        (
            format!(r#"{{"type":"identify","userId":{{"id":1}},{ts}}}"#),
            |p| matches!(p, SpecProblem::BadId("userId")),
            "object id",
        ),
        (
            order(r#""12.99""#),
            |p| matches!(p, SpecProblem::WrongType { field, .. } if field == "properties.revenue"),
            "revenue as a string",
        ),
        (
            order("1e400"),
            |p| {
                matches!(
                    p,
                    SpecProblem::BadAmount {
                        reason: AmountError::Overflow,
                        ..
                    }
                )
            },
            "1e400",
        ),
        (
            order("-5"),
            |p| matches!(p, SpecProblem::Ingest(_)),
            "negative amount refused by the schema",
        ),
        (
            format!(
                r#"{{"type":"track","userId":"u1","event":"Order Completed",{ts},"properties":{{"revenue":5,"currency":"XYZ"}}}}"#
            ),
            |p| matches!(p, SpecProblem::BadCurrency { code, .. } if code == "XYZ"),
            "unknown currency",
        ),
        (
            format!(r#"{{"type":"identify","userId":"u1",{ts},"traits":{{"age":"forty"}}}}"#),
            |p| matches!(p, SpecProblem::WrongType { field, .. } if field == "traits.age"),
            "trait of the wrong type",
        ),
        (
            format!(
                r#"{{"type":"identify","userId":"u1",{ts},"context":{{"consent":{{"categoryPreferences":{{"marketing":"yes"}}}}}}}}"#
            ),
            |p| matches!(p, SpecProblem::WrongType { field, .. } if field == "context.consent"),
            "consent not a boolean",
        ),
    ];
    for (line, expected, what) in cases {
        let mut e = Engine::new(Schema::retail_default());
        let before = e.snapshot().checksum;
        match e.ingest_spec(&web, &line) {
            Err(err) => {
                assert!(expected(&err.problem), "{what}: {err}");
                assert!(!err.to_string().is_empty());
                assert_eq!(e.snapshot().checksum, before, "{what}: engine changed");
            }
            Ok(_) => panic!("{what}: accepted"),
        }
    }
}

#[test]
fn huge_and_deep_messages_are_refused_cheaply() {
    let web = mapper("web");
    // 10 MiB line.
    let big = format!(
        r#"{{"type":"identify","userId":"u1","timestamp":"2026-11-02T10:00:00Z","traits":{{"bio":"{}"}}}}"#,
        "x".repeat(10 << 20)
    );
    let err = refused(&web, &big);
    assert!(
        matches!(err.problem, SpecProblem::TooLong { max: 32768, .. }),
        "{err}"
    );
    // Depth 10,000 within the length limit.
    let deep = format!(
        r#"{{"type":"track","userId":"u1","event":"x","timestamp":"2026-11-02T10:00:00Z","properties":{{"a":{}1{}}}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let roomy = SpecMapper::new(
        &Schema::retail_default(),
        Mapping {
            max_message_bytes: 1 << 20,
            ..Mapping::default()
        },
    )
    .unwrap();
    let err = refused(&roomy, &deep);
    assert_eq!(err.problem, SpecProblem::TooDeep { max: 64 }, "{err}");
    let deep_objects = format!(
        r#"{{"type":"identify","userId":"u1","timestamp":"2026-11-02T10:00:00Z","traits":{}1{}}}"#,
        r#"{"a":"#.repeat(10_000),
        "}".repeat(10_000)
    );
    assert_eq!(
        refused(&roomy, &deep_objects).problem,
        SpecProblem::TooDeep { max: 64 }
    );
    // Brackets inside strings are text.
    let brackets = format!(
        r#"{{"type":"identify","userId":"u1","timestamp":"2026-11-02T10:00:00Z","traits":{{"bio":"{}"}}}}"#,
        "[".repeat(10_000)
    );
    roomy.record(&brackets).unwrap();
    // The nesting bound is a setting of the mapping.
    let shallow = SpecMapper::new(
        &Schema::retail_default(),
        Mapping {
            max_nesting: 2,
            ..Mapping::default()
        },
    )
    .unwrap();
    let three = r#"{"type":"identify","userId":"u1","timestamp":"2026-11-02T10:00:00Z","traits":{"a":{"b":1}}}"#;
    assert_eq!(
        shallow.record(three).unwrap_err().problem,
        SpecProblem::TooDeep { max: 2 }
    );
    assert!(Mapping::default().max_nesting == 64 && roomy.record(three).is_ok());
}

#[test]
fn mapping_options() {
    let schema = Schema::retail_default();
    assert_eq!(
        SpecMapper::new(
            &schema,
            Mapping {
                source: "fax".into(),
                ..Mapping::default()
            }
        )
        .unwrap_err(),
        MappingError::UnknownSource("fax".into())
    );
    // A mapping naming what the schema lacks: listed, not fatal.
    let mut mapping = Mapping::default();
    mapping
        .identifier_traits
        .insert("crm_id".into(), "crm_id".into());
    mapping.events.insert("Signed Up".into(), "signup".into());
    let m = SpecMapper::new(&schema, mapping).unwrap();
    assert_eq!(m.unmapped().len(), 2, "{:?}", m.unmapped());
    // Unknown events refused on request, with the messageId.
    let strict = SpecMapper::new(
        &schema,
        Mapping {
            unknown_events: audience::spec::UnknownEvents::Refuse,
            ..Mapping::default()
        },
    )
    .unwrap();
    let line = r#"{"type":"track","messageId":"m9","userId":"u1","event":"Signed Up","timestamp":"2026-11-02T10:00:00Z"}"#;
    let err = strict.record(line).unwrap_err();
    assert_eq!(err.message_id.as_deref(), Some("m9"));
    assert_eq!(err.problem, SpecProblem::UnknownEvent("Signed Up".into()));
    assert_eq!(
        err.to_string(),
        r#"message "m9": unknown event "Signed Up""#
    );
    // An event name that is itself an event kind needs no mapping; numbers are ids.
    let r = mapper("web")
        .record(r#"{"type":"track","userId":1234,"event":"support_contact","properties":{"topic":"refund"},"receivedAt":"2026-11-02T10:00:00Z"}"#)
        .unwrap();
    assert_eq!(r.identifiers[0].value, "1234");
    assert_eq!(r.events[0].kind, "support_contact");
    // sentAt is never the event time.
    let err = mapper("web")
        .record(r#"{"type":"identify","userId":"u1","sentAt":"2026-11-02T10:00:00Z"}"#)
        .unwrap_err();
    assert_eq!(err.problem, SpecProblem::NoTimestamp);
    // The mapping round-trips through JSON.
    let json = serde_json::to_string(&Mapping::default()).unwrap();
    assert_eq!(
        serde_json::from_str::<Mapping>(&json).unwrap(),
        Mapping::default()
    );
}

#[test]
fn group_ids_and_extra_identifier_traits() {
    use audience::schema::{IdentifierKindDef, Normalizer, SchemaDef};
    let mut def: SchemaDef = Schema::retail_default().def().clone();
    def.identifier_kinds
        .push(IdentifierKindDef::new("account_id", Normalizer::Trim, 5));
    def.identifier_kinds
        .push(IdentifierKindDef::new("crm_id", Normalizer::Trim, 6));
    let schema = Schema::from_def(def).unwrap();
    let mut mapping = Mapping {
        group_id: Some("account_id".into()),
        ..Mapping::default()
    };
    mapping
        .identifier_traits
        .insert("crm_id".into(), "crm_id".into());
    let m = SpecMapper::new(&schema, mapping).unwrap();
    assert!(m.unmapped().is_empty(), "{:?}", m.unmapped());
    let mut e = Engine::new(schema);
    e.ingest_spec(&m, r#"{"type":"group","userId":"u1","groupId":"acme","traits":{"crm_id":"not-mine"},"timestamp":"2026-11-02T10:00:00Z"}"#).unwrap();
    e.ingest_spec(&m, r#"{"type":"identify","anonymousId":"a1","context":{"traits":{"crm_id":"C-9"}},"timestamp":"2026-11-02T10:01:00Z"}"#).unwrap();
    let u1 = e.find("user_id", "u1").unwrap().unwrap();
    assert_eq!(e.find("account_id", "acme").unwrap(), Some(u1));
    assert_eq!(e.find("crm_id", "not-mine").unwrap(), None);
    assert!(e.find("crm_id", "C-9").unwrap().is_some());
}
