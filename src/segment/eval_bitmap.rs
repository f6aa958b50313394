//! The bitmap evaluator: a plan's members as a bitmap of live profile ids. An `and`
//! evaluates its children cheapest first, each within the members found so far, so a
//! condition without an index is only checked on the few profiles still in the running;
//! `not` is a complement within the candidates; registered segments and materialized
//! conditions are read from their maintained bitmaps.

use std::borrow::Cow;

use roaring::{MultiOps, RoaringBitmap};

use crate::engine::Engine;
use crate::ids::ProfileId;
use crate::segment::compile::Node;
use crate::time::Timestamp;

impl Engine {
    /// The live profiles satisfying `node`, within `candidates` (default: every live one).
    pub(crate) fn eval_bitmap(
        &self,
        node: &Node,
        candidates: Option<&RoaringBitmap>,
        now: Timestamp,
    ) -> RoaringBitmap {
        let within = || candidates.unwrap_or(&self.segments.live);
        match node {
            Node::All => within().clone(),
            Node::None => RoaringBitmap::new(),
            Node::And(children) => self
                .and_bitmap(children, candidates, now)
                .map_or_else(|| within().clone(), Cow::into_owned),
            Node::Or(children) => children
                .iter()
                .map(|c| self.eval_bitmap(c, candidates, now))
                .union(),
            Node::Not(child) => within() - self.eval_bitmap(child, candidates, now),
            Node::Trait { id, test } => match self.indexes.get(*id) {
                Some(index) => index.eval(test, within(), candidates.is_none()),
                None => self.scan(node, within(), now),
            },
            Node::Sample {
                seed,
                from,
                to,
                key: None,
            } => {
                let buckets = u64::from(*from)..u64::from(*to);
                let ids = within().iter().filter(|&id| {
                    buckets.contains(&crate::segment::sample::bucket_of(u64::from(id), *seed))
                });
                RoaringBitmap::from_sorted_iter(ids).unwrap_or_default()
            }
            // Members are live profiles: no intersection without candidates.
            Node::Materialized(i) => match (self.segments.materialized(*i), candidates) {
                (Some(m), Some(c)) => &m.members & c,
                (Some(m), None) => m.members.clone(),
                // No registered segment keeps it any more (a plan compiled before): scan.
                (None, _) => match self.segments.materialized.get(*i) {
                    Some(m) => self.scan(&m.leaf, within(), now),
                    None => RoaringBitmap::new(),
                },
            },
            Node::Segment(i) => match (self.segments.get(*i), candidates) {
                (Some(s), Some(c)) => &s.members & c,
                (Some(s), None) => s.members.clone(),
                (None, _) => RoaringBitmap::new(),
            },
            Node::Consent { purpose, channel } => {
                self.privacy_index
                    .granted(&self.schema, *purpose, *channel, within())
            }
            Node::Suppressed { channel } => {
                let suppressed = self.privacy_index.suppressed(*channel, false);
                match candidates {
                    Some(c) => suppressed & c,
                    None => suppressed,
                }
            }
            // Each id of the set stands for the live profile it resolves to.
            Node::Profiles(set) => self.resolve_set(set) & within(),
            leaf => self.scan(leaf, within(), now),
        }
    }

    /// A maintained bitmap that answers `node` over every live profile as it is: a
    /// registered segment's members or a materialized condition's.
    fn stored(&self, node: &Node) -> Option<&RoaringBitmap> {
        match node {
            Node::Segment(i) => self.segments.get(*i).map(|s| &s.members),
            Node::Materialized(i) => self.segments.materialized(*i).map(|m| &m.members),
            _ => None,
        }
    }

    /// The members of an `and` of `children` within `candidates` (`None`: no child, so
    /// every candidate). A maintained bitmap that comes first is borrowed, not copied.
    fn and_bitmap<'a>(
        &'a self,
        children: &[Node],
        candidates: Option<&RoaringBitmap>,
        now: Timestamp,
    ) -> Option<Cow<'a, RoaringBitmap>> {
        let mut acc: Option<Cow<'a, RoaringBitmap>> = None;
        for child in children {
            let next = match (self.stored(child), acc.as_deref().or(candidates)) {
                (Some(b), None) => Cow::Borrowed(b),
                (Some(b), Some(c)) => Cow::Owned(b & c),
                (None, c) => Cow::Owned(self.eval_bitmap(child, c, now)),
            };
            let empty = next.is_empty();
            acc = Some(next);
            if empty {
                break;
            }
        }
        acc
    }

    /// The number of live profiles satisfying `node`, as the length of
    /// [`Engine::eval_bitmap`]'s answer; an `and` whose last child is a maintained
    /// bitmap counts the intersection without building it ("in A and in B" over two
    /// registered segments allocates nothing).
    pub(crate) fn count_bitmap(&self, node: &Node, now: Timestamp) -> u64 {
        match node {
            Node::And(children) => match children.split_last() {
                Some((last, rest)) if !rest.is_empty() => match self.stored(last) {
                    Some(b) => self
                        .and_bitmap(rest, None, now)
                        .map_or(0, |acc| acc.intersection_len(b)),
                    None => self.eval_bitmap(node, None, now).len(),
                },
                _ => self.eval_bitmap(node, None, now).len(),
            },
            // A trait's values are disjoint: their counts add up.
            Node::Trait { id, test } => match self.indexes.get(*id).and_then(|i| i.count(test)) {
                Some(n) => n,
                None => self.eval_bitmap(node, None, now).len(),
            },
            other => self
                .stored(other)
                .map_or_else(|| self.eval_bitmap(other, None, now).len(), |b| b.len()),
        }
    }

    /// The live profiles the ids of a fixed set resolve to.
    pub(crate) fn resolve_set(&self, set: &RoaringBitmap) -> RoaringBitmap {
        set.iter()
            .filter_map(|id| self.profiles.resolve(ProfileId(id)))
            .map(|p| p.0)
            .collect()
    }

    /// A leaf checked profile by profile over `candidates`.
    fn scan(&self, leaf: &Node, candidates: &RoaringBitmap, now: Timestamp) -> RoaringBitmap {
        let ids = candidates.iter().filter(|&id| {
            let p = ProfileId(id);
            self.profiles
                .get(p)
                .is_some_and(|profile| self.row_matches(leaf, p, profile, now))
        });
        // Ascending ids: the bitmap is built by appending.
        RoaringBitmap::from_sorted_iter(ids).unwrap_or_default()
    }
}
