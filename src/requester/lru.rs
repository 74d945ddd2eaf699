//! A bounded map from cache keys to values that forgets the least recently used key first.
//!
//! Slots live in one vector linked into a recency list by index, so touching, inserting and
//! evicting are O(1) and no slot is allocated on its own. Keys are `Arc`s shared with the index.

use std::collections::HashMap;
use std::sync::Arc;

use super::key::{Key, KeyRef, KeyView};

const NIL: usize = usize::MAX;

struct Slot<V> {
    key: Arc<Key>,
    value: V,
    /// Towards the most recently used end.
    newer: usize,
    /// Towards the least recently used end.
    older: usize,
}

pub(crate) struct Lru<V> {
    index: HashMap<Arc<Key>, usize>,
    slots: Vec<Option<Slot<V>>>,
    free: Vec<usize>,
    newest: usize,
    oldest: usize,
    capacity: usize,
}

impl<V> Lru<V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Lru {
            index: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            newest: NIL,
            oldest: NIL,
            capacity,
        }
    }

    fn position(&self, key: KeyRef<'_>) -> Option<usize> {
        self.index.get(&key as &dyn KeyView).copied()
    }

    fn slot(&self, position: usize) -> Option<&Slot<V>> {
        self.slots.get(position).and_then(Option::as_ref)
    }

    fn slot_mut(&mut self, position: usize) -> Option<&mut Slot<V>> {
        self.slots.get_mut(position).and_then(Option::as_mut)
    }

    /// The value for `key`, without making it more recent.
    pub(crate) fn peek(&self, key: KeyRef<'_>) -> Option<&V> {
        self.position(key)
            .and_then(|position| self.slot(position))
            .map(|slot| &slot.value)
    }

    /// The value for `key`, which becomes the most recently used.
    pub(crate) fn get(&mut self, key: KeyRef<'_>) -> Option<&mut V> {
        let position = self.position(key)?;
        self.unlink(position);
        self.link_newest(position);
        self.slot_mut(position).map(|slot| &mut slot.value)
    }

    /// The shared key stored for `key`, if any: lets a request in flight share it.
    pub(crate) fn shared_key(&self, key: KeyRef<'_>) -> Option<Arc<Key>> {
        self.index
            .get_key_value(&key as &dyn KeyView)
            .map(|(shared, _)| Arc::clone(shared))
    }

    /// Stores `value` for `key` as the most recently used entry and returns what had to go: the
    /// value it replaced, or the least recently used entry if the cache was full. With a
    /// capacity of zero the new entry itself is returned.
    pub(crate) fn insert(&mut self, key: Arc<Key>, value: V) -> Option<(Arc<Key>, V)> {
        if let Some(position) = self.position(key.view()) {
            self.unlink(position);
            self.link_newest(position);
            let slot = self.slot_mut(position)?;
            let old = std::mem::replace(&mut slot.value, value);
            return Some((key, old));
        }
        if self.capacity == 0 {
            return Some((key, value));
        }
        let evicted = if self.index.len() >= self.capacity {
            self.pop_oldest()
        } else {
            None
        };
        let slot = Slot {
            key: Arc::clone(&key),
            value,
            newer: NIL,
            older: NIL,
        };
        let position = match self.free.pop() {
            Some(position) => {
                self.slots[position] = Some(slot);
                position
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        self.index.insert(key, position);
        self.link_newest(position);
        evicted
    }

    pub(crate) fn remove(&mut self, key: KeyRef<'_>) -> Option<V> {
        let position = self.index.remove(&key as &dyn KeyView)?;
        self.release(position).map(|(_, value)| value)
    }

    /// Removes every entry, handing each to `visit` (in no particular order).
    pub(crate) fn drain(&mut self, mut visit: impl FnMut(Arc<Key>, V)) {
        self.index.clear();
        self.free.clear();
        self.newest = NIL;
        self.oldest = NIL;
        for slot in self.slots.drain(..).flatten() {
            visit(slot.key, slot.value);
        }
    }

    fn pop_oldest(&mut self) -> Option<(Arc<Key>, V)> {
        let position = self.oldest;
        let key = Arc::clone(&self.slot(position)?.key);
        self.index.remove(&*key as &dyn KeyView);
        self.release(position)
    }

    /// Unlinks the slot at `position` and frees it; the caller has removed it from the index.
    fn release(&mut self, position: usize) -> Option<(Arc<Key>, V)> {
        self.unlink(position);
        let slot = self.slots.get_mut(position)?.take()?;
        self.free.push(position);
        Some((slot.key, slot.value))
    }

    fn unlink(&mut self, position: usize) {
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

    fn link_newest(&mut self, position: usize) {
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
        KeyRef { jid, node: None }
    }

    #[test]
    fn evicts_least_recently_used() {
        let (a, b, c) = (jid("a@x"), jid("b@x"), jid("c@x"));
        let mut lru = Lru::new(2);
        assert!(lru.insert(Key::shared(key(&a)), 1).is_none());
        assert!(lru.insert(Key::shared(key(&b)), 2).is_none());
        assert_eq!(lru.get(key(&a)), Some(&mut 1));
        let (evicted, value) = lru.insert(Key::shared(key(&c)), 3).unwrap();
        assert_eq!(evicted.jid, b);
        assert_eq!(value, 2);
        assert_eq!(lru.peek(key(&a)), Some(&1));
        assert_eq!(lru.peek(key(&c)), Some(&3));
        assert_eq!(lru.index.len(), 2);
    }

    #[test]
    fn peek_does_not_refresh() {
        let (a, b, c) = (jid("a@x"), jid("b@x"), jid("c@x"));
        let mut lru = Lru::new(2);
        lru.insert(Key::shared(key(&a)), 1);
        lru.insert(Key::shared(key(&b)), 2);
        assert_eq!(lru.peek(key(&a)), Some(&1));
        let (evicted, _) = lru.insert(Key::shared(key(&c)), 3).unwrap();
        assert_eq!(evicted.jid, a);
    }

    #[test]
    fn replace_returns_old_value_and_reuses_freed_slots() {
        let (a, b) = (jid("a@x"), jid("b@x"));
        let mut lru = Lru::new(2);
        lru.insert(Key::shared(key(&a)), 1);
        assert_eq!(lru.insert(Key::shared(key(&a)), 5).unwrap().1, 1);
        assert_eq!(lru.remove(key(&a)), Some(5));
        assert_eq!(lru.remove(key(&a)), None);
        lru.insert(Key::shared(key(&b)), 2);
        assert_eq!(lru.slots.len(), 1);
        assert_eq!(lru.index.len(), 1);
    }

    #[test]
    fn capacity_zero_keeps_nothing() {
        let a = jid("a@x");
        let mut lru = Lru::new(0);
        assert_eq!(lru.insert(Key::shared(key(&a)), 1).unwrap().1, 1);
        assert_eq!(lru.index.len(), 0);
    }

    #[test]
    fn nodes_and_full_jids_are_distinct_keys() {
        let bare = jid("a@x");
        let full = jid("a@x/r");
        let mut lru = Lru::new(8);
        lru.insert(Key::shared(key(&bare)), 1);
        lru.insert(Key::shared(key(&full)), 2);
        lru.insert(
            Key::shared(KeyRef {
                jid: &bare,
                node: Some("n"),
            }),
            3,
        );
        assert_eq!(lru.peek(key(&bare)), Some(&1));
        assert_eq!(lru.peek(key(&full)), Some(&2));
        assert_eq!(
            lru.peek(KeyRef {
                jid: &bare,
                node: Some("n")
            }),
            Some(&3)
        );
    }

    #[test]
    fn drain_empties() {
        let (a, b) = (jid("a@x"), jid("b@x"));
        let mut lru = Lru::new(4);
        lru.insert(Key::shared(key(&a)), 1);
        lru.insert(Key::shared(key(&b)), 2);
        let mut seen = Vec::new();
        lru.drain(|_, v| seen.push(v));
        seen.sort();
        assert_eq!(seen, vec![1, 2]);
        assert_eq!(lru.index.len(), 0);
        assert!(lru.peek(key(&a)).is_none());
        lru.insert(Key::shared(key(&a)), 3);
        assert_eq!(lru.peek(key(&a)), Some(&3));
    }

    proptest::proptest! {
        /// The LRU agrees with a vector kept in recency order, for any sequence of operations.
        #[test]
        fn agrees_with_a_recency_list(
            capacity in 0usize..4,
            ops in proptest::collection::vec((0u8..4, 0usize..6, proptest::num::u8::ANY), 0..60),
        ) {
            let jids: Vec<Jid> = (0..6).map(|i| jid(&format!("e{i}.example"))).collect();
            let mut lru = Lru::new(capacity);
            // Most recent last.
            let mut model: Vec<(usize, u8)> = Vec::new();
            for (op, k, value) in ops {
                match op {
                    0 => {
                        let evicted = lru.insert(Key::shared(key(&jids[k])), value);
                        let expected = if let Some(at) = model.iter().position(|(m, _)| *m == k) {
                            let old = model.remove(at);
                            model.push((k, value));
                            Some(old)
                        } else if capacity == 0 {
                            Some((k, value))
                        } else {
                            model.push((k, value));
                            (model.len() > capacity).then(|| model.remove(0))
                        };
                        let evicted = evicted.map(|(key, v)| (jids.iter().position(|j| *j == key.jid).unwrap(), v));
                        proptest::prop_assert_eq!(evicted, expected);
                    }
                    1 => {
                        let got = lru.get(key(&jids[k])).map(|v| *v);
                        let expected = model.iter().position(|(m, _)| *m == k).map(|at| {
                            let entry = model.remove(at);
                            model.push(entry);
                            entry.1
                        });
                        proptest::prop_assert_eq!(got, expected);
                    }
                    2 => {
                        let got = lru.remove(key(&jids[k]));
                        let expected = model.iter().position(|(m, _)| *m == k).map(|at| model.remove(at).1);
                        proptest::prop_assert_eq!(got, expected);
                    }
                    _ => {
                        let got = lru.peek(key(&jids[k])).copied();
                        let expected = model.iter().find(|(m, _)| *m == k).map(|(_, v)| *v);
                        proptest::prop_assert_eq!(got, expected);
                    }
                }
                proptest::prop_assert_eq!(lru.index.len(), model.len());
            }
        }
    }
}
