//! Consent: per profile, an append-only history of statements per (purpose, channel), and
//! the state read from it.
//!
//! The state of a (purpose, channel) is a pure function of the history:
//! - the latest entries decide: the statements for that channel or for every channel of
//!   the purpose, and the restrictions merges left (below), at the latest time any of them
//!   has;
//! - among those, a denial wins a tie; with no entry the purpose's default applies
//!   (`opt_in`: denied, `opt_out`: granted).
//!
//! A merge of a profile whose state grants with one whose state denies leaves a
//! *restriction*: denied as of the time of the record that caused the merge, so the more
//! restrictive state stands until a statement made after the merge says otherwise. The
//! merging record's own statements count as made after it (they are the person's latest
//! word); another statement at the very same time is a tie, which a denial wins.

use serde::{Deserialize, Serialize};

use crate::ids::{ChannelId, PurposeId, RecordId, SourceId};
use crate::privacy::suppression::SuppressionEntry;
use crate::time::Timestamp;

/// One consent statement, as kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Statement {
    pub(crate) at: Timestamp,
    pub(crate) record: RecordId,
    pub(crate) source: SourceId,
    pub(crate) purpose: PurposeId,
    /// `None`: every channel of the purpose.
    pub(crate) channel: Option<ChannelId>,
    pub(crate) granted: bool,
    pub(crate) proof: Option<Box<str>>,
}

impl Statement {
    fn covers(&self, purpose: PurposeId, channel: ChannelId) -> bool {
        self.purpose == purpose && self.channel.is_none_or(|c| c == channel)
    }
}

/// A merge of a granting and a denying profile: denied as of the merging record's time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Restriction {
    pub(crate) at: Timestamp,
    pub(crate) record: RecordId,
    pub(crate) purpose: PurposeId,
    pub(crate) channel: ChannelId,
}

/// What decided a consent state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Basis {
    /// No statement: the purpose's default.
    Default,
    /// The statement at this position of the history.
    Statement(usize),
    /// The restriction at this position.
    Restriction(usize),
}

/// A profile's consent history, restrictions and whole-profile suppressions: everything
/// privacy-related it holds. Boxed on the profile, absent for most.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Privacy {
    /// Sorted by (time, record), in arrival order within a record.
    pub(crate) statements: Vec<Statement>,
    /// Sorted by (time, record).
    pub(crate) restrictions: Vec<Restriction>,
    /// Whole-profile suppressions, sorted by (channel, time, reason).
    pub(crate) suppressions: Vec<SuppressionEntry>,
}

impl Privacy {
    /// Whether it holds nothing (and can be dropped).
    pub(crate) fn is_empty(&self) -> bool {
        self.statements.is_empty() && self.restrictions.is_empty() && self.suppressions.is_empty()
    }

    /// Makes room for exactly `n` more statements (a record's), so the history is not
    /// left with the spare room of a doubling.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.statements.reserve_exact(n);
    }

    /// Adds a statement, keeping the order.
    pub(crate) fn add(&mut self, statement: Statement) {
        let key = (statement.at, statement.record);
        let at = self.statements.partition_point(|s| (s.at, s.record) <= key);
        self.statements.insert(at, statement);
    }

    /// The state of `(purpose, channel)` with `default` when nothing was said, and what
    /// decided it.
    pub(crate) fn state(
        &self,
        purpose: PurposeId,
        channel: ChannelId,
        default: bool,
    ) -> (bool, Basis) {
        let statements = || {
            self.statements
                .iter()
                .enumerate()
                .filter(move |(_, s)| s.covers(purpose, channel))
        };
        let restrictions = || {
            self.restrictions
                .iter()
                .enumerate()
                .filter(move |(_, r)| r.purpose == purpose && r.channel == channel)
        };
        let latest = statements()
            .map(|(_, s)| s.at)
            .chain(restrictions().map(|(_, r)| r.at))
            .max();
        let Some(latest) = latest else {
            return (default, Basis::Default);
        };
        if let Some((i, _)) = statements().find(|(_, s)| s.at == latest && !s.granted) {
            return (false, Basis::Statement(i));
        }
        let lifted =
            |r: &Restriction| statements().any(|(_, s)| s.at == latest && s.record == r.record);
        if let Some((i, _)) = restrictions().find(|(_, r)| r.at == latest && !lifted(r)) {
            return (false, Basis::Restriction(i));
        }
        match statements().find(|(_, s)| s.at == latest) {
            Some((i, _)) => (true, Basis::Statement(i)),
            None => (default, Basis::Default),
        }
    }

    /// Takes everything `other` holds: histories joined in order, suppressions kept.
    pub(crate) fn absorb(&mut self, other: Privacy) {
        for s in other.statements {
            self.add(s);
        }
        for r in other.restrictions {
            let key = (r.at, r.record);
            let at = self
                .restrictions
                .partition_point(|x| (x.at, x.record) <= key);
            self.restrictions.insert(at, r);
        }
        self.suppressions.extend(other.suppressions);
        crate::privacy::suppression::sort(&mut self.suppressions);
    }
}

