//! Root queries of entities that claimed a capabilities hash: answered from the verified
//! answers, joined to the verification of the hash under way, or the start of one; and the
//! verification itself, on the answer as received (see [`crate::caps`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use xmpp_parsers::disco::DiscoInfoResult;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::minidom::Element;

use super::key::KeyRef;
use super::{CapsFlight, Origin, Requester};
use crate::caps::{CapsError, CapsInfo, CapsStore, Claim, HashKey, Verdict};
use crate::config::Config;
use crate::error::QueryError;
use crate::ids::RequestId;
use crate::outbox::Outbox;
use crate::query::{Ask, QueryKind};
use crate::results::Answer;

impl Requester {
    /// A query of the root of `jid`, if `jid` claimed a hash: answered from the verified
    /// answers, or joined to the request asking `jid` itself for the hash, or to the
    /// verification other claimants of the hash wait on, or the start of one asking `jid`.
    /// `false` (and nothing done) when `jid` claims nothing.
    ///
    /// A query waits on another entity's verification only if that one started before it and
    /// its deadline has not passed, and only once: when it fails, `jid` is asked itself. So no
    /// silent or lying claimant delays it by more than one
    /// [`Config::caps_verification_timeout`], however many of them come first.
    pub(super) fn query_caps(
        &mut self,
        out: &mut Outbox,
        config: &Config,
        id: RequestId,
        jid: &Jid,
        now: Instant,
        deadline: Option<Instant>,
    ) -> bool {
        let Some(claim) = self.caps.claim(jid) else {
            return false;
        };
        if let Some(info) = self.caps.verified(&claim) {
            out.stats.caps_hits += 1;
            self.delivery
                .complete(out, Ask::Info, id, Ok(Answer::Info(info)));
            return true;
        }
        let hash = claim.first;
        let waiting_on = self
            .caps
            .asking(&hash, jid)
            .or_else(|| self.caps.flights.get(&hash).copied());
        if let Some(number) = waiting_on {
            if let Some(flight) = self.flight_mut(number) {
                flight.askers.push((id, jid.clone()));
            }
            out.stats.caps_joined += 1;
            self.attach(out, id, Ask::Info, number, deadline);
            return true;
        }
        let askers = vec![(id, jid.clone())];
        let node = claim.query_node(hash);
        match self.ask_caps(out, config, now, jid, &node, hash, askers) {
            Some(number) => self.attach(out, id, Ask::Info, number, deadline),
            None => self
                .delivery
                .complete(out, Ask::Info, id, Err(too_many(config))),
        }
        true
    }

    fn flight_mut(&mut self, number: u64) -> Option<&mut CapsFlight> {
        self.sources.get_mut(number)?.caps.as_deref_mut()
    }

    /// Asks `jid` at `node` for the answer behind `hash`, for `askers` (the caller attaches
    /// them). If no verification of the hash is waited on, this one is, until
    /// [`Config::caps_verification_timeout`] from `now`. `None` when
    /// [`Config::max_in_flight`] requests are in flight already.
    #[allow(clippy::too_many_arguments)]
    fn ask_caps(
        &mut self,
        out: &mut Outbox,
        config: &Config,
        now: Instant,
        jid: &Jid,
        node: &str,
        hash: HashKey,
        askers: Vec<(RequestId, Jid)>,
    ) -> Option<u64> {
        if self.iqs_in_flight >= config.max_in_flight {
            return None;
        }
        let key = KeyRef {
            jid,
            node: Some(node),
            from: None,
        };
        let number = self.new_source(Ask::Caps, key, Origin::Iq);
        if let Some(source) = self.sources.get_mut(number) {
            source.caps = Some(Box::new(CapsFlight { hash, askers }));
        }
        if self.caps.asked(hash, jid, number) {
            self.caps
                .arm(now + config.caps_verification_timeout, number, hash);
        }
        self.iqs_in_flight += 1;
        self.send_query(out, config, number, None);
        Some(number)
    }

