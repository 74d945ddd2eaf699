//! Shared test harness: a machine driven from one base instant, with the central invariant
//! (every issued `RequestId` completes exactly once) checked on every drain.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use xmpp_disco::{
    Config, DiscoMachine, Event, Handled, ItemList, QueryError, QueryOptions, RequestId,
    ServiceFilter, Services, Support, Walk,
};
use xmpp_parsers::disco::{DiscoInfoResult, DiscoItemsResult};
use xmpp_parsers::jid::Jid;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::rsm::SetQuery;

#[path = "../model/forms.rs"]
mod forms;
pub use forms::element_of;

pub const INFO: &str = "http://jabber.org/protocol/disco#info";
pub const ITEMS: &str = "http://jabber.org/protocol/disco#items";
pub const RSM: &str = "http://jabber.org/protocol/rsm";

pub fn jid(s: &str) -> Jid {
    Jid::new(s).expect("test JID")
}

pub fn element(xml: &str) -> Element {
    xml.parse().expect("test XML")
}

/// Anything a test writes a stanza as: XML text or an element.
pub trait IntoStanza {
    fn into_stanza(self) -> Element;
}

impl IntoStanza for Element {
    fn into_stanza(self) -> Element {
        self
    }
}

impl IntoStanza for &Element {
    fn into_stanza(self) -> Element {
        self.clone()
    }
}

impl IntoStanza for &str {
    fn into_stanza(self) -> Element {
        element(self)
    }
}

impl IntoStanza for &String {
    fn into_stanza(self) -> Element {
        element(self)
    }
}

/// What a completion said, recorded by the harness.
#[derive(Debug, Clone)]
pub enum Outcome {
    Info(Result<Arc<DiscoInfoResult>, QueryError>),
    Items(Result<Arc<DiscoItemsResult>, QueryError>),
    List(Result<Arc<ItemList>, QueryError>),
    Supports(Result<Support, QueryError>),
    Services(Result<Arc<Services>, QueryError>),
    Walk(Result<Arc<Walk>, QueryError>),
}

impl Outcome {
    pub fn info(&self) -> &Arc<DiscoInfoResult> {
        match self {
            Outcome::Info(Ok(info)) => info,
            other => panic!("expected an info result, got {other:?}"),
        }
    }

    pub fn items(&self) -> &Arc<DiscoItemsResult> {
        match self {
            Outcome::Items(Ok(items)) => items,
            other => panic!("expected an items result, got {other:?}"),
        }
    }

    pub fn list(&self) -> &Arc<ItemList> {
        match self {
            Outcome::List(Ok(list)) => list,
            other => panic!("expected an item list, got {other:?}"),
        }
    }

    pub fn services(&self) -> &Arc<Services> {
        match self {
            Outcome::Services(Ok(services)) => services,
            other => panic!("expected services, got {other:?}"),
        }
    }

    pub fn walk(&self) -> &Arc<Walk> {
        match self {
            Outcome::Walk(Ok(walk)) => walk,
            other => panic!("expected a walk, got {other:?}"),
        }
    }

    pub fn support(&self) -> &Support {
        match self {
            Outcome::Supports(Ok(support)) => support,
            other => panic!("expected a support answer, got {other:?}"),
        }
    }

    pub fn error(&self) -> &QueryError {
        match self {
            Outcome::Info(Err(error))
            | Outcome::Items(Err(error))
            | Outcome::List(Err(error))
            | Outcome::Supports(Err(error))
            | Outcome::Services(Err(error))
            | Outcome::Walk(Err(error)) => error,
            other => panic!("expected an error, got {other:?}"),
        }
    }
}

pub struct Harness {
    pub machine: DiscoMachine,
    pub base: Instant,
    issued: BTreeSet<RequestId>,
    completed: BTreeMap<RequestId, Outcome>,
    /// Non-completion events seen, in order.
    pub others: Vec<Event>,
}

impl Harness {
    pub fn new() -> Self {
        Harness::with_config(Config::default())
    }

    pub fn with_config(config: Config) -> Self {
        Harness {
            machine: DiscoMachine::new(config),
            base: Instant::now(),
            issued: BTreeSet::new(),
            completed: BTreeMap::new(),
            others: Vec::new(),
        }
    }

