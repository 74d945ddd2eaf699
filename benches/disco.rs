//! The benchmark program: prints one table of workloads, each with the floor it cannot beat
//! measured in the same run, and the ratio to it. Run with `cargo bench --bench disco` (release
//! profile).
//!
//! Every figure is the median (and minimum) over several repetitions of a batch, in
//! nanoseconds per operation. Memory comes from a counting allocator around the system one.

mod support;

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{live_bytes, summary};
use xmpp_disco::xmpp_parsers::data_forms::{DataForm, DataFormType, Field, FieldType};
use xmpp_disco::xmpp_parsers::disco::{DiscoInfoResult, Identity, Item};
use xmpp_disco::xmpp_parsers::iq::Iq;
use xmpp_disco::xmpp_parsers::jid::Jid;
use xmpp_disco::xmpp_parsers::minidom::rxml::Namespace;
use xmpp_disco::xmpp_parsers::minidom::Element;
use xmpp_disco::xmpp_parsers::presence::Presence;
use xmpp_disco::{
    Config, DiscoMachine, DynamicNode, Entity, Event, Node, QueryOptions, RequestContext, Resolver,
    ServiceFilter, StanzaNamespace, StaticNode, Transmit,
};

const INFO: &str = "http://jabber.org/protocol/disco#info";
const REQUESTER: &str = "romeo@montague.example/orchard";
const REPETITIONS: usize = 11;

/// Nanoseconds per operation of one run of `batch`, which runs `ops` operations.
fn time_batch(ops: usize, batch: &mut impl FnMut()) -> f64 {
    let start = Instant::now();
    batch();
    start.elapsed().as_nanos() as f64 / ops as f64
}

/// Median and minimum nanoseconds per operation of `batch`, which runs `ops` operations.
fn measure(ops: usize, mut batch: impl FnMut()) -> (f64, f64) {
    batch(); // warm up
    summary(
        (0..REPETITIONS)
            .map(|_| time_batch(ops, &mut batch))
            .collect(),
    )
}

/// A workload beside its floor, measured in alternation, repetition by repetition, so that a
/// machine that slows down or speeds up during the run shifts both alike. The ratio is the
/// median of the per-repetition ratios.
fn paired(workload: &str, ops: usize, mut work: impl FnMut(), mut floor: impl FnMut()) -> Row {
    work();
    floor();
    let (mut works, mut floors, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..REPETITIONS {
        let w = time_batch(ops, &mut work);
        let f = time_batch(ops, &mut floor);
        works.push(w);
        floors.push(f);
        ratios.push(w / f);
    }
    Row {
        workload: workload.into(),
        ns: summary(works),
        floor: Some((summary(floors).0, summary(ratios).0)),
    }
}

struct Row {
    workload: String,
    ns: (f64, f64),
    /// The floor's median and the median ratio to it.
    floor: Option<(f64, f64)>,
}

fn print(rows: &[Row]) {
    println!(
        "{:<58} {:>11} {:>11} {:>11} {:>7}",
        "workload", "median ns", "min ns", "floor ns", "ratio"
    );
    for row in rows {
        let (floor, ratio) = match row.floor {
            Some((floor, ratio)) => (format!("{floor:.0}"), format!("{ratio:.2}")),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{:<58} {:>11.0} {:>11.0} {:>11} {:>7}",
            row.workload, row.ns.0, row.ns.1, floor, ratio
        );
    }
}

/// The bench root: client/bot named in two languages, 20 features, one form of three fields.
fn bench_machine() -> DiscoMachine {
    let mut machine = DiscoMachine::default();
    let mut root = machine.root_mut();
    root.set_identity_names(
        "client",
        "bot",
        [(Some("en"), "Bench Bot"), (Some("de"), "Prüfbot")],
    )
    .expect("the default identity");
    for i in 0..20 {
        root.register_feature(format!("urn:example:feature:{i}"))
            .expect("a new feature");
    }
    root.set_form(DataForm::new(
        DataFormType::Result_,
        "urn:example:bench",
        ["a", "b", "c"]
            .iter()
            .map(|var| Field::new(var, FieldType::TextSingle).with_value("value"))
            .collect(),
    ))
    .expect("a valid form");
    drop(root);
    while machine.poll_event().is_some() {}
    machine
}

fn request() -> Element {
    format!("<iq xmlns='jabber:client' type='get' id='bench-1' from='{REQUESTER}'><query xmlns='{INFO}'/></iq>")
        .parse()
        .expect("valid XML")
}

fn serialise(element: &Element) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(2048);
    element.write_to(&mut bytes).expect("writing to memory");
    bytes
}

