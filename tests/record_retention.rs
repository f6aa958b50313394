//! Record-log retention: records older than the schema's `record_retention_days` go as if
//! they had never arrived — what they said and the links they made.

use std::collections::BTreeSet;

use audience::schema::{Schema, SchemaDef};
use audience::segment::trait_;
use audience::snapshot::{RestoreError, Snapshot};
use audience::{Cause, Change, Engine, EngineConfig, EventInput, IngestError, Record, SchemaError};
use proptest::prelude::*;

use crate::common::{memberships, rec, replay_drained, t};

const DAY: i64 = 86_400;

fn schema(days: Option<u32>) -> Schema {
    let mut def: SchemaDef = Schema::retail_default().def().clone();
    def.record_retention_days = days;
    Schema::from_def(def).unwrap()
}

fn engine(days: Option<u32>, on_advance: bool) -> Engine {
    Engine::with_config(
        schema(days),
        EngineConfig {
            retention_on_advance: on_advance,
            ..EngineConfig::default()
        },
    )
}

#[test]
fn old_records_go_with_what_they_said() {
    let mut e = engine(Some(30), true);
    e.advance_time(t(0)).unwrap();
    let de = e
        .register_segment("de", trait_("country").eq("DE"))
        .unwrap();
    let p = e
        .ingest(
            &rec(0, "crm")
                .identifier("anonymous_id", "dev-1")
                .trait_value("country", "DE")
                .build(),
        )
        .unwrap()
        .profile;
    e.advance_time(t(10 * DAY)).unwrap();
    e.ingest(
        &rec(10 * DAY, "web")
            .identifier("anonymous_id", "dev-1")
            .identifier("email", "ann@example.com")
            .event(EventInput::new("page_view", t(10 * DAY)))
            .build(),
    )
    .unwrap();
    e.drain_changes();
    // Day 35: the day-0 record is 35 days old, its country with it.
    e.advance_time(t(35 * DAY)).unwrap();
    let changes = e.drain_changes();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(
        (changes[0].segment, changes[0].change, &changes[0].cause),
        (de, Change::Exited, &Cause::Retention)
    );
    let q = e.find("email", "ann@example.com").unwrap().unwrap();
    let view = e.profile(q).unwrap();
    assert!(view.value("country").is_none());
    assert_eq!(view.records.len(), 1);
    assert_eq!(e.find("anonymous_id", "dev-1").unwrap(), Some(q));
    let receipt = e.apply_retention().unwrap();
    assert_eq!(receipt.records_expired, 1);
    // Day 41: the other record goes; nothing is left of the person.
    e.advance_time(t(41 * DAY)).unwrap();
    assert_eq!(e.find("email", "ann@example.com").unwrap(), None);
    assert_eq!(e.find("anonymous_id", "dev-1").unwrap(), None);
    assert_eq!(e.profile_count(), 0);
    assert!(e.profile(p).is_err());
    e.internal_validate().unwrap();
}

#[test]
fn a_merge_that_rested_on_an_expired_record_comes_undone() {
    let mut e = engine(Some(30), true);
    e.advance_time(t(25 * DAY)).unwrap();
    let a = e
        .ingest(
            &rec(20 * DAY, "web")
                .identifier("email", "a@example.com")
                .build(),
        )
        .unwrap()
        .profile;
    let b = e
        .ingest(
            &rec(25 * DAY, "web")
                .identifier("email", "b@example.com")
                .build(),
        )
        .unwrap()
        .profile;
    // A late record from day 0 says both addresses are one person.
    let joined = e
        .ingest(
            &rec(0, "crm")
                .identifier("email", "a@example.com")
                .identifier("email", "b@example.com")
                .build(),
        )
        .unwrap();
    assert_eq!(joined.merged.len(), 1);
    assert_eq!(
        e.find("email", "a@example.com").unwrap(),
        e.find("email", "b@example.com").unwrap()
    );
    e.advance_time(t(31 * DAY)).unwrap();
    let (pa, pb) = (
        e.find("email", "a@example.com").unwrap().unwrap(),
        e.find("email", "b@example.com").unwrap().unwrap(),
    );
    assert_ne!(pa, pb, "apart again");
    assert_eq!((pa, pb), (a, b), "with their old ids");
    e.internal_validate().unwrap();
}

#[test]
fn a_record_already_past_retention_is_refused_and_changes_nothing() {
    let mut e = engine(Some(30), true);
    e.advance_time(t(40 * DAY)).unwrap();
    let before = e.snapshot();
    let old = rec(5 * DAY, "web").identifier("user_id", "u1").build();
    let err = e.ingest(&old).unwrap_err();
    assert!(
        matches!(err, IngestError::PastRetention { days: 30, .. }),
        "{err:?}"
    );
    assert!(!err.to_string().is_empty());
    assert_eq!(e.preview(&old).unwrap_err(), err);
    assert_eq!(e.snapshot(), before);
    // Exactly 30 days old is kept.
    e.ingest(&rec(10 * DAY, "web").identifier("user_id", "u1").build())
        .unwrap();
}

