//! The repair invariant: blocking a value retroactively gives exactly the profiles,
//! traits, computed values, segment memberships and RFM inputs of an engine that had the
//! value blocked from the start and was fed the same records (modulo id numbering); and a
//! dry run always says what ingest then does.

use audience::{Engine, RepairError};
use proptest::prelude::*;

use crate::erasure_props::{canonical, feed, reads_rfm, setup};
use crate::segments_props::{expr, person, record_of};

fn value() -> impl Strategy<Value = (&'static str, String)> {
    prop_oneof![
        (0u8..12).prop_map(|u| ("user_id", format!("u{u}"))),
        (0u8..6).prop_map(|a| ("anonymous_id", format!("a{a}"))),
        (0u8..5).prop_map(|n| ("email", format!("e{n}@example.com"))),
    ]
}

/// Each live profile's RFM values, in canonical profile order.
fn rfm_inputs(e: &mut Engine) -> Vec<(i64, i64, i64)> {
    let now = e.now().unwrap();
    e.score_rfm("classic", now).unwrap();
    let mut out: Vec<(u64, (i64, i64, i64))> = e
        .profile_ids()
        .filter_map(|p| {
            let first = e.profile(p).unwrap().records[0].0;
            let s = e.rfm_score("classic", p).unwrap()?;
            Some((first, (s.recency_days, s.frequency, s.monetary_minor)))
        })
        .collect();
    out.sort_unstable();
    out.into_iter().map(|(_, v)| v).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::common::cases()))]

    #[test]
    fn blocking_retroactively_equals_blocking_from_the_start(
        people in prop::collection::vec(person(), 1..30),
        extra in prop::collection::vec(expr(), 0..3),
        (kind, value) in value(),
    ) {
        let people: Vec<(usize, _)> = people.into_iter().enumerate().collect();
        let mut late = setup(&extra);
        feed(&mut late, &people);
        match late.block_identifier_value(kind, &value) {
            Ok(report) => prop_assert!(report.refused.is_empty() || !report.after.is_empty() || report.before.is_empty()),
            Err(RepairError::Orphans { .. }) => return Ok(()),
            Err(other) => return Err(TestCaseError::fail(other.to_string())),
        }
        late.internal_validate().map_err(TestCaseError::fail)?;
        let mut early = setup(&extra);
        early.block_identifier_value(kind, &value).unwrap();
        feed(&mut early, &people);
        early.internal_validate().map_err(TestCaseError::fail)?;
        prop_assert_eq!(canonical(&late.snapshot().state), canonical(&early.snapshot().state));
        for (id, name) in late.segments().collect::<Vec<_>>() {
            if reads_rfm(late.segment_expr(id).unwrap()) {
                continue;
            }
            let other = early.segment_id(name).unwrap();
            prop_assert_eq!(late.segment_count(id).unwrap(), early.segment_count(other).unwrap(), "{}", name);
        }
        prop_assert_eq!(rfm_inputs(&mut late), rfm_inputs(&mut early));
    }

    #[test]
    fn a_dry_run_says_what_ingest_does(people in prop::collection::vec(person(), 1..30)) {
        let mut e = setup(&[]);
        for (i, p) in people.iter().enumerate() {
            let r = record_of(i, p);
            let before = e.clone();
            let preview = e.preview(&r);
            prop_assert_eq!(&e, &before, "a dry run changed the engine");
            match (preview, e.ingest(&r)) {
                (Ok(preview), Ok(mut real)) => {
                    real.record = None;
                    prop_assert_eq!(preview, real);
                }
                (Err(a), Err(b)) => prop_assert_eq!(a, b),
                (a, b) => return Err(TestCaseError::fail(format!("preview {a:?}, ingest {b:?}"))),
            }
        }
    }
}
