//! Segments through the public API: worked examples, named segments, samples, overlaps,
//! the clock, and bad input.

use audience::segment::{
    EventSpec, Expr, RfmCond, Sequence, Test, computed, consent, event, sample, segment,
    suppressed, trait_,
};
use audience::{
    CompileError, CompileProblem, Currency, Engine, EventInput, Money, Record, Schema,
    SegmentError, TimeError, Value, Window,
};

use crate::common::t;

const DAY: i64 = 86_400;

fn usd(cents: i64) -> Money {
    Money::new(cents, Currency::new("USD").unwrap())
}

fn shop() -> Engine {
    let mut def = Schema::retail_default().def().clone();
    def.computed.push(
        audience::schema::ComputedDef::new(
            "orders_30d",
            audience::schema::EventFilter::kind("order_completed"),
            audience::schema::Computation::Count,
        )
        .window(Window::LastDays(30)),
    );
    let mut e = Engine::new(Schema::from_def(def).unwrap());
    e.advance_time(t(100 * DAY)).unwrap();
    let people = [
        ("ann", "DE", 34, &["jazz", "soul"][..], true),
        ("bob", "DE", 51, &["rock"][..], false),
        ("cy", "FR", 28, &[][..], false),
        ("dee", "GB", 40, &["jazz"][..], true),
    ];
    for (user, country, age, interests, vip) in people {
        let mut r = Record::builder(t(0), "crm")
            .identifier("user_id", user)
            .trait_value("country", country)
            .trait_value("age", age as i64)
            .trait_value("vip", vip);
        if !interests.is_empty() {
            let set: Vec<String> = interests.iter().map(|s| s.to_string()).collect();
            r = r.trait_value("interests", Value::TextSet(set));
        }
        e.ingest(&r.build()).unwrap();
    }
    let ev = |user: &str, kind: &str, day: i64, extra: Option<(&str, Value)>| {
        let mut input = EventInput::new(kind, t(day * DAY));
        if let Some((name, v)) = extra {
            input = input.property(name, v);
        }
        Record::builder(t(day * DAY), "web")
            .identifier("user_id", user)
            .event(input)
            .build()
    };
    for r in [
        ev("ann", "add_to_cart", 98, None),
        ev(
            "ann",
            "order_completed",
            99,
            Some(("amount", Value::Money(usd(30_000)))),
        ),
        ev("bob", "add_to_cart", 97, None),
        ev("cy", "add_to_cart", 90, None),
        ev(
            "cy",
            "order_completed",
            80,
            Some(("amount", Value::Money(usd(90_000)))),
        ),
        ev(
            "dee",
            "order_completed",
            95,
            Some(("category", Value::from("jazz"))),
        ),
        ev(
            "dee",
            "order_completed",
            96,
            Some(("amount", Value::Money(usd(500)))),
        ),
        ev("dee", "email_open", 97, None),
    ] {
        e.ingest(&r).unwrap();
    }
    e
}

fn names(e: &Engine, expr: &Expr) -> Vec<String> {
    let plan = e.compile(expr).unwrap();
    let mut out: Vec<String> = e
        .members(&plan)
        .unwrap()
        .iter()
        .map(|id| {
            let view = e.profile(audience::ProfileId(id)).unwrap();
            view.identifiers[0].value.clone()
        })
        .collect();
    out.sort();
    // The row evaluator agrees on every profile.
    let members = e.members(&plan).unwrap();
    for p in e.profile_ids() {
        assert_eq!(
            e.matches(&plan, p).unwrap(),
            members.contains(p.0),
            "{expr:?}"
        );
    }
    out
}

