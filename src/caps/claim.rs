//! What a peer claims its info hashes to: read from its presence (or a server's stream
//! features), checked against the answer it gives, and named as the node that asks for it.
//!
//! A claimed hash is kept as its decoded digest, a fixed 33 bytes without allocation: a login
//! storm stores one claim per contact, and most of them name the same few hashes.

use std::collections::HashMap;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::ns;

use xmpp_parsers::disco::DiscoInfoResult;

use super::info::{Algorithm, CapsInfo};
use super::reading::Unshared;

/// The prefix of XEP-0390's hash nodes.
const MODERN_PREFIX: &str = "urn:xmpp:caps#";
/// The prefix this crate writes a XEP-0115 hash under when it exports the hash cache (XEP-0115
/// itself names the node after the software, which the cache does not keep).
const LEGACY_PREFIX: &str = "http://jabber.org/protocol/caps#";
/// XEP-0300's namespace of `<hash/>`.
const HASHES: &str = "urn:xmpp:hashes:2";

/// Which hash: XEP-0115's (over its verification string, always SHA-1 here) or XEP-0390's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Function {
    /// XEP-0115 with `hash='sha-1'`, the one function every implementation has.
    Legacy,
    /// XEP-0390 with this function.
    Modern(Algorithm),
}

impl Function {
    fn digest_len(self) -> usize {
        match self {
            Function::Legacy => 20,
            Function::Modern(_) => 32,
        }
    }

    /// The function's XEP-0300 name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Function::Legacy => "sha-1",
            Function::Modern(algorithm) => algorithm.name(),
        }
    }
}

/// Why a stored entry is not taken (see the fields of
/// [`CapsImport`](super::CapsImport)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skipped {
    IllFormed,
    Mismatched,
    Unshareable,
    UnknownFunction,
}

/// What an answer received for a hash may stand for.
#[derive(Debug, Clone)]
pub(crate) enum Verdict {
    /// It hashes to the key, and may answer every entity claiming it, as this: what the hash
    /// covers, and nothing else (see [`CapsInfo::legacy_shareable`]).
    Shared(DiscoInfoResult),
    /// It hashes to the key, but is not the one answer the machine shares under it (XEP-0115
    /// only): it answers only the entity that gave it.
    Unshared(Unshared),
    /// It does not hash to the key (or breaks the XEP's rules): a lie, or a mistake.
    Mismatch,
}

/// One claimed (or verified) hash: its function and digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct HashKey {
    function: Function,
    /// The digest, a SHA-1 one padded with zeros.
    digest: [u8; 32],
}

impl std::fmt::Debug for HashKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.function.name(), self.encoded())
    }
}

impl HashKey {
    /// The key of `encoded` (Base64) under `function`, if it is a digest of the right length.
    pub(crate) fn decode(function: Function, encoded: &str) -> Option<Self> {
        let bytes = BASE64.decode(encoded.trim()).ok()?;
        if bytes.len() != function.digest_len() {
            return None;
        }
        let mut digest = [0; 32];
        digest.get_mut(..bytes.len())?.copy_from_slice(&bytes);
        Some(HashKey { function, digest })
    }

    pub(crate) fn function(&self) -> Function {
        self.function
    }

    /// The digest's bytes.
    pub(crate) fn digest(&self) -> Vec<u8> {
        self.bytes().to_vec()
    }

    fn bytes(&self) -> &[u8] {
        self.digest
            .get(..self.function.digest_len())
            .unwrap_or(&self.digest)
    }

    /// The digest in Base64, as it travels.
    pub(crate) fn encoded(&self) -> String {
        BASE64.encode(self.bytes())
    }

    /// Whether `info` hashes to this key, each XEP judging the answer by its own rules: one
    /// XEP-0115 §5.4 calls ill-formed hashes to no XEP-0115 key, one XEP-0390 §4.1 refuses to
    /// no XEP-0390 key.
    pub(crate) fn matches(&self, info: &CapsInfo) -> bool {
        match self.function {
            Function::Legacy => {
                info.legacy_check().is_ok() && info.legacy_digest().as_slice() == self.bytes()
            }
            Function::Modern(algorithm) => info
                .input()
                .is_ok_and(|input| algorithm.digest(&input) == self.bytes()),
        }
    }

    /// What `info`, received for this key, may stand for. XEP-0390's input separates its
    /// strings with bytes XML cannot carry, so it has one reading and nothing more is asked of
    /// its answer; an XEP-0115 answer must be the reading of its string `S`.
    pub(crate) fn judge(&self, info: &CapsInfo) -> Verdict {
        if !self.matches(info) {
            return Verdict::Mismatch;
        }
        match self.function {
            Function::Legacy => match info.legacy_shareable() {
                Ok(reading) => Verdict::Shared(reading.to_info()),
                Err(unshared) => Verdict::Unshared(unshared),
            },
            Function::Modern(_) => Verdict::Shared(info.modern_info()),
        }
    }

