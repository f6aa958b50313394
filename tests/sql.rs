//! `audience::sql` through the public API: every expression variant is written for every
//! dialect or refused with a typed error naming what is missing; names and values are
//! quoted and escaped; the layout's tables hold the engine's state. That the queries
//! give the engine's answers is proven by `tests/sql/cross_check.py` (run by `.ci/run`)
//! against DuckDB and chDB.

use audience::schema::{Computation, ComputedDef, EventFilter, TraitDef, TraitType};
use audience::segment::{
    EventSpec, Expr, RfmCond, SampleCond, Sequence, Test, computed, consent, event, sample,
    segment, suppressed, suppressed_anywhere, trait_,
};
use audience::sql::{Dialect, SqlError, SqlLayout, SqlTable};
use audience::{Engine, EventInput, Record, Schema, Value, Window};
use proptest::prelude::*;

use crate::common::t;
use crate::segments_props::{engine_of, expr, person};

const DAY: i64 = 86_400;

fn engine() -> Engine {
    let mut def = Schema::retail_default().def().clone();
    def.traits.push(TraitDef::new("select", TraitType::Text));
    def.computed.push(ComputedDef::new(
        "habit",
        EventFilter::any(),
        Computation::Habit {
            time_zone_trait: None,
        },
    ));
    def.computed.push(
        ComputedDef::new(
            "orders_10d",
            EventFilter::kind("order_completed"),
            Computation::Count,
        )
        .window(Window::LastDays(10)),
    );
    let mut e = Engine::new(Schema::from_def(def).unwrap());
    e.advance_time(t(30 * DAY)).unwrap();
    for (user, country) in [("ann", "DE"), ("bob", "it's\\\0\n😀")] {
        let r = Record::builder(t(29 * DAY), "web")
            .identifier("user_id", user)
            .trait_value("country", country)
            .trait_value("select", "x")
            .event(EventInput::new("order_completed", t(29 * DAY)))
            .build();
        e.ingest(&r).unwrap();
    }
    e.register_segment("germans", trait_("country").eq("DE"))
        .unwrap();
    e
}

fn spec(kind: &str) -> EventSpec {
    EventSpec {
        kind: kind.into(),
        conditions: vec![],
    }
}

/// One expression of every variant.
fn every_variant() -> Vec<Expr> {
    vec![
        Expr::All,
        Expr::None,
        trait_("country").eq("DE").and(trait_("age").ge(18i64)),
        trait_("country")
            .is_in(["DE", "FR"])
            .or(trait_("country").prefix("D")),
        trait_("country").missing().not(),
        trait_("interests").contains("jazz"),
        trait_("age").between(18i64, 30i64),
        computed("orders_10d").ge(1i64),
        event("order_completed")
            .in_window(Window::LastDays(7))
            .at_least(2),
        event("order_completed").at_most(0),
        event("order_completed")
            .with("category", vec!["jazz".into()])
            .sum(
                "amount",
                Test::Gt(Value::Money(audience::Money::new(
                    100,
                    audience::Currency::new("USD").unwrap(),
                ))),
            ),
        Expr::Sequence(Sequence::NoneSince {
            first: spec("add_to_cart"),
            window: Window::LastDays(7),
            then: spec("order_completed"),
        }),
        Expr::Sequence(Sequence::Then {
            first: spec("add_to_cart"),
            window: Window::Ever,
            then: spec("order_completed"),
            within_days: 3,
        }),
        Expr::Rfm(RfmCond::Score {
            model: "classic".into(),
            dimension: audience::rfm::Dimension::Recency,
            min: 4,
            max: 5,
        }),
        Expr::Rfm(RfmCond::Segment {
            model: "classic".into(),
            name: "Champions".into(),
        }),
        Expr::Rfm(RfmCond::Trend {
            model: "classic".into(),
            dimension: audience::rfm::Dimension::Monetary,
            direction: audience::rfm::Direction::Up,
        }),
        consent("marketing", "email"),
        consent("analytics", "web"),
        suppressed("email"),
        suppressed_anywhere(),
        segment("germans"),
        sample(7, 0, 50),
    ]
}

#[test]
fn every_variant_is_written_in_every_dialect() {
    let e = engine();
    let layout = SqlLayout::default();
    for x in every_variant() {
        let plan = e.compile(&x).unwrap();
        for d in Dialect::ALL {
            let q = e.to_sql(&plan, d, &layout).unwrap();
            assert!(
                q.ids.contains("SELECT p.profile_id FROM"),
                "{d:?} {x:?}: {}",
                q.ids
            );
            assert!(q.ids.ends_with("ORDER BY p.profile_id"));
            assert!(q.count.contains("SELECT count(*) AS n FROM"));
        }
    }
}

