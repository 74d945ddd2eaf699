//! Interop against software nobody here wrote: a real Prosody server and the slixmpp client.
//!
//! These tests need the server `tests/interop/run.sh` installs and starts; they are ignored by
//! a plain `cargo test` (which says why) and run by that script with `--ignored`, which is what
//! `.ci/run` does. Run by hand without the server, they fail with a message saying so.

#[path = "interop/proxy.rs"]
mod proxy;
#[path = "client/schedule.rs"]
mod schedule;

use std::collections::BTreeSet;
use std::future::Future;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use proxy::Proxy;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_xmpp::Stanza;
use xmpp_disco::caps::CapsStore;
use xmpp_disco::client::{
    AskError, Disco, Incoming, Login, LoginError, Server, SessionEnd, SessionEvent,
};
use xmpp_disco::xmpp_parsers::disco::{
    DiscoInfoQuery, DiscoInfoResult, DiscoItemsResult, Identity, Item,
};
use xmpp_disco::xmpp_parsers::iq::Iq;
use xmpp_disco::xmpp_parsers::jid::{BareJid, Jid};
use xmpp_disco::xmpp_parsers::presence::{Presence, Type as PresenceType};
use xmpp_disco::xmpp_parsers::stanza_error::DefinedCondition;
use xmpp_disco::xmpp_parsers::version::VersionQuery;
use xmpp_disco::{Event, Node, QueryError, QueryKind, QueryOptions, StaticNode};

const NEEDS_SERVER: &str = "needs the Prosody that tests/interop/run.sh starts";
/// Bound on every test, whatever it waits for.
const TEST_LIMIT: Duration = Duration::from_secs(60);

const INFO: &str = "http://jabber.org/protocol/disco#info";
const ITEMS: &str = "http://jabber.org/protocol/disco#items";
const MOUNTED: &str = "urn:xmpp-disco:test:mounted";
const DEFERRED: &str = "urn:xmpp-disco:test:deferred";

fn server_address() -> String {
    std::env::var("XMPP_DISCO_SERVER").unwrap_or_else(|_| {
        panic!("XMPP_DISCO_SERVER is not set: these tests {NEEDS_SERVER} (run that script)")
    })
}

/// The ejabberd `tests/interop/run.sh` starts beside Prosody (it resumes streams: XEP-0198).
fn ejabberd_address() -> String {
    std::env::var("XMPP_DISCO_EJABBERD").unwrap_or_else(|_| {
        panic!("XMPP_DISCO_EJABBERD is not set: this test needs the ejabberd that tests/interop/run.sh starts")
    })
}

/// A login as `user@localhost` (password `secret`) to the server at `address` (`HOST:PORT`).
fn login_to(address: &str, user: &str) -> Login {
    let (host, port) = address.rsplit_once(':').expect("HOST:PORT");
    Login::new(
        BareJid::new(&format!("{user}@localhost")).expect("a valid JID"),
        "secret",
    )
    .server(Server::Plaintext {
        host: host.into(),
        port: port.parse().expect("a port"),
    })
    .timeout(Duration::from_secs(10))
}

async fn connect(login: Login) -> (Disco, Incoming) {
    login
        .connect()
        .await
        .unwrap_or_else(|e| panic!("the login failed: {e}"))
}

/// `user` online on Prosody; its host side ignores everything but refuses what it must.
async fn online(user: &str) -> Disco {
    let (disco, incoming) = connect(login_to(&server_address(), user)).await;
    tokio::spawn(host(disco.clone(), incoming));
    disco
}

/// The smallest correct host: answers deferred requests the way Bob publishes them, refuses
/// the IQs it does not handle, and ignores the rest.
async fn host(disco: Disco, mut incoming: Incoming) {
    while let Some(event) = incoming.next().await {
        match event {
            SessionEvent::Stanza(Stanza::Iq(iq)) => disco.refuse(iq),
            SessionEvent::Disco(Event::DeferredRequest { handle, request }) => {
                let answered = disco.with_machine(|machine| match request.kind {
                    QueryKind::Info => machine.respond_info(handle, deferred_answer(request.node)),
                    QueryKind::Items => machine.respond_items(handle, Vec::new()),
                });
                answered.expect("a live handle");
            }
            _ => {}
        }
    }
}

fn deferred_answer(node: Option<String>) -> DiscoInfoResult {
    DiscoInfoResult {
        node,
        identities: vec![Identity::new("hierarchy", "leaf", "en", "Answered later")],
        features: BTreeSet::from(["urn:xmpp:test:deferred".to_owned()]),
        extensions: Vec::new(),
    }
}

fn jid(text: &str) -> Jid {
    Jid::new(text).expect("a valid JID")
}

/// Runs `test` on one thread, failing it if it takes longer than [`TEST_LIMIT`].
fn bounded(test: impl Future<Output = ()>) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(async {
            tokio::time::timeout(TEST_LIMIT, test)
                .await
                .expect("the test finished in time");
        });
}

fn condition<T: std::fmt::Debug>(result: Result<T, AskError>) -> DefinedCondition {
    match result {
        Err(AskError::Failed(QueryError::Stanza(error))) => error.defined_condition.clone(),
        other => panic!("expected a stanza error, got {other:?}"),
    }
}

async fn info(disco: &Disco, jid: &Jid, node: Option<&str>) -> Arc<DiscoInfoResult> {
    disco
        .query_info(jid, node, QueryOptions::default())
        .await
        .unwrap_or_else(|e| panic!("no info from {jid} at {node:?}: {e}"))
}

async fn items(disco: &Disco, jid: &Jid, node: Option<&str>) -> Arc<DiscoItemsResult> {
    disco
        .query_items(jid, node, QueryOptions::default())
        .await
        .unwrap_or_else(|e| panic!("no items from {jid} at {node:?}: {e}"))
}

#[test]
#[ignore = "needs the Prosody that tests/interop/run.sh starts"]
fn server_info_and_items() {
    bounded(async {
        let alice = online("alice").await;
        let server = alice.server();
        let info = info(&alice, &server, None).await;
        assert!(
            info.identities
                .iter()
                .any(|i| i.category == "server" && i.type_ == "im"),
            "{:?}",
            info.identities
        );
        for feature in [INFO, ITEMS, "urn:xmpp:ping", "jabber:iq:version"] {
            assert!(
                info.features.contains(feature),
                "{feature} in {:?}",
                info.features
            );
        }
        let serverinfo = info
            .extensions
            .iter()
            .find(|form| form.form_type() == Some("http://jabber.org/network/serverinfo"))
            .expect("contact_info gives a serverinfo form");
        let admins = serverinfo
            .fields
            .iter()
            .find(|field| field.var.as_deref() == Some("admin-addresses"))
            .expect("an admin-addresses field");
        assert!(admins.values.contains(&"xmpp:admin@localhost".to_owned()));
        assert!(admins.values.contains(&"mailto:admin@localhost".to_owned()));

        let items = items(&alice, &server, None).await;
        let conference = items
            .items
            .iter()
            .find(|item| item.jid == jid("conference.localhost"))
            .expect("the MUC component is listed");
        assert_eq!(conference.name.as_deref(), Some("Chatrooms"));
        let muc = self::info(&alice, &conference.jid, None).await;
        assert!(muc.features.contains("http://jabber.org/protocol/muc"));
        alice.close().await.expect("what was accepted went out");
    });
}

#[test]
#[ignore = "needs the Prosody that tests/interop/run.sh starts"]
fn a_cached_answer_sends_nothing() {
    bounded(async {
        let alice = online("alice").await;
        // Prosody announces its caps in its stream features: its root comes from the hash
        // cache the second time, a service's info from the answer cache.
        let server = alice.server();
        let muc = jid("conference.localhost");
        let first = info(&alice, &server, None).await;
        let first_muc = info(&alice, &muc, None).await;
        let sent = alice.stats().requests_sent;
        let again = info(&alice, &server, None).await;
        let again_muc = info(&alice, &muc, None).await;
        assert_eq!(alice.stats().requests_sent, sent, "nothing was sent");
        assert_eq!(alice.stats().caps_hits, 1);
        assert_eq!(alice.stats().cache_hits, 1);
        assert!(Arc::ptr_eq(&first, &again), "the same answer, not a copy");
        assert!(
            Arc::ptr_eq(&first_muc, &again_muc),
            "the same answer, not a copy"
        );
        alice.close().await.expect("what was accepted went out");
    });
}

