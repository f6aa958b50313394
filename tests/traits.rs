//! Trait merge strategies, through merges and in any arrival order.

use audience::{Currency, CurrentValue, Engine, Money, Value};

use crate::common::{eur, limited_schema, rec, t};

fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::new("USD").unwrap())
}

/// Two devices observed separately, then linked by a login.
fn merged_engine(order_reversed: bool) -> Engine {
    let mut e = Engine::new(limited_schema());
    let mut records = vec![
        rec(10, "web")
            .identifier("anonymous_id", "d1")
            .trait_value("country", "DE")
            .trait_value("age", 30)
            .trait_value("first_seen", t(10))
            .trait_value("points", 5)
            .trait_value("spend", eur(1_000))
            .trait_value("tags", Value::TextSet(vec!["jazz".into(), "soul".into()]))
            .trait_value("max_score", 7)
            .trait_value("min_score", 7)
            .trait_value("vip", false)
            .build(),
        rec(20, "pos")
            .identifier("anonymous_id", "d2")
            .trait_value("country", "FR")
            .trait_value("age", 31)
            .trait_value("first_seen", t(20))
            .trait_value("points", 6)
            .trait_value("spend", usd(250))
            .trait_value("tags", Value::TextSet(vec!["rock".into(), "jazz".into()]))
            .trait_value("max_score", 3)
            .trait_value("min_score", 3)
            .trait_value("vip", true)
            .build(),
        rec(30, "crm")
            .identifier("anonymous_id", "d1")
            .identifier("anonymous_id", "d2")
            .trait_value("country", "IT")
            .trait_value("spend", eur(5))
            .build(),
    ];
    if order_reversed {
        records.swap(0, 1);
    }
    for r in &records {
        e.ingest(r).unwrap();
    }
    e.internal_validate().unwrap();
    e
}

#[test]
fn every_strategy_after_a_merge() {
    for reversed in [false, true] {
        let e = merged_engine(reversed);
        assert_eq!(e.profile_count(), 1);
        let p = e
            .profile(e.find("anonymous_id", "d1").unwrap().unwrap())
            .unwrap();
        // Source priority lists pos first, ahead of crm's schema priority.
        assert_eq!(p.value("country"), Some(&"FR".into()));
        assert_eq!(p.trait_view("country").unwrap().source, "pos");
        assert_eq!(p.value("age"), Some(&Value::Integer(31)));
        assert_eq!(p.value("first_seen"), Some(&Value::Timestamp(t(10))));
        assert_eq!(p.value("points"), Some(&Value::Integer(11)));
        assert_eq!(
            p.trait_view("spend").unwrap().current,
            CurrentValue::MoneyTotals(vec![eur(1_005), usd(250)])
        );
        assert_eq!(
            p.value("tags"),
            Some(&Value::TextSet(vec![
                "jazz".into(),
                "rock".into(),
                "soul".into()
            ]))
        );
        assert_eq!(p.value("max_score"), Some(&Value::Integer(7)));
        assert_eq!(p.value("min_score"), Some(&Value::Integer(3)));
        assert_eq!(p.value("vip"), Some(&Value::Boolean(true)));
        // A merge never loses an observation.
        assert_eq!(p.trait_view("country").unwrap().observations.len(), 3);
        assert_eq!(p.trait_view("spend").unwrap().observations.len(), 3);
    }
    // Record ids differ with arrival order; everything visible about the values does not.
    let visible = |e: Engine| {
        let p = e.profile(audience::ProfileId(0)).unwrap();
        p.traits
            .into_iter()
            .map(|t| (t.name, t.current, t.source, t.at))
            .collect::<Vec<_>>()
    };
    assert_eq!(visible(merged_engine(false)), visible(merged_engine(true)));
}

#[test]
fn ties_do_not_depend_on_arrival_order() {
    // Same time, same source rank (web and pos differ; use one source): the larger value wins.
    let run = |first: &str, second: &str| {
        let mut e = Engine::new(limited_schema());
        for v in [first, second] {
            e.ingest(
                &rec(0, "web")
                    .identifier("anonymous_id", "d")
                    .trait_value("country", v)
                    .build(),
            )
            .unwrap();
        }
        e.profile(audience::ProfileId(0))
            .unwrap()
            .value("country")
            .cloned()
    };
    assert_eq!(run("DE", "FR"), run("FR", "DE"));
    assert_eq!(run("DE", "FR"), Some("FR".into()));
}

#[test]
fn text_sets_are_sorted_and_unique() {
    let mut e = Engine::new(limited_schema());
    let r = e
        .ingest(
            &rec(0, "web")
                .identifier("anonymous_id", "d")
                .trait_value(
                    "tags",
                    Value::TextSet(vec!["b".into(), "a".into(), "b".into()]),
                )
                .build(),
        )
        .unwrap();
    let p = e.profile(r.profile).unwrap();
    assert_eq!(
        p.value("tags"),
        Some(&Value::TextSet(vec!["a".into(), "b".into()]))
    );
}
