//! Audiences as roaring bitmaps in the portable serialization format — the one CRoaring,
//! Java's RoaringBitmap, pyroaring, ClickHouse's `groupBitmap` and Druid read and write —
//! and [`ProfileSet`], a fixed set of profile ids that an [`crate::segment::Expr`] can
//! hold (a static segment, [`crate::Engine::import_segment`]).
//!
//! ```
//! use audience::segment::{RoaringBitmap, from_portable, to_portable};
//! let members: RoaringBitmap = [1u32, 5, 70_000].into_iter().collect();
//! let bytes = to_portable(&members);
//! assert_eq!(from_portable(&bytes)?, members);
//! assert!(from_portable(&bytes[..bytes.len() - 1]).is_err());
//! # Ok::<(), audience::segment::PortableError>(())
//! ```

use roaring::RoaringBitmap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bytes that are not a roaring bitmap in the portable format.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a portable roaring bitmap: {reason}")]
pub struct PortableError {
    /// What the decoder found wrong.
    pub reason: String,
}

/// `members` in the portable roaring format.
pub fn to_portable(members: &RoaringBitmap) -> Vec<u8> {
    let mut out = Vec::with_capacity(members.serialized_size());
    // Writing to a Vec cannot fail.
    let _ = members.serialize_into(&mut out);
    out
}

/// Decodes a bitmap in the portable roaring format, validating every container; trailing
/// bytes are refused.
///
/// # Errors
/// [`PortableError`] for bytes that are not exactly one valid bitmap.
pub fn from_portable(bytes: &[u8]) -> Result<RoaringBitmap, PortableError> {
    let mut reader = bytes;
    let bitmap = RoaringBitmap::deserialize_from(&mut reader).map_err(|e| PortableError {
        reason: e.to_string(),
    })?;
    if !reader.is_empty() {
        return Err(PortableError {
            reason: format!("{} bytes after the bitmap", reader.len()),
        });
    }
    Ok(bitmap)
}

/// A fixed set of profile ids. A profile is a member when its id, or the id of a profile
/// merged into it, is in the set. In JSON (and other human-readable formats) it is the
/// ascending list of ids; in binary formats the portable roaring bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileSet(pub RoaringBitmap);

impl Serialize for ProfileSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_seq(self.0.iter())
        } else {
            s.serialize_bytes(&to_portable(&self.0))
        }
    }
}

impl<'de> Deserialize<'de> for ProfileSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let ids = Vec::<u32>::deserialize(d)?;
            Ok(ProfileSet(ids.into_iter().collect()))
        } else {
            let bytes = serde_bytes_vec(d)?;
            from_portable(&bytes)
                .map(ProfileSet)
                .map_err(serde::de::Error::custom)
        }
    }
}

/// Reads a byte string (borrowed or owned) from a binary format.
fn serde_bytes_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    struct Bytes;
    impl<'de> serde::de::Visitor<'de> for Bytes {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("portable roaring bitmap bytes")
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }
        fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut out = Vec::new();
            while let Some(b) = seq.next_element::<u8>()? {
                out.push(b);
            }
            Ok(out)
        }
    }
    d.deserialize_bytes(Bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_is_croarings() {
        // CRoaring's portable bytes of {1, 2, 3}: cookie 12346, one array container.
        let bitmap: RoaringBitmap = [1u32, 2, 3].into_iter().collect();
        let bytes = to_portable(&bitmap);
        assert_eq!(
            bytes,
            [
                58, 48, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0, 16, 0, 0, 0, 1, 0, 2, 0, 3, 0
            ]
        );
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(from_portable(&trailing).is_err());
        assert!(from_portable(&[]).is_err());
    }

    #[test]
    fn profile_sets_round_trip_in_both_kinds_of_format() {
        let set = ProfileSet([3u32, 9, 1 << 20].into_iter().collect());
        let json = serde_json::to_string(&set).unwrap_or_default();
        assert_eq!(json, "[3,9,1048576]");
        assert_eq!(
            serde_json::from_str::<ProfileSet>(&json).ok(),
            Some(set.clone())
        );
        let bytes = postcard::to_allocvec(&set).unwrap_or_default();
        assert_eq!(postcard::from_bytes::<ProfileSet>(&bytes).ok(), Some(set));
    }
}
