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
//! | a new stream | [`stream_destroyed`](crate::DiscoMachine::stream_destroyed): queries in flight fail with `Disconnected`, cache cleared | [`SessionEvent::Reset`]: send presence again |
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

//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use xmpp_disco::client::{Login, Server, SessionEvent};
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
//! disco.send(disco.presence())?; // with our entity capabilities, when configured
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
//!         SessionEvent::Reset { .. } => disco.send(disco.presence())?,
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

mod backoff;
mod driver;
mod error;
mod events;
mod handle;
mod login;
mod reconnect;
mod server;
mod session;
mod shared;

pub use error::{LoginError, LoginStage};
pub use events::{Incoming, SessionEnd, SessionEvent};
pub use handle::{AskError, Disco};
pub use login::Login;
pub use server::Server;
