//! Registered segments on the engine: registering, reading the maintained members, and
//! re-checking exactly the segments and profiles a change can affect.

use roaring::RoaringBitmap;
use smallvec::SmallVec;

use crate::engine::Engine;
use crate::error::{SegmentError, TimeError};
use crate::ids::{ProfileId, SegmentId};
use crate::profile::Profile;
use crate::realtime::{Cause, Change, SegmentChange, Touched, reads_of};
use crate::segment::compile::{self, Node};
use crate::segment::expr::Expr;
use crate::segment::store::Registered;
use crate::time::Timestamp;

/// Which profiles a change may have moved, and for which segments.
pub(crate) enum Dirty<'a> {
    /// A record: these profiles (its survivor, then the profiles it retired), for the
    /// segments reading what it touched. With `leaves`, the materialized conditions
    /// whose answer changed for them: a segment is then re-checked only if the record
    /// touched what its other conditions read, or one of its materialized ones changed
    /// (an order re-checks the few segments whose order conditions flipped, not every
    /// segment reading orders). `None`: any of them may have changed.
    Record {
        profiles: &'a [ProfileId],
        touched: &'a Touched,
        leaves: Option<&'a [usize]>,
    },
    /// A clock move: per materialized leaf, the profiles it re-checked.
    Due(&'a [Vec<ProfileId>]),
    /// An RFM run: everyone, for the segments reading RFM.
    Rfm,
}

/// Profiles whose answer to one segment changed, each with its new answer, ascending.
type Answers = SmallVec<[(u32, bool); 4]>;

/// The segment names `expr` mentions.
fn named_segments(expr: &Expr) -> Vec<&str> {
    let mut names = Vec::new();
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        match e {
            Expr::Segment(n) => names.push(n.as_str()),
            Expr::And(c) | Expr::Or(c) => stack.extend(c),
            Expr::Not(c) => stack.push(c),
            _ => {}
        }
    }
    names
}

