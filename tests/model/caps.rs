//! Entity capabilities against contacts honest and not: random sequences of presences (claims
//! of XEP-0115 and XEP-0390 hashes, true or false), unavailable presences, root queries and
//! `supports` questions, answers of every kind (the claimed program, another program, a
//! forged twin of the claimed program that hashes alike, an ill-formed one whose hash
//! matches, an error, an answer lost), time, cancels, flushes, resets and an export/import of
//! the hash cache.
//!
//! After every step: every completion the host sees is of an id it was given, and only once;
//! and every info a completion carries for a contact is either what that contact itself
//! answered at some point, or the true answer of a program that contact claimed: **a lie,
//! even one that hashes like the truth, never reaches another contact**. At the end, once the
//! stream is destroyed, every id completed.
//!
//! [`run_room`] is a second world: a room of occupants running one program, some honest, some
//! forging its answer, some silent, every one asked about at once. Every honest occupant's
//! query completes with the true answer, before its deadline.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use xmpp_disco::caps::{Algorithm, CapsInfo};
use xmpp_disco::xmpp_parsers::disco::DiscoInfoResult;
use xmpp_disco::xmpp_parsers::jid::Jid;
use xmpp_disco::xmpp_parsers::minidom::Element;
use xmpp_disco::{Config, DiscoMachine, Event, QueryOptions, RequestId};

use super::bytes::{each_op, Bytes};
use super::forms::element_of;
use super::INFO;

/// The contacts: few, so that claims and hashes collide often.
pub const CONTACTS: &[&str] = &[
    "a@x.example/1",
    "b@x.example/2",
    "c@y.example/3",
    "d@y.example/4",
];

/// What the contacts run: bodies of their `disco#info` answers.
const PROGRAMS: &[&str] = &[
    "<identity category='client' type='pc' name='One'/>\
     <feature var='http://jabber.org/protocol/disco#info'/><feature var='urn:one'/>",
    "<identity category='client' type='phone' name='Two'/>\
     <feature var='http://jabber.org/protocol/disco#info'/><feature var='urn:two'/>\
     <x xmlns='jabber:x:data' type='result'>\
     <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>\
     <field var='software'><value>Two</value></field></x>",
    "<identity category='client' type='bot' xml:lang='en' name='Three'/>\
     <identity category='client' type='bot' xml:lang='de' name='Drei'/>\
     <feature var='http://jabber.org/protocol/disco#info'/>",
];

/// Forged twins of each program: different answers whose XEP-0115 string `S` is the
/// program's, byte for byte (checked by [`twins_hash_alike`]), each built the way a forger
/// would, by moving `S`'s separators into the strings or strings across its sections.
const TWINS: &[&[&str]] = &[
    &[
        // Two features joined by a '<'.
        "<identity category='client' type='pc' name='One'/>\
         <feature var='http://jabber.org/protocol/disco#info&lt;urn:one'/>",
        // The last feature moved into a form.
        "<identity category='client' type='pc' name='One'/>\
         <feature var='http://jabber.org/protocol/disco#info'/>\
         <x xmlns='jabber:x:data' type='result'>\
         <field var='FORM_TYPE' type='hidden'><value>urn:one</value></field></x>",
        // The name swallowing a feature.
        "<identity category='client' type='pc' name='One&lt;http://jabber.org/protocol/disco#info'/>\
         <feature var='urn:one'/>",
    ],
    &[
        // The form moved into one feature.
        "<identity category='client' type='phone' name='Two'/>\
         <feature var='http://jabber.org/protocol/disco#info'/>\
         <feature var='urn:two&lt;urn:xmpp:dataforms:softwareinfo&lt;software&lt;Two'/>",
        // A value joined to its field's name.
        "<identity category='client' type='phone' name='Two'/>\
         <feature var='http://jabber.org/protocol/disco#info'/><feature var='urn:two'/>\
         <x xmlns='jabber:x:data' type='result'>\
         <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>\
         <field var='software&lt;Two'/></x>",
    ],
    &[
        // An identity moved among the features.
        "<identity category='client' type='bot' xml:lang='de' name='Drei'/>\
         <feature var='client/bot/en/Three'/>\
         <feature var='http://jabber.org/protocol/disco#info'/>",
    ],
];

