//! The requester's commands: queries to other entities, their cancel, cache priming and reading,
//! and the end of the session.

use std::sync::Arc;
use std::time::Instant;

use xmpp_parsers::disco::{DiscoInfoResult, DiscoItemsResult};
use xmpp_parsers::jid::Jid;
use xmpp_parsers::rsm::SetQuery;

use crate::error::{InvalidArgument, QueryError, TextField};
use crate::ids::{PrimeHandle, RequestId};
use crate::options::QueryOptions;
use crate::query::{Ask, QueryKind};
use crate::requester::{Cached, KeyRef, Query};
use crate::results::Answer;
use crate::text;
use crate::tree::Asker;

use super::{key, DiscoMachine};
#[cfg(doc)]
use crate::config::Config;
#[cfg(doc)]
use crate::event::Event;
#[cfg(doc)]
use crate::stats::Stats;

/// # Asking other entities
///
/// Each query returns a [`RequestId`] at once and completes with exactly one event. See the
/// crate docs' *Requester semantics* for the cache, aliasing, deadlines and priming.
impl DiscoMachine {
    /// Asks `jid` (at `node`, if given) for its identities, features and extended information.
    ///
    /// Returns at once; exactly one [`Event::Info`] with the returned id follows, maybe at once
    /// (answered from the cache, or refused by [`Config::max_in_flight`]), maybe after a stanza
    /// from [`poll_transmit`](Self::poll_transmit) is answered.
    ///
    /// A query of the root of an entity whose latest presence claimed a capabilities hash
    /// ([`observe_presence`](Self::observe_presence)) goes through entity capabilities unless
    /// it is [fresh](QueryOptions::fresh) or asks [from](QueryOptions::with_from) another
    /// address: answered from the verified hash cache, or by one request at the caps node that
    /// every entity claiming the hash shares (see the
    /// [crate documentation](crate#entity-capabilities)).
    ///
    /// # Errors
    ///
    /// [`InvalidArgument::EmptyNode`] if `node` is `Some("")`, [`InvalidArgument::Text`] if it
    /// holds a character XML cannot carry (or [`Config::id_prefix`] does); nothing is started
    /// then.
    pub fn query_info(
        &mut self,
        now: Instant,
        jid: &Jid,
        node: Option<&str>,
        options: QueryOptions,
    ) -> Result<RequestId, InvalidArgument> {
        self.query(now, Ask::Info, jid, node, &options, None)
    }

    /// Asks `jid` (at `node`, if given) for its items. Same contract as
    /// [`query_info`](Self::query_info), completed by [`Event::Items`].
    ///
    /// A responder with a long list may answer with its first page only, unasked (ejabberd's
    /// MUC service does): the result's `rsm` then holds the responder's `<set/>`, saying the
    /// list goes on. Such an answer is not the whole list;
    /// [`query_item_list`](Self::query_item_list) reads it whole.
    ///
    /// # Errors
    ///
    /// As [`query_info`](Self::query_info).
    pub fn query_items(
        &mut self,
        now: Instant,
        jid: &Jid,
        node: Option<&str>,
        options: QueryOptions,
    ) -> Result<RequestId, InvalidArgument> {
        self.query(now, Ask::Items, jid, node, &options, None)
    }

    /// Asks `jid` (at `node`, if given) for one page of its items (XEP-0059): `page` says which
    /// (`max`, and `after`, `before` or `index`). Completed by [`Event::Items`], whose
    /// `rsm` is the responder's `<set/>` (`first`, `last`, `count`) when it pages. A page is a
    /// snapshot: it is always asked for, never cached, never shared with another query, and
    /// never taken for the whole list.
    ///
    /// # Errors
    ///
    /// As [`query_info`](Self::query_info), and [`InvalidArgument::Text`] if `after` or `before`
    /// holds a character XML cannot carry.
    pub fn query_items_page(
        &mut self,
        now: Instant,
        jid: &Jid,
        node: Option<&str>,
        page: SetQuery,
        options: QueryOptions,
    ) -> Result<RequestId, InvalidArgument> {
        for id in [&page.after, &page.before].into_iter().flatten() {
            text::check(TextField::PageId, id)?;
        }
        self.query(now, Ask::Page, jid, node, &options, Some(Box::new(page)))
    }

