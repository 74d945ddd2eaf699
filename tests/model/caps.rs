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
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use xmpp_disco::caps::{Algorithm, CapsInfo, CapsStore};
use xmpp_disco::xmpp_parsers::disco::DiscoInfoResult;
use xmpp_disco::xmpp_parsers::jid::Jid;
use xmpp_disco::xmpp_parsers::minidom::rxml::{xml_ncname, Namespace};
use xmpp_disco::xmpp_parsers::minidom::Element;
use xmpp_disco::{Config, DiscoMachine, Event, QueryOptions, RequestId};

use super::bytes::{each_op, Bytes};
use super::forms::element_of;
use super::twins;
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

/// What the model knows of a program, computed once per process (the fuzz target runs
/// thousands of inputs in one): its answer as entity capabilities read it, its hashes, what it
/// says, and its forged twins, each with what it says.
struct Program {
    caps: CapsInfo,
    /// The program's `<query/>`, parsed once.
    query: Element,
    ver: String,
    sha256: String,
    /// The `<c/>` of each XEP claiming the program's hashes.
    legacy_c: Element,
    modern_c: Element,
    truth: String,
    /// Every other answer whose XEP-0115 string `S` is the program's, as [`twins::every`]
    /// builds them (strings joined by `<`, identities split at other slashes, strings moved
    /// between identities, features, forms, fields and values), with what each says (`None`
    /// when xmpp-parsers cannot read it).
    twins: Vec<Twin>,
}

/// A forged twin: its body, its `<query/>` and what it says.
struct Twin {
    body: String,
    query: Element,
    says: Option<String>,
}

/// The programs, and what the ill-formed answer says.
struct Facts {
    programs: Vec<Program>,
    ill_formed: Element,
    ill_formed_says: Option<String>,
    /// The `<c/>` claiming [`ILL_FORMED_VER`].
    ill_formed_c: Element,
}

/// XEP-0115's `<c/>` claiming `ver`.
fn legacy_c(ver: &str) -> Element {
    format!("<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='urn:n' ver='{ver}'/>")
        .parse()
        .expect("a <c/>")
}

/// XEP-0390's `<c/>` claiming the SHA-256 `hash`.
fn modern_c(hash: &str) -> Element {
    format!(
        "<c xmlns='urn:xmpp:caps'><hash xmlns='urn:xmpp:hashes:2' algo='sha-256'>{hash}</hash></c>"
    )
    .parse()
    .expect("a <c/>")
}

/// A presence from `from` (of `type_`, if any) carrying `children`, built without parsing.
fn presence_of(from: &str, type_: Option<&str>, children: &[&Element]) -> Element {
    let mut presence =
        Element::builder("presence", "jabber:client").attr(xml_ncname!("from").into(), from);
    if let Some(type_) = type_ {
        presence = presence.attr(xml_ncname!("type").into(), type_);
    }
    presence
        .append_all(children.iter().map(|child| (*child).clone()))
        .build()
}

fn facts() -> &'static Facts {
    static FACTS: OnceLock<Facts> = OnceLock::new();
    FACTS.get_or_init(|| Facts {
        programs: PROGRAMS
            .iter()
            .map(|inner| {
                let caps = info_of(inner);
                let twins = twins::every(&caps.legacy_input(), 5_000)
                    .into_iter()
                    .filter(|twin| twin.caps() != caps)
                    .map(|twin| Twin {
                        says: canonical_body(&twin.body()),
                        query: twin.query(),
                        body: twin.body(),
                    })
                    .collect();
                let ver = caps.legacy_ver();
                let sha256 = caps.hash(Algorithm::Sha256).expect("a XEP-0390 input");
                Program {
                    query: query(inner),
                    legacy_c: legacy_c(&ver),
                    modern_c: modern_c(&sha256),
                    ver,
                    sha256,
                    truth: canonical_body(inner).expect("a program reads"),
                    caps,
                    twins,
                }
            })
            .collect(),
        ill_formed: query(ILL_FORMED),
        ill_formed_says: canonical_body(ILL_FORMED),
        ill_formed_c: legacy_c(ILL_FORMED_VER),
    })
}

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
    Twin(u64),
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
                    3 | 4 => How::Twin(bytes.word()?),
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

/// The `<query/>` answering a request at `node` (a caps node, or `None` for a root), and what
/// it says.
fn body(how: &How, node: Option<&str>) -> Option<(&'static Element, Option<&'static str>)> {
    let facts = facts();
    match how {
        How::Program(n) => {
            let program = facts.programs.get(*n)?;
            Some((&program.query, Some(program.truth.as_str())))
        }
        How::Twin(n) => {
            // The program whose hash the node names (the first one for any other node).
            let program = node
                .and_then(|node| {
                    facts.programs.iter().find(|program| {
                        node.ends_with(&program.ver) || node.ends_with(&program.sha256)
                    })
                })
                .or(facts.programs.first())?;
            let at = usize::try_from(*n).ok()? % program.twins.len().max(1);
            let twin = program.twins.get(at)?;
            Some((&twin.query, twin.says.as_deref()))
        }
        How::IllFormed => Some((&facts.ill_formed, facts.ill_formed_says.as_deref())),
        How::Error | How::Lost => None,
    }
}

