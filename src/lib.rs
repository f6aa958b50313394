//! # audience
//!
//! The core of a customer data platform, in process: records from many sources are
//! stitched into one profile per person, traits merge by per-trait strategies, and every
//! observation keeps its source, time and record.
//!
//! The engine is pure and in-memory. It owns no thread, file, socket or clock: the host
//! feeds it [`Record`]s with their timestamps, moves its clock with
//! [`Engine::advance_time`], asks it questions and stores what it hands back. The same calls
//! in the same order give the same state, bit for bit.
//!
//! ```
//! use audience::{Engine, Record, Schema, Timestamp};
//!
//! let mut engine = Engine::new(Schema::retail_default());
//! let t = Timestamp::from_secs(1_700_000_000)?;
//! engine.ingest(
//!     &Record::builder(t, "web")
//!         .identifier("anonymous_id", "device-7")
//!         .trait_value("country", "DE")
//!         .build(),
//! )?;
//! let report = engine.ingest(
//!     &Record::builder(t, "crm")
//!         .identifier("anonymous_id", "device-7")
//!         .identifier("email", " Ann@Example.com ")
//!         .trait_value("first_name", "Ann")
//!         .build(),
//! )?;
//! let profile = engine.profile(report.profile)?;
//! assert_eq!(engine.find("email", "ann@example.com")?, Some(report.profile));
//! assert_eq!(profile.value("country"), Some(&"DE".into()));
//! # Ok::<(), audience::Error>(())
//! ```
//!
//! ## Sharing an engine between threads
//! [`Engine`] is `Send + Sync` and has no interior mutability: every query takes `&self`
//! and every change `&mut self`, so the borrow checker is the whole concurrency
//! contract. Two ways a host shares one:
//! - behind a [`std::sync::RwLock`]: readers (counts, members, profiles, activation)
//!   run in parallel, and a writer (ingest, clock moves, erasure) waits for them. Keep
//!   writes in small batches so readers are not held up;
//! - one writer thread that owns the engine, and readers served from
//!   [`Engine::snapshot`]s restored into their own engines (or from what the writer hands
//!   out: drained [`SegmentChange`]s, activations), when reads must never wait.
//!
//! ```
//! use std::sync::{Arc, RwLock};
//! use audience::{Engine, Record, Schema, Timestamp};
//!
//! let engine = Arc::new(RwLock::new(Engine::new(Schema::retail_default())));
//! let writer = {
//!     let engine = Arc::clone(&engine);
//!     std::thread::spawn(move || {
//!         let t = Timestamp::from_secs(1_700_000_000).expect("in range");
//!         for i in 0..100 {
//!             let r = Record::builder(t, "web").identifier("user_id", format!("u{i}")).build();
//!             engine.write().expect("not poisoned").ingest(&r).expect("valid");
//!         }
//!     })
//! };
//! let seen = engine.read().expect("not poisoned").profile_count(); // never a torn state
//! assert!(seen <= 100);
//! writer.join().expect("writer done");
//! assert_eq!(engine.read().expect("not poisoned").profile_count(), 100);
//! ```
//!
//! `examples/shared_engine.rs` runs a writer and several readers for a few seconds.
//!
//! ## Glossary
//! - **profile**: one person, identified by a dense [`ProfileId`].
//! - **identifier**: a `(kind, value)` pair such as `(email, ann@example.com)`, normalized
//!   by its kind's rule; profiles that share one merge.
//! - **trait**: a named, typed attribute of a profile (country, age, interests).
//! - **observation**: one value of a trait seen on one record; never lost by a merge.
//! - **record**: what the host feeds: identifiers and observations at a time from a source.
//!
//! See `ARCHITECTURE.md` for the design and its invariants.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod dedup;
mod due;
mod engine;
mod error;
mod event;
mod hash;
mod identity;
mod ids;
mod index;
mod money;
pub mod privacy;
mod profile;
mod progress;
mod realtime;
mod record;
mod record_log;
pub mod rfm;
pub mod schema;
pub mod segment;
pub mod snapshot;
#[cfg(feature = "spec")]
pub mod spec;
#[cfg(feature = "sql")]
pub mod sql;
mod time;
#[cfg(feature = "workload")]
pub mod workload;
mod zone;

pub use engine::{
    DroppedIdentifier, Engine, EngineConfig, IngestOptions, IngestReport, LoggedIdentifierView,
    MAX_PAGE_LIMIT, MemoryStats, MergeEvent, Overlap, Page, RecordCorrection, RecordView,
    Rectification, RetentionReceipt, SchemaChange, SchemaItem, SegmentStats, Stats,
};
pub use error::{
    CompileError, CompileProblem, ComputedProblem, CsvError, CsvProblem, DropReason, Error,
    IngestError, LookupError, MoneyError, PageError, PrivacyError, RectifyError, RepairError,
    RfmProblem, SchemaChangeError, SchemaError, SegmentError, TimeError,
};
pub use event::{ComputedValue, EventView, Habit, PartOfDay};
pub use identity::{
    FirstSeen, IdentityExplanation, LinkExplanation, MergeExplanation, RepairReport, SplitEvent,
};
pub use ids::{
    ChannelId, ComputedId, EventKindId, KindId, ProfileId, PurposeId, RecordId, SegmentId,
    SourceId, TraitId,
};
pub use money::{Currency, Money};
pub use privacy::{
    ActivatedProfile, Activation, ActivationOptions, AddressHash, Audience, ConsentBasis,
    ConsentState, ConsentStatementView, ErasureOptions, ErasureReceipt, ProfileExport, Removed,
    Subject, Suppression, SuppressionTarget, SuppressionView,
};
pub use profile::{CurrentValue, IdentifierView, ObservationView, ProfileView, TraitView};
pub use progress::Progress;
pub use realtime::{Cause, Change, SegmentChange};
pub use record::{
    ConsentInput, EventInput, IdentifierInput, PropertyInput, Record, RecordBuilder, TraitInput,
    Value,
};
pub use record_log::LinkStatus;
pub use schema::Schema;
pub use time::{Clock, MILLIS_PER_DAY, Timestamp, Window, days_since, is_since};

// The concurrency contract above, checked at compile time.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Engine>();
    send_sync::<snapshot::Snapshot>();
    #[cfg(feature = "spec")]
    send_sync::<spec::SpecMapper>();
};

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
