//! Result set management (XEP-0059) on the responder's `disco#items` answers: every rule, stanza
//! in and stanza out, for static, dynamic, deferred, entity and resolver nodes.

mod support;

use std::sync::Arc;

use support::*;
use xmpp_disco::xmpp_parsers::disco::{DiscoItemsResult, Item};
use xmpp_disco::xmpp_parsers::minidom::Element;
use xmpp_disco::xmpp_parsers::rsm::{First, SetQuery, SetResult};
use xmpp_disco::{
    Config, DynamicNode, Entity, Event, ItemsPage, Node, QueryOptions, RequestContext, Resolver,
    StaticNode,
};

const ROMEO: &str = "romeo@montague.example/orchard";
const SERVICE: &str = "rooms.capulet.example";

fn room(n: usize) -> Item {
    Item {
        jid: jid(&format!("room{n}@{SERVICE}")),
        node: None,
        name: Some(format!("Room {n}")),
    }
}

fn rooms(count: usize) -> Vec<Item> {
    (0..count).map(room).collect()
}

/// A machine whose root lists `count` rooms.
fn listing(count: usize, config: Config) -> Harness {
    let mut h = Harness::with_config(config);
    h.machine
        .root_mut()
        .set_items(rooms(count))
        .expect("valid items");
    let _ = h.machine.poll_event();
    h
}

/// An items request for the root of `to` (the machine itself when `None`) with `set` inside.
fn request(id: &str, to: Option<&str>, set: &str) -> Element {
    let to = to.map(|to| format!(" to='{to}'")).unwrap_or_default();
    element(&format!(
        "<iq xmlns='jabber:client' type='get' id='{id}' from='{ROMEO}'{to}>\
         <query xmlns='{ITEMS}'><set xmlns='{RSM}'>{set}</set></query></iq>"
    ))
}

fn ask(h: &mut Harness, stanza: Element) -> Element {
    assert!(h.feed(0, stanza).is_consumed());
    h.sent_one()
}

/// The answer's items and `<set/>`.
fn page(answer: &Element) -> (Vec<Item>, Option<SetResult>) {
    assert_eq!(answer.attr("type"), Some("result"), "{answer:?}");
    let query = answer
        .get_child("query", ITEMS)
        .expect("a disco#items query")
        .clone();
    let parsed = DiscoItemsResult::try_from(query).expect("valid items");
    (parsed.items, parsed.rsm)
}

fn condition(answer: &Element) -> String {
    assert_eq!(answer.attr("type"), Some("error"), "{answer:?}");
    let error = answer
        .get_child("error", "jabber:client")
        .expect("<error/>");
    let condition = error.children().next().expect("a condition");
    format!(
        "{} {}",
        error.attr("type").unwrap_or_default(),
        condition.name()
    )
}

fn names(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|item| item.name.clone().unwrap_or_default())
        .collect()
}

fn first(set: &SetResult) -> &First {
    set.first.as_ref().expect("a first item")
}

#[test]
fn a_list_is_read_forwards_page_by_page_with_first_last_and_count() {
    let mut h = listing(10, Config::default());
    let mut read = Vec::new();
    let mut after = String::new();
    for (number, expected) in [(0, 4), (1, 4), (2, 2)] {
        let set = if number == 0 {
            "<max>4</max>".to_owned()
        } else {
            format!("<max>4</max><after>{after}</after>")
        };
        let (items, set) = page(&ask(&mut h, request("p", None, &set)));
        let set = set.expect("a page carries a <set/>");
        assert_eq!(items.len(), expected);
        assert_eq!(set.count, Some(10));
        assert_eq!(first(&set).index, Some(read.len()));
        after = set.last.clone().expect("a last item");
        assert_ne!(first(&set).item, after, "two items, two ids");
        read.extend(items);
    }
    assert_eq!(read, rooms(10), "every item once, in order");
}

#[test]
fn before_reads_backwards_and_an_empty_before_is_the_last_page() {
    let mut h = listing(10, Config::default());
    let (items, set) = page(&ask(&mut h, request("b1", None, "<max>3</max><before/>")));
    assert_eq!(names(&items), ["Room 7", "Room 8", "Room 9"]);
    let set = set.expect("a <set/>");
    assert_eq!(first(&set).index, Some(7));
    let before = first(&set).item.clone();
    let (items, set) = page(&ask(
        &mut h,
        request(
            "b2",
            None,
            &format!("<max>3</max><before>{before}</before>"),
        ),
    ));
    assert_eq!(names(&items), ["Room 4", "Room 5", "Room 6"]);
    assert_eq!(first(&set.expect("a <set/>")).index, Some(4));
}