/// The consent state of one (purpose, channel) of a profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentState {
    /// The purpose.
    pub purpose: String,
    /// The channel.
    pub channel: String,
    /// Whether the profile may be used for the purpose on the channel.
    pub granted: bool,
    /// What decided it.
    pub basis: ConsentBasis,
}

/// What decided a [`ConsentState`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConsentBasis {
    /// No statement was made: the purpose's default.
    Default,
    /// The latest statement.
    Statement {
        /// The record that carried it.
        record: RecordId,
        /// Its time.
        at: Timestamp,
    },
    /// A merge with a profile in the other state: the denial stands until a later
    /// statement.
    Merge {
        /// The record that caused the merge.
        record: RecordId,
        /// Its time.
        at: Timestamp,
    },
}

/// One statement of a profile's consent history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentStatementView {
    /// The purpose.
    pub purpose: String,
    /// The channel (`None`: every channel of the purpose).
    pub channel: Option<String>,
    /// Granted or denied.
    pub granted: bool,
    /// When it was made (the record's time).
    pub at: Timestamp,
    /// The source of the record.
    pub source: String,
    /// The record that carried it.
    pub record: RecordId,
    /// Proof, verbatim.
    pub proof: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(at: i64, record: u64, channel: Option<u16>, granted: bool) -> Statement {
        Statement {
            at: Timestamp(at),
            record: RecordId(record),
            source: SourceId(0),
            purpose: PurposeId(0),
            channel: channel.map(ChannelId),
            granted,
            proof: None,
        }
    }

    fn state(p: &Privacy, channel: u16, default: bool) -> bool {
        p.state(PurposeId(0), ChannelId(channel), default).0
    }

    #[test]
    fn the_latest_statement_decides_and_a_denial_wins_a_tie() {
        let mut p = Privacy::default();
        assert!(!state(&p, 0, false), "opt-in default");
        assert!(state(&p, 0, true), "opt-out default");
        p.add(st(10, 1, Some(0), true));
        assert!(state(&p, 0, false));
        assert!(!state(&p, 1, false), "another channel is untouched");
        p.add(st(5, 2, None, false));
        assert!(
            state(&p, 0, false),
            "an older denial on every channel does not override"
        );
        assert!(!state(&p, 1, false));
        p.add(st(10, 3, None, false));
        assert!(!state(&p, 0, false), "a tie goes to the denial");
    }

    #[test]
    fn a_restriction_stands_until_a_later_statement_or_the_merging_records_own() {
        let mut p = Privacy::default();
        p.add(st(10, 1, Some(0), true));
        p.restrictions.push(Restriction {
            at: Timestamp(20),
            record: RecordId(5),
            purpose: PurposeId(0),
            channel: ChannelId(0),
        });
        assert!(!state(&p, 0, false));
        let mut own = p.clone();
        own.add(st(20, 5, Some(0), true));
        assert!(state(&own, 0, false), "the merging record's grant lifts it");
        let mut tie = p.clone();
        tie.add(st(20, 6, Some(0), true));
        assert!(
            !state(&tie, 0, false),
            "another record at the same time ties"
        );
        p.add(st(21, 7, None, true));
        assert!(state(&p, 0, false), "a later grant lifts it");
    }
}