#[test]
fn what_a_dialect_cannot_express_is_a_typed_error_naming_it() {
    let e = engine();
    let layout = SqlLayout::default();
    let habit = e.compile(&computed("habit").eq("night")).unwrap();
    for d in Dialect::ALL {
        let err = e.to_sql(&habit, d, &layout).unwrap_err();
        assert!(matches!(err, SqlError::Unsupported { dialect, .. } if dialect == d));
        assert!(err.to_string().contains("habit"), "{err}");
    }
    let keyed = e
        .compile(&Expr::Sample(SampleCond {
            seed: 1,
            from: 0,
            to: 10,
            key_kind: Some("email".into()),
        }))
        .unwrap();
    let ch = e.to_sql(&keyed, Dialect::ClickHouse, &layout).unwrap();
    assert!(ch.count.contains("xxHash64(v)"));
    for d in [Dialect::DuckDb, Dialect::SparkSql] {
        let err = e.to_sql(&keyed, d, &layout).unwrap_err();
        assert!(err.to_string().contains("xxHash64"), "{err}");
    }
}

#[test]
fn values_are_escaped_and_keyword_names_quoted() {
    let e = engine();
    let hostile = "'); DROP TABLE x; --\\\0\n😀";
    let plan = e
        .compile(
            &trait_("select")
                .eq(hostile)
                .or(trait_("country").eq("it's")),
        )
        .unwrap();
    let layout = SqlLayout::default();
    let duck = e.to_sql(&plan, Dialect::DuckDb, &layout).unwrap().count;
    assert!(
        duck.contains("p.\"select\" = ('''); DROP TABLE x; --\\' || chr(0) || chr(10) || '😀')"),
        "{duck}"
    );
    assert!(duck.contains("'it''s'"));
    let ch = e.to_sql(&plan, Dialect::ClickHouse, &layout).unwrap().count;
    assert!(
        ch.contains("p.`select` = '\\'); DROP TABLE x; --\\\\\\x00\\x0A😀'"),
        "{ch}"
    );
    let spark = e.to_sql(&plan, Dialect::SparkSql, &layout).unwrap().count;
    assert!(
        spark.contains("'\\'); DROP TABLE x; --\\\\\\u0000\\u000A😀'"),
        "{spark}"
    );
    // No raw control character reaches the query text.
    for q in [&duck, &ch, &spark] {
        assert!(!q.chars().any(char::is_control), "{q:?}");
    }
}

#[test]
fn names_that_cannot_be_quoted_safely_are_refused() {
    let e = engine();
    let plan = e.compile(&trait_("country").eq("DE")).unwrap();
    for bad in ["evil`name", "evil\"name", "new\nline", ""] {
        let layout = SqlLayout::default().column("country", bad);
        let err = e.to_sql(&plan, Dialect::DuckDb, &layout).unwrap_err();
        assert!(
            matches!(err, SqlError::UnsafeName { ref name } if name == bad),
            "{err}"
        );
        let layout = SqlLayout::default().table(SqlTable::Profiles, bad);
        assert!(matches!(
            e.to_sql(&plan, Dialect::ClickHouse, &layout),
            Err(SqlError::UnsafeName { .. })
        ));
    }
    // Two traits in one column, or a trait on a fixed column.
    let clash = SqlLayout::default().column("country", "profile_id");
    let err = e.to_sql(&plan, Dialect::SparkSql, &clash).unwrap_err();
    assert!(matches!(err, SqlError::ColumnClash { ref column, .. } if column == "profile_id"));
    // A dotted table name is quoted part by part; a renamed column is used.
    let layout = SqlLayout::default()
        .table(SqlTable::Profiles, "crm.people")
        .column("country", "country_code");
    let q = e.to_sql(&plan, Dialect::DuckDb, &layout).unwrap();
    assert!(
        q.count.contains(
            "FROM \"crm\".\"people\" AS p WHERE coalesce(p.\"country_code\" = 'DE', FALSE)"
        ),
        "{}",
        q.count
    );
}

