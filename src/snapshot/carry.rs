//! A snapshot state carried over to a new schema, by name: the data side of
//! [`crate::Engine::change_schema`].
//!
//! Every schema list is matched by name. Kept items get their new positions (and the
//! tables sorted by them are sorted again); data of removed traits, event kinds and
//! properties is dropped and counted; events a new retention no longer keeps are
//! dropped; RFM runs of removed or changed models are dropped. What would change
//! identity (identifier kinds in use) or lose evidence (sources, purposes and channels
//! in use) is refused. Computed-trait state is cleared, for the restore to recompute
//! from the events, unless nothing it depends on changed ([`keeps_computed`]).

use std::collections::HashMap;

use crate::engine::SchemaItem;
use crate::error::SchemaChangeError;
use crate::schema::{PropertyType, Schema, SchemaDef};
use crate::snapshot::{ProfileSlot, PropertyEntry, State};

/// What carrying the state over dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Dropped {
    pub(crate) observations: usize,
    pub(crate) events: usize,
    pub(crate) expired_events: usize,
    pub(crate) property_values: usize,
    pub(crate) rfm_runs: usize,
}

/// Positions by name.
fn positions<'a>(names: impl Iterator<Item = &'a String>) -> HashMap<&'a str, u16> {
    names
        .enumerate()
        .map(|(i, n)| (n.as_str(), u16::try_from(i).unwrap_or(u16::MAX)))
        .collect()
}

/// For each old position, the new one (`None`: removed).
fn mapping<'a>(
    old: impl Iterator<Item = &'a String>,
    new: impl Iterator<Item = &'a String>,
) -> Vec<Option<u16>> {
    let new = positions(new);
    old.map(|n| new.get(n.as_str()).copied()).collect()
}

fn at(map: &[Option<u16>], old: u16) -> Option<u16> {
    map.get(usize::from(old)).copied().flatten()
}

fn bump(counts: &mut [usize], i: u16) {
    if let Some(c) = counts.get_mut(usize::from(i)) {
        *c += 1;
    }
}

/// The maps from old to new positions.
struct Maps {
    kinds: Vec<Option<u16>>,
    sources: Vec<Option<u16>>,
    traits: Vec<Option<u16>>,
    events: Vec<Option<u16>>,
    /// Per old event kind, per old property position.
    properties: Vec<Vec<Option<u16>>>,
    purposes: Vec<Option<u16>>,
    channels: Vec<Option<u16>>,
}

impl Maps {
    fn new(old: &SchemaDef, new: &SchemaDef) -> Maps {
        let new_kinds = positions(new.event_kinds.iter().map(|k| &k.name));
        let properties = old
            .event_kinds
            .iter()
            .map(|k| {
                let target = new_kinds
                    .get(k.name.as_str())
                    .and_then(|&i| new.event_kinds.get(usize::from(i)));
                match target {
                    None => vec![None; k.properties.len()],
                    Some(t) => mapping(
                        k.properties.iter().map(|p| &p.name),
                        t.properties.iter().map(|p| &p.name),
                    ),
                }
            })
            .collect();
        Maps {
            kinds: mapping(
                old.identifier_kinds.iter().map(|k| &k.name),
                new.identifier_kinds.iter().map(|k| &k.name),
            ),
            sources: mapping(
                old.sources.iter().map(|s| &s.name),
                new.sources.iter().map(|s| &s.name),
            ),
            traits: mapping(
                old.traits.iter().map(|t| &t.name),
                new.traits.iter().map(|t| &t.name),
            ),
            events: mapping(
                old.event_kinds.iter().map(|k| &k.name),
                new.event_kinds.iter().map(|k| &k.name),
            ),
            properties,
            purposes: mapping(
                old.purposes.iter().map(|p| &p.name),
                new.purposes.iter().map(|p| &p.name),
            ),
            channels: mapping(
                old.channels.iter().map(|c| &c.name),
                new.channels.iter().map(|c| &c.name),
            ),
        }
    }
}

/// How often each schema item is referred to by the state.
#[derive(Default)]
struct Uses {
    kinds: Vec<usize>,
    sources: Vec<usize>,
    traits: Vec<usize>,
    purposes: Vec<usize>,
    channels: Vec<usize>,
    /// Per (old kind, old position): events carrying it, and negative values.
    properties: HashMap<(u16, u16), (usize, usize)>,
}

