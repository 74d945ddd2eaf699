//! The requester half: queries towards other entities, their cache, aliasing and deadlines.
//!
//! Vocabulary:
//! * a **waiter** is one query (one [`RequestId`]): the host's, or one the machine asked for
//!   itself, whose completion [`delivery`] keeps for the question that asked it;
//! * a **source** is what waiters wait on: a request in flight, or a pending primed entry;
//! * an **entry** is what the cache holds for a key: a result, a sticky primed failure, or a
//!   pointer to the source later queries alias to.
//!
//! Waiters belong to their source, not to the cache entry, so evicting, flushing or replacing an
//! entry never loses a waiter. A source's outcome is written to the cache only if the entry for
//! its key still points at it; this one rule gives "fresh requests win", "an evicted request's
//! answer is not cached" and "failure is not cached" their meaning.

mod caps;
mod delivery;
mod key;
mod learned;
mod list;
mod lru;
mod numbered;
mod timers;

use std::sync::Arc;
use std::time::Instant;

use xmpp_parsers::jid::Jid;
use xmpp_parsers::ns::RSM;
use xmpp_parsers::rsm::SetQuery;

use crate::caps::{CapsInfo, HashKey};
use crate::config::Config;
use crate::error::QueryError;
use crate::event::Event;
use crate::ids::{PrimeHandle, RequestId};
use crate::options::QueryOptions;
use crate::outbox::Outbox;
use crate::query::{Ask, QueryKind};
use crate::read::{self, Handled, IqHead, IqType, Received, ReplyBody};
use crate::results::{Answer, Completion};
use crate::write::{Outgoing, OutgoingQuery};

use delivery::Delivery;
use key::Key;
pub(crate) use key::KeyRef;
use learned::Learned;
use list::{ListRead, Step};
use lru::Lru;
use numbered::Numbered;
use timers::Timers;

/// What the cache knows about a key, as seen by
/// [`DiscoMachine::peek_info`](crate::DiscoMachine::peek_info) and
/// [`peek_items`](crate::DiscoMachine::peek_items).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Cached<T> {
    /// A result: a query for this key completes at once with it.
    Ready(Arc<T>),
    /// A request in flight or a pending primed entry: a query joins it.
    Pending,
    /// A primed entry that failed: a query fails at once with this error, until a fresh query.
    Failed(QueryError),
}

enum Entry {
    Ready(Answer),
    /// Boxed: primed failures are rare, and every cached entry would pay their size.
    Failed(Box<QueryError>),
    Pending(u64),
}

enum Origin {
    /// An IQ sent to the key's JID, with id `prefix + source number`.
    Iq,
    /// A pending primed entry; `lazy` ones tell the host when a query first needs them.
    Prime { lazy: bool, requested: bool },
}

struct Source {
    kind: Ask,
    key: Key,
    /// Where the cache entry for `key` was placed, pointing at this source; it still is the
    /// key's entry while it holds `Entry::Pending` with this source's number (numbers are never
    /// reused), so completing needs no lookup by key.
    slot: Option<u32>,
    origin: Origin,
    /// Every waiter that ever joined, in order; those that left early are skipped on completion.
    waiters: Vec<RequestId>,
    /// How many of `waiters` are still waiting.
    live: usize,
    /// A whole list being read page by page: what the pages so far gave.
    list: Option<Box<ListRead>>,
    /// A hash being verified at a caps node: who waits, about which entity.
    caps: Option<Box<CapsFlight>>,
}

/// A request in flight at a caps node, and who waits on it.
struct CapsFlight {
    /// The hash being verified.
    hash: HashKey,
    /// Every waiter, with the entity it asked about: an answer that fails verification
    /// answers only the entity that gave it.
    askers: Vec<(RequestId, Jid)>,
}

struct Waiter {
    kind: Ask,
    source: u64,
    armed: bool,
}

