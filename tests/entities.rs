//! Answering for many addresses: registered entities, the resolver, and which one a request
//! reaches. Stanza XML in, stanza XML out, as a XEP-0114 component sees them.

mod support;

use std::sync::{Arc, Mutex};

use support::*;
use xmpp_disco::xmpp_parsers::disco::{DiscoInfoResult, Identity, Item};
use xmpp_disco::xmpp_parsers::jid::Jid;
use xmpp_disco::xmpp_parsers::minidom::rxml::Namespace;
use xmpp_disco::xmpp_parsers::minidom::Element;
use xmpp_disco::{
    Config, DynamicNode, Entity, Event, Node, QueryKind, QueryOptions, RegistryError,
    RequestContext, Resolver, StanzaNamespace, StaticNode,
};

const SERVICE: &str = "conference.capulet.example";
const BALCONY: &str = "balcony@conference.capulet.example";
const GARDEN: &str = "garden@conference.capulet.example";
const ROMEO: &str = "romeo@montague.example/orchard";

/// A component answering for [`SERVICE`]: its root names the service.
fn component() -> Harness {
    let mut config = Config::default();
    config.own_jid = Some(jid(SERVICE));
    config.stamp_from = true;
    config.stanza_namespace = StanzaNamespace::ComponentAccept;
    let mut h = Harness::with_config(config);
    let mut root = h.machine.root_mut();
    root.register_identity("conference", "text", "Chatrooms")
        .unwrap();
    root.unregister_identity("client", "bot").unwrap();
    drop(root);
    h.machine
        .mount("service-only", StaticNode::default_root())
        .unwrap();
    std::iter::from_fn(|| h.machine.poll_event()).for_each(drop);
    h
}

/// A node naming a room `name`.
fn room_node(name: &str) -> StaticNode {
    let mut root = StaticNode::new();
    root.register_identity("conference", "text", name).unwrap();
    root.register_feature("http://jabber.org/protocol/muc")
        .unwrap();
    root
}

/// A room named `name`.
fn room(name: &str) -> Entity {
    Entity::new(room_node(name))
}

/// A `get` for `namespace` at `node`, from [`ROMEO`] to `to`.
fn get(namespace: &str, to: &str, node: Option<&str>, id: &str) -> Element {
    let node = node.map(|n| format!(" node='{n}'")).unwrap_or_default();
    element(&format!(
        "<iq xmlns='jabber:component:accept' type='get' id='{id}' from='{ROMEO}' to='{to}'>\
         <query xmlns='{namespace}'{node}/></iq>"
    ))
}

fn answer(h: &mut Harness, request: Element) -> Element {
    assert!(h.feed(0, request).is_consumed());
    h.sent_one()
}

/// The expected stanza error from `from` for request `id`.
fn error_from(from: &str, id: &str, condition: &str) -> Element {
    element(&format!(
        "<iq xmlns='jabber:component:accept' type='error' id='{id}' from='{from}' to='{ROMEO}'>\
         <error type='cancel'><{condition} xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
    ))
}

/// The identity names and features of an info answer.
fn info_of(reply: &Element) -> (Vec<String>, Vec<String>) {
    assert_eq!(reply.attr("type"), Some("result"), "{reply:?}");
    let query = reply.children().next().expect("a payload");
    let names = query
        .children()
        .filter(|child| child.name() == "identity")
        .filter_map(|child| child.attr("name").map(str::to_owned))
        .collect();
    let features = query
        .children()
        .filter(|child| child.name() == "feature")
        .filter_map(|child| child.attr("var").map(str::to_owned))
        .collect();
    (names, features)
}

