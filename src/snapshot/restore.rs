//! `Engine::restore`: a snapshot back into an engine, every reference validated and
//! everything derived rebuilt.
//!
//! Nothing is allocated beyond what the snapshot's own lists hold: sizes come from the
//! lists, never from a count the snapshot claims.

use smallvec::SmallVec;
use thiserror::Error;

use crate::engine::{Engine, MergeEntry as LoggedMerge};
use crate::event::store::{MAX_RECORDS, NewEvent, PropValue};
use crate::event::text::TextId;
use crate::ids::{
    ChannelId, EventKindId, IdentId, KindId, ProfileId, PurposeId, RecordId, SourceId, TraitId,
};
use crate::money::Money;
use crate::privacy::consent::{Privacy, Restriction, Statement};
use crate::privacy::suppression::{self, SuppressionEntry as Kept};
use crate::profile::merge::{Observation, Rules, TraitState};
use crate::profile::{Linked, Profile, Slot};
use crate::progress::Ticker;
use crate::record::Value;
use crate::record_log::{LoggedIdentifier, LoggedRecord, NO_RECORD};
use crate::schema::{PropertyType, Schema};
use crate::snapshot::{
    EventColumns, ProfileEntry, ProfileSlot, PropertyEntry, SNAPSHOT_VERSION, Snapshot, State,
    SuppressionEntry,
};
use crate::time::Timestamp;

/// A snapshot that cannot be restored; nothing was built.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// A format version this crate does not read.
    #[error("snapshot version {found}, this crate reads {expected}")]
    Version {
        /// The snapshot's version.
        found: u32,
        /// The version this crate reads.
        expected: u32,
    },
    /// The content does not match its checksum (corrupt or edited).
    #[error(
        "checksum mismatch: the snapshot says {stored:#018x}, its content gives {computed:#018x}"
    )]
    Checksum {
        /// The stored checksum.
        stored: u64,
        /// The checksum of the content.
        computed: u64,
    },
    /// The schema does not validate.
    #[error("schema: {0}")]
    Schema(#[from] crate::error::SchemaError),
    /// A reference or value that does not hold together; `place` names it.
    #[error("{place}: {problem}")]
    Invalid {
        /// Where, e.g. `profiles[12].traits[0].observations[3]`.
        place: String,
        /// What is wrong.
        problem: String,
    },
}

fn invalid(place: impl Into<String>, problem: impl Into<String>) -> RestoreError {
    RestoreError::Invalid {
        place: place.into(),
        problem: problem.into(),
    }
}

/// `Some(())` when `ok`, else the error.
fn check(ok: bool, place: impl FnOnce() -> String, problem: &str) -> Result<(), RestoreError> {
    if ok {
        Ok(())
    } else {
        Err(invalid(place(), problem))
    }
}

/// The schema ids of a snapshot, checked against the schema.
struct Ids<'a> {
    schema: &'a Schema,
}

impl Ids<'_> {
    fn source(&self, s: u16, place: &dyn Fn() -> String) -> Result<SourceId, RestoreError> {
        check(
            usize::from(s) < self.schema.def().sources.len(),
            place,
            "unknown source",
        )?;
        Ok(SourceId(s))
    }

    fn kind(&self, k: u16, place: &dyn Fn() -> String) -> Result<KindId, RestoreError> {
        check(
            usize::from(k) < self.schema.kind_count(),
            place,
            "unknown identifier kind",
        )?;
        Ok(KindId(k))
    }

    fn purpose(&self, p: u16, place: &dyn Fn() -> String) -> Result<PurposeId, RestoreError> {
        check(
            usize::from(p) < self.schema.def().purposes.len(),
            place,
            "unknown purpose",
        )?;
        Ok(PurposeId(p))
    }

    fn channel(&self, c: u16, place: &dyn Fn() -> String) -> Result<ChannelId, RestoreError> {
        check(
            usize::from(c) < self.schema.def().channels.len(),
            place,
            "unknown channel",
        )?;
        Ok(ChannelId(c))
    }
}

impl Engine {
    /// Rebuilds an engine from a [`Snapshot`]: checks the version and the checksum,
    /// validates every reference (records, identifiers, profiles, events, consent, merges,
    /// runs, segments) and rebuilds every index, computed trait, tally and segment member
    /// set. The restored engine answers every query like the original and keeps
    /// maintaining its registered segments; its [`Engine::snapshot`] is the same snapshot.
    ///
    /// The erasure key is not part of a snapshot: set it again with
    /// [`Engine::set_erasure_key`] before ingesting.
    ///
    /// # Errors
    /// A [`RestoreError`] naming what is wrong; a corrupt or hostile snapshot never
    /// panics and never makes restore allocate beyond its own size.
    pub fn restore(snapshot: Snapshot) -> Result<Engine, RestoreError> {
        Engine::restore_with_progress(snapshot, &mut crate::progress::ignore)
    }

