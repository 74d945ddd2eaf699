//! The cache key, (JID, node), and the borrowed form used to look it up without allocating.
//!
//! The query kind (info or items) is not part of the key: each kind has its own cache.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use xmpp_parsers::jid::Jid;

/// An owned cache key. Shared (`Arc`) between the cache index, its LRU slot and the request in
/// flight for it, so that a key is stored once however many places refer to it.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub(crate) jid: Jid,
    /// A boxed `str`, not a `String`: a key never grows, and every cached entry has one.
    pub(crate) node: Option<Box<str>>,
}

/// A borrowed cache key: what a query or a peek has in hand.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyRef<'a> {
    pub(crate) jid: &'a Jid,
    pub(crate) node: Option<&'a str>,
}

impl Key {
    pub(crate) fn shared(key: KeyRef<'_>) -> Arc<Key> {
        Arc::new(Key {
            jid: key.jid.clone(),
            node: key.node.map(Box::from),
        })
    }

    pub(crate) fn view(&self) -> KeyRef<'_> {
        KeyRef {
            jid: &self.jid,
            node: self.node.as_deref(),
        }
    }
}

/// What owned and borrowed keys have in common; hashing and equality are defined once, here, so
/// that `HashMap<Arc<Key>, _>` can be queried with a [`KeyRef`].
pub(crate) trait KeyView {
    fn parts(&self) -> (&str, Option<&str>);
}

impl KeyView for Key {
    fn parts(&self) -> (&str, Option<&str>) {
        (self.jid.as_str(), self.node.as_deref())
    }
}

impl KeyView for KeyRef<'_> {
    fn parts(&self) -> (&str, Option<&str>) {
        (self.jid.as_str(), self.node)
    }
}

// JIDs compare by their normalised form, which is what `Jid::as_str` returns.
impl Hash for dyn KeyView + '_ {
    /// Feeds the hasher as few pieces as it can: every piece costs SipHash a round of
    /// buffering, and the key is hashed on every query. A JID is UTF-8 and never holds the byte
    /// 0xff, so the stream "JID" or "JID 0xff node" names one key without length prefixes.
    fn hash<H: Hasher>(&self, state: &mut H) {
        let (jid, node) = self.parts();
        state.write(jid.as_bytes());
        if let Some(node) = node {
            state.write_u8(0xff);
            state.write(node.as_bytes());
        }
    }
}

impl PartialEq for dyn KeyView + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for dyn KeyView + '_ {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self as &dyn KeyView).hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for Key {}

impl<'a> Borrow<dyn KeyView + 'a> for Arc<Key> {
    fn borrow(&self) -> &(dyn KeyView + 'a) {
        &**self
    }
}
