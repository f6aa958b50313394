//! RFM through the public API: the CDNOW reference files, worked examples, trends and
//! named segments, merges and late events, and bad input.

use audience::rfm::transactions::{self, CustomerScore};
use audience::rfm::{
    Dimension, Direction, FixedBreaks, RfmCondition, RfmModelDef, RfmSegmentDef, Scoring,
};
use audience::schema::{EventKindDef, IdentifierKindDef, Normalizer, PropertyDef, PropertyType};
use audience::{
    CsvProblem, Currency, Engine, Error, EventInput, IngestError, LookupError, Money, MoneyError,
    ProfileId, Record, RfmProblem, Schema, SchemaError, Timestamp,
};

use crate::common::{retail, t};

const DAY: i64 = 86_400;

fn usd(cents: i64) -> Money {
    Money::new(cents, Currency::new("USD").unwrap())
}

fn order(user: &str, day: i64, cents: i64) -> Record {
    Record::builder(t(day * DAY), "web")
        .identifier("user_id", user)
        .event(EventInput::new("order_completed", t(day * DAY)).property("amount", usd(cents)))
        .build()
}

fn event(user: &str, kind: &str, day: i64) -> Record {
    Record::builder(t(day * DAY), "web")
        .identifier("user_id", user)
        .event(EventInput::new(kind, t(day * DAY)))
        .build()
}

