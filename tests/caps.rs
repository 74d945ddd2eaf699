//! Entity capabilities, stanza in and stanza out: our own caps announced and answered at the
//! caps nodes; our contacts' caps learned from presence, verified on the received answer, shared
//! by every contact claiming the same hash, and never poisoned by a lie.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::*;
use xmpp_disco::caps::{Algorithm, CapsInfo, CapsStore};
use xmpp_disco::xmpp_parsers::disco::{DiscoInfoResult, Item};
use xmpp_disco::xmpp_parsers::minidom::Element;
use xmpp_disco::xmpp_parsers::presence::Presence;
use xmpp_disco::{Cached, Config, QueryError, QueryOptions, RegistryError, Stats};

const NODE: &str = "https://example.org/balcony";
const CAPS: &str = "http://jabber.org/protocol/caps";
const ECAPS: &str = "urn:xmpp:caps";
const ROMEO: &str = "romeo@montague.example/orchard";
const MERCUTIO: &str = "mercutio@montague.example/street";
const BENVOLIO: &str = "benvolio@montague.example/square";

/// A contact's info: what Romeo's client answers.
const CLIENT: &str = "<identity category='client' type='pc' name='Orchard 1.0'/>\
    <feature var='http://jabber.org/protocol/caps'/>\
    <feature var='http://jabber.org/protocol/disco#info'/>\
    <feature var='http://jabber.org/protocol/muc'/>\
    <feature var='http://jabber.org/protocol/muc#user'/>";

/// Another program's info.
const OTHER_CLIENT: &str = "<identity category='client' type='phone' name='Street 2'/>\
    <feature var='http://jabber.org/protocol/disco#info'/>\
    <feature var='urn:xmpp:ping'/>";

fn query(inner: &str) -> Element {
    element(&format!("<query xmlns='{INFO}'>{inner}</query>"))
}

/// XEP-0115's `ver` of an info body (the hash functions are checked against every XEP example
/// in the crate's unit tests).
fn ver(inner: &str) -> String {
    CapsInfo::from_query(&query(inner)).unwrap().legacy_ver()
}

/// XEP-0390's SHA-256 hash of an info body.
fn sha256(inner: &str) -> String {
    CapsInfo::from_query(&query(inner))
        .unwrap()
        .hash(Algorithm::Sha256)
        .unwrap()
}

fn legacy_c(ver: &str) -> String {
    format!("<c xmlns='{CAPS}' hash='sha-1' node='https://example.org/orchard' ver='{ver}'/>")
}

fn modern_c(hash: &str) -> String {
    format!("<c xmlns='{ECAPS}'><hash xmlns='urn:xmpp:hashes:2' algo='sha-256'>{hash}</hash></c>")
}

fn presence(from: &str, payload: &str) -> Element {
    element(&format!(
        "<presence xmlns='jabber:client' from='{from}' to='juliet@capulet.example/balcony'>{payload}</presence>"
    ))
}

fn unavailable(from: &str) -> Element {
    element(&format!(
        "<presence xmlns='jabber:client' from='{from}' type='unavailable'/>"
    ))
}

/// Shows the machine a presence of `from` claiming `payload`.
fn show(h: &mut Harness, from: &str, payload: &str) {
    let presence = presence(from, payload);
    h.machine.observe_presence_element(h.at(0), &presence);
}

fn root_info(h: &mut Harness, to: &str) -> xmpp_disco::RequestId {
    h.info(0, to, None, QueryOptions::default())
}

/// The `node` a sent query asks for.
fn node_of(request: &Element) -> Option<String> {
    query_of(request, INFO).2
}

fn stats(h: &Harness) -> Stats {
    h.machine.stats()
}

// ------------------------------------------------------------------------------- announcing

fn announcing() -> Harness {
    let mut config = Config::default();
    config.caps_node = Some(NODE.into());
    config.caps_algorithms = vec![Algorithm::Sha256, Algorithm::Sha3_256];
    Harness::with_config(config)
}

/// The machine's answer to a `disco#info` get at `node` (`None`: the root), in `lang`.
fn ask_own(h: &mut Harness, node: Option<&str>, lang: Option<&str>) -> Element {
    let node = node.map(|n| format!(" node='{n}'")).unwrap_or_default();
    let lang = lang.map(|l| format!(" xml:lang='{l}'")).unwrap_or_default();
    let request = element(&format!(
        "<iq xmlns='jabber:client' type='get' id='q' from='{ROMEO}'{lang}>\
         <query xmlns='{INFO}'{node}/></iq>"
    ));
    assert!(h.feed(0, request).is_consumed());
    h.sent_one()
}

fn payload(reply: &Element) -> &Element {
    assert_eq!(reply.attr("type"), Some("result"), "{reply:?}");
    reply.get_child("query", INFO).expect("a query")
}

fn is_item_not_found(reply: &Element) -> bool {
    reply.attr("type") == Some("error")
        && reply
            .get_child("error", "jabber:client")
            .is_some_and(|error| {
                error.has_child("item-not-found", "urn:ietf:params:xml:ns:xmpp-stanzas")
            })
}

/// The caps nodes of the current announcement: XEP-0115's, then XEP-0390's.
fn caps_nodes(h: &mut Harness) -> Vec<String> {
    let caps = h.machine.caps_announcement().expect("caps are on");
    let mut nodes = vec![format!("{NODE}#{}", caps.ver())];
    for hash in &caps.modern().expect("XEP-0390 hashes").hashes {
        nodes.push(format!(
            "urn:xmpp:caps#{}.{}",
            String::from(hash.algo.clone()),
            hash.to_base64()
        ));
    }
    nodes
}

#[test]
fn the_announced_hashes_are_those_of_the_root_answer() {
    let mut h = announcing();
    let root = ask_own(&mut h, None, None);
    let root = payload(&root);
    let features: Vec<_> = root
        .children()
        .filter_map(|child| child.attr("var"))
        .collect();
    assert!(
        features.contains(&CAPS) && features.contains(&ECAPS),
        "{features:?}"
    );

    let answered = CapsInfo::from_query(root).unwrap();
    let caps = h.machine.caps_announcement().unwrap();
    assert_eq!(caps.legacy().node, NODE);
    assert_eq!(caps.ver(), answered.legacy_ver());
    let modern = caps.modern().unwrap();
    let hashes: Vec<String> = modern.hashes.iter().map(|hash| hash.to_base64()).collect();
    assert_eq!(
        hashes,
        [
            answered.hash(Algorithm::Sha256).unwrap(),
            answered.hash(Algorithm::Sha3_256).unwrap()
        ]
    );
    let elements = caps.elements();
    assert!(elements[0].is("c", CAPS) && elements[0].attr("hash") == Some("sha-1"));
    assert!(elements[1].is("c", ECAPS));
}