#[test]
fn trait_conditions() {
    let e = shop();
    assert_eq!(names(&e, &trait_("country").eq("DE")), ["ann", "bob"]);
    assert_eq!(
        names(&e, &trait_("country").is_in(["FR", "GB"])),
        ["cy", "dee"]
    );
    assert_eq!(
        names(&e, &trait_("age").between(30i64, 45i64)),
        ["ann", "dee"]
    );
    assert_eq!(names(&e, &trait_("age").lt(30i64)), ["cy"]);
    assert_eq!(
        names(&e, &trait_("interests").contains("jazz")),
        ["ann", "dee"]
    );
    assert_eq!(names(&e, &trait_("interests").missing()), ["cy"]);
    assert_eq!(names(&e, &trait_("vip").eq(true)), ["ann", "dee"]);
    assert_eq!(names(&e, &trait_("country").prefix("D")), ["ann", "bob"]);
    assert_eq!(names(&e, &trait_("country").eq("DE").not()), ["cy", "dee"]);
    assert_eq!(names(&e, &Expr::All).len(), 4);
    assert!(names(&e, &Expr::None).is_empty());
}

#[test]
fn event_and_sequence_conditions() {
    let e = shop();
    let orders = |w| event("order_completed").in_window(w);
    assert_eq!(names(&e, &orders(Window::LastDays(7)).at_least(2)), ["dee"]);
    assert_eq!(names(&e, &orders(Window::Ever).at_most(0)), ["bob"]);
    assert_eq!(
        names(
            &e,
            &orders(Window::Ever).sum("amount", Test::Gt(Value::Money(usd(50_000))))
        ),
        ["cy"]
    );
    assert_eq!(
        names(
            &e,
            &event("order_completed")
                .with("category", vec!["jazz".into()])
                .happened()
        ),
        ["dee"]
    );
    // Abandoned cart: a cart this week and no order since.
    let abandoned = Expr::Sequence(Sequence::NoneSince {
        first: EventSpec {
            kind: "add_to_cart".into(),
            conditions: vec![],
        },
        window: Window::LastDays(7),
        then: EventSpec {
            kind: "order_completed".into(),
            conditions: vec![],
        },
    });
    assert_eq!(names(&e, &abandoned), ["bob"]);
    let cart_then_order = Expr::Sequence(Sequence::Then {
        first: EventSpec {
            kind: "add_to_cart".into(),
            conditions: vec![],
        },
        window: Window::Ever,
        then: EventSpec {
            kind: "order_completed".into(),
            conditions: vec![],
        },
        within_days: 2,
    });
    assert_eq!(names(&e, &cart_then_order), ["ann"]);
    assert_eq!(names(&e, &computed("orders_30d").ge(2i64)), ["dee"]);
}

#[test]
fn named_segments_samples_overlaps_and_rfm() {
    let mut e = shop();
    let germans = e
        .register_segment("germans", trait_("country").eq("DE"))
        .unwrap();
    e.register_segment("buyers", event("order_completed").happened())
        .unwrap();
    assert_eq!(e.segment_count(germans).unwrap(), 2);
    assert_eq!(
        names(&e, &segment("germans").and(segment("buyers"))),
        ["ann"]
    );
    let a = e.compile(&segment("germans")).unwrap();
    let b = e.compile(&segment("buyers")).unwrap();
    let o = e.overlap(&a, &b).unwrap();
    assert_eq!((o.both, o.only_first, o.only_second), (1, 1, 2));
    // Registered members follow the data.
    e.ingest(
        &Record::builder(t(100 * DAY), "crm")
            .identifier("user_id", "eve")
            .trait_value("country", "DE")
            .build(),
    )
    .unwrap();
    assert_eq!(e.segment_count(germans).unwrap(), 3);
    assert_eq!(
        e.register_segment("germans", Expr::All),
        Err(SegmentError::Duplicate("germans".into()))
    );
    // Samples: disjoint halves that cover everyone.
    let low = e.members(&e.compile(&sample(7, 0, 50)).unwrap()).unwrap();
    let high = e.members(&e.compile(&sample(7, 50, 100)).unwrap()).unwrap();
    assert!(low.is_disjoint(&high));
    assert_eq!(low.len() + high.len(), e.profile_count() as u64);
    // RFM conditions read the latest run.
    e.score_rfm("classic", t(100 * DAY)).unwrap();
    let champions = Expr::Rfm(RfmCond::Segment {
        model: "classic".into(),
        name: "Champions".into(),
    });
    let scored = names(
        &e,
        &Expr::Rfm(RfmCond::Score {
            model: "classic".into(),
            dimension: audience::rfm::Dimension::Recency,
            min: 1,
            max: 5,
        }),
    );
    assert_eq!(scored, ["ann", "cy", "dee"]);
    let _ = names(&e, &champions);
}

