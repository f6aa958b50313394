//! Profiles: the store of live and retired profiles, and trait merge strategies.

pub(crate) mod merge;
mod store;
pub(crate) mod view;

pub(crate) use store::{Linked, Profile, ProfileStore, Slot, WARM_BLOCK};
pub use view::ObservationView;
pub use view::{CurrentValue, IdentifierView, ProfileView, TraitView};
