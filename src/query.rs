//! What disco talks about: the two kinds of query, what the requester asks, and an identity as
//! it goes on the wire. (What they are answered with is in `results`.)

use xmpp_parsers::disco::Identity;
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

impl<'a> From<&'a Identity> for IdentityView<'a> {
    fn from(identity: &'a Identity) -> Self {
        Self {
            category: &identity.category,
            type_: &identity.type_,
            lang: identity.lang.as_deref(),
            name: identity.name.as_deref(),
        }
    }
}
