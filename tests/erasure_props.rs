//! The erasure proof: for random histories (merges, consent, suppressions, registered
//! segments), erasing a person and then taking a snapshot gives — modulo profile and
//! record id numbering, and leaving out stored RFM runs and the change queue — the
//! snapshot of an engine fed the same calls minus that person's records; and no bitmap
//! holds an erased id.

use std::collections::{BTreeMap, BTreeSet};

use audience::snapshot::{ProfileSlot, PropertyEntry, State};
use audience::{Engine, ErasureOptions, ProfileId, RecordId, Timestamp, Value};
use proptest::prelude::*;

use crate::common::t;
use crate::segments_props::{Person, expr, ingest_record, person, suppress_person, test_schema};

type Ident = (u16, String);
/// A record: time, source, message id, identifiers with their status, profile.
type CanonicalRecord = (Timestamp, u16, Option<String>, Vec<(Ident, String)>, usize);
/// An observation: value, source, time, record.
type CanonicalObservation = (Value, u16, Timestamp, usize);
/// An event: time, record, position, kind, properties.
type CanonicalEvent = (i64, usize, u32, u16, Vec<(u16, String)>);
/// A statement: time, record, source, purpose, channel, granted, proof.
type CanonicalStatement = (
    Timestamp,
    usize,
    u16,
    u16,
    Option<u16>,
    bool,
    Option<String>,
);

/// A snapshot's state with ids replaced by what they stand for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Canonical {
    clock: Option<Timestamp>,
    records: Vec<CanonicalRecord>,
    identifiers: Vec<(Ident, usize, Option<usize>)>,
    profiles: Vec<CanonicalProfile>,
    /// (record, the profile it made): which side survives, and so which identifier is
    /// named as the cause, depends on id numbering.
    merges: Vec<(usize, usize)>,
    dedup: Vec<(String, Timestamp, usize)>,
    dedup_latest: Option<Timestamp>,
    segments: Vec<Option<String>>,
    identifier_suppressions: usize,
}

#[derive(Debug, PartialEq, Eq)]
struct CanonicalProfile {
    identifiers: Vec<(Ident, Timestamp)>,
    records: Vec<usize>,
    traits: Vec<(u16, Vec<CanonicalObservation>)>,
    events: Vec<CanonicalEvent>,
    consent: Vec<CanonicalStatement>,
    restrictions: Vec<(Timestamp, usize, u16, u16)>,
    suppressions: Vec<(Option<u16>, Timestamp, String)>,
    computed: Vec<String>,
    due: Option<Timestamp>,
}

