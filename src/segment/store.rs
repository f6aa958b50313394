//! Named segments (compiled once, members cached until the data changes) and the bitmap of
//! live profiles every complement is taken against.

use std::sync::Mutex;

use roaring::RoaringBitmap;

use crate::segment::compile::{Node, Plan};
use crate::segment::expr::Expr;
use crate::segment::materialize::Materialized;

/// One named segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Named {
    pub(crate) name: String,
    pub(crate) expr: Expr,
    pub(crate) plan: Plan,
    /// Whether its members depend on the clock (directly or through segments it names).
    pub(crate) reads_clock: bool,
}

/// Named segments, the live profiles, and a cache of members.
#[derive(Debug, Default)]
pub(crate) struct SegmentStore {
    named: Vec<Named>,
    /// Live profile ids.
    pub(crate) live: RoaringBitmap,
    /// Bumped by every change of data, clock or RFM runs: cached members older than it are
    /// stale.
    generation: u64,
    /// Per named segment: the generation its cached members were computed at.
    cache: Mutex<Vec<Option<(u64, RoaringBitmap)>>>,
    /// Event and sequence conditions of named segments, kept as bitmaps.
    pub(crate) materialized: Vec<Materialized>,
}

impl Clone for SegmentStore {
    fn clone(&self) -> Self {
        SegmentStore {
            named: self.named.clone(),
            live: self.live.clone(),
            generation: self.generation,
            cache: Mutex::new(Vec::new()),
            materialized: self.materialized.clone(),
        }
    }
}

/// Two stores are equal when their definitions and live profiles are; caches do not count.
impl PartialEq for SegmentStore {
    fn eq(&self, other: &Self) -> bool {
        self.named == other.named
            && self.live == other.live
            && self.materialized == other.materialized
    }
}

impl Eq for SegmentStore {}

impl SegmentStore {
    /// The names defined so far, in definition order.
    pub(crate) fn names(&self) -> Vec<String> {
        self.named.iter().map(|n| n.name.clone()).collect()
    }

    /// The position of segment `name`.
    pub(crate) fn position(&self, name: &str) -> Option<usize> {
        self.named.iter().position(|n| n.name == name)
    }

    /// The named segment at `i`.
    pub(crate) fn get(&self, i: usize) -> Option<&Named> {
        self.named.get(i)
    }

    /// The plan of the named segment at `i`.
    pub(crate) fn plan(&self, i: usize) -> Option<&Plan> {
        self.named.get(i).map(|n| &n.plan)
    }

    /// The materialized leaf at `i`.
    pub(crate) fn materialized(&self, i: usize) -> Option<&Materialized> {
        self.materialized.get(i)
    }

    /// The materialized leaves, in order.
    pub(crate) fn materialized_leaves(&self) -> Vec<Node> {
        self.materialized.iter().map(|m| m.leaf.clone()).collect()
    }

    /// Whether `node` reads the clock, looking through the segments it names.
    pub(crate) fn reads_clock(&self, node: &Node) -> bool {
        match node {
            Node::Segment(i) => self.named.get(*i).is_some_and(|n| n.reads_clock),
            Node::And(c) | Node::Or(c) => c.iter().any(|n| self.reads_clock(n)),
            Node::Not(c) => self.reads_clock(c),
            other => other.reads_clock(),
        }
    }

    /// Adds a segment (the caller checked the name is new).
    pub(crate) fn define(&mut self, name: String, expr: Expr, plan: Plan) {
        let reads_clock = self.reads_clock(&plan.root);
        self.named.push(Named {
            name,
            expr,
            plan,
            reads_clock,
        });
    }

    /// Every cached member list is stale from now on.
    pub(crate) fn touch(&mut self) {
        self.generation = self.generation.wrapping_add(1);
    }

    /// The cached members of segment `i`, if current.
    pub(crate) fn cached(&self, i: usize) -> Option<RoaringBitmap> {
        let cache = self.cache.lock().ok()?;
        match cache.get(i) {
            Some(Some((generation, members))) if *generation == self.generation => {
                Some(members.clone())
            }
            _ => None,
        }
    }

    /// Caches the members of segment `i` at the current generation.
    pub(crate) fn remember(&self, i: usize, members: &RoaringBitmap) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() <= i {
                cache.resize(i + 1, None);
            }
            if let Some(slot) = cache.get_mut(i) {
                *slot = Some((self.generation, members.clone()));
            }
        }
    }

    /// Estimated heap bytes (definitions are small; the live bitmap and cached members).
    pub(crate) fn heap_bytes(&self) -> usize {
        let cached = self.cache.lock().map_or(0, |c| {
            c.iter()
                .flatten()
                .map(|(_, b)| b.serialized_size())
                .sum::<usize>()
        });
        self.live.serialized_size()
            + cached
            + self
                .materialized
                .iter()
                .map(Materialized::heap_bytes)
                .sum::<usize>()
    }
}
