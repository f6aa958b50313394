//! The events of one profile, sorted by (time, record, position in the record): a late
//! record is inserted in place, and a merge joins two histories without loss or repeat.
//!
//! Storage is compact: a 24-byte row per event and a 16-byte slot per property, kept in a
//! per-profile arena (an event's slots are contiguous, the last one flagged).

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::event::text::{TextId, TextPool};
use crate::ids::{EventKindId, RecordId};
use crate::money::{Currency, Money};
use crate::record::Value;
use crate::schema::Schema;
use crate::time::Timestamp;

/// Record ids are stored in 48 bits: the log refuses records beyond this many.
pub(crate) const MAX_RECORDS: u64 = 1 << 48;

/// A stored property value; texts are interned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum PropValue {
    Text(TextId),
    Integer(i64),
    Money(Money),
    Boolean(bool),
}

/// The sort key of an event in its profile's history.
pub(crate) type EventKey = (Timestamp, RecordId, u32);

/// An event about to be stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NewEvent {
    pub(crate) at: Timestamp,
    pub(crate) record: RecordId,
    /// Position among the record's events.
    pub(crate) seq: u32,
    pub(crate) kind: EventKindId,
    /// (property position in the kind's definition, value), by position.
    pub(crate) props: SmallVec<[(u16, PropValue); 2]>,
}

/// `rows.partition_point(before)`, searched from the end: steps of 1, 2, 4, … back until
/// a row is `before`, then a binary search within the last step. Queries ask about recent
/// times (the clock, trailing windows), so this reads the last cache lines of a history
/// rather than scattered ones, and costs O(log d) for an answer d rows from the end.
fn gallop_from_end<T>(rows: &[T], before: impl Fn(&T) -> bool) -> usize {
    let n = rows.len();
    let mut step = 1usize;
    let mut hi = n; // every row at or after `hi` is not `before`
    loop {
        let probe = n.saturating_sub(step);
        match rows.get(probe) {
            Some(r) if !before(r) => {
                hi = probe;
                if probe == 0 {
                    return 0;
                }
                step = step.saturating_mul(2);
            }
            Some(_) => {
                let lo = probe + 1;
                return lo + rows.get(lo..hi).map_or(0, |s| s.partition_point(&before));
            }
            None => return 0,
        }
    }
}

/// One stored event: 24 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Row {
    at: i64,
    record_low: u32,
    record_high: u16,
    kind: u16,
    seq: u32,
    /// First property slot, or `NO_PROPS`.
    props: u32,
}

const NO_PROPS: u32 = u32::MAX;

/// One stored property: 16 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    bits: i64,
    currency: [u8; 4],
    position: u16,
    tag: u8,
    /// Whether this is the event's last property.
    last: bool,
}

const TAG_TEXT: u8 = 0;
const TAG_INTEGER: u8 = 1;
const TAG_MONEY: u8 = 2;
const TAG_BOOLEAN: u8 = 3;

impl Slot {
    fn new(position: u16, value: PropValue, last: bool) -> Slot {
        let (bits, currency, tag) = match value {
            PropValue::Text(t) => (i64::from(t.0), [0; 4], TAG_TEXT),
            PropValue::Integer(n) => (n, [0; 4], TAG_INTEGER),
            PropValue::Money(m) => (m.minor, m.currency.to_bits(), TAG_MONEY),
            PropValue::Boolean(b) => (i64::from(b), [0; 4], TAG_BOOLEAN),
        };
        Slot {
            bits,
            currency,
            position,
            tag,
            last,
        }
    }

    fn value(&self) -> PropValue {
        match self.tag {
            TAG_TEXT => PropValue::Text(TextId(u32::try_from(self.bits).unwrap_or(0))),
            TAG_INTEGER => PropValue::Integer(self.bits),
            TAG_MONEY => {
                PropValue::Money(Money::new(self.bits, Currency::from_bits(self.currency)))
            }
            _ => PropValue::Boolean(self.bits != 0),
        }
    }
}

/// One event of a history, borrowed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EventRef<'a> {
    row: &'a Row,
    slots: &'a [Slot],
}

impl<'a> EventRef<'a> {
    pub(crate) fn at(&self) -> Timestamp {
        Timestamp(self.row.at)
    }

    pub(crate) fn record(&self) -> RecordId {
        RecordId(u64::from(self.row.record_low) | (u64::from(self.row.record_high) << 32))
    }

    pub(crate) fn kind(&self) -> EventKindId {
        EventKindId(self.row.kind)
    }

