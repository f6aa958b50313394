//! Snapshots through the public API: round trips in two serde formats, a restored engine
//! answering and maintaining like the original, and corrupt or hostile snapshots refused.

use audience::segment::{consent, event, trait_};
use audience::snapshot::{ProfileSlot, RestoreError, Snapshot};
use audience::workload::shop::{ShopParams, generate};
use audience::{Engine, EventInput, Record, Schema, Suppression, Window};

use crate::common::t;

/// The quickstart's shop (small), with suppressions, an RFM run and registered segments.
pub(crate) fn shop_engine(people: u64) -> Engine {
    let mut e = Engine::new(Schema::retail_default_in(
        audience::Currency::new("EUR").unwrap(),
    ));
    for r in generate(&ShopParams { people, seed: 3 }) {
        if e.now().is_none_or(|now| now < r.timestamp) {
            e.advance_time(r.timestamp).unwrap();
        }
        e.ingest(&r).unwrap();
    }
    let now = e.now().unwrap();
    let first = e.profile_ids().next().unwrap();
    e.suppress_profile(first, Suppression::new("complaint", now))
        .unwrap();
    e.suppress_identifier(
        "email",
        "nobody@example.com",
        Suppression::new("bounce", now),
    )
    .unwrap();
    e.score_rfm("classic", now.checked_add_days(-30).unwrap())
        .unwrap();
    e.score_rfm("classic", now).unwrap();
    e.register_segment("de", trait_("country").eq("DE"))
        .unwrap();
    e.register_segment(
        "carts",
        event("add_to_cart")
            .in_window(Window::LastDays(30))
            .at_least(1),
    )
    .unwrap();
    let gone = e
        .register_segment("gone", consent("marketing", "email"))
        .unwrap();
    e.unregister_segment(gone).unwrap();
    e.register_segment("emailable", consent("marketing", "email"))
        .unwrap();
    e
}

#[test]
fn restore_then_snapshot_is_identical_in_json_and_postcard() {
    let e = shop_engine(3_000);
    let s = e.snapshot();
    let json = serde_json::to_vec(&s).unwrap();
    let from_json = Engine::restore(serde_json::from_slice(&json).unwrap()).unwrap();
    from_json.internal_validate().unwrap();
    assert_eq!(from_json.snapshot(), s);
    let bytes = postcard::to_allocvec(&s).unwrap();
    let from_postcard = Engine::restore(postcard::from_bytes(&bytes).unwrap()).unwrap();
    assert_eq!(from_postcard.snapshot(), s);
    assert!(bytes.len() < json.len() / 2, "postcard is the compact one");
}

#[test]
fn a_restored_engine_answers_and_maintains_like_the_original() {
    let mut a = shop_engine(2_000);
    let mut b = Engine::restore(a.snapshot()).unwrap();
    for (id, name) in a.segments().collect::<Vec<_>>() {
        assert_eq!(b.segment_name(id).unwrap(), name);
        assert_eq!(
            b.segment_members(id).unwrap(),
            a.segment_members(id).unwrap()
        );
    }
    for p in a.profile_ids().take(300).collect::<Vec<_>>() {
        assert_eq!(b.profile(p).unwrap(), a.profile(p).unwrap(), "{p}");
    }
    assert_eq!(
        b.rfm_segment_sizes("classic").unwrap(),
        a.rfm_segment_sizes("classic").unwrap()
    );
    assert_eq!(b.merge_log(), a.merge_log());
    assert_eq!(b.pending_changes(), a.pending_changes());
    // Both keep going the same way: records, a clock move, a new run.
    let now = a.now().unwrap();
    for (i, user) in ["cust-7", "cust-8", "new-1"].iter().enumerate() {
        let at = now.checked_add_millis(i as i64 * 60_000).unwrap();
        let r = Record::builder(at, "web")
            .identifier("user_id", *user)
            .event(EventInput::new("add_to_cart", at))
            .build();
        assert_eq!(a.ingest(&r).unwrap(), b.ingest(&r).unwrap());
    }
    let later = now.checked_add_days(40).unwrap();
    a.advance_time(later).unwrap();
    b.advance_time(later).unwrap();
    assert_eq!(a.drain_changes(), b.drain_changes());
    assert_eq!(a.next_deadline(), b.next_deadline());
    b.internal_validate().unwrap();
    assert_eq!(a.snapshot(), b.snapshot());
}

