//! The session and the host's presence (XEP-0115 §6.1, XEP-0390), against a scripted server
//! that records every presence it receives: available presences carry both `<c/>`, a change
//! of the root's capabilities sends the broadcast presence again once, nothing is sent before
//! the host's first presence or after its unavailable one, directed presences carry caps, a
//! new stream gets the presence again, and `manage_presence(false)` leaves presence alone.

#[path = "client/server.rs"]
mod server;
#[path = "client/support.rs"]
mod support;

use std::time::Duration;

use server::Behaviour;
use support::*;
use xmpp_disco::client::{Disco, Incoming, Login, SessionEvent};
use xmpp_disco::xmpp_parsers::jid::Jid;
use xmpp_disco::xmpp_parsers::presence::{Presence, Show, Type as PresenceType};
use xmpp_disco::Config;

const LEGACY: &str = "http://jabber.org/protocol/caps";
const MODERN: &str = "urn:xmpp:caps";

/// A login whose machine announces its capabilities.
fn announcing(server: &server::Server) -> Login {
    let mut config = Config::default();
    config.caps_node = Some("https://example.org/juliet".into());
    session(server, ms(100)).config(config)
}

/// The presences the server received so far.
fn presences(server: &server::Server) -> Vec<String> {
    server
        .received("<presence")
        .into_iter()
        .map(|(_, presence)| presence)
        .collect()
}

/// Waits until the server has received `count` presences (and a little more, to see that no
/// other follows), and returns them.
async fn settled(server: &server::Server, count: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while presences(server).len() < count && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(ms(10)).await;
    }
    tokio::time::sleep(ms(200)).await;
    presences(server)
}

/// The `ver` of the XEP-0115 `<c/>` in `presence`.
fn ver(presence: &str) -> Option<String> {
    let at = presence.find(LEGACY)?;
    let tag = &presence[presence[..at].rfind('<')?..];
    server::attribute(tag, "ver")
}

async fn own_ver(disco: &Disco) -> String {
    disco
        .with_machine(|machine| machine.caps_announcement())
        .expect("caps are on")
        .ver()
}

fn item(jid: &str) -> xmpp_disco::xmpp_parsers::disco::Item {
    xmpp_disco::xmpp_parsers::disco::Item {
        jid: Jid::new(jid).expect("a JID"),
        node: None,
        name: None,
    }
}

/// Reads the host's side of the stream in the background.
fn drain(mut incoming: Incoming) {
    tokio::spawn(async move { while incoming.next().await.is_some() {} });
}

/// Registers `feature` at the root, in a `with_machine` call of its own.
fn register(disco: &Disco, feature: &str) {
    disco.with_machine(|machine| {
        machine
            .root_mut()
            .register_feature(feature)
            .expect("a feature")
    });
}

/// A session that sent an available presence and then lost its connection, once `event` (the
/// stream coming back) is seen.
async fn dropped_after_presence(
    server: &server::Server,
    event: fn(&SessionEvent) -> bool,
) -> Disco {
    let (disco, mut incoming) = started(announcing(server)).await;
    disco
        .send(Presence::available())
        .expect("the session lives");
    assert_eq!(settled(server, 1).await.len(), 1);
    server.control(server::Control::Drop);
    until(&mut incoming, Duration::from_secs(5), event).await;
    disco
}

#[test]
fn available_presences_carry_both_caps_and_an_edit_sends_the_broadcast_once() {
    runtime().block_on(async {
        let server = server::Server::start(Behaviour::default()).await;
        let (disco, incoming) = started(announcing(&server)).await;
        drain(incoming);
        // Edits before the host's first presence send nothing.
        disco.with_machine(|machine| {
            let mut root = machine.root_mut();
            root.register_feature("urn:xmpp:time").expect("a feature");
            root.push_item(item("juliet@localhost")).expect("an item");
        });
        assert!(settled(&server, 0).await.is_empty());

        let mut away = Presence::available().with_show(Show::Away).with_priority(5);
        away.set_status("", "in the garden");
        disco.send(away).expect("the session lives");
        let sent = settled(&server, 1).await;
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert!(
            sent[0].contains(LEGACY) && sent[0].contains(MODERN),
            "{sent:?}"
        );
        assert_eq!(ver(&sent[0]), Some(own_ver(&disco).await));

        // A burst of edits in one call: one presence, the same show, status and priority, the
        // new hashes.
        disco.with_machine(|machine| {
            let mut root = machine.root_mut();
            root.register_feature("urn:xmpp:ping").expect("a feature");
            root.register_feature("urn:xmpp:receipts")
                .expect("a feature");
            root.unregister_feature("urn:xmpp:time").expect("a feature");
        });
        let sent = settled(&server, 2).await;
        assert_eq!(sent.len(), 2, "{sent:?}");
        let again = &sent[1];
        assert!(again.contains("<show>away</show>") && again.contains("in the garden"));
        assert!(again.contains("<priority>5</priority>"), "{again}");
        assert_eq!(ver(again), Some(own_ver(&disco).await));
        assert_ne!(ver(again), ver(&sent[0]));

        // An edit the hashes do not cover (one more item) sends nothing.
        disco.with_machine(|machine| {
            machine
                .root_mut()
                .push_item(item("juliet@localhost/balcony"))
                .expect("an item")
        });
        let after_items = settled(&server, 2).await;
        assert_eq!(after_items.len(), 2, "{after_items:#?}");

        // Directed presence (a room joined) carries the caps too, and is not sent again.
        let room = Jid::new("room@muc.localhost/juliet").expect("a JID");
        disco
            .send(Presence::available().with_to(room))
            .expect("the session lives");
        let sent = settled(&server, 3).await;
        assert!(sent[2].contains("room@muc.localhost") && sent[2].contains(LEGACY));

        // After the unavailable broadcast: the caps are not added, and edits send nothing.
        disco
            .send(Presence::new(PresenceType::Unavailable))
            .expect("the session lives");
        let sent = settled(&server, 4).await;
        assert!(!sent[3].contains(LEGACY), "{}", sent[3]);
        register(&disco, "urn:xmpp:time");
        assert_eq!(settled(&server, 4).await.len(), 4);
        disco.close().await.expect("everything went out");
    });
}

