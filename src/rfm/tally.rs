//! Per model, the running recency / frequency / monetary of every profile, kept current as
//! events arrive and profiles merge, in dense columns by profile id so a run reads them in
//! one sequential pass.
#![deny(clippy::arithmetic_side_effects)]

use crate::event::computed::EventData;
use crate::event::store::{EventHistory, PropValue};
use crate::ids::ProfileId;
use crate::rfm::model::RfmRule;
use crate::time::Timestamp;

/// What one profile did, for one model, over all its events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Time of the last activity event (ms; `i64::MIN` when none).
    pub(crate) last_activity: i64,
    /// Weighted number of activity events.
    pub(crate) frequency: u64,
    /// Sum of amounts, refunds subtracted, in minor units.
    pub(crate) monetary: i64,
}

impl Tally {
    /// No events.
    pub(crate) const EMPTY: Tally = Tally {
        last_activity: i64::MIN,
        frequency: 0,
        monetary: 0,
    };

    /// Adds one event (amounts were bounded at ingest, so sums cannot overflow).
    fn add(&mut self, rule: &RfmRule, at: Timestamp, e: &impl EventData) {
        let role = rule.role(e.kind());
        if !role.matters() {
            return;
        }
        if role.weight > 0 {
            self.frequency = self.frequency.saturating_add(u64::from(role.weight));
            self.last_activity = self.last_activity.max(at.0);
        }
        if let Some(pos) = role.adds {
            self.monetary = self.monetary.saturating_add(amount(e, pos));
        }
        if let Some(pos) = role.subtracts {
            self.monetary = self.monetary.saturating_sub(amount(e, pos));
        }
    }

    fn absorb(&mut self, other: Tally) {
        self.last_activity = self.last_activity.max(other.last_activity);
        self.frequency = self.frequency.saturating_add(other.frequency);
        self.monetary = self.monetary.saturating_add(other.monetary);
    }

    /// Recomputed from a profile's history, counting events at or before `up_to` only.
    pub(crate) fn from_history(rule: &RfmRule, history: &EventHistory, up_to: Timestamp) -> Tally {
        let end = history.first_after(up_to);
        let mut t = Tally::EMPTY;
        for e in history.range(0..end) {
            t.add(rule, e.at(), &e);
        }
        t
    }
}

fn amount(e: &impl EventData, position: u16) -> i64 {
    match e.prop(position) {
        Some(PropValue::Money(m)) => m.minor,
        _ => 0,
    }
}

/// The absolute amounts `e` brings to `rule`'s monetary sum: the bound that keeps every
/// partial sum of a profile inside `i64`.
pub(crate) fn magnitude(
    rule: &RfmRule,
    kind: crate::ids::EventKindId,
    prop: impl Fn(u16) -> Option<i64>,
) -> u64 {
    let role = rule.role(kind);
    [role.adds, role.subtracts]
        .into_iter()
        .flatten()
        .filter_map(prop)
        .map(i64::unsigned_abs)
        .fold(0, u64::saturating_add)
}

/// The tallies of one model, by profile id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tallies {
    tallies: Vec<Tally>,
    /// Per profile: the time of its latest event that feeds the model (ms; `i64::MIN` when
    /// none). A run whose reference time is earlier must recompute it from its history.
    latest: Vec<i64>,
    /// The greatest of `latest`: a run at or after it reads every tally as it is.
    max_latest: i64,
    /// Per profile: the sum of absolute amounts read (the overflow bound).
    magnitudes: Vec<u64>,
}

impl Default for Tallies {
    fn default() -> Self {
        Tallies {
            tallies: Vec::new(),
            latest: Vec::new(),
            max_latest: i64::MIN,
            magnitudes: Vec::new(),
        }
    }
}

impl Tallies {
    /// The overflow bound of `p`.
    pub(crate) fn magnitude(&self, p: ProfileId) -> u64 {
        self.magnitudes.get(p.index()).copied().unwrap_or(0)
    }

