//! A flood of disco requests against a session whose server stops reading: what waits to be
//! sent stays within `Login::backlog_limit`, and the requests waiting for room within 16
//! times that, so the process's resident memory grows by a bounded amount; a query's deadline
//! still fires on time; once the server reads again the waiting requests are answered and
//! the session answers again. The same flood with the server reading is the control, after
//! bursts of up to 16 times the limit, which are answered in full.
//!
//! One test in its own binary: it counts the live bytes of the process's heap (a counting
//! allocator), and reports its resident memory (`/proc/self/statm`) beside them.
//! `XMPP_DISCO_FLOOD=200000 cargo test --release --features tokio-xmpp --test client_flood --
//! --nocapture` runs the 200,000 requests (20,000 by default).

#[path = "client/memory.rs"]
mod memory;
#[path = "client/server.rs"]
mod server;
#[path = "client/support.rs"]
mod support;

use std::time::Duration;

use memory::{live, resident};
use server::{Behaviour, Control};
use support::*;
use xmpp_disco::client::{AskError, Disco, Incoming};
use xmpp_disco::{QueryError, QueryOptions, Stats};

/// A root whose answer weighs what a real client's does (about 3 KiB).
fn heavy_root(disco: &Disco) {
    disco.with_machine(|machine| {
        let mut root = machine.root_mut();
        for n in 0..60 {
            root.register_feature(format!("urn:xmpp:example:feature-number-{n}:0"))
                .expect("a feature");
        }
    });
}

fn drain(mut incoming: Incoming) {
    tokio::spawn(async move { while incoming.next().await.is_some() {} });
}

/// The limit the sessions run with (`Login::backlog_limit`'s default).
const LIMIT: usize = 64;

/// How many disco requests wait for room at that limit (16 per stanza of it).
const WAITING: u64 = 16 * LIMIT as u64;

/// Waits until no request waits and every answer reached the server; the stats then.
async fn settled(server: &server::Server, disco: &Disco) -> Stats {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let stats = disco.stats();
        if stats.requests_waiting == 0 && server.results() >= stats.requests_answered as usize {
            return stats;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the backlog drains: {stats:?}"
        );
        tokio::time::sleep(ms(20)).await;
    }
}

/// What one flood did: requests answered and shed, and how much the heap and the resident
/// memory grew while it was taken.
struct Flooded {
    answered: u64,
    shed: u64,
    /// Waiting for room when the flood was taken.
    waiting: u64,
    heap: usize,
    resident: usize,
}

impl std::fmt::Display for Flooded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} answered, {} shed, {} waiting; live heap grew by {} KiB, resident memory by {} \
             KiB",
            self.answered,
            self.shed,
            self.waiting,
            self.heap / 1024,
            self.resident / 1024
        )
    }
}

/// Writes `count` requests to the session, and measures while it takes them.
async fn flooded(server: &server::Server, disco: &Disco, count: usize) -> Flooded {
    let (heap_before, resident_before) = (live(), resident());
    let before = disco.stats();
    server.control(Control::Flood(count));
    until_taken(
        disco,
        requests_taken(&before) + count as u64,
        Duration::from_secs(600),
    )
    .await;
    let after = disco.stats();
    Flooded {
        answered: after.requests_answered - before.requests_answered,
        shed: after.requests_shed - before.requests_shed,
        waiting: after.requests_waiting,
        heap: live().saturating_sub(heap_before),
        resident: resident().saturating_sub(resident_before),
    }
}

/// A session whose answers weigh what a real client's do, with the limit `LIMIT`.
async fn flood_target(server: &server::Server) -> Disco {
    let login = session(server, ms(100)).backlog_limit(LIMIT);
    let (disco, incoming) = started(login).await;
    drain(incoming);
    heavy_root(&disco);
    tokio::time::sleep(ms(200)).await;
    disco
}