/// What the host asked for: a kind, a key, and for a single page, which page.
pub(crate) struct Query<'a> {
    pub(crate) kind: Ask,
    pub(crate) key: KeyRef<'a>,
    /// Boxed: most queries ask for no page, and a query's size is on the hot path of every
    /// cache hit.
    pub(crate) page: Option<Box<SetQuery>>,
}

/// What [`Requester::match_reply`] made of a reply's envelope.
enum ReplyMatch {
    /// Not an id the machine issued: the host's stanza.
    NotOurs,
    /// One of our ids, but late, duplicated or from the wrong entity: consumed, no effect.
    Rejected,
    /// The awaited reply to the request (source) of this number.
    Accepted(u64),
}

pub(crate) struct Requester {
    info: Lru<Entry>,
    items: Lru<Entry>,
    /// Whole lists, each read page by page.
    lists: Lru<Entry>,
    /// Single pages: never cached nor aliased (capacity zero), each a snapshot of its own.
    pages: Lru<Entry>,
    /// Requests at caps nodes: aliased by hash in `caps`, never cached by key (capacity zero).
    caps_nodes: Lru<Entry>,
    /// Entities that answered an items query with a `<set/>`: positive knowledge that they
    /// support RSM (XEP-0059 §4), keyed by the entity alone.
    rsm: Lru<()>,
    /// Entity capabilities: claims and verified answers.
    caps: Learned,
    sources: Numbered<Source>,
    /// Keyed by [`RequestId`] numbers.
    waiters: Numbered<Waiter>,
    timers: Timers,
    /// Numbers sources (and so IQ ids and prime handles); never reused.
    next_source: u64,
    next_request: u64,
    iqs_in_flight: usize,
    /// Where completions go: the host, or the machine's own questions.
    delivery: Delivery,
}

impl Requester {
    pub(crate) fn new(config: &Config) -> Self {
        Requester {
            info: Lru::new(config.info_cache_capacity),
            items: Lru::new(config.items_cache_capacity),
            lists: Lru::new(config.list_cache_capacity),
            pages: Lru::new(0),
            caps_nodes: Lru::new(0),
            rsm: Lru::new(config.rsm_entities_capacity),
            caps: Learned::new(config.caps_claim_capacity, config.caps_hash_capacity),
            sources: Numbered::default(),
            waiters: Numbered::default(),
            timers: Timers::default(),
            next_source: 0,
            next_request: 0,
            iqs_in_flight: 0,
            delivery: Delivery::default(),
        }
    }