    /// [`Engine::restore`], reporting progress to `progress` (see
    /// [`Progress`](crate::Progress)): one unit per record, then two per profile slot
    /// (restored, then its indexes rebuilt).
    ///
    /// # Errors
    /// As [`Engine::restore`].
    pub fn restore_with_progress(
        snapshot: Snapshot,
        progress: &mut dyn FnMut(crate::Progress),
    ) -> Result<Engine, RestoreError> {
        if snapshot.version != SNAPSHOT_VERSION {
            return Err(RestoreError::Version {
                found: snapshot.version,
                expected: SNAPSHOT_VERSION,
            });
        }
        let computed = Snapshot::checksum_of(&snapshot.state);
        if computed != snapshot.checksum {
            return Err(RestoreError::Checksum {
                stored: snapshot.checksum,
                computed,
            });
        }
        Engine::rebuild_from(snapshot.state, Computed::Trusted, progress)
    }

    /// An engine from `state` (its version and checksum already checked): every
    /// reference validated, everything derived rebuilt; computed-trait state taken from
    /// the state, or recomputed from the events.
    pub(crate) fn rebuild_from(
        state: State,
        computed: Computed,
        progress: &mut dyn FnMut(crate::Progress),
    ) -> Result<Engine, RestoreError> {
        let total = (state.records.len() as u64)
            .saturating_add((state.profiles.len() as u64).saturating_mul(2));
        let mut ticker = Ticker::new(progress, total);
        let schema = Schema::from_def(state.schema.clone())?;
        let mut e = Engine::with_config(schema, state.config.clone());
        if let Some(t) = state.clock {
            e.clock
                .advance(t)
                .map_err(|err| invalid("clock", err.to_string()))?;
        }
        let texts = e.restore_texts(&state)?;
        e.restore_identifiers(&state)?;
        e.restore_records(&state, &mut ticker)?;
        e.restore_profiles(&state, &texts, computed, &mut ticker)?;
        e.restore_rest(state, computed, &mut ticker)?;
        ticker.finish();
        Ok(e)
    }

    fn restore_texts(&mut self, state: &State) -> Result<Vec<TextId>, RestoreError> {
        let mut ids = Vec::with_capacity(state.texts.len());
        for (i, t) in state.texts.iter().enumerate() {
            if i > 0 {
                check(
                    state.texts.get(i - 1).is_some_and(|prev| prev < t),
                    || format!("texts[{i}]"),
                    "texts are not sorted and distinct",
                )?;
            }
            ids.push(self.texts.intern_unreferenced(t));
        }
        Ok(ids)
    }

    fn restore_identifiers(&mut self, state: &State) -> Result<(), RestoreError> {
        let ids = Ids {
            schema: &self.schema,
        };
        let n = state.records.len() as u64;
        for (i, ident) in state.identifiers.iter().enumerate() {
            let place = || format!("identifiers[{i}]");
            let kind = ids.kind(ident.kind, &place)?;
            if i > 0 {
                let prev = state.identifiers.get(i - 1);
                check(
                    prev.is_some_and(|p| (p.kind, &p.value) < (ident.kind, &ident.value)),
                    place,
                    "identifiers are not sorted by (kind, value) and distinct",
                )?;
            }
            check(ident.first_record < n, place, "first record out of range")?;
            self.graph
                .intern(kind, &ident.value, RecordId(ident.first_record));
        }
        Ok(())
    }

    fn restore_records(&mut self, state: &State, ticker: &mut Ticker) -> Result<(), RestoreError> {
        check(
            state.records.len() as u64 <= MAX_RECORDS,
            || "records".into(),
            "more records than the log holds",
        )?;
        let ids = Ids {
            schema: &self.schema,
        };
        let max_text = self.config.max_text_bytes;
        for (i, r) in state.records.iter().enumerate() {
            ticker.tick(i as u64);
            let id = RecordId(i as u64);
            let Some(r) = r else {
                self.log.put(id, erased_placeholder());
                self.log.erase(id);
                continue;
            };
            let place = || format!("records[{i}]");
            let source = ids.source(r.source, &place)?;
            check(
                r.message_id.as_ref().is_none_or(|m| m.len() <= max_text),
                place,
                "message id too long",
            )?;
            check(
                (r.profile as usize) < state.profiles.len(),
                place,
                "profile out of range",
            )?;
            let mut identifiers = SmallVec::new();
            for &(pos, status) in &r.identifiers {
                check(
                    (pos as usize) < state.identifiers.len(),
                    place,
                    "identifier out of range",
                )?;
                identifiers.push(LoggedIdentifier {
                    ident: IdentId(pos),
                    status,
                });
                if status != crate::record_log::LinkStatus::Linked {
                    self.dropped_in.entry(IdentId(pos)).or_default().push(id);
                }
            }
            self.log.put(
                id,
                LoggedRecord {
                    at: r.at,
                    source,
                    message_id: r.message_id.as_deref().map(Into::into),
                    identifiers,
                    profile: ProfileId(r.profile),
                    next: NO_RECORD,
                },
            );
        }
        // Each identifier's first record carries it.
        for (i, ident) in state.identifiers.iter().enumerate() {
            let carries = self
                .log
                .get(RecordId(ident.first_record))
                .is_some_and(|r| r.identifiers.iter().any(|l| l.ident.index() == i));
            check(
                carries,
                || format!("identifiers[{i}]"),
                "its first record does not carry it",
            )?;
        }
        Ok(())
    }