#[test]
#[ignore = "needs the Prosody that tests/interop/run.sh starts"]
fn concurrent_queries_share_one_iq() {
    bounded(async {
        let alice = online("alice").await;
        let server = alice.server();
        // Five queries from five tasks, all started before any answer can arrive.
        let tasks: Vec<_> = (0..5)
            .map(|_| {
                let alice = alice.clone();
                let server = server.clone();
                tokio::spawn(async move {
                    alice
                        .query_items(&server, None, QueryOptions::default())
                        .await
                })
            })
            .collect();
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.expect("the task ran").expect("items"));
        }
        let stats = alice.stats();
        assert_eq!(stats.requests_sent, 1, "one IQ for five queries");
        assert_eq!(stats.aliased, 4);
        assert!(answers.iter().all(|a| Arc::ptr_eq(a, &answers[0])));
        alice.close().await.expect("what was accepted went out");
    });
}

#[test]
#[ignore = "needs the Prosody that tests/interop/run.sh starts"]
fn errors_arrive_typed_and_are_not_cached() {
    bounded(async {
        let alice = online("alice").await;
        let server = alice.server();
        let ask = QueryOptions::default;
        let unknown = alice.query_info(&server, Some("no-such-node"), ask()).await;
        assert_eq!(condition(unknown), DefinedCondition::ItemNotFound);

        let offline = jid("bob@localhost/not-connected");
        let result = alice.query_info(&offline, None, ask()).await;
        assert_eq!(condition(result), DefinedCondition::ServiceUnavailable);
        // Failures are never cached: asking again asks the network again.
        let sent = alice.stats().requests_sent;
        let result = alice.query_info(&offline, None, ask()).await;
        assert_eq!(condition(result), DefinedCondition::ServiceUnavailable);
        assert_eq!(alice.stats().requests_sent, sent + 1);

        // A node the machine cannot ask for is refused at the call, nothing sent.
        let refused = alice.query_info(&server, Some(""), ask()).await;
        assert!(matches!(refused, Err(AskError::Invalid(_))), "{refused:?}");
        alice.close().await.expect("what was accepted went out");
    });
}

/// Bob's responder: a bot at the root, a mounted static node with items, a deferred node
/// (answered by [`host`]).
fn publish_bob(bob: &Disco) {
    let me = Jid::from(bob.jid());
    bob.with_machine(|machine| {
        let mut root = machine.root_mut();
        root.set_identity_names(
            "client",
            "bot",
            [(Some("en"), "Bob"), (Some("de"), "Robert")],
        )
        .expect("the default identity");
        root.register_feature("urn:xmpp:test:root-feature")
            .expect("a new feature");
        root.set_items(vec![
            Item {
                jid: me.clone(),
                node: Some(MOUNTED.into()),
                name: Some("Mounted".into()),
            },
            Item {
                jid: me.clone(),
                node: Some(DEFERRED.into()),
                name: None,
            },
        ])
        .expect("valid items");
        drop(root);
        let mut node = StaticNode::new();
        node.register_identity("hierarchy", "branch", [(None::<&str>, "Mounted node")])
            .expect("an identity");
        node.register_feature("urn:xmpp:test:node-feature")
            .expect("a feature");
        node.set_items(vec![Item {
            jid: jid("localhost"),
            node: None,
            name: Some("The server".into()),
        }])
        .expect("a valid item");
        machine.mount(MOUNTED, node).expect("a valid name");
        machine
            .mount(DEFERRED, Node::Deferred)
            .expect("a valid name");
    });
}

