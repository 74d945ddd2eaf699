//! What the machine produces for its host: stanzas and events not drained yet, and the running
//! totals ([`Stats`]). Both halves write here and only here; the machine drains it.

use std::collections::{HashSet, VecDeque};

use crate::error::QueryError;
use crate::event::Event;
use crate::ids::RequestId;
use crate::query::{Answer, Ask};
use crate::stats::Stats;
use crate::write::Outgoing;

#[derive(Debug, Default)]
pub(crate) struct Outbox {
    transmits: VecDeque<Outgoing>,
    events: VecDeque<Event>,
    /// The queries a question about a tree asked: their completions are the question's.
    captured: HashSet<RequestId>,
    /// Completions of captured queries, for the questions to take.
    caught: VecDeque<Event>,
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

    /// Queues the completion of request `id`, a query of `kind`.
    #[inline]
    pub(crate) fn complete(
        &mut self,
        kind: Ask,
        id: RequestId,
        outcome: Result<Answer, QueryError>,
    ) {
        let event = match (outcome, kind) {
            (Ok(Answer::Info(info)), _) => Event::Info {
                id,
                result: Ok(info),
            },
            (Ok(Answer::Items(items)), _) => Event::Items {
                id,
                result: Ok(items),
            },
            (Ok(Answer::List(list)), _) => Event::ItemList {
                id,
                result: Ok(list),
            },
            (Err(error), Ask::Info | Ask::Caps) => Event::Info {
                id,
                result: Err(error),
            },
            (Err(error), Ask::Items | Ask::Page) => Event::Items {
                id,
                result: Err(error),
            },
            (Err(error), Ask::List) => Event::ItemList {
                id,
                result: Err(error),
            },
        };
        if self.captured.is_empty() {
            self.report(event);
        } else {
            self.catch(id, event);
        }
    }

    /// Delivers a completion while some queries are a question's: to the question if `id` is
    /// one of them, to the host otherwise. Apart from [`complete`](Self::complete), which the
    /// cache hit path inlines, so that hosts without questions do not pay for them.
    #[cold]
    fn catch(&mut self, id: RequestId, event: Event) {
        if self.captured.remove(&id) {
            self.caught.push_back(event);
        } else {
            self.report(event);
        }
    }

    /// Makes the completion of query `id` the machine's own (a question's), not the host's.
    pub(crate) fn capture(&mut self, id: RequestId) {
        self.captured.insert(id);
    }

    /// The next completion of a captured query.
    pub(crate) fn next_caught(&mut self) -> Option<Event> {
        self.caught.pop_front()
    }

    /// How many captured queries have not completed yet.
    pub(crate) fn captured(&self) -> usize {
        self.captured.len()
    }

    /// Forgets every capture: the questions are gone (the stream ended).
    pub(crate) fn release_captures(&mut self) {
        self.captured.clear();
        self.caught.clear();
    }

    /// Forgets stanzas not sent yet: they belong to a stream that is gone.
    pub(crate) fn drop_unsent(&mut self) {
        self.transmits.clear();
    }
}
