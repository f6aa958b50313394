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
use crate::index::words;
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
        let mut scratch = Vec::new();
        let live_words = words::from_bitmap(live, n, &mut scratch);
        Some(self.words_of(node, &live_words, &mut scratch))
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
            None => self.eval_bitmap(node, None, now).len(),
        }
    }

    fn words_of(&self, node: &Node, live: &[u64], scratch: &mut Vec<u8>) -> Vec<u64> {
        // Indexes and maintained bitmaps hold live profiles only.
        let stored =
            |b: &RoaringBitmap, scratch: &mut Vec<u8>| words::from_bitmap(b, live.len(), scratch);
        let bitmap = |b: &RoaringBitmap, scratch: &mut Vec<u8>| {
            let mut w = words::from_bitmap(b, live.len(), scratch);
            words::and(&mut w, live);
            w
        };
        match node {
            Node::All => live.to_vec(),
            Node::And(children) => {
                let mut acc = live.to_vec();
                for child in children {
                    let next = self.words_of(child, live, scratch);
                    words::and(&mut acc, &next);
                }
                acc
            }
            Node::Or(children) => {
                let mut acc = vec![0u64; live.len()];
                for child in children {
                    let next = self.words_of(child, live, scratch);
                    words::or(&mut acc, &next);
                }
                acc
            }
            Node::Not(child) => {
                let mut w = self.words_of(child, live, scratch);
                words::complement(&mut w, live);
                w
            }
            Node::Trait { id, test } => {
                let mut w = vec![0u64; live.len()];
                if let Some(index) = self.indexes.get(*id) {
                    index.eval_words(test, &mut w, live, scratch);
                }
                w
            }
            Node::Materialized(i) => match self.segments.materialized(*i) {
                Some(m) => stored(&m.members, scratch),
                None => vec![0u64; live.len()],
            },
            Node::Segment(i) => match self.segments.get(*i) {
                Some(s) => stored(&s.members, scratch),
                None => vec![0u64; live.len()],
            },
            Node::Consent { purpose, channel } => {
                let granted = self.privacy_index.granted(
                    &self.schema,
                    *purpose,
                    *channel,
                    &self.segments.live,
                );
                stored(&granted, scratch)
            }
            Node::Suppressed { channel } => {
                bitmap(&self.privacy_index.suppressed(*channel, false), scratch)
            }
            Node::Profiles(set) => bitmap(&self.resolve_set(set), scratch),
            // `has_words` admits no other node.
            _ => vec![0u64; live.len()],
        }
    }
}
