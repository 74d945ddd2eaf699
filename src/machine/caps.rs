//! Entity capabilities: the own announcement, the claims learned from presence, and the
//! verified answers kept across runs.

use std::sync::Arc;
use std::time::Instant;

use xmpp_parsers::jid::Jid;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::presence::{Presence, Type as PresenceType};

use crate::caps::{CapsAnnouncement, CapsInfo, HashKey, Verdict};
use crate::options::QueryOptions;
use crate::query::{Ask, QueryKind};
use crate::read;
use crate::requester::{KeyRef, Query};
use crate::results::Answer;
use crate::write::payload;

use super::DiscoMachine;
#[cfg(doc)]
use crate::config::Config;
#[cfg(doc)]
use crate::event::Event;

/// # Entity capabilities
///
/// Announcing the own capabilities, learning others' from their presence, and keeping what was
/// verified. See the crate docs' *Entity capabilities*.
impl DiscoMachine {
    /// The `<c/>` elements announcing the machine's capabilities (XEP-0115 and XEP-0390), for
    /// the host to put on every available presence it sends; `None` unless
    /// [`Config::caps_node`] is set (or while the root has no identity).
    ///
    /// Computed from the root's answer once per change of the root, never per call: when
    /// [`Event::NodeChanged`] reports a change of the root (`entity: None, node: None`), the
    /// host asks again and re-sends presence if the announcement changed. The machine answers
    /// `disco#info` at the caps nodes of this announcement and of the three before it, with
    /// the info each was computed from.
    ///
    /// ```
    /// use xmpp_disco::{Config, DiscoMachine};
    ///
    /// let mut config = Config::default();
    /// config.caps_node = Some("https://example.org/balcony".into());
    /// let mut disco = DiscoMachine::new(config);
    /// let caps = disco.caps_announcement().expect("caps are on");
    /// assert_eq!(caps.legacy().node, "https://example.org/balcony");
    /// assert_eq!(caps.elements().len(), 2); // XEP-0115's <c/> and XEP-0390's
    /// ```
    pub fn caps_announcement(&mut self) -> Option<Arc<CapsAnnouncement>> {
        self.responder.caps_announcement()
    }

    /// Shows the machine a received presence, which it reads and never consumes (the host's
    /// other handlers get it as well). An available presence carrying entity capabilities
    /// records what its sender claims: a `query_info` of the sender's root then completes from
    /// the hash cache when the hash is verified, or verifies it with one request shared by
    /// every entity claiming it (see the [crate documentation](crate#entity-capabilities)). A
    /// new hash replaces the sender's cached root info. An unavailable presence forgets the
    /// claim. Presences without `from`, or without capabilities, change nothing.
    pub fn observe_presence(&mut self, now: Instant, presence: &Presence) {
        let Some(from) = &presence.from else {
            return;
        };
        let available = match presence.type_ {
            PresenceType::None => true,
            PresenceType::Unavailable | PresenceType::Error => false,
            _ => return,
        };
        self.observe(now, from, available, &presence.payloads);
    }

    /// [`observe_presence`](Self::observe_presence) for a presence as an element, in any stanza
    /// namespace.
    pub fn observe_presence_element(&mut self, now: Instant, presence: &Element) {
        if presence.name() != "presence" || !read::in_stanza_namespace(presence) {
            return;
        }
        let [from, type_] = read::attributes(presence, ["from", "type"]);
        let Some(from) = from.and_then(|from| Jid::new(from).ok()) else {
            return;
        };
        let available = match type_ {
            None => true,
            Some("unavailable" | "error") => false,
            Some(_) => return,
        };
        self.observe(now, &from, available, presence.children());
    }