pub(crate) fn canonical(s: &State) -> Canonical {
    let rank: BTreeMap<u64, usize> = s
        .records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_some())
        .enumerate()
        .map(|(rank, (id, _))| (id as u64, rank))
        .collect();
    let r = |id: u64| rank[&id];
    let ident = |pos: u32| {
        let e = &s.identifiers[pos as usize];
        (e.kind, e.value.clone())
    };
    // Live profiles by their first record.
    let resolve = |mut p: u32| loop {
        match &s.profiles[p as usize] {
            ProfileSlot::Retired(into) => p = *into,
            _ => break p,
        }
    };
    let mut live: Vec<(usize, u32)> = s
        .profiles
        .iter()
        .enumerate()
        .filter_map(|(i, slot)| match slot {
            ProfileSlot::Live(p) => Some((r(p.records[0]), i as u32)),
            _ => None,
        })
        .collect();
    live.sort_unstable();
    let canon: BTreeMap<u32, usize> = live
        .iter()
        .enumerate()
        .map(|(c, &(_, id))| (id, c))
        .collect();
    let of = |p: u32| canon[&resolve(p)];
    let mut profiles: Vec<(usize, CanonicalProfile)> = Vec::new();
    let mut offset = 0usize;
    let mut prop_offset = 0usize;
    for (i, slot) in s.profiles.iter().enumerate() {
        let ProfileSlot::Live(p) = slot else { continue };
        let ev = &s.events;
        let mut events = Vec::new();
        for j in offset..offset + p.events as usize {
            let n = ev.properties[j] as usize;
            let props = (prop_offset..prop_offset + n)
                .map(|k| {
                    let v = match ev.property_value[k] {
                        PropertyEntry::Text(t) => s.texts[t as usize].clone(),
                        other => format!("{other:?}"),
                    };
                    (ev.property_position[k], v)
                })
                .collect();
            prop_offset += n;
            events.push((ev.at[j], r(ev.record[j]), ev.seq[j], ev.kind[j], props));
        }
        offset += p.events as usize;
        let mut identifiers: Vec<(Ident, Timestamp)> = p
            .identifiers
            .iter()
            .map(|&(pos, seen)| (ident(pos), seen))
            .collect();
        identifiers.sort();
        profiles.push((
            canon[&(i as u32)],
            CanonicalProfile {
                identifiers,
                records: p.records.iter().map(|&x| r(x)).collect(),
                traits: p
                    .traits
                    .iter()
                    .map(|t| {
                        let mut o: Vec<_> = t
                            .observations
                            .iter()
                            .map(|o| (o.value.clone(), o.source, o.at, r(o.record)))
                            .collect();
                        o.sort();
                        (t.id, o)
                    })
                    .collect(),
                events,
                consent: p
                    .consent
                    .iter()
                    .map(|c| {
                        (
                            c.at,
                            r(c.record),
                            c.source,
                            c.purpose,
                            c.channel,
                            c.granted,
                            c.proof.clone(),
                        )
                    })
                    .collect(),
                restrictions: p
                    .restrictions
                    .iter()
                    .map(|x| (x.at, r(x.record), x.purpose, x.channel))
                    .collect(),
                suppressions: p
                    .suppressions
                    .iter()
                    .map(|x| (x.channel, x.at, x.reason.clone()))
                    .collect(),
                computed: p
                    .computed
                    .iter()
                    .map(|c| match c {
                        audience::snapshot::ComputedEntry::Pick(Some((at, rec, seq))) => {
                            format!("pick {at} {} {seq}", r(*rec))
                        }
                        other => format!("{other:?}"),
                    })
                    .collect(),
                due: p.due,
            },
        ));
    }
    profiles.sort_by_key(|(c, _)| *c);
    let mut merges: Vec<(usize, usize)> = s
        .merges
        .iter()
        .map(|m| (r(m.record), of(m.survivor)))
        .collect();
    merges.sort();
    Canonical {
        clock: s.clock,
        records: s
            .records
            .iter()
            .flatten()
            .map(|x| {
                (
                    x.at,
                    x.source,
                    x.message_id.clone(),
                    x.identifiers
                        .iter()
                        .map(|&(pos, st)| (ident(pos), format!("{st:?}")))
                        .collect(),
                    of(x.profile),
                )
            })
            .collect(),
        identifiers: s
            .identifiers
            .iter()
            .map(|e| {
                (
                    (e.kind, e.value.clone()),
                    r(e.first_record),
                    e.owner.map(of),
                )
            })
            .collect(),
        profiles: profiles.into_iter().map(|(_, p)| p).collect(),
        merges,
        dedup: s
            .dedup
            .iter()
            .map(|d| (d.message_id.clone(), d.at, r(d.record)))
            .collect(),
        dedup_latest: s.dedup_latest,
        segments: s
            .segments
            .iter()
            .map(|x| x.as_ref().map(|x| x.name.clone()))
            .collect(),
        identifier_suppressions: s.identifier_suppressions.len(),
    }
}

pub(crate) fn setup(extra: &[audience::segment::Expr]) -> Engine {
    let mut e = Engine::with_config(
        test_schema(),
        audience::EngineConfig {
            future_tolerance_secs: None,
            ..Default::default()
        },
    );
    e.advance_time(t(40 * 86_400)).unwrap();
    e.register_segment("danes", audience::segment::trait_("country").eq("DK"))
        .unwrap();
    for (i, x) in extra.iter().enumerate() {
        e.register_segment(&format!("s{i}"), x.clone()).unwrap();
    }
    e
}

