//! A bounded map from cache keys to values that forgets the least recently used key first.
//!
//! Built for memory as much as speed, since a server component may cache a result per user
//! and most of those results are shared: an entry is one slot (the key's text, a fragment of
//! its hash, the value and two recency links) in one vector, plus a `u32` in an index table.
//! The slots are linked into a recency list by position, so touching, inserting and evicting
//! are O(1) and no entry is allocated on its own apart from its key's text.
//!
//! The index is a `hashbrown::HashTable` of slot positions, rehashed from the fragment each
//! slot keeps, so growing it hashes no key again. (A hand-written open-addressing index was
//! measured beside it, one A/B of `cargo bench --bench disco -- cache timers 1000 1000000`:
//! 2 bytes an entry smaller, 79 against 81 at 1,000 entries and 82 against 84 at 1,000,000, and
//! lookups about 4% faster: inside the 10% that would pay for a hundred lines of our own.) Keys are hashed once
//! per operation with SipHash under a per-cache random key ([`RandomState`]), because the JIDs
//! and nodes in a cache come from peers: a peer who could choose colliding keys could
//! otherwise make every lookup walk the whole table.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use hashbrown::HashTable;

use super::key::KeyRef;

const NIL: u32 = u32::MAX;

/// A slot's 32-bit hash spread over 64 bits: hashbrown takes its 7-bit tag from the top bits,
/// which a zero-extended u32 would leave empty.
fn wide(hash: u32) -> u64 {
    u64::from(hash).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The most entries a cache holds, whatever its configured capacity: positions are `u32`s.
const MAX_ENTRIES: usize = 1 << 30;

struct Slot<V> {
    /// The JID's normalised text, then the node's, if any (never empty: an empty node is
    /// refused before it gets here, so the split below is unambiguous; see [`flat`] for a key
    /// asked from another address).
    text: Box<str>,
    jid_len: u32,
    /// The low bits of the key's hash: its home in the index, and a cheap inequality test.
    hash: u32,
    /// Towards the most recently used end.
    newer: u32,
    /// Towards the least recently used end.
    older: u32,
    value: V,
}

impl<V> Slot<V> {
    fn is(&self, hash: u32, key: KeyRef<'_>) -> bool {
        // The hash fragment first: a probe that passes a different key reads no text.
        if self.hash != hash {
            return false;
        }
        let Some((jid, node)) = self.text.split_at_checked(self.jid_len as usize) else {
            return false;
        };
        // No node is tested as an empty rest, not compared with "": a zero-length `memcmp` at
        // the end of the text's allocation costs glibc's masked AVX-512 compare a microcode
        // assist, more than the rest of a lookup.
        jid == key.jid.as_str()
            && match key.node {
                None => node.is_empty(),
                Some(wanted) => node == wanted,
            }
    }
}

/// Calls `with` with `key` as the cache stores it. A key asked from another address than the
/// machine's own is stored as if its node were `node U+0000 asker`: no node holds U+0000 (XML
/// cannot carry it, and nodes are checked), so no other key reads the same, and the probe of
/// every usual key stays the two-part comparison above. (Storing the asker as a third part of
/// the slot made every cache hit a third slower, 52 ns to 85, in `cargo bench --bench disco --
/// requester`.)
fn flat<R>(key: KeyRef<'_>, with: impl FnOnce(KeyRef<'_>) -> R) -> R {
    match key.from {
        None => with(key),
        Some(from) => {
            let node = [key.node.unwrap_or(""), "\0", from.as_str()].concat();
            with(KeyRef {
                jid: key.jid,
                node: Some(&node),
                from: None,
            })
        }
    }
}

/// What [`Lru::insert_at`] did: where the entry is (`None` with a capacity of zero) and what
/// had to go.
pub(crate) struct Inserted<V> {
    pub(crate) at: Option<u32>,
    pub(crate) displaced: Option<V>,
}

pub(crate) struct Lru<V> {
    slots: Vec<Option<Slot<V>>>,
    free: Vec<u32>,
    /// Slot positions, by their key's hash.
    index: HashTable<u32>,
    len: usize,
    hasher: RandomState,
    newest: u32,
    oldest: u32,
    capacity: usize,
    /// Tests fold every hash to two bits, so that probing and removal meet long clusters.
    #[cfg(test)]
    colliding: bool,
}

