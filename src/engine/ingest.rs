//! Ingest: validate the whole record, plan the linking, check sums, then apply.
//! Nothing changes before the last check has passed.

use smallvec::SmallVec;

use crate::engine::realtime::Dirty;
use crate::engine::{DroppedIdentifier, Engine, IngestReport, MergeEntry, Scratch};
use crate::error::{DropReason, IngestError};
use crate::identity::link::{self, Candidate, LinkPlan};
use crate::ids::RecordId;
use crate::ids::{ChannelId, EventKindId, KindId, ProfileId, PurposeId, SourceId, TraitId};
use crate::privacy::consent::Statement;
use crate::profile::Linked;
use crate::profile::merge::{Observation, Rules};
use crate::realtime::{Cause, Touched};
use crate::record::{Record, Value};
use crate::record_log::{LinkStatus, LoggedIdentifier, LoggedRecord, NO_RECORD};

/// A record that passed validation, with names resolved to ids.
pub(crate) struct Checked<'r> {
    pub(crate) record: &'r Record,
    pub(crate) source: SourceId,
    pub(crate) kinds: SmallVec<[KindId; 4]>,
    pub(crate) traits: SmallVec<[(TraitId, Value); 4]>,
    /// Per event: its kind and, per property, its position in the kind's definition.
    pub(crate) events: Vec<(EventKindId, SmallVec<[u16; 4]>)>,
    /// Consent statements: purpose, channel (`None`: every channel), granted.
    pub(crate) consent: SmallVec<[(PurposeId, Option<ChannelId>, bool); 2]>,
    /// Positions of events already past their kind's retention: validated, then left out
    /// as if the record had not carried them.
    pub(crate) expired: SmallVec<[usize; 2]>,
}

impl<'r> Checked<'r> {
    /// The events kept: (position in the record, input, kind, property positions).
    pub(crate) fn kept_events(
        &self,
    ) -> impl Iterator<Item = (usize, &'r crate::record::EventInput, EventKindId, &[u16])> + '_
    {
        self.record
            .events
            .iter()
            .zip(&self.events)
            .enumerate()
            .filter(|(i, _)| !self.expired.contains(i))
            .map(|(i, (input, (kind, positions)))| (i, input, *kind, positions.as_slice()))
    }
}

/// An identifier that does not take part in linking, with its value as logged.
struct Unused {
    input: usize,
    kind: KindId,
    value: String,
    reason: DropReason,
    limit_kind: Option<KindId>,
}

/// How a record is applied.
pub(crate) enum Mode<'a> {
    /// A new record from the host; `allow_erased` is the host's override of erasure
    /// suppression.
    Host { allow_erased: bool },
    /// A logged record replayed into its own slot `rid`; a profile it creates takes back
    /// the id it arrived in when that is still in `pool` (the ids freed for the rebuild);
    /// segments are updated by the caller afterwards.
    Replay {
        rid: RecordId,
        pool: &'a mut std::collections::BTreeSet<ProfileId>,
    },
}

/// Options of [`Engine::ingest_with`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestOptions {
    /// Accept a record carrying an identifier of an erased person (see
    /// [`Engine::erase`]): it starts a new, empty profile, and those identifiers are no
    /// longer refused.
    pub allow_erased: bool,
}

/// Everything ingest will do, computed without changing the engine.
struct Plan<'r> {
    checked: Checked<'r>,
    /// Normalized candidate values, back to back.
    text: &'r str,
    link: LinkPlan,
    unused: Vec<Unused>,
}

impl Engine {
    /// Ingests one record: links it to a profile (creating or merging profiles by the
    /// linking rule) and records its observations.
    ///
    /// A record whose message id was seen within the de-duplication horizon is reported as
    /// a duplicate and changes nothing.
    ///
    /// # Errors
    /// An [`IngestError`] naming the bad field; the engine is left exactly as it was.
    pub fn ingest(&mut self, record: &Record) -> Result<IngestReport, IngestError> {
        self.ingest_with(record, IngestOptions::default())
    }

