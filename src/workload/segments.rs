//! The segment workload of `shared/bench/WORKLOAD.md`: profiles with traits and events,
//! generated bit for bit from a seed.
//!
//! ```
//! use audience::workload::segments::profile;
//! let p = profile(42, 0);
//! assert_eq!((p.country, p.plan, p.age, p.signup_day), ("US", "free", 85, 314));
//! assert_eq!(p.events.len(), 27);
//! ```

use crate::engine::IngestReport;
use crate::error::{Error, SegmentError};
use crate::ids::SegmentId;
use crate::money::{Currency, Money};
use crate::privacy::Suppression;
use crate::record::Value;
use crate::record::{ConsentInput, EventInput, Record};
use crate::rfm::{RfmModelDef, RfmSegmentDef};
use crate::schema::{
    Computation, ComputedDef, ConsentDefault, EventFilter, EventKindDef, Field, IdentifierKindDef,
    Normalizer, PropertyDef, PropertyType, Schema, TraitDef, TraitType,
};
use crate::segment::{
    EventSpec, Expr, Sequence, Test, consent, event, sample, segment, suppressed, trait_,
};
use crate::time::{Timestamp, Window};
use crate::workload::splitmix::{SplitMix64, mix64, pick};
use crate::{ComputedValue, Engine};

/// "now": day 730 = 2025-12-31.
pub const NOW_DAY: u16 = 730;
/// Day 0 = 2024-01-01T00:00:00Z, in seconds since the epoch.
pub const DAY0_SECS: i64 = 1_704_067_200;

#[rustfmt::skip]
const COUNTRY: [(&str, u64); 20] = [
    ("US", 32), ("GB", 10), ("DE", 9), ("FR", 7), ("CA", 5), ("BR", 5), ("IN", 5),
    ("JP", 4), ("AU", 3), ("ES", 3), ("IT", 3), ("NL", 2), ("SE", 2), ("MX", 2),
    ("PL", 2), ("KR", 2), ("CH", 1), ("IE", 1), ("NZ", 1), ("SG", 1),
];
const PLAN: [(&str, u64); 4] = [("free", 60), ("basic", 25), ("pro", 12), ("enterprise", 3)];
const KIND: [(&str, u64); 6] = [
    ("page_view", 50),
    ("add_to_cart", 15),
    ("checkout_started", 8),
    ("order_completed", 7),
    ("email_open", 13),
    ("email_click", 7),
];

/// One event of the workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkloadEvent {
    /// The event kind, from the shared vocabulary.
    pub kind: &'static str,
    /// Days since 2024-01-01 (0..=730).
    pub day: u16,
    /// Cents; 0 unless the kind is `order_completed`.
    pub amount_minor: u32,
}

/// One profile of the workload with its events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadProfile {
    /// The profile id (equal to the engine's `ProfileId` when ingested in order).
    pub profile_id: u32,
    /// ISO country code.
    pub country: &'static str,
    /// Plan name.
    pub plan: &'static str,
    /// Age in years (18..=90).
    pub age: u8,
    /// Days since 2020-01-01 (0..=2000).
    pub signup_day: u16,
    /// Lifetime value in cents.
    pub ltv_minor: u32,
    /// Consent for marketing by email (a consent statement, granted or denied).
    pub consent_email: bool,
    /// Consent for marketing by SMS.
    pub consent_sms: bool,
    /// Suppressed on every channel (a whole-profile suppression).
    pub suppressed: bool,
    /// Events in generation order.
    pub events: Vec<WorkloadEvent>,
}

fn table_pick<T: Copy>(table: &[(T, u64)], r: u64) -> Option<T> {
    let weights: Vec<u64> = table.iter().map(|(_, w)| *w).collect();
    table.get(pick(&weights, r)).map(|(v, _)| *v)
}