    /// Reads the whole item list of `jid` (at `node`, if given), one page after the other
    /// (XEP-0059: [`Config::list_page_size`] items asked for at a time, each page after the
    /// last one's `<last/>`). A `<set/>` goes only to an entity known to support RSM
    /// (XEP-0059 §4: its cached root info lists it, or it answered with a `<set/>` before this
    /// session, see [`Config::rsm_entities_capacity`]); any other is asked plainly first, and
    /// the read pages on only when that answer's `<set/>` says there is more, as a responder
    /// that pages unasked does. Completed once, by [`Event::ItemList`], with every item, each
    /// (JID, node) once, and whether the list is [complete](crate::ItemList::complete) or was cut by a
    /// bound ([`Config::max_list_pages`], [`Config::max_list_items`], or the options'
    /// [`with_max_pages`](QueryOptions::with_max_pages) and
    /// [`with_max_items`](QueryOptions::with_max_items)). The responder's `count` is never
    /// trusted to stop: the list ends at an empty or short page, a page of repeats, or a page
    /// id seen before (the last two are no end the responder said: the list is then not
    /// complete). A responder that does not page answers the whole list at once, and that is
    /// the list.
    ///
    /// An error on any page fails the query (and is not cached). A read list is cached and
    /// shared like any query, under its own key: a single page or a plain `query_items` answer
    /// is never taken for it, nor it for them. Every page is a request in flight until
    /// answered; the query's deadline bounds the whole read.
    ///
    /// # Errors
    ///
    /// As [`query_info`](Self::query_info).
    pub fn query_item_list(
        &mut self,
        now: Instant,
        jid: &Jid,
        node: Option<&str>,
        options: QueryOptions,
    ) -> Result<RequestId, InvalidArgument> {
        self.query(now, Ask::List, jid, node, &options, None)
    }

    fn query(
        &mut self,
        now: Instant,
        kind: Ask,
        jid: &Jid,
        node: Option<&str>,
        options: &QueryOptions,
        page: Option<Box<SetQuery>>,
    ) -> Result<RequestId, InvalidArgument> {
        let from = self.asking_from(options);
        let key = KeyRef {
            from,
            ..key(jid, node)?
        };
        self.id_prefix?;
        Ok(self.requester.query(
            &mut self.out,
            &self.config,
            now,
            Query { kind, key, page },
            options,
        ))
    }

    /// Gives up waiting for query `id`: it completes with [`QueryError::Cancelled`]. Queries
    /// aliased to the same request keep waiting; when none is left the request is abandoned.
    ///
    /// Returns `false` (and does nothing) if `id` has already completed or was never issued.
    pub fn cancel(&mut self, id: RequestId) -> bool {
        // A question under way was asked at an instant, so one is known.
        if let (true, Some(now)) = (self.tree.has(id), self.now) {
            let mut asker = Asker::new(&mut self.requester, &mut self.out, &self.config, now);
            return self.tree.cancel(&mut asker, id);
        }
        let cancelled = self.requester.cancel(&mut self.out, id);
        self.settle();
        cancelled
    }

    /// Stores `info` as the `disco#info` answer of `jid` at `node`, as if it had been received
    /// (aioxmpp's `set_info_cache`). Queries already waiting on a request keep waiting for it;
    /// later queries get `info`. Pass one `Arc` for many JIDs that share an answer (entity
    /// capabilities) and it is stored once.
    ///
    /// # Errors
    ///
    /// [`InvalidArgument`] if `node` is `Some("")` or holds a character XML cannot carry.
    pub fn set_info_cache(
        &mut self,
        jid: &Jid,
        node: Option<&str>,
        info: impl Into<Arc<DiscoInfoResult>>,
    ) -> Result<(), InvalidArgument> {
        let key = key(jid, node)?;
        self.requester
            .set_cached(QueryKind::Info, key, Answer::Info(info.into()));
        Ok(())
    }

    /// Opens a pending `disco#info` entry for `jid` at `node` that the host resolves later with
    /// [`complete_prime`](Self::complete_prime) or [`fail_prime`](Self::fail_prime)
    /// (aioxmpp's `set_info_future`). Queries for the key wait on it instead of sending.
    ///
    /// # Errors
    ///
    /// [`InvalidArgument`] if `node` is `Some("")` or holds a character XML cannot carry.
    pub fn prime_info_pending(
        &mut self,
        jid: &Jid,
        node: Option<&str>,
    ) -> Result<PrimeHandle, InvalidArgument> {
        Ok(self.requester.prime_pending(key(jid, node)?, false))
    }

