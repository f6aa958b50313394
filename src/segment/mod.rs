//! Segments: "who is in this segment?", exactly, over every live profile.
//!
//! An [`Expr`] is data (serde, no references into the engine). [`crate::Engine::compile`]
//! turns it into a [`Plan`] — names resolved, values checked against types, bounds
//! enforced, simplified — which [`crate::Engine::members`] evaluates to a bitmap of
//! profile ids and [`crate::Engine::matches`] checks for one profile; the two evaluators
//! always agree.
//!
//! ```
//! use audience::segment::{event, trait_};
//! use audience::{Engine, EventInput, Record, Schema, Timestamp, Window};
//! let mut engine = Engine::new(Schema::retail_default());
//! let t = Timestamp::from_secs(1_700_000_000)?;
//! engine.advance_time(t)?;
//! for (user, country, carts) in [("ann", "DE", 2), ("bob", "DE", 0), ("cy", "FR", 1)] {
//!     let mut r = Record::builder(t, "web").identifier("user_id", user).trait_value("country", country);
//!     for _ in 0..carts {
//!         r = r.event(EventInput::new("add_to_cart", t));
//!     }
//!     engine.ingest(&r.build())?;
//! }
//! let germans_with_carts = trait_("country")
//!     .eq("DE")
//!     .and(event("add_to_cart").in_window(Window::LastDays(7)).at_least(1));
//! let plan = engine.compile(&germans_with_carts)?;
//! assert_eq!(engine.count(&plan)?, 1);
//! let germans = engine.register_segment("germans", trait_("country").eq("DE"))?;
//! assert_eq!(engine.segment_count(germans)?, 2);
//! # Ok::<(), audience::Error>(())
//! ```

pub(crate) mod compile;
pub(crate) mod eval_bitmap;
pub(crate) mod eval_dense;
pub(crate) mod eval_row;
pub(crate) mod explain;
pub(crate) mod expr;
pub(crate) mod materialize;
pub(crate) mod portable;
pub(crate) mod queue;
pub(crate) mod rows;
pub(crate) mod sample;
pub(crate) mod simplify;
pub(crate) mod store;

pub use compile::{MAX_DEPTH, MAX_NODES, Plan};
pub use explain::Explanation;
pub use expr::{
    EventCond, EventSpec, Expr, RfmCond, SampleCond, Sequence, SumTest, Test, TraitBuilder,
    computed, consent, event, sample, segment, suppressed, suppressed_anywhere, trait_,
};
pub use portable::{PortableError, ProfileSet, from_portable, to_portable};
pub use roaring::RoaringBitmap;
pub use sample::{bucket_of, key_of, mix64};