#[test]
#[ignore = "needs the Prosody that tests/interop/run.sh starts"]
fn one_client_asks_another_whose_machine_answers() {
    bounded(async {
        let bob = online("bob").await;
        publish_bob(&bob);
        let bob_jid = Jid::from(bob.jid());
        let alice = online("alice").await;

        let root = info(&alice, &bob_jid, None).await;
        let names: BTreeSet<_> = root
            .identities
            .iter()
            .map(|i| {
                (
                    i.category.as_str(),
                    i.type_.as_str(),
                    i.lang.as_deref(),
                    i.name.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            names,
            BTreeSet::from([
                ("client", "bot", Some("de"), Some("Robert")),
                ("client", "bot", Some("en"), Some("Bob")),
            ])
        );
        assert!(root.features.contains(INFO));
        assert!(root.features.contains("urn:xmpp:test:root-feature"));
        assert_eq!(root.node, None);

        let listed = items(&alice, &bob_jid, None).await;
        let nodes: Vec<_> = listed.items.iter().map(|i| i.node.as_deref()).collect();
        assert_eq!(nodes, [Some(MOUNTED), Some(DEFERRED)]);

        // The mounted node: its own answer, with the node attribute mirrored.
        let mounted = info(&alice, &bob_jid, Some(MOUNTED)).await;
        assert_eq!(mounted.node.as_deref(), Some(MOUNTED));
        assert!(mounted.features.contains("urn:xmpp:test:node-feature"));
        assert!(!mounted.features.contains("urn:xmpp:test:root-feature"));
        let mounted_items = items(&alice, &bob_jid, Some(MOUNTED)).await;
        assert_eq!(mounted_items.node.as_deref(), Some(MOUNTED));
        assert_eq!(mounted_items.items[0].jid, jid("localhost"));

        // The deferred node: answered by Bob's host code when asked.
        let deferred = info(&alice, &bob_jid, Some(DEFERRED)).await;
        assert_eq!(deferred.node.as_deref(), Some(DEFERRED));
        assert_eq!(
            deferred.identities[0].name.as_deref(),
            Some("Answered later")
        );

        // An unknown node on a client: item-not-found, from Bob's machine.
        let unknown = alice
            .query_info(
                &bob_jid,
                Some("urn:xmpp-disco:test:missing"),
                QueryOptions::default(),
            )
            .await;
        assert_eq!(condition(unknown), DefinedCondition::ItemNotFound);

        let stats = bob.stats();
        assert_eq!(stats.requests_answered, 5, "{stats:?}");
        assert_eq!(stats.requests_refused, 1, "{stats:?}");
        alice.close().await.expect("what was accepted went out");
        bob.close().await.expect("what was accepted went out");
    });
}

#[test]
#[ignore = "needs the Prosody that tests/interop/run.sh starts"]
fn a_burst_of_requests_past_the_backlog_limit_is_answered_in_full() {
    bounded(async {
        // Bob lets one stanza wait to be sent: every request of a burst that comes before
        // the server took the answer to the one before waits for room.
        let login = login_to(&server_address(), "bob").backlog_limit(1);
        let (bob, bob_incoming) = connect(login).await;
        tokio::spawn(host(bob.clone(), bob_incoming));
        let bob_jid = Jid::from(bob.jid());
        let (alice, mut incoming) = connect(login_to(&server_address(), "alice")).await;
        const BURST: usize = 16;
        for n in 0..BURST {
            let request = Iq::from_get(format!("burst-{n}"), DiscoInfoQuery { node: None })
                .with_to(bob_jid.clone());
            alice.send(request).expect("alice online");
        }
        let mut answered = BTreeSet::new();
        let collecting = async {
            while answered.len() < BURST {
                match incoming.next().await.expect("alice online") {
                    SessionEvent::Stanza(Stanza::Iq(Iq::Result { id, .. }))
                        if id.starts_with("burst-") =>
                    {
                        answered.insert(id);
                    }
                    SessionEvent::Stanza(Stanza::Iq(iq)) => panic!("not an answer: {iq:?}"),
                    _ => {}
                }
            }
        };
        let all = tokio::time::timeout(Duration::from_secs(10), collecting).await;
        let stats = bob.stats();
        assert!(
            all.is_ok(),
            "{} of {BURST} requests answered: {stats:?}",
            answered.len()
        );
        assert_eq!(
            (stats.requests_shed, stats.requests_waiting),
            (0, 0),
            "{stats:?}"
        );
        alice.close().await.expect("what was accepted went out");
        bob.close().await.expect("what was accepted went out");
    });
}

/// Sends Bob an IQ that is not disco from Alice and returns the error Alice receives.
async fn ask_version(alice: &Disco, incoming: &mut Incoming, bob: &Jid) -> Iq {
    let request = Iq::from_get("version-1", VersionQuery).with_to(bob.clone());
    alice.send(request).expect("alice online");
    loop {
        match incoming.next().await.expect("alice online") {
            SessionEvent::Stanza(Stanza::Iq(iq)) if iq.id() == "version-1" => return iq,
            _ => {}
        }
    }
}

#[test]
#[ignore = "needs the Prosody that tests/interop/run.sh starts"]
fn requests_that_are_not_disco_are_handed_back_and_refused_without_text() {
    bounded(async {
        let (alice, mut alice_incoming) = connect(login_to(&server_address(), "alice")).await;
        let (bob, mut bob_incoming) = connect(login_to(&server_address(), "bob")).await;
        let bob_jid = Jid::from(bob.jid());

        // Bob's host gets the version request (not the machine's) and refuses it.
        let refuse = tokio::spawn(async move {
            loop {
                match bob_incoming.next().await {
                    Some(SessionEvent::Stanza(Stanza::Iq(iq))) => {
                        bob.refuse(iq);
                        return (bob, bob_incoming);
                    }
                    Some(_) => {}
                    None => panic!("bob's session ended"),
                }
            }
        });
        let reply = ask_version(&alice, &mut alice_incoming, &bob_jid).await;
        let (bob, bob_incoming) = refuse.await.expect("bob's host ran");
        let Iq::Error { error, .. } = reply else {
            panic!("expected an error, got {reply:?}");
        };
        assert_eq!(
            error.defined_condition,
            DefinedCondition::ServiceUnavailable
        );
        assert!(error.texts.is_empty(), "no empty <text/>: {error:?}");

        // Nobody reading Bob's side any more: the session refuses by itself.
        drop(bob_incoming);
        let Iq::Error { error, .. } = ask_version(&alice, &mut alice_incoming, &bob_jid).await
        else {
            panic!("expected an error");
        };
        assert_eq!(
            error.defined_condition,
            DefinedCondition::ServiceUnavailable
        );
        assert!(error.texts.is_empty(), "{error:?}");
        alice.close().await.expect("what was accepted went out");
        bob.close().await.expect("what was accepted went out");
    });
}

/// Starts the Python peer `script` (in `tests/interop/`) against the Prosody, with the host
/// and port of the server first among its arguments.
fn python_peer(script: &str, args: &[&str]) -> tokio::process::Child {
    let python = std::env::var("XMPP_DISCO_PYTHON")
        .unwrap_or_else(|_| panic!("XMPP_DISCO_PYTHON is not set: {NEEDS_SERVER}"));
    let server = server_address();
    let (host, port) = server.rsplit_once(':').expect("HOST:PORT");
    let script = format!("{}/tests/interop/{script}", env!("CARGO_MANIFEST_DIR"));
    tokio::process::Command::new(python)
        .arg(script)
        .args([host, port])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python starts")
}

/// Starts the slixmpp peer asking `target`.
fn slixmpp(target: &Jid, node: &str) -> tokio::process::Child {
    let target = target.to_string();
    python_peer(
        "slixmpp_peer.py",
        &["slix@localhost", "secret", &target, node],
    )
}

#[test]
#[ignore = "needs the Prosody that tests/interop/run.sh starts"]
fn slixmpp_and_the_machine_understand_each_other() {
    bounded(async {
        let bob = online("bob").await;
        publish_bob(&bob);
        let bob_jid = Jid::from(bob.jid());
        let mut peer = slixmpp(&bob_jid, MOUNTED);
        let stdout = peer.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();

        // Bob's session answers while slixmpp asks; every line it prints is a fact it parsed.
        let mut facts = Vec::new();
        let mut slix_jid = None;
        loop {
            let line = lines
                .next_line()
                .await
                .expect("readable output")
                .expect("slixmpp printed `asked` before exiting");
            if let Some(full) = line.strip_prefix("online ") {
                slix_jid = Some(jid(full));
            }
            if line == "asked" {
                break;
            }
            facts.push(line);
        }
        for expected in [
            "root-identity client/bot en Bob",
            "root-identity client/bot de Robert",
            "root-feature http://jabber.org/protocol/disco#info",
            "root-feature urn:xmpp:test:root-feature",
            "root-node -",
            &format!("root-item {bob_jid} {MOUNTED} Mounted"),
            &format!("root-item {bob_jid} {DEFERRED} -"),
            "node-identity hierarchy/branch - Mounted node",
            "node-feature urn:xmpp:test:node-feature",
            &format!("node-node {MOUNTED}"),
            "node-item localhost - The server",
        ] {
            assert!(
                facts.iter().any(|f| f == expected),
                "{expected:?} in {facts:#?}"
            );
        }
        assert!(!facts.iter().any(|f| f.starts_with("error")), "{facts:#?}");

        // And the other way round: the machine asks slixmpp's own responder.
        let slix = slix_jid.expect("slixmpp said where it is online");
        let info = info(&bob, &slix, None).await;
        assert!(
            info.identities.iter().any(|i| i.category == "client"),
            "{info:?}"
        );
        // slixmpp 1.17 advertises disco#info and what its plugins add, but not disco#items,
        // although it answers items queries (with an empty list here).
        for feature in [INFO, "urn:xmpp:ping"] {
            assert!(
                info.features.contains(feature),
                "{feature} in {:?}",
                info.features
            );
        }
        let items = items(&bob, &slix, None).await;
        assert!(items.items.is_empty(), "{items:?}");

        log_out(peer).await;
        bob.close().await.expect("what was accepted went out");
    });
}

/// The component example's address, when `tests/interop/run.sh` started it beside the server.
fn component_address() -> Jid {
    let address = std::env::var("XMPP_DISCO_COMPONENT").unwrap_or_else(|_| {
        panic!("XMPP_DISCO_COMPONENT is not set: this test needs the component example that tests/interop/run.sh starts")
    });
    jid(&address)
}

#[test]
#[ignore = "needs the Prosody and the component example that tests/interop/run.sh starts"]
fn the_component_example_answers_for_itself_and_every_room() {
    bounded(async {
        let service = component_address();
        let alice = online("alice").await;
        let server = alice.server();
        let items = items(&alice, &server, None).await;
        assert!(
            items.items.iter().any(|item| item.jid == service),
            "the server lists the component: {:?}",
            items.items
        );
        let info = info(&alice, &service, None).await;
        assert!(info
            .identities
            .iter()
            .any(|i| i.category == "conference" && i.type_ == "text"));
        let rooms = self::items(&alice, &service, None).await;
        assert_eq!(rooms.items.len(), 100, "one page of 100 rooms unasked");
        let counted = rooms.rsm.as_ref().and_then(|set| set.count);
        assert_eq!(
            counted,
            Some(10_000),
            "and the <set/> that says there are more"
        );
        // The whole list, page after page.
        let sent = alice.stats().requests_sent;
        let all = alice
            .query_item_list(&service, None, QueryOptions::default())
            .await
            .expect("every room");
        assert!(all.complete);
        let expected: Vec<_> = (0..10_000)
            .map(|n| jid(&format!("room{n}@{service}")))
            .collect();
        let got: Vec<_> = all.items.iter().map(|item| item.jid.clone()).collect();
        assert_eq!(got, expected, "every room once, in order");
        // Pages of 100 (the example's largest answer), then the empty page after the last.
        assert_eq!(all.pages, 101);
        assert_eq!(alice.stats().requests_sent, sent + 101);
        for number in [0, 99, 9_999] {
            let room = jid(&format!("room{number}@{service}"));
            let info = self::info(&alice, &room, None).await;
            assert_eq!(
                info.identities[0].name.as_deref(),
                Some(format!("Room {number}").as_str())
            );
            assert!(info
                .extensions
                .iter()
                .any(|form| form.form_type() == Some("http://jabber.org/protocol/muc#roominfo")));
        }
        // Past the last room, and an address that is no room: nobody's.
        for missing in ["room10000", "nobody"] {
            let room = jid(&format!("{missing}@{service}"));
            let answer = alice.query_info(&room, None, QueryOptions::default()).await;
            assert_eq!(condition(answer), DefinedCondition::ItemNotFound, "{room}");
        }
        alice.close().await.expect("what was accepted went out");
    });
}

// ------------------------------------------------------------------ the stream's lifecycle

/// The next lifecycle event of a session (stanzas, the machine's reports and the
/// announcements of reconnection attempts are skipped).
async fn lifecycle(incoming: &mut Incoming) -> SessionEvent {
    loop {
        match incoming.next().await.expect("the session reports its end") {
            SessionEvent::Stanza(_)
            | SessionEvent::Disco(_)
            | SessionEvent::Reconnecting { .. } => {}
            other => return other,
        }
    }
}

/// Starts an info query in a task of its own and returns once the machine has sent its IQ.
async fn in_flight(
    disco: &Disco,
    target: Jid,
) -> tokio::task::JoinHandle<Result<Arc<DiscoInfoResult>, AskError>> {
    let sent = disco.stats().requests_sent;
    let asker = disco.clone();
    let task = tokio::spawn(async move {
        asker
            .query_info(&target, None, QueryOptions::default())
            .await
    });
    while disco.stats().requests_sent == sent {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    task
}

/// A relay to the server at `address`, and `user` logged in through it.
async fn through_proxy(
    address: &str,
    user: &str,
    limit: Option<Duration>,
) -> (Proxy, Disco, Incoming) {
    let proxy = Proxy::start(address).await;
    let mut login = login_to(&format!("127.0.0.1:{}", proxy.port()), user);
    if let Some(limit) = limit {
        login = login.give_up_after(limit);
    }
    let (disco, incoming) = connect(login).await;
    (proxy, disco, incoming)
}

/// Loses the connection while a query to `target` is in flight (its IQ sent, no answer let
/// through), by `lose` (cut: the relay accepts again; stop: it never does), and waits until the
/// session says so. Returns the query.
async fn lose_connection(
    proxy: &Proxy,
    lose: fn(&Proxy),
    disco: &Disco,
    incoming: &mut Incoming,
    target: Jid,
) -> tokio::task::JoinHandle<Result<Arc<DiscoInfoResult>, AskError>> {
    proxy.freeze();
    let waiting = in_flight(disco, target).await;
    lose(proxy);
    let suspended = lifecycle(incoming).await;
    assert!(
        matches!(suspended, SessionEvent::Suspended),
        "{suspended:?}"
    );
    waiting
}

fn assert_disconnected(result: Result<Arc<DiscoInfoResult>, AskError>) {
    assert!(
        matches!(result, Err(AskError::Failed(QueryError::Disconnected))),
        "{result:?}"
    );
}

#[test]
#[ignore = "needs the Prosody that tests/interop/run.sh starts"]
fn one_login_is_one_connection() {
    bounded(async {
        let (proxy, alice, _incoming) = through_proxy(&server_address(), "alice", None).await;
        info(&alice, &alice.server(), None).await;
        assert_eq!(proxy.connections(), 1, "one login, one connection");
        alice.close().await.expect("what was accepted went out");
    });
}

#[test]
#[ignore = "needs the Prosody that tests/interop/run.sh starts"]
fn a_new_stream_fails_the_queries_in_flight_and_clears_the_cache() {
    bounded(async {
        // This Prosody does not resume streams: a lost connection comes back as a new stream.
        let (proxy, alice, mut incoming) = through_proxy(&server_address(), "alice", None).await;
        let server = alice.server();
        info(&alice, &server, None).await;

        let muc = jid("conference.localhost");
        let waiting = lose_connection(&proxy, Proxy::cut, &alice, &mut incoming, muc.clone()).await;
        let SessionEvent::Reset { jid } = lifecycle(&mut incoming).await else {
            panic!("expected a new stream");
        };
        assert_eq!(alice.jid(), jid);
        assert_disconnected(waiting.await.expect("the task ran"));
        let sent = alice.stats().requests_sent;
        info(&alice, &muc, None).await;
        assert_eq!(
            alice.stats().requests_sent,
            sent + 1,
            "the cache was cleared"
        );
        // Verified capabilities outlive the stream: the new stream's features announce the
        // same hash, and the server's root costs nothing.
        info(&alice, &server, None).await;
        assert_eq!(alice.stats().requests_sent, sent + 1);
        assert_eq!(proxy.connections(), 2);
        alice.close().await.expect("what was accepted went out");
    });
}

#[test]
#[ignore = "needs the ejabberd that tests/interop/run.sh starts"]
fn a_resumed_stream_keeps_the_cache_and_the_queries_in_flight() {
    bounded(async {
        let (proxy, alice, mut incoming) = through_proxy(&ejabberd_address(), "alice", None).await;
        let server = alice.server();
        let before = info(&alice, &server, None).await;

        let muc = jid("conference.localhost");
        let waiting = lose_connection(&proxy, Proxy::cut, &alice, &mut incoming, muc.clone()).await;
        let resumed = lifecycle(&mut incoming).await;
        assert!(matches!(resumed, SessionEvent::Resumed), "{resumed:?}");

        // The query sent before the cut is answered after the resumption.
        let muc = waiting.await.expect("the task ran").expect("an answer");
        assert!(muc.features.contains("http://jabber.org/protocol/muc"));
        // And the cache is as it was.
        let sent = alice.stats().requests_sent;
        let after = info(&alice, &server, None).await;
        assert_eq!(alice.stats().requests_sent, sent, "answered from the cache");
        assert!(Arc::ptr_eq(&before, &after));
        assert_eq!(proxy.connections(), 2);
        alice.close().await.expect("what was accepted went out");
    });
}

#[test]
#[ignore = "needs the Prosody that tests/interop/run.sh starts"]
fn a_server_that_does_not_come_back_ends_the_session_within_its_bound() {
    bounded(async {
        let limit = Duration::from_secs(2);
        let (proxy, alice, mut incoming) =
            through_proxy(&server_address(), "alice", Some(limit)).await;
        let server = alice.server();

        let lost = tokio::time::Instant::now();
        let waiting =
            lose_connection(&proxy, Proxy::stop, &alice, &mut incoming, server.clone()).await;
        // More queries than tokio-xmpp queues while disconnected: sending them waits for a
        // connection that never comes, and the bound still holds.
        let stranded: Vec<_> = (0..40)
            .map(|n| {
                let alice = alice.clone();
                let server = server.clone();
                tokio::spawn(async move {
                    let node = format!("node-{n}");
                    alice
                        .query_info(&server, Some(&node), QueryOptions::default())
                        .await
                })
            })
            .collect();
        let ended = loop {
            match lifecycle(&mut incoming).await {
                SessionEvent::ReconnectFailed(error) => {
                    assert!(
                        error.to_string().contains("connection refused"),
                        "said in words: {error}"
                    );
                }
                other => break other,
            }
        };
        let waited = lost.elapsed();
        assert!(
            matches!(ended, SessionEvent::Ended(SessionEnd::Lost { suspended_for }) if suspended_for == limit),
            "{ended:?}"
        );
        assert!(
            waited >= limit && waited < limit * 3,
            "ended after {waited:?}"
        );
        assert_disconnected(waiting.await.expect("the task ran"));
        for query in stranded {
            assert_disconnected(query.await.expect("the task ran"));
        }
        let later = alice
            .query_info(&server, None, QueryOptions::default())
            .await;
        assert!(
            matches!(later, Err(AskError::Ended(SessionEnd::Lost { .. }))),
            "{later:?}"
        );
        assert!(incoming.next().await.is_none(), "nothing after the end");
    });
}

#[test]
#[ignore = "needs the ejabberd that tests/interop/run.sh starts"]
fn ejabberd_pages_its_rooms_and_the_whole_list_reads_them_all() {
    bounded(async {
        let mut config = xmpp_disco::Config::default();
        config.list_page_size = 40;
        let login = login_to(&ejabberd_address(), "bob").config(config);
        let (bob, _incoming) = connect(login).await;
        let service = jid("conference.localhost");
        // More rooms than a page holds: joining one creates it.
        const ROOMS: usize = 250;
        for n in 0..ROOMS {
            let room = jid(&format!("page{n}@conference.localhost/bob"));
            bob.send(Presence::available().with_to(room))
                .expect("bob online");
        }
        let mut listed = 0;
        for _ in 0..100 {
            let plain = bob
                .query_items(&service, None, QueryOptions::fresh())
                .await
                .expect("the MUC's rooms");
            listed = plain
                .items
                .iter()
                .filter(|item| item.jid.as_str().starts_with("page"))
                .count();
            if listed == ROOMS {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(listed, ROOMS, "ejabberd created every room");

        let page = bob
            .query_items_page(
                &service,
                None,
                xmpp_disco::xmpp_parsers::rsm::SetQuery {
                    max: Some(40),
                    after: None,
                    before: None,
                    index: None,
                },
                QueryOptions::default(),
            )
            .await
            .expect("one page");
        assert_eq!(page.items.len(), 40, "ejabberd pages with RSM");
        let set = page.rsm.as_ref().expect("ejabberd's <set/>");
        assert!(set.count.is_some_and(|count| count >= ROOMS), "{set:?}");

        let sent = bob.stats().requests_sent;
        let all = bob
            .query_item_list(&service, None, QueryOptions::default())
            .await
            .expect("every room");
        assert!(all.complete);
        let pages_rooms: BTreeSet<_> = all
            .items
            .iter()
            .filter(|item| item.jid.as_str().starts_with("page"))
            .map(|item| item.jid.to_string())
            .collect();
        assert_eq!(pages_rooms.len(), ROOMS, "every room, once");
        let pages = bob.stats().requests_sent - sent;
        assert_eq!(pages, all.pages as u64);
        assert!(all.pages >= ROOMS.div_ceil(40), "{} pages", all.pages);
        bob.close().await.expect("what was accepted went out");
    });
}

#[test]
#[ignore = "needs the Prosody and the ejabberd that tests/interop/run.sh starts"]
fn find_services_finds_the_muc_and_upload_of_prosody_and_of_ejabberd() {
    bounded(async {
        for address in [server_address(), ejabberd_address()] {
            let (alice, _incoming) = connect(login_to(&address, "alice")).await;
            let server = alice.server();
            for (feature, service) in [
                ("http://jabber.org/protocol/muc", "conference.localhost"),
                ("urn:xmpp:http:upload:0", "upload.localhost"),
            ] {
                let filter = xmpp_disco::ServiceFilter::feature(feature);
                let services = alice
                    .find_services(&server, None, filter, QueryOptions::default())
                    .await
                    .unwrap_or_else(|e| panic!("{address}: {e}"));
                let found: Vec<_> = services
                    .found
                    .iter()
                    .map(|found| found.item.jid.to_string())
                    .collect();
                // Prosody also lists the component example, a MUC service of its own.
                assert!(
                    found.contains(&service.to_owned()),
                    "{address}: {feature}: {found:?}"
                );
                let others = [
                    "conference.localhost",
                    "rooms.localhost",
                    "upload.localhost",
                ];
                assert!(
                    found.iter().all(|jid| others.contains(&jid.as_str())),
                    "{address}: {feature}: {found:?}"
                );
                assert!(services.complete);
            }
            // Another search is answered from the cache: not one IQ.
            let sent = alice.stats().requests_sent;
            let filter = xmpp_disco::ServiceFilter::identity("conference", Some("text"));
            let again = alice
                .find_services(&server, None, filter, QueryOptions::default())
                .await
                .expect("a search");
            assert!(
                again
                    .found
                    .iter()
                    .any(|found| found.item.jid == jid("conference.localhost")),
                "{address}"
            );
            assert_eq!(
                alice.stats().requests_sent,
                sent,
                "{address}: from the cache"
            );
            let supported = alice
                .supports(&server, None, "urn:xmpp:ping", QueryOptions::default())
                .await
                .expect("the server's info");
            assert!(supported.supported, "{address} answers pings");
            alice.close().await.expect("what was accepted went out");
        }
    });
}

/// Closes a Python peer's standard input, which lets it log out, and checks that it exited well.
async fn log_out(mut peer: tokio::process::Child) {
    drop(peer.stdin.take());
    let status = tokio::time::timeout(Duration::from_secs(15), peer.wait())
        .await
        .expect("slixmpp exits")
        .expect("a status");
    assert!(status.success(), "slixmpp failed: {status}");
}

/// Starts slixmpp with its own entity capabilities as `user`, sending `target` a directed
/// presence with them.
fn slixmpp_caps(user: &str, target: &Jid) -> tokio::process::Child {
    let (user, target) = (format!("{user}@localhost"), target.to_string());
    python_peer("slixmpp_caps.py", &[&user, "secret", &target])
}

/// slixmpp as the forger of XEP-0115's Security Considerations (see `slixmpp_caps.py`).
fn slixmpp_forger(user: &str, target: &Jid) -> tokio::process::Child {
    let (user, target) = (format!("{user}@localhost"), target.to_string());
    python_peer("slixmpp_caps.py", &[&user, "secret", &target, "forge"])
}

/// The next line a peer prints that starts with `prefix`, without it.
async fn line_starting(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    prefix: &str,
) -> String {
    loop {
        let line = lines
            .next_line()
            .await
            .expect("readable output")
            .unwrap_or_else(|| panic!("the peer exited before printing {prefix:?}"));
        if let Some(rest) = line.strip_prefix(prefix) {
            return rest.to_owned();
        }
    }
}

#[test]
#[ignore = "needs the Prosody that tests/interop/run.sh starts"]
fn a_forged_twin_from_slixmpp_answers_only_the_forger() {
    bounded(async {
        let (bob, mut incoming) = connect(login_to(&server_address(), "bob")).await;
        let bob_jid = Jid::from(bob.jid());
        // The forger first, so that it is the one asked to verify the hash.
        let mut forger = slixmpp_forger("slix2", &bob_jid);
        let mut forger_lines = BufReader::new(forger.stdout.take().expect("piped")).lines();
        let ver = line_starting(&mut forger_lines, "ver ").await;
        let twin = line_starting(&mut forger_lines, "twin ").await;
        let (twin_ver, joined) = twin.split_once(' ').expect("ver and feature");
        assert_eq!(
            twin_ver, ver,
            "slixmpp's own hash of the twin is the true ver"
        );
        let forger_jid = jid(&line_starting(&mut forger_lines, "online ").await);
        let mut honest = slixmpp_caps("slix", &bob_jid);
        let mut honest_lines = BufReader::new(honest.stdout.take().expect("piped")).lines();
        assert_eq!(line_starting(&mut honest_lines, "ver ").await, ver);
        let honest_jid = jid(&line_starting(&mut honest_lines, "online ").await);
        let mut heard = BTreeSet::new();
        while heard.len() < 2 {
            match incoming.next().await.expect("the session lives") {
                SessionEvent::Stanza(Stanza::Presence(presence)) => {
                    heard.insert(presence.from.clone().expect("a sender"));
                }
                SessionEvent::Stanza(Stanza::Iq(iq)) => bob.refuse(iq),
                _ => {}
            }
        }
        assert!(heard.contains(&forger_jid) && heard.contains(&honest_jid));
        tokio::spawn(host(bob.clone(), incoming));

        let forged = info(&bob, &forger_jid, None).await;
        assert!(forged.features.contains(joined), "{forged:?}");
        let stats = bob.stats();
        assert_eq!((stats.caps_unshareable, stats.caps_verified), (1, 0));
        // The honest peer is asked in turn, and its true answer is the one shared.
        let true_answer = info(&bob, &honest_jid, None).await;
        assert!(!true_answer.features.contains(joined));
        assert!(true_answer.features.len() > forged.features.len());
        let stats = bob.stats();
        assert_eq!((stats.caps_unshareable, stats.caps_verified), (1, 1));
        let shared = bob.with_machine(|machine| machine.export_caps());
        assert_eq!(shared.len(), 1);
        assert!(!String::from(&shared[0]).contains("&lt;"), "{shared:?}");
        // Asked again, each gets what it is known for, without a request.
        let sent = bob.stats().requests_sent;
        assert!(Arc::ptr_eq(&info(&bob, &forger_jid, None).await, &forged));
        assert!(Arc::ptr_eq(
            &info(&bob, &honest_jid, None).await,
            &true_answer
        ));
        assert_eq!(bob.stats().requests_sent, sent);
        for peer in [forger, honest] {
            log_out(peer).await;
        }
        bob.close().await.expect("what was accepted went out");
    });
}

#[test]
#[ignore = "needs the Prosody that tests/interop/run.sh starts"]
fn slixmpp_caps_cost_one_request_and_slixmpp_verifies_ours() {
    bounded(async {
        let mut config = xmpp_disco::Config::default();
        config.caps_node = Some("https://docs.rs/xmpp-disco#interop".into());
        let login = login_to(&server_address(), "bob").config(config);
        let (bob, mut incoming) = connect(login).await;
        let bob_jid = Jid::from(bob.jid());
        let mut peers = Vec::new();
        let mut slix = Vec::new();
        let mut vers = Vec::new();
        for user in ["slix", "slix2"] {
            let mut peer = slixmpp_caps(user, &bob_jid);
            let mut lines = BufReader::new(peer.stdout.take().expect("piped")).lines();
            vers.push(line_starting(&mut lines, "ver ").await);
            slix.push(jid(&line_starting(&mut lines, "online ").await));
            peers.push((peer, lines));
        }
        // Two clients of one version, announced the XEP-0115 way by slixmpp itself.
        assert_eq!(vers[0], vers[1]);
        let mut heard = BTreeSet::new();
        while heard.len() < 2 {
            match incoming.next().await.expect("the session lives") {
                SessionEvent::Stanza(Stanza::Presence(presence)) => {
                    let from = presence.from.clone().expect("a sender");
                    assert!(slix.contains(&from), "{from}");
                    heard.insert(from);
                }
                SessionEvent::Stanza(Stanza::Iq(iq)) => bob.refuse(iq),
                _ => {}
            }
        }
        tokio::spawn(host(bob.clone(), incoming));

        let before = bob.stats();
        let first = info(&bob, &slix[0], None).await;
        assert!(
            first.features.contains("http://jabber.org/protocol/caps"),
            "{first:?}"
        );
        let after_first = bob.stats();
        assert_eq!(after_first.requests_sent, before.requests_sent + 1);
        assert_eq!(after_first.caps_verified, before.caps_verified + 1);
        assert_eq!(after_first.caps_rejected, before.caps_rejected);
        let second = info(&bob, &slix[1], None).await;
        assert!(Arc::ptr_eq(&first, &second));
        let after_second = bob.stats();
        assert_eq!(after_second.requests_sent, after_first.requests_sent);
        assert_eq!(after_second.caps_hits, after_first.caps_hits + 1);

        // The other way round: slixmpp asks our caps node and its own check accepts our hash.
        let ours = bob
            .with_machine(|machine| machine.caps_announcement())
            .expect("caps are on")
            .ver();
        for (to, (_, lines)) in slix.iter().zip(&mut peers) {
            bob.send(bob.presence().with_to(to.clone()))
                .expect("the session lives");
            assert_eq!(verdict(lines).await, format!("verified {bob_jid} {ours}"));
        }
        for (peer, _) in peers {
            log_out(peer).await;
        }
        bob.close().await.expect("what was accepted went out");
    });
}

/// slixmpp asking to see `target`'s presence (see `slixmpp_caps.py`).
fn slixmpp_subscriber(user: &str, target: &Jid) -> tokio::process::Child {
    let (user, target) = (format!("{user}@localhost"), target.to_string());
    python_peer("slixmpp_caps.py", &[&user, "secret", &target, "subscribe"])
}

/// The next `verified` or `unverified` line of a slixmpp peer, within 20 s.
async fn verdict(lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>) -> String {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let line = lines
                .next_line()
                .await
                .expect("readable output")
                .expect("slixmpp says what it made of our caps");
            if line.starts_with("verified ") || line.starts_with("unverified ") {
                return line;
            }
        }
    })
    .await
    .expect("slixmpp's verdict in time")
}

#[test]
#[ignore = "needs the Prosody that tests/interop/run.sh starts"]
fn a_subscribed_slixmpp_contact_sees_and_verifies_our_new_ver_after_a_feature_is_registered() {
    bounded(async {
        let mut config = xmpp_disco::Config::default();
        config.caps_node = Some("https://docs.rs/xmpp-disco#interop".into());
        let login = login_to(&server_address(), "bob").config(config);
        let (bob, incoming) = connect(login).await;
        let bob_jid = Jid::from(bob.jid());
        let mut peer = slixmpp_subscriber("slix", &bob_jid);
        let mut lines = BufReader::new(peer.stdout.take().expect("piped")).lines();
        line_starting(&mut lines, "online ").await;
        // Bob goes online (his broadcast presence carries his capabilities without any help
        // from the host), then approves the subscription, which the server delivers to
        // available resources (RFC 6121 §3.1.3); his presence then reaches slixmpp.
        bob.send(Presence::available()).expect("the session lives");
        tokio::spawn(approving_host(bob.clone(), incoming));
        // Subscribed now or before (Prosody does not pass on a repeated request): Bob's
        // presence reaches slixmpp either way.
        let first = own_ver(&bob);
        assert_eq!(
            verdict(&mut lines).await,
            format!("verified {bob_jid} {first}")
        );

        // A feature registered: the session sends the presence again with the new ver, which
        // slixmpp verifies against our caps node.
        bob.with_machine(|machine| {
            machine
                .root_mut()
                .register_feature("urn:xmpp:ping")
                .expect("a new feature")
        });
        let second = own_ver(&bob);
        assert_ne!(first, second);
        assert_eq!(
            verdict(&mut lines).await,
            format!("verified {bob_jid} {second}")
        );
        // No subscription is left for the tests after this one.
        let slix = Jid::new("slix@localhost").expect("a JID");
        bob.send(Presence::new(PresenceType::Unsubscribed).with_to(slix))
            .expect("the session lives");
        log_out(peer).await;
        bob.close().await.expect("what was accepted went out");
    });
}

/// [`host`], approving every subscription request (an earlier run may have left one approved
/// already: the server then answers the request itself).
async fn approving_host(disco: Disco, mut incoming: Incoming) {
    while let Some(event) = incoming.next().await {
        match event {
            SessionEvent::Stanza(Stanza::Presence(presence))
                if presence.type_ == PresenceType::Subscribe =>
            {
                if let Some(from) = presence.from {
                    let approval = Presence::new(PresenceType::Subscribed).with_to(from.to_bare());
                    disco.send(approval).expect("the session lives");
                }
            }
            SessionEvent::Stanza(Stanza::Iq(iq)) => disco.refuse(iq),
            _ => {}
        }
    }
}

fn own_ver(disco: &Disco) -> String {
    disco
        .with_machine(|machine| machine.caps_announcement())
        .expect("caps are on")
        .ver()
}

#[test]
#[ignore = "needs the Prosody that tests/interop/run.sh starts"]
fn prosody_caps_in_its_stream_features_are_verified() {
    bounded(async {
        let (alice, _incoming) = connect(login_to(&server_address(), "alice")).await;
        let server = alice.server();
        let before = alice.stats();
        let first = info(&alice, &server, None).await;
        assert!(first.identities.iter().any(|i| i.category == "server"));
        let stats = alice.stats();
        assert_eq!(stats.requests_sent, before.requests_sent + 1);
        assert_eq!(stats.caps_verified, before.caps_verified + 1, "{stats:?}");
        assert_eq!(stats.caps_rejected, 0);
        // Prosody announced `http://prosody.im#VER`; the next session asks nothing once the
        // verified answer is imported.
        let saved = alice.with_machine(|machine| machine.export_caps());
        assert_eq!(saved.len(), 1);
        alice.close().await.expect("what was accepted went out");
        let (next, _incoming) = connect(login_to(&server_address(), "alice")).await;
        assert_eq!(
            next.with_machine(|machine| machine.import_caps(saved, CapsStore::Learned).taken),
            1
        );
        let sent = next.stats().requests_sent;
        let again = info(&next, &server, None).await;
        assert_eq!(again.features, first.features);
        assert_eq!(next.stats().requests_sent, sent);
        next.close().await.expect("what was accepted went out");
    });
}

// ------------------------------------------------ servers that restart and hang; a soak run

/// A value `tests/interop/run.sh` gives the disruption tests (a server's restart command, its
/// pid file, the soak's length).
fn control(variable: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| {
        panic!("{variable} is not set: this test needs the servers tests/interop/run.sh starts and controls")
    })
}

/// Runs one of the suite's control commands (a server restart) and checks that it worked.
async fn run_control(command: String) {
    let status = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(&command)
        .stdout(Stdio::null())
        .status()
        .await
        .expect("the command runs");
    assert!(status.success(), "{command}: {status}");
}

fn signal(signal: &str, pid: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, pid])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {signal} {pid}: {status}");
}

