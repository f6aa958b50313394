//! A segment expression from JSON: compile, evaluate both ways, explain and write as SQL
//! on a small engine. Any input may be refused with a typed error; none may panic, and
//! when it compiles the two evaluators agree on every profile.
#![no_main]

use std::sync::OnceLock;

use audience::segment::Expr;
use audience::sql::{Dialect, SqlLayout};
use audience::{ConsentInput, Currency, Engine, EventInput, Money, Record, Schema, Timestamp};
use libfuzzer_sys::fuzz_target;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut e = Engine::new(Schema::retail_default());
        let day =
            |d: i64| Timestamp::from_secs(1_700_000_000 + d * 86_400).unwrap_or(Timestamp::MIN);
        e.advance_time(day(30)).ok();
        let usd = Currency::new("USD").ok();
        for i in 0..12i64 {
            let mut r = Record::builder(day(i), "web")
                .identifier("user_id", format!("u{}", i % 9))
                .identifier("email", format!("e{}@example.com", i % 5))
                .trait_value("country", ["DE", "FR", "it's"][(i % 3) as usize])
                .trait_value("age", 20 + i)
                .consent(ConsentInput::grant("marketing").channel("email"));
            let mut order = EventInput::new("order_completed", day(i)).property("category", "jazz");
            if let Some(usd) = usd {
                order = order.property("amount", Money::new(100 * i, usd));
            }
            r = r
                .event(order)
                .event(EventInput::new("add_to_cart", day(i + 1)));
            e.ingest(&r.build()).ok();
        }
        e.score_rfm("classic", day(30)).ok();
        e.register_segment("germans", audience::segment::trait_("country").eq("DE"))
            .ok();
        e
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expr) = serde_json::from_str::<Expr>(text) else {
        return;
    };
    let e = engine();
    let Ok(plan) = e.compile(&expr) else { return };
    let Ok(members) = e.members(&plan) else {
        return;
    };
    for p in e.profile_ids() {
        let row = e.matches(&plan, p).unwrap_or(false);
        assert_eq!(
            row,
            members.contains(p.0),
            "evaluators disagree on {p} for {text}"
        );
        let _ = e.explain(&plan, p);
    }
    for d in Dialect::ALL {
        if let Ok(q) = e.to_sql(&plan, d, &SqlLayout::default()) {
            assert!(!q.count.chars().any(char::is_control));
        }
    }
});
