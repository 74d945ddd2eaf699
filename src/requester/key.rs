//! The cache key, (JID, node, asking address), owned by a request in flight and borrowed by a
//! lookup.
//!
//! The query kind (info or items) is not part of the key: each kind has its own cache. The
//! cache stores keys its own, compact way (see [`Lru`](super::lru::Lru)).

use xmpp_parsers::jid::Jid;

/// An owned key: what a request in flight or a pending primed entry is for.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub(crate) jid: Jid,
    pub(crate) node: Option<Box<str>>,
    /// The address the request is sent from, when it is not the machine's own (a component
    /// asking on behalf of one of its entities): an entity may answer each asker differently.
    pub(crate) from: Option<Jid>,
}

/// A borrowed cache key: what a query or a peek has in hand. JIDs compare by their
/// normalised form, which is what `Jid::as_str` returns.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyRef<'a> {
    pub(crate) jid: &'a Jid,
    pub(crate) node: Option<&'a str>,
    pub(crate) from: Option<&'a Jid>,
}

impl From<KeyRef<'_>> for Key {
    fn from(key: KeyRef<'_>) -> Self {
        Key {
            jid: key.jid.clone(),
            node: key.node.map(Box::from),
            from: key.from.cloned(),
        }
    }
}
