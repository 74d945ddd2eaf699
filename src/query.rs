//! What disco talks about: the two kinds of query, the answers they get, and an identity as it
//! goes on the wire.

use std::sync::Arc;

use xmpp_parsers::disco::{DiscoInfoResult, DiscoItemsResult, Item};
use xmpp_parsers::ns;

/// Which of the two disco queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryKind {
    /// `http://jabber.org/protocol/disco#info`: identities, features, extended information.
    Info,
    /// `http://jabber.org/protocol/disco#items`: the entity's items.
    Items,
}

impl QueryKind {
    /// The namespace of this kind's `<query/>`.
    pub fn namespace(self) -> &'static str {
        match self {
            QueryKind::Info => ns::DISCO_INFO,
            QueryKind::Items => ns::DISCO_ITEMS,
        }
    }
}

/// What the requester asks: the two disco queries, one page of an item list (XEP-0059), or a
/// whole list read page by page. Each has its own cache: a page is never taken for the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ask {
    Info,
    Items,
    Page,
    List,
    /// `disco#info` at an entity capabilities node, verified against the hash it names.
    Caps,
}

impl Ask {
    /// The disco query that goes on the wire.
    pub(crate) fn query(self) -> QueryKind {
        match self {
            Ask::Info | Ask::Caps => QueryKind::Info,
            Ask::Items | Ask::Page | Ask::List => QueryKind::Items,
        }
    }
}

impl From<QueryKind> for Ask {
    fn from(kind: QueryKind) -> Self {
        match kind {
            QueryKind::Info => Ask::Info,
            QueryKind::Items => Ask::Items,
        }
    }
}

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

/// One `<identity/>` as it goes on the wire: a [`StaticNode`](crate::StaticNode) answers one per
/// name (and one without a name if the identity has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdentityView<'a> {
    /// The identity's category (`client`, `server`, `conference`, ...).
    pub category: &'a str,
    /// The identity's type within the category (`pc`, `im`, `text`, ...).
    pub type_: &'a str,
    /// The `xml:lang` of the name, if it has one.
    pub lang: Option<&'a str>,
    /// The name, if any.
    pub name: Option<&'a str>,
}
