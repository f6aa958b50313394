//! Segments on the engine: compiling expressions, counting and listing members, overlaps
//! and explanations. Registered segments, which other expressions can name, are in
//! `realtime.rs`.

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::error::{CompileError, LookupError, SegmentError, TimeError};
use crate::ids::{ProfileId, SegmentId};
use crate::profile::Profile;
use crate::segment::compile::{self, Node, Plan, Scope};
use crate::segment::explain::Explanation;
use crate::segment::expr::Expr;
use crate::time::Timestamp;

/// How two segments overlap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Overlap {
    /// In both.
    pub both: u64,
    /// In the first only.
    pub only_first: u64,
    /// In the second only.
    pub only_second: u64,
}

impl Engine {
    /// Compiles `expr` against the schema and the segments registered so far.
    ///
    /// # Errors
    /// [`CompileError`] naming the place in the expression and the problem: unknown names,
    /// type mismatches, empty `in` lists and windows, bad sample or score ranges, and
    /// expressions deeper or larger than the bounds.
    pub fn compile(&self, expr: &Expr) -> Result<Plan, CompileError> {
        let names = self.segments.names();
        let materialized = self.segments.materialized_leaves();
        compile::compile(
            expr,
            &Scope {
                schema: &self.schema,
                segments: &names,
                materialized: &materialized,
                profile_slots: self.profiles.slot_count(),
                limits: compile::Limits::of(&self.config),
            },
        )
    }

    /// The clock a plan is evaluated at, once every segment it names is known to be
    /// still registered.
    fn clock_for(&self, plan: &Plan) -> Result<Timestamp, SegmentError> {
        let mut stack = vec![&plan.root];
        while let Some(n) = stack.pop() {
            match n {
                Node::And(c) | Node::Or(c) => stack.extend(c),
                Node::Not(c) => stack.push(c),
                Node::Segment(i) if self.segments.get(*i).is_none() => {
                    return Err(SegmentError::UnknownId(SegmentId(
                        u32::try_from(*i).unwrap_or(u32::MAX),
                    )));
                }
                _ => {}
            }
        }
        match self.clock.now() {
            Some(now) => Ok(now),
            None if self.segments.reads_clock(&plan.root) => Err(TimeError::ClockUnset.into()),
            None => Ok(Timestamp::MIN),
        }
    }

    /// The live profiles in the segment, as a bitmap of profile ids.
    ///
    /// # Errors
    /// [`SegmentError::Time`] when the plan has windows or computed traits and the clock
    /// was never set; [`SegmentError::UnknownId`] when it names a segment unregistered
    /// since it was compiled.
    pub fn members(&self, plan: &Plan) -> Result<RoaringBitmap, SegmentError> {
        let now = self.clock_for(plan)?;
        Ok(self.eval_members(&plan.root, now))
    }

    /// The number of live profiles in the segment.
    ///
    /// # Errors
    /// As [`Engine::members`].
    pub fn count(&self, plan: &Plan) -> Result<u64, SegmentError> {
        let now = self.clock_for(plan)?;
        Ok(self.count_members(&plan.root, now))
    }

    /// Whether the live profile `profile` is part of is in the segment (the row evaluator).
    ///
    /// # Errors
    /// [`SegmentError`] as [`Engine::members`]; an unknown profile is
    /// [`LookupError::UnknownProfile`] inside [`crate::Error`].
    pub fn matches(&self, plan: &Plan, profile: ProfileId) -> Result<bool, crate::Error> {
        let (now, live, p) = self.row_context(plan, profile)?;
        Ok(self.row_matches(&plan.root, live, p, now))
    }

    /// The clock, the live profile `profile` is part of, and its data, for evaluating
    /// `plan` row by row.
    fn row_context(
        &self,
        plan: &Plan,
        profile: ProfileId,
    ) -> Result<(Timestamp, ProfileId, &Profile), crate::Error> {
        let now = self.clock_for(plan)?;
        let live = self.resolve(profile)?;
        let p = self
            .profiles
            .get(live)
            .ok_or(LookupError::UnknownProfile(profile))?;
        Ok((now, live, p))
    }

    /// Why the live profile `profile` is part of is, or is not, in the segment: the plan
    /// as a tree, each node with its answer and, for a leaf, the value it looked at.
    ///
    /// # Errors
    /// As [`Engine::matches`].
    pub fn explain(&self, plan: &Plan, profile: ProfileId) -> Result<Explanation, crate::Error> {
        let (now, live, p) = self.row_context(plan, profile)?;
        Ok(self.explain_node(&plan.root, live, p, now))
    }

    /// How two segments overlap.
    ///
    /// # Errors
    /// As [`Engine::members`].
    pub fn overlap(&self, first: &Plan, second: &Plan) -> Result<Overlap, SegmentError> {
        let a = self.members(first)?;
        let b = self.members(second)?;
        let both = a.intersection_len(&b);
        Ok(Overlap {
            both,
            only_first: a.len() - both,
            only_second: b.len() - both,
        })
    }
}
