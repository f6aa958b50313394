//! Integration tests through the public API only, as one binary.
// Tests unwrap and index freely: a panic is a failed assertion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod bad_input;
mod common;
mod computed;
mod computed_model;
mod erasure;
mod erasure_props;
mod events;
mod identity;
mod model;
mod operations;
mod privacy;
mod privacy_props;
mod progress;
mod props;
mod realtime;
mod realtime_props;
mod record_retention;
mod rectify;
mod repair;
mod repair_props;
mod retention;
mod rfm;
mod rfm_model;
mod schema_evolution;
mod segments;
mod segments_props;
mod snapshot;
mod snapshot_migration;
#[cfg(feature = "spec")]
mod spec;
#[cfg(feature = "spec")]
mod spec_props;
#[cfg(feature = "sql")]
mod sql;
mod static_segments;
mod traits;
mod workload;
