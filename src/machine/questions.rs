//! Questions about a tree of entities: one command, one completion, many queries through the
//! cache.

use std::time::Instant;

use xmpp_parsers::jid::Jid;

use crate::error::InvalidArgument;
use crate::ids::RequestId;
use crate::options::{QueryOptions, ServiceFilter};
use crate::tree::{Asker, Question, ServicesQuestion, SupportQuestion, WalkQuestion};

use super::{key, DiscoMachine};
#[cfg(doc)]
use crate::config::Config;
#[cfg(doc)]
use crate::event::Event;

/// # Questions about a tree
///
/// One command that asks many entities and completes once. See the crate docs' *Long lists and
/// questions about a tree*.
impl DiscoMachine {
    /// Whether `jid` (at `node`, if given) advertises `feature`: one command, one completion
    /// ([`Event::Supports`]) with the answer and the info it was read from. The info comes from
    /// the cache when it is there, or from one query that other queries of the same key share.
    ///
    /// # Errors
    ///
    /// As [`query_info`](Self::query_info).
    pub fn supports(
        &mut self,
        now: Instant,
        jid: &Jid,
        node: Option<&str>,
        feature: &str,
        options: QueryOptions,
    ) -> Result<RequestId, InvalidArgument> {
        self.ask_question(now, jid, node, options, |options, deadline, _| {
            Question::Support(SupportQuestion::new(jid, node, feature, options, deadline))
        })
    }

    /// Which services of `jid` (at `node`, if given; a server, usually) match `filter`: its
    /// whole item list ([`query_item_list`](Self::query_item_list)), then the info of `jid`
    /// itself and of each item, at most [`Config::tree_concurrency`] queries at once, every one
    /// through the cache. One command, one completion ([`Event::Services`]): the matches, and
    /// apart, each item whose info could not be read, with why; only a failure of the item list
    /// fails the search. The options' deadline bounds the whole search; each query has
    /// [`Config::default_timeout`] or what is left of it, whichever ends first, so one silent
    /// item costs a query's timeout. `fresh` asks every query anew, `from` asks from that
    /// address.
    ///
    /// # Errors
    ///
    /// As [`query_info`](Self::query_info).
    pub fn find_services(
        &mut self,
        now: Instant,
        jid: &Jid,
        node: Option<&str>,
        filter: ServiceFilter,
        options: QueryOptions,
    ) -> Result<RequestId, InvalidArgument> {
        self.ask_question(now, jid, node, options, |options, deadline, limit| {
            let search = ServicesQuestion::new(jid, node, filter, limit, options, deadline);
            Question::Services(search)
        })
    }

    /// The tree under `jid` (at `node`, if given), breadth first: each entity's info and whole
    /// item list, its items visited in turn down to `max_depth` levels below the start and up
    /// to `max_entities` entities, each (JID, node) once (items pointing back are not followed
    /// again). One command, one completion ([`Event::Walk`]) with every entity visited, its info
    /// and items or their errors. Bounds and options as for
    /// [`find_services`](Self::find_services). No list is read past `max_entities` items (no
    /// list could bring the walk more entities than that): a longer one is reported as read so
    /// far, with `complete: false`.
    ///
    /// # Errors
    ///
    /// As [`query_info`](Self::query_info).
    pub fn walk(
        &mut self,
        now: Instant,
        jid: &Jid,
        node: Option<&str>,
        max_depth: usize,
        max_entities: usize,
        options: QueryOptions,
    ) -> Result<RequestId, InvalidArgument> {
        let most = options
            .max_items
            .unwrap_or(self.config.max_list_items)
            .min(max_entities.max(1));
        let options = options.with_max_items(most);
        self.ask_question(now, jid, node, options, |options, deadline, limit| {
            let walk =
                WalkQuestion::new(jid, node, max_depth, max_entities, limit, options, deadline);
            Question::Walk(walk)
        })
    }

    /// Starts the question `build` makes, once `jid` and `node` are known to be askable, from
    /// the options, the question's deadline and the bound on its queries in flight.
    fn ask_question(
        &mut self,
        now: Instant,
        jid: &Jid,
        node: Option<&str>,
        mut options: QueryOptions,
        build: impl FnOnce(QueryOptions, Option<Instant>, usize) -> Question,
    ) -> Result<RequestId, InvalidArgument> {
        key(jid, node)?;
        if self.asking_from(&options).is_none() {
            options.from = None;
        }
        self.id_prefix?;
        let deadline = options.deadline(self.config.default_timeout, now);
        let question = build(options, deadline, self.config.tree_concurrency);
        self.now = Some(now);
        let id = self.requester.new_id();
        let mut asker = Asker::new(&mut self.requester, &mut self.out, &self.config, now);
        self.tree.start(&mut asker, id, question);
        self.settle();
        Ok(id)
    }

    /// How many of the machine's own queries (asked by questions about trees, or verifying a
    /// new capabilities hash with [`Config::caps_eager`]) have not completed yet: zero once
    /// each has (a query completing twice would reach the host instead). For the model tests'
    /// exactly-once check of those queries.
    #[doc(hidden)]
    pub fn question_queries_pending(&self) -> usize {
        self.requester.own_pending()
    }

    /// Hands the questions the completions of their queries (see [`Tree::settle`](crate::tree::Tree::settle)).
    pub(super) fn settle(&mut self) {
        // No instant yet: no question was ever asked.
        let Some(now) = self.now else {
            return;
        };
        let mut asker = Asker::new(&mut self.requester, &mut self.out, &self.config, now);
        self.tree.settle(&mut asker);
    }
}
