//! A synthetic shop for the quickstart and tests: people seen through `web`, `app`, `crm`
//! and `pos`, anonymous devices that later log in, case and white-space noise in emails,
//! and a shared household email that the schema should block.
//!
//! ```
//! use audience::workload::shop::{ShopParams, generate, HOUSEHOLD_EMAIL};
//! let records = generate(&ShopParams { people: 2_000, seed: 7 });
//! assert!(records.len() > 2_000);
//! assert!(records.iter().any(|r| r.identifiers.iter().any(|i| i.value == HOUSEHOLD_EMAIL)));
//! ```

use crate::money::{Currency, Money};
use crate::record::{Record, Value};
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
                0 => Record::builder(at, "web").identifier("anonymous_id", device),
                1 => Record::builder(at, "app")
                    .identifier("anonymous_id", device)
                    .identifier("user_id", format!("cust-{p}")),
                2 => {
                    let mut b = Record::builder(at, "crm")
                        .identifier("user_id", format!("cust-{p}"))
                        .identifier("email", noisy_email(p, style))
                        .trait_value(
                            "first_name",
                            FIRST.get((p % 8) as usize).copied().unwrap_or("x"),
                        );
                    if let Some(c) = country {
                        b = b.trait_value("country", c);
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
            let mut record = record.build();
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