    /// Completes the verification of source `number` with the reply: `outcome` as the
    /// requester read it, `read` the same answer read for its hash, before anything could
    /// merge its duplicates away.
    ///
    /// An answer that may stand for the hash (see [`HashKey::judge`]) is stored under it, as
    /// what the hash covers, and answers every waiter, and every query waiting on another
    /// entity asked for the hash; it is also stored under each other hash its entity claims
    /// that it stands for. Any other answer answers only the entity that gave it (and is
    /// cached as that entity's own, never under the hash); a malformed one fails that entity's
    /// waiters, and a stanza error makes them ask its root instead. Waiters about other
    /// entities claiming the hash ask each of those entities itself.
    pub(super) fn complete_caps(
        &mut self,
        out: &mut Outbox,
        config: &Config,
        now: Instant,
        number: u64,
        outcome: Result<Answer, QueryError>,
        read: Option<Result<CapsInfo, CapsError>>,
    ) {
        let Some(mut source) = self.sources.remove(number) else {
            return;
        };
        self.iqs_in_flight = self.iqs_in_flight.saturating_sub(1);
        let Some(flight) = source.caps.take() else {
            return;
        };
        let asked = source.key.jid;
        self.caps.done(flight.hash, &asked, number);
        let (own, others): (Vec<_>, Vec<_>) = flight
            .askers
            .into_iter()
            .partition(|(_, jid)| *jid == asked);
        match outcome {
            Ok(Answer::Info(mut info)) => {
                // The answer of the caps node is the root's: it is cached and handed out as such.
                Arc::make_mut(&mut info).node = None;
                let verdict = match &read {
                    Some(Ok(caps)) => {
                        self.store_other_claims(&asked, flight.hash, caps);
                        flight.hash.judge(caps)
                    }
                    _ => Verdict::Mismatch,
                };
                match verdict {
                    Verdict::Shared(shared) => {
                        out.stats.caps_verified += 1;
                        let shared = Arc::new(shared);
                        self.caps.store(flight.hash, Arc::clone(&shared));
                        for (id, _) in own.into_iter().chain(others) {
                            self.finish(out, id, Ok(Answer::Info(Arc::clone(&shared))));
                        }
                        self.settle(out, flight.hash, &shared);
                        self.prune_timers();
                        return;
                    }
                    Verdict::Unshared(why) => {
                        log::debug!(
                            "the answer of {asked} for {:?} is not shared: {why}",
                            flight.hash
                        );
                        out.stats.caps_rejected += 1;
                        out.stats.caps_unshareable += 1;
                    }
                    Verdict::Mismatch => {
                        log::debug!(
                            "the answer of {asked} does not hash to its claim {:?} (or breaks \
                             its XEP's rules): it answers {asked} alone",
                            flight.hash
                        );
                        out.stats.caps_rejected += 1;
                    }
                }
                let key = KeyRef {
                    jid: &asked,
                    node: None,
                    from: None,
                };
                self.set_cached(QueryKind::Info, key, Answer::Info(Arc::clone(&info)));
                for (id, _) in own {
                    self.finish(out, id, Ok(Answer::Info(Arc::clone(&info))));
                }
            }
            // A reply nobody can read: asking its sender again would bring the same.
            Err(error @ QueryError::Malformed(_)) => {
                for (id, _) in own {
                    self.finish(out, id, Err(error.clone()));
                }
            }
            _ => self.ask_root(out, config, &asked, own),
        }
        self.ask_each(out, config, now, flight.hash, others);
        self.prune_timers();
    }

    /// `hash` was verified as `shared`: every query still waiting on an entity asked for it
    /// completes with it (each of those entities claims the hash), and those requests are
    /// abandoned (a late reply is rejected like any other).
    fn settle(&mut self, out: &mut Outbox, hash: HashKey, shared: &Arc<DiscoInfoResult>) {
        for number in self.caps.take_asking(&hash) {
            let Some(source) = self.sources.remove(number) else {
                continue;
            };
            self.iqs_in_flight = self.iqs_in_flight.saturating_sub(1);
            for id in source.waiters {
                self.finish(out, id, Ok(Answer::Info(Arc::clone(shared))));
            }
        }
    }

