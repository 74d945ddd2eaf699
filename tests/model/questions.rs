//! Long lists and questions about a tree against a world of responders honest and not:
//! random sequences of whole-list and page queries, find-services, walks and supports, with
//! cancels, time, partial deliveries, dropped answers and stream resets.
//!
//! After every step: every completion the host sees is of an id it was given, and only once
//! (a question's own queries never reach it). At the end, once time has passed every deadline:
//! every id completed. No whole-list read sends a `<set/>` to an entity that never showed it
//! knows RSM (XEP-0059 §4). A whole list read from an honest responder is its list, whole; one read
//! from a responder that never said it ended (it repeats its page, or pages forever) never
//! says it is whole.
//!
//! The honest responders are `DiscoMachine`s themselves (static items, pages of their own
//! size); the others are scripted: a responder that repeats its page forever, one that pages
//! forever, one whose `count` lies, one that answers errors, one that never answers.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use xmpp_disco::xmpp_parsers::disco::Item;
use xmpp_disco::xmpp_parsers::jid::Jid;
use xmpp_disco::xmpp_parsers::minidom::Element;
use xmpp_disco::xmpp_parsers::rsm::SetQuery;
use xmpp_disco::{Config, DiscoMachine, Event, ItemList, QueryOptions, RequestId, ServiceFilter};

use super::bytes::{each_op, Bytes};
use super::{INFO, ITEMS};

const RSM: &str = "http://jabber.org/protocol/rsm";

/// Who may be asked: the honest ones first.
pub const ENTITIES: &[&str] = &[
    "honest.example",
    "small.example",
    "tree.example",
    "loop.example",
    "endless.example",
    "liar.example",
    "error.example",
    "silent.example",
];

/// How many entities are honest `DiscoMachine`s.
const HONEST: usize = 3;

#[derive(Debug, Clone)]
pub enum Op {
    List {
        entity: usize,
    },
    Page {
        entity: usize,
        max: usize,
    },
    Services {
        entity: usize,
        muc: bool,
    },
    Walk {
        entity: usize,
        depth: usize,
        max: usize,
    },
    Supports {
        entity: usize,
    },
    /// Cancels the `n`-th id given so far (modulo).
    Cancel(usize),
    Advance(u64),
    /// Answers the `n` oldest requests waiting (all if more).
    Deliver(usize),
    /// Loses the oldest request waiting: its answer never comes.
    Lose,
    Reset,
}

impl Op {
    pub fn decode(bytes: &mut Bytes<'_>) -> Option<Op> {
        let entity = |bytes: &mut Bytes<'_>| bytes.below(ENTITIES.len());
        Some(match bytes.below(12)? {
            0 => Op::List {
                entity: entity(bytes)?,
            },
            1 => Op::Page {
                entity: entity(bytes)?,
                max: bytes.below(12)?,
            },
            2 => Op::Services {
                entity: entity(bytes)?,
                muc: bytes.flag()?,
            },
            3 => Op::Walk {
                entity: entity(bytes)?,
                depth: bytes.below(4)?,
                max: bytes.below(30)?,
            },
            4 => Op::Supports {
                entity: entity(bytes)?,
            },
            5 => Op::Cancel(usize::from(bytes.byte()?)),
            6 => Op::Advance(bytes.word()? * 10),
            7 => Op::Lose,
            8 => Op::Reset,
            _ => Op::Deliver(bytes.below(6)? + 1),
        })
    }
}

/// The honest responders' items: each lists rooms of its own, and `tree.example` lists the
/// other entities (itself among them: a loop a walk must not follow twice).
fn honest_items(entity: usize) -> Vec<Item> {
    let item = |jid: String| Item {
        jid: Jid::new(&jid).expect("a JID"),
        node: None,
        name: None,
    };
    match entity {
        0 => (0..37)
            .map(|n| item(format!("room{n}@honest.example")))
            .collect(),
        1 => (0..4)
            .map(|n| item(format!("room{n}@small.example")))
            .collect(),
        _ => ENTITIES.iter().map(|jid| item((*jid).to_owned())).collect(),
    }
}

fn honest_machine(entity: usize) -> DiscoMachine {
    let mut config = Config::default();
    config.own_jid = Some(Jid::new(ENTITIES[entity]).expect("a JID"));
    config.stamp_from = true;
    // Each pages unasked at its own size, smaller or larger than the asker's pages.
    config.max_items_per_answer = Some([7, 100, 3][entity]);
    let mut machine = DiscoMachine::new(config);
    let mut root = machine.root_mut();
    root.register_identity("conference", "text", "Rooms")
        .expect("an identity");
    root.register_feature("http://jabber.org/protocol/muc")
        .expect("a feature");
    root.set_items(honest_items(entity)).expect("valid items");
    drop(root);
    while machine.poll_event().is_some() {}
    machine
}