#[test]
fn the_announcement_is_computed_once_per_change_of_the_root() {
    let mut h = announcing();
    let item = |name: &str| Item {
        jid: jid(name),
        node: None,
        name: None,
    };
    // A first item makes the root advertise RSM: a change of its info.
    let before = h.machine.caps_announcement().unwrap();
    h.machine
        .root_mut()
        .push_item(item("a.capulet.example"))
        .unwrap();
    let first = h.machine.caps_announcement().unwrap();
    assert_ne!(before.ver(), first.ver());
    assert!(Arc::ptr_eq(&first, &h.machine.caps_announcement().unwrap()));
    // More items are not part of caps: the announcement stays.
    h.machine
        .root_mut()
        .push_item(item("b.capulet.example"))
        .unwrap();
    assert!(Arc::ptr_eq(&first, &h.machine.caps_announcement().unwrap()));
    h.machine
        .root_mut()
        .register_feature("urn:xmpp:ping")
        .unwrap();
    let second = h.machine.caps_announcement().unwrap();
    assert_ne!(first.ver(), second.ver());
    assert!(Arc::ptr_eq(
        &second,
        &h.machine.caps_announcement().unwrap()
    ));
}

#[test]
fn no_caps_without_a_caps_node() {
    let mut h = Harness::new();
    assert!(h.machine.caps_announcement().is_none());
    let root = ask_own(&mut h, None, None);
    assert!(!payload(&root)
        .children()
        .any(|child| child.attr("var") == Some(CAPS)));
    let hash = sha256("<identity category='client' type='bot'/>");
    let reply = ask_own(&mut h, Some(&format!("urn:xmpp:caps#sha-256.{hash}")), None);
    assert!(is_item_not_found(&reply), "{reply:?}");
}

#[test]
fn each_caps_node_answers_the_root_info_mirroring_the_node() {
    let mut h = announcing();
    h.machine
        .root_mut()
        .register_identity(
            "client",
            "pc",
            [(Some("en"), "Balcony"), (Some("fr"), "Balcon")],
        )
        .unwrap();
    let root = ask_own(&mut h, None, None);
    let root = CapsInfo::from_query(payload(&root)).unwrap();
    for node in caps_nodes(&mut h) {
        // Whatever language the request has, every name is answered: all went into the hash.
        let reply = ask_own(&mut h, Some(&node), Some("fr"));
        let answer = payload(&reply);
        assert_eq!(answer.attr("node"), Some(node.as_str()));
        assert_eq!(CapsInfo::from_query(answer).unwrap(), root, "{node}");
        let names: Vec<_> = answer
            .children()
            .filter_map(|child| child.attr("name"))
            .collect();
        assert!(
            names.contains(&"Balcony") && names.contains(&"Balcon"),
            "{names:?}"
        );
    }
}

#[test]
fn other_hashes_are_item_not_found_and_caps_nodes_are_never_listed() {
    let mut h = announcing();
    let node = caps_nodes(&mut h).remove(0);
    for wrong in [
        format!("{node}x"),
        format!("{NODE}#AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        "urn:xmpp:caps#sha-256.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into(),
        "urn:xmpp:caps#".into(),
    ] {
        let reply = ask_own(&mut h, Some(&wrong), None);
        assert!(is_item_not_found(&reply), "{wrong}: {reply:?}");
    }
    let request = element(&format!(
        "<iq xmlns='jabber:client' type='get' id='i' from='{ROMEO}'><query xmlns='{ITEMS}'/></iq>"
    ));
    assert!(h.feed(0, request).is_consumed());
    let items = h.sent_one();
    assert_eq!(
        items.get_child("query", ITEMS).unwrap().children().count(),
        0
    );
    let request = element(&format!(
        "<iq xmlns='jabber:client' type='get' id='i' from='{ROMEO}'>\
         <query xmlns='{ITEMS}' node='{node}'/></iq>"
    ));
    assert!(h.feed(0, request).is_consumed());
    assert!(is_item_not_found(&h.sent_one()));
}

#[test]
fn the_three_sets_before_the_current_one_are_answered_with_their_own_info() {
    let mut h = announcing();
    let mut history = Vec::new();
    for feature in ["urn:a", "urn:b", "urn:c", "urn:d", "urn:e"] {
        let node = caps_nodes(&mut h).remove(1);
        let reply = ask_own(&mut h, Some(&node), None);
        history.push((node, CapsInfo::from_query(payload(&reply)).unwrap()));
        h.machine.root_mut().register_feature(feature).unwrap();
    }
    caps_nodes(&mut h);
    // Now announced: the sixth set. Answered: the sixth and the three before it.
    for (age, (node, info)) in history.iter().rev().enumerate() {
        let reply = ask_own(&mut h, Some(node), None);
        if age < 3 {
            let answer = CapsInfo::from_query(payload(&reply)).unwrap();
            assert_eq!(&answer, info, "set {age} back");
        } else {
            assert!(is_item_not_found(&reply), "set {age} back: {reply:?}");
        }
    }
}

#[test]
fn a_request_at_a_caps_node_goes_through_the_policy() {
    let mut h = announcing();
    let node = caps_nodes(&mut h).remove(0);
    h.machine.set_policy(|_| false);
    let reply = ask_own(&mut h, Some(&node), None);
    assert_eq!(reply.attr("type"), Some("error"));
    assert!(!is_item_not_found(&reply));
}

// ------------------------------------------------------------------------------- learning

/// Answers `request` (at a caps node or the root) with `inner`.
fn answer(h: &mut Harness, request: &Element, inner: &str) {
    h.feed_consumed(0, info_reply(request, inner));
}

/// `contact` claims `inner`'s hash; its root is asked for and answered truthfully.
fn learn(h: &mut Harness, contact: &str, inner: &str) -> Arc<DiscoInfoResult> {
    show(h, contact, &legacy_c(&ver(inner)));
    let id = root_info(h, contact);
    let request = h.sent_one();
    answer(h, &request, inner);
    h.completion_of(id).info().clone()
}

#[test]
fn a_thousand_contacts_on_one_version_cost_one_request() {
    let mut h = Harness::new();
    let claim = legacy_c(&ver(CLIENT));
    let contacts: Vec<String> = (0..1000)
        .map(|n| format!("contact{n}@montague.example/phone"))
        .collect();
    for contact in &contacts {
        show(&mut h, contact, &claim);
    }
    h.assert_quiet();
    let ids: Vec<_> = contacts[..500]
        .iter()
        .map(|contact| root_info(&mut h, contact))
        .collect();
    let request = h.sent_one();
    assert_eq!(request.attr("to"), Some(contacts[0].as_str()));
    assert_eq!(
        node_of(&request).as_deref(),
        Some(format!("https://example.org/orchard#{}", ver(CLIENT)).as_str())
    );
    answer(&mut h, &request, CLIENT);
    let done = h.completions();
    assert_eq!(done.len(), 500);
    let first = done[0].1.info().clone();
    assert_eq!(first.node, None, "the root's info, not the caps node's");
    for (id, outcome) in &done {
        assert!(ids.contains(id));
        assert!(Arc::ptr_eq(outcome.info(), &first));
    }
    for contact in &contacts[500..] {
        let id = root_info(&mut h, contact);
        assert!(Arc::ptr_eq(h.completion_of(id).info(), &first));
    }
    h.assert_quiet();
    let stats = stats(&h);
    assert_eq!(stats.requests_sent, 1);
    assert_eq!(stats.caps_verified, 1);
    assert_eq!(stats.caps_joined, 499);
    assert_eq!(stats.caps_hits, 500);
    h.assert_all_completed();
}

#[test]
fn a_xep_0390_claim_is_asked_at_its_hash_node_and_preferred() {
    let mut h = Harness::new();
    let both = format!("{}{}", legacy_c(&ver(CLIENT)), modern_c(&sha256(CLIENT)));
    show(&mut h, ROMEO, &both);
    let id = root_info(&mut h, ROMEO);
    let request = h.sent_one();
    assert_eq!(
        node_of(&request),
        Some(format!("urn:xmpp:caps#sha-256.{}", sha256(CLIENT)))
    );
    answer(&mut h, &request, CLIENT);
    h.completion_of(id).info();
    // A contact claiming only the XEP-0115 hash of the same info must verify that one: the
    // answer was stored under the hash that was checked.
    show(&mut h, MERCUTIO, &modern_c(&sha256(CLIENT)));
    let id = root_info(&mut h, MERCUTIO);
    h.completion_of(id).info();
    assert_eq!(stats(&h).caps_hits, 1);
}

#[test]
fn a_lie_answers_the_liar_and_nobody_else() {
    let mut h = Harness::new();
    let claim = legacy_c(&ver(CLIENT));
    show(&mut h, ROMEO, &claim);
    show(&mut h, MERCUTIO, &claim);
    show(&mut h, BENVOLIO, &claim);
    let romeo = root_info(&mut h, ROMEO);
    let mercutio = root_info(&mut h, MERCUTIO);
    let to_romeo = h.sent_one();
    // Romeo claims CLIENT's hash but answers something else.
    answer(&mut h, &to_romeo, OTHER_CLIENT);
    let done = h.completions();
    assert_eq!(done.len(), 1, "only Romeo's own query: {done:?}");
    assert_eq!(done[0].0, romeo);
    assert_eq!(done[0].1.info().identities[0].type_, "phone");
    // Mercutio's query asks Mercutio, at the same caps node.
    let to_mercutio = h.sent_one();
    assert_eq!(to_mercutio.attr("to"), Some(MERCUTIO));
    assert_eq!(node_of(&to_mercutio), node_of(&to_romeo));
    answer(&mut h, &to_mercutio, CLIENT);
    assert_eq!(h.completion_of(mercutio).info().identities[0].type_, "pc");
    // Benvolio gets the verified answer, Romeo still his own; neither costs a request.
    let benvolio = root_info(&mut h, BENVOLIO);
    assert_eq!(h.completion_of(benvolio).info().identities[0].type_, "pc");
    let romeo = root_info(&mut h, ROMEO);
    assert_eq!(h.completion_of(romeo).info().identities[0].type_, "phone");
    h.assert_quiet();
    assert_eq!(stats(&h).caps_rejected, 1);
    assert_eq!(stats(&h).caps_verified, 1);
}

/// `inner` with one feature listed twice, and the SHA-1 of XEP-0115's string over it, as a
/// verifier that lets duplicates through would compute it.
fn duplicated() -> (String, String) {
    use base64::Engine;
    use sha1::Digest;
    let inner = format!("{CLIENT}<feature var='urn:xmpp:ping'/><feature var='urn:xmpp:ping'/>");
    let input = "client/pc//Orchard 1.0<http://jabber.org/protocol/caps<\
        http://jabber.org/protocol/disco#info<http://jabber.org/protocol/muc<\
        http://jabber.org/protocol/muc#user<urn:xmpp:ping<urn:xmpp:ping<";
    let ver = base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(input));
    (inner, ver)
}

