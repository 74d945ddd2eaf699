//! A machine with something of everything in it (requests in flight, one asked from another
//! address, primed entries, static, dynamic and deferred nodes, a registered entity, a resolver,
//! a policy), for feeding hostile stanzas to. The body of the `stanza` fuzz target: nothing a
//! stanza says may make it panic, hang or grow without bound.
//!
//! The requests in flight, so that seeds can answer them (`id` / `to`):
//! `disco-0` info `capulet.example`, `disco-1` items `capulet.example`,
//! `disco-2` info `juliet@capulet.example` (own account: may be answered without `from`),
//! `disco-3` info `pubsub.capulet.example` node `princely_musings`,
//! `disco-4` items `romeo@montague.example/orchard` node `music`,
//! `disco-5` info `capulet.example` asked from `balcony@rooms.capulet.example`.
//!
//! Addresses answered: the own one, the entity `balcony@rooms.capulet.example` (its root and a
//! deferred node `later`), and, through the resolver, any other address at
//! `rooms.capulet.example`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use xmpp_disco::xmpp_parsers::disco::{DiscoInfoResult, DiscoItemsResult, Identity, Item};
use xmpp_disco::xmpp_parsers::iq::Iq;
use xmpp_disco::xmpp_parsers::jid::Jid;
use xmpp_disco::xmpp_parsers::minidom::Element;
use xmpp_disco::xmpp_parsers::presence::Presence;
use xmpp_disco::xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};
use xmpp_disco::{
    Config, DiscoMachine, DynamicNode, Entity, Event, Node, QueryKind, QueryOptions,
    RequestContext, Resolver, ResponseError, StaticNode,
};

use super::forms::element_of;

/// The in-flight requests of [`machine`]: (kind is items, JID, node).
pub const IN_FLIGHT: &[(bool, &str, Option<&str>)] = &[
    (false, "capulet.example", None),
    (true, "capulet.example", None),
    (false, "juliet@capulet.example", None),
    (false, "pubsub.capulet.example", Some("princely_musings")),
    (true, "romeo@montague.example/orchard", Some("music")),
];

/// The registered entity, which also asks one query of its own.
const BALCONY: &str = "balcony@rooms.capulet.example";

/// Answers for every address at `rooms.capulet.example`, naming it by the address asked.
struct Rooms;

impl DynamicNode for Rooms {
    fn info(&self, request: &RequestContext<'_>) -> Option<DiscoInfoResult> {
        let to = request.to?;
        (to.domain().as_str() == "rooms.capulet.example").then(|| info(to.as_str()))
    }

    fn items(&self, request: &RequestContext<'_>) -> Option<Vec<Item>> {
        let to = request.to?;
        (to.domain().as_str() == "rooms.capulet.example" && request.node.is_none()).then(Vec::new)
    }
}

struct Echo;

impl DynamicNode for Echo {
    fn info(&self, request: &RequestContext<'_>) -> Option<DiscoInfoResult> {
        let from = request.from?;
        Some(DiscoInfoResult {
            node: None,
            identities: vec![Identity::new(
                "client",
                "pc",
                request.lang.unwrap_or("en"),
                from.as_str(),
            )],
            features: Default::default(),
            extensions: vec![],
        })
    }

    fn items(&self, request: &RequestContext<'_>) -> Option<Vec<Item>> {
        Some(
            request
                .from
                .into_iter()
                .map(|jid| Item {
                    jid: jid.clone(),
                    node: None,
                    name: None,
                })
                .collect(),
        )
    }
}

fn jid(s: &str) -> Jid {
    Jid::new(s).expect("fixture JID")
}

/// The fixture machine, everything in place, nothing queued.
pub fn machine(base: Instant) -> DiscoMachine {
    machine_stamping(base, false)
}