#[test]
fn an_index_starts_a_page_anywhere_and_past_the_end_is_an_empty_page() {
    let mut h = listing(10, Config::default());
    let (items, set) = page(&ask(
        &mut h,
        request("i1", None, "<max>5</max><index>8</index>"),
    ));
    assert_eq!(names(&items), ["Room 8", "Room 9"]);
    assert_eq!(first(&set.expect("a <set/>")).index, Some(8));
    let (items, set) = page(&ask(
        &mut h,
        request("i2", None, "<max>5</max><index>12</index>"),
    ));
    assert!(items.is_empty());
    assert_eq!(
        set,
        Some(SetResult {
            first: None,
            last: None,
            count: Some(10)
        }),
        "no first or last on an empty page"
    );
}

#[test]
fn max_zero_asks_for_the_count_only() {
    let mut h = listing(10, Config::default());
    let (items, set) = page(&ask(&mut h, request("z", None, "<max>0</max>")));
    assert!(items.is_empty());
    assert_eq!(
        set,
        Some(SetResult {
            first: None,
            last: None,
            count: Some(10)
        })
    );
}

#[test]
fn an_id_naming_no_item_is_item_not_found() {
    let mut h = listing(10, Config::default());
    for set in [
        "<after>room3</after>",
        "<before>3.0000000000000000</before>",
        "<after/>",
    ] {
        assert_eq!(
            condition(&ask(&mut h, request("u", None, set))),
            "cancel item-not-found",
            "{set}"
        );
    }
}

#[test]
fn ids_stay_valid_while_the_list_does_not_change_and_not_after() {
    let mut h = listing(10, Config::default());
    let (_, set) = page(&ask(&mut h, request("s1", None, "<max>4</max>")));
    let last = set.expect("a <set/>").last.expect("a last item");
    // An edit of something else keeps the ids.
    h.machine
        .root_mut()
        .register_feature("urn:example:unrelated")
        .expect("a new feature");
    let again = format!("<max>4</max><after>{last}</after>");
    let (items, _) = page(&ask(&mut h, request("s2", None, &again)));
    assert_eq!(names(&items), ["Room 4", "Room 5", "Room 6", "Room 7"]);
    // A room gone from before the page: the id now names another item's place.
    let mut fewer = rooms(10);
    fewer.remove(0);
    h.machine.root_mut().set_items(fewer).expect("valid items");
    assert_eq!(
        condition(&ask(&mut h, request("s3", None, &again))),
        "cancel item-not-found"
    );
}

#[test]
fn malformed_sets_are_bad_requests() {
    let mut h = listing(10, Config::default());
    for set in [
        "<max>-1</max>",
        "<max>ten</max>",
        "<max/>",
        "<index>-3</index>",
        "<after>0.0</after><before>1.0</before>",
        "<index>2</index><after>0.0</after>",
    ] {
        assert_eq!(
            condition(&ask(&mut h, request("m", None, set))),
            "modify bad-request",
            "{set}"
        );
    }
}

#[test]
fn a_huge_max_is_the_whole_list_and_unknown_children_are_ignored() {
    let mut h = listing(10, Config::default());
    let huge = "<max>99999999999999999999999999</max><unknown>x</unknown>";
    let (items, set) = page(&ask(&mut h, request("h", None, huge)));
    assert_eq!(items, rooms(10));
    assert_eq!(set.expect("a <set/>").count, Some(10));
}

#[test]
fn a_configured_largest_answer_pages_long_lists_even_unasked() {
    let mut config = Config::default();
    config.max_items_per_answer = Some(3);
    let mut h = listing(10, config);
    // No <set/>: the first page, with the <set/> that says there is more.
    let plain = element(&format!(
        "<iq xmlns='jabber:client' type='get' id='l1' from='{ROMEO}'><query xmlns='{ITEMS}'/></iq>"
    ));
    let (items, set) = page(&ask(&mut h, plain));
    assert_eq!(names(&items), ["Room 0", "Room 1", "Room 2"]);
    assert_eq!(set.expect("a <set/>").count, Some(10));
    // A larger max is capped.
    let (items, _) = page(&ask(&mut h, request("l2", None, "<max>8</max>")));
    assert_eq!(items.len(), 3);
}