#[test]
fn an_ill_formed_answer_is_never_stored_even_when_its_hash_matches() {
    let mut h = Harness::new();
    let (inner, ver) = duplicated();
    show(&mut h, ROMEO, &legacy_c(&ver));
    show(&mut h, MERCUTIO, &legacy_c(&ver));
    let romeo = root_info(&mut h, ROMEO);
    let request = h.sent_one();
    answer(&mut h, &request, &inner);
    // Romeo's query gets what Romeo said; nothing is stored under the hash.
    h.completion_of(romeo).info();
    assert_eq!(stats(&h).caps_rejected, 1);
    let mercutio = root_info(&mut h, MERCUTIO);
    let request = h.sent_one();
    assert_eq!(request.attr("to"), Some(MERCUTIO));
    answer(&mut h, &request, &inner);
    h.completion_of(mercutio).info();
    assert_eq!(stats(&h).caps_verified, 0);
}

#[test]
fn an_error_at_the_caps_node_falls_back_to_the_root() {
    let mut h = Harness::new();
    let claim = legacy_c(&ver(CLIENT));
    show(&mut h, ROMEO, &claim);
    show(&mut h, MERCUTIO, &claim);
    let romeo = root_info(&mut h, ROMEO);
    let mercutio = root_info(&mut h, MERCUTIO);
    let to_romeo = h.sent_one();
    h.feed_consumed(0, error_reply(&to_romeo, "cancel", "item-not-found", None));
    let mut sent = h.sent();
    sent.sort_by_key(|request| request.attr("to").map(str::to_owned));
    assert_eq!(sent.len(), 2, "{sent:?}");
    let (root_of_mercutio, root_of_romeo) = (&sent[0], &sent[1]);
    // Romeo is asked at his root; Mercutio at the caps node.
    assert_eq!(root_of_romeo.attr("to"), Some(ROMEO));
    assert_eq!(node_of(root_of_romeo), None);
    assert_eq!(root_of_mercutio.attr("to"), Some(MERCUTIO));
    assert_eq!(node_of(root_of_mercutio), node_of(&to_romeo));
    answer(&mut h, root_of_romeo, CLIENT);
    assert_eq!(h.completion_of(romeo).info().identities[0].type_, "pc");
    answer(&mut h, root_of_mercutio, CLIENT);
    h.completion_of(mercutio).info();
    assert_eq!(stats(&h).caps_verified, 1);
    h.assert_all_completed();
}

#[test]
fn a_new_hash_replaces_the_claim_and_unavailable_forgets_it() {
    let mut h = Harness::new();
    learn(&mut h, ROMEO, CLIENT);
    // Romeo upgrades: his root info is asked for his new hash.
    show(&mut h, ROMEO, &legacy_c(&ver(OTHER_CLIENT)));
    let id = root_info(&mut h, ROMEO);
    let request = h.sent_one();
    assert!(node_of(&request).unwrap().ends_with(&ver(OTHER_CLIENT)));
    answer(&mut h, &request, OTHER_CLIENT);
    assert_eq!(h.completion_of(id).info().identities[0].type_, "phone");
    // The same presence again changes nothing.
    show(&mut h, ROMEO, &legacy_c(&ver(OTHER_CLIENT)));
    let id = root_info(&mut h, ROMEO);
    h.completion_of(id).info();
    h.assert_quiet();
    // Gone: a query asks his root plainly.
    h.machine
        .observe_presence_element(h.at(0), &unavailable(ROMEO));
    let id = root_info(&mut h, ROMEO);
    let request = h.sent_one();
    assert_eq!(node_of(&request), None);
    answer(&mut h, &request, CLIENT);
    h.completion_of(id).info();
}

