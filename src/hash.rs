//! Hash maps with a fixed hasher, so the same calls give the same state bit for bit.
//!
//! foldhash is the hasher hashbrown itself defaults to; the engine fixes its seed instead
//! of drawing a random one. Nothing reaches the host in map iteration order.

/// The fixed-seed hasher of every map in the engine.
pub(crate) type FixedState = foldhash::fast::FixedState;

/// A hash map with the fixed hasher.
pub(crate) type FastMap<K, V> = hashbrown::HashMap<K, V, FixedState>;

/// A new empty [`FastMap`].
pub(crate) fn fast_map<K, V>() -> FastMap<K, V> {
    FastMap::with_hasher(FixedState::default())
}
