//! What the session accepted, it delivers, on the stream it was meant for (against a scripted
//! server that records every stanza with the connection it came on): a stanza sent right
//! before `close` reaches the server; a send racing the end is delivered or said unsent; a
//! close that cannot send everything gives up at its limit and says how much stayed; after
//! a new stream, the session's own stanzas for the old one (a query whose waiter failed, the
//! answers to requests that waited for room) do not go out, and the host's do.

#[path = "client/server.rs"]
mod server;
#[path = "client/support.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use server::Behaviour;
use support::*;
use xmpp_disco::client::{AskError, SessionEvent};
use xmpp_disco::xmpp_parsers::message::Message;
use xmpp_disco::xmpp_parsers::presence::Presence;
use xmpp_disco::{QueryError, QueryOptions};

fn message(body: &str) -> Message {
    Message::chat(Some(romeo())).with_body("".into(), body.to_owned())
}

#[test]
fn a_stanza_sent_right_before_close_reaches_the_server() {
    runtime().block_on(async {
        let server = server::Server::start(Behaviour::default()).await;
        let (disco, _incoming) = started(session(&server, ms(100))).await;
        disco
            .send(message("a last word"))
            .expect("the session lives");
        disco.close().await.expect("everything went out");
        let received = server.received("a last word");
        assert_eq!(received.len(), 1, "the message reached the server");
        assert!(
            disco.send(message("too late")).is_err(),
            "nothing after the close"
        );
    });
}

#[test]
fn a_send_racing_the_end_is_delivered_or_said_unsent() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let server = server::Server::start(Behaviour::default()).await;
        let (disco, _incoming) = started(session(&server, ms(100))).await;
        let accepted = Arc::new(AtomicUsize::new(0));
        let sender = {
            let (disco, accepted) = (disco.clone(), Arc::clone(&accepted));
            tokio::spawn(async move {
                for n in 0.. {
                    if disco.send(message(&format!("racing {n}"))).is_err() {
                        return;
                    }
                    accepted.fetch_add(1, Ordering::SeqCst);
                    if n % 16 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        };
        tokio::time::sleep(ms(20)).await;
        // The server reads everything: the close ends as soon as the last stanza left, far
        // within its limit.
        let closed = tokio::time::timeout(Duration::from_secs(2), disco.close())
            .await
            .expect("the close does not wait for its limit while the server reads");
        let unsent = match closed {
            Ok(()) => 0,
            Err(unsent) => unsent.stanzas,
        };
        sender.await.expect("the sender ends");
        tokio::time::sleep(ms(100)).await;
        let delivered = server.received("racing").len();
        let accepted = accepted.load(Ordering::SeqCst);
        assert!(accepted > 0);
        assert_eq!(
            delivered + unsent,
            accepted,
            "every accepted stanza is delivered or said unsent"
        );
    });
}

#[test]
fn a_close_the_server_does_not_read_says_how_many_stanzas_stayed_unsent() {
    runtime().block_on(async {
        let server = server::Server::start(Behaviour::default()).await;
        let (disco, _incoming) = started(session(&server, ms(100))).await;
        server.control(server::Control::Read(false));
        tokio::time::sleep(ms(50)).await;
        // Far more than the socket buffers and tokio-xmpp's queue hold.
        let body = "x".repeat(64 * 1024);
        let given = 256;
        for _ in 0..given {
            disco.send(message(&body)).expect("the session lives");
        }
        let began = tokio::time::Instant::now();
        let unsent = disco
            .close()
            .await
            .expect_err("a server that reads nothing cannot have got them all");
        assert!(
            unsent.stanzas > 0 && unsent.stanzas < given,
            "some left, the rest are counted: {unsent:?}"
        );
        assert!(
            began.elapsed() < Duration::from_secs(12),
            "the close gives up at its limit, {:?}",
            began.elapsed()
        );
    });
}

#[test]
fn after_a_new_stream_the_old_streams_own_stanzas_stay_behind_and_the_hosts_go() {
    runtime().block_on(async {
        // Without stream management, a dropped connection comes back as a new stream.
        let server = server::Server::start(Behaviour::default()).await;
        let (disco, mut incoming) = started(session(&server, ms(300))).await;
        disco
            .send(Presence::available())
            .expect("the session lives");
        tokio::time::sleep(ms(50)).await;
        server.control(server::Control::Drop);
        until(&mut incoming, Duration::from_secs(2), |event| {
            matches!(event, SessionEvent::Suspended)
        })
        .await;
        // While suspended: a query (its request waits for a stream) and a message of the
        // host's.
        let asking = {
            let disco = disco.clone();
            tokio::spawn(async move {
                disco
                    .query_info(&romeo(), None, QueryOptions::default())
                    .await
            })
        };
        tokio::time::sleep(ms(10)).await;
        disco
            .send(message("written while away"))
            .expect("the session lives");
        until(&mut incoming, Duration::from_secs(5), |event| {
            matches!(event, SessionEvent::Reset { .. })
        })
        .await;
        let failed = asking.await.expect("the query ends");
        assert!(
            matches!(failed, Err(AskError::Failed(QueryError::Disconnected))),
            "{failed:?}"
        );
        tokio::time::sleep(ms(200)).await;
        // The host's message and presence went out on the new stream; the query's request,
        // whose id means nothing there, did not go anywhere.
        let on_new: Vec<String> = server
            .received("<")
            .into_iter()
            .filter(|(connection, _)| *connection == 1)
            .map(|(_, stanza)| stanza)
            .collect();
        assert!(
            on_new.iter().any(|s| s.contains("written while away")),
            "{on_new:#?}"
        );
        assert!(
            on_new.iter().any(|s| s.starts_with("<presence")),
            "{on_new:#?}"
        );
        assert!(
            server.received("disco#info").is_empty(),
            "a request of the old stream went out: {:#?}",
            server.received("disco#info")
        );
        disco.close().await.expect("everything went out");
    });
}

#[test]
fn requests_waiting_for_room_when_the_stream_is_replaced_go_unanswered() {
    runtime().block_on(async {
        // With stream management, what waits counts until the server acknowledges it; the
        // server refuses to resume, so the dropped connection comes back as a new stream.
        let behaviour = Behaviour {
            stream_management: true,
            refuse_resumption: true,
            ..Behaviour::default()
        };
        let server = server::Server::start(behaviour).await;
        let login = session(&server, ms(300)).backlog_limit(2);
        let (disco, mut incoming) = started(login).await;
        tokio::time::sleep(ms(100)).await;
        server.control(server::Control::Read(false));
        server.control(server::Control::Flood(20));
        until_taken(&disco, 20, Duration::from_secs(5)).await;
        let before = disco.stats();
        assert!(before.requests_waiting > 0, "{before:?}");
        server.control(server::Control::Drop);
        until(&mut incoming, Duration::from_secs(5), |event| {
            matches!(event, SessionEvent::Reset { .. })
        })
        .await;
        tokio::time::sleep(ms(200)).await;
        // The waiting requests were the old stream's: none is answered on the new one.
        let after = disco.stats();
        assert_eq!(after.requests_waiting, 0, "{after:?}");
        assert_eq!(
            (
                after.requests_answered,
                after.requests_shed - before.requests_shed
            ),
            (before.requests_answered, before.requests_waiting),
            "{after:?}"
        );
        // The new stream's requests are answered.
        server.control(server::Control::Flood(3));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while disco.stats().requests_answered < before.requests_answered + 3 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{:?}",
                disco.stats()
            );
            tokio::time::sleep(ms(20)).await;
        }
        disco.close().await.expect("everything went out");
    });
}
