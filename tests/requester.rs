//! The requester half against DESIGN.md's requester semantics, stanza in, stanza out.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::*;
use xmpp_disco::{
    Cached, Config, Event, Handled, InvalidArgument, InvalidText, MalformedReply, QueryError,
    QueryKind, QueryOptions, StanzaNamespace, Transmit,
};
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType};

fn default() -> QueryOptions {
    QueryOptions::default()
}

#[test]
fn a_query_sends_one_get_and_completes_with_the_parsed_answer() {
    let mut h = Harness::new();
    let id = h.info(0, "example.org", None, default());
    let request = h.sent_one();
    let (_, to, node) = query_of(&request, INFO);
    assert_eq!((to.as_str(), node), ("example.org", None));
    assert!(h.completions().is_empty(), "completed before its answer");

    h.feed_consumed(10, info_reply(&request, SERVER_INFO));
    let outcome = h.completion_of(id);
    let info = outcome.info();
    assert_eq!(info.identities[0].category, "server");
    assert_eq!(info.identities[0].name.as_deref(), Some("Prosody"));
    assert!(info.features.contains(ITEMS));
    assert_eq!(h.machine.stats().requests_sent, 1);
    h.assert_all_completed();
}

#[test]
fn a_cache_hit_sends_nothing_and_shares_the_result() {
    let mut h = Harness::new();
    let first = h.info(0, "example.org", None, default());
    let request = h.sent_one();
    h.feed_consumed(5, info_reply(&request, SERVER_INFO));
    let cached = h.completion_of(first).info().clone();

    let second = h.info(10, "example.org", None, default());
    assert!(h.sent().is_empty(), "a cache hit must not send");
    let hit = h.completion_of(second).info().clone();
    assert!(Arc::ptr_eq(&cached, &hit));
    assert_eq!(h.machine.stats().cache_hits, 1);
    assert_eq!(h.machine.stats().requests_sent, 1);
}

#[test]
fn concurrent_identical_queries_send_one_iq_and_complete_together() {
    let mut h = Harness::new();
    let a = h.info(0, "pubsub.example.org", Some("princely_musings"), default());
    let b = h.info(1, "pubsub.example.org", Some("princely_musings"), default());
    let request = h.sent_one();
    assert_eq!(
        query_of(&request, INFO).2.as_deref(),
        Some("princely_musings")
    );
    assert!(h.completions().is_empty());

    h.feed_consumed(
        5,
        info_reply(&request, "<identity category='pubsub' type='leaf'/>"),
    );
    let done = h.completions();
    assert_eq!(
        done.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        vec![a, b]
    );
    assert!(Arc::ptr_eq(done[0].1.info(), done[1].1.info()));
    assert_eq!(h.machine.stats().aliased, 1);
}

#[test]
fn a_fresh_query_sends_again_and_becomes_what_later_queries_get() {
    let mut h = Harness::new();
    let old_waiter = h.info(0, "example.org", None, default());
    let old_request = h.sent_one();
    let fresh = h.info(1, "example.org", None, QueryOptions::fresh());
    let fresh_request = h.sent_one();
    assert_ne!(old_request.attr("id"), fresh_request.attr("id"));
    let later = h.info(2, "example.org", None, default());
    assert!(
        h.sent().is_empty(),
        "a later query aliases to the fresh request"
    );

    // The fresh answer arrives first, then the old one: each waiter gets its own request's answer.
    h.feed_consumed(
        3,
        info_reply(
            &fresh_request,
            "<identity category='server' type='im' name='new'/>",
        ),
    );
    let done = h.completions();
    assert_eq!(done.len(), 2);
    assert_eq!((done[0].0, done[1].0), (fresh, later));
    assert_eq!(done[1].1.info().identities[0].name.as_deref(), Some("new"));

    h.feed_consumed(
        4,
        info_reply(
            &old_request,
            "<identity category='server' type='im' name='old'/>",
        ),
    );
    let old = h.completion_of(old_waiter);
    assert_eq!(old.info().identities[0].name.as_deref(), Some("old"));

    // The cache holds the fresh answer, not the one that arrived last.
    let after = h.info(5, "example.org", None, default());
    assert!(h.sent().is_empty());
    assert_eq!(
        h.completion_of(after).info().identities[0].name.as_deref(),
        Some("new")
    );
}

#[test]
fn a_fresh_query_bypasses_a_cached_result() {
    let mut h = Harness::new();
    let first = h.info(0, "example.org", None, default());
    let request = h.sent_one();
    h.feed_consumed(1, info_reply(&request, SERVER_INFO));
    h.completion_of(first);
    let fresh = h.info(2, "example.org", None, QueryOptions::fresh());
    let again = h.sent_one();
    assert!(h.completions().is_empty());
    h.feed_consumed(3, info_reply(&again, SERVER_INFO));
    h.completion_of(fresh).info();
}

#[test]
fn an_error_reply_fails_every_waiter_with_the_peers_error_and_is_not_cached() {
    let mut h = Harness::new();
    let a = h.info(0, "romeo@example.net/orchard", Some("x"), default());
    let b = h.info(0, "romeo@example.net/orchard", Some("x"), default());
    let request = h.sent_one();
    h.feed_consumed(
        1,
        error_reply(&request, "cancel", "item-not-found", Some("no such node")),
    );
    let done = h.completions();
    assert_eq!(done.len(), 2);
    for (id, outcome) in &done {
        assert!([a, b].contains(id));
        let error = outcome.error().stanza_error().expect("a stanza error");
        assert_eq!(error.type_, ErrorType::Cancel);
        assert_eq!(error.defined_condition, DefinedCondition::ItemNotFound);
        assert_eq!(
            error.texts.get("en").map(String::as_str),
            Some("no such node")
        );
    }
    assert_eq!(
        done[0].1.error().to_string(),
        "the entity answered with an error: cancel/item-not-found (no such node)"
    );

    // Failure is not cached: the next query sends again.
    assert!(h
        .machine
        .peek_info(&jid("romeo@example.net/orchard"), Some("x"))
        .is_none());
    h.info(2, "romeo@example.net/orchard", Some("x"), default());
    assert_eq!(h.sent().len(), 1);
}

