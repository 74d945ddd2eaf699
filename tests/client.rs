//! The tokio-xmpp integration without a real server: every way a login fails is said in
//! words, and a session survives what servers and host code do to it (a resumption refused in
//! a form tokio-xmpp cannot read, streams dropped as soon as they come up, a hung server, a
//! panicking dynamic node or policy, a full send queue). Scripted servers on loopback stand in
//! where the failure needs one that speaks XMPP (`tests/client/server.rs`). The sessions
//! against Prosody and ejabberd are in `tests/interop.rs`.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use xmpp_disco::client::{
    AskError, Disco, Login, LoginError, LoginStage, Server, SessionEnd, SessionEvent,
};
use xmpp_disco::xmpp_parsers::disco::DiscoInfoResult;
use xmpp_disco::xmpp_parsers::presence::Presence;
use xmpp_disco::{DynamicNode, Node, QueryError, QueryOptions, RequestContext};

#[path = "client/schedule.rs"]
mod schedule;
#[path = "client/server.rs"]
mod server;
#[path = "client/support.rs"]
mod support;

use server::{Behaviour, Then};
use support::*;

const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
                      xmlns:stream='http://etherx.jabber.org/streams' id='s1' \
                      from='localhost' version='1.0'>";

async fn login_error(login: Login) -> LoginError {
    match login.connect().await {
        Ok(_) => panic!("the login succeeded"),
        Err(error) => error,
    }
}

/// A port on loopback nothing listens on.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    listener.local_addr().expect("an address").port()
}

/// A one-connection server that answers each thing the client says with the next reply, once
/// it has read up to and including the matching `until` text.
async fn scripted(script: Vec<(&'static str, String)>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let port = listener.local_addr().expect("an address").port();
    tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let mut heard = String::new();
        for (until, reply) in script {
            while !heard.contains(until) {
                let mut buffer = [0; 1024];
                match socket.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(read) => heard.push_str(&String::from_utf8_lossy(&buffer[..read])),
                }
            }
            heard.clear();
            if socket.write_all(reply.as_bytes()).await.is_err() {
                return;
            }
        }
        // Hold the connection, silent, until the client goes.
        let mut buffer = [0; 1024];
        while let Ok(1..) = socket.read(&mut buffer).await {}
    });
    port
}

#[test]
fn a_port_nothing_listens_on_is_refused_by_address() {
    runtime().block_on(async {
        let port = closed_port().await;
        let error = login_error(plaintext("127.0.0.1", port)).await;
        assert!(
            matches!(&error, LoginError::Refused { address } if *address == format!("127.0.0.1:{port}")),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!("nothing accepts connections at 127.0.0.1:{port} (connection refused)")
        );
    });
}

#[test]
fn a_host_is_given_by_name_as_well_as_by_address() {
    runtime().block_on(async {
        // `localhost` resolves (to 127.0.0.1 and maybe ::1) and every address refuses: a
        // name is accepted, and what fails is said of the name the user gave.
        let port = closed_port().await;
        let error = login_error(plaintext("localhost", port)).await;
        assert!(
            matches!(&error, LoginError::Refused { address } if *address == format!("localhost:{port}")),
            "{error:?}"
        );
    });
}

#[test]
fn a_name_that_does_not_resolve_is_a_dns_error() {
    runtime().block_on(async {
        // `.invalid` never resolves (RFC 2606).
        let error = login_error(plaintext("xmpp.nonexistent.invalid", 5222)).await;
        assert!(
            matches!(&error, LoginError::Dns { name, .. } if name == "xmpp.nonexistent.invalid"),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .starts_with("cannot find xmpp.nonexistent.invalid in DNS: "),
            "{error}"
        );
    });
}

#[test]
fn a_server_that_never_speaks_times_out_while_connecting() {
    runtime().block_on(async {
        let port = scripted(Vec::new()).await;
        let login = plaintext("127.0.0.1", port).timeout(Duration::from_millis(300));
        let error = login_error(login).await;
        assert!(
            matches!(
                error,
                LoginError::Timeout {
                    stage: LoginStage::Connecting,
                    after
                } if after == Duration::from_millis(300)
            ),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "timed out after 300ms waiting for a connection to the server"
        );
    });
}

