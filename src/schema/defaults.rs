//! `Schema::retail_default()`: a documented starting point for a shop.

use crate::money::Currency;
use crate::rfm::{RfmModelDef, RfmSegmentDef};

use super::{
    ConsentDefault, EventKindDef, IdentifierKindDef, MergeStrategy as M, Normalizer, PropertyDef,
    PropertyType as P, Schema, SchemaBuilder, TraitCategory as C, TraitDef, TraitType as T,
};

/// The event vocabulary shared by the default schema, the workloads and the Segment-Spec
/// mapping.
pub const EVENT_VOCABULARY: [&str; 14] = [
    "page_view",
    "product_view",
    "add_to_cart",
    "checkout_started",
    "order_completed",
    "order_refunded",
    "email_sent",
    "email_open",
    "email_click",
    "sms_sent",
    "sms_click",
    "push_open",
    "support_contact",
    "unsubscribe",
];

fn prop(name: &str, ty: P) -> PropertyDef {
    PropertyDef {
        name: name.into(),
        ty,
        non_negative: matches!(ty, P::Money),
    }
}

fn event(name: &str, props: &[(&str, P)]) -> EventKindDef {
    EventKindDef {
        name: name.into(),
        properties: props.iter().map(|&(n, t)| prop(n, t)).collect(),
        retention_days: None,
    }
}

fn events(b: SchemaBuilder) -> SchemaBuilder {
    let product = [
        ("product_id", P::Text),
        ("category", P::Text),
        ("brand", P::Text),
        ("price", P::Money),
    ];
    let campaign = [("campaign", P::Text), ("channel", P::Text)];
    let order = [
        ("order_id", P::Text),
        ("amount", P::Money),
        ("category", P::Text),
        ("brand", P::Text),
        ("items", P::Integer),
    ];
    b.event_kind(event(
        "page_view",
        &[("url", P::Text), ("category", P::Text)],
    ))
    .event_kind(event("product_view", &product))
    .event_kind(event(
        "add_to_cart",
        &[product.as_slice(), &[("quantity", P::Integer)]].concat(),
    ))
    .event_kind(event("checkout_started", &[("amount", P::Money)]))
    .event_kind(event("order_completed", &order))
    .event_kind(event(
        "order_refunded",
        &[("order_id", P::Text), ("amount", P::Money)],
    ))
    .event_kind(event("email_sent", &campaign))
    .event_kind(event("email_open", &campaign))
    .event_kind(event(
        "email_click",
        &[campaign.as_slice(), &[("url", P::Text)]].concat(),
    ))
    .event_kind(event("sms_sent", &campaign))
    .event_kind(event("sms_click", &campaign))
    .event_kind(event("push_open", &campaign))
    .event_kind(event(
        "support_contact",
        &[("channel", P::Text), ("topic", P::Text)],
    ))
    .event_kind(event("unsubscribe", &[("channel", P::Text)]))
}

impl Schema {
    /// A documented default schema for a shop.
    ///
    /// - Identifier kinds (priority, limit): `user_id` (1, 1, trimmed), `email` (2, 5;
    ///   blocked `test@test.com`, `test@example.com`, `noreply@example.com`), `phone` (3, 3,
    ///   E.164 with default region US; needs feature `phone`, else case-insensitive trim),
    ///   `anonymous_id` (4, 20; blocked `unknown`, `null`, `undefined`, `0`).
    /// - Sources (priority): `crm` 1, `pos` 2, `app` 3, `web` 3, `import` 4.
    /// - Traits: `first_name`, `last_name` (identity, most recent), `country` (source
    ///   priority crm, pos), `city`, `plan`, `time_zone` (most recent), `age` (integer),
    ///   `signup_at` (timestamp, oldest), `lifetime_value` (money, sum),
    ///   `loyalty_points` (integer, sum), `interests` (text set, union), `vip` (boolean, max).
    /// - Event kinds: [`EVENT_VOCABULARY`], with typed properties (amounts are
    ///   non-negative money).
    /// - RFM models (USD): `classic` (purchases) and `engagement` (opens weight 1, clicks
    ///   weight 2), monetary from purchases with refunds netted; 5 bins, threshold scoring; the
    ///   ten standard segments and Fading Stars on `classic`, Hyperactives and Zombies on
    ///   `engagement` (see [`crate::rfm::RfmSegmentDef`]).
    /// - Purposes: `marketing`, `personalization` (opt-in), `analytics`, `sale_or_share`
    ///   (opt-out). Channels: `email` (email), `sms` (phone), `push`, `ads`, `web`.
    ///
    /// See [`Schema::retail_default_in`] for a shop in another currency.
    #[allow(clippy::expect_used)] // USD is a fixed ISO 4217 code.
    pub fn retail_default() -> Schema {
        Self::retail_default_in(Currency::new("USD").expect("USD is an ISO 4217 code"))
    }