#[test]
fn malformed_results_fail_the_waiters_and_are_not_cached() {
    let cases: &[(&str, MalformedReply)] = &[
        ("", MalformedReply::EmptyResult),
        (
            "<query xmlns='http://jabber.org/protocol/disco#info'><identity category='a' type='b'/></query><x xmlns='urn:other'/>",
            MalformedReply::MultiplePayloads { count: 2 },
        ),
        (
            "<query xmlns='http://jabber.org/protocol/disco#items'/>",
            MalformedReply::UnexpectedPayload {
                expected: INFO,
                name: "query".into(),
                namespace: ITEMS.into(),
            },
        ),
        (
            "<query xmlns='http://jabber.org/protocol/disco#info'><feature var='urn:x'/></query>",
            MalformedReply::NoIdentity,
        ),
        (
            "<query xmlns='http://jabber.org/protocol/disco#info' node='other'><identity category='a' type='b'/></query>",
            MalformedReply::NodeMismatch {
                asked: None,
                answered: Some("other".into()),
            },
        ),
    ];
    for (payload, expected) in cases {
        let mut h = Harness::new();
        let id = h.info(0, "example.org", None, default());
        let request = h.sent_one();
        let reply = format!(
            "<iq xmlns='jabber:client' type='result' id='{}' from='example.org'>{payload}</iq>",
            request.attr("id").unwrap()
        );
        h.feed_consumed(1, &reply);
        let outcome = h.completion_of(id);
        assert_eq!(outcome.error().malformed(), Some(expected), "{payload}");
        assert_eq!(h.machine.stats().replies_malformed, 1);
        assert!(
            h.machine.peek_info(&jid("example.org"), None).is_none(),
            "{payload}"
        );
        h.info(2, "example.org", None, default());
        assert_eq!(h.sent().len(), 1, "not sent again after {payload}");
    }
}