#[test]
fn each_address_answers_from_its_own_registry_and_from_itself() {
    let mut h = component();
    h.machine.add_entity(jid(BALCONY), room("The balcony"));
    h.machine
        .entity_mut(&jid(BALCONY))
        .unwrap()
        .mount("topics", room_node("Topics"))
        .unwrap();

    let reply = answer(&mut h, get(INFO, BALCONY, None, "b1"));
    assert_eq!(reply.attr("from"), Some(BALCONY));
    assert_eq!(reply.attr("to"), Some(ROMEO));
    assert_eq!(info_of(&reply).0, ["The balcony"]);

    let reply = answer(&mut h, get(INFO, SERVICE, None, "s1"));
    assert_eq!(reply.attr("from"), Some(SERVICE));
    assert_eq!(info_of(&reply).0, ["Chatrooms"]);

    // A node of one address is no node of another.
    let reply = answer(&mut h, get(INFO, BALCONY, Some("topics"), "b2"));
    assert_eq!(info_of(&reply).0, ["Topics"]);
    assert_eq!(
        answer(&mut h, get(INFO, SERVICE, Some("topics"), "s2")),
        error_from(SERVICE, "s2", "item-not-found")
    );
    assert_eq!(
        answer(&mut h, get(INFO, BALCONY, Some("service-only"), "b3")),
        error_from(BALCONY, "b3", "item-not-found")
    );
}

#[test]
fn an_address_nobody_serves_is_item_not_found_from_that_address() {
    let mut h = component();
    h.machine.add_entity(jid(BALCONY), room("The balcony"));
    for (namespace, id) in [(INFO, "g1"), (ITEMS, "g2")] {
        assert_eq!(
            answer(&mut h, get(namespace, GARDEN, None, id)),
            error_from(GARDEN, id, "item-not-found")
        );
    }
    // Once the room is gone, it is nobody's either.
    assert!(h.machine.remove_entity(&jid(BALCONY)).is_some());
    assert!(h.machine.remove_entity(&jid(BALCONY)).is_none());
    assert_eq!(
        answer(&mut h, get(INFO, BALCONY, None, "b1")),
        error_from(BALCONY, "b1", "item-not-found")
    );
}

#[test]
fn a_component_answers_only_for_its_own_address_until_it_serves_more() {
    let mut h = component();
    let reply = answer(&mut h, get(INFO, SERVICE, None, "s1"));
    assert_eq!(reply.attr("from"), Some(SERVICE));
    assert_eq!(info_of(&reply).0, ["Chatrooms"]);
    assert_eq!(
        answer(&mut h, get(INFO, GARDEN, None, "g1")),
        error_from(GARDEN, "g1", "item-not-found")
    );
}

#[test]
fn a_client_answers_whatever_the_to() {
    // A client's server delivers only what is the client's: even addressed to a JID the
    // machine was not told (before its resource is bound), the request is for its own root.
    let mut h = Harness::new();
    let request = element(&format!(
        "<iq xmlns='jabber:client' type='get' id='c1' from='{ROMEO}' to='juliet@capulet.example/balcony'>\
         <query xmlns='{INFO}'/></iq>"
    ));
    let reply = answer(&mut h, request);
    assert_eq!(reply.attr("type"), Some("result"));
    assert_eq!(
        reply.attr("from"),
        None,
        "the server stamps a client's stanzas"
    );
}

#[test]
fn a_request_without_to_is_for_the_own_address() {
    let mut h = component();
    h.machine.add_entity(jid(BALCONY), room("The balcony"));
    h.machine.set_resolver(Resolver::Deferred);
    let request = element(&format!(
        "<iq xmlns='jabber:component:accept' type='get' id='n1' from='{ROMEO}'>\
         <query xmlns='{INFO}'/></iq>"
    ));
    let reply = answer(&mut h, request);
    assert_eq!(reply.attr("from"), Some(SERVICE));
    assert_eq!(info_of(&reply).0, ["Chatrooms"]);
}

/// Rooms `room0` .. `room9999` of [`SERVICE`], each with a `members` node; records every
/// address it was asked about.
#[derive(Default, Clone)]
struct Rooms {
    asked: Arc<Mutex<Vec<Asked>>>,
}

