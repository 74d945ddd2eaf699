//! Hashing for the machine's own sequence numbers (request ids and source numbers).
//!
//! These keys are handed out by the machine, never chosen by a peer (an id read from a reply is
//! only looked up after [`issued_number`](super::Requester) checked it is one of ours), so the
//! protection SipHash buys against chosen keys is not needed here. A multiplication by an odd
//! constant maps distinct numbers to distinct hashes and spreads them over the table's buckets,
//! at a fraction of SipHash's cost on the per-query path.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// 2^64 divided by the golden ratio, rounded to odd: Fibonacci hashing.
const SPREAD: u64 = 0x9E37_79B9_7F4A_7C15;

/// A map keyed by one of the machine's sequence numbers.
pub(crate) type NumberMap<K, V> = HashMap<K, V, BuildHasherDefault<NumberHasher>>;

#[derive(Default, Clone, Copy)]
pub(crate) struct NumberHasher(u64);

impl Hasher for NumberHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Not reached by `u64` keys; kept correct for any other key all the same.
        for byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*byte)).wrapping_mul(SPREAD);
        }
    }

    fn write_u64(&mut self, number: u64) {
        self.0 = (self.0 ^ number).wrapping_mul(SPREAD);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_numbers_land_in_distinct_buckets() {
        let hash = |n: u64| {
            let mut hasher = NumberHasher::default();
            hasher.write_u64(n);
            hasher.finish()
        };
        let buckets: std::collections::HashSet<u64> = (0..4096).map(|n| hash(n) & 4095).collect();
        assert_eq!(buckets.len(), 4096);
    }
}
