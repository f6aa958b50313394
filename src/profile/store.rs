//! The profile store: one slot per [`ProfileId`], live or retired by a merge.

use smallvec::SmallVec;

use crate::event::computed::Acc;
use crate::event::store::EventHistory;
use crate::ids::{IdentId, KindId, ProfileId, TraitId};
use crate::privacy::consent::{Privacy, Restriction, Statement};
use crate::privacy::suppression::SuppressionEntry;
use crate::profile::merge::{Observation, Overflow, Rules, TraitState, check_sum};
use crate::record::Value;
use crate::record_log::{RecordList, RecordLog};
use crate::schema::{MergeStrategy, Schema};
use crate::time::Timestamp;

/// Estimated heap bytes of a privacy part.
fn privacy_bytes(p: &Privacy) -> usize {
    std::mem::size_of::<Privacy>()
        + p.statements.capacity() * std::mem::size_of::<Statement>()
        + p.statements
            .iter()
            .map(|s| s.proof.as_ref().map_or(0, |x| x.len()))
            .sum::<usize>()
        + p.restrictions.capacity() * std::mem::size_of::<Restriction>()
        + p.suppressions.capacity() * std::mem::size_of::<SuppressionEntry>()
        + p.suppressions.iter().map(|s| s.reason.len()).sum::<usize>()
}

/// One identifier linked to a profile: its kind (so limits are checked without the
/// graph) and the latest time of a record of the profile that carried it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Linked {
    pub(crate) kind: KindId,
    pub(crate) ident: IdentId,
    pub(crate) seen: Timestamp,
}

/// One live profile: its identifiers, its records, and its traits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Profile {
    /// Linked identifiers, in the order they were linked.
    pub(crate) identifiers: SmallVec<[Linked; 2]>,
    /// Every record attached to it, threaded through the record log.
    pub(crate) records: RecordList,
    /// Traits, sorted by id.
    pub(crate) traits: Vec<TraitState>,
    /// Events, sorted by (time, record, position).
    pub(crate) events: EventHistory,
    /// Computed traits, by id (empty until the profile has an event).
    pub(crate) computed: Vec<Acc>,
    /// Consent history, merge restrictions and suppressions (absent for most profiles).
    pub(crate) privacy: Option<Box<Privacy>>,
}

impl Profile {
    /// Reads the first bytes of the profile's events and computed traits; see
    /// [`ProfileStore::warm`]. The value means nothing.
    fn warm(&self) -> i64 {
        self.events.warm() ^ i64::from(matches!(self.computed.first(), Some(Acc::Count(_))))
    }

    /// The state of a trait.
    pub(crate) fn trait_state(&self, id: TraitId) -> Option<&TraitState> {
        self.traits
            .binary_search_by(|t| t.trait_id.cmp(&id))
            .ok()
            .and_then(|i| self.traits.get(i))
    }

