//! [`DiscoMachine`]: one value per XMPP session, routing commands, stanzas and time to the
//! requester and responder halves and collecting what they produce.

use std::sync::Arc;
use std::time::Instant;

use xmpp_parsers::disco::{DiscoInfoResult, DiscoItemsResult, Item};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::presence::{Presence, Type as PresenceType};
use xmpp_parsers::rsm::SetQuery;
use xmpp_parsers::stanza_error::StanzaError;

use crate::caps::{CapsAnnouncement, CapsInfo, HashKey, Verdict};
use crate::config::Config;
use crate::error::{
    InvalidArgument, InvalidText, QueryError, RegistryError, ResponseError, TextField,
};
use crate::event::Event;
use crate::ids::{PrimeHandle, RequestId, ResponseHandle};
use crate::options::{QueryOptions, ServiceFilter};
use crate::outbox::Outbox;
use crate::query::{Ask, QueryKind};
use crate::read::{self, Handled, IqType, Received};
use crate::requester::{Cached, KeyRef, Query, Requester};
use crate::responder::{
    DeferredAnswer, Entity, EntityMut, Node, NodeMut, RequestContext, Resolver, Responder,
    StaticNode,
};
use crate::results::Answer;
use crate::stats::Stats;
use crate::text;
use crate::tree::{Asker, Question, ServicesQuestion, SupportQuestion, Tree, WalkQuestion};
use crate::write::{payload, Outgoing, Transmit};

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
    /// Whether XML can carry [`Config::id_prefix`], checked once: every query needs it.
    id_prefix: Result<(), InvalidText>,
    /// The `from` requests carry, when the machine stamps it ([`Config::stamp_from`]): shared,
    /// so that stamping a request costs no copy of the JID.
    stamp: Option<Arc<Jid>>,
    requester: Requester,
    responder: Responder,
    /// Questions about trees under way.
    tree: Tree,
    /// The latest instant the host passed in: questions ask their next queries then.
    now: Option<Instant>,
    out: Outbox,
}