    fn cache(&mut self, kind: Ask) -> &mut Lru<Entry> {
        match kind {
            Ask::Info => &mut self.info,
            Ask::Items => &mut self.items,
            Ask::Page => &mut self.pages,
            Ask::List => &mut self.lists,
            Ask::Caps => &mut self.caps_nodes,
        }
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        match (self.timers.next(), self.caps.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A new request id, never used before.
    pub(crate) fn new_id(&mut self) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        id
    }

    /// A new id for a query the machine asks for itself (a question about a tree, an eager
    /// verification): its completion goes to
    /// [`next_own_completion`](Self::next_own_completion), never to the host.
    pub(crate) fn new_own_id(&mut self) -> RequestId {
        let id = self.new_id();
        self.delivery.own(id);
        id
    }

    /// The next completion of a query the machine asked for itself.
    pub(crate) fn next_own_completion(&mut self) -> Option<Completion> {
        self.delivery.next_own()
    }

    /// How many queries the machine asked for itself have not completed yet.
    pub(crate) fn own_pending(&self) -> usize {
        self.delivery.own_pending()
    }

    pub(crate) fn query(
        &mut self,
        out: &mut Outbox,
        config: &Config,
        now: Instant,
        query: Query<'_>,
        options: &QueryOptions,
    ) -> RequestId {
        let id = self.new_id();
        self.query_as(out, config, now, id, query, options);
        id
    }

    /// [`query`](Self::query) under an id the caller took from [`new_id`](Self::new_id).
    #[inline]
    pub(crate) fn query_as(
        &mut self,
        out: &mut Outbox,
        config: &Config,
        now: Instant,
        id: RequestId,
        query: Query<'_>,
        options: &QueryOptions,
    ) {
        let Query { kind, key, page } = query;
        let deadline = options.deadline(config.default_timeout, now);

        if !options.require_fresh {
            match self.cache(kind).get(key) {
                Some(Entry::Ready(answer)) if covers(answer, options, config) => {
                    let answer = answer.clone();
                    out.stats.cache_hits += 1;
                    self.delivery.complete(out, kind, id, Ok(answer));
                    return;
                }
                Some(Entry::Failed(error)) => {
                    let error = QueryError::clone(error);
                    out.stats.cache_hits += 1;
                    self.delivery.complete(out, kind, id, Err(error));
                    return;
                }
                Some(Entry::Pending(source)) => {
                    let source = *source;
                    // A list read with smaller bounds than this query's is not joined.
                    if self.reads_as_far(source, options, config) {
                        out.stats.aliased += 1;
                        self.attach(out, id, kind, source, deadline);
                        return;
                    }
                }
                // A list read only in part answers no query that would read further.
                Some(Entry::Ready(_)) | None => {}
            }
            // The entity's root, and it claimed a hash: the hash cache may know the answer.
            if kind == Ask::Info
                && key.node.is_none()
                && key.from.is_none()
                && self.query_caps(out, config, id, key.jid, now, deadline)
            {
                return;
            }
        }

        if self.iqs_in_flight >= config.max_in_flight {
            self.delivery.complete(
                out,
                kind,
                id,
                Err(QueryError::TooManyRequests {
                    limit: config.max_in_flight,
                }),
            );
            return;
        }
        // A `<set/>` goes only to an entity known to support RSM (XEP-0059 §4).
        let knows_rsm = kind == Ask::List && self.knows_rsm(key.jid);
        let number = self.new_source(kind, key, Origin::Iq);
        let page = match kind {
            Ask::List => {
                let mut list = ListRead::new(
                    key.node,
                    options.page_size.unwrap_or(config.list_page_size),
                    options.max_pages.unwrap_or(config.max_list_pages),
                    options.max_items.unwrap_or(config.max_list_items),
                );
                let first = knows_rsm.then(|| Box::new(list.request(None)));
                if let Some(source) = self.sources.get_mut(number) {
                    source.list = Some(Box::new(list));
                }
                first
            }
            Ask::Info | Ask::Items | Ask::Page | Ask::Caps => page,
        };
        self.iqs_in_flight += 1;
        self.send_query(out, config, number, page);
        self.attach(out, id, kind, number, deadline);
    }

    /// Whether `jid` is known to support result set management: it answered an items query
    /// with a `<set/>` this session, or its cached root info lists the RSM feature.
    fn knows_rsm(&mut self, jid: &Jid) -> bool {
        let entity = KeyRef {
            jid,
            node: None,
            from: None,
        };
        self.rsm.get(entity).is_some()
            || matches!(
                self.info.peek(entity),
                Some(Entry::Ready(Answer::Info(info))) if info.features.contains(RSM)
            )
    }

    /// Whether source `number` reads as far as a query with `options` would: any source but a
    /// whole list's does; a list's, if its bounds are no smaller than the query's.
    fn reads_as_far(&self, number: u64, options: &QueryOptions, config: &Config) -> bool {
        self.sources
            .get(number)
            .and_then(|source| source.list.as_deref())
            .is_none_or(|list| {
                list.reads_as_far(
                    options.max_items.unwrap_or(config.max_list_items),
                    options.max_pages.unwrap_or(config.max_list_pages),
                )
            })
    }

    /// Sends the IQ of source `number` (asking for `page` of the list, if given).
    fn send_query(
        &self,
        out: &mut Outbox,
        config: &Config,
        number: u64,
        page: Option<Box<SetQuery>>,
    ) {
        let Some(source) = self.sources.get(number) else {
            return;
        };
        out.stats.requests_sent += 1;
        out.send(Outgoing::Query(OutgoingQuery {
            kind: source.kind.query(),
            to: source.key.jid.clone(),
            from: source.key.from.clone().map(Arc::new),
            id: format!("{}{}", config.id_prefix, number),
            node: source.key.node.as_deref().map(str::to_owned),
            page,
        }));
    }

    /// The next page of the list source `number` reads: the request goes on under a new
    /// number (a new IQ id), so that a late or repeated answer to a page already read is
    /// rejected like any reply to an id no longer awaited.
    fn next_page(&mut self, out: &mut Outbox, config: &Config, number: u64, after: String) {
        let Some(mut source) = self.sources.remove(number) else {
            return;
        };
        let renumbered = self.next_source;
        self.next_source += 1;
        let cache = self.cache(source.kind);
        if let Some(slot) = cached_slot(cache, source.slot, number) {
            if let Some(entry) = cache.get_at(slot) {
                *entry = Entry::Pending(renumbered);
            }
        }
        for id in &source.waiters {
            if let Some(waiter) = self.waiters.get_mut(id.0) {
                waiter.source = renumbered;
            }
        }
        let page = source
            .list
            .as_mut()
            .map(|list| Box::new(list.request(Some(after))));
        self.sources.insert(renumbered, source);
        self.send_query(out, config, renumbered, page);
    }

    /// Creates a source for `key` and points the cache entry at it.
    fn new_source(&mut self, kind: Ask, key: KeyRef<'_>, origin: Origin) -> u64 {
        let number = self.next_source;
        self.next_source += 1;
        let inserted = self.cache(kind).insert_at(key, Entry::Pending(number));
        self.sources.insert(
            number,
            Source {
                kind,
                key: Key::from(key),
                slot: inserted.at,
                origin,
                waiters: Vec::new(),
                live: 0,
                list: None,
                caps: None,
            },
        );
        self.forget_displaced(inserted.displaced);
        number
    }

    fn attach(
        &mut self,
        out: &mut Outbox,
        id: RequestId,
        kind: Ask,
        number: u64,
        deadline: Option<Instant>,
    ) {
        let Some(source) = self.sources.get_mut(number) else {
            // A cache entry always points at a live source; should that ever break, the query
            // must still complete exactly once.
            self.delivery
                .complete(out, kind, id, Err(QueryError::Disconnected));
            return;
        };
        source.waiters.push(id);
        source.live += 1;
        if let Origin::Prime {
            lazy: true,
            requested,
        } = &mut source.origin
        {
            if !*requested {
                *requested = true;
                out.report(Event::PrimeRequested {
                    handle: PrimeHandle(number),
                    jid: source.key.jid.clone(),
                    node: source.key.node.as_deref().map(str::to_owned),
                });
            }
        }
        self.waiters.insert(
            id.0,
            Waiter {
                kind,
                source: number,
                armed: deadline.is_some(),
            },
        );
        if let Some(deadline) = deadline {
            self.timers.arm(deadline, id);
        }
    }

    /// A waiter left before its source completed (timeout, cancel): the source may have to go.
    fn detach(&mut self, number: u64) {
        let Some(source) = self.sources.get_mut(number) else {
            return;
        };
        source.live = source.live.saturating_sub(1);
        if source.live > 0 {
            // Queries that come and go on a long-lived source must not grow its list forever.
            if source.waiters.len() > 2 * source.live + 16 {
                let waiters = &self.waiters;
                source.waiters.retain(|id| waiters.contains(id.0));
            }
            return;
        }
        let (kind, slot, is_iq) = (
            source.kind,
            source.slot,
            matches!(source.origin, Origin::Iq),
        );
        let cache = self.cache(kind);
        let slot = cached_slot(cache, slot, number);
        if is_iq {
            // Nobody waits any more: abandon the request; a late reply will be ignored.
            if let Some(slot) = slot {
                cache.remove_at(slot);
            }
            if let Some(source) = self.sources.remove(number) {
                if let Some(flight) = source.caps {
                    self.caps.done(flight.hash, &source.key.jid, number);
                }
            }
            self.iqs_in_flight = self.iqs_in_flight.saturating_sub(1);
        } else if slot.is_none() {
            // A primed entry stays resolvable while the cache holds it.
            self.sources.remove(number);
        }
    }

    /// An entry left the cache (evicted, replaced, flushed): a primed source nobody waits on
    /// can no longer be reached, so its handle goes stale.
    fn forget_displaced(&mut self, displaced: Option<Entry>) {
        if let Some(Entry::Pending(number)) = displaced {
            let orphan = self.sources.get(number).is_some_and(|source| {
                matches!(source.origin, Origin::Prime { .. }) && source.live == 0
            });
            if orphan {
                self.sources.remove(number);
            }
        }
    }

    /// Completes every waiter of source `number` with `outcome` and updates the cache.
    fn complete_source(
        &mut self,
        out: &mut Outbox,
        number: u64,
        outcome: Result<Answer, QueryError>,
    ) {
        let Some(source) = self.sources.remove(number) else {
            return;
        };
        for id in &source.waiters {
            self.finish(out, *id, outcome.clone());
        }
        let is_iq = matches!(source.origin, Origin::Iq);
        if is_iq {
            self.iqs_in_flight = self.iqs_in_flight.saturating_sub(1);
        }
        let cache = self.cache(source.kind);
        if let Some(slot) = cached_slot(cache, source.slot, number) {
            match outcome {
                Ok(answer) => {
                    if let Some(entry) = cache.get_at(slot) {
                        *entry = Entry::Ready(answer);
                    }
                }
                // Failure is not cached, except a primed failure, which sticks until a fresh query.
                Err(error) => {
                    if is_iq {
                        cache.remove_at(slot);
                    } else if let Some(entry) = cache.get_at(slot) {
                        *entry = Entry::Failed(Box::new(error));
                    }
                }
            }
        }
        self.prune_timers();
    }

    /// Completes waiter `id`, if it still waits, with `outcome`.
    fn finish(&mut self, out: &mut Outbox, id: RequestId, outcome: Result<Answer, QueryError>) {
        if let Some(waiter) = self.waiters.remove(id.0) {
            if waiter.armed {
                self.timers.disarm();
            }
            self.delivery.complete(out, waiter.kind, id, outcome);
        }
    }

    /// Makes waiters `ids` wait on source `number` instead (their deadlines stay).
    fn move_waiters(&mut self, number: u64, ids: &[RequestId]) {
        let Some(source) = self.sources.get_mut(number) else {
            return;
        };
        for id in ids {
            if let Some(waiter) = self.waiters.get_mut(id.0) {
                waiter.source = number;
                source.waiters.push(*id);
                source.live += 1;
            }
        }
    }

    fn prune_timers(&mut self) {
        let waiters = &self.waiters;
        self.timers.prune(|_, id| waiters.contains(id.0));
        self.caps.prune();
    }

    /// Takes a received reply (a `result` or `error`: `type_`, as the machine read it) if it
    /// answers one of the machine's requests, and completes that request with what it says.
    pub(crate) fn handle_reply<S: Received>(
        &mut self,
        out: &mut Outbox,
        config: &Config,
        now: Instant,
        stanza: S,
        type_: IqType,
    ) -> Handled<S> {
        let matched = match stanza.envelope(type_) {
            Some(head) => self.match_reply(out, config, head),
            None => ReplyMatch::NotOurs,
        };
        match matched {
            ReplyMatch::NotOurs => Handled::Unhandled(stanza),
            ReplyMatch::Rejected => Handled::Consumed,
            ReplyMatch::Accepted(number) => {
                self.complete_reply(out, config, now, number, stanza.into_reply_body());
                Handled::Consumed
            }
        }
    }

    /// Decides whether a reply is ours to take, from its envelope alone, so that a stanza
    /// handed back is untouched and a rejected one costs no parsing.
    fn match_reply(&self, out: &mut Outbox, config: &Config, head: IqHead<'_>) -> ReplyMatch {
        let Some(number) = self.issued_number(&config.id_prefix, head.id) else {
            return ReplyMatch::NotOurs;
        };
        let Some(source) = self
            .sources
            .get(number)
            .filter(|source| matches!(source.origin, Origin::Iq))
        else {
            // Late (every waiter gave up), duplicate, or aimed at a primed entry's number.
            log::debug!("a reply with id {} no request waits for: ignored", head.id);
            out.stats.replies_rejected += 1;
            return ReplyMatch::Rejected;
        };
        // The address that asked: the query's own, or the machine's when it stamps it.
        let asker = source
            .key
            .from
            .as_ref()
            .or(config.own_jid.as_ref().filter(|_| config.stamp_from));
        if !trusted(head.from, &source.key.jid, config.own_jid.as_ref())
            || !addressed_to(head.to, asker)
        {
            log::debug!(
                "a reply to {} (id {}) came from {:?} to {:?}, not from the entity asked: \
                 ignored",
                source.key.jid,
                head.id,
                head.from,
                head.to
            );
            out.stats.replies_rejected += 1;
            return ReplyMatch::Rejected;
        }
        ReplyMatch::Accepted(number)
    }

    /// Completes request `number`, whose reply was accepted, with what the reply's body says.
    fn complete_reply(
        &mut self,
        out: &mut Outbox,
        config: &Config,
        now: Instant,
        number: u64,
        body: ReplyBody,
    ) {
        let Some(source) = self.sources.get_mut(number) else {
            return;
        };
        let verifying = source.caps.is_some();
        let mut caps = None;
        let outcome = match body {
            ReplyBody::Result(Ok(payload)) => {
                // A hash is checked on the element as received (see `crate::caps`).
                if verifying {
                    caps = Some(CapsInfo::from_query(&payload));
                }
                read::parse_answer(source.kind.query(), payload, source.key.node.as_deref())
                    .map_err(QueryError::from)
            }
            ReplyBody::Result(Err(malformed)) | ReplyBody::Error(Err(malformed)) => {
                Err(QueryError::from(malformed))
            }
            ReplyBody::Error(Ok(error)) => Err(QueryError::Stanza(Arc::new(error))),
        };
        if let Err(QueryError::Malformed(malformed)) = &outcome {
            log::debug!(
                "the reply of {} is no {:?} answer: {malformed}",
                source.key.jid,
                source.kind.query()
            );
            out.stats.replies_malformed += 1;
        }
        // An answer that pages says the entity supports RSM.
        if let Ok(Answer::Items(page)) = &outcome {
            if page.rsm.is_some() {
                let entity = KeyRef {
                    jid: &source.key.jid,
                    node: None,
                    from: None,
                };
                self.rsm.insert(entity, ());
            }
        }
        if verifying {
            return self.complete_caps(out, config, now, number, outcome, caps);
        }
        // A page of a whole list: the list goes on, or it is read. A failed page fails it.
        let outcome = match (outcome, source.list.as_mut()) {
            (Ok(Answer::Items(page)), Some(list)) => match list.take(&page) {
                Step::Next(after) => return self.next_page(out, config, number, after),
                Step::Done(list) => Ok(Answer::List(Arc::new(list))),
            },
            (outcome, _) => outcome,
        };
        self.complete_source(out, number, outcome);
    }

    /// The source number in `id` if `id` is exactly one this machine issued
    /// (`prefix` + canonical decimal below the next number). Anything else is the host's.
    fn issued_number(&self, prefix: &str, id: &str) -> Option<u64> {
        let digits = id.strip_prefix(prefix)?;
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits.len() == 1 || !digits.starts_with('0'));
        if !canonical {
            return None;
        }
        digits
            .parse()
            .ok()
            .filter(|number| *number < self.next_source)
    }