#[test]
fn time_relative_plans_need_the_clock() {
    let e = Engine::new(Schema::retail_default());
    let plan = e
        .compile(
            &event("order_completed")
                .in_window(Window::LastDays(7))
                .happened(),
        )
        .unwrap();
    assert_eq!(
        e.count(&plan),
        Err(SegmentError::Time(TimeError::ClockUnset))
    );
    let timeless = e.compile(&trait_("country").eq("DE")).unwrap();
    assert_eq!(e.count(&timeless), Ok(0));
}

fn compile_error(expr: &Expr) -> CompileError {
    shop().compile(expr).unwrap_err()
}

#[test]
fn bad_expressions_are_typed_errors_naming_the_place() {
    let err = compile_error(&trait_("country").eq("DE").and(trait_("colour").eq("red")));
    assert_eq!(err.path, "$.and[1].trait(colour)");
    assert_eq!(err.problem, CompileProblem::UnknownTrait("colour".into()));
    let err = compile_error(&trait_("age").eq("old").not());
    assert_eq!(err.path, "$.not.trait(age)");
    assert_eq!(
        err.problem,
        CompileProblem::TypeMismatch {
            expected: "integer",
            got: "text"
        }
    );
    assert_eq!(
        compile_error(&trait_("country").test(Test::In(vec![]))).problem,
        CompileProblem::EmptyIn
    );
    assert_eq!(
        compile_error(&event("purchase").happened()).problem,
        CompileProblem::UnknownEventKind("purchase".into())
    );
    assert_eq!(
        compile_error(
            &event("order_completed")
                .in_window(Window::LastDays(0))
                .happened()
        )
        .problem,
        CompileProblem::EmptyWindow
    );
    assert_eq!(
        compile_error(&segment("nope")).problem,
        CompileProblem::UnknownSegment("nope".into())
    );
    for (from, to) in [(50, 20), (0, 101)] {
        assert_eq!(
            compile_error(&sample(1, from, to)).problem,
            CompileProblem::SampleRange { from, to }
        );
    }
    assert!(matches!(
        compile_error(&trait_("vip").gt(true)).problem,
        CompileProblem::Unsupported { .. }
    ));
    assert_eq!(
        compile_error(&consent("nope", "email")).problem,
        CompileProblem::UnknownPurpose("nope".into())
    );
    let bad_channel = compile_error(&consent("marketing", "fax"));
    assert_eq!(
        bad_channel.problem,
        CompileProblem::UnknownChannel("fax".into())
    );
    assert_eq!(bad_channel.path, "$.consent(marketing, fax)");
    assert_eq!(
        compile_error(&suppressed("fax")).problem,
        CompileProblem::UnknownChannel("fax".into())
    );
    // 10,000 levels deep: refused before anything recurses.
    let mut deep = Expr::All;
    for _ in 0..10_000 {
        deep = deep.not();
    }
    assert_eq!(
        compile_error(&deep).problem,
        CompileProblem::TooDeep {
            max: audience::segment::MAX_DEPTH
        }
    );
    let wide = Expr::Or((0..20_000).map(|_| Expr::All).collect());
    assert!(matches!(
        compile_error(&wide).problem,
        CompileProblem::TooLarge { .. }
    ));
}

