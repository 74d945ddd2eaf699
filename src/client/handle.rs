//! [`Disco`]: the handle through which any task asks, answers and configures.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio_xmpp::Stanza;
use xmpp_parsers::disco::{DiscoInfoResult, DiscoItemsResult};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::presence::Presence;
use xmpp_parsers::rsm::SetQuery;

use super::events::SessionEnd;
use super::shared::{now, Command, Inner};
use crate::error::{InvalidArgument, QueryError};
use crate::event::Event;
use crate::ids::RequestId;
use crate::machine::DiscoMachine;
use crate::options::{QueryOptions, ServiceFilter};
use crate::results::{ItemList, Services, Support, Walk};
use crate::stats::Stats;

/// Why an awaited query has no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AskError {
    /// The machine refused the query at the call (an empty node, say); nothing was sent.
    #[error(transparent)]
    Invalid(#[from] InvalidArgument),
    /// The query was sent (or answered from the cache) and failed: the entity's stanza error,
    /// a deadline, a malformed reply, a new stream ([`QueryError::Disconnected`]), ...
    #[error(transparent)]
    Failed(#[from] QueryError),
    /// The session had ended before the query was asked; nothing was sent.
    #[error("the session has ended: {0}")]
    Ended(SessionEnd),
}

/// One XMPP session's service discovery, usable from any task: cheap to clone, `Send` and
/// `Sync`. Queries are awaited; the responder answers on the stream by itself.
///
/// The session lives while a handle does (or until [`close`](Self::close)); dropping the last
/// one ends it.
#[derive(Clone)]
pub struct Disco {
    pub(crate) inner: Arc<Inner>,
    pub(crate) commands: mpsc::UnboundedSender<Command>,
}

impl std::fmt::Debug for Disco {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let front = self.inner.front();
        f.debug_struct("Disco")
            .field("jid", &front.jid)
            .field("ended", &front.ended)
            .finish_non_exhaustive()
    }
}

/// Stanzas the host gave [`Disco::send`] that the session's end left unsent: the server never
/// got them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{stanzas} stanzas given to send were not sent before the session ended")]
#[non_exhaustive]
pub struct Unsent {
    /// How many.
    pub stanzas: usize,
}

impl Disco {
    /// Asks `jid` (at `node`, if given) for its identities, features and forms, and waits for
    /// the answer: from the cache, shared with an identical query in flight, or from the
    /// entity. See [`DiscoMachine::query_info`] for the whole contract.
    ///
    /// Dropping the future cancels the query (other queries aliased to its request keep
    /// waiting).
    ///
    /// # Errors
    ///
    /// [`AskError`]: refused at the call, failed, or the session is over.
    pub async fn query_info(
        &self,
        jid: &Jid,
        node: Option<&str>,
        options: QueryOptions,
    ) -> Result<Arc<DiscoInfoResult>, AskError> {
        let start = |machine: &mut DiscoMachine| machine.query_info(now(), jid, node, options);
        self.ask_for(start, |event| match event {
            Event::Info { result, .. } => Some(result),
            _ => None,
        })
        .await
    }

    /// Asks `jid` (at `node`, if given) for its items and waits for the answer. Same contract
    /// as [`query_info`](Self::query_info).
    ///
    /// # Errors
    ///
    /// As [`query_info`](Self::query_info).
    pub async fn query_items(
        &self,
        jid: &Jid,
        node: Option<&str>,
        options: QueryOptions,
    ) -> Result<Arc<DiscoItemsResult>, AskError> {
        let start = |machine: &mut DiscoMachine| machine.query_items(now(), jid, node, options);
        self.ask_for(start, items).await
    }

    /// Reads the whole item list of `jid` (at `node`, if given), page after page (XEP-0059),
    /// and waits for it. See [`DiscoMachine::query_item_list`] for the whole contract.
    ///
    /// # Errors
    ///
    /// As [`query_info`](Self::query_info).
    pub async fn query_item_list(
        &self,
        jid: &Jid,
        node: Option<&str>,
        options: QueryOptions,
    ) -> Result<Arc<ItemList>, AskError> {
        let start = |machine: &mut DiscoMachine| machine.query_item_list(now(), jid, node, options);
        self.ask_for(start, |event| match event {
            Event::ItemList { result, .. } => Some(result),
            _ => None,
        })
        .await
    }

    /// Asks `jid` (at `node`, if given) for one page of its items (XEP-0059) and waits for it;
    /// the answer's `rsm` places it in the whole list. See
    /// [`DiscoMachine::query_items_page`].
    ///
    /// # Errors
    ///
    /// As [`query_info`](Self::query_info).
    pub async fn query_items_page(
        &self,
        jid: &Jid,
        node: Option<&str>,
        page: SetQuery,
        options: QueryOptions,
    ) -> Result<Arc<DiscoItemsResult>, AskError> {
        let start =
            |machine: &mut DiscoMachine| machine.query_items_page(now(), jid, node, page, options);
        self.ask_for(start, items).await
    }

