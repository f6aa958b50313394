//! The snapshot checksum: xxHash64 (seed 0) of the postcard encoding of the state,
//! streamed into the hasher without building the bytes.

use postcard::ser_flavors::Flavor;
use xxhash_rust::xxh64::Xxh64;

/// How many bytes are gathered before they are hashed (postcard writes most of its
/// output a byte at a time, and each hasher update has a fixed cost).
const BUFFER: usize = 1 << 16;

/// A postcard output that hashes what it is given, in chunks.
struct Hashing {
    hasher: Xxh64,
    buffer: Vec<u8>,
}

impl Hashing {
    fn flush(&mut self) {
        self.hasher.update(&self.buffer);
        self.buffer.clear();
    }
}

impl Flavor for Hashing {
    type Output = u64;

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        if self.buffer.len() + data.len() > BUFFER {
            self.flush();
        }
        if data.len() >= BUFFER {
            self.hasher.update(data);
        } else {
            self.buffer.extend_from_slice(data);
        }
        Ok(())
    }

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        if self.buffer.len() == BUFFER {
            self.flush();
        }
        self.buffer.push(data);
        Ok(())
    }

    fn finalize(mut self) -> postcard::Result<u64> {
        self.flush();
        Ok(self.hasher.digest())
    }
}

/// The checksum of `state`.
pub(crate) fn checksum(state: &impl serde::Serialize) -> u64 {
    let hashing = Hashing {
        hasher: Xxh64::new(0),
        buffer: Vec::with_capacity(BUFFER),
    };
    // Serializing plain data into a hasher cannot fail.
    postcard::serialize_with_flavor(state, hashing).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chunking does not change the digest: it is xxHash64 of the postcard bytes.
    #[test]
    fn the_checksum_is_xxh64_of_the_postcard_bytes() {
        let engine = crate::Engine::new(crate::Schema::retail_default());
        let state = engine.snapshot().state;
        let bytes = postcard::to_allocvec(&state).unwrap_or_default();
        assert_eq!(checksum(&state), xxhash_rust::xxh64::xxh64(&bytes, 0));
    }
}
