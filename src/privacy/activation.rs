//! The activation gate's output: an audience for one purpose on one channel, with the
//! channel addresses of every member who may be reached there.
//!
//! [`Activation`] cannot be built outside this crate (its fields are read-only for the
//! host, it has no constructor and it is not `Deserialize`), so an audience with addresses
//! always went through the consent and suppression checks of [`crate::Engine::activate`].

use std::ops::Range;

use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

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

/// One member of an activation, borrowed from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivatedProfile<'a> {
    /// The profile.
    pub profile: ProfileId,
    activation: &'a Activation,
    /// This member's addresses, as positions in `activation.address_ends`.
    addresses: Range<usize>,
}

impl<'a> ActivatedProfile<'a> {
    /// Its usable addresses on the channel, most recently seen first (ties: by value);
    /// none for a channel without an address kind.
    pub fn addresses(&self) -> impl ExactSizeIterator<Item = &'a str> + 'a {
        let activation = self.activation;
        self.addresses.clone().map(move |i| activation.address(i))
    }

    /// Its most recently seen usable address.
    pub fn address(&self) -> Option<&'a str> {
        self.addresses().next()
    }
}

impl Serialize for ActivatedProfile<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("ActivatedProfile", 2)?;
        m.serialize_field("profile", &self.profile)?;
        m.serialize_field("addresses", &self.addresses().collect::<Vec<_>>())?;
        m.end()
    }
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

/// An audience cleared for one purpose on one channel: the members in profile id order,
/// each with its addresses, and who was left out.
///
/// Addresses are stored back to back in one buffer, so a large activation costs a few
/// allocations, not two per member. In JSON it reads
/// `{"purpose", "channel", "audience", "removed", "members": [{"profile", "addresses"}]}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activation {
    purpose: String,
    channel: String,
    audience: u64,
    removed: Removed,
    profiles: Vec<ProfileId>,
    /// Per member: the end of its addresses in `address_ends`.
    member_ends: Vec<usize>,
    /// Per address: its end in `text`.
    address_ends: Vec<usize>,
    text: String,
}

impl Activation {
    /// An empty activation of an audience of `audience` profiles (crate-only).
    pub(crate) fn new(purpose: &str, channel: &str, audience: u64, capacity: usize) -> Self {
        Activation {
            purpose: purpose.to_string(),
            channel: channel.to_string(),
            audience,
            removed: Removed::default(),
            profiles: Vec::with_capacity(capacity),
            member_ends: Vec::with_capacity(capacity),
            address_ends: Vec::with_capacity(capacity),
            text: String::new(),
        }
    }

    /// Adds an address of the member being built (crate-only).
    pub(crate) fn push_address(&mut self, address: &str) {
        self.text.push_str(address);
        self.address_ends.push(self.text.len());
    }

    /// Closes the member `profile`, whose addresses were pushed since the last one.
    pub(crate) fn push_member(&mut self, profile: ProfileId) {
        self.profiles.push(profile);
        self.member_ends.push(self.address_ends.len());
    }

    /// The addresses pushed since the last member (crate-only).
    pub(crate) fn pending_addresses(&self) -> usize {
        self.address_ends.len() - self.member_ends.last().copied().unwrap_or(0)
    }

    /// The counts of who was left out, to fill in (crate-only).
    pub(crate) fn removed_mut(&mut self) -> &mut Removed {
        &mut self.removed
    }

    fn address(&self, i: usize) -> &str {
        let start = match i.checked_sub(1) {
            Some(prev) => self.address_ends.get(prev).copied().unwrap_or(0),
            None => 0,
        };
        let end = self.address_ends.get(i).copied().unwrap_or(start);
        self.text.get(start..end).unwrap_or_default()
    }

    /// The purpose.
    pub fn purpose(&self) -> &str {
        &self.purpose
    }

    /// The channel.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// How many profiles the audience held.
    pub fn audience(&self) -> u64 {
        self.audience
    }

    /// Who was left out:
    /// `audience == len() + no_consent + suppressed + no_address`.
    pub fn removed(&self) -> Removed {
        self.removed
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.profiles.len()
    }

    /// Whether no one was cleared.
    pub fn is_empty(&self) -> bool {
        self.profiles.is_empty()
    }

    /// The members' profile ids, ascending.
    pub fn profiles(&self) -> &[ProfileId] {
        &self.profiles
    }

    /// The members, in profile id order, each with its addresses.
    pub fn members(&self) -> impl ExactSizeIterator<Item = ActivatedProfile<'_>> + '_ {
        self.profiles.iter().enumerate().map(move |(i, &profile)| {
            let start = match i.checked_sub(1) {
                Some(prev) => self.member_ends.get(prev).copied().unwrap_or(0),
                None => 0,
            };
            let end = self.member_ends.get(i).copied().unwrap_or(start);
            ActivatedProfile {
                profile,
                activation: self,
                addresses: start..end,
            }
        })
    }
}

impl Serialize for Activation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("Activation", 5)?;
        m.serialize_field("purpose", &self.purpose)?;
        m.serialize_field("channel", &self.channel)?;
        m.serialize_field("audience", &self.audience)?;
        m.serialize_field("removed", &self.removed)?;
        m.serialize_field("members", &self.members().collect::<Vec<_>>())?;
        m.end()
    }
}