#[test]
fn a_presence_with_caps_of_its_own_is_not_doubled_and_unmanaged_presence_is_left_alone() {
    runtime().block_on(async {
        let server = server::Server::start(Behaviour::default()).await;
        let (disco, incoming) = started(announcing(&server)).await;
        drain(incoming);
        // The host put XEP-0115's <c/> there itself: only XEP-0390's is added.
        disco.send(disco.presence()).expect("the session lives");
        let sent = settled(&server, 1).await;
        assert_eq!(sent[0].matches(LEGACY).count(), 1, "{}", sent[0]);
        assert_eq!(sent[0].matches(MODERN).count(), 1, "{}", sent[0]);
        disco.close().await.expect("everything went out");

        let server = server::Server::start(Behaviour::default()).await;
        let (disco, incoming) = started(announcing(&server).manage_presence(false)).await;
        drain(incoming);
        disco
            .send(Presence::available())
            .expect("the session lives");
        register(&disco, "urn:xmpp:ping");
        let sent = settled(&server, 1).await;
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert!(!sent[0].contains(LEGACY), "{}", sent[0]);
        disco.close().await.expect("everything went out");
    });
}

#[test]
fn a_new_stream_gets_the_broadcast_presence_again_and_a_resumed_one_does_not() {
    runtime().block_on(async {
        // Without stream management, a dropped connection comes back as a new stream.
        let server = server::Server::start(Behaviour::default()).await;
        let disco =
            dropped_after_presence(&server, |event| matches!(event, SessionEvent::Reset { .. }))
                .await;
        let sent = settled(&server, 2).await;
        assert_eq!(sent.len(), 2, "{sent:?}");
        let on = server.received("<presence");
        assert_eq!(on[1].0, 1, "on the second connection");
        assert!(on[1].1.contains(LEGACY));
        disco.close().await.expect("everything went out");

        // With stream management the stream is resumed: the server kept the presence.
        let server = server::Server::start(Behaviour {
            stream_management: true,
            ..Behaviour::default()
        })
        .await;
        let disco =
            dropped_after_presence(&server, |event| matches!(event, SessionEvent::Resumed)).await;
        assert_eq!(settled(&server, 1).await.len(), 1);
        disco.close().await.expect("everything went out");
    });
}

#[test]
fn a_with_machine_closure_may_use_its_own_handle() {
    runtime().block_on(async {
        let server = server::Server::start(Behaviour::default()).await;
        let (disco, incoming) = started(announcing(&server)).await;
        drain(incoming);
        let handle = disco.clone();
        let inside = tokio::time::timeout(Duration::from_secs(2), async move {
            handle.with_machine(|machine| {
                machine
                    .root_mut()
                    .register_feature("urn:xmpp:ping")
                    .expect("a feature");
                let jid = handle.jid();
                let stats = handle.stats();
                let presence = handle.presence();
                handle.send(presence).expect("the session lives");
                (jid, stats.requests_sent)
            })
        })
        .await
        .expect("no deadlock");
        assert_eq!(inside.0, disco.jid());
        // The presence sent inside carried the hashes of before the edit; the edit sends it
        // again with the new ones, and only them.
        let sent = settled(&server, 2).await;
        assert_eq!(sent.len(), 2, "{sent:?}");
        assert_eq!(ver(&sent[1]), Some(own_ver(&disco).await));
        assert_eq!(sent[1].matches(LEGACY).count(), 1, "{}", sent[1]);
        disco.close().await.expect("everything went out");
    });
}
