//! What the requester learns from entity capabilities: each entity's latest claim, and the
//! verified answers behind hashes, shared by every entity claiming one.
//!
//! Both are bounded. Claims come from presences, one per contact and a flood from anyone who
//! can send presence, so they live in the same LRU as the answer cache, each a pointer to a
//! claim shared by every entity making it. Verified answers each cost a round trip to enter,
//! so they are few; their table evicts the least recently used by a scan on insertion, which
//! keeps lookups to one hash probe.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use xmpp_parsers::disco::DiscoInfoResult;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::minidom::Element;

use super::key::KeyRef;
use super::lru::Lru;
use crate::caps::{Claim, HashKey, Interner};

/// A verified answer and when it was last used.
struct Verified {
    info: Arc<DiscoInfoResult>,
    used: u64,
}

/// Verified answers by hash, least recently used evicted first.
struct HashCache {
    entries: HashMap<HashKey, Verified>,
    clock: u64,
    capacity: usize,
}

impl HashCache {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn get(&mut self, hash: &HashKey) -> Option<Arc<DiscoInfoResult>> {
        let now = self.tick();
        let entry = self.entries.get_mut(hash)?;
        entry.used = now;
        Some(Arc::clone(&entry.info))
    }

    fn peek(&self, hash: &HashKey) -> Option<Arc<DiscoInfoResult>> {
        self.entries.get(hash).map(|entry| Arc::clone(&entry.info))
    }

    fn insert(&mut self, hash: HashKey, info: Arc<DiscoInfoResult>) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&hash) {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, entry)| entry.used)
                .map(|(hash, _)| *hash);
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        let used = self.tick();
        self.entries.insert(hash, Verified { info, used });
    }
}

/// Claims, verified answers and the verifications under way.
pub(super) struct Learned {
    claims: Lru<Arc<Claim>>,
    verified: HashCache,
    /// The source verifying each hash: every entity claiming it waits there.
    pub(super) flights: HashMap<HashKey, u64>,
    /// When each verification stops waiting for its claimant, earliest first; an entry whose
    /// source no longer verifies its hash is stale and skipped.
    deadlines: BinaryHeap<Reverse<(Instant, u64, HashKey)>>,
    /// Claims many entities share, stored once.
    shared: Interner,
}

/// The key of an entity's claim: the entity alone.
fn entity(jid: &Jid) -> KeyRef<'_> {
    KeyRef {
        jid,
        node: None,
        from: None,
    }
}

impl Learned {
    pub(super) fn new(claims: usize, hashes: usize) -> Self {
        Learned {
            claims: Lru::new(claims),
            verified: HashCache {
                entries: HashMap::new(),
                clock: 0,
                capacity: hashes,
            },
            flights: HashMap::new(),
            deadlines: BinaryHeap::new(),
            shared: Interner::default(),
        }
    }

    /// The latest claim of `jid`, made the most recently used.
    pub(super) fn claim(&mut self, jid: &Jid) -> Option<Arc<Claim>> {
        self.claims.get(entity(jid)).cloned()
    }

    /// Records what `jid` claims now, read from the children of its presence. Returns the
    /// claim if it is new (a new hash or a first one): `jid`'s info may have changed.
    pub(super) fn observe<'a>(
        &mut self,
        jid: &Jid,
        children: impl IntoIterator<Item = &'a Element>,
    ) -> Option<Arc<Claim>> {
        let read = crate::caps::read_claim(children)?;
        if let Some(known) = self.claims.get(entity(jid)) {
            if known.is(&read) {
                return None;
            }
            *known = self.shared.intern(read);
            return Some(Arc::clone(known));
        }
        let claim = self.shared.intern(read);
        self.claims.insert(entity(jid), Arc::clone(&claim));
        Some(claim)
    }

    /// Source `number`, verifying `hash`, stops waiting for its claimant at `deadline`.
    pub(super) fn arm(&mut self, deadline: Instant, number: u64, hash: HashKey) {
        self.deadlines.push(Reverse((deadline, number, hash)));
    }

    /// Whether source `number` is the one verifying `hash`.
    fn is_flight(&self, number: u64, hash: &HashKey) -> bool {
        self.flights.get(hash) == Some(&number)
    }

    /// Drops stale deadlines from the front, so that [`next_deadline`](Self::next_deadline)
    /// is exact.
    pub(super) fn prune(&mut self) {
        while let Some(Reverse((_, number, hash))) = self.deadlines.peek() {
            if self.is_flight(*number, hash) {
                break;
            }
            self.deadlines.pop();
        }
    }

    /// The earliest live verification deadline (after [`prune`](Self::prune)).
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines
            .peek()
            .map(|Reverse((deadline, _, _))| *deadline)
    }

    /// The source of a verification whose deadline is due at `now`, if any.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<u64> {
        loop {
            let Reverse((deadline, number, hash)) = *self.deadlines.peek()?;
            if deadline > now {
                return None;
            }
            self.deadlines.pop();
            if self.is_flight(number, &hash) {
                return Some(number);
            }
        }
    }

    /// Forgets what `jid` claimed; whether it claimed anything.
    pub(super) fn forget(&mut self, jid: &Jid) -> bool {
        self.claims.remove(entity(jid)).is_some()
    }

    /// The verified answer for one of `claim`'s hashes, made the most recently used.
    pub(super) fn verified(&mut self, claim: &Claim) -> Option<Arc<DiscoInfoResult>> {
        claim.hashes().find_map(|hash| self.verified.get(&hash))
    }

    /// The verified answer `jid`'s latest claim stands for, touching nothing.
    pub(super) fn peek(&self, jid: &Jid) -> Option<Arc<DiscoInfoResult>> {
        let claim = self.claims.peek(entity(jid))?;
        claim.hashes().find_map(|hash| self.verified.peek(&hash))
    }

    /// Stores `info` as verified for `hash`.
    pub(super) fn store(&mut self, hash: HashKey, info: Arc<DiscoInfoResult>) {
        self.verified.insert(hash, info);
    }

    /// Every verified answer, for the host to keep.
    pub(super) fn export(&self) -> Vec<(HashKey, Arc<DiscoInfoResult>)> {
        let mut entries: Vec<_> = self.verified.entries.iter().collect();
        // Oldest first, so that importing them in order leaves the same recency.
        entries.sort_unstable_by_key(|(_, entry)| entry.used);
        entries
            .into_iter()
            .map(|(hash, entry)| (*hash, Arc::clone(&entry.info)))
            .collect()
    }

    /// Forgets every verified answer (claims stay: they are the entities' own word).
    pub(super) fn flush(&mut self) {
        self.verified.entries.clear();
    }

    /// The stream is gone: so are the presences behind the claims, and the requests.
    pub(super) fn reset(&mut self) {
        self.claims.drain(drop);
        self.flights.clear();
        self.deadlines.clear();
    }
}