    fn restore_profiles(
        &mut self,
        state: &State,
        texts: &[TextId],
        computed: Computed,
        ticker: &mut Ticker,
    ) -> Result<(), RestoreError> {
        let base = state.records.len() as u64;
        let n = state.profiles.len();
        check(
            n <= u32::MAX as usize,
            || "profiles".into(),
            "more profiles than ids",
        )?;
        // Slots first, so retired ids can be resolved; then every live profile.
        for (i, slot) in state.profiles.iter().enumerate() {
            let id = ProfileId(u32::try_from(i).unwrap_or(u32::MAX));
            let slot = match slot {
                ProfileSlot::Live(_) => Slot::Live(Profile::default()),
                ProfileSlot::Retired(into) => {
                    check(
                        (*into as usize) < n && *into != id.0,
                        || format!("profiles[{i}]"),
                        "retired into an unknown profile or itself",
                    )?;
                    Slot::Retired(ProfileId(*into))
                }
                ProfileSlot::Erased => Slot::Erased,
            };
            self.profiles.put(id, slot);
        }
        for i in 0..n {
            let id = ProfileId(u32::try_from(i).unwrap_or(u32::MAX));
            if matches!(state.profiles.get(i), Some(ProfileSlot::Retired(_))) {
                check(
                    self.profiles.resolve(id).is_some(),
                    || format!("profiles[{i}]"),
                    "a retired id that does not lead to a live profile",
                )?;
            }
        }
        let mut offsets = EventOffsets::default();
        for (i, slot) in state.profiles.iter().enumerate() {
            ticker.tick(base + i as u64);
            if let ProfileSlot::Live(entry) = slot {
                let id = ProfileId(u32::try_from(i).unwrap_or(u32::MAX));
                let profile = self.profile_of(state, id, entry, texts, computed, &mut offsets)?;
                check(
                    entry.due.is_none() || !profile.computed.is_empty(),
                    || format!("profiles[{i}].due"),
                    "due without computed traits",
                )?;
                self.profiles.put(id, Slot::Live(profile));
                self.due.set(id, entry.due);
            }
        }
        if let Some(i) = texts.iter().position(|&t| self.texts.count(t) == 0) {
            return Err(invalid(format!("texts[{i}]"), "no event holds it"));
        }
        let c = &state.events;
        let n_events = c.at.len();
        check(
            [
                c.record.len(),
                c.seq.len(),
                c.kind.len(),
                c.properties.len(),
            ]
            .iter()
            .all(|&l| l == n_events)
                && c.property_position.len() == c.property_value.len()
                && offsets.events == n_events
                && offsets.properties == c.property_value.len(),
            || "events".into(),
            "columns of different lengths, or longer than the profiles' events",
        )?;
        // Every record belongs to the one live profile that lists it.
        for (rid, r) in self.log.iter() {
            let owner = self.profiles.resolve(r.profile);
            let listed = owner
                .and_then(|p| state.profiles.get(p.index()))
                .is_some_and(|s| {
                    matches!(s, ProfileSlot::Live(p) if p.records.binary_search(&rid.0).is_ok())
                });
            check(
                listed,
                || format!("records[{}]", rid.0),
                "its profile does not list it",
            )?;
        }
        let listed: usize = state
            .profiles
            .iter()
            .map(|s| match s {
                ProfileSlot::Live(p) => p.records.len(),
                _ => 0,
            })
            .sum();
        check(
            listed == self.log.held(),
            || "profiles".into(),
            "a record is listed twice or an erased one is listed",
        )?;
        // Identifier owners: each listed by exactly its owner.
        for (i, ident) in state.identifiers.iter().enumerate() {
            let id = IdentId(u32::try_from(i).unwrap_or(u32::MAX));
            let listed_by = |p: u32| {
                matches!(state.profiles.get(p as usize), Some(ProfileSlot::Live(e))
                    if e.identifiers.binary_search_by_key(&(i as u32), |x| x.0).is_ok())
            };
            if let Some(p) = ident.owner {
                check(
                    listed_by(p),
                    || format!("identifiers[{i}]"),
                    "its owner does not list it",
                )?;
                self.graph.set_owner(id, Some(ProfileId(p)));
            }
        }
        let linked: usize = state
            .profiles
            .iter()
            .map(|s| match s {
                ProfileSlot::Live(p) => p.identifiers.len(),
                _ => 0,
            })
            .sum();
        let owned = state
            .identifiers
            .iter()
            .filter(|i| i.owner.is_some())
            .count();
        check(
            linked == owned,
            || "identifiers".into(),
            "a listed identifier has another owner",
        )?;
        Ok(())
    }

