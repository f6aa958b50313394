//! Segments on the engine: compiling expressions, counting and listing members, overlaps,
//! and named segments that other expressions can refer to.

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::error::{CompileError, LookupError, SegmentError, TimeError};
use crate::ids::ProfileId;
use crate::profile::Profile;
use crate::segment::compile::{self, Plan, Scope};
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
    /// Compiles `expr` against the schema and the named segments defined so far.
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
            },
        )
    }

    /// The clock a plan is evaluated at.
    fn clock_for(&self, plan: &Plan) -> Result<Timestamp, TimeError> {
        match self.clock.now() {
            Some(now) => Ok(now),
            None if self.segments.reads_clock(&plan.root) => Err(TimeError::ClockUnset),
            None => Ok(Timestamp::MIN),
        }
    }

    /// The live profiles in the segment, as a bitmap of profile ids.
    ///
    /// # Errors
    /// [`TimeError::ClockUnset`] when the plan has windows or computed traits and the clock
    /// was never set.
    pub fn members(&self, plan: &Plan) -> Result<RoaringBitmap, TimeError> {
        let now = self.clock_for(plan)?;
        Ok(self.eval_bitmap(&plan.root, None, now))
    }

    /// The number of live profiles in the segment.
    ///
    /// # Errors
    /// As [`Engine::members`].
    pub fn count(&self, plan: &Plan) -> Result<u64, TimeError> {
        Ok(self.members(plan)?.len())
    }

    /// Whether the live profile `profile` is part of is in the segment (the row evaluator).
    ///
    /// # Errors
    /// [`SegmentError::Time`] as [`Engine::members`]; an unknown profile is
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
    pub fn overlap(&self, first: &Plan, second: &Plan) -> Result<Overlap, TimeError> {
        let a = self.members(first)?;
        let b = self.members(second)?;
        let both = a.intersection_len(&b);
        Ok(Overlap {
            both,
            only_first: a.len() - both,
            only_second: b.len() - both,
        })
    }

    /// Defines the named segment `name`, which later expressions can refer to with
    /// [`Expr::Segment`]. Its members are computed when first asked for and cached until
    /// the data, the clock or an RFM run changes.
    ///
    /// With the clock set, each event, sequence, computed-trait (except "days since"),
    /// RFM and sample condition in it is materialized: a bitmap of the profiles satisfying
    /// it, built now (one pass over every profile) and kept current on every ingest,
    /// merge, clock move and RFM run from then on. Any plan compiled later with the same
    /// condition reads the bitmap instead of the events.
    ///
    /// # Errors
    /// [`SegmentError::Duplicate`] for a name already defined (definitions are immutable,
    /// so no segment can refer to itself); [`SegmentError::Compile`] for a bad expression.
    pub fn define_segment(&mut self, name: &str, expr: Expr) -> Result<(), SegmentError> {
        if self.segments.position(name).is_some() {
            return Err(SegmentError::Duplicate(name.to_string()));
        }
        let mut plan = self.compile(&expr)?;
        if self.clock.now().is_some() {
            let mut leaves = Vec::new();
            compile::unmaterialized(&plan.root, &self.schema, &mut leaves);
            let leaves: Vec<_> = leaves.into_iter().cloned().collect();
            for leaf in leaves {
                self.materialize(leaf);
            }
            compile::use_materialized(&mut plan.root, &self.segments.materialized_leaves());
        }
        self.segments.define(name.to_string(), expr, plan);
        Ok(())
    }

    /// The expression the named segment was defined with.
    ///
    /// # Errors
    /// [`SegmentError::Unknown`].
    pub fn segment_expr(&self, name: &str) -> Result<&Expr, SegmentError> {
        self.named(name).map(|i| &i.1.expr)
    }

    fn named(&self, name: &str) -> Result<(usize, &crate::segment::store::Named), SegmentError> {
        let i = self
            .segments
            .position(name)
            .ok_or_else(|| SegmentError::Unknown(name.to_string()))?;
        let named = self
            .segments
            .get(i)
            .ok_or_else(|| SegmentError::Unknown(name.to_string()))?;
        Ok((i, named))
    }

    /// The members of the named segment.
    ///
    /// # Errors
    /// [`SegmentError::Unknown`], or [`SegmentError::Time`] as [`Engine::members`].
    pub fn segment_members(&self, name: &str) -> Result<RoaringBitmap, SegmentError> {
        let (i, named) = self.named(name)?;
        let now = self.clock_for(&named.plan)?;
        Ok(self.segment_bitmap(i, now))
    }

    /// The number of members of the named segment.
    ///
    /// # Errors
    /// As [`Engine::segment_members`].
    pub fn segment_count(&self, name: &str) -> Result<u64, SegmentError> {
        Ok(self.segment_members(name)?.len())
    }
}
