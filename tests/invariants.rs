//! Random sequences of commands, replies (genuine, malformed, spoofed, duplicated), time steps,
//! primes, flushes and resets, checked after every step against the requester's invariants:
//!
//! * every `RequestId` completes exactly once (the harness checks each drain), never with a
//!   timeout before its deadline, and always by its deadline once time has reached it;
//! * `poll_timeout` is exactly the earliest deadline of the queries still waiting;
//! * after a stream reset nothing is pending.
//!
//! `PROPTEST_CASES=20000 cargo test --test invariants` runs more cases than the default.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use support::*;
use xmpp_disco::{Config, PrimeHandle, QueryError, QueryOptions, RequestId};
use xmpp_parsers::minidom::Element;

const JIDS: &[&str] = &["a.example", "b@example.org", "b@example.org/r"];
const NODES: &[Option<&str>] = &[None, Some("n")];

#[derive(Debug, Clone)]
enum Reply {
    Result,
    Error,
    Malformed,
    WrongSender,
    Late,
}

#[derive(Debug, Clone)]
enum Op {
    Query {
        items: bool,
        jid: usize,
        node: usize,
        fresh: bool,
        timeout: Option<Option<u64>>,
    },
    Reply {
        request: usize,
        how: Reply,
    },
    Advance(u64),
    Cancel(usize),
    SetCache {
        jid: usize,
        node: usize,
    },
    Prime {
        jid: usize,
        node: usize,
        lazy: bool,
    },
    Resolve {
        prime: usize,
        ok: bool,
    },
    Flush,
    Reset,
}

fn op() -> impl Strategy<Value = Op> {
    let reply = prop_oneof![
        4 => Just(Reply::Result),
        1 => Just(Reply::Error),
        1 => Just(Reply::Malformed),
        1 => Just(Reply::WrongSender),
        1 => Just(Reply::Late),
    ];
    let timeout = prop_oneof![
        Just(None),
        Just(Some(None)),
        (1u64..40_000).prop_map(|ms| Some(Some(ms))),
    ];
    prop_oneof![
        6 => (any::<bool>(), 0..JIDS.len(), 0..NODES.len(), prop::bool::weighted(0.15), timeout)
            .prop_map(|(items, jid, node, fresh, timeout)| Op::Query { items, jid, node, fresh, timeout }),
        5 => (any::<usize>(), reply).prop_map(|(request, how)| Op::Reply { request, how }),
        3 => (0u64..20_000).prop_map(Op::Advance),
        1 => any::<usize>().prop_map(Op::Cancel),
        1 => (0..JIDS.len(), 0..NODES.len()).prop_map(|(jid, node)| Op::SetCache { jid, node }),
        1 => (0..JIDS.len(), 0..NODES.len(), any::<bool>()).prop_map(|(jid, node, lazy)| Op::Prime { jid, node, lazy }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(prime, ok)| Op::Resolve { prime, ok }),
        1 => Just(Op::Flush),
        1 => Just(Op::Reset),
    ]
}

struct World {
    h: Harness,
    now: u64,
    sent: Vec<Element>,
    primes: Vec<PrimeHandle>,
    issued: Vec<RequestId>,
    /// Deadline (ms since base) of every issued query that has one.
    deadlines: BTreeMap<RequestId, u64>,
}

