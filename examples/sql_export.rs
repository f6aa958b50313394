//! Writes what `tests/sql/cross_check.py` needs to prove that the SQL `audience::sql`
//! generates gives the engine's answers: the WORKLOAD.md data at N profiles (plus a few
//! hundred profiles with awkward values: quotes, backslashes, NUL, newlines, emoji,
//! traits named like SQL keywords, money totals in two currencies, channel and
//! identifier suppressions) in the documented layout, and the cases — Q1–Q10, inputs
//! meant to break the escaping, and random expressions — with their in-process counts
//! and their SQL in every dialect.
//!
//! `cargo run --release --example sql_export -- OUT_DIR [PROFILES] [RANDOM]` (defaults:
//! 10000 profiles, 200 random expressions) also writes each query's members as a portable
//! roaring bitmap in `OUT_DIR/roaring/`; `-- --import DIR [PROFILES]` imports the bitmaps
//! in `DIR` (the cross-check has pyroaring write them) as static segments and checks
//! their members.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use audience::rfm::{Dimension, Direction};
use audience::schema::{
    Computation, ComputedDef, EventFilter, Field, MergeStrategy, PropertyDef, PropertyType,
    TraitDef, TraitType,
};
use audience::segment::{
    EventSpec, Expr, ProfileSet, RfmCond, SampleCond, Sequence, Test, computed, consent, event,
    from_portable, sample, segment, suppressed, suppressed_anywhere, to_portable, trait_,
};
use audience::sql::{Dialect, SqlLayout, SqlTable};
use audience::workload::segments::{self, NOW_DAY, day_time};
use audience::{
    ConsentInput, Currency, Engine, EventInput, Money, Record, Suppression, Value, Window,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::json;

type Failure = Box<dyn std::error::Error>;

/// Text values that SQL generation must keep as data.
const AWKWARD: [&str; 8] = [
    "'); DROP TABLE profiles; --",
    "back\\slash",
    "nul\0byte",
    "line\nbreak\r\ttab",
    "emoji 😀 ünïcödé",
    "it's",
    "\"double\"",
    "",
];

/// The `i`-th item of `list`, cycling.
fn nth<'a>(list: &[&'a str], i: usize) -> &'a str {
    list.get(i % list.len().max(1)).copied().unwrap_or_default()
}

fn usd(minor: i64) -> Money {
    Money::new(
        minor,
        Currency::new("USD").unwrap_or_else(|_| unreachable!()),
    )
}

fn eur(minor: i64) -> Money {
    Money::new(
        minor,
        Currency::new("EUR").unwrap_or_else(|_| unreachable!()),
    )
}