/// An answer XEP-0115 §5.4 calls ill-formed (a feature twice).
const ILL_FORMED: &str = "<identity category='client' type='pc' name='One'/>\
     <feature var='http://jabber.org/protocol/disco#info'/><feature var='urn:one'/>\
     <feature var='urn:one'/>";
/// The SHA-1 a careless verifier would compute over [`ILL_FORMED`], duplicate and all
/// (`client/pc//One<http://jabber.org/protocol/disco#info<urn:one<urn:one<`), claimed so that
/// only the duplicate check refuses the answer.
const ILL_FORMED_VER: &str = "RrYrCwYbtznu3k6zJPB3VKdztAY=";

const FEATURE: &str = "urn:one";

#[derive(Debug, Clone)]
pub enum How {
    /// Answers with program `n`'s info (the truth or a lie, depending on the claim).
    Program(usize),
    /// Answers with a forged twin (the `n`th, modulo) of the program whose hash was asked for.
    Twin(usize),
    IllFormed,
    Error,
    /// Never answered.
    Lost,
}

#[derive(Debug, Clone)]
pub enum Op {
    /// A presence claiming program `program`'s hashes (`legacy`, `modern`: which kinds), or the
    /// ill-formed answer's (`program` past the programs).
    Presence {
        contact: usize,
        program: usize,
        legacy: bool,
        modern: bool,
    },
    Unavailable {
        contact: usize,
    },
    Query {
        contact: usize,
        fresh: bool,
        timeout: Option<u64>,
    },
    Supports {
        contact: usize,
    },
    /// Answers the `request`-th request waiting (modulo).
    Answer {
        request: usize,
        how: How,
    },
    Advance(u64),
    Cancel(usize),
    Flush,
    Reset,
    /// Exports the hash cache and imports it back.
    Roundtrip,
}

impl Op {
    pub fn decode(bytes: &mut Bytes<'_>) -> Option<Op> {
        let contact = |bytes: &mut Bytes<'_>| bytes.below(CONTACTS.len());
        Some(match bytes.below(14)? {
            0..=2 => Op::Presence {
                contact: contact(bytes)?,
                program: bytes.below(PROGRAMS.len() + 1)?,
                legacy: bytes.flag()?,
                modern: bytes.flag()?,
            },
            3 => Op::Unavailable {
                contact: contact(bytes)?,
            },
            4..=6 => Op::Query {
                contact: contact(bytes)?,
                fresh: bytes.below(8)? == 0,
                timeout: match bytes.below(3)? {
                    0 => Some(bytes.word()? % 60_000),
                    _ => None,
                },
            },
            7 => Op::Supports {
                contact: contact(bytes)?,
            },
            8..=10 => Op::Answer {
                request: usize::from(bytes.byte()?),
                how: match bytes.below(10)? {
                    0 => How::IllFormed,
                    1 => How::Error,
                    2 => How::Lost,
                    3 | 4 => How::Twin(bytes.below(4)?),
                    n => How::Program(n % PROGRAMS.len()),
                },
            },
            11 => Op::Advance(bytes.word()? % 40_000),
            12 => Op::Cancel(usize::from(bytes.byte()?)),
            _ => match bytes.below(3)? {
                0 => Op::Flush,
                1 => Op::Reset,
                _ => Op::Roundtrip,
            },
        })
    }
}

/// The bounds of one run: small, so that they are hit.
fn config(bytes: &mut Bytes<'_>) -> Config {
    let mut config = Config::default();
    config.info_cache_capacity = bytes.below(4).unwrap_or(2);
    config.caps_claim_capacity = bytes.below(5).unwrap_or(4);
    config.caps_hash_capacity = bytes.below(4).unwrap_or(3);
    config.max_in_flight = bytes.below(5).unwrap_or(3);
    config.caps_eager = bytes.flag().unwrap_or(false);
    config
}