    /// `caps`, which `jid` gave for `verified`, stored under every other hash `jid` claims
    /// that it may stand for: an entity claiming both XEP-0115 and XEP-0390 costs one request.
    /// Each hash judges by its own XEP: where XEP-0390 verified the answer, XEP-0115's hash
    /// still stores only the reading of its string.
    fn store_other_claims(&mut self, jid: &Jid, verified: HashKey, caps: &CapsInfo) {
        let Some(claim) = self.caps.claim(jid) else {
            return;
        };
        for hash in claim.hashes().filter(|hash| *hash != verified) {
            if let Verdict::Shared(info) = hash.judge(caps) {
                self.caps.store(hash, Arc::new(info));
            }
        }
    }

    /// The verification at source `number` waited long enough for its claimant: the waiters
    /// about other entities ask each of those entities itself, and the claimant's own waiters
    /// keep waiting for its answer (which is still verified should it come).
    pub(super) fn verification_expired(
        &mut self,
        out: &mut Outbox,
        config: &Config,
        now: Instant,
        number: u64,
    ) {
        let Some(source) = self.sources.get_mut(number) else {
            return;
        };
        let Some(flight) = source.caps.as_deref_mut() else {
            return;
        };
        let asked = source.key.jid.clone();
        let hash = flight.hash;
        let (own, others): (Vec<_>, Vec<_>) = std::mem::take(&mut flight.askers)
            .into_iter()
            .partition(|(_, jid)| *jid == asked);
        flight.askers = own;
        log::debug!(
            "{asked} did not answer for {hash:?} within {:?}: {} queries about other claimants \
             ask them themselves",
            config.caps_verification_timeout,
            others.len()
        );
        self.caps.stop_waiting(hash, number);
        self.ask_each(out, config, now, hash, others);
        // Those who moved on no longer wait here; with nobody left, the request is abandoned
        // (a late reply is then rejected like any other).
        let waiters = &self.waiters;
        let Some(source) = self.sources.get_mut(number) else {
            return;
        };
        source.waiters.retain(|id| {
            waiters
                .get(id.0)
                .is_some_and(|waiter| waiter.source == number)
        });
        source.live = source.waiters.len();
        if source.live == 0 {
            self.sources.remove(number);
            self.caps.done(hash, &asked, number);
            self.iqs_in_flight = self.iqs_in_flight.saturating_sub(1);
        }
    }

    /// Waiters about entities claiming `hash`, whose verification by another entity failed:
    /// each entity is asked itself at its caps node (one request per entity, however many of
    /// its queries wait), or its waiters join the request asking it already. An entity no
    /// longer claiming the hash is asked at its root.
    fn ask_each(
        &mut self,
        out: &mut Outbox,
        config: &Config,
        now: Instant,
        hash: HashKey,
        waiting: Vec<(RequestId, Jid)>,
    ) {
        for (jid, askers) in by_entity(waiting, |id| self.waiters.contains(id.0)) {
            let ids: Vec<RequestId> = askers.iter().map(|(id, _)| *id).collect();
            if let Some(number) = self.caps.asking(&hash, &jid) {
                if let Some(flight) = self.flight_mut(number) {
                    flight.askers.extend(askers);
                }
                self.move_waiters(number, &ids);
                continue;
            }
            let node = self
                .caps
                .claim(&jid)
                .filter(|claim| claim.hashes().any(|claimed| claimed == hash))
                .map(|claim| claim.query_node(hash));
            let Some(node) = node else {
                self.ask_root(out, config, &jid, askers);
                continue;
            };
            match self.ask_caps(out, config, now, &jid, &node, hash, askers) {
                Some(number) => self.move_waiters(number, &ids),
                None => {
                    for id in ids {
                        self.finish(out, id, Err(too_many(config)));
                    }
                }
            }
        }
    }

