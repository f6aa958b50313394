//! Erasure: the whole merged person out of every structure, and, on request, a keyed hash
//! of their identifiers so replayed data cannot bring them back.

use std::collections::BTreeSet;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::engine::Engine;
use crate::engine::realtime::Dirty;
use crate::error::{IngestError, PrivacyError};
use crate::identity::link::LinkPlan;
use crate::ids::{IdentId, KindId, ProfileId, RecordId};
use crate::privacy::{ErasureOptions, ErasureReceipt, Subject};
use crate::realtime::{Cause, Touched};
use crate::record_log::LinkStatus;

/// The host's key for erasure hashes. Never part of a snapshot, never printed; two
/// engines compare equal whatever keys they hold.
#[derive(Clone, Default)]
pub(crate) struct ErasureKey(Option<Vec<u8>>);

impl PartialEq for ErasureKey {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for ErasureKey {}

impl std::fmt::Debug for ErasureKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "ErasureKey(set)"
        } else {
            "ErasureKey(unset)"
        })
    }
}

impl Engine {
    /// Sets the key of erasure hashes (HMAC-SHA-256). It is not part of a snapshot: set it
    /// again after [`Engine::restore`]. While erasure hashes exist and no key is set,
    /// records are refused with [`IngestError::ErasureKeyMissing`].
    pub fn set_erasure_key(&mut self, key: &[u8]) {
        self.erasure_key = ErasureKey(Some(key.to_vec()));
    }

