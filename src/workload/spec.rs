//! The identity workload as Segment-Spec messages: the same persons and identifiers as
//! [`crate::workload::identity`], one JSON message per record, shaped like what the
//! Segment clients send (about 500 bytes each, with `context`).
//!
//! Even records are `identify` calls (traits, the email among them), odd ones `track`
//! calls (product views, cart adds, orders with a decimal revenue, email opens) carrying
//! the email, if any, in `context.traits`. Each record carries at most one identifier of
//! each kind (`userId`, `anonymousId`, email); the first one presented wins.
//!
//! ```
//! use audience::workload::identity::{IdentityParams, Variant};
//! use audience::workload::spec::messages;
//! let lines = messages(&IdentityParams::small(Variant::Default));
//! assert_eq!(lines.len(), 3_000);
//! assert!(lines[0].starts_with(r#"{"type":"identify""#));
//! ```

use std::fmt::Write;

use crate::time::Timestamp;
use crate::workload::identity::{IdKind, IdentityParams, generate};
use crate::workload::splitmix::mix64;

const AGENT: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 \
                     (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const CATEGORIES: [&str; 5] = ["shoes", "shirts", "hats", "bags", "socks"];

/// One message per record of the identity stream, record `i` at `2024-01-01T00:00:00Z`
/// plus `i` seconds.
pub fn messages(params: &IdentityParams) -> Vec<String> {
    generate(params)
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let i = i as u64;
            let first = |kind: IdKind| {
                r.identifiers
                    .iter()
                    .find(|(k, _)| *k == kind)
                    .map(|(_, v)| v.trim().to_string())
            };
            message(
                i,
                first(IdKind::UserId),
                first(IdKind::AnonymousId),
                first(IdKind::Email),
            )
        })
        .collect()
}

fn json_or_null(v: &Option<String>) -> String {
    v.as_ref()
        .map_or_else(|| "null".into(), |s| format!("\"{s}\""))
}

fn message(i: u64, user: Option<String>, anon: Option<String>, email: Option<String>) -> String {
    let secs = 1_704_067_200_i64.saturating_add(i64::try_from(i).unwrap_or(0));
    let ts = Timestamp::from_secs(secs)
        .ok()
        .map(|t| {
            chrono::DateTime::<chrono::Utc>::from(t)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        })
        .unwrap_or_default();
    let h = mix64(i ^ 0x5350_4543);
    let category = CATEGORIES
        .get(usize::try_from(h % 5).unwrap_or(0))
        .copied()
        .unwrap_or("shoes");
    let mut m = String::with_capacity(640);
    let _ = write!(
        m,
        r#"{{"type":"{}","messageId":"{:016x}-{:04x}","userId":{},"anonymousId":{},"#,
        if i.is_multiple_of(2) {
            "identify"
        } else {
            "track"
        },
        h,
        i % 0xffff,
        json_or_null(&user),
        json_or_null(&anon)
    );
    if i.is_multiple_of(2) {
        let _ = write!(
            m,
            r#""traits":{{"email":{},"firstName":"F{}","lastName":"L{}","address":{{"city":"Berlin","country":"DE"}},"plan":"{}"}},"#,
            json_or_null(&email),
            h % 1000,
            (h >> 10) % 1000,
            if h.is_multiple_of(3) { "pro" } else { "free" }
        );
    } else {
        let price = h % 20_000;
        let (event, properties) = match (h >> 8) % 4 {
            0 => (
                "Product Viewed",
                format!(
                    r#"{{"product_id":"p{}","category":"{category}","brand":"Acme","price":{}.{:02}}}"#,
                    h % 5000,
                    price / 100,
                    price % 100
                ),
            ),
            1 => (
                "Product Added",
                format!(
                    r#"{{"product_id":"p{}","category":"{category}","price":{}.{:02},"quantity":1}}"#,
                    h % 5000,
                    price / 100,
                    price % 100
                ),
            ),
            2 => (
                "Order Completed",
                format!(
                    r#"{{"order_id":"o{i}","revenue":{}.{:02},"currency":"USD","products":[{{"product_id":"p{}","price":{}.{:02}}}]}}"#,
                    price / 100,
                    price % 100,
                    h % 5000,
                    price / 100,
                    price % 100
                ),
            ),
            _ => ("Email Opened", r#"{"campaign":"weekly"}"#.to_string()),
        };
        let _ = write!(m, r#""event":"{event}","properties":{properties},"#);
    }
    let _ = write!(
        m,
        r#""context":{{"ip":"203.0.{}.{}","locale":"de-DE","timezone":"Europe/Berlin","userAgent":"{AGENT}","library":{{"name":"analytics.js","version":"5.2.0"}},"page":{{"path":"/{category}","url":"https://shop.example/{category}"}}"#,
        h % 256,
        (h >> 8) % 256
    );
    if i % 2 == 1
        && let Some(e) = &email
    {
        let _ = write!(m, r#","traits":{{"email":"{e}"}}"#);
    }
    let _ = write!(
        m,
        r#"}},"timestamp":"{ts}","sentAt":"{ts}","receivedAt":"{ts}","integrations":{{}},"version":2}}"#
    );
    m
}