    /// The waiters of `jid` whose caps node failed them: they ask its root, plainly.
    fn ask_root(
        &mut self,
        out: &mut Outbox,
        config: &Config,
        jid: &Jid,
        waiting: Vec<(RequestId, Jid)>,
    ) {
        let ids: Vec<RequestId> = waiting
            .into_iter()
            .map(|(id, _)| id)
            .filter(|id| self.waiters.contains(id.0))
            .collect();
        if ids.is_empty() {
            return;
        }
        if self.iqs_in_flight >= config.max_in_flight {
            for id in ids {
                self.finish(out, id, Err(too_many(config)));
            }
            return;
        }
        let key = KeyRef {
            jid,
            node: None,
            from: None,
        };
        let number = self.new_source(Ask::Info, key, Origin::Iq);
        self.iqs_in_flight += 1;
        self.send_query(out, config, number, None);
        self.move_waiters(number, &ids);
    }

    /// What `jid` claims now, from the children of its presence (or stream features): a new
    /// hash replaces its root's cached info. Returns the claim when it is new.
    pub(crate) fn observe_claim<'a>(
        &mut self,
        jid: &Jid,
        children: impl IntoIterator<Item = &'a Element>,
    ) -> Option<Arc<Claim>> {
        let claim = self.caps.observe(jid, children)?;
        self.forget_root(jid);
        Some(claim)
    }

    /// `jid` went away: its claim, and its root's cached info, are forgotten.
    pub(crate) fn forget_claim(&mut self, jid: &Jid) {
        if self.caps.forget(jid) {
            self.forget_root(jid);
        }
    }

    fn forget_root(&mut self, jid: &Jid) {
        let key = KeyRef {
            jid,
            node: None,
            from: None,
        };
        let displaced = self.info.remove(key);
        self.forget_displaced(displaced);
    }

    /// Whether a query of `jid`'s root would need a request to verify its claim: no verified
    /// answer, none in flight.
    pub(crate) fn claim_unresolved(&mut self, claim: &Claim) -> bool {
        self.caps.verified(claim).is_none() && !self.caps.flights.contains_key(&claim.first)
    }

    /// Every learned answer, oldest first.
    pub(crate) fn export_caps(&self) -> Vec<(HashKey, Arc<DiscoInfoResult>)> {
        self.caps.export()
    }

    /// Stores `info` as verified for `hash` in `store`: the caller verified it.
    pub(crate) fn import_caps(
        &mut self,
        hash: HashKey,
        info: Arc<DiscoInfoResult>,
        store: CapsStore,
    ) {
        match store {
            CapsStore::Learned => self.caps.store(hash, info),
            CapsStore::Shipped => self.caps.ship(hash, info),
        }
    }
}

/// The waiters among `waiting` that still `wait`, grouped by the entity they ask about, in
/// the order first asked.
fn by_entity(
    waiting: Vec<(RequestId, Jid)>,
    wait: impl Fn(RequestId) -> bool,
) -> Vec<(Jid, Vec<(RequestId, Jid)>)> {
    let mut groups: Vec<(Jid, Vec<(RequestId, Jid)>)> = Vec::new();
    let mut at: HashMap<Jid, usize> = HashMap::new();
    for (id, jid) in waiting.into_iter().filter(|(id, _)| wait(*id)) {
        let slot = *at.entry(jid.clone()).or_insert_with(|| {
            groups.push((jid.clone(), Vec::new()));
            groups.len() - 1
        });
        if let Some((_, askers)) = groups.get_mut(slot) {
            askers.push((id, jid));
        }
    }
    groups
}

fn too_many(config: &Config) -> QueryError {
    QueryError::TooManyRequests {
        limit: config.max_in_flight,
    }
}
