//! Does an entity advertise a feature: its info, read once (or from the cache), and the answer.

use std::time::Instant;

use xmpp_parsers::jid::Jid;

use super::flight::{Answered, Asker, Flight, Job};
use crate::error::QueryError;
use crate::ids::RequestId;
use crate::options::QueryOptions;
use crate::query::Ask;
use crate::results::{Completion, Support};

pub(crate) struct SupportQuestion {
    feature: String,
    flight: Flight<()>,
    result: Option<Result<Support, QueryError>>,
}

impl SupportQuestion {
    pub(crate) fn new(
        jid: &Jid,
        node: Option<&str>,
        feature: &str,
        options: QueryOptions,
        deadline: Option<Instant>,
    ) -> Self {
        let mut flight = Flight::new(1, options, deadline);
        flight.push(Job {
            kind: Ask::Info,
            jid: jid.clone(),
            node: node.map(str::to_owned),
            tag: (),
        });
        SupportQuestion {
            feature: feature.to_owned(),
            flight,
            result: None,
        }
    }

    pub(crate) fn start(&mut self, asker: &mut Asker<'_>) {
        if let Some((_, error)) = self.flight.pump(asker).pop() {
            self.result = Some(Err(error));
        }
    }

    pub(crate) fn answered(&mut self, child: RequestId, completion: Completion) {
        if self.flight.done(child).is_none() {
            return;
        }
        if let Answered::Info(result) = Answered::from(completion) {
            self.result = Some(result.map(|info| Support {
                supported: info.features.contains(&self.feature),
                info,
            }));
        }
    }

    pub(crate) fn outcome(&mut self) -> Option<Result<Support, QueryError>> {
        self.result.take()
    }

    pub(crate) fn abandon(&mut self) -> Vec<RequestId> {
        self.flight.abandon()
    }
}
