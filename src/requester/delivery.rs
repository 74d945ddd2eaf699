//! Where a completion goes, decided where it is made: to the host as an [`Event`], or to the
//! machine itself when the machine asked the query (a question about a tree, an eager
//! verification of a capabilities hash), for the question to take.

use std::collections::{HashSet, VecDeque};

use crate::error::QueryError;
use crate::event::Event;
use crate::ids::RequestId;
use crate::outbox::Outbox;
use crate::query::Ask;
use crate::results::{Answer, Completion};

#[derive(Debug, Default)]
pub(super) struct Delivery {
    /// The queries the machine asked for itself that have not completed yet.
    own: HashSet<RequestId>,
    /// Their completions, in order, for the questions to take.
    done: VecDeque<Completion>,
}

impl Delivery {
    /// Completes query `id` of `kind` with `outcome`: to the machine if it asked, else to the
    /// host.
    #[inline]
    pub(super) fn complete(
        &mut self,
        out: &mut Outbox,
        kind: Ask,
        id: RequestId,
        outcome: Result<Answer, QueryError>,
    ) {
        if self.own.is_empty() {
            out.report(Event::completion(kind, id, outcome));
        } else {
            self.sort(out, Completion { id, kind, outcome });
        }
    }

    /// Delivers a completion while some queries are the machine's own. Apart from
    /// [`complete`](Self::complete), which the cache hit path inlines, so that hosts that ask
    /// no questions do not pay for them.
    #[cold]
    fn sort(&mut self, out: &mut Outbox, completion: Completion) {
        if self.own.remove(&completion.id) {
            self.done.push_back(completion);
        } else {
            let Completion { id, kind, outcome } = completion;
            out.report(Event::completion(kind, id, outcome));
        }
    }

    /// Makes query `id` the machine's own: its completion will not reach the host.
    pub(super) fn own(&mut self, id: RequestId) {
        self.own.insert(id);
    }

    /// The next completion of one of the machine's own queries.
    pub(super) fn next_own(&mut self) -> Option<Completion> {
        self.done.pop_front()
    }

    /// How many of the machine's own queries have not completed yet.
    pub(super) fn own_pending(&self) -> usize {
        self.own.len()
    }

    /// Forgets the machine's own queries and their completions: the stream is gone, and with it
    /// the questions that asked them.
    pub(super) fn clear(&mut self) {
        self.own.clear();
        self.done.clear();
    }
}
