//! The queries one question about a tree has in flight: asked through the machine's own
//! requester (so the cache and aliasing serve them), at most a bound at once, each with the
//! machine's per-query timeout or what is left of the question's deadline, whichever ends
//! first: one silent item costs a query's timeout, not the whole question's.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use xmpp_parsers::disco::DiscoInfoResult;
use xmpp_parsers::jid::Jid;

use crate::config::Config;
use crate::error::{MalformedReply, QueryError};
use crate::event::Event;
use crate::ids::RequestId;
use crate::options::QueryOptions;
use crate::outbox::Outbox;
use crate::query::Ask;
use crate::requester::{KeyRef, Query, Requester};
use crate::results::{Completion, ItemList};
use crate::text;

/// What the machine lends a question while it works: the requester to ask through.
pub(crate) struct Asker<'a> {
    pub(crate) requester: &'a mut Requester,
    pub(crate) out: &'a mut Outbox,
    pub(crate) config: &'a Config,
    pub(crate) now: Instant,
    /// The queries asked since the tree last looked: the tree records whose they are.
    pub(crate) issued: Vec<RequestId>,
}

impl<'a> Asker<'a> {
    pub(crate) fn new(
        requester: &'a mut Requester,
        out: &'a mut Outbox,
        config: &'a Config,
        now: Instant,
    ) -> Self {
        Asker {
            requester,
            out,
            config,
            now,
            issued: Vec::new(),
        }
    }

    /// Asks `kind` of `jid` at `node` for a question, with the question's options and a
    /// timeout of [`Config::default_timeout`] or what is left of the question's deadline,
    /// whichever is shorter. The query's completion is the question's, not the host's.
    ///
    /// # Errors
    ///
    /// `Timeout` when the deadline has passed (nothing is sent), `Malformed` for a node no query
    /// can carry (an empty one, read from a careless responder's items).
    fn ask(
        &mut self,
        kind: Ask,
        jid: &Jid,
        node: Option<&str>,
        options: &QueryOptions,
        deadline: Option<Instant>,
    ) -> Result<RequestId, QueryError> {
        if let Some(node) = node {
            text::check_node(node).map_err(|refused| {
                QueryError::from(MalformedReply::InvalidPayload(format!(
                    "an item's node cannot be asked for: {refused}"
                )))
            })?;
        }
        let left = deadline
            .map(|deadline| {
                deadline
                    .checked_duration_since(self.now)
                    .filter(|left| !left.is_zero())
                    .ok_or(QueryError::Timeout)
            })
            .transpose()?;
        let timeout = match (self.config.default_timeout, left) {
            (Some(per_query), Some(left)) => Some(per_query.min(left)),
            (per_query, left) => per_query.or(left),
        };
        let options = match timeout {
            Some(timeout) => options.clone().with_timeout(timeout),
            None => options.clone().without_timeout(),
        };
        let key = KeyRef {
            jid,
            node,
            from: options.from.as_ref(),
        };
        let id = self.requester.new_own_id();
        self.issued.push(id);
        let query = Query {
            kind,
            key,
            page: None,
        };
        self.requester
            .query_as(self.out, self.config, self.now, id, query, &options);
        Ok(id)
    }
}

/// One query a question wants answered, and what it is for (`T`: the question's own tag).
#[derive(Debug, Clone)]
pub(crate) struct Job<T> {
    pub(crate) kind: Ask,
    pub(crate) jid: Jid,
    pub(crate) node: Option<String>,
    pub(crate) tag: T,
}

/// The queries of one question: waiting for a place, and in flight.
#[derive(Debug)]
pub(crate) struct Flight<T> {
    waiting: VecDeque<Job<T>>,
    live: HashMap<RequestId, Job<T>>,
    limit: usize,
    options: QueryOptions,
    deadline: Option<Instant>,
}

impl<T> Flight<T> {
    pub(crate) fn new(limit: usize, options: QueryOptions, deadline: Option<Instant>) -> Self {
        Flight {
            waiting: VecDeque::new(),
            live: HashMap::new(),
            limit: limit.max(1),
            options,
            deadline,
        }
    }

    pub(crate) fn push(&mut self, job: Job<T>) {
        self.waiting.push_back(job);
    }

    /// Asks what fits under the bound; returns the jobs that could not be asked, with why.
    pub(crate) fn pump(&mut self, asker: &mut Asker<'_>) -> Vec<(Job<T>, QueryError)> {
        let mut refused = Vec::new();
        while self.live.len() < self.limit {
            let Some(job) = self.waiting.pop_front() else {
                break;
            };
            let node = job.node.as_deref();
            match asker.ask(job.kind, &job.jid, node, &self.options, self.deadline) {
                Ok(id) => {
                    self.live.insert(id, job);
                }
                Err(error) => refused.push((job, error)),
            }
        }
        refused
    }

    /// The job a completion of `id` answers, if it is one of this question's.
    pub(crate) fn done(&mut self, id: RequestId) -> Option<Job<T>> {
        self.live.remove(&id)
    }

    /// Whether nothing is waiting or in flight.
    pub(crate) fn is_idle(&self) -> bool {
        self.waiting.is_empty() && self.live.is_empty()
    }

    /// Every query in flight, for a cancel; nothing waits after it.
    pub(crate) fn abandon(&mut self) -> Vec<RequestId> {
        self.waiting.clear();
        self.live.drain().map(|(id, _)| id).collect()
    }
}

/// The result a child's completion carries, by kind.
pub(crate) enum Answered {
    Info(Result<Arc<DiscoInfoResult>, QueryError>),
    List(Result<Arc<ItemList>, QueryError>),
    Other,
}

impl From<Completion> for Answered {
    /// Sorted by kind as the host's events are ([`Event::completion`]), so that a question and
    /// the host read a completion alike.
    fn from(completion: Completion) -> Self {
        let Completion { id, kind, outcome } = completion;
        match Event::completion(kind, id, outcome) {
            Event::Info { result, .. } => Answered::Info(result),
            Event::ItemList { result, .. } => Answered::List(result),
            _ => Answered::Other,
        }
    }
}
