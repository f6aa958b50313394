//! Registered segments (compiled once, members kept current by real time), the bitmap of
//! live profiles every complement is taken against, the materialized conditions they
//! share, and the queue of changes for the host.

use roaring::RoaringBitmap;

use crate::ids::{ProfileId, SegmentId};
use crate::realtime::Reads;
use crate::segment::compile::{Node, Plan};
use crate::segment::expr::Expr;
use crate::segment::materialize::Materialized;
use crate::segment::queue::ChangeQueue;
use crate::segment::rows::{AnswerRows, leaf_column, segment_column};
use crate::time::Timestamp;

/// One registered segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Registered {
    pub(crate) name: String,
    pub(crate) expr: Expr,
    pub(crate) plan: Plan,
    /// Whether its members depend on the clock (directly or through segments it names).
    pub(crate) reads_clock: bool,
    /// What its own conditions read (not those of the segments it names).
    pub(crate) reads: Reads,
    /// What its conditions read besides its materialized ones: a record that touches none
    /// of it and changes none of [`Registered::leaves`] cannot change its answer.
    pub(crate) direct: Reads,
    /// The segments it names, by position.
    pub(crate) refs: Vec<usize>,
    /// The materialized conditions it reads, by position.
    pub(crate) leaves: Vec<usize>,
    /// Its members, kept current.
    pub(crate) members: RoaringBitmap,
    /// When it was registered (the clock, or the earliest time when unset): the entry
    /// time of members that were in from the start.
    pub(crate) registered_at: crate::time::Timestamp,
    /// Entry times of members that entered after registration (exits remove them).
    pub(crate) entered: crate::hash::FastMap<u32, crate::time::Timestamp>,
}

impl Registered {
    /// When member `p` entered (`None`: not a member).
    pub(crate) fn entered_at(&self, p: u32) -> Option<crate::time::Timestamp> {
        self.members
            .contains(p)
            .then(|| self.entered.get(&p).copied().unwrap_or(self.registered_at))
    }
}

fn forget_in_expr(expr: &mut Expr, gone: &RoaringBitmap) {
    match expr {
        Expr::And(c) | Expr::Or(c) => c.iter_mut().for_each(|e| forget_in_expr(e, gone)),
        Expr::Not(c) => forget_in_expr(c, gone),
        Expr::Profiles(set) => set.0 -= gone,
        _ => {}
    }
}

fn forget_in_node(node: &mut Node, gone: &RoaringBitmap) {
    match node {
        Node::And(c) | Node::Or(c) => c.iter_mut().for_each(|n| forget_in_node(n, gone)),
        Node::Not(c) => forget_in_node(c, gone),
        Node::Profiles(set) if !set.is_disjoint(gone) => {
            *std::sync::Arc::make_mut(set) -= gone;
        }
        _ => {}
    }
}

/// Registered segments, live profiles, materialized conditions and queued changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SegmentStore {
    /// By [`SegmentId`]; `None` once unregistered (ids are never reused).
    slots: Vec<Option<Registered>>,
    /// Live profile ids.
    pub(crate) live: RoaringBitmap,
    /// Conditions of registered segments, kept as bitmaps (shared between segments).
    pub(crate) materialized: Vec<Materialized>,
    /// Changes not yet drained by the host.
    pub(crate) changes: ChangeQueue,
    /// The answers of `slots` and `materialized` by profile (a mirror of their members,
    /// written only here).
    rows: AnswerRows,
}

impl SegmentStore {
    /// The names of the slots (`None` for unregistered ones), for compiling.
    pub(crate) fn names(&self) -> Vec<Option<String>> {
        self.slots
            .iter()
            .map(|s| s.as_ref().map(|r| r.name.clone()))
            .collect()
    }

