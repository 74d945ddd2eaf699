//! The responder half on the wire: stanza XML in, stanza XML out.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use support::*;
use xmpp_disco::xmpp_parsers::data_forms::{DataForm, DataFormType, Field, FieldType};
use xmpp_disco::xmpp_parsers::disco::{DiscoInfoResult, DiscoItemsResult, Identity, Item};
use xmpp_disco::xmpp_parsers::iq::Iq;
use xmpp_disco::xmpp_parsers::minidom::Element;
use xmpp_disco::xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};
use xmpp_disco::{
    Config, DynamicNode, Event, Handled, IdentityNames, InvalidArgument, InvalidText, Node,
    QueryKind, RegistryError, RequestContext, ResponseError, StanzaNamespace, StaticNode, Transmit,
};

const ROMEO: &str = "romeo@montague.example/orchard";

/// A `get` for `namespace` at `node` from `from`.
fn get(namespace: &str, node: Option<&str>, from: &str, id: &str) -> Element {
    let node = node.map(|n| format!(" node='{n}'")).unwrap_or_default();
    element(&format!(
        "<iq xmlns='jabber:client' type='get' id='{id}' from='{from}' to='juliet@capulet.example/balcony'>\
         <query xmlns='{namespace}'{node}/></iq>"
    ))
}

/// A typed disco#info `get` from [`ROMEO`], the form tokio-xmpp hands over.
fn typed_info_get(id: &str) -> Iq {
    Iq::Get {
        from: Some(support::jid(ROMEO)),
        to: None,
        id: id.into(),
        payload: element(&format!("<query xmlns='{INFO}'/>")),
    }
}

/// Feeds `request` and returns the one stanza answered.
fn answer(h: &mut Harness, request: Element) -> Element {
    assert!(
        h.feed(0, request).is_consumed(),
        "a disco request is consumed"
    );
    h.sent_one()
}

fn error_answer(id: &str, type_: &str, condition: &str) -> Element {
    element(&format!(
        "<iq xmlns='jabber:client' type='error' id='{id}' to='{ROMEO}'>\
         <error type='{type_}'><{condition} xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
    ))
}

fn item(jid: &str, node: Option<&str>, name: Option<&str>) -> Item {
    Item {
        jid: support::jid(jid),
        node: node.map(str::to_owned),
        name: name.map(str::to_owned),
    }
}

fn bench_form() -> DataForm {
    DataForm::new(
        DataFormType::Result_,
        "urn:example:bench",
        vec![
            Field::new("a", FieldType::TextSingle).with_value("1"),
            Field::new("b", FieldType::TextSingle).with_value("2"),
        ],
    )
}

#[test]
fn the_root_answers_info_to_the_sender_with_the_request_id() {
    let mut h = Harness::new();
    let reply = answer(&mut h, get(INFO, None, ROMEO, "info1"));
    assert_eq!(
        reply,
        element(&format!(
            "<iq xmlns='jabber:client' type='result' id='info1' to='{ROMEO}'>\
             <query xmlns='{INFO}'>\
             <identity category='client' type='bot'/>\
             <feature var='{INFO}'/>\
             </query></iq>"
        ))
    );
    assert_eq!(h.machine.stats().requests_answered, 1);
}

#[test]
fn identities_keep_their_languages_and_names_and_forms_go_out_as_results() {
    let mut h = Harness::new();
    {
        let mut root = h.machine.root_mut();
        root.register_identity(
            "client",
            "pc",
            [(Some("en"), "Bench Bot"), (Some("de"), "Prüfbot")],
        )
        .unwrap();
        root.unregister_identity("client", "bot").unwrap();
        root.register_feature("urn:xmpp:ping").unwrap();
        root.register_feature("jabber:iq:version").unwrap();
        root.set_form(bench_form()).unwrap();
    }
    let reply = answer(&mut h, get(INFO, None, ROMEO, "i2"));
    let expected = element(&format!(
        "<iq xmlns='jabber:client' type='result' id='i2' to='{ROMEO}'>\
         <query xmlns='{INFO}'>\
         <identity category='client' type='pc' xml:lang='de' name='Prüfbot'/>\
         <identity category='client' type='pc' xml:lang='en' name='Bench Bot'/>\
         <feature var='{INFO}'/>\
         <feature var='jabber:iq:version'/>\
         <feature var='urn:xmpp:ping'/>\
         <x xmlns='jabber:x:data' type='result'>\
         <field var='FORM_TYPE' type='hidden'><value>urn:example:bench</value></field>\
         <field var='a'><value>1</value></field>\
         <field var='b'><value>2</value></field>\
         </x></query></iq>"
    ));
    assert_eq!(reply, expected);
    // And a requester reads back exactly what was registered.
    let info = DiscoInfoResult::try_from(reply.get_child("query", INFO).unwrap().clone()).unwrap();
    assert_eq!(info.identities.len(), 2);
    assert_eq!(info.identities[0].lang.as_deref(), Some("de"));
    assert_eq!(info.extensions[0].form_type(), Some("urn:example:bench"));
}

