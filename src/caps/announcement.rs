//! The machine's own capabilities, as they go on presence.

use xmpp_parsers::caps::Caps;
use xmpp_parsers::ecaps2::ECaps2;
use xmpp_parsers::hashes::{Algo, Hash};
use xmpp_parsers::minidom::Element;

use super::claim::{Function, HashKey};
use super::info::Algorithm;

/// The `<c/>` elements that announce the machine's capabilities on presence: XEP-0115's (SHA-1,
/// with the configured [`caps_node`](crate::Config::caps_node)) and, when
/// [`caps_algorithms`](crate::Config::caps_algorithms) names any, XEP-0390's. Given by
/// [`DiscoMachine::caps_announcement`](crate::DiscoMachine::caps_announcement), computed once
/// per change of the root.
#[derive(Debug, Clone)]
pub struct CapsAnnouncement {
    legacy: Caps,
    modern: Option<ECaps2>,
    /// Both as elements, converted once: every presence the host sends carries them.
    elements: Vec<Element>,
}

impl CapsAnnouncement {
    pub(crate) fn new(node: &str, legacy: HashKey, modern: &[HashKey]) -> Self {
        let hashes: Vec<Hash> = modern
            .iter()
            .filter_map(|key| match key.function() {
                Function::Modern(algorithm) => Some(Hash::new(algo(algorithm), key.digest())),
                Function::Legacy => None,
            })
            .collect();
        let legacy = Caps::new(node, Hash::new(Algo::Sha_1, legacy.digest()));
        let modern = (!hashes.is_empty()).then(|| ECaps2::new(hashes));
        let mut elements = vec![Element::from(legacy.clone())];
        elements.extend(modern.clone().map(Element::from));
        CapsAnnouncement {
            legacy,
            modern,
            elements,
        }
    }

    /// XEP-0115's `<c xmlns='http://jabber.org/protocol/caps'/>`.
    pub fn legacy(&self) -> &Caps {
        &self.legacy
    }

    /// XEP-0390's `<c xmlns='urn:xmpp:caps'/>`, if any XEP-0390 function is configured.
    pub fn modern(&self) -> Option<&ECaps2> {
        self.modern.as_ref()
    }

    /// XEP-0115's verification string (`ver`).
    pub fn ver(&self) -> String {
        Hash::new(Algo::Sha_1, self.legacy.ver.clone()).to_base64()
    }

    /// Both elements, ready to go among a presence's payloads (copies of the ones converted
    /// when the announcement was computed).
    pub fn elements(&self) -> Vec<Element> {
        self.elements.clone()
    }
}

/// xmpp-parsers' name for `algorithm`.
fn algo(algorithm: Algorithm) -> Algo {
    match algorithm {
        Algorithm::Sha256 => Algo::Sha_256,
        Algorithm::Sha3_256 => Algo::Sha3_256,
        Algorithm::Blake2b256 => Algo::Blake2b_256,
    }
}