fn responder(rows: &mut Vec<Row>, now: Instant, _: &[usize]) {
    let mut machine = bench_machine();
    let request = request();
    let _ = machine.handle_stanza(now, request.clone());
    let reply = machine.poll_transmit().expect("a reply").into_element();
    let payload = reply.get_child("query", INFO).expect("a query").clone();
    const N: usize = 2_000;

    rows.push(paired(
        "responder: info get Element -> reply Element",
        N,
        || {
            for _ in 0..N {
                let _ = machine.handle_stanza(now, black_box(request.clone()));
                black_box(machine.poll_transmit().map(Transmit::into_element));
            }
        },
        || {
            for _ in 0..N {
                black_box(request.clone());
                let mut answer = black_box(&reply).clone();
                answer.set_attr(Namespace::NONE, "to".try_into().expect("name"), REQUESTER);
                answer.set_attr(Namespace::NONE, "id".try_into().expect("name"), "bench-1");
                black_box(answer);
            }
        },
    ));

    let typed_request = Iq::try_from(request.clone()).expect("a valid IQ");
    rows.push(paired(
        "responder: info get Iq -> reply Iq",
        N,
        || {
            for _ in 0..N {
                let _ = machine.handle_iq(now, black_box(typed_request.clone()));
                black_box(machine.poll_transmit().map(Transmit::into_iq));
            }
        },
        || {
            for _ in 0..N {
                black_box(typed_request.clone());
                black_box(Iq::Result {
                    from: None,
                    to: Some(Jid::new(REQUESTER).expect("JID")),
                    id: "bench-1".into(),
                    payload: Some(payload.clone()),
                });
            }
        },
    ));

    // Bytes in, bytes out: the machine writes the answer (Transmit::write_to, into the host's
    // buffer, reused as a host writing its stream would), and the same with the answer taken as
    // an Element and serialised by minidom, as a host holding elements would.
    let request_bytes = serialise(&request);
    let parse_and_serialise = || {
        for _ in 0..N {
            black_box(Element::from_reader(black_box(&request_bytes[..])).expect("valid XML"));
            black_box(serialise(&reply));
        }
    };
    let mut machine_bytes = bench_machine();
    let _ = machine_bytes.handle_stanza(now, request.clone());
    let mut buffer = Vec::with_capacity(4096);
    let written = machine_bytes.poll_transmit().expect("a reply");
    written.write_to(&mut buffer).expect("writable");
    let written = Element::from_reader(buffer.as_slice()).expect("valid XML");
    assert_eq!(written, reply, "the byte path writes the same answer");
    rows.push(paired(
        "responder: info get bytes -> reply bytes",
        N,
        || {
            for _ in 0..N {
                let parsed =
                    Element::from_reader(black_box(&request_bytes[..])).expect("valid XML");
                let _ = machine_bytes.handle_stanza(now, parsed);
                let answer = machine_bytes.poll_transmit().expect("a reply");
                buffer.clear();
                answer.write_to(&mut buffer).expect("writable");
                black_box(&buffer);
            }
        },
        parse_and_serialise,
    ));
    rows.push(paired(
        "responder: the same, Element out serialised by minidom",
        N,
        || {
            for _ in 0..N {
                let parsed =
                    Element::from_reader(black_box(&request_bytes[..])).expect("valid XML");
                let _ = machine.handle_stanza(now, parsed);
                let answer = machine.poll_transmit().expect("a reply").into_element();
                black_box(serialise(&answer));
            }
        },
        parse_and_serialise,
    ));
}

/// The bench reply as a result from [`REQUESTER`], to be given an id by [`result_for`].
fn result_template(payload: &Element) -> Element {
    let mut iq: Element = format!("<iq xmlns='jabber:client' type='result' from='{REQUESTER}'/>")
        .parse()
        .expect("valid XML");
    iq.append_child(payload.clone());
    iq
}

/// The reply to the request `id`: what a host has in hand once its stream parsed the reply.
fn result_for(id: &str, template: &Element) -> Element {
    let mut iq = template.clone();
    iq.set_attr(Namespace::NONE, "id".try_into().expect("a name"), id);
    iq
}

/// The `id` of a request the machine wrote (`... id='disco-7' ...`), as a host's parser would
/// read it.
fn id_of(request: &[u8]) -> &str {
    let text = std::str::from_utf8(request).expect("UTF-8");
    let start = text.find(" id='").expect("an id") + " id='".len();
    let length = text[start..].find('\'').expect("a closing quote");
    &text[start..start + length]
}

fn bench_payload(now: Instant) -> Element {
    let mut machine = bench_machine();
    let _ = machine.handle_stanza(now, request());
    let reply = machine.poll_transmit().expect("a reply").into_element();
    reply.get_child("query", INFO).expect("a query").clone()
}

fn requester(rows: &mut Vec<Row>, now: Instant, _: &[usize]) {
    let payload = bench_payload(now);
    let template = result_template(&payload);
    let peer = Jid::new(REQUESTER).expect("JID");

    // Cache hit.
    let mut machine = DiscoMachine::default();
    let info = DiscoInfoResult::try_from(payload.clone()).expect("a valid result");
    machine.set_info_cache(&peer, None, info).expect("valid");
    const HITS: usize = 100_000;
    let mut map: HashMap<(Jid, Option<String>), Arc<DiscoInfoResult>> = HashMap::new();
    map.insert(
        (peer.clone(), None),
        Arc::new(DiscoInfoResult::try_from(payload.clone()).expect("valid")),
    );
    let key = (peer.clone(), None);
    rows.push(paired(
        "requester: cache hit (query_info + poll_event)",
        HITS,
        || {
            for _ in 0..HITS {
                let _ = machine.query_info(now, black_box(&peer), None, QueryOptions::default());
                black_box(machine.poll_event());
            }
        },
        || {
            for _ in 0..HITS {
                black_box(map.get(black_box(&key)).map(Arc::clone));
            }
        },
    ));

    // Miss, full round trip.
    const MISSES: usize = 2_000;
    rows.push(paired(
        "requester: miss round trip, Element in/out",
        MISSES,
        || {
            for _ in 0..MISSES {
                let _ = machine.query_info(now, &peer, None, QueryOptions::fresh());
                let sent = machine.poll_transmit().expect("a request").into_element();
                let reply = result_for(sent.attr("id").unwrap_or_default(), &template);
                let _ = machine.handle_stanza(now, reply);
                black_box(machine.poll_event());
            }
        },
        || {
            for _ in 0..MISSES {
                black_box(DiscoInfoResult::try_from(black_box(payload.clone())).expect("valid"));
            }
        },
    ));

    let reply_text = String::from_utf8(serialise(&result_for("ID", &template))).expect("UTF-8");
    let mut sent = Vec::with_capacity(512);
    rows.push(paired(
        "requester: miss round trip, bytes in/out",
        MISSES,
        || {
            for _ in 0..MISSES {
                let _ = machine.query_info(now, &peer, None, QueryOptions::fresh());
                sent.clear();
                let request = machine.poll_transmit().expect("a request");
                request.write_to(&mut sent).expect("writable");
                let bytes = reply_text.replacen("'ID'", &format!("'{}'", id_of(&sent)), 1);
                let reply = Element::from_reader(bytes.as_bytes()).expect("valid");
                let _ = machine.handle_stanza(now, reply);
                black_box(machine.poll_event());
            }
        },
        || {
            for _ in 0..MISSES {
                let parsed = Element::from_reader(black_box(reply_text.as_bytes())).expect("valid");
                let query = parsed.get_child("query", INFO).expect("query").clone();
                black_box(DiscoInfoResult::try_from(query).expect("valid"));
            }
        },
    ));

    // Aliasing: 10,000 waiters on one request, one reply. On the session's long-lived machine
    // (the first query of each burst is fresh, so that it sends and the others alias to it),
    // and on a new machine per burst, which also pays for its queues' first growth.
    const WAITERS: usize = 10_000;
    let burst = |machine: &mut DiscoMachine| {
        let _ = machine.query_info(now, &peer, None, QueryOptions::fresh());
        let sent = machine.poll_transmit().expect("a request").into_element();
        for _ in 1..WAITERS {
            let _ = machine.query_info(now, &peer, None, QueryOptions::default());
        }
        let reply = result_for(sent.attr("id").unwrap_or_default(), &template);
        let _ = machine.handle_stanza(now, reply);
        let mut completed = 0;
        while let Some(event) = machine.poll_event() {
            black_box(event);
            completed += 1;
        }
        assert_eq!(completed, WAITERS, "every waiter completes");
    };
    let mut machine = DiscoMachine::default();
    let warm = measure(WAITERS, || burst(&mut machine));
    let fresh = measure(WAITERS, || burst(&mut DiscoMachine::default()));
    for (what, ns) in [("warm", warm), ("new", fresh)] {
        rows.push(Row {
            workload: format!(
                "requester: {WAITERS} aliased, one reply, {what} machine (per waiter)"
            ),
            ns,
            floor: None,
        });
    }
}