    /// One live profile, validated.
    fn profile_of(
        &mut self,
        state: &State,
        id: ProfileId,
        entry: &ProfileEntry,
        texts: &[TextId],
        computed: Computed,
        offsets: &mut EventOffsets,
    ) -> Result<Profile, RestoreError> {
        let i = id.index();
        let owns = |rid: u64| entry.records.binary_search(&rid).is_ok();
        let mut events = self.events_of(&state.events, entry, texts, offsets, &owns, i)?;
        let ids = Ids {
            schema: &self.schema,
        };
        let mut p = Profile::default();
        for (k, &(pos, seen)) in entry.identifiers.iter().enumerate() {
            let place = || format!("profiles[{i}].identifiers[{k}]");
            let ident = state
                .identifiers
                .get(pos as usize)
                .ok_or_else(|| invalid(place(), "unknown identifier"))?;
            check(ident.owner == Some(id.0), place, "owned by another profile")?;
            if k > 0 {
                check(
                    entry.identifiers.get(k - 1).is_some_and(|x| x.0 < pos),
                    place,
                    "identifiers are not ascending",
                )?;
            }
            p.identifiers.push(Linked {
                kind: KindId(ident.kind),
                ident: IdentId(pos),
                seen,
            });
        }
        for (k, &rid) in entry.records.iter().enumerate() {
            let place = || format!("profiles[{i}].records[{k}]");
            check(
                self.log.get(RecordId(rid)).is_some(),
                place,
                "not a held record",
            )?;
            if k > 0 {
                check(
                    entry.records.get(k - 1).is_some_and(|&x| x < rid),
                    place,
                    "records are not ascending",
                )?;
            }
            p.records.prepend(&mut self.log, RecordId(rid));
        }
        for (k, t) in entry.traits.iter().enumerate() {
            let place = || format!("profiles[{i}].traits[{k}]");
            let trait_id = TraitId(t.id);
            let def = self
                .schema
                .trait_def(trait_id)
                .ok_or_else(|| invalid(place(), "unknown trait"))?;
            if k > 0 {
                check(
                    entry.traits.get(k - 1).is_some_and(|x| x.id < t.id),
                    place,
                    "traits are not ascending",
                )?;
            }
            check(!t.observations.is_empty(), place, "no observation")?;
            let mut observations = SmallVec::new();
            for (o, obs) in t.observations.iter().enumerate() {
                let place = || format!("profiles[{i}].traits[{k}].observations[{o}]");
                check(
                    obs.value.trait_type() == def.ty,
                    place,
                    "value of the wrong type",
                )?;
                check(
                    value_fits(&obs.value, self.config.max_text_bytes),
                    place,
                    "value too large",
                )?;
                check(owns(obs.record), place, "record not of this profile")?;
                let source = ids.source(obs.source, &place)?;
                observations.push(Observation {
                    value: obs.value.clone(),
                    source,
                    at: obs.at,
                    record: RecordId(obs.record),
                });
            }
            let rules = Rules::new(&self.schema, trait_id)
                .ok_or_else(|| invalid(place(), "unknown trait"))?;
            let state = TraitState::recompute(&rules, observations)
                .map_err(|_| invalid(place(), "the sum overflows"))?
                .ok_or_else(|| invalid(place(), "no observation"))?;
            p.traits.push(state);
        }
        p.events.insert(&mut events);
        let rules = self.schema.computed_rules();
        let place = || format!("profiles[{i}].computed");
        if entry.computed.is_empty() {
            check(
                p.events.is_empty() || rules.is_empty() || computed == Computed::Recompute,
                place,
                "computed traits missing",
            )?;
        } else {
            check(
                entry.computed.len() == rules.len(),
                place,
                "one state per computed trait expected",
            )?;
            p.computed = entry
                .computed
                .iter()
                .zip(rules)
                .map(|(c, rule)| {
                    acc_of(
                        c,
                        rule,
                        texts,
                        &p.events,
                        self.schema.def().event_kinds.len(),
                        &place,
                    )
                })
                .collect::<Result<_, _>>()?;
        }
        if !entry.consent.is_empty()
            || !entry.restrictions.is_empty()
            || !entry.suppressions.is_empty()
        {
            let mut privacy = Privacy::default();
            for (k, s) in entry.consent.iter().enumerate() {
                let place = || format!("profiles[{i}].consent[{k}]");
                check(owns(s.record), place, "record not of this profile")?;
                if k > 0 {
                    check(
                        entry
                            .consent
                            .get(k - 1)
                            .is_some_and(|x| (x.at, x.record) <= (s.at, s.record)),
                        place,
                        "statements out of order",
                    )?;
                }
                check(
                    s.proof
                        .as_ref()
                        .is_none_or(|x| x.len() <= self.config.max_text_bytes),
                    place,
                    "proof too long",
                )?;
                privacy.statements.push(Statement {
                    at: s.at,
                    record: RecordId(s.record),
                    source: ids.source(s.source, &place)?,
                    purpose: ids.purpose(s.purpose, &place)?,
                    channel: s.channel.map(|c| ids.channel(c, &place)).transpose()?,
                    granted: s.granted,
                    proof: s.proof.as_deref().map(Into::into),
                });
            }
            for (k, r) in entry.restrictions.iter().enumerate() {
                let place = || format!("profiles[{i}].restrictions[{k}]");
                check(owns(r.record), place, "record not of this profile")?;
                if k > 0 {
                    check(
                        entry
                            .restrictions
                            .get(k - 1)
                            .is_some_and(|x| (x.at, x.record) <= (r.at, r.record)),
                        place,
                        "restrictions out of order",
                    )?;
                }
                privacy.restrictions.push(Restriction {
                    at: r.at,
                    record: RecordId(r.record),
                    purpose: ids.purpose(r.purpose, &place)?,
                    channel: ids.channel(r.channel, &place)?,
                });
            }
            privacy.suppressions = self.suppressions_of(&entry.suppressions, &|| {
                format!("profiles[{i}].suppressions")
            })?;
            p.privacy = Some(Box::new(privacy));
        }
        Ok(p)
    }