#[test]
fn a_query_with_a_claim_on_a_new_hash_drops_the_old_root_answer() {
    let mut h = Harness::new();
    // Romeo's root was asked plainly and cached.
    let id = root_info(&mut h, ROMEO);
    let request = h.sent_one();
    answer(&mut h, &request, CLIENT);
    h.completion_of(id).info();
    assert!(matches!(
        h.machine.peek_info(&jid(ROMEO), None),
        Some(Cached::Ready(_))
    ));
    show(&mut h, ROMEO, &legacy_c(&ver(OTHER_CLIENT)));
    assert!(h.machine.peek_info(&jid(ROMEO), None).is_none());
    let id = root_info(&mut h, ROMEO);
    let request = h.sent_one();
    answer(&mut h, &request, OTHER_CLIENT);
    h.completion_of(id).info();
    // Verified: peeking Romeo's root shows it, through his claim.
    assert!(matches!(
        h.machine.peek_info(&jid(ROMEO), None),
        Some(Cached::Ready(info)) if info.identities[0].type_ == "phone"
    ));
}

#[test]
fn claims_that_cannot_be_checked_are_ignored() {
    let mut h = Harness::new();
    for payload in [
        // The old format, without `hash`.
        "<c xmlns='http://jabber.org/protocol/caps' node='n' ver='1.0' ext='a b'/>".to_owned(),
        // A function the crate does not compute, or a digest of the wrong length.
        format!("<c xmlns='{CAPS}' hash='md5' node='n' ver='{}'/>", ver(CLIENT)),
        format!("<c xmlns='{CAPS}' hash='sha-1' node='n' ver='{}'/>", sha256(CLIENT)),
        format!("<c xmlns='{ECAPS}'><hash xmlns='urn:xmpp:hashes:2' algo='sha-512'>{}</hash></c>", sha256(CLIENT)),
        format!("<c xmlns='{ECAPS}'><hash xmlns='urn:xmpp:hashes:2' algo='sha-256'>{}</hash></c>", ver(CLIENT)),
        format!("<c xmlns='{ECAPS}'><hash xmlns='urn:xmpp:hashes:2' algo='sha-256'>not base64!</hash></c>"),
        format!("<c xmlns='{CAPS}' hash='sha-1' ver='{}'/>", ver(CLIENT)),
    ] {
        show(&mut h, ROMEO, &payload);
        let id = root_info(&mut h, ROMEO);
        let request = h.sent_one();
        assert_eq!(node_of(&request), None, "{payload}");
        h.feed_consumed(0, error_reply(&request, "cancel", "item-not-found", None));
        h.completion_of(id).error();
    }
}

#[test]
fn a_presence_flood_sends_nothing_and_stays_bounded() {
    let mut config = Config::default();
    config.caps_claim_capacity = 100;
    let mut h = Harness::with_config(config);
    for n in 0..10_000u32 {
        let fake = sha256(&format!(
            "<identity category='client' type='pc' name='{n}'/>"
        ));
        show(&mut h, &format!("bot{n}@evil.example/x"), &modern_c(&fake));
    }
    h.assert_quiet();
    assert_eq!(stats(&h).requests_sent, 0);
    // Only the latest 100 claims are remembered: an older one's root is asked plainly.
    let old = root_info(&mut h, "bot0@evil.example/x");
    assert_eq!(node_of(&h.sent_one()), None);
    let recent = root_info(&mut h, "bot9999@evil.example/x");
    assert!(node_of(&h.sent_one()).is_some());
    h.machine.stream_destroyed();
    assert_eq!(h.completed_ids(), [old, recent]);
}

#[test]
fn eager_resolution_sends_one_request_per_new_hash() {
    let mut config = Config::default();
    config.caps_eager = true;
    config.max_in_flight = 2;
    let mut h = Harness::with_config(config);
    show(&mut h, ROMEO, &legacy_c(&ver(CLIENT)));
    show(&mut h, MERCUTIO, &legacy_c(&ver(CLIENT)));
    let request = h.sent_one();
    assert_eq!(request.attr("to"), Some(ROMEO));
    show(&mut h, BENVOLIO, &legacy_c(&ver(OTHER_CLIENT)));
    let other = h.sent_one();
    // The bound on requests in flight holds: a third hash waits until someone asks.
    show(
        &mut h,
        "tybalt@capulet.example/x",
        &modern_c(&sha256(CLIENT)),
    );
    h.assert_quiet();
    answer(&mut h, &request, CLIENT);
    answer(&mut h, &other, OTHER_CLIENT);
    h.assert_quiet();
    let id = root_info(&mut h, MERCUTIO);
    h.completion_of(id).info();
    let id = root_info(&mut h, BENVOLIO);
    h.completion_of(id).info();
    assert_eq!(stats(&h).caps_hits, 2);
    assert_eq!(stats(&h).caps_verified, 2);
}

#[test]
fn waiters_time_out_alone_and_a_late_answer_is_rejected() {
    let mut h = Harness::new();
    show(&mut h, ROMEO, &legacy_c(&ver(CLIENT)));
    show(&mut h, MERCUTIO, &legacy_c(&ver(CLIENT)));
    let short = h.info(
        0,
        ROMEO,
        None,
        QueryOptions::default().with_timeout(Duration::from_millis(100)),
    );
    let long = h.info(
        0,
        MERCUTIO,
        None,
        QueryOptions::default().with_timeout(Duration::from_millis(500)),
    );
    let request = h.sent_one();
    h.tick(100);
    assert!(matches!(
        h.completion_of(short).error(),
        QueryError::Timeout
    ));
    h.tick(500);
    assert!(matches!(h.completion_of(long).error(), QueryError::Timeout));
    answer(&mut h, &request, CLIENT);
    assert_eq!(stats(&h).replies_rejected, 1);
    assert_eq!(stats(&h).caps_verified, 0);
    // Nothing was stored: asking again sends again.
    let id = root_info(&mut h, MERCUTIO);
    let request = h.sent_one();
    answer(&mut h, &request, CLIENT);
    h.completion_of(id).info();
}

#[test]
fn a_cancelled_asker_leaves_the_others_waiting() {
    let mut h = Harness::new();
    show(&mut h, ROMEO, &legacy_c(&ver(CLIENT)));
    show(&mut h, MERCUTIO, &legacy_c(&ver(CLIENT)));
    let romeo = root_info(&mut h, ROMEO);
    let mercutio = root_info(&mut h, MERCUTIO);
    let request = h.sent_one();
    assert!(h.machine.cancel(romeo));
    assert!(matches!(
        h.completion_of(romeo).error(),
        QueryError::Cancelled
    ));
    answer(&mut h, &request, CLIENT);
    h.completion_of(mercutio).info();
    assert_eq!(stats(&h).caps_verified, 1);
}

#[test]
fn a_fresh_query_asks_the_root_itself() {
    let mut h = Harness::new();
    show(&mut h, ROMEO, &legacy_c(&ver(CLIENT)));
    let id = h.info(0, ROMEO, None, QueryOptions::fresh());
    let request = h.sent_one();
    assert_eq!(node_of(&request), None);
    answer(&mut h, &request, CLIENT);
    h.completion_of(id).info();
}

#[test]
fn the_end_of_the_stream_completes_every_waiter_and_keeps_verified_hashes() {
    let mut h = Harness::new();
    learn(&mut h, ROMEO, CLIENT);
    show(&mut h, MERCUTIO, &legacy_c(&ver(OTHER_CLIENT)));
    let pending = root_info(&mut h, MERCUTIO);
    h.sent_one();
    h.machine.stream_destroyed();
    assert!(matches!(
        h.completion_of(pending).error(),
        QueryError::Disconnected
    ));
    // The next session: presences come again; the verified hash is still known.
    show(&mut h, BENVOLIO, &legacy_c(&ver(CLIENT)));
    let id = root_info(&mut h, BENVOLIO);
    h.completion_of(id).info();
    h.assert_quiet();
}

