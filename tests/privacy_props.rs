//! The privacy invariants over random histories with merges: an activation never holds a
//! profile without consent for the purpose on the channel, nor a profile suppressed there,
//! nor a suppressed address; it is a subset of its audience and its counts add up; and
//! every consent state equals a plain model of the rules fed the same records.

use std::collections::{BTreeMap, HashMap};

use audience::{ActivationOptions, AddressHash, Engine, ProfileId, SuppressionTarget, Timestamp};
use proptest::prelude::*;

use crate::common::t;
use crate::segments_props::{CHANNELS, PURPOSES, expr, ingest_person, person, test_schema};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::common::cases()))]

    #[test]
    fn activations_hold_only_consented_unsuppressed_people_and_addresses(
        people in prop::collection::vec(person(), 1..30),
        audience in expr(),
        purpose in prop::sample::select(PURPOSES.to_vec()),
        channel in prop::sample::select(CHANNELS.to_vec()),
        all_addresses in any::<bool>(),
    ) {
        let mut e = Engine::new(test_schema());
        e.advance_time(t(35 * 86_400)).unwrap();
        for (i, p) in people.iter().enumerate() {
            ingest_person(&mut e, i, p);
        }
        e.score_rfm("classic", t(35 * 86_400)).unwrap();
        e.register_segment("danes", audience::segment::trait_("country").eq("DK")).unwrap();
        e.internal_validate().map_err(TestCaseError::fail)?;
        let options = ActivationOptions { all_addresses, hash: AddressHash::Plain };
        let a = e.activate(&audience, purpose, channel, options).unwrap();
        let members = e.members(&e.compile(&audience).unwrap()).unwrap();
        prop_assert_eq!(a.audience(), members.len());
        prop_assert_eq!(
            a.audience(),
            a.len() as u64 + a.removed().no_consent + a.removed().suppressed + a.removed().no_address
        );
        let address_kind = e.schema().def().channels.iter()
            .find(|c| c.name == channel).and_then(|c| c.address_kind.clone());
        let mut last = None;
        for m in a.members() {
            prop_assert!(members.contains(m.profile.0), "{} is not in the audience", m.profile);
            prop_assert!(last < Some(m.profile), "members out of order");
            last = Some(m.profile);
            prop_assert!(e.consent(m.profile, purpose, channel).unwrap().granted);
            let suppressions = e.suppressions(m.profile).unwrap();
            let applies = |c: &Option<String>| c.as_deref().is_none_or(|c| c == channel);
            prop_assert!(!suppressions.iter().any(|s| matches!(s.target, SuppressionTarget::Profile(_)) && applies(&s.channel)));
            let view = e.profile(m.profile).unwrap();
            let mut usable: Vec<(Timestamp, String)> = view.identifiers.iter()
                .filter(|i| Some(&i.kind) == address_kind.as_ref())
                .filter(|i| !suppressions.iter().any(|s| applies(&s.channel) && s.target == SuppressionTarget::Identifier { kind: i.kind.clone(), value: i.value.clone() }))
                .map(|i| (i.last_seen, i.value.clone()))
                .collect();
            usable.sort_by(|x, y| y.0.cmp(&x.0).then_with(|| x.1.cmp(&y.1)));
            let mut expected: Vec<String> = usable.into_iter().map(|(_, v)| v).collect();
            if !all_addresses {
                expected.truncate(1);
            }
            let got: Vec<String> = m.addresses().map(str::to_string).collect();
            match &address_kind {
                Some(_) => prop_assert_eq!(&got, &expected),
                None => prop_assert!(got.is_empty()),
            }
        }
    }

    #[test]
    fn consent_states_follow_the_rules(people in prop::collection::vec(person(), 1..40)) {
        let mut e = Engine::new(test_schema());
        let mut model = Model::default();
        for (i, p) in people.iter().enumerate() {
            let before = e.merge_count();
            let Some(_) = ingest_person(&mut e, i, p) else { continue };
            // The record just ingested is the last one of the log.
            let rid = audience::RecordId(e.record_count() as u64 - 1);
            let view = e.record(rid).unwrap();
            let merges: Vec<_> = e.merge_log().into_iter().skip(before).collect();
            model.apply(&e, rid, view.at, view.profile, &merges);
        }
        e.internal_validate().map_err(TestCaseError::fail)?;
        for p in e.profile_ids().collect::<Vec<_>>() {
            for purpose in PURPOSES {
                for channel in CHANNELS {
                    let expected = model.state(&e, p, purpose, channel);
                    prop_assert_eq!(
                        e.consent(p, purpose, channel).unwrap().granted, expected,
                        "{} {} {}", p, purpose, channel
                    );
                }
            }
        }
    }
}