#[test]
fn a_server_for_another_domain_says_so() {
    runtime().block_on(async {
        let refusal = "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\
                       </stream:error></stream:stream>";
        let port = scripted(vec![(">", format!("{HEADER}{refusal}"))]).await;
        let error = login_error(plaintext("127.0.0.1", port)).await;
        assert!(
            matches!(&error, LoginError::UnknownDomain { domain, .. } if domain == "localhost"),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!(
                "the server at 127.0.0.1:{port} (plaintext) does not serve the domain localhost"
            )
        );
    });
}

const PLAIN_ONLY: &str = "<stream:features><mechanisms \
                          xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>\
                          </mechanisms></stream:features>";

#[test]
fn refused_credentials_name_the_account_and_the_condition() {
    runtime().block_on(async {
        let failure =
            "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>";
        let port = scripted(vec![
            (">", format!("{HEADER}{PLAIN_ONLY}")),
            ("</auth>", failure.to_owned()),
        ])
        .await;
        let error = login_error(plaintext("127.0.0.1", port)).await;
        assert!(
            matches!(&error, LoginError::BadCredentials { jid, condition }
                if *jid == juliet() && condition == "not-authorized"),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "the server refused the credentials of juliet@localhost (not-authorized)"
        );
    });
}

#[test]
fn a_server_closing_during_authentication_is_said_with_the_stage() {
    runtime().block_on(async {
        let port = scripted(vec![
            (">", format!("{HEADER}{PLAIN_ONLY}")),
            ("</auth>", "</stream:stream>".to_owned()),
        ])
        .await;
        let error = login_error(plaintext("127.0.0.1", port)).await;
        assert!(
            matches!(
                error,
                LoginError::Closed {
                    stage: LoginStage::Authenticating
                }
            ),
            "{error:?}"
        );
    });
}

#[test]
fn a_server_without_starttls_is_refused_when_tls_is_required() {
    runtime().block_on(async {
        let port = scripted(vec![(">", format!("{HEADER}{PLAIN_ONLY}"))]).await;
        let login = Login::new(juliet(), "secret")
            .server(Server::StartTls {
                host: "127.0.0.1".into(),
                port,
            })
            .timeout(Duration::from_secs(5));
        let error = login_error(login).await;
        assert!(matches!(error, LoginError::NoTls), "{error:?}");
    });
}

// ---- Sessions against scripted servers ----

#[test]
fn a_server_refusing_starttls_is_said_with_its_address() {
    runtime().block_on(async {
        let server = server::Server::start(Behaviour {
            refuse_starttls: true,
            ..Behaviour::default()
        })
        .await;
        let login = Login::new(juliet(), "secret")
            .server(Server::StartTls {
                host: "127.0.0.1".into(),
                port: server.port,
            })
            .timeout(Duration::from_secs(5));
        let error = login_error(login).await;
        let address = format!("127.0.0.1:{}", server.port);
        assert!(
            matches!(&error, LoginError::TlsRefused { address: said } if *said == address),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!("the server at {address} refused to start TLS")
        );
    });
}

