//! Schema evolution: a running engine takes a new schema; added computed traits are
//! backfilled, removed items take their data, conflicts are typed errors that change
//! nothing, and the result equals an engine that had the new schema from the start.

use std::collections::BTreeSet;

use audience::schema::{
    Computation, ComputedDef, EventFilter, EventKindDef, Field, IdentifierKindDef, MergeStrategy,
    Normalizer, PropertyType, SchemaDef, TraitDef, TraitType,
};
use audience::segment::{event, trait_};
use audience::{
    Cause, Change, ComputedValue, ConsentInput, Engine, EventInput, ProfileId, Record, Schema,
    SchemaChangeError, SchemaItem, Window,
};
use proptest::prelude::*;

use crate::common::{memberships, rec, replay_drained, retail, t, usd};

const DAY: i64 = 86_400;

/// The retail default, evolved: two computed traits and a trait, event kind and
/// identifier kind added; `age` and page views' `category` removed; `country` now the
/// most recent value; page views kept 30 days.
fn evolve(def: &mut SchemaDef) {
    def.computed.push(
        ComputedDef::new(
            "views_30d",
            EventFilter::kind("page_view"),
            Computation::Count,
        )
        .window(Window::LastDays(30)),
    );
    def.computed.push(ComputedDef::new(
        "orders",
        EventFilter::kind("order_completed"),
        Computation::Count,
    ));
    def.traits.push(TraitDef::new("tier", TraitType::Text));
    def.traits.retain(|t| t.name != "age");
    for tr in &mut def.traits {
        if tr.name == "country" {
            tr.strategy = MergeStrategy::MostRecent;
        }
    }
    def.event_kinds.push(EventKindDef::new("app_open"));
    for k in &mut def.event_kinds {
        if k.name == "page_view" {
            k.properties.retain(|p| p.name != "category");
            k.retention_days = Some(30);
        }
    }
    def.identifier_kinds
        .push(IdentifierKindDef::new("crm_id", Normalizer::Trim, 5));
}

fn evolved_schema() -> Schema {
    let mut def = Schema::retail_default().def().clone();
    evolve(&mut def);
    Schema::from_def(def).unwrap()
}

/// One person's record at `day`: identifiers, traits and one event, from a small pool so
/// profiles merge.
fn record(
    day: i64,
    user: u8,
    email: Option<u8>,
    source: u8,
    country: Option<bool>,
    age: Option<i64>,
    ev: u8,
) -> Record {
    let at = t(day * DAY + i64::from(user));
    let source = ["web", "crm", "pos"][usize::from(source % 3)];
    let mut b = Record::builder(at, source).identifier("user_id", format!("u{user}"));
    if let Some(e) = email {
        b = b.identifier("email", format!("e{e}@example.com"));
    }
    if let Some(de) = country {
        b = b.trait_value("country", if de { "DE" } else { "FR" });
    }
    if let Some(a) = age {
        b = b.trait_value("age", a);
    }
    let category = if ev.is_multiple_of(2) { "jazz" } else { "rock" };
    let e = match ev % 3 {
        0 => EventInput::new("page_view", at)
            .property("url", "/x")
            .property("category", category),
        1 => EventInput::new("order_completed", at)
            .property("amount", usd(100 * i64::from(ev)))
            .property("category", category),
        _ => EventInput::new("email_open", at).property("campaign", "c1"),
    };
    b.event(e).build()
}

/// What the evolved schema keeps of a record: no `age`, no page-view `category`.
fn stripped(r: &Record) -> Record {
    let mut r = r.clone();
    r.traits.retain(|o| o.name != "age");
    for e in &mut r.events {
        if e.kind == "page_view" {
            e.properties.retain(|p| p.name != "category");
        }
    }
    r
}

fn records() -> impl Strategy<Value = Vec<Record>> {
    prop::collection::vec(
        (
            0i64..90,
            0u8..8,
            prop::option::of(0u8..6),
            0u8..3,
            prop::option::of(any::<bool>()),
            prop::option::of(0i64..99),
            0u8..6,
        )
            .prop_map(|(d, u, e, s, c, a, ev)| record(d, u, e, s, c, a, ev)),
        1..40,
    )
}

/// An engine of `schema` with two registered segments, fed `records` with the clock
/// following them, then moved to day 100.
fn fed(schema: Schema, records: &[Record]) -> Engine {
    let mut e = Engine::new(schema);
    e.advance_time(t(0)).unwrap();
    e.register_segment("de", trait_("country").eq("DE"))
        .unwrap();
    e.register_segment(
        "viewers",
        event("page_view")
            .in_window(Window::LastDays(60))
            .at_least(1),
    )
    .unwrap();
    for r in records {
        if e.now().is_none_or(|now| now < r.timestamp) {
            e.advance_time(r.timestamp).unwrap();
        }
        e.ingest(r).unwrap();
    }
    e.advance_time(t(100 * DAY)).unwrap();
    e
}

