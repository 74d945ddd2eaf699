//! Reconnecting a lost stream: when, how often, and on what terms.
//!
//! tokio-xmpp asks for a new connection whenever its stream breaks, including when a
//! connection it was just given breaks during its own negotiation. tokio-xmpp 6.0.0 keeps its
//! XEP-0198 state through such a break and asks to resume again: a server that refuses the
//! resumption in a form xmpp-parsers 0.23 cannot read (ejabberd's `<failed/>` without `h`)
//! made it resume, fail and ask again as fast as the network allows. So every decision about
//! a new connection is taken here, from what the session really saw:
//!
//! * every attempt waits its turn in the [`Backoff`] schedule, whatever ended the one before:
//!   a refused login, a stream that broke during negotiation, or one that broke right after it;
//! * a connection that never became a stream (no `Resumed`, no `Reset` before it broke) is
//!   followed by one offered without stream management, so that tokio-xmpp drops the state it
//!   cannot resume and binds a new stream (a `Reset`); the stream after that enables stream
//!   management again.
//!
//! The driver reports what it reads from the stream in a [`LinkReport`]; tokio-xmpp sends its
//! `Suspended` event before it asks for a connection, so once the driver has counted as many
//! suspensions as there were requests, every `Resumed` or `Reset` that came before is counted
//! too, and the verdict on the last connection does not depend on which task ran first.

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_xmpp::stanzastream::Connection;
use xmpp_parsers::jid::BareJid;

use super::backoff::Backoff;
use super::error::LoginError;
use super::events::SessionEvent;
use super::login::{log_in, Connector, Limits};

/// What the driver has read from tokio-xmpp's stream, for the reconnector's verdicts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LinkReport {
    /// `Suspended` events read: one before each request for a connection.
    pub(crate) suspended: u64,
    /// `Resumed` and `Reset` events read: connections that became a stream.
    pub(crate) settled: u64,
}

/// Everything one login attempt needs.
pub(crate) struct Credentials {
    pub(crate) connector: Connector,
    pub(crate) jid: BareJid,
    pub(crate) password: String,
    pub(crate) login: Limits,
}

/// A connection handed to tokio-xmpp, and what the link report said then.
#[derive(Clone, Copy)]
struct Handout {
    at: Instant,
    settled: u64,
}

/// The task that answers tokio-xmpp's requests for a connection (see the module docs).
pub(crate) struct Reconnector {
    pub(crate) requests: mpsc::UnboundedReceiver<oneshot::Sender<Connection>>,
    pub(crate) link: watch::Receiver<LinkReport>,
    /// To the driver, which tells the host.
    pub(crate) reports: mpsc::UnboundedSender<SessionEvent>,
    pub(crate) credentials: Credentials,
    pub(crate) backoff: Backoff,
}

impl Reconnector {
    /// Runs until the session ends (the driver drops its side of the link report).
    pub(crate) async fn run(mut self) {
        let mut pending = None;
        self.serve(&mut pending).await;
        if let Some(slot) = pending {
            tokio::spawn(keep_until_closed(slot));
        }
        release(self.requests);
    }

    /// Answers requests until the session ends; leaves in `pending` the slot it could not fill.
    async fn serve(&mut self, pending: &mut Option<oneshot::Sender<Connection>>) {
        // The login that started the session was the first connection.
        let mut last = Handout {
            at: Instant::now(),
            settled: 0,
        };
        // Attempts since the last stream that held: the session's own login is the first.
        let (mut requests, mut in_a_row) = (0u64, 1u32);
        while let Some(mut slot) = self.requests.recv().await {
            requests += 1;
            let caught_up = self.link.wait_for(|link| link.suspended >= requests).await;
            let Ok(link) = caught_up.map(|link| *link) else {
                *pending = Some(slot);
                return;
            };
            // The last connection became a stream, and that stream lasted.
            let settled = link.settled > last.settled;
            let held = settled && last.at.elapsed() >= self.backoff.max;
            if held {
                in_a_row = 0;
            }
            if !settled {
                log::warn!(
                    "{}: the next connection goes without stream management",
                    LoginError::NotEstablished
                );
                self.report(SessionEvent::ReconnectFailed(LoginError::NotEstablished));
            }
            match self.connect(&mut in_a_row, !settled, &mut slot).await {
                Some(connection) => {
                    last = Handout {
                        at: Instant::now(),
                        settled: self.link.borrow().settled,
                    };
                    // Only fails if tokio-xmpp's stream is gone; nobody needs it then.
                    let _ = slot.send(connection);
                }
                None => {
                    *pending = Some(slot);
                    return;
                }
            }
        }
    }

    /// Logs in, attempt after attempt, each in its turn; `None` once the session is over.
    async fn connect(
        &mut self,
        in_a_row: &mut u32,
        without_resumption: bool,
        slot: &mut oneshot::Sender<Connection>,
    ) -> Option<Connection> {
        loop {
            let pause = self.backoff.pause(*in_a_row);
            *in_a_row = in_a_row.saturating_add(1);
            log::info!("reconnecting in {pause:?} (attempt {in_a_row})");
            self.report(SessionEvent::Reconnecting {
                attempt: *in_a_row,
                after: pause,
            });
            let credentials = &self.credentials;
            let waited = async {
                tokio::time::sleep(pause).await;
                let deadline = Instant::now() + credentials.login.timeout;
                log_in(
                    &credentials.connector,
                    &credentials.jid,
                    &credentials.password,
                    credentials.login,
                    deadline,
                )
                .await
            };
            let attempt = tokio::select! {
                attempt = waited => attempt,
                () = slot.closed() => return None,
                _ = self.link.wait_for(|_| false) => return None,
            };
            match attempt {
                Ok(mut connection) => {
                    if without_resumption {
                        connection.features.stream_management = None;
                    }
                    return Some(connection);
                }
                Err(error) => self.report(SessionEvent::ReconnectFailed(error)),
            }
        }
    }

    fn report(&self, event: SessionEvent) {
        // The driver is gone only when the session is over.
        let _ = self.reports.send(event);
    }
}

/// Refuses further requests for a connection, keeping every slot (see [`keep_until_closed`]).
pub(crate) fn release(mut requests: mpsc::UnboundedReceiver<oneshot::Sender<Connection>>) {
    requests.close();
    while let Ok(slot) = requests.try_recv() {
        tokio::spawn(keep_until_closed(slot));
    }
}

/// tokio-xmpp's worker panics when the slot it waits on is dropped (its `ReconnectAborted`),
/// which under `panic = "abort"` ends the process: a session that no longer reconnects keeps
/// the slot until the worker is gone.
pub(crate) async fn keep_until_closed(mut slot: oneshot::Sender<Connection>) {
    slot.closed().await;
}