/// Profile `p` of the stream with `seed`.
pub fn profile(seed: u64, p: u32) -> WorkloadProfile {
    let mut rng = SplitMix64::new(mix64(mix64(seed) ^ u64::from(p)));
    let mut draw = move || rng.next_u64();
    let country = table_pick(&COUNTRY, draw() % 100).unwrap_or("US");
    let plan = table_pick(&PLAN, draw() % 100).unwrap_or("free");
    let age = 18 + (draw() % 73) as u8;
    let signup_day = (draw() % 2001) as u16;
    let l = draw() % 1000;
    let ltv_minor = (l * l) as u32;
    let consent_email = draw() % 100 < 70;
    let consent_sms = draw() % 100 < 30;
    let suppressed = draw() % 100 < 1;
    let n_events = draw() % 41;
    let events = (0..n_events)
        .map(|_| {
            let kind = table_pick(&KIND, draw() % 100).unwrap_or("page_view");
            let a = draw() % 731;
            let b = draw() % 731;
            let x = draw() % 1000;
            WorkloadEvent {
                kind,
                day: (730 - (a * b) / 730) as u16,
                amount_minor: if kind == "order_completed" {
                    (100 + (x * x) / 10) as u32
                } else {
                    0
                },
            }
        })
        .collect();
    WorkloadProfile {
        profile_id: p,
        country,
        plan,
        age,
        signup_day,
        ltv_minor,
        consent_email,
        consent_sms,
        suppressed,
        events,
    }
}

/// Profiles `0..n` in order.
pub fn generate(seed: u64, n: u32) -> impl Iterator<Item = WorkloadProfile> {
    (0..n).map(move |p| profile(seed, p))
}

/// The time of day `day` (UTC midnight).
pub fn day_time(day: u16) -> Timestamp {
    Timestamp::from_secs(DAY0_SECS + i64::from(day) * 86_400).unwrap_or(Timestamp::MIN)
}

/// The eight computed traits of the events benchmark: 90-day order count, 365-day order
/// sum, last cart time, last order time, favourite kind, days since the last email open,
/// time-of-day habit (its night share is the "late-night share") and distinct kinds.
pub fn computed_traits() -> Vec<ComputedDef> {
    let order = || EventFilter::kind("order_completed");
    let usd = Currency::new("USD").ok();
    let mut sum = ComputedDef::new(
        "order_sum_365d",
        order(),
        Computation::Sum {
            property: "amount".into(),
        },
    )
    .window(Window::LastDays(365));
    sum.currency = usd;
    vec![
        ComputedDef::new("orders_90d", order(), Computation::Count).window(Window::LastDays(90)),
        sum,
        ComputedDef::new(
            "last_cart_at",
            EventFilter::kind("add_to_cart"),
            Computation::LastTime,
        ),
        ComputedDef::new("last_order_at", order(), Computation::LastTime),
        ComputedDef::new(
            "favourite_kind",
            EventFilter::any(),
            Computation::MostFrequent { field: Field::Kind },
        ),
        ComputedDef::new(
            "days_since_email_open",
            EventFilter::kind("email_open"),
            Computation::DaysSince,
        ),
        ComputedDef::new(
            "habit",
            EventFilter::any(),
            Computation::Habit {
                time_zone_trait: None,
            },
        ),
        ComputedDef::new(
            "distinct_kinds",
            EventFilter::any(),
            Computation::DistinctCount { field: Field::Kind },
        ),
    ]
}

