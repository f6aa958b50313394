//! Identity resolution: normalization, the identity graph and the linking rule.

mod graph;
pub(crate) mod link;
pub(crate) mod normalize;
pub(crate) mod repair;

pub use repair::{
    FirstSeen, IdentityExplanation, LinkExplanation, MergeExplanation, RepairReport, SplitEvent,
};

pub(crate) use graph::IdentityGraph;