    /// Whether `jid` (at `node`, if given) advertises `feature`, with the info it was read
    /// from. See [`DiscoMachine::supports`].
    ///
    /// # Errors
    ///
    /// As [`query_info`](Self::query_info).
    pub async fn supports(
        &self,
        jid: &Jid,
        node: Option<&str>,
        feature: &str,
        options: QueryOptions,
    ) -> Result<Support, AskError> {
        let start =
            |machine: &mut DiscoMachine| machine.supports(now(), jid, node, feature, options);
        self.ask_for(start, |event| match event {
            Event::Supports { result, .. } => Some(result),
            _ => None,
        })
        .await
    }

    /// Which services of `jid` match `filter`: one search over its items, through the cache.
    /// See [`DiscoMachine::find_services`].
    ///
    /// # Errors
    ///
    /// As [`query_info`](Self::query_info); only a failed item list fails the search.
    pub async fn find_services(
        &self,
        jid: &Jid,
        node: Option<&str>,
        filter: ServiceFilter,
        options: QueryOptions,
    ) -> Result<Arc<Services>, AskError> {
        let start =
            |machine: &mut DiscoMachine| machine.find_services(now(), jid, node, filter, options);
        self.ask_for(start, |event| match event {
            Event::Services { result, .. } => Some(result),
            _ => None,
        })
        .await
    }

    /// The tree under `jid`, breadth first, to `max_depth` levels and `max_entities` entities.
    /// See [`DiscoMachine::walk`].
    ///
    /// # Errors
    ///
    /// As [`query_info`](Self::query_info).
    pub async fn walk(
        &self,
        jid: &Jid,
        node: Option<&str>,
        max_depth: usize,
        max_entities: usize,
        options: QueryOptions,
    ) -> Result<Arc<Walk>, AskError> {
        let start = |machine: &mut DiscoMachine| {
            machine.walk(now(), jid, node, max_depth, max_entities, options)
        };
        self.ask_for(start, |event| match event {
            Event::Walk { result, .. } => Some(result),
            _ => None,
        })
        .await
    }

    /// Starts a query, waits for its completion and takes its result out with `take`.
    async fn ask_for<T>(
        &self,
        start: impl FnOnce(&mut DiscoMachine) -> Result<RequestId, InvalidArgument>,
        take: fn(Event) -> Option<Result<T, QueryError>>,
    ) -> Result<T, AskError> {
        let event = self.ask(start)?.await?;
        // Only the query's own kind of completion carries its id.
        let result = take(event).unwrap_or(Err(QueryError::Disconnected));
        Ok(result?)
    }

    /// Starts a query under the lock and returns the future of its completion.
    fn ask(
        &self,
        start: impl FnOnce(&mut DiscoMachine) -> Result<RequestId, InvalidArgument>,
    ) -> Result<Completion, AskError> {
        let mut shared = self.inner.lock();
        if let Some(reason) = self.inner.front().ended {
            return Err(AskError::Ended(reason));
        }
        let id = start(&mut shared.machine)?;
        let receiver = self.inner.wait_for(&mut shared, id);
        drop(shared);
        self.inner.wake.notify_one();
        Ok(Completion {
            inner: Arc::clone(&self.inner),
            id,
            receiver: Some(receiver),
        })
    }

    /// Runs `change` on the machine: register features, mount nodes, answer a
    /// [deferred request](crate::Event::DeferredRequest), prime the cache, read
    /// [`stats`](DiscoMachine::stats). What it makes the machine send goes out at once, and
    /// the completions of queries it starts arrive as [`SessionEvent::Disco`](super::SessionEvent::Disco).
    ///
    /// The machine is locked meanwhile: keep `change` short and do not await in it. The
    /// handle's [`send`](Self::send), [`refuse`](Self::refuse), [`presence`](Self::presence),
    /// [`jid`](Self::jid) and [`stats`](Self::stats) can be called from `change` (`stats` then
    /// gives the counters as they were before it).
    ///
    /// When `change` changed what the root's capabilities hashes cover, and the host's
    /// presence is on, the host's broadcast presence goes out again with the new hashes: once
    /// per call, however many edits it made (see the [module documentation](super)).
    pub fn with_machine<R>(&self, change: impl FnOnce(&mut DiscoMachine) -> R) -> R {
        let mut shared = self.inner.lock();
        let result = change(&mut shared.machine);
        self.inner.dispatch(&mut shared, None);
        drop(shared);
        self.inner.wake.notify_one();
        result
    }