/// Feeds `people` (record, then suppression); returns each one's record id.
pub(crate) fn feed(e: &mut Engine, people: &[(usize, Person)]) -> Vec<(usize, Option<RecordId>)> {
    people
        .iter()
        .map(|(i, p)| {
            let before = e.record_count();
            let rid = ingest_record(e, *i, p).and_then(|profile| {
                let rid = (e.record_count() > before)
                    .then(|| e.profile(profile).ok())
                    .flatten()
                    .and_then(|v| v.records.iter().max().copied());
                suppress_person(e, *i, p, profile);
                rid
            });
            (*i, rid)
        })
        .collect()
}

/// Whether `x` reads stored RFM runs or samples keyed by profile id: both depend on what
/// the comparison leaves out (runs scored with the person, id numbering).
pub(crate) fn reads_rfm(x: &audience::segment::Expr) -> bool {
    use audience::segment::Expr;
    match x {
        Expr::Rfm(_) => true,
        Expr::Sample(s) => s.key_kind.is_none(),
        Expr::And(c) | Expr::Or(c) => c.iter().any(reads_rfm),
        Expr::Not(c) => reads_rfm(c),
        _ => false,
    }
}

fn profile_suppressions_only(mut p: Person) -> Person {
    if matches!(p.suppress, Some(crate::segments_props::Suppress::Email(_))) {
        p.suppress = None;
    }
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::common::cases()))]

    #[test]
    fn erasing_equals_never_having_seen_the_person(
        people in prop::collection::vec(person().prop_map(profile_suppressions_only), 1..30),
        extra in prop::collection::vec(expr(), 0..3),
        pick in any::<prop::sample::Index>(),
    ) {
        let people: Vec<(usize, Person)> = people.into_iter().enumerate().collect();
        let mut erased = setup(&extra);
        let fed = feed(&mut erased, &people);
        erased.score_rfm("classic", erased.now().unwrap()).unwrap();
        let live: Vec<ProfileId> = erased.profile_ids().collect();
        prop_assume!(!live.is_empty());
        let target = live[pick.index(live.len())];
        let theirs: BTreeSet<RecordId> = erased.profile(target).unwrap().records.into_iter().collect();
        let ids: Vec<ProfileId> = (0..200u32).map(ProfileId).filter(|p| erased.resolve(*p) == Ok(target)).collect();
        let receipt = erased.erase(target, ErasureOptions::default()).unwrap();
        prop_assert_eq!(&receipt.records, &theirs.iter().copied().collect::<Vec<_>>());
        erased.internal_validate().map_err(TestCaseError::fail)?;
        for (id, _) in erased.segments() {
            let members = erased.segment_members(id).unwrap();
            prop_assert!(ids.iter().all(|p| !members.contains(p.0)));
        }
        let mut never = setup(&extra);
        let without: Vec<(usize, Person)> = fed
            .iter()
            .filter(|(_, rid)| rid.is_none_or(|r| !theirs.contains(&r)))
            .map(|(i, _)| people[*i].clone())
            .collect();
        feed(&mut never, &without);
        never.score_rfm("classic", never.now().unwrap()).unwrap();
        never.internal_validate().map_err(TestCaseError::fail)?;
        prop_assert_eq!(canonical(&erased.snapshot().state), canonical(&never.snapshot().state));
        // And the segments agree (those reading RFM read runs scored with the person).
        for (id, name) in erased.segments().collect::<Vec<_>>() {
            if reads_rfm(erased.segment_expr(id).unwrap()) {
                continue;
            }
            let other = never.segment_id(name).unwrap();
            prop_assert_eq!(erased.segment_count(id).unwrap(), never.segment_count(other).unwrap(), "{}", name);
        }
    }
}
