//! What disco talks about: the two kinds of query, the answers they get, and an identity as it
//! goes on the wire.

use std::sync::Arc;

use xmpp_parsers::disco::{DiscoInfoResult, DiscoItemsResult};
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

/// A parsed, validated disco answer, shared by every waiter it completes.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    Info(Arc<DiscoInfoResult>),
    Items(Arc<DiscoItemsResult>),
}

impl Answer {
    pub(crate) fn info(&self) -> Option<Arc<DiscoInfoResult>> {
        match self {
            Answer::Info(info) => Some(Arc::clone(info)),
            Answer::Items(_) => None,
        }
    }

    pub(crate) fn items(&self) -> Option<Arc<DiscoItemsResult>> {
        match self {
            Answer::Items(items) => Some(Arc::clone(items)),
            Answer::Info(_) => None,
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
