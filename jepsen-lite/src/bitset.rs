//! A fixed-size bitset with an incrementally maintained set hash.
//!
//! The search keeps the set of linearized operations as a bitset (one bit per
//! operation of a partition) and uses it, together with the model state, as
//! the key of Lowe's memoization cache. Porcupine rehashes every word of the
//! bitset on every lookup; this bitset instead keeps the XOR of a fixed
//! pseudo-random 64-bit value per member ("Zobrist hashing"), so setting or
//! clearing a bit updates the hash in O(1). Equality is still checked word by
//! word, so a hash collision can never merge two different sets.

/// A set of operation indices `0..len`, stored one bit per index, with an
/// O(1)-maintained hash of its contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bitset {
    words: Vec<u64>,
    hash: u64,
}

/// The pseudo-random value of member `i` (SplitMix64 of `i`), XORed into the
/// hash of every set that contains `i`.
#[inline]
pub fn member_hash(i: usize) -> u64 {
    let mut z = (i as u64)
        .wrapping_add(1)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Bitset {
    /// An empty set able to hold indices `0..len`.
    pub fn new(len: usize) -> Self {
        Bitset {
            words: vec![0; len.div_ceil(64)],
            hash: 0,
        }
    }

    /// Adds `i`; returns whether it was absent. `i` must be below the length
    /// given to [`Bitset::new`] (the search only uses in-range indices).
    #[inline]
    pub fn insert(&mut self, i: usize) -> bool {
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        let absent = self.words[word] & bit == 0;
        if absent {
            self.words[word] |= bit;
            self.hash ^= member_hash(i);
        }
        absent
    }

    /// Removes `i`; returns whether it was present.
    #[inline]
    pub fn remove(&mut self, i: usize) -> bool {
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        let present = self.words[word] & bit != 0;
        if present {
            self.words[word] &= !bit;
            self.hash ^= member_hash(i);
        }
        present
    }

    /// Whether `i` is in the set.
    #[inline]
    pub fn contains(&self, i: usize) -> bool {
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }

    /// The number of members.
    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The hash of the set: the XOR of [`member_hash`] over its members.
    #[inline]
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// The underlying words (bit `i` is bit `i % 64` of word `i / 64`).
    #[inline]
    pub fn words(&self) -> &[u64] {
        &self.words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_remove_and_hash_are_consistent() {
        let mut a = Bitset::new(130);
        let mut b = Bitset::new(130);
        assert!(a.insert(3));
        assert!(a.insert(129));
        assert!(!a.insert(3));
        assert!(b.insert(129));
        assert!(b.insert(3));
        assert_eq!(a, b);
        assert_eq!(a.hash(), b.hash());
        assert_eq!(a.count(), 2);
        assert!(a.contains(129) && !a.contains(128) && !a.contains(1000));
        assert!(a.remove(3));
        assert!(!a.remove(3));
        assert_ne!(a.hash(), b.hash());
        assert!(b.remove(3));
        assert_eq!(a.hash(), b.hash());
        assert!(a.remove(129));
        assert_eq!(a.hash(), 0);
    }

    #[test]
    fn member_hashes_differ() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..10_000 {
            assert!(seen.insert(member_hash(i)));
        }
    }
}