/// The schema the workload is ingested under: identifier kinds `user_id` and `email`,
/// source `app`, the five profile traits, the purpose `marketing` (opt-in) on channels
/// `email` (addressed by `email`) and `sms`, the six event kinds with `amount` (money, USD) on `order_completed`, and the
/// [`computed_traits`], and the classic RFM model `classic` (purchases valued by
/// `amount`) with the ten standard segments (see `shared/bench/RFM.md`).
#[allow(clippy::expect_used)] // Fixed definitions, checked by a unit test.
pub fn schema() -> Schema {
    let mut b = Schema::builder()
        .identifier_kind(IdentifierKindDef::new("user_id", Normalizer::Trim, 1).limit(1))
        .identifier_kind(IdentifierKindDef::new("email", Normalizer::Email, 2))
        .source("app", 1)
        .purpose("marketing", ConsentDefault::OptIn)
        .channel("email", Some("email"))
        .channel("sms", None);
    for (name, ty) in [
        ("country", TraitType::Text),
        ("plan", TraitType::Text),
        ("age", TraitType::Integer),
        ("signup_day", TraitType::Integer),
        ("ltv_minor", TraitType::Integer),
    ] {
        b = b.trait_def(TraitDef::new(name, ty));
    }
    for (kind, _) in KIND {
        let properties = if kind == "order_completed" {
            vec![PropertyDef {
                name: "amount".into(),
                ty: PropertyType::Money,
                non_negative: true,
            }]
        } else {
            Vec::new()
        };
        b = b.event_kind(EventKindDef {
            name: kind.into(),
            properties,
            retention_days: None,
        });
    }
    for def in computed_traits() {
        b = b.computed(def);
    }
    let usd = Currency::new("USD").expect("USD is an ISO 4217 code");
    b.rfm_model(RfmModelDef::classic("classic", usd))
        .rfm_segments(RfmSegmentDef::standard("classic"))
        .build()
        .expect("the workload schema is valid")
}

/// The EU countries of WORKLOAD.md §5.
pub const EU: [&str; 8] = ["DE", "FR", "ES", "IT", "NL", "SE", "PL", "IE"];

/// WORKLOAD.md's queries Q1–Q10 as expressions, in order. Q8–Q10 name Q3, Q4, Q6 and Q7,
/// so register them in this order (see [`register_queries`]).
pub fn queries() -> Vec<(&'static str, Expr)> {
    let usd = Currency::new("USD").ok();
    let q7_sum = usd.map_or(Test::Gt(Value::Integer(50_000)), |c| {
        Test::Gt(Value::Money(Money::new(50_000, c)))
    });
    vec![
        ("Q1", trait_("country").eq("DE")),
        (
            "Q2",
            trait_("age")
                .between(25i64, 34i64)
                .and(trait_("ltv_minor").ge(250_000i64)),
        ),
        (
            "Q3",
            trait_("country")
                .is_in(["US", "CA"])
                .and(trait_("plan").is_in(["pro", "enterprise"]))
                .or(trait_("country")
                    .eq("GB")
                    .and(trait_("plan").eq("free").not())
                    .and(trait_("signup_day").ge(1500i64))),
        ),
        (
            "Q4",
            trait_("country")
                .is_in(EU)
                .and(consent("marketing", "email"))
                .and(suppressed("email").not()),
        ),
        (
            "Q5",
            Expr::Sequence(Sequence::NoneSince {
                first: EventSpec {
                    kind: "add_to_cart".into(),
                    conditions: Vec::new(),
                },
                window: Window::LastDays(7),
                then: EventSpec {
                    kind: "order_completed".into(),
                    conditions: Vec::new(),
                },
            }),
        ),
        (
            "Q6",
            event("order_completed")
                .in_window(Window::LastDays(90))
                .at_least(3),
        ),
        (
            "Q7",
            event("order_completed")
                .in_window(Window::LastDays(365))
                .sum("amount", q7_sum),
        ),
        ("Q8", segment("Q7").and(segment("Q4"))),
        ("Q9", segment("Q4").and(sample(2024, 0, 10))),
        ("Q10", segment("Q3").and(segment("Q6"))),
    ]
}

/// Registers Q1–Q10 as segments of `engine` (its clock set); returns their ids in order.
///
/// # Errors
/// [`SegmentError`] when the engine's schema is not [`schema`]'s or its clock is unset.
pub fn register_queries(engine: &mut Engine) -> Result<Vec<SegmentId>, SegmentError> {
    queries()
        .into_iter()
        .map(|(name, expr)| engine.register_segment(name, expr))
        .collect()
}