/// The state without what legitimately differs: entry times and queued changes.
fn comparable(e: &Engine) -> audience::snapshot::State {
    let mut s = e.snapshot().state;
    for seg in s.segments.iter_mut().flatten() {
        seg.entered.clear();
    }
    s.changes.clear();
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::common::cases()))]

    /// Evolving a running engine equals having had the new schema from the start (fed
    /// the records minus what it drops); the drained changes replay to the members.
    #[test]
    fn evolving_equals_the_new_schema_from_the_start(records in records()) {
        let mut evolved = fed(Schema::retail_default(), &records);
        let mut replayed = BTreeSet::new();
        replay_drained(&mut evolved, &mut replayed).unwrap();
        let receipt = evolved.change_schema(evolved_schema()).unwrap();
        evolved.internal_validate().unwrap();
        replay_drained(&mut evolved, &mut replayed).unwrap();
        prop_assert_eq!(&replayed, &memberships(&evolved));
        let fresh = fed(evolved_schema(), &records.iter().map(stripped).collect::<Vec<_>>());
        fresh.internal_validate().unwrap();
        prop_assert_eq!(comparable(&evolved), comparable(&fresh));
        prop_assert_eq!(memberships(&evolved), memberships(&fresh));
        for p in fresh.profile_ids() {
            prop_assert_eq!(
                evolved.computed(p, "views_30d").unwrap(),
                fresh.computed(p, "views_30d").unwrap()
            );
        }
        let ages = records.iter().filter(|r| r.traits.iter().any(|o| o.name == "age")).count();
        prop_assert_eq!(receipt.observations_dropped, ages);
        prop_assert!(receipt.added.contains(&SchemaItem::Computed("views_30d".into())));
        prop_assert!(receipt.removed.contains(&SchemaItem::Trait("age".into())));
        prop_assert!(receipt.changed.contains(&SchemaItem::Trait("country".into())));
        let category = SchemaItem::Property {
            kind: "page_view".into(),
            property: "category".into(),
        };
        prop_assert!(receipt.removed.contains(&category));
    }
}

/// Ann, with an age, two page views and an order, in the `de` segment.
fn ann() -> (Engine, ProfileId) {
    let mut e = retail();
    e.advance_time(t(0)).unwrap();
    e.register_segment("de", trait_("country").eq("DE"))
        .unwrap();
    let p = e
        .ingest(
            &rec(0, "crm")
                .identifier("user_id", "ann")
                .trait_value("country", "DE")
                .trait_value("age", 41i64)
                .event(EventInput::new("page_view", t(0)).property("category", "jazz"))
                .event(EventInput::new("page_view", t(1)).property("category", "rock"))
                .event(EventInput::new("order_completed", t(2)).property("amount", usd(1250)))
                .build(),
        )
        .unwrap()
        .profile;
    e.advance_time(t(10)).unwrap();
    e.drain_changes();
    (e, p)
}

#[test]
fn an_added_computed_trait_is_backfilled_and_a_removed_one_goes() {
    let (mut e, p) = ann();
    let receipt = e
        .edit_schema(|def| {
            def.computed.push(ComputedDef::new(
                "favourite",
                EventFilter::kind("page_view"),
                Computation::MostFrequent {
                    field: Field::Property("category".into()),
                },
            ));
        })
        .unwrap();
    assert_eq!(receipt.added, [SchemaItem::Computed("favourite".into())]);
    assert_eq!(receipt.profiles_recomputed, 1);
    assert!(matches!(
        e.computed(p, "favourite").unwrap(),
        Some(ComputedValue::Value(_))
    ));
    let receipt = e.edit_schema(|def| def.computed.clear()).unwrap();
    assert_eq!(receipt.removed, [SchemaItem::Computed("favourite".into())]);
    assert!(e.computed(p, "favourite").is_err());
    e.internal_validate().unwrap();
}

#[test]
fn the_same_schema_changes_nothing() {
    let (mut e, _) = ann();
    let before = e.snapshot();
    let receipt = e.change_schema(e.schema().clone()).unwrap();
    assert!(receipt.is_unchanged());
    assert_eq!(receipt.segment_changes, 0);
    assert_eq!(e.snapshot(), before);
}