/// An address and node the resolver was asked about.
type Asked = (Option<Jid>, Option<String>);

impl Rooms {
    fn number(request: &RequestContext<'_>) -> Option<u32> {
        let to = request.to?;
        if to.domain().as_str() != SERVICE {
            return None;
        }
        to.node()?
            .as_str()
            .strip_prefix("room")?
            .parse()
            .ok()
            .filter(|n| *n < 10_000)
    }

    fn record(&self, request: &RequestContext<'_>) {
        self.asked
            .lock()
            .unwrap()
            .push((request.to.cloned(), request.node.map(str::to_owned)));
    }
}

impl DynamicNode for Rooms {
    fn info(&self, request: &RequestContext<'_>) -> Option<DiscoInfoResult> {
        self.record(request);
        let number = Rooms::number(request)?;
        let name = match request.node {
            None => format!("Room {number}"),
            Some("members") => format!("Members of room {number}"),
            Some(_) => return None,
        };
        Some(DiscoInfoResult {
            node: None,
            identities: vec![Identity::new("conference", "text", "en", name)],
            features: ["http://jabber.org/protocol/muc".to_owned()].into(),
            extensions: vec![],
        })
    }

    fn items(&self, request: &RequestContext<'_>) -> Option<Vec<Item>> {
        self.record(request);
        let number = Rooms::number(request)?;
        request.node.is_none().then(|| {
            vec![Item {
                jid: jid(&format!("room{number}@{SERVICE}/juliet")),
                node: None,
                name: Some("Juliet".into()),
            }]
        })
    }
}

#[test]
fn the_resolver_answers_for_the_addresses_it_serves_and_only_those() {
    let mut h = component();
    let rooms = Rooms::default();
    h.machine.set_resolver(Resolver::dynamic(rooms.clone()));
    h.machine.add_entity(jid(BALCONY), room("The balcony"));

    let room7 = format!("room7@{SERVICE}");
    let reply = answer(&mut h, get(INFO, &room7, None, "r1"));
    assert_eq!(reply.attr("from"), Some(room7.as_str()));
    assert_eq!(info_of(&reply).0, ["Room 7"]);
    let reply = answer(&mut h, get(INFO, &room7, Some("members"), "r2"));
    assert_eq!(info_of(&reply).0, ["Members of room 7"]);
    assert_eq!(
        reply.children().next().unwrap().attr("node"),
        Some("members")
    );
    let reply = answer(&mut h, get(ITEMS, &room7, None, "r3"));
    assert_eq!(reply.attr("type"), Some("result"));
    assert_eq!(
        reply.children().next().unwrap().children().count(),
        1,
        "{reply:?}"
    );

    // What the resolver does not serve reads as a room that does not exist.
    let room_far = format!("room10000@{SERVICE}");
    assert_eq!(
        answer(&mut h, get(INFO, &room_far, None, "r4")),
        error_from(&room_far, "r4", "item-not-found")
    );
    assert_eq!(
        answer(&mut h, get(ITEMS, &room_far, None, "r5")),
        error_from(&room_far, "r5", "item-not-found")
    );

    // The own address and registered entities never reach the resolver.
    info_of(&answer(&mut h, get(INFO, SERVICE, None, "s1")));
    info_of(&answer(&mut h, get(INFO, BALCONY, None, "b1")));
    let asked = rooms.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 5, "{asked:?}");
    assert!(asked.iter().all(|(to, _)| to
        .as_ref()
        .is_some_and(|to| to.as_str() != SERVICE && to.as_str() != BALCONY)));

    // Without the resolver, its addresses are nobody's.
    h.machine.clear_resolver();
    assert_eq!(
        answer(&mut h, get(INFO, &room7, None, "r6")),
        error_from(&room7, "r6", "item-not-found")
    );
}

