//! Root queries of entities that claimed a capabilities hash: answered from the verified
//! answers, joined to the verification of the hash under way, or the start of one; and the
//! verification itself, on the answer as received (see [`crate::caps`]).

use std::sync::Arc;
use std::time::Instant;

use xmpp_parsers::disco::DiscoInfoResult;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::minidom::Element;

use super::key::KeyRef;
use super::{Origin, Requester};
use crate::caps::{CapsError, CapsInfo, Claim, HashKey};
use crate::config::Config;
use crate::error::QueryError;
use crate::ids::RequestId;
use crate::outbox::Outbox;
use crate::query::{Answer, Ask, QueryKind};

/// A request in flight at a caps node, and who waits on it.
pub(super) struct CapsFlight {
    /// The hash being verified.
    pub(super) hash: HashKey,
    /// Every waiter, with the entity it asked about: an answer that fails verification
    /// answers only the entity that gave it.
    pub(super) askers: Vec<(RequestId, Jid)>,
    /// The entities already asked for this hash, so that a retry asks another one.
    pub(super) asked: Vec<Jid>,
}

impl Requester {
    /// A query of the root of `jid`, which claimed a hash: answered from the hash cache, or
    /// joined to the verification of the hash under way, or the start of one.
    pub(super) fn query_caps(
        &mut self,
        out: &mut Outbox,
        config: &Config,
        id: RequestId,
        jid: &Jid,
        claim: &Claim,
        deadline: Option<Instant>,
    ) {
        if let Some(info) = self.caps.verified(claim) {
            out.stats.caps_hits += 1;
            out.complete(Ask::Info, id, Ok(Answer::Info(info)));
            return;
        }
        let hash = claim.first;
        if let Some(&number) = self.caps.flights.get(&hash) {
            if let Some(flight) = self.flight_mut(number) {
                flight.askers.push((id, jid.clone()));
            }
            out.stats.caps_joined += 1;
            self.attach(out, id, Ask::Info, number, deadline);
            return;
        }
        let flight = CapsFlight {
            hash,
            askers: vec![(id, jid.clone())],
            asked: Vec::new(),
        };
        match self.ask_caps(out, config, jid, &claim.query_node(hash), flight) {
            Some(number) => self.attach(out, id, Ask::Info, number, deadline),
            None => out.complete(Ask::Info, id, Err(too_many(config))),
        }
    }

    fn flight_mut(&mut self, number: u64) -> Option<&mut CapsFlight> {
        self.sources.get_mut(number)?.caps.as_deref_mut()
    }

    /// Asks `jid` at `node` for the answer behind `flight`'s hash; `None` when
    /// [`Config::max_in_flight`] requests are in flight already.
    fn ask_caps(
        &mut self,
        out: &mut Outbox,
        config: &Config,
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
        self.iqs_in_flight += 1;
        self.send_query(out, config, number, None);
        Some(number)
    }

    /// Completes the verification of source `number` with the reply: `outcome` as the
    /// requester read it, `read` the same answer read for its hash, before anything could
    /// merge its duplicates away.
    ///
    /// Verified, the answer is stored under its hash and answers every waiter. Otherwise it
    /// answers only the entity that gave it (and is cached as that entity's own answer, never
    /// under the hash); an error there makes that entity's waiters ask its root instead. Waiters
    /// about other entities claiming the hash ask the next of those entities.
    pub(super) fn complete_caps(
        &mut self,
        out: &mut Outbox,
        config: &Config,
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
        // The answer of the caps node is the root's: it is cached and handed out as such.
        let info = match outcome {
            Ok(Answer::Info(mut info)) => {
                Arc::make_mut(&mut info).node = None;
                Some(info)
            }
            _ => None,
        };
        let asked = source.key.jid;
        let node = source.key.node.unwrap_or_default();
        if let (Some(info), Some(Ok(caps))) = (&info, &read) {
            if flight.hash.matches(caps) {
                out.stats.caps_verified += 1;
                self.caps.store(flight.hash, Arc::clone(info));
                for (id, _) in &flight.askers {
                    self.finish(out, *id, Ok(Answer::Info(Arc::clone(info))));
                }
                self.prune_timers();
                return;
            }
        }
        let (own, others): (Vec<_>, Vec<_>) = flight
            .askers
            .into_iter()
            .partition(|(_, jid)| *jid == asked);
        match info {
            Some(info) => {
                out.stats.caps_rejected += 1;
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
            None => self.ask_root(out, config, &asked, own),
        }
        self.ask_next(out, config, flight.hash, &node, others, flight.asked);
        self.prune_timers();
    }

    /// Waiters about entities other than the one that failed the verification of `hash`: the
    /// next entity among theirs is asked; when each was asked already, each asks its root.
    fn ask_next(
        &mut self,
        out: &mut Outbox,
        config: &Config,
        hash: HashKey,
        node: &str,
        waiting: Vec<(RequestId, Jid)>,
        asked: Vec<Jid>,
    ) {
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
            for (id, jid) in waiting {
                self.ask_root(out, config, &jid, vec![(id, jid.clone())]);
            }
            return;
        };
        let ids: Vec<RequestId> = waiting.iter().map(|(id, _)| *id).collect();
        let flight = CapsFlight {
            hash,
            askers: waiting,
            asked,
        };
        match self.ask_caps(out, config, &next, node, flight) {
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