#[test]
fn a_mounted_node_answers_with_its_node_mirrored() {
    let mut h = Harness::new();
    let mut node = StaticNode::new();
    node.register_identity("hierarchy", "branch", "Music")
        .unwrap();
    node.set_items(vec![
        item(
            "juliet@capulet.example/balcony",
            Some("music/beatles"),
            Some("The Beatles"),
        ),
        item("juliet@capulet.example/balcony", Some("music/stones"), None),
    ])
    .unwrap();
    assert!(h.machine.mount("music", node).unwrap().is_none());

    let info = answer(&mut h, get(INFO, Some("music"), ROMEO, "m1"));
    assert_eq!(
        info,
        element(&format!(
            "<iq xmlns='jabber:client' type='result' id='m1' to='{ROMEO}'>\
             <query xmlns='{INFO}' node='music'>\
             <identity category='hierarchy' type='branch' name='Music'/>\
             <feature var='{INFO}'/><feature var='{RSM}'/></query></iq>"
        ))
    );
    let items = answer(&mut h, get(ITEMS, Some("music"), ROMEO, "m2"));
    assert_eq!(
        items,
        element(&format!(
            "<iq xmlns='jabber:client' type='result' id='m2' to='{ROMEO}'>\
             <query xmlns='{ITEMS}' node='music'>\
             <item jid='juliet@capulet.example/balcony' node='music/beatles' name='The Beatles'/>\
             <item jid='juliet@capulet.example/balcony' node='music/stones'/>\
             </query></iq>"
        ))
    );
}

#[test]
fn a_node_without_items_answers_an_empty_query() {
    let mut h = Harness::new();
    let reply = answer(&mut h, get(ITEMS, None, ROMEO, "e1"));
    assert_eq!(
        reply,
        element(&format!(
            "<iq xmlns='jabber:client' type='result' id='e1' to='{ROMEO}'><query xmlns='{ITEMS}'/></iq>"
        ))
    );
}

#[test]
fn unknown_nodes_and_nodes_without_identity_are_item_not_found() {
    let mut h = Harness::new();
    assert_eq!(
        answer(&mut h, get(INFO, Some("nowhere"), ROMEO, "u1")),
        error_answer("u1", "cancel", "item-not-found")
    );
    assert_eq!(
        answer(&mut h, get(ITEMS, Some("nowhere"), ROMEO, "u2")),
        error_answer("u2", "cancel", "item-not-found")
    );
    h.machine.mount("bare", StaticNode::new()).unwrap();
    assert_eq!(
        answer(&mut h, get(INFO, Some("bare"), ROMEO, "u3")),
        error_answer("u3", "cancel", "item-not-found")
    );
    // Its items are still answered: an empty list is a result, not an error.
    let items = answer(&mut h, get(ITEMS, Some("bare"), ROMEO, "u4"));
    assert_eq!(items.attr("type"), Some("result"));
    assert_eq!(h.machine.stats().requests_refused, 3);
}

#[test]
fn a_set_a_malformed_query_or_a_bad_node_gets_the_proper_error_and_changes_nothing() {
    let mut h = Harness::new();
    let before = h.machine.root().clone();
    let cases = [
        (
            format!("<iq xmlns='jabber:client' type='set' id='s1' from='{ROMEO}'><query xmlns='{INFO}'><feature var='urn:evil'/></query></iq>"),
            error_answer("s1", "cancel", "service-unavailable"),
        ),
        (
            format!("<iq xmlns='jabber:client' type='set' id='s2' from='{ROMEO}'><query xmlns='{ITEMS}'/></iq>"),
            error_answer("s2", "cancel", "service-unavailable"),
        ),
        (
            format!("<iq xmlns='jabber:client' type='get' id='s3' from='{ROMEO}'><query xmlns='{INFO}'/><query xmlns='{INFO}'/></iq>"),
            error_answer("s3", "modify", "bad-request"),
        ),
        (
            format!("<iq xmlns='jabber:client' type='get' id='s4' from='{ROMEO}'><query xmlns='{INFO}' node=''/></iq>"),
            error_answer("s4", "modify", "bad-request"),
        ),
    ];
    for (request, expected) in cases {
        assert_eq!(answer(&mut h, element(&request)), expected, "{request}");
    }
    assert_eq!(h.machine.root(), &before);
    assert!(
        h.machine.poll_event().is_none(),
        "no event for rejected input"
    );
}

#[test]
fn what_is_not_a_disco_request_is_handed_back() {
    let mut h = Harness::new();
    for xml in [
        format!("<iq xmlns='jabber:client' type='get' id='p1' from='{ROMEO}'><ping xmlns='urn:xmpp:ping'/></iq>"),
        format!("<iq xmlns='jabber:client' type='result' id='r1' from='{ROMEO}'><query xmlns='{INFO}'><identity category='a' type='b'/></query></iq>"),
        format!("<iq xmlns='jabber:client' type='error' id='r2' from='{ROMEO}'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"),
        format!("<message xmlns='jabber:client' from='{ROMEO}'><query xmlns='{INFO}'/></message>"),
        "<iq xmlns='jabber:client' type='get' id='p2'/>".to_owned(),
    ] {
        let stanza = element(&xml);
        assert_eq!(h.feed(0, stanza.clone()), Handled::Unhandled(stanza), "{xml}");
    }
    assert!(h.sent().is_empty(), "nothing is answered");
}

