//! The tree under an entity, breadth first: each (JID, node) visited once, its info and its
//! whole item list read, its items visited in turn down to a depth and up to a number of
//! entities. An item pointing back at an entity already visited (a parent, say) is not
//! followed again.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use xmpp_parsers::disco::DiscoInfoResult;
use xmpp_parsers::jid::Jid;

use super::flight::{Answered, Asker, Flight, Job};
use crate::error::QueryError;
use crate::ids::RequestId;
use crate::options::QueryOptions;
use crate::query::Ask;
use crate::results::{Completion, ItemList, Visited, Walk};

/// An entity being visited: what its two queries said so far.
struct Entry {
    jid: Jid,
    node: Option<String>,
    depth: usize,
    info: Option<Result<Arc<DiscoInfoResult>, QueryError>>,
    items: Option<Result<Arc<ItemList>, QueryError>>,
}

pub(crate) struct WalkQuestion {
    flight: Flight<usize>,
    entries: Vec<Entry>,
    seen: HashSet<(String, Option<String>)>,
    max_depth: usize,
    max_entities: usize,
    complete: bool,
}

impl WalkQuestion {
    pub(crate) fn new(
        jid: &Jid,
        node: Option<&str>,
        max_depth: usize,
        max_entities: usize,
        limit: usize,
        options: QueryOptions,
        deadline: Option<Instant>,
    ) -> Self {
        let mut walk = WalkQuestion {
            flight: Flight::new(limit, options, deadline),
            entries: Vec::new(),
            seen: HashSet::new(),
            max_depth,
            max_entities: max_entities.max(1),
            complete: true,
        };
        walk.visit(jid, node, 0);
        walk
    }

    /// Queues the info and the items of (`jid`, `node`), unless it was visited already.
    fn visit(&mut self, jid: &Jid, node: Option<&str>, depth: usize) {
        if !self
            .seen
            .insert((jid.as_str().to_owned(), node.map(str::to_owned)))
        {
            return;
        }
        if self.entries.len() >= self.max_entities {
            self.complete = false;
            return;
        }
        let at = self.entries.len();
        self.entries.push(Entry {
            jid: jid.clone(),
            node: node.map(str::to_owned),
            depth,
            info: None,
            items: None,
        });
        for kind in [Ask::Info, Ask::List] {
            self.flight.push(Job {
                kind,
                jid: jid.clone(),
                node: node.map(str::to_owned),
                tag: at,
            });
        }
    }

    pub(crate) fn start(&mut self, asker: &mut Asker<'_>) {
        self.pump(asker);
    }

    fn pump(&mut self, asker: &mut Asker<'_>) {
        for (job, error) in self.flight.pump(asker) {
            if let Some(entry) = self.entries.get_mut(job.tag) {
                match job.kind {
                    Ask::Info => entry.info = Some(Err(error)),
                    _ => entry.items = Some(Err(error)),
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
        let at = job.tag;
        match Answered::from(completion) {
            Answered::Info(result) => {
                if let Some(entry) = self.entries.get_mut(at) {
                    entry.info = Some(result);
                }
            }
            Answered::List(result) => {
                let depth = self.entries.get(at).map_or(0, |entry| entry.depth);
                if let (Ok(list), true) = (&result, depth < self.max_depth) {
                    for item in &list.items {
                        self.visit(&item.jid, item.node.as_deref(), depth + 1);
                    }
                }
                if let Some(entry) = self.entries.get_mut(at) {
                    entry.items = Some(result);
                }
            }
            Answered::Other => {}
        }
        self.pump(asker);
    }

    pub(crate) fn outcome(&mut self) -> Option<Result<Arc<Walk>, QueryError>> {
        if !self.flight.is_idle() {
            return None;
        }
        let entities = self
            .entries
            .drain(..)
            .map(|entry| Visited {
                jid: entry.jid,
                node: entry.node,
                depth: entry.depth,
                info: entry.info.unwrap_or(Err(QueryError::Cancelled)),
                items: entry.items.unwrap_or(Err(QueryError::Cancelled)),
            })
            .collect();
        Some(Ok(Arc::new(Walk {
            entities,
            complete: self.complete,
        })))
    }

    pub(crate) fn abandon(&mut self) -> Vec<RequestId> {
        self.flight.abandon()
    }
}
