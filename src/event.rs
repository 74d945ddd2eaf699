//! What the machine reports to its host: completions, requests for primed data, changes of its
//! nodes, requests the host answers itself. The results completions carry live below, in
//! `results`; this module only names the events.

use std::sync::Arc;

use xmpp_parsers::disco::{DiscoInfoResult, DiscoItemsResult};

use xmpp_parsers::jid::Jid;

use crate::error::{InvalidText, QueryError};
use crate::ids::{PrimeHandle, RequestId, ResponseHandle};
use crate::query::{Ask, QueryKind};
use crate::results::{Answer, ItemList, Services, Support, Walk};

/// Something the host should know, drained with
/// [`DiscoMachine::poll_event`](crate::DiscoMachine::poll_event).
///
/// Every [`RequestId`] a command returns is completed by exactly one event of its kind: `Info`
/// ([`query_info`](crate::DiscoMachine::query_info)), `Items`
/// ([`query_items`](crate::DiscoMachine::query_items) and
/// [`query_items_page`](crate::DiscoMachine::query_items_page)), `ItemList`
/// ([`query_item_list`](crate::DiscoMachine::query_item_list)), `Supports`, `Services` or
/// `Walk` (the questions about a tree): from the cache, with the answer, or with a
/// [`QueryError`] (a timeout, a cancel, the end of the stream among them).
/// [`request_id`](Event::request_id) says which request an event completes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// A [`query_info`](crate::DiscoMachine::query_info) completed. Aliased waiters share one
    /// [`Arc`] of the result.
    Info {
        /// The query this completes.
        id: RequestId,
        /// The entity's answer, or why there is none.
        result: Result<Arc<DiscoInfoResult>, QueryError>,
    },
    /// A [`query_items`](crate::DiscoMachine::query_items) completed.
    Items {
        /// The query this completes.
        id: RequestId,
        /// The entity's answer, or why there is none.
        result: Result<Arc<DiscoItemsResult>, QueryError>,
    },
    /// A [`query_item_list`](crate::DiscoMachine::query_item_list) completed: every page was
    /// read (or a bound was reached), or one failed.
    ItemList {
        /// The query this completes.
        id: RequestId,
        /// The whole list, or why there is none (the first page that failed).
        result: Result<Arc<ItemList>, QueryError>,
    },
    /// A [`supports`](crate::DiscoMachine::supports) question has its answer.
    Supports {
        /// The question this completes.
        id: RequestId,
        /// Whether the entity lists the feature, with its info; or why it could not be read.
        result: Result<Support, QueryError>,
    },
    /// A [`find_services`](crate::DiscoMachine::find_services) search completed: it fails only
    /// when the entity's item list cannot be read.
    Services {
        /// The question this completes.
        id: RequestId,
        /// The services found and the items that could not be asked; or why there is no list.
        result: Result<Arc<Services>, QueryError>,
    },
    /// A [`walk`](crate::DiscoMachine::walk) completed.
    Walk {
        /// The question this completes.
        id: RequestId,
        /// Every entity visited with its info and items (or their errors).
        result: Result<Arc<Walk>, QueryError>,
    },
    /// A query now waits on a lazy primed entry
    /// ([`DiscoMachine::prime_info_lazy`](crate::DiscoMachine::prime_info_lazy)): the host
    /// should look the information up and resolve `handle`. Raised once per
    /// entry, on the first query that needs it.
    PrimeRequested {
        /// The entry to resolve.
        handle: PrimeHandle,
        /// The entity the entry is for.
        jid: Jid,
        /// The node the entry is for.
        node: Option<String>,
    },
    /// The identities, features or forms of a node of the responder changed (or a node was
    /// mounted or unmounted, or an entity added or removed): what it answers is different now.
    /// Entity capabilities (XEP-0115) recompute and re-announce their hash on a change of the
    /// own root (`entity` and `node` both `None`).
    NodeChanged {
        /// The [entity](crate::Entity) whose node changed; `None` for the machine's own address.
        entity: Option<Jid>,
        /// The node that changed; `None` for the root.
        node: Option<String>,
    },
    /// A request for a deferred node arrived; answer it through `handle`.
    DeferredRequest {
        /// What to answer with.
        handle: ResponseHandle,
        /// The request. Boxed, as in [`InvalidAnswer`](Event::InvalidAnswer): requests the host
        /// answers itself are rare, and every event would otherwise carry their size.
        request: Box<ReceivedRequest>,
    },
    /// A [dynamic node](crate::DynamicNode) answered with text XML cannot carry: the requester
    /// was told `internal-server-error` and the host should fix the node.
    InvalidAnswer {
        /// The request the node answered.
        request: Box<ReceivedRequest>,
        /// What is wrong with the answer.
        error: InvalidText,
    },
}

/// A request the responder received, as the host sees it with a
/// [deferred request](Event::DeferredRequest) or an [invalid answer](Event::InvalidAnswer): the
/// owned form of the [`RequestContext`](crate::RequestContext) a dynamic node is handed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceivedRequest {
    /// Which query.
    pub kind: QueryKind,
    /// The requester (`None`: the own server, on behalf of the account).
    pub from: Option<Jid>,
    /// The address the request was sent to, if the stanza said (a component answers for
    /// many: see [`Entity`](crate::Entity) and [`Resolver`](crate::Resolver)).
    pub to: Option<Jid>,
    /// The node asked for; `None` for the root.
    pub node: Option<String>,
    /// The request's `xml:lang`, if any.
    pub lang: Option<String>,
}

impl Event {
    /// The completion of query `id`, of `kind`, with `outcome`.
    #[inline]
    pub(crate) fn completion(
        kind: Ask,
        id: RequestId,
        outcome: Result<Answer, QueryError>,
    ) -> Self {
        match (outcome, kind) {
            (Ok(Answer::Info(info)), _) => Event::Info {
                id,
                result: Ok(info),
            },
            (Ok(Answer::Items(items)), _) => Event::Items {
                id,
                result: Ok(items),
            },
            (Ok(Answer::List(list)), _) => Event::ItemList {
                id,
                result: Ok(list),
            },
            (Err(error), Ask::Info | Ask::Caps) => Event::Info {
                id,
                result: Err(error),
            },
            (Err(error), Ask::Items | Ask::Page) => Event::Items {
                id,
                result: Err(error),
            },
            (Err(error), Ask::List) => Event::ItemList {
                id,
                result: Err(error),
            },
        }
    }

    /// The request this event completes, if it is a completion.
    pub fn request_id(&self) -> Option<RequestId> {
        match self {
            Event::Info { id, .. }
            | Event::Items { id, .. }
            | Event::ItemList { id, .. }
            | Event::Supports { id, .. }
            | Event::Services { id, .. }
            | Event::Walk { id, .. } => Some(*id),
            Event::PrimeRequested { .. }
            | Event::NodeChanged { .. }
            | Event::DeferredRequest { .. }
            | Event::InvalidAnswer { .. } => None,
        }
    }
}
