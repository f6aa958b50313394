//! The snapshot checksum: xxHash64 (seed 0) of the postcard encoding of the state,
//! streamed into the hasher without building the bytes.

use postcard::ser_flavors::Flavor;
use xxhash_rust::xxh64::Xxh64;

use crate::snapshot::State;

/// A postcard output that hashes what it is given.
struct Hashing(Xxh64);

impl Flavor for Hashing {
    type Output = u64;

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.update(data);
        Ok(())
    }

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.update(&[data]);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<u64> {
        Ok(self.0.digest())
    }
}

/// The checksum of `state`.
pub(crate) fn checksum(state: &State) -> u64 {
    // Serializing plain data into a hasher cannot fail.
    postcard::serialize_with_flavor(state, Hashing(Xxh64::new(0))).unwrap_or(0)
}