impl World {
    fn new() -> Self {
        let mut config = Config::default();
        config.info_cache_capacity = 2;
        config.items_cache_capacity = 2;
        config.max_in_flight = 3;
        config.own_jid = Some(jid("b@example.org/r"));
        World {
            h: Harness::with_config(config),
            now: 0,
            sent: Vec::new(),
            primes: Vec::new(),
            issued: Vec::new(),
            deadlines: BTreeMap::new(),
        }
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Query {
                items,
                jid,
                node,
                fresh,
                timeout,
            } => {
                let mut options = if *fresh {
                    QueryOptions::fresh()
                } else {
                    QueryOptions::default()
                };
                let deadline = match timeout {
                    None => Some(self.now + 30_000),
                    Some(None) => {
                        options = options.without_timeout();
                        None
                    }
                    Some(Some(ms)) => {
                        options = options.with_timeout(Duration::from_millis(*ms));
                        Some(self.now + ms)
                    }
                };
                let id = if *items {
                    self.h.items(self.now, JIDS[*jid], NODES[*node], options)
                } else {
                    self.h.info(self.now, JIDS[*jid], NODES[*node], options)
                };
                self.issued.push(id);
                if let Some(deadline) = deadline {
                    self.deadlines.insert(id, deadline);
                }
            }
            Op::Reply { request, how } => {
                if self.sent.is_empty() {
                    return;
                }
                let request = self.sent[request % self.sent.len()].clone();
                let namespace = if request.has_child("query", INFO) {
                    INFO
                } else {
                    ITEMS
                };
                let stanza = match how {
                    Reply::Result if namespace == INFO => info_reply(&request, SERVER_INFO),
                    Reply::Result => items_reply(&request, "<item jid='x.example'/>"),
                    Reply::Error => error_reply(&request, "cancel", "item-not-found", Some("no")),
                    Reply::Malformed => element(&format!(
                        "<iq xmlns='jabber:client' type='result' id='{}' from='{}'/>",
                        request.attr("id").unwrap(),
                        request.attr("to").unwrap()
                    )),
                    Reply::WrongSender => element(&format!(
                        "<iq xmlns='jabber:client' type='result' id='{}' from='mallory.example'><query xmlns='{namespace}'/></iq>",
                        request.attr("id").unwrap()
                    )),
                    Reply::Late => element(&format!(
                        "<iq xmlns='jabber:client' type='result' id='{}' from='{}'/>",
                        "disco-999999",
                        request.attr("to").unwrap()
                    )),
                };
                let _ = self.h.feed(self.now, stanza);
            }
            Op::Advance(ms) => {
                self.now += ms;
                self.h.tick(self.now);
            }
            Op::Cancel(index) => {
                if !self.issued.is_empty() {
                    let id = self.issued[index % self.issued.len()];
                    let was_pending = !self.h.is_completed(id);
                    assert_eq!(self.h.machine.cancel(id), was_pending, "cancel({id})");
                }
            }
            Op::SetCache { jid, node } => {
                let info = info_reply_payload();
                self.h
                    .machine
                    .set_info_cache(&support::jid(JIDS[*jid]), NODES[*node], info)
                    .unwrap();
            }
            Op::Prime { jid, node, lazy } => {
                let who = support::jid(JIDS[*jid]);
                let handle = if *lazy {
                    self.h.machine.prime_info_lazy(&who, NODES[*node])
                } else {
                    self.h.machine.prime_info_pending(&who, NODES[*node])
                };
                self.primes.push(handle.unwrap());
            }
            Op::Resolve { prime, ok } => {
                if !self.primes.is_empty() {
                    let handle = self.primes[prime % self.primes.len()];
                    if *ok {
                        self.h.machine.complete_prime(handle, info_reply_payload());
                    } else {
                        self.h.machine.fail_prime(handle, "failed");
                    }
                }
            }
            Op::Flush => self.h.machine.flush_cache(),
            Op::Reset => {
                self.h.machine.stream_destroyed();
                self.h.assert_all_completed();
            }
        }
    }

    fn check(&mut self) {
        self.sent.extend(self.h.sent());
        let now = self.now;
        for (id, outcome) in self.h.completions() {
            if let Outcome::Info(Err(QueryError::Timeout))
            | Outcome::Items(Err(QueryError::Timeout)) = outcome
            {
                let deadline = self.deadlines.get(&id).copied();
                assert!(
                    deadline.is_some_and(|d| d <= now),
                    "{id} timed out at {now}, deadline {deadline:?}"
                );
            }
        }
        let waiting: Vec<u64> = self
            .deadlines
            .iter()
            .filter(|(id, _)| !self.h.is_completed(**id))
            .map(|(_, deadline)| *deadline)
            .collect();
        assert!(
            waiting.iter().all(|d| *d > now),
            "a deadline passed without a timeout"
        );
        let expected: Option<Instant> = waiting.iter().min().map(|ms| self.h.at(*ms));
        assert_eq!(
            self.h.machine.poll_timeout(),
            expected,
            "poll_timeout at {now}"
        );
    }
}

fn info_reply_payload() -> xmpp_parsers::disco::DiscoInfoResult {
    let query = info_reply(
        &element("<iq xmlns='jabber:client' type='get' id='p' to='x.example'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"),
        SERVER_INFO,
    );
    xmpp_parsers::disco::DiscoInfoResult::try_from(query.get_child("query", INFO).unwrap().clone())
        .unwrap()
}

proptest! {
    #[test]
    fn every_request_completes_exactly_once_and_on_time(ops in prop::collection::vec(op(), 1..80)) {
        let mut world = World::new();
        for op in &ops {
            world.apply(op);
            world.check();
        }
        // The end of the stream completes whatever is left, exactly once.
        world.h.machine.stream_destroyed();
        world.h.assert_all_completed();
        prop_assert_eq!(world.h.machine.poll_timeout(), None);
    }
}