#[test]
fn a_flood_against_a_server_that_stops_reading_costs_bounded_memory() {
    let count: usize = std::env::var("XMPP_DISCO_FLOOD")
        .ok()
        .and_then(|count| count.parse().ok())
        .unwrap_or(20_000);
    runtime().block_on(async {
        let behaviour = Behaviour {
            stream_management: true,
            record: false,
            ..Behaviour::default()
        };

        // The server stops reading.
        let server = server::Server::start(behaviour).await;
        let disco = flood_target(&server).await;
        server.control(Control::Read(false));
        // A query asked meanwhile: its request waits behind the full backlog, and its
        // deadline fires on time.
        let asked = tokio::time::Instant::now();
        let asking = {
            let disco = disco.clone();
            tokio::spawn(async move {
                let options = QueryOptions::default().with_timeout(Duration::from_secs(2));
                let outcome = disco.query_info(&romeo(), None, options).await;
                (outcome, asked.elapsed())
            })
        };
        let stalled = flooded(&server, &disco, count).await;
        println!("server not reading, {count} requests: {stalled}");
        assert!(stalled.shed > 0, "the flood reached the limit");
        assert_eq!(
            stalled.waiting, WAITING,
            "as many requests wait as the limit allows"
        );
        // Bounded: as many requests again, the server still not reading, and the heap does not
        // grow with them (what waits was at its limit already).
        let more = flooded(&server, &disco, count).await;
        println!("server not reading, {count} more: {more}");
        assert_eq!(
            (more.answered, more.waiting),
            (0, WAITING),
            "nothing answered past the limit, nothing more waiting"
        );
        assert!(
            more.heap < 1 << 20,
            "the heap grew by {} KiB more with the second flood",
            more.heap / 1024
        );
        let (outcome, after) = asking.await.expect("the query ends");
        assert!(
            matches!(outcome, Err(AskError::Failed(QueryError::Timeout))),
            "{outcome:?}"
        );
        assert!(
            after < Duration::from_millis(2_500),
            "the deadline fired after {after:?}"
        );
        // And what the limit's worth of answers and waiting requests weighs is a fraction of
        // the flood's: the answers as element trees, kept until the server acknowledges them,
        // tens of KiB each; the requests about half a KiB each.
        let bound = LIMIT * (128 << 10);
        assert!(
            stalled.heap < bound,
            "the heap grew by {} KiB (bound {} KiB)",
            stalled.heap / 1024,
            bound / 1024
        );
        // The server reads again: what waited goes, the waiting requests are answered, and
        // new requests are answered again.
        let answered = disco.stats().requests_answered;
        server.control(Control::Read(true));
        let drained = settled(&server, &disco).await;
        assert_eq!(
            drained.requests_answered - answered,
            WAITING,
            "every waiting request answered"
        );
        tokio::time::sleep(ms(100)).await;
        let again = flooded(&server, &disco, 10).await;
        assert_eq!(
            (again.answered, again.shed),
            (10, 0),
            "answered again: {again}"
        );
        disco.close().await.expect("everything went out");

        // The control: the server reads all along. A burst many times the limit (a room
        // joined, whose occupants' clients all ask what we are) is answered in full; a flood
        // is bounded as above.
        let server = server::Server::start(behaviour).await;
        let disco = flood_target(&server).await;
        for burst in [LIMIT + 36, 8 * LIMIT, WAITING as usize] {
            let before = disco.stats().requests_answered;
            let taken = flooded(&server, &disco, burst).await;
            println!("server reading, a burst of {burst} requests: {taken}");
            let after = settled(&server, &disco).await;
            assert_eq!(
                (after.requests_shed, after.requests_answered - before),
                (0, burst as u64),
                "a burst of {burst}: every request answered"
            );
        }
        let reading = flooded(&server, &disco, count).await;
        println!("server reading, {count} requests: {reading}");
        assert!(
            reading.heap < bound,
            "the heap grew by {} KiB (bound {} KiB)",
            reading.heap / 1024,
            bound / 1024
        );
        disco.close().await.expect("everything went out");
    });
}