    /// The registered segment called `name`.
    pub(crate) fn position(&self, name: &str) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|r| r.name == name))
    }

    /// Removes erased profile ids from the fixed sets of every registered segment, so
    /// no expression keeps a trace of them.
    pub(crate) fn forget_profiles(
        &mut self,
        ids: &std::collections::BTreeSet<crate::ids::ProfileId>,
    ) {
        let gone: RoaringBitmap = ids.iter().map(|p| p.0).collect();
        for seg in self.slots.iter_mut().flatten() {
            forget_in_expr(&mut seg.expr, &gone);
            forget_in_node(&mut seg.plan.root, &gone);
        }
    }

    /// The registered segment at `i`.
    pub(crate) fn get(&self, i: usize) -> Option<&Registered> {
        self.slots.get(i).and_then(Option::as_ref)
    }

    /// The registered segment at `i`, mutably.
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut Registered> {
        self.slots.get_mut(i).and_then(Option::as_mut)
    }

    /// The number of slots (registered and unregistered).
    pub(crate) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Every slot, in id order (`None`: unregistered).
    pub(crate) fn slots(&self) -> impl Iterator<Item = Option<&Registered>> {
        self.slots.iter().map(Option::as_ref)
    }

    /// Adds an empty slot (an unregistered id, for restore).
    pub(crate) fn push_vacant(&mut self) {
        self.slots.push(None);
    }

    /// The registered segments, by position, in id order.
    pub(crate) fn registered(&self) -> impl Iterator<Item = (usize, &Registered)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|r| (i, r)))
    }

    /// The materialized leaf at `i`, when some registered segment still reads it.
    pub(crate) fn materialized(&self, i: usize) -> Option<&Materialized> {
        self.materialized.get(i).filter(|m| m.users > 0)
    }

    /// The materialized leaves, in order; `None` for those no segment reads any more.
    pub(crate) fn materialized_leaves(&self) -> Vec<Option<Node>> {
        self.materialized
            .iter()
            .map(|m| (m.users > 0).then(|| m.leaf.clone()))
            .collect()
    }

    /// Whether `node` reads the clock, looking through the segments it names.
    pub(crate) fn reads_clock(&self, node: &Node) -> bool {
        match node {
            Node::Segment(i) => self.get(*i).is_some_and(|n| n.reads_clock),
            Node::Materialized(i) => self
                .materialized
                .get(*i)
                .is_some_and(|m| m.leaf.reads_clock()),
            Node::And(c) | Node::Or(c) => c.iter().any(|n| self.reads_clock(n)),
            Node::Not(c) => self.reads_clock(c),
            other => other.reads_clock(),
        }
    }

    /// Adds a registered segment; returns its id.
    pub(crate) fn register(&mut self, segment: Registered) -> SegmentId {
        self.rows
            .fill(segment_column(self.slots.len()), &segment.members);
        self.slots.push(Some(segment));
        SegmentId(u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX))
    }

    /// Removes the segment at `i`; its materialized leaves lose a user each.
    pub(crate) fn unregister(&mut self, i: usize) -> Option<Registered> {
        let gone = self.slots.get_mut(i)?.take()?;
        self.rows.clear(segment_column(i));
        for &leaf in &gone.leaves {
            if let Some(m) = self.materialized.get_mut(leaf) {
                m.release();
                if m.users == 0 {
                    self.rows.clear(leaf_column(leaf));
                }
            }
        }
        Some(gone)
    }

    /// Whether `p` is a member of the registered segment at `i`, from its row when the
    /// segment's column is mirrored (one cache line for all segments).
    pub(crate) fn segment_holds(&self, i: usize, p: u32) -> bool {
        match self.rows.get(p, segment_column(i)) {
            Some(on) => on,
            None => self.get(i).is_some_and(|s| s.members.contains(p)),
        }
    }

    /// Sets the answers `changes` (ascending ids, each a real change) of the segment at
    /// `i`.
    pub(crate) fn set_members(&mut self, i: usize, changes: &[(u32, bool)]) {
        let Some(seg) = self.slots.get_mut(i).and_then(Option::as_mut) else {
            return;
        };
        crate::index::set_sorted(&mut seg.members, changes);
        for &(p, on) in changes {
            self.rows.set(p, segment_column(i), on);
        }
    }

    /// The segment at `i` has exactly `fresh` as members from now on; returns the
    /// profiles that moved, ascending.
    pub(crate) fn replace_members(&mut self, i: usize, fresh: RoaringBitmap) -> RoaringBitmap {
        let Some(seg) = self.slots.get_mut(i).and_then(Option::as_mut) else {
            return RoaringBitmap::new();
        };
        let moved = &fresh ^ &seg.members;
        for p in &moved {
            self.rows.set(p, segment_column(i), fresh.contains(p));
        }
        seg.members = fresh;
        moved
    }

    /// `p`'s answer to the materialized leaf at `j`, from its row when mirrored; `None`
    /// when no segment reads the leaf (it is not kept).
    pub(crate) fn leaf_holds(&self, j: usize, p: u32) -> Option<bool> {
        let m = self.materialized(j)?;
        Some(
            self.rows
                .get(p, leaf_column(j))
                .unwrap_or_else(|| m.members.contains(p)),
        )
    }

    /// Records `p`'s answer to the materialized leaf at `j` and its next change (`None`:
    /// retired, or never again); returns whether the answer changed. An unchanged answer
    /// only reschedules (the row says so without touching the bitmap).
    pub(crate) fn set_leaf(
        &mut self,
        j: usize,
        p: ProfileId,
        member: bool,
        next: Option<Timestamp>,
    ) -> bool {
        let col = leaf_column(j);
        let was = self.rows.get(p.0, col);
        let Some(m) = self.materialized.get_mut(j) else {
            return false;
        };
        if was == Some(member) {
            m.schedule(p, next);
            return false;
        }
        let changed = m.set(p, member, next);
        self.rows.set(p.0, col, member);
        changed
    }

    /// Records the answers and next changes of `states` (ascending profile ids) for the
    /// materialized leaf at `j`.
    pub(crate) fn set_leaf_sorted(
        &mut self,
        j: usize,
        states: &[(ProfileId, bool, Option<Timestamp>)],
    ) {
        let Some(m) = self.materialized.get_mut(j) else {
            return;
        };
        m.set_sorted(states);
        for &(p, on, _) in states {
            self.rows.set(p.0, leaf_column(j), on);
        }
    }

    /// Whether every row mirrors the members of its segment or leaf.
    pub(crate) fn check_rows(&self) -> Result<(), String> {
        for (i, slot) in self.slots.iter().enumerate() {
            let empty = RoaringBitmap::new();
            let members = slot.as_ref().map_or(&empty, |s| &s.members);
            if !self.rows.mirrors(segment_column(i), members) {
                return Err(format!(
                    "segment {i}: its answer rows differ from its members"
                ));
            }
        }
        for (j, m) in self.materialized.iter().enumerate() {
            if !self.rows.mirrors(leaf_column(j), &m.members) {
                return Err(format!(
                    "materialized leaf {j}: its answer rows differ from its members"
                ));
            }
        }
        Ok(())
    }

    /// Estimated heap bytes: the live bitmap, members, materialized leaves and the queue.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.live.serialized_size()
            + self
                .registered()
                .map(|(_, r)| r.members.serialized_size() + r.entered.capacity() * 17)
                .sum::<usize>()
            + self
                .materialized
                .iter()
                .map(Materialized::heap_bytes)
                .sum::<usize>()
            + self.changes.heap_bytes()
            + self.rows.heap_bytes()
    }
}
