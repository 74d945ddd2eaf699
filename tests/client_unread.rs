//! A peer's flood of messages against a host that does not read `Incoming`: the session stops
//! reading the stream at `Login::incoming_limit` unread events, so the process's heap grows by
//! a bounded amount instead of holding the whole flood; deadlines and a close still work
//! meanwhile; once the host reads, every message arrives, in order.
//!
//! One test in its own binary: it counts the live bytes of the process's heap.

#[path = "client/memory.rs"]
mod memory;
#[path = "client/server.rs"]
mod server;
#[path = "client/support.rs"]
mod support;

use std::time::Duration;

use memory::live;
use server::{Behaviour, Control};
use support::*;
use tokio_xmpp::Stanza;
use xmpp_disco::client::{AskError, SessionEvent};
use xmpp_disco::xmpp_parsers::message::Message;
use xmpp_disco::{QueryError, QueryOptions};

/// The limit the session runs with.
const LIMIT: usize = 64;

/// Messages in the flood: far more than the limit, tokio-xmpp's queue and the socket buffers
/// hold together.
const FLOOD: usize = 20_000;

/// The number in a flood message's body.
fn number(message: &Message) -> Option<usize> {
    let (_, body) = message.get_best_body(vec![])?;
    body.strip_prefix("flood ")?.parse().ok()
}

#[test]
fn a_host_that_does_not_read_holds_back_the_stream_not_the_heap() {
    runtime().block_on(async {
        let behaviour = Behaviour {
            record: false,
            ..Behaviour::default()
        };
        let server = server::Server::start(behaviour).await;
        let login = session(&server, ms(100)).incoming_limit(LIMIT);
        let (disco, mut incoming) = started(login).await;
        tokio::time::sleep(ms(100)).await;

        // The host reads nothing while the flood comes.
        let before = live();
        server.control(Control::Messages(FLOOD));
        tokio::time::sleep(ms(500)).await;
        let grown = live().saturating_sub(before);
        // The session holds about LIMIT messages, parsed (under 1 KiB each), and tokio-xmpp
        // its queue of 16 (72 KiB measured); without the limit, the heap grew by 3.2 MiB in
        // these 500 ms, and on with the flood.
        let bound = 1 << 20;
        assert!(
            grown < bound,
            "the heap grew by {} KiB while the host read nothing (bound {} KiB)",
            grown / 1024,
            bound / 1024
        );

        // The session is not stuck meanwhile: a query's deadline fires on time (its reply,
        // behind the flood, cannot be read yet).
        let asked = tokio::time::Instant::now();
        let options = QueryOptions::default().with_timeout(ms(300));
        let outcome = disco.query_info(&romeo(), None, options).await;
        assert!(
            matches!(outcome, Err(AskError::Failed(QueryError::Timeout))),
            "{outcome:?}"
        );
        assert!(asked.elapsed() < ms(1_000), "{:?}", asked.elapsed());
        assert!(
            live().saturating_sub(before) < bound,
            "the heap still holds only what the limit allows"
        );

        // The host reads: every message arrives, once, in order.
        let mut next = 0;
        while next < FLOOD {
            match next_event(&mut incoming, Duration::from_secs(10)).await {
                Some(SessionEvent::Stanza(Stanza::Message(message))) => {
                    assert_eq!(number(&message), Some(next), "in order, none lost");
                    next += 1;
                }
                Some(_) => {}
                None => panic!("the session ended after {next} messages"),
            }
        }
        disco.close().await.expect("everything went out");
    });
}