    /// Shows the machine the children of the server's `<stream:features/>` (`features.children()`
    /// of the element, or the `others` of xmpp-parsers' `StreamFeatures`), with the server's
    /// JID (the `from` of its stream header): a server announcing its capabilities there
    /// (XEP-0115 §6.3) is then known like a contact from its presence, and a `query_info` of
    /// `server` costs no request once its hash is verified.
    pub fn observe_stream_features<'a>(
        &mut self,
        now: Instant,
        server: &Jid,
        features: impl IntoIterator<Item = &'a Element>,
    ) {
        self.observe(now, server, true, features);
    }

    fn observe<'a>(
        &mut self,
        now: Instant,
        from: &Jid,
        available: bool,
        children: impl IntoIterator<Item = &'a Element>,
    ) {
        if !available {
            self.requester.forget_claim(from);
            return;
        }
        let Some(claim) = self.requester.observe_claim(from, children) else {
            return;
        };
        if self.config.caps_eager && self.requester.claim_unresolved(&claim) {
            // The machine's own query: its completion goes to nobody.
            self.now = Some(now);
            let id = self.requester.new_own_id();
            let query = Query {
                kind: Ask::Info,
                key: KeyRef {
                    jid: from,
                    node: None,
                    from: None,
                },
                page: None,
            };
            let options = QueryOptions::default();
            self.requester
                .query_as(&mut self.out, &self.config, now, id, query, &options);
            self.settle();
        }
    }

    /// Every verified answer of the entity capabilities hash cache, for the host to keep
    /// across runs (the usual cure for the disco flood at login): each a `disco#info`
    /// `<query/>` whose `node` names its hash (XEP-0390's hash node, or for XEP-0115
    /// `http://jabber.org/protocol/caps#sha-1.VER`). Least recently used first.
    pub fn export_caps(&self) -> Vec<Element> {
        self.requester
            .export_caps()
            .into_iter()
            .map(|(hash, info)| payload::typed_info(Some(&hash.stored_node()), &info))
            .collect()
    }

    /// Loads answers kept by [`export_caps`](Self::export_caps) into the hash cache. Each is
    /// verified again against the hash its `node` names, on the element itself, as an answer
    /// from the network would be: a tampered or corrupted store cannot poison the cache, and
    /// an answer the machine would not share (see [`Ambiguity`](crate::caps::Ambiguity)) is not
    /// loaded either. Returns how many were taken; the others are skipped.
    pub fn import_caps(&mut self, entries: impl IntoIterator<Item = Element>) -> usize {
        let mut imported = 0;
        for entry in entries {
            let node = entry.attr("node").map(str::to_owned);
            if let Some(hash) = node.as_deref().and_then(HashKey::from_stored_node) {
                imported += usize::from(self.import_verified(hash, node.as_deref(), entry));
            }
        }
        imported
    }

    /// The verified answers of the hash cache as capsdb entries (see
    /// [`caps::to_json`](crate::caps::to_json) for the file), least recently used first.
    ///
    /// ```
    /// use xmpp_disco::{caps, DiscoMachine};
    ///
    /// let disco = DiscoMachine::default();
    /// let file = caps::to_json(&disco.export_capsdb());
    /// let mut next = DiscoMachine::default();
    /// assert_eq!(next.import_capsdb(caps::from_json(&file)?), 0); // nothing verified yet
    /// # Ok::<(), caps::CapsDbError>(())
    /// ```
    #[cfg(feature = "serde")]
    pub fn export_capsdb(&self) -> Vec<crate::caps::CapsDbEntry> {
        self.requester
            .export_caps()
            .into_iter()
            .map(|(hash, info)| crate::caps::CapsDbEntry::new(hash, &info))
            .collect()
    }

    /// Loads capsdb entries (a shipped file of known hashes, or one
    /// [`export_capsdb`](Self::export_capsdb) wrote) into the hash cache, each verified against
    /// the hash it names exactly as [`import_caps`](Self::import_caps) verifies. Returns how
    /// many were taken; entries of hash functions the machine does not compute, or that do not
    /// verify, are skipped.
    #[cfg(feature = "serde")]
    pub fn import_capsdb(
        &mut self,
        entries: impl IntoIterator<Item = crate::caps::CapsDbEntry>,
    ) -> usize {
        entries
            .into_iter()
            .filter(|entry| {
                entry
                    .key()
                    .is_some_and(|hash| self.import_verified(hash, None, entry.to_query()))
            })
            .count()
    }

    /// Stores the answer `query` (at `node`) under `hash` if it may stand for it, as a received
    /// one would.
    fn import_verified(&mut self, hash: HashKey, node: Option<&str>, query: Element) -> bool {
        let shared =
            CapsInfo::from_query(&query).is_ok_and(|info| hash.judge(&info) == Verdict::Shared);
        if !shared {
            return false;
        }
        let Ok(Answer::Info(mut info)) = read::parse_answer(QueryKind::Info, query, node) else {
            return false;
        };
        Arc::make_mut(&mut info).node = None;
        self.requester.import_caps(hash, info);
        true
    }
}
