//! The host's side of a session: the events it reads, and how many it has not read yet.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::mpsc;

use super::events::SessionEvent;
use super::shared::Inner;

/// The receiving half of a session: [`SessionEvent`]s, oldest first.
///
/// Read it as long as the session lives, from a task of its own if the host awaits queries
/// elsewhere: while [`Login::incoming_limit`](super::Login::incoming_limit) events wait unread, the
/// session stops reading the stream (replies included). Once it is dropped, IQ requests nobody
/// handles are refused with `service-unavailable` (RFC 6120 §8.2.3: every request gets an answer)
/// and other stanzas are dropped. Implements `futures::Stream` as well.
pub struct Incoming {
    pub(crate) events: mpsc::UnboundedReceiver<SessionEvent>,
    pub(crate) inner: Arc<Inner>,
}

impl Incoming {
    /// The next event; `None` after [`SessionEvent::Ended`].
    pub async fn next(&mut self) -> Option<SessionEvent> {
        let event = self.events.recv().await;
        self.taken(event)
    }

    /// Counts an event read, and wakes the driver if that brought the host back under
    /// [`Login::incoming_limit`](super::Login::incoming_limit).
    fn taken(&self, event: Option<SessionEvent>) -> Option<SessionEvent> {
        if event.is_some() && self.inner.unread.read() {
            self.inner.wake.notify_one();
        }
        event
    }
}

impl futures_util::Stream for Incoming {
    type Item = SessionEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SessionEvent>> {
        self.events.poll_recv(cx).map(|event| self.taken(event))
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        // Nobody reads any more: what is handed over now is refused or dropped (see above),
        // and the stream must not wait for reads that will never come.
        self.inner.unread.abandon();
        self.inner.wake.notify_one();
    }
}

impl fmt::Debug for Incoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
            .field("unread", &self.events.len())
            .finish_non_exhaustive()
    }
}