/// One timers scenario: `jids.len()` queries with distinct deadlines (each IQ drained as a host
/// would), `poll_timeout`, then one `handle_timeout` that expires them all. Nanoseconds per
/// query, per poll and per expired waiter.
fn timers_once(jids: &[Jid], now: Instant) -> (f64, f64, f64) {
    let pending = jids.len();
    let mut config = Config::default();
    config.max_in_flight = usize::MAX;
    config.info_cache_capacity = pending;
    let mut machine = DiscoMachine::new(config);
    let start = Instant::now();
    for (i, jid) in jids.iter().enumerate() {
        let options = QueryOptions::default().with_timeout(Duration::from_millis(1_000 + i as u64));
        let _ = machine.query_info(now, jid, None, options);
        black_box(machine.poll_transmit().map(Transmit::into_element));
    }
    let query = start.elapsed().as_nanos() as f64 / pending as f64;
    let polls = 1_000;
    let start = Instant::now();
    for _ in 0..polls {
        black_box(machine.poll_timeout());
    }
    let poll = start.elapsed().as_nanos() as f64 / polls as f64;
    let start = Instant::now();
    machine.handle_timeout(now + Duration::from_secs(3_600));
    let expire = start.elapsed().as_nanos() as f64 / pending as f64;
    assert!(machine.poll_event().is_some(), "the queries expired");
    (query, poll, expire)
}

fn timers(rows: &mut Vec<Row>, now: Instant, scales: &[usize]) {
    for &pending in scales {
        let jids: Vec<Jid> = (0..pending)
            .map(|i| Jid::new(&format!("e{i}.example")).expect("JID"))
            .collect();
        // Small sizes are over in microseconds: repeat them more, for a steady median.
        let repetitions = (10_000_000 / pending).clamp(3, REPETITIONS);
        let runs: Vec<_> = (0..repetitions).map(|_| timers_once(&jids, now)).collect();
        let column = |pick: fn(&(f64, f64, f64)) -> f64| summary(runs.iter().map(pick).collect());
        for (what, ns) in [
            ("query_info + poll_transmit", column(|run| run.0)),
            ("poll_timeout", column(|run| run.1)),
            ("expired waiter", column(|run| run.2)),
        ] {
            rows.push(Row {
                workload: format!("timers: {pending} pending, per {what}"),
                ns,
                floor: None,
            });
        }
    }
}

fn cache(rows: &mut Vec<Row>, now: Instant, scales: &[usize]) {
    let payload = bench_payload(now);
    let shared = Arc::new(DiscoInfoResult::try_from(payload.clone()).expect("valid"));
    for &entries in scales {
        let jids: Vec<Jid> = (0..entries)
            .map(|i| Jid::new(&format!("user{i}@example.org/res")).expect("JID"))
            .collect();
        for distinct in [false, true] {
            if distinct && entries > 100_000 {
                continue; // a million distinct 1.4 KB results is more memory than the point needs
            }
            let mut config = Config::default();
            config.info_cache_capacity = entries;
            let before = live_bytes();
            let mut machine = DiscoMachine::new(config);
            for jid in &jids {
                let info = if distinct {
                    Arc::new(DiscoInfoResult::try_from(payload.clone()).expect("valid"))
                } else {
                    Arc::clone(&shared)
                };
                machine.set_info_cache(jid, None, info).expect("valid");
            }
            let bytes = (live_bytes() - before) as f64 / entries as f64;
            let lookups = 100_000;
            let lookup = measure(lookups, || {
                for i in 0..lookups {
                    let _ = machine.query_info(
                        now,
                        &jids[(i * 7919) % entries],
                        None,
                        QueryOptions::default(),
                    );
                    black_box(machine.poll_event());
                }
            });
            let kind = if distinct { "distinct" } else { "shared" };
            rows.push(Row {
                workload: format!("cache: {entries} entries ({kind} results), lookup"),
                ns: lookup,
                floor: None,
            });
            println!("memory: {entries} entries, {kind} results: {bytes:.0} bytes per entry");
            drop(machine);
        }
    }
}

/// The service a component bench machine answers for, and its rooms.
const SERVICE: &str = "rooms.example.org";

/// A component answering for [`SERVICE`].
fn component_machine() -> DiscoMachine {
    let mut config = Config::default();
    config.own_jid = Some(Jid::new(SERVICE).expect("JID"));
    config.stamp_from = true;
    config.stanza_namespace = StanzaNamespace::ComponentAccept;
    DiscoMachine::new(config)
}

/// A room's answer, built from its address alone: what a resolver of many rooms does.
struct Rooms;

impl DynamicNode for Rooms {
    fn info(&self, request: &RequestContext<'_>) -> Option<DiscoInfoResult> {
        let room = request.to?.node()?;
        Some(DiscoInfoResult {
            node: None,
            identities: vec![Identity::new("conference", "text", "en", room.as_str())],
            features: ["http://jabber.org/protocol/muc".to_owned()].into(),
            extensions: vec![],
        })
    }
}

/// A typed `disco#info` get from [`REQUESTER`] to `to`.
fn info_get(to: &Jid, payload: &Element) -> Iq {
    Iq::Get {
        from: Some(Jid::new(REQUESTER).expect("JID")),
        to: Some(to.clone()),
        id: "bench-1".into(),
        payload: payload.clone(),
    }
}

