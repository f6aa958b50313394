//! The activation gate's output: an audience for one purpose on one channel, with the
//! channel addresses of every member who may be reached there.
//!
//! [`Activation`] cannot be built outside this crate (its fields are read-only for the
//! host, it has no constructor and it is not `Deserialize`), so an audience with addresses
//! always went through the consent and suppression checks of [`crate::Engine::activate`].

use serde::Serialize;

use crate::ids::{ProfileId, SegmentId};
use crate::segment::Expr;
use crate::segment::compile::Plan;

/// Which profiles to activate: a registered segment, an expression, or a compiled plan.
#[derive(Clone, Copy, Debug)]
pub enum Audience<'a> {
    /// The maintained members of a registered segment.
    Segment(SegmentId),
    /// An expression, compiled and evaluated now.
    Expr(&'a Expr),
    /// A compiled plan, evaluated now.
    Plan(&'a Plan),
}

impl From<SegmentId> for Audience<'_> {
    fn from(id: SegmentId) -> Self {
        Audience::Segment(id)
    }
}

impl<'a> From<&'a Expr> for Audience<'a> {
    fn from(expr: &'a Expr) -> Self {
        Audience::Expr(expr)
    }
}

impl<'a> From<&'a Plan> for Audience<'a> {
    fn from(plan: &'a Plan) -> Self {
        Audience::Plan(plan)
    }
}

/// How addresses are handed out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AddressHash {
    /// As normalized (`ann@example.com`, `+491701234567`).
    #[default]
    Plain,
    /// SHA-256 of the normalized address, as lowercase hex: how ad platforms take
    /// customer lists (Google Customer Match, Meta Custom Audiences).
    Sha256,
}

/// Options of [`crate::Engine::activate`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ActivationOptions {
    /// Every usable address of a member, most recently seen first, rather than only the
    /// most recent one.
    pub all_addresses: bool,
    /// How addresses are written.
    pub hash: AddressHash,
}

/// One member of an activation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ActivatedProfile {
    /// The profile.
    pub profile: ProfileId,
    /// Its usable addresses on the channel, most recently seen first (ties: by value);
    /// empty for a channel without an address kind.
    pub addresses: Vec<String>,
}

/// Who was left out of an activation, and why. Each profile of the audience is counted
/// once, at the first check it fails, in this order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Removed {
    /// No consent for the purpose on the channel.
    pub no_consent: u64,
    /// Suppressed as a whole for the channel (or every channel).
    pub suppressed: u64,
    /// No usable address: none of the channel's kind, or every one suppressed.
    pub no_address: u64,
    /// Addresses withheld because they are suppressed (of members and of profiles
    /// counted in `no_address`).
    pub suppressed_addresses: u64,
}

/// An audience cleared for one purpose on one channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Activation {
    /// The purpose.
    pub purpose: String,
    /// The channel.
    pub channel: String,
    /// How many profiles the audience held.
    pub audience: u64,
    /// The members cleared, in profile id order.
    pub members: Vec<ActivatedProfile>,
    /// Who was left out. `audience == members.len() + no_consent + suppressed + no_address`.
    pub removed: Removed,
}