impl Uses {
    fn of(state: &State, old: &SchemaDef) -> Uses {
        let mut u = Uses {
            kinds: vec![0; old.identifier_kinds.len()],
            sources: vec![0; old.sources.len()],
            traits: vec![0; old.traits.len()],
            purposes: vec![0; old.purposes.len()],
            channels: vec![0; old.channels.len()],
            properties: HashMap::new(),
        };
        for i in &state.identifiers {
            bump(&mut u.kinds, i.kind);
        }
        for s in &state.identifier_suppressions {
            bump(&mut u.kinds, s.kind);
            for e in &s.suppressions {
                if let Some(c) = e.channel {
                    bump(&mut u.channels, c);
                }
            }
        }
        for (k, _) in &state.blocked {
            bump(&mut u.kinds, *k);
        }
        for e in &state.split_log {
            bump(&mut u.kinds, e.kind);
        }
        for r in state.records.iter().flatten() {
            bump(&mut u.sources, r.source);
        }
        for slot in &state.profiles {
            let ProfileSlot::Live(p) = slot else { continue };
            for t in &p.traits {
                for o in &t.observations {
                    bump(&mut u.traits, t.id);
                    bump(&mut u.sources, o.source);
                }
            }
            for s in &p.consent {
                bump(&mut u.sources, s.source);
                bump(&mut u.purposes, s.purpose);
                if let Some(c) = s.channel {
                    bump(&mut u.channels, c);
                }
            }
            for r in &p.restrictions {
                bump(&mut u.purposes, r.purpose);
                bump(&mut u.channels, r.channel);
            }
            for s in &p.suppressions {
                if let Some(c) = s.channel {
                    bump(&mut u.channels, c);
                }
            }
        }
        let c = &state.events;
        let mut next = 0usize;
        for (j, &kind) in c.kind.iter().enumerate() {
            let n = c.properties.get(j).copied().map_or(0, usize::from);
            for k in next..next + n {
                if let (Some(&pos), Some(v)) = (c.property_position.get(k), c.property_value.get(k))
                {
                    let e = u.properties.entry((kind, pos)).or_default();
                    e.0 += 1;
                    let negative = match v {
                        PropertyEntry::Integer(i) => *i < 0,
                        PropertyEntry::Money(m) => m.minor < 0,
                        _ => false,
                    };
                    e.1 += usize::from(negative);
                }
            }
            next += n;
        }
        u
    }
}

/// Refuses a change that conflicts with the data `uses` counts.
fn check(old: &SchemaDef, new: &Schema, maps: &Maps, uses: &Uses) -> Result<(), SchemaChangeError> {
    let new_def = new.def();
    for (i, k) in old.identifier_kinds.iter().enumerate() {
        let n = uses.kinds.get(i).copied().unwrap_or(0);
        if n == 0 {
            continue;
        }
        let change = match maps.kinds.get(i).copied().flatten() {
            None => Some("removed"),
            Some(j) => (new_def.identifier_kinds.get(usize::from(j)) != Some(k))
                .then_some("given other rules"),
        };
        if let Some(change) = change {
            return Err(SchemaChangeError::IdentifierKindInUse {
                kind: k.name.clone(),
                change,
                uses: n,
            });
        }
    }
    for (i, s) in old.sources.iter().enumerate() {
        let n = uses.sources.get(i).copied().unwrap_or(0);
        if n > 0 && maps.sources.get(i).copied().flatten().is_none() {
            return Err(SchemaChangeError::SourceInUse {
                source_name: s.name.clone(),
                uses: n,
            });
        }
    }
    for (i, t) in old.traits.iter().enumerate() {
        let n = uses.traits.get(i).copied().unwrap_or(0);
        if let Some(j) = maps.traits.get(i).copied().flatten()
            && let Some(to) = new_def.traits.get(usize::from(j))
            && to.ty != t.ty
            && n > 0
        {
            return Err(SchemaChangeError::TraitTypeChanged {
                trait_name: t.name.clone(),
                from: t.ty,
                to: to.ty,
                observations: n,
            });
        }
    }
    for (&(kind, pos), &(events, negative)) in &uses.properties {
        let (Some(old_kind), Some(new_kind)) = (
            old.event_kinds.get(usize::from(kind)),
            at(&maps.events, kind).and_then(|k| new_def.event_kinds.get(usize::from(k))),
        ) else {
            continue;
        };
        let new_pos = maps
            .properties
            .get(usize::from(kind))
            .and_then(|m| at(m, pos));
        let (Some(from), Some(to)) = (
            old_kind.properties.get(usize::from(pos)),
            new_pos.and_then(|p| new_kind.properties.get(usize::from(p))),
        ) else {
            continue;
        };
        if from.ty != to.ty {
            return Err(SchemaChangeError::PropertyTypeChanged {
                kind: old_kind.name.clone(),
                property: from.name.clone(),
                from: from.ty,
                to: to.ty,
                events,
            });
        }
        if to.non_negative
            && negative > 0
            && matches!(to.ty, PropertyType::Integer | PropertyType::Money)
        {
            return Err(SchemaChangeError::DataConflict(format!(
                "property {:?} of event kind {:?} cannot become non-negative: {negative} negative values are held",
                from.name, old_kind.name
            )));
        }
    }
    let consent = [
        (&maps.purposes, &uses.purposes, true),
        (&maps.channels, &uses.channels, false),
    ];
    for (map, counts, purpose) in consent {
        for (i, &n) in counts.iter().enumerate() {
            if n > 0 && map.get(i).copied().flatten().is_none() {
                let name = if purpose {
                    old.purposes
                        .get(i)
                        .map(|p| SchemaItem::Purpose(p.name.clone()))
                } else {
                    old.channels
                        .get(i)
                        .map(|c| SchemaItem::Channel(c.name.clone()))
                };
                if let Some(item) = name {
                    return Err(SchemaChangeError::ConsentInUse { item, uses: n });
                }
            }
        }
    }
    Ok(())
}

