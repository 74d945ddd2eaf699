//! What the machine has produced and the host has not drained yet.

use std::collections::VecDeque;

use crate::error::QueryError;
use crate::event::Event;
use crate::ids::RequestId;
use crate::query::{Answer, QueryKind};
use crate::write::Outgoing;

#[derive(Debug, Default)]
pub(crate) struct Outbox {
    pub(crate) transmits: VecDeque<Outgoing>,
    pub(crate) events: VecDeque<Event>,
}

impl Outbox {
    /// Queues the completion of request `id`, a query of `kind`.
    pub(crate) fn complete(
        &mut self,
        kind: QueryKind,
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
            (Err(error), QueryKind::Info) => Event::Info {
                id,
                result: Err(error),
            },
            (Err(error), QueryKind::Items) => Event::Items {
                id,
                result: Err(error),
            },
        };
        self.events.push_back(event);
    }

    /// Forgets stanzas not sent yet: they belong to a stream that is gone.
    pub(crate) fn drop_unsent(&mut self) {
        self.transmits.clear();
    }
}