/// A server process stopped with SIGSTOP (hung: its connections stay open, nothing comes),
/// continued when dropped, a failed test included.
struct Frozen(String);

impl Frozen {
    fn new(pid_file: &str) -> Self {
        let pid = std::fs::read_to_string(pid_file).expect("the pid file");
        let pid = pid.trim().to_owned();
        signal("-STOP", &pid);
        Self(pid)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal("-CONT", &self.0);
    }
}

/// A session's lifecycle as read until `wanted`: the event, and each reconnection attempt
/// announced on the way (when it was heard, and its pause).
async fn until_lifecycle(
    incoming: &mut Incoming,
    wanted: fn(&SessionEvent) -> bool,
) -> (SessionEvent, Vec<(tokio::time::Instant, Duration)>, usize) {
    let (mut attempts, mut refused_resumptions) = (Vec::new(), 0);
    loop {
        let event = incoming.next().await.expect("the session reports its end");
        match event {
            event if wanted(&event) => return (event, attempts, refused_resumptions),
            SessionEvent::Reconnecting { after, .. } => {
                attempts.push((tokio::time::Instant::now(), after));
            }
            SessionEvent::ReconnectFailed(LoginError::NotEstablished) => refused_resumptions += 1,
            SessionEvent::Ended(reason) => panic!("the session ended: {reason}"),
            _ => {}
        }
    }
}