/// The body answering a request at `node` (a caps node, or `None` for a root).
fn body(how: &How, node: Option<&str>) -> Option<&'static str> {
    match how {
        How::Program(n) => PROGRAMS.get(*n).copied(),
        How::Twin(n) => {
            // The program whose hash the node names (the first one for any other node).
            let program = node
                .and_then(|node| {
                    PROGRAMS.iter().position(|inner| {
                        let caps = info_of(inner);
                        node.ends_with(&caps.legacy_ver())
                            || caps
                                .hash(Algorithm::Sha256)
                                .is_ok_and(|hash| node.ends_with(&hash))
                    })
                })
                .unwrap_or(0);
            let twins = TWINS.get(program)?;
            twins.get(n % twins.len()).copied()
        }
        How::IllFormed => Some(ILL_FORMED),
        How::Error | How::Lost => None,
    }
}

fn info_of(inner: &str) -> CapsInfo {
    CapsInfo::from_query(&query(inner)).expect("a readable body")
}

/// The model's forger is real: each twin differs from its program and hashes alike.
pub fn twins_hash_alike() {
    for (program, twins) in PROGRAMS.iter().zip(TWINS) {
        for twin in *twins {
            let (program, twin) = (info_of(program), info_of(twin));
            assert_ne!(program, twin);
            assert_eq!(program.legacy_input(), twin.legacy_input());
        }
    }
}

fn query(inner: &str) -> Element {
    format!("<query xmlns='{INFO}'>{inner}</query>")
        .parse()
        .expect("a valid body")
}

/// The true answer of `inner`, canonical.
fn canonical_body(inner: &str) -> String {
    let mut info = DiscoInfoResult::try_from(query(inner)).expect("a body");
    info.node = None;
    canonical(&info)
}

/// What identifies an answer: its identities and features, sorted.
fn canonical(info: &DiscoInfoResult) -> String {
    let mut identities: Vec<String> = info
        .identities
        .iter()
        .map(|i| format!("{}/{}/{:?}/{:?}", i.category, i.type_, i.lang, i.name))
        .collect();
    identities.sort();
    format!(
        "{identities:?} {:?} {}",
        info.features,
        info.extensions.len()
    )
}

pub struct World {
    machine: DiscoMachine,
    base: Instant,
    now: u64,
    issued: BTreeSet<RequestId>,
    completed: BTreeSet<RequestId>,
    /// Which contact each id asked about.
    about: BTreeMap<RequestId, usize>,
    /// Requests sent and not yet answered: (id, to, node).
    waiting: Vec<(String, String, Option<String>)>,
    /// Every answer each contact gave, canonical.
    answered: Vec<BTreeSet<String>>,
    /// The true answers of the programs each contact ever claimed, canonical.
    claimed: Vec<BTreeSet<String>>,
}

impl World {
    pub fn new(config: Config) -> Self {
        World {
            machine: DiscoMachine::new(config),
            base: Instant::now(),
            now: 0,
            issued: BTreeSet::new(),
            completed: BTreeSet::new(),
            about: BTreeMap::new(),
            waiting: Vec::new(),
            answered: vec![BTreeSet::new(); CONTACTS.len()],
            claimed: vec![BTreeSet::new(); CONTACTS.len()],
        }
    }

    fn at(&self) -> Instant {
        self.base + Duration::from_millis(self.now)
    }