#[test]
fn a_changed_strategy_moves_members_with_a_schema_change_cause() {
    let (mut e, p) = ann();
    e.ingest(
        &rec(5, "web")
            .identifier("user_id", "ann")
            .trait_value("country", "FR")
            .build(),
    )
    .unwrap();
    // country prefers the CRM's DE; as the most recent value it is the web's FR.
    assert!(e.drain_changes().is_empty());
    let de = e.segments().next().unwrap().0;
    let receipt = e
        .edit_schema(|def| {
            for tr in &mut def.traits {
                if tr.name == "country" {
                    tr.strategy = MergeStrategy::MostRecent;
                }
            }
        })
        .unwrap();
    assert_eq!(receipt.changed, [SchemaItem::Trait("country".into())]);
    assert_eq!(receipt.segment_changes, 1);
    let changes = e.drain_changes();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (changes[0].segment, changes[0].profile, changes[0].change),
        (de, p, Change::Exited)
    );
    assert_eq!(changes[0].cause, Cause::SchemaChange);
    assert_eq!(changes[0].at, t(10));
}

#[test]
fn entry_times_survive_a_schema_change() {
    let (mut e, p) = ann();
    let de = e.segments().next().unwrap().0;
    let export = |e: &Engine| {
        e.export(p)
            .unwrap()
            .segments
            .into_iter()
            .map(|s| (s.name, s.entered_at))
            .collect::<Vec<_>>()
    };
    let before = export(&e);
    e.edit_schema(|def| def.traits.push(TraitDef::new("tier", TraitType::Text)))
        .unwrap();
    assert_eq!(export(&e), before);
    assert!(e.segment_members(de).unwrap().contains(p.0));
}

#[test]
fn a_shorter_retention_drops_what_it_no_longer_keeps() {
    let (mut e, p) = ann();
    e.advance_time(t(5 * DAY)).unwrap();
    let receipt = e
        .edit_schema(|def| {
            for k in &mut def.event_kinds {
                if k.name == "page_view" {
                    k.retention_days = Some(2);
                }
            }
        })
        .unwrap();
    assert_eq!(receipt.events_expired, 2);
    assert_eq!(e.profile(p).unwrap().events.len(), 1, "the order stays");
}

#[test]
fn an_rfm_model_changed_or_removed_loses_its_runs_and_an_added_one_has_none() {
    let (mut e, _) = ann();
    e.score_rfm("classic", t(10)).unwrap();
    e.score_rfm("engagement", t(10)).unwrap();
    let receipt = e
        .edit_schema(|def| {
            for m in &mut def.rfm_models {
                if m.name == "classic" {
                    m.bins = 3;
                }
            }
            let mut extra = def.rfm_models[0].clone();
            extra.name = "classic_again".into();
            def.rfm_models.push(extra);
        })
        .unwrap();
    assert_eq!(receipt.rfm_runs_dropped, 1);
    assert!(e.rfm_run("classic").unwrap().is_none());
    assert!(e.rfm_run("engagement").unwrap().is_some());
    assert!(e.rfm_run("classic_again").unwrap().is_none());
    assert!(!e.score_rfm("classic_again", t(10)).unwrap().is_empty());
}

/// A change refused with `expected`, leaving the engine exactly as it was.
fn refused(
    e: &mut Engine,
    edit: impl FnOnce(&mut SchemaDef),
    expected: impl Fn(&SchemaChangeError) -> bool,
) {
    let before = e.snapshot();
    let err = e.edit_schema(edit).unwrap_err();
    assert!(expected(&err), "{err:?}");
    assert!(!err.to_string().is_empty());
    assert_eq!(e.snapshot(), before, "refused, and nothing changed");
}

#[test]
fn a_type_change_over_held_values_is_refused_and_without_values_allowed() {
    let (mut e, _) = ann();
    let retype = |name: &'static str, ty: TraitType| {
        move |def: &mut SchemaDef| {
            for tr in &mut def.traits {
                if tr.name == name {
                    tr.ty = ty;
                }
            }
        }
    };
    refused(
        &mut e,
        retype("age", TraitType::Text),
        |err| matches!(err, SchemaChangeError::TraitTypeChanged { trait_name, observations: 1, .. } if trait_name == "age"),
    );
    let receipt = e.edit_schema(retype("city", TraitType::Integer)).unwrap();
    assert_eq!(receipt.changed, [SchemaItem::Trait("city".into())]);
    refused(
        &mut e,
        |def| {
            for k in &mut def.event_kinds {
                if k.name == "page_view" {
                    for p in &mut k.properties {
                        if p.name == "category" {
                            p.ty = PropertyType::Integer;
                        }
                    }
                }
            }
        },
        |err| {
            matches!(
                err,
                SchemaChangeError::PropertyTypeChanged { events: 2, .. }
            )
        },
    );
}

