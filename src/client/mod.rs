//! Service discovery for a [tokio-xmpp](https://docs.rs/tokio-xmpp/6) client session, in a few
//! lines (cargo feature `tokio-xmpp`).
//!
//! [`Login::connect`] logs in once and spawns a task that owns tokio-xmpp's `StanzaStream` and
//! drives a [`DiscoMachine`](crate::DiscoMachine) from it: every incoming IQ goes to the
//! machine, what it emits is sent, its timers run on tokio's clock. It returns two halves:
//!
//! * [`Disco`], a cloneable handle for any task: awaitable [`query_info`](Disco::query_info)
//!   and [`query_items`](Disco::query_items) (cached and aliased as the machine does; dropping
//!   the future cancels the query), [`with_machine`](Disco::with_machine) to configure the
//!   responder, which answers on the stream by itself, [`send`](Disco::send) for the host's own
//!   stanzas, [`close`](Disco::close);
//! * [`Incoming`], the host's side of the stream: stanzas that are not the machine's, the
//!   machine's reports nobody awaits (deferred requests, node changes), and the lifecycle.
//!
//! # The stream's lifecycle
//!
//! tokio-xmpp reconnects a lost stream and, where the server supports it, resumes it
//! (XEP-0198); the session decides when and how (see below). It follows what really happened,
//! which tokio-xmpp's `Client` does not say:
//!
//! | tokio-xmpp's stream | the machine | the host hears |
//! |---|---|---|
//! | connection lost, or the server silent past [`Login::keepalive`]'s bound | nothing: queries wait, each within its deadline | [`SessionEvent::Suspended`] |
//! | a reconnection attempt is due | nothing | [`SessionEvent::Reconnecting`], with its pause |
//! | a reconnection attempt failed | nothing | [`SessionEvent::ReconnectFailed`], in words |
//! | resumed without loss | nothing: cache and queries in flight kept | [`SessionEvent::Resumed`] |
//! | a new stream | [`stream_destroyed`](crate::DiscoMachine::stream_destroyed): queries in flight fail with `Disconnected`, cache cleared | [`SessionEvent::Reset`]: the session sends the host's broadcast presence again; rooms are the host's to join again |
//! | lost longer than [`Login::give_up_after`] | `stream_destroyed` | [`SessionEvent::Ended`] with [`SessionEnd::Lost`] |
//! | host code panicked in the session | not called again | [`SessionEvent::Ended`] with [`SessionEnd::Panicked`]; every waiter fails with it |
//!
//! # Reconnecting politely
//!
//! Every connection attempt after the first waits its turn on one schedule
//! ([`Login::reconnect_backoff`]: none after a stream that held, then 1 s doubling up to 30 s),
//! whatever ended the one before: a refused login, a stream that broke while tokio-xmpp
//! negotiated it, or one that broke right after. A server that drops every stream at once sees
//! at most 6 connections in the first minute and 2 a minute after. A connection that never
//! became a stream is followed by one without stream management, so that a resumption the
//! server refused cannot be asked again: tokio-xmpp 6.0.0 with xmpp-parsers 0.23 does not read
//! ejabberd's `<failed/>` without `h` (what it sends after a restart) and would otherwise
//! resume, fail and reconnect as fast as the network allows. Checked against tokio-xmpp 6.0.0,
//! Prosody 0.12 and ejabberd 23 (`tests/interop.rs`), and scripted servers
//! (`tests/client.rs`).
//!
//! The session's own work never waits on the network: a stanza that finds tokio-xmpp's queue
//! full (it takes 16 while disconnected) waits in the session's backlog and is offered again,
//! so no deadline, stream event or command waits for a connection.
//!
//! # What the session sends on its own
//!
//! Besides the machine's queries and answers, and `service-unavailable` for IQ requests nobody
//! reads from [`Incoming`]: the host's presence, for entity capabilities (XEP-0115 §6.1,
//! XEP-0390), unless [`Login::manage_presence`] turns it off.
//!
//! * Every available presence the host [sends](Disco::send), broadcast or directed (a room
//!   join), carries the current XEP-0115 `<c/>` and, where configured, XEP-0390's; one the host
//!   put there itself is not doubled. Unavailable presences get none.
//! * From the host's first available broadcast presence to its unavailable one, a change of
//!   the root that changes the hashes sends the host's last broadcast presence again (its
//!   show, status, priority and other payloads as the host sent them) with the new `<c/>`:
//!   once per [`with_machine`](Disco::with_machine) call, however many edits it made; an edit
//!   the hashes do not cover sends nothing. Directed presences are not sent again: the session
//!   cannot tell which still stand (a join refused, a room left), and a presence sent again to
//!   a room is a status change it tells every occupant; rooms see the new hashes with the
//!   host's next presence to them.
//! * After a new stream ([`SessionEvent::Reset`]) the server has forgotten the presence: the
//!   last broadcast presence goes out again, on every server alike. After
//!   [`SessionEvent::Resumed`], nothing: the server kept it.
//!
//! # What the session bounds
//!
//! What waits to be sent: stanzas in the session's backlog, and those tokio-xmpp took and has
//! not seen acknowledged (XEP-0198) or, without stream management, sent. At
//! [`Login::backlog_limit`] (64 by default), incoming disco requests wait for room (a request
//! weighs a hundredth of its answer) and are answered in order as the backlog drains, so a
//! burst many times the limit is answered in full; past 16 waiting requests per stanza of the
//! limit, requests go unanswered, and IQ requests the host [refuses](Disco::refuse) while the
//! backlog is full unrefused, counted in [`Stats::requests_shed`](crate::Stats::requests_shed):
//! a peer's flood, or a server that stops reading, costs memory bounded by the limit
//! (`tests/client_flood.rs`: a second flood of 20,000 requests against a server not reading
//! grows the heap by nothing; bursts of up to 1,024 requests against a server that reads are
//! answered in full).
//! What waits to be read: the events [`Incoming`] holds unread. At [`Login::incoming_limit`]
//! (1024 by default) the session stops reading the stream until the host reads one, so a
//! peer's flood of messages against a slow host waits in TCP and at the server instead of in
//! the process (`tests/client_unread.rs`: 20,000 messages unread grow the heap by 72 KiB, the
//! limit 64). Replies wait with it; a query's deadline still fires.
//!
//! The host's own stanzas are never dropped: a stanza [`send`](Disco::send) accepted goes out
//! in order, through suspensions and new streams; [`close`](Disco::close) sends it first, or
//! says it could not ([`Unsent`]). While the stream is suspended nothing is offered to
//! tokio-xmpp, so that after a new stream the session's own stanzas for the old one (queries
//! whose waiters failed, answers to its requests) are dropped instead of going out where
//! their ids mean nothing.
//!
//! # What the session logs
//!
//! Through the `log` facade, as tokio-xmpp does (the library installs no logger; nothing is
//! formatted when none is), under targets named by module (`xmpp_disco::client::login`,
//! `xmpp_disco::client::driver`, ...). `info`: each connection attempt and its address, the bound
//! address once online, the pause before a reconnection, a resumed or new stream (and whether a
//! resumption was refused), presences the session sends again, the end and its reason; `warn`: a
//! failed login and why, a lost connection (or a server silent past [`Login::keepalive`]'s bound),
//! a stream that broke before it came up, the backlog reaching its limit, the host falling
//! `incoming_limit` events behind, stanzas a session's end left unsent; `debug`: each request left
//! unanswered. The machine logs at `debug` what it rejects and refuses (see the crate docs).