/// Whether the computed-trait state of schema `old` is still right under `new`: the
/// same computed traits over the same event kinds (with the same properties and
/// retention), and every old trait at its old position (habits read time zones by it).
pub(crate) fn keeps_computed(old: &SchemaDef, new: &SchemaDef) -> bool {
    old.computed == new.computed
        && old.event_kinds == new.event_kinds
        && old.traits.len() <= new.traits.len()
        && old
            .traits
            .iter()
            .zip(&new.traits)
            .all(|(a, b)| a.name == b.name)
}

/// `state` (of schema `old`) carried over to schema `new`, or why it cannot be.
pub(crate) fn carry(
    mut state: State,
    old: &Schema,
    new: &Schema,
) -> Result<(State, Dropped), SchemaChangeError> {
    let keep_computed = keeps_computed(old.def(), new.def());
    let old_def = old.def();
    let maps = Maps::new(old_def, new.def());
    check(old_def, new, &maps, &Uses::of(&state, old_def))?;
    let mut dropped = Dropped::default();
    // Identifiers: kinds renumbered, the table sorted again, references remapped.
    let kind_of = |k: u16| at(&maps.kinds, k).unwrap_or(u16::MAX);
    for i in &mut state.identifiers {
        i.kind = kind_of(i.kind);
    }
    let mut order: Vec<usize> = (0..state.identifiers.len()).collect();
    order.sort_by(|&a, &b| {
        let key = |i: usize| state.identifiers.get(i).map(|e| (e.kind, e.value.as_str()));
        key(a).cmp(&key(b))
    });
    let mut new_pos = vec![0u32; order.len()];
    for (to, &from) in order.iter().enumerate() {
        if let Some(slot) = new_pos.get_mut(from) {
            *slot = u32::try_from(to).unwrap_or(u32::MAX);
        }
    }
    let mut taken: Vec<Option<_>> = std::mem::take(&mut state.identifiers)
        .into_iter()
        .map(Some)
        .collect();
    state.identifiers = order
        .iter()
        .filter_map(|&i| taken.get_mut(i).and_then(Option::take))
        .collect();
    let pos = |p: u32| new_pos.get(p as usize).copied().unwrap_or(u32::MAX);
    for r in state.records.iter_mut().flatten() {
        r.source = at(&maps.sources, r.source).unwrap_or(u16::MAX);
        for (p, _) in &mut r.identifiers {
            *p = pos(*p);
        }
    }
    for m in &mut state.merges {
        m.cause = pos(m.cause);
    }
    for s in &mut state.identifier_suppressions {
        s.kind = kind_of(s.kind);
        for e in &mut s.suppressions {
            e.channel = e.channel.map(|c| at(&maps.channels, c).unwrap_or(u16::MAX));
        }
        s.suppressions.sort();
    }
    state
        .identifier_suppressions
        .sort_by(|a, b| (a.kind, &a.value).cmp(&(b.kind, &b.value)));
    for (k, _) in &mut state.blocked {
        *k = kind_of(*k);
    }
    state.blocked.sort();
    for e in &mut state.split_log {
        e.kind = kind_of(e.kind);
    }
    carry_profiles(&mut state, &maps, keep_computed, &mut dropped);
    carry_events(&mut state, &maps, new, &mut dropped);
    // RFM runs: kept only for models whose definition is unchanged.
    let old_runs = std::mem::take(&mut state.rfm_runs);
    let mut runs_by_name: HashMap<&str, [Option<crate::rfm::RfmRun>; 2]> = HashMap::new();
    for (model, runs) in old_def.rfm_models.iter().zip(old_runs) {
        let kept = new.def().rfm_models.iter().any(|m| m == model);
        if kept {
            runs_by_name.insert(model.name.as_str(), runs);
        } else {
            dropped.rfm_runs += runs.iter().flatten().count();
        }
    }
    state.rfm_runs = new
        .def()
        .rfm_models
        .iter()
        .map(|m| runs_by_name.remove(m.name.as_str()).unwrap_or([None, None]))
        .collect();
    state.schema = new.def().clone();
    Ok((state, dropped))
}

