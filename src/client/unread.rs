//! How far behind the host is: events handed to [`Incoming`](super::Incoming) and not yet read.
//!
//! The stanzas that are not the machine's (a contact's messages, presences, IQs) go to the host
//! as fast as the stream brings them. A host slower than a peer's flood would otherwise keep
//! every one of them in memory; at [`Login::incoming_limit`](super::Login::incoming_limit)
//! unread events the driver stops reading the stream instead, until the host has read one:
//! tokio-xmpp stops reading the connection, TCP pushes back on the server, and the server's own
//! limits apply to the peer. The count is a pair of atomics so that reading an event costs no
//! lock.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

pub(crate) struct Unread {
    /// Events handed over and not yet read (one more while an event is being handed over).
    count: AtomicUsize,
    /// At this count, the host is behind.
    limit: usize,
    /// Nobody reads any more: the count holds nothing back.
    abandoned: AtomicBool,
}

impl Unread {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            count: AtomicUsize::new(0),
            limit,
            abandoned: AtomicBool::new(false),
        }
    }

    /// An event is about to be handed over: counted first, so that the host's read of it can
    /// never come before.
    pub(crate) fn handing(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
    }

    /// An event was read (or could not be handed over); whether that brought the host back
    /// under the limit, when the driver wants waking.
    pub(crate) fn read(&self) -> bool {
        self.count.fetch_sub(1, Ordering::SeqCst) == self.limit
    }

    /// The host dropped its `Incoming`: events are no longer handed over.
    pub(crate) fn abandon(&self) {
        self.abandoned.store(true, Ordering::SeqCst);
    }

    /// Whether the host has `limit` events unread: the stream waits.
    pub(crate) fn behind(&self) -> bool {
        !self.abandoned.load(Ordering::SeqCst) && self.count.load(Ordering::SeqCst) >= self.limit
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_is_behind_at_the_limit_and_back_with_the_read_that_leaves_it() {
        let unread = Unread::new(2);
        unread.handing();
        assert!(!unread.behind());
        unread.handing();
        assert!(unread.behind());
        // One stanza may bring several events: past the limit, a read is not yet enough.
        unread.handing();
        assert!(!unread.read());
        assert!(unread.behind());
        assert!(unread.read(), "this read brought the host under the limit");
        assert!(!unread.behind());
        assert!(!unread.read());
    }

    #[test]
    fn a_host_that_stopped_reading_holds_nothing_back() {
        let unread = Unread::new(1);
        unread.handing();
        assert!(unread.behind());
        unread.abandon();
        assert!(!unread.behind());
    }
}
