//! What the requester learns from entity capabilities: each entity's latest claim, the
//! verified answers behind hashes, shared by every entity claiming one, and the verifications
//! under way.
//!
//! Claims and learned answers are bounded. Claims come from presences, one per contact and a
//! flood from anyone who can send presence, so they live in the same LRU as the answer cache,
//! each a pointer to a claim shared by every entity making it. Learned answers each cost a
//! round trip to enter, so they are few; their table evicts the least recently used by a scan
//! on insertion, which keeps lookups to one hash probe. Shipped answers (a database the host
//! loads, such as the public capsdb) sit in a table of their own that nothing evicts: the host
//! chose them, and a shipped database larger than the learned table must not push itself out.

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
    /// Answers the host loaded as shipped: read-only, never evicted nor flushed.
    shipped: HashMap<HashKey, Arc<DiscoInfoResult>>,
    /// For each hash, the verification that later claimants wait on: started before them, its
    /// deadline not yet passed, so that none waits on another entity longer than one
    /// verification timeout.
    pub(super) flights: HashMap<HashKey, u64>,
    /// For each hash, every entity asked for it at its caps node and the request asking it:
    /// an entity is asked once per hash, however many verifications fail around it.
    asking: HashMap<HashKey, HashMap<Jid, u64>>,
    /// When each verification stops being waited on by other claimants, earliest first; an
    /// entry whose source is no longer its hash's flight is stale and skipped.
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
            shipped: HashMap::new(),
            flights: HashMap::new(),
            asking: HashMap::new(),
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

    /// Whether source `number` is the verification later claimants of `hash` wait on.
    fn is_flight(&self, number: u64, hash: &HashKey) -> bool {
        self.flights.get(hash) == Some(&number)
    }

    /// The request asking `jid` for `hash` at its caps node, if one is under way.
    pub(super) fn asking(&self, hash: &HashKey, jid: &Jid) -> Option<u64> {
        self.asking.get(hash)?.get(jid).copied()
    }

    /// Source `number` asks `jid` for `hash`; it becomes the flight later claimants wait on
    /// when none is (returns whether it did).
    pub(super) fn asked(&mut self, hash: HashKey, jid: &Jid, number: u64) -> bool {
        self.asking
            .entry(hash)
            .or_default()
            .insert(jid.clone(), number);
        match self.flights.entry(hash) {
            std::collections::hash_map::Entry::Vacant(vacant) => {
                vacant.insert(number);
                true
            }
            std::collections::hash_map::Entry::Occupied(_) => false,
        }
    }

    /// Source `number`, asking `jid` for `hash`, is over (answered or abandoned).
    pub(super) fn done(&mut self, hash: HashKey, jid: &Jid, number: u64) {
        self.stop_waiting(hash, number);
        if let Some(asked) = self.asking.get_mut(&hash) {
            if asked.get(jid) == Some(&number) {
                asked.remove(jid);
            }
            if asked.is_empty() {
                self.asking.remove(&hash);
            }
        }
    }

    /// Source `number` is no longer the flight later claimants of `hash` wait on (its
    /// deadline passed, or it is over).
    pub(super) fn stop_waiting(&mut self, hash: HashKey, number: u64) {
        if self.is_flight(number, &hash) {
            self.flights.remove(&hash);
        }
    }

    /// Every request asking an entity for `hash`, forgotten, in the order they were sent.
    pub(super) fn take_asking(&mut self, hash: &HashKey) -> Vec<u64> {
        self.flights.remove(hash);
        let mut numbers: Vec<u64> = self
            .asking
            .remove(hash)
            .map(|asked| asked.into_values().collect())
            .unwrap_or_default();
        numbers.sort_unstable();
        numbers
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

    /// The verified answer for one of `claim`'s hashes (a learned one made the most recently
    /// used).
    pub(super) fn verified(&mut self, claim: &Claim) -> Option<Arc<DiscoInfoResult>> {
        claim.hashes().find_map(|hash| {
            let shipped = self.shipped.get(&hash).map(Arc::clone);
            shipped.or_else(|| self.verified.get(&hash))
        })
    }

    /// The verified answer `jid`'s latest claim stands for, touching nothing.
    pub(super) fn peek(&self, jid: &Jid) -> Option<Arc<DiscoInfoResult>> {
        let claim = self.claims.peek(entity(jid))?;
        claim.hashes().find_map(|hash| {
            let shipped = self.shipped.get(&hash).map(Arc::clone);
            shipped.or_else(|| self.verified.peek(&hash))
        })
    }

    /// Stores `info` as learned for `hash` (unless it was shipped).
    pub(super) fn store(&mut self, hash: HashKey, info: Arc<DiscoInfoResult>) {
        if !self.shipped.contains_key(&hash) {
            self.verified.insert(hash, info);
        }
    }

    /// Stores `info` as shipped for `hash`: a learned copy goes.
    pub(super) fn ship(&mut self, hash: HashKey, info: Arc<DiscoInfoResult>) {
        self.verified.entries.remove(&hash);
        self.shipped.insert(hash, info);
    }

    /// Every learned answer, for the host to keep (shipped ones are the host's already).
    pub(super) fn export(&self) -> Vec<(HashKey, Arc<DiscoInfoResult>)> {
        let mut entries: Vec<_> = self.verified.entries.iter().collect();
        // Oldest first, so that importing them in order leaves the same recency.
        entries.sort_unstable_by_key(|(_, entry)| entry.used);
        entries
            .into_iter()
            .map(|(hash, entry)| (*hash, Arc::clone(&entry.info)))
            .collect()
    }

    /// Forgets every learned answer (claims stay: they are the entities' own word; shipped
    /// answers stay: they are the host's).
    pub(super) fn flush(&mut self) {
        self.verified.entries.clear();
    }

    /// The stream is gone: so are the presences behind the claims, and the requests.
    pub(super) fn reset(&mut self) {
        self.claims.drain(drop);
        self.flights.clear();
        self.asking.clear();
        self.deadlines.clear();
    }
}
