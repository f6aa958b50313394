//! Dense ids: public [`ProfileId`] and [`RecordId`], and the schema-internal ids.
#![deny(clippy::arithmetic_side_effects)]

use std::fmt;

use serde::{Deserialize, Serialize};

/// A profile: one person. Dense, so every index is a bitmap over profile ids.
///
/// A merge keeps the lower id and retires the other; `Engine::resolve` follows retired ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProfileId(pub u32);

impl ProfileId {
    /// The id as a `usize` index.
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for ProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}", self.0)
    }
}

/// An accepted record, numbered in arrival order from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RecordId(pub u64);

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// A registered segment. Ids are never reused: one unregistered stays unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SegmentId(pub u32);

impl SegmentId {
    /// The id as a `usize` index.
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s{}", self.0)
    }
}

macro_rules! schema_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub(crate) u16);

        impl $name {
            /// The position of the definition in the schema.
            pub fn index(self) -> usize {
                usize::from(self.0)
            }
        }
    };
}

schema_id!(
    /// An identifier kind of the schema, by position.
    KindId
);
schema_id!(
    /// A source of the schema, by position.
    SourceId
);
schema_id!(
    /// A trait of the schema, by position.
    TraitId
);
schema_id!(
    /// An event kind of the schema, by position.
    EventKindId
);

schema_id!(
    /// A computed trait of the schema, by position.
    ComputedId
);

schema_id!(
    /// A consent purpose of the schema, by position.
    PurposeId
);

schema_id!(
    /// A channel of the schema, by position.
    ChannelId
);

/// An interned normalized identifier `(kind, value)`; dense, never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct IdentId(pub(crate) u32);

impl IdentId {
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}
