//! Computed traits, kept current event by event: an accumulator per (profile, computed
//! trait) that events enter (arrival, or the clock passing them) and leave (the window's
//! far edge passing them). What cannot be undone cheaply (a minimum, a first value) is
//! recomputed from the profile's events in the window, which are sorted by time.
#![deny(clippy::arithmetic_side_effects)]

use smallvec::SmallVec;

use crate::event::store::{EventHistory, EventKey, EventRef, NewEvent, PropValue};
use crate::event::text::{TextId, TextPool};
use crate::ids::EventKindId;
use crate::money::Money;
use crate::record::Value;
use crate::schema::{ComputedRule, Op, PropertyType, Term};
use crate::time::{MILLIS_PER_DAY, Timestamp, Window};
use crate::zone::Zone;

/// What an event reads: its kind, or one of its property values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Piece {
    Kind(EventKindId),
    Prop(PropValue),
}

impl Piece {
    /// The value as 64 bits; one computed trait reads one type (and money in one
    /// currency), so the bits identify the value.
    pub(crate) fn bits(self) -> i64 {
        match self {
            Piece::Kind(k) => i64::from(k.0),
            Piece::Prop(PropValue::Text(t)) => i64::from(t.0),
            Piece::Prop(PropValue::Integer(n)) => n,
            Piece::Prop(PropValue::Money(m)) => m.minor,
            Piece::Prop(PropValue::Boolean(b)) => i64::from(b),
        }
    }

    /// The value of `bits` read by `rule`.
    pub(crate) fn from_bits(rule: &ComputedRule, bits: i64) -> Piece {
        match (rule.field_type, rule.currency) {
            (Some(PropertyType::Text), _) => {
                Piece::Prop(PropValue::Text(TextId(u32::try_from(bits).unwrap_or(0))))
            }
            (Some(PropertyType::Integer), _) => Piece::Prop(PropValue::Integer(bits)),
            (Some(PropertyType::Money), Some(c)) => {
                Piece::Prop(PropValue::Money(Money::new(bits, c)))
            }
            (Some(PropertyType::Boolean), _) => Piece::Prop(PropValue::Boolean(bits != 0)),
            _ => Piece::Kind(EventKindId(u16::try_from(bits).unwrap_or(0))),
        }
    }
}

/// How many events in the window carry one value, for favourites and distinct counts.
/// Packed to 12 bytes (a profile holds a few per tallying trait); fields are read by
/// value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, packed(4))]
pub(crate) struct Tally {
    pub(crate) bits: i64,
    pub(crate) count: u32,
}

/// The state of one computed trait of one profile, over the events in its window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Acc {
    Count(u64),
    /// `magnitude` bounds every partial sum: the absolute amounts of *all* the profile's
    /// events that feed the sum, in or out of the window.
    Sum {
        total: i64,
        count: u32,
        magnitude: u64,
    },
    Extreme(Option<i64>),
    /// The chosen event (first or last); its value is read back from the history.
    Pick(Option<EventKey>),
    Tally(Vec<Tally>),
    Habit([u32; 4]),
}

/// Anything that looks like an event.
pub(crate) trait EventData {
    fn key(&self) -> EventKey;
    fn kind(&self) -> EventKindId;
    fn prop(&self, position: u16) -> Option<PropValue>;
}

impl EventData for EventRef<'_> {
    fn key(&self) -> EventKey {
        EventRef::key(self)
    }
    fn kind(&self) -> EventKindId {
        EventRef::kind(self)
    }
    fn prop(&self, position: u16) -> Option<PropValue> {
        EventRef::prop(self, position)
    }
}

impl EventData for NewEvent {
    fn key(&self) -> EventKey {
        (self.at, self.record, self.seq)
    }
    fn kind(&self) -> EventKindId {
        self.kind
    }
    fn prop(&self, position: u16) -> Option<PropValue> {
        self.props
            .iter()
            .find(|(p, _)| *p == position)
            .map(|(_, v)| *v)
    }
}

