//! Computed traits through the public API: each computation by example, windows that move
//! with the clock, late records, merges, bad input, and a proptest that every value,
//! maintained incrementally, equals the plain model recomputed from scratch.

use audience::schema::{
    Computation, ComputedDef, EventFilter, EventKindDef, Field, IdentifierKindDef, Normalizer,
    PropertyDef, PropertyType, Schema, TraitDef, TraitType,
};
use audience::{
    ComputedProblem, ComputedValue, Currency, Engine, EngineConfig, EventInput, IngestError,
    PartOfDay, ProfileId, SchemaError, TimeError, Value, Window,
};
use proptest::prelude::*;

use crate::common::{eur, rec, t};
use crate::computed_model::model;

const DAY: i64 = 86_400;

fn prop_def(name: &str, ty: PropertyType) -> PropertyDef {
    PropertyDef {
        name: name.into(),
        ty,
        non_negative: false,
    }
}

fn kind(name: &str, props: Vec<PropertyDef>) -> EventKindDef {
    EventKindDef {
        name: name.into(),
        properties: props,
        retention_days: None,
    }
}

fn euro() -> Currency {
    Currency::new("EUR").unwrap()
}

/// Every computation, over a small shop vocabulary.
pub fn computed_defs() -> Vec<ComputedDef> {
    let order = || EventFilter::kind("order_completed");
    let amount = || "amount".to_string();
    let category = || Field::Property("category".into());
    vec![
        ComputedDef::new("orders_7d", order(), Computation::Count).window(Window::LastDays(7)),
        ComputedDef::new(
            "jazz_views",
            EventFilter::kind("page_view").with("category", vec!["jazz".into()]),
            Computation::Count,
        ),
        ComputedDef::new(
            "revenue_30d",
            order(),
            Computation::Sum { property: amount() },
        )
        .window(Window::LastDays(30))
        .currency(euro()),
        ComputedDef::new(
            "net_revenue",
            order(),
            Computation::Net {
                property: amount(),
                subtract: EventFilter::kind("order_refunded"),
                subtract_property: amount(),
            },
        )
        .currency(euro()),
        ComputedDef::new(
            "smallest_order",
            order(),
            Computation::Min { property: amount() },
        )
        .window(Window::LastDays(10))
        .currency(euro()),
        ComputedDef::new(
            "largest_order",
            order(),
            Computation::Max { property: amount() },
        )
        .window(Window::LastDays(10))
        .currency(euro()),
        ComputedDef::new(
            "average_order",
            order(),
            Computation::Average { property: amount() },
        )
        .currency(euro()),
        ComputedDef::new(
            "total_points",
            EventFilter::any(),
            Computation::Sum {
                property: "points".into(),
            },
        )
        .window(Window::LastDays(3)),
        ComputedDef::new(
            "first_category",
            EventFilter::any(),
            Computation::FirstValue { field: category() },
        )
        .window(Window::LastDays(5)),
        ComputedDef::new(
            "last_category",
            EventFilter::any(),
            Computation::LastValue { field: category() },
        ),
        ComputedDef::new("first_event", EventFilter::any(), Computation::FirstTime),
        ComputedDef::new("last_order", order(), Computation::LastTime).window(Window::LastDays(4)),
        ComputedDef::new(
            "days_since_open",
            EventFilter::kind("email_open"),
            Computation::DaysSince,
        ),
        ComputedDef::new(
            "favourite_category",
            EventFilter::any(),
            Computation::MostFrequent { field: category() },
        )
        .window(Window::LastDays(6)),
        ComputedDef::new(
            "favourite_kind",
            EventFilter::any(),
            Computation::MostFrequent { field: Field::Kind },
        ),
        ComputedDef::new(
            "distinct_categories",
            EventFilter::any(),
            Computation::DistinctCount { field: category() },
        )
        .window(Window::LastDays(2)),
        ComputedDef::new(
            "habit",
            EventFilter::any(),
            Computation::Habit {
                time_zone_trait: Some("time_zone".into()),
            },
        )
        .window(Window::LastDays(8)),
        ComputedDef::new(
            "views_in_january",
            EventFilter::kind("page_view"),
            Computation::Count,
        )
        .window(Window::between(t(0), t(31 * DAY)).unwrap()),
    ]
}