/// One statement or restriction of the model: (time, record, purpose, channel or every
/// channel, granted). A restriction is a denial on one channel tagged `restriction`.
#[derive(Clone, Debug)]
struct Entry {
    at: Timestamp,
    record: audience::RecordId,
    purpose: String,
    channel: Option<String>,
    granted: bool,
    restriction: bool,
}

/// Per profile id, the entries of its history.
#[derive(Default)]
struct Model {
    profiles: BTreeMap<ProfileId, Vec<Entry>>,
}

impl Model {
    /// Record `rid` at `at` landed on `survivor` after `merges` (in the engine's order:
    /// retired profiles by ascending id).
    fn apply(
        &mut self,
        e: &Engine,
        rid: audience::RecordId,
        at: Timestamp,
        survivor: ProfileId,
        merges: &[audience::MergeEvent],
    ) {
        for m in merges {
            let retired = self.profiles.remove(&m.retired).unwrap_or_default();
            let mine = self.profiles.entry(survivor).or_default().clone();
            let mut joined = mine.clone();
            for purpose in PURPOSES {
                for channel in CHANNELS {
                    if decide(e, &mine, purpose, channel) != decide(e, &retired, purpose, channel) {
                        joined.push(Entry {
                            at,
                            record: rid,
                            purpose: purpose.into(),
                            channel: Some(channel.into()),
                            granted: false,
                            restriction: true,
                        });
                    }
                }
            }
            joined.extend(retired);
            self.profiles.insert(survivor, joined);
        }
        let entries = self.profiles.entry(survivor).or_default();
        for s in e
            .profile(survivor)
            .unwrap()
            .consent_history
            .into_iter()
            .filter(|s| s.record == rid)
        {
            entries.push(Entry {
                at: s.at,
                record: s.record,
                purpose: s.purpose,
                channel: s.channel,
                granted: s.granted,
                restriction: false,
            });
        }
    }

    fn state(&self, e: &Engine, p: ProfileId, purpose: &str, channel: &str) -> bool {
        decide(
            e,
            self.profiles.get(&p).map_or(&[][..], Vec::as_slice),
            purpose,
            channel,
        )
    }
}

/// The rules, as written: among the entries for (purpose, channel) — statements for that
/// channel or every channel, and restrictions — the latest time decides: a denial
/// statement then denies; a restriction then denies unless its merging record made a
/// statement then; otherwise it is granted. With no entry, the purpose's default.
fn decide(e: &Engine, entries: &[Entry], purpose: &str, channel: &str) -> bool {
    let relevant: Vec<&Entry> = entries
        .iter()
        .filter(|x| x.purpose == purpose && x.channel.as_deref().is_none_or(|c| c == channel))
        .collect();
    let Some(latest) = relevant.iter().map(|x| x.at).max() else {
        let def = e
            .schema()
            .def()
            .purposes
            .iter()
            .find(|p| p.name == purpose)
            .unwrap();
        return def.default == audience::schema::ConsentDefault::OptOut;
    };
    let at_latest: Vec<&&Entry> = relevant.iter().filter(|x| x.at == latest).collect();
    let statements: HashMap<audience::RecordId, ()> = at_latest
        .iter()
        .filter(|x| !x.restriction)
        .map(|x| (x.record, ()))
        .collect();
    if at_latest.iter().any(|x| !x.restriction && !x.granted) {
        return false;
    }
    !at_latest
        .iter()
        .any(|x| x.restriction && !statements.contains_key(&x.record))
}
