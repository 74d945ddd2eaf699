//! Requests for deferred nodes, waiting for the host's answer: what each needs to be answered
//! later, under the handle the host was given.

use std::collections::HashMap;

use xmpp_parsers::disco::{DiscoInfoResult, Item};
use xmpp_parsers::jid::Jid;
use xmpp_parsers::rsm::SetQuery;
use xmpp_parsers::stanza_error::StanzaError;

use crate::ids::ResponseHandle;
use crate::query::QueryKind;

/// A deferred request waiting for the host's answer.
pub(super) struct Pending {
    pub(super) kind: QueryKind,
    pub(super) node: Option<String>,
    /// The page asked for, which the machine takes out of the host's list.
    pub(super) page: Option<SetQuery>,
    pub(super) reply_to: Option<Jid>,
    pub(super) reply_from: Option<Jid>,
    pub(super) id: String,
}

/// The host's answer to a deferred request.
pub(crate) enum DeferredAnswer {
    Info(DiscoInfoResult),
    Items(Vec<Item>),
    Error(StanzaError),
}

/// The deferred requests waiting, by handle; handles are never reused.
#[derive(Default)]
pub(super) struct Deferred {
    waiting: HashMap<u64, Pending>,
    next: u64,
}

impl Deferred {
    /// Keeps `pending` until the host answers; the handle to answer it with.
    pub(super) fn insert(&mut self, pending: Pending) -> ResponseHandle {
        let number = self.next;
        self.next += 1;
        self.waiting.insert(number, pending);
        ResponseHandle(number)
    }

    pub(super) fn get(&self, handle: ResponseHandle) -> Option<&Pending> {
        self.waiting.get(&handle.0)
    }

    pub(super) fn remove(&mut self, handle: ResponseHandle) -> Option<Pending> {
        self.waiting.remove(&handle.0)
    }

    pub(super) fn len(&self) -> usize {
        self.waiting.len()
    }

    /// The stream is gone: no request waiting can be answered any more.
    pub(super) fn clear(&mut self) {
        self.waiting.clear();
    }
}