    pub(crate) fn handle_timeout(&mut self, out: &mut Outbox, config: &Config, now: Instant) {
        while let Some(number) = self.caps.pop_due(now) {
            self.verification_expired(out, config, now, number);
        }
        while let Some((_, id)) = self.timers.pop_due(now) {
            let Some(waiter) = self.waiters.remove(id.0) else {
                continue;
            };
            self.timers.disarm();
            log::debug!("{id} timed out");
            out.stats.timeouts += 1;
            self.delivery
                .complete(out, waiter.kind, id, Err(QueryError::Timeout));
            self.detach(waiter.source);
        }
        self.prune_timers();
    }

    pub(crate) fn cancel(&mut self, out: &mut Outbox, id: RequestId) -> bool {
        let Some(waiter) = self.waiters.remove(id.0) else {
            return false;
        };
        if waiter.armed {
            self.timers.disarm();
        }
        out.stats.cancelled += 1;
        self.delivery
            .complete(out, waiter.kind, id, Err(QueryError::Cancelled));
        self.detach(waiter.source);
        self.prune_timers();
        true
    }

    pub(crate) fn set_cached(&mut self, kind: QueryKind, key: KeyRef<'_>, answer: Answer) {
        let displaced = self.cache(kind.into()).insert(key, Entry::Ready(answer));
        self.forget_displaced(displaced);
    }