impl std::fmt::Debug for DiscoMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscoMachine")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .field("responder", &self.responder)
            .field("queued", &self.out.queued())
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
            responder: Responder::new(&config),
            id_prefix: text::check(TextField::IdPrefix, &config.id_prefix),
            stamp: stamp(&config),
            config,
            tree: Tree::default(),
            now: None,
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
        self.stamp = stamp(&self.config);
    }

    /// What the machine did so far.
    pub fn stats(&self) -> Stats {
        self.out.stats
    }

    // ---------------------------------------------------------------- requester commands

    /// Asks `jid` (at `node`, if given) for its identities, features and extended information.
    ///
    /// Returns at once; exactly one [`Event::Info`] with the returned id follows, maybe at once
    /// (answered from the cache, or refused by [`Config::max_in_flight`]), maybe after a stanza
    /// from [`poll_transmit`](Self::poll_transmit) is answered.
    ///
    /// A query of the root of an entity whose latest presence claimed a capabilities hash
    /// ([`observe_presence`](Self::observe_presence)) goes through entity capabilities unless
    /// it is [fresh](QueryOptions::fresh) or asks [from](QueryOptions::with_from) another
    /// address: answered from the verified hash cache, or by one request at the caps node that
    /// every entity claiming the hash shares (see the
    /// [crate documentation](crate#entity-capabilities)).
    ///
    /// # Errors
    ///
    /// [`InvalidArgument::EmptyNode`] if `node` is `Some("")`, [`InvalidArgument::Text`] if it
    /// holds a character XML cannot carry (or [`Config::id_prefix`] does); nothing is started
    /// then.
    pub fn query_info(
        &mut self,
        now: Instant,
        jid: &Jid,
        node: Option<&str>,
        options: QueryOptions,
    ) -> Result<RequestId, InvalidArgument> {
        self.query(now, Ask::Info, jid, node, &options, None)
    }

    /// Asks `jid` (at `node`, if given) for its items. Same contract as
    /// [`query_info`](Self::query_info), completed by [`Event::Items`].
    ///
    /// A responder with a long list may answer with its first page only, unasked (ejabberd's
    /// MUC service does): the result's `rsm` then holds the responder's `<set/>`, saying the
    /// list goes on. Such an answer is not the whole list;
    /// [`query_item_list`](Self::query_item_list) reads it whole.
    ///
    /// # Errors
    ///
    /// As [`query_info`](Self::query_info).
    pub fn query_items(
        &mut self,
        now: Instant,
        jid: &Jid,
        node: Option<&str>,
        options: QueryOptions,
    ) -> Result<RequestId, InvalidArgument> {
        self.query(now, Ask::Items, jid, node, &options, None)
    }

    /// Asks `jid` (at `node`, if given) for one page of its items (XEP-0059): `page` says which
    /// (`max`, and `after`, `before` or `index`). Completed by [`Event::Items`], whose
    /// `rsm` is the responder's `<set/>` (`first`, `last`, `count`) when it pages. A page is a
    /// snapshot: it is always asked for, never cached, never shared with another query, and
    /// never taken for the whole list.
    ///
    /// # Errors
    ///
    /// As [`query_info`](Self::query_info), and [`InvalidArgument::Text`] if `after` or `before`
    /// holds a character XML cannot carry.
    pub fn query_items_page(
        &mut self,
        now: Instant,
        jid: &Jid,
        node: Option<&str>,
        page: SetQuery,
        options: QueryOptions,
    ) -> Result<RequestId, InvalidArgument> {
        for id in [&page.after, &page.before].into_iter().flatten() {
            text::check(TextField::PageId, id)?;
        }
        self.query(now, Ask::Page, jid, node, &options, Some(Box::new(page)))
    }

    /// Reads the whole item list of `jid` (at `node`, if given), one page after the other
    /// (XEP-0059: [`Config::list_page_size`] items asked for at a time, each page after the
    /// last one's `<last/>`). A `<set/>` goes only to an entity known to support RSM
    /// (XEP-0059 §4: its cached root info lists it, or it answered with a `<set/>` before this
    /// session, see [`Config::rsm_entities_capacity`]); any other is asked plainly first, and
    /// the read pages on only when that answer's `<set/>` says there is more, as a responder
    /// that pages unasked does. Completed once, by [`Event::ItemList`], with every item, each
    /// (JID, node) once, and whether the list is [complete](crate::ItemList::complete) or was cut by a
    /// bound ([`Config::max_list_pages`], [`Config::max_list_items`], or the options'
    /// [`with_max_pages`](QueryOptions::with_max_pages) and
    /// [`with_max_items`](QueryOptions::with_max_items)). The responder's `count` is never
    /// trusted to stop: the list ends at an empty or short page, a page of repeats, or a page
    /// id seen before (the last two are no end the responder said: the list is then not
    /// complete). A responder that does not page answers the whole list at once, and that is
    /// the list.
    ///
    /// An error on any page fails the query (and is not cached). A read list is cached and
    /// shared like any query, under its own key: a single page or a plain `query_items` answer
    /// is never taken for it, nor it for them. Every page is a request in flight until
    /// answered; the query's deadline bounds the whole read.
    ///
    /// # Errors
    ///
    /// As [`query_info`](Self::query_info).
    pub fn query_item_list(
        &mut self,
        now: Instant,
        jid: &Jid,
        node: Option<&str>,
        options: QueryOptions,
    ) -> Result<RequestId, InvalidArgument> {
        self.query(now, Ask::List, jid, node, &options, None)
    }

    fn query(
        &mut self,
        now: Instant,
        kind: Ask,
        jid: &Jid,
        node: Option<&str>,
        options: &QueryOptions,
        page: Option<Box<SetQuery>>,
    ) -> Result<RequestId, InvalidArgument> {
        let from = self.asking_from(options);
        let key = KeyRef {
            from,
            ..key(jid, node)?
        };
        self.id_prefix?;
        Ok(self.requester.query(
            &mut self.out,
            &self.config,
            now,
            Query { kind, key, page },
            options,
        ))
    }

    /// Gives up waiting for query `id`: it completes with [`QueryError::Cancelled`]. Queries
    /// aliased to the same request keep waiting; when none is left the request is abandoned.
    ///
    /// Returns `false` (and does nothing) if `id` has already completed or was never issued.
    pub fn cancel(&mut self, id: RequestId) -> bool {
        // A question under way was asked at an instant, so one is known.
        if let (true, Some(now)) = (self.tree.has(id), self.now) {
            let mut asker = Asker::new(&mut self.requester, &mut self.out, &self.config, now);
            return self.tree.cancel(&mut asker, id);
        }
        let cancelled = self.requester.cancel(&mut self.out, id);
        self.settle();
        cancelled
    }

    /// Stores `info` as the `disco#info` answer of `jid` at `node`, as if it had been received
    /// (aioxmpp's `set_info_cache`). Queries already waiting on a request keep waiting for it;
    /// later queries get `info`. Pass one `Arc` for many JIDs that share an answer (entity
    /// capabilities) and it is stored once.
    ///
    /// # Errors
    ///
    /// [`InvalidArgument`] if `node` is `Some("")` or holds a character XML cannot carry.
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
    /// [`InvalidArgument`] if `node` is `Some("")` or holds a character XML cannot carry.
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
    /// [`InvalidArgument`] if `node` is `Some("")` or holds a character XML cannot carry.
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
        let resolved =
            self.requester
                .resolve_prime(&mut self.out, handle, Ok(Answer::Info(info.into())));
        self.settle();
        resolved
    }

    /// Resolves a pending primed entry with a failure: waiting queries fail with
    /// [`QueryError::PrimeFailed`], and so does every later query for the key until one asks for
    /// a fresh answer. Returns `false` if the handle is stale, as for
    /// [`complete_prime`](Self::complete_prime).
    pub fn fail_prime(&mut self, handle: PrimeHandle, reason: impl Into<Arc<str>>) -> bool {
        let resolved = self.requester.resolve_prime(
            &mut self.out,
            handle,
            Err(QueryError::PrimeFailed(reason.into())),
        );
        self.settle();
        resolved
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
    /// with [`QueryError::Disconnected`], in request order, then every question about a tree
    /// ([`supports`](Self::supports), [`find_services`](Self::find_services),
    /// [`walk`](Self::walk)), in request order; unsent requests are dropped and the cache is
    /// cleared. The machine is then ready for the next stream; [`Stats`] carry on.
    ///
    /// A stream resumed with XEP-0198 needs no call: replies to requests in flight still arrive.
    pub fn stream_destroyed(&mut self) {
        self.requester.reset(&mut self.out);
        self.tree.reset(&mut self.out);
        self.responder.reset();
        self.out.drop_unsent();
    }

    // ---------------------------------------------------------------- responder registry

    /// The root node: what the machine answers for requests without a node.
    pub fn root(&self) -> &StaticNode {
        self.responder.own().root()
    }

    /// Changes the root node, through a guard that settles the edit when it goes (see
    /// [`NodeMut`]). The root starts with the identity `client`/`bot` (see
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
    /// drop(root);
    /// // The edit tells the host once, so that entity capabilities can be recomputed.
    /// assert!(matches!(disco.poll_event(), Some(Event::NodeChanged { node: None, .. })));
    /// assert!(disco.poll_event().is_none());
    /// # Ok::<(), xmpp_disco::RegistryError>(())
    /// ```
    pub fn root_mut(&mut self) -> NodeMut<'_> {
        self.responder.own_mut().root_mut(None, &mut self.out)
    }

    /// The node mounted at `name`, if any.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.responder.own().node(name)
    }

    /// Changes the static node mounted at `name`, through a guard as for
    /// [`root_mut`](Self::root_mut); `None` if there is none (or it is dynamic or deferred, which
    /// the host changes itself).
    pub fn node_mut<'a>(&'a mut self, name: &'a str) -> Option<NodeMut<'a>> {
        self.responder.own_mut().node_mut(None, &mut self.out, name)
    }

    /// Answers requests for node `name` with `node` from now on. Mounting over a name replaces
    /// the node there (as aioxmpp's `mount_node` does) and returns the one replaced. Raises
    /// [`Event::NodeChanged`].
    ///
    /// # Errors
    ///
    /// [`InvalidArgument::EmptyNode`] for an empty name (requests without a node go to the
    /// root), [`InvalidArgument::Text`] for a name XML cannot carry.
    pub fn mount(
        &mut self,
        name: impl Into<String>,
        node: impl Into<Node>,
    ) -> Result<Option<Node>, InvalidArgument> {
        self.responder
            .own_mut()
            .mount(None, &mut self.out, name.into(), node.into())
    }

    /// Stops answering for node `name` (requests for it get `item-not-found`) and returns the
    /// node. Raises [`Event::NodeChanged`]. Deferred requests already handed to the host can
    /// still be answered.
    ///
    /// # Errors
    ///
    /// [`RegistryError::NotMounted`] if nothing is mounted at `name`.
    pub fn unmount(&mut self, name: &str) -> Result<Node, RegistryError> {
        self.responder.own_mut().unmount(None, &mut self.out, name)
    }

    /// Answers for `jid` from `entity` from now on, besides the machine's own address: a
    /// component or service answers for many addresses (a MUC service's rooms, a gateway's
    /// users). Requests addressed to `jid` see this entity's nodes and no other's, and with
    /// [`Config::stamp_from`] their answers come from `jid`. Adding at an address replaces the
    /// entity there and returns it. Raises [`Event::NodeChanged`] with `entity: Some(jid)`.
    ///
    /// Which entity answers a request: the own address when the stanza has no `to`; the entity
    /// registered at `to`; the own address when `to` is [`Config::own_jid`]; the
    /// [resolver](Self::set_resolver). A component ([`Config::stamp_from`]) answers any other
    /// address `item-not-found` (type `cancel`), as a MUC service answers for a room that does
    /// not exist; a client answers it from its own registry (its server delivers only what is
    /// the client's).
    ///
    /// ```
    /// use xmpp_disco::{Config, DiscoMachine, Entity, StaticNode};
    ///
    /// let mut config = Config::default();
    /// config.own_jid = Some("conference.capulet.example".parse().unwrap());
    /// config.stamp_from = true; // a component says which address answers
    /// let mut disco = DiscoMachine::new(config);
    ///
    /// let mut room = StaticNode::new();
    /// room.register_identity("conference", "text", "The balcony")?;
    /// let address = "balcony@conference.capulet.example".parse().unwrap();
    /// assert!(disco.add_entity(address, Entity::new(room)).is_none());
    /// # Ok::<(), xmpp_disco::RegistryError>(())
    /// ```
    pub fn add_entity(&mut self, jid: Jid, entity: Entity) -> Option<Entity> {
        self.responder.add_entity(&mut self.out, jid, entity)
    }

    /// Stops answering for `jid` as a registered entity and returns it; requests to it go to the
    /// resolver, if any, or get `item-not-found`. Raises [`Event::NodeChanged`]. `None` (and no
    /// event) if no entity is registered there.
    pub fn remove_entity(&mut self, jid: &Jid) -> Option<Entity> {
        self.responder.remove_entity(&mut self.out, jid)
    }

    /// The entity registered at `jid`, if any.
    pub fn entity(&self, jid: &Jid) -> Option<&Entity> {
        self.responder.entity(jid)
    }

    /// Changes the entity registered at `jid` (its root and mounted nodes; see [`EntityMut`]).
    pub fn entity_mut<'a>(&'a mut self, jid: &'a Jid) -> Option<EntityMut<'a>> {
        let entity = self.responder.entity_mut(jid)?;
        Some(EntityMut::new(jid, entity, &mut self.out))
    }

    /// Answers for every address that is neither the own one nor a registered entity through
    /// `resolver`, asked per request with the address in [`RequestContext::to`]: ten thousand
    /// rooms need no ten thousand entities, and an address answered this way costs nothing while
    /// no request for it is being answered. Replaces the resolver set before.
    ///
    /// ```
    /// use xmpp_disco::{DiscoMachine, DynamicNode, RequestContext, Resolver};
    /// use xmpp_disco::xmpp_parsers::disco::{DiscoInfoResult, Identity};
    ///
    /// /// Rooms `room0` to `room9999` exist; every other address does not.
    /// struct Rooms;
    ///
    /// impl DynamicNode for Rooms {
    ///     fn info(&self, request: &RequestContext<'_>) -> Option<DiscoInfoResult> {
    ///         let room = request.to?.node()?.as_str().strip_prefix("room")?;
    ///         let number: u32 = room.parse().ok().filter(|n| *n < 10_000)?;
    ///         request.node.is_none().then(|| DiscoInfoResult {
    ///             node: None,
    ///             identities: vec![Identity::new("conference", "text", "en", format!("Room {number}"))],
    ///             features: ["http://jabber.org/protocol/muc".into()].into(),
    ///             extensions: vec![],
    ///         })
    ///     }
    /// }
    ///
    /// let mut disco = DiscoMachine::default();
    /// disco.set_resolver(Resolver::dynamic(Rooms));
    /// ```
    pub fn set_resolver(&mut self, resolver: Resolver) {
        self.responder.set_resolver(Some(resolver));
    }

    /// Stops resolving addresses: only the own address and registered entities are answered.
    pub fn clear_resolver(&mut self) {
        self.responder.set_resolver(None);
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
    /// gone; [`ResponseError::WrongKind`] if it asks for items; [`ResponseError::Text`] if the
    /// answer holds text XML cannot carry. Nothing is sent then, and a request refused for its
    /// kind or text still waits for an answer.
    pub fn respond_info(
        &mut self,
        handle: ResponseHandle,
        info: DiscoInfoResult,
    ) -> Result<(), ResponseError> {
        self.responder.respond(
            &mut self.out,
            &self.config,
            handle,
            DeferredAnswer::Info(info),
        )
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
        self.responder.respond(
            &mut self.out,
            &self.config,
            handle,
            DeferredAnswer::Items(items),
        )
    }

    /// Answers a deferred request with a stanza error.
    ///
    /// # Errors
    ///
    /// [`ResponseError::UnknownHandle`] if the request was answered already or its stream is
    /// gone; [`ResponseError::Text`] if the error's texts or application condition hold text XML
    /// cannot carry (the request still waits then).
    pub fn respond_error(
        &mut self,
        handle: ResponseHandle,
        error: StanzaError,
    ) -> Result<(), ResponseError> {
        self.responder.respond(
            &mut self.out,
            &self.config,
            handle,
            DeferredAnswer::Error(error),
        )
    }

    // ---------------------------------------------------------------- input

    /// Offers a received stanza to the machine. It takes what is its business: replies to its
    /// own requests, and `disco#info` / `disco#items` requests, which it answers (or hands to the
    /// host, for [deferred](Node::Deferred) nodes). Everything else is handed back untouched in
    /// [`Handled::Unhandled`].
    ///
    /// `now` is the current instant, as for every input: a reply may start new deadlines (a
    /// question's next queries, the verification of a capabilities hash moving on to the next
    /// entity claiming it), so ask [`poll_timeout`](Self::poll_timeout) again after it.
    ///
    /// Replies are trusted only from the entity asked (see [`Config::own_jid`] for the server's
    /// exception), with an id the machine issued. A reply carrying such an id but failing those
    /// checks, or arriving late, is consumed without effect and counted in
    /// [`Stats::replies_rejected`]. A request whose `from` (or, for a component, `to`) is not a
    /// JID cannot be answered: it is consumed, nothing is sent, and
    /// [`Stats::requests_dropped`] counts it.
    pub fn handle_stanza(&mut self, now: Instant, stanza: Element) -> Handled<Element> {
        self.route(now, stanza)
    }

    /// [`handle_stanza`](Self::handle_stanza) for a typed [`Iq`], the form tokio-xmpp hands
    /// over. The payload is taken as it is, without converting the stanza back to an element.
    /// (A typed `Iq` does not carry `xml:lang`, so requests taken this way have no language.)
    pub fn handle_iq(&mut self, now: Instant, iq: Iq) -> Handled<Iq> {
        self.route(now, iq)
    }

    /// The one body behind [`handle_stanza`](Self::handle_stanza) and
    /// [`handle_iq`](Self::handle_iq).
    fn route<S: Received>(&mut self, now: Instant, stanza: S) -> Handled<S> {
        // The type alone decides the half; each reads the rest of the envelope itself.
        match stanza.iq_type() {
            None => Handled::Unhandled(stanza),
            Some(type_ @ (IqType::Get | IqType::Set)) => {
                self.responder
                    .handle(&mut self.out, &self.config, stanza, type_)
            }
            Some(type_ @ (IqType::Result | IqType::Error)) => {
                self.now = Some(now);
                let handled =
                    self.requester
                        .handle_reply(&mut self.out, &self.config, now, stanza, type_);
                self.settle();
                handled
            }
        }
    }

    /// Fires every deadline that is due at `now`: the queries concerned complete with
    /// [`QueryError::Timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = Some(now);
        self.requester
            .handle_timeout(&mut self.out, &self.config, now);
        self.settle();
    }

    // ---------------------------------------------------------------- entity capabilities

    /// The `<c/>` elements announcing the machine's capabilities (XEP-0115 and XEP-0390), for
    /// the host to put on every available presence it sends; `None` unless
    /// [`Config::caps_node`] is set (or while the root has no identity).
    ///
    /// Computed from the root's answer once per change of the root, never per call: when
    /// [`Event::NodeChanged`] reports a change of the root (`entity: None, node: None`), the
    /// host asks again and re-sends presence if the announcement changed. The machine answers
    /// `disco#info` at the caps nodes of this announcement and of the three before it, with
    /// the info each was computed from.
    ///
    /// ```
    /// use xmpp_disco::{Config, DiscoMachine};
    ///
    /// let mut config = Config::default();
    /// config.caps_node = Some("https://example.org/balcony".into());
    /// let mut disco = DiscoMachine::new(config);
    /// let caps = disco.caps_announcement().expect("caps are on");
    /// assert_eq!(caps.legacy().node, "https://example.org/balcony");
    /// assert_eq!(caps.elements().len(), 2); // XEP-0115's <c/> and XEP-0390's
    /// ```
    pub fn caps_announcement(&mut self) -> Option<Arc<CapsAnnouncement>> {
        self.responder.caps_announcement()
    }

    /// Shows the machine a received presence, which it reads and never consumes (the host's
    /// other handlers get it as well). An available presence carrying entity capabilities
    /// records what its sender claims: a `query_info` of the sender's root then completes from
    /// the hash cache when the hash is verified, or verifies it with one request shared by
    /// every entity claiming it (see the [crate documentation](crate#entity-capabilities)). A
    /// new hash replaces the sender's cached root info. An unavailable presence forgets the
    /// claim. Presences without `from`, or without capabilities, change nothing.
    pub fn observe_presence(&mut self, now: Instant, presence: &Presence) {
        let Some(from) = &presence.from else {
            return;
        };
        let available = match presence.type_ {
            PresenceType::None => true,
            PresenceType::Unavailable | PresenceType::Error => false,
            _ => return,
        };
        self.observe(now, from, available, &presence.payloads);
    }

    /// [`observe_presence`](Self::observe_presence) for a presence as an element, in any stanza
    /// namespace.
    pub fn observe_presence_element(&mut self, now: Instant, presence: &Element) {
        if presence.name() != "presence" || !read::in_stanza_namespace(presence) {
            return;
        }
        let [from, type_] = read::attributes(presence, ["from", "type"]);
        let Some(from) = from.and_then(|from| Jid::new(from).ok()) else {
            return;
        };
        let available = match type_ {
            None => true,
            Some("unavailable" | "error") => false,
            Some(_) => return,
        };
        self.observe(now, &from, available, presence.children());
    }

    /// Shows the machine the children of the server's `<stream:features/>` (`features.children()`
    /// of the element, or the `others` of xmpp-parsers' `StreamFeatures`), with the server's
    /// JID (the `from` of its stream header): a server announcing its capabilities there
    /// (XEP-0115 §6.3) is then known like a contact from its presence, and a `query_info` of
    /// `server` costs no request once its hash is verified.
    pub fn observe_stream_features<'a>(
        &mut self,
        now: Instant,
        server: &Jid,
        features: impl IntoIterator<Item = &'a Element>,
    ) {
        self.observe(now, server, true, features);
    }

    fn observe<'a>(
        &mut self,
        now: Instant,
        from: &Jid,
        available: bool,
        children: impl IntoIterator<Item = &'a Element>,
    ) {
        if !available {
            self.requester.forget_claim(from);
            return;
        }
        let Some(claim) = self.requester.observe_claim(from, children) else {
            return;
        };
        if self.config.caps_eager && self.requester.claim_unresolved(&claim) {
            // The machine's own query: its completion goes to nobody.
            self.now = Some(now);
            let id = self.requester.new_own_id();
            let query = Query {
                kind: Ask::Info,
                key: KeyRef {
                    jid: from,
                    node: None,
                    from: None,
                },
                page: None,
            };
            let options = QueryOptions::default();
            self.requester
                .query_as(&mut self.out, &self.config, now, id, query, &options);
            self.settle();
        }
    }

    /// Every verified answer of the entity capabilities hash cache, for the host to keep
    /// across runs (the usual cure for the disco flood at login): each a `disco#info`
    /// `<query/>` whose `node` names its hash (XEP-0390's hash node, or for XEP-0115
    /// `http://jabber.org/protocol/caps#sha-1.VER`). Least recently used first.
    pub fn export_caps(&self) -> Vec<Element> {
        self.requester
            .export_caps()
            .into_iter()
            .map(|(hash, info)| payload::typed_info(Some(&hash.stored_node()), &info))
            .collect()
    }

    /// Loads answers kept by [`export_caps`](Self::export_caps) into the hash cache. Each is
    /// verified again against the hash its `node` names, on the element itself, as an answer
    /// from the network would be: a tampered or corrupted store cannot poison the cache, and
    /// an answer the machine would not share (see [`Ambiguity`](crate::caps::Ambiguity)) is not
    /// loaded either. Returns how many were taken; the others are skipped.
    pub fn import_caps(&mut self, entries: impl IntoIterator<Item = Element>) -> usize {
        let mut imported = 0;
        for entry in entries {
            let node = entry.attr("node").map(str::to_owned);
            if let Some(hash) = node.as_deref().and_then(HashKey::from_stored_node) {
                imported += usize::from(self.import_verified(hash, node.as_deref(), entry));
            }
        }
        imported
    }

    /// The verified answers of the hash cache as capsdb entries (see
    /// [`caps::to_json`](crate::caps::to_json) for the file), least recently used first.
    ///
    /// ```
    /// use xmpp_disco::{caps, DiscoMachine};
    ///
    /// let disco = DiscoMachine::default();
    /// let file = caps::to_json(&disco.export_capsdb());
    /// let mut next = DiscoMachine::default();
    /// assert_eq!(next.import_capsdb(caps::from_json(&file)?), 0); // nothing verified yet
    /// # Ok::<(), caps::CapsDbError>(())
    /// ```
    #[cfg(feature = "serde")]
    pub fn export_capsdb(&self) -> Vec<crate::caps::CapsDbEntry> {
        self.requester
            .export_caps()
            .into_iter()
            .map(|(hash, info)| crate::caps::CapsDbEntry::new(hash, &info))
            .collect()
    }

    /// Loads capsdb entries (a shipped file of known hashes, or one
    /// [`export_capsdb`](Self::export_capsdb) wrote) into the hash cache, each verified against
    /// the hash it names exactly as [`import_caps`](Self::import_caps) verifies. Returns how
    /// many were taken; entries of hash functions the machine does not compute, or that do not
    /// verify, are skipped.
    #[cfg(feature = "serde")]
    pub fn import_capsdb(
        &mut self,
        entries: impl IntoIterator<Item = crate::caps::CapsDbEntry>,
    ) -> usize {
        entries
            .into_iter()
            .filter(|entry| {
                entry
                    .key()
                    .is_some_and(|hash| self.import_verified(hash, None, entry.to_query()))
            })
            .count()
    }

    /// Stores the answer `query` (at `node`) under `hash` if it may stand for it, as a received
    /// one would.
    fn import_verified(&mut self, hash: HashKey, node: Option<&str>, query: Element) -> bool {
        let shared =
            CapsInfo::from_query(&query).is_ok_and(|info| hash.judge(&info) == Verdict::Shared);
        if !shared {
            return false;
        }
        let Ok(Answer::Info(mut info)) = read::parse_answer(QueryKind::Info, query, node) else {
            return false;
        };
        Arc::make_mut(&mut info).node = None;
        self.requester.import_caps(hash, info);
        true
    }

    // ---------------------------------------------------------------- questions about trees

    /// Whether `jid` (at `node`, if given) advertises `feature`: one command, one completion
    /// ([`Event::Supports`]) with the answer and the info it was read from. The info comes from
    /// the cache when it is there, or from one query that other queries of the same key share.
    ///
    /// # Errors
    ///
    /// As [`query_info`](Self::query_info).
    pub fn supports(
        &mut self,
        now: Instant,
        jid: &Jid,
        node: Option<&str>,
        feature: &str,
        options: QueryOptions,
    ) -> Result<RequestId, InvalidArgument> {
        self.ask_question(now, jid, node, options, |options, deadline, _| {
            Question::Support(SupportQuestion::new(jid, node, feature, options, deadline))
        })
    }

    /// Which services of `jid` (at `node`, if given; a server, usually) match `filter`: its
    /// whole item list ([`query_item_list`](Self::query_item_list)), then the info of `jid`
    /// itself and of each item, at most [`Config::tree_concurrency`] queries at once, every one
    /// through the cache. One command, one completion ([`Event::Services`]): the matches, and
    /// apart, each item whose info could not be read, with why; only a failure of the item list
    /// fails the search. The options' deadline bounds the whole search; each query has
    /// [`Config::default_timeout`] or what is left of it, whichever ends first, so one silent
    /// item costs a query's timeout. `fresh` asks every query anew, `from` asks from that
    /// address.
    ///
    /// # Errors
    ///
    /// As [`query_info`](Self::query_info).
    pub fn find_services(
        &mut self,
        now: Instant,
        jid: &Jid,
        node: Option<&str>,
        filter: ServiceFilter,
        options: QueryOptions,
    ) -> Result<RequestId, InvalidArgument> {
        self.ask_question(now, jid, node, options, |options, deadline, limit| {
            let search = ServicesQuestion::new(jid, node, filter, limit, options, deadline);
            Question::Services(search)
        })
    }

    /// The tree under `jid` (at `node`, if given), breadth first: each entity's info and whole
    /// item list, its items visited in turn down to `max_depth` levels below the start and up
    /// to `max_entities` entities, each (JID, node) once (items pointing back are not followed
    /// again). One command, one completion ([`Event::Walk`]) with every entity visited, its info
    /// and items or their errors. Bounds and options as for
    /// [`find_services`](Self::find_services). No list is read past `max_entities` items (no
    /// list could bring the walk more entities than that): a longer one is reported as read so
    /// far, with `complete: false`.
    ///
    /// # Errors
    ///
    /// As [`query_info`](Self::query_info).
    pub fn walk(
        &mut self,
        now: Instant,
        jid: &Jid,
        node: Option<&str>,
        max_depth: usize,
        max_entities: usize,
        options: QueryOptions,
    ) -> Result<RequestId, InvalidArgument> {
        let most = options
            .max_items
            .unwrap_or(self.config.max_list_items)
            .min(max_entities.max(1));
        let options = options.with_max_items(most);
        self.ask_question(now, jid, node, options, |options, deadline, limit| {
            let walk =
                WalkQuestion::new(jid, node, max_depth, max_entities, limit, options, deadline);
            Question::Walk(walk)
        })
    }

    /// Starts the question `build` makes, once `jid` and `node` are known to be askable, from
    /// the options, the question's deadline and the bound on its queries in flight.
    fn ask_question(
        &mut self,
        now: Instant,
        jid: &Jid,
        node: Option<&str>,
        mut options: QueryOptions,
        build: impl FnOnce(QueryOptions, Option<Instant>, usize) -> Question,
    ) -> Result<RequestId, InvalidArgument> {
        key(jid, node)?;
        if self.asking_from(&options).is_none() {
            options.from = None;
        }
        self.id_prefix?;
        let deadline = options.deadline(self.config.default_timeout, now);
        let question = build(options, deadline, self.config.tree_concurrency);
        self.now = Some(now);
        let id = self.requester.new_id();
        let mut asker = Asker::new(&mut self.requester, &mut self.out, &self.config, now);
        self.tree.start(&mut asker, id, question);
        self.settle();
        Ok(id)
    }

    /// The address a query with `options` asks from, if it is another than the own: asking
    /// from the own address is asking without one (one key, one cache entry, the caps path).
    fn asking_from<'a>(&self, options: &'a QueryOptions) -> Option<&'a Jid> {
        options
            .from
            .as_ref()
            .filter(|from| self.config.own_jid.as_ref() != Some(*from))
    }

    /// How many of the machine's own queries (asked by questions about trees, or verifying a
    /// new capabilities hash with [`Config::caps_eager`]) have not completed yet: zero once
    /// each has (a query completing twice would reach the host instead). For the model tests'
    /// exactly-once check of those queries.
    #[doc(hidden)]
    pub fn question_queries_pending(&self) -> usize {
        self.requester.own_pending()
    }

    /// Hands the questions the completions of their queries (see [`Tree::settle`]).
    fn settle(&mut self) {
        // No instant yet: no question was ever asked.
        let Some(now) = self.now else {
            return;
        };
        let mut asker = Asker::new(&mut self.requester, &mut self.out, &self.config, now);
        self.tree.settle(&mut asker);
    }

    // ---------------------------------------------------------------- output

    /// The next stanza to send; the host takes it as an element, a typed IQ or bytes (see
    /// [`Transmit`]).
    #[must_use = "a transmit is a stanza the machine wants sent"]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let mut stanza = self.out.next_transmit()?;
        if let Outgoing::Query(query) = &mut stanza {
            if query.from.is_none() {
                query.from.clone_from(&self.stamp);
            }
        }
        Some(Transmit::new(self.config.stanza_namespace, stanza))
    }

    /// The next event: a completion, a request for primed data, a change, a deferred request.
    #[must_use = "events complete the host's queries"]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.next_event()
    }

    /// When the machine next needs [`handle_timeout`](Self::handle_timeout), or `None` while no
    /// query has a deadline.
    #[must_use = "the machine must be woken then"]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.requester.next_deadline()
    }
}

/// The `from` a component stamps on its requests ([`Config::stamp_from`]).
fn stamp(config: &Config) -> Option<Arc<Jid>> {
    config
        .own_jid
        .clone()
        .filter(|_| config.stamp_from)
        .map(Arc::new)
}

/// Validates a (JID, node) pair into a cache key.
fn key<'a>(jid: &'a Jid, node: Option<&'a str>) -> Result<KeyRef<'a>, InvalidArgument> {
    node.map_or(Ok(()), text::check_node)?;
    Ok(KeyRef {
        jid,
        node,
        from: None,
    })
}