impl<V> Lru<V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Lru {
            slots: Vec::new(),
            free: Vec::new(),
            index: HashTable::new(),
            len: 0,
            hasher: RandomState::new(),
            newest: NIL,
            oldest: NIL,
            capacity: capacity.min(MAX_ENTRIES),
            #[cfg(test)]
            colliding: false,
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The key's hash, folded to the bits the index uses. A JID is UTF-8 and never holds the
    /// byte 0xff, so "JID" or "JID 0xff node" names one key. (Keys come here [`flat`].)
    fn hash(&self, key: KeyRef<'_>) -> u32 {
        let mut hasher = self.hasher.build_hasher();
        hasher.write(key.jid.as_str().as_bytes());
        if let Some(node) = key.node {
            hasher.write_u8(0xff);
            hasher.write(node.as_bytes());
        }
        let hash = hasher.finish();
        let folded = (hash ^ (hash >> 32)) as u32;
        #[cfg(test)]
        if self.colliding {
            return folded & 3;
        }
        folded
    }

    fn slot(&self, position: u32) -> Option<&Slot<V>> {
        self.slots.get(position as usize).and_then(Option::as_ref)
    }

    fn slot_mut(&mut self, position: u32) -> Option<&mut Slot<V>> {
        self.slots
            .get_mut(position as usize)
            .and_then(Option::as_mut)
    }

    /// Where `key`'s slot is.
    fn find(&self, key: KeyRef<'_>) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        flat(key, |key| self.find_hashed(self.hash(key), key))
    }

    fn find_hashed(&self, hash: u32, key: KeyRef<'_>) -> Option<u32> {
        let slots = &self.slots;
        self.index
            .find(wide(hash), |&position| {
                slots
                    .get(position as usize)
                    .and_then(Option::as_ref)
                    .is_some_and(|slot| slot.is(hash, key))
            })
            .copied()
    }

    /// The value for `key`, without making it more recent.
    pub(crate) fn peek(&self, key: KeyRef<'_>) -> Option<&V> {
        let position = self.find(key)?;
        self.slot(position).map(|slot| &slot.value)
    }

    /// The value for `key`, which becomes the most recently used.
    pub(crate) fn get(&mut self, key: KeyRef<'_>) -> Option<&mut V> {
        let position = self.find(key)?;
        self.touch(position);
        self.slot_mut(position).map(|slot| &mut slot.value)
    }

    /// Stores `value` for `key` as the most recently used entry and returns what had to go: the
    /// value it replaced, or the least recently used entry's if the cache was full. With a
    /// capacity of zero the new value itself is returned.
    pub(crate) fn insert(&mut self, key: KeyRef<'_>, value: V) -> Option<V> {
        self.insert_at(key, value).displaced
    }

    /// [`insert`](Self::insert), also saying where the entry went.
    pub(crate) fn insert_at(&mut self, key: KeyRef<'_>, value: V) -> Inserted<V> {
        flat(key, |key| self.insert_flat(key, value))
    }