    /// [`Schema::retail_default`] with its RFM models in `currency`: orders and refunds in
    /// any other currency are refused with [`crate::IngestError::RfmCurrencyMismatch`].
    #[allow(clippy::expect_used)] // Fixed definitions, checked by a unit test.
    pub fn retail_default_in(currency: Currency) -> Schema {
        let phone = if cfg!(feature = "phone") {
            Normalizer::Phone {
                default_region: "US".into(),
            }
        } else {
            Normalizer::CaseInsensitive
        };
        let text = |name: &str, c: C| TraitDef::new(name, T::Text).category(c);
        let b = Schema::builder()
            .identifier_kind(IdentifierKindDef::new("user_id", Normalizer::Trim, 1).limit(1))
            .identifier_kind(
                IdentifierKindDef::new("email", Normalizer::Email, 2)
                    .limit(5)
                    .blocked(["test@test.com", "test@example.com", "noreply@example.com"]),
            )
            .identifier_kind(IdentifierKindDef::new("phone", phone, 3).limit(3))
            .identifier_kind(
                IdentifierKindDef::new("anonymous_id", Normalizer::Trim, 4)
                    .limit(20)
                    .blocked(["unknown", "null", "undefined", "0"]),
            )
            .source("crm", 1)
            .source("pos", 2)
            .source("app", 3)
            .source("web", 3)
            .source("import", 4)
            .trait_def(text("first_name", C::Identity))
            .trait_def(text("last_name", C::Identity))
            .trait_def(
                text("country", C::Descriptive)
                    .strategy(M::SourcePriority(vec!["crm".into(), "pos".into()])),
            )
            .trait_def(text("city", C::Descriptive))
            .trait_def(text("plan", C::Descriptive))
            .trait_def(text("time_zone", C::Descriptive))
            .trait_def(TraitDef::new("age", T::Integer))
            .trait_def(TraitDef::new("signup_at", T::Timestamp).strategy(M::Oldest))
            .trait_def(
                TraitDef::new("lifetime_value", T::Money)
                    .category(C::Quantitative)
                    .strategy(M::Sum),
            )
            .trait_def(
                TraitDef::new("loyalty_points", T::Integer)
                    .category(C::Quantitative)
                    .strategy(M::Sum),
            )
            .trait_def(
                TraitDef::new("interests", T::TextSet)
                    .category(C::Qualitative)
                    .strategy(M::Union),
            )
            .trait_def(TraitDef::new("vip", T::Boolean).strategy(M::Max))
            .purpose("marketing", ConsentDefault::OptIn)
            .purpose("personalization", ConsentDefault::OptIn)
            .purpose("analytics", ConsentDefault::OptOut)
            .purpose("sale_or_share", ConsentDefault::OptOut)
            .channel("email", Some("email"))
            .channel("sms", Some("phone"))
            .channel("push", Some("anonymous_id"))
            .channel("ads", Some("email"))
            .channel("web", None);
        let usd = currency;
        events(b)
            .rfm_model(RfmModelDef::classic("classic", usd).refunds("order_refunded", "amount"))
            .rfm_model(
                RfmModelDef::engagement("engagement", usd).refunds("order_refunded", "amount"),
            )
            .rfm_segments(RfmSegmentDef::standard("classic"))
            .rfm_segments([
                RfmSegmentDef::fading_stars("classic"),
                RfmSegmentDef::hyperactives("engagement", "classic"),
                RfmSegmentDef::zombies("engagement"),
            ])
            .build()
            .expect("the retail default schema is valid")
    }
}
