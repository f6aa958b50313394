//! [`Mapping`]: how Segment-Spec messages become records — which fields are identifiers,
//! which traits and event properties they fill, which event names are which kinds.
//! Serde, with a documented default that fits [`crate::Schema::retail_default`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::spec::amount::Rounding;

/// A consent category of `context.consent.categoryPreferences` as a purpose (on one
/// channel, or every channel).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryMapping {
    /// The purpose.
    pub purpose: String,
    /// The channel (`None`: every channel of the purpose).
    #[serde(default)]
    pub channel: Option<String>,
}

/// How messages map to records. Every name it mentions must exist in the schema
/// ([`crate::spec::SpecMapper::new`] checks); what the schema lacks is simply not mapped.
///
/// The default, in JSON (this example checks it):
///
/// ```
/// # use audience::spec::Mapping;
/// let default: Mapping = serde_json::from_str(r#"
/// {
///   "source": "web",
///   "user_id": "user_id", "anonymous_id": "anonymous_id", "previous_id": "anonymous_id",
///   "group_id": null, "identifier_traits": {"email": "email", "phone": "phone"},
///   "traits": {"firstName": "first_name", "lastName": "last_name", "address.city": "city",
///              "address.country": "country", "createdAt": "signup_at", "timezone": "time_zone"},
///   "context_traits": {"timezone": "time_zone"},
///   "events": {"Product Viewed": "product_view", "Product Added": "add_to_cart",
///              "Checkout Started": "checkout_started", "Order Completed": "order_completed",
///              "Order Refunded": "order_refunded", "Email Delivered": "email_sent",
///              "Email Opened": "email_open", "Email Link Clicked": "email_click",
///              "Unsubscribed": "unsubscribe"},
///   "page_event": "page_view", "screen_event": "page_view",
///   "property_aliases": {"amount": ["revenue", "total"], "order_id": ["order_id", "orderId"],
///                        "product_id": ["product_id", "productId", "sku"]},
///   "currency": "USD", "rounding": "refuse",
///   "consent_categories": {"marketing": {"purpose": "marketing"},
///                          "advertising": {"purpose": "sale_or_share"},
///                          "analytics": {"purpose": "analytics"},
///                          "personalization": {"purpose": "personalization"}},
///   "unsubscribe": {"purpose": "marketing", "channel": "email"},
///   "unknown_events": "ignore",
///   "max_message_bytes": 32768
/// }
/// "#)?;
/// assert_eq!(default, Mapping::default());
/// # Ok::<(), serde_json::Error>(())
/// ```
///
/// Traits not named here map to the schema trait of the same name, if any; others are
/// ignored. Event properties map to the kind's property of the same name (or its
/// camelCase spelling, or an alias); `items` counts `products` when not given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mapping {
    /// The source records are attributed to.
    pub source: String,
    /// The identifier kind of `userId`.
    pub user_id: Option<String>,
    /// The identifier kind of `anonymousId`.
    pub anonymous_id: Option<String>,
    /// The identifier kind of an alias's `previousId`.
    pub previous_id: Option<String>,
    /// The identifier kind of a group call's `groupId` (an account id, say); the group
    /// call's `traits` describe the group and are not the person's.
    pub group_id: Option<String>,
    /// Traits that are identifiers: trait path → identifier kind (`traits.crm_id` →
    /// `crm_id`).
    pub identifier_traits: BTreeMap<String, String>,
    /// Trait paths (`address.country`) → schema traits.
    pub traits: BTreeMap<String, String>,
    /// `context` fields (`timezone`, `locale`, `ip`, `userAgent`) → schema traits.
    pub context_traits: BTreeMap<String, String>,
    /// `track` event names → event kinds.
    pub events: BTreeMap<String, String>,
    /// The event kind of a `page` call.
    pub page_event: Option<String>,
    /// The event kind of a `screen` call.
    pub screen_event: Option<String>,
    /// Event property → the message properties that fill it, first present wins.
    pub property_aliases: BTreeMap<String, Vec<String>>,
    /// The currency of amounts whose message says none.
    pub currency: String,
    /// What to do with more decimals than the currency has.
    pub rounding: Rounding,
    /// Consent categories (matched without regard to case) → purposes.
    pub consent_categories: BTreeMap<String, CategoryMapping>,
    /// The consent an `Unsubscribed` event denies.
    pub unsubscribe: Option<CategoryMapping>,
    /// What to do with a `track` event whose name is neither mapped nor an event kind.
    pub unknown_events: UnknownEvents,
    /// The longest message accepted, in bytes.
    pub max_message_bytes: usize,
    /// The deepest JSON nesting accepted (objects and arrays; default 64).
    pub max_nesting: usize,
}

/// What to do with an event name that maps to nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownEvents {
    /// Keep the rest of the message (identifiers, traits, consent), drop the event.
    #[default]
    Ignore,
    /// Refuse the message.
    Refuse,
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(a, b)| ((*a).to_string(), (*b).to_string()))
        .collect()
}

impl Default for Mapping {
    fn default() -> Self {
        let category = |purpose: &str, channel: Option<&str>| CategoryMapping {
            purpose: purpose.into(),
            channel: channel.map(Into::into),
        };
        Mapping {
            source: "web".into(),
            user_id: Some("user_id".into()),
            anonymous_id: Some("anonymous_id".into()),
            previous_id: Some("anonymous_id".into()),
            group_id: None,
            identifier_traits: map(&[("email", "email"), ("phone", "phone")]),
            traits: map(&[
                ("firstName", "first_name"),
                ("lastName", "last_name"),
                ("address.city", "city"),
                ("address.country", "country"),
                ("createdAt", "signup_at"),
                ("timezone", "time_zone"),
            ]),
            context_traits: map(&[("timezone", "time_zone")]),
            events: map(&[
                ("Product Viewed", "product_view"),
                ("Product Added", "add_to_cart"),
                ("Checkout Started", "checkout_started"),
                ("Order Completed", "order_completed"),
                ("Order Refunded", "order_refunded"),
                ("Email Delivered", "email_sent"),
                ("Email Opened", "email_open"),
                ("Email Link Clicked", "email_click"),
                ("Unsubscribed", "unsubscribe"),
            ]),
            page_event: Some("page_view".into()),
            screen_event: Some("page_view".into()),
            property_aliases: [
                ("amount", &["revenue", "total"][..]),
                ("order_id", &["order_id", "orderId"][..]),
                ("product_id", &["product_id", "productId", "sku"][..]),
            ]
            .iter()
            .map(|(k, v)| {
                (
                    (*k).to_string(),
                    v.iter().map(|s| (*s).to_string()).collect(),
                )
            })
            .collect(),
            currency: "USD".into(),
            rounding: Rounding::Refuse,
            consent_categories: [
                ("marketing", category("marketing", None)),
                ("advertising", category("sale_or_share", None)),
                ("analytics", category("analytics", None)),
                ("personalization", category("personalization", None)),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            unsubscribe: Some(category("marketing", Some("email"))),
            unknown_events: UnknownEvents::Ignore,
            max_message_bytes: 32 * 1024,
            max_nesting: crate::spec::message::MAX_DEPTH,
        }
    }
}
