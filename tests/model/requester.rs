//! The requester half against a reference model of DESIGN.md's requester semantics.
//!
//! The model is written to be obviously right rather than fast: requests, requests in flight
//! and primed entries live in vectors, "who waits on what" is a linear scan, and each cache is a
//! vector ordered from least to most recently used. [`World`] applies every operation to both
//! the machine and the model and then checks that they agree on what was sent, what completed
//! with what (in order), what the cache holds, and when the machine next needs a wake-up.

use std::time::{Duration, Instant};

use xmpp_disco::xmpp_parsers::disco::DiscoInfoResult;
use xmpp_disco::xmpp_parsers::jid::Jid;
use xmpp_disco::xmpp_parsers::minidom::Element;
use xmpp_disco::{
    Cached, Config, DiscoMachine, Event, PrimeHandle, QueryError, QueryKind, QueryOptions,
    RequestId,
};

use super::bytes::{each_op, Bytes};
use super::forms::element_of;
use super::{valid_node, INFO, ITEMS};

/// Few JIDs and nodes, so that keys collide often. `B@Example.ORG` is `b@example.org` written
/// differently; `example.org` and `b@example.org` may be answered without `from` (own domain and
/// own account of [`OWN`]).
pub const JIDS: &[&str] = &[
    "a.example",
    "b@example.org",
    "B@Example.ORG",
    "b@example.org/r",
    "example.org",
];
pub const NODES: &[Option<&str>] = &[None, Some("n")];
/// Who asks: the machine's own address, or another address it speaks for
/// ([`QueryOptions::from`]), whose answers are kept apart and must be addressed to it.
pub const ASKERS: &[Option<&str>] = &[None, Some("lobby@svc.example")];
pub const OWN: &str = "b@example.org/r";
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;

/// How a reply to one of the requests sent answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// A valid result.
    Result,
    /// A stanza error.
    Error,
    /// A result without payload.
    Malformed,
    /// A result with the other kind's payload.
    WrongKind,
    /// A valid result from someone else.
    WrongSender,
    /// A valid result without `from`.
    NoFrom,
    /// A valid result addressed to another address than the one that asked.
    WrongAddressee,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    Default,
    Never,
    After(u64),
}

#[derive(Debug, Clone)]
pub enum Op {
    Query {
        items: bool,
        jid: usize,
        node: usize,
        fresh: bool,
        deadline: Deadline,
        /// Which of [`ASKERS`].
        asker: usize,
    },
    /// Answers the `iq`-th request sent so far (modulo their number).
    Reply {
        iq: usize,
        how: Reply,
    },
    /// A reply whose id the machine never issued: must be handed back.
    ForeignReply,
    Advance(u64),
    /// Cancels the `request`-th query made so far (modulo).
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
    /// Resolves the `prime`-th primed entry opened so far (modulo).
    Resolve {
        prime: usize,
        ok: bool,
    },
    Flush,
    Reset,
    /// A query at a node of any text the host might pass, hostile text included: refused at
    /// the call unless XML can carry it.
    QueryText {
        items: bool,
        jid: usize,
        text: String,
        fresh: bool,
    },
    /// A pending primed entry at a node of any text, refused likewise.
    PrimeText {
        jid: usize,
        text: String,
    },
}

