//! The task that drives a session's machine from tokio-xmpp's `StanzaStream`: stanzas in,
//! stanzas out, timers, and the stream's lifecycle.
//!
//! The machine lives in [`Shared`](super::shared::Shared), behind a mutex that is never held
//! across an `.await`: the [`Disco`](super::Disco) handles call it from any task and wake the
//! driver, which hands what the machine emitted to tokio-xmpp (through the [`Backlog`]) and
//! sleeps until its next deadline.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_xmpp::stanzastream::{Event as StreamItem, StanzaStream, StreamEvent};
use tokio_xmpp::Stanza;

use super::backlog::Backlog;
use super::events::{SessionEnd, SessionEvent};
use super::reconnect::LinkReport;
use super::shared::{is_disco_request, Command, Inner};
use super::waiting::WaitingRequests;

/// How long a clean close may take: sending what the host gave before it, then closing the
/// stream.
const CLOSE_LIMIT: Duration = Duration::from_secs(10);

/// How often a close looks again whether everything left: tokio-xmpp tells a stanza's progress
/// only to whoever waits on its token, which would be one wait per stanza.
const CLOSE_CHECK: Duration = Duration::from_millis(20);

/// The driver's ways in: the stream, the host's commands, the reconnector's reports.
pub(crate) struct Driver {
    pub(crate) inner: Arc<Inner>,
    pub(crate) stream: StanzaStream,
    pub(crate) backlog: Backlog,
    /// How many stanzas may wait before disco requests wait to be answered.
    pub(crate) backlog_limit: usize,
    /// Disco requests waiting for room in the backlog.
    pub(crate) requests: WaitingRequests,
    pub(crate) commands: mpsc::UnboundedReceiver<Command>,
    /// What the reconnector tells the host.
    pub(crate) reports: mpsc::UnboundedReceiver<SessionEvent>,
    /// What the reconnector learns from the stream; dropped at the end, which stops it.
    pub(crate) link: watch::Sender<LinkReport>,
    pub(crate) give_up_after: Option<Duration>,
}

/// A close under way: why, until when, and who waits for it.
struct Closing {
    reason: SessionEnd,
    until: tokio::time::Instant,
    closers: Vec<oneshot::Sender<usize>>,
}