/// What the scripted responder `to` answers to `request`, if anything.
fn scripted(request: &Element, to: &str) -> Option<String> {
    let info = request.get_child("query", INFO).is_some();
    if to == "silent.example" {
        return None;
    }
    if to == "error.example" {
        return Some(
            "<error type='cancel'><service-unavailable \
             xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
                .to_owned(),
        );
    }
    if info {
        return Some(format!(
            "<query xmlns='{INFO}'><identity category='pubsub' type='service'/></query>"
        ));
    }
    let after: usize = request
        .get_child("query", ITEMS)
        .and_then(|query| query.get_child("set", RSM))
        .and_then(|set| set.get_child("after", RSM))
        .and_then(|after| after.text().parse().ok())
        .unwrap_or(0);
    let (items, last, count) = match to {
        // The same page again and again.
        "loop.example" => ((0..3).collect::<Vec<_>>(), 3, 3),
        // A new page forever.
        "endless.example" => ((after..after + 3).collect(), after + 3, 1_000_000),
        // Twelve items in pages of five, with a count of a thousand.
        _ => (
            (after..(after + 5).min(12)).collect(),
            (after + 5).min(12),
            1_000,
        ),
    };
    let items: String = items
        .iter()
        .map(|n| format!("<item jid='n{n}@{to}'/>"))
        .collect();
    let set = if items.is_empty() {
        String::new()
    } else {
        format!("<set xmlns='{RSM}'><last>{last}</last><count>{count}</count></set>")
    };
    Some(format!("<query xmlns='{ITEMS}'>{items}{set}</query>"))
}

/// The client under test, its world, and what it was told.
pub struct World {
    machine: DiscoMachine,
    honest: Vec<DiscoMachine>,
    base: Instant,
    now: Duration,
    waiting: Vec<Element>,
    issued: Vec<RequestId>,
    completed: BTreeSet<RequestId>,
    /// Entities the client may know to support RSM: each answered it an items query with a
    /// `<set/>`, or an info listing RSM, this session (XEP-0059 §4's positive knowledge; the
    /// client may have forgotten, never known more).
    knows_rsm: BTreeSet<String>,
    /// Whole lists asked, by entity: an honest responder's must come back whole, and a list
    /// whose responder never said it ended must not say it is whole.
    expected_lists: BTreeMap<RequestId, usize>,
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

impl World {
    pub fn new() -> Self {
        let mut config = Config::default();
        config.list_page_size = 5;
        config.max_list_pages = 20;
        config.tree_concurrency = 3;
        config.default_timeout = Some(Duration::from_secs(30));
        World {
            machine: DiscoMachine::new(config),
            honest: (0..HONEST).map(honest_machine).collect(),
            base: Instant::now(),
            now: Duration::ZERO,
            waiting: Vec::new(),
            issued: Vec::new(),
            completed: BTreeSet::new(),
            knows_rsm: BTreeSet::new(),
            expected_lists: BTreeMap::new(),
        }
    }

    fn at(&self) -> Instant {
        self.base + self.now
    }

    fn jid(entity: usize) -> Jid {
        Jid::new(ENTITIES[entity]).expect("a JID")
    }

    pub fn step(&mut self, op: &Op) {
        let now = self.at();
        let options = QueryOptions::default();
        let issued = match *op {
            Op::List { entity } => {
                let id = self
                    .machine
                    .query_item_list(now, &Self::jid(entity), None, options);
                if let Ok(id) = &id {
                    self.expected_lists.insert(*id, entity);
                }
                Some(id)
            }
            Op::Page { entity, max } => {
                // An index (of the first page) tells the host's own pages from a list's.
                let page = SetQuery {
                    max: Some(max),
                    after: None,
                    before: None,
                    index: Some(0),
                };
                Some(
                    self.machine
                        .query_items_page(now, &Self::jid(entity), None, page, options),
                )
            }
            Op::Services { entity, muc } => {
                let filter = if muc {
                    ServiceFilter::feature("http://jabber.org/protocol/muc")
                } else {
                    ServiceFilter::identity("pubsub", None)
                };
                Some(
                    self.machine
                        .find_services(now, &Self::jid(entity), None, filter, options),
                )
            }
            Op::Walk { entity, depth, max } => {
                Some(
                    self.machine
                        .walk(now, &Self::jid(entity), None, depth, max, options),
                )
            }
            Op::Supports { entity } => Some(self.machine.supports(
                now,
                &Self::jid(entity),
                None,
                "http://jabber.org/protocol/muc",
                options,
            )),
            Op::Cancel(n) => {
                if !self.issued.is_empty() {
                    let id = self.issued[n % self.issued.len()];
                    let cancelled = self.machine.cancel(id);
                    assert_eq!(
                        cancelled,
                        !self.completed.contains(&id),
                        "cancel of {id} says whether it was waiting"
                    );
                }
                None
            }
            Op::Advance(ms) => {
                self.now += Duration::from_millis(ms);
                self.machine.handle_timeout(self.at());
                None
            }
            Op::Deliver(count) => {
                self.collect();
                let take = count.min(self.waiting.len());
                let requests: Vec<Element> = self.waiting.drain(..take).collect();
                for request in requests {
                    self.answer(request);
                }
                None
            }
            Op::Lose => {
                self.collect();
                if !self.waiting.is_empty() {
                    self.waiting.remove(0);
                }
                None
            }
            Op::Reset => {
                self.machine.stream_destroyed();
                self.waiting.clear();
                self.knows_rsm.clear();
                None
            }
        };
        if let Some(id) = issued {
            self.issued
                .push(id.expect("every entity is a valid question"));
        }
        self.collect();
        self.check_events();
    }