/// The result of request `id` to `to`: `query` (cloned, not parsed again) at `node`.
fn result(id: &str, to: &str, query: &Element, node: Option<&str>) -> Element {
    let mut query = query.clone();
    if let Some(node) = node {
        query.set_attr(Namespace::NONE, xml_ncname!("node").into(), node);
    }
    Element::builder("iq", "jabber:client")
        .attr(xml_ncname!("type").into(), "result")
        .attr(xml_ncname!("id").into(), id)
        .attr(xml_ncname!("from").into(), to)
        .append(query)
        .build()
}

fn info_of(inner: &str) -> CapsInfo {
    CapsInfo::from_query(&query(inner)).expect("a readable body")
}

/// The model's forger is real: each program has twins, each differs from it and hashes alike;
/// and each program is honest as the machine needs, its own reading.
pub fn twins_hash_alike() {
    for (n, program) in facts().programs.iter().enumerate() {
        assert!(
            program.caps.legacy_shareable().is_ok(),
            "program {n} is its reading"
        );
        assert!(
            program.twins.len() > 10,
            "program {n}: {} twins",
            program.twins.len()
        );
        for twin in &program.twins {
            let twin = info_of(&twin.body);
            assert_ne!(program.caps, twin);
            assert_eq!(program.caps.legacy_input(), twin.legacy_input());
        }
    }
}

fn query(inner: &str) -> Element {
    format!("<query xmlns='{INFO}'>{inner}</query>")
        .parse()
        .expect("a valid body")
}

/// The answer `inner` says, canonical; `None` if xmpp-parsers cannot read it (the machine
/// then fails the query as malformed).
fn canonical_body(inner: &str) -> Option<String> {
    let mut info = DiscoInfoResult::try_from(query(inner)).ok()?;
    info.node = None;
    Some(canonical(&info))
}

