//! Questions about a tree (supports, find services, walk), stanza in and stanza out against a
//! small scripted XMPP world: one command, one completion, built on the machine's own queries.

mod support;

use std::time::Duration;

use support::*;
use xmpp_disco::xmpp_parsers::minidom::Element;
use xmpp_disco::{Config, QueryError, QueryOptions, ServiceFilter};

const SERVER: &str = "example.org";
const MUC: &str = "http://jabber.org/protocol/muc";
const UPLOAD: &str = "urn:xmpp:http:upload:0";
const PUBSUB: &str = "http://jabber.org/protocol/pubsub";

/// What an entity of the world says to a request: a result's inner XML, an error condition, or
/// nothing at all.
enum Says {
    Result(String),
    Error(&'static str),
    Silence,
}

/// The scripted world: a server with a MUC (two rooms), an upload service, a pubsub service
/// whose node points back at the server, one service answering errors and one never answering.
fn world(to: &str, node: Option<&str>, info: bool) -> Says {
    let identity = |category: &str, type_: &str, feature: &str| {
        Says::Result(format!(
            "<identity category='{category}' type='{type_}'/><feature var='{feature}'/>"
        ))
    };
    let items = |list: &[(&str, Option<&str>)]| {
        Says::Result(
            list.iter()
                .map(|(jid, node)| match node {
                    Some(node) => format!("<item jid='{jid}' node='{node}'/>"),
                    None => format!("<item jid='{jid}'/>"),
                })
                .collect(),
        )
    };
    match (to, node, info) {
        (SERVER, None, true) => identity("server", "im", INFO),
        (SERVER, None, false) => items(&[
            ("conference.example.org", None),
            ("upload.example.org", None),
            ("pubsub.example.org", None),
            ("broken.example.org", None),
            ("silent.example.org", None),
        ]),
        ("conference.example.org", None, true) => identity("conference", "text", MUC),
        ("conference.example.org", None, false) => items(&[
            ("room1@conference.example.org", None),
            ("room2@conference.example.org", None),
        ]),
        ("upload.example.org", None, true) => identity("store", "file", UPLOAD),
        ("pubsub.example.org", None, true) => identity("pubsub", "service", PUBSUB),
        ("pubsub.example.org", None, false) => items(&[("pubsub.example.org", Some("news"))]),
        ("pubsub.example.org", Some("news"), true) => identity("pubsub", "leaf", PUBSUB),
        // The node lists the server again: a loop a walk must not follow twice.
        ("pubsub.example.org", Some("news"), false) => items(&[(SERVER, None)]),
        ("broken.example.org", _, _) => Says::Error("service-unavailable"),
        ("silent.example.org", _, _) => Says::Silence,
        (_, _, true) => identity("conference", "text", MUC),
        (_, _, false) => Says::Result(String::new()),
    }
}

/// Answers everything the machine sent, as the world would, until it sends nothing more;
/// returns how many requests went out.
fn serve(h: &mut Harness, at: u64) -> usize {
    let mut asked = 0;
    loop {
        let sent = h.sent();
        if sent.is_empty() {
            return asked;
        }
        asked += sent.len();
        for request in sent {
            if let Some(reply) = reply(&request) {
                h.feed_consumed(at, reply);
            }
        }
    }
}

fn reply(request: &Element) -> Option<Element> {
    let info = request.get_child("query", INFO).is_some();
    let namespace = if info { INFO } else { ITEMS };
    let (_, to, node) = query_of(request, namespace);
    match world(&to, node.as_deref(), info) {
        Says::Result(inner) if info => Some(info_reply(request, &inner)),
        Says::Result(inner) => Some(items_reply(request, &inner)),
        Says::Error(condition) => Some(error_reply(request, "cancel", condition, None)),
        Says::Silence => None,
    }
}

fn timeout(seconds: u64) -> QueryOptions {
    QueryOptions::default().with_timeout(Duration::from_secs(seconds))
}

#[test]
fn find_services_matches_items_and_reports_the_ones_that_did_not_answer() {
    let mut h = Harness::new();
    let id = h.services(0, SERVER, ServiceFilter::feature(MUC), timeout(5));
    serve(&mut h, 10);
    assert!(
        h.completions().is_empty(),
        "the silent service is still awaited"
    );
    h.tick(5_000);
    let outcome = h.completion_of(id);
    let services = outcome.services();
    let found: Vec<_> = services
        .found
        .iter()
        .map(|f| f.item.jid.to_string())
        .collect();
    assert_eq!(found, ["conference.example.org"]);
    let missing: Vec<_> = services
        .not_answered
        .iter()
        .map(|n| (n.item.jid.to_string(), n.error.clone()))
        .collect();
    assert_eq!(missing.len(), 2, "{missing:?}");
    assert_eq!(missing[0].0, "broken.example.org");
    assert!(matches!(missing[0].1, QueryError::Stanza(_)));
    assert_eq!(
        missing[1],
        ("silent.example.org".into(), QueryError::Timeout)
    );
    assert!(services.complete);
    h.assert_all_completed();
}

#[test]
fn a_silent_item_costs_the_query_timeout_not_the_whole_question() {
    let mut h = Harness::new();
    // A patient search; each of its queries still has the machine's 30 s.
    let id = h.services(0, SERVER, ServiceFilter::feature(MUC), timeout(60));
    serve(&mut h, 10);
    h.tick(29_999);
    assert!(
        h.completions().is_empty(),
        "the silent service is still awaited"
    );
    h.tick(30_010);
    let outcome = h.completion_of(id);
    let services = outcome.services();
    assert!(services
        .not_answered
        .iter()
        .any(|n| n.item.jid.as_str() == "silent.example.org" && n.error == QueryError::Timeout));
    h.assert_all_completed();
}

#[test]
fn a_question_asked_from_the_own_address_shares_the_plain_cache() {
    let mut config = Config::default();
    config.own_jid = Some(jid("juliet@example.org/balcony"));
    let mut h = Harness::with_config(config);
    let plain = h.info(0, SERVER, None, QueryOptions::default());
    serve(&mut h, 1);
    h.completion_of(plain).info();
    let own = QueryOptions::default().with_from(jid("juliet@example.org/balcony"));
    let question = h.supports_with(2, SERVER, INFO, own);
    assert!(
        h.sent().is_empty(),
        "answered from the plain query's cache entry"
    );
    assert!(h.completion_of(question).support().supported);
}

#[test]
fn a_walk_reads_no_list_past_its_entity_bound() {
    let mut h = Harness::new();
    let id = h.walk(0, SERVER, 1, 3, QueryOptions::default());
    let mut item_pages = 0;
    loop {
        let sent = h.sent();
        if sent.is_empty() {
            break;
        }
        for request in sent {
            let (_, to, _) = query_of(
                &request,
                if request.get_child("query", INFO).is_some() {
                    INFO
                } else {
                    ITEMS
                },
            );
            let reply = if request.get_child("query", INFO).is_some() {
                info_reply(&request, "<identity category='conference' type='text'/>")
            } else if to == SERVER {
                // 100 rooms, two a page, for as long as asked.
                item_pages += 1;
                let after: usize = request
                    .get_child("query", ITEMS)
                    .and_then(|query| query.get_child("set", RSM))
                    .and_then(|set| set.get_child("after", RSM))
                    .map_or(0, |after| after.text().parse().unwrap());
                let rooms: String = (after..after + 2)
                    .map(|n| format!("<item jid='room{n}@{SERVER}'/>"))
                    .collect();
                items_reply(
                    &request,
                    &format!(
                        "{rooms}<set xmlns='{RSM}'><last>{}</last><count>100</count></set>",
                        after + 2
                    ),
                )
            } else {
                items_reply(&request, "")
            };
            h.feed_consumed(1, reply);
        }
    }
    assert_eq!(
        item_pages, 2,
        "two pages hold the three entities the walk keeps"
    );
    let outcome = h.completion_of(id);
    let walk = outcome.walk();
    assert_eq!(walk.entities.len(), 3);
    assert!(!walk.complete);
    let server_items = walk.entities[0].items.as_ref().expect("the server's list");
    assert!(
        !server_items.complete,
        "read only as far as the walk needed"
    );
}

#[test]
fn a_second_search_from_a_warm_cache_sends_nothing() {
    let mut h = Harness::new();
    let filter = || ServiceFilter::identity("store", Some("file"));
    h.services(0, "upload-world.example.org", filter(), timeout(5));
    // A world without failures: every query is answered and cached.
    let first = serve(&mut h, 1);
    assert!(first > 0);
    h.completions();
    let again = h.services(2, "upload-world.example.org", filter(), timeout(5));
    assert!(h.sent().is_empty(), "every answer came from the cache");
    let outcome = h.completion_of(again);
    assert!(outcome.services().not_answered.is_empty());
}

#[test]
fn a_search_keeps_at_most_its_bound_of_queries_in_flight() {
    let mut config = Config::default();
    config.tree_concurrency = 2;
    let mut h = Harness::with_config(config);
    let id = h.services(0, SERVER, ServiceFilter::feature(UPLOAD), timeout(5));
    // The list and the server's own info first.
    let mut in_flight = h.sent();
    assert_eq!(in_flight.len(), 2);
    let mut most = 0;
    while !in_flight.is_empty() {
        most = most.max(in_flight.len());
        let request = in_flight.remove(0);
        if let Some(answer) = reply(&request) {
            h.feed_consumed(1, answer);
        }
        in_flight.extend(h.sent());
        if in_flight.is_empty() {
            h.tick(5_000); // the silent one
            in_flight.extend(h.sent());
        }
    }
    assert_eq!(most, 2, "never more than the bound");
    let outcome = h.completion_of(id);
    let found: Vec<_> = outcome
        .services()
        .found
        .iter()
        .map(|f| f.item.jid.to_string())
        .collect();
    assert_eq!(found, ["upload.example.org"]);
}

#[test]
fn items_waiting_for_a_place_past_the_deadline_time_out_without_a_query() {
    let mut config = Config::default();
    config.tree_concurrency = 1;
    let mut h = Harness::with_config(config);
    let id = h.services(0, SERVER, ServiceFilter::feature(MUC), timeout(5));
    let list = h.sent_one();
    h.feed_consumed(1, reply(&list).expect("the list"));
    let own_info = h.sent_one();
    h.feed_consumed(2, reply(&own_info).expect("the server's info"));
    let _conference = h.sent_one(); // never answered
    h.tick(5_000);
    assert!(h.sent().is_empty(), "nothing is asked after the deadline");
    let outcome = h.completion_of(id);
    let services = outcome.services();
    assert!(services.found.is_empty());
    assert_eq!(services.not_answered.len(), 5);
    assert!(services
        .not_answered
        .iter()
        .all(|n| n.error == QueryError::Timeout));
}

#[test]
fn a_search_whose_list_fails_fails() {
    let mut h = Harness::new();
    let id = h.services(
        0,
        "broken.example.org",
        ServiceFilter::feature(MUC),
        timeout(5),
    );
    serve(&mut h, 1);
    assert!(matches!(h.completion_of(id).error(), QueryError::Stanza(_)));
    h.assert_all_completed();
}

#[test]
fn cancelling_a_question_cancels_what_only_it_waited_for() {
    let mut h = Harness::new();
    // The host itself waits on the conference's info too.
    let search = h.services(0, SERVER, ServiceFilter::feature(MUC), timeout(5));
    let first = h.sent();
    assert_eq!(first.len(), 2, "the list and the server's own info");
    h.feed_consumed(1, reply(&first[0]).expect("the list"));
    let asked = h.sent();
    assert_eq!(asked.len(), 5);
    let mine = h.info(2, "conference.example.org", None, QueryOptions::default());
    assert!(h.sent().is_empty(), "aliased to the search's query");
    assert!(h.machine.cancel(search));
    assert!(matches!(
        h.completion_of(search).error(),
        QueryError::Cancelled
    ));
    // The conference's request lives on for the host's query; the others are abandoned.
    for request in &asked {
        if let Some(answer) = reply(request) {
            h.feed_consumed(3, answer);
        }
    }
    let outcome = h.completion_of(mine);
    assert_eq!(outcome.info().identities[0].category, "conference");
    assert_eq!(
        h.machine.stats().replies_rejected,
        3,
        "upload, pubsub and broken were abandoned: their answers came too late"
    );
    assert!(!h.machine.cancel(search), "a question completes once");
    h.assert_all_completed();
}

#[test]
fn the_end_of_the_stream_fails_a_question_once() {
    let mut h = Harness::new();
    let walk = h.walk(0, SERVER, 3, 100, timeout(5));
    let supports = h.supports(0, "conference.example.org", MUC);
    h.machine.stream_destroyed();
    let done = h.completions();
    let ids: Vec<_> = done.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [walk, supports]);
    assert!(done
        .iter()
        .all(|(_, outcome)| *outcome.error() == QueryError::Disconnected));
    h.assert_all_completed();
}