impl Op {
    /// The next operation encoded in `bytes`, if any are left.
    pub fn decode(bytes: &mut Bytes<'_>) -> Option<Op> {
        Some(match bytes.below(11)? {
            0..=2 => Op::Query {
                items: bytes.flag()?,
                jid: bytes.below(JIDS.len())?,
                node: bytes.below(NODES.len())?,
                fresh: bytes.below(6)? == 0,
                deadline: match bytes.below(4)? {
                    0 => Deadline::Never,
                    1 => Deadline::After(bytes.word()?),
                    _ => Deadline::Default,
                },
                asker: usize::from(bytes.below(4)? == 0),
            },
            3 | 4 => Op::Reply {
                iq: usize::from(bytes.byte()?),
                how: match bytes.below(9)? {
                    0 => Reply::Error,
                    1 => Reply::Malformed,
                    2 => Reply::WrongKind,
                    3 => Reply::WrongSender,
                    4 => Reply::NoFrom,
                    5 => Reply::WrongAddressee,
                    _ => Reply::Result,
                },
            },
            5 => Op::Advance(bytes.word()?),
            6 => Op::Cancel(usize::from(bytes.byte()?)),
            7 => match bytes.below(6)? {
                0 => Op::SetCache {
                    jid: bytes.below(JIDS.len())?,
                    node: bytes.below(NODES.len())?,
                },
                1 => Op::ForeignReply,
                2 => Op::Flush,
                3 => Op::Reset,
                4 => Op::QueryText {
                    items: bytes.flag()?,
                    jid: bytes.below(JIDS.len())?,
                    fresh: bytes.flag()?,
                    text: bytes.text()?,
                },
                _ => Op::PrimeText {
                    jid: bytes.below(JIDS.len())?,
                    text: bytes.text()?,
                },
            },
            8 => Op::Prime {
                jid: bytes.below(JIDS.len())?,
                node: bytes.below(NODES.len())?,
                lazy: bytes.flag()?,
            },
            _ => Op::Resolve {
                prime: usize::from(bytes.byte()?),
                ok: bytes.flag()?,
            },
        })
    }
}

/// The machine's settings for one run: small bounds, so that they are hit.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub info_capacity: usize,
    pub items_capacity: usize,
    pub max_in_flight: usize,
}

impl Bounds {
    pub fn decode(bytes: &mut Bytes<'_>) -> Bounds {
        Bounds {
            info_capacity: bytes.below(4).unwrap_or(2),
            items_capacity: bytes.below(4).unwrap_or(2),
            max_in_flight: bytes.below(5).unwrap_or(3),
        }
    }
}

/// How a query completed, as far as the model can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A result, named by the tag the test put in it.
    Answer(String),
    Timeout,
    Cancelled,
    Disconnected,
    Stanza,
    Malformed,
    TooManyRequests,
    PrimeFailed,
}

/// What the model expects the machine to report, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    Completion(usize, Outcome),
    PrimeRequested(usize),
}

/// What the cache says about a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peek {
    Ready(String),
    Pending,
    Failed,
}

/// (kind, JID, node, asking address): the machine's own when `None`.
type Key = (QueryKind, String, Option<String>, Option<String>);