/// A shop schema with every computation declared.
pub fn computed_schema() -> Schema {
    let mut b = Schema::builder()
        .identifier_kind(IdentifierKindDef::new("user_id", Normalizer::Trim, 1).limit(1))
        .identifier_kind(IdentifierKindDef::new("email", Normalizer::Email, 2))
        .source("web", 1)
        .trait_def(TraitDef::new("time_zone", TraitType::Text))
        .event_kind(kind(
            "page_view",
            vec![
                prop_def("category", PropertyType::Text),
                prop_def("points", PropertyType::Integer),
            ],
        ))
        .event_kind(kind(
            "order_completed",
            vec![
                prop_def("amount", PropertyType::Money),
                prop_def("category", PropertyType::Text),
                prop_def("points", PropertyType::Integer),
            ],
        ))
        .event_kind(kind(
            "order_refunded",
            vec![prop_def("amount", PropertyType::Money)],
        ))
        .event_kind(kind("email_open", vec![]));
    for def in computed_defs() {
        b = b.computed(def);
    }
    b.build().unwrap()
}

fn engine() -> Engine {
    Engine::with_config(
        computed_schema(),
        EngineConfig {
            future_tolerance_secs: None,
            ..EngineConfig::default()
        },
    )
}

fn order(secs: i64, cents: i64, category: &str) -> EventInput {
    EventInput::new("order_completed", t(secs))
        .property("amount", eur(cents))
        .property("category", category)
}

fn view(secs: i64, category: &str) -> EventInput {
    EventInput::new("page_view", t(secs)).property("category", category)
}

fn value(e: &Engine, p: ProfileId, name: &str) -> Option<ComputedValue> {
    e.computed(p, name).unwrap()
}

/// Asserts that every computed trait of every live profile equals the model.
fn assert_model(e: &Engine) {
    let defs = computed_defs();
    for p in e.profile_ids() {
        let v = e.profile(p).unwrap();
        let tz = match v.value("time_zone") {
            Some(Value::Text(s)) => Some(s.as_str()),
            _ => None,
        };
        for def in &defs {
            assert_eq!(
                e.computed(p, &def.name).unwrap(),
                model(def, &v.events, e.now(), tz),
                "{p} {}",
                def.name
            );
        }
    }
    e.internal_validate().unwrap();
}

#[test]
fn each_computation_by_example() {
    let mut e = engine();
    e.advance_time(t(10 * DAY)).unwrap();
    let p = e
        .ingest(
            &rec(0, "web")
                .identifier("user_id", "u1")
                .trait_value("time_zone", "Europe/Paris")
                .event(order(9 * DAY, 1_000, "jazz"))
                .event(order(8 * DAY, 3_001, "soul"))
                .event(order(2 * DAY, 500, "jazz"))
                .event(view(10 * DAY - 3600, "jazz"))
                .event(view(10 * DAY - 7200, "rock"))
                .event(
                    EventInput::new("order_refunded", t(9 * DAY + 60)).property("amount", eur(400)),
                )
                .event(EventInput::new("email_open", t(3 * DAY + 5)))
                .build(),
        )
        .unwrap()
        .profile;
    let money = |n| Some(ComputedValue::Money(eur(n)));
    assert_eq!(value(&e, p, "orders_7d"), Some(ComputedValue::Count(2)));
    assert_eq!(value(&e, p, "jazz_views"), Some(ComputedValue::Count(1)));
    assert_eq!(value(&e, p, "revenue_30d"), money(4_501));
    assert_eq!(value(&e, p, "net_revenue"), money(4_101));
    assert_eq!(value(&e, p, "smallest_order"), money(500));
    assert_eq!(value(&e, p, "largest_order"), money(3_001));
    assert_eq!(value(&e, p, "average_order"), money(1_500)); // 4501 / 3 = 1500.33
    assert_eq!(
        value(&e, p, "first_category"),
        Some(ComputedValue::Value("soul".into()))
    );
    assert_eq!(
        value(&e, p, "last_category"),
        Some(ComputedValue::Value("jazz".into()))
    );
    assert_eq!(
        value(&e, p, "first_event"),
        Some(ComputedValue::Time(t(2 * DAY)))
    );
    assert_eq!(
        value(&e, p, "last_order"),
        Some(ComputedValue::Time(t(9 * DAY)))
    );
    assert_eq!(
        value(&e, p, "days_since_open"),
        Some(ComputedValue::Days(6))
    );
    assert_eq!(
        value(&e, p, "favourite_category"),
        Some(ComputedValue::Value("jazz".into()))
    );
    assert_eq!(
        value(&e, p, "favourite_kind"),
        Some(ComputedValue::Value("order_completed".into()))
    );
    assert_eq!(
        value(&e, p, "distinct_categories"),
        Some(ComputedValue::Count(2))
    );
    assert_eq!(
        value(&e, p, "total_points"),
        Some(ComputedValue::Integer(0))
    );
    // Paris is UTC+1 in January: 22:00 UTC is evening there, 23:00 UTC and midnight are
    // night; the day-2 order lies on the 8-day window's open edge.
    match value(&e, p, "habit") {
        Some(ComputedValue::Habit(h)) => {
            assert_eq!(h.counts, [5, 0, 0, 1]);
            assert_eq!(h.percent, [83, 0, 0, 16]);
            assert_eq!(h.dominant, Some(PartOfDay::Night));
        }
        other => panic!("{other:?}"),
    }
    assert_model(&e);
    // The profile view carries the same values.
    let v = e.profile(p).unwrap();
    assert_eq!(v.computed("orders_7d"), Some(&ComputedValue::Count(2)));
}

