//! The names the machine hands out: one per query, per pending primed entry and per deferred
//! request, each valid for the life of the machine (numbers are never reused).

use std::fmt;

/// Names one query from the call that started it to the one [`Event`](crate::Event) that completes it.
///
/// Ids are unique for the life of a [`DiscoMachine`](crate::DiscoMachine), across stream resets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub(crate) u64);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request#{}", self.0)
    }
}

/// A pending primed `disco#info` entry that the host resolves later, with
/// [`DiscoMachine::complete_prime`](crate::DiscoMachine::complete_prime) or
/// [`DiscoMachine::fail_prime`](crate::DiscoMachine::fail_prime).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PrimeHandle(pub(crate) u64);

impl fmt::Display for PrimeHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "prime#{}", self.0)
    }
}

/// An incoming request for a [deferred](crate::Node::Deferred) node, waiting for the host's
/// answer ([`DiscoMachine::respond_info`](crate::DiscoMachine::respond_info),
/// [`respond_items`](crate::DiscoMachine::respond_items),
/// [`respond_error`](crate::DiscoMachine::respond_error)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResponseHandle(pub(crate) u64);

impl fmt::Display for ResponseHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "response#{}", self.0)
    }
}