    pub(crate) fn prime_pending(&mut self, key: KeyRef<'_>, lazy: bool) -> PrimeHandle {
        let origin = Origin::Prime {
            lazy,
            requested: false,
        };
        PrimeHandle(self.new_source(Ask::Info, key, origin))
    }

    /// Resolves a pending primed entry; `false` if the handle is stale.
    pub(crate) fn resolve_prime(
        &mut self,
        out: &mut Outbox,
        handle: PrimeHandle,
        outcome: Result<Answer, QueryError>,
    ) -> bool {
        let is_prime = self
            .sources
            .get(handle.0)
            .is_some_and(|source| matches!(source.origin, Origin::Prime { .. }));
        if is_prime {
            self.complete_source(out, handle.0, outcome);
        }
        is_prime
    }

    /// What the cache holds for `key`, with results projected to their typed form.
    pub(crate) fn peek<T>(
        &self,
        kind: QueryKind,
        key: KeyRef<'_>,
        project: impl FnOnce(&Answer) -> Option<Arc<T>>,
    ) -> Option<Cached<T>> {
        let entry = match kind {
            QueryKind::Info => self.info.peek(key),
            QueryKind::Items => self.items.peek(key),
        };
        let Some(entry) = entry else {
            // The root of an entity whose claimed hash is verified.
            let claimed = (kind == QueryKind::Info && key.node.is_none() && key.from.is_none())
                .then(|| self.caps.peek(key.jid))??;
            return project(&Answer::Info(claimed)).map(Cached::Ready);
        };
        match entry {
            Entry::Ready(answer) => project(answer).map(Cached::Ready),
            Entry::Failed(error) => Some(Cached::Failed(QueryError::clone(error))),
            Entry::Pending(_) => Some(Cached::Pending),
        }
    }