fn cdnow(file: &str) -> String {
    let path = format!("{}/tests/data/cdnow/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap()
}

fn cdnow_scores(scoring: Scoring) -> Vec<CustomerScore> {
    let rows = transactions::parse(
        &cdnow("cdnow_transactions.csv"),
        Currency::new("USD").unwrap(),
    )
    .unwrap();
    assert_eq!(rows.len(), 69_659);
    transactions::score(&rows, scoring).unwrap()
}

#[test]
fn cdnow_matches_every_reference_row_in_each_convention() {
    for (scoring, file) in [
        (Scoring::Threshold, "cdnow_rfm_reference.csv"),
        (Scoring::Rank, "cdnow_rfm_reference_rank.csv"),
        (Scoring::Rpkg, "cdnow_rfm_reference_rpkg.csv"),
    ] {
        let scores = cdnow_scores(scoring.clone());
        assert_eq!(scores.len(), 23_570);
        let ours = transactions::to_csv(&scores);
        let reference = cdnow(file);
        for (line, (a, b)) in ours.lines().zip(reference.lines()).enumerate() {
            assert_eq!(a, b, "{scoring:?}, line {}", line + 1);
        }
        assert_eq!(ours.lines().count(), reference.lines().count());
    }
}

#[test]
fn cdnow_threshold_cut_points_explain_the_scores() {
    let rows = transactions::parse(
        &cdnow("cdnow_transactions.csv"),
        Currency::new("USD").unwrap(),
    )
    .unwrap();
    let scores = transactions::score(&rows, Scoring::Threshold).unwrap();
    // README: recency 142 = Q_1 scores 4, not 5 (left-closed); f is never 2.
    assert!(
        scores
            .iter()
            .filter(|c| c.score.recency_days == 142)
            .all(|c| c.score.r == 4)
    );
    assert!(scores.iter().all(|c| c.score.f != 2));
    let r: Vec<usize> = (1..=5)
        .map(|k| scores.iter().filter(|c| c.score.r == k).count())
        .collect();
    assert_eq!(r, [4735, 4712, 4702, 4720, 4701]);
}

#[test]
fn no_purchase_means_no_score_and_empty_runs_are_defined() {
    let mut e = retail();
    let run = e.score_rfm("classic", t(0)).unwrap();
    assert!(run.is_empty());
    assert!(run.cuts().of(Dimension::Monetary).is_empty());
    assert_eq!(run.histogram(Dimension::Recency), vec![0; 5]);
    e.ingest(&event("ann", "page_view", 1)).unwrap();
    let ann = e.find("user_id", "ann").unwrap().unwrap();
    assert!(e.score_rfm("classic", t(5 * DAY)).unwrap().is_empty());
    assert_eq!(e.rfm_score("classic", ann).unwrap(), None);
    assert_eq!(e.rfm_label("classic", ann).unwrap(), None);
}

#[test]
fn one_customer_scores_one_in_threshold() {
    let mut e = retail();
    e.ingest(&order("ann", 1, 500)).unwrap();
    let run = e.score_rfm("classic", t(3 * DAY)).unwrap();
    let s = run.iter().next().unwrap();
    assert_eq!((s.recency_days, s.frequency, s.monetary_minor), (2, 1, 500));
    assert_eq!([s.r, s.f, s.m], [1, 1, 1]);
    let q = run.cuts().of(Dimension::Monetary);
    assert_eq!(q.len(), 4);
    assert!(q.iter().all(|q| q.to_string() == "500"));
}

#[test]
fn refunds_are_netted_and_late_events_excluded_before_the_reference() {
    let mut e = retail();
    e.ingest(&order("ann", 1, 10_000)).unwrap();
    e.ingest(&order("ann", 5, 2_000)).unwrap();
    let refund = Record::builder(t(6 * DAY), "web")
        .identifier("user_id", "ann")
        .event(EventInput::new("order_refunded", t(6 * DAY)).property("amount", usd(3_000)))
        .build();
    e.ingest(&refund).unwrap();
    let ann = e.find("user_id", "ann").unwrap().unwrap();
    e.score_rfm("classic", t(10 * DAY)).unwrap();
    let s = e.rfm_score("classic", ann).unwrap().unwrap();
    assert_eq!(
        (s.recency_days, s.frequency, s.monetary_minor),
        (5, 2, 9_000)
    );
    // A reference between the events counts only those at or before it.
    e.score_rfm("classic", t(3 * DAY)).unwrap();
    let s = e.rfm_score("classic", ann).unwrap().unwrap();
    assert_eq!(
        (s.recency_days, s.frequency, s.monetary_minor),
        (2, 1, 10_000)
    );
    // Before every event: not scored.
    e.score_rfm("classic", t(0)).unwrap();
    assert_eq!(e.rfm_score("classic", ann).unwrap(), None);
    e.internal_validate().unwrap();
}

#[test]
fn merges_join_tallies_and_retired_ids_follow_the_survivor() {
    let mut e = retail();
    let anon = Record::builder(t(2 * DAY), "web")
        .identifier("anonymous_id", "dev-1")
        .event(EventInput::new("order_completed", t(2 * DAY)).property("amount", usd(700)))
        .build();
    let a = e.ingest(&order("ann", 1, 300)).unwrap().profile;
    let b = e.ingest(&anon).unwrap().profile;
    e.ingest(&order("bob", 1, 100)).unwrap();
    let login = Record::builder(t(3 * DAY), "app")
        .identifier("user_id", "ann")
        .identifier("anonymous_id", "dev-1")
        .build();
    assert_eq!(e.ingest(&login).unwrap().merged, vec![b]);
    e.score_rfm("classic", t(4 * DAY)).unwrap();
    let s = e.rfm_score("classic", b).unwrap().unwrap();
    assert_eq!(s.profile, a);
    assert_eq!(
        (s.recency_days, s.frequency, s.monetary_minor),
        (2, 2, 1_000)
    );
    assert_eq!(e.rfm_run("classic").unwrap().unwrap().len(), 2);
    e.internal_validate().unwrap();
}

#[test]
fn engagement_weights_opens_and_clicks() {
    let mut e = retail();
    e.ingest(&event("ann", "email_open", 1)).unwrap();
    e.ingest(&event("ann", "email_click", 2)).unwrap();
    e.ingest(&event("bob", "email_open", 1)).unwrap();
    e.ingest(&order("bob", 3, 100)).unwrap();
    e.ingest(&order("cy", 3, 100)).unwrap();
    let run = e.score_rfm("engagement", t(4 * DAY)).unwrap();
    let values: Vec<(i64, i64, i64)> = run
        .iter()
        .map(|s| (s.recency_days, s.frequency, s.monetary_minor))
        .collect();
    // cy never opened: not scored; bob's purchase makes his monetary.
    assert_eq!(values, [(2, 3, 0), (3, 1, 100)]);
}

/// Scores `users` (name, day of last order, orders) at `day`.
fn shop(days: &[(&str, i64, usize)]) -> Vec<Record> {
    days.iter()
        .flat_map(|&(user, day, n)| (0..n).map(move |i| order(user, day - i as i64, 1_000)))
        .collect()
}

#[test]
fn trends_and_fading_stars_follow_the_previous_run() {
    let mut e = retail();
    let users = ["a", "b", "c", "d", "e"];
    for (i, u) in users.iter().enumerate() {
        // a: most recent, most orders, most money … e: least of everything.
        for r in shop(&[(u, 50 - i as i64, 5 - i)]) {
            e.ingest(&r).unwrap();
        }
    }
    e.score_rfm("classic", t(60 * DAY)).unwrap();
    let a = e.find("user_id", "a").unwrap().unwrap();
    assert_eq!(e.rfm_trend("classic", a).unwrap(), None);
    let first = e.rfm_score("classic", a).unwrap().unwrap();
    assert_eq!([first.r, first.f, first.m], [5, 5, 5]);
    // Others catch up: everyone else buys more, later, while a does nothing.
    for u in &users[1..] {
        for r in shop(&[(u, 58, 6)]) {
            e.ingest(&r).unwrap();
        }
    }
    e.score_rfm("classic", t(60 * DAY)).unwrap();
    let trend = e.rfm_trend("classic", a).unwrap().unwrap();
    assert_eq!(trend.r.direction, Direction::Down);
    assert!(trend.f.delta < 0 && trend.m.delta < 0);
    assert_eq!(e.rfm_segment("classic", "Fading Stars").unwrap(), vec![a]);
    // The previous run is kept, the one before it dropped.
    assert_eq!(
        e.previous_rfm_run("classic").unwrap().unwrap().get(a),
        Some(first)
    );
}

#[test]
fn hyperactives_and_zombies() {
    let mut e = retail();
    for day in 0..5 {
        e.ingest(&event("z", "email_open", day)).unwrap();
    }
    for day in 195..200 {
        e.ingest(&event("h", "email_click", day)).unwrap();
        e.ingest(&order("h", day, 5_000)).unwrap();
    }
    e.ingest(&event("x", "email_open", 190)).unwrap();
    e.ingest(&order("x", 150, 100)).unwrap();
    e.score_rfm("classic", t(200 * DAY)).unwrap();
    e.score_rfm("engagement", t(200 * DAY)).unwrap();
    let id = |u: &str| e.find("user_id", u).unwrap().unwrap();
    assert_eq!(
        e.rfm_segment("engagement", "Hyperactives").unwrap(),
        vec![id("h")]
    );
    assert_eq!(
        e.rfm_segment("engagement", "Zombies").unwrap(),
        vec![id("z")]
    );
    assert_eq!(e.rfm_label("engagement", id("z")).unwrap(), Some("Zombies"));
    let sizes = e.rfm_segment_sizes("engagement").unwrap();
    assert_eq!(
        sizes,
        vec![("Hyperactives".to_string(), 1), ("Zombies".to_string(), 1)]
    );
}

#[test]
fn fixed_breaks_are_the_hosts_rule() {
    let breaks = FixedBreaks {
        recency_days: vec![30, 90, 180, 365],
        frequency: vec![2, 3, 5, 10],
        monetary_minor: vec![5_000, 10_000, 50_000, 100_000],
    };
    let mut def = Schema::retail_default().def().clone();
    def.rfm_models[0].scoring = Scoring::Fixed(breaks);
    let mut e = Engine::new(Schema::from_def(def).unwrap());
    e.ingest(&order("ann", 70, 6_000)).unwrap();
    e.ingest(&order("ann", 71, 6_000)).unwrap();
    let run = e.score_rfm("classic", t(101 * DAY)).unwrap();
    let s = run.iter().next().unwrap();
    assert_eq!(s.recency_days, 30);
    assert_eq!([s.r, s.f, s.m], [5, 2, 3]);
}

#[test]
fn custom_segments_are_data() {
    let mut def = Schema::retail_default().def().clone();
    def.rfm_segments = vec![
        RfmSegmentDef::new("Big Spenders", "classic").when(RfmCondition::value(
            Dimension::Monetary,
            Some(50_000),
            None,
        )),
    ];
    let json = serde_json::to_string(&def).unwrap();
    let schema: Schema = serde_json::from_str(&json).unwrap();
    let mut e = Engine::new(schema);
    e.ingest(&order("ann", 1, 60_000)).unwrap();
    e.ingest(&order("bob", 1, 100)).unwrap();
    e.score_rfm("classic", t(2 * DAY)).unwrap();
    let ann = e.find("user_id", "ann").unwrap().unwrap();
    assert_eq!(e.rfm_segment("classic", "Big Spenders").unwrap(), vec![ann]);
    assert_eq!(
        e.rfm_segment("classic", "Champions"),
        Err(LookupError::UnknownRfmSegment {
            model: "classic".into(),
            name: "Champions".into()
        })
    );
}

fn schema_error(edit: impl FnOnce(&mut audience::schema::SchemaDef)) -> SchemaError {
    let mut def = Schema::retail_default().def().clone();
    edit(&mut def);
    Schema::from_def(def).unwrap_err()
}

#[test]
fn bad_models_are_typed_schema_errors() {
    let rfm = |model: &str, problem| SchemaError::Rfm {
        model: model.into(),
        problem,
    };
    assert_eq!(
        schema_error(|d| d.rfm_models[0].activity[0].kind = "purchase".into()),
        rfm("classic", RfmProblem::UnknownEventKind("purchase".into()))
    );
    assert_eq!(
        schema_error(|d| d.rfm_models[0].monetary.property = "items".into()),
        rfm(
            "classic",
            RfmProblem::NotMoney {
                kind: "order_completed".into(),
                property: "items".into(),
                got: "integer"
            }
        )
    );
    assert_eq!(
        schema_error(|d| d.rfm_models[0].monetary.property = "price".into()),
        rfm(
            "classic",
            RfmProblem::UnknownProperty {
                kind: "order_completed".into(),
                property: "price".into()
            }
        )
    );
    for bins in [0, 1, 11] {
        assert_eq!(
            schema_error(|d| d.rfm_models[0].bins = bins),
            rfm("classic", RfmProblem::Bins(bins))
        );
    }
    assert_eq!(
        schema_error(|d| d.rfm_models[1].activity[0].weight = 0),
        rfm(
            "engagement",
            RfmProblem::Weight {
                kind: "email_open".into(),
                weight: 0
            }
        )
    );
    let breaks = |recency: Vec<i64>| {
        Scoring::Fixed(FixedBreaks {
            recency_days: recency,
            frequency: vec![1, 2, 3, 4],
            monetary_minor: vec![1, 2, 3, 4],
        })
    };
    assert_eq!(
        schema_error(|d| d.rfm_models[0].scoring = breaks(vec![30, 90, 90, 365])),
        rfm(
            "classic",
            RfmProblem::BreaksNotAscending {
                dimension: "recency_days",
                breaks: vec![30, 90, 90, 365]
            }
        )
    );
    assert_eq!(
        schema_error(|d| d.rfm_models[0].scoring = breaks(vec![30, 90])),
        rfm(
            "classic",
            RfmProblem::BreakCount {
                dimension: "recency_days",
                expected: 4,
                got: 2
            }
        )
    );
    assert_eq!(
        schema_error(|d| d.rfm_segments[0].model = "vip".into()),
        SchemaError::RfmSegment {
            name: "Champions".into(),
            problem: RfmProblem::UnknownModel("vip".into())
        }
    );
    assert_eq!(
        schema_error(|d| d.rfm_segments[0].conditions.push(RfmCondition::score(
            Dimension::Monetary,
            4,
            11
        ))),
        SchemaError::RfmSegment {
            name: "Champions".into(),
            problem: RfmProblem::ScoreRange { min: 4, max: 11 }
        }
    );
    assert!(matches!(
        schema_error(|d| d.rfm_models.push(d.rfm_models[0].clone())),
        SchemaError::DuplicateName { .. }
    ));
}

#[test]
fn bad_input_at_ingest_leaves_the_engine_unchanged() {
    let mut e = retail();
    e.ingest(&order("ann", 1, 100)).unwrap();
    let before = e.clone();
    let euros = Record::builder(t(DAY), "web")
        .identifier("user_id", "bob")
        .event(
            EventInput::new("order_completed", t(DAY))
                .property("amount", Money::new(100, Currency::new("EUR").unwrap())),
        )
        .build();
    assert!(matches!(
        e.ingest(&euros),
        Err(IngestError::RfmCurrencyMismatch { model, .. }) if model == "classic"
    ));
    assert_eq!(e, before);
    // An amount that would overflow the monetary sum (schema without non-negative checks).
    let schema = Schema::builder()
        .identifier_kind(IdentifierKindDef::new("user_id", Normalizer::Trim, 1))
        .source("web", 1)
        .event_kind(EventKindDef {
            name: "order_completed".into(),
            properties: vec![PropertyDef {
                name: "amount".into(),
                ty: PropertyType::Money,
                non_negative: false,
            }],
            retention_days: None,
        })
        .rfm_model(RfmModelDef::classic(
            "classic",
            Currency::new("USD").unwrap(),
        ))
        .build()
        .unwrap();
    let mut e = Engine::new(schema);
    e.ingest(&order("ann", 1, i64::MAX)).unwrap();
    let before = e.clone();
    assert_eq!(
        e.ingest(&order("ann", 2, -1)),
        Err(IngestError::RfmOverflow {
            model: "classic".into()
        })
    );
    assert_eq!(e, before);
    assert_eq!(
        e.score_rfm("vip", Timestamp::MAX).unwrap_err(),
        LookupError::UnknownRfmModel("vip".into())
    );
    assert_eq!(
        e.rfm_score("classic", ProfileId(99)),
        Err(LookupError::UnknownProfile(ProfileId(99)))
    );
}

#[test]
fn bad_csv_rows_name_their_line() {
    let usd = Currency::new("USD").unwrap();
    let bad = |row: &str| {
        let text = format!("customer_id,timestamp,amount\n1,1997-01-01,1.00\n{row}\n");
        transactions::parse(&text, usd).unwrap_err()
    };
    for amount in ["12.345", "abc", "", "1.", ".5", "1,5"] {
        let err = bad(&format!("2,1997-01-02,{amount}"));
        assert_eq!(err.line, 3, "{amount}");
        if amount != "1,5" {
            assert!(
                matches!(
                    err.problem,
                    CsvProblem::BadAmount(MoneyError::BadAmount { .. })
                ),
                "{amount}: {err}"
            );
        }
    }
    for date in ["1997-13-01", "01/02/1997", "1997-01-01T25:00:00Z", ""] {
        let err = bad(&format!("2,{date},1.00"));
        assert!(
            matches!(err.problem, CsvProblem::BadDate(_)),
            "{date}: {err}"
        );
    }
    assert_eq!(bad("2,1997-01-02").problem, CsvProblem::Fields(2));
    assert_eq!(bad(" ,1997-01-02,1").problem, CsvProblem::EmptyCustomer);
    let err: Error = bad("2,1997-01-02,12.345").into();
    assert!(err.to_string().starts_with("line 3: bad amount"));
    // RFC 3339: the date part counts; amounts are exact.
    let rows = transactions::parse("7,1997-01-02T23:59:59-08:00,0.10\n", usd).unwrap();
    assert_eq!(rows[0].day, Timestamp::from_secs(852_163_200).unwrap());
    assert_eq!(rows[0].amount.minor, 10);
}
