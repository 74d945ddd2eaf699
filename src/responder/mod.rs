//! The responder half: answers incoming `disco#info` / `disco#items` requests for the entities
//! it serves (the machine's own address, registered entities, the resolver's addresses), each a
//! registry of nodes (the root and nodes mounted under a name).
//!
//! A request's path, top to bottom in [`Responder::handle`]: its envelope is read (a request
//! that cannot be addressed is dropped), a `set` or a malformed query is refused
//! ([`refusal`]), the [policy](Policy) speaks, the own caps nodes answer ([`caps`]), and
//! otherwise [`addresses`] finds who answers: a static node (its built answer, or a page of its
//! items: [`page`]), a dynamic node (what it says, checked: [`body`]), or a deferred node (the
//! host is asked, and answers later through [`deferred`]). The registry itself is
//! [`node`] (static nodes), [`mount`] (nodes under a name, and the edit guard), [`dynamic`]
//! and [`entity`].
//!
//! Static nodes keep their built answer until they change, so answering the same node again
//! costs one clone of the payload and an envelope. Dynamic nodes are asked per request;
//! deferred ones hand the request to the host and wait for its answer.

mod addresses;
mod body;
mod caps;
mod deferred;
mod dynamic;
mod entity;
mod mount;
mod node;
mod page;
mod refusal;

use std::fmt;
use std::sync::Arc;

use xmpp_parsers::jid::Jid;
use xmpp_parsers::rsm::SetQuery;

use crate::caps::CapsAnnouncement;
use crate::config::Config;
use crate::error::{ResponseError, TextField};
use crate::event::{Event, ReceivedRequest};
use crate::ids::ResponseHandle;
use crate::outbox::Outbox;
use crate::query::QueryKind;
use crate::read::{self, DiscoRequest, Handled, IqType, Received};
use crate::text;
use crate::write::prepared::Prepared;
use crate::write::{Outgoing, OutgoingResponse, ResponseBody};

pub use dynamic::{DynamicNode, ItemsPage, RequestContext};
pub use entity::{Entity, EntityMut, Resolver};
pub use mount::{Node, NodeMut};
pub use node::{IdentityNames, StaticNode};

use addresses::{answering_address, Addresses};
use body::{check_stanza_error, found, static_items, typed_info, typed_items, typed_page};
use caps::Announcer;
pub(crate) use deferred::DeferredAnswer;
use deferred::{Deferred, Pending};
use entity::Answerer;
use refusal::{
    bad_request, internal_server_error, item_not_found, resource_constraint, service_unavailable,
};

/// Decides per request whether to answer at all (XEP-0030 §8, security considerations).
pub(crate) type Policy = Box<dyn Fn(&RequestContext<'_>) -> bool + Send>;

/// An incoming disco request, read from its stanza.
struct IncomingRequest<'a> {
    set: bool,
    id: &'a str,
    /// The requester; `None`: the own server, on behalf of the account.
    from: Option<Jid>,
    /// The address asked; `None` when the stanza had no `to`.
    to: Option<Jid>,
    request: DiscoRequest<'a>,
    lang: Option<&'a str>,
}

impl IncomingRequest<'_> {
    /// The request as the host sees it in an event.
    fn received(&self) -> ReceivedRequest {
        ReceivedRequest {
            kind: self.request.kind,
            from: self.from.clone(),
            to: self.to.clone(),
            node: self.request.node.map(str::to_owned),
            lang: self.lang.map(str::to_owned),
        }
    }
}

pub(crate) struct Responder {
    addresses: Addresses,
    policy: Option<Policy>,
    deferred: Deferred,
    /// The own entity capabilities, when [`Config::caps_node`] turns them on.
    caps: Option<Announcer>,
    /// The features the own root keeps while its capabilities are announced.
    required: &'static [&'static str],
}

impl fmt::Debug for Responder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Responder")
            .field("addresses", &self.addresses)
            .field("policy", &self.policy.is_some())
            .field("deferred", &self.deferred.len())
            .finish_non_exhaustive()
    }
}

impl Responder {
    pub(crate) fn new(config: &Config) -> Self {
        const CAPS_FEATURES: &[&str] = &[xmpp_parsers::ns::CAPS, xmpp_parsers::ns::ECAPS2];
        let mut root = StaticNode::default_root();
        let required = match (&config.caps_node, config.caps_algorithms.is_empty()) {
            (None, _) => &[],
            (Some(_), true) => &CAPS_FEATURES[..1],
            (Some(_), false) => CAPS_FEATURES,
        };
        for feature in required {
            // Constants: registering them cannot fail.
            let _ = root.register_feature(*feature);
        }
        let caps = config
            .caps_node
            .as_ref()
            .map(|node| Announcer::new(node.clone(), config.caps_algorithms.clone()));
        Responder {
            addresses: Addresses::new(Entity::new(root)),
            policy: None,
            deferred: Deferred::default(),
            caps,
            required,
        }
    }

