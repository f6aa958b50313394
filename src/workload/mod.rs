//! Deterministic synthetic workloads of `shared/bench`, generated bit for bit from a seed.

pub mod identity;
pub mod realtime;
pub mod rfm;
pub mod segments;
pub mod shop;
pub mod spec;
pub mod splitmix;