/// The workload schema with what the workload itself does not exercise.
fn build(profiles: u32) -> Result<Engine, Failure> {
    let mut engine = Engine::new(segments::schema());
    engine.edit_schema(|def| {
        for (name, ty, strategy) in [
            ("select", TraitType::Text, MergeStrategy::MostRecent),
            ("order", TraitType::Integer, MergeStrategy::Max),
            ("tags", TraitType::TextSet, MergeStrategy::Union),
            ("vip_since", TraitType::Timestamp, MergeStrategy::Oldest),
            ("active", TraitType::Boolean, MergeStrategy::MostRecent),
            ("balance", TraitType::Money, MergeStrategy::Sum),
        ] {
            def.traits.push(TraitDef::new(name, ty).strategy(strategy));
        }
        for kind in &mut def.event_kinds {
            if kind.name == "order_completed" {
                kind.properties.push(PropertyDef {
                    name: "category".into(),
                    ty: PropertyType::Text,
                    non_negative: false,
                });
            }
            if kind.name == "add_to_cart" {
                kind.properties.push(PropertyDef {
                    name: "quantity".into(),
                    ty: PropertyType::Integer,
                    non_negative: false,
                });
            }
        }
        let usd = Currency::new("USD").ok();
        let order = || EventFilter::kind("order_completed");
        let amount = || "amount".to_string();
        let mut money = vec![
            ComputedDef::new(
                "min_order",
                order(),
                Computation::Min { property: amount() },
            ),
            ComputedDef::new(
                "max_order",
                order(),
                Computation::Max { property: amount() },
            ),
            ComputedDef::new(
                "avg_order",
                order(),
                Computation::Average { property: amount() },
            )
            .window(Window::LastDays(400)),
            ComputedDef::new(
                "net_jazz",
                order(),
                Computation::Net {
                    property: amount(),
                    subtract: EventFilter::kind("order_completed")
                        .with("category", vec!["jazz".into()]),
                    subtract_property: amount(),
                },
            ),
            ComputedDef::new(
                "first_amount",
                order(),
                Computation::FirstValue {
                    field: Field::Property(amount()),
                },
            ),
        ];
        for c in &mut money {
            c.currency = usd;
        }
        def.computed.extend(money);
        def.computed.extend([
            ComputedDef::new(
                "last_kind",
                EventFilter::any(),
                Computation::LastValue { field: Field::Kind },
            ),
            ComputedDef::new(
                "favourite_category",
                order(),
                Computation::MostFrequent {
                    field: Field::Property("category".into()),
                },
            ),
            ComputedDef::new(
                "categories",
                order(),
                Computation::DistinctCount {
                    field: Field::Property("category".into()),
                },
            ),
            ComputedDef::new("first_seen", EventFilter::any(), Computation::FirstTime),
            ComputedDef::new(
                "cart_quantity_30d",
                EventFilter::kind("add_to_cart"),
                Computation::Sum {
                    property: "quantity".into(),
                },
            )
            .window(Window::LastDays(30)),
            ComputedDef::new(
                "big_carts",
                EventFilter::kind("add_to_cart")
                    .with("quantity", vec![Value::Integer(3), Value::Integer(4)]),
                Computation::Count,
            ),
        ]);
    })?;
    engine.advance_time(day_time(NOW_DAY))?;
    for p in segments::generate(42, profiles) {
        segments::ingest(&mut engine, &p)?;
    }
    // Awkward profiles: each field drawn from the index, so every value occurs.
    let categories = ["jazz", "soul", "rock", "it's", "nul\0"];
    for i in 0..300u32 {
        let at = day_time(NOW_DAY - (i % 60) as u16);
        let n = i as usize;
        let mut b = Record::builder(at, "app")
            .identifier("user_id", format!("extra-{i}"))
            .trait_value("select", nth(&AWKWARD, n))
            .trait_value("country", nth(&AWKWARD, n / 3))
            .trait_value("order", i64::from(i % 7) - 3)
            .trait_value("active", i % 3 == 0)
            .trait_value("vip_since", day_time((i % 700) as u16));
        if i % 2 == 0 {
            b = b.identifier("email", format!("extra{i}@example.com"));
        }
        if i % 4 != 0 {
            let tags: Vec<String> = ["jazz", "soul", "it's"]
                .iter()
                .enumerate()
                .filter(|(k, _)| (i >> k) & 1 == 1)
                .map(|(_, t)| t.to_string())
                .collect();
            b = b.trait_value("tags", Value::TextSet(tags));
        }
        if i % 5 != 0 {
            b = b.trait_value(
                "balance",
                if i % 2 == 0 {
                    usd(i64::from(i) * 10)
                } else {
                    eur(i64::from(i))
                },
            );
        }
        if i % 3 == 1 {
            b = b.consent(ConsentInput::grant("marketing").channel("email"));
        }
        for k in 0..(i % 6) {
            let day = NOW_DAY - ((i * 7 + k * 13) % 90) as u16;
            let cat = nth(&categories, (i + k) as usize);
            b = b.event(
                EventInput::new("order_completed", day_time(day))
                    .property("amount", usd(i64::from((i * 37 + k * 11) % 500)))
                    .property("category", cat),
            );
            b = b.event(
                EventInput::new("add_to_cart", day_time(day))
                    .property("quantity", i64::from(k % 5)),
            );
        }
        let report = engine.ingest(&b.build())?;
        if i % 11 == 0 {
            engine
                .suppress_profile(report.profile, Suppression::new("extra", at).channel("sms"))?;
        }
        if i % 8 == 2 {
            engine.suppress_identifier(
                "email",
                &format!("extra{i}@example.com"),
                Suppression::new("bounced", at).channel("email"),
            )?;
        }
    }
    // Two RFM runs, two weeks apart, so trends exist.
    engine.score_rfm("classic", day_time(NOW_DAY))?;
    engine.advance_time(day_time(NOW_DAY + 14))?;
    engine.score_rfm("classic", day_time(NOW_DAY + 14))?;
    for (name, expr) in segments::queries() {
        engine.register_segment(name, expr)?;
    }
    Ok(engine)
}