    /// Takes what the machine wants sent into the waiting requests, checking that a list's
    /// `<set/>` goes only to an entity known to support RSM.
    fn collect(&mut self) {
        while let Some(transmit) = self.machine.poll_transmit() {
            let request = transmit.into_element();
            let set = request
                .get_child("query", ITEMS)
                .and_then(|query| query.get_child("set", RSM));
            if let Some(set) = set.filter(|set| set.get_child("index", RSM).is_none()) {
                let to = request.attr("to").unwrap_or_default();
                assert!(
                    self.knows_rsm.contains(to),
                    "a <set/> to {to}, which never showed it knows RSM: {set:?}"
                );
            }
            self.waiting.push(request);
        }
    }

    /// The world answers `request` (or keeps silent).
    fn answer(&mut self, request: Element) {
        let Some(to) = request.attr("to").map(str::to_owned) else {
            return;
        };
        let Some(entity) = ENTITIES.iter().position(|e| *e == to) else {
            return;
        };
        let now = self.at();
        let reply = if entity < HONEST {
            let _ = self.honest[entity].handle_stanza(now, request);
            self.honest[entity]
                .poll_transmit()
                .map(|transmit| transmit.into_element())
        } else {
            scripted(&request, &to).map(|payload| {
                let id = request.attr("id").unwrap_or_default();
                let type_ = if payload.starts_with("<error") {
                    "error"
                } else {
                    "result"
                };
                format!(
                    "<iq xmlns='jabber:client' type='{type_}' id='{id}' from='{to}'>{payload}</iq>"
                )
                .parse()
                .expect("a reply")
            })
        };
        if let Some(reply) = reply {
            let pages = reply
                .get_child("query", ITEMS)
                .is_some_and(|query| query.get_child("set", RSM).is_some());
            let lists_rsm = reply.get_child("query", INFO).is_some_and(|query| {
                query
                    .children()
                    .any(|feature| feature.attr("var") == Some(RSM))
            });
            if pages || lists_rsm {
                self.knows_rsm.insert(to.clone());
            }
            let _ = self.machine.handle_stanza(now, reply);
        }
        self.collect();
    }

    /// Every completion is of an id the host was given, once; honest lists are whole.
    fn check_events(&mut self) {
        while let Some(event) = self.machine.poll_event() {
            let Some(id) = event.request_id() else {
                continue;
            };
            assert!(
                self.issued.contains(&id),
                "{id} completed but was never given"
            );
            assert!(self.completed.insert(id), "{id} completed twice");
            if let (
                Some(entity),
                Event::ItemList {
                    result: Ok(list), ..
                },
            ) = (self.expected_lists.get(&id), &event)
            {
                check_list(*entity, list);
            }
        }
    }

    /// Lets time pass every deadline, answering what can be answered: then every id given
    /// has completed.
    pub fn finish(&mut self) {
        for _ in 0..500 {
            self.collect();
            let requests: Vec<Element> = self.waiting.drain(..).collect();
            for request in requests {
                self.answer(request);
            }
            self.check_events();
            if self.completed.len() == self.issued.len() {
                // And every query the questions asked completed once: none is left captured
                // (one completing twice would have reached the host, failing check_events).
                assert_eq!(
                    self.machine.question_queries_pending(),
                    0,
                    "a question's query never completed"
                );
                return;
            }
            self.now += Duration::from_secs(31);
            self.machine.handle_timeout(self.at());
            self.check_events();
        }
        let missing: Vec<_> = self
            .issued
            .iter()
            .filter(|id| !self.completed.contains(id))
            .collect();
        panic!("never completed: {missing:?}");
    }
}

fn check_list(entity: usize, list: &ItemList) {
    if ENTITIES[entity] == "loop.example" || ENTITIES[entity] == "endless.example" {
        assert!(
            !list.complete,
            "{} never said its list ended: {list:?}",
            ENTITIES[entity]
        );
    }
    if entity >= HONEST {
        return;
    }
    assert!(list.complete, "an honest list is read whole: {list:?}");
    assert_eq!(
        list.items,
        honest_items(entity),
        "the list as its responder holds it"
    );
}

pub fn run_bytes(data: &[u8]) {
    let mut bytes = Bytes(data);
    let mut world = World::new();
    each_op(&mut bytes, Op::decode, |op| world.step(op));
    world.finish();
}
