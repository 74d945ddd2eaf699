//! Nodes whose answer the host computes per request.

use xmpp_parsers::disco::{DiscoInfoResult, Item};
use xmpp_parsers::jid::Jid;
use xmpp_parsers::rsm::{SetQuery, SetResult};

use crate::query::QueryKind;

/// Who asks for what: handed to [`DynamicNode`]s, to the access policy
/// ([`DiscoMachine::set_policy`](crate::DiscoMachine::set_policy)) and, owned, with deferred
/// requests.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RequestContext<'a> {
    /// The requester. `None` when the stanza had no `from`: it comes from the own server, on
    /// behalf of the own account (RFC 6120 §8.1.2.1).
    pub from: Option<&'a Jid>,
    /// The address the request was sent to; `None` when the stanza had no `to`. A client is
    /// asked at its own address; a component at any of the addresses it serves (see
    /// [`Entity`](crate::Entity) and [`Resolver`](crate::Resolver)).
    pub to: Option<&'a Jid>,
    /// Which query.
    pub kind: QueryKind,
    /// The node asked for; `None` for the root.
    pub node: Option<&'a str>,
    /// The request's `xml:lang`, if it declared one (typed [`Iq`](xmpp_parsers::iq::Iq) values
    /// do not carry it).
    pub lang: Option<&'a str>,
}

/// A node whose identities, features, forms and items may depend on who asks (XEP-0030 §4:
/// an entity may answer different requesters differently).
///
/// Answering `None`, or info without any identity, reads as "no such node": the requester
/// gets `item-not-found`. `disco#info` is added to the features if the answer leaves it out.
///
/// ```
/// use xmpp_disco::{DynamicNode, RequestContext};
/// use xmpp_disco::xmpp_parsers::disco::{DiscoInfoResult, Identity, Item};
///
/// /// Shows the roster-only node to contacts of one domain only.
/// struct FriendsOnly;
///
/// impl DynamicNode for FriendsOnly {
///     fn info(&self, request: &RequestContext<'_>) -> Option<DiscoInfoResult> {
///         let friend = request.from?.domain().as_str() == "capulet.example";
///         friend.then(|| DiscoInfoResult {
///             node: None,
///             identities: vec![Identity::new("hierarchy", "leaf", "en", "Friends")],
///             features: Default::default(),
///             extensions: vec![],
///         })
///     }
/// }
/// ```
pub trait DynamicNode: Send {
    /// The `disco#info` answer for this request, or `None` for "no such node".
    fn info(&self, request: &RequestContext<'_>) -> Option<DiscoInfoResult>;

    /// The `disco#items` answer for this request, or `None` for "no such node". By default, no
    /// items (an empty answer, not an error).
    fn items(&self, request: &RequestContext<'_>) -> Option<Vec<Item>> {
        let _ = request;
        Some(Vec::new())
    }

    /// The `disco#items` answer to a request for one page of the list (XEP-0059), or `None`
    /// for "no such node" (or, for a node answering its own pages, for an `after` or `before`
    /// id it does not know: both are `item-not-found`). By default the machine takes the page out of
    /// [`items`](Self::items); a node whose list is long or costly to build answers
    /// [`ItemsPage::Page`] instead, building only the page.
    fn items_page(&self, request: &RequestContext<'_>, page: &SetQuery) -> Option<ItemsPage> {
        let _ = page;
        self.items(request).map(ItemsPage::Whole)
    }
}

/// A [`DynamicNode`]'s answer to a request for one page of its items.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemsPage {
    /// The whole list: the machine answers the page asked for out of it, with page ids of its
    /// own.
    Whole(Vec<Item>),
    /// The page, and the `<set/>` that places it in the whole list (XEP-0059: `first` with its
    /// index and `last` when the page holds items, and the list's `count`), with page ids the
    /// node understands when they come back in `after` or `before`.
    Page(Vec<Item>, SetResult),
}
