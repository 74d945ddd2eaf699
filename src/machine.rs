//! [`DiscoMachine`]: one value per XMPP session, routing commands, stanzas and time to the
//! requester (and, later, responder) half and collecting what they produce.

use std::sync::Arc;
use std::time::Instant;

use xmpp_parsers::disco::{DiscoInfoResult, DiscoItemsResult};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::minidom::Element;

use crate::config::Config;
use crate::error::{InvalidArgument, QueryError};
use crate::event::{Event, PrimeHandle, RequestId};
use crate::options::QueryOptions;
use crate::outbox::{Outbox, Outgoing};
use crate::requester::{Cached, KeyRef, ReplyMatch, Requester};
use crate::stats::Stats;
use crate::wire::{self, Answer, IqType, Kind};

/// What [`DiscoMachine::handle_stanza`] did with a stanza.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a stanza handed back is the host's to route elsewhere"]
pub enum Handled<T> {
    /// The stanza was the machine's business and has been taken.
    Consumed,
    /// Not the machine's business: here it is back, untouched, for the host's other handlers.
    Unhandled(T),
}

impl<T> Handled<T> {
    /// The stanza handed back, if it was not consumed.
    pub fn into_unhandled(self) -> Option<T> {
        match self {
            Handled::Consumed => None,
            Handled::Unhandled(stanza) => Some(stanza),
        }
    }

    /// Whether the machine took the stanza.
    pub fn is_consumed(&self) -> bool {
        matches!(self, Handled::Consumed)
    }
}

/// XEP-0030 service discovery for one XMPP session, as a state machine without I/O.
///
/// The host feeds it commands ([`query_info`](Self::query_info), ...), the stanzas it receives
/// ([`handle_stanza`](Self::handle_stanza)) and the passing of time
/// ([`handle_timeout`](Self::handle_timeout)); it drains what the machine wants sent
/// ([`poll_transmit`](Self::poll_transmit)), what it has to report
/// ([`poll_event`](Self::poll_event)) and when it next needs a wake-up
/// ([`poll_timeout`](Self::poll_timeout)). Time is always passed in, so the same inputs give
/// the same outputs.
///
/// See the [crate documentation](crate) for a complete run loop and the semantics.
pub struct DiscoMachine {
    config: Config,
    requester: Requester,
    out: Outbox,
}

impl std::fmt::Debug for DiscoMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscoMachine")
            .field("config", &self.config)
            .field("stats", &self.requester.stats)
            .field("queued_transmits", &self.out.transmits.len())
            .field("queued_events", &self.out.events.len())
            .finish_non_exhaustive()
    }
}

impl Default for DiscoMachine {
    fn default() -> Self {
        DiscoMachine::new(Config::default())
    }
}

impl DiscoMachine {
    /// A machine with the given settings, with an empty cache and nothing in flight.
    pub fn new(config: Config) -> Self {
        DiscoMachine {
            requester: Requester::new(&config),
            config,
            out: Outbox::default(),
        }
    }

    /// The settings the machine runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Records the session's JID, typically once a resource is bound. See
    /// [`Config::own_jid`] for why it matters.
    pub fn set_own_jid(&mut self, jid: Jid) {
        self.config.own_jid = Some(jid);
    }

    /// What the machine did so far.
    pub fn stats(&self) -> &Stats {
        &self.requester.stats
    }

    // ---------------------------------------------------------------- requester commands

    /// Asks `jid` (at `node`, if given) for its identities, features and extended information.
    ///
    /// Returns at once; exactly one [`Event::Info`] with the returned id follows, maybe at once
    /// (answered from the cache, or refused by [`Config::max_in_flight`]), maybe after a stanza
    /// from [`poll_transmit`](Self::poll_transmit) is answered.
    ///
    /// # Errors
    ///
    /// [`InvalidArgument::EmptyNode`] if `node` is `Some("")`; nothing is started then.
    pub fn query_info(
        &mut self,
        now: Instant,
        jid: &Jid,
        node: Option<&str>,
        options: QueryOptions,
    ) -> Result<RequestId, InvalidArgument> {
        self.query(now, Kind::Info, jid, node, options)
    }

    /// Asks `jid` (at `node`, if given) for its items. Same contract as
    /// [`query_info`](Self::query_info), completed by [`Event::Items`].
    ///
    /// # Errors
    ///
    /// [`InvalidArgument::EmptyNode`] if `node` is `Some("")`.
    pub fn query_items(
        &mut self,
        now: Instant,
        jid: &Jid,
        node: Option<&str>,
        options: QueryOptions,
    ) -> Result<RequestId, InvalidArgument> {
        self.query(now, Kind::Items, jid, node, options)
    }

