//! The identity graph: every normalized identifier ever seen, interned, with the profile
//! that holds it.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::hash::FixedState;
use crate::ids::{IdentId, KindId, ProfileId, RecordId};

/// One interned identifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IdentEntry {
    pub(crate) kind: KindId,
    /// The normalized value (or the raw value, for one that did not normalize).
    pub(crate) value: Box<str>,
    /// The live profile it links to; `None` for values never linked (blocked, dropped).
    pub(crate) owner: Option<ProfileId>,
    /// The first record that carried it.
    pub(crate) first_record: RecordId,
}

/// Interned identifiers and their owners.
#[derive(Clone, Debug, Default)]
pub(crate) struct IdentityGraph {
    table: HashTable<IdentId>,
    entries: Vec<IdentEntry>,
    hasher: FixedState,
}

impl PartialEq for IdentityGraph {
    fn eq(&self, other: &Self) -> bool {
        // The table is a pure function of the entries.
        self.entries == other.entries
    }
}

impl Eq for IdentityGraph {}

fn hash_of(hasher: &FixedState, kind: KindId, value: &str) -> u64 {
    hasher.hash_one((kind.0, value))
}

impl IdentityGraph {
    /// The id of `(kind, value)`, if it was ever interned.
    pub(crate) fn lookup(&self, kind: KindId, value: &str) -> Option<IdentId> {
        let hash = hash_of(&self.hasher, kind, value);
        self.table
            .find(hash, |id| {
                self.entries
                    .get(id.index())
                    .is_some_and(|e| e.kind == kind && &*e.value == value)
            })
            .copied()
    }

    /// Interns `(kind, value)` first carried by `record`; returns the existing id if any.
    pub(crate) fn intern(&mut self, kind: KindId, value: &str, record: RecordId) -> IdentId {
        if let Some(id) = self.lookup(kind, value) {
            return id;
        }
        // Fewer than 2^32 identifiers fit in memory alongside their strings.
        let id = IdentId(u32::try_from(self.entries.len()).unwrap_or(u32::MAX));
        self.entries.push(IdentEntry {
            kind,
            value: value.into(),
            owner: None,
            first_record: record,
        });
        let Self {
            table,
            entries,
            hasher,
        } = self;
        let hash = hash_of(hasher, kind, value);
        table.insert_unique(hash, id, |i| {
            entries
                .get(i.index())
                .map_or(0, |e| hash_of(hasher, e.kind, &e.value))
        });
        id
    }

    /// The entry of an interned id.
    pub(crate) fn entry(&self, id: IdentId) -> Option<&IdentEntry> {
        self.entries.get(id.index())
    }

    /// The profile that holds `id`.
    pub(crate) fn owner(&self, id: IdentId) -> Option<ProfileId> {
        self.entries.get(id.index()).and_then(|e| e.owner)
    }

    /// The kind of `id`.
    pub(crate) fn kind(&self, id: IdentId) -> Option<KindId> {
        self.entries.get(id.index()).map(|e| e.kind)
    }

    /// Links `id` to `owner` (or unlinks it with `None`).
    pub(crate) fn set_owner(&mut self, id: IdentId, owner: Option<ProfileId>) {
        if let Some(e) = self.entries.get_mut(id.index()) {
            e.owner = owner;
        }
    }

    /// Number of interned identifiers.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// All entries with their ids, in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (IdentId, &IdentEntry)> {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| (IdentId(u32::try_from(i).unwrap_or(u32::MAX)), e))
    }

    /// Estimated heap bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        let strings: usize = self.entries.iter().map(|e| e.value.len()).sum();
        self.entries.capacity() * std::mem::size_of::<IdentEntry>()
            + self.table.capacity() * (std::mem::size_of::<IdentId>() + 1)
            + strings
    }

    /// Checks that the table finds every entry under its own id.
    pub(crate) fn internal_validate(&self) -> Result<(), String> {
        if self.table.len() != self.entries.len() {
            return Err("identity table and entries differ in size".into());
        }
        for (id, e) in self.iter() {
            if self.lookup(e.kind, &e.value) != Some(id) {
                return Err(format!(
                    "identifier {id:?} is not found under its own value"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_idempotent_and_keyed_by_kind() {
        let mut g = IdentityGraph::default();
        let a = g.intern(KindId(0), "x", RecordId(0));
        let b = g.intern(KindId(1), "x", RecordId(1));
        assert_ne!(a, b);
        assert_eq!(g.intern(KindId(0), "x", RecordId(2)), a);
        assert_eq!(g.entry(a).unwrap().first_record, RecordId(0));
        assert_eq!(g.lookup(KindId(1), "x"), Some(b));
        assert_eq!(g.lookup(KindId(2), "x"), None);
        for i in 0..10_000 {
            g.intern(KindId(0), &format!("v{i}"), RecordId(i));
        }
        g.internal_validate().unwrap();
        assert_eq!(g.len(), 10_002);
    }
}