    /// The current value of a text trait under a picking strategy.
    pub(crate) fn current_text(&self, id: TraitId) -> Option<&str> {
        match &self.trait_state(id)?.winner()?.value {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// Makes room for exactly the traits among `ids` the profile does not hold yet, so
    /// its trait list is not left with the spare room of a doubling.
    pub(crate) fn reserve_traits(&mut self, ids: impl Iterator<Item = TraitId>) {
        let new = ids.filter(|&id| self.trait_state(id).is_none()).count();
        self.traits.reserve_exact(new);
    }

    /// Adds an observation (sums checked beforehand).
    pub(crate) fn observe(
        &mut self,
        rules: &Rules<'_>,
        id: TraitId,
        obs: Observation,
    ) -> Result<(), Overflow> {
        match self.traits.binary_search_by(|t| t.trait_id.cmp(&id)) {
            Ok(i) => match self.traits.get_mut(i) {
                Some(state) => state.add(rules, obs),
                None => Ok(()),
            },
            Err(i) => {
                self.traits.insert(i, TraitState::new(rules, obs)?);
                Ok(())
            }
        }
    }

    /// Notes that a record at `at` carried linked identifier `ident`.
    pub(crate) fn seen(&mut self, ident: IdentId, at: Timestamp) {
        if let Some(l) = self.identifiers.iter_mut().find(|l| l.ident == ident) {
            l.seen = l.seen.max(at);
        }
    }

    /// The privacy part, created when first needed.
    pub(crate) fn privacy_mut(&mut self) -> &mut Privacy {
        self.privacy.get_or_insert_with(Box::default)
    }

    /// Takes everything `other` holds. Traits merge by their strategies; consent
    /// histories and suppressions are joined (merge restrictions are the engine's to add).
    pub(crate) fn absorb(
        &mut self,
        schema: &Schema,
        log: &mut RecordLog,
        other: Profile,
    ) -> Result<(), Overflow> {
        self.identifiers.extend(other.identifiers);
        match (&mut self.privacy, other.privacy) {
            (Some(mine), Some(theirs)) => mine.absorb(*theirs),
            (mine @ None, theirs) => *mine = theirs,
            (Some(_), None) => {}
        }
        self.records.join(log, other.records);
        self.events.merge(other.events);
        self.reserve_traits(other.traits.iter().map(|t| t.trait_id));
        for state in other.traits {
            match self
                .traits
                .binary_search_by(|t| t.trait_id.cmp(&state.trait_id))
            {
                Ok(i) => {
                    if let (Some(mine), Some(rules)) =
                        (self.traits.get_mut(i), Rules::new(schema, state.trait_id))
                    {
                        mine.absorb(&rules, state)?;
                    }
                }
                Err(i) => self.traits.insert(i, state),
            }
        }
        Ok(())
    }
}

/// A profile id's slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    Live(Profile),
    /// Merged into another profile.
    Retired(ProfileId),
    /// Erased: nothing is left of it.
    Erased,
}

/// Profiles per block of work split in two passes; see [`ProfileStore::warm`].
pub(crate) const WARM_BLOCK: usize = 64;

/// All profiles, by id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ProfileStore {
    slots: Vec<Slot>,
    live: usize,
    /// Per id, the ids retired directly into it, ascending: the ids of a person without
    /// a scan (merges and rebuilds both retire ids).
    retired_into: crate::hash::FastMap<u32, SmallVec<[u32; 2]>>,
}

impl ProfileStore {
    /// A new empty profile.
    pub(crate) fn create(&mut self) -> ProfileId {
        let id = ProfileId(u32::try_from(self.slots.len()).unwrap_or(u32::MAX));
        self.slots.push(Slot::Live(Profile::default()));
        self.live = self.live.saturating_add(1);
        id
    }

    /// The slot of `id`.
    pub(crate) fn slot(&self, id: ProfileId) -> Option<&Slot> {
        self.slots.get(id.index())
    }

    /// Reads the slot, newest event and computed traits of each profile of `ids` without
    /// using them, so that work over many profiles can run in blocks of [`WARM_BLOCK`], two
    /// passes each: these reads do not wait on one another, so the processor overlaps their
    /// cache misses, and the second pass finds its data in cache (a clock move re-checking
    /// a hundred thousand profiles runs about 1.3x faster so).
    pub(crate) fn warm(&self, ids: impl IntoIterator<Item = ProfileId>) {
        let mut seen = 0i64;
        for p in ids {
            if let Some(profile) = self.get(p) {
                seen ^= profile.warm();
            }
        }
        std::hint::black_box(seen);
    }

    /// A live profile.
    pub(crate) fn get(&self, id: ProfileId) -> Option<&Profile> {
        match self.slots.get(id.index()) {
            Some(Slot::Live(p)) => Some(p),
            _ => None,
        }
    }

    /// A live profile, mutably.
    pub(crate) fn get_mut(&mut self, id: ProfileId) -> Option<&mut Profile> {
        match self.slots.get_mut(id.index()) {
            Some(Slot::Live(p)) => Some(p),
            _ => None,
        }
    }

    /// The identifiers of a live profile (empty otherwise).
    pub(crate) fn identifiers(&self, id: ProfileId) -> &[Linked] {
        self.get(id).map_or(&[], |p| &p.identifiers)
    }

