//! A synthetic shop for the quickstart and tests: people seen through `web`, `app`, `crm`
//! and `pos`, anonymous devices that later log in, case and white-space noise in emails,
//! and a shared household email that the schema should block. Over two years they view
//! pages, fill carts, order, return, open and click emails and call support: the events of
//! the retail default schema. The CRM records newsletter opt-ins and opt-outs, the app
//! push opt-ins, and a few browsers send Global Privacy Control signals.
//!
//! ```
//! use audience::workload::shop::{ShopParams, generate, HOUSEHOLD_EMAIL};
//! let records = generate(&ShopParams { people: 2_000, seed: 7 });
//! assert!(records.len() > 2_000);
//! assert!(records.iter().any(|r| r.identifiers.iter().any(|i| i.value == HOUSEHOLD_EMAIL)));
//! ```

use crate::money::{Currency, Money};
use crate::record::{ConsentInput, EventInput, Record, RecordBuilder, Value};
use crate::time::Timestamp;
use crate::workload::splitmix::{SplitMix64, mix64, pick};

/// The email several households share; block it in the schema.
pub const HOUSEHOLD_EMAIL: &str = "family@example.com";

/// Parameters of the shop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShopParams {
    /// Number of people.
    pub people: u64,
    /// The seed.
    pub seed: u64,
}

const COUNTRIES: [&str; 6] = ["US", "DE", "FR", "GB", "IT", "ES"];
const FIRST: [&str; 8] = ["Ann", "Bob", "Cem", "Dia", "Eva", "Finn", "Gus", "Hana"];
const INTERESTS: [&str; 5] = ["jazz", "soul", "rock", "vinyl", "hifi"];
const ZONES: [&str; 6] = [
    "America/New_York",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/London",
    "Europe/Rome",
    "Europe/Madrid",
];
/// 2024-01-01T00:00:00Z.
const START_SECS: i64 = 1_704_067_200;
const TWO_YEARS_SECS: u64 = 2 * 365 * 86_400;

fn noisy_email(p: u64, style: u64) -> String {
    let email = format!(
        "{}.{p}@example.com",
        FIRST.get((p % 8) as usize).copied().unwrap_or("x")
    );
    match style % 10 {
        0..=6 => email.to_ascii_lowercase(),
        7 => email.to_ascii_uppercase(),
        8 => format!("  {email} "),
        _ => email,
    }
}

fn phone(p: u64) -> String {
    format!("(212) 5{:02}-{:04}", p % 100, (p / 100) % 10_000)
}

fn category(r: u64) -> &'static str {
    INTERESTS.get((r % 5) as usize).copied().unwrap_or("jazz")
}

/// The events of one visit through `channel` (0 web, 1 app, 2 crm, 3 pos) at `t`.
fn visit_events(
    mut b: RecordBuilder,
    channel: usize,
    t: i64,
    r: u64,
    eur: Option<Currency>,
) -> RecordBuilder {
    let at = |minutes: i64| Timestamp::from_secs(t.saturating_add(minutes * 60)).ok();
    let favourite = category(r >> 8);
    let price = |x: u64| eur.map(|c| Money::new(500 + (x % 9_500) as i64, c));
    let order = |x: u64| {
        let mut ev = EventInput::new("order_completed", at(9)?)
            .property("order_id", format!("o-{t}-{x}"))
            .property(
                "category",
                if x.is_multiple_of(3) {
                    category(x >> 5)
                } else {
                    favourite
                },
            )
            .property("items", 1 + (x % 3) as i64);
        if let Some(m) = price(x) {
            ev = ev.property("amount", m);
        }
        Some(ev)
    };
    let mut events: Vec<Option<EventInput>> = Vec::new();
    match channel {
        0 | 1 => {
            for i in 0..1 + r % 4 {
                let c = if (r >> i).is_multiple_of(4) {
                    category(r >> (i + 3))
                } else {
                    favourite
                };
                events.push(at(i as i64).map(|a| {
                    EventInput::new("page_view", a)
                        .property("url", format!("/{c}"))
                        .property("category", c)
                }));
            }
            if (r >> 20).is_multiple_of(3) {
                events.push(at(5).map(|a| {
                    let mut ev = EventInput::new("add_to_cart", a).property("category", favourite);
                    if let Some(m) = price(r >> 24) {
                        ev = ev.property("price", m);
                    }
                    ev
                }));
                if channel == 1 && (r >> 30).is_multiple_of(2) {
                    events.push(order(r >> 32));
                    if (r >> 40).is_multiple_of(10) {
                        events.push(at(60 * 20).map(|a| {
                            let mut ev = EventInput::new("order_refunded", a)
                                .property("order_id", format!("o-{t}-{}", r >> 32));
                            if let Some(m) = price(r >> 32) {
                                ev = ev.property("amount", m);
                            }
                            ev
                        }));
                    }
                }
            }
        }
        2 => {
            let campaign = format!("news-{}", t / (7 * 86_400));
            events.push(at(0).map(|a| {
                EventInput::new("email_open", a)
                    .property("campaign", campaign.clone())
                    .property("channel", "email")
            }));
            if r.is_multiple_of(3) {
                events.push(at(1).map(|a| {
                    EventInput::new("email_click", a)
                        .property("campaign", campaign)
                        .property("channel", "email")
                        .property("url", format!("/{favourite}"))
                }));
            }
        }
        _ => {
            events.push(order(r >> 12));
            if r.is_multiple_of(7) {
                events.push(at(30).map(|a| {
                    EventInput::new("support_contact", a)
                        .property("channel", "phone")
                        .property("topic", "delivery")
                }));
            }
        }
    }
    for ev in events.into_iter().flatten() {
        b = b.event(ev);
    }
    b
}