#[test]
fn a_list_within_the_largest_answer_is_answered_whole_without_a_set() {
    let mut config = Config::default();
    config.max_items_per_answer = Some(10);
    let mut h = listing(10, config);
    let plain = element(&format!(
        "<iq xmlns='jabber:client' type='get' id='w' from='{ROMEO}'><query xmlns='{ITEMS}'/></iq>"
    ));
    let (items, set) = page(&ask(&mut h, plain));
    assert_eq!(items, rooms(10));
    assert_eq!(set, None, "XEP-0030's whole list");
}

#[test]
fn a_node_with_items_advertises_rsm_and_one_without_does_not() {
    let mut h = listing(2, Config::default());
    let info = element(&format!(
        "<iq xmlns='jabber:client' type='get' id='f1' from='{ROMEO}'><query xmlns='{INFO}'/></iq>"
    ));
    let features = |answer: &Element| -> Vec<String> {
        answer
            .get_child("query", INFO)
            .expect("a disco#info query")
            .children()
            .filter_map(|c| c.attr("var").map(str::to_owned))
            .collect()
    };
    let with_items = ask(&mut h, info.clone());
    assert_eq!(features(&with_items), [INFO, RSM]);
    h.machine
        .root_mut()
        .set_items(Vec::new())
        .expect("no items");
    assert!(matches!(
        h.machine.poll_event(),
        Some(Event::NodeChanged { .. })
    ));
    assert_eq!(features(&ask(&mut h, info)), [INFO]);
}

/// Builds only the page asked for: its ids are its own.
struct Numbers;

impl DynamicNode for Numbers {
    fn info(
        &self,
        _: &RequestContext<'_>,
    ) -> Option<xmpp_disco::xmpp_parsers::disco::DiscoInfoResult> {
        None
    }

    fn items(&self, _: &RequestContext<'_>) -> Option<Vec<Item>> {
        Some(rooms(6))
    }

    fn items_page(&self, request: &RequestContext<'_>, page: &SetQuery) -> Option<ItemsPage> {
        if request.node != Some("numbers") {
            return None;
        }
        let start: usize = match &page.after {
            Some(after) => after.strip_prefix('n')?.parse::<usize>().ok()? + 1,
            None => 0,
        };
        let end = (start + page.max.unwrap_or(2)).min(1_000_000);
        let items: Vec<Item> = (start..end).map(room).collect();
        let set = SetResult {
            first: Some(First {
                index: Some(start),
                item: format!("n{start}"),
            }),
            last: Some(format!("n{}", end - 1)),
            count: Some(1_000_000),
        };
        Some(ItemsPage::Page(items, set))
    }
}

#[test]
fn a_dynamic_node_answers_its_own_pages_or_has_the_machine_page_its_list() {
    let mut h = Harness::new();
    h.machine
        .mount("numbers", Node::dynamic(Numbers))
        .expect("a valid name");
    h.machine
        .mount("six", Node::dynamic(Numbers))
        .expect("a valid name");
    let node_request = |id: &str, node: &str, set: &str| {
        element(&format!(
            "<iq xmlns='jabber:client' type='get' id='{id}' from='{ROMEO}'>\
             <query xmlns='{ITEMS}' node='{node}'><set xmlns='{RSM}'>{set}</set></query></iq>"
        ))
    };
    let (items, set) = page(&ask(
        &mut h,
        node_request("d1", "numbers", "<max>2</max><after>n499</after>"),
    ));
    assert_eq!(names(&items), ["Room 500", "Room 501"]);
    let set = set.expect("the node's own <set/>");
    assert_eq!(
        (first(&set).item.as_str(), set.count),
        ("n500", Some(1_000_000))
    );
    // The same node mounted elsewhere answers "no such node" to a page request there:
    // item-not-found, as for any node saying so.
    assert_eq!(
        condition(&ask(&mut h, node_request("d2", "six", "<max>2</max>"))),
        "cancel item-not-found"
    );
}

