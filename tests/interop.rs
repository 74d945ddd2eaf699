//! Interop against software nobody here wrote: a real Prosody server and the slixmpp client.
//!
//! These tests need the server `tests/interop/run.sh` installs and starts; they are ignored by
//! a plain `cargo test` (which says why) and run by that script with `--ignored`, which is what
//! `.ci/run` does. Run by hand without the server, they fail with a message saying so.

#[path = "../examples/network/session.rs"]
mod session;

use std::collections::BTreeSet;
use std::future::Future;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use session::{Account, Session, Transport};
use tokio::io::{AsyncBufReadExt, BufReader};
use xmpp_disco::xmpp_parsers::disco::{DiscoInfoResult, DiscoItemsResult, Identity, Item};
use xmpp_disco::xmpp_parsers::jid::{BareJid, Jid};
use xmpp_disco::xmpp_parsers::stanza_error::DefinedCondition;
use xmpp_disco::{Config, Node, QueryError, QueryKind, QueryOptions, StaticNode};

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

fn account(user: &str) -> Account {
    Account {
        jid: BareJid::new(&format!("{user}@localhost")).expect("a valid JID"),
        password: "secret".into(),
        transport: Transport::Plaintext(server_address()),
        timeout: Duration::from_secs(10),
    }
}

async fn online(user: &str) -> Session {
    Session::connect(&account(user), Config::default())
        .await
        .unwrap_or_else(|e| panic!("{user} could not log in: {e}"))
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

fn condition(result: Result<Arc<DiscoInfoResult>, QueryError>) -> DefinedCondition {
    match result {
        Err(QueryError::Stanza(error)) => error.defined_condition.clone(),
        other => panic!("expected a stanza error, got {other:?}"),
    }
}

#[test]
#[ignore = "needs the Prosody that tests/interop/run.sh starts"]
fn server_info_and_items() {
    bounded(async {
        let mut alice = online("alice").await;
        let server = alice.server();
        let info = alice
            .info(&server, None)
            .await
            .expect("online")
            .expect("an answer");
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

        let items = alice
            .items(&server, None)
            .await
            .expect("online")
            .expect("an answer");
        let conference = items
            .items
            .iter()
            .find(|item| item.jid == jid("conference.localhost"))
            .expect("the MUC component is listed");
        assert_eq!(conference.name.as_deref(), Some("Chatrooms"));
        let muc = alice
            .info(&conference.jid.clone(), None)
            .await
            .expect("online")
            .expect("an answer");
        assert!(muc.features.contains("http://jabber.org/protocol/muc"));
        alice.close().await;
    });
}

#[test]
#[ignore = "needs the Prosody that tests/interop/run.sh starts"]
fn a_cached_answer_sends_nothing() {
    bounded(async {
        let mut alice = online("alice").await;
        let server = alice.server();
        let first = alice
            .info(&server, None)
            .await
            .expect("online")
            .expect("an answer");
        let sent = alice.machine.stats().requests_sent;
        let again = alice
            .info(&server, None)
            .await
            .expect("online")
            .expect("an answer");
        assert_eq!(
            alice.machine.stats().requests_sent,
            sent,
            "nothing was sent"
        );
        assert_eq!(alice.machine.stats().cache_hits, 1);
        assert!(Arc::ptr_eq(&first, &again), "the same answer, not a copy");
        alice.close().await;
    });
}

#[test]
#[ignore = "needs the Prosody that tests/interop/run.sh starts"]
fn concurrent_queries_share_one_iq() {
    bounded(async {
        let mut alice = online("alice").await;
        let server = alice.server();
        let ids: Vec<_> = (0..5)
            .map(|_| {
                alice
                    .start_items(&server, None, QueryOptions::default())
                    .expect("a valid query")
            })
            .collect();
        let mut answers = Vec::new();
        for id in ids {
            match alice.completion(id).await.expect("online") {
                xmpp_disco::Event::Items { result, .. } => answers.push(result.expect("items")),
                other => panic!("unexpected {other:?}"),
            }
        }
        let stats = alice.machine.stats();
        assert_eq!(stats.requests_sent, 1, "one IQ for five queries");
        assert_eq!(stats.aliased, 4);
        assert!(answers.iter().all(|a| Arc::ptr_eq(a, &answers[0])));
        alice.close().await;
    });
}

#[test]
#[ignore = "needs the Prosody that tests/interop/run.sh starts"]
fn errors_arrive_typed_and_are_not_cached() {
    bounded(async {
        let mut alice = online("alice").await;
        let server = alice.server();
        let unknown = alice
            .info(&server, Some("no-such-node"))
            .await
            .expect("online");
        assert_eq!(condition(unknown), DefinedCondition::ItemNotFound);

        let offline = jid("bob@localhost/not-connected");
        let result = alice.info(&offline, None).await.expect("online");
        assert_eq!(condition(result), DefinedCondition::ServiceUnavailable);
        // Failures are never cached: asking again asks the network again.
        let sent = alice.machine.stats().requests_sent;
        let result = alice.info(&offline, None).await.expect("online");
        assert_eq!(condition(result), DefinedCondition::ServiceUnavailable);
        assert_eq!(alice.machine.stats().requests_sent, sent + 1);
        alice.close().await;
    });
}

/// `asker` asks `server`'s client for its info at `node` while `server` serves.
async fn info_served(
    asker: &mut Session,
    server: &mut Session,
    node: Option<&str>,
) -> Result<Arc<DiscoInfoResult>, QueryError> {
    let jid = Jid::from(server.jid.clone());
    server
        .run_until(asker.info(&jid, node))
        .await
        .expect("the answering client online")
        .expect("the asking client online")
}

/// `asker` asks `server`'s client for its items at `node` while `server` serves.
async fn items_served(
    asker: &mut Session,
    server: &mut Session,
    node: Option<&str>,
) -> Result<Arc<DiscoItemsResult>, QueryError> {
    let jid = Jid::from(server.jid.clone());
    server
        .run_until(asker.items(&jid, node))
        .await
        .expect("the answering client online")
        .expect("the asking client online")
}

/// Bob's responder: a bot at the root, a mounted static node with items, a deferred node.
fn publish_bob(bob: &mut Session) {
    let me = Jid::from(bob.jid.clone());
    let mut root = bob.machine.root_mut();
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
    bob.machine.mount(MOUNTED, node).expect("a valid name");
    bob.machine
        .mount(DEFERRED, Node::Deferred)
        .expect("a valid name");
    bob.answer_deferred_with(|machine, handle, kind, node| {
        let answered = match kind {
            QueryKind::Info => machine.respond_info(
                handle,
                DiscoInfoResult {
                    node: node.map(str::to_owned),
                    identities: vec![Identity::new("hierarchy", "leaf", "en", "Answered later")],
                    features: BTreeSet::from(["urn:xmpp:test:deferred".to_owned()]),
                    extensions: Vec::new(),
                },
            ),
            QueryKind::Items => machine.respond_items(handle, Vec::new()),
        };
        answered.expect("a live handle");
    });
}

#[test]
#[ignore = "needs the Prosody that tests/interop/run.sh starts"]
fn one_client_asks_another_whose_machine_answers() {
    bounded(async {
        let mut bob = online("bob").await;
        publish_bob(&mut bob);
        let mut alice = online("alice").await;

        let root = info_served(&mut alice, &mut bob, None)
            .await
            .expect("an answer");
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

        let items = items_served(&mut alice, &mut bob, None)
            .await
            .expect("an answer");
        let nodes: Vec<_> = items.items.iter().map(|i| i.node.as_deref()).collect();
        assert_eq!(nodes, [Some(MOUNTED), Some(DEFERRED)]);

        // The mounted node: its own answer, with the node attribute mirrored.
        let mounted = info_served(&mut alice, &mut bob, Some(MOUNTED))
            .await
            .expect("an answer");
        assert_eq!(mounted.node.as_deref(), Some(MOUNTED));
        assert!(mounted.features.contains("urn:xmpp:test:node-feature"));
        assert!(!mounted.features.contains("urn:xmpp:test:root-feature"));
        let mounted_items = items_served(&mut alice, &mut bob, Some(MOUNTED))
            .await
            .expect("an answer");
        assert_eq!(mounted_items.node.as_deref(), Some(MOUNTED));
        assert_eq!(mounted_items.items[0].jid, jid("localhost"));

        // The deferred node: answered by Bob's host code when asked.
        let deferred = info_served(&mut alice, &mut bob, Some(DEFERRED))
            .await
            .expect("an answer");
        assert_eq!(deferred.node.as_deref(), Some(DEFERRED));
        assert_eq!(
            deferred.identities[0].name.as_deref(),
            Some("Answered later")
        );

        // An unknown node on a client: item-not-found, from Bob's machine.
        let unknown = info_served(&mut alice, &mut bob, Some("urn:xmpp-disco:test:missing")).await;
        assert_eq!(condition(unknown), DefinedCondition::ItemNotFound);

        let stats = bob.machine.stats();
        assert_eq!(stats.requests_answered, 5, "{stats:?}");
        assert_eq!(stats.requests_refused, 1, "{stats:?}");
        alice.close().await;
        bob.close().await;
    });
}

/// Starts the slixmpp peer asking `target` and returns it with a reader of its lines.
fn slixmpp(target: &Jid, node: &str) -> tokio::process::Child {
    let python = std::env::var("XMPP_DISCO_PYTHON")
        .unwrap_or_else(|_| panic!("XMPP_DISCO_PYTHON is not set: {NEEDS_SERVER}"));
    let server = server_address();
    let (host, port) = server.rsplit_once(':').expect("HOST:PORT");
    tokio::process::Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/interop/slixmpp_peer.py"
        ))
        .args([
            host,
            port,
            "slix@localhost",
            "secret",
            &target.to_string(),
            node,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python starts")
}

#[test]
#[ignore = "needs the Prosody that tests/interop/run.sh starts"]
fn slixmpp_and_the_machine_understand_each_other() {
    bounded(async {
        let mut bob = online("bob").await;
        publish_bob(&mut bob);
        let bob_jid = Jid::from(bob.jid.clone());
        let mut peer = slixmpp(&bob_jid, MOUNTED);
        let stdout = peer.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();

        // Bob serves while slixmpp asks; every line it prints is a fact it parsed.
        let mut facts = Vec::new();
        let mut slix_jid = None;
        loop {
            let line = bob
                .run_until(lines.next_line())
                .await
                .expect("bob online")
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
        let info = bob
            .info(&slix, None)
            .await
            .expect("online")
            .expect("an answer");
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
        let items = bob
            .items(&slix, None)
            .await
            .expect("online")
            .expect("an answer");
        assert!(items.items.is_empty(), "{items:?}");

        drop(peer.stdin.take()); // lets the peer log out
        let status = tokio::time::timeout(Duration::from_secs(15), peer.wait())
            .await
            .expect("slixmpp exits")
            .expect("a status");
        assert!(status.success(), "slixmpp failed: {status}");
        bob.close().await;
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
        let mut alice = online("alice").await;
        let server = alice.server();
        let items = alice
            .items(&server, None)
            .await
            .expect("online")
            .expect("an answer");
        assert!(
            items.items.iter().any(|item| item.jid == service),
            "the server lists the component: {:?}",
            items.items
        );
        let info = alice
            .info(&service, None)
            .await
            .expect("online")
            .expect("an answer");
        assert!(info
            .identities
            .iter()
            .any(|i| i.category == "conference" && i.type_ == "text"));
        let rooms = alice
            .items(&service, None)
            .await
            .expect("online")
            .expect("an answer");
        assert_eq!(rooms.items.len(), 100, "the example lists 100 rooms");
        for number in [0, 99, 9_999] {
            let room = jid(&format!("room{number}@{service}"));
            let info = alice
                .info(&room, None)
                .await
                .expect("online")
                .expect("an answer");
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
            let answer = alice.info(&room, None).await.expect("online");
            assert_eq!(condition(answer), DefinedCondition::ItemNotFound, "{room}");
        }
        alice.close().await;
    });
}
