//! Behaviour: the events of each profile, kept in time order.

pub(crate) mod store;
pub(crate) mod text;

pub use store::EventView;
