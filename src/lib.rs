//! XMPP Service Discovery ([XEP-0030]) as a Sans-IO state machine.
//!
//! [`DiscoMachine`] is one value per XMPP session. It does no I/O, reads no clock, spawns
//! nothing and needs no async runtime: the host feeds it commands, received stanzas and the
//! current time, and drains the stanzas it wants sent, the events it has to report and the
//! instant it next wants to be woken. A tokio client, a blocking bot, a server component or a
//! unit test drive it the same way, and the same inputs always give the same outputs.
//!
//! It owns both halves of XEP-0030 for the session:
//!
//! * the **requester** asks other entities (`disco#info`, `disco#items`) through a bounded
//!   cache that also aliases concurrent identical queries, with per-query deadlines and cache
//!   priming for entity capabilities;
//! * the **responder** answers other entities from a registry of nodes: the root, static nodes
//!   mounted under a name, dynamic nodes computed per requester, and deferred nodes the host
//!   answers later.
//!
//! # The run loop
//!
//! ```
//! use std::time::{Duration, Instant};
//! use xmpp_disco::{Config, DiscoMachine, Event, Handled, QueryOptions};
//! use xmpp_parsers::jid::Jid;
//! use xmpp_parsers::minidom::Element;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut disco = DiscoMachine::new(Config::default());
//! let start = Instant::now(); // the host's clock; the machine only ever gets it passed in
//! let server: Jid = "example.org".parse()?;
//!
//! // Commands return at once with an id; exactly one event completes it later.
//! let first = disco.query_info(start, &server, None, QueryOptions::default())?;
//! let second = disco.query_info(start, &server, None, QueryOptions::default())?; // aliased
//!
//! // Send what the machine wants sent, in the form the stream takes (an element here;
//! // `into_iq` for tokio-xmpp, `write_to` for bytes). Here the "server" answers at once.
//! while let Some(transmit) = disco.poll_transmit() {
//!     let request: Element = transmit.into_element();
//!     let id = request.attr("id").unwrap_or_default();
//!     let reply: Element = format!(
//!         "<iq xmlns='jabber:client' type='result' from='example.org' id='{id}'>\
//!            <query xmlns='http://jabber.org/protocol/disco#info'>\
//!              <identity category='server' type='im'/>\
//!              <feature var='http://jabber.org/protocol/disco#info'/>\
//!            </query></iq>"
//!     )
//!     .parse()?;
//!     // Offer every received stanza; what is not the machine's comes back untouched.
//!     if let Handled::Unhandled(other) = disco.handle_stanza(start, reply) {
//!         unreachable!("route {other:?} to the host's other handlers");
//!     }
//! }
//!
//! // React to what the machine reports.
//! let mut answered = Vec::new();
//! while let Some(event) = disco.poll_event() {
//!     if let Event::Info { id, result } = event {
//!         let info = result?;
//!         assert_eq!(info.identities[0].category, "server");
//!         answered.push(id);
//!     }
//! }
//! assert_eq!(answered, [first, second]);
//! assert_eq!(disco.stats().requests_sent, 1); // two queries, one IQ
//!
//! // Wake the machine when it asks; nothing is pending here.
//! if let Some(deadline) = disco.poll_timeout() {
//!     disco.handle_timeout(deadline);
//! }
//! assert_eq!(disco.poll_timeout(), None);
//!
//! // A later query is answered from the cache without sending.
//! disco.query_info(start + Duration::from_secs(1), &server, None, QueryOptions::default())?;
//! assert!(disco.poll_transmit().is_none());
//! assert!(matches!(disco.poll_event(), Some(Event::Info { result: Ok(_), .. })));
//! # Ok(())
//! # }
//! ```
//!
//! # Requester semantics
//!
//! * **Key.** The cache key is (kind, JID, node, asking address). A full JID and its bare JID
//!   are different keys; JIDs compare as the `jid` crate normalises them. The asking address is
//!   the machine's own unless a component asks from another of its addresses
//!   ([`QueryOptions::from`]).
//! * **Cache.** A query whose key has a cached result completes from the cache, sending
//!   nothing. Each kind has its own LRU bound ([`Config::info_cache_capacity`],
//!   [`Config::items_cache_capacity`]).
//! * **Aliasing.** A query whose key has a request in flight sends nothing and completes with
//!   that request's answer, sharing one [`Arc`](std::sync::Arc) of the result.
//! * **Fresh.** [`QueryOptions::fresh`] always sends; that request becomes the one later queries
//!   alias to, and what it answers is what they get. Waiters of the older request still get the
//!   older answer.
//! * **Failures are not cached.** An error reply, a malformed reply or a disconnect fails every
//!   waiter of the request with the same [`QueryError`]; the next query sends again.
//! * **Deadlines are per query.** A query whose deadline passes completes with
//!   [`QueryError::Timeout`]; the others aliased with it keep waiting. When the last waiter of a
//!   request gives up (timeout or [`cancel`](DiscoMachine::cancel)), the request is abandoned and
//!   a late reply is ignored.
//! * **Priming.** [`DiscoMachine::set_info_cache`] stores a result;
//!   [`DiscoMachine::prime_info_pending`] and [`DiscoMachine::prime_info_lazy`] open an entry the
//!   host resolves later (what XEP-0115 entity capabilities need). Queries wait on it. A primed
//!   entry resolved with a failure fails every query for its key until a fresh one.
//! * **Session end.** [`DiscoMachine::stream_destroyed`] fails every waiting query with
//!   [`QueryError::Disconnected`] and clears the cache. [`DiscoMachine::flush_cache`] only
//!   forgets. A resumed stream needs nothing.
//! * **Trust.** A reply counts only with an id the machine issued, from the entity asked (the
//!   server may answer for the own account and domain without `from`, see
//!   [`Config::own_jid`]), to the address that asked (when the request said one), with a
//!   payload of the kind asked: a `disco#info` result needs at least one identity, and an
//!   answer naming another node than the one asked is refused.
//! * **Bounds.** Caches are LRU-bounded, requests in flight are limited
//!   ([`Config::max_in_flight`], [`QueryError::TooManyRequests`]); nothing grows without bound.
//!
//! Above all: **every [`RequestId`] completes exactly once**, whether from the cache, an
//! answer, an error, a deadline, a cancel or the end of the stream.
//!
//! # Answering others
//!
//! ```
//! use std::time::Instant;
//! use xmpp_disco::{DiscoMachine, Handled, StaticNode};
//! use xmpp_parsers::minidom::Element;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut disco = DiscoMachine::default();
//! disco.root_mut().register_feature("urn:xmpp:ping")?;
//! let mut music = StaticNode::new();
//! music.register_identity("hierarchy", "branch", [(Some("en"), "Music")])?;
//! disco.mount("music", music)?;
//!
//! let request: Element = "<iq xmlns='jabber:client' type='get' id='q1' from='romeo@montague.example/orchard'>\
//!       <query xmlns='http://jabber.org/protocol/disco#info' node='music'/></iq>".parse()?;
//! assert!(matches!(disco.handle_stanza(Instant::now(), request), Handled::Consumed));
//! let answer = disco.poll_transmit().expect("an answer").into_element();
//! assert_eq!(answer.attr("type"), Some("result"));
//! assert_eq!(answer.attr("to"), Some("romeo@montague.example/orchard"));
//! let query = answer.get_child("query", "http://jabber.org/protocol/disco#info").expect("a query");
//! assert_eq!(query.attr("node"), Some("music")); // the request's node, mirrored
//! # Ok(())
//! # }
//! ```
//!
//! # Responder semantics
//!
//! * **Registry.** A [`StaticNode`] has identities (category, type, names per `xml:lang`),
//!   features, ordered items and XEP-0128 forms. `disco#info` is always a feature and can be
//!   neither registered nor unregistered. Registering what exists, unregistering what does not
//!   and removing the last identity are distinct [`RegistryError`]s; a failed call changes
//!   nothing.
//! * **Root.** The root starts with the identity `client`/`bot`, removable once another
//!   exists. Other nodes are [mounted](DiscoMachine::mount) under a name (mounting over a name
//!   replaces the node there) and [unmounted](DiscoMachine::unmount) by it.
//! * **Changes.** A change to a node's identities, features or forms (and a mount or unmount)
//!   raises [`Event::NodeChanged`], so that entity capabilities can be recomputed.
//! * **Answers.** A `get` without node answers from the root, with a node from the node
//!   mounted there, the request's `node` mirrored. An unknown node, or one with no identity
//!   (for info), is `item-not-found` (type `cancel`); a node without items answers an empty
//!   query. [Dynamic](DynamicNode) nodes answer per requester and language;
//!   [deferred](Node::Deferred) nodes raise [`Event::DeferredRequest`] and the host answers
//!   with [`respond_info`](DiscoMachine::respond_info) and its siblings.
//! * **Refusals.** A [policy](DiscoMachine::set_policy) may refuse a requester:
//!   `service-unavailable`, whatever the node. A `set` is `service-unavailable`, a malformed
//!   query (two payloads, an empty node, text in the query) `bad-request`; children of the
//!   query the machine does not know (an RSM `<set/>`) are ignored (XEP-0059). Nothing inside
//!   the machine changes. A request whose `from` (or, for a component, `to`) is not a JID
//!   cannot be answered: it is consumed and counted in [`Stats::requests_dropped`].
//! * **Addresses.** A client answers whatever its server delivers from its one registry. A
//!   component ([`Config::stamp_from`]) answers for the addresses it serves, each from its own
//!   registry and from that address: its own ([`Config::own_jid`]), each registered
//!   [`Entity`], and every address its [`Resolver`] answers for; any other address is
//!   `item-not-found` (type `cancel`), as a MUC service answers for a room that does not exist.
//!   A request to one entity never sees another's nodes.
//! * **Speed.** A static node's answer is built once and reused until the node changes.
//!
//! # Serving many addresses
//!
//! ```
//! use std::time::Instant;
//! use xmpp_disco::{Config, DiscoMachine, DynamicNode, Entity, RequestContext, Resolver, StaticNode};
//! use xmpp_parsers::disco::{DiscoInfoResult, Identity};
//! use xmpp_parsers::minidom::Element;
//!
//! /// Every `roomN@conference.capulet.example` exists; nothing is stored per room.
//! struct Rooms;
//!
//! impl DynamicNode for Rooms {
//!     fn info(&self, request: &RequestContext<'_>) -> Option<DiscoInfoResult> {
//!         let room = request.to?.node()?.as_str().strip_prefix("room")?;
//!         Some(DiscoInfoResult {
//!             node: None,
//!             identities: vec![Identity::new("conference", "text", "en", format!("Room {room}"))],
//!             features: Default::default(),
//!             extensions: vec![],
//!         })
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = Config::default();
//! config.own_jid = Some("conference.capulet.example".parse()?);
//! config.stamp_from = true; // a component: it says which of its addresses answers
//! let mut disco = DiscoMachine::new(config);
//! let mut lobby = StaticNode::new();
//! lobby.register_identity("conference", "text", "The lobby")?;
//! disco.add_entity("lobby@conference.capulet.example".parse()?, Entity::new(lobby));
//! disco.set_resolver(Resolver::dynamic(Rooms));
//!
//! let request: Element = "<iq xmlns='jabber:component:accept' type='get' id='q1' \
//!       from='romeo@montague.example/orchard' to='room42@conference.capulet.example'>\
//!       <query xmlns='http://jabber.org/protocol/disco#info'/></iq>".parse()?;
//! let _ = disco.handle_stanza(Instant::now(), request);
//! let answer = disco.poll_transmit().expect("an answer").into_element();
//! assert_eq!(answer.attr("from"), Some("room42@conference.capulet.example"));
//! assert_eq!(answer.attr("type"), Some("result"));
//! # Ok(())
//! # }
//! ```
//!
//! # Long lists and questions about a tree
//!
//! [`query_item_list`](DiscoMachine::query_item_list) reads an item list page after page
//! (XEP-0059) and completes once; the responder pages its own answers when asked (and, with
//! [`Config::max_items_per_answer`], unasked). [`supports`](DiscoMachine::supports),
//! [`find_services`](DiscoMachine::find_services) and [`walk`](DiscoMachine::walk) ask about
//! many entities in one command and complete once, through the cache, with a bound on their
//! IQs in flight and a deadline of their own. One item that fails does not fail a search:
//!
//! ```
//! use std::time::Instant;
//! use xmpp_disco::{DiscoMachine, Event, QueryOptions, ServiceFilter};
//! use xmpp_parsers::minidom::Element;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut disco = DiscoMachine::default();
//! let now = Instant::now();
//! let server = "example.org".parse()?;
//! let muc = ServiceFilter::feature("http://jabber.org/protocol/muc");
//! let search = disco.find_services(now, &server, None, muc, QueryOptions::default())?;
//!
//! // A small world answers: the server lists two services, one of which is down.
//! while let Some(transmit) = disco.poll_transmit() {
//!     let request = transmit.into_element();
//!     let (id, to) = (request.attr("id").unwrap_or_default(), request.attr("to").unwrap_or_default());
//!     let items = request.get_child("query", "http://jabber.org/protocol/disco#items").is_some();
//!     let payload = match (to, items) {
//!         ("example.org", true) => "<query xmlns='http://jabber.org/protocol/disco#items'>\
//!             <item jid='rooms.example.org'/><item jid='down.example.org'/></query>",
//!         ("example.org", false) => "<query xmlns='http://jabber.org/protocol/disco#info'>\
//!             <identity category='server' type='im'/></query>",
//!         ("rooms.example.org", _) => "<query xmlns='http://jabber.org/protocol/disco#info'>\
//!             <identity category='conference' type='text'/>\
//!             <feature var='http://jabber.org/protocol/muc'/></query>",
//!         _ => "<error type='cancel'><service-unavailable \
//!             xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>",
//!     };
//!     let type_ = if payload.starts_with("<error") { "error" } else { "result" };
//!     let reply: Element = format!(
//!         "<iq xmlns='jabber:client' type='{type_}' id='{id}' from='{to}'>{payload}</iq>"
//!     )
//!     .parse()?;
//!     let _ = disco.handle_stanza(now, reply);
//! }
//!
//! let Some(Event::Services { id, result }) = disco.poll_event() else {
//!     unreachable!("one completion for the whole search");
//! };
//! assert_eq!(id, search);
//! let services = result?;
//! assert_eq!(services.found[0].item.jid.as_str(), "rooms.example.org");
//! assert_eq!(services.not_answered[0].item.jid.as_str(), "down.example.org");
//! # Ok(())
//! # }
//! ```
//!
//! # Entity capabilities
//!
//! Clients announce what they support in presence (XEP-0115, and XEP-0390 after it), so that
//! their contacts need not ask each of them at login. The machine does both sides.
//!
//! **Announcing.** With [`Config::caps_node`] set, the root advertises the caps features,
//! [`caps_announcement`](DiscoMachine::caps_announcement) gives the `<c/>` elements to put on
//! presence (computed once per change of the root: re-send presence after
//! [`Event::NodeChanged`] for the root), and the machine answers `disco#info` at the caps
//! nodes (`NODE#VER`, `urn:xmpp:caps#ALGO.HASH`) of the current hash set and the three before
//! it, with the info each was computed from. Other hashes are `item-not-found`.
//!
//! **Learning.** The host shows the machine every presence it receives
//! ([`observe_presence`](DiscoMachine::observe_presence), which consumes nothing) and the
//! server's stream features ([`observe_stream_features`](DiscoMachine::observe_stream_features)).
//! A claim is only a hint. A [`query_info`](DiscoMachine::query_info) of a claiming entity's
//! root (no node, not [fresh](QueryOptions::fresh), not [from](QueryOptions::with_from) another
//! address), and so [`supports`](DiscoMachine::supports) and the other questions:
//!
//! * completes from the hash cache, sending nothing, when one of the hashes the entity's
//!   latest presence claimed was verified before (XEP-0390 §7.2: no other hash is used for it);
//!   every entity with that hash shares one [`Arc`](std::sync::Arc);
//! * otherwise asks that entity at the caps node, one request per hash however many entities
//!   claim it (the others join it), and verifies the answer **as received**, before anything can
//!   merge its duplicates, each XEP by its own text: its hash must equal the claim, under
//!   XEP-0115 §5.4's rules (in their step order: no identity, feature or `FORM_TYPE` twice, a
//!   single-valued `FORM_TYPE`) or XEP-0390 §4.1's. Only then is it stored, under every hash the
//!   entity claimed that it stands for, and it answers every query waiting on a claimant of the
//!   hash. An answer that fails answers the entity that gave it (it is what that entity says,
//!   cached as its own) and no one else. A malformed answer fails its sender's queries without
//!   a second request; an error at the caps node makes that entity's waiters ask its root. A
//!   liar can never change what other entities are believed to support.
//!
//! Two attacks get answers of their own. **Forged twins**: XEP-0115's string joins strings with
//! `<` and `/`, which the strings may hold, so answers different from a popular program's hash
//! like it (XEP-0115, Security Considerations). An XEP-0115 answer is shared only if it is the
//! one [reading](caps::Reading) of its string, a deterministic parse keeping what XEP-0030 and
//! XEP-0068 allow: since the reading is a function of the string, at most one answer per hash
//! is ever shared, by construction ([`caps`] explains why honest answers are their reading;
//! [`Stats::caps_unshareable`] counts the others). XEP-0390 has one reading per input, and
//! decides where both are claimed. **Silent claimants**: a query waits on another claimant's
//! verification only if it started before the query, and for at most
//! [`Config::caps_verification_timeout`]; when that verification fails (silence, a lie, an
//! error), each entity still waiting is asked itself, once per hash. So no number of silent or
//! lying claimants ahead of an honest one delays its query by more than one verification
//! timeout (plus its own round trip), and a hash costs at most one request per claimant (and
//! one at its root for a claimant whose caps node fails).
//!
//! Nothing is asked until a query needs it (XEP-0115 §6.1), unless [`Config::caps_eager`]; a
//! flood of presences with made-up hashes costs no request and bounded memory
//! ([`Config::caps_claim_capacity`], [`Config::caps_hash_capacity`]). A new hash replaces the
//! entity's cached root info; an unavailable presence forgets the claim.
//! [`export_caps`](DiscoMachine::export_caps) and [`import_caps`](DiscoMachine::import_caps)
//! keep the verified answers across runs; an import verifies each again and says what it took
//! and why it skipped the rest ([`caps::CapsImport`]). A database shipped with the program, such
//! as the public capsdb, loads into a table of its own that nothing evicts
//! ([`caps::CapsStore::Shipped`]). With the `serde` feature, `export_capsdb` and `import_capsdb`
//! do the same in the capsdb's JSON form (`db.json`'s shape, `caps::CapsDbEntry`). [`Stats`]
//! counts what it saved.
//!
//! ```
//! use std::time::Instant;
//! use xmpp_disco::{Config, DiscoMachine, Event, QueryOptions};
//! use xmpp_parsers::minidom::Element;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = Config::default();
//! config.caps_node = Some("https://example.org/balcony".into());
//! let mut disco = DiscoMachine::new(config);
//! let now = Instant::now();
//!
//! // Our presence carries our capabilities.
//! let announcement = disco.caps_announcement().expect("caps are on");
//! let _payloads: Vec<Element> = announcement.elements();
//!
//! // Two contacts on the same client version (XEP-0115 §5.2's example).
//! for contact in ["romeo@montague.example/a", "mercutio@montague.example/b"] {
//!     let presence: Element = format!(
//!         "<presence xmlns='jabber:client' from='{contact}'>\
//!          <c xmlns='http://jabber.org/protocol/caps' hash='sha-1' \
//!             node='http://code.google.com/p/exodus' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/>\
//!          </presence>"
//!     )
//!     .parse()?;
//!     disco.observe_presence_element(now, &presence);
//! }
//! let romeo = "romeo@montague.example/a".parse()?;
//! let mercutio = "mercutio@montague.example/b".parse()?;
//! disco.query_info(now, &romeo, None, QueryOptions::default())?;
//! disco.query_info(now, &mercutio, None, QueryOptions::default())?;
//!
//! // One request for both, at the caps node; Romeo answers it.
//! let request = disco.poll_transmit().expect("one request").into_element();
//! assert!(disco.poll_transmit().is_none());
//! let node = request.get_child("query", "http://jabber.org/protocol/disco#info")
//!     .and_then(|query| query.attr("node"));
//! assert_eq!(node, Some("http://code.google.com/p/exodus#QgayPKawpkPSDYmwT/WM94uAlu0="));
//! let reply: Element = format!(
//!     "<iq xmlns='jabber:client' type='result' id='{}' from='romeo@montague.example/a'>\
//!      <query xmlns='http://jabber.org/protocol/disco#info' node='{}'>\
//!      <identity category='client' type='pc' name='Exodus 0.9.1'/>\
//!      <feature var='http://jabber.org/protocol/caps'/>\
//!      <feature var='http://jabber.org/protocol/disco#info'/>\
//!      <feature var='http://jabber.org/protocol/disco#items'/>\
//!      <feature var='http://jabber.org/protocol/muc'/></query></iq>",
//!     request.attr("id").unwrap_or_default(),
//!     node.unwrap_or_default(),
//! )
//! .parse()?;
//! let _ = disco.handle_stanza(now, reply);
//!
//! // Verified: both complete with one shared answer.
//! let mut answers = Vec::new();
//! while let Some(Event::Info { result, .. }) = disco.poll_event() {
//!     answers.push(result?);
//! }
//! assert_eq!(answers.len(), 2);
//! assert!(std::sync::Arc::ptr_eq(&answers[0], &answers[1]));
//! assert_eq!(disco.stats().caps_verified, 1);
//! # Ok(())
//! # }
//! ```
//!
//! # Stanza forms
//!
//! Stanzas come in as [`minidom::Element`](xmpp_parsers::minidom::Element)
//! ([`handle_stanza`](DiscoMachine::handle_stanza)) or as typed [`Iq`](xmpp_parsers::iq::Iq)
//! values, the form tokio-xmpp uses ([`handle_iq`](DiscoMachine::handle_iq)); both take one
//! path through the machine. Incoming stanzas are recognised from their envelope before
//! anything is parsed, so stanzas that are not the machine's business cost a few attribute
//! reads.
//!
//! Stanzas go out as one type, [`Transmit`], drained with
//! [`poll_transmit`](DiscoMachine::poll_transmit); the host takes each in the form its stream
//! wants: [`into_element`](Transmit::into_element), [`into_iq`](Transmit::into_iq), or
//! [`write_to`](Transmit::write_to) its own buffer (the fastest: an answer's payload is
//! serialised once per change of its node). All three say the same thing.
//!
//! # Host text
//!
//! XML cannot carry every Unicode character (control characters other than tab, line feed and
//! carriage return, U+FFFE, U+FFFF). Every string the host hands the machine that will end up
//! in a stanza (nodes in queries and mounts, features, identities, items, forms, the answers of
//! dynamic and deferred nodes, the ids of typed IQs) is checked when it comes in: a command
//! refuses bad text with [`InvalidText`] (inside [`InvalidArgument`], [`RegistryError`] or
//! [`ResponseError`]) and changes nothing; a [dynamic node](DynamicNode)'s bad answer is
//! `internal-server-error` to the requester and [`Event::InvalidAnswer`] to the host. Every
//! address is a [`Jid`](xmpp_parsers::jid::Jid), which cannot hold such characters. So what
//! the machine queues can always be sent, in every form.
//!
//! # Panics
//!
//! The machine does not panic, whatever the host or the network hands it: stanzas are hostile
//! until checked, host text is checked at the door, and no `unwrap`, `expect` or indexing
//! touches what either controls. The tests prove it the way it can be proved: property tests
//! against reference models with hostile text in every host string, and fuzz targets
//! (`fuzz/`) that feed arbitrary stanzas and operation sequences, take every stanza sent in all
//! three forms and check that a stanza handed over as an element and as a typed IQ gives the
//! same answers, events and statistics.
//!
//! # Logs
//!
//! The machine tells what it rejects and refuses through the `log` facade, the one tokio-xmpp
//! and the rest of the Rust XMPP stack log through: it does no I/O and formats nothing while
//! no logger is installed, and the library installs none. Every line is at `debug` (each is
//! about one stanza), under a target named by module (`xmpp_disco::requester`,
//! `xmpp_disco::requester::caps`, `xmpp_disco::responder`): replies ignored (an id no request
//! waits for, a sender other than the entity asked), replies that are no answer of the kind
//! asked, an answer for a capabilities hash not shared and why (not its claim, or not the
//! reading of its string, with the hash and the entity), a verification that waited its time,
//! requests refused and why (a `set`, the policy, no such node, ...) or that cannot be
//! answered, queries timed out. The tokio-xmpp session logs its lifecycle at `info` and its
//! troubles at `warn` (the `client` module, with the `tokio-xmpp` feature).
//!
//! # The machine's methods
//!
//! [`DiscoMachine`]'s methods come in groups, one per job, each documented together on its
//! page:
//!
//! | group | methods |
//! |---|---|
//! | the run loop: stanzas, time and what to send | [`handle_stanza`](DiscoMachine::handle_stanza) (or [`handle_iq`](DiscoMachine::handle_iq)), [`handle_timeout`](DiscoMachine::handle_timeout), [`poll_transmit`](DiscoMachine::poll_transmit), [`poll_event`](DiscoMachine::poll_event), [`poll_timeout`](DiscoMachine::poll_timeout); [`new`](DiscoMachine::new), [`config`](DiscoMachine::config), [`set_own_jid`](DiscoMachine::set_own_jid), [`stats`](DiscoMachine::stats) |
//! | asking other entities | [`query_info`](DiscoMachine::query_info), [`query_items`](DiscoMachine::query_items), [`query_items_page`](DiscoMachine::query_items_page), [`query_item_list`](DiscoMachine::query_item_list), [`cancel`](DiscoMachine::cancel); priming: [`set_info_cache`](DiscoMachine::set_info_cache), [`prime_info_pending`](DiscoMachine::prime_info_pending), [`prime_info_lazy`](DiscoMachine::prime_info_lazy), [`complete_prime`](DiscoMachine::complete_prime), [`fail_prime`](DiscoMachine::fail_prime); the cache: [`peek_info`](DiscoMachine::peek_info), [`peek_items`](DiscoMachine::peek_items), [`flush_cache`](DiscoMachine::flush_cache); [`stream_destroyed`](DiscoMachine::stream_destroyed) |
//! | questions about a tree | [`supports`](DiscoMachine::supports), [`find_services`](DiscoMachine::find_services), [`walk`](DiscoMachine::walk) |
//! | answering others: the registry | [`root`](DiscoMachine::root), [`root_mut`](DiscoMachine::root_mut), [`node`](DiscoMachine::node), [`node_mut`](DiscoMachine::node_mut), [`mount`](DiscoMachine::mount), [`unmount`](DiscoMachine::unmount), [`set_policy`](DiscoMachine::set_policy), [`clear_policy`](DiscoMachine::clear_policy); deferred nodes: [`respond_info`](DiscoMachine::respond_info), [`respond_items`](DiscoMachine::respond_items), [`respond_error`](DiscoMachine::respond_error) |
//! | answering for many addresses | [`add_entity`](DiscoMachine::add_entity), [`remove_entity`](DiscoMachine::remove_entity), [`entity`](DiscoMachine::entity), [`entity_mut`](DiscoMachine::entity_mut), [`set_resolver`](DiscoMachine::set_resolver), [`clear_resolver`](DiscoMachine::clear_resolver) |
//! | entity capabilities | [`caps_announcement`](DiscoMachine::caps_announcement), [`observe_presence`](DiscoMachine::observe_presence), [`observe_presence_element`](DiscoMachine::observe_presence_element), [`observe_stream_features`](DiscoMachine::observe_stream_features), [`export_caps`](DiscoMachine::export_caps), [`import_caps`](DiscoMachine::import_caps) (and, with `serde`, `export_capsdb`, `import_capsdb`) |
//!
//! # Inside
//!
//! Each folder (or file) under `src/` is a room with one job, and a room only uses the rooms
//! listed before it (rooms on one line use none of each other); `.ci/module-graph` checks this
//! table against the code's imports, and that no files import each other in a loop.
//!
//! | room | its job |
//! |---|---|
//! | `ids`, `query`, `options`, `stats` | the names the machine hands out; what disco talks about ([`QueryKind`], [`IdentityView`]); what a command asks with ([`QueryOptions`], [`ServiceFilter`]); the counters |
//! | `error` | every typed error |
//! | `text`, `results` | the door for host text: what XML can carry; what queries and questions complete with ([`ItemList`], [`Support`], [`Services`], [`Walk`]) |
//! | `write` | writing: [`Transmit`] and its three forms; `write::payload` builds answers, `write::prepared` keeps their bytes |
//! | `read` | reading received stanzas, as elements or typed IQs alike: envelopes, requests, stanza errors; `read::result` reads disco results |
//! | `caps` | entity capabilities hashes (XEP-0115, XEP-0390): answers read as received, their hashes, the claims in presence, the own announcement |
//! | `config` | the settings ([`Config`]) |
//! | `event` | what the machine reports ([`Event`]) |
//! | `outbox` | what the machine produced and the host has not drained, and the [`Stats`] |
//! | `requester` | queries to others: the cache (`lru`), requests in flight and their waiters (`numbered`), deadlines (`timers`), whose a completion is (`delivery`), item lists read page by page (`list`), entity capabilities learned and verified (`learned`, `caps`) |
//! | `tree`, `responder` | questions about a tree, asked through the requester (`flight`, one file per question); answers to others: a request's path (`mod`), who answers an address (`addresses`), [`StaticNode`]s (`node`), mounts and the edit guard (`mount`), [`DynamicNode`]s (`dynamic`), [`Entity`] and [`Resolver`] (`entity`), answer bodies (`body`), paging (`page`), refusals (`refusal`), deferred requests (`deferred`), the own caps nodes (`caps`) |
//! | `machine` | [`DiscoMachine`]: the run loop and the commands, one file per group above |
//! | `client` | the tokio-xmpp session (feature `tokio-xmpp`): logging in (`login`, `server`, `error`), the driver and what it shares with the handles (`driver`, `shared`, `handle`), reconnecting (`reconnect`, `backoff`), the events (`events`) |
//!
//! [XEP-0030]: https://xmpp.org/extensions/xep-0030.html

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod caps;
#[cfg(feature = "tokio-xmpp")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-xmpp")))]
pub mod client;
mod config;
mod error;
mod event;
mod ids;
mod machine;
mod options;
mod outbox;
mod query;
mod read;
mod requester;
mod responder;
mod results;
mod stats;
mod text;
mod tree;
mod write;

pub use config::Config;
pub use error::{
    InvalidArgument, InvalidText, MalformedReply, QueryError, RegistryError, ResponseError,
    TextField, WriteError,
};
pub use event::{Event, ReceivedRequest};
pub use ids::{PrimeHandle, RequestId, ResponseHandle};
pub use machine::DiscoMachine;
pub use options::{QueryOptions, ServiceFilter, Timeout};
pub use query::{IdentityView, QueryKind};
pub use read::Handled;
pub use requester::Cached;
pub use responder::{
    DynamicNode, Entity, EntityMut, IdentityNames, ItemsPage, Node, NodeMut, RequestContext,
    Resolver, StaticNode,
};
pub use results::{Found, ItemList, NotAnswered, Services, Support, Visited, Walk};
pub use stats::Stats;
pub use write::{StanzaNamespace, Transmit};

/// The wire-type crates this crate speaks, re-exported so that hosts use the same versions.
pub use xmpp_parsers;
