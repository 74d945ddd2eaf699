//! The responder half: answers incoming `disco#info` / `disco#items` requests for the entities
//! it serves (the machine's own address, registered entities, the resolver's addresses), each a
//! registry of nodes (the root and nodes mounted under a name).
//!
//! Static nodes keep their built answer until they change, so answering the same node again
//! costs one clone of the payload and an envelope. Dynamic nodes are asked per request;
//! deferred ones hand the request to the host and wait for its answer.

mod caps;
mod dynamic;
mod entity;
mod mount;
mod node;
mod page;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use xmpp_parsers::disco::{DiscoInfoResult, Item};
use xmpp_parsers::jid::Jid;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::rsm::SetQuery;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

use crate::caps::CapsAnnouncement;
use crate::config::Config;
use crate::error::{InvalidText, ResponseError, TextField};
use crate::event::Event;
use crate::ids::ResponseHandle;
use crate::outbox::Outbox;
use crate::query::QueryKind;
use crate::read::{self, DiscoRequest, Handled, IqType, Received};
use crate::text;
use crate::write::payload;
use crate::write::prepared::Prepared;
use crate::write::{Outgoing, OutgoingResponse, ResponseBody};

pub use dynamic::{DynamicNode, ItemsPage, RequestContext};
pub use entity::{Entity, EntityMut, Resolver};
use mount::AnswerCache;
pub use mount::{Node, NodeMut};
pub use node::{IdentityNames, StaticNode};

use caps::Announcer;
use entity::Answerer;

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

/// A deferred request waiting for the host's answer.
struct Pending {
    kind: QueryKind,
    node: Option<String>,
    /// The page asked for, which the machine takes out of the host's list.
    page: Option<SetQuery>,
    reply_to: Option<Jid>,
    reply_from: Option<Jid>,
    id: String,
}

/// The host's answer to a deferred request.
pub(crate) enum DeferredAnswer {
    Info(DiscoInfoResult),
    Items(Vec<Item>),
    Error(StanzaError),
}

pub(crate) struct Responder {
    /// The machine's own address.
    own: Entity,
    /// Other addresses, registered one by one.
    entities: HashMap<Jid, Entity>,
    /// Addresses served without registering each.
    resolver: Option<Resolver>,
    policy: Option<Policy>,
    deferred: HashMap<u64, Pending>,
    next_deferred: u64,
    /// The own entity capabilities, when [`Config::caps_node`] turns them on.
    caps: Option<Announcer>,
}

impl fmt::Debug for Responder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Responder")
            .field("own", &self.own)
            .field("entities", &self.entities.len())
            .field("resolver", &self.resolver)
            .field("policy", &self.policy.is_some())
            .field("deferred", &self.deferred.len())
            .finish_non_exhaustive()
    }
}

fn stanza_error(type_: ErrorType, condition: DefinedCondition) -> ResponseBody {
    ResponseBody::Error(Box::new(StanzaError {
        type_,
        by: None,
        defined_condition: condition,
        texts: Default::default(),
        other: None,
    }))
}

/// `item-not-found`, type `cancel`: no such node, or a node with nothing to say to this requester.
fn item_not_found() -> ResponseBody {
    stanza_error(ErrorType::Cancel, DefinedCondition::ItemNotFound)
}

/// `service-unavailable`, type `cancel`: a `set`, or a requester the policy refuses.
fn service_unavailable() -> ResponseBody {
    stanza_error(ErrorType::Cancel, DefinedCondition::ServiceUnavailable)
}

/// `bad-request`, type `modify`: a query no answer can be given to.
fn bad_request() -> ResponseBody {
    stanza_error(ErrorType::Modify, DefinedCondition::BadRequest)
}

/// `resource-constraint`, type `wait`: too many deferred requests are waiting for the host.
fn resource_constraint() -> ResponseBody {
    stanza_error(ErrorType::Wait, DefinedCondition::ResourceConstraint)
}

/// `internal-server-error`, type `cancel` (RFC 6120 §8.3.3.6): the host's dynamic node answered
/// what XML cannot carry.
fn internal_server_error() -> ResponseBody {
    stanza_error(ErrorType::Cancel, DefinedCondition::InternalServerError)
}

/// The `from` of an answer to a request sent to `to`: the address asked, when the machine
/// stamps its stanzas ([`Config::stamp_from`]); the server stamps a client's.
fn answering_address(config: &Config, to: Option<Jid>) -> Option<Jid> {
    if config.stamp_from {
        to.or_else(|| config.own_jid.clone())
    } else {
        None
    }
}

/// An answer a dynamic node or the host gave: a payload, `None` for "no such node", or text
/// XML cannot carry.
type HostAnswer = Result<Option<Element>, InvalidText>;

/// The payload of what a dynamic node or the host said: `None` or an identity-less info is
/// "no such node".
fn typed_info(node: Option<&str>, info: Option<DiscoInfoResult>) -> HostAnswer {
    match info {
        Some(info) if !info.identities.is_empty() => checked(payload::typed_info(node, &info)),
        _ => Ok(None),
    }
}

