//! What a command asks with: how a query behaves ([`QueryOptions`], [`Timeout`]) and what a
//! search looks for ([`ServiceFilter`]).

use std::time::{Duration, Instant};

use xmpp_parsers::disco::DiscoInfoResult;
use xmpp_parsers::jid::Jid;

/// How one query behaves. The default uses the cache, aliases to a request in flight and waits
/// [`Config::default_timeout`](crate::Config::default_timeout).
///
/// ```
/// use std::time::{Duration, Instant};
/// use xmpp_disco::QueryOptions;
///
/// let patient = QueryOptions::default().without_timeout();
/// let urgent = QueryOptions::fresh().with_timeout(Duration::from_secs(2));
/// assert!(urgent.require_fresh && !patient.require_fresh);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueryOptions {
    /// Always send a new request, whatever the cache holds; that request becomes the one later
    /// queries for the same key alias to. Waiters of an older request still get its answer.
    pub require_fresh: bool,
    /// How long this query waits.
    pub timeout: Timeout,
    /// The address to ask from, for a component that speaks for many
    /// ([`Config::stamp_from`](crate::Config::stamp_from)); `None` (the default) asks from
    /// [`Config::own_jid`](crate::Config::own_jid).
    ///
    /// An entity may answer each asker differently, so the cache and aliasing keep the
    /// answers to each asking address apart, and a reply counts only when it is addressed to
    /// the address that asked. A client's server refuses stanzas from addresses not its own.
    pub from: Option<Jid>,
    /// For [`query_item_list`](crate::DiscoMachine::query_item_list): the most pages to read,
    /// instead of [`Config::max_list_pages`](crate::Config::max_list_pages).
    pub max_pages: Option<usize>,
    /// For [`query_item_list`](crate::DiscoMachine::query_item_list): the most items to keep,
    /// instead of [`Config::max_list_items`](crate::Config::max_list_items).
    pub max_items: Option<usize>,
    /// For [`query_item_list`](crate::DiscoMachine::query_item_list): the items to ask for per
    /// page, instead of [`Config::list_page_size`](crate::Config::list_page_size).
    pub page_size: Option<usize>,
}

impl QueryOptions {
    /// Options that bypass the cache and send a new request.
    pub fn fresh() -> Self {
        QueryOptions {
            require_fresh: true,
            ..QueryOptions::default()
        }
    }

    /// This query gives up after `timeout`, whatever the configured default.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Timeout::After(timeout);
        self
    }

    /// This query waits until it is answered, cancelled or the stream ends.
    pub fn without_timeout(mut self) -> Self {
        self.timeout = Timeout::Never;
        self
    }

    /// This query asks from `from`, one of the addresses a component speaks for (see
    /// [`from`](Self::from)).
    ///
    /// ```
    /// use xmpp_disco::QueryOptions;
    ///
    /// let room = "balcony@conference.capulet.example".parse().unwrap();
    /// let options = QueryOptions::default().with_from(room);
    /// assert!(options.from.is_some());
    /// ```
    pub fn with_from(mut self, from: Jid) -> Self {
        self.from = Some(from);
        self
    }

    /// The instant a query (or question) started `now` must complete by, if any: its own
    /// timeout, or `default` ([`Config::default_timeout`](crate::Config::default_timeout)). An
    /// instant too far to represent is never reached.
    pub(crate) fn deadline(&self, default: Option<Duration>, now: Instant) -> Option<Instant> {
        match self.timeout {
            Timeout::Default => default,
            Timeout::After(timeout) => Some(timeout),
            Timeout::Never => None,
        }
        .and_then(|timeout| now.checked_add(timeout))
    }

    /// Reads at most `pages` pages of a whole item list. A query joins a read of the same list
    /// already under way only if that read's bounds are no smaller than its own.
    #[must_use]
    pub fn with_max_pages(mut self, pages: usize) -> Self {
        self.max_pages = Some(pages);
        self
    }

    /// Keeps at most `items` items of a whole item list. A query joins a read of the same list
    /// already under way only if that read's bounds are no smaller than its own.
    #[must_use]
    pub fn with_max_items(mut self, items: usize) -> Self {
        self.max_items = Some(items);
        self
    }

    /// Asks for `items` items per page of a whole item list (at least one). A list aliased to
    /// one already being read keeps that one's page size.
    #[must_use]
    pub fn with_page_size(mut self, items: usize) -> Self {
        self.page_size = Some(items);
        self
    }
}

/// The deadline of one query. It belongs to that query alone: an aliased waiter that times out
/// completes with [`QueryError::Timeout`](crate::QueryError::Timeout) while the others keep
/// waiting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Timeout {
    /// [`Config::default_timeout`](crate::Config::default_timeout).
    #[default]
    Default,
    /// This long after the query was made.
    After(Duration),
    /// No deadline.
    Never,
}

/// What [`DiscoMachine::find_services`](crate::DiscoMachine::find_services) looks for: a
/// feature, an identity (a category, and a type within it if given), or both.
///
/// ```
/// use xmpp_disco::ServiceFilter;
///
/// let upload = ServiceFilter::feature("urn:xmpp:http:upload:0");
/// let rooms = ServiceFilter::identity("conference", Some("text"));
/// # let _ = (upload, rooms);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceFilter {
    /// A feature the service must list.
    pub feature: Option<String>,
    /// An identity category the service must have.
    pub category: Option<String>,
    /// The type of that identity (only with `category`).
    pub type_: Option<String>,
}

impl ServiceFilter {
    /// Services listing `var`.
    pub fn feature(var: impl Into<String>) -> Self {
        ServiceFilter {
            feature: Some(var.into()),
            ..ServiceFilter::default()
        }
    }

    /// Services with an identity of `category` (and `type_`, if given).
    pub fn identity(category: impl Into<String>, type_: Option<&str>) -> Self {
        ServiceFilter {
            category: Some(category.into()),
            type_: type_.map(str::to_owned),
            ..ServiceFilter::default()
        }
    }

    /// Also requires the feature `var`.
    #[must_use]
    pub fn with_feature(mut self, var: impl Into<String>) -> Self {
        self.feature = Some(var.into());
        self
    }

    /// Whether `info` matches.
    pub fn matches(&self, info: &DiscoInfoResult) -> bool {
        let feature = self
            .feature
            .as_ref()
            .is_none_or(|var| info.features.contains(var));
        let identity = self.category.as_ref().is_none_or(|category| {
            info.identities.iter().any(|identity| {
                identity.category == *category
                    && self
                        .type_
                        .as_ref()
                        .is_none_or(|type_| identity.type_ == *type_)
            })
        });
        feature && identity
    }
}
