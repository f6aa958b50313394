//! Progress callbacks: each long call reports `(done, total)` from 0 to total, growing.

use audience::{Engine, EventInput, Progress, Record};

use crate::common::{rec, retail, t, usd};

/// Checks one call's reports: 0 first, total last, done only grows, total fixed.
fn assert_well_formed(seen: &[Progress], total: u64) {
    assert_eq!(seen.first(), Some(&Progress { done: 0, total }));
    assert_eq!(seen.last(), Some(&Progress { done: total, total }));
    assert!(seen.iter().all(|p| p.total == total && p.done <= total));
    assert!(seen.windows(2).all(|w| w[0].done <= w[1].done));
    assert!(seen.len() <= 1002, "{} reports", seen.len());
}

fn records(n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            rec(i as i64, "web")
                .identifier("user_id", format!("u{}", i % (n / 2).max(1)))
                .event(
                    EventInput::new("order_completed", t(i as i64))
                        .property("amount", usd(100 + i as i64)),
                )
                .build()
        })
        .collect()
}

#[test]
fn ingest_batch_reports_records_and_gives_the_same_reports() {
    let batch = records(3000);
    let mut plain = retail();
    let expected = plain.ingest_batch(&batch);
    assert!(expected.iter().all(Result::is_ok));
    let mut e = retail();
    let mut seen = Vec::new();
    let reports = e.ingest_batch_with_progress(&batch, &mut |p| seen.push(p));
    assert_eq!(reports, expected);
    assert_eq!(e.snapshot(), plain.snapshot());
    assert_well_formed(&seen, 3000);
    assert!(
        seen.len() > 100,
        "a report every few records: {}",
        seen.len()
    );
}

#[test]
fn an_empty_batch_still_reports_start_and_end() {
    let mut e = retail();
    let mut seen = Vec::new();
    assert!(
        e.ingest_batch_with_progress(&[], &mut |p| seen.push(p))
            .is_empty()
    );
    assert_eq!(seen, [Progress { done: 0, total: 0 }; 2]);
}

#[test]
fn restore_reports_records_then_two_units_per_profile_slot() {
    let mut e = retail();
    for r in e.ingest_batch(&records(2000)) {
        r.unwrap();
    }
    let snapshot = e.snapshot();
    let total = (snapshot.state.records.len() + 2 * snapshot.state.profiles.len()) as u64;
    let mut seen = Vec::new();
    let restored = Engine::restore_with_progress(snapshot.clone(), &mut |p| seen.push(p)).unwrap();
    assert_well_formed(&seen, total);
    assert_eq!(restored.snapshot(), snapshot);
}

#[test]
fn a_refused_restore_reports_nothing_past_what_it_did() {
    let mut snapshot = retail().snapshot();
    snapshot.checksum ^= 1;
    let mut seen = Vec::new();
    assert!(Engine::restore_with_progress(snapshot, &mut |p| seen.push(p)).is_err());
    assert!(seen.iter().all(|p| p.done < p.total || p.total == 0));
}

#[test]
fn score_rfm_reports_profiles_and_scores_the_same() {
    let batch = records(2000);
    let mut a = retail();
    let mut b = retail();
    assert!(a.ingest_batch(&batch).iter().all(Result::is_ok));
    assert!(b.ingest_batch(&batch).iter().all(Result::is_ok));
    let plain = a.score_rfm("classic", t(5000)).unwrap().clone();
    let mut seen = Vec::new();
    let run = b
        .score_rfm_with_progress("classic", t(5000), &mut |p| seen.push(p))
        .unwrap()
        .clone();
    assert_eq!(run, plain);
    assert_well_formed(&seen, seen.last().unwrap().total);
    assert!(seen.last().unwrap().total >= 1000);
}