#[test]
fn registry_changes_raise_events_and_failures_do_not() {
    let mut h = Harness::new();
    {
        let mut root = h.machine.root_mut();
        root.register_feature("urn:xmpp:ping").unwrap();
        assert!(root.register_feature("urn:xmpp:ping").is_err());
        assert!(root.register_feature(INFO).is_err());
        assert!(root.unregister_feature(INFO).is_err());
        assert_eq!(
            root.unregister_identity("client", "bot"),
            Err(RegistryError::LastIdentity {
                category: "client".into(),
                type_: "bot".into()
            })
        );
        root.set_items(vec![item("a.example", None, None)]).unwrap();
    }
    let events: Vec<Event> = std::iter::from_fn(|| h.machine.poll_event()).collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(matches!(
        &events[0],
        Event::NodeChanged {
            entity: None,
            node: None
        }
    ));

    h.machine.mount("n", StaticNode::new()).unwrap();
    let _ = h.machine.poll_event();
    h.machine
        .node_mut("n")
        .unwrap()
        .register_identity("pubsub", "leaf", "x")
        .unwrap();
    match h.machine.poll_event() {
        Some(Event::NodeChanged { entity: None, node }) => assert_eq!(node.as_deref(), Some("n")),
        other => panic!("{other:?}"),
    }
}

/// The var of every feature in an info answer.
fn features_of(answer: &Element) -> Vec<String> {
    answer
        .get_child("query", INFO)
        .unwrap()
        .children()
        .filter_map(|c| c.attr("var").map(str::to_owned))
        .collect()
}

#[test]
fn a_leaked_edit_guard_leaves_no_stale_answer() {
    let mut h = Harness::new();
    let root_before = features_of(&answer(&mut h, get(INFO, None, ROMEO, "l1")));
    let mut music = StaticNode::new();
    music
        .register_identity("hierarchy", "branch", "Music")
        .unwrap();
    h.machine.mount("music", music).unwrap();
    let _ = answer(&mut h, get(INFO, Some("music"), ROMEO, "l2"));
    let _ = answer(&mut h, get(ITEMS, Some("music"), ROMEO, "l3"));
    while h.machine.poll_event().is_some() {}

    // Edits whose guards never settle: both answers were built before them.
    let mut root = h.machine.root_mut();
    root.register_feature("urn:xmpp:ping").unwrap();
    std::mem::forget(root);
    let mut node = h.machine.node_mut("music").expect("a static node");
    node.push_item(item("a.example", None, None)).unwrap();
    node.register_feature("urn:xmpp:time").unwrap();
    std::mem::forget(node);

    let root_after = features_of(&answer(&mut h, get(INFO, None, ROMEO, "l4")));
    assert_eq!(root_after.len(), root_before.len() + 1);
    assert!(root_after.iter().any(|var| var == "urn:xmpp:ping"));
    let music_info = answer(&mut h, get(INFO, Some("music"), ROMEO, "l5"));
    assert!(features_of(&music_info)
        .iter()
        .any(|var| var == "urn:xmpp:time"));
    let music_items = answer(&mut h, get(ITEMS, Some("music"), ROMEO, "l6"));
    assert_eq!(
        music_items
            .get_child("query", ITEMS)
            .unwrap()
            .children()
            .count(),
        1
    );
}

#[test]
fn an_edit_that_changes_nothing_keeps_the_built_answer_and_raises_nothing() {
    let mut h = Harness::new();
    let first = answer(&mut h, get(INFO, None, ROMEO, "u1"));
    {
        let mut root = h.machine.root_mut();
        root.register_feature("urn:xmpp:ping").unwrap();
        root.unregister_feature("urn:xmpp:ping").unwrap();
    }
    assert!(h.machine.poll_event().is_none());
    assert_eq!(answer(&mut h, get(INFO, None, ROMEO, "u1")), first);
}