    /// [`insert_at`](Self::insert_at) of a key as the cache stores it ([`flat`]).
    fn insert_flat(&mut self, key: KeyRef<'_>, value: V) -> Inserted<V> {
        let hash = self.hash(key);
        if let Some(position) = self.find_hashed(hash, key) {
            self.touch(position);
            let displaced = self
                .slot_mut(position)
                .map(|slot| std::mem::replace(&mut slot.value, value));
            return Inserted {
                at: Some(position),
                displaced,
            };
        }
        if self.capacity == 0 {
            return Inserted {
                at: None,
                displaced: Some(value),
            };
        }
        let evicted = if self.len >= self.capacity {
            self.pop_oldest()
        } else {
            None
        };
        let jid = key.jid.as_str();
        let text = match key.node {
            Some(node) => [jid, node].concat().into_boxed_str(),
            None => Box::from(jid),
        };
        let slot = Slot {
            text,
            jid_len: u32::try_from(jid.len()).unwrap_or(u32::MAX),
            hash,
            newer: NIL,
            older: NIL,
            value,
        };
        let position = match self.free.pop() {
            Some(position) => {
                if let Some(free) = self.slots.get_mut(position as usize) {
                    *free = Some(slot);
                }
                position
            }
            None => {
                if self.slots.len() == self.slots.capacity() {
                    // Grow by half, never past the cache's capacity: a full cache of a
                    // million entries should not carry room for another million.
                    let room = self.capacity.saturating_sub(self.slots.len());
                    self.slots
                        .reserve_exact((self.slots.len() / 2).clamp(1, room.max(1)));
                }
                self.slots.push(Some(slot));
                // Below MAX_ENTRIES, so it fits.
                u32::try_from(self.slots.len() - 1).unwrap_or(NIL)
            }
        };
        self.place(hash, position);
        self.len += 1;
        self.link_newest(position);
        Inserted {
            at: Some(position),
            displaced: evicted,
        }
    }

    /// Removes the entry for `key`.
    pub(crate) fn remove(&mut self, key: KeyRef<'_>) -> Option<V> {
        let position = self.find(key)?;
        self.remove_at(position)
    }

    /// The value at `position` (from [`insert_at`](Self::insert_at)), if an entry is there: the
    /// caller tells by the value whether it is still the entry it placed.
    pub(crate) fn peek_at(&self, position: u32) -> Option<&V> {
        self.slot(position).map(|slot| &slot.value)
    }

    /// The value at `position`, which becomes the most recently used.
    pub(crate) fn get_at(&mut self, position: u32) -> Option<&mut V> {
        self.slot(position)?;
        self.touch(position);
        self.slot_mut(position).map(|slot| &mut slot.value)
    }

    /// Removes the entry at `position`, finding its place in the index by its stored hash:
    /// no key is hashed or compared.
    pub(crate) fn remove_at(&mut self, position: u32) -> Option<V> {
        let hash = self.slot(position)?.hash;
        self.index
            .find_entry(wide(hash), |&found| found == position)
            .ok()?
            .remove();
        self.release(position)
    }

    /// Removes every entry, handing each value to `visit` (in no particular order).
    pub(crate) fn drain(&mut self, mut visit: impl FnMut(V)) {
        self.index.clear();
        self.free.clear();
        self.len = 0;
        self.newest = NIL;
        self.oldest = NIL;
        for slot in self.slots.drain(..).flatten() {
            visit(slot.value);
        }
    }

    /// Lists slot `position` under `hash`.
    fn place(&mut self, hash: u32, position: u32) {
        let slots = &self.slots;
        self.index.insert_unique(wide(hash), position, |&listed| {
            wide(
                slots
                    .get(listed as usize)
                    .and_then(Option::as_ref)
                    .map_or(0, |slot| slot.hash),
            )
        });
    }

    fn pop_oldest(&mut self) -> Option<V> {
        self.remove_at(self.oldest)
    }

    /// Unlinks the slot at `position` and frees it; the caller has removed it from the index.
    fn release(&mut self, position: u32) -> Option<V> {
        self.unlink(position);
        let slot = self.slots.get_mut(position as usize)?.take()?;
        self.free.push(position);
        self.len -= 1;
        Some(slot.value)
    }

    fn touch(&mut self, position: u32) {
        if self.newest != position {
            self.unlink(position);
            self.link_newest(position);
        }
    }

    fn unlink(&mut self, position: u32) {
        let Some(slot) = self.slot(position) else {
            return;
        };
        let (newer, older) = (slot.newer, slot.older);
        match self.slot_mut(newer) {
            Some(n) => n.older = older,
            None => self.newest = older,
        }
        match self.slot_mut(older) {
            Some(o) => o.newer = newer,
            None => self.oldest = newer,
        }
        if let Some(slot) = self.slot_mut(position) {
            slot.newer = NIL;
            slot.older = NIL;
        }
    }