#[test]
fn windows_follow_the_clock_and_late_records_go_in_place() {
    let mut e = engine();
    let p = e
        .ingest(
            &rec(0, "web")
                .identifier("user_id", "u1")
                .event(order(DAY, 100, "jazz"))
                .event(order(5 * DAY, 200, "soul"))
                .event(order(20 * DAY, 400, "rock")) // in the future for a while
                .build(),
        )
        .unwrap()
        .profile;
    // With the clock unset nothing counts.
    assert_eq!(value(&e, p, "orders_7d"), None);
    e.advance_time(t(6 * DAY)).unwrap();
    assert_eq!(value(&e, p, "orders_7d"), Some(ComputedValue::Count(2)));
    assert_model(&e);
    e.advance_time(t(8 * DAY)).unwrap(); // the day-1 order leaves the 7-day window
    assert_eq!(value(&e, p, "orders_7d"), Some(ComputedValue::Count(1)));
    assert_eq!(
        value(&e, p, "smallest_order"),
        Some(ComputedValue::Money(eur(100)))
    );
    e.advance_time(t(11 * DAY)).unwrap(); // and the 10-day window
    assert_eq!(
        value(&e, p, "smallest_order"),
        Some(ComputedValue::Money(eur(200)))
    );
    assert_model(&e);
    e.advance_time(t(20 * DAY)).unwrap(); // the future order arrives in every window
    assert_eq!(value(&e, p, "orders_7d"), Some(ComputedValue::Count(1)));
    assert_eq!(
        value(&e, p, "revenue_30d"),
        Some(ComputedValue::Money(eur(700)))
    );
    assert_model(&e);
    // A late record with an older order: first values and sums as if it came in order.
    e.ingest(
        &rec(0, "web")
            .identifier("user_id", "u1")
            .event(order(19 * DAY, 50, "blues"))
            .build(),
    )
    .unwrap();
    assert_eq!(
        value(&e, p, "smallest_order"),
        Some(ComputedValue::Money(eur(50)))
    );
    assert_eq!(
        value(&e, p, "first_category"),
        Some(ComputedValue::Value("blues".into()))
    );
    assert_model(&e);
}

#[test]
fn merges_join_computed_histories() {
    let mut e = engine();
    e.advance_time(t(10 * DAY)).unwrap();
    let a = e
        .ingest(
            &rec(0, "web")
                .identifier("user_id", "u1")
                .event(order(9 * DAY, 100, "jazz"))
                .build(),
        )
        .unwrap()
        .profile;
    let b = e
        .ingest(
            &rec(0, "web")
                .identifier("email", "b@x.com")
                .event(order(8 * DAY, 250, "soul"))
                .build(),
        )
        .unwrap()
        .profile;
    e.ingest(
        &rec(0, "web")
            .identifier("user_id", "u1")
            .identifier("email", "b@x.com")
            .build(),
    )
    .unwrap();
    assert_eq!(value(&e, b, "orders_7d"), Some(ComputedValue::Count(2)));
    assert_eq!(
        value(&e, a, "revenue_30d"),
        Some(ComputedValue::Money(eur(350)))
    );
    assert_model(&e);
}