    fn query(
        &mut self,
        now: Instant,
        kind: Kind,
        jid: &Jid,
        node: Option<&str>,
        options: QueryOptions,
    ) -> Result<RequestId, InvalidArgument> {
        let key = key(jid, node)?;
        Ok(self
            .requester
            .query(&mut self.out, &self.config, now, kind, key, options))
    }

    /// Gives up waiting for query `id`: it completes with [`QueryError::Cancelled`]. Queries
    /// aliased to the same request keep waiting; when none is left the request is abandoned.
    ///
    /// Returns `false` (and does nothing) if `id` has already completed or was never issued.
    pub fn cancel(&mut self, id: RequestId) -> bool {
        self.requester.cancel(&mut self.out, id)
    }

    /// Stores `info` as the `disco#info` answer of `jid` at `node`, as if it had been received
    /// (aioxmpp's `set_info_cache`). Queries already waiting on a request keep waiting for it;
    /// later queries get `info`. Pass one `Arc` for many JIDs that share an answer (entity
    /// capabilities) and it is stored once.
    ///
    /// # Errors
    ///
    /// [`InvalidArgument::EmptyNode`] if `node` is `Some("")`.
    pub fn set_info_cache(
        &mut self,
        jid: &Jid,
        node: Option<&str>,
        info: impl Into<Arc<DiscoInfoResult>>,
    ) -> Result<(), InvalidArgument> {
        let key = key(jid, node)?;
        self.requester
            .set_cached(Kind::Info, key, Answer::Info(info.into()));
        Ok(())
    }

    /// Opens a pending `disco#info` entry for `jid` at `node` that the host resolves later with
    /// [`complete_prime`](Self::complete_prime) or [`fail_prime`](Self::fail_prime)
    /// (aioxmpp's `set_info_future`). Queries for the key wait on it instead of sending.
    ///
    /// # Errors
    ///
    /// [`InvalidArgument::EmptyNode`] if `node` is `Some("")`.
    pub fn prime_info_pending(
        &mut self,
        jid: &Jid,
        node: Option<&str>,
    ) -> Result<PrimeHandle, InvalidArgument> {
        Ok(self.requester.prime_pending(key(jid, node)?, false))
    }

    /// Like [`prime_info_pending`](Self::prime_info_pending), but the host is told with
    /// [`Event::PrimeRequested`] when the first query needs the entry, so that nothing is looked
    /// up for entities nobody asks about (entity capabilities under a presence flood).
    ///
    /// # Errors
    ///
    /// [`InvalidArgument::EmptyNode`] if `node` is `Some("")`.
    pub fn prime_info_lazy(
        &mut self,
        jid: &Jid,
        node: Option<&str>,
    ) -> Result<PrimeHandle, InvalidArgument> {
        Ok(self.requester.prime_pending(key(jid, node)?, true))
    }

    /// Resolves a pending primed entry with its answer: every query waiting on it completes with
    /// `info`, which is cached if the entry is still the key's.
    ///
    /// Returns `false` if the handle is stale: already resolved, or dropped by an eviction, a
    /// replacement, [`flush_cache`](Self::flush_cache) or
    /// [`stream_destroyed`](Self::stream_destroyed) while no query waited on it.
    pub fn complete_prime(
        &mut self,
        handle: PrimeHandle,
        info: impl Into<Arc<DiscoInfoResult>>,
    ) -> bool {
        self.requester
            .resolve_prime(&mut self.out, handle, Ok(Answer::Info(info.into())))
    }

    /// Resolves a pending primed entry with a failure: waiting queries fail with
    /// [`QueryError::PrimeFailed`], and so does every later query for the key until one asks for
    /// a fresh answer. Returns `false` if the handle is stale, as for
    /// [`complete_prime`](Self::complete_prime).
    pub fn fail_prime(&mut self, handle: PrimeHandle, reason: impl Into<Arc<str>>) -> bool {
        self.requester.resolve_prime(
            &mut self.out,
            handle,
            Err(QueryError::PrimeFailed(reason.into())),
        )
    }

    /// What the cache holds for `disco#info` of `jid` at `node`, without sending anything or
    /// refreshing the entry's place in the LRU order. `None` if nothing (or `node` is empty).
    pub fn peek_info(&self, jid: &Jid, node: Option<&str>) -> Option<Cached<DiscoInfoResult>> {
        self.requester
            .peek(Kind::Info, key(jid, node).ok()?, Answer::info)
    }

    /// What the cache holds for `disco#items` of `jid` at `node`; see
    /// [`peek_info`](Self::peek_info).
    pub fn peek_items(&self, jid: &Jid, node: Option<&str>) -> Option<Cached<DiscoItemsResult>> {
        self.requester
            .peek(Kind::Items, key(jid, node).ok()?, Answer::items)
    }