    /// [`Engine::ingest`] with options: [`IngestOptions::allow_erased`] lets a record
    /// carrying an erased person's identifier in (a new, empty profile).
    ///
    /// # Errors
    /// As [`Engine::ingest`].
    pub fn ingest_with(
        &mut self,
        record: &Record,
        options: IngestOptions,
    ) -> Result<IngestReport, IngestError> {
        self.ingest_mode(
            record,
            Mode::Host {
                allow_erased: options.allow_erased,
            },
        )
    }

    /// Ingests `record` in `mode`.
    pub(crate) fn ingest_mode(
        &mut self,
        record: &Record,
        mode: Mode<'_>,
    ) -> Result<IngestReport, IngestError> {
        let checked = self.validate(record)?;
        if let Mode::Host { .. } = mode {
            self.check_record_retention(record)?;
            if let Some(report) = self.duplicate(record) {
                return Ok(report);
            }
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let host = match &mode {
            Mode::Host { allow_erased } => Some(*allow_erased),
            Mode::Replay { .. } => None,
        };
        let result = self
            .plan(checked, &mut scratch, host)
            .map(|plan| self.apply(plan, mode));
        self.scratch = scratch;
        result
    }

    /// What [`Engine::ingest`] would do with `record` — the profile it would land on (for
    /// a new one, the id it would get), the profiles it would merge, the identifiers it
    /// would drop and why, or that it is a duplicate — without changing anything.
    ///
    /// ```
    /// use audience::{Engine, Record, Schema, Timestamp};
    /// let mut engine = Engine::new(Schema::retail_default());
    /// let t = Timestamp::from_secs(1_700_000_000)?;
    /// let a = engine.ingest(&Record::builder(t, "web").identifier("anonymous_id", "d1").build())?.profile;
    /// let b = engine.ingest(&Record::builder(t, "crm").identifier("email", "x@y.z").build())?.profile;
    /// let login = Record::builder(t, "app").identifier("anonymous_id", "d1").identifier("email", "x@y.z").build();
    /// let before = engine.clone();
    /// let preview = engine.preview(&login)?;
    /// assert_eq!((preview.profile, preview.merged.clone()), (a, vec![b]));
    /// assert_eq!(engine, before); // nothing changed
    /// assert_eq!(engine.ingest(&login)?.merged, preview.merged);
    /// # Ok::<(), audience::Error>(())
    /// ```
    ///
    /// # Errors
    /// The [`IngestError`] that [`Engine::ingest`] would return.
    pub fn preview(&self, record: &Record) -> Result<IngestReport, IngestError> {
        let checked = self.validate(record)?;
        self.check_record_retention(record)?;
        if let Some(report) = self.duplicate(record) {
            return Ok(report);
        }
        let mut scratch = Scratch::default();
        let plan = self.plan(checked, &mut scratch, Some(false))?;
        let survivor = plan.link.survivor();
        let profile = survivor.unwrap_or(ProfileId(
            u32::try_from(self.profiles.slot_count()).unwrap_or(u32::MAX),
        ));
        let mut merged: Vec<ProfileId> = plan
            .link
            .reached
            .iter()
            .map(|&(p, _)| p)
            .filter(|&p| p != profile)
            .collect();
        merged.sort_unstable();
        Ok(IngestReport {
            record: None,
            profile,
            created: survivor.is_none(),
            merged,
            expired_events: plan.checked.expired.len(),
            dropped: self.dropped_views(plan.unused),
            duplicate_of: None,
        })
    }

    /// Ingests records in order; each gets its own result, as if ingested one by one.
    pub fn ingest_batch(&mut self, records: &[Record]) -> Vec<Result<IngestReport, IngestError>> {
        self.ingest_batch_with_progress(records, &mut crate::progress::ignore)
    }

    /// [`Engine::ingest_batch`], reporting progress in records to `progress` (see
    /// [`Progress`](crate::Progress)).
    ///
    /// ```
    /// use audience::{Engine, Progress, Record, Schema, Timestamp};
    /// let mut engine = Engine::new(Schema::retail_default());
    /// let t = Timestamp::from_secs(1_700_000_000)?;
    /// let records: Vec<Record> = (0..5000)
    ///     .map(|i| Record::builder(t, "web").identifier("user_id", format!("u{i}")).build())
    ///     .collect();
    /// let mut last = Progress { done: 0, total: 0 };
    /// let reports = engine.ingest_batch_with_progress(&records, &mut |p| last = p);
    /// assert_eq!(reports.len(), 5000);
    /// assert_eq!(last, Progress { done: 5000, total: 5000 });
    /// # Ok::<(), audience::Error>(())
    /// ```
    pub fn ingest_batch_with_progress(
        &mut self,
        records: &[Record],
        progress: &mut dyn FnMut(crate::Progress),
    ) -> Vec<Result<IngestReport, IngestError>> {
        let mut ticker = crate::progress::Ticker::new(progress, records.len() as u64);
        let mut reports = Vec::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            reports.push(self.ingest(r));
            ticker.tick(i as u64 + 1);
        }
        ticker.finish();
        reports
    }