/// What one event gives one computed trait.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Contribution {
    pub(crate) key: EventKey,
    pub(crate) piece: Piece,
    pub(crate) amount: i64,
}

fn holds(term: &Term, e: &impl EventData, texts: &TextPool) -> bool {
    term.conditions
        .iter()
        .all(|(pos, values)| match e.prop(*pos) {
            None => false,
            Some(v) => values.iter().any(|want| matches_value(v, want, texts)),
        })
}

fn matches_value(v: PropValue, want: &Value, texts: &TextPool) -> bool {
    match (v, want) {
        (PropValue::Text(t), Value::Text(s)) => texts.get(t) == s,
        (PropValue::Integer(a), Value::Integer(b)) => a == *b,
        (PropValue::Money(a), Value::Money(b)) => a == *b,
        (PropValue::Boolean(a), Value::Boolean(b)) => a == *b,
        _ => false,
    }
}

fn amount(piece: Piece) -> i64 {
    match piece {
        Piece::Prop(PropValue::Integer(n)) => n,
        Piece::Prop(PropValue::Money(m)) => m.minor,
        _ => 0,
    }
}

pub(crate) fn contributions(
    rule: &ComputedRule,
    e: &impl EventData,
    texts: &TextPool,
) -> SmallVec<[Contribution; 1]> {
    let mut out = SmallVec::new();
    each_contribution(rule, e, texts, |c| out.push(c));
    out
}

/// Whether `e` contributes to `rule` at all (`!contributions(..).is_empty()`, without
/// collecting them).
pub(crate) fn contributes(rule: &ComputedRule, e: &impl EventData, texts: &TextPool) -> bool {
    let mut any = false;
    each_contribution(rule, e, texts, |_| any = true);
    any
}

/// Calls `f` with each contribution of `e` to `rule`, in term order (what
/// [`contributions`] collects, without a buffer: the hot path of ingest).
fn each_contribution(
    rule: &ComputedRule,
    e: &impl EventData,
    texts: &TextPool,
    mut f: impl FnMut(Contribution),
) {
    for term in rule.terms(e.kind()) {
        if !holds(term, e, texts) {
            continue;
        }
        let piece = match term.property {
            None => Piece::Kind(e.kind()),
            Some(pos) => match e.prop(pos) {
                Some(v) => Piece::Prop(v),
                None => continue,
            },
        };
        let n = amount(piece);
        f(Contribution {
            key: e.key(),
            piece,
            // The magnitude bound keeps every amount above i64::MIN.
            amount: if term.negate { n.saturating_neg() } else { n },
        });
    }
}

/// The absolute amounts `e` carries for `rule`'s sum, conditions aside: the bound that
/// keeps every sum of a profile inside `i64`.
pub(crate) fn magnitude(
    rule: &ComputedRule,
    kind: EventKindId,
    prop: impl Fn(u16) -> Option<i64>,
) -> u64 {
    if !matches!(rule.op, Op::Sum | Op::Average) {
        return 0;
    }
    rule.terms(kind)
        .iter()
        .filter_map(|t| t.property.and_then(&prop))
        .map(i64::unsigned_abs)
        .fold(0u64, u64::saturating_add)
}

fn part_of_day(zone: Zone, at: Timestamp) -> usize {
    (zone.hour(at) / 6) as usize
}

impl Acc {
    pub(crate) fn empty(rule: &ComputedRule) -> Acc {
        match rule.op {
            Op::Count => Acc::Count(0),
            Op::Sum | Op::Average => Acc::Sum {
                total: 0,
                count: 0,
                magnitude: 0,
            },
            Op::Min | Op::Max => Acc::Extreme(None),
            Op::FirstValue | Op::LastValue | Op::FirstTime | Op::LastTime | Op::DaysSince => {
                Acc::Pick(None)
            }
            Op::MostFrequent | Op::DistinctCount => Acc::Tally(Vec::new()),
            Op::Habit => Acc::Habit([0; 4]),
        }
    }