/// Each announced attempt came after the previous one's pause, less a little for delivery.
fn assert_attempts_kept_their_pauses(attempts: &[(tokio::time::Instant, Duration)]) {
    for pair in attempts.windows(2) {
        let [(earlier, pause), (later, _)] = pair else {
            continue;
        };
        assert!(
            *later + Duration::from_millis(50) >= *earlier + *pause,
            "an attempt {:?} after the one before, whose pause was {pause:?}",
            *later - *earlier
        );
    }
}

#[test]
#[ignore = "needs the ejabberd that tests/interop/run.sh starts, and its restart command"]
fn disrupt_an_ejabberd_restart_under_a_serving_client_ends_in_a_new_stream() {
    bounded(async {
        let restart = control("XMPP_DISCO_EJABBERD_RESTART");
        let proxy = Arc::new(Proxy::start(&ejabberd_address()).await);
        let login = login_to(&format!("127.0.0.1:{}", proxy.port()), "alice")
            .give_up_after(Duration::from_secs(45));
        let (alice, mut incoming) = connect(login).await;
        let server = alice.server();
        info(&alice, &server, None).await;

        // The client's connection is lost without the server's goodbye (its `system-shutdown`
        // stream error would make tokio-xmpp forget the stream), and the server restarts: it
        // no longer knows the stream the client asks to resume.
        proxy.freeze();
        let restarted = tokio::time::Instant::now();
        let relay = Arc::clone(&proxy);
        let restarting = tokio::spawn(async move {
            run_control(restart).await;
            relay.thaw();
        });
        // Read while the server restarts, so that each attempt is heard when it is made.
        let (event, attempts, refused) = until_lifecycle(&mut incoming, |event| {
            matches!(event, SessionEvent::Reset { .. } | SessionEvent::Resumed)
        })
        .await;
        restarting.await.expect("the restart ran");
        let took = restarted.elapsed();
        assert!(matches!(event, SessionEvent::Reset { .. }), "{event:?}");
        let bound =
            schedule::attempts_within(Duration::from_secs(1), Duration::from_secs(30), took);
        println!(
            "ejabberd restarted: a new stream {took:?} later, after {} reconnection attempts \
             (the schedule allows {bound}), {refused} resumption(s) refused; {} connections",
            attempts.len(),
            proxy.connections()
        );
        assert!(attempts.len() <= bound, "{} attempts", attempts.len());
        assert_eq!(proxy.connections(), 1 + attempts.len());
        assert_attempts_kept_their_pauses(&attempts);
        // ejabberd refused the resumption with a `<failed/>` tokio-xmpp 6.0.0 cannot read:
        // asked once, then a new stream.
        assert_eq!(refused, 1, "the resumption was refused once");
        // The new stream works.
        info(&alice, &server, None).await;
        alice.close().await.expect("what was accepted went out");
    });
}