    fn duplicate(&self, record: &Record) -> Option<IngestReport> {
        let message_id = record.message_id.as_deref()?;
        let earlier = self.dedup.check(message_id, record.timestamp)?;
        let profile = self.record_profile(earlier)?;
        Some(IngestReport {
            record: None,
            profile,
            created: false,
            merged: Vec::new(),
            dropped: Vec::new(),
            expired_events: 0,
            duplicate_of: Some(earlier),
        })
    }

    pub(crate) fn check_text(
        &self,
        field: impl Fn() -> String,
        s: &str,
    ) -> Result<(), IngestError> {
        if s.len() > self.config.max_text_bytes {
            return Err(IngestError::TooLong {
                field: field(),
                len: s.len(),
                max: self.config.max_text_bytes,
            });
        }
        Ok(())
    }

    /// Refuses a new record the record log's retention would drop at once.
    fn check_record_retention(&self, record: &Record) -> Result<(), IngestError> {
        if let (Some(now), Some(keep), Some(days)) = (
            self.clock.now(),
            self.schema.record_retention(),
            self.schema.def().record_retention_days,
        ) && record.timestamp.0 < now.0.saturating_sub(keep)
        {
            return Err(IngestError::PastRetention {
                at: record.timestamp,
                now,
                days,
            });
        }
        Ok(())
    }

    pub(crate) fn check_count(
        &self,
        field: &str,
        len: usize,
        max: usize,
    ) -> Result<(), IngestError> {
        if len > max {
            return Err(IngestError::TooMany {
                field: field.to_string(),
                len,
                max,
            });
        }
        Ok(())
    }