#[test]
fn typed_presences_and_stream_features_are_read_alike() {
    let mut h = Harness::new();
    let typed = Presence::try_from(presence(ROMEO, &legacy_c(&ver(CLIENT)))).unwrap();
    h.machine.observe_presence(h.at(0), &typed);
    let id = root_info(&mut h, ROMEO);
    let request = h.sent_one();
    assert!(node_of(&request).is_some());
    answer(&mut h, &request, CLIENT);
    h.completion_of(id).info();

    let server = jid("capulet.example");
    let features = element(&format!(
        "<stream:features xmlns:stream='http://etherx.jabber.org/streams'>{}</stream:features>",
        legacy_c(&ver(SERVER_INFO))
    ));
    h.machine
        .observe_stream_features(h.at(0), &server, features.children());
    let id = root_info(&mut h, "capulet.example");
    let request = h.sent_one();
    assert!(node_of(&request).unwrap().ends_with(&ver(SERVER_INFO)));
    answer(&mut h, &request, SERVER_INFO);
    assert_eq!(h.completion_of(id).info().identities[0].category, "server");
    assert_eq!(stats(&h).caps_verified, 2);
}

// ------------------------------------------------------------------------------- persistence

#[test]
fn the_hash_cache_survives_a_restart_and_a_tampered_store_is_refused() {
    let mut h = Harness::new();
    let both = format!(
        "{}{}",
        legacy_c(&ver(CLIENT)),
        modern_c(&sha256(OTHER_CLIENT))
    );
    show(&mut h, ROMEO, &legacy_c(&ver(CLIENT)));
    show(&mut h, MERCUTIO, &modern_c(&sha256(OTHER_CLIENT)));
    for contact in [ROMEO, MERCUTIO] {
        let id = root_info(&mut h, contact);
        let request = h.sent_one();
        let inner = if contact == ROMEO {
            CLIENT
        } else {
            OTHER_CLIENT
        };
        answer(&mut h, &request, inner);
        h.completion_of(id).info();
    }
    let saved: Vec<String> = h.machine.export_caps().iter().map(String::from).collect();
    assert_eq!(saved.len(), 2);

    let mut next = Harness::new();
    let loaded = saved.iter().map(|xml| element(xml));
    let report = next.machine.import_caps(loaded, CapsStore::Learned);
    assert_eq!((report.taken, report.skipped()), (2, 0));
    show(&mut next, BENVOLIO, &both);
    show(&mut next, ROMEO, &legacy_c(&ver(CLIENT)));
    for contact in [BENVOLIO, ROMEO] {
        let id = root_info(&mut next, contact);
        next.completion_of(id).info();
    }
    next.assert_quiet();

    // A store someone edited: a feature added to an entry, or the hash in its node changed.
    let tampered = [
        saved[0].replacen("</query>", "<feature var='urn:evil'/></query>", 1),
        saved[1].replace(&sha256(OTHER_CLIENT), &sha256(CLIENT)),
        "<query xmlns='http://jabber.org/protocol/disco#info' node='garbage'/>".to_owned(),
    ];
    let mut fresh = Harness::new();
    let report = fresh
        .machine
        .import_caps(tampered.iter().map(|xml| element(xml)), CapsStore::Learned);
    assert_eq!(
        (report.taken, report.mismatched, report.ill_formed),
        (0, 2, 1)
    );
    show(&mut fresh, ROMEO, &legacy_c(&ver(CLIENT)));
    root_info(&mut fresh, ROMEO);
    assert_eq!(fresh.sent().len(), 1);
}

/// XEP-0115 §5.2's client (Exodus 0.9.1), whose `ver` is published in the XEP.
const EXODUS: &str = "<identity category='client' type='pc' name='Exodus 0.9.1'/>\
    <feature var='http://jabber.org/protocol/caps'/>\
    <feature var='http://jabber.org/protocol/disco#info'/>\
    <feature var='http://jabber.org/protocol/disco#items'/>\
    <feature var='http://jabber.org/protocol/muc'/>";

const EXODUS_VER: &str = "QgayPKawpkPSDYmwT/WM94uAlu0=";

/// Twins of Exodus's answer: each hashes to its `ver`, and says something else.
const EXODUS_TWINS: [&str; 3] = [
    // Two features joined by a '<': Exodus without disco#items.
    "<identity category='client' type='pc' name='Exodus 0.9.1'/>\
     <feature var='http://jabber.org/protocol/caps'/>\
     <feature var='http://jabber.org/protocol/disco#info&lt;http://jabber.org/protocol/disco#items'/>\
     <feature var='http://jabber.org/protocol/muc'/>",
    // The name swallowing the first feature: Exodus without caps.
    "<identity category='client' type='pc' name='Exodus 0.9.1&lt;http://jabber.org/protocol/caps'/>\
     <feature var='http://jabber.org/protocol/disco#info'/>\
     <feature var='http://jabber.org/protocol/disco#items'/>\
     <feature var='http://jabber.org/protocol/muc'/>",
    // The last features moved into a form: Exodus without MUC.
    "<identity category='client' type='pc' name='Exodus 0.9.1'/>\
     <feature var='http://jabber.org/protocol/caps'/>\
     <feature var='http://jabber.org/protocol/disco#info'/>\
     <x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'>\
     <value>http://jabber.org/protocol/disco#items</value></field>\
     <field var='http://jabber.org/protocol/muc'/></x>",
];

#[test]
fn a_forged_twin_of_a_published_ver_answers_the_forger_alone() {
    assert_eq!(ver(EXODUS), EXODUS_VER);
    for twin in EXODUS_TWINS {
        assert_eq!(ver(twin), EXODUS_VER, "a twin: {twin}");
        let mut h = Harness::new();
        let claim = legacy_c(EXODUS_VER);
        show(&mut h, ROMEO, &claim);
        show(&mut h, MERCUTIO, &claim);
        // The forger is asked first, and answers with the twin.
        let forger = root_info(&mut h, ROMEO);
        let honest = root_info(&mut h, MERCUTIO);
        let to_forger = h.sent_one();
        assert_eq!(to_forger.attr("to"), Some(ROMEO));
        answer(&mut h, &to_forger, twin);
        let forged = h.completion_of(forger).info().clone();
        assert!(!h.is_completed(honest), "the twin reached Mercutio");
        // Mercutio is asked in turn, and gets his own, true answer.
        let to_honest = h.sent_one();
        assert_eq!(to_honest.attr("to"), Some(MERCUTIO));
        answer(&mut h, &to_honest, EXODUS);
        let true_answer = h.completion_of(honest).info().clone();
        assert_ne!(forged.features, true_answer.features);
        assert!(true_answer
            .features
            .contains("http://jabber.org/protocol/muc"));
        // Only the true answer is stored and exported.
        show(&mut h, BENVOLIO, &claim);
        let benvolio = root_info(&mut h, BENVOLIO);
        assert!(Arc::ptr_eq(h.completion_of(benvolio).info(), &true_answer));
        h.assert_quiet();
        let stats = stats(&h);
        assert_eq!(
            (stats.caps_unshareable, stats.caps_verified),
            (1, 1),
            "{twin}"
        );
        assert_eq!(h.machine.export_caps().len(), 1);
    }
}