/// The distinct positions of the nodes `pick` selects, ascending.
fn positions(node: &Node, pick: fn(&Node) -> Option<usize>) -> Vec<usize> {
    let mut out = Vec::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        match n {
            Node::And(c) | Node::Or(c) => stack.extend(c),
            Node::Not(c) => stack.push(c),
            leaf => out.extend(pick(leaf)),
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

impl Engine {
    /// Registers the segment `name`: compiles `expr`, computes its members once, and from
    /// then on keeps them current through every ingest, merge, clock move and RFM run,
    /// queuing a [`SegmentChange`] for each profile that enters or exits (see
    /// [`Engine::drain_changes`]). Other expressions can name it with [`Expr::Segment`].
    ///
    /// Its event, sequence, computed-trait, RFM and sample conditions are materialized: a
    /// bitmap of the profiles satisfying each, built now (one pass over every profile
    /// unless another segment already has it) and kept current from then on. Plans
    /// compiled later with the same condition read the bitmap instead of the events.
    ///
    /// ```
    /// use audience::segment::{event, trait_};
    /// use audience::{Change, Engine, EventInput, Record, Schema, Timestamp, Window};
    /// let mut engine = Engine::new(Schema::retail_default());
    /// let t = Timestamp::from_secs(1_700_000_000)?;
    /// engine.advance_time(t)?;
    /// let carts = event("add_to_cart").in_window(Window::LastDays(7)).at_least(1);
    /// let id = engine.register_segment("carts", carts)?;
    /// engine.ingest(&Record::builder(t, "web")
    ///     .identifier("email", "ann@example.com")
    ///     .event(EventInput::new("add_to_cart", t))
    ///     .build())?;
    /// assert_eq!(engine.segment_count(id)?, 1);
    /// let changes = engine.drain_changes();
    /// assert_eq!(changes[0].change, Change::Entered);
    /// // Seven days later the cart leaves the window: the deadline says exactly when.
    /// let deadline = engine.next_deadline().expect("a window edge is ahead");
    /// engine.advance_time(deadline)?;
    /// assert_eq!(engine.drain_changes()[0].change, Change::Exited);
    /// # Ok::<(), audience::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`SegmentError::Duplicate`] for a name already registered; [`SegmentError::Cycle`]
    /// when `expr` names the segment itself (it can only name segments registered before
    /// it, so there is no other way to form a cycle); [`SegmentError::Compile`] for a bad
    /// expression; [`SegmentError::Time`] when it reads the clock and the clock was never
    /// set. Nothing changes on an error.
    pub fn register_segment(&mut self, name: &str, expr: Expr) -> Result<SegmentId, SegmentError> {
        if self.segments.position(name).is_some() {
            return Err(SegmentError::Duplicate(name.to_string()));
        }
        if named_segments(&expr).contains(&name) {
            return Err(SegmentError::Cycle(name.to_string()));
        }
        let mut plan = self.compile(&expr)?;
        let reads_clock = self.segments.reads_clock(&plan.root);
        if reads_clock && self.clock.now().is_none() {
            return Err(TimeError::ClockUnset.into());
        }
        // Checked: from here on nothing fails.
        let mut leaves = Vec::new();
        compile::unmaterialized(&plan.root, &mut leaves);
        let leaves: Vec<Node> = leaves.into_iter().cloned().collect();
        for leaf in &leaves {
            self.materialized_slot(leaf);
        }
        let all: Vec<Option<Node>> = self
            .segments
            .materialized
            .iter()
            .map(|m| Some(m.leaf.clone()))
            .collect();
        compile::use_materialized(&mut plan.root, &all);
        let leaves = positions(&plan.root, |n| match n {
            Node::Materialized(i) => Some(*i),
            _ => None,
        });
        for &i in &leaves {
            self.acquire_materialized(i);
        }
        // From the expression, not the plan: a name simplified away still holds.
        let mut refs: Vec<usize> = named_segments(&expr)
            .iter()
            .filter_map(|n| self.segments.position(n))
            .collect();
        refs.sort_unstable();
        refs.dedup();
        let materialized = &self.segments.materialized;
        let reads = reads_of(&plan.root, &self.schema, &|i| {
            materialized.get(i).map(|m| &m.leaf)
        });
        let direct = reads_of(&plan.root, &self.schema, &|_| None);
        let now = self.clock.now().unwrap_or(Timestamp::MIN);
        let members = self.eval_members(&plan.root, now);
        Ok(self.segments.register(Registered {
            name: name.to_string(),
            expr,
            plan,
            reads_clock,
            reads,
            direct,
            refs,
            leaves,
            members,
            registered_at: now,
            entered: crate::hash::fast_map(),
        }))
    }

    /// Registers a static segment from an audience given as a roaring bitmap of profile
    /// ids in the portable format (CRoaring, Java Roaring, pyroaring, ClickHouse
    /// `groupBitmap`, Druid): its members are the live profiles holding one of the ids
    /// (through merges too). It is kept like any segment: merges, erasures and splits
    /// update it and queue changes; erased ids are removed from it.
    ///
    /// ```
    /// use audience::segment::{from_portable, to_portable, trait_};
    /// use audience::{Engine, Record, Schema, Timestamp};
    /// let mut engine = Engine::new(Schema::retail_default());
    /// let t = Timestamp::from_secs(1_700_000_000)?;
    /// for (user, country) in [("ann", "DE"), ("bob", "FR"), ("cy", "DE")] {
    ///     engine.ingest(&Record::builder(t, "web").identifier("user_id", user).trait_value("country", country).build())?;
    /// }
    /// let germans = engine.register_segment("germans", trait_("country").eq("DE"))?;
    /// let bytes = to_portable(engine.segment_members(germans)?); // what CRoaring, ClickHouse, … read
    /// let imported = engine.import_segment("campaign-42", &bytes)?;
    /// assert_eq!(engine.segment_members(imported)?, &from_portable(&bytes)?);
    /// assert!(engine.import_segment("broken", &bytes[1..]).is_err());
    /// # Ok::<(), audience::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`SegmentError::Portable`] for bytes that are not one valid bitmap, a compile error
    /// ([`crate::CompileProblem::UnknownProfile`]) for an id never handed out, else as
    /// [`Engine::register_segment`].
    pub fn import_segment(&mut self, name: &str, bytes: &[u8]) -> Result<SegmentId, SegmentError> {
        let set = crate::segment::from_portable(bytes)?;
        self.register_segment(name, Expr::Profiles(crate::segment::ProfileSet(set)))
    }

    /// Unregisters a segment: its members are no longer kept and no change is queued for
    /// it from now on. Its id is never reused; its name can be registered again.
    ///
    /// # Errors
    /// [`SegmentError::UnknownId`]; [`SegmentError::InUse`] while another registered
    /// segment names it. Nothing changes on an error.
    pub fn unregister_segment(&mut self, id: SegmentId) -> Result<(), SegmentError> {
        let name = self.registered(id)?.name.clone();
        if let Some((_, user)) = self
            .segments
            .registered()
            .find(|(_, r)| r.refs.contains(&id.index()))
        {
            return Err(SegmentError::InUse {
                segment: name,
                by: user.name.clone(),
            });
        }
        self.segments.unregister(id.index());
        Ok(())
    }

    fn registered(&self, id: SegmentId) -> Result<&Registered, SegmentError> {
        self.segments
            .get(id.index())
            .ok_or(SegmentError::UnknownId(id))
    }

    /// The id of the registered segment `name`.
    ///
    /// # Errors
    /// [`SegmentError::Unknown`].
    pub fn segment_id(&self, name: &str) -> Result<SegmentId, SegmentError> {
        let i = self
            .segments
            .position(name)
            .ok_or_else(|| SegmentError::Unknown(name.to_string()))?;
        Ok(SegmentId(u32::try_from(i).unwrap_or(u32::MAX)))
    }

    /// The registered segments, as (id, name), in id order.
    pub fn segments(&self) -> impl Iterator<Item = (SegmentId, &str)> + '_ {
        self.segments.registered().map(|(i, r)| {
            (
                SegmentId(u32::try_from(i).unwrap_or(u32::MAX)),
                r.name.as_str(),
            )
        })
    }

    /// The name a segment was registered under.
    ///
    /// # Errors
    /// [`SegmentError::UnknownId`].
    pub fn segment_name(&self, id: SegmentId) -> Result<&str, SegmentError> {
        Ok(&self.registered(id)?.name)
    }

    /// The expression a segment was registered with.
    ///
    /// # Errors
    /// [`SegmentError::UnknownId`].
    pub fn segment_expr(&self, id: SegmentId) -> Result<&Expr, SegmentError> {
        Ok(&self.registered(id)?.expr)
    }

    /// The members of a registered segment: the maintained bitmap, read in O(1).
    ///
    /// # Errors
    /// [`SegmentError::UnknownId`].
    pub fn segment_members(&self, id: SegmentId) -> Result<&RoaringBitmap, SegmentError> {
        Ok(&self.registered(id)?.members)
    }

    /// The number of members of a registered segment, in O(1).
    ///
    /// # Errors
    /// [`SegmentError::UnknownId`].
    pub fn segment_count(&self, id: SegmentId) -> Result<u64, SegmentError> {
        Ok(self.registered(id)?.members.len())
    }

    /// Hands the queued entries and exits to the host and empties the queue. Changes come
    /// in the order of the calls that caused them; within one record or call, by
    /// (segment id, profile id). Each is a net change: a profile that entered and left
    /// within one record or call is not reported. The queue grows until drained (24
    /// bytes per change, each distinct cause kept once).
    pub fn drain_changes(&mut self) -> Vec<SegmentChange> {
        self.segments.changes.take()
    }

    /// The changes queued and not drained yet, in order (a copy: the queue keeps them
    /// compact).
    pub fn pending_changes(&self) -> Vec<SegmentChange> {
        self.segments.changes.to_vec()
    }

    /// How many changes are queued and not drained yet (no copy).
    ///
    /// ```
    /// use audience::segment::trait_;
    /// use audience::{Engine, Record, Schema, Timestamp};
    /// let mut engine = Engine::new(Schema::retail_default());
    /// engine.register_segment("germans", trait_("country").eq("DE"))?;
    /// let t = Timestamp::from_secs(1_700_000_000)?;
    /// for user in ["ann", "bob"] {
    ///     engine.ingest(&Record::builder(t, "web").identifier("user_id", user).trait_value("country", "DE").build())?;
    /// }
    /// assert_eq!(engine.pending_change_count(), 2);
    /// assert_eq!(engine.pending_changes().len(), 2);
    /// assert_eq!(engine.drain_changes().len(), 2);
    /// assert_eq!(engine.pending_change_count(), 0);
    /// # Ok::<(), audience::Error>(())
    /// ```
    pub fn pending_change_count(&self) -> usize {
        self.segments.changes.len()
    }

    /// Whether live profile `p` (held by `profile`) satisfies `node`, reading the
    /// maintained bitmaps of materialized leaves and named segments (all current for `p`).
    /// The profile itself is only read for a leaf that needs it: a segment made of
    /// maintained conditions answers from bitmaps alone.
    fn row_live<'a>(
        &'a self,
        node: &Node,
        p: ProfileId,
        profile: &std::cell::OnceCell<Option<&'a Profile>>,
        now: Timestamp,
    ) -> bool {
        let leaf = |leaf: &Node| {
            profile
                .get_or_init(|| self.profiles.get(p))
                .is_some_and(|profile| self.row_matches(leaf, p, profile, now))
        };
        match node {
            Node::And(c) => c.iter().all(|n| self.row_live(n, p, profile, now)),
            Node::Or(c) => c.iter().any(|n| self.row_live(n, p, profile, now)),
            Node::Not(c) => !self.row_live(c, p, profile, now),
            Node::Materialized(i) => match self.segments.leaf_holds(*i, p.0) {
                Some(member) => member,
                None => leaf(node),
            },
            Node::Segment(i) => self.segments.segment_holds(*i, p.0),
            other => leaf(other),
        }
    }

    /// Re-checks the segments and profiles `dirty` names, in segment id order (a segment
    /// also re-checks the profiles that moved in the segments it names), and queues the
    /// net changes at `at`, each with the cause `cause` gives its profile.
    pub(crate) fn update_segments(
        &mut self,
        dirty: &Dirty<'_>,
        at: Timestamp,
        cause: &dyn Fn(ProfileId) -> Cause,
    ) {
        let slots = self.segments.slot_count();
        if slots == 0 {
            return;
        }
        let now = self.clock.now().unwrap_or(Timestamp::MIN);
        // The segments whose members moved in this call, with the profiles that moved
        // (and whether each is now a member).
        let mut moved: SmallVec<[(usize, Answers); 4]> = SmallVec::new();
        for i in 0..slots {
            let Some(seg) = self.segments.get(i) else {
                continue;
            };
            let mut everyone = false;
            let mut candidates: SmallVec<[u32; 4]> = SmallVec::new();
            match dirty {
                Dirty::Record {
                    profiles,
                    touched,
                    leaves,
                } => {
                    let affected = match leaves {
                        None => touched.affects(&seg.reads),
                        Some(changed) => {
                            touched.affects(&seg.direct)
                                || (!changed.is_empty()
                                    && seg.leaves.iter().any(|l| changed.contains(l)))
                        }
                    };
                    if affected {
                        candidates.extend(profiles.iter().map(|p| p.0));
                    }
                }
                Dirty::Due(due) => {
                    for &leaf in &seg.leaves {
                        candidates.extend(due.get(leaf).into_iter().flatten().map(|p| p.0));
                    }
                }
                Dirty::Rfm => everyone = seg.reads.rfm,
            }
            for (_, ids) in moved.iter().filter(|(m, _)| seg.refs.contains(m)) {
                candidates.extend(ids.iter().map(|&(id, _)| id));
            }
            if !everyone && candidates.is_empty() {
                continue;
            }
            candidates.sort_unstable();
            candidates.dedup();
            let answers: Answers = if everyone
                || candidates.len() as u64 > self.segments.live.len() / 16
            {
                let fresh = self.eval_members(&seg.plan.root, now);
                let moved = self.segments.replace_members(i, fresh);
                moved
                    .iter()
                    .map(|id| (id, self.segments.segment_holds(i, id)))
                    .collect()
            } else {
                let answers: SmallVec<[(u32, bool); 4]> = candidates
                    .iter()
                    .map(|&id| {
                        let p = ProfileId(id);
                        let member = self.segments.live.contains(id)
                            && self.row_live(&seg.plan.root, p, &std::cell::OnceCell::new(), now);
                        (id, member)
                    })
                    .filter(|&(id, member)| self.segments.segment_holds(i, id) != member)
                    .collect();
                self.segments.set_members(i, &answers);
                answers
            };
            let segment = SegmentId(u32::try_from(i).unwrap_or(u32::MAX));
            if let Some(seg) = self.segments.get_mut(i) {
                for &(id, member) in &answers {
                    if member {
                        seg.entered.insert(id, at);
                    } else {
                        seg.entered.remove(&id);
                    }
                }
            }
            for &(id, member) in &answers {
                self.segments.changes.push(SegmentChange {
                    segment,
                    profile: ProfileId(id),
                    change: if member {
                        Change::Entered
                    } else {
                        Change::Exited
                    },
                    at,
                    cause: cause(ProfileId(id)),
                });
            }
            if !answers.is_empty() {
                moved.push((i, answers));
            }
        }
    }

    /// Every registered segment holds exactly the live profiles its plan accepts, row by
    /// row from the raw data.
    pub(crate) fn check_registered(&self) -> Result<(), String> {
        let now = self.clock.now().unwrap_or(Timestamp::MIN);
        for (i, seg) in self.segments.registered() {
            let mut expected = RoaringBitmap::new();
            for p in self.profile_ids() {
                if let Some(profile) = self.profiles.get(p)
                    && self.row_matches(&seg.plan.root, p, profile, now)
                {
                    expected.insert(p.0);
                }
            }
            if seg.entered.keys().any(|p| !seg.members.contains(*p)) {
                return Err(format!(
                    "segment {i} ({}): an entry time of a non-member",
                    seg.name
                ));
            }
            if expected != seg.members {
                return Err(format!(
                    "segment {i} ({}): {} members, expected {}",
                    seg.name,
                    seg.members.len(),
                    expected.len()
                ));
            }
        }
        Ok(())
    }
}
