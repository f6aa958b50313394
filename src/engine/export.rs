//! `Engine::export`: everything held about a person, for access and portability requests.

use crate::engine::Engine;
use crate::error::PrivacyError;
use crate::privacy::{
    IdentifierRecords, Membership, ProfileExport, RestrictionView, RfmExport, Subject,
};

impl Engine {
    /// Everything the engine holds about the person `who` names (GDPR articles 15 and 20):
    /// identifiers with the records that carried them, every trait observation with its
    /// source and time, every record, event and computed value, the consent history and
    /// its merge restrictions, suppressions, segment memberships with entry times, merges,
    /// and RFM scores and trends. Serialize it with serde for a machine-readable copy.
    ///
    /// ```
    /// use audience::{Engine, Record, Schema, Subject, Timestamp};
    /// let mut engine = Engine::new(Schema::retail_default());
    /// let t = Timestamp::from_secs(1_700_000_000)?;
    /// engine.ingest(&Record::builder(t, "crm")
    ///     .identifier("email", "ann@example.com")
    ///     .trait_value("country", "DE")
    ///     .build())?;
    /// let export = engine.export(Subject::Identifier { kind: "email", value: "ann@example.com" })?;
    /// assert_eq!(export.records.len(), 1);
    /// let json = serde_json::to_string(&export).expect("an export serializes");
    /// assert!(json.contains("ann@example.com"));
    /// # Ok::<(), audience::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Engine::erase`] for the subject.
    pub fn export<'a>(&self, who: impl Into<Subject<'a>>) -> Result<ProfileExport, PrivacyError> {
        let live = self.subject_profile(who.into())?;
        let view = self
            .profile(live)
            .map_err(|_| PrivacyError::UnknownProfile(live))?;
        let Some(profile) = self.profiles.get(live) else {
            return Err(PrivacyError::UnknownProfile(live));
        };
        let ids = self.ids_of(live);
        let records = view
            .records
            .iter()
            .filter_map(|r| self.record(*r))
            .collect();
        let mut identifier_records = profile
            .identifiers
            .iter()
            .filter_map(|l| {
                let e = self.graph.entry(l.ident)?;
                let mut records: Vec<_> = self.records_linking(profile, l.ident).collect();
                records.sort_unstable();
                Some(IdentifierRecords {
                    kind: self.schema.kind(e.kind)?.name.clone(),
                    value: e.value.to_string(),
                    records,
                })
            })
            .collect::<Vec<_>>();
        // The profile view's order, so an export never depends on the order identifiers
        // were linked or restored in.
        identifier_records.sort_by(|a, b| (&a.kind, &a.value).cmp(&(&b.kind, &b.value)));
        let merges = self
            .merge_log()
            .into_iter()
            .filter(|m| ids.contains(&m.retired))
            .collect();
        let consent_restrictions = profile
            .privacy
            .iter()
            .flat_map(|p| &p.restrictions)
            .map(|r| RestrictionView {
                purpose: self
                    .schema
                    .purpose(r.purpose)
                    .map_or_else(String::new, |d| d.name.clone()),
                channel: self
                    .schema
                    .channel(r.channel)
                    .map_or_else(String::new, |d| d.name.clone()),
                at: r.at,
                record: r.record,
            })
            .collect();
        let segments = self
            .segments
            .registered()
            .filter_map(|(i, s)| {
                Some(Membership {
                    segment: crate::ids::SegmentId(u32::try_from(i).ok()?),
                    name: s.name.clone(),
                    entered_at: s.entered_at(live.0)?,
                })
            })
            .collect();
        let rfm = self
            .schema
            .def()
            .rfm_models
            .iter()
            .enumerate()
            .map(|(i, m)| RfmExport {
                model: m.name.clone(),
                latest: self.run_score(i, false, live),
                previous: self.run_score(i, true, live),
                trend: self.trend(i, live),
                label: self
                    .rfm_label(&m.name, live)
                    .ok()
                    .flatten()
                    .map(str::to_string),
            })
            .collect();
        Ok(ProfileExport {
            profile: view,
            profile_ids: ids,
            records,
            identifier_records,
            merges,
            consent_restrictions,
            segments,
            rfm,
        })
    }
}

#[cfg(all(test, feature = "workload"))]
mod tests {
    use crate::privacy::consent::Privacy;
    use crate::profile::Profile;
    use crate::workload::shop::{ShopParams, generate};
    use crate::{Engine, Schema};

    /// Every field of a profile's state appears in its export: the destructuring below
    /// names each field, so a field added later does not compile until this test (and
    /// the export) covers it.
    #[test]
    fn every_field_of_a_profile_appears_in_its_export() {
        let mut e = Engine::new(Schema::retail_default_in(
            crate::Currency::new("EUR").unwrap(),
        ));
        for r in generate(&ShopParams {
            people: 300,
            seed: 5,
        }) {
            if e.now().is_none_or(|now| now < r.timestamp) {
                e.advance_time(r.timestamp).unwrap();
            }
            e.ingest(&r).unwrap();
        }
        let now = e.now().unwrap();
        e.score_rfm("classic", now.checked_add_days(-30).unwrap())
            .unwrap();
        e.score_rfm("classic", now).unwrap();
        e.register_segment("all", crate::segment::Expr::All)
            .unwrap();
        // The richest profile: most records, with consent, a suppression and events.
        let p = e
            .profile_ids()
            .filter(|&p| {
                e.profiles
                    .get(p)
                    .is_some_and(|x| x.privacy.is_some() && !x.events.is_empty())
            })
            .max_by_key(|&p| e.profiles.get(p).map_or(0, |x| x.records.len()))
            .unwrap();
        e.suppress_profile(p, crate::Suppression::new("test", now))
            .unwrap();
        let export = e.export(p).unwrap();
        let profile = e.profiles.get(p).unwrap().clone();
        let Profile {
            identifiers,
            records,
            traits,
            events,
            computed,
            privacy,
        } = profile;
        assert_eq!(export.profile.identifiers.len(), identifiers.len());
        assert_eq!(export.identifier_records.len(), identifiers.len());
        assert_eq!(export.records.len(), records.len());
        assert_eq!(export.profile.records.len(), records.len());
        assert_eq!(export.profile.traits.len(), traits.len());
        let observations: usize = traits.iter().map(|t| t.observations.len()).sum();
        assert_eq!(
            export
                .profile
                .traits
                .iter()
                .map(|t| t.observations.len())
                .sum::<usize>(),
            observations
        );
        assert_eq!(export.profile.events.len(), events.len());
        assert_eq!(
            export.profile.computed.len(),
            e.schema.computed_rules().len()
        );
        assert!(computed.is_empty() || !export.profile.computed.is_empty());
        let Privacy {
            statements,
            restrictions,
            suppressions,
        } = *privacy.unwrap();
        assert_eq!(export.profile.consent_history.len(), statements.len());
        assert_eq!(export.consent_restrictions.len(), restrictions.len());
        assert_eq!(export.profile.suppressions.len(), suppressions.len());
        assert_eq!(export.segments.len(), 1);
        assert!(
            export
                .rfm
                .iter()
                .any(|r| r.latest.is_some() && r.previous.is_some())
        );
        assert_eq!(export.profile_ids, e.ids_of(p));
        assert!(serde_json::to_string(&export).is_ok());
    }
}