#[test]
fn a_changed_node_is_answered_as_it_is_now() {
    let mut h = Harness::new();
    let first = answer(&mut h, get(INFO, None, ROMEO, "c1"));
    assert_eq!(
        first.get_child("query", INFO).unwrap().children().count(),
        2
    );
    h.machine
        .root_mut()
        .register_feature("urn:xmpp:ping")
        .unwrap();
    let second = answer(&mut h, get(INFO, None, ROMEO, "c2"));
    let features: Vec<_> = second
        .get_child("query", INFO)
        .unwrap()
        .children()
        .filter_map(|c| c.attr("var"))
        .collect();
    assert_eq!(features, vec![INFO, "urn:xmpp:ping"]);
    // The same answer again is the same stanza (built once, reused).
    assert_eq!(answer(&mut h, get(INFO, None, ROMEO, "c2")), second);
    h.machine
        .root_mut()
        .push_item(item("a.example", None, None))
        .unwrap();
    assert!(
        matches!(h.machine.poll_event(), Some(Event::NodeChanged { .. })),
        "a first item is a change of the info: the node now pages its items"
    );
    let items = answer(&mut h, get(ITEMS, None, ROMEO, "c3"));
    assert_eq!(
        items.get_child("query", ITEMS).unwrap().children().count(),
        1
    );
    let third = answer(&mut h, get(INFO, None, ROMEO, "c4"));
    let features: Vec<_> = third
        .get_child("query", INFO)
        .unwrap()
        .children()
        .filter_map(|c| c.attr("var"))
        .collect();
    assert_eq!(features, vec![INFO, RSM, "urn:xmpp:ping"]);
}

#[test]
fn mounting_over_a_name_replaces_the_node_and_unmounting_forgets_it() {
    let mut h = Harness::new();
    let mut first = StaticNode::new();
    first.register_identity("a", "first", "1").unwrap();
    let mut second = StaticNode::new();
    second.register_identity("a", "second", "2").unwrap();
    assert!(h.machine.mount("n", first.clone()).unwrap().is_none());
    match h.machine.mount("n", second).unwrap() {
        Some(Node::Static(replaced)) => assert_eq!(replaced, first),
        other => panic!("{other:?}"),
    }
    let reply = answer(&mut h, get(INFO, Some("n"), ROMEO, "r1"));
    assert_eq!(
        reply
            .get_child("query", INFO)
            .unwrap()
            .get_child("identity", INFO)
            .unwrap()
            .attr("type"),
        Some("second")
    );

    assert!(matches!(h.machine.unmount("n"), Ok(Node::Static(_))));
    assert_eq!(
        h.machine.unmount("n").unwrap_err(),
        RegistryError::NotMounted("n".into())
    );
    assert_eq!(
        answer(&mut h, get(INFO, Some("n"), ROMEO, "r2")),
        error_answer("r2", "cancel", "item-not-found")
    );
    assert_eq!(
        h.machine.mount("", StaticNode::new()).unwrap_err(),
        InvalidArgument::EmptyNode
    );
    let changes = std::iter::from_fn(|| h.machine.poll_event())
        .filter(|e| matches!(e, Event::NodeChanged { entity: None, node: Some(n) } if n == "n"))
        .count();
    assert_eq!(changes, 3, "two mounts and one unmount");
}

/// Answers per requester and language; strangers get nothing.
struct Greeter;

impl DynamicNode for Greeter {
    fn info(&self, request: &RequestContext<'_>) -> Option<DiscoInfoResult> {
        let from = request.from?;
        if from.domain().as_str() != "montague.example" {
            return None;
        }
        let name = match request.lang {
            Some("de") => "Hallo",
            _ => "Hello",
        };
        Some(DiscoInfoResult {
            node: None,
            identities: vec![Identity::new(
                "automation",
                "command-node",
                request.lang.unwrap_or("en"),
                name,
            )],
            features: ["http://jabber.org/protocol/commands".to_owned()]
                .into_iter()
                .collect(),
            extensions: vec![],
        })
    }

    fn items(&self, request: &RequestContext<'_>) -> Option<Vec<Item>> {
        request
            .from
            .map(|from| vec![item(from.as_str(), Some("mirror"), None)])
    }
}

#[test]
fn a_dynamic_node_answers_per_requester_and_language() {
    let mut h = Harness::new();
    h.machine.mount("greet", Node::dynamic(Greeter)).unwrap();
    assert!(
        h.machine.node_mut("greet").is_none(),
        "only static nodes are changed through the machine"
    );

    let mut german = get(INFO, Some("greet"), ROMEO, "d1");
    german.set_attr(
        xmpp_disco::xmpp_parsers::minidom::rxml::Namespace::XML,
        "lang".try_into().unwrap(),
        "de",
    );
    let reply = answer(&mut h, german);
    let info = DiscoInfoResult::try_from(reply.get_child("query", INFO).unwrap().clone()).unwrap();
    assert_eq!(info.node.as_deref(), Some("greet"));
    assert_eq!(info.identities[0].name.as_deref(), Some("Hallo"));
    assert!(info.features.contains(INFO), "disco#info is added");
    assert!(info
        .features
        .contains("http://jabber.org/protocol/commands"));

    assert_eq!(
        answer(&mut h, get(INFO, Some("greet"), "mallory@evil.example/x", "d2")),
        element(
            "<iq xmlns='jabber:client' type='error' id='d2' to='mallory@evil.example/x'>\
             <error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
        )
    );
    let items = answer(&mut h, get(ITEMS, Some("greet"), ROMEO, "d3"));
    let items =
        DiscoItemsResult::try_from(items.get_child("query", ITEMS).unwrap().clone()).unwrap();
    assert_eq!(items.items, vec![item(ROMEO, Some("mirror"), None)]);
    assert_eq!(items.node.as_deref(), Some("greet"));
}

