//! Behaviour: the events of each profile, kept in time order, and the computed traits
//! derived from them.

pub(crate) mod computed;
pub(crate) mod computed_value;
pub(crate) mod store;
pub(crate) mod text;

pub use computed_value::{ComputedValue, Habit, PartOfDay};
pub use store::EventView;