#[test]
#[ignore = "needs the Prosody that tests/interop/run.sh starts, and its pid file"]
fn disrupt_a_hung_prosody_is_noticed_within_the_keepalive_bound() {
    bounded(async {
        let (idle, response) = (Duration::from_secs(2), Duration::from_secs(2));
        let login = login_to(&server_address(), "bob")
            .timeout(Duration::from_secs(3))
            .keepalive(idle, response);
        let (bob, mut incoming) = connect(login).await;
        let server = bob.server();
        // The server's last word: this answer.
        bob.query_info(&server, None, QueryOptions::fresh())
            .await
            .expect("an answer");
        let frozen = Frozen::new(&control("XMPP_DISCO_PROSODY_PID_FILE"));
        let hung = tokio::time::Instant::now();
        let (event, _, _) = until_lifecycle(&mut incoming, |event| {
            matches!(event, SessionEvent::Suspended)
        })
        .await;
        let noticed = hung.elapsed();
        assert!(matches!(event, SessionEvent::Suspended));
        println!(
            "a SIGSTOPped Prosody was noticed after {noticed:?} (bound {:?})",
            idle + response
        );
        assert!(
            noticed >= idle / 2 && noticed <= idle + response + Duration::from_secs(1),
            "noticed after {noticed:?}"
        );
        drop(frozen);
        let (event, _, _) = until_lifecycle(&mut incoming, |event| {
            matches!(event, SessionEvent::Reset { .. } | SessionEvent::Resumed)
        })
        .await;
        assert!(matches!(event, SessionEvent::Reset { .. }), "{event:?}");
        info(&bob, &server, None).await;
        bob.close().await.expect("what was accepted went out");
    });
}