    /// Checks every field against the schema and the limits; resolves names.
    fn validate<'r>(&self, record: &'r Record) -> Result<Checked<'r>, IngestError> {
        if self.log.len() as u64 >= crate::event::store::MAX_RECORDS {
            return Err(IngestError::LogFull);
        }
        let source = self
            .schema
            .source_id(&record.source)
            .ok_or_else(|| IngestError::UnknownSource(record.source.chars().take(64).collect()))?;
        if let Some(m) = &record.message_id {
            self.check_text(|| "message_id".into(), m)?;
        }
        let max_ids = self.config.max_identifiers_per_record;
        self.check_count("identifiers", record.identifiers.len(), max_ids)?;
        self.check_count(
            "traits",
            record.traits.len(),
            self.config.max_traits_per_record,
        )?;
        let mut kinds = SmallVec::with_capacity(record.identifiers.len());
        for (index, ident) in record.identifiers.iter().enumerate() {
            let kind = self.schema.kind_id(&ident.kind).ok_or_else(|| {
                IngestError::UnknownIdentifierKind {
                    index,
                    kind: ident.kind.chars().take(64).collect(),
                }
            })?;
            self.check_text(|| format!("identifiers[{index}]"), &ident.value)?;
            kinds.push(kind);
        }
        let mut traits = SmallVec::with_capacity(record.traits.len());
        for (index, t) in record.traits.iter().enumerate() {
            traits.push((
                self.validate_trait(index, &t.name, &t.value)?,
                normalize_value(&t.value),
            ));
        }
        self.check_count(
            "events",
            record.events.len(),
            self.config.max_events_per_record,
        )?;
        let mut events: Vec<(EventKindId, SmallVec<[u16; 4]>)> =
            Vec::with_capacity(record.events.len());
        let mut last_kind: Option<(&str, EventKindId)> = None;
        for (i, e) in record.events.iter().enumerate() {
            // Events of a record often repeat a kind: its name is looked up once a run.
            let kind = match last_kind {
                Some((name, id)) if name == e.kind.as_str() => Some(id),
                _ => self.schema.event_kind_id(&e.kind),
            };
            let checked = self.validate_event(i, e, kind)?;
            last_kind = Some((e.kind.as_str(), checked.0));
            events.push(checked);
        }
        let expired = match self.clock.now() {
            Some(now) if self.schema.has_retention() => events
                .iter()
                .zip(&record.events)
                .enumerate()
                .filter(|(_, ((kind, _), input))| self.is_expired(*kind, input.at, now))
                .map(|(i, _)| i)
                .collect(),
            _ => SmallVec::new(),
        };
        self.check_count(
            "consent",
            record.consent.len(),
            self.config.max_consent_per_record,
        )?;
        let consent = record
            .consent
            .iter()
            .enumerate()
            .map(|(index, c)| self.validate_consent(index, c))
            .collect::<Result<_, _>>()?;
        Ok(Checked {
            record,
            source,
            kinds,
            traits,
            events,
            consent,
            expired,
        })
    }

    fn validate_consent(
        &self,
        index: usize,
        c: &crate::record::ConsentInput,
    ) -> Result<(PurposeId, Option<ChannelId>, bool), IngestError> {
        let purpose =
            self.schema
                .purpose_id(&c.purpose)
                .ok_or_else(|| IngestError::UnknownPurpose {
                    index,
                    purpose: c.purpose.chars().take(64).collect(),
                })?;
        let channel =
            match &c.channel {
                Some(name) => Some(self.schema.channel_id(name).ok_or_else(|| {
                    IngestError::UnknownChannel {
                        index,
                        channel: name.chars().take(64).collect(),
                    }
                })?),
                None => None,
            };
        if let Some(proof) = &c.proof {
            self.check_text(|| format!("consent[{index}].proof"), proof)?;
        }
        Ok((purpose, channel, c.granted))
    }

    pub(crate) fn validate_trait(
        &self,
        index: usize,
        name: &str,
        value: &Value,
    ) -> Result<TraitId, IngestError> {
        let id = self
            .schema
            .trait_id(name)
            .ok_or_else(|| IngestError::UnknownTrait {
                index,
                name: name.chars().take(64).collect(),
            })?;
        let expected = self.schema.trait_def(id).map(|d| d.ty);
        if expected != Some(value.trait_type()) {
            return Err(IngestError::TraitType {
                index,
                name: name.to_string(),
                expected: expected.map_or("?", |t| t.name()),
                got: value.trait_type().name(),
            });
        }
        let field = || format!("traits[{index}]");
        if let (true, Value::Text(zone)) = (self.schema.is_time_zone_trait(id), value)
            && crate::zone::Zone::parse(zone).is_none()
        {
            return Err(IngestError::UnknownTimeZone {
                index,
                name: name.to_string(),
                value: zone.chars().take(64).collect(),
            });
        }
        match value {
            Value::Text(s) => self.check_text(field, s)?,
            Value::TextSet(items) => {
                self.check_count(&field(), items.len(), self.config.max_set_len)?;
                for item in items {
                    self.check_text(field, item)?;
                }
            }
            _ => {}
        }
        Ok(id)
    }

    /// Normalizes identifiers, plans the linking and checks sums; changes nothing.
    /// `host` is `Some(allow_erased)` for a host's record (checked against the erasure
    /// hashes unless allowed), `None` for a replay.
    fn plan<'r>(
        &self,
        checked: Checked<'r>,
        scratch: &'r mut Scratch,
        host: Option<bool>,
    ) -> Result<Plan<'r>, IngestError> {
        let mut candidates = link::Candidates::new();
        let mut unused = Vec::new();
        let Scratch { text, value } = scratch;
        text.clear();
        for (input, (ident, &kind)) in checked
            .record
            .identifiers
            .iter()
            .zip(&checked.kinds)
            .enumerate()
        {
            let normalized = self
                .schema
                .normalize_into(kind, &ident.value, value)
                .and_then(|()| {
                    if self.is_blocked(kind, value) {
                        Err(DropReason::Blocked)
                    } else {
                        Ok(())
                    }
                });
            match normalized {
                Ok(()) => {
                    let start = text.len();
                    text.push_str(value);
                    let found = self.graph.lookup_owned(kind, value);
                    candidates.push(Candidate {
                        input,
                        kind,
                        span: start..text.len(),
                        ident: found.map(|(id, _)| id),
                        owner: found.and_then(|(_, owner)| owner),
                    });
                }
                Err(reason) => {
                    // Blocked values are logged normalized; others as the source spelled them.
                    let value = if reason == DropReason::Blocked {
                        value.to_string()
                    } else {
                        ident.value.clone()
                    };
                    unused.push(Unused {
                        input,
                        kind,
                        value,
                        reason,
                        limit_kind: None,
                    });
                }
            }
        }
        if candidates.is_empty() {
            return Err(IngestError::NoUsableIdentifier {
                dropped: unused
                    .iter()
                    .map(|u| (self.kind_name(u.kind), u.value.clone(), u.reason))
                    .collect(),
            });
        }
        let text: &'r str = text;
        if host == Some(false) && !self.erased_hashes.is_empty() {
            for c in &candidates {
                self.check_not_erased(c.input, c.kind, c.value(text))?;
            }
        }
        let (ordered, repeats) = link::order_candidates(&self.schema, text, candidates);
        unused.extend(repeats.into_iter().map(|c| Unused {
            input: c.input,
            kind: c.kind,
            value: c.value(text).to_string(),
            reason: DropReason::Repeated,
            limit_kind: None,
        }));
        let link = link::plan(&self.schema, &self.profiles, ordered);
        unused.extend(link.limited.iter().map(|(c, k)| Unused {
            input: c.input,
            kind: c.kind,
            value: c.value(text).to_string(),
            reason: DropReason::Limit,
            limit_kind: Some(*k),
        }));
        unused.sort_by_key(|u| u.input);
        let survivor = link.survivor();
        let others: SmallVec<[ProfileId; 2]> = link
            .reached
            .iter()
            .map(|&(p, _)| p)
            .filter(|p| Some(*p) != survivor)
            .collect();
        {
            let values: SmallVec<[(TraitId, &Value); 4]> =
                checked.traits.iter().map(|(t, v)| (*t, v)).collect();
            self.profiles
                .check_sums(&self.schema, survivor, &others, &values)
                .map_err(|(t, e)| IngestError::SumOverflow {
                    name: self
                        .schema
                        .trait_def(t)
                        .map_or_else(String::new, |d| d.name.clone()),
                    currency: e.currency,
                })?;
        }
        self.check_computed_sums(&checked, survivor, &others)?;
        Ok(Plan {
            checked,
            text,
            link,
            unused,
        })
    }

    fn kind_name(&self, kind: KindId) -> String {
        self.schema
            .kind(kind)
            .map_or_else(String::new, |k| k.name.clone())
    }

    /// Applies a plan. Every check has passed; nothing here can fail.
    fn apply(&mut self, plan: Plan<'_>, mode: Mode<'_>) -> IngestReport {
        let Plan {
            checked,
            text,
            link,
            unused,
        } = plan;
        let record = checked.record;
        let expired_events = checked.expired.len();
        let (rid, mut pool) = match mode {
            Mode::Host { allow_erased } => {
                if allow_erased && !self.erased_hashes.is_empty() {
                    self.forget_erased(&link, text);
                }
                (self.log.next_id(), None)
            }
            Mode::Replay { rid, pool } => (rid, Some(pool)),
        };
        let (survivor, created) = match link.survivor() {
            Some(p) => (p, false),
            // A replayed record takes back the id it arrived in while that id is free,
            // else a new one: an id never passes to a profile holding none of the
            // records it had (nor the scores stored under it).
            None => match pool.as_mut().and_then(|free| {
                let arrived = self.log.get(rid)?.profile;
                free.remove(&arrived).then_some(arrived)
            }) {
                Some(id) => {
                    self.profiles
                        .put(id, crate::profile::Slot::Live(Default::default()));
                    (id, true)
                }
                None => (self.profiles.create(), true),
            },
        };
        self.segments.live.insert(survivor.0);
        let mut merged: Vec<(ProfileId, usize)> = link
            .reached
            .iter()
            .copied()
            .filter(|&(p, _)| p != survivor)
            .collect();
        merged.sort_unstable();
        // Intern before merging, so each merge can name the identifier that caused it.
        let mut logged: SmallVec<[(usize, LoggedIdentifier); 3]> = SmallVec::new();
        let mut accepted_ids = SmallVec::<[crate::ids::IdentId; 4]>::new();
        for c in &link.accepted {
            let id = c
                .ident
                // Candidates are unique and were looked up in `plan`: an absent one is
                // still absent.
                .unwrap_or_else(|| self.graph.intern_absent(c.kind, c.value(text), rid));
            accepted_ids.push(id);
            logged.push((
                c.input,
                LoggedIdentifier {
                    ident: id,
                    status: LinkStatus::Linked,
                },
            ));
        }
        for u in &unused {
            let id = self.graph.intern(u.kind, &u.value, rid);
            let records = self.dropped_in.entry(id).or_default();
            let at = records.partition_point(|&r| r < rid);
            records.insert(at, rid);
            logged.push((
                u.input,
                LoggedIdentifier {
                    ident: id,
                    status: LinkStatus::Dropped(u.reason),
                },
            ));
        }
        logged.sort_by_key(|(i, _)| *i);
        for &(retired, cause) in &merged {
            self.merge_into(survivor, retired);
            if let Some(&ident) = accepted_ids.get(cause) {
                self.merges.push(MergeEntry {
                    survivor,
                    retired,
                    record: rid,
                    cause: ident,
                });
            }
        }
        let mut new_kinds = SmallVec::<[crate::ids::KindId; 4]>::new();
        for (&id, c) in accepted_ids.iter().zip(&link.accepted) {
            if c.owner.is_none() {
                new_kinds.push(c.kind);
                self.graph.set_owner(id, Some(survivor));
                if let Some(p) = self.profiles.get_mut(survivor) {
                    p.identifiers.push(Linked {
                        kind: c.kind,
                        ident: id,
                        seen: record.timestamp,
                    });
                }
            } else if let Some(p) = self.profiles.get_mut(survivor) {
                p.seen(id, record.timestamp);
            }
        }
        let entry = LoggedRecord {
            at: record.timestamp,
            source: checked.source,
            message_id: record.message_id.as_deref().map(Into::into),
            identifiers: logged.into_iter().map(|(_, l)| l).collect(),
            profile: survivor,
            next: NO_RECORD,
        };
        if pool.is_some() {
            self.log.put(rid, entry);
        } else {
            self.log.push(entry);
        }
        let zone_changed = checked
            .traits
            .iter()
            .any(|(t, _)| self.schema.is_time_zone_trait(*t));
        let mut events = self.store_events(&checked, rid);
        let touched: SmallVec<[TraitId; 8]> = checked.traits.iter().map(|(t, _)| *t).collect();
        if let Some(profile) = self.profiles.get_mut(survivor) {
            profile.records.prepend(&mut self.log, rid);
            profile.events.insert(&mut events);
            if !checked.consent.is_empty() {
                let privacy = profile.privacy_mut();
                privacy.reserve(checked.consent.len());
                for (i, &(purpose, channel, granted)) in checked.consent.iter().enumerate() {
                    privacy.add(Statement {
                        at: record.timestamp,
                        record: rid,
                        source: checked.source,
                        purpose,
                        channel,
                        granted,
                        proof: record
                            .consent
                            .get(i)
                            .and_then(|c| c.proof.as_deref())
                            .map(Into::into),
                    });
                }
            }
            profile.reserve_traits(checked.traits.iter().map(|(id, _)| *id));
            for (trait_id, value) in checked.traits {
                if let Some(rules) = Rules::new(&self.schema, trait_id) {
                    let obs = Observation {
                        value,
                        source: checked.source,
                        at: record.timestamp,
                        record: rid,
                    };
                    // Sums were checked in `plan`; an overflow here cannot happen.
                    let _ = profile.observe(&rules, trait_id, obs);
                }
            }
        }
        if !events.is_empty() {
            self.rfm.add(self.schema.rfm_rules(), survivor, &events);
        }
        if !events.is_empty() || !merged.is_empty() || self.schema.record_retention().is_some() {
            self.schedule_retention(survivor);
        }
        self.count_events(events.iter().map(|e| e.kind), true);
        let profile = self.profiles.get(survivor);
        if merged.is_empty() {
            for &trait_id in &touched {
                self.indexes.update(survivor, trait_id, profile);
            }
        } else {
            self.indexes.update_all(survivor, profile);
        }
        if !self.schema.computed_rules().is_empty() {
            if !merged.is_empty() || zone_changed {
                self.refresh_computed(survivor);
            } else if !events.is_empty() {
                self.add_computed(survivor, &events);
            }
        }
        // A merge, or a record older than others of the profile, can move where (in time)
        // parts joined and what each part had said by then.
        let late = self.profiles.get(survivor).is_some_and(|p| {
            p.privacy.as_ref().is_some_and(|x| !x.statements.is_empty())
                && p.identifiers.iter().any(|l| l.seen > record.timestamp)
        });
        let restricted = (late || !merged.is_empty()) && self.settle_restrictions(survivor);
        let privacy_changed = !checked.consent.is_empty()
            || restricted
            || !merged.is_empty()
            || (!new_kinds.is_empty() && !self.suppressed_ids.is_empty());
        if privacy_changed {
            self.refresh_privacy(survivor);
        }
        let mut touched = Touched::new(touched, events.iter().map(|e| e.kind), new_kinds);
        touched.everything = created || !merged.is_empty();
        touched.computed = zone_changed;
        touched.privacy = privacy_changed;
        for &(retired, _) in &merged {
            self.retire_materialized(retired);
        }
        // A replay refreshes materialized conditions once, for the profiles it formed.
        let changed_leaves = if pool.is_none() {
            self.refresh_materialized(survivor, &touched)
        } else {
            SmallVec::new()
        };
        let moved: SmallVec<[ProfileId; 4]> = std::iter::once(survivor)
            .chain(merged.iter().map(|&(p, _)| p))
            .collect();
        let at = self.clock.now().unwrap_or(record.timestamp);
        if pool.is_none() {
            self.update_segments(
                &Dirty::Record {
                    profiles: &moved,
                    touched: &touched,
                    leaves: Some(&changed_leaves),
                },
                at,
                &|p| {
                    if p == survivor {
                        Cause::Record(rid)
                    } else {
                        Cause::Merge {
                            record: rid,
                            survivor,
                            retired: p,
                        }
                    }
                },
            );
        }
        match &record.message_id {
            Some(m) => self.dedup.insert(m, record.timestamp, rid),
            None => self.dedup.note_time(record.timestamp),
        }
        IngestReport {
            record: Some(rid),
            profile: survivor,
            created,
            merged: merged.iter().map(|&(p, _)| p).collect(),
            expired_events,
            dropped: self.dropped_views(unused),
            duplicate_of: None,
        }
    }

    /// The identifiers a record did not use for linking, as reported.
    fn dropped_views(&self, unused: Vec<Unused>) -> Vec<DroppedIdentifier> {
        unused
            .into_iter()
            .map(|u| DroppedIdentifier {
                index: u.input,
                kind: self.kind_name(u.kind),
                value: u.value,
                reason: u.reason,
                limit_kind: u.limit_kind.map(|k| self.kind_name(k)),
            })
            .collect()
    }

    /// Moves everything `retired` holds into `survivor` and relinks its identifiers.
    fn merge_into(&mut self, survivor: ProfileId, retired: ProfileId) {
        let Some(taken) = self.profiles.retire(retired, survivor) else {
            return;
        };
        self.privacy_index.set(retired, &Default::default());
        self.due.set(retired, None);
        self.retention_due.set(retired, None);
        self.rfm.merge(survivor, retired);
        self.segments.live.remove(retired.0);
        self.indexes.update_all(retired, None);
        for &Linked { ident: id, .. } in &taken.identifiers {
            self.graph.set_owner(id, Some(survivor));
        }
        if let Some(target) = self.profiles.get_mut(survivor) {
            // Sums were checked in `plan`; an overflow here cannot happen.
            // Merge restrictions are settled once the record is in (`settle_restrictions`).
            let _ = target.absorb(&self.schema, &mut self.log, taken);
        }
    }
}

/// Text sets are kept sorted and without repeats.
pub(crate) fn normalize_value(value: &Value) -> Value {
    match value {
        Value::TextSet(items) => {
            let mut items = items.clone();
            items.sort_unstable();
            items.dedup();
            Value::TextSet(items)
        }
        other => other.clone(),
    }
}
