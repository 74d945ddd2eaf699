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
use crate::caps::{CapsError, CapsInfo, Claim, HashKey, Verdict};
use crate::config::Config;
use crate::error::QueryError;
use crate::ids::RequestId;
use crate::outbox::Outbox;
use crate::query::{Ask, QueryKind};
use crate::results::Answer;

impl Requester {
    /// A query of the root of `jid`, if `jid` claimed a hash: answered from the hash cache,
    /// or joined to the verification of the hash under way, or the start of one. `false` (and
    /// nothing done) when `jid` claims nothing.
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
        if let Some(&number) = self.caps.flights.get(&hash) {
            if let Some(flight) = self.flight_mut(number) {
                flight.askers.push((id, jid.clone()));
            }
            out.stats.caps_joined += 1;
            self.attach(out, id, Ask::Info, number, deadline);
            return true;
        }
        let flight = CapsFlight {
            hash,
            askers: vec![(id, jid.clone())],
            asked: Vec::new(),
        };
        match self.ask_caps(out, config, now, jid, &claim.query_node(hash), flight) {
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

    /// Asks `jid` at `node` for the answer behind `flight`'s hash, waiting for it until
    /// [`Config::caps_verification_timeout`] from `now`; `None` when
    /// [`Config::max_in_flight`] requests are in flight already.
    fn ask_caps(
        &mut self,
        out: &mut Outbox,
        config: &Config,
        now: Instant,
        jid: &Jid,
        node: &str,
        mut flight: CapsFlight,
    ) -> Option<u64> {
        if self.iqs_in_flight >= config.max_in_flight {
            return None;
        }
        flight.asked.push(jid.clone());
        let hash = flight.hash;
        let key = KeyRef {
            jid,
            node: Some(node),
            from: None,
        };
        let number = self.new_source(Ask::Caps, key, Origin::Iq);
        if let Some(source) = self.sources.get_mut(number) {
            source.caps = Some(Box::new(flight));
        }
        self.caps.flights.insert(hash, number);
        self.caps
            .arm(now + config.caps_verification_timeout, number, hash);
        self.iqs_in_flight += 1;
        self.send_query(out, config, number, None);
        Some(number)
    }

    /// Completes the verification of source `number` with the reply: `outcome` as the
    /// requester read it, `read` the same answer read for its hash, before anything could
    /// merge its duplicates away.
    ///
    /// An answer that may stand for the hash (see [`HashKey::judge`]) is stored under it and
    /// answers every waiter; it is also stored under each other hash its entity claims that it
    /// stands for. Any other answer answers only the entity that gave it (and is cached as that
    /// entity's own, never under the hash); a malformed one fails that entity's waiters, and a
    /// stanza error makes them ask its root instead. Waiters about other entities claiming the
    /// hash ask the next of those entities.
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
        self.end_flight(number, flight.hash);
        let asked = source.key.jid;
        let node = source.key.node.unwrap_or_default();
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
                        self.store_other_claims(&asked, flight.hash, caps, &info);
                        flight.hash.judge(caps)
                    }
                    _ => Verdict::Mismatch,
                };
                if verdict == Verdict::Shared {
                    out.stats.caps_verified += 1;
                    self.caps.store(flight.hash, Arc::clone(&info));
                    for (id, _) in own.into_iter().chain(others) {
                        self.finish(out, id, Ok(Answer::Info(Arc::clone(&info))));
                    }
                    self.prune_timers();
                    return;
                }
                out.stats.caps_rejected += 1;
                if matches!(verdict, Verdict::Ambiguous(_)) {
                    out.stats.caps_ambiguous += 1;
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
        let next = CapsFlight {
            askers: others,
            ..*flight
        };
        self.ask_next(out, config, now, &node, next);
        self.prune_timers();
    }

    /// `info`, which `jid` gave for `verified`, stored under every other hash `jid` claims
    /// that it may stand for: an entity claiming both XEP-0115 and XEP-0390 costs one request.
    fn store_other_claims(
        &mut self,
        jid: &Jid,
        verified: HashKey,
        caps: &CapsInfo,
        info: &Arc<DiscoInfoResult>,
    ) {
        let Some(claim) = self.caps.claim(jid) else {
            return;
        };
        for hash in claim.hashes().filter(|hash| *hash != verified) {
            if hash.judge(caps) == Verdict::Shared {
                self.caps.store(hash, Arc::clone(info));
            }
        }
    }

    /// The verification at source `number` waited long enough for its claimant: the waiters
    /// about other entities ask the next entity claiming the hash, and the claimant's own
    /// waiters keep waiting for its answer (which is still verified should it come).
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
        let node = source.key.node.clone().unwrap_or_default();
        let (own, others): (Vec<_>, Vec<_>) = std::mem::take(&mut flight.askers)
            .into_iter()
            .partition(|(_, jid)| *jid == asked);
        flight.askers = own;
        let next = CapsFlight {
            hash: flight.hash,
            askers: others,
            asked: flight.asked.clone(),
        };
        self.end_flight(number, next.hash);
        self.ask_next(out, config, now, &node, next);
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
            self.iqs_in_flight = self.iqs_in_flight.saturating_sub(1);
        }
    }

    /// The waiters of `flight` (about entities other than the one that failed its hash's
    /// verification): the next entity among theirs not yet asked is asked at `node`; when each
    /// was asked already, each asks its root.
    fn ask_next(
        &mut self,
        out: &mut Outbox,
        config: &Config,
        now: Instant,
        node: &str,
        flight: CapsFlight,
    ) {
        let CapsFlight {
            hash,
            askers: waiting,
            asked,
        } = flight;
        let waiting: Vec<_> = waiting
            .into_iter()
            .filter(|(id, _)| self.waiters.contains(id.0))
            .collect();
        let next = waiting
            .iter()
            .map(|(_, jid)| jid)
            .find(|jid| !asked.contains(jid))
            .cloned();
        let Some(next) = next else {
            // One request per entity, however many of its queries wait, in the order asked.
            let mut by_entity: Vec<(Jid, Vec<(RequestId, Jid)>)> = Vec::new();
            let mut at: HashMap<Jid, usize> = HashMap::new();
            for (id, jid) in waiting {
                let slot = *at.entry(jid.clone()).or_insert_with(|| {
                    by_entity.push((jid.clone(), Vec::new()));
                    by_entity.len() - 1
                });
                if let Some((_, ids)) = by_entity.get_mut(slot) {
                    ids.push((id, jid));
                }
            }
            for (jid, waiting) in by_entity {
                self.ask_root(out, config, &jid, waiting);
            }
            return;
        };
        let ids: Vec<RequestId> = waiting.iter().map(|(id, _)| *id).collect();
        let flight = CapsFlight {
            hash,
            askers: waiting,
            asked,
        };
        match self.ask_caps(out, config, now, &next, node, flight) {
            Some(number) => self.move_waiters(number, &ids),
            None => {
                for id in ids {
                    self.finish(out, id, Err(too_many(config)));
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

    /// Source `number` no longer verifies `hash`.
    pub(super) fn end_flight(&mut self, number: u64, hash: HashKey) {
        if self.caps.flights.get(&hash) == Some(&number) {
            self.caps.flights.remove(&hash);
        }
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

    /// Every verified answer, oldest first.
    pub(crate) fn export_caps(&self) -> Vec<(HashKey, Arc<DiscoInfoResult>)> {
        self.caps.export()
    }

    /// Stores `info` as verified for `hash`: the caller verified it.
    pub(crate) fn import_caps(&mut self, hash: HashKey, info: Arc<DiscoInfoResult>) {
        self.caps.store(hash, info);
    }
}

fn too_many(config: &Config) -> QueryError {
    QueryError::TooManyRequests {
        limit: config.max_in_flight,
    }
}