/// The fixture machine; with `stamp_from`, as a component that writes its own `from`.
fn machine_stamping(base: Instant, stamp_from: bool) -> DiscoMachine {
    let mut config = Config::default();
    config.own_jid = Some(jid("juliet@capulet.example/balcony"));
    config.stamp_from = stamp_from;
    config.max_deferred = 4;
    let mut machine = DiscoMachine::new(config);
    for (items, to, node) in IN_FLIGHT {
        let to = jid(to);
        let result = if *items {
            machine.query_items(base, &to, *node, QueryOptions::default())
        } else {
            machine.query_info(base, &to, *node, QueryOptions::default())
        };
        result.expect("fixture query");
    }
    // The same question as the first, asked from the entity: a request of its own.
    machine
        .query_info(
            base,
            &jid(IN_FLIGHT[0].1),
            None,
            QueryOptions::default().with_from(jid(BALCONY)),
        )
        .expect("fixture query");
    // Two more waiters on the first request, with different deadlines.
    let first = jid(IN_FLIGHT[0].1);
    for seconds in [1, 90] {
        let options = QueryOptions::default().with_timeout(Duration::from_secs(seconds));
        machine
            .query_info(base, &first, None, options)
            .expect("fixture query");
    }
    let _ = machine.prime_info_pending(&jid("nurse@capulet.example/kitchen"), Some("caps#1"));
    let lazy = machine.prime_info_lazy(&jid("tybalt@capulet.example/street"), None);
    let failed = machine.prime_info_pending(&jid("benvolio@montague.example/square"), None);
    if let Ok(failed) = failed {
        machine.fail_prime(failed, "hash mismatch");
    }
    let _ = lazy;
    let mut music = StaticNode::new();
    music
        .register_identity(
            "hierarchy",
            "branch",
            [(Some("en"), "Music"), (Some("de"), "Musik")],
        )
        .expect("fixture");
    music
        .register_feature("urn:example:music")
        .expect("fixture");
    music
        .set_items(vec![Item {
            jid: jid("juliet@capulet.example/balcony"),
            node: Some("music/1".into()),
            name: Some("One".into()),
        }])
        .expect("fixture");
    let _ = machine.mount("music", music);
    let _ = machine.mount("echo", Node::dynamic(Echo));
    let _ = machine.mount("broken", Node::dynamic(Broken));
    let _ = machine.mount("later", Node::Deferred);
    let mut balcony = StaticNode::new();
    balcony
        .register_identity("conference", "text", "The balcony")
        .expect("fixture");
    machine.add_entity(jid(BALCONY), Entity::new(balcony));
    if let Some(mut entity) = machine.entity_mut(&jid(BALCONY)) {
        let _ = entity.mount("later", Node::Deferred);
    }
    machine.set_resolver(Resolver::dynamic(Rooms));
    machine.set_policy(|request| {
        request
            .from
            .is_none_or(|from| from.domain().as_str() != "evil.example")
    });
    while machine.poll_transmit().is_some() {}
    while machine.poll_event().is_some() {}
    machine
}

/// An info answer whose identity is named `name`.
fn info(name: &str) -> DiscoInfoResult {
    DiscoInfoResult {
        node: None,
        identities: vec![Identity::new("client", "pc", "en", name)],
        features: Default::default(),
        extensions: vec![],
    }
}

/// An item XML cannot carry.
fn bad_item() -> Item {
    Item {
        jid: jid("capulet.example"),
        node: Some("\u{fffe}".into()),
        name: None,
    }
}

/// A dynamic node whose host wrote text XML cannot carry: its requesters get
/// `internal-server-error` and the host an [`Event::InvalidAnswer`].
struct Broken;

impl DynamicNode for Broken {
    fn info(&self, _: &RequestContext<'_>) -> Option<DiscoInfoResult> {
        Some(info("broken\u{0}"))
    }

    fn items(&self, _: &RequestContext<'_>) -> Option<Vec<Item>> {
        Some(vec![bad_item()])
    }
}

/// Drains the machine, answering deferred requests (every other one with an error, and every
/// third first with text XML cannot carry, which must be refused), and returns the stanzas sent,
/// each taken as element, typed IQ and bytes, and the events that came out.
fn drain(machine: &mut DiscoMachine) -> (Vec<Element>, Vec<Event>) {
    let mut transmits = Vec::new();
    let mut events = Vec::new();
    loop {
        let mut progressed = false;
        while let Some(transmit) = machine.poll_transmit() {
            transmits.push(element_of(transmit));
            progressed = true;
        }
        while let Some(event) = machine.poll_event() {
            progressed = true;
            let deferred = match &event {
                Event::DeferredRequest { handle, request } => Some((*handle, request.kind)),
                _ => None,
            };
            events.push(event);
            if let Some((handle, kind)) = deferred {
                if events.len() % 3 == 0 {
                    let refused = match kind {
                        QueryKind::Info => machine.respond_info(handle, info("bad\u{1}")),
                        QueryKind::Items => machine.respond_items(handle, vec![bad_item()]),
                    };
                    assert!(
                        matches!(refused, Err(ResponseError::Text { .. })),
                        "{refused:?}"
                    );
                }
                let answered = if events.len() % 2 == 0 {
                    machine.respond_error(
                        handle,
                        StanzaError::new(
                            ErrorType::Wait,
                            DefinedCondition::ResourceConstraint,
                            "en",
                            "later",
                        ),
                    )
                } else if kind == QueryKind::Info {
                    machine.respond_info(
                        handle,
                        DiscoInfoResult {
                            node: None,
                            identities: vec![],
                            features: Default::default(),
                            extensions: vec![],
                        },
                    )
                } else {
                    machine.respond_items(handle, vec![])
                };
                assert!(answered.is_ok(), "a fresh deferred request can be answered");
            }
        }
        if !progressed {
            return (transmits, events);
        }
    }
}

