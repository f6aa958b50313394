//! Consent and suppression on the engine: reading a profile's state, keeping the privacy
//! index current, and the suppression lists the host manages.

use std::collections::BTreeMap;

use smallvec::SmallVec;

use crate::engine::Engine;
use crate::engine::realtime::Dirty;
use crate::error::{LookupError, PrivacyError};
use crate::hash::FastMap;
use crate::ids::{ChannelId, IdentId, KindId, ProfileId, PurposeId, RecordId};
use crate::index::privacy::PrivacyRow;
use crate::privacy::consent::{Basis, Privacy, Restriction, Statement};
use crate::privacy::suppression::{self, SuppressionEntry};
use crate::privacy::{
    ConsentBasis, ConsentState, ConsentStatementView, Suppression, SuppressionTarget,
    SuppressionView,
};
use crate::profile::Profile;
use crate::realtime::{Cause, Touched};
use crate::record_log::LinkStatus;
use crate::schema::ConsentDefault;
use crate::time::Timestamp;

/// Identifier suppressions by kind, then normalized value.
pub(crate) type IdentifierSuppressions =
    BTreeMap<KindId, BTreeMap<Box<str>, Vec<SuppressionEntry>>>;

impl Engine {
    /// Whether `purpose` is granted when nothing was said.
    fn default_granted(&self, purpose: PurposeId) -> bool {
        self.schema
            .purpose(purpose)
            .is_some_and(|p| p.default == ConsentDefault::OptOut)
    }

    /// The consent state of `(purpose, channel)` of `profile`, and what decided it.
    pub(crate) fn consent_of(
        &self,
        profile: &Profile,
        purpose: PurposeId,
        channel: ChannelId,
    ) -> (bool, Basis) {
        let default = self.default_granted(purpose);
        match &profile.privacy {
            Some(p) => p.state(purpose, channel, default),
            None => (default, Basis::Default),
        }
    }

    fn basis_view(&self, profile: &Profile, basis: Basis) -> ConsentBasis {
        let privacy = profile.privacy.as_deref();
        match basis {
            Basis::Default => ConsentBasis::Default,
            Basis::Statement(i) => {
                privacy
                    .and_then(|p| p.statements.get(i))
                    .map_or(ConsentBasis::Default, |s| ConsentBasis::Statement {
                        record: s.record,
                        at: s.at,
                    })
            }
            Basis::Restriction(i) => {
                privacy
                    .and_then(|p| p.restrictions.get(i))
                    .map_or(ConsentBasis::Default, |r| ConsentBasis::Merge {
                        record: r.record,
                        at: r.at,
                    })
            }
        }
    }

    /// What decided a consent state, in words (for explanations).
    pub(crate) fn describe_basis(&self, profile: &Profile, basis: Basis) -> String {
        match self.basis_view(profile, basis) {
            ConsentBasis::Merge { record, at } => format!("merge by record {record} at {at}"),
            ConsentBasis::Statement { record, at } => format!("record {record} at {at}"),
            _ => "the purpose's default".into(),
        }
    }