/// Pages nothing itself: the machine takes the page out of its list.
struct Six;

impl DynamicNode for Six {
    fn info(
        &self,
        _: &RequestContext<'_>,
    ) -> Option<xmpp_disco::xmpp_parsers::disco::DiscoInfoResult> {
        None
    }

    fn items(&self, _: &RequestContext<'_>) -> Option<Vec<Item>> {
        Some(rooms(6))
    }
}

#[test]
fn a_dynamic_node_without_its_own_paging_is_paged_by_the_machine() {
    let mut h = Harness::new();
    h.machine
        .mount("six", Node::dynamic(Six))
        .expect("a valid name");
    let stanza = element(&format!(
        "<iq xmlns='jabber:client' type='get' id='d3' from='{ROMEO}'>\
         <query xmlns='{ITEMS}' node='six'><set xmlns='{RSM}'><max>2</max><before/></set></query></iq>"
    ));
    let (items, set) = page(&ask(&mut h, stanza));
    assert_eq!(names(&items), ["Room 4", "Room 5"]);
    assert_eq!(set.expect("a <set/>").count, Some(6));
}

#[test]
fn a_deferred_node_is_answered_whole_by_the_host_and_paged_by_the_machine() {
    let mut h = Harness::new();
    h.machine
        .mount("later", Node::Deferred)
        .expect("a valid name");
    let stanza = element(&format!(
        "<iq xmlns='jabber:client' type='get' id='q1' from='{ROMEO}'>\
         <query xmlns='{ITEMS}' node='later'><set xmlns='{RSM}'><max>2</max><index>3</index></set></query></iq>"
    ));
    assert!(h.feed(0, stanza).is_consumed());
    let handle = std::iter::from_fn(|| h.machine.poll_event())
        .find_map(|event| match event {
            Event::DeferredRequest { handle, .. } => Some(handle),
            _ => None,
        })
        .expect("a deferred request");
    h.machine
        .respond_items(handle, rooms(10))
        .expect("a live handle");
    let (items, set) = page(&h.sent_one());
    assert_eq!(names(&items), ["Room 3", "Room 4"]);
    assert_eq!(first(&set.expect("a <set/>")).index, Some(3));
}

#[test]
fn entities_and_the_resolver_page_like_the_own_address() {
    let mut config = Config::default();
    config.own_jid = Some(jid(SERVICE));
    config.stamp_from = true;
    let mut h = Harness::with_config(config);
    let mut directory = StaticNode::new();
    directory
        .register_identity("conference", "text", "Rooms")
        .expect("an identity");
    directory.set_items(rooms(5)).expect("valid items");
    h.machine
        .add_entity(jid(&format!("directory@{SERVICE}")), Entity::new(directory));
    let (items, _) = page(&ask(
        &mut h,
        request(
            "e1",
            Some(&format!("directory@{SERVICE}")),
            "<max>2</max><index>1</index>",
        ),
    ));
    assert_eq!(names(&items), ["Room 1", "Room 2"]);

    h.machine.set_resolver(Resolver::dynamic(Six));
    let (items, set) = page(&ask(
        &mut h,
        request(
            "e2",
            Some(&format!("anyroom@{SERVICE}")),
            "<max>4</max><before/>",
        ),
    ));
    assert_eq!(names(&items), ["Room 2", "Room 3", "Room 4", "Room 5"]);
    assert_eq!(set.expect("a <set/>").count, Some(6));
}

// ---------------------------------------------------------------- the requester's side

const MUC: &str = "conference.example.org";

/// The `<set/>` a page request carries: (max, after, before) as written.
fn asked(request: &Element) -> (Option<String>, Option<String>, Option<String>) {
    let set = request
        .get_child("query", ITEMS)
        .and_then(|query| query.get_child("set", RSM))
        .expect("the request carries a <set/>");
    let part = |name: &str| set.get_child(name, RSM).map(Element::text);
    (part("max"), part("after"), part("before"))
}