    pub(crate) fn key(&self) -> EventKey {
        (self.at(), self.record(), self.row.seq)
    }

    /// The event's properties, by position.
    pub(crate) fn props(&self) -> impl Iterator<Item = (u16, PropValue)> + 'a {
        let start = if self.row.props == NO_PROPS {
            self.slots.len()
        } else {
            self.row.props as usize
        };
        let slots = self.slots.get(start..).unwrap_or_default();
        let end = slots.iter().position(|s| s.last).map_or(0, |i| i + 1);
        slots
            .get(..end)
            .unwrap_or_default()
            .iter()
            .map(|s| (s.position, s.value()))
    }

    /// The value of the property at `position`.
    pub(crate) fn prop(&self, position: u16) -> Option<PropValue> {
        self.props().find(|(p, _)| *p == position).map(|(_, v)| v)
    }
}

/// A profile's events in time order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct EventHistory {
    rows: Vec<Row>,
    slots: Vec<Slot>,
}

impl EventHistory {
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub(crate) fn get(&self, i: usize) -> Option<EventRef<'_>> {
        self.rows.get(i).map(|row| EventRef {
            row,
            slots: &self.slots,
        })
    }

    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = EventRef<'_>> + '_ {
        self.rows.iter().map(|row| EventRef {
            row,
            slots: &self.slots,
        })
    }

    /// Events at index `range`.
    pub(crate) fn range(
        &self,
        range: std::ops::Range<usize>,
    ) -> impl DoubleEndedIterator<Item = EventRef<'_>> + '_ {
        self.rows
            .get(range)
            .unwrap_or_default()
            .iter()
            .map(|row| EventRef {
                row,
                slots: &self.slots,
            })
    }

    /// Reads the newest event's row and property slot, so that a caller about to read
    /// many histories can start their memory reads together (see
    /// `Engine::advance_materialized`); the value means nothing.
    pub(crate) fn warm(&self) -> i64 {
        let row = self.rows.last().map_or(0, |r| r.at);
        let slot = self.slots.last().map_or(0, |s| s.bits);
        row ^ slot
    }

    /// The index of the first event at or after `t`.
    pub(crate) fn first_at_or_after(&self, t: Timestamp) -> usize {
        gallop_from_end(&self.rows, |r| r.at < t.0)
    }

    /// The index of the first event after `t`.
    pub(crate) fn first_after(&self, t: Timestamp) -> usize {
        gallop_from_end(&self.rows, |r| r.at <= t.0)
    }

    fn row(&mut self, e: &NewEvent) -> Row {
        let props = if e.props.is_empty() {
            NO_PROPS
        } else {
            u32::try_from(self.slots.len()).unwrap_or(NO_PROPS)
        };
        let n = e.props.len();
        for (i, &(position, value)) in e.props.iter().enumerate() {
            self.slots.push(Slot::new(position, value, i + 1 == n));
        }
        Row {
            at: e.at.0,
            record_low: (e.record.0 & u64::from(u32::MAX)) as u32,
            record_high: ((e.record.0 >> 32) & 0xFFFF) as u16,
            kind: e.kind.0,
            seq: e.seq,
            props,
        }
    }

    /// Adds a record's events, keeping time order (appending when they are the newest).
    pub(crate) fn insert(&mut self, events: &mut [NewEvent]) {
        if !events.is_sorted_by_key(|e| (e.at, e.record, e.seq)) {
            events.sort_unstable_by_key(|e| (e.at, e.record, e.seq));
        }
        let slots: usize = events.iter().map(|e| e.props.len()).sum();
        self.slots.reserve_exact(slots);
        self.rows.reserve_exact(events.len());
        let newest = self.iter().next_back().map(|e| e.key());
        let in_order = events
            .first()
            .is_none_or(|e| newest.is_none_or(|k| k < (e.at, e.record, e.seq)));
        if in_order {
            for e in events.iter() {
                let row = self.row(e);
                self.rows.push(row);
            }
            return;
        }
        for e in events.iter() {
            let row = self.row(e);
            let key = (e.at, e.record, e.seq);
            let i = self.rows.partition_point(|r| row_key(r) < key);
            self.rows.insert(i, row);
        }
    }

    /// Joins another history into this one.
    pub(crate) fn merge(&mut self, other: EventHistory) {
        if other.rows.is_empty() {
            return;
        }
        let offset = u32::try_from(self.slots.len()).unwrap_or(NO_PROPS);
        self.slots.extend(other.slots);
        let shifted = other.rows.into_iter().map(|mut r| {
            if r.props != NO_PROPS {
                r.props = r.props.saturating_add(offset);
            }
            r
        });
        let mut merged = Vec::with_capacity(self.rows.len() + shifted.len());
        let mut a = std::mem::take(&mut self.rows).into_iter().peekable();
        let mut b = shifted.peekable();
        loop {
            let take_a = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => row_key(x) <= row_key(y),
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let next = if take_a { a.next() } else { b.next() };
            merged.extend(next);
        }
        self.rows = merged;
    }

    /// Removes every event `gone` picks and returns the removed ones as (kind, record,
    /// texts their properties held). Rows are compacted in place; property slots are
    /// rewritten only once dead ones outnumber live ones, so memory stays within twice
    /// what is held while a removal of a few events allocates nothing.
    pub(crate) fn remove_where(
        &mut self,
        mut gone: impl FnMut(EventRef<'_>) -> bool,
    ) -> Vec<(EventKindId, RecordId, SmallVec<[TextId; 2]>)> {
        let mut removed = Vec::new();
        let mut live_slots = 0usize;
        let slots = &self.slots;
        self.rows.retain(|row| {
            let e = EventRef { row, slots };
            if gone(e) {
                let texts = e
                    .props()
                    .filter_map(|(_, v)| match v {
                        PropValue::Text(t) => Some(t),
                        _ => None,
                    })
                    .collect();
                removed.push((e.kind(), e.record(), texts));
                false
            } else {
                live_slots += e.props().count();
                true
            }
        });
        if !removed.is_empty() && live_slots * 2 < self.slots.len() {
            let mut compact = Vec::with_capacity(live_slots);
            for row in &mut self.rows {
                if row.props == NO_PROPS {
                    continue;
                }
                let run = self.slots.get(row.props as usize..).unwrap_or_default();
                let end = run.iter().position(|s| s.last).map_or(0, |i| i + 1);
                row.props = u32::try_from(compact.len()).unwrap_or(NO_PROPS);
                compact.extend_from_slice(run.get(..end).unwrap_or_default());
            }
            self.slots = compact;
            self.rows.shrink_to_fit();
        }
        removed
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.rows.capacity() * std::mem::size_of::<Row>()
            + self.slots.capacity() * std::mem::size_of::<Slot>()
    }

    /// Whether the rows are sorted and every property reference is in bounds.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.rows.windows(2).any(|w| match w {
            [a, b] => row_key(a) >= row_key(b),
            _ => false,
        }) {
            return Err("events out of order".into());
        }
        if self
            .rows
            .iter()
            .any(|r| r.props != NO_PROPS && r.props as usize >= self.slots.len())
        {
            return Err("event property reference out of bounds".into());
        }
        Ok(())
    }
}

