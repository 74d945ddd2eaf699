//! What queries and questions complete with: a disco answer as the requester keeps it
//! ([`Answer`]), a whole item list, and the answers of the questions about a tree. They sit
//! below [`Event`](crate::Event), which carries them, and below the requester and the questions,
//! which make them.

use std::sync::Arc;

use xmpp_parsers::disco::{DiscoInfoResult, DiscoItemsResult, Item};
use xmpp_parsers::jid::Jid;

use crate::error::QueryError;
use crate::ids::RequestId;
use crate::query::Ask;

/// A whole item list, read one page after the other (XEP-0059) by
/// [`DiscoMachine::query_item_list`](crate::DiscoMachine::query_item_list).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ItemList {
    /// The node the list is of (`None`: the entity's root).
    pub node: Option<String>,
    /// Every item, in the order the pages gave them, each (JID, node) once.
    pub items: Vec<Item>,
    /// `true` only when the responder said the list ended (an empty or short page, or a page
    /// without a `<set/>`); `false` when a bound cut it short
    /// ([`Config::max_list_pages`](crate::Config), [`Config::max_list_items`](crate::Config),
    /// or the query's own), or the responder went round in circles (a page of items seen
    /// before, a `<last/>` id seen before): there may be more.
    pub complete: bool,
    /// How many pages were read.
    pub pages: usize,
}

/// A parsed, validated disco answer, shared by every waiter it completes.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    Info(Arc<DiscoInfoResult>),
    Items(Arc<DiscoItemsResult>),
    List(Arc<ItemList>),
}

impl Answer {
    pub(crate) fn info(&self) -> Option<Arc<DiscoInfoResult>> {
        match self {
            Answer::Info(info) => Some(Arc::clone(info)),
            Answer::Items(_) | Answer::List(_) => None,
        }
    }

    pub(crate) fn items(&self) -> Option<Arc<DiscoItemsResult>> {
        match self {
            Answer::Items(items) => Some(Arc::clone(items)),
            Answer::Info(_) | Answer::List(_) => None,
        }
    }
}

/// The answer of [`DiscoMachine::supports`](crate::DiscoMachine::supports).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Support {
    /// Whether the entity's info lists the feature.
    pub supported: bool,
    /// The info it was read from (the cache's own `Arc` when it came from there).
    pub info: Arc<DiscoInfoResult>,
}

/// A service found: the item, and the info it matched with.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Found {
    /// The item (for the entity itself: its JID and node, without a name).
    pub item: Item,
    /// Its info.
    pub info: Arc<DiscoInfoResult>,
}

/// An item whose info could not be read, and why.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NotAnswered {
    /// The item.
    pub item: Item,
    /// Why: its error, a timeout, a node no query can carry.
    pub error: QueryError,
}

/// The answer of [`DiscoMachine::find_services`](crate::DiscoMachine::find_services).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Services {
    /// The matches: the entity itself first if it matches, then its items in list order.
    pub found: Vec<Found>,
    /// The entity or items whose info could not be read, in the same order.
    pub not_answered: Vec<NotAnswered>,
    /// Whether the entity's item list was read whole (see
    /// [`ItemList::complete`](crate::ItemList)).
    pub complete: bool,
}

/// One entity of a [`Walk`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Visited {
    /// The entity's JID.
    pub jid: Jid,
    /// Its node (`None`: the root).
    pub node: Option<String>,
    /// How far below the walk's start (0: the start itself).
    pub depth: usize,
    /// Its info, or why there is none.
    pub info: Result<Arc<DiscoInfoResult>, QueryError>,
    /// Its items, or why there are none.
    pub items: Result<Arc<ItemList>, QueryError>,
}

/// The answer of [`DiscoMachine::walk`](crate::DiscoMachine::walk).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Walk {
    /// Every entity visited, in the order found (breadth first).
    pub entities: Vec<Visited>,
    /// `false` when the entity bound left items unvisited (the depth bound is not counted: it
    /// says how deep the walk was to go).
    pub complete: bool,
}

/// A query that completed, on its way to whoever asked it: the host (as an
/// [`Event`](crate::Event)) or the question about a tree that asked it.
#[derive(Debug)]
pub(crate) struct Completion {
    pub(crate) id: RequestId,
    pub(crate) kind: Ask,
    pub(crate) outcome: Result<Answer, QueryError>,
}
