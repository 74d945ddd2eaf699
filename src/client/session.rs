//! Starting a session: the first login, then the tasks that keep it going.
//!
//! Three tasks make a session: tokio-xmpp's worker (owns the connection), the [`Driver`]
//! (runs the machine) and the [`Reconnector`] (answers tokio-xmpp's requests for a new
//! connection). A fourth watches the
//! driver: if host code panics in it, the session ends
//! ([`SessionEnd::Panicked`](super::SessionEnd::Panicked)) instead of
//! leaving its waiters behind.

use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_xmpp::stanzastream::{Connection, Event as StreamItem, StanzaStream, StreamEvent};
use xmpp_parsers::jid::{FullJid, Jid};
use xmpp_parsers::stream_features::StreamFeatures;

use super::backlog::Backlog;
use super::driver::Driver;
use super::error::{LoginError, LoginStage};
use super::handle::Disco;
use super::incoming::Incoming;
use super::login::{log_in, Connector, Login};
use super::reconnect::{keep_until_closed, release, Credentials, LinkReport, Reconnector};
use super::shared::{self, Inner};
use super::waiting::WaitingRequests;
use crate::machine::DiscoMachine;

impl Login {
    /// Logs in once and starts the session: returns when the server has bound a resource,
    /// with the handle that asks and answers, and the host's side of the stream. The session's
    /// tasks run on the current tokio runtime. Nothing is sent yet: send the initial presence
    /// through [`Disco::send`] if the session should receive any.
    ///
    /// # Errors
    ///
    /// [`LoginError`], saying what failed: the address, the connection, TLS, the
    /// credentials, the domain, or the bound.
    pub async fn connect(self) -> Result<(Disco, Incoming), LoginError> {
        let connector = Connector::new(self.server);
        // One bound for the whole first login, resource binding included.
        let deadline = tokio::time::Instant::now() + self.limits.timeout;
        let first = log_in(&connector, &self.jid, &self.password, self.limits, deadline).await?;
        let (requests, requests_in) = mpsc::unbounded_channel();
        let mut first = Some(first);
        let reconnector = move |_, slot: oneshot::Sender<Connection>| match first.take() {
            // Only fails if the stream is already gone, and then nobody needs the connection.
            Some(first) => drop(slot.send(first)),
            None => {
                if let Err(unheard) = requests.send(slot) {
                    tokio::spawn(keep_until_closed(unheard.0));
                }
            }
        };
        let mut stream = StanzaStream::new(Box::new(reconnector), 16);
        let bound = tokio::time::timeout_at(deadline, bound_jid(&mut stream))
            .await
            .unwrap_or(Err(LoginError::Timeout {
                stage: LoginStage::Binding,
                after: self.limits.timeout,
            }));
        let (jid, features) = match bound {
            Ok(bound) => bound,
            Err(error) => {
                release(requests_in);
                return Err(error);
            }
        };
        log::info!("online as {jid}");
        let mut machine = DiscoMachine::new(self.config);
        machine.set_own_jid(Jid::from(jid.clone()));
        // The server may announce its capabilities in the stream's features (XEP-0115 §6.3).
        let server = Jid::from(jid.domain().to_owned());
        machine.observe_stream_features(shared::now(), &server, &features.others);

        let (events, incoming) = mpsc::unbounded_channel();
        let (commands, commands_in) = mpsc::unbounded_channel();
        let (reports, reports_in) = mpsc::unbounded_channel();
        // The first stream came up: it counts as settled.
        let (link, link_in) = watch::channel(LinkReport {
            suspended: 0,
            settled: 1,
        });
        let inner = Arc::new(Inner::new(
            machine,
            jid,
            events,
            self.manage_presence,
            self.incoming_limit,
        ));
        let driver = Driver {
            inner: Arc::clone(&inner),
            stream,
            backlog: Backlog::default(),
            backlog_limit: self.backlog_limit,
            requests: WaitingRequests::new(self.backlog_limit),
            commands: commands_in,
            reports: reports_in,
            link,
            give_up_after: self.give_up_after,
        };
        let reconnector = Reconnector {
            requests: requests_in,
            link: link_in,
            reports,
            credentials: Credentials {
                connector,
                jid: self.jid,
                password: self.password,
                login: self.limits,
            },
            backoff: self.backoff,
        };
        tokio::spawn(reconnector.run());
        let driving = tokio::spawn(driver.run());
        let watched = Arc::clone(&inner);
        tokio::spawn(async move {
            if driving.await.is_err_and(|error| error.is_panic()) {
                watched.end_after_panic();
            }
        });
        let incoming = Incoming {
            events: incoming,
            inner: Arc::clone(&inner),
        };
        Ok((Disco { inner, commands }, incoming))
    }
}

/// Waits for tokio-xmpp to bind the first stream's resource; the JID and the stream's features.
async fn bound_jid(stream: &mut StanzaStream) -> Result<(FullJid, StreamFeatures), LoginError> {
    let closed = LoginError::Closed {
        stage: LoginStage::Binding,
    };
    loop {
        match stream.next().await {
            Some(StreamItem::Stream(StreamEvent::Reset {
                bound_jid,
                features,
            })) => {
                let jid = bound_jid.try_into_full().map_err(|_| closed)?;
                return Ok((jid, features));
            }
            Some(StreamItem::Stream(StreamEvent::Suspended)) | None => return Err(closed),
            Some(_) => {}
        }
    }
}