/// A result answering `request` with rooms `numbers` and a `<set/>` naming the last one
/// (`last`), with a `count` that may lie.
fn rooms_page(request: &Element, numbers: std::ops::Range<usize>, last: Option<&str>) -> Element {
    let items: String = numbers
        .map(|n| format!("<item jid='room{n}@{MUC}'/>"))
        .collect();
    let set = match last {
        Some(last) => format!("<set xmlns='{RSM}'><last>{last}</last><count>3</count></set>"),
        None => String::new(),
    };
    items_reply(request, &format!("{items}{set}"))
}

fn list_config(page_size: usize) -> Config {
    let mut config = Config::default();
    config.list_page_size = page_size;
    config
}

/// Whether a request carries a `<set/>`.
fn pages(request: &Element) -> bool {
    request
        .get_child("query", ITEMS)
        .is_some_and(|query| query.get_child("set", RSM).is_some())
}

#[test]
fn a_whole_list_is_read_page_after_page_and_completes_once() {
    let mut h = Harness::with_config(list_config(2));
    let id = h.list(0, MUC, None, QueryOptions::default());
    // Nothing says the service knows RSM: a plain request (XEP-0059 §4), which it answers
    // with a first page and a <set/> saying there is more.
    let first = h.sent_one();
    assert!(!pages(&first), "no <set/> without positive knowledge");
    h.feed_consumed(1, rooms_page(&first, 0..2, Some("p1")));
    assert!(h.completions().is_empty(), "one completion, at the end");
    let second = h.sent_one();
    assert_ne!(
        second.attr("id"),
        first.attr("id"),
        "each page its own IQ id"
    );
    assert_eq!(asked(&second), (Some("2".into()), Some("p1".into()), None));
    h.feed_consumed(2, rooms_page(&second, 2..4, Some("p2")));
    let third = h.sent_one();
    // A short page ends the list, whatever `count` (3) said all along.
    h.feed_consumed(3, rooms_page(&third, 4..5, Some("p3")));
    assert!(h.sent().is_empty(), "no fourth page");
    let outcome = h.completion_of(id);
    let list = outcome.list();
    assert_eq!(list.items.len(), 5);
    assert!(list.complete);
    assert_eq!(list.pages, 3);
    assert_eq!(h.machine.stats().requests_sent, 3);
    h.assert_all_completed();
}

#[test]
fn a_set_goes_only_where_rsm_is_known_and_a_session_remembers_it() {
    let mut h = Harness::with_config(list_config(10));
    // Unknown: plain, and a whole answer without a <set/> is the whole list.
    let plain = h.list(0, MUC, None, QueryOptions::default().with_max_pages(1));
    let request = h.sent_one();
    assert!(!pages(&request));
    h.feed_consumed(1, rooms_page(&request, 0..3, None));
    let list = h.completion_of(plain).list().clone();
    assert!(list.complete && list.items.len() == 3);
    // Known from the entity's info: its root lists RSM.
    let info = h.info(2, "rsm.example.org", None, QueryOptions::default());
    let asked_info = h.sent_one();
    h.feed_consumed(
        3,
        info_reply(
            &asked_info,
            &format!("<identity category='conference' type='text'/><feature var='{RSM}'/>"),
        ),
    );
    h.completion_of(info).info();
    h.list(4, "rsm.example.org", None, QueryOptions::default());
    let first = h.sent_one();
    assert_eq!(asked(&first), (Some("10".into()), None, None));
    h.feed_consumed(5, rooms_page(&first, 0..2, None));
    h.completions();
    // Known from an answer that paged: remembered for the session, forgotten with it.
    let first_page = h.items(6, "paged.example.org", None, QueryOptions::default());
    let plain_items = h.sent_one();
    h.feed_consumed(7, rooms_page(&plain_items, 0..2, Some("p1")));
    // The answer says it is a first page, not the list.
    let outcome = h.completion_of(first_page);
    let set = outcome
        .items()
        .rsm
        .as_ref()
        .expect("the responder's <set/>");
    assert_eq!(set.last.as_deref(), Some("p1"));
    h.list(8, "paged.example.org", None, QueryOptions::default());
    assert!(pages(&h.sent_one()), "it paged before");
    h.machine.stream_destroyed();
    h.completions();
    h.list(9, "paged.example.org", None, QueryOptions::default());
    assert!(!pages(&h.sent_one()), "a new session knows nothing");
}