/// Generates the shop's records, ordered by time.
pub fn generate(params: &ShopParams) -> Vec<Record> {
    let mut out = Vec::new();
    let eur = Currency::new("EUR").ok();
    for p in 0..params.people {
        let mut rng = SplitMix64::new(mix64(mix64(params.seed) ^ p));
        let devices = 1 + rng.next_u64() % 3;
        let visits = 1 + rng.next_u64() % 6;
        let country = COUNTRIES
            .get(pick(&[40, 20, 15, 10, 10, 5], rng.next_u64() % 100))
            .copied();
        let mut t = START_SECS.saturating_add((rng.next_u64() % TWO_YEARS_SECS) as i64 / 2);
        for _ in 0..visits {
            t = t.saturating_add((rng.next_u64() % (30 * 86_400)) as i64);
            let Ok(at) = Timestamp::from_secs(t) else {
                continue;
            };
            let device = format!("dev-{p}-{}", rng.next_u64() % devices);
            let channel = pick(&[45, 25, 15, 15], rng.next_u64() % 100);
            let style = rng.next_u64();
            let record = match channel {
                0 => {
                    let b = Record::builder(at, "web").identifier("anonymous_id", device);
                    // Some browsers send Global Privacy Control: do not sell or share.
                    if style % 100 < 3 {
                        b.consent(ConsentInput::deny("sale_or_share").proof("Sec-GPC: 1"))
                    } else {
                        b
                    }
                }
                1 => {
                    let b = Record::builder(at, "app")
                        .identifier("anonymous_id", device)
                        .identifier("user_id", format!("cust-{p}"));
                    if style.is_multiple_of(4) {
                        b.consent(
                            ConsentInput::grant("marketing")
                                .channel("push")
                                .proof("app push prompt"),
                        )
                    } else {
                        b
                    }
                }
                2 => {
                    let opt_in = if style % 10 < 7 {
                        ConsentInput::grant("marketing")
                    } else {
                        ConsentInput::deny("marketing")
                    };
                    let mut b = Record::builder(at, "crm")
                        .identifier("user_id", format!("cust-{p}"))
                        .identifier("email", noisy_email(p, style))
                        .consent(opt_in.channel("email").proof("newsletter form v4"))
                        .trait_value(
                            "first_name",
                            FIRST.get((p % 8) as usize).copied().unwrap_or("x"),
                        );
                    if let Some(c) = country {
                        b = b.trait_value("country", c);
                    }
                    if let Some(z) = ZONES.get((p % 6) as usize) {
                        b = b.trait_value("time_zone", *z);
                    }
                    b.trait_value(
                        "interests",
                        Value::TextSet(vec![
                            INTERESTS
                                .get((style % 5) as usize)
                                .copied()
                                .unwrap_or("x")
                                .into(),
                        ]),
                    )
                }
                _ => {
                    let mut b = Record::builder(at, "pos").identifier("phone", phone(p));
                    // A store clerk types the household email for some customers.
                    b = if style.is_multiple_of(50) {
                        b.identifier("email", HOUSEHOLD_EMAIL)
                    } else {
                        b.identifier("email", noisy_email(p, style))
                    };
                    if let Some(eur) = eur {
                        b = b.trait_value(
                            "lifetime_value",
                            Money::new(500 + (style % 20_000) as i64, eur),
                        );
                    }
                    b.trait_value("loyalty_points", (style % 100) as i64)
                }
            };
            let mut record = visit_events(record, channel, t, style, eur).build();
            if channel == 0 {
                record.message_id = Some(format!("web-{p}-{t}"));
                // Trackers retry: a few messages arrive twice.
                if style.is_multiple_of(17) {
                    out.push(record.clone());
                }
            }
            out.push(record);
        }
    }
    out.sort_by_key(|r| r.timestamp);
    out
}