/// The process's resident memory, in bytes.
fn resident_memory() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("resident pages");
    pages * 4096
}

/// A small deterministic generator, so that a soak run can be repeated from its seed.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % sides
    }
}

/// What a soaked session's host saw.
#[derive(Default)]
struct Soaked {
    /// Completions of the queries started through `with_machine`, by request id.
    completions: std::collections::HashMap<xmpp_disco::RequestId, usize>,
    attempts: Vec<(tokio::time::Instant, Duration)>,
    /// Whether the stream is up (after a `Reset` or `Resumed`, until a `Suspended`).
    up: bool,
    ended: bool,
}

/// The host of a soaked session: refuses what it must and writes down what happened.
async fn soak_host(disco: Disco, mut incoming: Incoming, log: Arc<std::sync::Mutex<Soaked>>) {
    while let Some(event) = incoming.next().await {
        let mut log = log.lock().expect("the log");
        match event {
            SessionEvent::Stanza(Stanza::Iq(iq)) => disco.refuse(iq),
            SessionEvent::Disco(event) => {
                if let Some(id) = event.request_id() {
                    *log.completions.entry(id).or_default() += 1;
                }
            }
            SessionEvent::Reconnecting { after, .. } => {
                log.attempts.push((tokio::time::Instant::now(), after));
            }
            SessionEvent::Suspended => log.up = false,
            SessionEvent::Reset { .. } => {
                log.up = true;
                drop(log);
                let _ = disco.send(disco.presence());
            }
            SessionEvent::Resumed => log.up = true,
            SessionEvent::Ended(_) => log.ended = true,
            _ => {}
        }
    }
}

