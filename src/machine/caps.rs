//! Entity capabilities: the own announcement, the claims learned from presence, and the
//! verified answers kept across runs.

use std::sync::Arc;
use std::time::Instant;

use xmpp_parsers::jid::Jid;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::presence::{Presence, Type as PresenceType};

use crate::caps::{verify_stored, CapsAnnouncement, CapsImport, CapsStore, HashKey, Skipped};
use crate::options::QueryOptions;
use crate::query::Ask;
use crate::read;
use crate::requester::{KeyRef, Query};
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

    /// Every answer the machine learned and verified, for the host to keep across runs (the
    /// usual cure for the disco flood at login): each a `disco#info` `<query/>` whose `node`
    /// names its hash (XEP-0390's hash node, or for XEP-0115
    /// `http://jabber.org/protocol/caps#sha-1.VER`), holding exactly what was shared under it
    /// (what the hash covers: no field type of the sender's), so that it verifies again on
    /// import. Least recently used first. Answers loaded as [`CapsStore::Shipped`] are not
    /// written: the host has them.
    pub fn export_caps(&self) -> Vec<Element> {
        self.requester
            .export_caps()
            .into_iter()
            .map(|(hash, info)| payload::exact_info(Some(&hash.stored_node()), &info))
            .collect()
    }

    /// Loads stored answers into `store`: what [`export_caps`](Self::export_caps) wrote, or
    /// the capsdb's `hashes/` files (`NODE#VER` nodes, whose `VER`'s length names the function:
    /// XEP-0115's SHA-1; the capsdb's MD5 entries are skipped). Each is verified again against
    /// the hash its `node` names, on the element itself, as an answer from the network would
    /// be, and stored only if the machine would share it (see
    /// [`Reading`](crate::caps::Reading)): a tampered or corrupted store cannot poison the
    /// cache. Returns what was taken and why the rest was skipped.
    pub fn import_caps(
        &mut self,
        entries: impl IntoIterator<Item = Element>,
        store: CapsStore,
    ) -> CapsImport {
        let mut report = CapsImport::default();
        for entry in entries {
            let hash = entry
                .attr("node")
                .ok_or(Skipped::IllFormed)
                .and_then(HashKey::from_stored_node);
            report.count(hash.and_then(|hash| self.import_verified(hash, &entry, store)));
        }
        report
    }

    /// The learned answers as capsdb entries (see [`caps::to_json`](crate::caps::to_json) for
    /// the file), least recently used first.
    ///
    /// ```
    /// use xmpp_disco::caps::{self, CapsStore};
    /// use xmpp_disco::DiscoMachine;
    ///
    /// let disco = DiscoMachine::default();
    /// let file = caps::to_json(&disco.export_capsdb());
    /// let mut next = DiscoMachine::default();
    /// let loaded = next.import_capsdb(caps::from_json(&file)?, CapsStore::Learned);
    /// assert_eq!(loaded.taken, 0); // nothing verified yet
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

    /// Loads capsdb entries into `store` (the public capsdb's `db.json` as
    /// [`CapsStore::Shipped`], or a file [`export_capsdb`](Self::export_capsdb) wrote as
    /// [`CapsStore::Learned`]), each verified against the hash it names exactly as
    /// [`import_caps`](Self::import_caps) verifies. Returns what was taken and why the rest was
    /// skipped (entries of a function the machine does not compute, such as the capsdb's MD5
    /// ones, among them).
    #[cfg(feature = "serde")]
    pub fn import_capsdb(
        &mut self,
        entries: impl IntoIterator<Item = crate::caps::CapsDbEntry>,
        store: CapsStore,
    ) -> CapsImport {
        let mut report = CapsImport::default();
        for entry in entries {
            let outcome = entry
                .key()
                .and_then(|hash| self.import_verified(hash, &entry.to_query(), store));
            report.count(outcome);
        }
        report
    }

    /// Stores the answer `query` under `hash` in `store` if it may stand for it, as a received
    /// one would.
    fn import_verified(
        &mut self,
        hash: HashKey,
        query: &Element,
        store: CapsStore,
    ) -> Result<(), Skipped> {
        let shared = verify_stored(hash, query)?;
        self.requester.import_caps(hash, Arc::new(shared), store);
        Ok(())
    }
}