/// The payload of the items a dynamic node or the host gave, or of the page asked for out of
/// them, each page holding at most `limit` items; an unknown page id is "no such node".
fn typed_items(
    node: Option<&str>,
    items: Option<Vec<Item>>,
    page: Option<&SetQuery>,
    limit: Option<usize>,
) -> HostAnswer {
    let Some(items) = items else {
        return Ok(None);
    };
    match page::select(&items, page, limit) {
        Ok(None) => checked(payload::items(node, &items)),
        Ok(Some(page)) => {
            let listed = items.get(page.range).unwrap_or_default();
            checked(payload::page(node, listed, &page.set))
        }
        Err(page::UnknownId) => Ok(None),
    }
}

/// The items payload a dynamic node's answer to a page request makes.
fn typed_page(
    node: Option<&str>,
    answer: Option<ItemsPage>,
    page: &SetQuery,
    limit: Option<usize>,
) -> HostAnswer {
    match answer {
        Some(ItemsPage::Page(items, set)) => checked(payload::page(node, &items, &set)),
        Some(ItemsPage::Whole(items)) => typed_items(node, Some(items), Some(page), limit),
        None => Ok(None),
    }
}

/// The items answer of a static node: its built answer when the whole list is asked for and
/// fits, otherwise the page, built from the items it holds (no copy of the rest).
fn static_items(
    name: Option<&str>,
    node: &StaticNode,
    cache: &mut AnswerCache,
    page: Option<&SetQuery>,
    limit: Option<usize>,
) -> ResponseBody {
    match page::select(node.items(), page, limit) {
        Ok(None) => ResponseBody::Result(Arc::clone(cache.items(name, node))),
        Ok(Some(page)) => {
            let items = node.items().get(page.range).unwrap_or_default();
            ResponseBody::Result(Prepared::new(payload::page(name, items, &page.set)))
        }
        Err(page::UnknownId) => item_not_found(),
    }
}

/// The answer a host's payload makes: a result, or `item-not-found` for "no such node".
fn found(payload: Option<Element>) -> ResponseBody {
    payload.map_or_else(item_not_found, |payload| {
        ResponseBody::Result(Prepared::new(payload))
    })
}

/// The payload, once every text in it is known to be writable.
fn checked(payload: Element) -> HostAnswer {
    text::check_element(TextField::Answer, &payload)?;
    Ok(Some(payload))
}

/// Whether XML can carry a stanza error the host chose: its condition (`gone` and `redirect`
/// carry an address as text), its texts and its application condition.
fn check_stanza_error(error: &StanzaError) -> Result<(), InvalidText> {
    let condition = Element::from(error.defined_condition.clone());
    text::check_element(TextField::ErrorCondition, &condition)?;
    for (lang, message) in &error.texts {
        text::check(TextField::ErrorLang, lang)?;
        text::check(TextField::ErrorText, message)?;
    }
    error.other.as_ref().map_or(Ok(()), |other| {
        text::check_element(TextField::ErrorCondition, other)
    })
}

impl Responder {
    pub(crate) fn new(config: &Config) -> Self {
        let mut root = StaticNode::default_root();
        let caps = config.caps_node.as_ref().map(|node| {
            const CAPS_FEATURES: &[&str] = &[xmpp_parsers::ns::CAPS, xmpp_parsers::ns::ECAPS2];
            let required = if config.caps_algorithms.is_empty() {
                &CAPS_FEATURES[..1]
            } else {
                CAPS_FEATURES
            };
            for feature in required {
                // Constants: registering them cannot fail.
                let _ = root.register_feature(*feature);
            }
            root.required = required;
            Announcer::new(node.clone(), config.caps_algorithms.clone())
        });
        Responder {
            own: Entity::new(root),
            entities: HashMap::new(),
            resolver: None,
            policy: None,
            deferred: HashMap::new(),
            next_deferred: 0,
            caps,
        }
    }

    /// The own capabilities as they go on presence, if they are on and the root has an
    /// identity.
    pub(crate) fn caps_announcement(&mut self) -> Option<Arc<CapsAnnouncement>> {
        let announcer = self.caps.as_mut()?;
        let (root, built) = self.own.root_info();
        announcer.current(root, built)
    }

    /// The answer at caps node `node` of the own address, if it names a hash set answered.
    fn caps_answer(&mut self, node: &str) -> Option<Arc<Prepared>> {
        let announcer = self.caps.as_mut()?;
        let (root, built) = self.own.root_info();
        announcer.answer(node, root, built)
    }

    /// Whether the own address answers a request to `to` (see [`answerer`](Self::answerer)).
    fn is_own(&self, config: &Config, to: Option<&Jid>) -> bool {
        let Some(to) = to else {
            return true;
        };
        !self.entities.contains_key(to)
            && (config.own_jid.as_ref() == Some(to)
                || (self.resolver.is_none() && !config.stamp_from))
    }

