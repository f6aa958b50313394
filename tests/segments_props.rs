//! The segment invariants on random expressions over random engines: the bitmap evaluator
//! equals the row evaluator on every profile, the set laws hold (complement against the
//! live profiles), and sample buckets are disjoint, complete and stable.

use audience::segment::{
    EventSpec, Expr, RfmCond, Sequence, Test, computed, consent, event, sample, segment,
    suppressed, suppressed_anywhere, trait_,
};
use audience::{
    ConsentInput, Currency, Engine, EventInput, Money, ProfileId, Record, Schema, Suppression,
    Value, Window,
};
use proptest::prelude::*;

use crate::common::t;

const DAY: i64 = 86_400;

fn usd(cents: i64) -> Money {
    Money::new(cents, Currency::new("USD").unwrap())
}

/// Purposes of the retail default schema (marketing and personalization are opt-in).
pub(crate) const PURPOSES: [&str; 4] =
    ["marketing", "personalization", "analytics", "sale_or_share"];
/// Channels of the retail default schema.
pub(crate) const CHANNELS: [&str; 5] = ["email", "sms", "push", "ads", "web"];

/// A suppression a person's record is followed by.
#[derive(Clone, Debug)]
pub(crate) enum Suppress {
    /// The whole profile, on a channel or on every channel.
    Profile(Option<&'static str>),
    /// The person's email, on a channel or on every channel.
    Email(Option<&'static str>),
}

impl Person {
    /// The profile holding one of the person's identifiers, if any.
    pub(crate) fn find(&self, e: &Engine) -> Option<ProfileId> {
        let user = self.user.map(|u| ("user_id", format!("u{u}")));
        let email = self.email.map(|n| ("email", format!("e{n}@example.com")));
        let anon = Some(("anonymous_id", format!("a{}", self.anon.unwrap_or(0))));
        [user, email, anon]
            .into_iter()
            .flatten()
            .find_map(|(k, v)| e.find(k, &v).unwrap())
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Person {
    /// Often absent: anonymous and email-only records are later stitched by a login
    /// (which is how profiles merge under a `user_id` limit of 1).
    pub(crate) user: Option<u8>,
    anon: Option<u8>,
    pub(crate) email: Option<u8>,
    country: Option<&'static str>,
    age: Option<i64>,
    interests: Vec<&'static str>,
    events: Vec<(&'static str, i64, i64, &'static str)>,
    /// (purpose, channel or every channel, granted).
    consent: Vec<(&'static str, Option<&'static str>, bool)>,
    pub(crate) suppress: Option<Suppress>,
}

fn channel() -> impl Strategy<Value = Option<&'static str>> {
    prop::option::of(prop::sample::select(CHANNELS.to_vec()))
}

pub(crate) fn person() -> impl Strategy<Value = Person> {
    (
        prop::option::weighted(0.6, 0u8..12),
        prop::option::of(0u8..6),
        prop::option::of(prop::sample::select(vec!["DE", "FR", "GB", "DK"])),
        prop::option::of(18i64..80),
        prop::collection::vec(prop::sample::select(vec!["jazz", "soul", "rock"]), 0..3),
        prop::collection::vec(
            (
                prop::sample::select(vec!["order_completed", "add_to_cart", "email_open"]),
                0i64..40,
                0i64..50_000,
                prop::sample::select(vec!["jazz", "rock"]),
            ),
            0..4,
        ),
        (
            prop::option::of(0u8..5),
            prop::collection::vec(
                (
                    prop::sample::select(PURPOSES.to_vec()),
                    channel(),
                    any::<bool>(),
                ),
                0..3,
            ),
            prop::option::weighted(
                0.2,
                prop_oneof![
                    channel().prop_map(Suppress::Profile),
                    channel().prop_map(Suppress::Email),
                ],
            ),
        ),
    )
        .prop_map(
            |(user, anon, country, age, interests, events, (email, consent, suppress))| Person {
                user,
                anon,
                email,
                country,
                age,
                interests,
                events,
                consent,
                suppress,
            },
        )
}

pub(crate) fn test_schema() -> Schema {
    let mut def = Schema::retail_default().def().clone();
    def.computed.push(
        audience::schema::ComputedDef::new(
            "orders_10d",
            audience::schema::EventFilter::kind("order_completed"),
            audience::schema::Computation::Count,
        )
        .window(Window::LastDays(10)),
    );
    def.computed.push(audience::schema::ComputedDef::new(
        "days_since_order",
        audience::schema::EventFilter::kind("order_completed"),
        audience::schema::Computation::DaysSince,
    ));
    Schema::from_def(def).unwrap()
}

pub(crate) fn engine_of(people: &[Person]) -> Engine {
    let mut e = Engine::new(test_schema());
    e.advance_time(t(35 * DAY)).unwrap();
    for (i, p) in people.iter().enumerate() {
        ingest_person(&mut e, i, p);
    }
    e.score_rfm("classic", t(35 * DAY)).unwrap();
    e.register_segment("danes", trait_("country").eq("DK"))
        .unwrap();
    e.internal_validate().unwrap();
    e
}

/// Ingests a person's record (refused records, e.g. over a limit, are skipped), then
/// applies their suppression; returns the profile.
pub(crate) fn ingest_person(e: &mut Engine, i: usize, p: &Person) -> Option<ProfileId> {
    let profile = ingest_record(e, i, p)?;
    suppress_person(e, i, p, profile);
    Some(profile)
}

/// Applies a person's suppression, if any, as of `t(i)`.
pub(crate) fn suppress_person(e: &mut Engine, i: usize, p: &Person, profile: ProfileId) {
    let at = t(i as i64);
    let with = |c: Option<&str>| {
        let s = Suppression::new(format!("reason {i}"), at);
        match c {
            Some(c) => s.channel(c),
            None => s,
        }
    };
    match (&p.suppress, p.email) {
        (Some(Suppress::Profile(c)), _) => e.suppress_profile(profile, with(*c)).unwrap(),
        (Some(Suppress::Email(c)), Some(n)) => e
            .suppress_identifier("email", &format!("e{n}@example.com"), with(*c))
            .unwrap(),
        _ => {}
    }
}

/// Ingests a person's record only; returns the profile.
pub(crate) fn ingest_record(e: &mut Engine, i: usize, p: &Person) -> Option<ProfileId> {
    Some(e.ingest(&record_of(i, p)).ok()?.profile)
}

/// A person's record, at `t(i)`.
pub(crate) fn record_of(i: usize, p: &Person) -> Record {
    let mut b = Record::builder(t(i as i64), "web");
    if let Some(u) = p.user {
        b = b.identifier("user_id", format!("u{u}"));
    }
    match (p.anon, p.user, p.email) {
        (Some(a), _, _) => b = b.identifier("anonymous_id", format!("a{a}")),
        (None, None, None) => b = b.identifier("anonymous_id", "a0"),
        _ => {}
    }
    if let Some(n) = p.email {
        b = b.identifier("email", format!("e{n}@example.com"));
    }
    for &(purpose, channel, granted) in &p.consent {
        let mut c = if granted {
            ConsentInput::grant(purpose)
        } else {
            ConsentInput::deny(purpose)
        };
        if let Some(ch) = channel {
            c = c.channel(ch);
        }
        b = b.consent(c.proof(format!("form {i}")));
    }
    if let Some(c) = p.country {
        b = b.trait_value("country", c);
    }
    if let Some(age) = p.age {
        b = b.trait_value("age", age);
    }
    if !p.interests.is_empty() {
        let set: Vec<String> = p.interests.iter().map(|s| s.to_string()).collect();
        b = b.trait_value("interests", Value::TextSet(set));
    }
    for &(kind, day, cents, category) in &p.events {
        let mut ev = EventInput::new(kind, t(day * DAY));
        if kind == "order_completed" {
            ev = ev
                .property("amount", usd(cents))
                .property("category", category);
        }
        b = b.event(ev);
    }
    b.build()
}

fn spec(kind: &str) -> EventSpec {
    EventSpec {
        kind: kind.to_string(),
        conditions: vec![],
    }
}

fn leaf() -> impl Strategy<Value = Expr> {
    let kinds = prop::sample::select(vec!["order_completed", "add_to_cart", "email_open"]);
    let window = prop_oneof![
        Just(Window::Ever),
        (1u32..30).prop_map(Window::LastDays),
        (0i64..30, 1i64..20).prop_map(|(from, len)| Window::Between {
            from: t(from * DAY),
            to: t((from + len) * DAY),
        }),
    ];
    prop_oneof![
        Just(Expr::All),
        Just(Expr::None),
        prop::sample::select(vec!["DE", "FR", "GB", "DK"]).prop_map(|c| trait_("country").eq(c)),
        Just(trait_("country").is_in(["DE", "FR"])),
        Just(trait_("country").missing()),
        (18i64..80).prop_map(|a| trait_("age").ge(a)),
        (18i64..80, 0i64..20).prop_map(|(a, w)| trait_("age").between(a, a + w)),
        prop::sample::select(vec!["jazz", "soul", "rock"])
            .prop_map(|i| trait_("interests").contains(i)),
        (0i64..4).prop_map(|k| computed("orders_10d").ge(k)),
        (0i64..20, 0i64..10).prop_map(|(d, w)| computed("days_since_order").between(d, d + w)),
        (0i64..20).prop_map(|d| computed("days_since_order").eq(d)),
        (kinds.clone(), window.clone(), 0u64..3)
            .prop_map(|(k, w, n)| event(k).in_window(w).at_least(n)),
        (window.clone(), 0u64..2)
            .prop_map(|(w, n)| event("order_completed").in_window(w).at_most(n)),
        (window.clone(), 0i64..60_000).prop_map(|(w, x)| event("order_completed")
            .in_window(w)
            .sum("amount", Test::Ge(Value::Money(usd(x))))),
        Just(
            event("order_completed")
                .with("category", vec!["jazz".into()])
                .happened()
        ),
        (kinds.clone(), window.clone(), kinds.clone()).prop_map(|(a, w, b)| Expr::Sequence(
            Sequence::NoneSince {
                first: spec(a),
                window: w,
                then: spec(b)
            }
        )),
        (kinds.clone(), window, kinds, 0u32..5).prop_map(|(a, w, b, d)| Expr::Sequence(
            Sequence::Then {
                first: spec(a),
                window: w,
                then: spec(b),
                within_days: d
            }
        )),
        (1u8..=5, 0u8..3).prop_map(|(lo, w)| Expr::Rfm(RfmCond::Score {
            model: "classic".into(),
            dimension: audience::rfm::Dimension::Frequency,
            min: lo,
            max: (lo + w).min(5),
        })),
        Just(Expr::Rfm(RfmCond::Segment {
            model: "classic".into(),
            name: "Champions".into()
        })),
        (any::<u64>(), 0u8..=100, 0u8..=100).prop_map(|(s, a, b)| sample(s, a.min(b), a.max(b))),
        Just(segment("danes")),
        (
            prop::sample::select(PURPOSES.to_vec()),
            prop::sample::select(CHANNELS.to_vec())
        )
            .prop_map(|(p, c)| consent(p, c)),
        prop::sample::select(CHANNELS.to_vec()).prop_map(suppressed),
        Just(suppressed_anywhere()),
    ]
}

pub(crate) fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Expr::And),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Expr::Or),
            inner.prop_map(|e| e.not()),
        ]
    })
}