/// Answering for many addresses: through the resolver, with the number of distinct addresses
/// asked growing (time per answer and memory should not grow with it), and from registered
/// static entities (bytes per entity).
fn entities(rows: &mut Vec<Row>, now: Instant, scales: &[usize]) {
    let payload: Element = format!("<query xmlns='{INFO}'/>").parse().expect("XML");
    for &addresses in scales {
        let rooms: Vec<Jid> = (0..addresses)
            .map(|i| Jid::new(&format!("room{i}@{SERVICE}")).expect("JID"))
            .collect();
        let mut machine = component_machine();
        machine.set_resolver(Resolver::dynamic(Rooms));
        let requests = 100_000;
        let mut next = 0;
        let mut answer_batch = |machine: &mut DiscoMachine| {
            for _ in 0..requests {
                let to = &rooms[next % addresses];
                next += 7_919;
                let _ = machine.handle_iq(now, info_get(to, &payload));
                black_box(machine.poll_transmit().map(Transmit::into_iq));
            }
        };
        answer_batch(&mut machine); // every address asked once or more before counting bytes
        let before = live_bytes();
        let answer = measure(requests, || answer_batch(&mut machine));
        let retained = (live_bytes() - before) as f64;
        rows.push(Row {
            workload: format!("resolver: {addresses} distinct addresses, per answer (Iq)"),
            ns: answer,
            floor: None,
        });
        println!(
            "memory: resolver over {addresses} addresses: {retained:.0} bytes retained by {} more answers",
            REPETITIONS * requests
        );
    }

    // Registered static entities: what each costs, and answering one of them.
    let count = 10_000;
    let jids: Vec<Jid> = (0..count)
        .map(|i| Jid::new(&format!("room{i}@{SERVICE}")).expect("JID"))
        .collect();
    let before = live_bytes();
    let mut machine = component_machine();
    for (i, jid) in jids.iter().enumerate() {
        let mut root = StaticNode::new();
        root.register_identity("conference", "text", format!("Room {i}"))
            .expect("identity");
        root.register_feature("http://jabber.org/protocol/muc")
            .expect("feature");
        machine.add_entity(jid.clone(), Entity::new(root));
    }
    while machine.poll_event().is_some() {}
    let registered = live_bytes() - before;
    let requests = 100_000;
    let mut next = 0;
    let answer = measure(requests, || {
        for _ in 0..requests {
            let to = &jids[next % count];
            next += 7_919;
            let _ = machine.handle_iq(now, info_get(to, &payload));
            black_box(machine.poll_transmit().map(Transmit::into_iq));
        }
    });
    let answered = live_bytes() - before;
    rows.push(Row {
        workload: format!("entities: {count} registered, per answer (Iq)"),
        ns: answer,
        floor: None,
    });
    println!(
        "memory: {count} registered static entities: {:.0} bytes each, {:.0} with their built answers",
        registered as f64 / count as f64,
        answered as f64 / count as f64
    );
}

/// A static node of `count` rooms, answering pages.
fn listing_machine(count: usize) -> DiscoMachine {
    let mut machine = DiscoMachine::default();
    let rooms = (0..count)
        .map(|n| Item {
            jid: Jid::new(&format!("room{n}@rooms.example")).expect("JID"),
            node: None,
            name: Some(format!("Room {n}")),
        })
        .collect();
    machine.root_mut().set_items(rooms).expect("valid items");
    while machine.poll_event().is_some() {}
    machine
}

/// An items request from [`REQUESTER`] carrying the RSM `set`.
fn page_request(set: &str) -> Element {
    format!(
        "<iq xmlns='jabber:client' type='get' id='p1' from='{REQUESTER}'>\
         <query xmlns='http://jabber.org/protocol/disco#items'>\
         <set xmlns='http://jabber.org/protocol/rsm'>{set}</set></query></iq>"
    )
    .parse()
    .expect("a request")
}

/// The `<last/>` of the page a request gets.
fn last_of(machine: &mut DiscoMachine, now: Instant, request: Element) -> String {
    let _ = machine.handle_stanza(now, request);
    let answer = machine.poll_transmit().expect("an answer").into_element();
    answer
        .get_child("query", "http://jabber.org/protocol/disco#items")
        .and_then(|query| query.get_child("set", "http://jabber.org/protocol/rsm"))
        .and_then(|set| set.get_child("last", "http://jabber.org/protocol/rsm"))
        .map(Element::text)
        .expect("a <last/>")
}

/// Answers the same 100 items to every request, built anew each time: what a page of 100
/// costs to build and write, without any list around it.
struct Hundred(Vec<Item>);

impl DynamicNode for Hundred {
    fn info(&self, _: &RequestContext<'_>) -> Option<DiscoInfoResult> {
        None
    }

    fn items(&self, _: &RequestContext<'_>) -> Option<Vec<Item>> {
        Some(self.0.clone())
    }
}

/// One page of 100 out of a node of 100,000 items, at its start, middle and end: a page must
/// cost the same wherever it is, and no more than its own 100 items: the floor is a dynamic
/// node answering 100 items, built and written anew per request.
fn pages(rows: &mut Vec<Row>, now: Instant, _: &[usize]) {
    const ITEMS: usize = 100_000;
    const N: usize = 500;
    let mut machine = listing_machine(ITEMS);
    let mut hundred = DiscoMachine::default();
    let first_hundred = listing_machine(100).root().items().to_vec();
    hundred
        .mount("hundred", Node::dynamic(Hundred(first_hundred)))
        .expect("a valid name");
    let whole: Element = format!(
        "<iq xmlns='jabber:client' type='get' id='w1' from='{REQUESTER}'>\
         <query xmlns='http://jabber.org/protocol/disco#items' node='hundred'/></iq>"
    )
    .parse()
    .expect("a request");
    let mut wire = Vec::with_capacity(16 * 1024);
    let mut floor_wire = Vec::with_capacity(16 * 1024);
    for position in [0, ITEMS / 2, ITEMS - 100] {
        let request = if position == 0 {
            page_request("<max>100</max>")
        } else {
            let before = page_request(&format!("<max>1</max><index>{}</index>", position - 1));
            let after = last_of(&mut machine, now, before);
            page_request(&format!("<max>100</max><after>{after}</after>"))
        };
        rows.push(paired(
            &format!("pages: 100 after item {position} of 100,000 -> bytes"),
            N,
            || {
                for _ in 0..N {
                    let _ = machine.handle_stanza(now, black_box(request.clone()));
                    wire.clear();
                    if let Some(transmit) = machine.poll_transmit() {
                        let _ = transmit.write_to(&mut wire);
                    }
                    black_box(&wire);
                }
            },
            // The floor: 100 items built and written per request.
            || {
                for _ in 0..N {
                    let _ = hundred.handle_stanza(now, black_box(whole.clone()));
                    floor_wire.clear();
                    if let Some(transmit) = hundred.poll_transmit() {
                        let _ = transmit.write_to(&mut floor_wire);
                    }
                    black_box(&floor_wire);
                }
            },
        ));
    }
}