//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use xmpp_disco::client::{Login, Server, SessionEvent};
//! use xmpp_disco::xmpp_parsers::presence::Presence;
//! use xmpp_disco::QueryOptions;
//! use tokio_xmpp::Stanza;
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let (disco, mut incoming) = Login::new("juliet@example.org".parse()?, "secret")
//!     .give_up_after(Duration::from_secs(60))
//!     .connect()
//!     .await?; // a LoginError says what went wrong: DNS, refused, credentials, ...
//!
//! // What this client answers when asked; the session answers by itself.
//! disco.with_machine(|machine| machine.root_mut().register_feature("urn:xmpp:ping"))?;
//! // With our entity capabilities, when configured; sent again when they change.
//! disco.send(Presence::available())?;
//!
//! // Ask from any task: cached, aliased, bounded by the machine's deadlines.
//! let asker = disco.clone();
//! tokio::spawn(async move {
//!     let server = asker.server();
//!     match asker.query_info(&server, None, QueryOptions::default()).await {
//!         Ok(info) => println!("{} features", info.features.len()),
//!         Err(error) => println!("no answer: {error}"),
//!     }
//! });
//!
//! // The host's side of the stream.
//! while let Some(event) = incoming.next().await {
//!     match event {
//!         SessionEvent::Stanza(Stanza::Iq(iq)) => disco.refuse(iq), // not ours either
//!         SessionEvent::Stanza(_other) => {}                        // messages, presences
//!         SessionEvent::Reset { .. } => {} // the session sends the presence again
//!         SessionEvent::Ended(reason) => println!("ended: {reason}"),
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! The `network` example (`examples/network/main.rs`) is a complete program built on this
//! module.
//!
//! This integration is for clients. A component (XEP-0114) drives the machine over
//! tokio-xmpp's XML stream directly, as `examples/component.rs` does: tokio-xmpp's `component`
//! feature changes the stanza namespace of the whole build, so one build is a client or a
//! component.

mod backlog;
mod backoff;
mod driver;
mod error;
mod events;
mod handle;
mod incoming;
mod login;
mod presence;
mod reconnect;
mod server;
mod session;
mod shared;
mod unread;
mod waiting;

pub use error::{LoginError, LoginStage};
pub use events::{SessionEnd, SessionEvent};
pub use handle::{AskError, Disco, Unsent};
pub use incoming::Incoming;
pub use login::Login;
pub use server::Server;