/// A result the machine read from `stanza` is what xmpp-parsers reads from its payload (the
/// machine reads the usual shapes itself, and must not differ).
fn results_are_xmpp_parsers(stanza: &Element, events: &[Event]) {
    let payload = || {
        stanza
            .children()
            .next()
            .cloned()
            .expect("a result has its payload")
    };
    for event in events {
        match event {
            Event::Info {
                result: Ok(info), ..
            } => {
                let reference =
                    DiscoInfoResult::try_from(payload()).expect("xmpp-parsers reads it");
                assert_eq!(format!("{info:?}"), format!("{:?}", Arc::new(reference)));
            }
            Event::Items {
                result: Ok(items), ..
            } => {
                let reference =
                    DiscoItemsResult::try_from(payload()).expect("xmpp-parsers reads it");
                assert_eq!(**items, reference);
            }
            _ => {}
        }
    }
}

/// Feeds `data`, read as XML, to the fixture machine (as an element, and as a typed IQ when it
/// is one, which must give the same answers, events and stats), then advances time past every
/// deadline. Panics on any broken bound.
/// Two machines given one input in its two forms (`what`) sent the same, reported the same and
/// counted the same.
fn assert_twins(typed: &mut DiscoMachine, plain: &mut DiscoMachine, what: &str) {
    let typed_out = drain(typed);
    let plain_out = drain(plain);
    assert_eq!(typed_out.0, plain_out.0, "sent after {what}");
    assert_eq!(
        format!("{:?}", typed_out.1),
        format!("{:?}", plain_out.1),
        "events after {what}"
    );
    assert_eq!(typed.stats(), plain.stats(), "stats after {what}");
}

pub fn feed(data: &[u8]) {
    let Ok(stanza) = Element::from_reader(data) else {
        return;
    };
    let base = Instant::now();
    // Inputs of odd length run the machine as a component, which stamps `from` on what it sends.
    let stamp_from = data.len() % 2 == 1;
    let fixture = || machine_stamping(base, stamp_from);
    let mut machine = fixture();

    let handled = machine.handle_stanza(base, stanza.clone());
    if let Some(back) = handled.into_unhandled() {
        assert_eq!(back, stanza, "a stanza handed back is untouched");
    }
    let (transmits, events) = drain(&mut machine);
    // One stanza in: at most one answer out, and at most one completion per waiter.
    assert!(transmits.len() <= 1, "{transmits:?} sent for one received");
    assert!(
        events.len() <= IN_FLIGHT.len() + 1 + 2 + 2,
        "{events:?} for one stanza"
    );
    results_are_xmpp_parsers(&stanza, &events);

    // The same stanza handed over typed takes the same path to the same outcome. The twin gets
    // the element the typed IQ stands for: xmpp-parsers' conversion is lossy (it keeps the first
    // of two payloads, drops text and `xml:lang`), and the two forms must agree on one stanza.
    if let Ok(iq) = Iq::try_from(stanza.clone()) {
        let mut typed = fixture();
        let typed_handled = typed.handle_iq(base, iq.clone());
        let mut plain = fixture();
        let plain_handled = plain.handle_stanza(base, Element::from(iq.clone()));
        assert_eq!(
            typed_handled.is_consumed(),
            plain_handled.is_consumed(),
            "consumed as typed IQ and as element"
        );
        if let Some(back) = typed_handled.into_unhandled() {
            assert_eq!(back, iq, "a typed IQ handed back is untouched");
        }
        assert_twins(&mut typed, &mut plain, "the typed IQ and the element");
    }

    // The same bytes shown as a presence and as stream features: read for capabilities, never
    // consumed. A presence read typed and as an element claims alike: a root query of its
    // sender afterwards sends the same request, or completes alike.
    machine.observe_presence_element(base, &stanza);
    let server = Jid::new("example.org").expect("a JID");
    machine.observe_stream_features(base, &server, stanza.children());
    if let Ok(presence) = Presence::try_from(stanza.clone()) {
        let mut typed = fixture();
        typed.observe_presence(base, &presence);
        let mut plain = fixture();
        plain.observe_presence_element(base, &stanza);
        if let Some(from) = &presence.from {
            let options = QueryOptions::default();
            let asked = (
                typed.query_info(base, from, None, options.clone()).is_ok(),
                plain.query_info(base, from, None, options).is_ok(),
            );
            assert_eq!(asked.0, asked.1);
        }
        assert_twins(&mut typed, &mut plain, "a typed and an element presence");
    }

    // Time passes: every deadline fires, and then nothing is left to wake up for.
    let mut wakeups = 0;
    while let Some(deadline) = machine.poll_timeout() {
        machine.handle_timeout(deadline);
        wakeups += 1;
        assert!(wakeups <= 16, "the machine keeps asking to be woken");
    }
    drain(&mut machine);
    machine.stream_destroyed();
    drain(&mut machine);
    assert_eq!(machine.poll_timeout(), None);
}