#[test]
fn zero_days_is_a_schema_error() {
    let mut def = Schema::retail_default().def().clone();
    def.record_retention_days = Some(0);
    assert_eq!(
        Schema::from_def(def).unwrap_err(),
        SchemaError::ZeroRecordRetention
    );
}

#[test]
fn snapshots_keep_the_retention_and_refuse_records_past_it() {
    let mut e = engine(Some(30), true);
    e.advance_time(t(10 * DAY)).unwrap();
    e.ingest(&rec(0, "web").identifier("user_id", "u1").build())
        .unwrap();
    let s = e.snapshot();
    assert_eq!(s.state.schema.record_retention_days, Some(30));
    assert_eq!(Engine::restore(s.clone()).unwrap().snapshot(), s);
    let mut moved = s.clone();
    moved.state.clock = Some(t(31 * DAY));
    moved.checksum = Snapshot::checksum_of(&moved.state);
    assert!(matches!(
        Engine::restore(moved),
        Err(RestoreError::Invalid { .. })
    ));
}

/// One step of a history: a record `back` days before the clock (so some arrive late,
/// some too late), or a clock move.
#[derive(Clone, Debug)]
enum Step {
    Ingest {
        back: i64,
        user: u8,
        email: Option<u8>,
        de: bool,
    },
    Advance(i64),
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        3 => (0i64..20, 0u8..6, prop::option::of(0u8..5), any::<bool>())
            .prop_map(|(back, user, email, de)| Step::Ingest { back, user, email, de }),
        1 => (1i64..12).prop_map(Step::Advance),
    ];
    prop::collection::vec(step, 1..40)
}

fn record(now: i64, back: i64, user: u8, email: Option<u8>, de: bool, k: usize) -> Record {
    // Distinct times, so every order of arrival is the same history.
    let at = t(now * DAY - back * DAY + k as i64);
    let mut b = Record::builder(at, if de { "crm" } else { "web" })
        .identifier("user_id", format!("u{user}"))
        .trait_value("country", if de { "DE" } else { "FR" })
        .event(EventInput::new("page_view", at));
    if let Some(m) = email {
        b = b.identifier("email", format!("e{m}@example.com"));
    }
    b.build()
}

/// Each live profile by its identifiers, with its traits, its event count and the
/// segments it is in: what two engines with different id numbering can share.
fn canonical(e: &Engine) -> BTreeSet<String> {
    e.profile_ids()
        .map(|p| {
            let v = e.profile(p).unwrap();
            let mut ids: Vec<_> = v.identifiers.iter().map(|i| (&i.kind, &i.value)).collect();
            ids.sort();
            let traits: Vec<_> = v.traits.iter().map(|t| (&t.name, &t.current)).collect();
            let segments: Vec<_> = e
                .segments()
                .filter(|(id, _)| e.segment_members(*id).unwrap().contains(p.0))
                .map(|(_, n)| n.to_string())
                .collect();
            format!(
                "{ids:?} {traits:?} events={} in={segments:?}",
                v.events.len()
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::common::cases()))]

    /// An engine with a record retention answers like one without it that was never fed
    /// the records past the retention at the end (or refused on arrival); its drained
    /// changes replay to its members.
    #[test]
    fn retention_equals_never_having_had_the_old_records(
        steps in steps(),
        on_advance in any::<bool>(),
    ) {
        let mut kept = engine(Some(15), on_advance);
        let mut now = 30i64;
        kept.advance_time(t(now * DAY)).unwrap();
        kept.register_segment("de", trait_("country").eq("DE")).unwrap();
        let mut fed: Vec<Record> = Vec::new();
        let mut replayed = BTreeSet::new();
        for (k, s) in steps.iter().enumerate() {
            match s {
                Step::Ingest { back, user, email, de } => {
                    let r = record(now, *back, *user, *email, *de, k);
                    match kept.ingest(&r) {
                        Ok(_) => fed.push(r),
                        Err(IngestError::PastRetention { .. }) => prop_assert!(*back > 15),
                        Err(e) => prop_assert!(false, "{e}"),
                    }
                }
                Step::Advance(d) => {
                    now += d;
                    kept.advance_time(t(now * DAY)).unwrap();
                    if !on_advance {
                        kept.apply_retention().unwrap();
                    }
                }
            }
            kept.internal_validate().unwrap();
            let replay = replay_drained(&mut kept, &mut replayed);
            prop_assert!(replay.is_ok(), "{:?}", replay);
        }
        let members = memberships(&kept);
        prop_assert_eq!(replayed, members);
        let horizon = t(now * DAY - 15 * DAY);
        let mut fresh = engine(None, true);
        fresh.advance_time(t(now * DAY)).unwrap();
        fresh.register_segment("de", trait_("country").eq("DE")).unwrap();
        for r in fed.iter().filter(|r| r.timestamp >= horizon) {
            fresh.ingest(r).unwrap();
        }
        prop_assert_eq!(canonical(&kept), canonical(&fresh));
        prop_assert_eq!(kept.profile_count(), fresh.profile_count());
    }
}