    /// The key `info` hashes to under `function`, if it can stand for one.
    pub(crate) fn of(function: Function, info: &CapsInfo) -> Option<Self> {
        let digest = match function {
            Function::Legacy => {
                info.legacy_check().ok()?;
                info.legacy_digest().to_vec()
            }
            Function::Modern(algorithm) => algorithm.digest(&info.input().ok()?),
        };
        let mut key = HashKey {
            function,
            digest: [0; 32],
        };
        key.digest.get_mut(..digest.len())?.copy_from_slice(&digest);
        Some(key)
    }

    /// The node a peer answers this hash at: XEP-0390's hash node, or XEP-0115's `NODE#VER`
    /// with the software's `node` from the claim.
    pub(crate) fn query_node(&self, legacy_node: Option<&str>) -> String {
        match self.function {
            Function::Legacy => format!("{}#{}", legacy_node.unwrap_or_default(), self.encoded()),
            Function::Modern(algorithm) => {
                format!("{MODERN_PREFIX}{}.{}", algorithm.name(), self.encoded())
            }
        }
    }

    /// The node the hash cache's export writes this hash under: XEP-0390's hash node, or for
    /// XEP-0115 `http://jabber.org/protocol/caps#sha-1.VER`.
    pub(crate) fn stored_node(&self) -> String {
        match self.function {
            Function::Legacy => format!("{LEGACY_PREFIX}sha-1.{}", self.encoded()),
            Function::Modern(_) => self.query_node(None),
        }
    }

    /// The hash a stored answer's `node` names: one [`stored_node`](Self::stored_node) wrote
    /// (split at the last `.`, as XEP-0390 §4.3 decomposes a hash node), or XEP-0115's own
    /// `NODE#VER`, as the capsdb's `hashes/` files name theirs, whose function the length of
    /// `VER` tells (XEP-0115's SHA-1; the capsdb's MD5 entries are a function the machine does
    /// not compute).
    pub(crate) fn from_stored_node(node: &str) -> Result<Self, Skipped> {
        let (function, encoded) = if let Some(rest) = node.strip_prefix(MODERN_PREFIX) {
            let (name, encoded) = rest.rsplit_once('.').ok_or(Skipped::IllFormed)?;
            let algorithm = Algorithm::from_name(name).ok_or(Skipped::UnknownFunction)?;
            (Function::Modern(algorithm), encoded)
        } else if let Some(rest) = node.strip_prefix(LEGACY_PREFIX) {
            let (name, encoded) = rest.split_once('.').ok_or(Skipped::IllFormed)?;
            if name != Function::Legacy.name() {
                return Err(Skipped::UnknownFunction);
            }
            (Function::Legacy, encoded)
        } else {
            let (_, encoded) = node.rsplit_once('#').ok_or(Skipped::IllFormed)?;
            let length = BASE64
                .decode(encoded.trim())
                .map_err(|_| Skipped::IllFormed)?
                .len();
            if length != Function::Legacy.digest_len() {
                return Err(Skipped::UnknownFunction);
            }
            (Function::Legacy, encoded)
        };
        HashKey::decode(function, encoded).ok_or(Skipped::IllFormed)
    }

    #[cfg(feature = "serde")]
    /// The key of a hash named by its XEP-0300 `name` (`sha-1` for XEP-0115) and its digest
    /// in Base64, as a capsdb entry names it.
    pub(crate) fn named(name: &str, encoded: &str) -> Result<Self, Skipped> {
        let function = if name == Function::Legacy.name() {
            Function::Legacy
        } else {
            Function::Modern(Algorithm::from_name(name).ok_or(Skipped::UnknownFunction)?)
        };
        HashKey::decode(function, encoded).ok_or(Skipped::IllFormed)
    }

    /// Why `info`, stored for this key, is not taken as what it stands for, if it is not.
    pub(crate) fn check_stored(&self, info: &CapsInfo) -> Result<DiscoInfoResult, Skipped> {
        match self.judge(info) {
            Verdict::Shared(shared) => Ok(shared),
            Verdict::Unshared(_) => Err(Skipped::Unshareable),
            Verdict::Mismatch => {
                let well_formed = match self.function {
                    Function::Legacy => info.legacy_check().is_ok(),
                    Function::Modern(_) => info.input().is_ok(),
                };
                Err(if well_formed {
                    Skipped::Mismatched
                } else {
                    Skipped::IllFormed
                })
            }
        }
    }
}