impl Driver {
    pub(crate) async fn run(mut self) {
        let mut suspended_since: Option<tokio::time::Instant> = None;
        let mut closing: Option<Closing> = None;
        let mut host_behind = false;
        let reason = loop {
            let give_up_at = suspended_since
                .zip(self.give_up_after)
                .map(|(since, limit)| since + limit);
            let lost = SessionEnd::Lost {
                suspended_for: self.give_up_after.unwrap_or_default(),
            };
            // Once closing, only what was accepted before the close is sent.
            let deadline = if closing.is_none() {
                self.answer_waiting_requests();
                self.collect()
            } else {
                None
            };
            let mut retry = self.backlog.flush(&self.stream);
            if let Some(close) = &closing {
                if self.backlog.all_left() {
                    break close.reason;
                }
                retry = retry.or(Some(tokio::time::Instant::now() + CLOSE_CHECK));
            }
            let close_by = closing.as_ref().map(|close| close.until);
            if self.inner.unread.behind() != host_behind {
                host_behind = !host_behind;
                if host_behind {
                    log::warn!(
                        "the host has {} events unread: the stream waits until it reads one",
                        self.inner.unread.limit()
                    );
                } else {
                    log::info!("the host reads again: so does the stream");
                }
            }
            // In this order: a due deadline is never starved by a busy stream, and stream
            // events come before the reconnector's reports, so that an attempt's failure is
            // told after the suspension it follows.
            tokio::select! {
                biased;
                command = self.commands.recv(), if closing.is_none() => {
                    let (reason, closers) = match command {
                        Some(Command::Close(closer)) => (SessionEnd::Closed, vec![closer]),
                        None => (SessionEnd::Dropped, Vec::new()),
                    };
                    log::debug!("closing the session: sending what was accepted before");
                    self.inner.closing(reason);
                    // Nothing is accepted from now on: what was, up to this instant, goes.
                    self.collect();
                    closing = Some(Closing {
                        reason,
                        until: tokio::time::Instant::now() + CLOSE_LIMIT,
                        closers,
                    });
                }
                () = sleep_until(close_by) => {
                    if let Some(close) = &closing {
                        break close.reason;
                    }
                }
                () = sleep_until(deadline.map(tokio::time::Instant::from_std)) => {
                    self.inner.handle_timeout();
                }
                () = sleep_until(give_up_at) => break lost,
                item = self.stream.next(), if !host_behind => match item {
                    None => break SessionEnd::StreamEnded,
                    Some(StreamItem::Stanza(stanza)) => self.take(stanza),
                    Some(StreamItem::Stream(StreamEvent::Suspended)) => {
                        log::warn!(
                            "the connection to the server was lost (or the server was silent \
                             past the keepalive bound); reconnecting"
                        );
                        suspended_since.get_or_insert_with(tokio::time::Instant::now);
                        self.backlog.hold();
                        self.link.send_modify(|link| link.suspended += 1);
                        self.inner.report_event(SessionEvent::Suspended);
                    }
                    Some(StreamItem::Stream(StreamEvent::Resumed)) => {
                        log::info!("the stream was resumed (XEP-0198): nothing lost");
                        suspended_since = None;
                        self.backlog.resume();
                        self.link.send_modify(|link| link.settled += 1);
                        self.inner.report_event(SessionEvent::Resumed);
                    }
                    Some(StreamItem::Stream(StreamEvent::Reset { bound_jid, features })) => {
                        let resumption = if suspended_since.take().is_some() {
                            "the stream could not be resumed: "
                        } else {
                            ""
                        };
                        let dropped = self.backlog.new_stream();
                        let unanswered = self.forget_waiting_requests();
                        log::info!(
                            "{resumption}a new stream as {bound_jid}: queries in flight failed, \
                             the cache cleared, {dropped} stanzas of the old stream dropped, \
                             {unanswered} requests of it unanswered"
                        );
                        self.link.send_modify(|link| link.settled += 1);
                        self.inner.reset(self.backlog.stream(), bound_jid, &features);
                    }
                },
                Some(event) = self.reports.recv() => self.inner.report_event(event),
                () = self.inner.wake.notified() => {}
                () = sleep_until(retry) => {}
                // Room for a waiting request: the server acknowledged the oldest stanza.
                () = self.backlog.room(), if !self.requests.is_empty() && closing.is_none() => {}
            }
        };
        log::info!("the session ended: {reason}");
        self.forget_waiting_requests();
        let never_taken = self.inner.end(reason);
        // The reconnector stops with the link report.
        drop(self.link);
        match reason {
            SessionEnd::Closed | SessionEnd::Dropped => {
                let until = closing.as_ref().map(|close| close.until);
                let left = until.map_or(CLOSE_LIMIT, |until| {
                    until.saturating_duration_since(tokio::time::Instant::now())
                });
                let _ = tokio::time::timeout(left, self.stream.close()).await;
            }
            // Nothing to close politely: the connection or tokio-xmpp's worker is gone.
            _ => drop(self.stream),
        }
        // Counted once tokio-xmpp is done: a closing stream still sends what it queued.
        let unsent = self.backlog.unsent() + never_taken;
        if unsent > 0 {
            log::warn!("{unsent} stanzas the host gave were not sent before the session ended");
        }
        // Every `close` waits for the end, whoever caused it, and learns what was not sent.
        let mut closers = closing.map(|close| close.closers).unwrap_or_default();
        while let Ok(Command::Close(closer)) = self.commands.try_recv() {
            closers.push(closer);
        }
        for closer in closers {
            let _ = closer.send(unsent);
        }
    }

    /// What the session has to send now goes to the backlog; when to wake the machine next.
    fn collect(&mut self) -> Option<std::time::Instant> {
        let (outgoing, deadline) = self.inner.take_outgoing();
        for (stanza, owner) in outgoing {
            self.backlog.push(stanza, owner);
        }
        deadline
    }

    /// A stanza from the stream. A disco request waits for room while the backlog is full,
    /// or while others wait before it (they are answered in order); past as many as wait, it
    /// goes unanswered. Everything else goes to the machine and the host at once.
    fn take(&mut self, stanza: Stanza) {
        let full = self.backlog.waiting() >= self.backlog_limit;
        self.inner.backlog_full(full);
        let request = match stanza {
            Stanza::Iq(iq) if is_disco_request(&iq) && (full || !self.requests.is_empty()) => iq,
            other => return self.inner.receive(other),
        };
        if self.requests.push(request) {
            self.inner.requests_waiting(self.requests.len());
        } else {
            self.inner.shed(1);
        }
    }

    /// Answers the waiting requests, oldest first, while the backlog has room; each answer
    /// joins the backlog as it is made, so that it counts against the room. Not while the
    /// stream is suspended: if it is replaced, its requests go unanswered (their ids mean
    /// nothing on the next stream), and nothing is counted answered that was not sent.
    fn answer_waiting_requests(&mut self) {
        if self.requests.is_empty() || self.backlog.is_held() {
            return;
        }
        while self.backlog.waiting() < self.backlog_limit {
            let Some(request) = self.requests.pop() else {
                break;
            };
            self.inner.receive(Stanza::Iq(request));
            self.collect();
        }
        self.inner.requests_waiting(self.requests.len());
    }

    /// The waiting requests' stream is gone: they go unanswered. Returns how many there were.
    fn forget_waiting_requests(&mut self) -> usize {
        let forgotten = self.requests.clear();
        if forgotten > 0 {
            self.inner.shed(forgotten);
            self.inner.requests_waiting(0);
        }
        forgotten
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
