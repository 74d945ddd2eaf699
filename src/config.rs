//! How a [`DiscoMachine`](crate::DiscoMachine) is set up.

use std::time::Duration;

use xmpp_parsers::jid::Jid;

use crate::caps::Algorithm;
use crate::write::StanzaNamespace;

/// Settings of a [`DiscoMachine`](crate::DiscoMachine). Every field has a documented default
/// ([`Config::default`]); change only what your host needs.
///
/// ```
/// use std::time::Duration;
/// use xmpp_disco::Config;
///
/// let mut config = Config::default();
/// config.own_jid = Some("juliet@capulet.example/balcony".parse().unwrap());
/// config.default_timeout = Some(Duration::from_secs(10));
/// config.max_in_flight = 64;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The session's own JID, once known. Default: `None`.
    ///
    /// It matters for trusting replies: the server answers queries addressed to the account's
    /// bare JID (and to its own domain) on the account's behalf, and may leave out `from`
    /// (RFC 6120 §8.1.2.1). Such replies are accepted only when this is set. Update it with
    /// [`DiscoMachine::set_own_jid`](crate::DiscoMachine::set_own_jid) when a resource is bound.
    pub own_jid: Option<Jid>,
    /// Prefix of the `id` of every IQ the machine sends. Default: `"disco-"`.
    ///
    /// Every IQ `result`/`error` whose id starts with this prefix is the machine's business:
    /// choose one the host's own ids never start with. A prefix holding a character XML cannot
    /// carry makes every query fail at the call with
    /// [`InvalidArgument::Text`](crate::InvalidArgument::Text).
    pub id_prefix: String,
    /// The deadline given to a query that does not set its own
    /// ([`QueryOptions::timeout`](crate::QueryOptions)). `None` waits forever. Default: 30 s.
    pub default_timeout: Option<Duration>,
    /// How many `disco#info` keys the cache holds before evicting the least recently used one.
    /// Zero disables caching and aliasing of info queries; values above 2^30 count as 2^30.
    /// Default: 1024.
    pub info_cache_capacity: usize,
    /// How many `disco#items` keys the cache holds, as for info. Default: 256.
    pub items_cache_capacity: usize,
    /// How many requests may be in flight (sent, not yet answered or abandoned) at once. A query
    /// that would send one more completes at once with
    /// [`QueryError::TooManyRequests`](crate::QueryError::TooManyRequests). Queries answered from
    /// the cache or aliased to a request in flight do not count. Default: 256.
    pub max_in_flight: usize,
    /// How many requests for [deferred](crate::Node::Deferred) nodes may wait for the host's
    /// answer at once. Beyond it, requests are answered `resource-constraint` (type `wait`) at
    /// once. Default: 256.
    pub max_deferred: usize,
    /// The namespace of outgoing stanzas: [`StanzaNamespace::Client`] for a client (the
    /// default), [`StanzaNamespace::ComponentAccept`] for a XEP-0114 component.
    pub stanza_namespace: StanzaNamespace,
    /// Whether the machine speaks for its addresses itself, as a XEP-0114 component does
    /// (`true`), or its server does, as for a client (the default, `false`).
    ///
    /// A component's stanzas carry `from`: requests say [`own_jid`](Config::own_jid) (or the
    /// address a query asks from, [`QueryOptions::from`](crate::QueryOptions::from)), answers
    /// say the address the request was sent to. And a component answers only for the addresses
    /// it serves: `own_jid`, its [entities](crate::Entity) and its
    /// [resolver](crate::DiscoMachine::set_resolver); a request to any other address is
    /// `item-not-found`. A client's server delivers only what is the client's, so a client
    /// answers every request it gets from its own registry.
    pub stamp_from: bool,
    /// The most items one `disco#items` answer lists. `None` (the default): the whole list, as
    /// XEP-0030 asks. With a limit, a request for a longer list without a result set
    /// (XEP-0059) is answered its first page, with the `<set/>` that tells the requester there
    /// is more; a request with one gets pages of at most this many items.
    pub max_items_per_answer: Option<usize>,
    /// How many items [`query_item_list`](crate::DiscoMachine::query_item_list) asks for per
    /// page (the RSM `<max/>`; the responder may answer fewer). Default: 100.
    pub list_page_size: usize,
    /// The most pages one whole-list query reads before completing with what it has
    /// ([`ItemList::complete`](crate::ItemList) `false`). Default: 1000.
    pub max_list_pages: usize,
    /// The most items one whole-list query keeps. Default: 100,000.
    pub max_list_items: usize,
    /// How many whole item lists the cache holds (besides `items_cache_capacity` single
    /// answers). Default: 64.
    pub list_cache_capacity: usize,
    /// How many entities the machine remembers, per session, to have answered an items query
    /// with a `<set/>` (XEP-0059): a whole-list read sends a `<set/>` only to an entity known
    /// to support result set management (XEP-0059 §4: remembered so, or its cached root info
    /// lists `http://jabber.org/protocol/rsm`); to any other it sends a plain query first, and
    /// pages on only if the answer says there is more. Default: 1,024.
    pub rsm_entities_capacity: usize,
    /// How many queries one question about a tree ([`supports`](crate::DiscoMachine::supports),
    /// [`find_services`](crate::DiscoMachine::find_services),
    /// [`walk`](crate::DiscoMachine::walk)) keeps in flight at once; the rest wait their turn.
    /// Default: 8.
    pub tree_concurrency: usize,
    /// The URI naming this software for entity capabilities (XEP-0115's `node`, e.g.
    /// `"https://example.org/my-client"`). `Some` turns the machine's own capabilities on: the
    /// root advertises `http://jabber.org/protocol/caps` and `urn:xmpp:caps`,
    /// [`caps_announcement`](crate::DiscoMachine::caps_announcement) gives the `<c/>` elements
    /// for presence, and the caps nodes are answered. Default: `None`.
    ///
    /// Learning other entities' capabilities needs no setting: it starts with the first
    /// [`observe_presence`](crate::DiscoMachine::observe_presence).
    pub caps_node: Option<String>,
    /// The XEP-0390 hash functions announced, besides XEP-0115's SHA-1. Default: SHA-256, the
    /// one XEP-0300 says every implementation has. Empty: XEP-0115 only.
    pub caps_algorithms: Vec<Algorithm>,
    /// How many verified answers the entity capabilities hash cache holds, each shared by every
    /// entity claiming its hash. Default: 1024 (a contact list seldom runs more programs).
    pub caps_hash_capacity: usize,
    /// How many entities' claims (the hashes their latest presence carried) are remembered,
    /// least recently used forgotten first. Default: 10,000.
    pub caps_claim_capacity: usize,
    /// Whether a new claimed hash is verified at once (one request per hash, never one per
    /// entity) instead of when a query first needs it. Default: `false`, as XEP-0115 §6.1
    /// recommends: an entity that sends caps is asked nothing unless someone needs to know.
    pub caps_eager: bool,
    /// How long queries about other entities claiming a hash wait on the verification of that
    /// hash by the entity asked first, before each of them is asked itself (the entity asked
    /// keeps its own query, which ends at that query's deadline). A query waits on another
    /// entity this long at most, and only once: however many silent or lying claimants come
    /// before it, an honest claimant's query gets its answer within this and its own round
    /// trip. Default: 5 s, well below [`default_timeout`](Self::default_timeout).
    pub caps_verification_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            own_jid: None,
            id_prefix: String::from("disco-"),
            default_timeout: Some(Duration::from_secs(30)),
            info_cache_capacity: 1024,
            items_cache_capacity: 256,
            max_in_flight: 256,
            max_deferred: 256,
            stanza_namespace: StanzaNamespace::Client,
            stamp_from: false,
            max_items_per_answer: None,
            list_page_size: 100,
            max_list_pages: 1000,
            max_list_items: 100_000,
            list_cache_capacity: 64,
            rsm_entities_capacity: 1024,
            tree_concurrency: 8,
            caps_node: None,
            caps_algorithms: vec![Algorithm::Sha256],
            caps_hash_capacity: 1024,
            caps_claim_capacity: 10_000,
            caps_eager: false,
            caps_verification_timeout: Duration::from_secs(5),
        }
    }
}
