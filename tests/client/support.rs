//! What the session tests share: logins to loopback servers, a runtime, and waiting for
//! events within a bound.

#![allow(dead_code)]

use std::time::Duration;

use xmpp_disco::client::{Disco, Incoming, Login, Server, SessionEvent};
use xmpp_disco::xmpp_parsers::jid::{BareJid, Jid};
use xmpp_disco::Stats;

use super::server;

pub fn juliet() -> BareJid {
    BareJid::new("juliet@localhost").expect("a valid JID")
}

pub fn plaintext(host: &str, port: u16) -> Login {
    Login::new(juliet(), "secret")
        .server(Server::Plaintext {
            host: host.into(),
            port,
        })
        .timeout(Duration::from_secs(5))
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

pub const fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// A session login to a scripted server, with a fast reconnection schedule: `first`, doubling,
/// up to eight times `first`.
pub fn session(server: &server::Server, first: Duration) -> Login {
    plaintext("127.0.0.1", server.port).reconnect_backoff(first, first * 8)
}

pub async fn started(login: Login) -> (Disco, Incoming) {
    match login.connect().await {
        Ok(session) => session,
        Err(error) => panic!("the session did not start: {error}"),
    }
}

/// The next event, within `limit`.
pub async fn next_event(incoming: &mut Incoming, limit: Duration) -> Option<SessionEvent> {
    tokio::time::timeout(limit, incoming.next())
        .await
        .unwrap_or_else(|_| panic!("no event within {limit:?}"))
}

/// Reads events until one matches, within `limit`; returns it with the events before it.
pub async fn until(
    incoming: &mut Incoming,
    limit: Duration,
    wanted: impl Fn(&SessionEvent) -> bool,
) -> (SessionEvent, Vec<SessionEvent>) {
    let deadline = tokio::time::Instant::now() + limit;
    let mut before = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, incoming.next()).await {
            Ok(Some(event)) if wanted(&event) => return (event, before),
            Ok(Some(event)) => before.push(event),
            Ok(None) => panic!("the session ended first; before: {before:?}"),
            Err(_) => panic!("nothing wanted within {limit:?}; before: {before:?}"),
        }
    }
}

pub fn romeo() -> Jid {
    Jid::new("romeo@localhost/orchard").expect("a valid JID")
}

/// The disco requests a session took: answered, shed, or waiting for room.
pub fn requests_taken(stats: &Stats) -> u64 {
    stats.requests_answered + stats.requests_shed + stats.requests_waiting
}

/// Waits, within `limit`, until the session has taken `count` disco requests in all.
pub async fn until_taken(disco: &Disco, count: u64, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let stats = disco.stats();
        if requests_taken(&stats) >= count {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{stats:?}");
        tokio::time::sleep(ms(20)).await;
    }
}
