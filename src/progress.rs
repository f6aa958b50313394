//! [`Progress`]: how far a long call has come, for a host's progress bar.
//!
//! The `*_with_progress` calls ([`crate::Engine::ingest_batch_with_progress`],
//! [`crate::Engine::restore_with_progress`], [`crate::Engine::score_rfm_with_progress`],
//! [`crate::Engine::change_schema_with_progress`]) take a callback that hears
//! `(done, total)` first at `done = 0`, then at most about a thousand times, and last at
//! `done = total`. The callback runs on the calling thread, inside the call; it cannot
//! stop the call.
#![deny(clippy::arithmetic_side_effects)]

use serde::{Deserialize, Serialize};

/// How many of a call's units of work are done, out of how many. The unit is the call's
/// own: records for ingestion, records then profiles for a restore, profiles for an RFM
/// run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Units done so far.
    pub done: u64,
    /// Units in all; never changes during a call.
    pub total: u64,
}

/// Reports to a callback at about a thousand even steps.
pub(crate) struct Ticker<'a> {
    report: &'a mut dyn FnMut(Progress),
    total: u64,
    step: u64,
    next: u64,
}

impl<'a> Ticker<'a> {
    /// A ticker for `total` units; reports `done = 0` at once.
    pub(crate) fn new(report: &'a mut dyn FnMut(Progress), total: u64) -> Self {
        report(Progress { done: 0, total });
        let step = total.div_ceil(1000).max(1);
        Ticker {
            report,
            total,
            step,
            next: step,
        }
    }

    /// Notes that `done` units are done, reporting when a step is passed.
    #[inline]
    pub(crate) fn tick(&mut self, done: u64) {
        if done >= self.next && done < self.total {
            (self.report)(Progress {
                done,
                total: self.total,
            });
            self.next = done.saturating_add(self.step);
        }
    }

    /// Reports `done = total`.
    pub(crate) fn finish(self) {
        (self.report)(Progress {
            done: self.total,
            total: self.total,
        });
    }
}

/// A callback that ignores every report.
pub(crate) fn ignore(_: Progress) {}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // Tests compute on small constants.
mod tests {
    use super::*;

    fn reports(total: u64) -> Vec<Progress> {
        let mut seen = Vec::new();
        let mut f = |p: Progress| seen.push(p);
        let mut t = Ticker::new(&mut f, total);
        for done in 1..=total {
            t.tick(done);
        }
        t.finish();
        seen
    }

    #[test]
    fn starts_at_zero_ends_at_total_and_only_grows() {
        for total in [0, 1, 7, 999, 1000, 1001, 123_457] {
            let seen = reports(total);
            assert_eq!(seen.first(), Some(&Progress { done: 0, total }));
            assert_eq!(seen.last(), Some(&Progress { done: total, total }));
            assert!(seen.windows(2).all(|w| w[0].done < w[1].done || total == 0));
            assert!(seen.len() <= 1002, "{total}: {} reports", seen.len());
        }
    }

    #[test]
    fn reports_about_a_thousand_steps_on_large_totals() {
        let seen = reports(1_000_000);
        assert_eq!(seen.len(), 1001);
        assert_eq!(seen.get(1).map(|p| p.done), Some(1000));
    }
}