#[test]
#[ignore = "needs the servers tests/interop/run.sh starts and controls, and XMPP_DISCO_SOAK_SECONDS"]
fn disrupt_soak_cuts_freezes_and_restarts_while_queries_flow() {
    let run = Duration::from_secs(
        control("XMPP_DISCO_SOAK_SECONDS")
            .parse()
            .expect("XMPP_DISCO_SOAK_SECONDS is a number of seconds"),
    );
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(async {
            tokio::time::timeout(run + Duration::from_secs(180), soak(run))
                .await
                .expect("the soak finished in time");
        });
}

async fn soak(run: Duration) {
    let restarts = [
        control("XMPP_DISCO_EJABBERD_RESTART"),
        control("XMPP_DISCO_PROSODY_RESTART"),
    ];
    let seed = std::env::var("XMPP_DISCO_SOAK_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(0x5eed);
    let mut dice = Dice(seed);
    let (first, max) = (Duration::from_millis(200), Duration::from_secs(3));
    let mut sessions = Vec::new();
    for (address, user) in [(ejabberd_address(), "bob"), (server_address(), "slix2")] {
        let proxy = Proxy::start(&address).await;
        let mut config = xmpp_disco::Config::default();
        config.default_timeout = Some(Duration::from_secs(5));
        let login = login_to(&format!("127.0.0.1:{}", proxy.port()), user)
            .timeout(Duration::from_secs(5))
            .keepalive(Duration::from_secs(2), Duration::from_secs(2))
            .reconnect_backoff(first, max)
            .config(config);
        let (disco, incoming) = connect(login).await;
        let log = Arc::new(std::sync::Mutex::new(Soaked {
            up: true,
            ..Soaked::default()
        }));
        tokio::spawn(soak_host(disco.clone(), incoming, Arc::clone(&log)));
        sessions.push((proxy, disco, log));
    }
    let targets = [
        (jid("localhost"), None),
        (jid("conference.localhost"), None),
        (jid("localhost"), Some("no-such-node")),
        (jid("nobody@localhost/gone"), None),
    ];

    let started = tokio::time::Instant::now();
    let (mut awaited, mut machine_started) = (Vec::new(), Vec::new());
    let (mut warm_memory, mut next_chaos) = (None, started + Duration::from_secs(2));
    let mut chaos: Option<tokio::task::JoinHandle<()>> = None;
    let mut disruptions = Vec::new();
    while started.elapsed() < run {
        for (session, (_, disco, _)) in sessions.iter().enumerate() {
            let (target, node) = targets[dice.roll(targets.len() as u64) as usize].clone();
            let options = if dice.roll(4) == 0 {
                QueryOptions::fresh()
            } else {
                QueryOptions::default()
            };
            if dice.roll(2) == 0 {
                let asker = disco.clone();
                awaited.push(tokio::spawn(async move {
                    asker.query_info(&target, node, options).await
                }));
            } else {
                let now = tokio::time::Instant::now().into_std();
                let started =
                    disco.with_machine(|machine| machine.query_info(now, &target, node, options));
                if let Ok(id) = started {
                    machine_started.push((session, id));
                }
            }
        }
        if warm_memory.is_none() && started.elapsed() >= run / 4 {
            warm_memory = Some(resident_memory());
        }
        let chaos_idle = chaos.as_ref().is_none_or(|task| task.is_finished());
        if tokio::time::Instant::now() >= next_chaos && chaos_idle {
            let which = dice.roll(sessions.len() as u64) as usize;
            let proxy = &sessions[which].0;
            match dice.roll(4) {
                0 => {
                    disruptions.push(format!("cut {which}"));
                    proxy.cut();
                }
                1 => {
                    disruptions.push(format!("freeze {which}"));
                    proxy.freeze();
                }
                2 => {
                    disruptions.push(format!("restart {which}"));
                    chaos = Some(tokio::spawn(run_control(restarts[which].clone())));
                }
                _ => {
                    disruptions.push(format!("thaw {which}"));
                    proxy.thaw();
                }
            }
            next_chaos =
                tokio::time::Instant::now() + Duration::from_millis(1_500 + dice.roll(2_500));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if let Some(task) = chaos {
        task.await.expect("the restart ran");
    }
    for (proxy, _, _) in &sessions {
        proxy.thaw();
    }
    // Every session comes back (up, its last announced attempt made), every query completes.
    let settle = tokio::time::Instant::now() + Duration::from_secs(60);
    while sessions.iter().any(|(proxy, _, log)| {
        let log = log.lock().expect("the log");
        !log.up || proxy.connections() != 1 + log.attempts.len()
    }) {
        if tokio::time::Instant::now() >= settle {
            break; // said below, session by session
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (mut answered, mut failed) = (0usize, 0usize);
    let count = awaited.len();
    for query in awaited {
        match tokio::time::timeout(Duration::from_secs(30), query).await {
            Ok(Ok(Ok(_))) => answered += 1,
            Ok(Ok(Err(_))) => failed += 1,
            Ok(Err(error)) => panic!("a query's task failed: {error}"),
            Err(_) => panic!("a query did not complete"),
        }
    }
    let done = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let missing = machine_started
            .iter()
            .filter(|(session, id)| {
                let log = sessions[*session].2.lock().expect("the log");
                !log.completions.contains_key(id)
            })
            .count();
        if missing == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < done,
            "{missing} queries never completed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let memory = resident_memory();
    println!(
        "soak of {run:?} (seed {seed}): {} disruptions ({}), {count} awaited queries ({answered} \
         answered, {failed} failed), {} started through the machine; resident memory {} KiB \
         after a quarter, {} KiB at the end",
        disruptions.len(),
        disruptions.join(", "),
        machine_started.len(),
        warm_memory.unwrap_or(memory) / 1024,
        memory / 1024
    );
    for (number, (proxy, disco, log)) in sessions.iter().enumerate() {
        let log = log.lock().expect("the log");
        assert!(!log.ended, "session {number} ended");
        assert!(log.up, "session {number} did not come back");
        // Exactly once: no completion twice, none for a query not started.
        assert!(
            log.completions.values().all(|&times| times == 1),
            "a completion came twice"
        );
        // Every connection went through the schedule: the first, then one per announced attempt.
        assert_eq!(
            proxy.connections(),
            1 + log.attempts.len(),
            "session {number}: connections beside the schedule"
        );
        assert_attempts_kept_their_pauses(&log.attempts);
        println!(
            "session {number} ({}): {} connections",
            disco.jid(),
            proxy.connections()
        );
    }
    let growth = memory.saturating_sub(warm_memory.unwrap_or(memory));
    assert!(
        growth < 32 << 20,
        "resident memory grew by {} KiB",
        growth / 1024
    );
    for (_, disco, _) in &sessions {
        disco.close().await.expect("what was accepted went out");
    }
}