fn row_key(r: &Row) -> EventKey {
    (
        Timestamp(r.at),
        RecordId(u64::from(r.record_low) | (u64::from(r.record_high) << 32)),
        r.seq,
    )
}

/// One event of a profile, by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    /// The event kind.
    pub kind: String,
    /// When it happened.
    pub at: Timestamp,
    /// The record it came with.
    pub record: RecordId,
    /// Its properties, in the kind's definition order.
    pub properties: Vec<(String, Value)>,
}

/// A stored property value as a [`Value`].
pub(crate) fn prop_value(texts: &TextPool, v: PropValue) -> Value {
    match v {
        PropValue::Text(t) => Value::Text(texts.get(t).to_string()),
        PropValue::Integer(n) => Value::Integer(n),
        PropValue::Money(m) => Value::Money(m),
        PropValue::Boolean(b) => Value::Boolean(b),
    }
}

/// The view of a stored event.
pub(crate) fn view(schema: &Schema, texts: &TextPool, e: EventRef<'_>) -> EventView {
    let def = schema.event_kind(e.kind());
    let properties = e
        .props()
        .map(|(pos, v)| {
            let name = def
                .and_then(|d| d.properties.get(usize::from(pos)))
                .map_or_else(String::new, |p| p.name.clone());
            (name, prop_value(texts, v))
        })
        .collect();
    EventView {
        kind: def.map_or_else(String::new, |d| d.name.clone()),
        at: e.at(),
        record: e.record(),
        properties,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn galloping_from_the_end_equals_partition_point() {
        for n in 0..70usize {
            let rows: Vec<usize> = (0..n).map(|i| i / 3).collect();
            for t in 0..=n / 3 + 1 {
                assert_eq!(
                    gallop_from_end(&rows, |&r| r < t),
                    rows.partition_point(|&r| r < t),
                    "n {n}, t {t}"
                );
            }
        }
    }

    fn ev(at: i64, record: u64, amount: Option<i64>) -> NewEvent {
        let mut props = SmallVec::new();
        if let Some(n) = amount {
            props.push((1, PropValue::Integer(n)));
            props.push((3, PropValue::Boolean(true)));
        }
        NewEvent {
            at: Timestamp::from_millis(at).unwrap(),
            record: RecordId(record),
            seq: 0,
            kind: EventKindId(0),
            props,
        }
    }

    #[test]
    fn rows_and_slots_are_compact() {
        assert_eq!(std::mem::size_of::<Row>(), 24);
        assert_eq!(std::mem::size_of::<Slot>(), 16);
    }

    #[test]
    fn late_events_go_in_place_and_merges_keep_order() {
        let mut a = EventHistory::default();
        for (at, r) in [(5, 0), (1, 1), (3, 2), (9, 3)] {
            a.insert(&mut [ev(at, r, Some(at * 10))]);
        }
        let times: Vec<i64> = a.iter().map(|e| e.at().as_millis()).collect();
        assert_eq!(times, [1, 3, 5, 9]);
        let mut b = EventHistory::default();
        b.insert(&mut [ev(10, 6, None), ev(2, 4, Some(20)), ev(5, 5, None)]);
        a.merge(b);
        a.check().unwrap();
        let keys: Vec<(i64, u64, Option<PropValue>)> = a
            .iter()
            .map(|e| (e.at().as_millis(), e.record().0, e.prop(1)))
            .collect();
        let int = |n| Some(PropValue::Integer(n));
        assert_eq!(
            keys,
            [
                (1, 1, int(10)),
                (2, 4, int(20)),
                (3, 2, int(30)),
                (5, 0, int(50)),
                (5, 5, None),
                (9, 3, int(90)),
                (10, 6, None)
            ]
        );
        assert_eq!(a.get(0).unwrap().props().count(), 2);
        assert_eq!(a.first_at_or_after(Timestamp::from_millis(5).unwrap()), 3);
        assert_eq!(a.first_after(Timestamp::from_millis(5).unwrap()), 5);
    }

    #[test]
    fn removing_events_compacts_and_keeps_the_rest_intact() {
        let mut h = EventHistory::default();
        let text = |n| PropValue::Text(TextId(n));
        for (at, r) in [(1, 0), (2, 1), (3, 2), (4, 3)] {
            let mut e = ev(at, r, Some(at));
            e.props.push((5, text(u32::try_from(at).unwrap())));
            h.insert(&mut [e]);
        }
        h.insert(&mut [ev(5, 4, None)]);
        let removed = h.remove_where(|e| e.at().as_millis() % 2 == 1);
        let gone: Vec<(u64, Vec<TextId>)> =
            removed.iter().map(|(_, r, t)| (r.0, t.to_vec())).collect();
        assert_eq!(
            gone,
            [(0, vec![TextId(1)]), (2, vec![TextId(3)]), (4, vec![])]
        );
        h.check().unwrap();
        let kept: Vec<(i64, Vec<(u16, PropValue)>)> = h
            .iter()
            .map(|e| (e.at().as_millis(), e.props().collect()))
            .collect();
        let props = |n: i64| {
            vec![
                (1, PropValue::Integer(n)),
                (3, PropValue::Boolean(true)),
                (5, text(u32::try_from(n).unwrap())),
            ]
        };
        assert_eq!(kept, [(2, props(2)), (4, props(4))]);
        assert_eq!(
            h.slots.len(),
            12,
            "dead slots stay while they are the fewer"
        );
        assert_eq!(h.remove_where(|e| e.at().as_millis() == 2).len(), 1);
        assert_eq!(h.slots.len(), 3, "and go once they are the more");
        assert_eq!(
            h.iter().next().unwrap().props().collect::<Vec<_>>(),
            props(4)
        );
        assert!(h.remove_where(|_| false).is_empty());
        assert_eq!(h.remove_where(|_| true).len(), 1);
        assert!(h.is_empty());
        h.check().unwrap();
    }

    #[test]
    fn large_record_ids_round_trip() {
        let mut h = EventHistory::default();
        h.insert(&mut [ev(1, MAX_RECORDS - 1, None)]);
        assert_eq!(h.get(0).unwrap().record(), RecordId(MAX_RECORDS - 1));
    }
}