#[test]
fn a_forged_twin_is_not_stored_under_a_legacy_hash_beside_a_true_modern_one() {
    // The forger claims the twin's own XEP-0390 hash (true) and Exodus's `ver`: the XEP-0390
    // hash verifies, the XEP-0115 one matches too, but only the former may be shared.
    let twin = EXODUS_TWINS[0];
    let mut h = Harness::new();
    show(
        &mut h,
        ROMEO,
        &format!("{}{}", legacy_c(EXODUS_VER), modern_c(&sha256(twin))),
    );
    let forger = root_info(&mut h, ROMEO);
    let request = h.sent_one();
    answer(&mut h, &request, twin);
    h.completion_of(forger).info();
    show(&mut h, MERCUTIO, &legacy_c(EXODUS_VER));
    root_info(&mut h, MERCUTIO);
    let to_mercutio = h.sent_one();
    assert_eq!(to_mercutio.attr("to"), Some(MERCUTIO));
}

#[test]
fn one_answer_is_stored_under_every_hash_it_was_claimed_with() {
    let mut h = Harness::new();
    let both = format!("{}{}", legacy_c(&ver(CLIENT)), modern_c(&sha256(CLIENT)));
    show(&mut h, ROMEO, &both);
    let romeo = root_info(&mut h, ROMEO);
    let request = h.sent_one();
    answer(&mut h, &request, CLIENT);
    h.completion_of(romeo).info();
    // A contact claiming only the XEP-0115 hash costs nothing.
    show(&mut h, MERCUTIO, &legacy_c(&ver(CLIENT)));
    let mercutio = root_info(&mut h, MERCUTIO);
    h.completion_of(mercutio).info();
    h.assert_quiet();
    assert_eq!(stats(&h).requests_sent, 1);
    assert_eq!(h.machine.export_caps().len(), 2);
}

/// Three contacts claiming CLIENT's hash, asked in order; a query about each.
fn three_claimants(h: &mut Harness) -> [xmpp_disco::RequestId; 3] {
    let claim = legacy_c(&ver(CLIENT));
    for contact in [ROMEO, MERCUTIO, BENVOLIO] {
        show(h, contact, &claim);
    }
    [ROMEO, MERCUTIO, BENVOLIO].map(|contact| root_info(h, contact))
}

#[test]
fn a_silent_claimant_delays_the_others_by_the_verification_timeout_only() {
    let mut h = Harness::new();
    let [romeo, mercutio, benvolio] = three_claimants(&mut h);
    let to_romeo = h.sent_one();
    assert_eq!(to_romeo.attr("to"), Some(ROMEO));
    assert_eq!(
        h.machine.poll_timeout(),
        Some(h.at(5_000)),
        "the verification's own deadline"
    );
    h.tick(4_999);
    h.assert_quiet();
    // Romeo stays silent: Mercutio and Benvolio are each asked (at their caps node) at once.
    h.tick(5_000);
    let asked = h.sent();
    let to: Vec<_> = asked.iter().map(|request| request.attr("to")).collect();
    assert_eq!(to, [Some(MERCUTIO), Some(BENVOLIO)]);
    assert_eq!(node_of(&asked[0]), node_of(&to_romeo));
    // Mercutio's answer verifies the hash: it answers every query about a claimant of it,
    // Romeo's own included, and Benvolio's request is dropped (a late reply is rejected).
    h.feed_consumed(6_000, info_reply(&asked[0], CLIENT));
    assert_eq!(h.completed_ids(), [mercutio, romeo, benvolio]);
    h.feed_consumed(6_100, info_reply(&asked[1], CLIENT));
    assert_eq!(stats(&h).replies_rejected, 1);
    h.tick(30_000);
    h.assert_quiet();
    h.assert_all_completed();
}

#[test]
fn a_claimant_whose_verification_was_waited_on_is_asked_itself_once_it_fails() {
    // Three silent claimants queried first, then an honest one: the honest one's query waits
    // on the first verification only, and gets its answer one verification timeout after it
    // was asked, whatever the number of silent claimants before it.
    let mut h = Harness::new();
    let claim = legacy_c(&ver(CLIENT));
    let silent = [
        "s1@montague.example/a",
        "s2@montague.example/b",
        "s3@montague.example/c",
    ];
    for contact in silent.iter().chain([&ROMEO]) {
        show(&mut h, contact, &claim);
    }
    for contact in silent {
        h.info(0, contact, None, QueryOptions::default());
    }
    let romeo = h.info(1_000, ROMEO, None, QueryOptions::default());
    assert_eq!(h.sent().len(), 1, "one verification at first");
    h.tick(5_000);
    let asked = h.sent();
    assert_eq!(
        asked.len(),
        3,
        "each waiting claimant asked itself: {asked:?}"
    );
    let to_romeo = asked
        .iter()
        .find(|request| request.attr("to") == Some(ROMEO))
        .expect("Romeo asked");
    h.feed_consumed(5_050, info_reply(to_romeo, CLIENT));
    assert!(h.completed_ids().contains(&romeo));
    h.tick(30_000);
    h.assert_all_completed();
}

#[test]
fn a_late_answer_of_the_silent_claimant_still_answers_its_own_query() {
    let mut h = Harness::new();
    let [romeo, mercutio, benvolio] = three_claimants(&mut h);
    let to_romeo = h.sent_one();
    h.tick(5_000);
    let asked = h.sent();
    assert_eq!(asked.len(), 2);
    answer(&mut h, &to_romeo, CLIENT);
    // Romeo's answer verifies the hash: it answers the others too, without waiting for
    // their own answers.
    let done = h.completions();
    let ids: Vec<_> = done.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [romeo, mercutio, benvolio]);
    assert_eq!(done[0].1.info().identities[0].type_, "pc");
    assert_eq!(stats(&h).caps_verified, 1);
    h.assert_all_completed();
}

#[test]
fn a_hash_whose_claimants_all_stay_silent_costs_one_request_per_claimant() {
    let mut h = Harness::new();
    let contacts: Vec<String> = (0..10)
        .map(|n| format!("silent{n}@montague.example/phone"))
        .collect();
    let claim = legacy_c(&ver(CLIENT));
    for contact in &contacts {
        show(&mut h, contact, &claim);
    }
    // Queries that wait long enough for every claimant to be tried.
    let patient = QueryOptions::default().with_timeout(Duration::from_secs(120));
    for contact in &contacts {
        h.info(0, contact, None, patient.clone());
    }
    let mut asked = Vec::new();
    for ms in (0..=120_000).step_by(1_000) {
        h.tick(ms);
        for request in h.sent() {
            asked.push(request.attr("to").unwrap().to_owned());
        }
    }
    asked.sort();
    let mut expected = contacts.clone();
    expected.sort();
    assert_eq!(
        asked, expected,
        "each claimant asked once, and nothing more"
    );
    h.assert_all_completed();
}