    fn suppressions_of(
        &self,
        entries: &[SuppressionEntry],
        place: &dyn Fn() -> String,
    ) -> Result<Vec<Kept>, RestoreError> {
        let ids = Ids {
            schema: &self.schema,
        };
        let mut out = Vec::with_capacity(entries.len());
        for (k, s) in entries.iter().enumerate() {
            if k > 0 {
                check(
                    entries.get(k - 1).is_some_and(|x| x <= s),
                    place,
                    "suppressions are not sorted",
                )?;
            }
            check(
                s.reason.len() <= self.config.max_text_bytes,
                place,
                "reason too long",
            )?;
            check(
                s.anchor.is_none_or(|r| self.log.get(RecordId(r)).is_some()),
                place,
                "anchor is not a held record",
            )?;
            out.push(Kept {
                channel: s.channel.map(|c| ids.channel(c, place)).transpose()?,
                at: s.at,
                reason: s.reason.as_str().into(),
                anchor: s.anchor.map(RecordId),
            });
        }
        suppression::sort(&mut out);
        Ok(out)
    }

    /// The events of one profile, from the columns at `offsets`.
    fn events_of(
        &mut self,
        columns: &EventColumns,
        entry: &ProfileEntry,
        texts: &[TextId],
        offsets: &mut EventOffsets,
        owns: &dyn Fn(u64) -> bool,
        profile: usize,
    ) -> Result<Vec<NewEvent>, RestoreError> {
        let n = entry.events as usize;
        let mut out = Vec::with_capacity(n.min(columns.at.len().saturating_sub(offsets.events)));
        let mut last: Option<(i64, u64, u32)> = None;
        for _ in 0..n {
            let j = offsets.events;
            let place = || format!("events[{j}] (profile {profile})");
            let (Some(&at), Some(&record), Some(&seq), Some(&kind), Some(&props)) = (
                columns.at.get(j),
                columns.record.get(j),
                columns.seq.get(j),
                columns.kind.get(j),
                columns.properties.get(j),
            ) else {
                return Err(invalid(place(), "the columns end early"));
            };
            let at_t = Timestamp::try_from(at).map_err(|e| invalid(place(), e.to_string()))?;
            check(owns(record), place, "record not of this profile")?;
            check(
                last.is_none_or(|l| l < (at, record, seq)),
                place,
                "events out of order",
            )?;
            last = Some((at, record, seq));
            let kind_id = EventKindId(kind);
            let def = self
                .schema
                .event_kind(kind_id)
                .ok_or_else(|| invalid(place(), "unknown event kind"))?;
            let mut properties: SmallVec<[(u16, PropValue); 2]> = SmallVec::new();
            let mut previous: Option<u16> = None;
            for _ in 0..props {
                let k = offsets.properties;
                let (Some(&pos), Some(value)) = (
                    columns.property_position.get(k),
                    columns.property_value.get(k),
                ) else {
                    return Err(invalid(place(), "the property columns end early"));
                };
                let prop = def
                    .properties
                    .get(usize::from(pos))
                    .ok_or_else(|| invalid(place(), "unknown property"))?;
                check(
                    previous.is_none_or(|p| p < pos),
                    place,
                    "properties out of order",
                )?;
                previous = Some(pos);
                let v = match (value, prop.ty) {
                    (PropertyEntry::Text(t), PropertyType::Text) => {
                        let id = *texts
                            .get(*t as usize)
                            .ok_or_else(|| invalid(place(), "unknown text"))?;
                        self.texts.intern_again(id);
                        PropValue::Text(id)
                    }
                    (PropertyEntry::Integer(x), PropertyType::Integer) => PropValue::Integer(*x),
                    (PropertyEntry::Money(m), PropertyType::Money) => {
                        PropValue::Money(Money::new(m.minor, m.currency))
                    }
                    (PropertyEntry::Boolean(b), PropertyType::Boolean) => PropValue::Boolean(*b),
                    _ => return Err(invalid(place(), "property of the wrong type")),
                };
                properties.push((pos, v));
                offsets.properties += 1;
            }
            out.push(NewEvent {
                at: at_t,
                record: RecordId(record),
                seq,
                kind: kind_id,
                props: properties,
            });
            offsets.events += 1;
        }
        Ok(out)
    }

