//! The identity graph: every normalized identifier ever seen, interned, with the profile
//! that holds it.
//!
//! Lookups are the hot path of ingest, so the hash table's buckets carry the key itself
//! (kind and, up to 29 bytes, the value) and the owner: a hit costs the control bytes and
//! one bucket, never a second random access. Longer values are compared through the
//! entry list.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::hash::FixedState;
use crate::ids::{IdentId, KindId, ProfileId, RecordId};

const INLINE: usize = 29;
const SPILLED: u8 = u8::MAX;
const NO_OWNER: u32 = u32::MAX;

/// The `first_record` of an erased identifier's slot.
const ERASED: RecordId = RecordId(u64::MAX);

/// One interned identifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IdentEntry {
    pub(crate) kind: KindId,
    /// The normalized value (or the raw value, for one that did not normalize); up to 24
    /// bytes are stored inline, so reading a typical email or id costs no second access.
    pub(crate) value: compact_str::CompactString,
    /// The first record that carried it.
    pub(crate) first_record: RecordId,
}

/// A hash-table bucket: id, owner and the key, inline when short.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    id: IdentId,
    owner: u32,
    kind: KindId,
    /// Length of the inline value, or [`SPILLED`] when only the entry holds it.
    len: u8,
    inline: [u8; INLINE],
}

impl Bucket {
    fn new(id: IdentId, kind: KindId, value: &str) -> Self {
        let mut inline = [0u8; INLINE];
        let len = match inline.get_mut(..value.len()) {
            Some(dst) => {
                dst.copy_from_slice(value.as_bytes());
                u8::try_from(value.len()).unwrap_or(SPILLED)
            }
            None => SPILLED,
        };
        Bucket {
            id,
            owner: NO_OWNER,
            kind,
            len,
            inline,
        }
    }

    fn inline_value(&self) -> Option<&[u8]> {
        if self.len == SPILLED {
            None
        } else {
            self.inline.get(..usize::from(self.len))
        }
    }

    fn owner(&self) -> Option<ProfileId> {
        (self.owner != NO_OWNER).then_some(ProfileId(self.owner))
    }
}

/// Interned identifiers and their owners. An erased identifier leaves an empty slot (ids
/// are never reused).
#[derive(Clone, Debug, Default)]
pub(crate) struct IdentityGraph {
    table: HashTable<Bucket>,
    entries: Vec<IdentEntry>,
    hasher: FixedState,
    erased: usize,
}

impl PartialEq for IdentityGraph {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
            && self
                .iter()
                .zip(other.iter())
                .all(|((a, _), (b, _))| self.owner(a) == other.owner(b))
    }
}

impl Eq for IdentityGraph {}

fn hash_of(hasher: &FixedState, kind: KindId, value: &[u8]) -> u64 {
    hasher.hash_one((kind.0, value))
}

impl IdentityGraph {
    fn find(&self, kind: KindId, value: &str) -> Option<&Bucket> {
        let hash = hash_of(&self.hasher, kind, value.as_bytes());
        self.table.find(hash, |b| {
            b.kind == kind
                && match b.inline_value() {
                    Some(v) => v == value.as_bytes(),
                    None => {
                        value.len() > INLINE
                            && self
                                .entries
                                .get(b.id.index())
                                .is_some_and(|e| &*e.value == value)
                    }
                }
        })
    }

    fn find_mut(&mut self, id: IdentId) -> Option<&mut Bucket> {
        let entry = self.entry(id)?;
        let hash = hash_of(&self.hasher, entry.kind, entry.value.as_bytes());
        self.table.find_mut(hash, |b| b.id == id)
    }

    /// The id of `(kind, value)` and its owner, if it was ever interned.
    pub(crate) fn lookup_owned(
        &self,
        kind: KindId,
        value: &str,
    ) -> Option<(IdentId, Option<ProfileId>)> {
        self.find(kind, value).map(|b| (b.id, b.owner()))
    }

    /// The id of `(kind, value)`, if it was ever interned.
    pub(crate) fn lookup(&self, kind: KindId, value: &str) -> Option<IdentId> {
        self.find(kind, value).map(|b| b.id)
    }

    /// Interns `(kind, value)` first carried by `record`; returns the existing id if any.
    pub(crate) fn intern(&mut self, kind: KindId, value: &str, record: RecordId) -> IdentId {
        match self.lookup(kind, value) {
            Some(id) => id,
            None => self.intern_absent(kind, value, record),
        }
    }