#[test]
fn bad_input_is_a_typed_error_and_changes_nothing() {
    let mut e = engine();
    e.advance_time(t(10 * DAY)).unwrap();
    e.ingest(
        &rec(0, "web")
            .identifier("user_id", "u1")
            .event(order(DAY, i64::MAX / 2, "x"))
            .build(),
    )
    .unwrap();
    let before = e.clone();
    let usd = audience::Money::new(5, Currency::new("USD").unwrap());
    type Expect = fn(&IngestError) -> bool;
    let cases: Vec<(audience::Record, Expect)> = vec![
        (
            rec(0, "web")
                .identifier("user_id", "u2")
                .event(EventInput::new("order_completed", t(DAY)).property("amount", usd))
                .build(),
            |e| matches!(e, IngestError::CurrencyMismatch { .. }),
        ),
        (
            rec(0, "web")
                .identifier("user_id", "u1")
                .event(order(2 * DAY, i64::MAX / 2 + 10, "x"))
                .build(),
            |e| matches!(e, IngestError::SumOverflow { name, .. } if name == "revenue_30d"),
        ),
        (
            rec(0, "web")
                .identifier("user_id", "u3")
                .trait_value("time_zone", "Mars/Olympus")
                .build(),
            |e| matches!(e, IngestError::UnknownTimeZone { value, .. } if value == "Mars/Olympus"),
        ),
        (
            rec(0, "web")
                .identifier("user_id", "u3")
                .event(EventInput::new("tea_party", t(0)))
                .build(),
            |e| matches!(e, IngestError::UnknownEventKind { .. }),
        ),
    ];
    for (record, expected) in cases {
        let err = e.ingest(&record).unwrap_err();
        assert!(expected(&err), "{err:?}");
        assert_eq!(e, before);
    }
    assert!(matches!(
        e.advance_time(t(DAY)),
        Err(TimeError::Backwards { .. })
    ));
    assert_eq!(e, before);
    // The default engine refuses events more than a day ahead of its clock.
    let mut strict = Engine::new(computed_schema());
    strict.advance_time(t(10 * DAY)).unwrap();
    let err = strict
        .ingest(
            &rec(0, "web")
                .identifier("user_id", "u1")
                .event(order(12 * DAY, 1, "x"))
                .build(),
        )
        .unwrap_err();
    assert!(
        matches!(err, IngestError::EventInFuture { event: 0, .. }),
        "{err:?}"
    );
    assert_eq!(strict.profile_count(), 0);
}

#[test]
fn computed_schema_errors_name_the_problem() {
    let base = computed_schema().def().clone();
    let with = |def: ComputedDef| {
        let mut d = base.clone();
        d.computed.push(def);
        Schema::from_def(d).unwrap_err()
    };
    let problem = |err: SchemaError| match err {
        SchemaError::Computed { problem, .. } => problem,
        other => panic!("{other:?}"),
    };
    let order = || EventFilter::kind("order_completed");
    assert_eq!(
        problem(with(ComputedDef::new(
            "x",
            EventFilter::kind("nap"),
            Computation::Count
        ))),
        ComputedProblem::UnknownEventKind("nap".into())
    );
    assert!(matches!(
        problem(with(ComputedDef::new(
            "x",
            order(),
            Computation::Sum {
                property: "colour".into()
            }
        ))),
        ComputedProblem::UnknownProperty { .. }
    ));
    assert_eq!(
        problem(with(ComputedDef::new(
            "x",
            order(),
            Computation::Sum {
                property: "amount".into()
            }
        ))),
        ComputedProblem::MissingCurrency
    );
    assert!(matches!(
        problem(with(ComputedDef::new(
            "x",
            order(),
            Computation::Sum {
                property: "category".into()
            }
        ))),
        ComputedProblem::NotNumeric { got: "text" }
    ));
    assert!(matches!(
        problem(with(ComputedDef::new(
            "x",
            order().with("category", vec![Value::Integer(1)]),
            Computation::Count
        ))),
        ComputedProblem::ConditionType { .. }
    ));
    assert_eq!(
        problem(with(ComputedDef::new(
            "x",
            order(),
            Computation::Habit {
                time_zone_trait: Some("nope".into())
            }
        ))),
        ComputedProblem::UnknownTrait("nope".into())
    );
    assert!(matches!(
        with(ComputedDef::new("time_zone", order(), Computation::Count)),
        SchemaError::DuplicateName { .. }
    ));
    assert!(matches!(
        with(ComputedDef::new("orders_7d", order(), Computation::Count)),
        SchemaError::DuplicateName { .. }
    ));
    // Definitions round-trip through JSON.
    let json = serde_json::to_string(&computed_schema()).unwrap();
    assert_eq!(
        serde_json::from_str::<Schema>(&json).unwrap(),
        computed_schema()
    );
}