/// The hashes one entity most recently claimed: XEP-0390's preferred one and XEP-0115's, either
/// or both. XEP-0390 §7.2 says only these may be looked up for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claim {
    /// The hash to ask for: XEP-0390's when there is one.
    pub(crate) first: HashKey,
    /// XEP-0115's, beside a XEP-0390 one.
    pub(crate) second: Option<HashKey>,
    /// XEP-0115's `node`, naming the software: asking for a legacy hash needs it.
    pub(crate) legacy_node: Option<Arc<str>>,
}

impl Claim {
    /// The claimed hashes, the one to ask for first.
    pub(crate) fn hashes(&self) -> impl Iterator<Item = HashKey> + '_ {
        std::iter::once(self.first).chain(self.second)
    }

    /// The node to ask for `hash`, one of this claim's.
    pub(crate) fn query_node(&self, hash: HashKey) -> String {
        hash.query_node(self.legacy_node.as_deref())
    }

    /// Whether `read` claims the same.
    pub(crate) fn is(&self, read: &ClaimRead<'_>) -> bool {
        self.first == read.first
            && self.second == read.second
            && self.legacy_node.as_deref() == read.legacy_node
    }
}

/// A claim as read from a presence, borrowing its node text: most presences repeat a claim
/// already known, and then nothing is allocated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClaimRead<'a> {
    first: HashKey,
    second: Option<HashKey>,
    legacy_node: Option<&'a str>,
}

/// XEP-0390's functions in the order this crate prefers to ask for them.
const PREFERRED: [Algorithm; 3] = [
    Algorithm::Sha256,
    Algorithm::Sha3_256,
    Algorithm::Blake2b256,
];

/// Reads the claim in a presence's (or stream features') children, if one is there. A XEP-0115
/// `<c/>` without `hash` (the old format), with another function than SHA-1, or with a `ver`
/// that is not a SHA-1 digest is ignored, as are XEP-0390 hashes of functions this crate does
/// not compute.
pub(crate) fn read<'a>(children: impl IntoIterator<Item = &'a Element>) -> Option<ClaimRead<'a>> {
    let (mut modern, mut legacy, mut legacy_node) = (None, None, None);
    for child in children {
        if child.is("c", ns::CAPS) {
            let [hash, node, ver] = crate::read::attributes(child, ["hash", "node", "ver"]);
            let (Some("sha-1"), Some(node), Some(ver)) = (hash, node, ver) else {
                continue;
            };
            if let Some(key) = HashKey::decode(Function::Legacy, ver) {
                legacy = Some(key);
                legacy_node = Some(node);
            }
        } else if child.is("c", ns::ECAPS2) {
            let mut best: Option<(usize, HashKey)> = None;
            for hash in child.children().filter(|hash| hash.is("hash", HASHES)) {
                let Some(algorithm) = hash.attr("algo").and_then(Algorithm::from_name) else {
                    continue;
                };
                let rank = PREFERRED
                    .iter()
                    .position(|preferred| *preferred == algorithm)
                    .unwrap_or(PREFERRED.len());
                if best.is_some_and(|(best, _)| best <= rank) {
                    continue;
                }
                if let Some(key) = HashKey::decode(Function::Modern(algorithm), &hash.text()) {
                    best = Some((rank, key));
                }
            }
            modern = best.map(|(_, key)| key).or(modern);
        }
    }
    let (first, second) = match (modern, legacy) {
        (Some(modern), legacy) => (modern, legacy),
        (None, Some(legacy)) => (legacy, None),
        (None, None) => return None,
    };
    Some(ClaimRead {
        first,
        second,
        legacy_node,
    })
}

/// Shares claims: ten thousand contacts run a few programs, and each contact's entry then
/// holds a pointer instead of two digests and a node. Bounded: a flood of made-up claims
/// empties it rather than growing it.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    /// By their hashes; the node is compared on a hit.
    claims: HashMap<(HashKey, Option<HashKey>), Arc<Claim>>,
}

/// How many distinct claims are shared before the interner starts over.
const INTERNED: usize = 1024;

impl Interner {
    /// The shared copy of what `read` claims.
    pub(crate) fn intern(&mut self, read: ClaimRead<'_>) -> Arc<Claim> {
        let key = (read.first, read.second);
        if let Some(shared) = self.claims.get(&key).filter(|shared| shared.is(&read)) {
            return Arc::clone(shared);
        }
        if self.claims.len() >= INTERNED {
            self.claims.clear();
        }
        let shared = Arc::new(Claim {
            first: read.first,
            second: read.second,
            legacy_node: read.legacy_node.map(Arc::from),
        });
        self.claims.insert(key, Arc::clone(&shared));
        shared
    }
}