#[test]
fn the_page_size_of_a_whole_list_can_be_set_per_query() {
    let mut h = Harness::with_config(list_config(2));
    let id = h.list(0, MUC, None, QueryOptions::default().with_page_size(7));
    let first = h.sent_one();
    h.feed_consumed(1, rooms_page(&first, 0..3, Some("p1")));
    let second = h.sent_one();
    assert_eq!(asked(&second), (Some("7".into()), Some("p1".into()), None));
    h.feed_consumed(1, rooms_page(&second, 3..5, None));
    assert_eq!(h.completion_of(id).list().items.len(), 5);
}

#[test]
fn a_read_list_is_cached_and_shared_under_its_own_key() {
    let mut h = Harness::with_config(list_config(10));
    let first = h.list(0, MUC, None, QueryOptions::default());
    let aliased = h.list(0, MUC, None, QueryOptions::default());
    let request = h.sent_one();
    h.feed_consumed(1, rooms_page(&request, 0..3, None));
    let done = h.completions();
    assert_eq!(done.len(), 2);
    assert_eq!(done[0].0, first);
    assert_eq!(done[1].0, aliased);
    assert!(Arc::ptr_eq(done[0].1.list(), done[1].1.list()));
    // Cached: no IQ.
    let again = h.list(2, MUC, None, QueryOptions::default());
    h.assert_quiet_but(again);
    // A plain items query is not answered from the list, nor is a page.
    h.items(3, MUC, None, QueryOptions::default());
    let plain = h.sent_one();
    assert!(plain
        .get_child("query", ITEMS)
        .unwrap()
        .get_child("set", RSM)
        .is_none());
    h.feed_consumed(4, items_reply(&plain, "<item jid='one@example.org'/>"));
    assert_eq!(h.completions().len(), 1);
    // And the list is not answered from the plain query's cache entry.
    let list_again = h.list(5, MUC, None, QueryOptions::default());
    assert_eq!(h.completion_of(list_again).list().items.len(), 3);
    h.assert_all_completed();
}

trait QuietBut {
    fn assert_quiet_but(&mut self, id: xmpp_disco::RequestId);
}

impl QuietBut for Harness {
    /// Nothing sent; only `id` completed, from the cache.
    fn assert_quiet_but(&mut self, id: xmpp_disco::RequestId) {
        let sent = self.sent();
        assert!(sent.is_empty(), "{sent:?}");
        let done = self.completions();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].0, id);
    }
}

#[test]
fn an_error_on_any_page_fails_the_list_and_is_not_cached() {
    let mut h = Harness::with_config(list_config(2));
    let id = h.list(0, MUC, None, QueryOptions::default());
    let first = h.sent_one();
    h.feed_consumed(1, rooms_page(&first, 0..2, Some("p1")));
    let second = h.sent_one();
    h.feed_consumed(2, error_reply(&second, "cancel", "item-not-found", None));
    assert!(matches!(
        h.completion_of(id).error(),
        xmpp_disco::QueryError::Stanza(_)
    ));
    h.list(3, MUC, None, QueryOptions::default());
    assert_eq!(h.sent().len(), 1, "asked again: the failure was not cached");
}

#[test]
fn a_responder_going_round_in_circles_or_without_end_is_cut() {
    let mut h = Harness::with_config(list_config(2));
    let circling = h.list(0, MUC, None, QueryOptions::default());
    let first = h.sent_one();
    h.feed_consumed(1, rooms_page(&first, 0..2, Some("p1")));
    let second = h.sent_one();
    h.feed_consumed(2, rooms_page(&second, 0..2, Some("p1")));
    // The responder never said the list ended: it may hold more than it showed.
    h.assert_quiet_but_completion(circling, 2, false);

    let endless = h.list(
        3,
        "other.example.org",
        None,
        QueryOptions::default().with_max_pages(4),
    );
    for page in 0..4 {
        let request = h.sent_one();
        let ids = page * 2..page * 2 + 2;
        h.feed_consumed(4, rooms_page(&request, ids, Some(&format!("q{page}"))));
    }
    h.assert_quiet_but_completion(endless, 8, false);
}

trait Completion {
    fn assert_quiet_but_completion(
        &mut self,
        id: xmpp_disco::RequestId,
        items: usize,
        complete: bool,
    );
}

