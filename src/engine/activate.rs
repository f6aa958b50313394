//! The activation gate: the only way to get an audience with channel addresses.

use std::borrow::Cow;

use roaring::RoaringBitmap;
use sha2::{Digest, Sha256};
use smallvec::SmallVec;

use crate::engine::Engine;
use crate::error::PrivacyError;
use crate::ids::{ChannelId, KindId, ProfileId};
use crate::privacy::{Activation, ActivationOptions, AddressHash, Audience, Removed};
use crate::time::Timestamp;

/// Members handled per block of [`Engine::activate`].
const BLOCK: usize = 256;

/// Writes the lowercase hex of the SHA-256 of `address` into `out`.
fn sha256_hex<'a>(address: &str, out: &'a mut [u8; 64]) -> &'a str {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(address.as_bytes());
    for (pair, byte) in out.chunks_exact_mut(2).zip(digest) {
        if let [hi, lo] = pair {
            *hi = HEX.get(usize::from(byte >> 4)).copied().unwrap_or(b'0');
            *lo = HEX.get(usize::from(byte & 15)).copied().unwrap_or(b'0');
        }
    }
    std::str::from_utf8(out).unwrap_or_default()
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
    /// assert_eq!(audience.audience(), 2);
    /// let ann = audience.members().next().expect("ann consented");
    /// assert_eq!(ann.address(), Some("ann@example.com"));
    /// assert_eq!(audience.removed().no_consent, 1);
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
        let mut out = Activation::new(
            purpose,
            channel,
            members.len(),
            usize::try_from(cleared.len()).unwrap_or(0),
        );
        *out.removed_mut() = Removed {
            no_consent: members.len() - consented.len(),
            suppressed: consented.len() - cleared.len(),
            ..Removed::default()
        };
        let Some(kind) = self.schema.address_kind(channel_id) else {
            for id in &cleared {
                out.push_member(ProfileId(id));
            }
            return Ok(out);
        };
        // In blocks of members, two passes each, so the memory reads of a pass do not
        // wait on one another and the processor overlaps them: the members' identifiers of
        // the kind (from the profiles), then their values (from the identity graph); a
        // block's data is still in cache when its addresses are written.
        let ids: Vec<u32> = cleared.iter().collect();
        let mut candidates: Vec<(u32, Timestamp, &str)> = Vec::with_capacity(BLOCK * 2);
        let mut idents: Vec<(u32, Timestamp, crate::ids::IdentId)> = Vec::with_capacity(BLOCK * 2);
        for block in ids.chunks(BLOCK) {
            idents.clear();
            for &id in block {
                if let Some(profile) = self.profiles.get(ProfileId(id)) {
                    for l in profile.identifiers.iter().filter(|l| l.kind == kind) {
                        idents.push((id, l.seen, l.ident));
                    }
                }
            }
            candidates.clear();
            candidates.extend(idents.iter().map(|&(id, seen, ident)| {
                (
                    id,
                    seen,
                    self.graph.entry(ident).map_or("", |e| e.value.as_str()),
                )
            }));
            let mut next = candidates.iter().peekable();
            for &id in block {
                let mut mine: SmallVec<[(Timestamp, &str); 2]> = SmallVec::new();
                while let Some(&(_, seen, value)) = next.next_if(|(c, _, _)| *c == id) {
                    mine.push((seen, value));
                }
                let withheld = self.push_addresses(&mut out, kind, channel_id, options, mine);
                out.removed_mut().suppressed_addresses += withheld;
                if out.pending_addresses() == 0 {
                    out.removed_mut().no_address += 1;
                } else {
                    out.push_member(ProfileId(id));
                }
            }
        }
        Ok(out)
    }

    /// Pushes a member's usable addresses of `kind` on `channel` (from its `addresses`
    /// with the time each was last seen) onto `out`, most recently seen first (ties: by
    /// value), only the first unless all are asked for; returns how many were withheld
    /// as suppressed.
    fn push_addresses(
        &self,
        out: &mut Activation,
        kind: KindId,
        channel: ChannelId,
        options: ActivationOptions,
        mut usable: SmallVec<[(Timestamp, &str); 2]>,
    ) -> u64 {
        let mut withheld = 0u64;
        if let Some(suppressions) = self.suppressed_ids.get(&kind) {
            usable.retain(|(_, value)| {
                let suppressed = suppressions
                    .get(*value)
                    .is_some_and(|entries| entries.iter().any(|s| s.applies_to(Some(channel))));
                withheld += u64::from(suppressed);
                !suppressed
            });
        }
        if usable.len() > 1 {
            usable.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        }
        if !options.all_addresses {
            usable.truncate(1);
        }
        let mut hex = [0u8; 64];
        for (_, v) in usable {
            match options.hash {
                AddressHash::Plain => out.push_address(v),
                AddressHash::Sha256 => out.push_address(sha256_hex(v, &mut hex)),
            }
        }
        withheld
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_is_lowercase_hex_of_the_bytes() {
        // Known answer: SHA-256("abc").
        assert_eq!(
            sha256_hex("abc", &mut [0; 64]),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
