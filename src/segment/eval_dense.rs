//! The word evaluator: a plan whose every leaf is answered by an index or a maintained
//! bitmap (traits, materialized conditions, registered segments, consent, suppression,
//! fixed sets) is evaluated over plain words, one bit per profile id, so each `and`,
//! `or` and `not` is one pass over a 64th of the ids and no intermediate result pays
//! roaring's container conversions. The answer is converted once, or only counted.
//! A plan of one or two leaves without a range (`country = DE`, two stored segments)
//! is cheaper as roaring operations on the stored bitmaps, and any other plan (an
//! unmaterialized event condition, a sample) needs the bitmap evaluator, which narrows
//! such leaves to the candidates left: both go there.

use roaring::RoaringBitmap;

use crate::engine::Engine;
use crate::index::words::{self, Set};
use crate::segment::compile::{CTest, Node};
use crate::time::Timestamp;

impl Engine {
    /// Whether the word evaluator can answer `node`.
    fn has_words(&self, node: &Node) -> bool {
        match node {
            Node::All | Node::None | Node::Segment(_) => true,
            Node::Consent { .. } | Node::Suppressed { .. } | Node::Profiles(_) => true,
            Node::And(children) | Node::Or(children) => children.iter().all(|c| self.has_words(c)),
            Node::Not(child) => self.has_words(child),
            Node::Trait { id, .. } => self.indexes.get(*id).is_some(),
            Node::Materialized(i) => self.segments.materialized(*i).is_some(),
            _ => false,
        }
    }

    /// Whether the word evaluator is the cheaper one for `node`: it can answer it, and
    /// the plan has more than two leaves or a range over an integer trait.
    fn prefers_words(&self, node: &Node) -> bool {
        fn shape(node: &Node) -> (usize, bool) {
            match node {
                Node::And(children) | Node::Or(children) => children
                    .iter()
                    .map(shape)
                    .fold((0, false), |(n, r), (m, s)| (n.saturating_add(m), r || s)),
                Node::Not(child) => shape(child),
                Node::Trait { test, .. } => (1, matches!(test, CTest::Range { .. })),
                _ => (1, false),
            }
        }
        let (leaves, range) = shape(node);
        (leaves > 2 || range) && self.has_words(node)
    }

    /// The live profiles satisfying `node`, as words over the live ids (`None`: the
    /// bitmap evaluator is the one for it).
    pub(crate) fn eval_words(&self, node: &Node) -> Option<Vec<u64>> {
        if !self.prefers_words(node) {
            return None;
        }
        let live = &self.segments.live;
        let n = words::words_for(live.max().map_or(0, |m| u64::from(m) + 1));
        let mut live = Live {
            bitmap: live,
            n,
            words: None,
        };
        let mut out = vec![0u64; n];
        self.words_into(node, &mut live, &mut out, &mut Vec::new());
        Some(out)
    }

    /// The members of `node` over every live profile: by words when every leaf allows it,
    /// else by the bitmap evaluator.
    pub(crate) fn eval_members(&self, node: &Node, now: Timestamp) -> RoaringBitmap {
        match self.eval_words(node) {
            Some(w) => words::to_bitmap(&w),
            None => self.eval_bitmap(node, None, now),
        }
    }

    /// The number of members of `node`, as [`Engine::eval_members`] but not building them.
    pub(crate) fn count_members(&self, node: &Node, now: Timestamp) -> u64 {
        match self.eval_words(node) {
            Some(w) => words::count(&w),
            None => self.count_bitmap(node, now),
        }
    }