#[test]
fn a_deferred_resolver_hands_over_the_address_and_answers_from_it() {
    let mut h = component();
    h.machine.set_resolver(Resolver::Deferred);
    assert!(h.feed(0, get(INFO, GARDEN, Some("n"), "d1")).is_consumed());
    assert!(h.sent().is_empty());
    let Some(Event::DeferredRequest { handle, request }) = h.machine.poll_event() else {
        panic!("no deferred request");
    };
    assert_eq!(request.kind, QueryKind::Info);
    assert_eq!(request.to, Some(jid(GARDEN)));
    assert_eq!(request.node.as_deref(), Some("n"));
    h.machine
        .respond_info(
            handle,
            DiscoInfoResult {
                node: None,
                identities: vec![Identity::new("conference", "text", "en", "Garden")],
                features: Default::default(),
                extensions: vec![],
            },
        )
        .unwrap();
    let reply = h.sent_one();
    assert_eq!(reply.attr("from"), Some(GARDEN));
    assert_eq!(reply.attr("id"), Some("d1"));
    assert_eq!(info_of(&reply).0, ["Garden"]);
}

#[test]
fn the_policy_sees_the_address_asked() {
    let mut h = component();
    h.machine.add_entity(jid(BALCONY), room("The balcony"));
    h.machine.add_entity(jid(GARDEN), room("The garden"));
    // The garden is private: strangers learn nothing about it, not even that it exists.
    h.machine
        .set_policy(|request| request.to.is_none_or(|to| to.as_str() != GARDEN));
    assert_eq!(
        answer(&mut h, get(INFO, GARDEN, None, "g1")),
        error_from(GARDEN, "g1", "service-unavailable")
    );
    info_of(&answer(&mut h, get(INFO, BALCONY, None, "b1")));
}