    /// The machine's own address.
    pub(crate) fn own(&self) -> &Entity {
        &self.own
    }

    pub(crate) fn own_mut(&mut self) -> &mut Entity {
        &mut self.own
    }

    pub(crate) fn entity(&self, jid: &Jid) -> Option<&Entity> {
        self.entities.get(jid)
    }

    pub(crate) fn entity_mut(&mut self, jid: &Jid) -> Option<&mut Entity> {
        self.entities.get_mut(jid)
    }

    pub(crate) fn add_entity(
        &mut self,
        out: &mut Outbox,
        jid: Jid,
        entity: Entity,
    ) -> Option<Entity> {
        let previous = self.entities.insert(jid.clone(), entity);
        out.report(Event::NodeChanged {
            entity: Some(jid),
            node: None,
        });
        previous
    }

    pub(crate) fn remove_entity(&mut self, out: &mut Outbox, jid: &Jid) -> Option<Entity> {
        let entity = self.entities.remove(jid)?;
        out.report(Event::NodeChanged {
            entity: Some(jid.clone()),
            node: None,
        });
        Some(entity)
    }

    pub(crate) fn set_resolver(&mut self, resolver: Option<Resolver>) {
        self.resolver = resolver;
    }

    pub(crate) fn set_policy(&mut self, policy: Option<Policy>) {
        self.policy = policy;
    }

    /// Who answers a request for `node` of the address `to`. The address is looked up in this
    /// order: the own address when the stanza names none, a registered entity, the own address
    /// ([`Config::own_jid`]), the resolver. What is left is nobody's for a machine that speaks
    /// for its addresses itself ([`Config::stamp_from`], a component); a client's server
    /// delivers only what is the client's, so there it is the own address, whatever the `to`.
    fn answerer(&mut self, config: &Config, to: Option<&Jid>, node: Option<&str>) -> Answerer<'_> {
        let Some(to) = to else {
            return self.own.answerer(node);
        };
        if let Some(entity) = self.entities.get_mut(to) {
            return entity.answerer(node);
        }
        if config.own_jid.as_ref() == Some(to) {
            return self.own.answerer(node);
        }
        match &self.resolver {
            Some(resolver) => resolver.answerer(),
            None if config.stamp_from => Answerer::Missing,
            None => self.own.answerer(node),
        }
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
        if incoming.set {
            return Some(service_unavailable());
        }
        let Ok(page) = request.page.map(read::parse_page).transpose() else {
            return Some(bad_request());
        };
        if !request.well_formed {
            return Some(bad_request());
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
            return Some(service_unavailable());
        }
        // The caps nodes of the own address are answered besides its mounted nodes.
        if let (QueryKind::Info, Some(node)) = (request.kind, request.node) {
            if self.is_own(config, context.to) {
                if let Some(answer) = self.caps_answer(node) {
                    return Some(ResponseBody::Result(answer));
                }
            }
        }
        Some(match self.answerer(config, context.to, request.node) {
            Answerer::Missing => item_not_found(),
            Answerer::Static(node, cache) => match request.kind {
                QueryKind::Info => cache
                    .info(request.node, node)
                    .map_or_else(item_not_found, |payload| {
                        ResponseBody::Result(Arc::clone(payload))
                    }),
                QueryKind::Items => static_items(request.node, node, cache, page.as_ref(), limit),
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
                        out.stats.invalid_answers += 1;
                        out.report(Event::InvalidAnswer {
                            kind: request.kind,
                            to: incoming.to.clone(),
                            node: request.node.map(str::to_owned),
                            error,
                        });
                        internal_server_error()
                    }
                }
            }
            Answerer::Deferred => {
                if self.deferred.len() >= config.max_deferred {
                    return Some(resource_constraint());
                }
                self.defer(out, config, incoming, page);
                return None;
            }
        })
    }

    /// Hands a request for a deferred node to the host.
    fn defer(
        &mut self,
        out: &mut Outbox,
        config: &Config,
        incoming: &IncomingRequest<'_>,
        page: Option<SetQuery>,
    ) {
        let number = self.next_deferred;
        self.next_deferred += 1;
        let node = incoming.request.node.map(str::to_owned);
        self.deferred.insert(
            number,
            Pending {
                kind: incoming.request.kind,
                node: node.clone(),
                page,
                reply_to: incoming.from.clone(),
                reply_from: answering_address(config, incoming.to.clone()),
                id: incoming.id.to_owned(),
            },
        );
        out.report(Event::DeferredRequest {
            handle: ResponseHandle(number),
            kind: incoming.request.kind,
            from: incoming.from.clone(),
            to: incoming.to.clone(),
            node,
            lang: incoming.lang.map(str::to_owned),
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
            .get(&handle.0)
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
            .remove(&handle.0)
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