    /// The suppressions of the identifiers `profile` holds, with the kind of each.
    pub(crate) fn identifier_suppressions<'a>(
        &'a self,
        profile: &'a Profile,
    ) -> impl Iterator<Item = (KindId, &'a str, &'a SuppressionEntry)> + 'a {
        let any = !self.suppressed_ids.is_empty();
        profile
            .identifiers
            .iter()
            .filter(move |_| any)
            .filter_map(|l| {
                let e = self.graph.entry(l.ident)?;
                let entries = self.suppressed_ids.get(&e.kind)?.get(&*e.value)?;
                Some((e.kind, &*e.value, entries))
            })
            .flat_map(|(k, v, entries)| entries.iter().map(move |s| (k, v, s)))
    }

    /// Whether a suppression applies to `profile` on `channel` (`None`: on any): on the
    /// profile itself, or, unless `whole_profile`, on one of its identifiers.
    pub(crate) fn is_suppressed(
        &self,
        profile: &Profile,
        channel: Option<ChannelId>,
        whole_profile: bool,
    ) -> bool {
        let own = profile
            .privacy
            .as_ref()
            .is_some_and(|p| p.suppressions.iter().any(|s| s.applies_to(channel)));
        own || (!whole_profile
            && self
                .identifier_suppressions(profile)
                .any(|(_, _, s)| s.applies_to(channel)))
    }

    /// What the privacy index should hold for `profile`.
    pub(crate) fn privacy_row(&self, profile: &Profile) -> PrivacyRow {
        let channels = self.schema.def().channels.len();
        let mut row = PrivacyRow::default();
        if profile.privacy.is_none() && self.suppressed_ids.is_empty() {
            return row;
        }
        for (pi, _) in self.schema.def().purposes.iter().enumerate() {
            let purpose = PurposeId(u16::try_from(pi).unwrap_or(u16::MAX));
            let default = self.default_granted(purpose);
            for ci in 0..channels {
                let channel = ChannelId(u16::try_from(ci).unwrap_or(u16::MAX));
                let (granted, _) = self.consent_of(profile, purpose, channel);
                row.consent_exceptions.push(granted != default);
            }
        }
        let slot = |c: Option<ChannelId>| c.map_or(channels, ChannelId::index);
        row.suppressed = vec![false; channels + 1];
        row.profile_suppressed = vec![false; channels + 1];
        if let Some(p) = &profile.privacy {
            for s in &p.suppressions {
                for v in [&mut row.suppressed, &mut row.profile_suppressed] {
                    if let Some(b) = v.get_mut(slot(s.channel)) {
                        *b = true;
                    }
                }
            }
        }
        for (_, _, s) in self.identifier_suppressions(profile) {
            if let Some(b) = row.suppressed.get_mut(slot(s.channel)) {
                *b = true;
            }
        }
        crate::index::privacy::normalized(row)
    }

    /// Brings the privacy index up to date for `p` (live or not).
    pub(crate) fn refresh_privacy(&mut self, p: ProfileId) {
        let row = self
            .profiles
            .get(p)
            .map(|profile| self.privacy_row(profile))
            .unwrap_or_default();
        self.privacy_index.set(p, &row);
    }

    /// The merge restrictions `profile` carries, from its records in time order (then
    /// record id): wherever a record joins identifiers no earlier record had joined, and
    /// the joined parts' consent states differ on a (purpose, channel), a restriction as
    /// of that record. A pure function of the records, so the order they arrived in does
    /// not matter; the record's own statements count as made after the join.
    pub(crate) fn canonical_restrictions(&self, profile: &Profile) -> Vec<Restriction> {
        let Some(privacy) = profile.privacy.as_deref() else {
            return Vec::new();
        };
        if privacy.statements.is_empty() {
            return Vec::new();
        }
        let mut records: Vec<(Timestamp, RecordId)> = profile
            .records
            .iter(&self.log)
            .filter_map(|r| Some((self.log.get(r)?.at, r)))
            .collect();
        records.sort_unstable();
        let mut said: FastMap<RecordId, SmallVec<[&Statement; 2]>> = FastMap::default();
        for st in &privacy.statements {
            said.entry(st.record).or_default().push(st);
        }
        // Union-find over parts; a part holds the statements and restrictions so far.
        let mut parent: Vec<usize> = Vec::new();
        let mut parts: Vec<Privacy> = Vec::new();
        let mut part_of: FastMap<IdentId, usize> = FastMap::default();
        fn root(parent: &mut [usize], mut i: usize) -> usize {
            while let Some(&up) = parent.get(i) {
                if up == i {
                    break;
                }
                let grand = parent.get(up).copied().unwrap_or(up);
                if let Some(slot) = parent.get_mut(i) {
                    *slot = grand;
                }
                i = up;
            }
            i
        }
        let mut out = Vec::new();
        for (at, rid) in records {
            let idents: SmallVec<[IdentId; 4]> = self
                .log
                .get(rid)
                .map(|r| {
                    r.identifiers
                        .iter()
                        .filter(|l| l.status == LinkStatus::Linked)
                        .map(|l| l.ident)
                        .collect()
                })
                .unwrap_or_default();
            let mut roots: SmallVec<[usize; 4]> = SmallVec::new();
            for id in &idents {
                if let Some(&p) = part_of.get(id) {
                    let r = root(&mut parent, p);
                    if !roots.contains(&r) {
                        roots.push(r);
                    }
                }
            }
            let target = match roots.first() {
                Some(&r) => r,
                None => {
                    parent.push(parts.len());
                    parts.push(Privacy::default());
                    parts.len() - 1
                }
            };
            if roots.len() > 1 {
                let restricted = self.differing_states(&parts, &roots);
                for &other in roots.iter().skip(1) {
                    let taken = parts.get_mut(other).map(std::mem::take).unwrap_or_default();
                    if let Some(t) = parts.get_mut(target) {
                        t.absorb(taken);
                    }
                    if let Some(slot) = parent.get_mut(other) {
                        *slot = target;
                    }
                }
                for (purpose, channel) in restricted {
                    let r = Restriction {
                        at,
                        record: rid,
                        purpose,
                        channel,
                    };
                    if let Some(t) = parts.get_mut(target) {
                        t.restrictions.push(r.clone());
                    }
                    out.push(r);
                }
            }
            for id in idents {
                part_of.entry(id).or_insert(target);
            }
            if let (Some(t), Some(statements)) = (parts.get_mut(target), said.get(&rid)) {
                for &st in statements {
                    t.add(st.clone());
                }
            }
        }
        out
    }

    /// The (purpose, channel) pairs on which the consent states of `parts[roots]` differ.
    fn differing_states(&self, parts: &[Privacy], roots: &[usize]) -> Vec<(PurposeId, ChannelId)> {
        let mut out = Vec::new();
        if roots.iter().all(|&r| {
            parts
                .get(r)
                .is_none_or(|p| p.statements.is_empty() && p.restrictions.is_empty())
        }) {
            return out;
        }
        for pi in 0..self.schema.def().purposes.len() {
            let purpose = PurposeId(u16::try_from(pi).unwrap_or(u16::MAX));
            let default = self.default_granted(purpose);
            for ci in 0..self.schema.def().channels.len() {
                let channel = ChannelId(u16::try_from(ci).unwrap_or(u16::MAX));
                let mut states = roots
                    .iter()
                    .filter_map(|&r| parts.get(r))
                    .map(|p| p.state(purpose, channel, default).0);
                let first = states.next();
                if states.any(|s| Some(s) != first) {
                    out.push((purpose, channel));
                }
            }
        }
        out
    }

    /// Sets `p`'s merge restrictions to [`Engine::canonical_restrictions`]; whether they
    /// changed.
    pub(crate) fn settle_restrictions(&mut self, p: ProfileId) -> bool {
        let Some(profile) = self.profiles.get(p) else {
            return false;
        };
        let restrictions = self.canonical_restrictions(profile);
        let Some(profile) = self.profiles.get_mut(p) else {
            return false;
        };
        let current = profile
            .privacy
            .as_deref()
            .map_or(&[][..], |x| &x.restrictions);
        if current == restrictions.as_slice() {
            return false;
        }
        profile.privacy_mut().restrictions = restrictions;
        true
    }

    fn live_profile(&self, id: ProfileId) -> Result<(ProfileId, &Profile), LookupError> {
        let live = self.resolve(id)?;
        let profile = self
            .profiles
            .get(live)
            .ok_or(LookupError::UnknownProfile(id))?;
        Ok((live, profile))
    }

    /// The consent state of `(purpose, channel)` of profile `id` (or the survivor it was
    /// merged into), and what decided it.
    ///
    /// ```
    /// use audience::{ConsentInput, Engine, Record, Schema, Timestamp};
    /// let mut engine = Engine::new(Schema::retail_default());
    /// let t = Timestamp::from_secs(1_700_000_000)?;
    /// let ann = engine.ingest(&Record::builder(t, "web")
    ///     .identifier("email", "ann@example.com")
    ///     .consent(ConsentInput::grant("marketing").channel("email").proof("footer form v2"))
    ///     .build())?.profile;
    /// assert!(engine.consent(ann, "marketing", "email")?.granted);
    /// assert!(!engine.consent(ann, "marketing", "sms")?.granted); // opt-in: denied by default
    /// assert!(engine.consent(ann, "analytics", "web")?.granted);  // opt-out: granted by default
    /// # Ok::<(), audience::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`PrivacyError::UnknownProfile`], [`PrivacyError::UnknownPurpose`],
    /// [`PrivacyError::UnknownChannel`].
    pub fn consent(
        &self,
        id: ProfileId,
        purpose: &str,
        channel: &str,
    ) -> Result<ConsentState, PrivacyError> {
        let (_, profile) = self
            .live_profile(id)
            .map_err(|_| PrivacyError::UnknownProfile(id))?;
        let purpose_id = self.purpose_id(purpose)?;
        let channel_id = self.channel_id(channel)?;
        Ok(self.consent_state(profile, purpose_id, channel_id))
    }

    fn consent_state(
        &self,
        profile: &Profile,
        purpose: PurposeId,
        channel: ChannelId,
    ) -> ConsentState {
        let (granted, basis) = self.consent_of(profile, purpose, channel);
        ConsentState {
            purpose: self
                .schema
                .purpose(purpose)
                .map_or_else(String::new, |d| d.name.clone()),
            channel: self
                .schema
                .channel(channel)
                .map_or_else(String::new, |d| d.name.clone()),
            granted,
            basis: self.basis_view(profile, basis),
        }
    }

    /// Every (purpose, channel) state of `profile`, in schema order.
    pub(crate) fn consent_states(&self, profile: &Profile) -> Vec<ConsentState> {
        let mut out = Vec::new();
        for pi in 0..self.schema.def().purposes.len() {
            for ci in 0..self.schema.def().channels.len() {
                out.push(self.consent_state(
                    profile,
                    PurposeId(u16::try_from(pi).unwrap_or(u16::MAX)),
                    ChannelId(u16::try_from(ci).unwrap_or(u16::MAX)),
                ));
            }
        }
        out
    }

    /// The consent history of `profile`, oldest first.
    pub(crate) fn consent_history(&self, profile: &Profile) -> Vec<ConsentStatementView> {
        let Some(p) = &profile.privacy else {
            return Vec::new();
        };
        p.statements
            .iter()
            .map(|s| ConsentStatementView {
                purpose: self
                    .schema
                    .purpose(s.purpose)
                    .map_or_else(String::new, |d| d.name.clone()),
                channel: s
                    .channel
                    .and_then(|c| self.schema.channel(c))
                    .map(|d| d.name.clone()),
                granted: s.granted,
                at: s.at,
                source: self
                    .schema
                    .source(s.source)
                    .map_or_else(String::new, |d| d.name.clone()),
                record: s.record,
                proof: s.proof.as_deref().map(str::to_string),
            })
            .collect()
    }

    /// The suppressions that apply to `profile`: its own, then its identifiers' by (kind,
    /// value).
    pub(crate) fn suppression_views(
        &self,
        id: ProfileId,
        profile: &Profile,
    ) -> Vec<SuppressionView> {
        let channel = |c: Option<ChannelId>| {
            c.and_then(|c| self.schema.channel(c))
                .map(|d| d.name.clone())
        };
        let own = profile
            .privacy
            .iter()
            .flat_map(|p| &p.suppressions)
            .map(|s| SuppressionView {
                target: SuppressionTarget::Profile(id),
                channel: channel(s.channel),
                reason: s.reason.to_string(),
                at: s.at,
            });
        let of_identifiers = self
            .identifier_suppressions(profile)
            .map(|(kind, value, s)| SuppressionView {
                target: SuppressionTarget::Identifier {
                    kind: self
                        .schema
                        .kind(kind)
                        .map_or_else(String::new, |k| k.name.clone()),
                    value: value.to_string(),
                },
                channel: channel(s.channel),
                reason: s.reason.to_string(),
                at: s.at,
            });
        let mut of_identifiers: Vec<SuppressionView> = of_identifiers.collect();
        of_identifiers.sort_by(|a, b| {
            let key = |v: &SuppressionView| match &v.target {
                SuppressionTarget::Identifier { kind, value } => (kind.clone(), value.clone()),
                SuppressionTarget::Profile(_) => (String::new(), String::new()),
            };
            (key(a), &a.channel, a.at, &a.reason).cmp(&(key(b), &b.channel, b.at, &b.reason))
        });
        own.chain(of_identifiers).collect()
    }

    fn purpose_id(&self, name: &str) -> Result<PurposeId, PrivacyError> {
        self.schema
            .purpose_id(name)
            .ok_or_else(|| PrivacyError::UnknownPurpose(name.chars().take(64).collect()))
    }

    pub(crate) fn channel_id(&self, name: &str) -> Result<ChannelId, PrivacyError> {
        self.schema
            .channel_id(name)
            .ok_or_else(|| PrivacyError::UnknownChannel(name.chars().take(64).collect()))
    }

    fn suppression_entry(&self, s: &Suppression) -> Result<SuppressionEntry, PrivacyError> {
        if s.reason.len() > self.config.max_text_bytes {
            return Err(PrivacyError::TooLong {
                field: "reason",
                len: s.reason.len(),
                max: self.config.max_text_bytes,
            });
        }
        Ok(SuppressionEntry {
            channel: s
                .channel
                .as_deref()
                .map(|c| self.channel_id(c))
                .transpose()?,
            at: s.at,
            reason: s.reason.as_str().into(),
            anchor: None,
        })
    }

    fn normalized_identifier(
        &self,
        kind: &str,
        value: &str,
    ) -> Result<(KindId, Box<str>), PrivacyError> {
        let kind_id = self
            .schema
            .kind_id(kind)
            .ok_or_else(|| PrivacyError::UnknownIdentifierKind(kind.chars().take(64).collect()))?;
        if value.len() > self.config.max_text_bytes {
            return Err(PrivacyError::TooLong {
                field: "value",
                len: value.len(),
                max: self.config.max_text_bytes,
            });
        }
        let mut normalized = String::new();
        match self.schema.normalize_into(kind_id, value, &mut normalized) {
            Ok(()) | Err(crate::error::DropReason::Blocked) => Ok((kind_id, normalized.into())),
            Err(reason) => Err(PrivacyError::BadIdentifier {
                kind: kind.to_string(),
                value: value.chars().take(64).collect(),
                reason,
            }),
        }
    }

    /// Re-checks the registered segments reading consent or suppression for `profiles`
    /// after a suppression list changed.
    fn after_suppression(&mut self, profiles: &[ProfileId], at: Timestamp, cause: Cause) {
        for &p in profiles {
            self.refresh_privacy(p);
        }
        let touched = Touched {
            privacy: true,
            ..Touched::default()
        };
        let at = self.clock.now().unwrap_or(at);
        self.update_segments(
            &Dirty::Record {
                profiles,
                touched: &touched,
                leaves: None,
            },
            at,
            &|_| cause.clone(),
        );
    }

    /// Suppresses profile `id` (the person: it follows them through merges) on a channel
    /// or on every channel, with a reason and a time. Entries are kept as a history:
    /// suppressing again adds one (an exact repeat is ignored), and lifting a channel
    /// removes all of its entries. Registered segments reading suppression are updated.
    ///
    /// ```
    /// use audience::segment::suppressed;
    /// use audience::{Engine, Record, Schema, Suppression, Timestamp};
    /// let mut engine = Engine::new(Schema::retail_default());
    /// let t = Timestamp::from_secs(1_700_000_000)?;
    /// let ann = engine.ingest(&Record::builder(t, "web").identifier("email", "ann@example.com").build())?.profile;
    /// engine.suppress_profile(ann, Suppression::new("complaint", t).channel("email"))?;
    /// assert_eq!(engine.count(&engine.compile(&suppressed("email"))?)?, 1);
    /// assert_eq!(engine.count(&engine.compile(&suppressed("sms"))?)?, 0);
    /// # Ok::<(), audience::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`PrivacyError::UnknownProfile`], [`PrivacyError::UnknownChannel`],
    /// [`PrivacyError::TooLong`]; nothing changes on an error.
    pub fn suppress_profile(&mut self, id: ProfileId, s: Suppression) -> Result<(), PrivacyError> {
        let (live, _) = self
            .live_profile(id)
            .map_err(|_| PrivacyError::UnknownProfile(id))?;
        let mut entry = self.suppression_entry(&s)?;
        entry.anchor = self
            .profiles
            .get(live)
            .and_then(|p| p.records.iter(&self.log).max());
        if let Some(profile) = self.profiles.get_mut(live) {
            suppression::add(&mut profile.privacy_mut().suppressions, entry);
        }
        let cause = Cause::Suppression {
            target: SuppressionTarget::Profile(live),
            channel: s.channel.clone(),
            suppressed: true,
        };
        self.after_suppression(&[live], s.at, cause);
        Ok(())
    }

    /// Lifts profile `id`'s suppression on `channel` (`None`: its every-channel one);
    /// whether there was one.
    ///
    /// # Errors
    /// [`PrivacyError::UnknownProfile`], [`PrivacyError::UnknownChannel`].
    pub fn unsuppress_profile(
        &mut self,
        id: ProfileId,
        channel: Option<&str>,
    ) -> Result<bool, PrivacyError> {
        let (live, _) = self
            .live_profile(id)
            .map_err(|_| PrivacyError::UnknownProfile(id))?;
        let channel_id = channel.map(|c| self.channel_id(c)).transpose()?;
        let removed = match self.profiles.get_mut(live) {
            Some(profile) => {
                let removed = profile
                    .privacy
                    .as_mut()
                    .is_some_and(|p| suppression::remove(&mut p.suppressions, channel_id));
                if profile.privacy.as_ref().is_some_and(|p| p.is_empty()) {
                    profile.privacy = None;
                }
                removed
            }
            None => false,
        };
        if removed {
            let cause = Cause::Suppression {
                target: SuppressionTarget::Profile(live),
                channel: channel.map(str::to_string),
                suppressed: false,
            };
            let at = self.clock.now().unwrap_or(Timestamp::MIN);
            self.after_suppression(&[live], at, cause);
        }
        Ok(removed)
    }

    /// Suppresses identifier `(kind, value)` (normalized first; it need not have been seen
    /// yet) on a channel or on every channel: activation withholds it as an address, and
    /// the profile holding it counts as suppressed there in segments.
    ///
    /// # Errors
    /// [`PrivacyError::UnknownIdentifierKind`], [`PrivacyError::BadIdentifier`] for a value
    /// that does not normalize, [`PrivacyError::UnknownChannel`],
    /// [`PrivacyError::TooLong`]; nothing changes on an error.
    pub fn suppress_identifier(
        &mut self,
        kind: &str,
        value: &str,
        s: Suppression,
    ) -> Result<(), PrivacyError> {
        let key = self.normalized_identifier(kind, value)?;
        let entry = self.suppression_entry(&s)?;
        let owner = self
            .graph
            .lookup_owned(key.0, &key.1)
            .and_then(|(_, owner)| owner);
        let target = SuppressionTarget::Identifier {
            kind: kind.to_string(),
            value: key.1.to_string(),
        };
        let (kind_id, normalized) = key;
        suppression::add(
            self.suppressed_ids
                .entry(kind_id)
                .or_default()
                .entry(normalized)
                .or_default(),
            entry,
        );
        let profiles: SmallVec<[ProfileId; 1]> = owner.into_iter().collect();
        let cause = Cause::Suppression {
            target,
            channel: s.channel.clone(),
            suppressed: true,
        };
        self.after_suppression(&profiles, s.at, cause);
        Ok(())
    }

    /// Lifts identifier `(kind, value)`'s suppression on `channel` (`None`: its
    /// every-channel one); whether there was one.
    ///
    /// # Errors
    /// As [`Engine::suppress_identifier`].
    pub fn unsuppress_identifier(
        &mut self,
        kind: &str,
        value: &str,
        channel: Option<&str>,
    ) -> Result<bool, PrivacyError> {
        let key = self.normalized_identifier(kind, value)?;
        let channel_id = channel.map(|c| self.channel_id(c)).transpose()?;
        let removed = match self
            .suppressed_ids
            .get_mut(&key.0)
            .and_then(|values| values.get_mut(&key.1))
        {
            Some(entries) => suppression::remove(entries, channel_id),
            None => false,
        };
        if let Some(values) = self.suppressed_ids.get_mut(&key.0) {
            if values.get(&key.1).is_some_and(Vec::is_empty) {
                values.remove(&key.1);
            }
            if values.is_empty() {
                self.suppressed_ids.remove(&key.0);
            }
        }
        if removed {
            let owner = self
                .graph
                .lookup_owned(key.0, &key.1)
                .and_then(|(_, owner)| owner);
            let profiles: SmallVec<[ProfileId; 1]> = owner.into_iter().collect();
            let cause = Cause::Suppression {
                target: SuppressionTarget::Identifier {
                    kind: kind.to_string(),
                    value: key.1.to_string(),
                },
                channel: channel.map(str::to_string),
                suppressed: false,
            };
            let at = self.clock.now().unwrap_or(Timestamp::MIN);
            self.after_suppression(&profiles, at, cause);
        }
        Ok(removed)
    }

    /// The suppressions that apply to profile `id` (or the survivor it was merged into):
    /// its own, then those of the identifiers it holds.
    ///
    /// # Errors
    /// [`LookupError::UnknownProfile`].
    pub fn suppressions(&self, id: ProfileId) -> Result<Vec<SuppressionView>, LookupError> {
        let (live, profile) = self.live_profile(id)?;
        Ok(self.suppression_views(live, profile))
    }

    /// Every identifier suppression, by (kind, value), whether or not a profile holds the
    /// identifier.
    pub fn identifier_suppressions_list(&self) -> Vec<SuppressionView> {
        self.suppressed_ids
            .iter()
            .flat_map(|(kind, values)| values.iter().map(move |(v, e)| (kind, v, e)))
            .flat_map(|(kind, value, entries)| {
                entries.iter().map(move |s| SuppressionView {
                    target: SuppressionTarget::Identifier {
                        kind: self
                            .schema
                            .kind(*kind)
                            .map_or_else(String::new, |k| k.name.clone()),
                        value: value.to_string(),
                    },
                    channel: s
                        .channel
                        .and_then(|c| self.schema.channel(c))
                        .map(|d| d.name.clone()),
                    reason: s.reason.to_string(),
                    at: s.at,
                })
            })
            .collect()
    }

    /// The privacy index holds exactly each live profile's row, and nothing for others.
    pub(crate) fn check_privacy(&self) -> Result<(), String> {
        for (id, profile) in self.profiles.iter_live() {
            let expected = self.privacy_row(profile);
            let got = crate::index::privacy::normalized(self.privacy_index.row(id));
            if expected != got {
                return Err(format!(
                    "{id}: privacy index {got:?}, expected {expected:?}"
                ));
            }
            if profile.privacy.as_ref().is_some_and(|p| p.is_empty()) {
                return Err(format!("{id}: empty privacy part kept"));
            }
            let suppressions = profile
                .privacy
                .as_deref()
                .map_or(&[][..], |p| &p.suppressions);
            for s in suppressions {
                let holder = s
                    .anchor
                    .and_then(|rid| self.log.get(rid))
                    .and_then(|r| self.profiles.resolve(r.profile));
                if s.anchor.is_some() && holder != Some(id) {
                    return Err(format!(
                        "{id}: suppression anchored in {:?}, a record it does not hold",
                        s.anchor
                    ));
                }
            }
            let held = profile
                .privacy
                .as_deref()
                .map_or(&[][..], |p| &p.restrictions);
            if held != self.canonical_restrictions(profile).as_slice() {
                return Err(format!(
                    "{id}: merge restrictions differ from the records' own"
                ));
            }
        }
        for id in &self.privacy_index.profiles() {
            if self.profiles.get(ProfileId(id)).is_none() {
                return Err(format!("p{id} is in the privacy index but not live"));
            }
        }
        if self
            .suppressed_ids
            .values()
            .any(|values| values.is_empty() || values.values().any(Vec::is_empty))
        {
            return Err("an identifier suppression list entry is empty".into());
        }
        Ok(())
    }
}