/// Traits, consent and suppressions of every live profile; computed state cleared
/// unless kept.
fn carry_profiles(state: &mut State, maps: &Maps, keep_computed: bool, dropped: &mut Dropped) {
    for slot in &mut state.profiles {
        let ProfileSlot::Live(p) = slot else { continue };
        p.traits.retain_mut(|t| match at(&maps.traits, t.id) {
            Some(id) => {
                t.id = id;
                true
            }
            None => {
                dropped.observations += t.observations.len();
                false
            }
        });
        p.traits.sort_by_key(|t| t.id);
        for t in &mut p.traits {
            for o in &mut t.observations {
                o.source = at(&maps.sources, o.source).unwrap_or(u16::MAX);
            }
        }
        for s in &mut p.consent {
            s.source = at(&maps.sources, s.source).unwrap_or(u16::MAX);
            s.purpose = at(&maps.purposes, s.purpose).unwrap_or(u16::MAX);
            s.channel = s.channel.map(|c| at(&maps.channels, c).unwrap_or(u16::MAX));
        }
        for r in &mut p.restrictions {
            r.purpose = at(&maps.purposes, r.purpose).unwrap_or(u16::MAX);
            r.channel = at(&maps.channels, r.channel).unwrap_or(u16::MAX);
        }
        for s in &mut p.suppressions {
            s.channel = s.channel.map(|c| at(&maps.channels, c).unwrap_or(u16::MAX));
        }
        p.suppressions.sort();
        if !keep_computed {
            p.computed.clear();
            p.due = None;
        }
    }
}

/// The event columns with removed kinds, removed properties and events past a new
/// retention dropped, kinds and properties renumbered; texts no event holds any more
/// dropped.
fn carry_events(state: &mut State, maps: &Maps, new: &Schema, dropped: &mut Dropped) {
    let c = std::mem::take(&mut state.events);
    let mut out = crate::snapshot::EventColumns::default();
    let now = state.clock;
    let (mut j, mut k) = (0usize, 0usize);
    for slot in &mut state.profiles {
        let ProfileSlot::Live(p) = slot else { continue };
        let mut kept = 0u32;
        for _ in 0..p.events {
            let (Some(&at_ms), Some(&record), Some(&seq), Some(&kind), Some(&n)) = (
                c.at.get(j),
                c.record.get(j),
                c.seq.get(j),
                c.kind.get(j),
                c.properties.get(j),
            ) else {
                return;
            };
            j += 1;
            let props = k..k + usize::from(n);
            k += usize::from(n);
            let Some(new_kind) = at(&maps.events, kind) else {
                dropped.events += 1;
                continue;
            };
            let expired = now.is_some_and(|now| {
                new.event_kind_retention(crate::ids::EventKindId(new_kind))
                    .is_some_and(|keep| at_ms < now.0.saturating_sub(keep))
            });
            if expired {
                dropped.expired_events += 1;
                continue;
            }
            let positions = maps.properties.get(usize::from(kind));
            let mut values: Vec<(u16, PropertyEntry)> = props
                .filter_map(|i| {
                    let pos = *c.property_position.get(i)?;
                    let value = *c.property_value.get(i)?;
                    match positions.and_then(|m| at(m, pos)) {
                        Some(p) => Some((p, value)),
                        None => {
                            dropped.property_values += 1;
                            None
                        }
                    }
                })
                .collect();
            values.sort_by_key(|(p, _)| *p);
            out.at.push(at_ms);
            out.record.push(record);
            out.seq.push(seq);
            out.kind.push(new_kind);
            out.properties
                .push(u8::try_from(values.len()).unwrap_or(u8::MAX));
            for (p, v) in values {
                out.property_position.push(p);
                out.property_value.push(v);
            }
            kept += 1;
        }
        p.events = kept;
    }
    // Texts still held, renumbered in their sorted order.
    let mut held = vec![false; state.texts.len()];
    for v in &out.property_value {
        if let PropertyEntry::Text(t) = v
            && let Some(h) = held.get_mut(*t as usize)
        {
            *h = true;
        }
    }
    let mut renumber = vec![u32::MAX; held.len()];
    let mut texts = Vec::new();
    for (i, (text, keep)) in std::mem::take(&mut state.texts)
        .into_iter()
        .zip(&held)
        .enumerate()
    {
        if *keep {
            if let Some(slot) = renumber.get_mut(i) {
                *slot = u32::try_from(texts.len()).unwrap_or(u32::MAX);
            }
            texts.push(text);
        }
    }
    for v in &mut out.property_value {
        if let PropertyEntry::Text(t) = v {
            *t = renumber.get(*t as usize).copied().unwrap_or(u32::MAX);
        }
    }
    state.texts = texts;
    state.events = out;
}
