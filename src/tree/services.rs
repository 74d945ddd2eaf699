//! Which of an entity's items (a server's services, usually) match a feature or an identity:
//! the entity's whole item list, then the info of the entity itself and of each item. One
//! item's error or timeout does not fail the search: it is reported apart (Smack's
//! `encounteredExceptions`), and the search goes on.

use std::sync::Arc;
use std::time::Instant;

use xmpp_parsers::disco::{DiscoInfoResult, Item};
use xmpp_parsers::jid::Jid;

use super::flight::{Answered, Asker, Flight, Job};
use crate::error::QueryError;
use crate::ids::RequestId;
use crate::options::{QueryOptions, ServiceFilter};
use crate::query::Ask;
use crate::results::{Completion, Found, NotAnswered, Services};

/// What a query of the search is for.
#[derive(Debug, Clone, Copy)]
enum Purpose {
    List,
    /// The info of candidate number `n` (0: the entity itself; then the items).
    Info(usize),
}

pub(crate) struct ServicesQuestion {
    filter: ServiceFilter,
    flight: Flight<Purpose>,
    /// The entity itself, then each item once the list is read.
    candidates: Vec<Item>,
    infos: Vec<Option<Result<Arc<DiscoInfoResult>, QueryError>>>,
    listed: Option<Result<bool, QueryError>>,
}

impl ServicesQuestion {
    pub(crate) fn new(
        jid: &Jid,
        node: Option<&str>,
        filter: ServiceFilter,
        limit: usize,
        options: QueryOptions,
        deadline: Option<Instant>,
    ) -> Self {
        let mut flight = Flight::new(limit, options, deadline);
        let itself = Item {
            jid: jid.clone(),
            node: node.map(str::to_owned),
            name: None,
        };
        for (kind, purpose) in [(Ask::List, Purpose::List), (Ask::Info, Purpose::Info(0))] {
            flight.push(Job {
                kind,
                jid: itself.jid.clone(),
                node: itself.node.clone(),
                tag: purpose,
            });
        }
        ServicesQuestion {
            filter,
            flight,
            candidates: vec![itself],
            infos: vec![None],
            listed: None,
        }
    }

    pub(crate) fn start(&mut self, asker: &mut Asker<'_>) {
        self.pump(asker);
    }

    fn pump(&mut self, asker: &mut Asker<'_>) {
        for (job, error) in self.flight.pump(asker) {
            self.record(job.tag, Err(error));
        }
    }

    fn record(&mut self, purpose: Purpose, result: Result<Arc<DiscoInfoResult>, QueryError>) {
        match purpose {
            Purpose::List => {
                if let Err(error) = result {
                    self.listed = Some(Err(error));
                }
            }
            Purpose::Info(n) => {
                if let Some(slot) = self.infos.get_mut(n) {
                    *slot = Some(result);
                }
            }
        }
    }

    pub(crate) fn answered(
        &mut self,
        asker: &mut Asker<'_>,
        child: RequestId,
        completion: Completion,
    ) {
        let Some(job) = self.flight.done(child) else {
            return;
        };
        match (job.tag, Answered::from(completion)) {
            (Purpose::List, Answered::List(Ok(list))) => {
                self.listed = Some(Ok(list.complete));
                for item in &list.items {
                    let n = self.candidates.len();
                    self.candidates.push(item.clone());
                    self.infos.push(None);
                    self.flight.push(Job {
                        kind: Ask::Info,
                        jid: item.jid.clone(),
                        node: item.node.clone(),
                        tag: Purpose::Info(n),
                    });
                }
            }
            (Purpose::List, Answered::List(Err(error))) => {
                self.listed = Some(Err(error));
                // Without the list there is nothing to search: stop asking.
                for id in self.flight.abandon() {
                    asker.requester.cancel(asker.out, id);
                }
                return;
            }
            (Purpose::Info(n), Answered::Info(result)) => self.record(Purpose::Info(n), result),
            _ => {}
        }
        self.pump(asker);
    }

    pub(crate) fn outcome(&mut self) -> Option<Result<Arc<Services>, QueryError>> {
        let complete = match self.listed.as_ref()? {
            Err(error) => return Some(Err(error.clone())),
            Ok(complete) => *complete,
        };
        if !self.flight.is_idle() {
            return None;
        }
        let mut services = Services {
            found: Vec::new(),
            not_answered: Vec::new(),
            complete,
        };
        for (item, info) in self.candidates.drain(..).zip(self.infos.drain(..)) {
            match info {
                Some(Ok(info)) if self.filter.matches(&info) => {
                    services.found.push(Found { item, info });
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => services.not_answered.push(NotAnswered { item, error }),
                None => services.not_answered.push(NotAnswered {
                    item,
                    error: QueryError::Cancelled,
                }),
            }
        }
        Some(Ok(Arc::new(services)))
    }

    pub(crate) fn abandon(&mut self) -> Vec<RequestId> {
        self.flight.abandon()
    }
}
