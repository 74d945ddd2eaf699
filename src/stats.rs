//! Counters that show a host what the machine did and what it saved.

/// Running totals since the machine was created (they survive
/// [`stream_destroyed`](crate::DiscoMachine::stream_destroyed)), and one gauge of the
/// tokio-xmpp session ([`requests_waiting`](Self::requests_waiting)).
///
/// `cache_hits + aliased + caps_hits + caps_joined` is the number of IQs the host did not have
/// to send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Disco requests handed to the host to send.
    pub requests_sent: u64,
    /// Queries answered from the cache (including a primed failure) without sending.
    pub cache_hits: u64,
    /// Queries that joined a request already in flight or a pending primed entry.
    pub aliased: u64,
    /// Replies carrying one of the machine's ids that completed nothing: from an entity other
    /// than the one asked, late (after every waiter gave up), or duplicated.
    pub replies_rejected: u64,
    /// Replies from the right entity that were not valid disco answers; their waiters failed with
    /// [`QueryError::Malformed`](crate::QueryError::Malformed).
    pub replies_malformed: u64,
    /// Queries that completed with [`QueryError::Timeout`](crate::QueryError::Timeout).
    pub timeouts: u64,
    /// Queries that completed with [`QueryError::Cancelled`](crate::QueryError::Cancelled).
    pub cancelled: u64,
    /// Incoming disco requests answered with a result.
    pub requests_answered: u64,
    /// Incoming disco requests answered with a stanza error (unknown node, refused, malformed,
    /// `set`, an invalid dynamic answer, or an error the host chose for a deferred request).
    pub requests_refused: u64,
    /// Incoming disco requests that could not be answered at all, so nothing was sent: a `from`
    /// or `to` that is not a JID, or an id XML cannot carry. A server never delivers such a
    /// stanza; a host building its own can.
    pub requests_dropped: u64,
    /// Incoming disco requests a session left unanswered (and IQ requests left unrefused)
    /// because what waited to be sent had reached its limit and as many requests as it keeps
    /// waited already, or because the stream they came on was replaced or ended while they
    /// waited: counted by the tokio-xmpp session (`client::Login::backlog_limit`), never by
    /// the machine itself.
    pub requests_shed: u64,
    /// Incoming disco requests a session holds now, waiting for room to answer them: the one
    /// figure here that is not a running total. Set by the tokio-xmpp session
    /// (`client::Login::backlog_limit`); the machine's own is always 0.
    pub requests_waiting: u64,
    /// Answers of [dynamic nodes](crate::DynamicNode) refused because XML cannot carry their
    /// text; each is also reported as [`Event::InvalidAnswer`](crate::Event::InvalidAnswer)
    /// and the requester got `internal-server-error`.
    pub invalid_answers: u64,
    /// Queries of an entity's root answered from the entity capabilities hash cache: the
    /// entity claimed a hash whose answer was verified before (from any entity), so no request
    /// was sent.
    pub caps_hits: u64,
    /// Queries of an entity's root that joined the verification of its claimed hash already
    /// under way for another query (most often about another entity): no request of their own.
    pub caps_joined: u64,
    /// Answers at a caps node whose hash matched the claim: stored under the hash.
    pub caps_verified: u64,
    /// Answers at a caps node that did not match the hash claimed, that XEP-0115 §5.4 calls
    /// ill-formed, or that are not the one answer shared under their XEP-0115 hash
    /// ([`caps_unshareable`](Self::caps_unshareable)): they answered only the entity that gave
    /// them, and were never stored under the hash.
    pub caps_rejected: u64,
    /// Of [`caps_rejected`](Self::caps_rejected), the answers that matched their XEP-0115 hash
    /// but are not the reading of its string ([`Unshared`](crate::caps::Unshared)): a forged
    /// twin is one.
    pub caps_unshareable: u64,
}