    /// Interns `(kind, value)`, which a lookup just found absent (so ingest does not
    /// probe the table twice for a new identifier).
    pub(crate) fn intern_absent(&mut self, kind: KindId, value: &str, record: RecordId) -> IdentId {
        debug_assert!(self.lookup(kind, value).is_none());
        // Fewer than 2^32 identifiers fit in memory alongside their strings.
        let id = IdentId(u32::try_from(self.entries.len()).unwrap_or(u32::MAX));
        self.entries.push(IdentEntry {
            kind,
            value: value.into(),
            first_record: record,
        });
        let Self {
            table,
            entries,
            hasher,
            ..
        } = self;
        let hash = hash_of(hasher, kind, value.as_bytes());
        table.insert_unique(hash, Bucket::new(id, kind, value), |b| {
            match b.inline_value() {
                Some(v) => hash_of(hasher, b.kind, v),
                None => entries
                    .get(b.id.index())
                    .map_or(0, |e| hash_of(hasher, e.kind, e.value.as_bytes())),
            }
        });
        id
    }

    /// The entry of an interned id (`None` for an erased one).
    pub(crate) fn entry(&self, id: IdentId) -> Option<&IdentEntry> {
        self.entries
            .get(id.index())
            .filter(|e| e.first_record != ERASED)
    }

    /// Sets the first record that carried `id`.
    pub(crate) fn set_first_record(&mut self, id: IdentId, record: RecordId) {
        if let Some(e) = self.entries.get_mut(id.index())
            && e.first_record != ERASED
        {
            e.first_record = record;
        }
    }

    /// Erases `id`: its value is forgotten and it is found no more.
    pub(crate) fn erase(&mut self, id: IdentId) {
        let Some(entry) = self.entry(id) else {
            return;
        };
        let hash = hash_of(&self.hasher, entry.kind, entry.value.as_bytes());
        if let Ok(mut found) = self.table.find_entry(hash, |b| b.id == id) {
            // The table keeps a removed bucket's bytes: wipe the value first.
            found.get_mut().inline = [0; INLINE];
            found.remove();
        }
        if let Some(e) = self.entries.get_mut(id.index()) {
            e.value = compact_str::CompactString::default();
            e.first_record = ERASED;
            self.erased += 1;
        }
    }

    /// The profile that holds `id`.
    pub(crate) fn owner(&self, id: IdentId) -> Option<ProfileId> {
        let entry = self.entry(id)?;
        let hash = hash_of(&self.hasher, entry.kind, entry.value.as_bytes());
        self.table.find(hash, |b| b.id == id)?.owner()
    }

    /// The kind of `id`.
    pub(crate) fn kind(&self, id: IdentId) -> Option<KindId> {
        self.entry(id).map(|e| e.kind)
    }

    /// Links `id` to `owner` (or unlinks it with `None`).
    pub(crate) fn set_owner(&mut self, id: IdentId, owner: Option<ProfileId>) {
        if let Some(b) = self.find_mut(id) {
            b.owner = owner.map_or(NO_OWNER, |p| p.0);
        }
    }

    /// Number of identifier ids handed out (erased ones included).
    pub(crate) fn ident_slots(&self) -> usize {
        self.entries.len()
    }

    /// Number of identifiers held (not erased).
    pub(crate) fn len(&self) -> usize {
        self.entries.len() - self.erased
    }

    /// All entries held, with their ids, in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (IdentId, &IdentEntry)> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.first_record != ERASED)
            .map(|(i, e)| (IdentId(u32::try_from(i).unwrap_or(u32::MAX)), e))
    }

    /// Estimated heap bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        let strings: usize = self
            .entries
            .iter()
            .filter(|e| e.value.is_heap_allocated())
            .map(|e| e.value.len())
            .sum();
        self.entries.capacity() * std::mem::size_of::<IdentEntry>()
            + self.table.capacity() * (std::mem::size_of::<Bucket>() + 1)
            + strings
    }

    /// Checks that the table finds every entry under its own value.
    pub(crate) fn internal_validate(&self) -> Result<(), String> {
        if self.table.len() != self.len() {
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

    #[test]
    fn long_values_spill_and_owners_stick() {
        let mut g = IdentityGraph::default();
        let long = "a-very-long-identifier-value-that-does-not-fit-inline";
        let id = g.intern(KindId(0), long, RecordId(0));
        let short = g.intern(KindId(0), &long[..29], RecordId(1));
        assert_ne!(id, short);
        assert_eq!(g.lookup(KindId(0), long), Some(id));
        assert_eq!(g.lookup(KindId(0), &long[..30]), None);
        g.set_owner(id, Some(ProfileId(7)));
        assert_eq!(g.owner(id), Some(ProfileId(7)));
        assert_eq!(
            g.lookup_owned(KindId(0), long),
            Some((id, Some(ProfileId(7))))
        );
        assert_eq!(g.owner(short), None);
        for i in 0..5_000 {
            g.intern(KindId(1), &format!("{long}{i}"), RecordId(i));
        }
        g.internal_validate().unwrap();
        assert_eq!(g.owner(id), Some(ProfileId(7)), "owners survive rehashing");
    }
}