#[test]
fn a_reply_nobody_can_read_fails_its_sender_once_and_the_others_are_asked() {
    let mut h = Harness::new();
    let [romeo, mercutio, benvolio] = three_claimants(&mut h);
    let to_romeo = h.sent_one();
    let (id, _, _) = query_of(&to_romeo, INFO);
    // An identity without a type: xmpp-parsers refuses it.
    h.feed_consumed(
        0,
        element(&format!(
            "<iq xmlns='jabber:client' type='result' id='{id}' from='{ROMEO}'>\
             <query xmlns='{INFO}'><identity category='client'/></query></iq>"
        )),
    );
    assert!(matches!(
        h.completion_of(romeo).error(),
        QueryError::Malformed(_)
    ));
    let next = h.sent();
    let to: Vec<_> = next.iter().map(|request| request.attr("to")).collect();
    assert_eq!(
        to,
        [Some(MERCUTIO), Some(BENVOLIO)],
        "no second request to Romeo"
    );
    answer(&mut h, &next[0], CLIENT);
    assert_eq!(h.completed_ids(), [mercutio, benvolio]);
    h.assert_quiet();
}

#[test]
fn a_xep_0390_hash_over_a_repeated_feature_is_verified_as_the_xep_computes_it() {
    let repeated = format!("{CLIENT}<feature var='urn:xmpp:ping'/><feature var='urn:xmpp:ping'/>");
    let mut h = Harness::new();
    show(&mut h, ROMEO, &modern_c(&sha256(&repeated)));
    show(&mut h, MERCUTIO, &modern_c(&sha256(&repeated)));
    let romeo = root_info(&mut h, ROMEO);
    let request = h.sent_one();
    answer(&mut h, &request, &repeated);
    h.completion_of(romeo).info();
    let mercutio = root_info(&mut h, MERCUTIO);
    h.completion_of(mercutio).info();
    assert_eq!(stats(&h).caps_verified, 1);
    h.assert_quiet();
}

#[test]
fn the_own_ver_sorts_identities_field_by_field() {
    use base64::Engine;
    use sha1::Digest;
    let mut h = announcing();
    {
        let mut root = h.machine.root_mut();
        root.register_identity(
            "client",
            "pc",
            [(Some("en"), "Color"), (Some("en-GB"), "Colour")],
        )
        .unwrap();
        root.unregister_identity("client", "bot").unwrap();
    }
    let caps = h.machine.caps_announcement().unwrap();
    let input = "client/pc/en/Color<client/pc/en-GB/Colour<http://jabber.org/protocol/caps<\
        http://jabber.org/protocol/disco#info<urn:xmpp:caps<";
    let expected = base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(input));
    assert_eq!(caps.ver(), expected);
}

#[test]
fn the_caps_features_cannot_be_unregistered_while_caps_are_announced() {
    let mut h = announcing();
    for feature in [CAPS, ECAPS] {
        assert_eq!(
            h.machine.root_mut().unregister_feature(feature),
            Err(RegistryError::FeatureRequired(feature.to_owned()))
        );
        assert!(h.machine.root().features().any(|held| held == feature));
    }
    // Without own caps, they are ordinary features.
    let mut plain = Harness::new();
    plain.machine.root_mut().register_feature(CAPS).unwrap();
    plain.machine.root_mut().unregister_feature(CAPS).unwrap();
    // What is required follows the machine's configuration, not the node: the announcing
    // root, copied and mounted elsewhere or given to an entity, is an ordinary node there.
    let mut copy = h.machine.root().clone();
    copy.unregister_feature(CAPS).unwrap();
    h.machine.mount("copy", h.machine.root().clone()).unwrap();
    let mut mounted = h.machine.node_mut("copy").unwrap();
    mounted.unregister_feature(CAPS).unwrap();
}

#[test]
fn an_export_holds_exactly_what_was_verified_and_verifies_again() {
    // A peer whose answer lacks disco#info (XEP-0030 wants it; the hash covers what was sent).
    let bare = "<identity category='client' type='pc' name='Bare'/><feature var='urn:xmpp:ping'/>";
    let mut h = Harness::new();
    learn(&mut h, ROMEO, bare);
    let saved = h.machine.export_caps();
    assert_eq!(saved.len(), 1);
    let features: Vec<_> = saved[0]
        .children()
        .filter(|child| child.name() == "feature")
        .filter_map(|feature| feature.attr("var"))
        .collect();
    assert_eq!(features, ["urn:xmpp:ping"]);
    let mut next = Harness::new();
    let report = next.machine.import_caps(saved, CapsStore::Learned);
    assert_eq!((report.taken, report.skipped()), (1, 0));
}

/// XEP-0115 §5.3's Psi as the capsdb writes it.
#[cfg(feature = "serde")]
const PSI_CAPSDB: &str = r#"{
  "hash": "sha-1",
  "node": "http://psi-im.org",
  "ver": "q07IKJEyjvHSyhy//CH0CxmKi8w=",
  "identities": [
    {"category": "client", "type": "pc", "lang": "en", "name": "Psi 0.11"},
    {"category": "client", "type": "pc", "lang": "el", "name": "Ψ 0.11"}
  ],
  "features": [
    "http://jabber.org/protocol/caps",
    "http://jabber.org/protocol/disco#info",
    "http://jabber.org/protocol/disco#items",
    "http://jabber.org/protocol/muc"
  ],
  "forms": [{
    "FORM_TYPE": ["urn:xmpp:dataforms:softwareinfo"],
    "ip_version": ["ipv4", "ipv6"],
    "os": ["Mac"],
    "os_version": ["10.5.1"],
    "software": ["Psi"],
    "software_version": ["0.11"]
  }]
}"#;

/// The same entry in the shape of the capsdb's `db.json`: an object keyed by `ver`, forms by
/// `FORM_TYPE`; and an MD5 entry, a function the machine does not compute.
#[cfg(feature = "serde")]
const PSI_DB_JSON: &str = r#"{
  "q07IKJEyjvHSyhy//CH0CxmKi8w=": {
    "features": [
      "http://jabber.org/protocol/caps",
      "http://jabber.org/protocol/disco#info",
      "http://jabber.org/protocol/disco#items",
      "http://jabber.org/protocol/muc"
    ],
    "forms": {
      "urn:xmpp:dataforms:softwareinfo": {
        "ip_version": ["ipv4", "ipv6"],
        "os": ["Mac"],
        "os_version": ["10.5.1"],
        "software": ["Psi"],
        "software_version": ["0.11"]
      }
    },
    "hash": "sha-1",
    "identities": [
      {"category": "client", "type": "pc", "lang": "en", "name": "Psi 0.11"},
      {"category": "client", "type": "pc", "lang": "el", "name": "Ψ 0.11"}
    ],
    "node": "http://psi-im.org"
  },
  "95MpIY90PtVPG1MGWzTmlA==": {
    "features": ["jabber:iq:version"],
    "forms": {},
    "hash": "md5",
    "identities": [{"category": "client", "name": "Jimm", "type": "phone"}],
    "node": "http://jimm.net.ru/caps"
  }
}"#;