    fn link_newest(&mut self, position: u32) {
        let previous_newest = self.newest;
        if let Some(slot) = self.slot_mut(position) {
            slot.older = previous_newest;
            slot.newer = NIL;
        }
        match self.slot_mut(previous_newest) {
            Some(p) => p.newer = position,
            None => self.oldest = position,
        }
        self.newest = position;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xmpp_parsers::jid::Jid;

    fn jid(s: &str) -> Jid {
        s.parse().unwrap()
    }

    fn key(jid: &Jid) -> KeyRef<'_> {
        KeyRef {
            jid,
            node: None,
            from: None,
        }
    }

    #[test]
    fn evicts_least_recently_used() {
        let (a, b, c) = (jid("a@x"), jid("b@x"), jid("c@x"));
        let mut lru = Lru::new(2);
        assert!(lru.insert(key(&a), 1).is_none());
        assert!(lru.insert(key(&b), 2).is_none());
        assert_eq!(lru.get(key(&a)), Some(&mut 1));
        assert_eq!(lru.insert(key(&c), 3), Some(2));
        assert_eq!(lru.peek(key(&b)), None);
        assert_eq!(lru.peek(key(&a)), Some(&1));
        assert_eq!(lru.peek(key(&c)), Some(&3));
        assert_eq!(lru.len(), 2);
    }

    #[test]
    fn peek_does_not_refresh() {
        let (a, b, c) = (jid("a@x"), jid("b@x"), jid("c@x"));
        let mut lru = Lru::new(2);
        lru.insert(key(&a), 1);
        lru.insert(key(&b), 2);
        assert_eq!(lru.peek(key(&a)), Some(&1));
        assert_eq!(lru.insert(key(&c), 3), Some(1));
        assert_eq!(lru.peek(key(&a)), None);
    }

    #[test]
    fn replace_returns_old_value_and_reuses_freed_slots() {
        let (a, b) = (jid("a@x"), jid("b@x"));
        let mut lru = Lru::new(2);
        lru.insert(key(&a), 1);
        assert_eq!(lru.insert(key(&a), 5), Some(1));
        assert_eq!(lru.remove(key(&a)), Some(5));
        assert_eq!(lru.remove(key(&a)), None);
        lru.insert(key(&b), 2);
        assert_eq!(lru.slots.len(), 1);
        assert_eq!(lru.len(), 1);
    }

    #[test]
    fn capacity_zero_keeps_nothing() {
        let a = jid("a@x");
        let mut lru = Lru::new(0);
        assert_eq!(lru.insert(key(&a), 1), Some(1));
        assert_eq!(lru.len(), 0);
        assert_eq!(lru.peek(key(&a)), None);
    }

    #[test]
    fn nodes_and_full_jids_are_distinct_keys() {
        let bare = jid("a@x");
        let full = jid("a@x/r");
        // "a@x" with node "/r" has the same text as "a@x/r" without one.
        let tricky = KeyRef {
            jid: &bare,
            node: Some("/r"),
            from: None,
        };
        // And "a@x" asked from "b@y" the same as "a@x" at node "b@y", or "a@x" at node "b"
        // asked from "@y"... which is no JID, but "y" is: node "b@" asked from "y".
        let asker = jid("b@y");
        let domain = jid("y");
        let asked_from = KeyRef {
            jid: &bare,
            node: None,
            from: Some(&asker),
        };
        let node_like_asker = KeyRef {
            jid: &bare,
            node: Some("b@y"),
            from: None,
        };
        let split_elsewhere = KeyRef {
            jid: &bare,
            node: Some("b@"),
            from: Some(&domain),
        };
        let mut lru = Lru::new(8);
        let keys = [
            key(&bare),
            key(&full),
            tricky,
            asked_from,
            node_like_asker,
            split_elsewhere,
        ];
        for (value, key) in keys.iter().enumerate() {
            lru.insert(*key, value);
        }
        for (value, key) in keys.iter().enumerate() {
            assert_eq!(lru.peek(*key), Some(&value));
        }
    }