/// A machine that searched `server`'s 50 services once: every answer is in its cache.
fn warmed(now: Instant, server: &Jid, services: &[Jid]) -> DiscoMachine {
    let mut machine = DiscoMachine::default();
    let filter = ServiceFilter::feature("urn:xmpp:http:upload:0");
    let _ = machine.find_services(now, server, None, filter, QueryOptions::default());
    // Answer the first search: the list, then every service's info.
    while let Some(transmit) = machine.poll_transmit() {
        let request = transmit.into_element();
        let id = request.attr("id").unwrap_or_default().to_owned();
        let to = request.attr("to").unwrap_or_default().to_owned();
        let payload = if request
            .get_child("query", "http://jabber.org/protocol/disco#items")
            .is_some()
        {
            let items: String = services
                .iter()
                .map(|jid| format!("<item jid='{jid}'/>"))
                .collect();
            format!("<query xmlns='http://jabber.org/protocol/disco#items'>{items}</query>")
        } else {
            let feature = if to == "service7.example.org" {
                "urn:xmpp:http:upload:0"
            } else {
                "http://jabber.org/protocol/muc"
            };
            format!(
                "<query xmlns='{INFO}'><identity category='component' type='generic'/>\
                 <feature var='{feature}'/></query>"
            )
        };
        let reply: Element =
            format!("<iq xmlns='jabber:client' type='result' id='{id}' from='{to}'>{payload}</iq>")
                .parse()
                .expect("a reply");
        let _ = machine.handle_stanza(now, reply);
    }
    while machine.poll_event().is_some() {}
    while machine.poll_event().is_some() {}
    machine
}

/// A find-services over 50 items, every answer in the cache, beside the same 52 queries made
/// one by one from the cache.
fn questions(rows: &mut Vec<Row>, now: Instant, _: &[usize]) {
    const ITEMS: usize = 50;
    const N: usize = 2_000;
    let server = Jid::new("example.org").expect("JID");
    let services: Vec<Jid> = (0..ITEMS)
        .map(|n| Jid::new(&format!("service{n}.example.org")).expect("JID"))
        .collect();
    let filter = || ServiceFilter::feature("urn:xmpp:http:upload:0");
    let mut machine = warmed(now, &server, &services);
    let mut by_hand = warmed(now, &server, &services);
    let sent = machine.stats().requests_sent;
    rows.push(paired(
        "questions: find_services over 50 items, warm cache",
        N,
        || {
            for _ in 0..N {
                let _ =
                    machine.find_services(now, &server, None, filter(), QueryOptions::default());
                black_box(machine.poll_event());
            }
        },
        || {
            for _ in 0..N {
                let _ = by_hand.query_item_list(now, &server, None, QueryOptions::default());
                black_box(by_hand.poll_event());
                let _ = by_hand.query_info(now, &server, None, QueryOptions::default());
                black_box(by_hand.poll_event());
                for service in &services {
                    let _ = by_hand.query_info(now, service, None, QueryOptions::default());
                    black_box(by_hand.poll_event());
                }
            }
        },
    ));
    assert_eq!(
        machine.stats().requests_sent,
        sent,
        "warm: nothing was sent"
    );
    cold_walk(now);
}

/// A responder of the cold walk's world: `jid`, an identity, and `items`, answering at most
/// `largest` items at once (paging unasked beyond, as ejabberd's MUC service does).
fn world_entity(jid: &Jid, items: Vec<Item>, largest: usize) -> DiscoMachine {
    let mut config = Config::default();
    config.own_jid = Some(jid.clone());
    config.stamp_from = true;
    config.max_items_per_answer = Some(largest);
    let mut machine = DiscoMachine::new(config);
    let mut root = machine.root_mut();
    let _ = root.register_identity("conference", "text", "Rooms");
    let _ = root.set_items(items);
    drop(root);
    machine
}

