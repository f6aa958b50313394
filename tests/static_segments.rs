//! Static segments from portable roaring bitmaps: the two evaluators agree on fixed sets
//! of ids through merges; kept current they equal a fresh evaluation; an erasure leaves
//! no erased id in any stored expression; snapshots round-trip; bad bytes and unknown ids
//! are typed errors that change nothing.

use audience::segment::{Expr, ProfileSet, RoaringBitmap, from_portable, to_portable, trait_};
use audience::{CompileProblem, Engine, ErasureOptions, LookupError, ProfileId, SegmentError};
use proptest::prelude::*;

use crate::common::{memberships, replay_drained};
use crate::segments_props::{engine_of, expr, ingest_person, person};

/// How many profile ids `e` has handed out.
fn slots(e: &Engine) -> u32 {
    (0u32..)
        .find(|&i| matches!(e.resolve(ProfileId(i)), Err(LookupError::UnknownProfile(_))))
        .unwrap_or(0)
}

fn set_of(picks: &[u16], slots: u32) -> ProfileSet {
    ProfileSet(
        picks
            .iter()
            .filter(|_| slots > 0)
            .map(|&p| u32::from(p) % slots.max(1))
            .collect(),
    )
}

#[test]
fn bad_bytes_and_unknown_ids_are_typed_errors_that_change_nothing() {
    let mut e = crate::common::retail();
    e.ingest(
        &crate::common::rec(1, "web")
            .identifier("user_id", "ann")
            .build(),
    )
    .unwrap();
    let before = e.snapshot();
    let bytes = to_portable(&[0u32].into_iter().collect());
    for bad in [&bytes[..bytes.len() - 1], &[1, 2, 3][..], &[][..]] {
        assert!(matches!(
            e.import_segment("x", bad),
            Err(SegmentError::Portable(_))
        ));
    }
    let unknown = to_portable(&[0u32, 7].into_iter().collect());
    match e.import_segment("x", &unknown) {
        Err(SegmentError::Compile(c)) => assert_eq!(c.problem, CompileProblem::UnknownProfile(7)),
        other => panic!("{other:?}"),
    }
    assert_eq!(e.snapshot(), before);
    let ok = e.import_segment("x", &bytes).unwrap();
    assert_eq!(e.segment_count(ok).unwrap(), 1);
    // In JSON a fixed set is its list of ids.
    let json = serde_json::to_string(e.segment_expr(ok).unwrap()).unwrap();
    assert_eq!(json, r#"{"profiles":[0]}"#);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::common::cases()))]

    #[test]
    fn fixed_sets_agree_across_evaluators_and_follow_merges(
        people in prop::collection::vec(person(), 1..20),
        picks in prop::collection::vec(any::<u16>(), 0..12),
        other in expr(),
    ) {
        let e = engine_of(&people);
        let set = set_of(&picks, slots(&e));
        for x in [Expr::Profiles(set.clone()), Expr::Profiles(set.clone()).and(other.clone()), Expr::Profiles(set.clone()).not()] {
            let plan = e.compile(&x).unwrap();
            let bitmap = e.members(&plan).unwrap();
            for p in e.profile_ids() {
                prop_assert_eq!(e.matches(&plan, p).unwrap(), bitmap.contains(p.0));
            }
        }
        // Each id stands for the live profile it resolves to.
        let expected: RoaringBitmap = set.0.iter().filter_map(|id| e.resolve(ProfileId(id)).ok()).map(|p| p.0).collect();
        prop_assert_eq!(e.members(&e.compile(&Expr::Profiles(set)).unwrap()).unwrap(), expected);
    }

    #[test]
    fn imported_segments_stay_current_and_forget_erased_people(
        first in prop::collection::vec(person(), 1..12),
        later in prop::collection::vec(person(), 0..12),
        picks in prop::collection::vec(any::<u16>(), 0..12),
        erase in any::<prop::sample::Index>(),
    ) {
        let mut e = engine_of(&first);
        let set = set_of(&picks, slots(&e));
        let id = e.import_segment("imported", &to_portable(&set.0)).unwrap();
        let also = e.register_segment("imported germans", Expr::Profiles(set.clone()).and(trait_("country").eq("DE"))).unwrap();
        let mut replayed = memberships(&e);
        e.drain_changes();
        for (i, p) in later.iter().enumerate() {
            ingest_person(&mut e, first.len() + i, p);
        }
        let live: Vec<ProfileId> = e.profile_ids().collect();
        let erased = match live.is_empty() {
            true => Vec::new(),
            false => e.erase(live[erase.index(live.len())], ErasureOptions::default()).unwrap().profile_ids,
        };
        // Incremental equals batch.
        for seg in [id, also] {
            let fresh = e.members(&e.compile(e.segment_expr(seg).unwrap()).unwrap()).unwrap();
            prop_assert_eq!(e.segment_members(seg).unwrap(), &fresh);
        }
        replay_drained(&mut e, &mut replayed).unwrap();
        prop_assert_eq!(&replayed, &memberships(&e));
        // No erased id is left in any stored expression.
        for seg in [id, also] {
            let json = serde_json::to_value(e.segment_expr(seg).unwrap()).unwrap();
            let ids: Vec<u64> = find_sets(&json);
            for gone in &erased {
                prop_assert!(!ids.contains(&u64::from(gone.0)), "{} still in {}", gone, json);
            }
        }
        e.internal_validate().unwrap();
        // The snapshot carries the sets (as portable bytes) and restores to itself.
        let snapshot = e.snapshot();
        let bytes = postcard::to_allocvec(&snapshot).unwrap();
        let back: audience::snapshot::Snapshot = postcard::from_bytes(&bytes).unwrap();
        let restored = Engine::restore(back).unwrap();
        prop_assert_eq!(restored.snapshot(), snapshot);
        prop_assert_eq!(restored.segment_members(id).unwrap(), e.segment_members(id).unwrap());
        prop_assert_eq!(from_portable(&to_portable(e.segment_members(id).unwrap())).unwrap(), e.segment_members(id).unwrap().clone());
    }
}

/// The ids of every fixed set in an expression's JSON.
fn find_sets(v: &serde_json::Value) -> Vec<u64> {
    match v {
        serde_json::Value::Object(m) => m
            .iter()
            .flat_map(|(k, v)| match (k.as_str(), v) {
                ("profiles", serde_json::Value::Array(ids)) => {
                    ids.iter().filter_map(|x| x.as_u64()).collect()
                }
                _ => find_sets(v),
            })
            .collect(),
        serde_json::Value::Array(items) => items.iter().flat_map(find_sets).collect(),
        _ => Vec::new(),
    }
}
