//! The events of one profile, sorted by (time, record, position in the record): a late
//! record is inserted in place, and a merge joins two histories without loss or repeat.

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::event::text::{TextId, TextPool};
use crate::ids::{EventKindId, RecordId};
use crate::money::Money;
use crate::record::Value;
use crate::schema::Schema;
use crate::time::Timestamp;

/// A stored property value; texts are interned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PropValue {
    Text(TextId),
    Integer(i64),
    Money(Money),
    Boolean(bool),
}

/// One stored event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoredEvent {
    pub(crate) at: Timestamp,
    pub(crate) record: RecordId,
    /// Position among the record's events.
    pub(crate) seq: u32,
    pub(crate) kind: EventKindId,
    /// (property position in the kind's definition, value), by position.
    pub(crate) props: SmallVec<[(u16, PropValue); 1]>,
}

impl StoredEvent {
    /// The total order of a profile's history.
    pub(crate) fn key(&self) -> (Timestamp, RecordId, u32) {
        (self.at, self.record, self.seq)
    }
}

/// Inserts `event` in order (appending when it is the newest, the common case).
pub(crate) fn insert(events: &mut Vec<StoredEvent>, event: StoredEvent) {
    let key = event.key();
    if events.last().is_none_or(|last| last.key() < key) {
        events.push(event);
    } else {
        let at = events.partition_point(|e| e.key() < key);
        events.insert(at, event);
    }
}

/// Joins two sorted histories into one sorted history.
pub(crate) fn merge(mine: &mut Vec<StoredEvent>, other: Vec<StoredEvent>) {
    if other.is_empty() {
        return;
    }
    if mine.is_empty() {
        *mine = other;
        return;
    }
    let mut merged = Vec::with_capacity(mine.len() + other.len());
    let mut a = std::mem::take(mine).into_iter().peekable();
    let mut b = other.into_iter().peekable();
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.key() <= y.key(),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_a { a.next() } else { b.next() };
        merged.extend(next);
    }
    *mine = merged;
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

/// The view of a stored event.
pub(crate) fn view(schema: &Schema, texts: &TextPool, e: &StoredEvent) -> EventView {
    let def = schema.event_kind(e.kind);
    let properties = e
        .props
        .iter()
        .map(|(pos, v)| {
            let name = def
                .and_then(|d| d.properties.get(usize::from(*pos)))
                .map_or_else(String::new, |p| p.name.clone());
            let value = match v {
                PropValue::Text(t) => Value::Text(texts.get(*t).to_string()),
                PropValue::Integer(n) => Value::Integer(*n),
                PropValue::Money(m) => Value::Money(*m),
                PropValue::Boolean(b) => Value::Boolean(*b),
            };
            (name, value)
        })
        .collect();
    EventView {
        kind: def.map_or_else(String::new, |d| d.name.clone()),
        at: e.at,
        record: e.record,
        properties,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(at: i64, record: u64) -> StoredEvent {
        StoredEvent {
            at: Timestamp::from_millis(at).unwrap(),
            record: RecordId(record),
            seq: 0,
            kind: EventKindId(0),
            props: SmallVec::new(),
        }
    }

    #[test]
    fn late_events_go_in_place_and_merges_keep_order() {
        let mut a = Vec::new();
        for (at, r) in [(5, 0), (1, 1), (3, 2), (9, 3)] {
            insert(&mut a, ev(at, r));
        }
        let times: Vec<i64> = a.iter().map(|e| e.at.as_millis()).collect();
        assert_eq!(times, [1, 3, 5, 9]);
        let mut b = Vec::new();
        for (at, r) in [(2, 4), (5, 5), (10, 6)] {
            insert(&mut b, ev(at, r));
        }
        merge(&mut a, b);
        let keys: Vec<(i64, u64)> = a.iter().map(|e| (e.at.as_millis(), e.record.0)).collect();
        assert_eq!(
            keys,
            [(1, 1), (2, 4), (3, 2), (5, 0), (5, 5), (9, 3), (10, 6)]
        );
    }
}