    /// The edit guard of the own root, which keeps the caps features while they are announced.
    pub(crate) fn own_root_mut<'a>(&'a mut self, out: &'a mut Outbox) -> NodeMut<'a> {
        self.addresses
            .own
            .root_mut(None, out)
            .requiring(self.required)
    }

    /// The own capabilities as they go on presence, if they are on and the root has an
    /// identity.
    pub(crate) fn caps_announcement(&mut self) -> Option<Arc<CapsAnnouncement>> {
        let announcer = self.caps.as_mut()?;
        let (root, built) = self.addresses.own.root_info();
        announcer.current(root, built)
    }

    /// The answer at caps node `node` of the own address, if it names a hash set answered.
    fn caps_answer(&mut self, node: &str) -> Option<Arc<Prepared>> {
        let announcer = self.caps.as_mut()?;
        let (root, built) = self.addresses.own.root_info();
        announcer.answer(node, root, built)
    }

    /// The machine's own address.
    pub(crate) fn own(&self) -> &Entity {
        &self.addresses.own
    }

    pub(crate) fn own_mut(&mut self) -> &mut Entity {
        &mut self.addresses.own
    }

    pub(crate) fn entity(&self, jid: &Jid) -> Option<&Entity> {
        self.addresses.entities.get(jid)
    }

    pub(crate) fn entity_mut(&mut self, jid: &Jid) -> Option<&mut Entity> {
        self.addresses.entities.get_mut(jid)
    }

    pub(crate) fn add_entity(
        &mut self,
        out: &mut Outbox,
        jid: Jid,
        entity: Entity,
    ) -> Option<Entity> {
        let previous = self.addresses.entities.insert(jid.clone(), entity);
        out.report(Event::NodeChanged {
            entity: Some(jid),
            node: None,
        });
        previous
    }

    pub(crate) fn remove_entity(&mut self, out: &mut Outbox, jid: &Jid) -> Option<Entity> {
        let entity = self.addresses.entities.remove(jid)?;
        out.report(Event::NodeChanged {
            entity: Some(jid.clone()),
            node: None,
        });
        Some(entity)
    }

    pub(crate) fn set_resolver(&mut self, resolver: Option<Resolver>) {
        self.addresses.resolver = resolver;
    }

    pub(crate) fn set_policy(&mut self, policy: Option<Policy>) {
        self.policy = policy;
    }

    /// Takes a received request (a `get` or `set`: `type_`, as the machine read it) if it
    /// carries a disco query, and answers it (or hands it to the host, for deferred nodes).
    pub(crate) fn handle<S: Received>(
        &mut self,
        out: &mut Outbox,
        config: &Config,
        stanza: S,
        type_: IqType,
    ) -> Handled<S> {
        let (Some(head), Some(request)) = (stanza.envelope(type_), stanza.disco_request()) else {
            return Handled::Unhandled(stanza);
        };
        // Every address is a JID from here on, so that no form of the answer can lose one, and
        // so that the entity asked is known. A request that cannot be addressed (or whose id a
        // host-built stanza filled with what XML cannot carry) cannot be answered at all.
        let (Ok(from), Ok(to), Ok(())) = (
            stanza.sender(),
            stanza.addressee(),
            text::check(TextField::IqId, head.id),
        ) else {
            log::debug!(
                "a disco request (id {:?}) whose from, to or id cannot be answered: dropped",
                head.id
            );
            out.stats.requests_dropped += 1;
            return Handled::Consumed;
        };
        let incoming = IncomingRequest {
            set: head.type_ == IqType::Set,
            id: head.id,
            from,
            to,
            request,
            lang: stanza.lang(),
        };
        if let Some(body) = self.answer(out, config, &incoming) {
            // The address asked moves into the answer: no copy of it on the usual path.
            let reply_from = answering_address(config, incoming.to);
            self.send(out, incoming.from, reply_from, incoming.id.to_owned(), body);
        }
        Handled::Consumed
    }

