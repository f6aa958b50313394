use proptest::prelude::*;

use super::*;

fn base() -> SchemaBuilder {
    Schema::builder()
        .identifier_kind(IdentifierKindDef::new("email", Normalizer::Email, 1).limit(5))
        .source("web", 1)
}

#[test]
fn retail_default_is_valid_and_round_trips_through_json() {
    let schema = Schema::retail_default();
    schema.internal_validate().unwrap();
    let json = serde_json::to_string_pretty(&schema).unwrap();
    let back: Schema = serde_json::from_str(&json).unwrap();
    assert_eq!(back, schema);
    assert_eq!(schema.def().event_kinds.len(), 14);
    assert_eq!(schema.limit(schema.kind_id("user_id").unwrap()), 1);
    assert_eq!(schema.limit(schema.kind_id("email").unwrap()), 5);
    assert_eq!(schema.limit(schema.kind_id("phone").unwrap()), 3);
    assert_eq!(schema.limit(schema.kind_id("anonymous_id").unwrap()), 20);
}

#[test]
fn json_with_unknown_fields_or_bad_content_is_rejected() {
    let json = r#"{"identifier_kinds": [], "sources": [], "oops": 1}"#;
    assert!(serde_json::from_str::<Schema>(json).is_err());
    let json = r#"{"identifier_kinds": [], "sources": [{"name": "web", "priority": 1}]}"#;
    let err = serde_json::from_str::<Schema>(json).unwrap_err();
    assert!(err.to_string().contains("no identifier kind"), "{err}");
}

#[test]
fn duplicate_names_are_named() {
    let err = base().source("web", 2).build().unwrap_err();
    assert_eq!(
        err,
        SchemaError::DuplicateName {
            what: "source",
            name: "web".into()
        }
    );
    let err = base()
        .trait_def(TraitDef::new("age", TraitType::Integer))
        .trait_def(TraitDef::new("age", TraitType::Text))
        .build()
        .unwrap_err();
    assert!(matches!(
        err,
        SchemaError::DuplicateName { what: "trait", .. }
    ));
    let err = base()
        .identifier_kind(IdentifierKindDef::new("email", Normalizer::Trim, 2))
        .build()
        .unwrap_err();
    assert!(matches!(
        err,
        SchemaError::DuplicateName {
            what: "identifier kind",
            ..
        }
    ));
}

#[test]
fn strategy_must_fit_type() {
    for (ty, strategy) in [
        (TraitType::Text, MergeStrategy::Sum),
        (TraitType::Text, MergeStrategy::Max),
        (TraitType::Money, MergeStrategy::Min),
        (TraitType::Integer, MergeStrategy::Union),
        (TraitType::TextSet, MergeStrategy::Sum),
    ] {
        let err = base()
            .trait_def(TraitDef::new("x", ty).strategy(strategy.clone()))
            .build()
            .unwrap_err();
        assert_eq!(
            err,
            SchemaError::StrategyMismatch {
                name: "x".into(),
                strategy: strategy.name(),
                ty: ty.name()
            }
        );
    }
}

#[test]
fn limit_zero_and_priority_zero_are_errors() {
    let err = base()
        .identifier_kind(IdentifierKindDef::new("user_id", Normalizer::Trim, 1).limit(0))
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        SchemaError::ZeroLimit {
            kind: "user_id".into()
        }
    );
    let err = base()
        .identifier_kind(IdentifierKindDef::new("user_id", Normalizer::Trim, 0))
        .build()
        .unwrap_err();
    assert!(matches!(err, SchemaError::ZeroPriority { .. }));
    let err = base().source("crm", 0).build().unwrap_err();
    assert!(matches!(
        err,
        SchemaError::ZeroPriority { what: "source", .. }
    ));
}

#[test]
fn unknown_source_in_priority_list() {
    let err = base()
        .trait_def(
            TraitDef::new("country", TraitType::Text)
                .strategy(MergeStrategy::SourcePriority(vec!["crm".into()])),
        )
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        SchemaError::UnknownSource {
            place: "trait \"country\"".into(),
            source_name: "crm".into()
        }
    );
}

#[test]
fn source_ranks_put_listed_sources_first() {
    let schema = base()
        .source("crm", 1)
        .source("pos", 2)
        .trait_def(
            TraitDef::new("country", TraitType::Text)
                .strategy(MergeStrategy::SourcePriority(vec!["pos".into()])),
        )
        .build()
        .unwrap();
    let t = schema.trait_id("country").unwrap();
    let rank = |s| schema.source_rank(t, schema.source_id(s).unwrap());
    assert!(rank("pos") < rank("crm"));
    assert!(rank("crm") < rank("web") || rank("crm") == rank("web"));
}

#[cfg(feature = "phone")]
#[test]
fn bad_region_is_named() {
    let err = base()
        .identifier_kind(IdentifierKindDef::new(
            "phone",
            Normalizer::Phone {
                default_region: "ZZ".into(),
            },
            2,
        ))
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        SchemaError::BadRegion {
            kind: "phone".into(),
            region: "ZZ".into()
        }
    );
}