    /// Follows retired ids to the live profile (`None` for an unknown id).
    pub(crate) fn resolve(&self, mut id: ProfileId) -> Option<ProfileId> {
        // Each hop goes to a strictly lower id, so the walk ends within `slots.len()` hops.
        for _ in 0..=self.slots.len() {
            match self.slots.get(id.index())? {
                Slot::Live(_) => return Some(id),
                Slot::Retired(into) => id = *into,
                Slot::Erased => return None,
            }
        }
        None
    }

    /// The ids retired directly into `id`, ascending.
    pub(crate) fn retired_into(&self, id: ProfileId) -> &[u32] {
        self.retired_into.get(&id.0).map_or(&[], |v| v.as_slice())
    }

    fn link(&mut self, id: ProfileId, into: ProfileId) {
        let list = self.retired_into.entry(into.0).or_default();
        if let Err(at) = list.binary_search(&id.0) {
            list.insert(at, id.0);
        }
    }

    fn unlink(&mut self, id: ProfileId, from: ProfileId) {
        if let Some(list) = self.retired_into.get_mut(&from.0) {
            list.retain(|x| *x != id.0);
            if list.is_empty() {
                self.retired_into.remove(&from.0);
            }
        }
    }

    /// Retires `id` into `into`, returning what it held.
    pub(crate) fn retire(&mut self, id: ProfileId, into: ProfileId) -> Option<Profile> {
        let slot = self.slots.get_mut(id.index())?;
        match std::mem::replace(slot, Slot::Retired(into)) {
            Slot::Live(p) => {
                self.live = self.live.saturating_sub(1);
                self.link(id, into);
                Some(p)
            }
            other => {
                *slot = other;
                None
            }
        }
    }

    /// Erases `id`'s slot (live or retired), returning what a live one held.
    pub(crate) fn erase(&mut self, id: ProfileId) -> Option<Profile> {
        let slot = self.slots.get_mut(id.index())?;
        match std::mem::replace(slot, Slot::Erased) {
            Slot::Live(p) => {
                self.live = self.live.saturating_sub(1);
                Some(p)
            }
            Slot::Retired(from) => {
                self.unlink(id, from);
                None
            }
            Slot::Erased => None,
        }
    }

    /// Puts `profile` in slot `id` (erased or past the end; for restore and replay).
    pub(crate) fn put(&mut self, id: ProfileId, slot: Slot) {
        let i = id.index();
        if self.slots.len() <= i {
            self.slots.resize(i + 1, Slot::Erased);
        }
        if let Some(s) = self.slots.get_mut(i) {
            let was_live = matches!(s, Slot::Live(_));
            let is_live = matches!(slot, Slot::Live(_));
            let (was, now) = (
                match s {
                    Slot::Retired(x) => Some(*x),
                    _ => None,
                },
                match &slot {
                    Slot::Retired(x) => Some(*x),
                    _ => None,
                },
            );
            *s = slot;
            match (was_live, is_live) {
                (false, true) => self.live = self.live.saturating_add(1),
                (true, false) => self.live = self.live.saturating_sub(1),
                _ => {}
            }
            if let Some(from) = was {
                self.unlink(id, from);
            }
            if let Some(into) = now {
                self.link(id, into);
            }
        }
    }

    /// Number of live profiles.
    pub(crate) fn live_count(&self) -> usize {
        self.live
    }