#[cfg(feature = "serde")]
#[test]
fn a_capsdb_file_is_verified_on_load_and_saves_the_first_login() {
    use xmpp_disco::caps;

    // A shipped entry: Psi, as XEP-0115 §5.3 publishes it, in this crate's earlier shape.
    let mut h = Harness::new();
    let report = h
        .machine
        .import_capsdb(caps::from_json(PSI_CAPSDB).unwrap(), CapsStore::Shipped);
    assert_eq!((report.taken, report.skipped()), (1, 0));
    show(&mut h, ROMEO, &legacy_c("q07IKJEyjvHSyhy//CH0CxmKi8w="));
    let romeo = root_info(&mut h, ROMEO);
    let psi = h.completion_of(romeo).info().clone();
    assert_eq!(psi.identities.len(), 2);
    assert_eq!(psi.extensions.len(), 1);
    h.assert_quiet();

    // What a run learned, written and read back by the next one; shipped answers are the
    // host's already, and not written.
    learn(&mut h, MERCUTIO, CLIENT);
    let file = caps::to_json(&h.machine.export_capsdb());
    let entries = caps::from_json(&file).unwrap();
    assert_eq!(entries.len(), 1);
    let mut next = Harness::new();
    let report = next
        .machine
        .import_capsdb(entries.clone(), CapsStore::Learned);
    assert_eq!((report.taken, report.skipped()), (1, 0));
    show(&mut next, BENVOLIO, &legacy_c(&ver(CLIENT)));
    let benvolio = root_info(&mut next, BENVOLIO);
    assert_eq!(next.completion_of(benvolio).info().features.len(), 4);
    next.assert_quiet();
    // The file is in db.json's shape: an object keyed by ver.
    let json: serde_json::Value = serde_json::from_str(&file).unwrap();
    assert!(
        json.get(ver(CLIENT))
            .is_some_and(|entry| entry["hash"] == "sha-1"),
        "{file}"
    );

    // Edited entries, a forged twin under a published ver, and hashes nobody computes are
    // skipped, each counted under its reason.
    let psi = caps::from_json(PSI_CAPSDB).unwrap().remove(0);
    let mut edited = psi.clone();
    edited.features.push("urn:evil".into());
    // The English name swallows the first feature: the same string S, a different answer.
    let mut twin = psi.clone();
    twin.features.remove(0);
    twin.identities[0].name = Some("Psi 0.11<http://jabber.org/protocol/caps".into());
    assert_eq!(
        CapsInfo::from_query(&twin.to_query()).unwrap().legacy_ver(),
        psi.ver
    );
    let mut unknown = caps::from_json(PSI_CAPSDB).unwrap().remove(0);
    unknown.hash = "md5".into();
    let mut fresh = Harness::new();
    let report = fresh
        .machine
        .import_capsdb([edited, twin, unknown], CapsStore::Learned);
    assert_eq!(
        (
            report.taken,
            report.mismatched,
            report.unshareable,
            report.unknown_function
        ),
        (0, 1, 1, 1)
    );
    assert!(caps::from_json("{\"not\": \"an entry\"}").is_err());
}

#[cfg(feature = "serde")]
#[test]
fn the_capsdb_is_read_as_it_ships_and_kept_apart_from_what_is_learned() {
    use xmpp_disco::caps;

    let entries = caps::from_json(PSI_DB_JSON).unwrap();
    assert_eq!(entries.len(), 2);
    let mut config = Config::default();
    // A learned table smaller than the shipped database: the database stays whole.
    config.caps_hash_capacity = 1;
    let mut h = Harness::with_config(config);
    let report = h.machine.import_capsdb(entries, CapsStore::Shipped);
    assert_eq!((report.taken, report.unknown_function), (1, 1));
    learn(&mut h, MERCUTIO, CLIENT);
    learn(&mut h, BENVOLIO, OTHER_CLIENT);
    h.machine.flush_cache();
    show(&mut h, ROMEO, &legacy_c("q07IKJEyjvHSyhy//CH0CxmKi8w="));
    let romeo = root_info(&mut h, ROMEO);
    assert_eq!(h.completion_of(romeo).info().extensions.len(), 1);
    h.assert_quiet();
    assert!(
        h.machine.export_capsdb().is_empty(),
        "flushed; the shipped one is not written"
    );
}

#[test]
fn the_capsdb_hash_files_are_read_as_they_ship() {
    // hashes/sha-1_http%3A%2F%2Fpsi-im.org%23q07IKJEyjvHSyhy%2F%2FCH0CxmKi8w%3D.xml: one
    // `<query/>` whose node is `NODE#VER`; some files hold the answer in a second `<query/>`.
    let psi = |inner: &str| {
        element(&format!(
            "<query xmlns='{INFO}' node='http://psi-im.org#q07IKJEyjvHSyhy//CH0CxmKi8w='>{inner}\
             </query>"
        ))
    };
    let body = PSI_BODY;
    let nested = format!("<query xmlns='{INFO}'>{body}</query>");
    let md5 = element(&format!(
        "<query xmlns='{INFO}' node='http://jimm.net.ru/caps#95MpIY90PtVPG1MGWzTmlA=='>\
         <identity category='client' type='phone'/></query>"
    ));
    let mut h = Harness::new();
    let report = h
        .machine
        .import_caps([psi(body), psi(&nested), md5], CapsStore::Shipped);
    assert_eq!((report.taken, report.unknown_function), (2, 1));
}

/// XEP-0115 §5.3's Psi, as an answer body.
const PSI_BODY: &str = "<identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>\
    <identity xml:lang='el' category='client' name='Ψ 0.11' type='pc'/>\
    <feature var='http://jabber.org/protocol/caps'/>\
    <feature var='http://jabber.org/protocol/disco#info'/>\
    <feature var='http://jabber.org/protocol/disco#items'/>\
    <feature var='http://jabber.org/protocol/muc'/>\
    <x xmlns='jabber:x:data' type='result'>\
    <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>\
    <field var='ip_version' type='text-multi'><value>ipv4</value><value>ipv6</value></field>\
    <field var='os'><value>Mac</value></field>\
    <field var='os_version'><value>10.5.1</value></field>\
    <field var='software'><value>Psi</value></field>\
    <field var='software_version'><value>0.11</value></field></x>";

#[test]
fn queries_about_an_entity_asked_already_wait_for_its_answer() {
    let mut h = Harness::new();
    let claim = legacy_c(&ver(CLIENT));
    show(&mut h, ROMEO, &claim);
    show(&mut h, MERCUTIO, &claim);
    let romeo = root_info(&mut h, ROMEO);
    let to_romeo = h.sent_one();
    let mercutio = root_info(&mut h, MERCUTIO);
    // Romeo stays silent: Mercutio is asked; two more queries about Romeo join Romeo's own
    // request (an entity is asked once per hash).
    h.tick(5_000);
    let to_mercutio = h.sent_one();
    assert_eq!(to_mercutio.attr("to"), Some(MERCUTIO));
    let more = [
        h.info(6_000, ROMEO, None, QueryOptions::default()),
        h.info(6_000, ROMEO, None, QueryOptions::default()),
    ];
    h.assert_quiet();
    // Mercutio fails at his caps node: his query asks his root, and nobody else is asked.
    h.feed_consumed(
        7_000,
        error_reply(&to_mercutio, "cancel", "item-not-found", None),
    );
    let to_root = h.sent_one();
    assert_eq!(
        (to_root.attr("to"), node_of(&to_root)),
        (Some(MERCUTIO), None)
    );
    answer(&mut h, &to_root, OTHER_CLIENT);
    h.completion_of(mercutio).info();
    // Romeo answers at last: his three queries complete with it.
    answer(&mut h, &to_romeo, CLIENT);
    let mut done = h.completed_ids();
    done.sort();
    let mut expected = vec![romeo, more[0], more[1]];
    expected.sort();
    assert_eq!(done, expected);
    h.assert_all_completed();
}