#[test]
fn entity_changes_name_the_entity_in_their_events() {
    let mut h = component();
    let balcony = jid(BALCONY);
    assert!(h.machine.add_entity(balcony.clone(), room("One")).is_none());
    let replaced = h.machine.add_entity(balcony.clone(), room("Two"));
    assert_eq!(
        replaced.unwrap().root().identities().next().unwrap().name,
        Some("One")
    );
    let events: Vec<Event> = std::iter::from_fn(|| h.machine.poll_event()).collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(|event| matches!(
        event,
        Event::NodeChanged { entity: Some(e), node: None } if *e == balcony
    )));

    let mut entity = h.machine.entity_mut(&balcony).unwrap();
    assert_eq!(entity.jid(), &balcony);
    entity.root_mut().register_feature("urn:xmpp:ping").unwrap();
    entity.mount("topics", Node::Deferred).unwrap();
    assert!(
        entity.node_mut("topics").is_none(),
        "a deferred node has no registry"
    );
    assert_eq!(
        entity.unmount("nothing").unwrap_err(),
        RegistryError::NotMounted("nothing".into())
    );
    entity.unmount("topics").unwrap();
    assert!(entity.node("topics").is_none());
    let events: Vec<Event> = std::iter::from_fn(|| h.machine.poll_event()).collect();
    let named: Vec<Option<&str>> = events
        .iter()
        .map(|event| match event {
            Event::NodeChanged {
                entity: Some(e),
                node,
            } if *e == balcony => node.as_deref(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(named, [None, Some("topics"), Some("topics")]);
    assert_eq!(
        info_of(&answer(&mut h, get(INFO, BALCONY, None, "b1"))).1,
        [
            "http://jabber.org/protocol/disco#info",
            "http://jabber.org/protocol/muc",
            "urn:xmpp:ping"
        ]
    );

    assert!(h.machine.remove_entity(&balcony).is_some());
    assert!(matches!(
        h.machine.poll_event(),
        Some(Event::NodeChanged { entity: Some(e), node: None }) if e == balcony
    ));
    assert!(h.machine.entity(&balcony).is_none());
    assert!(h.machine.entity_mut(&balcony).is_none());
}

// ------------------------------------------------------------------ asking from many addresses

/// [`info_reply`] to `request`, addressed to `to` (a component's replies name their addressee).
fn info_reply_to(request: &Element, to: &str) -> Element {
    let mut reply = info_reply(request, SERVER_INFO);
    reply.set_attr(Namespace::NONE, "to".try_into().unwrap(), to);
    reply
}

fn asking_from(from: &str) -> QueryOptions {
    QueryOptions::default().with_from(jid(from))
}

#[test]
fn a_query_asks_from_the_address_it_names_and_counts_only_replies_to_it() {
    let mut h = component();
    let id = h.info(0, ROMEO, None, asking_from(BALCONY));
    let request = h.sent_one();
    assert_eq!(request.attr("from"), Some(BALCONY));
    assert_eq!(request.attr("to"), Some(ROMEO));

    // The right id and sender, but addressed to another of the component's addresses, or to
    // none: not the answer to the balcony's question.
    for to in [Some(SERVICE), Some(GARDEN), None] {
        let mut reply = info_reply(&request, SERVER_INFO);
        if let Some(to) = to {
            reply.set_attr(Namespace::NONE, "to".try_into().unwrap(), to);
        }
        h.feed_consumed(1, reply);
        assert!(!h.is_completed(id), "a reply to {to:?} counted");
    }
    assert_eq!(h.machine.stats().replies_rejected, 3);
    h.feed_consumed(2, info_reply_to(&request, BALCONY));
    assert_eq!(
        h.completion_of(id).info().identities[0].name.as_deref(),
        Some("Prosody")
    );
}

#[test]
fn the_own_address_asks_from_own_jid_and_counts_only_replies_to_it() {
    let mut h = component();
    let id = h.info(0, ROMEO, None, QueryOptions::default());
    let request = h.sent_one();
    assert_eq!(request.attr("from"), Some(SERVICE));
    h.feed_consumed(1, info_reply_to(&request, BALCONY));
    assert!(!h.is_completed(id));
    h.feed_consumed(2, info_reply_to(&request, SERVICE));
    h.completion_of(id).info();
}

#[test]
fn each_asking_address_has_its_own_cache_and_aliasing() {
    let mut h = component();
    let balcony = h.info(0, ROMEO, None, asking_from(BALCONY));
    let balcony_twin = h.info(0, ROMEO, None, asking_from(BALCONY));
    let garden = h.info(0, ROMEO, None, asking_from(GARDEN));
    // Asking from own_jid is asking from the own address.
    let own = h.info(0, ROMEO, None, QueryOptions::default());
    let own_twin = h.info(0, ROMEO, None, asking_from(SERVICE));
    let sent = h.sent();
    let from: Vec<Option<&str>> = sent.iter().map(|request| request.attr("from")).collect();
    assert_eq!(from, [Some(BALCONY), Some(GARDEN), Some(SERVICE)]);
    assert_eq!(h.machine.stats().aliased, 2);

    for (request, to) in sent.iter().zip([BALCONY, GARDEN, SERVICE]) {
        h.feed_consumed(1, info_reply_to(request, to));
    }
    let completed: Vec<_> = h.completions().into_iter().map(|(id, _)| id).collect();
    assert_eq!(completed, [balcony, balcony_twin, garden, own, own_twin]);
    // Now each address has its answer cached, and only its own.
    let hits = h.machine.stats().cache_hits;
    h.info(2, ROMEO, None, asking_from(GARDEN));
    h.info(2, ROMEO, None, QueryOptions::default());
    assert_eq!(h.machine.stats().cache_hits, hits + 2);
    assert!(h.sent().is_empty());
    assert_eq!(h.completions().len(), 2);
    h.info(
        2,
        ROMEO,
        None,
        asking_from("nursery@conference.capulet.example"),
    );
    assert_eq!(
        h.sent_one().attr("from"),
        Some("nursery@conference.capulet.example")
    );
}
