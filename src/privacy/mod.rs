//! Privacy by construction: consent per (purpose, channel), suppression lists, and the
//! activation gate — the only way to get an audience with channel addresses.
//!
//! Counting and analysis need no consent; handing out addresses does. See
//! [`crate::Engine::activate`].

pub(crate) mod activation;
pub(crate) mod consent;
pub(crate) mod erase;
pub(crate) mod export;
pub(crate) mod suppression;

pub use activation::{
    ActivatedProfile, Activation, ActivationOptions, AddressHash, Audience, Removed,
};
pub use consent::{ConsentBasis, ConsentState, ConsentStatementView};
pub use erase::{ErasureOptions, ErasureReceipt, Subject};
pub use export::{IdentifierRecords, Membership, ProfileExport, RestrictionView, RfmExport};
pub use suppression::{Suppression, SuppressionTarget, SuppressionView};
