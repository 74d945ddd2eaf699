//! The task that drives a session's machine from tokio-xmpp's `StanzaStream`: stanzas in,
//! stanzas out, timers, and the stream's lifecycle.
//!
//! The machine lives in [`Shared`](super::shared::Shared), behind a mutex that is never held
//! across an `.await`: the [`Disco`](super::Disco) handles call it from any task and wake the
//! driver, which hands what the machine emitted to tokio-xmpp and sleeps until its next
//! deadline.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_xmpp::stanzastream::{Event as StreamItem, StanzaStream, StreamEvent};
use tokio_xmpp::Stanza;

use super::events::{SessionEnd, SessionEvent};
use super::reconnect::LinkReport;
use super::shared::{Command, Inner};

/// How often stanzas waiting for room in tokio-xmpp's queue try again (see [`Backlog`]).
const BACKLOG_RETRY: Duration = Duration::from_millis(50);

/// How long a clean close may take before the stream is simply dropped.
const CLOSE_LIMIT: Duration = Duration::from_secs(10);

/// The driver's ways in: the stream, the host's commands, the reconnector's reports.
pub(crate) struct Driver {
    pub(crate) inner: Arc<Inner>,
    pub(crate) stream: StanzaStream,
    pub(crate) backlog: Backlog,
    pub(crate) commands: mpsc::UnboundedReceiver<Command>,
    /// What the reconnector tells the host.
    pub(crate) reports: mpsc::UnboundedReceiver<SessionEvent>,
    /// What the reconnector learns from the stream; dropped at the end, which stops it.
    pub(crate) link: watch::Sender<LinkReport>,
    pub(crate) give_up_after: Option<Duration>,
}

impl Driver {
    pub(crate) async fn run(mut self) {
        let mut suspended_since: Option<tokio::time::Instant> = None;
        let mut closers = Vec::new();
        let reason = loop {
            let give_up_at = suspended_since
                .zip(self.give_up_after)
                .map(|(since, limit)| since + limit);
            let lost = SessionEnd::Lost {
                suspended_for: self.give_up_after.unwrap_or_default(),
            };
            let (outgoing, deadline) = self.inner.take_outgoing();
            self.backlog.stanzas.extend(outgoing);
            let retry = self.backlog.flush(&self.stream);
            // In this order: a due deadline is never starved by a busy stream, and stream
            // events come before the reconnector's reports, so that an attempt's failure is
            // told after the suspension it follows.
            tokio::select! {
                biased;
                command = self.commands.recv() => break ended_by(command, &mut closers),
                () = sleep_until(deadline.map(tokio::time::Instant::from_std)) => {
                    self.inner.handle_timeout();
                }
                () = sleep_until(give_up_at) => break lost,
                item = self.stream.next() => match item {
                    None => break SessionEnd::StreamEnded,
                    Some(StreamItem::Stanza(stanza)) => self.inner.receive(stanza),
                    Some(StreamItem::Stream(StreamEvent::Suspended)) => {
                        suspended_since.get_or_insert_with(tokio::time::Instant::now);
                        self.link.send_modify(|link| link.suspended += 1);
                        self.inner.report(SessionEvent::Suspended);
                    }
                    Some(StreamItem::Stream(StreamEvent::Resumed)) => {
                        suspended_since = None;
                        self.link.send_modify(|link| link.settled += 1);
                        self.inner.report(SessionEvent::Resumed);
                    }
                    Some(StreamItem::Stream(StreamEvent::Reset { bound_jid, features })) => {
                        suspended_since = None;
                        self.link.send_modify(|link| link.settled += 1);
                        self.inner.reset(bound_jid, &features);
                    }
                },
                Some(event) = self.reports.recv() => self.inner.report(event),
                () = self.inner.wake.notified() => {}
                () = sleep_until(retry) => {}
            }
        };
        self.inner.end(reason);
        // The reconnector stops with the link report.
        drop(self.link);
        match reason {
            SessionEnd::Closed | SessionEnd::Dropped => {
                let _ = tokio::time::timeout(CLOSE_LIMIT, self.stream.close()).await;
            }
            // Nothing to close politely: the connection or tokio-xmpp's worker is gone.
            _ => drop(self.stream),
        }
        // Later closers: every `close` waits for the end, whoever caused it.
        while let Ok(Command::Close(closer)) = self.commands.try_recv() {
            closers.push(closer);
        }
        for closer in closers {
            let _ = closer.send(());
        }
    }
}

/// Every command ends the session: a close, or the last handle gone (`None`).
fn ended_by(command: Option<Command>, closers: &mut Vec<oneshot::Sender<()>>) -> SessionEnd {
    match command {
        Some(Command::Close(closer)) => {
            closers.push(closer);
            SessionEnd::Closed
        }
        None => SessionEnd::Dropped,
    }
}

/// Stanzas on their way to tokio-xmpp, which takes only so many while disconnected (its
/// queue's depth). Awaiting its `send` would hold up the driver, so deadlines, stream events
/// and commands would wait for a connection; splitting the stream does not help either, since
/// tokio-xmpp's receiving half cannot be read while its sending half waits. So each stanza is
/// offered without waiting, and what finds no room stays here and is offered again every
/// [`BACKLOG_RETRY`] (and after anything else wakes the driver), in order.
///
/// tokio-xmpp's `send` panics when its worker is gone; the worker ends by itself only in a
/// panic of its own (under `panic = "abort"`, the end of the process), after which its stream
/// ends and the driver stops. No unwinding is caught here.
#[derive(Default)]
pub(crate) struct Backlog {
    stanzas: VecDeque<Stanza>,
}

impl Backlog {
    /// Offers the stanzas in order until tokio-xmpp has no room; when to offer the rest.
    fn flush(&mut self, stream: &StanzaStream) -> Option<tokio::time::Instant> {
        while let Some(stanza) = self.stanzas.front() {
            // A send that finds no room is dropped unsent, so it is given a copy.
            match stream.send(Box::new(copy(stanza))).now_or_never() {
                Some(_token) => drop(self.stanzas.pop_front()),
                None => return Some(tokio::time::Instant::now() + BACKLOG_RETRY),
            }
        }
        None
    }
}

/// A copy of `stanza` (xmpp-parsers' `Stanza` is not `Clone`, its three kinds are).
fn copy(stanza: &Stanza) -> Stanza {
    match stanza {
        Stanza::Iq(iq) => Stanza::Iq(iq.clone()),
        Stanza::Message(message) => Stanza::Message(message.clone()),
        Stanza::Presence(presence) => Stanza::Presence(presence.clone()),
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