impl Completion for Harness {
    fn assert_quiet_but_completion(
        &mut self,
        id: xmpp_disco::RequestId,
        items: usize,
        complete: bool,
    ) {
        assert!(self.sent().is_empty(), "no more pages asked");
        let outcome = self.completion_of(id);
        let list = outcome.list();
        assert_eq!(
            (list.items.len(), list.complete),
            (items, complete),
            "{list:?}"
        );
    }
}

#[test]
fn a_list_cut_short_answers_no_query_that_would_read_further() {
    let mut h = Harness::with_config(list_config(4));
    let cut = h.list(0, MUC, None, QueryOptions::default().with_max_items(4));
    let first = h.sent_one();
    h.feed_consumed(1, rooms_page(&first, 0..4, Some("p1")));
    let second = h.sent_one();
    h.feed_consumed(1, rooms_page(&second, 4..8, Some("p2")));
    h.assert_quiet_but_completion(cut, 4, false);
    // The same bound, or a smaller one: the cached part is what it would read.
    let same = h.list(2, MUC, None, QueryOptions::default().with_max_items(3));
    h.assert_quiet_but_completion(same, 4, false);
    // The default bound reads further: asked again, from the start.
    let whole = h.list(3, MUC, None, QueryOptions::default());
    let again = h.sent_one();
    assert_eq!(asked(&again), (Some("4".into()), None, None));
    h.feed_consumed(4, rooms_page(&again, 0..4, Some("p1")));
    let next = h.sent_one();
    h.feed_consumed(5, rooms_page(&next, 4..6, Some("p2")));
    h.assert_quiet_but_completion(whole, 6, true);
    // Now whole, it answers any query.
    let cached = h.list(6, MUC, None, QueryOptions::default());
    h.assert_quiet_but_completion(cached, 6, true);
    h.assert_all_completed();
}

#[test]
fn a_list_query_joins_only_a_read_that_goes_as_far() {
    let mut h = Harness::with_config(list_config(4));
    let short = h.list(0, MUC, None, QueryOptions::default().with_max_items(2));
    let first = h.sent_one();
    // A smaller bound joins; a larger one reads on its own.
    let smaller = h.list(0, MUC, None, QueryOptions::default().with_max_items(1));
    h.assert_quiet();
    let whole = h.list(0, MUC, None, QueryOptions::default());
    let own = h.sent_one();
    assert_ne!(own.attr("id"), first.attr("id"));
    h.feed_consumed(1, rooms_page(&first, 0..4, Some("p1")));
    assert_eq!(h.completed_ids(), [short, smaller]);
    h.feed_consumed(2, rooms_page(&own, 0..3, None));
    let outcome = h.completion_of(whole);
    assert_eq!(outcome.list().items.len(), 3);
    assert!(outcome.list().complete);
    h.assert_all_completed();
}

#[test]
fn the_item_bound_cuts_a_list_and_repeats_are_kept_once() {
    let mut h = Harness::with_config(list_config(4));
    let id = h.list(0, MUC, None, QueryOptions::default().with_max_items(6));
    let first = h.sent_one();
    h.feed_consumed(1, rooms_page(&first, 0..4, Some("p1")));
    let second = h.sent_one();
    // Two repeats and two new: kept once each; then the bound.
    h.feed_consumed(2, rooms_page(&second, 2..6, Some("p2")));
    let third = h.sent_one();
    h.feed_consumed(3, rooms_page(&third, 6..10, Some("p3")));
    h.assert_quiet_but_completion(id, 6, false);
}

#[test]
fn cancelling_a_list_abandons_it_and_a_late_page_is_rejected() {
    let mut h = Harness::with_config(list_config(2));
    let id = h.list(0, MUC, None, QueryOptions::default());
    let first = h.sent_one();
    h.feed_consumed(1, rooms_page(&first, 0..2, Some("p1")));
    let second = h.sent_one();
    assert!(h.machine.cancel(id));
    assert!(matches!(
        h.completion_of(id).error(),
        xmpp_disco::QueryError::Cancelled
    ));
    h.feed_consumed(2, rooms_page(&second, 2..4, Some("p2")));
    // A late answer to the first page's id too.
    h.feed_consumed(3, rooms_page(&first, 0..2, Some("p1")));
    h.assert_quiet();
    assert_eq!(h.machine.stats().replies_rejected, 2);
}