    /// Merges, the de-duplication window, runs, suppressions, hashes, segments and
    /// changes; then everything derived.
    fn restore_rest(
        &mut self,
        state: State,
        computed: Computed,
        ticker: &mut Ticker,
    ) -> Result<(), RestoreError> {
        let base = (state.records.len() + state.profiles.len()) as u64;
        let n_profiles = state.profiles.len();
        for (k, m) in state.merges.iter().enumerate() {
            let place = || format!("merges[{k}]");
            check(
                matches!(
                    state.profiles.get(m.retired as usize),
                    Some(ProfileSlot::Retired(_))
                ) && (m.survivor as usize) < n_profiles
                    && m.survivor < m.retired,
                place,
                "survivor or retired profile out of place",
            )?;
            check(
                (m.cause as usize) < state.identifiers.len(),
                place,
                "unknown identifier",
            )?;
            check(
                self.log.get(RecordId(m.record)).is_some(),
                place,
                "not a held record",
            )?;
            self.merges.push(LoggedMerge {
                survivor: ProfileId(m.survivor),
                retired: ProfileId(m.retired),
                record: RecordId(m.record),
                cause: IdentId(m.cause),
            });
        }
        check(
            state.merges_drained <= state.merges.len() as u64,
            || "merges_drained".into(),
            "more merges drained than logged",
        )?;
        self.merges_drained = state.merges_drained as usize;
        for (k, d) in state.dedup.iter().enumerate() {
            let place = || format!("dedup[{k}]");
            let carries = self.log.get(RecordId(d.record)).is_some_and(|r| {
                r.message_id.as_deref() == Some(d.message_id.as_str()) && r.at == d.at
            });
            check(carries, place, "not the message id of a held record")?;
            if k > 0 {
                check(
                    state
                        .dedup
                        .get(k - 1)
                        .is_some_and(|x| x.message_id < d.message_id),
                    place,
                    "message ids are not sorted and distinct",
                )?;
            }
            self.dedup.restore(&d.message_id, d.at, RecordId(d.record));
        }
        let latest = self.log.iter().map(|(_, r)| r.at).max();
        check(
            state.dedup_latest == latest,
            || "dedup_latest".into(),
            "not the latest record time",
        )?;
        let at_latest = self
            .log
            .iter()
            .filter(|(_, r)| Some(r.at) == latest)
            .count() as u64;
        self.dedup.set_latest(latest, at_latest);
        check(
            state.rfm_runs.len() == self.schema.rfm_rules().len(),
            || "rfm_runs".into(),
            "one pair of runs per model expected",
        )?;
        for (k, [current, previous]) in state.rfm_runs.into_iter().enumerate() {
            for run in [&current, &previous].into_iter().flatten() {
                self.check_run(k, run, n_profiles)?;
            }
            self.rfm.set_runs(k, current, previous);
        }
        for (k, s) in state.identifier_suppressions.iter().enumerate() {
            let place = || format!("identifier_suppressions[{k}]");
            let ids = Ids {
                schema: &self.schema,
            };
            let kind = ids.kind(s.kind, &place)?;
            if k > 0 {
                check(
                    state
                        .identifier_suppressions
                        .get(k - 1)
                        .is_some_and(|x| (x.kind, &x.value) < (s.kind, &s.value)),
                    place,
                    "not sorted by (kind, value) and distinct",
                )?;
            }
            check(!s.suppressions.is_empty(), place, "no suppression")?;
            check(
                s.value.len() <= self.config.max_text_bytes,
                place,
                "value too long",
            )?;
            let entries = self.suppressions_of(&s.suppressions, &place)?;
            self.suppressed_ids
                .entry(kind)
                .or_default()
                .insert(s.value.as_str().into(), entries);
        }
        for (k, h) in state.erased_hashes.iter().enumerate() {
            if k > 0 {
                check(
                    state.erased_hashes.get(k - 1).is_some_and(|x| x < h),
                    || format!("erased_hashes[{k}]"),
                    "not sorted and distinct",
                )?;
            }
            self.erased_hashes.insert(*h);
        }
        for (k, (kind, value)) in state.blocked.iter().enumerate() {
            let place = || format!("blocked[{k}]");
            let ids = Ids {
                schema: &self.schema,
            };
            let kind = ids.kind(*kind, &place)?;
            check(
                value.len() <= self.config.max_text_bytes,
                place,
                "value too long",
            )?;
            check(
                self.blocked
                    .get(&kind)
                    .is_none_or(|v| !v.contains(value.as_str())),
                place,
                "listed twice",
            )?;
            self.blocked
                .entry(kind)
                .or_default()
                .insert(value.as_str().into());
        }
        for (k, (id, parts)) in state.splits.iter().enumerate() {
            check(
                (*id as usize) < n_profiles && parts.iter().all(|p| (*p as usize) < n_profiles),
                || format!("splits[{k}]"),
                "unknown profile",
            )?;
            self.splits.insert(
                ProfileId(*id),
                parts.iter().map(|p| ProfileId(*p)).collect(),
            );
        }
        for (k, e) in state.split_log.iter().enumerate() {
            let place = || format!("split_log[{k}]");
            let ids = Ids {
                schema: &self.schema,
            };
            let kind = ids.kind(e.kind, &place)?;
            check(
                e.before
                    .iter()
                    .chain(&e.after)
                    .all(|p| (*p as usize) < n_profiles),
                place,
                "unknown profile",
            )?;
            self.split_log.push(crate::engine::SplitEntry {
                kind,
                value: e.value.as_str().into(),
                before: e.before.iter().map(|p| ProfileId(*p)).collect(),
                after: e.after.iter().map(|p| ProfileId(*p)).collect(),
                at: e.at,
            });
        }
        if let Some(now) = self.clock.now()
            && self.config.retention_on_advance
        {
            if let Some(keep) = self.schema.record_retention()
                && let Some((rid, _)) = self
                    .log
                    .iter()
                    .find(|(_, r)| r.at.0 < now.0.saturating_sub(keep))
            {
                return Err(invalid(
                    format!("records[{}]", rid.0),
                    "a record past the record log's retention",
                ));
            }
            for (id, profile) in self.profiles.iter_live() {
                check(
                    !profile
                        .events
                        .iter()
                        .any(|e| self.is_expired(e.kind(), e.at(), now)),
                    || format!("profiles[{}].events", id.0),
                    "an event past its kind's retention",
                )?;
            }
        }
        self.rebuild_derived(computed, ticker, base);
        for (k, s) in state.segments.into_iter().enumerate() {
            match s {
                None => self.segments.push_vacant(),
                Some(s) => {
                    let id = self
                        .register_segment(&s.name, s.expr)
                        .map_err(|e| invalid(format!("segments[{k}]"), e.to_string()))?;
                    let place = || format!("segments[{k}]");
                    let Some(seg) = self.segments.get_mut(id.index()) else {
                        return Err(invalid(place(), "not registered"));
                    };
                    seg.registered_at = s.registered_at;
                    for (i, &(p, at)) in s.entered.iter().enumerate() {
                        if i > 0 {
                            check(
                                s.entered.get(i - 1).is_some_and(|x| x.0 < p),
                                place,
                                "entry times not ascending by profile",
                            )?;
                        }
                        check(
                            seg.members.contains(p),
                            place,
                            "an entry time of a non-member",
                        )?;
                        seg.entered.insert(p, at);
                    }
                }
            }
        }
        let slots = self.segments.slot_count();
        for (k, c) in state.changes.iter().enumerate() {
            check(
                c.segment.index() < slots && (c.profile.index()) < n_profiles,
                || format!("changes[{k}]"),
                "unknown segment or profile",
            )?;
        }
        self.segments.changes = state.changes.into();
        Ok(())
    }