#[test]
fn removing_what_identity_or_consent_rests_on_is_refused() {
    let (mut e, _) = ann();
    refused(
        &mut e,
        |def| def.identifier_kinds.retain(|k| k.name != "user_id"),
        |err| {
            matches!(
                err,
                SchemaChangeError::IdentifierKindInUse {
                    change: "removed",
                    ..
                }
            )
        },
    );
    refused(
        &mut e,
        |def| {
            for k in &mut def.identifier_kinds {
                if k.name == "user_id" {
                    k.limit = Some(3);
                }
            }
        },
        |err| {
            matches!(
                err,
                SchemaChangeError::IdentifierKindInUse {
                    change: "given other rules",
                    ..
                }
            )
        },
    );
    refused(
        &mut e,
        |def| {
            def.sources.retain(|s| s.name != "crm");
            for tr in &mut def.traits {
                tr.strategy = MergeStrategy::MostRecent;
            }
        },
        |err| matches!(err, SchemaChangeError::SourceInUse { source_name, .. } if source_name == "crm"),
    );
    // Unused ones may go: the kind "phone" (and the channel that addresses by it).
    let receipt = e
        .edit_schema(|def| {
            def.identifier_kinds.retain(|k| k.name != "phone");
            def.channels.retain(|c| c.name != "sms");
        })
        .unwrap();
    assert!(
        receipt
            .removed
            .contains(&SchemaItem::IdentifierKind("phone".into()))
    );
    e.ingest(
        &rec(20, "web")
            .identifier("user_id", "ann")
            .consent(ConsentInput::grant("marketing").channel("email"))
            .build(),
    )
    .unwrap();
    e.suppress_identifier(
        "email",
        "someone@example.com",
        audience::Suppression::new("bounce", t(20)).channel("ads"),
    )
    .unwrap();
    refused(
        &mut e,
        |def| def.channels.retain(|c| c.name != "ads"),
        |err| matches!(err, SchemaChangeError::ConsentInUse { item: SchemaItem::Channel(c), uses: 1 } if c == "ads"),
    );
    refused(
        &mut e,
        |def| def.channels.retain(|c| c.name != "email"),
        |err| matches!(err, SchemaChangeError::ConsentInUse { item: SchemaItem::Channel(c), .. } if c == "email"),
    );
}

#[test]
fn a_registered_segment_must_compile_under_the_new_schema() {
    let (mut e, _) = ann();
    e.register_segment("adults", trait_("age").ge(18i64))
        .unwrap();
    refused(
        &mut e,
        |def| def.traits.retain(|t| t.name != "age"),
        |err| matches!(err, SchemaChangeError::SegmentConflict { segment, .. } if segment == "adults"),
    );
    // And definitions that do not validate are a schema error.
    refused(
        &mut e,
        |def| def.traits.push(TraitDef::new("age", TraitType::Integer)),
        |err| matches!(err, SchemaChangeError::Schema(_)),
    );
}

#[test]
fn a_new_identifier_kind_links_from_then_on() {
    let (mut e, p) = ann();
    e.edit_schema(|def| {
        def.identifier_kinds
            .push(IdentifierKindDef::new("crm_id", Normalizer::Trim, 5));
    })
    .unwrap();
    let r = e
        .ingest(
            &rec(30, "crm")
                .identifier("user_id", "ann")
                .identifier("crm_id", "C-1")
                .build(),
        )
        .unwrap();
    assert_eq!(r.profile, p);
    assert_eq!(e.find("crm_id", "C-1").unwrap(), Some(p));
}

#[test]
fn computed_state_is_kept_when_nothing_it_reads_changed() {
    let (mut e, p) = ann();
    e.edit_schema(|def| {
        def.computed.push(ComputedDef::new(
            "views",
            EventFilter::kind("page_view"),
            Computation::Count,
        ));
    })
    .unwrap();
    let views = e.computed(p, "views").unwrap();
    assert_eq!(views, Some(ComputedValue::Count(2)));
    let receipt = e
        .edit_schema(|def| {
            def.traits.push(TraitDef::new("tier", TraitType::Text));
            def.sources.push(audience::schema::SourceDef {
                name: "partner".into(),
                priority: 9,
            });
        })
        .unwrap();
    assert_eq!(receipt.profiles_recomputed, 0);
    assert_eq!(e.computed(p, "views").unwrap(), views);
    e.internal_validate().unwrap();
    // An event after the change still counts.
    e.advance_time(t(20)).unwrap();
    e.ingest(
        &rec(20, "partner")
            .identifier("user_id", "ann")
            .event(EventInput::new("page_view", t(20)))
            .build(),
    )
    .unwrap();
    assert_eq!(
        e.computed(p, "views").unwrap(),
        Some(ComputedValue::Count(3))
    );
}