#[test]
fn windows_need_a_clock_and_follow_the_given_one() {
    let mut e = Engine::new(Schema::retail_default());
    e.ingest(
        &Record::builder(t(DAY), "web")
            .identifier("user_id", "ann")
            .build(),
    )
    .unwrap();
    let layout = SqlLayout::default();
    let traits_only = e.compile(&trait_("country").eq("DE")).unwrap();
    assert!(e.to_sql(&traits_only, Dialect::DuckDb, &layout).is_ok());
    let windowed = e
        .compile(
            &event("order_completed")
                .in_window(Window::LastDays(3_652_500))
                .happened(),
        )
        .unwrap();
    assert!(matches!(
        e.to_sql(&windowed, Dialect::DuckDb, &layout),
        Err(SqlError::ClockUnset)
    ));
    // A window of 10,000 years reaches back to the earliest valid time, not past it.
    let q = e
        .to_sql_at(&windowed, Dialect::DuckDb, &layout, t(10 * DAY))
        .unwrap();
    let now = t(10 * DAY).as_millis();
    assert!(q.count.contains(&format!("e.at <= {now}")), "{}", q.count);
    assert!(q.count.contains("e.at >= (-62135596800000)"), "{}", q.count);
}

#[test]
fn a_plan_naming_an_unregistered_segment_is_refused() {
    let mut e = engine();
    let plan = e.compile(&segment("germans")).unwrap();
    let id = e.segment_id("germans").unwrap();
    e.unregister_segment(id).unwrap();
    assert!(matches!(
        e.to_sql(&plan, Dialect::DuckDb, &SqlLayout::default()),
        Err(SqlError::UnknownSegment(_))
    ));
}

#[test]
fn tables_hold_the_engine_state() {
    let e = engine();
    let layout = SqlLayout::default();
    let rows = |table| {
        let mut out = Vec::new();
        let n = e.write_sql_table(table, &layout, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count() as u64, n);
        text.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    let profiles = rows(SqlTable::Profiles);
    assert_eq!(profiles.len(), 2);
    assert_eq!(profiles[1]["country"], "it's\\\0\n😀");
    assert_eq!(profiles[0]["select"], "x");
    let events = rows(SqlTable::Events);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["kind"], "order_completed");
    assert_eq!(events[0]["seq"], 0);
    assert_eq!(rows(SqlTable::Identifiers).len(), 2);
    assert!(rows(SqlTable::Rfm).is_empty());
    // Every column written is declared.
    for table in SqlTable::ALL {
        let cols = e.sql_columns(table, &layout).unwrap();
        for row in rows(table) {
            for key in row.as_object().unwrap().keys() {
                assert!(cols.iter().any(|c| &c.name == key), "{table:?}.{key}");
            }
        }
    }
    let ddl = e.sql_ddl(Dialect::ClickHouse, &layout).unwrap();
    assert_eq!(ddl.lines().count(), SqlTable::ALL.len());
    assert!(
        ddl.starts_with("CREATE TABLE `profiles` (`profile_id` UInt64, "),
        "{ddl}"
    );
    assert!(ddl.contains("`country` Nullable(String)"), "{ddl}");
    assert!(ddl.contains("`interests` Array(String)"), "{ddl}");
}

/// A sink that refuses every write.
struct Full;

impl std::io::Write for Full {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            "disk full",
        ))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failing_writer_is_a_typed_error_naming_the_table() {
    let e = engine();
    let err = e
        .write_sql_table(SqlTable::Events, &SqlLayout::default(), &mut Full)
        .unwrap_err();
    assert!(
        matches!(
            err,
            SqlError::Write {
                table: "events",
                kind: std::io::ErrorKind::StorageFull,
                ..
            }
        ),
        "{err}"
    );
    // An empty table writes nothing and succeeds even into a full sink.
    assert_eq!(
        e.write_sql_table(SqlTable::Rfm, &SqlLayout::default(), &mut Full)
            .unwrap(),
        0
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::common::cases()))]

    /// Any expression over any engine is written, or refused with a typed error for
    /// what its dialect lacks; the query text never holds a raw control character.
    #[test]
    fn any_plan_is_written_or_refused_by_name(
        people in prop::collection::vec(person(), 1..10),
        x in expr(),
    ) {
        let e = engine_of(&people);
        let plan = e.compile(&x).unwrap();
        for d in Dialect::ALL {
            match e.to_sql(&plan, d, &SqlLayout::default()) {
                Ok(q) => prop_assert!(!q.count.chars().any(char::is_control)),
                Err(SqlError::Unsupported { dialect, .. }) => prop_assert_eq!(dialect, d),
                Err(other) => prop_assert!(false, "{:?}: {}", x, other),
            }
        }
    }
}