    /// An available presence carrying the machine's capabilities
    /// ([`caps_announcement`](DiscoMachine::caps_announcement): set
    /// [`Config::caps_node`](crate::Config::caps_node) in the login's config); a plain one
    /// without. [`send`](Self::send) adds them to any available presence by itself (unless
    /// [`Login::manage_presence`](super::Login::manage_presence) turned that off). Presences
    /// received are read for their capabilities by the session itself.
    pub fn presence(&self) -> Presence {
        self.inner.front().presence()
    }

    /// The machine's counters (as of the last time the session touched the machine), with
    /// the session's [`Stats::requests_shed`] and [`Stats::requests_waiting`].
    pub fn stats(&self) -> Stats {
        self.inner.front().stats()
    }

    /// The full JID the server bound (it may change on a [`Reset`](super::SessionEvent::Reset)).
    pub fn jid(&self) -> FullJid {
        self.inner.front().jid.clone()
    }

    /// The JID of the server this session is logged in to.
    pub fn server(&self) -> Jid {
        Jid::from(BareJid::from_parts(None, self.jid().domain()))
    }

    /// Sends a stanza of the host's own (a presence, a message, an answer to an IQ the host
    /// handles) on the session's stream, after what is already queued. An available presence
    /// gets the session's capabilities (see the [module documentation](super)).
    ///
    /// A stanza accepted is never dropped by the session: it waits, in order, however full the
    /// backlog is (the backlog's limit holds the session's own answers back, never the host's),
    /// while the stream is suspended, and through a new stream, on which it goes out. A
    /// [`close`](Self::close) sends it first, or says it could not; a session that ends for
    /// another reason logs how many were left.
    ///
    /// # Errors
    ///
    /// [`SessionEnd`] if the session is over or closing; the stanza is not accepted.
    pub fn send(&self, stanza: impl Into<Stanza>) -> Result<(), SessionEnd> {
        let mut front = self.inner.front();
        if let Some(reason) = front.ended {
            return Err(reason);
        }
        front.send(stanza.into());
        drop(front);
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Answers an IQ `get` or `set` the host does not handle with `service-unavailable`
    /// (RFC 6120 §8.2.3); a `result` or `error` is dropped.
    pub fn refuse(&self, iq: Iq) {
        self.inner.refuse(iq);
    }

    /// Ends the session cleanly: what [`send`](Self::send) accepted before goes out first,
    /// then queries in flight complete with [`QueryError::Disconnected`], the stream is
    /// closed, and [`Incoming`](super::Incoming) gets
    /// [`SessionEvent::Ended`](super::SessionEvent::Ended); all within 10 s. Returns once that
    /// is done (at once if the session had already ended). Nothing is accepted meanwhile.
    ///
    /// # Errors
    ///
    /// [`Unsent`]: stanzas the host gave that had not left when the 10 s ran out (the server
    /// unreachable, say), or that were left when the session ended otherwise.
    pub async fn close(&self) -> Result<(), Unsent> {
        let (closed, done) = oneshot::channel();
        if self.commands.send(Command::Close(closed)).is_err() {
            // The driver is gone: the session is over, and said so when it ended.
            return Ok(());
        }
        match done.await {
            Ok(0) | Err(_) => Ok(()),
            Ok(stanzas) => Err(Unsent { stanzas }),
        }
    }
}

/// The result of an items completion (a plain items query or one page).
fn items(event: Event) -> Option<Result<Arc<DiscoItemsResult>, QueryError>> {
    match event {
        Event::Items { result, .. } => Some(result),
        _ => None,
    }
}

/// A query's completion; dropping it before it resolves cancels the query.
struct Completion {
    inner: Arc<Inner>,
    id: RequestId,
    receiver: Option<oneshot::Receiver<Event>>,
}

impl std::future::Future for Completion {
    type Output = Result<Event, AskError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let Some(receiver) = self.receiver.as_mut() else {
            return std::task::Poll::Ready(Err(AskError::Ended(SessionEnd::Dropped)));
        };
        let outcome = std::task::ready!(std::pin::Pin::new(receiver).poll(cx));
        self.receiver = None;
        // A session that ends normally fails every query through the machine first; a waiter
        // dropped without its completion is a session that ended in a panic.
        std::task::Poll::Ready(outcome.map_err(|_| {
            let reason = self.inner.front().ended;
            reason.map_or(AskError::Failed(QueryError::Disconnected), AskError::Ended)
        }))
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if self.receiver.is_some() {
            self.inner.abandon(self.id);
        }
    }
}