#[test]
fn a_deferred_node_hands_the_request_to_the_host() {
    let mut h = Harness::new();
    h.machine.mount("later", Node::Deferred).unwrap();
    let _ = h.machine.poll_event();
    assert!(h
        .feed(0, get(INFO, Some("later"), ROMEO, "q1"))
        .is_consumed());
    assert!(
        h.sent().is_empty(),
        "nothing is answered before the host does"
    );
    let Some(Event::DeferredRequest { handle, request }) = h.machine.poll_event() else {
        panic!("no deferred request");
    };
    assert_eq!(request.kind, QueryKind::Info);
    assert_eq!(request.from, Some(support::jid(ROMEO)));
    assert_eq!(
        request.to,
        Some(support::jid("juliet@capulet.example/balcony"))
    );
    assert_eq!(request.node.as_deref(), Some("later"));
    assert_eq!(request.lang, None);

    assert_eq!(
        h.machine.respond_items(handle, vec![]),
        Err(ResponseError::WrongKind {
            handle,
            expected: QueryKind::Info
        })
    );
    assert!(h.sent().is_empty());
    let info = DiscoInfoResult {
        node: None,
        identities: vec![Identity::new("client", "pc", "en", "Later")],
        features: Default::default(),
        extensions: vec![],
    };
    h.machine.respond_info(handle, info.clone()).unwrap();
    let reply = h.sent_one();
    assert_eq!(reply.attr("id"), Some("q1"));
    assert_eq!(reply.attr("to"), Some(ROMEO));
    let answered =
        DiscoInfoResult::try_from(reply.get_child("query", INFO).unwrap().clone()).unwrap();
    assert_eq!(answered.node.as_deref(), Some("later"));
    assert_eq!(
        h.machine.respond_info(handle, info),
        Err(ResponseError::UnknownHandle(handle))
    );

    // A stanza error from the host goes back as it is.
    let _ = h.feed(0, get(ITEMS, Some("later"), ROMEO, "q2"));
    let Some(Event::DeferredRequest { handle, .. }) = h.machine.poll_event() else {
        panic!()
    };
    h.machine
        .respond_error(
            handle,
            StanzaError::new(ErrorType::Auth, DefinedCondition::Forbidden, "en", "no"),
        )
        .unwrap();
    let reply = h.sent_one();
    assert_eq!(reply.attr("type"), Some("error"));
    assert!(reply
        .get_child("error", "jabber:client")
        .unwrap()
        .has_child("forbidden", "urn:ietf:params:xml:ns:xmpp-stanzas"));
}

#[test]
fn deferred_requests_are_bounded_and_die_with_the_stream() {
    let mut config = Config::default();
    config.max_deferred = 2;
    let mut h = Harness::with_config(config);
    h.machine.mount("later", Node::Deferred).unwrap();
    let _ = h.machine.poll_event();
    let _ = h.feed(0, get(INFO, Some("later"), ROMEO, "b1"));
    let _ = h.feed(0, get(INFO, Some("later"), ROMEO, "b2"));
    assert!(h.sent().is_empty());
    assert_eq!(
        answer(&mut h, get(INFO, Some("later"), ROMEO, "b3")),
        error_answer("b3", "wait", "resource-constraint")
    );
    let handles: Vec<_> = std::iter::from_fn(|| h.machine.poll_event())
        .filter_map(|e| match e {
            Event::DeferredRequest { handle, .. } => Some(handle),
            _ => None,
        })
        .collect();
    assert_eq!(handles.len(), 2);
    h.machine.stream_destroyed();
    for handle in handles {
        assert_eq!(
            h.machine.respond_error(
                handle,
                StanzaError::new(ErrorType::Cancel, DefinedCondition::ItemNotFound, "en", "x")
            ),
            Err(ResponseError::UnknownHandle(handle))
        );
    }
    assert!(h.sent().is_empty(), "nothing is sent for a dead stream");
    // Room again on the next stream.
    let _ = h.feed(0, get(INFO, Some("later"), ROMEO, "b4"));
    assert!(h.sent().is_empty());
}