#[test]
fn corrupt_and_hostile_snapshots_are_typed_errors() {
    let e = shop_engine(200);
    let s = e.snapshot();
    let mut version = s.clone();
    version.version = 99;
    assert!(matches!(
        Engine::restore(version),
        Err(RestoreError::Version { found: 99, .. })
    ));
    let mut tampered = s.clone();
    tampered.state.clock = Some(t(1));
    assert!(matches!(
        Engine::restore(tampered.clone()),
        Err(RestoreError::Checksum { .. })
    ));
    // A forger who fixes the checksum meets the validation.
    let resealed = |mut x: Snapshot| {
        x.checksum = Snapshot::checksum_of(&x.state);
        Engine::restore(x)
    };
    let mut wrong_profile = s.clone();
    if let Some(Some(r)) = wrong_profile.state.records.first_mut() {
        r.profile = 4_000_000_000;
    }
    assert!(matches!(
        resealed(wrong_profile),
        Err(RestoreError::Invalid { .. })
    ));
    let mut cycle = s.clone();
    let n = cycle.state.profiles.len() as u32;
    cycle.state.profiles.push(ProfileSlot::Retired(n + 1));
    cycle.state.profiles.push(ProfileSlot::Retired(n));
    assert!(matches!(resealed(cycle), Err(RestoreError::Invalid { .. })));
    let mut events = s.clone();
    events.state.events.kind.push(0);
    assert!(matches!(
        resealed(events),
        Err(RestoreError::Invalid { .. })
    ));
    let mut unsorted = s.clone();
    unsorted.state.identifiers.reverse();
    assert!(matches!(
        resealed(unsorted),
        Err(RestoreError::Invalid { .. })
    ));
    // The resealed original restores.
    assert_eq!(resealed(s.clone()).unwrap().snapshot(), s);
}

mod props {
    use audience::{Engine, ErasureOptions};
    use proptest::prelude::*;

    use crate::segments_props::{expr, ingest_person, person, test_schema};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::common::cases()))]

        /// Restore then snapshot is identical, and the restored engine answers like the
        /// original, for random histories with merges, consent, suppressions, segments,
        /// RFM runs and erasures.
        #[test]
        fn snapshots_round_trip(
            people in prop::collection::vec(person(), 0..30),
            segments in prop::collection::vec(expr(), 0..4),
            erase in prop::collection::vec(any::<prop::sample::Index>(), 0..2),
        ) {
            let mut e = Engine::new(test_schema());
            e.set_erasure_key(b"k");
            e.advance_time(crate::common::t(35 * 86_400)).unwrap();
            e.register_segment("danes", audience::segment::trait_("country").eq("DK")).unwrap();
            for (i, x) in segments.iter().enumerate() {
                e.register_segment(&format!("s{i}"), x.clone()).unwrap();
            }
            for (i, p) in people.iter().enumerate() {
                ingest_person(&mut e, i, p);
            }
            e.score_rfm("classic", crate::common::t(35 * 86_400)).unwrap();
            for pick in erase {
                let live: Vec<_> = e.profile_ids().collect();
                if !live.is_empty() {
                    e.erase(live[pick.index(live.len())], ErasureOptions { suppress: true }).unwrap();
                }
            }
            let s = e.snapshot();
            let bytes = postcard::to_allocvec(&s).unwrap();
            let back = Engine::restore(postcard::from_bytes(&bytes).unwrap()).unwrap();
            back.internal_validate().map_err(TestCaseError::fail)?;
            prop_assert_eq!(back.snapshot(), s);
            for (id, _) in e.segments() {
                prop_assert_eq!(back.segment_members(id).unwrap(), e.segment_members(id).unwrap());
            }
            for p in e.profile_ids() {
                prop_assert_eq!(back.profile(p).unwrap(), e.profile(p).unwrap());
            }
            prop_assert_eq!(back.next_deadline(), e.next_deadline());
        }
    }
}

/// A small reference snapshot, postcard-encoded.
fn reference_bytes() -> (Engine, Vec<u8>) {
    let e = shop_engine(60);
    let bytes = postcard::to_allocvec(&e.snapshot()).unwrap();
    (e, bytes)
}

/// Decodes and restores `bytes`: `Ok(true)` for the identical engine, `Ok(false)` for a
/// typed error (of the format or of restore).
fn try_restore(bytes: &[u8], original: &Snapshot) -> bool {
    match postcard::from_bytes::<Snapshot>(bytes) {
        Err(_) => false,
        Ok(s) => match Engine::restore(s) {
            Err(_) => false,
            Ok(e) => {
                assert_eq!(
                    &e.snapshot(),
                    original,
                    "a changed snapshot restored as another engine"
                );
                true
            }
        },
    }
}

#[test]
fn one_bit_flipped_at_every_byte_is_refused_or_changes_nothing() {
    let (e, bytes) = reference_bytes();
    let original = e.snapshot();
    assert!(bytes.len() > 10_000, "{} bytes", bytes.len());
    let mut restored = 0;
    for i in 0..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[i] ^= 1 << (i % 8);
        restored += usize::from(try_restore(&flipped, &original));
    }
    // A flip that decodes to the same state is possible only where the encoding has
    // slack; postcard has none, so every flip is caught.
    assert_eq!(restored, 0);
}

#[test]
fn truncated_snapshots_and_hostile_lengths_are_refused_with_bounded_memory() {
    let (e, bytes) = reference_bytes();
    let original = e.snapshot();
    for len in (0..bytes.len()).step_by(97) {
        assert!(!try_restore(&bytes[..len], &original));
    }
    // A length of about 4 billion, or of 2^40, put at every position.
    let four_billion = [0xff, 0xff, 0xff, 0xff, 0x0f];
    let two_to_40 = [0x80, 0x80, 0x80, 0x80, 0x80, 0x20];
    for i in (0..bytes.len()).step_by(31) {
        for claim in [&four_billion[..], &two_to_40[..]] {
            let mut hostile = bytes[..i].to_vec();
            hostile.extend_from_slice(claim);
            hostile.extend_from_slice(&bytes[i..]);
            assert!(!try_restore(&hostile, &original));
        }
    }
}