    #[test]
    fn drain_empties() {
        let (a, b) = (jid("a@x"), jid("b@x"));
        let mut lru = Lru::new(4);
        lru.insert(key(&a), 1);
        lru.insert(key(&b), 2);
        let mut seen = Vec::new();
        lru.drain(|v| seen.push(v));
        seen.sort();
        assert_eq!(seen, vec![1, 2]);
        assert_eq!(lru.len(), 0);
        assert!(lru.peek(key(&a)).is_none());
        lru.insert(key(&a), 3);
        assert_eq!(lru.peek(key(&a)), Some(&3));
    }

    /// Many keys through a small cache, with every hash folded onto four homes: growth,
    /// probing past other keys, and removal from the middle of long clusters.
    #[test]
    fn survives_colliding_hashes() {
        let jids: Vec<Jid> = (0..300).map(|i| jid(&format!("e{i}.example"))).collect();
        let mut lru = Lru::new(100);
        lru.colliding = true;
        let mut model = std::collections::BTreeMap::new();
        for round in 0..3 {
            for (i, jid) in jids.iter().enumerate() {
                if (i + round) % 3 == 0 {
                    assert_eq!(lru.remove(key(jid)), model.remove(&i));
                } else {
                    lru.insert(key(jid), i);
                    model.insert(i, i);
                    if model.len() > 100 {
                        // The cache evicted its oldest: forget, in the model, what it forgot.
                        model.retain(|k, _| lru.peek(key(&jids[*k])).is_some());
                    }
                }
                assert_eq!(lru.len(), model.len());
            }
            for (i, jid) in jids.iter().enumerate() {
                assert_eq!(lru.peek(key(jid)), model.get(&i));
            }
        }
    }

    proptest::proptest! {
        /// The LRU agrees with a vector kept in recency order, for any sequence of operations,
        /// with real hashes and with colliding ones.
        #[test]
        fn agrees_with_a_recency_list(
            capacity in 0usize..6,
            colliding in proptest::bool::ANY,
            ops in proptest::collection::vec((0u8..4, 0usize..18, proptest::num::u8::ANY), 0..80),
        ) {
            let jids: Vec<Jid> = (0..6).map(|i| jid(&format!("e{i}.example"))).collect();
            // Each JID bare, at a node, and asked from another address.
            let keys: Vec<KeyRef<'_>> = (0..18)
                .map(|k| KeyRef {
                    jid: &jids[k % 6],
                    node: (k / 6 == 1).then_some("n"),
                    from: (k / 6 == 2).then_some(&jids[(k + 1) % 6]),
                })
                .collect();
            let mut lru = Lru::new(capacity);
            lru.colliding = colliding;
            // Most recent last.
            let mut model: Vec<(usize, u8)> = Vec::new();
            for (op, k, value) in ops {
                match op {
                    0 => {
                        let displaced = lru.insert(keys[k], value);
                        let expected = if let Some(at) = model.iter().position(|(m, _)| *m == k) {
                            let old = model.remove(at);
                            model.push((k, value));
                            Some(old.1)
                        } else if capacity == 0 {
                            Some(value)
                        } else {
                            model.push((k, value));
                            (model.len() > capacity).then(|| model.remove(0).1)
                        };
                        proptest::prop_assert_eq!(displaced, expected);
                    }
                    1 => {
                        let got = lru.get(keys[k]).map(|v| *v);
                        let expected = model.iter().position(|(m, _)| *m == k).map(|at| {
                            let entry = model.remove(at);
                            model.push(entry);
                            entry.1
                        });
                        proptest::prop_assert_eq!(got, expected);
                    }
                    2 => {
                        let got = lru.remove(keys[k]);
                        let expected = model.iter().position(|(m, _)| *m == k).map(|at| model.remove(at).1);
                        proptest::prop_assert_eq!(got, expected);
                    }
                    _ => {
                        let got = lru.peek(keys[k]).copied();
                        let expected = model.iter().find(|(m, _)| *m == k).map(|(_, v)| *v);
                        proptest::prop_assert_eq!(got, expected);
                    }
                }
                proptest::prop_assert_eq!(lru.len(), model.len());
                for (k, key) in keys.iter().enumerate() {
                    let expected = model.iter().find(|(m, _)| *m == k).map(|(_, v)| *v);
                    proptest::prop_assert_eq!(lru.peek(*key).copied(), expected);
                }
            }
        }
    }
}
