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
//! tokio-xmpp reconnects a lost stream by itself and, where the server supports it, resumes it
//! (XEP-0198). The session follows what really happened, which tokio-xmpp's `Client` does not
//! say:
//!
//! | tokio-xmpp's stream | the machine | the host hears |
//! |---|---|---|
//! | connection lost | nothing: queries wait, each within its deadline | [`SessionEvent::Suspended`] |
//! | a reconnection attempt failed | nothing | [`SessionEvent::ReconnectFailed`], in words |
//! | resumed without loss | nothing: cache and queries in flight kept | [`SessionEvent::Resumed`] |
//! | a new stream | [`stream_destroyed`](crate::DiscoMachine::stream_destroyed): queries in flight fail with `Disconnected`, cache cleared | [`SessionEvent::Reset`]: send presence again |
//! | lost longer than [`Login::give_up_after`] | `stream_destroyed` | [`SessionEvent::Ended`] with [`SessionEnd::Lost`] |
//!
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
//! This integration is for clients. A component (XEP-0114) drives the machine with tokio-xmpp's
//! `Component` directly, as `examples/component.rs` does: tokio-xmpp's `component` feature
//! changes the stanza namespace of the whole build, so one build is a client or a component.

mod driver;
mod events;
mod handle;
mod login;

pub use events::{Incoming, SessionEnd, SessionEvent};
pub use handle::{AskError, Disco};
pub use login::{Login, LoginError, LoginStage, Server};