    pub(crate) fn flush_cache(&mut self) {
        self.caps.flush();
        let mut displaced = Vec::new();
        self.info.drain(|entry| displaced.push(entry));
        self.items.drain(|entry| displaced.push(entry));
        self.lists.drain(|entry| displaced.push(entry));
        for entry in displaced {
            self.forget_displaced(Some(entry));
        }
    }

    /// The stream is gone: every waiter fails with [`QueryError::Disconnected`], in request
    /// order, and everything else is forgotten.
    pub(crate) fn reset(&mut self, out: &mut Outbox) {
        for (number, waiter) in self.waiters.drain_ordered() {
            self.delivery.complete(
                out,
                waiter.kind,
                RequestId(number),
                Err(QueryError::Disconnected),
            );
        }
        self.sources.clear();
        self.timers.clear();
        self.iqs_in_flight = 0;
        self.caps.reset();
        self.rsm.drain(drop);
        self.info.drain(drop);
        self.items.drain(drop);
        self.lists.drain(drop);
        // The questions that asked the machine's own queries end with the stream.
        self.delivery.clear();
    }
}

/// Whether the cached `answer` answers a query with `options`: a whole item list that is not
/// known to be whole answers only a query whose own bounds would have stopped it as early.
fn covers(answer: &Answer, options: &QueryOptions, config: &Config) -> bool {
    match answer {
        Answer::List(list) if !list.complete => {
            options.max_items.unwrap_or(config.max_list_items) <= list.items.len()
                || options.max_pages.unwrap_or(config.max_list_pages) <= list.pages
        }
        _ => true,
    }
}

