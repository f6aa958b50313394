//! Identity resolution: normalization, the identity graph and the linking rule.

mod graph;
pub(crate) mod link;
pub(crate) mod normalize;

pub(crate) use graph::IdentityGraph;