/// The key of a question the host primes or peeks at: always the own address's.
fn own_key(kind: QueryKind, jid: &str, node: Option<&str>) -> Key {
    (kind, jid.to_owned(), node.map(str::to_owned), None)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Iq(usize),
    Prime(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Ready(String),
    Failed,
    Pending(Source),
}

#[derive(Debug)]
struct Request {
    deadline: Option<u64>,
    waiting_on: Option<Source>,
}

#[derive(Debug)]
struct Iq {
    key: Key,
    live: bool,
}

#[derive(Debug)]
struct Prime {
    key: Key,
    lazy: bool,
    requested: bool,
    alive: bool,
}

/// The reference model. Every JID it takes is normalised (what `Jid::as_str` gives).
#[derive(Debug)]
pub struct Model {
    bounds: Bounds,
    pub now: u64,
    requests: Vec<Request>,
    iqs: Vec<Iq>,
    primes: Vec<Prime>,
    /// Per kind, least recently used first.
    info: Vec<(Key, Entry)>,
    items: Vec<(Key, Entry)>,
    tags: usize,
    pub expected: Vec<Expected>,
    /// Requests the model expects to go out this step: (kind, to, node, from).
    pub sends: Vec<Key>,
    pub rejected: u64,
}

impl Model {
    pub fn new(bounds: Bounds) -> Self {
        Model {
            bounds,
            now: 0,
            requests: Vec::new(),
            iqs: Vec::new(),
            primes: Vec::new(),
            info: Vec::new(),
            items: Vec::new(),
            tags: 0,
            expected: Vec::new(),
            sends: Vec::new(),
            rejected: 0,
        }
    }

    fn tag(&mut self) -> String {
        self.tags += 1;
        format!("t{}", self.tags)
    }

    fn cache(&mut self, kind: QueryKind) -> &mut Vec<(Key, Entry)> {
        match kind {
            QueryKind::Info => &mut self.info,
            QueryKind::Items => &mut self.items,
        }
    }

    fn capacity(&self, kind: QueryKind) -> usize {
        match kind {
            QueryKind::Info => self.bounds.info_capacity,
            QueryKind::Items => self.bounds.items_capacity,
        }
    }

    /// The entry for `key`, made the most recently used.
    fn touch(&mut self, key: &Key) -> Option<Entry> {
        let cache = self.cache(key.0);
        let position = cache.iter().position(|(k, _)| k == key)?;
        let entry = cache.remove(position);
        let value = entry.1.clone();
        cache.push(entry);
        Some(value)
    }

    fn entry(&self, key: &Key) -> Option<&Entry> {
        let cache = match key.0 {
            QueryKind::Info => &self.info,
            QueryKind::Items => &self.items,
        };
        cache.iter().find(|(k, _)| k == key).map(|(_, e)| e)
    }

    fn insert(&mut self, key: Key, entry: Entry) {
        let capacity = self.capacity(key.0);
        let cache = self.cache(key.0);
        let mut displaced = Vec::new();
        if let Some(position) = cache.iter().position(|(k, _)| *k == key) {
            displaced.push(cache.remove(position).1);
        }
        cache.push((key, entry));
        while cache.len() > capacity {
            displaced.push(cache.remove(0).1);
        }
        for entry in displaced {
            self.forget(entry);
        }
    }

    fn remove(&mut self, key: &Key) {
        self.cache(key.0).retain(|(k, _)| k != key);
    }

    /// An entry left the cache: a primed entry nobody waits on can no longer be resolved.
    fn forget(&mut self, entry: Entry) {
        if let Entry::Pending(Source::Prime(p)) = entry {
            if !self.has_waiters(Source::Prime(p))
                && self.entry(&self.primes[p].key.clone())
                    != Some(&Entry::Pending(Source::Prime(p)))
            {
                self.primes[p].alive = false;
            }
        }
    }

    fn has_waiters(&self, source: Source) -> bool {
        self.requests.iter().any(|r| r.waiting_on == Some(source))
    }

    fn complete(&mut self, request: usize, outcome: Outcome) {
        self.requests[request].waiting_on = None;
        self.expected.push(Expected::Completion(request, outcome));
    }

    fn attach(&mut self, request: usize, source: Source) {
        self.requests[request].waiting_on = Some(source);
        if let Source::Prime(p) = source {
            let prime = &mut self.primes[p];
            if prime.lazy && !prime.requested {
                prime.requested = true;
                self.expected.push(Expected::PrimeRequested(p));
            }
        }
    }

    fn live_iqs(&self) -> usize {
        self.iqs.iter().filter(|iq| iq.live).count()
    }

    pub fn query(
        &mut self,
        kind: QueryKind,
        jid: &str,
        node: Option<&str>,
        fresh: bool,
        deadline: Deadline,
        asker: Option<&str>,
    ) {
        let key = (
            kind,
            jid.to_owned(),
            node.map(str::to_owned),
            asker.map(str::to_owned),
        );
        let request = self.requests.len();
        self.requests.push(Request {
            deadline: match deadline {
                Deadline::Default => Some(self.now + DEFAULT_TIMEOUT_MS),
                Deadline::Never => None,
                Deadline::After(ms) => Some(self.now + ms),
            },
            waiting_on: None,
        });
        if !fresh {
            match self.touch(&key) {
                Some(Entry::Ready(tag)) => return self.complete(request, Outcome::Answer(tag)),
                Some(Entry::Failed) => return self.complete(request, Outcome::PrimeFailed),
                Some(Entry::Pending(source)) => return self.attach(request, source),
                None => {}
            }
        }
        if self.live_iqs() >= self.bounds.max_in_flight {
            return self.complete(request, Outcome::TooManyRequests);
        }
        let iq = self.iqs.len();
        self.iqs.push(Iq {
            key: key.clone(),
            live: true,
        });
        self.sends.push(key.clone());
        self.insert(key, Entry::Pending(Source::Iq(iq)));
        self.attach(request, Source::Iq(iq));
    }

    /// Completes everyone waiting on `source` and records the outcome in the cache if the key
    /// still points at it.
    fn resolve_source(&mut self, source: Source, outcome: Outcome) {
        for request in 0..self.requests.len() {
            if self.requests[request].waiting_on == Some(source) {
                self.complete(request, outcome.clone());
            }
        }
        let key = match source {
            Source::Iq(i) => {
                self.iqs[i].live = false;
                self.iqs[i].key.clone()
            }
            Source::Prime(p) => {
                self.primes[p].alive = false;
                self.primes[p].key.clone()
            }
        };
        if self.entry(&key) == Some(&Entry::Pending(source)) {
            // Replacing an entry makes it the most recently used, as a new answer should.
            match (outcome, source) {
                (Outcome::Answer(tag), _) => self.insert(key, Entry::Ready(tag)),
                (_, Source::Iq(_)) => self.remove(&key),
                (_, Source::Prime(_)) => self.insert(key, Entry::Failed),
            }
        }
    }

    /// A waiter left its source early: the source may go.
    fn detach(&mut self, source: Source) {
        if self.has_waiters(source) {
            return;
        }
        match source {
            Source::Iq(i) => {
                self.iqs[i].live = false;
                let key = self.iqs[i].key.clone();
                if self.entry(&key) == Some(&Entry::Pending(source)) {
                    self.remove(&key);
                }
            }
            Source::Prime(p) => {
                let key = self.primes[p].key.clone();
                if self.entry(&key) != Some(&Entry::Pending(source)) {
                    self.primes[p].alive = false;
                }
            }
        }
    }

    /// A reply to the `iq`-th request; returns the tag a result carries, if it is one.
    pub fn reply(&mut self, iq: usize, how: Reply) -> Option<String> {
        let asked_from_another = self.iqs[iq].key.3.is_some();
        let accepted = self.iqs[iq].live
            && match how {
                Reply::WrongSender => false,
                Reply::NoFrom => {
                    ["b@example.org", "example.org"].contains(&self.iqs[iq].key.1.as_str())
                }
                // A client's own requests name no address, and its server delivers to it only
                // what is its own: only a request that named its address checks the reply's.
                Reply::WrongAddressee => !asked_from_another,
                _ => true,
            };
        let tag = matches!(how, Reply::Result | Reply::NoFrom | Reply::WrongAddressee)
            .then(|| self.tag());
        if !accepted {
            self.rejected += 1;
            return tag;
        }
        let outcome = match (&tag, how) {
            (Some(tag), _) => Outcome::Answer(tag.clone()),
            (None, Reply::Error) => Outcome::Stanza,
            (None, _) => Outcome::Malformed,
        };
        self.resolve_source(Source::Iq(iq), outcome);
        tag
    }

    pub fn advance(&mut self, ms: u64) {
        self.now += ms;
        let mut due: Vec<(u64, usize)> = self
            .requests
            .iter()
            .enumerate()
            .filter(|(_, r)| r.waiting_on.is_some())
            .filter_map(|(i, r)| r.deadline.filter(|d| *d <= self.now).map(|d| (d, i)))
            .collect();
        due.sort();
        for (_, request) in due {
            let Some(source) = self.requests[request].waiting_on else {
                continue;
            };
            self.complete(request, Outcome::Timeout);
            self.detach(source);
        }
    }

    /// Whether the request was still waiting (and so is cancelled).
    pub fn cancel(&mut self, request: usize) -> bool {
        let Some(source) = self.requests[request].waiting_on else {
            return false;
        };
        self.complete(request, Outcome::Cancelled);
        self.detach(source);
        true
    }

    pub fn set_cache(&mut self, jid: &str, node: Option<&str>) -> String {
        let tag = self.tag();
        self.insert(
            own_key(QueryKind::Info, jid, node),
            Entry::Ready(tag.clone()),
        );
        tag
    }

    pub fn prime(&mut self, jid: &str, node: Option<&str>, lazy: bool) {
        let key = own_key(QueryKind::Info, jid, node);
        let p = self.primes.len();
        self.primes.push(Prime {
            key: key.clone(),
            lazy,
            requested: false,
            alive: true,
        });
        self.insert(key, Entry::Pending(Source::Prime(p)));
    }

    /// Whether the primed entry could still be resolved; the tag of the answer it was given.
    pub fn resolve(&mut self, p: usize, ok: bool) -> (bool, Option<String>) {
        let tag = ok.then(|| self.tag());
        if !self.primes[p].alive {
            return (false, tag);
        }
        let outcome = match &tag {
            Some(tag) => Outcome::Answer(tag.clone()),
            None => Outcome::PrimeFailed,
        };
        self.resolve_source(Source::Prime(p), outcome);
        (true, tag)
    }

    pub fn flush(&mut self) {
        let entries: Vec<Entry> = self
            .info
            .drain(..)
            .chain(self.items.drain(..))
            .map(|(_, e)| e)
            .collect();
        for entry in entries {
            self.forget(entry);
        }
    }

    pub fn reset(&mut self) {
        for request in 0..self.requests.len() {
            if self.requests[request].waiting_on.is_some() {
                self.complete(request, Outcome::Disconnected);
            }
        }
        self.iqs.iter_mut().for_each(|iq| iq.live = false);
        self.primes.iter_mut().for_each(|p| p.alive = false);
        self.info.clear();
        self.items.clear();
    }

    pub fn next_deadline(&self) -> Option<u64> {
        self.requests
            .iter()
            .filter(|r| r.waiting_on.is_some())
            .filter_map(|r| r.deadline)
            .min()
    }

    pub fn peek(&self, kind: QueryKind, jid: &str, node: Option<&str>) -> Option<Peek> {
        match self.entry(&own_key(kind, jid, node))? {
            Entry::Ready(tag) => Some(Peek::Ready(tag.clone())),
            Entry::Failed => Some(Peek::Failed),
            Entry::Pending(_) => Some(Peek::Pending),
        }
    }

    pub fn pending(&self) -> usize {
        self.requests
            .iter()
            .filter(|r| r.waiting_on.is_some())
            .count()
    }

    pub fn iq_count(&self) -> usize {
        self.iqs.len()
    }

    pub fn prime_count(&self) -> usize {
        self.primes.len()
    }

    pub fn request_count(&self) -> usize {
        self.requests.len()
    }
}

/// A `disco#info` result tagged with `tag` (the name of its only identity).
pub fn tagged_info(tag: &str) -> DiscoInfoResult {
    DiscoInfoResult {
        node: None,
        identities: vec![xmpp_disco::xmpp_parsers::disco::Identity {
            category: "client".into(),
            type_: "pc".into(),
            lang: None,
            name: Some(tag.to_owned()),
        }],
        features: Default::default(),
        extensions: vec![],
    }
}

fn element(xml: &str) -> Element {
    xml.parse().expect("the model writes valid XML")
}

/// The machine and the model, side by side.
pub struct World {
    pub machine: DiscoMachine,
    pub model: Model,
    base: Instant,
    /// The machine's id of each request, by model index.
    requests: Vec<RequestId>,
    /// Each request sent: (id attribute, to attribute, kind), by model index.
    /// Every request sent: (id, to, kind, from).
    sent: Vec<(String, String, QueryKind, Option<String>)>,
    primes: Vec<PrimeHandle>,
    completed: std::collections::BTreeSet<RequestId>,
    /// The pool, parsed once.
    jids: Vec<Jid>,
}

impl World {
    pub fn new(bounds: Bounds) -> Self {
        let mut config = Config::default();
        config.info_cache_capacity = bounds.info_capacity;
        config.items_cache_capacity = bounds.items_capacity;
        config.max_in_flight = bounds.max_in_flight;
        config.default_timeout = Some(Duration::from_millis(DEFAULT_TIMEOUT_MS));
        config.own_jid = Some(Jid::new(OWN).expect("own JID"));
        World {
            machine: DiscoMachine::new(config),
            model: Model::new(bounds),
            base: Instant::now(),
            requests: Vec::new(),
            sent: Vec::new(),
            primes: Vec::new(),
            completed: Default::default(),
            jids: JIDS
                .iter()
                .map(|j| Jid::new(j).expect("pool JID"))
                .collect(),
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.base + Duration::from_millis(ms)
    }

    /// Applies `op` to both sides, then checks that they agree.
    pub fn step(&mut self, op: &Op) {
        self.apply(op);
        self.check(op);
    }

    fn apply(&mut self, op: &Op) {
        let now = self.at(self.model.now);
        match *op {
            Op::Query {
                items,
                jid,
                node,
                fresh,
                deadline,
                asker,
            } => {
                let kind = if items {
                    QueryKind::Items
                } else {
                    QueryKind::Info
                };
                let mut options = if fresh {
                    QueryOptions::fresh()
                } else {
                    QueryOptions::default()
                };
                options = match deadline {
                    Deadline::Default => options,
                    Deadline::Never => options.without_timeout(),
                    Deadline::After(ms) => options.with_timeout(Duration::from_millis(ms)),
                };
                if let Some(asker) = ASKERS[asker] {
                    options = options.with_from(Jid::new(asker).expect("asker JID"));
                }
                let to = &self.jids[jid];
                let id = match kind {
                    QueryKind::Info => self.machine.query_info(now, to, NODES[node], options),
                    QueryKind::Items => self.machine.query_items(now, to, NODES[node], options),
                }
                .expect("pool nodes are valid");
                self.requests.push(id);
                let jid = self.jids[jid].as_str();
                self.model
                    .query(kind, jid, NODES[node], fresh, deadline, ASKERS[asker]);
            }
            Op::Reply { iq, how } => {
                if self.sent.is_empty() {
                    return;
                }
                let iq = iq % self.sent.len();
                let tag = self.model.reply(iq, how);
                let (id, to, kind, asker) = self.sent[iq].clone();
                let stanza = reply_stanza(&id, &to, kind, how, tag.as_deref(), asker.as_deref());
                let handled = self.machine.handle_stanza(now, stanza);
                assert!(
                    handled.is_consumed(),
                    "a reply with an issued id is consumed"
                );
            }
            Op::ForeignReply => {
                let stanza = element(
                    "<iq xmlns='jabber:client' type='result' id='disco-x1' from='a.example'/>",
                );
                let handled = self.machine.handle_stanza(now, stanza.clone());
                assert_eq!(
                    handled.into_unhandled(),
                    Some(stanza),
                    "a foreign reply is handed back"
                );
            }
            Op::Advance(ms) => {
                self.model.advance(ms);
                self.machine.handle_timeout(self.at(self.model.now));
            }
            Op::Cancel(request) => {
                if self.requests.is_empty() {
                    return;
                }
                let request = request % self.requests.len();
                let expected = self.model.cancel(request);
                assert_eq!(
                    self.machine.cancel(self.requests[request]),
                    expected,
                    "cancel"
                );
            }
            Op::SetCache { jid, node } => {
                let to = &self.jids[jid];
                let tag = self.model.set_cache(to.as_str(), NODES[node]);
                self.machine
                    .set_info_cache(to, NODES[node], tagged_info(&tag))
                    .expect("valid");
            }
            Op::Prime { jid, node, lazy } => {
                let to = &self.jids[jid];
                let handle = if lazy {
                    self.machine.prime_info_lazy(to, NODES[node])
                } else {
                    self.machine.prime_info_pending(to, NODES[node])
                };
                self.primes.push(handle.expect("valid"));
                self.model.prime(to.as_str(), NODES[node], lazy);
            }
            Op::Resolve { prime, ok } => {
                if self.primes.is_empty() {
                    return;
                }
                let prime = prime % self.primes.len();
                let (expected, tag) = self.model.resolve(prime, ok);
                let handle = self.primes[prime];
                let resolved = match tag {
                    Some(tag) => self.machine.complete_prime(handle, tagged_info(&tag)),
                    None => self.machine.fail_prime(handle, "failed"),
                };
                assert_eq!(resolved, expected, "resolving {handle}");
            }
            Op::Flush => {
                self.machine.flush_cache();
                self.model.flush();
            }
            Op::Reset => {
                self.machine.stream_destroyed();
                self.model.reset();
            }
            Op::QueryText {
                items,
                jid,
                ref text,
                fresh,
            } => {
                let (kind, options) = (
                    if items {
                        QueryKind::Items
                    } else {
                        QueryKind::Info
                    },
                    if fresh {
                        QueryOptions::fresh()
                    } else {
                        QueryOptions::default()
                    },
                );
                let to = &self.jids[jid];
                let asked = match kind {
                    QueryKind::Info => self.machine.query_info(now, to, Some(text), options),
                    QueryKind::Items => self.machine.query_items(now, to, Some(text), options),
                };
                match asked {
                    Ok(id) => {
                        assert!(valid_node(text), "{text:?} was accepted");
                        self.requests.push(id);
                        let jid = self.jids[jid].as_str();
                        self.model
                            .query(kind, jid, Some(text), fresh, Deadline::Default, None);
                    }
                    Err(refused) => assert!(!valid_node(text), "{text:?} refused: {refused}"),
                }
            }
            Op::PrimeText { jid, ref text } => {
                let to = &self.jids[jid];
                match self.machine.prime_info_pending(to, Some(text)) {
                    Ok(handle) => {
                        assert!(valid_node(text), "{text:?} was accepted");
                        self.primes.push(handle);
                        self.model.prime(to.as_str(), Some(text), false);
                    }
                    Err(refused) => assert!(!valid_node(text), "{text:?} refused: {refused}"),
                }
            }
        }
    }

    fn check(&mut self, op: &Op) {
        // What went out.
        let mut sends = Vec::new();
        while let Some(transmit) = self.machine.poll_transmit() {
            // Taken as element, typed IQ and bytes, which must agree.
            let stanza = element_of(transmit);
            let kind = if stanza.has_child("query", INFO) {
                QueryKind::Info
            } else {
                QueryKind::Items
            };
            let namespace = kind.namespace();
            let node = stanza
                .get_child("query", namespace)
                .and_then(|q| q.attr("node"))
                .map(str::to_owned);
            let to = stanza.attr("to").unwrap_or_default().to_owned();
            let from = stanza.attr("from").map(str::to_owned);
            sends.push((kind, to.clone(), node, from.clone()));
            self.sent.push((
                stanza.attr("id").unwrap_or_default().to_owned(),
                to,
                kind,
                from,
            ));
        }
        let expected_sends = std::mem::take(&mut self.model.sends);
        assert_eq!(sends, expected_sends, "requests sent after {op:?}");

        // What completed, in order.
        let mut events = Vec::new();
        while let Some(event) = self.machine.poll_event() {
            events.push(self.describe(event));
        }
        let expected = std::mem::take(&mut self.model.expected);
        assert_eq!(events, expected, "events after {op:?}");

        // When the machine wants to be woken.
        let deadline = self.model.next_deadline().map(|ms| self.at(ms));
        assert_eq!(
            self.machine.poll_timeout(),
            deadline,
            "poll_timeout after {op:?}"
        );

        // What the cache holds.
        for kind in [QueryKind::Info, QueryKind::Items] {
            for to in &self.jids {
                for node in NODES {
                    let machine = match kind {
                        QueryKind::Info => {
                            self.machine.peek_info(to, *node).map(|c| peek(c, info_tag))
                        }
                        QueryKind::Items => self.machine.peek_items(to, *node).map(|c| {
                            peek(c, |i| {
                                i.items
                                    .first()
                                    .and_then(|item| item.name.clone())
                                    .unwrap_or_default()
                            })
                        }),
                    };
                    assert_eq!(
                        machine,
                        self.model.peek(kind, to.as_str(), *node),
                        "cache for {kind:?} {to} {node:?} after {op:?}"
                    );
                }
            }
        }
        let stats = self.machine.stats();
        assert_eq!(
            stats.requests_sent,
            self.model.iq_count() as u64,
            "requests_sent"
        );
        assert_eq!(
            stats.replies_rejected, self.model.rejected,
            "replies_rejected"
        );
    }

    fn describe(&mut self, event: Event) -> Expected {
        let (id, outcome) = match event {
            Event::Info { id, result } => (id, outcome(result.map(|info| info_tag(&info)))),
            Event::Items { id, result } => (
                id,
                outcome(result.map(|items| {
                    items
                        .items
                        .first()
                        .and_then(|i| i.name.clone())
                        .unwrap_or_default()
                })),
            ),
            Event::PrimeRequested { handle, .. } => {
                let index = self
                    .primes
                    .iter()
                    .position(|h| *h == handle)
                    .expect("a known prime");
                return Expected::PrimeRequested(index);
            }
            other => panic!("unexpected event {other:?}"),
        };
        assert!(self.completed.insert(id), "{id} completed twice");
        let index = self
            .requests
            .iter()
            .position(|r| *r == id)
            .expect("a known request");
        Expected::Completion(index, outcome)
    }

    /// The end of a run: time past every deadline, then the end of the stream. Every request
    /// must have completed exactly once.
    pub fn finish(&mut self) {
        let far = Op::Advance(u64::from(u16::MAX) + DEFAULT_TIMEOUT_MS + 1);
        self.step(&far);
        self.step(&Op::Reset);
        assert_eq!(self.model.pending(), 0);
        assert_eq!(
            self.completed.len(),
            self.requests.len(),
            "every request completed exactly once"
        );
        assert_eq!(self.machine.poll_timeout(), None);
    }
}

fn info_tag(info: &DiscoInfoResult) -> String {
    info.identities
        .first()
        .and_then(|i| i.name.clone())
        .unwrap_or_default()
}

fn peek<T: std::fmt::Debug>(cached: Cached<T>, tag: impl Fn(&T) -> String) -> Peek {
    match cached {
        Cached::Ready(result) => Peek::Ready(tag(&result)),
        Cached::Pending => Peek::Pending,
        Cached::Failed(_) => Peek::Failed,
        other => panic!("a cache state the model does not know: {other:?}"),
    }
}

fn outcome(result: Result<String, QueryError>) -> Outcome {
    match result {
        Ok(tag) => Outcome::Answer(tag),
        Err(QueryError::Timeout) => Outcome::Timeout,
        Err(QueryError::Cancelled) => Outcome::Cancelled,
        Err(QueryError::Disconnected) => Outcome::Disconnected,
        Err(QueryError::Stanza(_)) => Outcome::Stanza,
        Err(QueryError::Malformed(_)) => Outcome::Malformed,
        Err(QueryError::TooManyRequests { .. }) => Outcome::TooManyRequests,
        Err(QueryError::PrimeFailed(_)) => Outcome::PrimeFailed,
        Err(other) => panic!("unknown error {other:?}"),
    }
}

/// The stanza a reply of kind `how` to request `id` (sent to `to`, from `asker` if it named
/// its address) is.
fn reply_stanza(
    id: &str,
    to: &str,
    kind: QueryKind,
    how: Reply,
    tag: Option<&str>,
    asker: Option<&str>,
) -> Element {
    let from = match how {
        Reply::WrongSender => " from='mallory.example'".to_owned(),
        Reply::NoFrom => String::new(),
        _ => format!(" from='{to}'"),
    };
    let addressee = match (how, asker) {
        (Reply::WrongAddressee, _) => " to='elsewhere@svc.example'".to_owned(),
        (_, Some(asker)) => format!(" to='{asker}'"),
        (_, None) => String::new(),
    };
    let tag = tag.unwrap_or("untagged");
    let payload = |kind: QueryKind| match kind {
        QueryKind::Info => format!(
            "<query xmlns='{INFO}'><identity category='client' type='pc' name='{tag}'/></query>"
        ),
        QueryKind::Items => {
            format!("<query xmlns='{ITEMS}'><item jid='x.example' name='{tag}'/></query>")
        }
    };
    let other = match kind {
        QueryKind::Info => QueryKind::Items,
        QueryKind::Items => QueryKind::Info,
    };
    let (type_, body) = match how {
        Reply::Error => (
            "error",
            "<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>".to_owned(),
        ),
        Reply::Malformed => ("result", String::new()),
        Reply::WrongKind => ("result", payload(other)),
        Reply::Result | Reply::WrongSender | Reply::NoFrom | Reply::WrongAddressee => {
            ("result", payload(kind))
        }
    };
    element(&format!(
        "<iq xmlns='jabber:client' type='{type_}' id='{id}'{from}{addressee}>{body}</iq>"
    ))
}

/// Runs the operations encoded in `data` (bounds first) and checks the model after each and
/// the exactly-once invariant at the end. The body of the `ops` fuzz target.
pub fn run_bytes(data: &[u8]) {
    let mut bytes = Bytes(data);
    let mut world = World::new(Bounds::decode(&mut bytes));
    each_op(&mut bytes, Op::decode, |op| world.step(op));
    world.finish();
}
