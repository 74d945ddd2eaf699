//! [`DiscoMachine`]: one value per XMPP session, routing commands, stanzas and time to the
//! requester (and, later, responder) half and collecting what they produce.

use std::sync::Arc;
use std::time::Instant;

use xmpp_parsers::disco::{DiscoInfoResult, DiscoItemsResult, Item};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::stanza_error::StanzaError;

use crate::config::Config;
use crate::error::{InvalidArgument, QueryError, RegistryError, ResponseError, WriteError};
use crate::event::{Event, PrimeHandle, RequestId, ResponseHandle};
use crate::options::QueryOptions;
use crate::outbox::{Outbox, Outgoing};
use crate::requester::{Cached, KeyRef, ReplyMatch, Requester};
use crate::responder::{
    DeferredAnswer, IncomingRequest, Node, NodeMut, RequestContext, Responder, StaticNode,
};
use crate::stats::Stats;
use crate::wire::{self, Address, Answer, IqType, QueryKind};

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
    responder: Responder,
    out: Outbox,
}

impl std::fmt::Debug for DiscoMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscoMachine")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .field("responder", &self.responder)
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
            responder: Responder::new(),
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
    pub fn stats(&self) -> Stats {
        Stats {
            requests_answered: self.responder.answered,
            requests_refused: self.responder.refused,
            ..self.requester.stats
        }
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
        self.query(now, QueryKind::Info, jid, node, options)
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
        self.query(now, QueryKind::Items, jid, node, options)
    }

    fn query(
        &mut self,
        now: Instant,
        kind: QueryKind,
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
            .set_cached(QueryKind::Info, key, Answer::Info(info.into()));
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
            .peek(QueryKind::Info, key(jid, node).ok()?, Answer::info)
    }

    /// What the cache holds for `disco#items` of `jid` at `node`; see
    /// [`peek_info`](Self::peek_info).
    pub fn peek_items(&self, jid: &Jid, node: Option<&str>) -> Option<Cached<DiscoItemsResult>> {
        self.requester
            .peek(QueryKind::Items, key(jid, node).ok()?, Answer::items)
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
        self.responder.reset();
        self.out.drop_unsent();
    }

    // ---------------------------------------------------------------- responder registry

    /// The root node: what the machine answers for requests without a node.
    pub fn root(&self) -> &StaticNode {
        self.responder.root()
    }

    /// Changes the root node. It starts with the identity `client`/`bot` (see
    /// [`StaticNode::default_root`]).
    ///
    /// ```
    /// use xmpp_disco::{DiscoMachine, Event};
    ///
    /// let mut disco = DiscoMachine::default();
    /// let mut root = disco.root_mut();
    /// root.register_identity("client", "pc", [(Some("en"), "Juliet's balcony")])?;
    /// root.unregister_identity("client", "bot")?;
    /// root.register_feature("urn:xmpp:ping")?;
    /// // Each change tells the host, so that entity capabilities can be recomputed.
    /// assert!(matches!(disco.poll_event(), Some(Event::NodeChanged { node: None })));
    /// # Ok::<(), xmpp_disco::RegistryError>(())
    /// ```
    pub fn root_mut(&mut self) -> NodeMut<'_> {
        self.responder.root_mut(&mut self.out)
    }

    /// The node mounted at `name`, if any.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.responder.node(name)
    }

    /// Changes the static node mounted at `name`; `None` if there is none (or it is dynamic or
    /// deferred, which the host changes itself).
    pub fn node_mut<'a>(&'a mut self, name: &'a str) -> Option<NodeMut<'a>> {
        self.responder.node_mut(&mut self.out, name)
    }

    /// Answers requests for node `name` with `node` from now on. Mounting over a name replaces
    /// the node there (as aioxmpp's `mount_node` does) and returns the one replaced. Raises
    /// [`Event::NodeChanged`].
    ///
    /// # Errors
    ///
    /// [`InvalidArgument::EmptyNode`] for an empty name (requests without a node go to the
    /// root).
    pub fn mount(
        &mut self,
        name: impl Into<String>,
        node: impl Into<Node>,
    ) -> Result<Option<Node>, InvalidArgument> {
        let name = name.into();
        if name.is_empty() {
            return Err(InvalidArgument::EmptyNode);
        }
        Ok(self.responder.mount(&mut self.out, name, node.into()))
    }

    /// Stops answering for node `name` (requests for it get `item-not-found`) and returns the
    /// node. Raises [`Event::NodeChanged`]. Deferred requests already handed to the host can
    /// still be answered.
    ///
    /// # Errors
    ///
    /// [`RegistryError::NotMounted`] if nothing is mounted at `name`.
    pub fn unmount(&mut self, name: &str) -> Result<Node, RegistryError> {
        self.responder
            .unmount(&mut self.out, name)
            .ok_or_else(|| RegistryError::NotMounted(name.to_owned()))
    }

    /// Decides, per request, whether to answer at all: a request the policy refuses is answered
    /// `service-unavailable`, whatever node it asks for, so that a refused requester learns
    /// nothing (XEP-0030 §8; a client may refuse entities not in its roster this way).
    pub fn set_policy(&mut self, policy: impl Fn(&RequestContext<'_>) -> bool + Send + 'static) {
        self.responder.set_policy(Some(Box::new(policy)));
    }

    /// Answers every requester again.
    pub fn clear_policy(&mut self) {
        self.responder.set_policy(None);
    }

    /// Answers a deferred `disco#info` request. An answer without any identity is sent as
    /// `item-not-found`, as for dynamic nodes.
    ///
    /// # Errors
    ///
    /// [`ResponseError::UnknownHandle`] if the request was answered already or its stream is
    /// gone; [`ResponseError::WrongKind`] if it asks for items. Nothing is sent then.
    pub fn respond_info(
        &mut self,
        handle: ResponseHandle,
        info: DiscoInfoResult,
    ) -> Result<(), ResponseError> {
        self.responder
            .respond(&mut self.out, handle, DeferredAnswer::Info(info))
    }

    /// Answers a deferred `disco#items` request.
    ///
    /// # Errors
    ///
    /// As [`respond_info`](Self::respond_info), with [`ResponseError::WrongKind`] for an info
    /// request.
    pub fn respond_items(
        &mut self,
        handle: ResponseHandle,
        items: Vec<Item>,
    ) -> Result<(), ResponseError> {
        self.responder
            .respond(&mut self.out, handle, DeferredAnswer::Items(items))
    }

    /// Answers a deferred request with a stanza error.
    ///
    /// # Errors
    ///
    /// [`ResponseError::UnknownHandle`] if the request was answered already or its stream is
    /// gone.
    pub fn respond_error(
        &mut self,
        handle: ResponseHandle,
        error: StanzaError,
    ) -> Result<(), ResponseError> {
        self.responder
            .respond(&mut self.out, handle, DeferredAnswer::Error(error))
    }

    // ---------------------------------------------------------------- input

    /// Offers a received stanza to the machine. It takes what is its business: replies to its
    /// own requests, and `disco#info` / `disco#items` requests, which it answers (or hands to the
    /// host, for [deferred](Node::Deferred) nodes). Everything else is handed back untouched in
    /// [`Handled::Unhandled`].
    ///
    /// `now` is the current instant, as for every input; no received stanza starts a timer
    /// today, but hosts pass it so that none has to change when one does.
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
        let type_ = head.type_;
        match type_ {
            IqType::Get | IqType::Set => {
                let Some(request) = wire::disco_request(&stanza) else {
                    return Handled::Unhandled(stanza);
                };
                let incoming = IncomingRequest {
                    set: type_ == IqType::Set,
                    id: head.id,
                    from: head.from.map(|from| Address::Raw(from.to_owned())),
                    to: stanza.attr("to").map(|to| Address::Raw(to.to_owned())),
                    request,
                    lang: wire::stanza_lang(&stanza),
                };
                self.responder
                    .handle_request(&mut self.out, &self.config, incoming);
                Handled::Consumed
            }
            IqType::Result | IqType::Error => {
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
        }
    }

    /// [`handle_stanza`](Self::handle_stanza) for a typed [`Iq`], the form tokio-xmpp hands
    /// over. The payload is taken as it is, without converting the stanza back to an element.
    /// (A typed `Iq` does not carry `xml:lang`, so requests taken this way have no language.)
    pub fn handle_iq(&mut self, now: Instant, iq: Iq) -> Handled<Iq> {
        let _ = now;
        let head = wire::typed_iq_head(&iq);
        match head.type_ {
            IqType::Get | IqType::Set => {
                let Some(request) = wire::typed_disco_request(&iq) else {
                    return Handled::Unhandled(iq);
                };
                let (from, to) = match &iq {
                    Iq::Get { from, to, .. } | Iq::Set { from, to, .. } => (from, to),
                    Iq::Result { from, to, .. } | Iq::Error { from, to, .. } => (from, to),
                };
                let incoming = IncomingRequest {
                    set: head.type_ == IqType::Set,
                    id: head.id,
                    from: from.clone().map(Address::Jid),
                    to: to.clone().map(Address::Jid),
                    request,
                    lang: None,
                };
                self.responder
                    .handle_request(&mut self.out, &self.config, incoming);
                Handled::Consumed
            }
            IqType::Result | IqType::Error => {
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
        let from = stamp(&self.config);
        let namespace = &self.config.stanza_namespace;
        Some(match self.out.transmits.pop_front()? {
            Outgoing::Query(query) => query.into_element(namespace, from),
            Outgoing::Response(response) => response.into_element(namespace),
        })
    }

    /// The next stanza to send, as a typed [`Iq`] (the form tokio-xmpp sends). Drains the same
    /// queue as [`poll_transmit`](Self::poll_transmit); use one or the other.
    pub fn poll_transmit_iq(&mut self) -> Option<Iq> {
        let from = stamp(&self.config);
        Some(match self.out.transmits.pop_front()? {
            Outgoing::Query(query) => query.into_iq(from),
            Outgoing::Response(response) => response.into_iq(),
        })
    }

    /// The next stanza to send, written as XML: for hosts that write stanzas to their stream
    /// themselves (a server component, a custom transport). Drains the same queue as
    /// [`poll_transmit`](Self::poll_transmit); use one or the other.
    ///
    /// This is the fastest way out: requests are written by hand, and a node's payload is
    /// serialised once, when it is first asked for after a change, each answer copying those
    /// bytes after a small envelope, where going through [`Element`] builds or clones the whole
    /// stanza and serialises it every time. The stanza is one element with its namespace
    /// declared (`<iq xmlns='jabber:client' ...>`), ready to be written into an open stream.
    ///
    /// # Errors
    ///
    /// [`WriteError`] if the stanza holds text XML cannot carry (which only a value from the
    /// host can bring in); that stanza is dropped and the next call goes on with the next one.
    ///
    /// ```
    /// use std::time::Instant;
    /// use xmpp_disco::{DiscoMachine, Handled};
    /// use xmpp_disco::xmpp_parsers::minidom::Element;
    ///
    /// let mut disco = DiscoMachine::default();
    /// let request: Element = "<iq xmlns='jabber:client' type='get' id='q1' from='romeo@example.net/orchard'>\
    ///     <query xmlns='http://jabber.org/protocol/disco#info'/></iq>".parse()?;
    /// assert!(matches!(disco.handle_stanza(Instant::now(), request), Handled::Consumed));
    ///
    /// let bytes = disco.poll_transmit_bytes().expect("the answer")?;
    /// let answer = Element::from_reader(bytes.as_slice())?;
    /// assert_eq!(answer.attr("type"), Some("result"));
    /// assert_eq!(answer.attr("to"), Some("romeo@example.net/orchard"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn poll_transmit_bytes(&mut self) -> Option<Result<Vec<u8>, WriteError>> {
        let from = stamp(&self.config);
        let namespace = &self.config.stanza_namespace;
        let mut bytes = Vec::new();
        let written = match self.out.transmits.pop_front()? {
            Outgoing::Query(query) => query.write_to(namespace, from, &mut bytes),
            Outgoing::Response(response) => response.write_to(namespace, &mut bytes),
        };
        Some(written.map(|()| bytes))
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

/// The `from` a component stamps on what it sends ([`Config::stamp_from`]), borrowed: only a
/// typed request copies it.
fn stamp(config: &Config) -> Option<&Jid> {
    config.own_jid.as_ref().filter(|_| config.stamp_from)
}

/// Validates a (JID, node) pair into a cache key.
fn key<'a>(jid: &'a Jid, node: Option<&'a str>) -> Result<KeyRef<'a>, InvalidArgument> {
    if node == Some("") {
        return Err(InvalidArgument::EmptyNode);
    }
    Ok(KeyRef { jid, node })
}