#[test]
fn a_walk_visits_each_entity_once_down_to_its_depth() {
    let mut h = Harness::new();
    let id = h.walk(0, SERVER, 2, 100, timeout(5));
    serve(&mut h, 1);
    h.tick(5_000);
    let outcome = h.completion_of(id);
    let walk = outcome.walk();
    let visited: Vec<_> = walk
        .entities
        .iter()
        .map(|e| (e.jid.to_string(), e.node.clone(), e.depth))
        .collect();
    assert_eq!(
        visited,
        [
            (SERVER.to_owned(), None, 0),
            ("conference.example.org".into(), None, 1),
            ("upload.example.org".into(), None, 1),
            ("pubsub.example.org".into(), None, 1),
            ("broken.example.org".into(), None, 1),
            ("silent.example.org".into(), None, 1),
            ("room1@conference.example.org".into(), None, 2),
            ("room2@conference.example.org".into(), None, 2),
            ("pubsub.example.org".into(), Some("news".into()), 2),
        ],
        "breadth first; the news node's item back to the server is not followed"
    );
    assert!(walk.complete);
    let broken = &walk.entities[4];
    assert!(broken.info.is_err() && broken.items.is_err());
    let silent = &walk.entities[5];
    assert_eq!(silent.info.as_ref().err(), Some(&QueryError::Timeout));
    h.assert_all_completed();
}

#[test]
fn a_walk_stops_at_its_entity_bound_and_says_so() {
    let mut h = Harness::new();
    let id = h.walk(0, SERVER, 5, 3, timeout(5));
    serve(&mut h, 1);
    let outcome = h.completion_of(id);
    let walk = outcome.walk();
    assert_eq!(walk.entities.len(), 3);
    assert!(!walk.complete);
}

#[test]
fn supports_answers_from_the_info_and_shares_the_cache() {
    let mut h = Harness::new();
    let yes = h.supports(0, "conference.example.org", MUC);
    serve(&mut h, 1);
    let outcome = h.completion_of(yes);
    assert!(outcome.support().supported);
    let no = h.supports(2, "conference.example.org", UPLOAD);
    assert!(h.sent().is_empty(), "from the cache");
    assert!(!h.completion_of(no).support().supported);
    let failing = h.supports(3, "broken.example.org", MUC);
    serve(&mut h, 4);
    assert!(matches!(
        h.completion_of(failing).error(),
        QueryError::Stanza(_)
    ));
    h.assert_all_completed();
}