fn window() -> impl Strategy<Value = Window> {
    prop_oneof![
        Just(Window::Ever),
        (1u32..400).prop_map(Window::LastDays),
        (600u16..740, 1u16..60).prop_map(|(from, len)| Window::Between {
            from: day_time(from),
            to: day_time(from + len),
        }),
    ]
}

fn spec(kind: &str) -> EventSpec {
    EventSpec {
        kind: kind.to_string(),
        conditions: vec![],
    }
}

fn leaf() -> impl Strategy<Value = Expr> {
    let kinds = prop::sample::select(vec![
        "page_view",
        "add_to_cart",
        "checkout_started",
        "order_completed",
        "email_open",
        "email_click",
    ]);
    let text = prop::sample::select(AWKWARD.to_vec());
    let dims = prop::sample::select(vec![
        Dimension::Recency,
        Dimension::Frequency,
        Dimension::Monetary,
    ]);
    let day = (500u16..760).prop_map(|d| Value::Timestamp(day_time(d)));
    prop_oneof![
        prop::sample::select(vec!["DE", "US", "GB", "FR"]).prop_map(|c| trait_("country").eq(c)),
        Just(trait_("country").is_in(segments::EU)),
        prop::sample::select(vec!["D", "U", "G", "emoji", "it"])
            .prop_map(|p| trait_("country").prefix(p)),
        text.clone().prop_map(|s| trait_("select").eq(s)),
        text.prop_map(|s| trait_("country").eq(s)),
        Just(trait_("select").missing()),
        (18i64..90, 0i64..30).prop_map(|(a, w)| trait_("age").between(a, a + w)),
        (0i64..1_000_000).prop_map(|x| trait_("ltv_minor").gt(x)),
        (-3i64..4).prop_map(|x| trait_("order").le(x)),
        Just(trait_("active").eq(true)),
        Just(trait_("active").exists()),
        day.clone().prop_map(|d| trait_("vip_since").ge(d)),
        prop::sample::select(vec!["jazz", "soul", "it's"]).prop_map(|t| trait_("tags").contains(t)),
        Just(trait_("tags").eq(Value::TextSet(vec!["jazz".into(), "soul".into()]))),
        Just(trait_("tags").missing()),
        (0i64..3000).prop_map(|x| trait_("balance").ge(usd(x))),
        (0i64..300).prop_map(|x| trait_("balance").lt(eur(x))),
        Just(trait_("balance").missing()),
        (0i64..6).prop_map(|k| computed("orders_90d").ge(k)),
        (0i64..4).prop_map(|k| computed("orders_90d").eq(k)),
        (0i64..200_000).prop_map(|x| computed("order_sum_365d").ge(usd(x))),
        day.clone().prop_map(|d| computed("last_cart_at").lt(d)),
        day.clone().prop_map(|d| computed("last_order_at").ge(d)),
        Just(computed("last_order_at").missing()),
        prop::sample::select(vec!["page_view", "email_open", "add_to_cart"])
            .prop_map(|k| computed("favourite_kind").eq(k)),
        (0i64..60).prop_map(|d| computed("days_since_email_open").le(d)),
        (0i64..7).prop_map(|k| computed("distinct_kinds").ge(k)),
        (0i64..500).prop_map(|x| computed("min_order").le(usd(x))),
        (0i64..50_000).prop_map(|x| computed("max_order").gt(usd(x))),
        (0i64..50_000).prop_map(|x| computed("avg_order").ge(usd(x))),
        (-500i64..50_000).prop_map(|x| computed("net_jazz").ge(usd(x))),
        (0i64..50_000).prop_map(|x| computed("first_amount").lt(usd(x))),
        prop::sample::select(vec!["page_view", "order_completed", "email_open"])
            .prop_map(|k| computed("last_kind").eq(k)),
        prop::sample::select(vec!["jazz", "soul", "rock", "it's", "nul\0"])
            .prop_map(|c| computed("favourite_category").eq(c)),
        (0i64..4).prop_map(|k| computed("categories").eq(k)),
        day.prop_map(|d| computed("first_seen").lt(d)),
        (0i64..8).prop_map(|k| computed("cart_quantity_30d").ge(k)),
        (0i64..3).prop_map(|k| computed("big_carts").ge(k)),
        (kinds.clone(), window(), 0u64..4).prop_map(|(k, w, n)| event(k).in_window(w).at_least(n)),
        (kinds.clone(), window(), 0u64..3).prop_map(|(k, w, n)| event(k).in_window(w).at_most(n)),
        (window(), 0i64..100_000).prop_map(|(w, x)| event("order_completed")
            .in_window(w)
            .sum("amount", Test::Ge(Value::Money(usd(x))))),
        (window(), 0i64..20_000).prop_map(|(w, x)| event("order_completed")
            .in_window(w)
            .sum("amount", Test::Le(Value::Money(usd(x))))),
        (window(), 0i64..6).prop_map(|(w, x)| event("add_to_cart")
            .in_window(w)
            .sum("quantity", Test::Gt(Value::Integer(x)))),
        prop::sample::select(vec!["jazz", "it's", "nul\0"]).prop_map(|c| event("order_completed")
            .with("category", vec![c.into()])
            .happened()),
        (kinds.clone(), window(), kinds.clone()).prop_map(|(a, w, b)| Expr::Sequence(
            Sequence::NoneSince {
                first: spec(a),
                window: w,
                then: spec(b)
            }
        )),
        (kinds.clone(), window(), kinds, 0u32..30).prop_map(|(a, w, b, d)| Expr::Sequence(
            Sequence::Then {
                first: spec(a),
                window: w,
                then: spec(b),
                within_days: d
            }
        )),
        (dims.clone(), 1u8..=5, 0u8..3).prop_map(|(d, lo, w)| Expr::Rfm(RfmCond::Score {
            model: "classic".into(),
            dimension: d,
            min: lo,
            max: (lo + w).min(5)
        })),
        prop::sample::select(vec![
            "Champions",
            "Loyal",
            "At Risk",
            "Hibernating",
            "Need Attention"
        ])
        .prop_map(|n| Expr::Rfm(RfmCond::Segment {
            model: "classic".into(),
            name: n.into()
        })),
        (
            dims,
            prop::sample::select(vec![Direction::Up, Direction::Flat, Direction::Down])
        )
            .prop_map(|(d, dir)| Expr::Rfm(RfmCond::Trend {
                model: "classic".into(),
                dimension: d,
                direction: dir
            })),
        (prop::sample::select(vec!["email", "sms"])).prop_map(|c| consent("marketing", c)),
        prop::sample::select(vec!["email", "sms"]).prop_map(suppressed),
        Just(suppressed_anywhere()),
        (any::<u64>(), 0u8..=100, 0u8..=100).prop_map(|(s, a, b)| sample(s, a.min(b), a.max(b))),
        (
            any::<u64>(),
            0u8..=100,
            prop::sample::select(vec!["user_id", "email"])
        )
            .prop_map(|(s, a, k)| Expr::Sample(SampleCond {
                seed: s,
                from: 0,
                to: a,
                key_kind: Some(k.into())
            })),
        prop::sample::select(vec!["Q1", "Q3", "Q4", "Q5", "Q6", "Q7"]).prop_map(segment),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Expr::And),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Expr::Or),
            inner.prop_map(|e| e.not()),
        ]
    })
}