    fn check_run(
        &self,
        model: usize,
        run: &crate::rfm::RfmRun,
        n_profiles: usize,
    ) -> Result<(), RestoreError> {
        let place = || format!("rfm_runs[{model}]");
        let def = self
            .schema
            .rfm_model(model)
            .ok_or_else(|| invalid(place(), "unknown model"))?;
        check(
            run.model == def.name && run.bins == def.bins && run.currency == def.currency,
            place,
            "not a run of this model",
        )?;
        let n = run.profiles.len();
        check(
            run.recency_days.len() == n
                && run.frequency.len() == n
                && run.monetary_minor.len() == n
                && run.scores.iter().all(|s| s.len() == n),
            place,
            "columns of different lengths",
        )?;
        check(
            run.profiles
                .windows(2)
                .all(|w| matches!(w, [a, b] if a < b)),
            place,
            "profiles not ascending",
        )?;
        check(
            run.profiles.iter().all(|p| p.index() < n_profiles),
            place,
            "unknown profile",
        )?;
        check(
            run.scores
                .iter()
                .flatten()
                .all(|&s| (1..=run.bins).contains(&s)),
            place,
            "a score outside 1..=bins",
        )?;
        Ok(())
    }

    /// Everything derived from the restored state: indexes, tallies, computed traits,
    /// the live bitmap, the privacy index.
    fn rebuild_derived(&mut self, computed: Computed, ticker: &mut Ticker, base: u64) {
        let live: Vec<ProfileId> = self.profile_ids().collect();
        for &p in &live {
            ticker.tick(base + u64::from(p.0));
            if computed == Computed::Recompute {
                self.refresh_computed(p);
            }
            self.segments.live.insert(p.0);
            if let Some(profile) = self.profiles.get(p)
                && !profile.events.is_empty()
            {
                self.rfm
                    .add_history(self.schema.rfm_rules(), p, &profile.events);
            }
            let profile = self.profiles.get(p);
            self.indexes.update_all(p, profile);
            self.refresh_privacy(p);
            self.schedule_retention(p);
            let kinds: Vec<_> = self
                .profiles
                .get(p)
                .map(|profile| profile.events.iter().map(|e| e.kind()).collect())
                .unwrap_or_default();
            self.count_events(kinds, true);
        }
    }
}

