//! Storage for values keyed by the machine's own sequence numbers (request ids, source numbers).
//!
//! These numbers are handed out in increasing order and most of their values are short-lived:
//! a waiter lives for one round trip, a source for one request. So values live in a window, a
//! double-ended queue indexed by `number - base`: inserting appends, lookups are an index, the
//! front is trimmed as its values leave, and no key is ever hashed. Values that outlive the
//! numbers after them (a query without a deadline on a silent entity) would pin the window
//! open; once the window is mostly holes, such values move to an overflow map, so memory stays
//! proportional to the live values, and each value moves at most once.
//!
//! The numbers are the machine's, never a peer's (an id read from a reply is only looked up
//! after it was checked to be one of ours), so the overflow map uses a cheap multiplicative
//! hash rather than SipHash's protection against chosen keys.
//!
//! Why not a library map: `cargo bench --bench containers` (2026-11-30, one run, each beside
//! std's `HashMap` with the same hash and `BTreeMap`, values of a waiter's 16 bytes) measured,
//! at 1,000 and at 1,000,000 entries, half the bytes per entry of either (24.6 and 25.2 against
//! `HashMap`'s 51.2 and 52.4), and in the machine's usual pattern, a request sent and the
//! oldest answered, 12.6 and 14.4 ns a step against `HashMap`'s 20.0 and 90.8. Its weak case is
//! every reply out of order (28.0 and 90.3 ns against 13.8 and 54.5): values then move to the
//! overflow map once. `benches/README.md` has the whole table.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

/// Holes tolerated in the window beyond twice its live values before it is compacted.
const SLACK: usize = 64;

/// Values keyed by increasing sequence numbers; see the module documentation.
pub(crate) struct Numbered<T> {
    /// The number of `window[0]`.
    base: u64,
    window: VecDeque<Option<T>>,
    /// How many of `window` are `Some`.
    window_live: usize,
    /// Values older than `base`.
    overflow: HashMap<u64, T, BuildHasherDefault<NumberHasher>>,
}

impl<T> Default for Numbered<T> {
    fn default() -> Self {
        Numbered {
            base: 0,
            window: VecDeque::new(),
            window_live: 0,
            overflow: HashMap::default(),
        }
    }
}

impl<T> Numbered<T> {
    /// Stores `value` under `number`, replacing any value stored there. Numbers are expected in
    /// increasing order (the caller's counter guarantees it); one out of order is still stored
    /// correctly, only not in the fast way.
    pub(crate) fn insert(&mut self, number: u64, value: T) {
        let end = self.base + self.window.len() as u64;
        if self.window.is_empty() {
            self.base = number;
        } else if number < end {
            match self
                .slot(number)
                .and_then(|offset| self.window.get_mut(offset))
            {
                Some(slot) => {
                    if slot.replace(value).is_none() {
                        self.window_live += 1;
                    }
                }
                None => {
                    self.overflow.insert(number, value);
                }
            }
            return;
        } else {
            let gap = usize::try_from(number - end).unwrap_or(usize::MAX);
            if gap > 2 * self.window_live + SLACK {
                // Padding would leave the window mostly holes: start a new one.
                self.evacuate(self.window.len());
                self.base = number;
            } else if gap > 0 {
                self.window.extend((0..gap).map(|_| None));
                self.shrink_if_sparse();
            }
        }
        self.window.push_back(Some(value));
        self.window_live += 1;
    }

    fn slot(&self, number: u64) -> Option<usize> {
        let offset = usize::try_from(number.checked_sub(self.base)?).ok()?;
        (offset < self.window.len()).then_some(offset)
    }

    pub(crate) fn get(&self, number: u64) -> Option<&T> {
        match self.slot(number) {
            Some(offset) => self.window.get(offset).and_then(Option::as_ref),
            None => self.overflow.get(&number),
        }
    }

    pub(crate) fn get_mut(&mut self, number: u64) -> Option<&mut T> {
        match self.slot(number) {
            Some(offset) => self.window.get_mut(offset).and_then(Option::as_mut),
            None => self.overflow.get_mut(&number),
        }
    }

