//! What the machine produces for its host: stanzas and events not drained yet, and the running
//! totals ([`Stats`]). Both halves write here and only here; the machine drains it.

use std::collections::VecDeque;

use crate::event::Event;
use crate::stats::Stats;
use crate::write::Outgoing;

#[derive(Debug, Default)]
pub(crate) struct Outbox {
    transmits: VecDeque<Outgoing>,
    events: VecDeque<Event>,
    /// Counted by both halves as things happen; read by [`DiscoMachine::stats`](crate::DiscoMachine::stats).
    pub(crate) stats: Stats,
}

impl Outbox {
    /// Queues a stanza to send.
    pub(crate) fn send(&mut self, stanza: Outgoing) {
        self.transmits.push_back(stanza);
    }

    /// Queues an event for the host.
    pub(crate) fn report(&mut self, event: Event) {
        self.events.push_back(event);
    }

    /// The next stanza to send.
    pub(crate) fn next_transmit(&mut self) -> Option<Outgoing> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub(crate) fn next_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// How many stanzas and events wait to be drained.
    pub(crate) fn queued(&self) -> (usize, usize) {
        (self.transmits.len(), self.events.len())
    }

    /// Forgets stanzas not sent yet: they belong to a stream that is gone.
    pub(crate) fn drop_unsent(&mut self) {
        self.transmits.clear();
    }
}
