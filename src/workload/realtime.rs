//! The real-time workload: 100 registered segments over the segments workload — Q1–Q10
//! and 90 variants of them with other constants, 30 of the 100 reading the clock — and a
//! deterministic feed of live records for existing profiles.

use crate::engine::Engine;
use crate::error::SegmentError;
use crate::ids::SegmentId;
use crate::money::{Currency, Money};
use crate::record::{ConsentInput, EventInput, Record, Value};
use crate::segment::{
    EventSpec, Expr, Sequence, Test, consent, event, sample, segment, suppressed,
    suppressed_anywhere, trait_,
};
use crate::time::{Timestamp, Window};
use crate::workload::segments::{EU, queries};
use crate::workload::splitmix::SplitMix64;

/// How many of [`segments`] read the clock.
pub const TIME_DEPENDENT: usize = 30;

fn spec(kind: &str) -> EventSpec {
    EventSpec {
        kind: kind.into(),
        conditions: Vec::new(),
    }
}

fn usd(minor: i64) -> Value {
    match Currency::new("USD") {
        Ok(c) => Value::Money(Money::new(minor, c)),
        Err(_) => Value::Integer(minor),
    }
}

/// The 100 segments, in registration order (Q1–Q10 first, as they name each other).
pub fn segments() -> Vec<(String, Expr)> {
    let mut out: Vec<(String, Expr)> = queries()
        .into_iter()
        .map(|(n, e)| (n.to_string(), e))
        .collect();
    // 25 more that read the clock (Q5–Q8 and Q10 are the first five).
    for days in [1, 2, 3, 4, 5, 6, 10, 14, 21, 30] {
        let abandoned = Expr::Sequence(Sequence::NoneSince {
            first: spec("add_to_cart"),
            window: Window::LastDays(days),
            then: spec("order_completed"),
        });
        out.push((format!("cart_{days}d"), abandoned));
    }
    for days in [30, 60, 90, 180, 365] {
        for times in [1, 2] {
            let orders = event("order_completed")
                .in_window(Window::LastDays(days))
                .at_least(times);
            out.push((format!("orders_{times}x_{days}d"), orders));
        }
    }
    for minor in [10_000, 25_000, 100_000, 200_000, 500_000] {
        let spend = event("order_completed")
            .in_window(Window::LastDays(365))
            .sum("amount", Test::Gt(usd(minor)));
        out.push((format!("spend_over_{minor}"), spend));
    }
    // 65 on traits, consent flags and samples.
    for country in [
        "US", "GB", "FR", "CA", "BR", "IN", "JP", "AU", "ES", "IT", "NL", "SE", "MX", "PL", "KR",
    ] {
        out.push((format!("country_{country}"), trait_("country").eq(country)));
    }
    for age in [18i64, 25, 35, 45, 55] {
        for ltv in [100_000i64, 500_000] {
            let x = trait_("age")
                .between(age, age + 9)
                .and(trait_("ltv_minor").ge(ltv));
            out.push((format!("age_{age}_ltv_{ltv}"), x));
        }
    }
    for plan in ["free", "basic", "pro", "enterprise"] {
        for country in ["US", "GB", "DE"] {
            let x = trait_("plan").eq(plan).and(trait_("country").eq(country));
            out.push((format!("plan_{plan}_{country}"), x));
        }
    }
    for country in EU {
        let x = trait_("country")
            .eq(country)
            .and(consent("marketing", "email"))
            .and(suppressed("email").not());
        out.push((format!("email_ok_{country}"), x));
    }
    for day in [100i64, 500, 1000, 1500, 1900] {
        out.push((format!("signed_up_{day}"), trait_("signup_day").ge(day)));
    }
    for tenth in 1..=10u8 {
        let x = segment("Q4").and(sample(2025, tenth * 10 - 10, tenth * 10));
        out.push((format!("Q4_sample_{tenth}"), x));
    }
    out.push(("sms_ok".into(), consent("marketing", "sms")));
    out.push(("suppressed".into(), suppressed_anywhere()));
    out.push(("Q1_or_Q2".into(), segment("Q1").or(segment("Q2"))));
    out.push(("Q3_not_Q4".into(), segment("Q3").and(segment("Q4").not())));
    out.push(("rich".into(), trait_("ltv_minor").ge(1_000_000i64)));
    out
}

/// Registers [`segments`] on `engine` (its clock set); returns their ids in order.
///
/// # Errors
/// [`SegmentError`] when the engine's schema is not the segments workload's or its clock
/// is unset.
pub fn register(engine: &mut Engine) -> Result<Vec<SegmentId>, SegmentError> {
    segments()
        .into_iter()
        .map(|(name, expr)| engine.register_segment(&name, expr))
        .collect()
}

/// `n` live records at time `at` for profiles `0..profiles` of the segments workload:
/// page views, carts, orders, email opens and trait updates, drawn from `seed`.
pub fn live_records(seed: u64, profiles: u32, n: usize, at: Timestamp) -> Vec<Record> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| {
            let user = rng.next_u64() % u64::from(profiles.max(1));
            let b = Record::builder(at, "app").identifier("user_id", user.to_string());
            let b = match rng.next_u64() % 10 {
                0..=3 => b.event(EventInput::new("page_view", at)),
                4 | 5 => b.event(EventInput::new("add_to_cart", at)),
                6 => {
                    let cents = i64::try_from(rng.next_u64() % 40_000).unwrap_or(0) + 500;
                    let order = EventInput::new("order_completed", at);
                    b.event(match usd(cents) {
                        Value::Money(m) => order.property("amount", m),
                        _ => order,
                    })
                }
                7 => b.event(EventInput::new("email_open", at)),
                8 => b.consent(if rng.next_u64().is_multiple_of(2) {
                    ConsentInput::grant("marketing").channel("email")
                } else {
                    ConsentInput::deny("marketing").channel("email")
                }),
                _ => b.trait_value(
                    "ltv_minor",
                    i64::try_from(rng.next_u64() % 2_000_000).unwrap_or(0),
                ),
            };
            b.build()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::segments::{NOW_DAY, day_time, generate, ingest, schema};

    #[test]
    fn a_hundred_segments_thirty_of_them_timed_kept_current_by_the_feed() {
        let mut engine = Engine::new(schema());
        engine.advance_time(day_time(NOW_DAY)).unwrap();
        for p in generate(42, 2_000) {
            ingest(&mut engine, &p).unwrap();
        }
        let ids = register(&mut engine).unwrap();
        assert_eq!(ids.len(), 100);
        let timed = ids
            .iter()
            .filter(|&&id| {
                let plan = engine.compile(engine.segment_expr(id).unwrap()).unwrap();
                engine.segments.reads_clock(&plan.root)
            })
            .count();
        assert_eq!(timed, TIME_DEPENDENT);
        let now = day_time(NOW_DAY);
        for r in live_records(7, 2_000, 300, now) {
            engine.ingest(&r).unwrap();
        }
        engine.advance_time(day_time(NOW_DAY + 1)).unwrap();
        engine.internal_validate().unwrap();
        assert!(!engine.drain_changes().is_empty());
    }
}