/// Where a rebuilt engine's computed-trait state comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Computed {
    /// The state's own, validated (a restore).
    Trusted,
    /// Recomputed from the events (a schema change: the state holds none).
    Recompute,
}

/// A computed trait's state from its snapshot form, its shape checked against `rule` and
/// the profile's events.
fn acc_of(
    c: &crate::snapshot::ComputedEntry,
    rule: &crate::schema::ComputedRule,
    texts: &[TextId],
    history: &crate::event::store::EventHistory,
    kinds: usize,
    place: &dyn Fn() -> String,
) -> Result<crate::event::computed::Acc, RestoreError> {
    use crate::event::computed::{Acc, Tally};
    use crate::schema::Op;
    use crate::snapshot::ComputedEntry as C;
    let acc = match (c, rule.op) {
        (C::Count(n), Op::Count) => Acc::Count(*n),
        (
            C::Sum {
                total,
                count,
                magnitude,
            },
            Op::Sum | Op::Average,
        ) => {
            check(
                total.unsigned_abs() <= *magnitude,
                place,
                "a sum beyond its bound",
            )?;
            Acc::Sum {
                total: *total,
                count: *count,
                magnitude: *magnitude,
            }
        }
        (C::Extreme(x), Op::Min | Op::Max) => Acc::Extreme(*x),
        (
            C::Pick(k),
            Op::FirstValue | Op::LastValue | Op::FirstTime | Op::LastTime | Op::DaysSince,
        ) => {
            let key = match k {
                Some((at, record, seq)) => {
                    let at =
                        Timestamp::try_from(*at).map_err(|e| invalid(place(), e.to_string()))?;
                    let key = (at, RecordId(*record), *seq);
                    let found = history
                        .range(history.first_at_or_after(at)..history.first_after(at))
                        .any(|e| e.key() == key);
                    check(found, place, "picks an event the profile does not hold")?;
                    Some(key)
                }
                None => None,
            };
            Acc::Pick(key)
        }
        (C::Tally(entries), Op::MostFrequent | Op::DistinctCount) => {
            let text = rule.field_type == Some(PropertyType::Text);
            let kind = rule.field_type.is_none();
            let mut out = Vec::with_capacity(entries.len());
            for (k, &(bits, count)) in entries.iter().enumerate() {
                if k > 0 {
                    check(
                        entries.get(k - 1).is_some_and(|x| x.0 < bits),
                        place,
                        "tally not sorted",
                    )?;
                }
                check(count > 0, place, "a value counted zero times")?;
                let bits = if text {
                    let id = usize::try_from(bits)
                        .ok()
                        .and_then(|i| texts.get(i))
                        .ok_or_else(|| invalid(place(), "unknown text"))?;
                    i64::from(id.0)
                } else {
                    if kind {
                        check(
                            usize::try_from(bits).is_ok_and(|b| b < kinds),
                            place,
                            "unknown event kind",
                        )?;
                    }
                    bits
                };
                out.push(Tally { bits, count });
            }
            out.sort_unstable_by_key(|t| t.bits);
            Acc::Tally(out)
        }
        (C::Habit(h), Op::Habit) => Acc::Habit(*h),
        _ => return Err(invalid(place(), "state of another kind of computed trait")),
    };
    Ok(acc)
}

/// How far the event columns have been read.
#[derive(Default)]
struct EventOffsets {
    events: usize,
    properties: usize,
}

/// A placeholder for an erased record's slot.
fn erased_placeholder() -> LoggedRecord {
    LoggedRecord {
        at: Timestamp::MIN,
        source: SourceId(0),
        message_id: None,
        identifiers: SmallVec::new(),
        profile: ProfileId(0),
        next: NO_RECORD,
    }
}

/// Whether a value's texts and sets are within the engine's limits.
fn value_fits(v: &Value, max: usize) -> bool {
    match v {
        Value::Text(s) => s.len() <= max,
        Value::TextSet(items) => items.iter().all(|s| s.len() <= max),
        _ => true,
    }
}