    /// Like [`prime_info_pending`](Self::prime_info_pending), but the host is told with
    /// [`Event::PrimeRequested`] when the first query needs the entry, so that nothing is looked
    /// up for entities nobody asks about (entity capabilities under a presence flood).
    ///
    /// # Errors
    ///
    /// [`InvalidArgument`] if `node` is `Some("")` or holds a character XML cannot carry.
    pub fn prime_info_lazy(
        &mut self,
        jid: &Jid,
        node: Option<&str>,
    ) -> Result<PrimeHandle, InvalidArgument> {
        Ok(self.requester.prime_pending(key(jid, node)?, true))
    }

    /// Resolves a pending primed entry with its answer: every query waiting on it completes with
    /// `info`, which is cached if the entry is still the key's.
    ///
    /// Returns `false` if the handle is stale: already resolved, or dropped by an eviction, a
    /// replacement, [`flush_cache`](Self::flush_cache) or
    /// [`stream_destroyed`](Self::stream_destroyed) while no query waited on it.
    pub fn complete_prime(
        &mut self,
        handle: PrimeHandle,
        info: impl Into<Arc<DiscoInfoResult>>,
    ) -> bool {
        let resolved =
            self.requester
                .resolve_prime(&mut self.out, handle, Ok(Answer::Info(info.into())));
        self.settle();
        resolved
    }

    /// Resolves a pending primed entry with a failure: waiting queries fail with
    /// [`QueryError::PrimeFailed`], and so does every later query for the key until one asks for
    /// a fresh answer. Returns `false` if the handle is stale, as for
    /// [`complete_prime`](Self::complete_prime).
    pub fn fail_prime(&mut self, handle: PrimeHandle, reason: impl Into<Arc<str>>) -> bool {
        let resolved = self.requester.resolve_prime(
            &mut self.out,
            handle,
            Err(QueryError::PrimeFailed(reason.into())),
        );
        self.settle();
        resolved
    }

    /// What the cache holds for `disco#info` of `jid` at `node`, without sending anything or
    /// refreshing the entry's place in the LRU order. `None` if nothing (or `node` is empty).
    pub fn peek_info(&self, jid: &Jid, node: Option<&str>) -> Option<Cached<DiscoInfoResult>> {
        self.requester
            .peek(QueryKind::Info, key(jid, node).ok()?, Answer::info)
    }

    /// What the cache holds for `disco#items` of `jid` at `node`; see
    /// [`peek_info`](Self::peek_info).
    pub fn peek_items(&self, jid: &Jid, node: Option<&str>) -> Option<Cached<DiscoItemsResult>> {
        self.requester
            .peek(QueryKind::Items, key(jid, node).ok()?, Answer::items)
    }

    /// Forgets every cached answer and primed entry. Queries waiting on requests in flight (or on
    /// primed entries) still complete; their answers are just not cached.
    pub fn flush_cache(&mut self) {
        self.requester.flush_cache();
    }

    /// The stream was destroyed (closed or failed, not resumed): every waiting query completes
    /// with [`QueryError::Disconnected`], in request order, then every question about a tree
    /// ([`supports`](Self::supports), [`find_services`](Self::find_services),
    /// [`walk`](Self::walk)), in request order; unsent requests are dropped and the cache is
    /// cleared. The machine is then ready for the next stream; [`Stats`] carry on.
    ///
    /// A stream resumed with XEP-0198 needs no call: replies to requests in flight still arrive.
    pub fn stream_destroyed(&mut self) {
        self.requester.reset(&mut self.out);
        self.tree.reset(&mut self.out);
        self.responder.reset();
        self.out.drop_unsent();
    }

    /// The address a query with `options` asks from, if it is another than the own: asking
    /// from the own address is asking without one (one key, one cache entry, the caps path).
    pub(super) fn asking_from<'a>(&self, options: &'a QueryOptions) -> Option<&'a Jid> {
        options
            .from
            .as_ref()
            .filter(|from| self.config.own_jid.as_ref() != Some(*from))
    }
}