    fn add(&mut self, op: Op, zone: Zone, c: &Contribution) {
        match self {
            Acc::Count(n) => *n = n.saturating_add(1),
            Acc::Sum { total, count, .. } => {
                *total = total.saturating_add(c.amount);
                *count = count.saturating_add(1);
            }
            Acc::Extreme(best) => {
                let better = match best {
                    None => true,
                    Some(b) if op == Op::Min => c.amount < *b,
                    Some(b) => c.amount > *b,
                };
                if better {
                    *best = Some(c.amount);
                }
            }
            Acc::Pick(best) => {
                let first = matches!(op, Op::FirstValue | Op::FirstTime);
                let better = best.is_none_or(|b| if first { c.key < b } else { c.key > b });
                if better {
                    *best = Some(c.key);
                }
            }
            Acc::Tally(entries) => {
                let bits = c.piece.bits();
                match entries.binary_search_by(|t| { t.bits }.cmp(&bits)) {
                    Ok(i) => {
                        if let Some(t) = entries.get_mut(i) {
                            t.count = t.count.saturating_add(1);
                        }
                    }
                    // Grows by doubling; [`Acc::trim`] gives the spare room back once a
                    // record's events are in.
                    Err(i) => entries.insert(i, Tally { bits, count: 1 }),
                }
            }
            Acc::Habit(parts) => {
                if let Some(n) = parts.get_mut(part_of_day(zone, c.key.0)) {
                    *n = n.saturating_add(1);
                }
            }
        }
    }

    /// Takes a contribution out; `false` when the state must be recomputed instead.
    fn remove(&mut self, zone: Zone, c: &Contribution) -> bool {
        match self {
            Acc::Count(n) => *n = n.saturating_sub(1),
            Acc::Sum { total, count, .. } => {
                *total = total.saturating_sub(c.amount);
                *count = count.saturating_sub(1);
            }
            Acc::Extreme(best) => return *best != Some(c.amount),
            Acc::Pick(best) => return *best != Some(c.key),
            Acc::Tally(entries) => {
                let bits = c.piece.bits();
                let Ok(i) = entries.binary_search_by(|t| { t.bits }.cmp(&bits)) else {
                    return false;
                };
                let Some(t) = entries.get_mut(i) else {
                    return false;
                };
                t.count = t.count.saturating_sub(1);
                if t.count == 0 {
                    entries.remove(i);
                    entries.shrink_to_fit();
                }
            }
            Acc::Habit(parts) => {
                if let Some(n) = parts.get_mut(part_of_day(zone, c.key.0)) {
                    *n = n.saturating_sub(1);
                }
            }
        }
        true
    }

    /// Gives back the spare room of a growing tally (the state stays exactly sized).
    pub(crate) fn trim(&mut self) {
        if let Acc::Tally(entries) = self {
            entries.shrink_to_fit();
        }
    }

    fn add_magnitude(&mut self, m: u64) {
        if let Acc::Sum { magnitude, .. } = self {
            *magnitude = magnitude.saturating_add(m);
        }
    }

    /// Heap bytes held beyond the value itself.
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Acc::Tally(entries) => entries
                .capacity()
                .saturating_mul(std::mem::size_of::<Tally>()),
            _ => 0,
        }
    }

    /// The sum bound (0 for other computations).
    pub(crate) fn magnitude(&self) -> u64 {
        match self {
            Acc::Sum { magnitude, .. } => *magnitude,
            _ => 0,
        }
    }
}

fn event_magnitude(rule: &ComputedRule, e: &impl EventData) -> u64 {
    magnitude(rule, e.kind(), |pos| {
        e.prop(pos).map(|v| amount(Piece::Prop(v)))
    })
}

