//! Entity capabilities against contacts honest and not: random sequences of presences (claims
//! of XEP-0115 and XEP-0390 hashes, true or false), unavailable presences, root queries and
//! `supports` questions, answers of every kind (the claimed program, another program, an
//! ill-formed one whose hash matches, an error, an answer lost), time, cancels, flushes,
//! resets and an export/import of the hash cache.
//!
//! After every step: every completion the host sees is of an id it was given, and only once;
//! and every info a completion carries for a contact is either what that contact itself
//! answered at some point, or the info of a hash that contact claimed: **a lie never reaches
//! another contact**. At the end, once the stream is destroyed, every id completed.

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
                how: match bytes.below(8)? {
                    0 => How::IllFormed,
                    1 => How::Error,
                    2 => How::Lost,
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

fn body(how: &How) -> Option<&'static str> {
    match how {
        How::Program(n) => PROGRAMS.get(*n).copied(),
        How::IllFormed => Some(ILL_FORMED),
        How::Error | How::Lost => None,
    }
}

fn query(inner: &str) -> Element {
    format!("<query xmlns='{INFO}'>{inner}</query>")
        .parse()
        .expect("a valid body")
}

/// The hashes `info` stands for, as the strings a presence carries.
fn hashes_of(info: &DiscoInfoResult) -> Vec<String> {
    let Ok(caps) = CapsInfo::from_info(info) else {
        return Vec::new();
    };
    let mut hashes = vec![caps.legacy_ver()];
    hashes.extend(caps.hash(Algorithm::Sha256).ok());
    hashes
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
    /// Every hash each contact ever claimed.
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
                let caps = CapsInfo::from_query(&query(inner)).expect("a well-formed program");
                let sha256 = caps.hash(Algorithm::Sha256).expect("a XEP-0390 input");
                (caps.legacy_ver(), Some(sha256))
            }
            None => (ILL_FORMED_VER.to_owned(), None),
        };
        if legacy {
            payload.push_str(&format!(
                "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='urn:n' ver='{ver}'/>"
            ));
            self.claimed[contact].insert(ver);
        }
        if let (true, Some(sha256)) = (modern, sha256) {
            payload.push_str(&format!(
                "<c xmlns='urn:xmpp:caps'><hash xmlns='urn:xmpp:hashes:2' algo='sha-256'>{sha256}</hash></c>"
            ));
            self.claimed[contact].insert(sha256);
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
        let stanza = match (how, body(how)) {
            (How::Lost, _) => return,
            (_, Some(inner)) => {
                if let Some(contact) = CONTACTS.iter().position(|c| *c == to) {
                    let mut info = DiscoInfoResult::try_from(query(inner)).expect("a body");
                    info.node = None;
                    self.answered[contact].insert(canonical(&info));
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
            let own = self.answered[contact].contains(&canonical(&info));
            let claimed = hashes_of(&info)
                .iter()
                .any(|hash| self.claimed[contact].contains(hash));
            assert!(
                own || claimed,
                "{} got an answer it neither gave nor claimed: {info:?}",
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
