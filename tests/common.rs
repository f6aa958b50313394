//! Helpers shared by the integration tests.

use audience::schema::{
    EventKindDef, IdentifierKindDef, MergeStrategy, Normalizer, PropertyDef, PropertyType, Schema,
    TraitDef, TraitType,
};
use std::collections::BTreeSet;

use audience::{Change, Engine, ProfileId, Record, RecordBuilder, SegmentId, Timestamp};

/// An amount in euro cents.
pub fn eur(minor: i64) -> audience::Money {
    audience::Money::new(minor, audience::Currency::new("EUR").unwrap())
}

/// An amount in US cents.
pub fn usd(minor: i64) -> audience::Money {
    audience::Money::new(minor, audience::Currency::new("USD").unwrap())
}

/// A timestamp `secs` seconds after 2024-01-01T00:00:00Z.
pub fn t(secs: i64) -> Timestamp {
    Timestamp::from_secs(1_704_067_200 + secs).unwrap()
}

/// A record builder at `t(secs)` from `source`.
pub fn rec(secs: i64, source: &str) -> RecordBuilder {
    Record::builder(t(secs), source)
}

/// The retail default engine.
pub fn retail() -> Engine {
    Engine::new(Schema::retail_default())
}

/// A schema with the worked example's limits (user_id 1, email 5) and every strategy.
pub fn limited_schema() -> Schema {
    Schema::builder()
        .identifier_kind(IdentifierKindDef::new("user_id", Normalizer::Trim, 1).limit(1))
        .identifier_kind(
            IdentifierKindDef::new("email", Normalizer::Email, 2)
                .limit(5)
                .blocked(["test@test.com"]),
        )
        .identifier_kind(IdentifierKindDef::new("anonymous_id", Normalizer::Trim, 3).limit(3))
        .source("crm", 1)
        .source("pos", 2)
        .source("web", 3)
        .trait_def(
            TraitDef::new("country", TraitType::Text)
                .strategy(MergeStrategy::SourcePriority(vec!["pos".into()])),
        )
        .trait_def(TraitDef::new("age", TraitType::Integer))
        .trait_def(
            TraitDef::new("first_seen", TraitType::Timestamp).strategy(MergeStrategy::Oldest),
        )
        .trait_def(TraitDef::new("points", TraitType::Integer).strategy(MergeStrategy::Sum))
        .trait_def(TraitDef::new("spend", TraitType::Money).strategy(MergeStrategy::Sum))
        .trait_def(TraitDef::new("tags", TraitType::TextSet).strategy(MergeStrategy::Union))
        .trait_def(TraitDef::new("max_score", TraitType::Integer).strategy(MergeStrategy::Max))
        .trait_def(TraitDef::new("min_score", TraitType::Integer).strategy(MergeStrategy::Min))
        .trait_def(TraitDef::new("vip", TraitType::Boolean).strategy(MergeStrategy::Max))
        .event_kind(EventKindDef {
            name: "page_view".into(),
            properties: vec![],
            retention_days: None,
        })
        .event_kind(EventKindDef {
            name: "order_completed".into(),
            properties: vec![PropertyDef {
                name: "amount".into(),
                ty: PropertyType::Money,
                non_negative: true,
            }],
            retention_days: None,
        })
        .build()
        .unwrap()
}

/// The same schema with no identifier limits.
pub fn unlimited_schema() -> Schema {
    let mut def = limited_schema().def().clone();
    for k in &mut def.identifier_kinds {
        k.limit = None;
    }
    Schema::from_def(def).unwrap()
}

/// Every (segment, profile) membership of `e`'s registered segments.
pub fn memberships(e: &Engine) -> BTreeSet<(SegmentId, ProfileId)> {
    e.segments()
        .flat_map(|(id, _)| {
            e.segment_members(id)
                .unwrap()
                .iter()
                .map(move |p| (id, ProfileId(p)))
        })
        .collect()
}

/// Applies the changes drained from `e` to `replayed`; a change that changes nothing (an
/// entry of a member, an exit of a non-member) is an error naming it.
pub fn replay_drained(
    e: &mut Engine,
    replayed: &mut BTreeSet<(SegmentId, ProfileId)>,
) -> Result<(), String> {
    for c in e.drain_changes() {
        let fresh = match c.change {
            Change::Entered => replayed.insert((c.segment, c.profile)),
            Change::Exited => replayed.remove(&(c.segment, c.profile)),
        };
        if !fresh {
            return Err(format!("a change that changes nothing: {c:?}"));
        }
    }
    Ok(())
}

/// Cases per property test: `PROPTEST_CASES` when set (CI pins it), else 64.
pub fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}