    /// The erasure hash of `(kind, value)`, with the key (none without one).
    fn erasure_hash(&self, kind: KindId, value: &str) -> Option<[u8; 32]> {
        let key = self.erasure_key.0.as_deref()?;
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).ok()?;
        let name = self.schema.kind(kind)?.name.as_bytes();
        mac.update(name);
        mac.update(&[0]);
        mac.update(value.as_bytes());
        Some(mac.finalize().into_bytes().into())
    }

    /// Refuses identifier `input` of `(kind, value)` if an erased person held it.
    pub(crate) fn check_not_erased(
        &self,
        input: usize,
        kind: KindId,
        value: &str,
    ) -> Result<(), IngestError> {
        let Some(hash) = self.erasure_hash(kind, value) else {
            return Err(IngestError::ErasureKeyMissing);
        };
        if self.erased_hashes.contains(&hash) {
            return Err(IngestError::Erased {
                index: input,
                kind: self
                    .schema
                    .kind(kind)
                    .map_or_else(String::new, |k| k.name.clone()),
            });
        }
        Ok(())
    }

    /// A host let a record of an erased person in: its identifiers are no longer refused.
    pub(crate) fn forget_erased(&mut self, link: &LinkPlan, text: &str) {
        for c in &link.accepted {
            if let Some(hash) = self.erasure_hash(c.kind, c.value(text)) {
                self.erased_hashes.remove(&hash);
            }
        }
    }

    /// Erases a person: the live profile `who` names, with every profile merged into it,
    /// from every structure — record log, identity graph, observations, events, computed
    /// values, every index bit, segment memberships (each queued as an exit, caused by
    /// [`Cause::Erasure`]), consent history, suppressions tied to them, their scores in
    /// stored RFM runs, message ids kept for de-duplication, event texts only they held.
    /// Afterwards the engine holds what an engine fed the same calls without the person's
    /// records would hold, except the other profiles' scores in stored RFM runs (a new run
    /// reflects the erasure).
    ///
    /// When one of another profile's records had left an identifier of the person unlinked
    /// (it would have broken a limit), that profile is rebuilt from its records, as it
    /// would have formed without the person (see [`ErasureReceipt::rebuilt`]).
    ///
    /// ```
    /// use audience::{Engine, ErasureOptions, IngestError, LookupError, Record, Schema, Subject, Timestamp};
    /// let mut engine = Engine::new(Schema::retail_default());
    /// engine.set_erasure_key(b"host secret");
    /// let t = Timestamp::from_secs(1_700_000_000)?;
    /// let ann = engine.ingest(&Record::builder(t, "crm").identifier("email", "ann@example.com").build())?.profile;
    /// let receipt = engine.erase(Subject::Identifier { kind: "email", value: "ann@example.com" },
    ///     ErasureOptions { suppress: true })?;
    /// assert_eq!(receipt.records.len(), 1);
    /// assert_eq!(engine.resolve(ann), Err(LookupError::Erased(ann)));
    /// // Replayed data cannot bring her back, unless the host says so.
    /// let replayed = Record::builder(t, "crm").identifier("email", "ANN@example.com").build();
    /// assert!(matches!(engine.ingest(&replayed), Err(IngestError::Erased { .. })));
    /// # Ok::<(), audience::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`PrivacyError::UnknownProfile`], [`PrivacyError::Erased`], [`PrivacyError::UnknownIdentifier`],
    /// [`PrivacyError::UnknownIdentifierKind`]; [`PrivacyError::ErasureKeyMissing`] when
    /// asked to suppress without a key. Nothing changes on an error.
    pub fn erase<'a>(
        &mut self,
        who: impl Into<Subject<'a>>,
        options: ErasureOptions,
    ) -> Result<ErasureReceipt, PrivacyError> {
        let live = self.subject_profile(who.into())?;
        if options.suppress && self.erasure_key.0.is_none() {
            return Err(PrivacyError::ErasureKeyMissing);
        }
        let ids = self.ids_of(live);
        let id_set: BTreeSet<ProfileId> = ids.iter().copied().collect();
        let Some(profile) = self.profiles.get(live) else {
            return Err(PrivacyError::UnknownProfile(live));
        };
        let mut records: Vec<RecordId> = profile.records.iter(&self.log).collect();
        records.sort_unstable();
        let linked: Vec<(KindId, IdentId)> = profile
            .identifiers
            .iter()
            .map(|l| (l.kind, l.ident))
            .collect();
        // Profiles one of whose records left an identifier of the person unlinked by a
        // limit, and every profile whose linking depended on theirs.
        let mut rebuild: BTreeSet<ProfileId> = BTreeSet::new();
        for &(_, ident) in &linked {
            for &rid in self.dropped_in.get(&ident).into_iter().flatten() {
                if self.first_limit_drop(rid) == Some(ident)
                    && let Some(owner) = self
                        .log
                        .get(rid)
                        .and_then(|r| self.profiles.resolve(r.profile))
                    && owner != live
                {
                    rebuild.insert(owner);
                }
            }
        }
        let rebuild = self.rebuild_closure(rebuild, live);
        // From here on nothing fails.
        let hashes: Vec<[u8; 32]> = if options.suppress {
            linked
                .iter()
                .filter_map(|&(kind, ident)| {
                    let value = self.graph.entry(ident)?.value.clone();
                    self.erasure_hash(kind, &value)
                })
                .collect()
        } else {
            Vec::new()
        };
        let mut receipt = ErasureReceipt {
            profile: live,
            profile_ids: ids.clone(),
            records: records.clone(),
            identifiers: linked.len(),
            observations: profile.traits.iter().map(|t| t.observations.len()).sum(),
            events: profile.events.len(),
            consent_statements: profile.privacy.as_ref().map_or(0, |p| p.statements.len()),
            suppressions: profile.privacy.as_ref().map_or(0, |p| p.suppressions.len()),
            segment_exits: 0,
            rfm_scores: 0,
            message_ids: records
                .iter()
                .filter(|r| self.log.get(**r).is_some_and(|x| x.message_id.is_some()))
                .count(),
            suppressed_hashes: 0,
            rebuilt: Vec::new(),
            refused: Vec::new(),
        };
        let mut touched_idents: BTreeSet<IdentId> = BTreeSet::new();
        for &rid in &records {
            if let Some(r) = self.log.get(rid) {
                touched_idents.extend(r.identifiers.iter().map(|l| l.ident));
            }
        }
        let latest_erased = records
            .iter()
            .filter_map(|r| self.log.get(*r).map(|x| x.at))
            .max();
        self.detach(live);
        for &id in &ids {
            self.profiles.put(id, crate::profile::Slot::Erased);
        }
        for &rid in &records {
            self.log.erase(rid);
        }
        for &(kind, ident) in &linked {
            if let Some(values) = self.suppressed_ids.get_mut(&kind)
                && let Some(entry) = self.graph.entry(ident)
                && let Some(gone) = values.remove(entry.value.as_str())
            {
                receipt.suppressions += gone.len();
            }
            if self.suppressed_ids.get(&kind).is_some_and(|v| v.is_empty()) {
                self.suppressed_ids.remove(&kind);
            }
        }
        self.settle_identifiers(&touched_idents);
        self.forget_merges(&id_set);
        self.split_log
            .retain(|s| !s.before.iter().chain(&s.after).any(|p| id_set.contains(p)));
        for id in &ids {
            self.splits.remove(id);
        }
        self.settle_latest();
        self.segments.forget_profiles(&id_set);
        for run in self.rfm.runs_mut().flatten() {
            receipt.rfm_scores += run.remove(&id_set);
        }
        for h in &hashes {
            if self.erased_hashes.insert(*h) {
                receipt.suppressed_hashes += 1;
            }
        }
        let rebuilt = if rebuild.is_empty() {
            Default::default()
        } else {
            self.rebuild(&rebuild.into_iter().collect::<Vec<_>>())
        };
        let before = self.segments.changes.len();
        let mut moved: Vec<ProfileId> = ids
            .iter()
            .copied()
            .chain(rebuilt.touched.iter().copied())
            .collect();
        moved.sort_unstable();
        moved.dedup();
        let touched = Touched {
            everything: true,
            ..Touched::default()
        };
        let at = self
            .clock
            .now()
            .unwrap_or_else(|| latest_erased.unwrap_or(crate::time::Timestamp::MIN));
        let cause = Cause::Erasure { profile: live };
        self.update_segments(
            &Dirty::Record {
                profiles: &moved,
                touched: &touched,
                leaves: None,
            },
            at,
            &|_| cause.clone(),
        );
        receipt.segment_exits = self
            .segments
            .changes
            .profiles_since(before)
            .filter(|p| id_set.contains(p))
            .count();
        receipt.rebuilt = rebuilt.profiles;
        receipt.refused = rebuilt.refused;
        Ok(receipt)
    }

    /// The identifier of record `rid` that broke a limit: the first of its identifiers
    /// dropped for a limit in linking order (kind priority, kind name, value); those after
    /// it were dropped with it.
    pub(crate) fn first_limit_drop(&self, rid: RecordId) -> Option<IdentId> {
        let r = self.log.get(rid)?;
        r.identifiers
            .iter()
            .filter(|l| l.status == LinkStatus::Dropped(crate::error::DropReason::Limit))
            .filter_map(|l| {
                let e = self.graph.entry(l.ident)?;
                Some(((self.schema.kind_rank(e.kind), e.value.as_str()), l.ident))
            })
            .min()
            .map(|(_, ident)| ident)
    }

    /// The live profile `who` names.
    pub(crate) fn subject_profile(&self, who: Subject<'_>) -> Result<ProfileId, PrivacyError> {
        match who {
            Subject::Profile(id) => self.resolve(id).map_err(|e| match e {
                crate::error::LookupError::Erased(p) => PrivacyError::Erased(p),
                _ => PrivacyError::UnknownProfile(id),
            }),
            Subject::Identifier { kind, value } => self
                .find(kind, value)
                .map_err(|_| PrivacyError::UnknownIdentifierKind(kind.chars().take(64).collect()))?
                .ok_or_else(|| PrivacyError::UnknownIdentifier {
                    kind: kind.to_string(),
                    value: value.chars().take(64).collect(),
                }),
        }
    }
}