/// The cache slot of source `number`'s key, if the entry there still points at the source:
/// only then is the source's outcome the key's.
fn cached_slot(cache: &Lru<Entry>, slot: Option<u32>, number: u64) -> Option<u32> {
    slot.filter(|slot| matches!(cache.peek_at(*slot), Some(Entry::Pending(n)) if *n == number))
}

/// Whether a reply from `from` (as written on the wire) may answer a request sent to `to`.
///
/// Only the entity asked may answer. The one exception is the server answering on behalf of
/// the account: a request to the own bare JID or the own domain may be answered without `from`
/// (RFC 6120 §8.1.2.1).
fn trusted(from: Option<&str>, to: &Jid, own: Option<&Jid>) -> bool {
    match from {
        Some(raw) => names(raw, to),
        None => own.is_some_and(|own| {
            to.as_str() == own.to_bare().as_str() || to.as_str() == own.domain().as_str()
        }),
    }
}

/// Whether the address `raw`, as written on the wire, names `jid`: compared as written first,
/// then as the `jid` crate normalises it.
fn names(raw: &str, jid: &Jid) -> bool {
    raw == jid.as_str() || Jid::new(raw).is_ok_and(|parsed| parsed == *jid)
}

/// Whether a reply addressed to `to` (as written on the wire) reaches the address that asked,
/// when the request said which one (`asker`); a client's requests say none, and its server
/// delivers to it only what is its own.
fn addressed_to(to: Option<&str>, asker: Option<&Jid>) -> bool {
    asker.is_none_or(|asker| to.is_some_and(|raw| names(raw, asker)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jid(s: &str) -> Jid {
        Jid::new(s).unwrap()
    }

    #[test]
    fn trusts_only_the_entity_asked() {
        let to = jid("pubsub.example.org");
        assert!(trusted(Some("pubsub.example.org"), &to, None));
        assert!(trusted(Some("PubSub.Example.org"), &to, None));
        assert!(!trusted(Some("evil.example.org"), &to, None));
        assert!(!trusted(Some("not a jid@@"), &to, None));
        assert!(!trusted(None, &to, None));
    }

    #[test]
    fn trusts_the_server_for_the_own_account() {
        let own = jid("juliet@example.org/balcony");
        assert!(trusted(None, &jid("juliet@example.org"), Some(&own)));
        assert!(trusted(None, &jid("example.org"), Some(&own)));
        assert!(!trusted(None, &jid("romeo@example.org"), Some(&own)));
        assert!(!trusted(None, &jid("juliet@example.org/other"), Some(&own)));
        assert!(!trusted(
            Some("example.org"),
            &jid("juliet@example.org"),
            Some(&own)
        ));
    }
}