    /// A leaf answered straight from stored bitmaps, without building one: a registered
    /// segment's or a materialized condition's members, a trait's value bitmaps, a
    /// consent key's exceptions, the suppression bitmaps of a channel; and the `not` of
    /// any of these.
    fn direct(&self, node: &Node) -> Option<Direct<'_>> {
        Some(match node {
            Node::Materialized(i) => {
                Direct::stored(self.segments.materialized(*i).map(|m| &m.members))
            }
            Node::Segment(i) => Direct::stored(self.segments.get(*i).map(|s| &s.members)),
            Node::Consent { purpose, channel } => {
                match self
                    .privacy_index
                    .consent_exceptions(&self.schema, *purpose, *channel)
                {
                    Some((exceptions, opt_out)) => Direct {
                        sets: smallvec::smallvec![Set::Bitmap(exceptions)],
                        negated: opt_out,
                        within: false,
                    },
                    None => Direct::stored(None),
                }
            }
            Node::Suppressed { channel } => Direct {
                sets: self
                    .privacy_index
                    .suppressed_sets(*channel, false)
                    .into_iter()
                    .map(Set::Bitmap)
                    .collect(),
                negated: false,
                within: false,
            },
            Node::Trait { id, test } => {
                let (sets, negated) = self.indexes.get(*id)?.value_sets(test)?;
                Direct {
                    sets: smallvec::SmallVec::from_vec(sets),
                    negated,
                    within: true,
                }
            }
            Node::Not(inner) => {
                let d = self.direct(inner)?;
                // The live profiles outside the sets; or, outside those, the sets' live ones.
                Direct {
                    sets: d.sets,
                    negated: !d.negated,
                    within: false,
                }
            }
            _ => return None,
        })
    }

    /// Writes a direct leaf's answer over `live` into `out`.
    fn write_direct(d: &Direct<'_>, live: &mut Live<'_>, out: &mut [u64]) {
        if d.negated {
            out.copy_from_slice(live.get());
            for b in &d.sets {
                b.and_not_into(out);
            }
        } else {
            match d.sets.split_first() {
                Some((first, rest)) => {
                    first.assign_to(out);
                    rest.iter().for_each(|b| b.or_into(out));
                }
                None => out.fill(0),
            }
            if !d.within {
                words::and(out, live.get());
            }
        }
    }

    /// Narrows `out` (within `live`) to a direct leaf's answer, reading its bitmaps into
    /// `out` itself when one pass does it.
    fn and_direct(d: &Direct<'_>, live: &mut Live<'_>, out: &mut [u64], spare: &mut Spare) {
        match (d.negated, d.sets.as_slice()) {
            (true, sets) => {
                for b in sets {
                    b.and_not_into(out);
                }
            }
            (false, []) => out.fill(0),
            (false, [one]) => one.and_into(out),
            (false, _) => {
                let mut next = take(spare, out.len());
                Self::write_direct(d, live, &mut next);
                words::and(out, &next);
                spare.push(next);
            }
        }
    }

    /// Writes the answer of `node` over `live` into `out` (whatever it held): each `and`
    /// narrows one vector in place, reading a direct leaf straight into it, and other
    /// children borrow a spare vector of `buffers`.
    fn words_into(&self, node: &Node, live: &mut Live<'_>, out: &mut [u64], spare: &mut Spare) {
        if let Some(d) = self.direct(node) {
            Self::write_direct(&d, live, out);
            return;
        }
        match node {
            Node::All => out.copy_from_slice(live.get()),
            Node::And(children) => {
                let Some((first, rest)) = children.split_first() else {
                    out.copy_from_slice(live.get());
                    return;
                };
                // Every answer is within `live`, so the first child's bounds the rest.
                self.words_into(first, live, out, spare);
                for child in rest {
                    if let Node::Trait { id, test } = child
                        && self
                            .indexes
                            .get(*id)
                            .is_some_and(|i| i.and_words(test, out))
                    {
                        continue;
                    }
                    match self.direct(child) {
                        Some(d) => Self::and_direct(&d, live, out, spare),
                        None => {
                            let mut next = take(spare, out.len());
                            self.words_into(child, live, &mut next, spare);
                            words::and(out, &next);
                            spare.push(next);
                        }
                    }
                }
            }
            Node::Or(children) => {
                let Some((first, rest)) = children.split_first() else {
                    out.fill(0);
                    return;
                };
                // The first child's answer is the start (within `live`, as every answer).
                self.words_into(first, live, out, spare);
                let mut outside = false;
                for child in rest {
                    match self.direct(child) {
                        Some(d) if !d.negated => {
                            for b in &d.sets {
                                b.or_into(out);
                            }
                            outside |= !d.within;
                        }
                        _ => {
                            let mut next = take(spare, out.len());
                            self.words_into(child, live, &mut next, spare);
                            words::or(out, &next);
                            spare.push(next);
                        }
                    }
                }
                if outside {
                    words::and(out, live.get());
                }
            }
            Node::Not(child) => {
                self.words_into(child, live, out, spare);
                words::complement(out, live.get());
            }
            Node::Trait { id, test } => {
                out.fill(0);
                if let Some(index) = self.indexes.get(*id) {
                    index.range_words(test, out);
                }
            }
            Node::Profiles(set) => {
                out.fill(0);
                words::or_into(out, &self.resolve_set(set));
                words::and(out, live.get());
            }
            // `has_words` admits no other node (and `None` is empty).
            _ => out.fill(0),
        }
    }
}

/// A leaf read from stored sets: the live profiles in the union of `sets`, or with
/// `negated` those outside it; `within` says the sets hold live profiles only.
struct Direct<'a> {
    sets: smallvec::SmallVec<[Set<'a>; 2]>,
    negated: bool,
    within: bool,
}

impl<'a> Direct<'a> {
    /// A maintained bitmap (of live profiles) as it stands; `None` is empty.
    fn stored(b: Option<&'a RoaringBitmap>) -> Self {
        Direct {
            sets: b.into_iter().map(Set::Bitmap).collect(),
            negated: false,
            within: true,
        }
    }
}

/// Vectors a child's answer was built in, reused, so a deep plan allocates one per
/// level rather than one per node.
type Spare = Vec<Vec<u64>>;

/// A vector of `n` words from `spare` (its contents are overwritten by its user).
fn take(spare: &mut Spare, n: usize) -> Vec<u64> {
    match spare.pop() {
        Some(v) if v.len() == n => v,
        _ => vec![0u64; n],
    }
}

/// The live profiles as words, built the first time an evaluation needs them (an `and`
/// of index answers and stored bitmaps never does).
struct Live<'a> {
    bitmap: &'a RoaringBitmap,
    n: usize,
    words: Option<Vec<u64>>,
}

impl Live<'_> {
    fn get(&mut self) -> &[u64] {
        self.words
            .get_or_insert_with(|| words::from_bitmap(self.bitmap, self.n))
    }
}