/// A depth-1 walk of a server whose MUC service holds 2,500 rooms, bounded to 200 entities, on
/// a cold cache: the requests it sends and the time it takes (the world's answers included).
fn cold_walk(now: Instant) {
    const ROOMS: usize = 2_500;
    const MAX_ENTITIES: usize = 200;
    let item = |jid: &str| Item {
        jid: Jid::new(jid).expect("JID"),
        node: None,
        name: None,
    };
    let server = Jid::new("example.org").expect("JID");
    let services = [
        "muc.example.org",
        "upload.example.org",
        "pubsub.example.org",
    ];
    let mut world: HashMap<String, DiscoMachine> = HashMap::new();
    let listed = services.iter().map(|jid| item(jid)).collect();
    world.insert(server.to_string(), world_entity(&server, listed, 100));
    for service in services {
        let items = match service {
            "muc.example.org" => (0..ROOMS)
                .map(|n| item(&format!("room{n}@{service}")))
                .collect(),
            _ => Vec::new(),
        };
        let jid = Jid::new(service).expect("JID");
        world.insert(service.to_owned(), world_entity(&jid, items, 40));
    }
    let mut client = DiscoMachine::new(Config::default());
    let start = Instant::now();
    let _ = client.walk(now, &server, None, 1, MAX_ENTITIES, QueryOptions::default());
    let mut walked = None;
    while walked.is_none() {
        let Some(transmit) = client.poll_transmit() else {
            break;
        };
        let request = transmit.into_element();
        let to = request.attr("to").unwrap_or_default().to_owned();
        if let Some(entity) = world.get_mut(&to) {
            let _ = entity.handle_stanza(now, request);
            while let Some(reply) = entity.poll_transmit() {
                let _ = client.handle_stanza(now, reply.into_element());
            }
        }
        while let Some(event) = client.poll_event() {
            if let Event::Walk { result, .. } = event {
                walked = Some(result);
            }
        }
    }
    let elapsed = start.elapsed();
    let walk = walked.expect("the walk completed").expect("a walk");
    println!(
        "
cold walk: depth 1 from a server whose MUC holds {ROOMS} rooms (pages of 40), at most \
         {MAX_ENTITIES} entities: {} entities, {} requests, {:.2} ms (the world's answers included)",
        walk.entities.len(),
        client.stats().requests_sent,
        elapsed.as_secs_f64() * 1e3
    );
}

/// The entity capabilities login storm's size: contacts, and the programs they run.
const STORM_CONTACTS: usize = 10_000;
const STORM_PROGRAMS: usize = 100;
const STORM_REPETITIONS: usize = 5;

/// Program `k`'s features, as `benches/peers/caps.py` builds them.
fn program_features(k: usize) -> Vec<String> {
    let mut features = vec![
        "http://jabber.org/protocol/disco#info".to_owned(),
        "http://jabber.org/protocol/caps".to_owned(),
    ];
    features.extend((0..10).map(|j| format!("urn:bench:{k}:{j}")));
    features
}

/// Program `k`'s `disco#info` body.
fn program_body(k: usize) -> String {
    let features: String = program_features(k)
        .iter()
        .map(|feature| format!("<feature var='{feature}'/>"))
        .collect();
    format!("<identity category='client' type='pc' name='Program {k}'/>{features}")
}

/// The presences of a storm, in the form the host hands them over: typed (as tokio-xmpp
/// does, and as the peers get theirs: parsed objects) or as elements.
enum Presences {
    Typed(Vec<Presence>),
    Elements(Vec<Element>),
}

/// What one storm measured.
struct Storm {
    iqs: u64,
    presence_ns: f64,
    query_ns: f64,
    bytes_per_contact: f64,
}

/// One login storm on a fresh machine: every presence shown, then a root query of every
/// contact, the requests answered at once. Writing and parsing the answer's XML is the
/// network's work (the peers' replaced calls hand over parsed answers) and is not counted;
/// everything the machine does with it is.
fn storm(
    now: Instant,
    presences: &Presences,
    contacts: &[Jid],
    bodies: &[String],
    vers: &[String],
) -> Storm {
    let mut config = Config::default();
    config.caps_claim_capacity = STORM_CONTACTS;
    let mut machine = DiscoMachine::new(config);
    let before = live_bytes();
    let start = Instant::now();
    match presences {
        Presences::Typed(presences) => {
            for presence in presences {
                machine.observe_presence(now, presence);
            }
        }
        Presences::Elements(presences) => {
            for presence in presences {
                machine.observe_presence_element(now, presence);
            }
        }
    }
    let presence_ns = start.elapsed().as_nanos() as f64 / STORM_CONTACTS as f64;
    let start = Instant::now();
    let mut network = Duration::ZERO;
    for contact in contacts {
        let _ = machine.query_info(now, contact, None, QueryOptions::default());
        while let Some(transmit) = machine.poll_transmit() {
            let answering = Instant::now();
            let request = transmit.into_element();
            let id = request.attr("id").unwrap_or_default();
            let to = request.attr("to").unwrap_or_default();
            let node = request
                .get_child("query", INFO)
                .and_then(|query| query.attr("node"))
                .unwrap_or_default();
            let program = vers
                .iter()
                .position(|ver| node.ends_with(ver.as_str()))
                .unwrap_or_default();
            let reply: Element = format!(
                "<iq xmlns='jabber:client' type='result' id='{id}' from='{to}'>\
                 <query xmlns='{INFO}' node='{node}'>{}</query></iq>",
                bodies[program]
            )
            .parse()
            .expect("a reply");
            network += answering.elapsed();
            let _ = machine.handle_stanza(now, reply);
        }
        while let Some(event) = machine.poll_event() {
            black_box(event);
        }
    }
    let query_ns = (start.elapsed() - network).as_nanos() as f64 / STORM_CONTACTS as f64;
    let stats = machine.stats();
    assert_eq!(
        stats.caps_hits + stats.caps_joined + stats.caps_verified,
        STORM_CONTACTS as u64,
        "every query from the caps: {stats:?}"
    );
    let bytes_per_contact = (live_bytes() - before) as f64 / STORM_CONTACTS as f64;
    drop(machine);
    Storm {
        iqs: stats.requests_sent,
        presence_ns,
        query_ns,
        bytes_per_contact,
    }
}

/// XEP-0115's `ver` of an info body.
fn caps_ver(body: &str) -> String {
    let query: Element = format!("<query xmlns='{INFO}'>{body}</query>")
        .parse()
        .expect("a body");
    xmpp_disco::caps::CapsInfo::from_query(&query)
        .expect("a well-formed body")
        .legacy_ver()
}

/// A Python with slixmpp and aioxmpp: `XMPP_DISCO_PYTHON`, or the environment
/// `benches/peers/run.sh` (or the interop suite) installs under `target/`.
fn peers_python() -> Option<std::path::PathBuf> {
    if let Some(python) = std::env::var_os("XMPP_DISCO_PYTHON") {
        return Some(python.into());
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    ["peers-venv", "interop-venv"]
        .iter()
        .map(|venv| root.join(venv).join("bin/python"))
        .find(|python| python.exists())
}

/// The number after `"key": ` in a line of JSON the peers print.
fn json_number(line: &str, key: &str) -> Option<f64> {
    let rest = line.split(&format!("\"{key}\": ")).nth(1)?;
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

/// The string after `"key": ` in a line of JSON the peers print.
fn json_text(line: &str, key: &str) -> Option<String> {
    let rest = line.split(&format!("\"{key}\": \"")).nth(1)?;
    Some(rest[..rest.find('"')?].to_owned())
}

/// The entity capabilities login storm: 10,000 presences from contacts running 100 programs,
/// then a root query of every contact; beside slixmpp and aioxmpp doing the same job
/// (`benches/peers/caps.py` says exactly which of their calls are timed).
fn caps(_: &mut Vec<Row>, now: Instant, _: &[usize]) {
    for silent in ROOM_SILENT {
        hostile_room(now, silent);
    }
    let bodies: Vec<String> = (0..STORM_PROGRAMS).map(program_body).collect();
    let vers: Vec<String> = bodies.iter().map(|body| caps_ver(body)).collect();
    let contacts: Vec<Jid> = (0..STORM_CONTACTS)
        .map(|i| Jid::new(&format!("contact{i}@bench.example/device")).expect("JID"))
        .collect();
    let presences: Vec<Element> = contacts
        .iter()
        .enumerate()
        .map(|(i, contact)| {
            let k = i % STORM_PROGRAMS;
            format!(
                "<presence xmlns='jabber:client' from='{contact}'>\
                 <c xmlns='http://jabber.org/protocol/caps' hash='sha-1' \
                 node='https://bench.example/{k}' ver='{}'/></presence>",
                vers[k]
            )
            .parse()
            .expect("a presence")
        })
        .collect();
    let typed = Presences::Typed(
        presences
            .iter()
            .map(|presence| Presence::try_from(presence.clone()).expect("a presence"))
            .collect(),
    );
    let elements = Presences::Elements(presences);
    let median = |presences: &Presences| {
        let runs: Vec<Storm> = (0..STORM_REPETITIONS)
            .map(|_| storm(now, presences, &contacts, &bodies, &vers))
            .collect();
        Storm {
            iqs: runs[0].iqs,
            presence_ns: summary(runs.iter().map(|run| run.presence_ns).collect()).0,
            query_ns: summary(runs.iter().map(|run| run.query_ns).collect()).0,
            bytes_per_contact: summary(runs.iter().map(|run| run.bytes_per_contact).collect()).0,
        }
    };
    let ours = median(&typed);
    let ours_elements = median(&elements);
    println!(
        "\ncaps login storm: {STORM_CONTACTS} presences (XEP-0115) from contacts running \
         {STORM_PROGRAMS} programs, then a root query per contact (medians of {STORM_REPETITIONS} \
         runs; peers: benches/peers/caps.py)"
    );
    println!(
        "{:<22} {:>6} {:>13} {:>11} {:>15}   timed",
        "implementation", "IQs", "ns/presence", "ns/query", "bytes/contact"
    );
    let line = |name: &str, storm: &Storm, calls: &str| {
        println!(
            "{name:<22} {:>6} {:>13.0} {:>11.0} {:>15.0}   {calls}",
            storm.iqs, storm.presence_ns, storm.query_ns, storm.bytes_per_contact
        );
    };
    line(
        "xmpp-disco",
        &ours,
        "observe_presence (typed Presence) / query_info",
    );
    line(
        "xmpp-disco, elements",
        &ours_elements,
        "observe_presence_element (reads from and type itself) / query_info",
    );
    let Some(python) = peers_python() else {
        println!(
            "(peers skipped: run benches/peers/run.sh once, or set XMPP_DISCO_PYTHON to a Python \
             with slixmpp and aioxmpp)"
        );
        return;
    };
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers/caps.py");
    let output = std::process::Command::new(&python)
        .args(["-W", "ignore"])
        .arg(&script)
        .args([
            STORM_CONTACTS.to_string(),
            STORM_PROGRAMS.to_string(),
            "3".to_owned(),
        ])
        .output();
    let Some(output) = output.ok().filter(|output| output.status.success()) else {
        println!("(peers failed to run with {})", python.display());
        return;
    };
    let mut peers = Vec::new();
    for json in String::from_utf8_lossy(&output.stdout).lines() {
        let (Some(name), Some(calls)) = (json_text(json, "name"), json_text(json, "calls")) else {
            continue;
        };
        let storm = Storm {
            iqs: json_number(json, "iqs").unwrap_or_default() as u64,
            presence_ns: json_number(json, "presence_ns").unwrap_or(f64::NAN),
            query_ns: json_number(json, "query_ns").unwrap_or(f64::NAN),
            bytes_per_contact: json_number(json, "bytes_per_contact").unwrap_or(f64::NAN),
        };
        line(&name, &storm, &calls);
        peers.push(storm);
    }
    let best = |field: fn(&Storm) -> f64| peers.iter().map(field).fold(f64::INFINITY, f64::min);
    println!(
        "xmpp-disco against the better peer: {:.1}x per presence, {:.1}x per query, {:.1}x less \
         memory per contact",
        best(|storm| storm.presence_ns) / ours.presence_ns,
        best(|storm| storm.query_ns) / ours.query_ns,
        best(|storm| storm.bytes_per_contact) / ours.bytes_per_contact,
    );
}

/// The hostile room's size: occupants, the programs they run, and per program the silent
/// occupants (queried first) and forgers (queried next) among them.
const ROOM_OCCUPANTS: usize = 1_000;
const ROOM_PROGRAMS: usize = 20;
const ROOM_SILENT: [usize; 2] = [1, 20];
const ROOM_FORGERS: usize = 1;

/// A forged twin of program `k`'s answer: its last two features joined by a `<`, which
/// XEP-0115's string cannot tell from two features. Checked to hash alike.
fn program_twin(k: usize) -> String {
    let body = program_body(k);
    let (last, before) = (format!("urn:bench:{k}:9"), format!("urn:bench:{k}:8"));
    let twin = body
        .replace(&format!("<feature var='{last}'/>"), "")
        .replace(
            &format!("<feature var='{before}'/>"),
            &format!("<feature var='{before}&lt;{last}'/>"),
        );
    assert_eq!(caps_ver(&twin), caps_ver(&body), "a twin of program {k}");
    twin
}

/// A MUC join where every program has `silent` occupants that never answer and a forger, asked
/// about first:
/// every occupant is asked about at once, requests answered at once (the silent ones never),
/// time advanced in steps of 250 ms. Every honest occupant must get its program's true answer.
/// A thousand queries at once need as many requests in flight (the default allows 256).
fn hostile_room(now: Instant, silent_per_program: usize) {
    let bodies: Vec<String> = (0..ROOM_PROGRAMS).map(program_body).collect();
    let twins: Vec<String> = (0..ROOM_PROGRAMS).map(program_twin).collect();
    let vers: Vec<String> = bodies.iter().map(|body| caps_ver(body)).collect();
    // Occupant n runs program n % ROOM_PROGRAMS; the first `silent_per_program` of each program
    // stay silent, the next ROOM_FORGERS forge.
    let role = |n: usize| n / ROOM_PROGRAMS;
    let silent = |n: usize| role(n) < silent_per_program;
    let forger =
        |n: usize| (silent_per_program..silent_per_program + ROOM_FORGERS).contains(&role(n));
    let occupants: Vec<Jid> = (0..ROOM_OCCUPANTS)
        .map(|n| Jid::new(&format!("room@muc.bench.example/occupant{n}")).expect("JID"))
        .collect();
    let mut config = Config::default();
    config.max_in_flight = ROOM_OCCUPANTS;
    let mut machine = DiscoMachine::new(config);
    let start = Instant::now();
    for (n, occupant) in occupants.iter().enumerate() {
        let presence: Element = format!(
            "<presence xmlns='jabber:client' from='{occupant}'>             <c xmlns='http://jabber.org/protocol/caps' hash='sha-1'              node='https://bench.example/{}' ver='{}'/></presence>",
            n % ROOM_PROGRAMS,
            vers[n % ROOM_PROGRAMS]
        )
        .parse()
        .expect("a presence");
        machine.observe_presence_element(now, &presence);
    }
    let mut about = HashMap::new();
    for (n, occupant) in occupants.iter().enumerate() {
        let id = machine
            .query_info(now, occupant, None, QueryOptions::default())
            .expect("a query");
        about.insert(id, n);
    }
    let mut iqs = [0usize; ROOM_PROGRAMS];
    let (mut honest_done, mut last_honest) = (0, Duration::ZERO);
    let mut network = Duration::ZERO;
    for step in 0..=160u32 {
        let at = now + Duration::from_millis(250) * step;
        machine.handle_timeout(at);
        while let Some(transmit) = machine.poll_transmit() {
            let answering = Instant::now();
            let request = transmit.into_element();
            let to = request.attr("to").unwrap_or_default();
            let n: usize = to
                .rsplit("occupant")
                .next()
                .and_then(|n| n.parse().ok())
                .expect("an occupant");
            iqs[n % ROOM_PROGRAMS] += 1;
            let body = if silent(n) {
                continue;
            } else if forger(n) {
                &twins[n % ROOM_PROGRAMS]
            } else {
                &bodies[n % ROOM_PROGRAMS]
            };
            let node = request
                .get_child("query", INFO)
                .and_then(|query| query.attr("node"))
                .map(|node| format!(" node='{node}'"))
                .unwrap_or_default();
            let reply: Element = format!(
                "<iq xmlns='jabber:client' type='result' id='{}' from='{to}'>                 <query xmlns='{INFO}'{node}>{body}</query></iq>",
                request.attr("id").unwrap_or_default()
            )
            .parse()
            .expect("a reply");
            network += answering.elapsed();
            let _ = machine.handle_stanza(at, reply);
        }
        while let Some(event) = machine.poll_event() {
            let Event::Info { id, result } = event else {
                continue;
            };
            let n = about[&id];
            if !silent(n) && !forger(n) {
                let info = result.expect("an honest occupant gets an answer");
                assert!(
                    info.features
                        .contains(&format!("urn:bench:{}:9", n % ROOM_PROGRAMS)),
                    "occupant {n} got a forged answer"
                );
                honest_done += 1;
                last_honest = Duration::from_millis(250) * step;
            }
        }
    }
    let cpu = start.elapsed() - network;
    let honest = ROOM_OCCUPANTS - (silent_per_program + ROOM_FORGERS) * ROOM_PROGRAMS;
    assert_eq!(honest_done, honest, "every honest occupant answered");
    let stats = machine.stats();
    println!(
        "
hostile room: {ROOM_OCCUPANTS} occupants running {ROOM_PROGRAMS} programs, each with \
         {silent_per_program} silent occupants and {ROOM_FORGERS} forger asked about first"
    );
    println!(
        "  {honest}/{honest} honest occupants got their program's true answer, the last after \
         {:.2} s (simulated; the verification timeout is {} s)\n  {} IQs in all, {}..={} per \
         program of {} occupants; {} forged answers not shared; {:.0} ns of machine time per \
         occupant",
        last_honest.as_secs_f64(),
        Config::default().caps_verification_timeout.as_secs(),
        stats.requests_sent,
        iqs.iter().min().unwrap_or(&0),
        iqs.iter().max().unwrap_or(&0),
        ROOM_OCCUPANTS / ROOM_PROGRAMS,
        stats.caps_unshareable,
        cpu.as_nanos() as f64 / ROOM_OCCUPANTS as f64,
    );
}

/// A group of workloads: appends its rows; the scale groups run at the scales given.
type Group = fn(&mut Vec<Row>, Instant, &[usize]);

/// Pending queries and cached entries the scale groups run at.
const SCALES: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];

fn main() {
    // `cargo bench` passes `--bench`. Other arguments select, for profiling: group names
    // (responder, requester, timers, cache, entities, pages, questions, caps) and scales (`cargo bench --bench disco -- timers 1000000`).
    let arguments: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let mut scales: Vec<usize> = arguments.iter().filter_map(|a| a.parse().ok()).collect();
    if scales.is_empty() {
        scales = SCALES.to_vec();
    }
    let groups: Vec<&String> = arguments
        .iter()
        .filter(|a| a.parse::<usize>().is_err())
        .collect();
    let wanted = |group: &str| groups.is_empty() || groups.iter().any(|g| *g == group);
    let now = Instant::now();
    let mut rows = Vec::new();
    let all: [(&str, Group); 8] = [
        ("responder", responder),
        ("requester", requester),
        ("timers", timers),
        ("cache", cache),
        ("entities", entities),
        ("pages", pages),
        ("questions", questions),
        ("caps", caps),
    ];
    for (group, run) in all {
        if wanted(group) {
            run(&mut rows, now, &scales);
        }
    }
    println!();
    print(&rows);
    // What every event in the host's queue and every failed completion costs in memory.
    println!(
        "\nsizes: Event {} bytes, QueryError {} bytes",
        std::mem::size_of::<Event>(),
        std::mem::size_of::<xmpp_disco::QueryError>()
    );
}