#[test]
fn the_policy_refuses_strangers_the_same_way_for_every_node() {
    let mut h = Harness::new();
    h.machine
        .mount("music", {
            let mut node = StaticNode::new();
            node.register_identity("hierarchy", "branch", "Music")
                .unwrap();
            node
        })
        .unwrap();
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&asked);
    h.machine.set_policy(move |request| {
        counter.fetch_add(1, Ordering::Relaxed);
        request
            .from
            .is_none_or(|from| from.domain().as_str() == "montague.example")
    });
    for (node, id) in [(None, "p1"), (Some("music"), "p2"), (Some("nowhere"), "p3")] {
        assert_eq!(
            answer(&mut h, get(INFO, node, "mallory@evil.example/x", id)),
            element(&format!(
                "<iq xmlns='jabber:client' type='error' id='{id}' to='mallory@evil.example/x'>\
                 <error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
            ))
        );
    }
    assert_eq!(
        answer(&mut h, get(INFO, Some("music"), ROMEO, "p4")).attr("type"),
        Some("result")
    );
    // The own server (no `from`) is let through by this policy.
    let reply = answer(
        &mut h,
        element(&format!(
            "<iq xmlns='jabber:client' type='get' id='p5'><query xmlns='{INFO}'/></iq>"
        )),
    );
    assert_eq!(reply.attr("type"), Some("result"));
    assert_eq!(reply.attr("to"), None);
    assert_eq!(asked.load(Ordering::Relaxed), 5);

    h.machine.clear_policy();
    assert_eq!(
        answer(&mut h, get(INFO, None, "mallory@evil.example/x", "p6")).attr("type"),
        Some("result")
    );
}

#[test]
fn typed_requests_get_typed_answers() {
    let mut h = Harness::new();
    assert!(h
        .machine
        .handle_iq(h.at(0), typed_info_get("t1"))
        .is_consumed());
    let Some(Iq::Result {
        to,
        id,
        payload: Some(payload),
        ..
    }) = h.machine.poll_transmit().map(Transmit::into_iq)
    else {
        panic!("no typed result");
    };
    assert_eq!((to, id.as_str()), (Some(support::jid(ROMEO)), "t1"));
    let info = DiscoInfoResult::try_from(payload).unwrap();
    assert_eq!(info.identities[0].type_, "bot");

    let set = Iq::Set {
        from: Some(support::jid(ROMEO)),
        to: None,
        id: "t2".into(),
        payload: element(&format!("<query xmlns='{ITEMS}'/>")),
    };
    assert!(h.machine.handle_iq(h.at(0), set).is_consumed());
    let Some(Iq::Error { error, id, .. }) = h.machine.poll_transmit().map(Transmit::into_iq) else {
        panic!()
    };
    assert_eq!(id, "t2");
    assert_eq!(
        error.defined_condition,
        DefinedCondition::ServiceUnavailable
    );

    let ping = Iq::Get {
        from: None,
        to: None,
        id: "t3".into(),
        payload: element("<ping xmlns='urn:xmpp:ping'/>"),
    };
    assert_eq!(
        h.machine.handle_iq(h.at(0), ping.clone()),
        Handled::Unhandled(ping)
    );
}

#[test]
fn a_component_answers_from_the_address_asked() {
    let mut config = Config::default();
    config.own_jid = Some(support::jid("disco.example.org"));
    config.stamp_from = true;
    config.stanza_namespace = StanzaNamespace::ComponentAccept;
    let mut h = Harness::with_config(config);
    let request = element(&format!(
        "<iq xmlns='jabber:component:accept' type='get' id='c1' from='{ROMEO}' to='disco.example.org'>\
         <query xmlns='{INFO}'/></iq>"
    ));
    let reply = answer(&mut h, request);
    assert!(reply.is("iq", "jabber:component:accept"));
    assert_eq!(reply.attr("type"), Some("result"));
    assert_eq!(reply.attr("from"), Some("disco.example.org"));
    assert_eq!(reply.attr("to"), Some(ROMEO));
    // An address it does not serve (tests/entities.rs has the rest).
    let request = element(&format!(
        "<iq xmlns='jabber:component:accept' type='get' id='c2' from='{ROMEO}' to='room@disco.example.org'>\
         <query xmlns='{INFO}'/></iq>"
    ));
    let reply = answer(&mut h, request);
    assert_eq!(reply.attr("type"), Some("error"));
    assert_eq!(reply.attr("from"), Some("room@disco.example.org"));
}

#[test]
fn a_machine_answers_another_machine() {
    // The requester half of one machine against the responder half of another.
    let mut asker = Harness::new();
    let mut answerer = Harness::new();
    answerer.machine.root_mut().set_form(bench_form()).unwrap();
    let id = asker.info(
        0,
        "juliet@capulet.example/balcony",
        None,
        Default::default(),
    );
    let mut request = asker.sent_one();
    request.set_attr(
        xmpp_disco::xmpp_parsers::minidom::rxml::Namespace::NONE,
        "from".try_into().unwrap(),
        ROMEO,
    );
    let mut reply = answer(&mut answerer, request);
    reply.set_attr(
        xmpp_disco::xmpp_parsers::minidom::rxml::Namespace::NONE,
        "from".try_into().unwrap(),
        "juliet@capulet.example/balcony",
    );
    asker.feed_consumed(1, reply);
    let info = asker.completion_of(id).info().clone();
    assert_eq!(info.identities[0].type_, "bot");
    assert_eq!(info.extensions, vec![bench_form()]);
}

#[test]
fn a_machine_can_move_between_threads() {
    fn assert_send<T: Send>() {}
    assert_send::<xmpp_disco::DiscoMachine>();
    assert_send::<Node>();
}