    pub(crate) fn contains(&self, number: u64) -> bool {
        self.get(number).is_some()
    }

    pub(crate) fn remove(&mut self, number: u64) -> Option<T> {
        let Some(offset) = self.slot(number) else {
            return self.overflow.remove(&number);
        };
        let value = self.window.get_mut(offset)?.take()?;
        self.window_live -= 1;
        if offset == 0 {
            self.trim_front();
        }
        self.shrink_if_sparse();
        Some(value)
    }

    fn trim_front(&mut self) {
        while let Some(None) = self.window.front() {
            self.window.pop_front();
            self.base += 1;
        }
    }

    /// Moves the oldest values to the overflow map while the window is mostly holes.
    fn shrink_if_sparse(&mut self) {
        if self.window.len() > 2 * self.window_live + SLACK {
            while self.window.len() > 2 * self.window_live + SLACK {
                self.evacuate(1);
            }
            self.trim_front();
        }
    }

    /// Moves the first `count` slots of the window out of it, their values to the overflow map.
    fn evacuate(&mut self, count: usize) {
        for _ in 0..count {
            let Some(slot) = self.window.pop_front() else {
                break;
            };
            if let Some(value) = slot {
                self.window_live -= 1;
                self.overflow.insert(self.base, value);
            }
            self.base += 1;
        }
    }

    /// Removes every value, in number order.
    pub(crate) fn drain_ordered(&mut self) -> Vec<(u64, T)> {
        let mut values: Vec<(u64, T)> = self.overflow.drain().collect();
        values.sort_unstable_by_key(|(number, _)| *number);
        let base = self.base;
        values.extend(
            self.window
                .drain(..)
                .zip(base..)
                .filter_map(|(slot, number)| slot.map(|value| (number, value))),
        );
        self.window_live = 0;
        values
    }

    pub(crate) fn clear(&mut self) {
        self.window.clear();
        self.window_live = 0;
        self.overflow.clear();
    }

    #[cfg(test)]
    fn footprint(&self) -> usize {
        self.window.len() + self.overflow.len()
    }
}

/// 2^64 divided by the golden ratio, rounded to odd: Fibonacci hashing.
const SPREAD: u64 = 0x9E37_79B9_7F4A_7C15;

/// A multiplication by an odd constant: distinct numbers get distinct hashes, spread over the
/// table's buckets.
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
    use std::collections::BTreeMap;

    /// Inserts in increasing order with gaps, removes in a scrambled order, and compares every
    /// step with a `BTreeMap`.
    #[test]
    fn agrees_with_an_ordered_map() {
        let mut numbered = Numbered::default();
        let mut model = BTreeMap::new();
        let mut next = 0u64;
        let mut state = 12345u64;
        let mut random = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 33
        };
        for step in 0..20_000 {
            if random() % 3 != 0 {
                next += 1 + random() % if step % 1000 < 10 { 500 } else { 3 };
                numbered.insert(next, step);
                model.insert(next, step);
            } else if let Some(&number) = model.keys().nth((random() as usize) % model.len().max(1))
            {
                // Keep a few values forever, so that some end in the overflow map.
                if number % 17 != 0 {
                    assert_eq!(numbered.remove(number), model.remove(&number));
                }
            }
            let probe = random() % (next + 2);
            assert_eq!(numbered.get(probe), model.get(&probe));
            assert_eq!(numbered.remove(next + 1), None);
            assert!(numbered.footprint() <= 2 * model.len() + SLACK + 1);
        }
        let drained: Vec<_> = numbered.drain_ordered();
        let expected: Vec<_> = model.into_iter().collect();
        assert_eq!(drained, expected);
    }

    #[test]
    fn a_long_lived_value_does_not_pin_the_window() {
        let mut numbered = Numbered::default();
        numbered.insert(0, "forever");
        for number in 1..100_000 {
            numbered.insert(number, "brief");
            numbered.remove(number);
        }
        assert_eq!(numbered.get(0), Some(&"forever"));
        assert!(numbered.footprint() <= SLACK + 1);
    }

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
