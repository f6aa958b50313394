//! The linking rule of DESIGN.md, as a pure plan over the current graph.
//!
//! The usable identifiers of a record, ordered by (kind priority, kind name, value), are
//! visited in turn. Each is accepted unless the union of the identifiers of every profile
//! reached so far (plus the one holding it), the identifiers accepted so far and itself
//! would exceed some kind's limit; the first refusal drops it and every identifier after it.
//! The first identifier is always accepted.

use smallvec::SmallVec;

use crate::ids::{IdentId, KindId, ProfileId};
use crate::profile::ProfileStore;
use crate::schema::Schema;

/// A normalized identifier of the record being linked.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    /// Position in the record's identifier list.
    pub(crate) input: usize,
    pub(crate) kind: KindId,
    /// The normalized value: a byte range of the record's candidate text.
    pub(crate) span: std::ops::Range<usize>,
    /// Its interned id, if it was ever seen.
    pub(crate) ident: Option<IdentId>,
    /// The profile that holds it.
    pub(crate) owner: Option<ProfileId>,
}

impl Candidate {
    /// The normalized value within `text`.
    pub(crate) fn value<'t>(&self, text: &'t str) -> &'t str {
        text.get(self.span.clone()).unwrap_or_default()
    }
}

/// A record's candidates, inline for the usual handful.
pub(crate) type Candidates = SmallVec<[Candidate; 4]>;

/// What linking one record will do.
#[derive(Clone, Debug, Default)]
pub(crate) struct LinkPlan {
    /// Accepted candidates, in linking order.
    pub(crate) accepted: Candidates,
    /// Candidates dropped by a limit, with the kind whose limit they would break.
    pub(crate) limited: Vec<(Candidate, KindId)>,
    /// Profiles reached, in the order reached, each with the accepted candidate (index into
    /// `accepted`) that reached it.
    pub(crate) reached: SmallVec<[(ProfileId, usize); 2]>,
}

impl LinkPlan {
    /// The profile that survives: the lowest id reached (`None`: a new profile).
    pub(crate) fn survivor(&self) -> Option<ProfileId> {
        self.reached.iter().map(|&(p, _)| p).min()
    }
}

/// Orders candidates by (kind priority, kind name, value) and removes repeats, which are
/// returned separately.
pub(crate) fn order_candidates(
    schema: &Schema,
    text: &str,
    mut candidates: Candidates,
) -> (Candidates, Vec<Candidate>) {
    candidates.sort_by(|a, b| {
        schema
            .kind_rank(a.kind)
            .cmp(&schema.kind_rank(b.kind))
            .then_with(|| a.value(text).cmp(b.value(text)))
            .then(a.input.cmp(&b.input))
    });
    let mut unique = Candidates::new();
    let mut repeats = Vec::new();
    for c in candidates {
        match unique.last() {
            Some(last) if last.kind == c.kind && last.value(text) == c.value(text) => {
                repeats.push(c)
            }
            _ => unique.push(c),
        }
    }
    (unique, repeats)
}

/// Per-kind counts of distinct identifier values.
type Counts = SmallVec<[u32; 8]>;

fn add_profile_counts(counts: &mut Counts, store: &ProfileStore, p: ProfileId) {
    for crate::profile::Linked { kind, .. } in store.identifiers(p) {
        if let Some(slot) = counts.get_mut(kind.index()) {
            *slot = slot.saturating_add(1);
        }
    }
}

/// Plans the linking of ordered, unique candidates.
pub(crate) fn plan(schema: &Schema, store: &ProfileStore, candidates: Candidates) -> LinkPlan {
    let mut out = LinkPlan::default();
    let mut counts: Counts = SmallVec::from_elem(0, schema.kind_count());
    let mut rest = candidates.into_iter();
    for c in rest.by_ref() {
        let owner = c.owner;
        let mut next = counts.clone();
        let newly_reached = match owner {
            Some(p) if !out.reached.iter().any(|&(q, _)| q == p) => {
                add_profile_counts(&mut next, store, p);
                Some(p)
            }
            Some(_) => None,
            None => {
                if let Some(slot) = next.get_mut(c.kind.index()) {
                    *slot = slot.saturating_add(1);
                }
                None
            }
        };
        let broken = next
            .iter()
            .zip(schema.limits())
            .position(|(n, limit)| n > limit)
            .map(|k| KindId(u16::try_from(k).unwrap_or(u16::MAX)));
        match broken {
            Some(kind) if !out.accepted.is_empty() => {
                out.limited.push((c, kind));
                out.limited.extend(rest.map(|c| (c, kind)));
                break;
            }
            _ => {
                counts = next;
                if let Some(p) = newly_reached {
                    out.reached.push((p, out.accepted.len()));
                }
                out.accepted.push(c);
            }
        }
    }
    out
}