/// The index range of the events in `window` at `now`.
pub(crate) fn window_range(
    h: &EventHistory,
    window: Window,
    now: Timestamp,
) -> std::ops::Range<usize> {
    let end = h.first_after(now);
    match window {
        Window::Between { from, to } => h.first_at_or_after(from)..end.min(h.first_at_or_after(to)),
        _ => window.start(now).map_or(0, |s| h.first_at_or_after(s))..end,
    }
}

/// The state of `rule` over `h` at `now` (`None`: clock unset, nothing counts), from
/// scratch: the batch definition the incremental updates must always equal.
pub(crate) fn recompute(
    rule: &ComputedRule,
    h: &EventHistory,
    now: Option<Timestamp>,
    texts: &TextPool,
    zone: Zone,
) -> Acc {
    let mut acc = Acc::empty(rule);
    if matches!(rule.op, Op::Sum | Op::Average) {
        acc.add_magnitude(
            h.iter()
                .map(|e| event_magnitude(rule, &e))
                .fold(0, u64::saturating_add),
        );
    }
    if let Some(now) = now {
        for e in h.range(window_range(h, rule.window, now)) {
            each_contribution(rule, &e, texts, |c| acc.add(rule.op, zone, &c));
        }
    }
    acc.trim();
    acc
}

/// Adds a newly stored event.
pub(crate) fn add_event(
    rule: &ComputedRule,
    acc: &mut Acc,
    e: &NewEvent,
    now: Option<Timestamp>,
    texts: &TextPool,
    zone: Zone,
) {
    if rule.terms(e.kind).is_empty() {
        return;
    }
    acc.add_magnitude(event_magnitude(rule, e));
    if now.is_some_and(|now| rule.window.contains(e.at, now)) {
        each_contribution(rule, e, texts, |c| acc.add(rule.op, zone, &c));
    }
}

/// Moves `acc` from clock `old` to clock `new`: events leave and enter the window.
pub(crate) fn advance(
    rule: &ComputedRule,
    acc: &mut Acc,
    h: &EventHistory,
    old: Timestamp,
    new: Timestamp,
    texts: &TextPool,
    zone: Zone,
) {
    if let Window::LastDays(_) = rule.window {
        let (Some(s_old), Some(s_new)) = (rule.window.start(old), rule.window.start(new)) else {
            return;
        };
        let leaving =
            h.first_at_or_after(s_old)..h.first_at_or_after(s_new).min(h.first_after(old));
        for e in h.range(leaving) {
            for c in contributions(rule, &e, texts) {
                if !acc.remove(zone, &c) {
                    *acc = recompute(rule, h, Some(new), texts, zone);
                    return;
                }
            }
        }
    }
    for e in h.range(h.first_after(old)..h.first_after(new)) {
        if rule.window.contains(e.at(), new) {
            for c in contributions(rule, &e, texts) {
                acc.add(rule.op, zone, &c);
            }
        }
    }
    acc.trim();
}

/// The next instant after `now` at which some state of `rules` over `h` can change
/// (an event entering or leaving a window), or `None`.
pub(crate) fn next_change(
    rules: &[ComputedRule],
    h: &EventHistory,
    now: Option<Timestamp>,
    texts: &TextPool,
) -> Option<Timestamp> {
    let Some(now) = now else {
        return h.get(0).map(|e| e.at());
    };
    // The first future event any rule reads.
    let mut due = h
        .range(h.first_after(now)..h.len())
        .find(|e| rules.iter().any(|r| contributes(r, e, texts)))
        .map(|e| e.at());
    for rule in rules {
        let Window::LastDays(days) = rule.window else {
            continue;
        };
        let oldest = h
            .range(window_range(h, rule.window, now))
            .find(|e| contributes(rule, e, texts));
        if let Some(e) = oldest {
            let span = i64::from(days).saturating_mul(MILLIS_PER_DAY);
            if let Ok(leaves) = e.at().checked_add_millis(span) {
                due = Some(due.map_or(leaves, |d| d.min(leaves)));
            }
        }
    }
    due
}