#[test]
fn answers_say_the_same_in_every_form() {
    let mut config = Config::default();
    config.own_jid = Some(support::jid("pubsub.capulet.example"));
    config.stamp_from = true;
    let mut h = Harness::with_config(config);
    h.machine
        .root_mut()
        .set_form(bench_form())
        .expect("a valid form");
    let mut music = StaticNode::new();
    music
        .register_identity(
            "hierarchy",
            "branch",
            [(Some("en"), "Music & <more>\t\r\n")],
        )
        .unwrap();
    let _ = h.machine.mount("music", music);
    let requests = [
        get(INFO, None, ROMEO, "plain"),
        get(
            INFO,
            Some("music"),
            "romeo@montague.example/a&amp;b&lt;c&apos;",
            "a&amp;b&#9;c",
        ),
        get(ITEMS, Some("music"), ROMEO, "items"),
        get(INFO, Some("nowhere"), ROMEO, "error"),
    ];
    for request in requests {
        let id = request.attr("id").unwrap().to_owned();
        // `answer` takes the stanza as element, typed IQ and bytes, and compares them.
        let reply = answer(&mut h, request);
        assert_eq!(reply.attr("id"), Some(id.as_str()));
        // Stamped: the answer comes from the address the request was sent to.
        assert_eq!(reply.attr("from"), Some("juliet@capulet.example/balcony"));
    }
}

#[test]
fn a_request_whose_address_is_not_a_jid_is_dropped_not_misaddressed() {
    let mut h = Harness::new();
    let request = element(&format!(
        "<iq xmlns='jabber:client' type='get' id='x1' from='a@b@c'><query xmlns='{INFO}'/></iq>"
    ));
    assert!(h.feed(0, request).is_consumed());
    h.assert_quiet();
    assert_eq!(h.machine.stats().requests_dropped, 1);
    assert_eq!(h.machine.stats().requests_answered, 0);

    // A component answers from the address asked: one that is not a JID cannot be answered.
    let mut config = Config::default();
    config.own_jid = Some(support::jid("disco.example.org"));
    config.stamp_from = true;
    let mut h = Harness::with_config(config);
    let request = element(&format!(
        "<iq xmlns='jabber:client' type='get' id='x2' from='{ROMEO}' to='a@b@c'><query xmlns='{INFO}'/></iq>"
    ));
    assert!(h.feed(0, request).is_consumed());
    h.assert_quiet();
    assert_eq!(h.machine.stats().requests_dropped, 1);
}

#[test]
fn an_id_xml_cannot_carry_drops_the_request() {
    let mut h = Harness::new();
    let request = typed_info_get("bad\u{1}id");
    assert!(h.machine.handle_iq(h.at(0), request).is_consumed());
    h.assert_quiet();
    assert_eq!(h.machine.stats().requests_dropped, 1);
    // A host-built element is held to the same rule.
    let mut request = get(INFO, None, ROMEO, "x");
    request.set_attr(
        xmpp_disco::xmpp_parsers::minidom::rxml::Namespace::NONE,
        "id".try_into().unwrap(),
        "bad\u{fffe}",
    );
    assert!(h.feed(0, request).is_consumed());
    h.assert_quiet();
    assert_eq!(h.machine.stats().requests_dropped, 2);
}

#[test]
fn a_query_holding_text_is_a_bad_request_and_unknown_children_are_ignored() {
    let mut h = Harness::new();
    let request = element(&format!(
        "<iq xmlns='jabber:client' type='get' id='t1' from='{ROMEO}'><query xmlns='{INFO}'>hello</query></iq>"
    ));
    assert_eq!(
        answer(&mut h, request),
        error_answer("t1", "modify", "bad-request")
    );
    let request = element(&format!(
        "<iq xmlns='jabber:client' type='get' id='t2' from='{ROMEO}'><query xmlns='{ITEMS}'><set xmlns='http://jabber.org/protocol/rsm'/>x</query></iq>"
    ));
    assert_eq!(
        answer(&mut h, request),
        error_answer("t2", "modify", "bad-request")
    );
    // Layout is not text; an empty list is an empty answer even when a page is asked for
    // (XEP-0059 §2.3).
    let request = element(&format!(
        "<iq xmlns='jabber:client' type='get' id='t3' from='{ROMEO}'><query xmlns='{ITEMS}'>\n           <set xmlns='http://jabber.org/protocol/rsm'><max>10</max></set>\n</query></iq>"
    ));
    let reply = answer(&mut h, request);
    assert_eq!(reply.attr("type"), Some("result"));
    assert_eq!(
        reply.get_child("query", ITEMS).unwrap().children().count(),
        0
    );
}

