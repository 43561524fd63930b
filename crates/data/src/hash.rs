//! Fast non-cryptographic hashing for shingles, signatures and buckets: a word-at-a-time
//! multiply-xor hash with a strong final mix, plus a pass-through hasher for maps whose keys
//! are already hashes.

use std::hash::{BuildHasherDefault, Hasher};

const K1: u64 = 0x9E37_79B9_7F4A_7C15;
const K2: u64 = 0xC2B2_AE3D_27D4_EB4F;

/// The 64-bit finaliser of MurmurHash3: every input bit affects every output bit.
#[inline]
pub fn mix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^= x >> 33;
    x = x.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    x ^ (x >> 33)
}

/// Hashes a byte string with a seed.
#[inline]
pub fn hash_bytes(bytes: &[u8], seed: u64) -> u64 {
    let mut h = seed ^ (bytes.len() as u64).wrapping_mul(K1);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K1).rotate_left(31);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K2).rotate_left(29);
    }
    mix64(h)
}

/// Hashes a string with seed 0.
#[inline]
pub fn hash_str(text: &str) -> u64 {
    hash_bytes(text.as_bytes(), 0)
}

/// A hasher that passes a `u64` key through (keys are already well-mixed hashes).
#[derive(Debug, Default, Clone, Copy)]
pub struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = hash_bytes(bytes, self.0);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A `HashMap` keyed by precomputed hashes.
pub type HashMapU64<V> = std::collections::HashMap<u64, V, BuildHasherDefault<IdentityHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_inputs_hash_apart_and_seed_matters() {
        let words = [
            "",
            "a",
            "b",
            "ab",
            "ba",
            "abcdefgh",
            "abcdefghi",
            "天气",
            "天氣",
        ];
        let hashes: std::collections::HashSet<u64> = words.iter().map(|w| hash_str(w)).collect();
        assert_eq!(hashes.len(), words.len());
        assert_ne!(hash_bytes(b"abc", 1), hash_bytes(b"abc", 2));
        assert_eq!(hash_bytes(b"abc", 1), hash_bytes(b"abc", 1));
    }
}
