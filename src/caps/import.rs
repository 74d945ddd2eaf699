//! Verified answers the host kept or ships, loaded back: each is verified again, as an answer
//! from the network would be, and the host is told what was taken and why the rest was not.

use xmpp_parsers::disco::DiscoInfoResult;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::ns;

use super::claim::{HashKey, Skipped};
use super::info::CapsInfo;

/// Which table loaded answers go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapsStore {
    /// The machine's own table of learned answers, as
    /// [`export_caps`](crate::DiscoMachine::export_caps) wrote it: bounded by
    /// [`Config::caps_hash_capacity`](crate::Config::caps_hash_capacity), least recently used
    /// evicted first (an export lists them least recently used first, so loading it in order
    /// restores their recency), forgotten by
    /// [`flush_cache`](crate::DiscoMachine::flush_cache), written again by `export_caps`.
    Learned,
    /// A database shipped with the program, such as the public capsdb (aioxmpp keeps its
    /// "system" database apart likewise): a table of its own, read-only, that nothing evicts
    /// (a database larger than the learned table must not push itself out), that
    /// `flush_cache` keeps and `export_caps` does not write (the host has it already). It
    /// holds what the host gives it: load a database the program ships, not one a peer sent.
    Shipped,
}

/// What loading stored answers did: how many were taken, and why each other one was skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CapsImport {
    /// Answers verified and stored.
    pub taken: usize,
    /// Entries that are no answer to a hash: not a `disco#info` `<query/>`, no readable hash
    /// named, or an answer the hash's XEP calls ill-formed (XEP-0115 §5.4, XEP-0390 §4.1).
    pub ill_formed: usize,
    /// Answers whose hash is not the one named: an edited or corrupted entry.
    pub mismatched: usize,
    /// Answers that match their XEP-0115 hash but are not the one answer shared under it (see
    /// [`Unshared`](super::Unshared)).
    pub unshareable: usize,
    /// Entries of a hash function the machine does not compute (the capsdb's MD5 ones).
    pub unknown_function: usize,
}

impl CapsImport {
    /// How many entries were skipped, for every reason.
    pub fn skipped(&self) -> usize {
        self.ill_formed + self.mismatched + self.unshareable + self.unknown_function
    }

    /// Counts one entry's outcome.
    pub(crate) fn count(&mut self, outcome: Result<(), Skipped>) {
        let counter = match outcome {
            Ok(()) => &mut self.taken,
            Err(Skipped::IllFormed) => &mut self.ill_formed,
            Err(Skipped::Mismatched) => &mut self.mismatched,
            Err(Skipped::Unshareable) => &mut self.unshareable,
            Err(Skipped::UnknownFunction) => &mut self.unknown_function,
        };
        *counter += 1;
    }
}

/// The answer in a stored `<query/>` for `hash`, verified: what the machine shares under it.
/// A `<query/>` holding nothing but another one (as nine of the capsdb's `hashes/` files do)
/// is read for the inner one.
pub(crate) fn verify(hash: HashKey, query: &Element) -> Result<DiscoInfoResult, Skipped> {
    let mut children = query.children();
    let inner = match (children.next(), children.next()) {
        (Some(only), None) if only.is("query", ns::DISCO_INFO) => only,
        _ => query,
    };
    let info = CapsInfo::from_query(inner).map_err(|_| Skipped::IllFormed)?;
    hash.check_stored(&info)
}