#[test]
fn the_login_timeout_bounds_the_whole_login_binding_included() {
    runtime().block_on(async {
        // Authentication takes most of the bound, then the server never binds a resource.
        let server = server::Server::start(Behaviour {
            slow_authentication: Some(ms(600)),
            bind: false,
            ..Behaviour::default()
        })
        .await;
        let limit = ms(1_000);
        let started = Instant::now();
        let error = login_error(session(&server, ms(100)).timeout(limit)).await;
        let took = started.elapsed();
        assert!(
            matches!(
                error,
                LoginError::Timeout {
                    stage: LoginStage::Binding,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(
            took < limit + ms(300),
            "the login took {took:?} for a bound of {limit:?}"
        );
    });
}

#[test]
fn a_resumption_refused_without_h_ends_in_a_new_stream_not_a_storm() {
    runtime().block_on(async {
        // ejabberd after a restart: the first stream is dropped, the resumption answered with
        // `<failed/>` without `h`, which xmpp-parsers 0.23 cannot read.
        let server = server::Server::start(Behaviour {
            stream_management: true,
            then: &[Then::Drop, Then::Serve],
            refuse_resumption: true,
            ..Behaviour::default()
        })
        .await;
        let (_disco, mut incoming) = started(session(&server, ms(100))).await;
        let (_, before) = until(&mut incoming, ms(5_000), |event| {
            matches!(
                event,
                SessionEvent::ReconnectFailed(LoginError::NotEstablished)
            )
        })
        .await;
        assert!(
            matches!(before.first(), Some(SessionEvent::Suspended)),
            "{before:?}"
        );
        let refused = Instant::now();
        let (reset, before) = until(&mut incoming, ms(5_000), |event| {
            matches!(event, SessionEvent::Reset { .. })
        })
        .await;
        let step = refused.elapsed();
        let SessionEvent::Reset { jid } = reset else {
            unreachable!()
        };
        assert_eq!(
            jid.to_string(),
            "juliet@localhost/r2",
            "the third connection"
        );
        // The attempt after the refused one waits its turn: 200 ms (the third in a row).
        assert!(
            matches!(
                before.as_slice(),
                [SessionEvent::Reconnecting { attempt: 3, after }] if *after == ms(200)
            ),
            "{before:?}"
        );
        assert!(step < ms(1_200), "a new stream {step:?} after the refusal");
        tokio::time::sleep(ms(500)).await;
        assert_eq!(
            server.resumptions(),
            1,
            "one resumption asked, not hundreds"
        );
        assert_eq!(server.connections(), 3);
    });
}

#[test]
fn the_default_schedule_allows_six_connections_in_a_minute_then_two_a_minute() {
    let (first, max) = (Duration::from_secs(1), Duration::from_secs(30));
    // At 0, 1, 3, 7, 15 and 31 s; then every 30 s.
    assert_eq!(schedule::attempts_within(first, max, ms(60_000)), 6);
    assert_eq!(schedule::attempts_within(first, max, ms(120_000)), 8);
}

#[test]
fn a_server_dropping_every_stream_sees_no_more_connections_than_the_schedule_allows() {
    runtime().block_on(async {
        let server = server::Server::start(Behaviour {
            then: &[Then::Drop],
            ..Behaviour::default()
        })
        .await;
        let window = ms(2_000);
        let first = ms(50);
        let begun = Instant::now();
        let (_disco, _incoming) = started(session(&server, first)).await;
        tokio::time::sleep(window.saturating_sub(begun.elapsed())).await;
        let connections = server.connections();
        // At 0, 50, 150, 350, 750 ms, then every 400 ms (the cap).
        let bound = schedule::attempts_within(first, first * 8, window);
        println!(
            "a server that drops every stream at once: {connections} connections in {window:?} \
             (the schedule allows {bound}; with the default schedule, 6 in the first minute)"
        );
        assert!(connections <= bound, "{connections} > {bound}");
        assert!(
            connections >= bound / 2,
            "the session did reconnect: {connections}"
        );
    });
}

#[test]
fn a_hung_server_is_noticed_within_the_keepalive_bound() {
    runtime().block_on(async {
        let server = server::Server::start(Behaviour {
            stream_management: true,
            then: &[Then::Freeze],
            ..Behaviour::default()
        })
        .await;
        let login = session(&server, ms(100)).keepalive(ms(300), ms(300));
        let (_disco, mut incoming) = started(login).await;
        let silent = Instant::now();
        let (_, before) = until(&mut incoming, ms(5_000), |event| {
            matches!(event, SessionEvent::Suspended)
        })
        .await;
        let noticed = silent.elapsed();
        assert!(before.is_empty(), "{before:?}");
        // The bound runs from the server's last word, just before the session started.
        assert!(
            noticed >= ms(300) && noticed < ms(1_500),
            "noticed after {noticed:?}, bound 600 ms"
        );
    });
}

#[test]
fn a_full_send_queue_does_not_hold_up_a_deadline() {
    runtime().block_on(async {
        // One connection, dropped at once; later ones are refused, so tokio-xmpp's queue fills.
        let server = server::Server::start(Behaviour {
            then: &[Then::Drop],
            accept: Some(1),
            ..Behaviour::default()
        })
        .await;
        let (disco, mut incoming) = started(session(&server, ms(1_000))).await;
        until(&mut incoming, ms(5_000), |event| {
            matches!(event, SessionEvent::Suspended)
        })
        .await;
        for _ in 0..64 {
            disco
                .send(Presence::available())
                .expect("the session is on");
        }
        let asked = Instant::now();
        let options = QueryOptions::default().with_timeout(ms(300));
        let answer = tokio::time::timeout(ms(5_000), disco.query_info(&romeo(), None, options))
            .await
            .expect("the query completes");
        let took = asked.elapsed();
        assert!(
            matches!(answer, Err(AskError::Failed(QueryError::Timeout))),
            "{answer:?}"
        );
        assert!(took < ms(1_000), "the 300 ms deadline fired after {took:?}");
        // The host is told meanwhile too.
        assert!(matches!(
            next_event(&mut incoming, ms(5_000)).await,
            Some(SessionEvent::Reconnecting { .. } | SessionEvent::ReconnectFailed(_))
        ));
    });
}

#[test]
fn a_stalled_server_with_a_full_queue_is_still_noticed_and_given_up_on() {
    runtime().block_on(async {
        // The server stops reading: the connection's buffers fill, then tokio-xmpp's queue,
        // and the stream must still be read (its suspension heard) and the bound kept.
        let server = server::Server::start(Behaviour {
            stream_management: true,
            then: &[Then::Stall],
            accept: Some(1),
            ..Behaviour::default()
        })
        .await;
        let login = session(&server, ms(100))
            .keepalive(ms(300), ms(300))
            .give_up_after(ms(500));
        let (disco, mut incoming) = started(login).await;
        let status = "x".repeat(64 * 1024);
        for _ in 0..256 {
            let mut presence = Presence::available();
            presence.set_status(String::new(), status.clone());
            disco.send(presence).expect("the session is on");
        }
        let stalled = Instant::now();
        let (ended, before) = until(&mut incoming, ms(5_000), |event| {
            matches!(event, SessionEvent::Ended(_))
        })
        .await;
        let took = stalled.elapsed();
        assert!(
            matches!(ended, SessionEvent::Ended(SessionEnd::Lost { .. })),
            "{ended:?}"
        );
        assert!(
            before
                .iter()
                .any(|event| matches!(event, SessionEvent::Suspended)),
            "{before:?}"
        );
        // 600 ms to notice, 500 ms to give up.
        assert!(took < ms(3_000), "ended after {took:?}");
    });
}

/// A node whose code panics when asked.
struct Panicking;

impl DynamicNode for Panicking {
    fn info(&self, _: &RequestContext<'_>) -> Option<DiscoInfoResult> {
        panic!("the host's node failed");
    }
}

const BOOM: &str = "<iq type='get' id='boom-1' from='romeo@localhost/orchard' \
                    to='juliet@localhost/r0'><query xmlns='http://jabber.org/protocol/disco#info' \
                    node='boom'/></iq>";

/// Host code panics in the session: every waiter, the host and later calls learn it at once.
async fn a_host_panic_ends_the_session(install: impl FnOnce(&Disco)) {
    let server = server::Server::start(Behaviour::default()).await;
    let (disco, mut incoming) = started(session(&server, ms(100))).await;
    install(&disco);
    // A query the server never answers: it waits on its (long) deadline.
    let asker = disco.clone();
    let waiting = tokio::spawn(async move {
        asker
            .query_info(&romeo(), None, QueryOptions::default())
            .await
    });
    tokio::time::sleep(ms(100)).await;
    let panicked = Instant::now();
    server.inject(BOOM);
    let (_, before) = until(&mut incoming, ms(2_000), |event| {
        matches!(event, SessionEvent::Ended(SessionEnd::Panicked))
    })
    .await;
    assert!(
        before
            .iter()
            .all(|event| matches!(event, SessionEvent::Disco(_))),
        "{before:?}"
    );
    assert!(next_event(&mut incoming, ms(1_000)).await.is_none());
    let answer = tokio::time::timeout(ms(1_000), waiting)
        .await
        .expect("the waiter is not left behind")
        .expect("the asking task ran");
    assert!(
        matches!(answer, Err(AskError::Ended(SessionEnd::Panicked))),
        "{answer:?}"
    );
    assert!(panicked.elapsed() < ms(1_500));
    let later = disco
        .query_info(&romeo(), None, QueryOptions::default())
        .await;
    assert!(matches!(later, Err(AskError::Ended(SessionEnd::Panicked))));
    assert_eq!(disco.send(Presence::available()), Err(SessionEnd::Panicked));
    let closed = tokio::time::timeout(ms(1_000), disco.close())
        .await
        .expect("close returns at once");
    assert_eq!(closed, Ok(()));
}

#[test]
fn a_panicking_dynamic_node_leaves_no_waiter_behind() {
    runtime().block_on(a_host_panic_ends_the_session(|disco| {
        disco
            .with_machine(|machine| machine.mount("boom", Node::dynamic(Panicking)))
            .expect("a valid node name");
    }));
}

#[test]
fn a_panicking_policy_leaves_no_waiter_behind() {
    runtime().block_on(a_host_panic_ends_the_session(|disco| {
        disco.with_machine(|machine| {
            machine.set_policy(|_: &RequestContext<'_>| panic!("the host's policy failed"));
        });
    }));
}