#[test]
fn invalid_payloads_are_reported_with_the_reason() {
    let mut h = Harness::new();
    let id = h.items(0, "example.org", None, default());
    let request = h.sent_one();
    h.feed_consumed(1, items_reply(&request, "<item jid='not@a@jid'/>"));
    match h.completion_of(id).error().malformed() {
        Some(MalformedReply::InvalidPayload(reason)) => {
            assert!(!reason.is_empty())
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_answer_without_the_node_mirrored_is_accepted() {
    let mut h = Harness::new();
    let id = h.info(0, "example.org", Some("n"), default());
    let request = h.sent_one();
    h.feed_consumed(
        1,
        &format!(
            "<iq xmlns='jabber:client' type='result' id='{}' from='example.org'>\
             <query xmlns='{INFO}'><identity category='a' type='b'/></query></iq>",
            request.attr("id").unwrap()
        ),
    );
    h.completion_of(id).info();
}

#[test]
fn an_aliased_waiter_with_a_short_timeout_times_out_alone() {
    let mut h = Harness::new();
    let patient = h.info(
        0,
        "example.org",
        None,
        QueryOptions::default().with_timeout(Duration::from_secs(60)),
    );
    let hasty = h.info(
        0,
        "example.org",
        None,
        QueryOptions::default().with_timeout(Duration::from_secs(1)),
    );
    let request = h.sent_one();
    assert_eq!(h.machine.poll_timeout(), Some(h.at(1_000)));

    h.tick(999);
    assert!(h.completions().is_empty(), "timed out early");
    h.tick(1_000);
    assert_eq!(h.completion_of(hasty).error(), &QueryError::Timeout);
    assert_eq!(h.machine.poll_timeout(), Some(h.at(60_000)));

    h.feed_consumed(2_000, info_reply(&request, SERVER_INFO));
    h.completion_of(patient).info();
    assert_eq!(h.machine.poll_timeout(), None);
    assert_eq!(h.machine.stats().timeouts, 1);
    h.assert_all_completed();
}

#[test]
fn the_creators_timeout_does_not_cut_short_an_aliased_waiter() {
    let mut h = Harness::new();
    let creator = h.info(
        0,
        "example.org",
        None,
        QueryOptions::default().with_timeout(Duration::from_secs(1)),
    );
    let alias = h.info(
        0,
        "example.org",
        None,
        QueryOptions::default().without_timeout(),
    );
    let request = h.sent_one();
    h.tick(5_000);
    assert_eq!(h.completion_of(creator).error(), &QueryError::Timeout);
    assert_eq!(h.machine.poll_timeout(), None);
    h.feed_consumed(10_000, info_reply(&request, SERVER_INFO));
    h.completion_of(alias).info();
}

#[test]
fn when_the_last_waiter_times_out_the_request_is_abandoned_and_a_late_reply_ignored() {
    let mut h = Harness::new();
    let id = h.info(0, "example.org", None, default());
    let request = h.sent_one();
    assert_eq!(
        h.machine.poll_timeout(),
        Some(h.at(30_000)),
        "the default timeout is 30 s"
    );
    h.tick(30_000);
    assert_eq!(h.completion_of(id).error(), &QueryError::Timeout);
    assert!(h.machine.peek_info(&jid("example.org"), None).is_none());

    h.feed_consumed(31_000, info_reply(&request, SERVER_INFO));
    assert!(h.completions().is_empty());
    assert_eq!(h.machine.stats().replies_rejected, 1);
    assert!(
        h.machine.peek_info(&jid("example.org"), None).is_none(),
        "a late reply is not cached"
    );

    h.info(32_000, "example.org", None, default());
    assert_eq!(h.sent().len(), 1, "an abandoned request is not aliased to");
}

#[test]
fn cancel_completes_only_that_waiter() {
    let mut h = Harness::new();
    let a = h.items(0, "example.org", None, default());
    let b = h.items(0, "example.org", None, default());
    let request = h.sent_one();
    assert!(h.machine.cancel(a));
    assert_eq!(h.completion_of(a).error(), &QueryError::Cancelled);
    assert!(
        !h.machine.cancel(a),
        "a completed request cannot be cancelled again"
    );
    assert!(h.completions().is_empty());

    h.feed_consumed(
        1,
        items_reply(&request, "<item jid='conference.example.org'/>"),
    );
    assert_eq!(
        h.completion_of(b).items().items[0].jid,
        jid("conference.example.org")
    );
    assert!(!h.machine.cancel(b));
    assert_eq!(h.machine.stats().cancelled, 1);
}

#[test]
fn cancelling_the_last_waiter_abandons_the_request() {
    let mut h = Harness::new();
    let id = h.info(0, "example.org", None, default());
    let request = h.sent_one();
    assert!(h.machine.cancel(id));
    h.completion_of(id);
    assert_eq!(h.machine.poll_timeout(), None);
    h.feed_consumed(1, info_reply(&request, SERVER_INFO));
    assert!(h.completions().is_empty());
    h.info(2, "example.org", None, default());
    assert_eq!(h.sent().len(), 1);
}

#[test]
fn a_reply_from_another_entity_completes_nothing() {
    let mut h = Harness::new();
    let id = h.info(0, "romeo@example.net/orchard", None, default());
    let request = h.sent_one();
    let request_id = request.attr("id").unwrap();
    for from in [
        "mallory@example.net/orchard",
        "romeo@example.net",
        "example.net",
        "romeo@example.net/other",
    ] {
        h.feed_consumed(
            1,
            &format!(
                "<iq xmlns='jabber:client' type='result' id='{request_id}' from='{from}'>\
                 <query xmlns='{INFO}'><identity category='client' type='pc'/></query></iq>"
            ),
        );
    }
    // No `from` at all: only the server may do that, and only for the own account.
    h.feed_consumed(
        1,
        &format!(
            "<iq xmlns='jabber:client' type='result' id='{request_id}'>\
             <query xmlns='{INFO}'><identity category='client' type='pc'/></query></iq>"
        ),
    );
    assert!(h.completions().is_empty());
    assert_eq!(h.machine.stats().replies_rejected, 5);

    // The genuine reply still completes; JIDs compare normalised.
    h.feed_consumed(
        2,
        &format!(
            "<iq xmlns='jabber:client' type='result' id='{request_id}' from='Romeo@Example.NET/orchard'>\
             <query xmlns='{INFO}'><identity category='client' type='phone'/></query></iq>"
        ),
    );
    assert_eq!(h.completion_of(id).info().identities[0].type_, "phone");
}

#[test]
fn the_server_may_answer_for_the_own_account_without_from() {
    let mut config = Config::default();
    config.own_jid = Some(jid("juliet@capulet.example/balcony"));
    let mut h = Harness::with_config(config);
    let account = h.info(0, "juliet@capulet.example", None, default());
    let server = h.items(0, "capulet.example", None, default());
    let sent = h.sent();
    for request in &sent {
        let id = request.attr("id").unwrap();
        let payload = if request.has_child("query", INFO) {
            format!(
                "<query xmlns='{INFO}'><identity category='account' type='registered'/></query>"
            )
        } else {
            format!("<query xmlns='{ITEMS}'/>")
        };
        h.feed_consumed(
            1,
            &format!("<iq xmlns='jabber:client' type='result' id='{id}'>{payload}</iq>"),
        );
    }
    let done = h.completions();
    assert_eq!(done.len(), 2);
    assert_eq!(done[0].0, account);
    assert_eq!(done[0].1.info().identities[0].category, "account");
    assert_eq!(done[1].0, server);
    done[1].1.items();
}

#[test]
fn the_own_account_exception_needs_the_own_jid_and_follows_it() {
    let mut h = Harness::new();
    let id = h.info(0, "juliet@capulet.example", None, default());
    let request_id = h.sent_one().attr("id").unwrap().to_owned();
    let reply = format!(
        "<iq xmlns='jabber:client' type='result' id='{request_id}'>\
         <query xmlns='{INFO}'><identity category='account' type='registered'/></query></iq>"
    );
    h.feed_consumed(1, &reply);
    assert!(
        h.completions().is_empty(),
        "no own JID: a reply without from is not trusted"
    );
    h.machine.set_own_jid(jid("juliet@capulet.example/balcony"));
    h.feed_consumed(2, &reply);
    h.completion_of(id).info();
}

#[test]
fn stanzas_that_are_not_ours_are_handed_back_untouched() {
    let mut h = Harness::new();
    h.info(0, "example.org", None, default());
    let request = h.sent_one();
    let our_id = request.attr("id").unwrap().to_owned();
    let foreign = [
        "<message xmlns='jabber:client' from='example.org' id='disco-0'><body>hi</body></message>".to_owned(),
        "<presence xmlns='jabber:client' from='example.org'/>".to_owned(),
        format!("<iq xmlns='jabber:client' type='result' id='host-{our_id}' from='example.org'/>"),
        "<iq xmlns='jabber:client' type='result' id='disco-x' from='example.org'/>".to_owned(),
        "<iq xmlns='jabber:client' type='result' id='disco-00' from='example.org'/>".to_owned(),
        "<iq xmlns='jabber:client' type='result' id='disco-99' from='example.org'/>".to_owned(),
        "<iq xmlns='jabber:client' type='result' id='disco-+0' from='example.org'/>".to_owned(),
        format!("<iq xmlns='jabber:client' type='get' id='{our_id}' from='example.org'><ping xmlns='urn:xmpp:ping'/></iq>"),
        format!("<iq xmlns='urn:not-a-stanza' type='result' id='{our_id}' from='example.org'/>"),
    ];
    for xml in &foreign {
        let stanza = element(xml);
        match h.feed(1, stanza.clone()) {
            Handled::Unhandled(back) => assert_eq!(back, stanza, "changed: {xml}"),
            Handled::Consumed => panic!("consumed a foreign stanza: {xml}"),
        }
    }
    assert!(h.completions().is_empty());
    assert_eq!(h.machine.stats().replies_rejected, 0);
}

#[test]
fn a_duplicate_reply_is_harmless() {
    let mut h = Harness::new();
    let id = h.info(0, "example.org", None, default());
    let request = h.sent_one();
    let reply = info_reply(&request, SERVER_INFO);
    h.feed_consumed(1, &reply);
    h.completion_of(id);
    h.feed_consumed(2, &reply);
    h.feed_consumed(2, error_reply(&request, "cancel", "item-not-found", None));
    assert!(h.completions().is_empty());
    assert_eq!(h.machine.stats().replies_rejected, 2);
    assert!(matches!(
        h.machine.peek_info(&jid("example.org"), None),
        Some(Cached::Ready(_))
    ));
}

#[test]
fn a_reply_of_the_wrong_kind_fails_cleanly() {
    let mut h = Harness::new();
    let info = h.info(0, "example.org", None, default());
    let items = h.items(0, "example.org", None, default());
    let sent = h.sent();
    assert_eq!(sent.len(), 2);
    // Swap the answers: each request gets the other kind's payload.
    let info_id = sent[0].attr("id").unwrap();
    let items_id = sent[1].attr("id").unwrap();
    h.feed_consumed(1, &format!("<iq xmlns='jabber:client' type='result' id='{info_id}' from='example.org'><query xmlns='{ITEMS}'/></iq>"));
    h.feed_consumed(1, &format!("<iq xmlns='jabber:client' type='result' id='{items_id}' from='example.org'><query xmlns='{INFO}'><identity category='a' type='b'/></query></iq>"));
    let done = h.completions();
    assert_eq!(done.len(), 2);
    assert_eq!(done[0].0, info);
    assert!(matches!(
        &done[0].1,
        Outcome::Info(Err(error))
            if matches!(error.malformed(), Some(MalformedReply::UnexpectedPayload { .. }))
    ));
    assert_eq!(done[1].0, items);
    assert!(matches!(
        &done[1].1,
        Outcome::Items(Err(error))
            if matches!(error.malformed(), Some(MalformedReply::UnexpectedPayload { .. }))
    ));
}

#[test]
fn full_and_bare_jids_nodes_and_kinds_are_different_keys() {
    let mut h = Harness::new();
    h.info(0, "romeo@example.net", None, default());
    h.info(0, "romeo@example.net/orchard", None, default());
    h.info(0, "romeo@example.net", Some("a"), default());
    h.info(0, "romeo@example.net", Some("b"), default());
    h.items(0, "romeo@example.net", None, default());
    assert_eq!(h.sent().len(), 5);
    // The same key written differently is the same key.
    h.info(0, "Romeo@EXAMPLE.net", None, default());
    assert!(h.sent().is_empty());
    assert_eq!(h.machine.stats().aliased, 1);
}

#[test]
fn an_empty_node_is_refused_at_the_call() {
    let mut h = Harness::new();
    let now = h.at(0);
    let to = jid("example.org");
    assert_eq!(
        h.machine.query_info(now, &to, Some(""), default()),
        Err(InvalidArgument::EmptyNode)
    );
    assert_eq!(
        h.machine.query_items(now, &to, Some(""), default()),
        Err(InvalidArgument::EmptyNode)
    );
    assert!(h.machine.prime_info_pending(&to, Some("")).is_err());
    assert!(h.machine.prime_info_lazy(&to, Some("")).is_err());
    assert!(h.machine.peek_info(&to, Some("")).is_none());
    h.assert_quiet();
}

#[test]
fn the_stream_reset_fails_everything_pending_exactly_once() {
    let mut h = Harness::new();
    let a = h.info(0, "a.example", None, default());
    let b = h.info(0, "a.example", None, default());
    let c = h.items(
        0,
        "b.example",
        None,
        QueryOptions::default().without_timeout(),
    );
    let sent_before = h.sent();
    assert_eq!(sent_before.len(), 2);
    // One more request is queued but not yet sent when the stream dies.
    let d = h.info(0, "c.example", None, default());
    let handle = h
        .machine
        .prime_info_pending(&jid("d.example"), None)
        .unwrap();
    let e = h.info(0, "d.example", None, default());
    // And one cached answer, which must not survive.
    h.machine
        .set_info_cache(&jid("e.example"), None, Arc::new(support_info()))
        .unwrap();

    h.machine.stream_destroyed();
    let done = h.completions();
    assert_eq!(
        done.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        vec![a, b, c, d, e]
    );
    for (_, outcome) in &done {
        assert_eq!(outcome.error(), &QueryError::Disconnected);
    }
    assert!(
        h.sent().is_empty(),
        "unsent requests of the dead stream are dropped"
    );
    assert_eq!(h.machine.poll_timeout(), None);
    assert!(h.machine.peek_info(&jid("e.example"), None).is_none());
    assert!(
        !h.machine.complete_prime(handle, support_info()),
        "prime handles die with the stream"
    );

    // Replies for the old stream change nothing; the machine works on the next stream.
    h.feed_consumed(1, info_reply(&sent_before[0], SERVER_INFO));
    h.machine.stream_destroyed();
    assert!(h.completions().is_empty(), "nothing completes twice");
    let next = h.info(2, "a.example", None, default());
    let request = h.sent_one();
    h.feed_consumed(3, info_reply(&request, SERVER_INFO));
    h.completion_of(next).info();
    h.assert_all_completed();
}

fn support_info() -> xmpp_parsers::disco::DiscoInfoResult {
    xmpp_parsers::disco::DiscoInfoResult {
        node: None,
        identities: vec![xmpp_parsers::disco::Identity {
            category: "client".into(),
            type_: "pc".into(),
            lang: None,
            name: None,
        }],
        features: [INFO.to_owned()].into_iter().collect(),
        extensions: vec![],
    }
}

#[test]
fn the_cache_evicts_the_least_recently_used_entry() {
    let mut config = Config::default();
    config.info_cache_capacity = 2;
    let mut h = Harness::with_config(config);
    for (ms, to) in [(0, "a.example"), (1, "b.example")] {
        let id = h.info(ms, to, None, default());
        let request = h.sent_one();
        h.feed_consumed(ms, info_reply(&request, SERVER_INFO));
        h.completion_of(id);
    }
    // Touch a, so that b is the least recently used.
    h.info(2, "a.example", None, default());
    h.completions();
    let c = h.info(3, "c.example", None, default());
    let request = h.sent_one();
    h.feed_consumed(4, info_reply(&request, SERVER_INFO));
    h.completion_of(c);

    assert!(h.machine.peek_info(&jid("b.example"), None).is_none());
    assert!(matches!(
        h.machine.peek_info(&jid("a.example"), None),
        Some(Cached::Ready(_))
    ));
    assert!(matches!(
        h.machine.peek_info(&jid("c.example"), None),
        Some(Cached::Ready(_))
    ));
    h.info(5, "b.example", None, default());
    assert_eq!(h.sent().len(), 1);
}

#[test]
fn eviction_never_loses_the_waiters_of_a_request_in_flight() {
    let mut config = Config::default();
    config.info_cache_capacity = 1;
    let mut h = Harness::with_config(config);
    let a = h.info(0, "a.example", None, default());
    let a_request = h.sent_one();
    let b = h.info(1, "b.example", None, default());
    let b_request = h.sent_one();
    // a's entry was evicted to make room for b: a new query for a sends again...
    let a2 = h.info(2, "a.example", None, default());
    let a2_request = h.sent_one();
    // ...but a's first waiter still gets a's first answer.
    h.feed_consumed(3, info_reply(&a_request, SERVER_INFO));
    h.completion_of(a).info();
    h.feed_consumed(3, info_reply(&b_request, SERVER_INFO));
    h.completion_of(b).info();
    h.feed_consumed(3, info_reply(&a2_request, SERVER_INFO));
    h.completion_of(a2).info();
    h.assert_all_completed();
}

#[test]
fn a_capacity_of_zero_disables_caching_and_aliasing() {
    let mut config = Config::default();
    config.items_cache_capacity = 0;
    let mut h = Harness::with_config(config);
    let a = h.items(0, "example.org", None, default());
    let b = h.items(0, "example.org", None, default());
    let sent = h.sent();
    assert_eq!(sent.len(), 2);
    for request in &sent {
        h.feed_consumed(1, items_reply(request, ""));
    }
    let done = h.completions();
    assert_eq!(
        done.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        vec![a, b]
    );
    assert!(h.machine.peek_items(&jid("example.org"), None).is_none());
}

#[test]
fn the_in_flight_limit_fails_a_new_request_at_once() {
    let mut config = Config::default();
    config.max_in_flight = 1;
    let mut h = Harness::with_config(config);
    let first = h.info(0, "a.example", None, default());
    let request = h.sent_one();
    let alias = h.info(0, "a.example", None, default());
    let refused = h.items(0, "b.example", None, default());
    assert!(h.sent().is_empty());
    assert_eq!(
        h.completion_of(refused).error(),
        &QueryError::TooManyRequests { limit: 1 }
    );
    assert_eq!(
        QueryError::TooManyRequests { limit: 1 }.to_string(),
        "too many requests in flight (limit 1)"
    );

    h.feed_consumed(1, info_reply(&request, SERVER_INFO));
    let done = h.completions();
    assert_eq!(
        done.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        vec![first, alias]
    );
    h.items(2, "b.example", None, default());
    assert_eq!(h.sent().len(), 1, "room again once the request completed");
}

#[test]
fn abandoned_requests_free_their_in_flight_slot() {
    let mut config = Config::default();
    config.max_in_flight = 1;
    let mut h = Harness::with_config(config);
    let first = h.info(0, "a.example", None, default());
    h.sent_one();
    h.machine.cancel(first);
    h.info(1, "b.example", None, default());
    assert_eq!(h.sent().len(), 1);
}

#[test]
fn a_primed_result_answers_without_sending() {
    let mut h = Harness::new();
    let shared = Arc::new(support_info());
    for who in ["a@example.org/x", "b@example.org/y"] {
        h.machine
            .set_info_cache(&jid(who), Some("caps#ver"), Arc::clone(&shared))
            .unwrap();
    }
    let id = h.info(0, "b@example.org/y", Some("caps#ver"), default());
    assert!(h.sent().is_empty());
    assert!(Arc::ptr_eq(h.completion_of(id).info(), &shared));
}

#[test]
fn queries_alias_to_a_pending_prime_until_it_is_resolved() {
    let mut h = Harness::new();
    let handle = h
        .machine
        .prime_info_pending(&jid("romeo@example.net/orchard"), None)
        .unwrap();
    let a = h.info(0, "romeo@example.net/orchard", None, default());
    let b = h.info(1, "romeo@example.net/orchard", None, default());
    assert!(h.sent().is_empty());
    assert!(h.completions().is_empty());
    assert!(matches!(
        h.machine.peek_info(&jid("romeo@example.net/orchard"), None),
        Some(Cached::Pending)
    ));
    assert!(h.others.is_empty(), "an eager prime raises no event");

    assert!(h.machine.complete_prime(handle, support_info()));
    let done = h.completions();
    assert_eq!(
        done.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        vec![a, b]
    );
    assert!(
        !h.machine.complete_prime(handle, support_info()),
        "resolved once"
    );
    let c = h.info(2, "romeo@example.net/orchard", None, default());
    h.completion_of(c).info();
    assert!(h.sent().is_empty());
}

#[test]
fn a_failed_prime_sticks_until_a_fresh_query() {
    let mut h = Harness::new();
    let handle = h
        .machine
        .prime_info_pending(&jid("romeo@example.net/orchard"), None)
        .unwrap();
    let waiting = h.info(0, "romeo@example.net/orchard", None, default());
    assert!(h.machine.fail_prime(handle, "caps hash mismatch"));
    let expected = QueryError::PrimeFailed(Arc::from("caps hash mismatch"));
    assert_eq!(h.completion_of(waiting).error(), &expected);

    let later = h.info(1, "romeo@example.net/orchard", None, default());
    assert!(h.sent().is_empty());
    assert_eq!(h.completion_of(later).error(), &expected);

    let fresh = h.info(2, "romeo@example.net/orchard", None, QueryOptions::fresh());
    let request = h.sent_one();
    h.feed_consumed(3, info_reply(&request, SERVER_INFO));
    h.completion_of(fresh).info();
    let after = h.info(4, "romeo@example.net/orchard", None, default());
    h.completion_of(after).info();
}

#[test]
fn a_lazy_prime_asks_the_host_once_when_first_needed() {
    let mut h = Harness::new();
    let handle = h
        .machine
        .prime_info_lazy(&jid("romeo@example.net/orchard"), Some("caps#v"))
        .unwrap();
    h.completions();
    assert!(
        h.others.is_empty(),
        "nothing is looked up before a query needs it"
    );

    let a = h.info(0, "romeo@example.net/orchard", Some("caps#v"), default());
    let b = h.info(0, "romeo@example.net/orchard", Some("caps#v"), default());
    assert!(h.completions().is_empty());
    assert_eq!(h.others.len(), 1);
    match &h.others[0] {
        Event::PrimeRequested {
            handle: asked,
            jid: who,
            node,
        } => {
            assert_eq!(*asked, handle);
            assert_eq!(*who, jid("romeo@example.net/orchard"));
            assert_eq!(node.as_deref(), Some("caps#v"));
        }
        other => panic!("{other:?}"),
    }
    assert!(h.machine.complete_prime(handle, support_info()));
    assert_eq!(h.completions().len(), 2);
    assert!(h.is_completed(a) && h.is_completed(b));
}

#[test]
fn a_prime_replacing_an_entry_in_flight_serves_later_queries() {
    let mut h = Harness::new();
    let early = h.info(0, "romeo@example.net/orchard", None, default());
    let request = h.sent_one();
    h.machine
        .set_info_cache(&jid("romeo@example.net/orchard"), None, support_info())
        .unwrap();
    let later = h.info(1, "romeo@example.net/orchard", None, default());
    assert_eq!(h.completion_of(later).info().identities[0].type_, "pc");
    // The request in flight still completes its own waiter, and does not overwrite the prime.
    h.feed_consumed(2, info_reply(&request, SERVER_INFO));
    assert_eq!(
        h.completion_of(early).info().identities[0].category,
        "server"
    );
    match h.machine.peek_info(&jid("romeo@example.net/orchard"), None) {
        Some(Cached::Ready(info)) => assert_eq!(info.identities[0].category, "client"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_replaced_or_flushed_prime_nobody_waits_on_goes_stale() {
    let mut h = Harness::new();
    let who = jid("romeo@example.net/orchard");
    let replaced = h.machine.prime_info_pending(&who, None).unwrap();
    let current = h.machine.prime_info_pending(&who, None).unwrap();
    assert!(!h.machine.complete_prime(replaced, support_info()));
    h.machine.flush_cache();
    assert!(!h.machine.fail_prime(current, "gone"));
    h.assert_quiet();
}

#[test]
fn a_replaced_prime_still_answers_its_own_waiters() {
    let mut h = Harness::new();
    let who = jid("romeo@example.net/orchard");
    let first = h.machine.prime_info_pending(&who, None).unwrap();
    let waiting = h.info(0, "romeo@example.net/orchard", None, default());
    let second = h.machine.prime_info_pending(&who, None).unwrap();
    let later = h.info(1, "romeo@example.net/orchard", None, default());
    assert!(h.machine.complete_prime(first, support_info()));
    h.completion_of(waiting).info();
    assert!(
        matches!(h.machine.peek_info(&who, None), Some(Cached::Pending)),
        "the first prime does not overwrite the second"
    );
    assert!(h.machine.fail_prime(second, "nope"));
    assert!(matches!(
        h.completion_of(later).error(),
        QueryError::PrimeFailed(_)
    ));
}

#[test]
fn flushing_the_cache_keeps_waiters_waiting() {
    let mut h = Harness::new();
    let done_before = h.info(0, "a.example", None, default());
    let request = h.sent_one();
    h.feed_consumed(1, info_reply(&request, SERVER_INFO));
    h.completion_of(done_before);
    let waiting = h.info(2, "b.example", None, default());
    let b_request = h.sent_one();

    h.machine.flush_cache();
    assert!(h.machine.peek_info(&jid("a.example"), None).is_none());
    assert!(h.machine.peek_info(&jid("b.example"), None).is_none());
    assert!(h.completions().is_empty(), "a flush fails nobody");

    h.feed_consumed(3, info_reply(&b_request, SERVER_INFO));
    h.completion_of(waiting).info();
    assert!(
        h.machine.peek_info(&jid("b.example"), None).is_none(),
        "flushed while in flight: not cached"
    );
    h.info(4, "a.example", None, default());
    assert_eq!(h.sent().len(), 1);
}

#[test]
fn poll_timeout_is_none_exactly_when_no_deadline_is_pending() {
    let mut h = Harness::new();
    assert_eq!(h.machine.poll_timeout(), None);
    let a = h.info(
        0,
        "a.example",
        None,
        QueryOptions::default().without_timeout(),
    );
    assert_eq!(h.machine.poll_timeout(), None);
    let b = h.info(
        100,
        "b.example",
        None,
        QueryOptions::default().with_timeout(Duration::from_secs(5)),
    );
    let c = h.info(
        200,
        "c.example",
        None,
        QueryOptions::default().with_timeout(Duration::from_secs(1)),
    );
    assert_eq!(h.machine.poll_timeout(), Some(h.at(1_200)));
    h.machine.cancel(c);
    assert_eq!(h.machine.poll_timeout(), Some(h.at(5_100)));
    h.machine.cancel(b);
    assert_eq!(h.machine.poll_timeout(), None);
    h.machine.cancel(a);
    h.assert_all_completed();
}

#[test]
fn timeouts_fire_in_deadline_order() {
    let mut h = Harness::new();
    let late = h.info(
        0,
        "a.example",
        None,
        QueryOptions::default().with_timeout(Duration::from_secs(3)),
    );
    let early = h.info(
        0,
        "b.example",
        None,
        QueryOptions::default().with_timeout(Duration::from_secs(1)),
    );
    let never = h.info(
        0,
        "c.example",
        None,
        QueryOptions::default().without_timeout(),
    );
    h.tick(10_000);
    let done = h.completions();
    assert_eq!(
        done.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        vec![early, late]
    );
    assert!(!h.is_completed(never));
}

#[test]
fn a_huge_timeout_means_no_deadline_rather_than_a_panic() {
    let mut h = Harness::new();
    h.info(
        0,
        "a.example",
        None,
        QueryOptions::default().with_timeout(Duration::MAX),
    );
    assert_eq!(h.machine.poll_timeout(), None);
}

#[test]
fn typed_iqs_take_the_same_path() {
    use xmpp_parsers::iq::Iq;
    let mut h = Harness::new();
    let info = h.info(0, "example.org", None, default());
    let items = h.items(0, "example.org", None, default());
    let requests: Vec<Iq> = std::iter::from_fn(|| h.machine.poll_transmit())
        .map(Transmit::into_iq)
        .collect();
    assert_eq!(requests.len(), 2);
    let Iq::Get {
        id: info_id, to, ..
    } = &requests[0]
    else {
        panic!()
    };
    assert_eq!(to.as_ref(), Some(&jid("example.org")));
    let Iq::Get { id: items_id, .. } = &requests[1] else {
        panic!()
    };

    let result = Iq::Result {
        from: Some(jid("example.org")),
        to: None,
        id: info_id.clone(),
        payload: Some(element(&format!(
            "<query xmlns='{INFO}'><identity category='server' type='im'/></query>"
        ))),
    };
    assert!(h.machine.handle_iq(h.at(1), result).is_consumed());
    let error = Iq::Error {
        from: Some(jid("example.org")),
        to: None,
        id: items_id.clone(),
        payload: None,
        error: xmpp_parsers::stanza_error::StanzaError::new(
            ErrorType::Cancel,
            DefinedCondition::ServiceUnavailable,
            "en",
            "no",
        ),
    };
    assert!(h.machine.handle_iq(h.at(1), error).is_consumed());
    let done = h.completions();
    assert_eq!(done[0].0, info);
    done[0].1.info();
    assert_eq!(done[1].0, items);
    assert_eq!(
        done[1].1.error().stanza_error().unwrap().defined_condition,
        DefinedCondition::ServiceUnavailable
    );

    let foreign = Iq::Result {
        from: None,
        to: None,
        id: "host-1".into(),
        payload: None,
    };
    assert_eq!(
        h.machine.handle_iq(h.at(2), foreign.clone()),
        Handled::Unhandled(foreign)
    );
}

#[test]
fn a_component_stamps_from_and_uses_its_namespace() {
    let mut config = Config::default();
    config.own_jid = Some(jid("disco.example.org"));
    config.stamp_from = true;
    config.stanza_namespace = StanzaNamespace::ComponentAccept;
    config.id_prefix = "c".into();
    let mut h = Harness::with_config(config);
    let id = h.info(0, "example.org", None, default());
    let request = h.sent_one();
    assert!(request.is("iq", "jabber:component:accept"));
    assert_eq!(request.attr("from"), Some("disco.example.org"));
    assert_eq!(request.attr("id"), Some("c0"));
    h.feed_consumed(
        1,
        "<iq xmlns='jabber:component:accept' type='result' id='c0' from='example.org' to='disco.example.org'>\
         <query xmlns='http://jabber.org/protocol/disco#info'><identity category='server' type='im'/></query></iq>",
    );
    h.completion_of(id).info();
}

#[test]
fn stats_show_what_the_cache_saved() {
    let mut h = Harness::new();
    let first = h.info(0, "example.org", None, default());
    h.info(0, "example.org", None, default());
    h.info(0, "example.org", None, default());
    let request = h.sent_one();
    h.feed_consumed(1, info_reply(&request, SERVER_INFO));
    h.info(2, "example.org", None, default());
    h.completions();
    let stats = h.machine.stats();
    assert_eq!(stats.requests_sent, 1);
    assert_eq!(stats.aliased, 2);
    assert_eq!(stats.cache_hits, 1);
    assert!(h.is_completed(first));
}

#[test]
fn requests_say_the_same_in_every_form() {
    for stamp_from in [false, true] {
        let mut config = Config::default();
        config.own_jid = Some(jid("juliet@capulet.example/balcony"));
        config.stamp_from = stamp_from;
        let mut h = Harness::with_config(config);
        let to = "pubsub.capulet.example";
        for node in [
            None,
            Some("princely_musings"),
            Some("a&b<c>'d\"e\tf\ng\r ✓"),
        ] {
            h.info(0, to, node, QueryOptions::fresh());
            h.items(0, to, node, QueryOptions::fresh());
            // The harness takes every stanza as element, typed IQ and bytes, and compares them.
            for sent in h.sent() {
                assert_eq!(
                    query_of(&sent, sent.children().next().unwrap().ns().as_str())
                        .2
                        .as_deref(),
                    node
                );
                let from = stamp_from.then_some("juliet@capulet.example/balcony");
                assert_eq!(sent.attr("from"), from);
            }
        }
    }
}

#[test]
fn a_node_xml_cannot_carry_is_refused_at_the_call() {
    let mut h = Harness::new();
    let to = jid("capulet.example");
    for node in [
        "bad\u{1}node",
        "\u{0}",
        "a\u{fffe}",
        "\u{ffff}",
        "tab\tis\u{1f}not",
    ] {
        for kind in [QueryKind::Info, QueryKind::Items] {
            let options = QueryOptions::default().without_timeout();
            let refused = match kind {
                QueryKind::Info => h.machine.query_info(h.at(0), &to, Some(node), options),
                QueryKind::Items => h.machine.query_items(h.at(0), &to, Some(node), options),
            };
            assert!(
                matches!(
                    refused,
                    Err(InvalidArgument::Text(InvalidText::Character { .. }))
                ),
                "{node:?}: {refused:?}"
            );
        }
        assert!(matches!(
            h.machine.prime_info_pending(&to, Some(node)),
            Err(InvalidArgument::Text(_))
        ));
        assert!(h
            .machine
            .set_info_cache(&to, Some(node), support_info())
            .is_err());
    }
    // Nothing was started: nothing is sent, nothing waits, and a valid query is not aliased
    // to a request that never went out.
    h.assert_quiet();
    assert_eq!(h.machine.poll_timeout(), None);
    let id = h.info(0, "capulet.example", Some("good node"), default());
    let request = h.sent_one();
    h.feed_consumed(1, info_reply(&request, SERVER_INFO));
    h.completion_of(id).info();
    h.assert_all_completed();
}

#[test]
fn an_id_prefix_xml_cannot_carry_refuses_every_query() {
    let mut config = Config::default();
    config.id_prefix = "disco\u{7}".into();
    let mut h = Harness::with_config(config);
    let refused = h
        .machine
        .query_info(h.at(0), &jid("capulet.example"), None, default());
    assert!(matches!(
        refused,
        Err(InvalidArgument::Text(InvalidText::Character {
            character: '\u{7}',
            ..
        }))
    ));
    h.assert_quiet();
}

#[test]
fn a_reply_nested_deeper_than_any_disco_answer_is_refused_without_overflowing_the_stack() {
    // 5,000 levels: xmpp-parsers' conversion, which the machine falls back on for a shape it
    // does not read itself, overflowed a debug test thread's 2 MiB at 1,000.
    let open: String = (0..5_000).map(|_| "<x>").collect();
    let close: String = (0..5_000).map(|_| "</x>").collect();
    let mut h = Harness::new();
    let info = h.info(0, "capulet.example", None, default());
    let items = h.items(0, "capulet.example", None, default());
    let mut sent = h.sent();
    let deep = format!("{SERVER_INFO}<y xmlns='urn:other'>{open}{close}</y>");
    // Fed with `feed`: the harness's `feed_consumed` formats the stanza, which recurses too.
    assert!(h.feed(1, info_reply(&sent.remove(0), &deep)).is_consumed());
    let condition = format!("<y xmlns='urn:other'>{open}{close}</y>");
    let error = error_reply(&sent.remove(0), "cancel", "item-not-found", None);
    let error = element(&String::from(&error).replace("</error>", &format!("{condition}</error>")));
    assert!(h.feed(1, error).is_consumed());
    let done = h.completions();
    assert_eq!(
        done.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [info, items]
    );
    for (id, outcome) in &done {
        assert!(
            matches!(
                outcome.error().malformed(),
                Some(MalformedReply::TooDeep { limit: 32 })
            ),
            "{id}"
        );
    }
    assert_eq!(h.machine.stats().replies_malformed, 2);
    assert!(h.machine.peek_info(&jid("capulet.example"), None).is_none());
}