/// The counts of Q1–Q10 at N = 10,000 and 1,000,000 (WORKLOAD.md §5).
pub const QUERY_COUNTS_10K: [u64; 10] = [896, 651, 650, 2019, 1340, 298, 3257, 636, 207, 17];
/// See [`QUERY_COUNTS_10K`].
pub const QUERY_COUNTS_1M: [u64; 10] = [
    90_173, 68_251, 65_734, 201_098, 141_652, 26_256, 324_633, 65_591, 19_930, 1_678,
];

/// Counts of WORKLOAD.md's event queries, read off the [`computed_traits`] of an engine
/// that ingested the workload under [`schema`]: Q5 (a cart in the last 7 days and no order
/// since), Q6 (at least 3 orders in 90 days) and Q7 (more than $500 in 365 days).
pub fn event_query_counts(engine: &Engine) -> (u64, u64, u64) {
    let (mut q5, mut q6, mut q7) = (0, 0, 0);
    let week_start = day_time(NOW_DAY - 6);
    for p in engine.profile_ids() {
        let get = |name| engine.computed(p, name).ok().flatten();
        if let Some(ComputedValue::Time(cart)) = get("last_cart_at") {
            let ordered_since =
                matches!(get("last_order_at"), Some(ComputedValue::Time(o)) if o >= cart);
            q5 += u64::from(cart >= week_start && !ordered_since);
        }
        q6 += u64::from(matches!(get("orders_90d"), Some(ComputedValue::Count(n)) if n >= 3));
        q7 += u64::from(
            matches!(get("order_sum_365d"), Some(ComputedValue::Money(m)) if m.minor > 50_000),
        );
    }
    (q5, q6, q7)
}

fn statement(granted: bool) -> ConsentInput {
    if granted {
        ConsentInput::grant("marketing")
    } else {
        ConsentInput::deny("marketing")
    }
}

/// Feeds `profile` to `engine`: its [`WorkloadProfile::to_record`], then, for a
/// suppressed one, a whole-profile suppression on every channel at the record's time.
///
/// # Errors
/// The engine's, for an engine whose schema is not [`schema`].
pub fn ingest(engine: &mut Engine, profile: &WorkloadProfile) -> Result<IngestReport, Error> {
    let record = profile.to_record();
    let report = engine.ingest(&record)?;
    if profile.suppressed {
        engine.suppress_profile(
            report.profile,
            Suppression::new("workload", record.timestamp),
        )?;
    }
    Ok(report)
}