    /// The instant `ms` milliseconds after the test's base.
    pub fn at(&self, ms: u64) -> Instant {
        self.base + Duration::from_millis(ms)
    }

    fn issue(&mut self, id: RequestId) -> RequestId {
        assert!(self.issued.insert(id), "{id} issued twice");
        id
    }

    pub fn info(
        &mut self,
        ms: u64,
        to: &str,
        node: Option<&str>,
        options: QueryOptions,
    ) -> RequestId {
        let id = self
            .machine
            .query_info(self.at(ms), &jid(to), node, options)
            .expect("valid query");
        self.issue(id)
    }

    pub fn items(
        &mut self,
        ms: u64,
        to: &str,
        node: Option<&str>,
        options: QueryOptions,
    ) -> RequestId {
        let id = self
            .machine
            .query_items(self.at(ms), &jid(to), node, options)
            .expect("valid query");
        self.issue(id)
    }

    pub fn list(
        &mut self,
        ms: u64,
        to: &str,
        node: Option<&str>,
        options: QueryOptions,
    ) -> RequestId {
        let id = self
            .machine
            .query_item_list(self.at(ms), &jid(to), node, options)
            .expect("valid query");
        self.issue(id)
    }

    pub fn services(
        &mut self,
        ms: u64,
        to: &str,
        filter: ServiceFilter,
        options: QueryOptions,
    ) -> RequestId {
        let id = self
            .machine
            .find_services(self.at(ms), &jid(to), None, filter, options)
            .expect("valid question");
        self.issue(id)
    }

    pub fn walk(
        &mut self,
        ms: u64,
        to: &str,
        max_depth: usize,
        max_entities: usize,
        options: QueryOptions,
    ) -> RequestId {
        let id = self
            .machine
            .walk(
                self.at(ms),
                &jid(to),
                None,
                max_depth,
                max_entities,
                options,
            )
            .expect("valid question");
        self.issue(id)
    }

    pub fn supports(&mut self, ms: u64, to: &str, feature: &str) -> RequestId {
        self.supports_with(ms, to, feature, QueryOptions::default())
    }

    pub fn supports_with(
        &mut self,
        ms: u64,
        to: &str,
        feature: &str,
        options: QueryOptions,
    ) -> RequestId {
        let id = self
            .machine
            .supports(self.at(ms), &jid(to), None, feature, options)
            .expect("valid question");
        self.issue(id)
    }

    pub fn page(&mut self, ms: u64, to: &str, node: Option<&str>, page: SetQuery) -> RequestId {
        let id = self
            .machine
            .query_items_page(self.at(ms), &jid(to), node, page, QueryOptions::default())
            .expect("valid query");
        self.issue(id)
    }

    /// Drains the stanzas the machine wants sent, each checked to say the same in all three
    /// forms.
    pub fn sent(&mut self) -> Vec<Element> {
        std::iter::from_fn(|| self.machine.poll_transmit())
            .map(element_of)
            .collect()
    }

    /// Drains the one stanza the machine wants sent, failing if it is not exactly one.
    pub fn sent_one(&mut self) -> Element {
        let mut sent = self.sent();
        assert_eq!(sent.len(), 1, "expected one stanza, got {sent:?}");
        sent.remove(0)
    }

    /// Drains events, checking that each completion is for an issued, not yet completed id.
    /// Returns the completions in order.
    pub fn completions(&mut self) -> Vec<(RequestId, Outcome)> {
        let mut done = Vec::new();
        while let Some(event) = self.machine.poll_event() {
            let (id, outcome) = match event {
                Event::Info { id, result } => (id, Outcome::Info(result)),
                Event::Items { id, result } => (id, Outcome::Items(result)),
                Event::ItemList { id, result } => (id, Outcome::List(result)),
                Event::Supports { id, result } => (id, Outcome::Supports(result)),
                Event::Services { id, result } => (id, Outcome::Services(result)),
                Event::Walk { id, result } => (id, Outcome::Walk(result)),
                other => {
                    self.others.push(other);
                    continue;
                }
            };
            assert!(self.issued.contains(&id), "{id} completed but never issued");
            assert!(
                self.completed.insert(id, outcome.clone()).is_none(),
                "{id} completed twice"
            );
            done.push((id, outcome));
        }
        done
    }