    fn presence(&mut self, contact: usize, program: usize, legacy: bool, modern: bool) {
        let from = CONTACTS[contact];
        let mut payload = String::new();
        let (ver, sha256) = match PROGRAMS.get(program) {
            Some(inner) => {
                let caps = info_of(inner);
                let sha256 = caps.hash(Algorithm::Sha256).expect("a XEP-0390 input");
                (caps.legacy_ver(), Some(sha256))
            }
            None => (ILL_FORMED_VER.to_owned(), None),
        };
        if legacy {
            payload.push_str(&format!(
                "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='urn:n' ver='{ver}'/>"
            ));
        }
        if let (true, Some(sha256)) = (modern, sha256) {
            payload.push_str(&format!(
                "<c xmlns='urn:xmpp:caps'><hash xmlns='urn:xmpp:hashes:2' algo='sha-256'>{sha256}</hash></c>"
            ));
        }
        // The ill-formed answer is nobody's truth: it may only answer the contact giving it.
        if let (true, Some(inner)) = (legacy || modern, PROGRAMS.get(program)) {
            self.claimed[contact].insert(canonical_body(inner));
        }
        let presence: Element =
            format!("<presence xmlns='jabber:client' from='{from}'>{payload}</presence>")
                .parse()
                .expect("a valid presence");
        self.machine.observe_presence_element(self.at(), &presence);
    }

    fn answer(&mut self, request: usize, how: &How) {
        if self.waiting.is_empty() {
            return;
        }
        let (id, to, node) = self.waiting.remove(request % self.waiting.len());
        let node_attr = node
            .as_deref()
            .map(|node| format!(" node='{node}'"))
            .unwrap_or_default();
        let stanza = match (how, body(how, node.as_deref())) {
            (How::Lost, _) => return,
            (_, Some(inner)) => {
                if let Some(contact) = CONTACTS.iter().position(|c| *c == to) {
                    self.answered[contact].insert(canonical_body(inner));
                }
                format!(
                    "<iq xmlns='jabber:client' type='result' id='{id}' from='{to}'>\
                     <query xmlns='{INFO}'{node_attr}>{inner}</query></iq>"
                )
            }
            (_, None) => format!(
                "<iq xmlns='jabber:client' type='error' id='{id}' from='{to}'>\
                 <error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
                 </error></iq>"
            ),
        };
        let stanza: Element = stanza.parse().expect("a valid reply");
        let _ = self.machine.handle_stanza(self.at(), stanza);
    }

    pub fn step(&mut self, op: &Op) {
        match op {
            Op::Presence {
                contact,
                program,
                legacy,
                modern,
            } => self.presence(*contact, *program, *legacy, *modern),
            Op::Unavailable { contact } => {
                let presence: Element = format!(
                    "<presence xmlns='jabber:client' from='{}' type='unavailable'/>",
                    CONTACTS[*contact]
                )
                .parse()
                .expect("a valid presence");
                self.machine.observe_presence_element(self.at(), &presence);
            }
            Op::Query {
                contact,
                fresh,
                timeout,
            } => {
                let mut options = if *fresh {
                    QueryOptions::fresh()
                } else {
                    QueryOptions::default()
                };
                if let Some(ms) = timeout {
                    options = options.with_timeout(Duration::from_millis(*ms));
                }
                let jid = Jid::new(CONTACTS[*contact]).expect("a JID");
                let id = self
                    .machine
                    .query_info(self.at(), &jid, None, options)
                    .expect("a valid query");
                self.issue(id, *contact);
            }
            Op::Supports { contact } => {
                let jid = Jid::new(CONTACTS[*contact]).expect("a JID");
                let id = self
                    .machine
                    .supports(self.at(), &jid, None, FEATURE, QueryOptions::default())
                    .expect("a valid question");
                self.issue(id, *contact);
            }
            Op::Answer { request, how } => self.answer(*request, how),
            Op::Advance(ms) => {
                self.now += ms;
                self.machine.handle_timeout(self.at());
            }
            Op::Cancel(n) => {
                if let Some(id) = self.issued.iter().nth(n % self.issued.len().max(1)) {
                    let _ = self.machine.cancel(*id);
                }
            }
            Op::Flush => self.machine.flush_cache(),
            Op::Reset => {
                self.machine.stream_destroyed();
                self.waiting.clear();
            }
            Op::Roundtrip => {
                let saved = self.machine.export_caps();
                let count = saved.len();
                assert_eq!(
                    self.machine.import_caps(saved),
                    count,
                    "own export re-verifies"
                );
            }
        }
        self.drain();
    }