impl WorkloadProfile {
    /// The profile as one record: its traits, its two consent statements and all its
    /// events, at its last event's day (day 0 when it has none). Suppression is not part
    /// of a record: [`ingest`] applies it.
    pub fn to_record(&self) -> Record {
        let usd = Currency::new("USD").ok();
        let last = self.events.iter().map(|e| e.day).max().unwrap_or(0);
        let mut b = Record::builder(day_time(last), "app")
            .identifier("user_id", self.profile_id.to_string())
            .trait_value("country", self.country)
            .trait_value("plan", self.plan)
            .trait_value("age", i64::from(self.age))
            .trait_value("signup_day", i64::from(self.signup_day))
            .trait_value("ltv_minor", i64::from(self.ltv_minor))
            .consent(statement(self.consent_email).channel("email"))
            .consent(statement(self.consent_sms).channel("sms"));
        for e in &self.events {
            let mut ev = EventInput::new(e.kind, day_time(e.day));
            if let (true, Some(usd)) = (e.kind == "order_completed", usd) {
                ev = ev.property("amount", Money::new(i64::from(e.amount_minor), usd));
            }
            b = b.event(ev);
        }
        b.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProfileId;

    #[test]
    fn golden_rows_of_workload_md() {
        let p = profile(42, 0);
        assert_eq!(
            (p.country, p.plan, p.age, p.signup_day, p.ltv_minor),
            ("US", "free", 85, 314, 57_600)
        );
        assert_eq!(
            (p.consent_email, p.consent_sms, p.suppressed),
            (true, true, false)
        );
        let first: Vec<(&str, u16, u32)> = p
            .events
            .iter()
            .take(5)
            .map(|e| (e.kind, e.day, e.amount_minor))
            .collect();
        assert_eq!(
            first,
            [
                ("order_completed", 335, 25_602),
                ("page_view", 661, 0),
                ("page_view", 482, 0),
                ("page_view", 672, 0),
                ("page_view", 632, 0)
            ]
        );
        let p1 = profile(42, 1);
        assert_eq!(
            (p1.country, p1.age, p1.signup_day, p1.ltv_minor),
            ("US", 44, 1525, 622_521)
        );
        let p2 = profile(42, 2);
        assert_eq!(
            (p2.country, p2.age, p2.ltv_minor, p2.consent_sms),
            ("CA", 20, 940_900, false)
        );
    }

    #[test]
    fn ten_thousand_profiles_ingest_in_id_order() {
        // Clock set first: every value is kept current record by record.
        let mut engine = Engine::new(schema());
        engine.advance_time(day_time(NOW_DAY)).unwrap();
        let mut events = 0;
        for p in generate(42, 10_000) {
            events += p.events.len();
            let report = ingest(&mut engine, &p).unwrap();
            assert_eq!(report.profile, ProfileId(p.profile_id));
        }
        assert_eq!(events, 198_096);
        let view = engine.profile(ProfileId(0)).unwrap();
        assert_eq!(view.events.len(), 27);
        assert_eq!(view.value("country"), Some(&"US".into()));
        assert_eq!(event_query_counts(&engine), (1340, 298, 3257));
        engine.internal_validate().unwrap();
        // Clock set last: the first move computes everything; the same answers.
        let mut late = Engine::new(schema());
        for p in generate(42, 10_000) {
            ingest(&mut late, &p).unwrap();
        }
        late.advance_time(day_time(NOW_DAY)).unwrap();
        assert_eq!(event_query_counts(&late), (1340, 298, 3257));
        // Walking the clock there week by week, with every event still in the future at
        // ingest (so no tolerance), gives the same answers as jumping.
        let config = crate::EngineConfig {
            future_tolerance_secs: None,
            ..crate::EngineConfig::default()
        };
        let mut walked = Engine::with_config(schema(), config);
        walked.advance_time(day_time(0)).unwrap();
        for p in generate(42, 10_000) {
            ingest(&mut walked, &p).unwrap();
        }
        for day in (0..=NOW_DAY).step_by(7).chain([NOW_DAY]) {
            walked.advance_time(day_time(day)).unwrap();
        }
        assert_eq!(event_query_counts(&walked), (1340, 298, 3257));
        walked.internal_validate().unwrap();
    }

    #[test]
    fn ten_queries_at_ten_thousand_profiles() {
        let mut engine = Engine::new(schema());
        engine.advance_time(day_time(NOW_DAY)).unwrap();
        for p in generate(42, 10_000) {
            ingest(&mut engine, &p).unwrap();
        }
        let ids = register_queries(&mut engine).unwrap();
        let counts: Vec<u64> = ids
            .iter()
            .map(|&id| engine.segment_count(id).unwrap())
            .collect();
        assert_eq!(counts, QUERY_COUNTS_10K);
        // The row evaluator agrees on every profile, for every query.
        for (name, expr) in queries() {
            let plan = engine.compile(&expr).unwrap();
            let members = engine.members(&plan).unwrap();
            for p in engine.profile_ids() {
                assert_eq!(
                    engine.matches(&plan, p).unwrap(),
                    members.contains(p.0),
                    "{name} {p}"
                );
            }
        }
    }
}