    /// The answer to `incoming`, or `None` when it was handed to the host.
    fn answer(
        &mut self,
        out: &mut Outbox,
        config: &Config,
        incoming: &IncomingRequest<'_>,
    ) -> Option<ResponseBody> {
        let request = incoming.request;
        let refused = |why: &str, body: ResponseBody| {
            log::debug!(
                "refused a {:?} request from {:?} (node {:?}): {why}",
                request.kind,
                incoming.from,
                request.node
            );
            Some(body)
        };
        if incoming.set {
            return refused("a set", service_unavailable());
        }
        let Ok(page) = request.page.map(read::parse_page).transpose() else {
            return refused("an unreadable result set", bad_request());
        };
        if !request.well_formed {
            return refused("a malformed query", bad_request());
        }
        let limit = config.max_items_per_answer;
        let context = RequestContext {
            from: incoming.from.as_ref(),
            to: incoming.to.as_ref(),
            kind: request.kind,
            node: request.node,
            lang: incoming.lang,
        };
        // The policy speaks before the lookup, so that a refused requester learns nothing about
        // which entities and nodes exist.
        if self.policy.as_ref().is_some_and(|policy| !policy(&context)) {
            return refused("the policy", service_unavailable());
        }
        // The caps nodes of the own address are answered besides its mounted nodes.
        if let (QueryKind::Info, Some(node)) = (request.kind, request.node) {
            if self.addresses.is_own(config, context.to) {
                if let Some(answer) = self.caps_answer(node) {
                    return Some(ResponseBody::Result(answer));
                }
            }
        }
        Some(
            match self.addresses.answerer(config, context.to, request.node) {
                Answerer::Missing => return refused("no such address or node", item_not_found()),
                Answerer::Static(node, cache) => match request.kind {
                    QueryKind::Info => cache
                        .info(request.node, node)
                        .map_or_else(item_not_found, |payload| {
                            ResponseBody::Result(Arc::clone(payload))
                        }),
                    QueryKind::Items => {
                        static_items(request.node, node, cache, page.as_ref(), limit)
                    }
                },
                Answerer::Dynamic(dynamic) => {
                    let answer = match request.kind {
                        QueryKind::Info => typed_info(request.node, dynamic.info(&context)),
                        QueryKind::Items => match &page {
                            Some(page) => typed_page(
                                request.node,
                                dynamic.items_page(&context, page),
                                page,
                                limit,
                            ),
                            None => typed_items(request.node, dynamic.items(&context), None, limit),
                        },
                    };
                    match answer {
                        Ok(payload) => found(payload),
                        Err(error) => {
                            log::debug!("a dynamic node answered what XML cannot carry: {error}");
                            out.stats.invalid_answers += 1;
                            out.report(Event::InvalidAnswer {
                                request: Box::new(incoming.received()),
                                error,
                            });
                            internal_server_error()
                        }
                    }
                }
                Answerer::Deferred => {
                    if self.deferred.len() >= config.max_deferred {
                        return refused("deferred requests at their limit", resource_constraint());
                    }
                    self.defer(out, config, incoming, page);
                    return None;
                }
            },
        )
    }

    /// Hands a request for a deferred node to the host.
    fn defer(
        &mut self,
        out: &mut Outbox,
        config: &Config,
        incoming: &IncomingRequest<'_>,
        page: Option<SetQuery>,
    ) {
        let handle = self.deferred.insert(Pending {
            kind: incoming.request.kind,
            node: incoming.request.node.map(str::to_owned),
            page,
            reply_to: incoming.from.clone(),
            reply_from: answering_address(config, incoming.to.clone()),
            id: incoming.id.to_owned(),
        });
        out.report(Event::DeferredRequest {
            handle,
            request: Box::new(incoming.received()),
        });
    }

    /// Sends the host's answer to a deferred request.
    pub(crate) fn respond(
        &mut self,
        out: &mut Outbox,
        config: &Config,
        handle: ResponseHandle,
        answer: DeferredAnswer,
    ) -> Result<(), ResponseError> {
        let pending = self
            .deferred
            .get(handle)
            .ok_or(ResponseError::UnknownHandle(handle))?;
        let node = pending.node.as_deref();
        let invalid = |error| ResponseError::Text { handle, error };
        let answer = match (pending.kind, answer) {
            (_, DeferredAnswer::Error(error)) => {
                check_stanza_error(&error).map_err(invalid)?;
                Err(error)
            }
            (QueryKind::Info, DeferredAnswer::Info(info)) => {
                Ok(typed_info(node, Some(info)).map_err(invalid)?)
            }
            (QueryKind::Items, DeferredAnswer::Items(items)) => {
                let (page, limit) = (pending.page.as_ref(), config.max_items_per_answer);
                Ok(typed_items(node, Some(items), page, limit).map_err(invalid)?)
            }
            (expected, _) => return Err(ResponseError::WrongKind { handle, expected }),
        };
        let body = match answer {
            Ok(payload) => found(payload),
            Err(error) => ResponseBody::Error(Box::new(error)),
        };
        let pending = self
            .deferred
            .remove(handle)
            .ok_or(ResponseError::UnknownHandle(handle))?;
        self.send(out, pending.reply_to, pending.reply_from, pending.id, body);
        Ok(())
    }

    /// The stream is gone: deferred requests can no longer be answered.
    pub(crate) fn reset(&mut self) {
        self.deferred.clear();
    }

    fn send(
        &mut self,
        out: &mut Outbox,
        to: Option<Jid>,
        from: Option<Jid>,
        id: String,
        body: ResponseBody,
    ) {
        match body {
            ResponseBody::Result(_) => out.stats.requests_answered += 1,
            ResponseBody::Error(_) => out.stats.requests_refused += 1,
        }
        out.send(Outgoing::Response(OutgoingResponse { to, from, id, body }));
    }
}