fn members(e: &Engine, x: &Expr) -> audience::segment::RoaringBitmap {
    e.members(&e.compile(x).unwrap()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::common::cases()))]

    #[test]
    fn bitmap_evaluator_equals_row_evaluator(
        people in prop::collection::vec(person(), 1..25),
        x in expr(),
    ) {
        let e = engine_of(&people);
        let plan = e.compile(&x).unwrap();
        let bitmap = e.members(&plan).unwrap();
        for p in e.profile_ids() {
            prop_assert_eq!(e.matches(&plan, p).unwrap(), bitmap.contains(p.0), "{:?} at {}", x, p);
        }
        let live: audience::segment::RoaringBitmap = e.profile_ids().map(|p| p.0).collect();
        prop_assert!(bitmap.is_subset(&live));
        prop_assert_eq!(e.count(&plan).unwrap(), bitmap.len());
        // A sample of everyone has no word form: this takes the bitmap evaluator, whichever
        // evaluator answered above.
        let forced = members(&e, &x.clone().and(sample(7, 0, 100)));
        prop_assert_eq!(forced, bitmap, "{:?}", x);
    }

    #[test]
    fn set_laws_hold(
        people in prop::collection::vec(person(), 1..20),
        a in expr(),
        b in expr(),
        c in expr(),
    ) {
        let e = engine_of(&people);
        let live = members(&e, &Expr::All);
        let (ma, mb, mc) = (members(&e, &a), members(&e, &b), members(&e, &c));
        prop_assert_eq!(members(&e, &a.clone().not()), &live - &ma);
        prop_assert!(members(&e, &a.clone().and(a.clone().not())).is_empty());
        prop_assert_eq!(members(&e, &a.clone().or(a.clone().not())), live.clone());
        prop_assert_eq!(members(&e, &Expr::And(vec![a.clone(), b.clone()])), &ma & &mb);
        prop_assert_eq!(members(&e, &Expr::Or(vec![a.clone(), b.clone()])), &ma | &mb);
        // De Morgan.
        prop_assert_eq!(
            members(&e, &Expr::And(vec![a.clone(), b.clone()]).not()),
            members(&e, &Expr::Or(vec![a.clone().not(), b.clone().not()]))
        );
        // Distributivity.
        prop_assert_eq!(
            members(&e, &Expr::And(vec![a.clone(), Expr::Or(vec![b.clone(), c.clone()])])),
            (&ma & &mb) | (&ma & &mc)
        );
    }

    #[test]
    fn sample_buckets_are_disjoint_complete_and_stable(
        people in prop::collection::vec(person(), 1..20),
        seed in any::<u64>(),
        cut in 0u8..=100,
        newcomer in 100u8..120,
    ) {
        let mut e = engine_of(&people);
        let low = members(&e, &sample(seed, 0, cut));
        let high = members(&e, &sample(seed, cut, 100));
        prop_assert!(low.is_disjoint(&high));
        prop_assert_eq!(&low | &high, members(&e, &Expr::All));
        let before = e.profile_ids().map(|p| p.0 + 1).max().unwrap_or(0);
        e.ingest(&Record::builder(t(0), "web").identifier("user_id", format!("u{newcomer}")).build()).unwrap();
        let again = members(&e, &sample(seed, 0, cut));
        let old: audience::segment::RoaringBitmap = (0..before).collect();
        prop_assert_eq!(&again & &old, &low & &old);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::common::cases()))]

    /// Event conditions materialized by a named segment stay equal to the row evaluator
    /// through later records, merges and clock moves.
    #[test]
    fn materialized_conditions_stay_current(
        before in prop::collection::vec(person(), 0..12),
        after in prop::collection::vec((person(), 0i64..6), 1..16),
        x in expr(),
    ) {
        let mut e = Engine::with_config(
            test_schema(),
            audience::EngineConfig { future_tolerance_secs: None, ..Default::default() },
        );
        e.advance_time(t(10 * DAY)).unwrap();
        for (i, p) in before.iter().enumerate() {
            ingest_person(&mut e, i, p);
        }
        e.score_rfm("classic", t(10 * DAY)).unwrap();
        e.register_segment("danes", trait_("country").eq("DK")).unwrap();
        let id = e.register_segment("x", x.clone()).unwrap();
        let plan = e.compile(&x).unwrap();
        let mut day = 10;
        for (i, (p, step)) in after.iter().enumerate() {
            ingest_person(&mut e, 100 + i, p);
            day += step;
            e.advance_time(t(day * DAY)).unwrap();
            if i % 3 == 2 {
                e.score_rfm("classic", t(day * DAY)).unwrap();
            }
            e.internal_validate().unwrap();
            let bitmap = e.members(&plan).unwrap();
            prop_assert_eq!(e.segment_members(id).unwrap(), &bitmap);
            for id in e.profile_ids() {
                prop_assert_eq!(e.matches(&plan, id).unwrap(), bitmap.contains(id.0), "{:?} at {}", x, id);
            }
        }
    }
}