    /// Forgets every cached answer and primed entry. Queries waiting on requests in flight (or on
    /// primed entries) still complete; their answers are just not cached.
    pub fn flush_cache(&mut self) {
        self.requester.flush_cache();
    }

    /// The stream was destroyed (closed or failed, not resumed): every waiting query completes
    /// with [`QueryError::Disconnected`], in request order, unsent requests are dropped and the
    /// cache is cleared. The machine is then ready for the next stream; [`Stats`] carry on.
    ///
    /// A stream resumed with XEP-0198 needs no call: replies to requests in flight still arrive.
    pub fn stream_destroyed(&mut self) {
        self.requester.reset(&mut self.out);
        self.out.drop_unsent_queries();
    }

    // ---------------------------------------------------------------- input

    /// Offers a received stanza to the machine. Replies to its own requests are consumed;
    /// everything else is handed back untouched in [`Handled::Unhandled`].
    ///
    /// Replies are trusted only from the entity asked (see [`Config::own_jid`] for the server's
    /// exception), with an id the machine issued. A reply carrying such an id but failing those
    /// checks, or arriving late, is consumed without effect and counted in
    /// [`Stats::replies_rejected`].
    pub fn handle_stanza(&mut self, now: Instant, stanza: Element) -> Handled<Element> {
        let _ = now;
        let Some(head) = wire::iq_head(&stanza) else {
            return Handled::Unhandled(stanza);
        };
        if !matches!(head.type_, IqType::Result | IqType::Error) {
            return Handled::Unhandled(stanza);
        }
        let type_ = head.type_;
        match self.requester.match_reply(&self.config, head) {
            ReplyMatch::NotOurs => Handled::Unhandled(stanza),
            ReplyMatch::Rejected => Handled::Consumed,
            ReplyMatch::Accepted(reply) => {
                let body = wire::reply_body(stanza, type_);
                self.requester.complete_reply(&mut self.out, reply, body);
                Handled::Consumed
            }
        }
    }

    /// [`handle_stanza`](Self::handle_stanza) for a typed [`Iq`], the form tokio-xmpp hands
    /// over. The payload is taken as it is, without converting the stanza back to an element.
    pub fn handle_iq(&mut self, now: Instant, iq: Iq) -> Handled<Iq> {
        let _ = now;
        let head = wire::typed_iq_head(&iq);
        if !matches!(head.type_, IqType::Result | IqType::Error) {
            return Handled::Unhandled(iq);
        }
        match self.requester.match_reply(&self.config, head) {
            ReplyMatch::NotOurs => Handled::Unhandled(iq),
            ReplyMatch::Rejected => Handled::Consumed,
            ReplyMatch::Accepted(reply) => {
                if let Some(body) = wire::typed_reply_body(iq) {
                    self.requester.complete_reply(&mut self.out, reply, body);
                }
                Handled::Consumed
            }
        }
    }

    /// Fires every deadline that is due at `now`: the queries concerned complete with
    /// [`QueryError::Timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        self.requester.handle_timeout(&mut self.out, now);
    }

    // ---------------------------------------------------------------- output

    /// The next stanza to send, as an element in [`Config::stanza_namespace`].
    pub fn poll_transmit(&mut self) -> Option<Element> {
        let from = self.stamp();
        match self.out.transmits.pop_front()? {
            Outgoing::Query(query) => {
                Some(query.into_element(&self.config.stanza_namespace, from.as_ref()))
            }
        }
    }

    /// The next stanza to send, as a typed [`Iq`] (the form tokio-xmpp sends). Drains the same
    /// queue as [`poll_transmit`](Self::poll_transmit); use one or the other.
    pub fn poll_transmit_iq(&mut self) -> Option<Iq> {
        let from = self.stamp();
        match self.out.transmits.pop_front()? {
            Outgoing::Query(query) => Some(query.into_iq(from.as_ref())),
        }
    }

    fn stamp(&self) -> Option<Jid> {
        self.config
            .own_jid
            .as_ref()
            .filter(|_| self.config.stamp_from)
            .cloned()
    }

    /// The next event: a completion, or a request for primed data.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.events.pop_front()
    }

    /// When the machine next needs [`handle_timeout`](Self::handle_timeout), or `None` while no
    /// query has a deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.requester.next_deadline()
    }
}

/// Validates a (JID, node) pair into a cache key.
fn key<'a>(jid: &'a Jid, node: Option<&'a str>) -> Result<KeyRef<'a>, InvalidArgument> {
    if node == Some("") {
        return Err(InvalidArgument::EmptyNode);
    }
    Ok(KeyRef { jid, node })
}