    /// Number of ids ever handed out.
    pub(crate) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Live profiles in id order.
    pub(crate) fn iter_live(&self) -> impl Iterator<Item = (ProfileId, &Profile)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| match s {
            Slot::Live(p) => Some((ProfileId(u32::try_from(i).unwrap_or(u32::MAX)), p)),
            Slot::Retired(_) | Slot::Erased => None,
        })
    }

    /// Live profiles with ids from `start` on, ascending.
    pub(crate) fn iter_live_from(&self, start: usize) -> impl Iterator<Item = ProfileId> + '_ {
        self.slots
            .iter()
            .enumerate()
            .skip(start)
            .filter(|(_, s)| matches!(s, Slot::Live(_)))
            .map(|(i, _)| ProfileId(u32::try_from(i).unwrap_or(u32::MAX)))
    }

    /// Checks that merging `others` into `survivor` and adding `values` overflows no sum.
    pub(crate) fn check_sums(
        &self,
        schema: &Schema,
        survivor: Option<ProfileId>,
        others: &[ProfileId],
        values: &[(TraitId, &Value)],
    ) -> Result<(), (TraitId, Overflow)> {
        if others.is_empty() && values.is_empty() {
            return Ok(());
        }
        let is_sum = |id: TraitId| {
            schema
                .trait_def(id)
                .is_some_and(|d| d.strategy == MergeStrategy::Sum)
        };
        let profiles: SmallVec<[&Profile; 4]> = survivor
            .iter()
            .chain(others)
            .filter_map(|p| self.get(*p))
            .collect();
        let mut touched: SmallVec<[TraitId; 4]> = values.iter().map(|(t, _)| *t).collect();
        for p in &profiles {
            touched.extend(p.traits.iter().map(|t| t.trait_id));
        }
        touched.retain(|t| is_sum(*t));
        touched.sort_unstable();
        touched.dedup();
        for id in touched {
            let states: SmallVec<[&TraitState; 4]> =
                profiles.iter().filter_map(|p| p.trait_state(id)).collect();
            let new: SmallVec<[&Value; 2]> = values
                .iter()
                .filter(|(t, _)| *t == id)
                .map(|(_, v)| *v)
                .collect();
            check_sum(&states, &new).map_err(|e| (id, e))?;
        }
        Ok(())
    }

    /// Estimated heap bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        let mut bytes = self.slots.capacity() * std::mem::size_of::<Slot>()
            + self.retired_into.capacity() * std::mem::size_of::<(u32, SmallVec<[u32; 2]>)>();
        for (_, p) in self.iter_live() {
            if p.identifiers.spilled() {
                bytes += p.identifiers.capacity() * std::mem::size_of::<Linked>();
            }
            bytes += p.traits.capacity() * std::mem::size_of::<TraitState>();
            bytes += p.events.heap_bytes();
            bytes += p.privacy.as_ref().map_or(0, |v| privacy_bytes(v));
            bytes += p.computed.capacity() * std::mem::size_of::<Acc>();
            bytes += p.computed.iter().map(Acc::heap_bytes).sum::<usize>();
            for t in &p.traits {
                bytes += t.aggregate.heap_bytes();
                if t.observations.spilled() {
                    bytes += t.observations.capacity() * std::mem::size_of::<Observation>();
                }
            }
        }
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RecordId;
    use crate::record::Value;
    use crate::schema::{IdentifierKindDef, Normalizer, Schema, TraitDef, TraitType};
    use crate::time::Timestamp;

    #[test]
    fn a_record_s_new_traits_take_exactly_their_room() {
        let mut b = Schema::builder()
            .identifier_kind(IdentifierKindDef::new("email", Normalizer::Email, 1))
            .source("app", 1);
        for name in ["a", "b", "c", "d", "e"] {
            b = b.trait_def(TraitDef::new(name, TraitType::Integer));
        }
        let schema = b.build().unwrap();
        let ids: Vec<TraitId> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|n| schema.trait_id(n).unwrap())
            .collect();
        let source = schema.source_id("app").unwrap();
        let mut profile = Profile::default();
        let observe = |profile: &mut Profile, id: TraitId, n: i64| {
            let obs = Observation {
                value: Value::Integer(n),
                source,
                at: Timestamp(0),
                record: RecordId(0),
            };
            profile
                .observe(&Rules::new(&schema, id).unwrap(), id, obs)
                .unwrap();
        };
        profile.reserve_traits(ids.iter().copied());
        for (n, &id) in ids.iter().enumerate() {
            observe(&mut profile, id, n as i64);
        }
        assert_eq!((profile.traits.len(), profile.traits.capacity()), (5, 5));
        // Traits it holds already need no room.
        profile.reserve_traits(ids.iter().copied());
        assert_eq!(profile.traits.capacity(), 5);
    }
}
