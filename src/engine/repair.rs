//! Identity repair: why a profile is one profile, and undoing links exactly — a value
//! blocked retroactively, an identifier taken out of a profile.

use std::collections::BTreeSet;

use crate::engine::Engine;
use crate::engine::realtime::Dirty;
use crate::error::{DropReason, LookupError, RepairError};
use crate::identity::{
    FirstSeen, IdentityExplanation, LinkExplanation, MergeExplanation, RepairReport, SplitEvent,
};
use crate::ids::{IdentId, KindId, ProfileId, RecordId};
use crate::realtime::{Cause, Touched};
use crate::record_log::LinkStatus;
use crate::time::Timestamp;

/// One split, as kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SplitEntry {
    pub(crate) kind: KindId,
    pub(crate) value: Box<str>,
    pub(crate) before: Vec<ProfileId>,
    pub(crate) after: Vec<ProfileId>,
    pub(crate) at: Option<Timestamp>,
}

impl Engine {
    /// The records of `profile` that linked identifier `ident`.
    pub(crate) fn records_linking<'a>(
        &'a self,
        profile: &'a crate::profile::Profile,
        ident: crate::ids::IdentId,
    ) -> impl Iterator<Item = crate::ids::RecordId> + 'a {
        profile.records.iter(&self.log).filter(move |rid| {
            self.log.get(*rid).is_some_and(|r| {
                r.identifiers
                    .iter()
                    .any(|x| x.ident == ident && x.status == LinkStatus::Linked)
            })
        })
    }

    fn first_seen(&self, record: RecordId) -> Option<FirstSeen> {
        let r = self.log.get(record)?;
        Some(FirstSeen {
            record,
            at: r.at,
            source: self.schema.source(r.source)?.name.clone(),
            message_id: r.message_id.as_deref().map(str::to_string),
        })
    }

    /// Why profile `id` (or the survivor it was merged into) is one profile: each linked
    /// identifier with the record it was first seen on, and each merge into it with the
    /// identifier both sides used — as a serde tree.
    ///
    /// ```
    /// use audience::{Engine, Record, Schema, Timestamp};
    /// let mut engine = Engine::new(Schema::retail_default());
    /// let t = Timestamp::from_secs(1_700_000_000)?;
    /// engine.ingest(&Record::builder(t, "crm").identifier("email", "ann@example.com").build())?;
    /// engine.ingest(&Record::builder(t, "web").identifier("anonymous_id", "d1").build())?;
    /// let login = Record::builder(t, "app").identifier("anonymous_id", "d1").identifier("email", "ann@example.com").build();
    /// let p = engine.ingest(&login)?.profile;
    /// let why = engine.explain_identity(p)?;
    /// assert_eq!(why.merges.len(), 1);
    /// assert!(why.merges[0].because.contains("both used"));
    /// # Ok::<(), audience::Error>(())
    /// ```
    ///
    /// # Errors
    /// A [`LookupError`] for an unknown, erased or split id.
    pub fn explain_identity(&self, id: ProfileId) -> Result<IdentityExplanation, LookupError> {
        let live = self.resolve(id)?;
        let profile = self
            .profiles
            .get(live)
            .ok_or(LookupError::UnknownProfile(id))?;
        let mut links: Vec<LinkExplanation> = profile
            .identifiers
            .iter()
            .filter_map(|l| {
                let e = self.graph.entry(l.ident)?;
                let records = self.records_linking(profile, l.ident).count();
                Some(LinkExplanation {
                    kind: self.schema.kind(e.kind)?.name.clone(),
                    value: e.value.to_string(),
                    first_seen: self.first_seen(e.first_record)?,
                    records,
                })
            })
            .collect();
        links.sort_by(|a, b| (&a.kind, &a.value).cmp(&(&b.kind, &b.value)));
        let ids = self.ids_of(live);
        let merges = self
            .merges
            .iter()
            .filter(|m| ids.contains(&m.retired))
            .filter_map(|m| {
                let e = self.graph.entry(m.cause)?;
                let kind = self.schema.kind(e.kind)?.name.clone();
                let first_seen = self.first_seen(e.first_record)?;
                let because = format!(
                    "{} was merged into {} because both used {kind} {}, first seen from {} at {}",
                    m.retired, m.survivor, e.value, first_seen.source, first_seen.at
                );
                Some(MergeExplanation {
                    survivor: m.survivor,
                    retired: m.retired,
                    record: self.first_seen(m.record)?,
                    kind,
                    value: e.value.to_string(),
                    first_seen,
                    because,
                })
            })
            .collect();
        Ok(IdentityExplanation {
            profile: live,
            links,
            merges,
        })
    }

    /// Every split so far, in order.
    pub fn split_log(&self) -> Vec<SplitEvent> {
        self.split_log
            .iter()
            .map(|s| SplitEvent {
                kind: self
                    .schema
                    .kind(s.kind)
                    .map_or_else(String::new, |k| k.name.clone()),
                value: s.value.to_string(),
                before: s.before.clone(),
                after: s.after.clone(),
                at: s.at,
            })
            .collect()
    }

    /// The values blocked at run time, by (kind, value).
    pub fn blocked_values(&self) -> Vec<(String, String)> {
        self.blocked
            .iter()
            .flat_map(|(k, values)| {
                let kind = self
                    .schema
                    .kind(*k)
                    .map_or_else(String::new, |d| d.name.clone());
                values.iter().map(move |v| (kind.clone(), v.to_string()))
            })
            .collect()
    }

    fn repair_key(&self, kind: &str, value: &str) -> Result<(KindId, String), RepairError> {
        let kind_id = self
            .schema
            .kind_id(kind)
            .ok_or_else(|| RepairError::UnknownIdentifierKind(kind.chars().take(64).collect()))?;
        let mut normalized = String::new();
        match self.schema.normalize_into(kind_id, value, &mut normalized) {
            Ok(()) if !self.is_blocked(kind_id, &normalized) => Ok((kind_id, normalized)),
            Ok(()) | Err(DropReason::Blocked) => Err(RepairError::AlreadyBlocked {
                kind: kind.to_string(),
                value: normalized,
            }),
            Err(reason) => Err(RepairError::BadIdentifier {
                kind: kind.to_string(),
                value: value.chars().take(64).collect(),
                reason,
            }),
        }
    }

    /// Blocks identifier value `(kind, value)` retroactively: it links nothing from now
    /// on, and every profile that held together through it is rebuilt from its records
    /// into exactly the profiles they would have formed had the value been blocked from
    /// the start — observations, events, consent and computed traits follow their
    /// records, registered segments report the entries and exits (caused by
    /// [`Cause::Repair`]), and the split is logged ([`Engine::split_log`]).
    ///
    /// Ids: the profiles formed take back the ids they had before the merges undone
    /// (each the id its first record arrived in while that is free, else a new one); an
    /// id whose records are now in several profiles
    /// answers [`Engine::resolve`] with [`LookupError::Split`].
    ///
    /// ```
    /// use audience::{Engine, LookupError, Record, Schema, Timestamp};
    /// let mut engine = Engine::new(Schema::retail_default());
    /// let t = Timestamp::from_secs(1_700_000_000)?;
    /// // A shared test address fused two people.
    /// let ann = engine.ingest(&Record::builder(t, "web").identifier("user_id", "ann").identifier("email", "test@shop.example").build())?.profile;
    /// let bob = engine.ingest(&Record::builder(t, "web").identifier("anonymous_id", "bob-phone").identifier("email", "test@shop.example").build())?;
    /// assert_eq!(bob.profile, ann);
    /// let report = engine.block_identifier_value("email", "test@shop.example")?;
    /// assert_eq!(report.after.len(), 2);
    /// assert_ne!(engine.find("user_id", "ann")?, engine.find("anonymous_id", "bob-phone")?);
    /// # Ok::<(), audience::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`RepairError::UnknownIdentifierKind`], [`RepairError::BadIdentifier`],
    /// [`RepairError::AlreadyBlocked`]; [`RepairError::Orphans`] when some records carry no
    /// other usable identifier (an engine that had the value blocked would have refused
    /// them). Nothing changes on an error.
    pub fn block_identifier_value(
        &mut self,
        kind: &str,
        value: &str,
    ) -> Result<RepairReport, RepairError> {
        let (kind_id, normalized) = self.repair_key(kind, value)?;
        self.repair(kind_id, normalized)
    }

    /// Takes identifier `(kind, value)` out of profile `id` and out of linking: the value
    /// is blocked from now on (as [`Engine::block_identifier_value`]) and the profile's
    /// records are rebuilt into the profiles they would form without it.
    ///
    /// # Errors
    /// [`RepairError::Lookup`] for an unknown, erased or split profile;
    /// [`RepairError::NotHeld`] when the profile does not hold the identifier;
    /// [`RepairError::LastIdentifier`] when it is the profile's only one (its records
    /// would have no identifier left: erase the profile instead); and the errors of
    /// [`Engine::block_identifier_value`]. Nothing changes on an error.
    pub fn unmerge(
        &mut self,
        id: ProfileId,
        kind: &str,
        value: &str,
    ) -> Result<RepairReport, RepairError> {
        let live = self.resolve(id)?;
        let (kind_id, normalized) = self.repair_key(kind, value)?;
        let ident = self.graph.lookup(kind_id, &normalized);
        let profile = self
            .profiles
            .get(live)
            .ok_or(LookupError::UnknownProfile(id))?;
        if !ident.is_some_and(|i| profile.identifiers.iter().any(|l| l.ident == i)) {
            return Err(RepairError::NotHeld {
                profile: live,
                kind: kind.to_string(),
                value: normalized,
            });
        }
        if profile.identifiers.len() == 1 {
            return Err(RepairError::LastIdentifier {
                profile: live,
                kind: kind.to_string(),
                value: normalized,
            });
        }
        self.repair(kind_id, normalized)
    }

    /// Blocks normalized `(kind, value)` and rebuilds whatever it held together.
    fn repair(&mut self, kind: KindId, value: String) -> Result<RepairReport, RepairError> {
        let ident = self.graph.lookup(kind, &value);
        let mut targets: BTreeSet<ProfileId> = BTreeSet::new();
        let mut carrying: Vec<RecordId> = Vec::new();
        if let Some(ident) = ident {
            if let Some(owner) = self.graph.owner(ident) {
                targets.insert(owner);
                if let Some(p) = self.profiles.get(owner) {
                    carrying.extend(p.records.iter(&self.log));
                }
            }
            for &rid in self.dropped_in.get(&ident).into_iter().flatten() {
                carrying.push(rid);
                if self.first_limit_drop(rid) == Some(ident)
                    && let Some(p) = self
                        .log
                        .get(rid)
                        .and_then(|r| self.profiles.resolve(r.profile))
                {
                    targets.insert(p);
                }
            }
        }
        if let Some(ident) = ident {
            let orphans: Vec<RecordId> = carrying
                .iter()
                .copied()
                .filter(|&rid| self.only_usable_identifier(rid, ident))
                .collect();
            if !orphans.is_empty() {
                return Err(RepairError::Orphans { records: orphans });
            }
        }
        // Checked: from here on nothing fails.
        let before: Vec<ProfileId> = targets.iter().copied().collect();
        let closure = self.rebuild_closure(targets, ProfileId(u32::MAX));
        self.blocked
            .entry(kind)
            .or_default()
            .insert(value.as_str().into());
        let rebuilt = if closure.is_empty() {
            Default::default()
        } else {
            self.rebuild(&closure.into_iter().collect::<Vec<_>>())
        };
        // Records kept as they were still carry the value: as an engine that had it
        // blocked from the start, they drop it as blocked.
        if let Some(ident) = ident {
            let carriers: Vec<RecordId> = self
                .dropped_in
                .get(&ident)
                .map(|r| r.to_vec())
                .unwrap_or_default();
            for rid in carriers {
                if let Some(r) = self.log.get_mut(rid) {
                    for l in r.identifiers.iter_mut().filter(|l| l.ident == ident) {
                        l.status = LinkStatus::Dropped(DropReason::Blocked);
                    }
                }
            }
        }
        let name = self
            .schema
            .kind(kind)
            .map_or_else(String::new, |k| k.name.clone());
        let touched = Touched {
            everything: true,
            ..Touched::default()
        };
        let cause = Cause::Repair {
            kind: name.clone(),
            value: value.clone(),
        };
        let at = self.clock.now().unwrap_or(Timestamp::MIN);
        self.update_segments(
            &Dirty::Record {
                profiles: &rebuilt.touched,
                touched: &touched,
                leaves: None,
            },
            at,
            &|_| cause.clone(),
        );
        if !before.is_empty() {
            self.split_log.push(SplitEntry {
                kind,
                value: value.as_str().into(),
                before: before.clone(),
                after: rebuilt.profiles.clone(),
                at: self.clock.now(),
            });
        }
        Ok(RepairReport {
            kind: name,
            value,
            before,
            after: rebuilt.profiles,
            refused: rebuilt.refused,
        })
    }

    /// Whether `ident` is the only identifier of record `rid` that could link.
    fn only_usable_identifier(&self, rid: RecordId, ident: IdentId) -> bool {
        self.log.get(rid).is_some_and(|r| {
            !r.identifiers.iter().any(|l| {
                l.ident != ident
                    && matches!(
                        l.status,
                        LinkStatus::Linked
                            | LinkStatus::Dropped(DropReason::Limit)
                            | LinkStatus::Dropped(DropReason::Repeated)
                    )
            })
        })
    }
}