    fn issue(&mut self, id: RequestId, contact: usize) {
        assert!(self.issued.insert(id), "{id} issued twice");
        self.about.insert(id, contact);
    }

    /// Takes what the machine sent and what it completed, checking each completion.
    fn drain(&mut self) {
        while let Some(transmit) = self.machine.poll_transmit() {
            let request = element_of(transmit);
            let query = request.get_child("query", INFO).expect("an info query");
            self.waiting.push((
                request.attr("id").expect("an id").to_owned(),
                request.attr("to").expect("a to").to_owned(),
                query.attr("node").map(str::to_owned),
            ));
        }
        while let Some(event) = self.machine.poll_event() {
            let (id, info) = match event {
                Event::Info { id, result } => (id, result.ok()),
                Event::Supports { id, result } => (id, result.ok().map(|support| support.info)),
                _ => continue,
            };
            assert!(self.issued.contains(&id), "{id} completed but never issued");
            assert!(self.completed.insert(id), "{id} completed twice");
            let Some(info) = info else {
                continue;
            };
            let contact = self.about[&id];
            assert_eq!(
                info.node, None,
                "a root query completes with the root's info"
            );
            let answer = canonical(&info);
            let own = self.answered[contact].contains(&answer);
            let claimed = self.claimed[contact].contains(&answer);
            assert!(
                own || claimed,
                "{} got an answer that is neither its own nor the true answer of a program it \
                 claimed: {info:?}",
                CONTACTS[contact]
            );
        }
    }

    /// Ends the stream: every id completed.
    pub fn finish(mut self) {
        self.machine.stream_destroyed();
        self.drain();
        let missing: Vec<_> = self.issued.difference(&self.completed).collect();
        assert!(missing.is_empty(), "never completed: {missing:?}");
        assert_eq!(self.machine.question_queries_pending(), 0);
    }
}

pub fn run_bytes(data: &[u8]) {
    let mut bytes = Bytes(data);
    let mut world = World::new(config(&mut bytes));
    each_op(&mut bytes, Op::decode, |op| world.step(op));
    world.finish();
}

/// What an occupant of the room does when asked about its program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Occupant {
    /// Answers with the program's true answer.
    Honest,
    /// Answers with a forged twin of it (the `n`th, modulo).
    Forger(usize),
    /// Never answers.
    Silent,
}

/// How many silent occupants a room may hold: each delays the others by the verification
/// timeout (5 s), so past `timeout / 5 s` of them ahead of an honest occupant, its query times
/// out before its turn comes.
const MAX_SILENT: usize = 3;