/// `--import DIR`: every `DIR/<segment>.roaring` (written by pyroaring) imported as a
/// static segment has the members of the registered segment of that name.
fn check_imports(dir: &Path, profiles: u32) -> Result<(), Failure> {
    let mut engine = build(profiles)?;
    let mut checked = 0;
    for (name, _) in segments::queries() {
        let bytes = std::fs::read(dir.join(format!("{name}.roaring")))?;
        let imported = engine.import_segment(&format!("imported {name}"), &bytes)?;
        let original = engine.segment_members(engine.segment_id(name)?)?;
        if engine.segment_members(imported)? != original || &from_portable(&bytes)? != original {
            return Err(format!("{name}: the pyroaring bitmap holds other members").into());
        }
        checked += 1;
    }
    println!(
        "{checked} bitmaps written by pyroaring import as the segments they were written from"
    );
    Ok(())
}

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, dir, rest @ ..] = args.as_slice()
        && flag == "--import"
    {
        let profiles: u32 = rest.first().map_or(Ok(10_000), |s| s.parse())?;
        return check_imports(Path::new(dir), profiles);
    }
    let dir = Path::new(args.first().map_or("target/sql-check", String::as_str)).to_path_buf();
    let profiles: u32 = args.get(1).map_or(Ok(10_000), |s| s.parse())?;
    let random: usize = args.get(2).map_or(Ok(200), |s| s.parse())?;
    std::fs::create_dir_all(&dir)?;
    let engine = build(profiles)?;
    let layout = SqlLayout::default();

    let mut columns = serde_json::Map::new();
    for table in SqlTable::ALL {
        let name = layout.table_name(table).to_string();
        let mut out = BufWriter::new(File::create(dir.join(format!("{name}.jsonl")))?);
        let rows = engine.write_sql_table(table, &layout, &mut out)?;
        columns.insert(
            name.clone(),
            json!({"rows": rows, "columns": engine.sql_columns(table, &layout)?}),
        );
    }
    std::fs::write(
        dir.join("columns.json"),
        serde_json::to_string_pretty(&columns)?,
    )?;

    // Each query's members as a portable roaring bitmap, for pyroaring to read.
    std::fs::create_dir_all(dir.join("roaring"))?;
    for (name, _) in segments::queries() {
        let members = engine.segment_members(engine.segment_id(name)?)?;
        std::fs::write(
            dir.join("roaring").join(format!("{name}.roaring")),
            to_portable(members),
        )?;
    }

    let mut cases: Vec<(String, Expr)> = segments::queries()
        .into_iter()
        .map(|(n, e)| (n.to_string(), e))
        .collect();
    for (i, s) in AWKWARD.iter().enumerate() {
        cases.push((
            format!("escape-{i}"),
            trait_("select")
                .eq(*s)
                .or(trait_("country").is_in([*s, "DE"])),
        ));
    }
    cases.push((
        "keyword-trait".into(),
        trait_("order").ge(0i64).and(trait_("select").exists()),
    ));
    cases.push((
        "window-10000-years".into(),
        event("order_completed")
            .in_window(Window::LastDays(3_652_500))
            .at_least(2),
    ));
    cases.push(("habit".into(), computed("habit").eq("night")));
    let q7 = engine.segment_members(engine.segment_id("Q7")?)?.clone();
    cases.push((
        "static-Q7-germans".into(),
        Expr::Profiles(ProfileSet(q7)).and(trait_("country").eq("DE")),
    ));
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = expr();
    for i in 0..random {
        let tree = strategy.new_tree(&mut runner).map_err(|e| format!("{e}"))?;
        cases.push((format!("random-{i}"), tree.current()));
    }

    let mut out = Vec::new();
    let (mut written, mut refused) = (0, 0);
    let mut evaluating = std::time::Duration::ZERO;
    for (name, expr) in &cases {
        let started = std::time::Instant::now();
        let plan = engine.compile(expr)?;
        let members = engine.members(&plan)?;
        evaluating += started.elapsed();
        let mut sql = serde_json::Map::new();
        for d in Dialect::ALL {
            let key = serde_json::to_value(d)?;
            let key = key.as_str().unwrap_or_default().to_string();
            match engine.to_sql(&plan, d, &layout) {
                Ok(q) => {
                    written += 1;
                    sql.insert(key, json!({"ids": q.ids, "count": q.count}));
                }
                Err(e) => {
                    refused += 1;
                    sql.insert(key, json!({"error": e.to_string()}));
                }
            }
        }
        let ids: Option<Vec<u32>> = (!name.starts_with("random")).then(|| members.iter().collect());
        out.push(
            json!({"name": name, "expr": expr, "count": members.len(), "ids": ids, "sql": sql}),
        );
    }
    std::fs::write(dir.join("cases.json"), serde_json::to_string(&out)?)?;
    println!(
        "{} profiles, {} cases (compiled and evaluated in process in {:.1} ms): {written} queries written, {refused} refused by their dialect; in {}",
        engine.stats().profiles,
        cases.len(),
        evaluating.as_secs_f64() * 1e3,
        dir.display()
    );
    Ok(())
}