    /// Every tally, by profile id (profiles past the end have none).
    pub(crate) fn all(&self) -> &[Tally] {
        &self.tallies
    }

    /// Whether some profile has an event after `t` that feeds the model.
    pub(crate) fn any_after(&self, t: Timestamp) -> bool {
        self.max_latest > t.0
    }

    /// The time of `p`'s latest event that feeds the model (ms; `i64::MIN` when none).
    pub(crate) fn latest(&self, p: ProfileId) -> i64 {
        self.latest.get(p.index()).copied().unwrap_or(i64::MIN)
    }

    /// Whether `p` has an event after `t` that feeds the model.
    pub(crate) fn has_after(&self, p: ProfileId, t: Timestamp) -> bool {
        self.latest.get(p.index()).is_some_and(|&l| l > t.0)
    }

    fn slot(&mut self, p: ProfileId) -> Option<Slot<'_>> {
        let i = p.index();
        if i >= self.tallies.len() {
            let len = i.saturating_add(1);
            self.tallies.resize(len, Tally::EMPTY);
            self.latest.resize(len, i64::MIN);
            self.magnitudes.resize(len, 0);
        }
        Some(Slot {
            tally: self.tallies.get_mut(i)?,
            latest: self.latest.get_mut(i)?,
            bound: self.magnitudes.get_mut(i)?,
        })
    }

    /// Adds events to `p`'s tally.
    pub(crate) fn add<'e, E: EventData + 'e>(
        &mut self,
        rule: &RfmRule,
        p: ProfileId,
        events: impl IntoIterator<Item = (Timestamp, &'e E)>,
    ) {
        let mut events = events
            .into_iter()
            .filter(|(_, e)| rule.role(e.kind()).matters())
            .peekable();
        if events.peek().is_none() {
            return;
        }
        let mut max_latest = self.max_latest;
        let Some(slot) = self.slot(p) else {
            return;
        };
        for (at, e) in events {
            slot.tally.add(rule, at, e);
            *slot.latest = (*slot.latest).max(at.0);
            max_latest = max_latest.max(at.0);
            *slot.bound =
                slot.bound
                    .saturating_add(magnitude(rule, e.kind(), |pos| match e.prop(pos) {
                        Some(PropValue::Money(m)) => Some(m.minor),
                        _ => None,
                    }));
        }
        self.max_latest = max_latest;
    }

    /// Empties `p`'s tally.
    pub(crate) fn clear(&mut self, p: ProfileId) {
        let i = p.index();
        if let Some(t) = self.tallies.get_mut(i) {
            *t = Tally::EMPTY;
        }
        if let Some(l) = self.latest.get_mut(i) {
            *l = i64::MIN;
        }
        if let Some(m) = self.magnitudes.get_mut(i) {
            *m = 0;
        }
    }

    /// Moves `retired`'s tally into `survivor`'s.
    pub(crate) fn merge(&mut self, survivor: ProfileId, retired: ProfileId) {
        let Some(taken) = self.slot(retired).map(|s| {
            let taken = (*s.tally, *s.latest, *s.bound);
            (*s.tally, *s.latest, *s.bound) = (Tally::EMPTY, i64::MIN, 0);
            taken
        }) else {
            return;
        };
        if taken.1 == i64::MIN {
            return;
        }
        if let Some(s) = self.slot(survivor) {
            s.tally.absorb(taken.0);
            *s.latest = (*s.latest).max(taken.1);
            *s.bound = s.bound.saturating_add(taken.2);
        }
    }

    /// Estimated heap bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        let tallies = self
            .tallies
            .capacity()
            .saturating_mul(std::mem::size_of::<Tally>());
        let columns = self
            .latest
            .capacity()
            .saturating_add(self.magnitudes.capacity())
            .saturating_mul(8);
        tallies.saturating_add(columns)
    }
}

/// One profile's entries in the columns of [`Tallies`].
struct Slot<'a> {
    tally: &'a mut Tally,
    latest: &'a mut i64,
    bound: &'a mut u64,
}