    /// Drains events, as [`completions`](Self::completions), and returns the ids completed, in
    /// order.
    pub fn completed_ids(&mut self) -> Vec<RequestId> {
        self.completions().into_iter().map(|(id, _)| id).collect()
    }

    /// Drains events and returns the single completion, which must be for `id`.
    pub fn completion_of(&mut self, id: RequestId) -> Outcome {
        let mut done = self.completions();
        assert_eq!(done.len(), 1, "expected one completion, got {done:?}");
        let (got, outcome) = done.remove(0);
        assert_eq!(got, id);
        outcome
    }

    /// Asserts that nothing completed and nothing was sent.
    pub fn assert_quiet(&mut self) {
        let sent = self.sent();
        assert!(sent.is_empty(), "unexpected stanzas: {sent:?}");
        let done = self.completions();
        assert!(done.is_empty(), "unexpected completions: {done:?}");
    }

    pub fn is_completed(&self, id: RequestId) -> bool {
        self.completed.contains_key(&id)
    }

    /// The central invariant, at the end of a test: every issued id completed.
    pub fn assert_all_completed(&mut self) {
        self.completions();
        let missing: Vec<_> = self
            .issued
            .difference(&self.completed.keys().copied().collect())
            .copied()
            .collect();
        assert!(missing.is_empty(), "never completed: {missing:?}");
    }

    pub fn feed(&mut self, ms: u64, stanza: Element) -> Handled<Element> {
        self.machine.handle_stanza(self.at(ms), stanza)
    }

    /// Feeds a stanza that must be consumed.
    pub fn feed_consumed(&mut self, ms: u64, stanza: impl IntoStanza) {
        let stanza = stanza.into_stanza();
        let shown = format!("{stanza:?}");
        let handled = self.feed(ms, stanza);
        assert!(handled.is_consumed(), "not consumed: {shown}");
    }

    pub fn tick(&mut self, ms: u64) {
        self.machine.handle_timeout(self.at(ms));
    }
}

/// The `id` and `to` of a sent query, checking its shape.
pub fn query_of(stanza: &Element, namespace: &str) -> (String, String, Option<String>) {
    assert!(
        stanza.is("iq", "jabber:client") || stanza.is("iq", "jabber:component:accept"),
        "{stanza:?}"
    );
    assert_eq!(stanza.attr("type"), Some("get"));
    let query = stanza
        .get_child("query", namespace)
        .unwrap_or_else(|| panic!("no {namespace} query in {stanza:?}"));
    (
        stanza.attr("id").expect("id").to_owned(),
        stanza.attr("to").expect("to").to_owned(),
        query.attr("node").map(str::to_owned),
    )
}

/// A `disco#info` result answering `request`, with the given inner XML (identities, features).
pub fn info_reply(request: &Element, inner: &str) -> Element {
    let (id, to, node) = query_of(request, INFO);
    let node = node.map(|n| format!(" node='{n}'")).unwrap_or_default();
    element(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}' from='{to}'>\
         <query xmlns='{INFO}'{node}>{inner}</query></iq>"
    ))
}

/// A typical valid info body: one identity, two features.
pub const SERVER_INFO: &str = "<identity category='server' type='im' name='Prosody'/>\
    <feature var='http://jabber.org/protocol/disco#info'/>\
    <feature var='http://jabber.org/protocol/disco#items'/>";

/// A `disco#items` result answering `request`.
pub fn items_reply(request: &Element, inner: &str) -> Element {
    let (id, to, node) = query_of(request, ITEMS);
    let node = node.map(|n| format!(" node='{n}'")).unwrap_or_default();
    element(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}' from='{to}'>\
         <query xmlns='{ITEMS}'{node}>{inner}</query></iq>"
    ))
}

/// An IQ error answering `request` with the given `<error/>` inner XML and type.
pub fn error_reply(request: &Element, type_: &str, condition: &str, text: Option<&str>) -> Element {
    let id = request.attr("id").expect("id");
    let to = request.attr("to").expect("to");
    let text = text
        .map(|t| {
            format!("<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>{t}</text>")
        })
        .unwrap_or_default();
    element(&format!(
        "<iq xmlns='jabber:client' type='error' id='{id}' from='{to}'>\
         <error type='{type_}'><{condition} xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>{text}</error></iq>"
    ))
}