#[test]
fn a_deadline_and_the_end_of_the_stream_complete_a_list_being_read() {
    let mut h = Harness::with_config(list_config(2));
    let timed = h.list(
        0,
        MUC,
        None,
        QueryOptions::default().with_timeout(std::time::Duration::from_secs(5)),
    );
    let first = h.sent_one();
    h.feed_consumed(1_000, rooms_page(&first, 0..2, Some("p1")));
    let _second = h.sent_one();
    h.tick(5_000);
    assert!(matches!(
        h.completion_of(timed).error(),
        xmpp_disco::QueryError::Timeout
    ));

    let cut = h.list(6_000, "other.example.org", None, QueryOptions::default());
    let request = h.sent_one();
    h.feed_consumed(6_001, rooms_page(&request, 0..2, Some("p1")));
    let _next = h.sent_one();
    h.machine.stream_destroyed();
    assert!(matches!(
        h.completion_of(cut).error(),
        xmpp_disco::QueryError::Disconnected
    ));
    h.assert_all_completed();
}

#[test]
fn a_single_page_is_asked_every_time_with_its_set_in_and_out() {
    let mut h = Harness::new();
    let page = SetQuery {
        max: Some(2),
        after: None,
        before: Some(String::new()),
        index: None,
    };
    let id = h.page(0, MUC, None, page.clone());
    let request = h.sent_one();
    assert_eq!(
        asked(&request),
        (Some("2".into()), None, Some(String::new()))
    );
    h.feed_consumed(1, rooms_page(&request, 8..10, Some("p9")));
    let outcome = h.completion_of(id);
    let set = outcome.items().rsm.clone().expect("the answer's <set/>");
    assert_eq!(set.last.as_deref(), Some("p9"));
    // Never cached, never aliased.
    h.page(2, MUC, None, page.clone());
    h.page(2, MUC, None, page);
    assert_eq!(h.sent().len(), 2);
    // And not taken for the whole list either.
    h.items(3, MUC, None, QueryOptions::default());
    assert_eq!(h.sent().len(), 1);
}

#[test]
fn a_page_id_xml_cannot_carry_is_refused_at_the_call() {
    let mut h = Harness::new();
    let page = SetQuery {
        max: Some(2),
        after: Some("bad\u{1}id".into()),
        before: None,
        index: None,
    };
    let refused =
        h.machine
            .query_items_page(h.at(0), &jid(MUC), None, page, QueryOptions::default());
    assert!(
        matches!(refused, Err(xmpp_disco::InvalidArgument::Text(_))),
        "{refused:?}"
    );
    h.assert_quiet();
}

/// `stanza` as if sent from `from` (the requester's address going to our responder), or, with
/// `None`, as if from the responder's address (its answer coming back to our requester).
fn readdressed(stanza: &Element, from: Option<&str>) -> Element {
    let mut payload = Vec::new();
    for child in stanza.children() {
        child.write_to(&mut payload).expect("writable");
    }
    let payload = String::from_utf8(payload).expect("UTF-8");
    let from = from.unwrap_or("juliet@capulet.example/balcony");
    element(&format!(
        "<iq xmlns='jabber:client' type='{}' id='{}' from='{from}'>{payload}</iq>",
        stanza.attr("type").unwrap_or_default(),
        stanza.attr("id").unwrap_or_default(),
    ))
}

#[test]
fn our_responder_and_our_requester_read_a_long_list_together() {
    let mut config = Config::default();
    config.max_items_per_answer = Some(7);
    let mut server = listing(100, config);
    let mut h = Harness::with_config(list_config(10));
    let id = h.list(
        0,
        "juliet@capulet.example/balcony",
        None,
        QueryOptions::default(),
    );
    for _ in 0..20 {
        let sent = h.sent();
        let Some(request) = sent.into_iter().next() else {
            break;
        };
        let answer = ask(&mut server, readdressed(&request, Some(ROMEO)));
        let answer = readdressed(&answer, None);
        h.feed_consumed(1, answer);
    }
    let outcome = h.completion_of(id);
    let list = outcome.list();
    assert_eq!(list.items, rooms(100));
    assert!(list.complete);
    assert_eq!(list.pages, 15, "fourteen pages of 7, the last one short");
}