#[test]
fn blocked_values_are_normalized() {
    let schema = Schema::builder()
        .identifier_kind(
            IdentifierKindDef::new("email", Normalizer::Email, 1).blocked([" TEST@test.com "]),
        )
        .source("web", 1)
        .build()
        .unwrap();
    let kind = schema.kind_id("email").unwrap();
    let mut out = String::new();
    assert_eq!(
        schema.normalize_into(kind, "Test@Test.com", &mut out),
        Err(DropReason::Blocked)
    );
    let err = Schema::builder()
        .identifier_kind(IdentifierKindDef::new("email", Normalizer::Email, 1).blocked(["junk"]))
        .source("web", 1)
        .build()
        .unwrap_err();
    assert!(matches!(err, SchemaError::BadBlockedValue { .. }));
}

#[test]
fn names_are_checked() {
    for bad in ["", "1abc", "has space", "semi;colon", &"x".repeat(65)] {
        let err = base().source(bad, 1).build().unwrap_err();
        assert!(
            matches!(err, SchemaError::InvalidName { what: "source", .. }),
            "{bad:?}"
        );
    }
}

#[test]
fn channel_address_kind_must_exist() {
    let err = base().channel("sms", Some("phone")).build().unwrap_err();
    assert!(matches!(err, SchemaError::UnknownIdentifierKind { .. }));
    base().channel("email", Some("email")).build().unwrap();
}

#[derive(Clone, Debug)]
enum Call {
    Kind(String, u32, Option<u32>),
    Source(String, u32),
    Trait(String, TraitType, MergeStrategy),
    Event(String, Vec<String>),
    Purpose(String),
    Channel(String, Option<String>),
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["a", "b", "c", "email", "web", "crm"]).prop_map(String::from),
        1 => prop::sample::select(vec!["", "9x", "bad name"]).prop_map(String::from),
    ]
}

fn call() -> impl Strategy<Value = Call> {
    let ty = prop::sample::select(vec![
        TraitType::Text,
        TraitType::Integer,
        TraitType::Boolean,
        TraitType::Timestamp,
        TraitType::Money,
        TraitType::TextSet,
    ]);
    let strategy = prop_oneof![
        Just(MergeStrategy::MostRecent),
        Just(MergeStrategy::Oldest),
        Just(MergeStrategy::Max),
        Just(MergeStrategy::Min),
        Just(MergeStrategy::Sum),
        Just(MergeStrategy::Union),
        prop::collection::vec(name(), 0..3).prop_map(MergeStrategy::SourcePriority),
    ];
    prop_oneof![
        (name(), 0..3u32, prop::option::of(0..3u32)).prop_map(|(n, p, l)| Call::Kind(n, p, l)),
        (name(), 0..3u32).prop_map(|(n, p)| Call::Source(n, p)),
        (name(), ty, strategy).prop_map(|(n, t, s)| Call::Trait(n, t, s)),
        (name(), prop::collection::vec(name(), 0..3)).prop_map(|(n, p)| Call::Event(n, p)),
        name().prop_map(Call::Purpose),
        (name(), prop::option::of(name())).prop_map(|(n, k)| Call::Channel(n, k)),
    ]
}

proptest! {
    /// Any sequence of builder calls either builds a schema that validates and survives a
    /// JSON round trip, or returns a typed error; never a panic.
    #[test]
    fn any_builder_sequence_builds_or_errors(calls in prop::collection::vec(call(), 0..12)) {
        let mut b = Schema::builder();
        for c in calls {
            b = match c {
                Call::Kind(n, p, l) => b.identifier_kind(IdentifierKindDef {
                    name: n, normalizer: Normalizer::Trim, limit: l, priority: p, blocked: vec![],
                }),
                Call::Source(n, p) => b.source(n, p),
                Call::Trait(n, t, s) => b.trait_def(TraitDef::new(n, t).strategy(s)),
                Call::Event(n, props) => b.event_kind(EventKindDef {
                    name: n,
                    properties: props.into_iter().map(|p| PropertyDef {
                        name: p, ty: PropertyType::Text, non_negative: false,
                    }).collect(),
                    retention_days: None,
                }),
                Call::Purpose(n) => b.purpose(n, ConsentDefault::OptIn),
                Call::Channel(n, k) => b.channel(n, k.as_deref()),
            };
        }
        match b.build() {
            Ok(schema) => {
                prop_assert!(schema.internal_validate().is_ok());
                let json = serde_json::to_string(&schema).unwrap();
                let back: Schema = serde_json::from_str(&json).unwrap();
                prop_assert_eq!(back, schema);
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

#[test]
fn an_event_kind_lists_exactly_the_computed_traits_that_read_it() {
    let kind = |name: &str| EventKindDef {
        name: name.into(),
        properties: Vec::new(),
        retention_days: None,
    };
    let schema = base()
        .event_kind(kind("page_view"))
        .event_kind(kind("order_completed"))
        .event_kind(kind("email_open"))
        .computed(ComputedDef::new(
            "orders",
            EventFilter::kind("order_completed"),
            Computation::Count,
        ))
        .computed(ComputedDef::new(
            "favourite_kind",
            EventFilter::any(),
            Computation::MostFrequent { field: Field::Kind },
        ))
        .computed(ComputedDef::new(
            "last_open",
            EventFilter::kind("email_open"),
            Computation::LastTime,
        ))
        .build()
        .unwrap();
    let readers = |name: &str| schema.computed_readers(schema.event_kind_id(name).unwrap());
    assert_eq!(readers("page_view"), [1]);
    assert_eq!(readers("order_completed"), [0, 1]);
    assert_eq!(readers("email_open"), [1, 2]);
    assert!(schema.computed_readers(EventKindId(99)).is_empty());
}