#[derive(Clone, Debug)]
enum Step {
    Ingest(audience::Record),
    Advance(i64),
}

fn event() -> impl Strategy<Value = EventInput> {
    let at = -2 * DAY..40 * DAY;
    let category = prop::sample::select(vec!["jazz", "soul", "rock"]);
    prop_oneof![
        (
            at.clone(),
            0..5_000i64,
            category.clone(),
            prop::option::of(-5..5i64)
        )
            .prop_map(|(s, c, cat, pts)| {
                let mut e = order(s, c, cat);
                if let Some(p) = pts {
                    e = e.property("points", p);
                }
                e
            }),
        (
            at.clone(),
            prop::option::of(category),
            prop::option::of(-5..5i64)
        )
            .prop_map(|(s, cat, pts)| {
                let mut e = EventInput::new("page_view", t(s));
                if let Some(c) = cat {
                    e = e.property("category", c);
                }
                if let Some(p) = pts {
                    e = e.property("points", p);
                }
                e
            }),
        (at.clone(), 0..3_000i64)
            .prop_map(|(s, c)| EventInput::new("order_refunded", t(s)).property("amount", eur(c))),
        at.prop_map(|s| EventInput::new("email_open", t(s))),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let ids = prop::collection::vec(
        prop_oneof![
            (0..4u8).prop_map(|i| ("user_id", format!("u{i}"))),
            (0..4u8).prop_map(|i| ("email", format!("e{i}@x.com"))),
        ],
        1..3,
    );
    let zone = prop::option::of(prop::sample::select(vec![
        "UTC",
        "Asia/Tokyo",
        "America/New_York",
    ]));
    prop_oneof![
        3 => (ids, zone, prop::collection::vec(event(), 0..5)).prop_map(|(ids, zone, events)| {
            let mut b = rec(0, "web");
            for (k, v) in ids {
                b = b.identifier(k, v);
            }
            if let Some(z) = zone {
                b = b.trait_value("time_zone", z);
            }
            for e in events {
                b = b.event(e);
            }
            Step::Ingest(b.build())
        }),
        1 => (0..6 * DAY).prop_map(Step::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Incremental equals batch: after every record, merge and clock move, every computed
    /// trait equals the model recomputed from the profile's events.
    #[test]
    fn incremental_equals_batch(steps in prop::collection::vec(step(), 1..25)) {
        let mut e = engine();
        let mut now = t(-3 * DAY);
        for s in steps {
            match s {
                Step::Ingest(r) => {
                    e.ingest(&r).unwrap();
                }
                Step::Advance(secs) => {
                    now = Timestamp::from_millis(now.as_millis() + secs * 1000).unwrap();
                    e.advance_time(now).unwrap();
                }
            }
            assert_model(&e);
        }
    }
}

use audience::Timestamp;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Money sums equal the exact integer sum of the amounts; a record that would let a
    /// sum's bound pass `i64::MAX` is refused with `SumOverflow` and changes nothing.
    #[test]
    fn money_sums_are_exact_or_refused(
        amounts in prop::collection::vec(prop_oneof![0..1_000i64, (i64::MAX / 4)..i64::MAX], 1..12),
    ) {
        let mut e = engine();
        e.advance_time(t(40 * DAY)).unwrap();
        let mut accepted: i128 = 0;
        let mut p = None;
        for (i, a) in amounts.iter().enumerate() {
            let before = e.clone();
            let r = rec(0, "web").identifier("user_id", "u1").event(order(30 * DAY + i as i64, *a, "x")).build();
            match e.ingest(&r) {
                Ok(report) => {
                    accepted += i128::from(*a);
                    p = Some(report.profile);
                }
                Err(err) => {
                    prop_assert!(matches!(err, IngestError::SumOverflow { .. }), "{err:?}");
                    prop_assert!(accepted + i128::from(*a) > i128::from(i64::MAX));
                    prop_assert_eq!(&e, &before);
                }
            }
        }
        if let Some(p) = p {
            let total = i64::try_from(accepted).unwrap();
            prop_assert_eq!(value(&e, p, "revenue_30d"), Some(ComputedValue::Money(eur(total))));
            prop_assert_eq!(value(&e, p, "net_revenue"), Some(ComputedValue::Money(eur(total))));
        }
        e.internal_validate().unwrap();
    }
}
