//! A sequence of API calls decoded from bytes — records (with merges), clock moves,
//! segment (un)registration, RFM runs, suppressions (of profiles and identifiers),
//! erasures, unmerges and blocks, record corrections, record retention (a clock move
//! past 15 days), snapshot and restore.
//! After every call the engine is valid and every registered segment equals a fresh
//! evaluation of its expression.
#![no_main]

use audience::segment::{
    EventSpec, Expr, Sequence, consent, event, sample, segment, suppressed, trait_,
};
use audience::{
    ConsentInput, Currency, Engine, ErasureOptions, EventInput, Money, ProfileId, Record,
    RecordId, Schema, Suppression, Timestamp, TraitInput, Value, Window,
};
use libfuzzer_sys::fuzz_target;

fn day(d: i64) -> Timestamp {
    Timestamp::from_secs(1_700_000_000 + d * 86_400).unwrap_or(Timestamp::MIN)
}

fn segments() -> Vec<(&'static str, Expr)> {
    let spec = |k: &str| EventSpec {
        kind: k.into(),
        conditions: vec![],
    };
    vec![
        ("germans", trait_("country").eq("DE")),
        (
            "buyers",
            event("order_completed")
                .in_window(Window::LastDays(7))
                .at_least(1),
        ),
        (
            "carts",
            Expr::Sequence(Sequence::NoneSince {
                first: spec("add_to_cart"),
                window: Window::LastDays(3),
                then: spec("order_completed"),
            }),
        ),
        (
            "reachable",
            consent("marketing", "email").and(suppressed("email").not()),
        ),
        ("half", sample(9, 0, 50).and(segment("germans").not())),
    ]
}

fuzz_target!(|data: &[u8]| {
    let mut def = Schema::retail_default().def().clone();
    def.record_retention_days = Some(15);
    let Ok(schema) = Schema::from_def(def) else {
        return;
    };
    let mut e = Engine::new(schema);
    let mut now = 0i64;
    let _ = e.advance_time(day(now));
    let usd = Currency::new("USD").ok();
    let mut bytes = data.iter().copied();
    let mut next = move || bytes.next();
    for _ in 0..64 {
        let (Some(op), Some(arg)) = (next(), next()) else {
            break;
        };
        let a = i64::from(arg);
        match op % 12 {
            0 | 1 => {
                let mut r = Record::builder(day(now - a % 10), "web")
                    .identifier("user_id", format!("u{}", a % 7));
                if a % 3 == 0 {
                    r = r.identifier("email", format!("e{}@example.com", a % 4));
                }
                r = r.trait_value("country", ["DE", "FR", "GB"][(a % 3) as usize]);
                if a % 2 == 0 {
                    r = r.consent(
                        if a % 4 == 0 {
                            ConsentInput::grant("marketing")
                        } else {
                            ConsentInput::deny("marketing")
                        }
                        .channel("email"),
                    );
                }
                let kind = ["order_completed", "add_to_cart", "email_open"][(a % 3) as usize];
                let mut ev = EventInput::new(kind, day(now - a % 5));
                if let (Some(usd), "order_completed") = (usd, kind) {
                    ev = ev.property("amount", Money::new(a * 10, usd));
                }
                let _ = e.ingest(&r.event(ev).build());
            }
            2 => {
                now += a % 5;
                let _ = e.advance_time(day(now));
            }
            3 => {
                let (name, expr) = &segments()[(a as usize) % segments().len()];
                match e.segment_id(name) {
                    Ok(id) => {
                        let _ = e.unregister_segment(id);
                    }
                    Err(_) => {
                        let _ = e.register_segment(name, expr.clone());
                    }
                }
            }
            4 => {
                let _ = e.score_rfm("classic", day(now));
            }
            5 => {
                let _ = e.suppress_profile(
                    ProfileId((a % 8) as u32),
                    Suppression::new("fuzz", day(now)).channel("email"),
                );
            }
            6 => {
                let _ = e.erase(ProfileId((a % 8) as u32), ErasureOptions::default());
            }
            7 => {
                let who = ProfileId((a % 8) as u32);
                let _ = e.unmerge(who, "email", &format!("e{}@example.com", a % 4));
            }
            8 => {
                let _ = e.block_identifier_value("email", &format!("e{}@example.com", a % 4));
            }
            9 => {
                let mut s = Suppression::new("fuzz", day(now));
                if a % 2 == 0 {
                    s = s.channel("email");
                }
                let _ = e.suppress_identifier("email", &format!("e{}@example.com", a % 4), s);
            }
            10 => {
                let country = ["DE", "FR", "GB"][(a % 3) as usize];
                let fix = [TraitInput {
                    name: "country".into(),
                    value: Value::from(country),
                }];
                let _ = e.correct_record(RecordId((a % 16) as u64), &fix);
            }
            _ => {
                let snapshot = e.snapshot();
                e = Engine::restore(snapshot.clone()).expect("a snapshot restores");
                assert_eq!(e.snapshot(), snapshot);
            }
        }
        e.internal_validate().expect("a valid engine");
        let registered: Vec<_> = e.segments().map(|(id, _)| id).collect();
        for id in registered {
            let expr = e.segment_expr(id).expect("registered").clone();
            let fresh = e
                .members(&e.compile(&expr).expect("compiles"))
                .expect("evaluates");
            assert_eq!(
                e.segment_members(id).expect("registered"),
                &fresh,
                "segment {id} is stale"
            );
        }
    }
});