#[test]
fn expression_limits_are_settings_with_typed_errors_naming_them() {
    use audience::segment::{event, trait_};
    let config = audience::EngineConfig {
        max_expr_depth: 3,
        max_expr_nodes: 5,
        max_in_values: 2,
        max_text_bytes: 8,
        ..audience::EngineConfig::default()
    };
    let e = Engine::with_config(Schema::retail_default(), config);
    let problem = |x: &Expr| e.compile(x).unwrap_err().problem;
    assert_eq!(
        problem(&Expr::All.not().not().not()),
        CompileProblem::TooDeep { max: 3 }
    );
    assert!(e.compile(&Expr::All.not().not()).is_ok());
    assert_eq!(
        problem(&Expr::Or(vec![Expr::All; 5])),
        CompileProblem::TooLarge { max: 5 }
    );
    assert_eq!(
        problem(&trait_("country").is_in(["DE", "FR", "IT"])),
        CompileProblem::TooManyValues { len: 3, max: 2 }
    );
    assert_eq!(
        problem(
            &event("order_completed")
                .with("category", vec!["a".into(), "b".into(), "c".into()])
                .happened()
        ),
        CompileProblem::TooManyValues { len: 3, max: 2 }
    );
    assert_eq!(
        problem(&trait_("country").eq("a text of 22 bytes....")),
        CompileProblem::TextTooLong { len: 22, max: 8 }
    );
    assert_eq!(
        problem(&trait_("country").prefix("123456789")),
        CompileProblem::TextTooLong { len: 9, max: 8 }
    );
    let message = e
        .compile(&trait_("country").prefix("123456789"))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("EngineConfig::max_text_bytes"),
        "{message}"
    );
    // The defaults are the documented constants.
    let d = audience::EngineConfig::default();
    assert_eq!(
        (d.max_expr_depth, d.max_expr_nodes, d.max_in_values),
        (
            audience::segment::MAX_DEPTH,
            audience::segment::MAX_NODES,
            1024
        )
    );
}

#[test]
fn json_expressions_are_data_with_no_unknown_fields() {
    let json = r#"{"and": [{"trait": {"name": "country", "test": {"eq": {"text": "DE"}}}},
                           {"not": {"segment": "vips"}}]}"#;
    let expr: Expr = serde_json::from_str(json).unwrap();
    assert_eq!(expr, trait_("country").eq("DE").and(segment("vips").not()));
    assert_eq!(
        serde_json::from_str::<Expr>(&serde_json::to_string(&expr).unwrap()).unwrap(),
        expr
    );
    let unknown = r#"{"trait": {"name": "country", "tset": {"eq": {"text": "DE"}}}}"#;
    assert!(serde_json::from_str::<Expr>(unknown).is_err());
    // Deep JSON is refused by the parser's recursion limit, not by a stack overflow.
    let deep = format!(
        "{}\"all\"{}",
        "{\"not\":".repeat(10_000),
        "}".repeat(10_000)
    );
    assert!(serde_json::from_str::<Expr>(&deep).is_err());
}

#[test]
fn explain_says_which_leaf_matched_and_why() {
    let mut e = shop();
    e.register_segment("germans", trait_("country").eq("DE"))
        .unwrap();
    let expr = segment("germans").and(
        event("order_completed")
            .in_window(Window::LastDays(7))
            .at_least(1),
    );
    let plan = e.compile(&expr).unwrap();
    let bob = e.find("user_id", "bob").unwrap().unwrap();
    let why = e.explain(&plan, bob).unwrap();
    assert!(!why.matched);
    assert_eq!(why.condition, "and");
    let leaves: Vec<(&str, bool, Option<&str>)> = why
        .children
        .iter()
        .map(|c| (c.condition.as_str(), c.matched, c.because.as_deref()))
        .collect();
    assert_eq!(leaves[0], ("segment germans", true, None));
    assert_eq!(
        why.children[0].children[0].because.as_deref(),
        Some("country = Text(\"DE\")")
    );
    assert!(!leaves[1].1);
    assert_eq!(leaves[1].2, Some("0 matching events in the window"));
    // Serde: hosts store or show it.
    let json = serde_json::to_string(&why).unwrap();
    assert_eq!(
        serde_json::from_str::<audience::segment::Explanation>(&json).unwrap(),
        why
    );
    let ann = e.find("user_id", "ann").unwrap().unwrap();
    assert!(e.explain(&plan, ann).unwrap().matched);
}
