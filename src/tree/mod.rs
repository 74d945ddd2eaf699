//! Questions about a tree of entities, each one command with one [`RequestId`] and one
//! completion: does an entity support a feature, which of a server's services match, what is
//! under an entity.
//!
//! A question asks through the machine's own requester, so the cache and aliasing serve it
//! (a second search from a warm cache sends nothing), with at most
//! [`Config::tree_concurrency`](crate::Config::tree_concurrency) of its queries in flight and
//! each query bounded by the machine's per-query timeout and by what is left of the question's
//! deadline. Its queries complete to the question, never to the host: they are the machine's
//! own ([`Requester::new_own_id`](crate::requester::Requester::new_own_id)), and the machine
//! hands their completions over after each input ([`Tree::settle`]).

mod flight;
mod services;
mod support;
mod walk;

use std::collections::{BTreeMap, HashMap};

use crate::error::QueryError;
use crate::event::Event;
use crate::ids::RequestId;
use crate::outbox::Outbox;
use crate::results::Completion;

pub(crate) use flight::Asker;

pub(crate) use services::ServicesQuestion;
pub(crate) use support::SupportQuestion;
pub(crate) use walk::WalkQuestion;

/// One question under way.
pub(crate) enum Question {
    Support(SupportQuestion),
    Services(ServicesQuestion),
    Walk(WalkQuestion),
}

impl Question {
    fn start(&mut self, asker: &mut Asker<'_>) {
        match self {
            Question::Support(question) => question.start(asker),
            Question::Services(question) => question.start(asker),
            Question::Walk(question) => question.start(asker),
        }
    }

    fn answered(&mut self, asker: &mut Asker<'_>, child: RequestId, completion: Completion) {
        match self {
            Question::Support(question) => question.answered(child, completion),
            Question::Services(question) => question.answered(asker, child, completion),
            Question::Walk(question) => question.answered(asker, child, completion),
        }
    }

    /// The completion, once the question has its answer.
    fn outcome(&mut self, id: RequestId) -> Option<Event> {
        match self {
            Question::Support(question) => question
                .outcome()
                .map(|result| Event::Supports { id, result }),
            Question::Services(question) => question
                .outcome()
                .map(|result| Event::Services { id, result }),
            Question::Walk(question) => question.outcome().map(|result| Event::Walk { id, result }),
        }
    }

    /// The completion with `error`, whatever the question had.
    fn failed(&self, id: RequestId, error: QueryError) -> Event {
        match self {
            Question::Support(_) => Event::Supports {
                id,
                result: Err(error),
            },
            Question::Services(_) => Event::Services {
                id,
                result: Err(error),
            },
            Question::Walk(_) => Event::Walk {
                id,
                result: Err(error),
            },
        }
    }

    /// Its queries in flight; it asks nothing more.
    fn abandon(&mut self) -> Vec<RequestId> {
        match self {
            Question::Support(question) => question.abandon(),
            Question::Services(question) => question.abandon(),
            Question::Walk(question) => question.abandon(),
        }
    }
}

/// Every question under way, and which question each of their queries belongs to.
#[derive(Default)]
pub(crate) struct Tree {
    /// In id order, so that ending them all completes them in request order.
    questions: BTreeMap<RequestId, Question>,
    parents: HashMap<RequestId, RequestId>,
}

impl std::fmt::Debug for Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tree")
            .field("questions", &self.questions.len())
            .finish_non_exhaustive()
    }
}

impl Tree {
    /// Starts question `id`; its first answers may already be there (from the cache), so the
    /// machine settles afterwards.
    pub(crate) fn start(&mut self, asker: &mut Asker<'_>, id: RequestId, mut question: Question) {
        question.start(asker);
        self.adopt(asker, id);
        self.questions.insert(id, question);
        // A question none of whose queries could be asked (its deadline already passed) has
        // its answer now.
        self.finish(asker, id);
    }

    /// Hands every completion of the questions' queries to its question, asking what that
    /// leads to, until none is left; completes the questions that have their answer.
    pub(crate) fn settle(&mut self, asker: &mut Asker<'_>) {
        while let Some(completion) = asker.requester.next_own_completion() {
            let child = completion.id;
            // A query of a question already over (cancelled, say) has nobody to tell.
            let Some(parent) = self.parents.remove(&child) else {
                continue;
            };
            let Some(question) = self.questions.get_mut(&parent) else {
                continue;
            };
            question.answered(asker, child, completion);
            self.adopt(asker, parent);
            self.finish(asker, parent);
        }
    }

    /// Completes question `id` if it has its answer.
    fn finish(&mut self, asker: &mut Asker<'_>, id: RequestId) {
        let Some(question) = self.questions.get_mut(&id) else {
            return;
        };
        if let Some(event) = question.outcome(id) {
            self.questions.remove(&id);
            asker.out.report(event);
        }
    }

    /// Records the queries question `id` just asked as its own.
    fn adopt(&mut self, asker: &mut Asker<'_>, id: RequestId) {
        for child in asker.issued.drain(..) {
            self.parents.insert(child, id);
        }
    }

    /// Whether `id` is a question under way.
    pub(crate) fn has(&self, id: RequestId) -> bool {
        self.questions.contains_key(&id)
    }

    /// Cancels question `id`: it completes with [`QueryError::Cancelled`]; each of its queries
    /// is cancelled, which abandons a request only if nobody else waits on it.
    pub(crate) fn cancel(&mut self, asker: &mut Asker<'_>, id: RequestId) -> bool {
        let Some(mut question) = self.questions.remove(&id) else {
            return false;
        };
        for child in question.abandon() {
            self.parents.remove(&child);
            asker.requester.cancel(asker.out, child);
        }
        asker.out.stats.cancelled += 1;
        asker.out.report(question.failed(id, QueryError::Cancelled));
        // The cancelled queries' completions were caught; nobody needs them.
        self.settle(asker);
        true
    }

    /// The stream is gone: every question fails with [`QueryError::Disconnected`], in request
    /// order.
    pub(crate) fn reset(&mut self, out: &mut Outbox) {
        for (id, question) in std::mem::take(&mut self.questions) {
            out.report(question.failed(id, QueryError::Disconnected));
        }
        self.parents.clear();
    }
}