/// What identifies an answer: its identities, features and forms (each `FORM_TYPE` with its
/// fields and their values), sorted; not what no hash covers (field types, the XML's order).
fn canonical(info: &DiscoInfoResult) -> String {
    let mut identities: Vec<String> = info
        .identities
        .iter()
        .map(|i| format!("{}/{}/{:?}/{:?}", i.category, i.type_, i.lang, i.name))
        .collect();
    identities.sort();
    let mut forms: Vec<Vec<(String, Vec<String>)>> = info
        .extensions
        .iter()
        .map(|form| {
            let mut fields: Vec<(String, Vec<String>)> = form
                .fields
                .iter()
                .map(|field| {
                    let mut values = field.values.clone();
                    values.sort();
                    (field.var.clone().unwrap_or_default(), values)
                })
                .collect();
            fields.sort();
            fields
        })
        .collect();
    forms.sort();
    format!("{identities:?} {:?} {forms:?}", info.features)
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
        let facts = facts();
        let known = facts.programs.get(program);
        let (legacy_c, modern_c) = match known {
            Some(program) => (&program.legacy_c, Some(&program.modern_c)),
            None => (&facts.ill_formed_c, None),
        };
        let mut claims = Vec::new();
        if legacy {
            claims.push(legacy_c);
        }
        claims.extend(modern_c.filter(|_| modern));
        // The ill-formed answer is nobody's truth: it may only answer the contact giving it.
        if let (true, Some(program)) = (legacy || modern, known) {
            self.claimed[contact].insert(program.truth.clone());
        }
        let presence = presence_of(CONTACTS[contact], None, &claims);
        self.machine.observe_presence_element(self.at(), &presence);
    }

    fn answer(&mut self, request: usize, how: &How) {
        if self.waiting.is_empty() {
            return;
        }
        let (id, to, node) = self.waiting.remove(request % self.waiting.len());
        let stanza = match (how, body(how, node.as_deref())) {
            (How::Lost, _) => return,
            (_, Some((query, says))) => {
                if let Some(contact) = CONTACTS.iter().position(|c| *c == to) {
                    self.answered[contact].extend(says.map(str::to_owned));
                }
                result(&id, &to, query, node.as_deref())
            }
            (_, None) => format!(
                "<iq xmlns='jabber:client' type='error' id='{id}' from='{to}'>\
                 <error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
                 </error></iq>"
            )
            .parse()
            .expect("a valid reply"),
        };
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
                let presence = presence_of(CONTACTS[*contact], Some("unavailable"), &[]);
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
                let report = self.machine.import_caps(saved, CapsStore::Learned);
                assert_eq!(
                    (report.taken, report.skipped()),
                    (count, 0),
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

/// The most silent occupants a room holds: whatever their number, they delay an honest
/// occupant's query by one verification timeout at most.
const MAX_SILENT: usize = 50;

/// The model's time step: every occupant answers at once when asked, within the step.
const STEP: Duration = Duration::from_millis(250);

/// A room of occupants claiming one program's hashes, every one asked about at once, the
/// silent ones first when the bytes say so; each answers at once when asked, if at all. Every
/// query completes once; an honest occupant's with the program's true answer, within one
/// verification timeout (and the step it is answered in); nobody's with a twin but its forger's
/// own; no occupant is asked at its caps node twice; at most two requests per occupant.
pub fn run_room(data: &[u8]) {
    let mut bytes = Bytes(data);
    let programs = &facts().programs;
    let program = &programs[bytes.below(programs.len()).unwrap_or(0)];
    let modern = bytes.flag().unwrap_or(false);
    let silent_first = bytes.flag().unwrap_or(true);
    let silent = bytes.below(MAX_SILENT + 1).unwrap_or(0);
    let others = 1 + bytes.below(12).unwrap_or(4);
    let mut occupants: Vec<Occupant> = vec![Occupant::Silent; silent];
    occupants.extend((0..others).map(|_| match bytes.below(3).unwrap_or(2) {
        0 => Occupant::Forger(usize::from(bytes.byte().unwrap_or(0))),
        1 => Occupant::Silent,
        _ => Occupant::Honest,
    }));
    let count = occupants.len();
    let jids: Vec<String> = (0..count)
        .map(|n| format!("room@muc.example/occupant{n}"))
        .collect();
    let mut claim = vec![&program.legacy_c];
    if modern {
        claim.push(&program.modern_c);
    }
    let truth = &program.truth;
    let config = Config::default();
    let verification = config.caps_verification_timeout;
    let mut machine = DiscoMachine::new(config);
    let base = Instant::now();
    for jid in &jids {
        machine.observe_presence_element(base, &presence_of(jid, None, &claim));
    }
    // Asked about in order (the silent ones first), or from an occupant the bytes choose.
    let first = if silent_first {
        0
    } else {
        bytes.below(count).unwrap_or(0)
    };
    let mut about = BTreeMap::new();
    for n in (0..count).map(|n| (n + first) % count) {
        let jid = Jid::new(&jids[n]).expect("a JID");
        let id = machine
            .query_info(base, &jid, None, QueryOptions::default())
            .expect("a valid query");
        about.insert(id, n);
    }
    let twins = &program.twins;
    let mut outcomes: BTreeMap<RequestId, (Option<String>, Duration)> = BTreeMap::new();
    let mut asked_at_caps_node = BTreeSet::new();
    let mut requests = 0;
    for step in 0..=160u32 {
        let elapsed = STEP * step;
        let now = base + elapsed;
        machine.handle_timeout(now);
        while let Some(transmit) = machine.poll_transmit() {
            requests += 1;
            // The room is about timing and sharing; the three forms of a stanza are checked
            // by the operation sequences above and the other targets.
            let request = transmit.into_element();
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
            let query = match occupants[n] {
                Occupant::Honest => &program.query,
                Occupant::Forger(k) => &twins[k % twins.len()].query,
                Occupant::Silent => continue,
            };
            let _ = machine.handle_stanza(now, result(&id, &to, query, node.as_deref()));
        }
        while let Some(event) = machine.poll_event() {
            if let Event::Info { id, result } = event {
                let answer = result.ok().map(|info| canonical(&info));
                assert!(
                    outcomes.insert(id, (answer, elapsed)).is_none(),
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
    for (id, (answer, at)) in &outcomes {
        let n = about[id];
        match occupants[n] {
            Occupant::Honest => {
                assert_eq!(
                    answer.as_ref(),
                    Some(truth),
                    "honest occupant {n} of {occupants:?}"
                );
                assert!(
                    *at <= verification + STEP,
                    "honest occupant {n} answered after {at:?}: {occupants:?}"
                );
            }
            Occupant::Forger(k) => {
                let twin = &twins[k % twins.len()].says;
                assert!(
                    answer
                        .as_ref()
                        .is_none_or(|answer| answer == truth || Some(answer) == twin.as_ref()),
                    "forger {n} of {occupants:?}: {answer:?}"
                );
            }
            Occupant::Silent => assert!(
                answer.as_ref().is_none_or(|answer| answer == truth),
                "silent occupant {n} of {occupants:?}: {answer:?}"
            ),
        }
    }
    assert!(
        requests <= 2 * count,
        "{requests} requests for {count} occupants"
    );
}