#[test]
fn registry_text_xml_cannot_carry_is_refused_and_changes_nothing() {
    let mut h = Harness::new();
    let before = h.machine.root().clone();
    let bad = "urn:x\u{1}";
    {
        let mut root = h.machine.root_mut();
        let refused = |result: Result<(), RegistryError>| {
            assert!(
                matches!(
                    result,
                    Err(RegistryError::Text(InvalidText::Character { .. }))
                ),
                "{result:?}"
            )
        };
        refused(root.register_feature(bad));
        refused(root.register_identity(bad, "pc", IdentityNames::new()));
        refused(root.register_identity("client", "\u{ffff}", IdentityNames::new()));
        refused(root.register_identity("client", "pc", [(Some("en"), "Bal\u{0}cony")]));
        refused(root.register_identity("client", "pc", [(Some("e\u{2}n"), "Balcony")]));
        refused(root.set_identity_names("client", "bot", "\u{1b}[31m"));
        refused(root.set_items(vec![item("a.example", Some(bad), None)]));
        refused(root.push_item(item("a.example", None, Some(bad))));
        let mut form = bench_form();
        form.fields[1].values = vec![bad.to_owned()];
        refused(root.set_form(form));
    }
    assert_eq!(h.machine.root(), &before);
    assert!(
        h.machine.poll_event().is_none(),
        "a refused change raises nothing"
    );
    assert!(matches!(
        h.machine.mount(bad, StaticNode::new()),
        Err(InvalidArgument::Text(_))
    ));
    assert!(h.machine.poll_event().is_none());
    // The root still answers, in every form.
    let reply = answer(&mut h, get(INFO, None, ROMEO, "r1"));
    assert_eq!(reply.attr("type"), Some("result"));
}

/// Answers with text XML cannot carry.
struct Broken;

impl DynamicNode for Broken {
    fn info(&self, _: &RequestContext<'_>) -> Option<DiscoInfoResult> {
        Some(DiscoInfoResult {
            node: None,
            identities: vec![Identity::new("client", "pc", "en", "Bad\u{1}name")],
            features: Default::default(),
            extensions: vec![],
        })
    }

    fn items(&self, _: &RequestContext<'_>) -> Option<Vec<Item>> {
        Some(vec![item("a.example", Some("\u{fffe}"), None)])
    }
}

#[test]
fn a_dynamic_answer_xml_cannot_carry_is_an_internal_server_error_the_host_is_told_of() {
    let mut h = Harness::new();
    h.machine.mount("broken", Node::dynamic(Broken)).unwrap();
    let _ = h.machine.poll_event();
    for (namespace, kind, id) in [
        (INFO, QueryKind::Info, "b1"),
        (ITEMS, QueryKind::Items, "b2"),
    ] {
        assert_eq!(
            answer(&mut h, get(namespace, Some("broken"), ROMEO, id)),
            error_answer(id, "cancel", "internal-server-error")
        );
        match h.machine.poll_event() {
            Some(Event::InvalidAnswer { request, error }) => {
                assert_eq!(request.kind, kind);
                assert_eq!(request.from, Some(support::jid(ROMEO)));
                assert_eq!(
                    request.to,
                    Some(support::jid("juliet@capulet.example/balcony"))
                );
                assert_eq!(request.node.as_deref(), Some("broken"));
                assert!(matches!(error, InvalidText::Character { .. }));
            }
            other => panic!("{other:?}"),
        }
    }
    let stats = h.machine.stats();
    assert_eq!((stats.invalid_answers, stats.requests_refused), (2, 2));
}

#[test]
fn a_deferred_answer_xml_cannot_carry_is_refused_and_the_request_still_waits() {
    let mut h = Harness::new();
    h.machine.mount("later", Node::Deferred).unwrap();
    let _ = h.machine.poll_event();
    assert!(h
        .feed(0, get(INFO, Some("later"), ROMEO, "d1"))
        .is_consumed());
    let Some(Event::DeferredRequest { handle, .. }) = h.machine.poll_event() else {
        panic!("no deferred request");
    };
    let bad = DiscoInfoResult {
        node: None,
        identities: vec![Identity::new("client", "pc", "en", "Bad\u{1}")],
        features: Default::default(),
        extensions: vec![],
    };
    assert!(matches!(
        h.machine.respond_info(handle, bad),
        Err(ResponseError::Text { .. })
    ));
    let bad_error = StanzaError::new(ErrorType::Cancel, DefinedCondition::Conflict, "en", "\u{0}");
    assert!(matches!(
        h.machine.respond_error(handle, bad_error),
        Err(ResponseError::Text { .. })
    ));
    // A `gone` or `redirect` condition carries an address as text, which is the host's too.
    let moved = DefinedCondition::Redirect {
        new_address: Some("xmpp:elsewhere\u{1}".into()),
    };
    let redirect = StanzaError::new(ErrorType::Modify, moved, "en", "moved");
    assert!(matches!(
        h.machine.respond_error(handle, redirect),
        Err(ResponseError::Text { .. })
    ));
    h.assert_quiet();
    let good = DiscoInfoResult {
        node: None,
        identities: vec![Identity::new("client", "pc", "en", "Good")],
        features: Default::default(),
        extensions: vec![],
    };
    h.machine.respond_info(handle, good).unwrap();
    assert_eq!(h.sent_one().attr("type"), Some("result"));
}