/// A room of occupants claiming one program's hashes, every one asked about at once; each
/// answers at once when asked, if at all. Every query completes once; an honest occupant's
/// with the program's true answer; nobody's with a twin but its forger's own; and no
/// occupant is asked at its caps node twice.
pub fn run_room(data: &[u8]) {
    let mut bytes = Bytes(data);
    let program = bytes.below(PROGRAMS.len()).unwrap_or(0);
    let inner = PROGRAMS[program];
    let modern = bytes.flag().unwrap_or(false);
    let count = 2 + bytes.below(15).unwrap_or(4);
    let mut silent = 0;
    let occupants: Vec<Occupant> = (0..count)
        .map(|_| match bytes.below(4).unwrap_or(3) {
            0 if silent < MAX_SILENT => {
                silent += 1;
                Occupant::Silent
            }
            1 => Occupant::Forger(bytes.below(4).unwrap_or(0)),
            _ => Occupant::Honest,
        })
        .collect();
    let jids: Vec<String> = (0..count)
        .map(|n| format!("room@muc.example/occupant{n}"))
        .collect();
    let caps = info_of(inner);
    let mut claim = format!(
        "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='urn:n' ver='{}'/>",
        caps.legacy_ver()
    );
    if modern {
        claim.push_str(&format!(
            "<c xmlns='urn:xmpp:caps'><hash xmlns='urn:xmpp:hashes:2' algo='sha-256'>{}</hash></c>",
            caps.hash(Algorithm::Sha256).expect("a XEP-0390 input")
        ));
    }
    let truth = canonical_body(inner);
    let mut machine = DiscoMachine::new(Config::default());
    let base = Instant::now();
    for jid in &jids {
        let presence: Element =
            format!("<presence xmlns='jabber:client' from='{jid}'>{claim}</presence>")
                .parse()
                .expect("a valid presence");
        machine.observe_presence_element(base, &presence);
    }
    // Asked about in an order the bytes choose.
    let first = bytes.below(count).unwrap_or(0);
    let mut about = BTreeMap::new();
    for n in (0..count).map(|n| (n + first) % count) {
        let jid = Jid::new(&jids[n]).expect("a JID");
        let id = machine
            .query_info(base, &jid, None, QueryOptions::default())
            .expect("a valid query");
        about.insert(id, n);
    }
    let mut outcomes: BTreeMap<RequestId, Option<String>> = BTreeMap::new();
    let mut asked_at_caps_node = BTreeSet::new();
    let mut requests = 0;
    for step in 0..=160u64 {
        let now = base + Duration::from_millis(step * 250);
        machine.handle_timeout(now);
        while let Some(transmit) = machine.poll_transmit() {
            requests += 1;
            let request = element_of(transmit);
            let to = request.attr("to").expect("a to").to_owned();
            let id = request.attr("id").expect("an id").to_owned();
            let node = request
                .get_child("query", INFO)
                .and_then(|query| query.attr("node"))
                .map(str::to_owned);
            let n = jids.iter().position(|jid| *jid == to).expect("an occupant");
            if node.is_some() {
                assert!(
                    asked_at_caps_node.insert(n),
                    "{to} asked twice at a caps node"
                );
            }
            let body = match occupants[n] {
                Occupant::Honest => inner,
                Occupant::Forger(k) => TWINS[program][k % TWINS[program].len()],
                Occupant::Silent => continue,
            };
            let node_attr = node
                .map(|node| format!(" node='{node}'"))
                .unwrap_or_default();
            let reply: Element = format!(
                "<iq xmlns='jabber:client' type='result' id='{id}' from='{to}'>\
                 <query xmlns='{INFO}'{node_attr}>{body}</query></iq>"
            )
            .parse()
            .expect("a valid reply");
            let _ = machine.handle_stanza(now, reply);
        }
        while let Some(event) = machine.poll_event() {
            if let Event::Info { id, result } = event {
                let answer = result.ok().map(|info| canonical(&info));
                assert!(
                    outcomes.insert(id, answer).is_none(),
                    "{id} completed twice"
                );
            }
        }
    }
    assert_eq!(
        outcomes.len(),
        count,
        "every query completed: {occupants:?}"
    );
    for (id, answer) in &outcomes {
        let n = about[id];
        match occupants[n] {
            Occupant::Honest => assert_eq!(
                answer.as_ref(),
                Some(&truth),
                "honest occupant {n} of {occupants:?}"
            ),
            Occupant::Forger(k) => {
                let twin = canonical_body(TWINS[program][k % TWINS[program].len()]);
                assert!(
                    answer
                        .as_ref()
                        .is_some_and(|answer| *answer == truth || *answer == twin),
                    "forger {n} of {occupants:?}: {answer:?}"
                );
            }
            Occupant::Silent => assert!(
                answer.as_ref().is_none_or(|answer| *answer == truth),
                "silent occupant {n} of {occupants:?}: {answer:?}"
            ),
        }
    }
    assert!(
        requests <= 2 * count,
        "{requests} requests for {count} occupants"
    );
}
