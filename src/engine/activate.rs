//! The activation gate: the only way to get an audience with channel addresses.

use std::borrow::Cow;
use std::fmt::Write as _;

use roaring::RoaringBitmap;
use sha2::{Digest, Sha256};
use smallvec::SmallVec;

use crate::engine::Engine;
use crate::error::PrivacyError;
use crate::ids::{ChannelId, KindId, ProfileId};
use crate::privacy::{
    ActivatedProfile, Activation, ActivationOptions, AddressHash, Audience, Removed,
};
use crate::profile::Profile;
use crate::time::Timestamp;

/// Lowercase hex of the SHA-256 of `address`.
fn sha256_hex(address: &str) -> String {
    let digest = Sha256::digest(address.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in digest {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

impl Engine {
    /// Activates `audience` for `purpose` on `channel`: keeps the profiles whose consent
    /// for the purpose on the channel is granted and that are not suppressed there as a
    /// whole, and hands out each one's most recently seen address of the channel's
    /// identifier kind (every address with [`ActivationOptions::all_addresses`]),
    /// withholding suppressed addresses. A profile left with no address is removed. The
    /// counts of who was removed, and why, add up to the audience.
    ///
    /// Counting and analysis ([`Engine::count`], [`Engine::members`]) need no consent; this
    /// is the gate for contacting people. [`Activation`] cannot be built any other way.
    ///
    /// ```
    /// use audience::segment::trait_;
    /// use audience::{ActivationOptions, Audience, ConsentInput, Engine, Record, Schema, Timestamp};
    /// let mut engine = Engine::new(Schema::retail_default());
    /// let t = Timestamp::from_secs(1_700_000_000)?;
    /// for (email, granted) in [("ann@example.com", true), ("bob@example.com", false)] {
    ///     let consent = if granted { ConsentInput::grant("marketing") } else { ConsentInput::deny("marketing") };
    ///     engine.ingest(&Record::builder(t, "web")
    ///         .identifier("email", email)
    ///         .trait_value("country", "DE")
    ///         .consent(consent.channel("email"))
    ///         .build())?;
    /// }
    /// let germans = trait_("country").eq("DE");
    /// let audience = engine.activate(&germans, "marketing", "email", ActivationOptions::default())?;
    /// assert_eq!(audience.audience, 2);
    /// assert_eq!(audience.members[0].addresses, vec!["ann@example.com".to_string()]);
    /// assert_eq!(audience.removed.no_consent, 1);
    /// # Ok::<(), audience::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`PrivacyError::UnknownPurpose`], [`PrivacyError::UnknownChannel`];
    /// [`PrivacyError::Segment`] for an unknown segment id, an expression that does not
    /// compile or one that reads the unset clock.
    pub fn activate<'a>(
        &self,
        audience: impl Into<Audience<'a>>,
        purpose: &str,
        channel: &str,
        options: ActivationOptions,
    ) -> Result<Activation, PrivacyError> {
        let purpose_id = self
            .schema
            .purpose_id(purpose)
            .ok_or_else(|| PrivacyError::UnknownPurpose(purpose.chars().take(64).collect()))?;
        let channel_id = self.channel_id(channel)?;
        let members: Cow<'_, RoaringBitmap> = match audience.into() {
            Audience::Segment(id) => Cow::Borrowed(self.segment_members(id)?),
            Audience::Expr(expr) => {
                let plan = self
                    .compile(expr)
                    .map_err(crate::error::SegmentError::from)?;
                Cow::Owned(self.members(&plan)?)
            }
            Audience::Plan(plan) => Cow::Owned(self.members(plan)?),
        };
        let consented = self
            .privacy_index
            .granted(&self.schema, purpose_id, channel_id, &members);
        let cleared = &consented - self.privacy_index.suppressed(Some(channel_id), true);
        let mut removed = Removed {
            no_consent: members.len() - consented.len(),
            suppressed: consented.len() - cleared.len(),
            ..Removed::default()
        };
        let kind = self.schema.address_kind(channel_id);
        let mut out = Vec::with_capacity(usize::try_from(cleared.len()).unwrap_or(0));
        for id in &cleared {
            let p = ProfileId(id);
            let addresses = match (kind, self.profiles.get(p)) {
                (Some(kind), Some(profile)) => {
                    let (addresses, withheld) = self.addresses(profile, kind, channel_id, options);
                    removed.suppressed_addresses += withheld;
                    if addresses.is_empty() {
                        removed.no_address += 1;
                        continue;
                    }
                    addresses
                }
                (Some(_), None) => {
                    removed.no_address += 1;
                    continue;
                }
                (None, _) => Vec::new(),
            };
            out.push(ActivatedProfile {
                profile: p,
                addresses,
            });
        }
        Ok(Activation {
            purpose: purpose.to_string(),
            channel: channel.to_string(),
            audience: members.len(),
            members: out,
            removed,
        })
    }

    /// `profile`'s usable addresses of `kind` on `channel`, most recently seen first
    /// (ties: by value), only the first unless all are asked for; and how many were
    /// withheld as suppressed.
    fn addresses(
        &self,
        profile: &Profile,
        kind: KindId,
        channel: ChannelId,
        options: ActivationOptions,
    ) -> (Vec<String>, u64) {
        let suppressions = self.suppressed_ids.get(&kind);
        let mut withheld = 0u64;
        let mut usable: SmallVec<[(Timestamp, &str); 2]> = SmallVec::new();
        for l in profile.identifiers.iter().filter(|l| l.kind == kind) {
            let Some(entry) = self.graph.entry(l.ident) else {
                continue;
            };
            let value = &*entry.value;
            let suppressed = suppressions
                .and_then(|s| s.get(value))
                .is_some_and(|entries| entries.iter().any(|s| s.applies_to(Some(channel))));
            if suppressed {
                withheld += 1;
            } else {
                usable.push((l.seen, value));
            }
        }
        usable.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        if !options.all_addresses {
            usable.truncate(1);
        }
        let write = |v: &str| match options.hash {
            AddressHash::Plain => v.to_string(),
            AddressHash::Sha256 => sha256_hex(v),
        };
        (usable.iter().map(|(_, v)| write(v)).collect(), withheld)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_is_lowercase_hex_of_the_bytes() {
        // Known answer: SHA-256("abc").
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
