//! [`DiscoMachine`]: one value per XMPP session, routing commands, stanzas and time to the
//! requester and responder halves and collecting what they produce.

mod caps;
mod entities;
mod questions;
mod registry;
mod requester;

use std::sync::Arc;
use std::time::Instant;

use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::minidom::Element;

use crate::config::Config;
#[cfg(doc)]
use crate::error::QueryError;
use crate::error::{InvalidArgument, InvalidText, TextField};
use crate::event::Event;
use crate::outbox::Outbox;
use crate::read::{Handled, IqType, Received};
use crate::requester::{KeyRef, Requester};
#[cfg(doc)]
use crate::responder::Node;
use crate::responder::Responder;
use crate::stats::Stats;
use crate::text;
use crate::tree::Tree;
use crate::write::{Outgoing, Transmit};

/// XEP-0030 service discovery for one XMPP session, as a state machine without I/O.
///
/// The host feeds it commands ([`query_info`](Self::query_info), ...), the stanzas it receives
/// ([`handle_stanza`](Self::handle_stanza)) and the passing of time
/// ([`handle_timeout`](Self::handle_timeout)); it drains what the machine wants sent
/// ([`poll_transmit`](Self::poll_transmit)), what it has to report
/// ([`poll_event`](Self::poll_event)) and when it next needs a wake-up
/// ([`poll_timeout`](Self::poll_timeout)). Time is always passed in, so the same inputs give
/// the same outputs.
///
/// See the [crate documentation](crate) for a complete run loop and the semantics.
pub struct DiscoMachine {
    config: Config,
    /// Whether XML can carry [`Config::id_prefix`], checked once: every query needs it.
    id_prefix: Result<(), InvalidText>,
    /// The `from` requests carry, when the machine stamps it ([`Config::stamp_from`]): shared,
    /// so that stamping a request costs no copy of the JID.
    stamp: Option<Arc<Jid>>,
    requester: Requester,
    responder: Responder,
    /// Questions about trees under way.
    tree: Tree,
    /// The latest instant the host passed in: questions ask their next queries then.
    now: Option<Instant>,
    out: Outbox,
}

impl std::fmt::Debug for DiscoMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscoMachine")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .field("responder", &self.responder)
            .field("queued", &self.out.queued())
            .finish_non_exhaustive()
    }
}

impl Default for DiscoMachine {
    fn default() -> Self {
        DiscoMachine::new(Config::default())
    }
}

/// # The run loop: stanzas, time and what to send
///
/// The four calls every host makes: offer each received stanza, wake the machine at
/// [`poll_timeout`](Self::poll_timeout), and drain what it wants sent and what it reports.
/// Every other method is grouped by its job below: asking others, answering them (the
/// registry, many addresses), entity capabilities, questions about a tree.
impl DiscoMachine {
    /// A machine with the given settings, with an empty cache and nothing in flight.
    pub fn new(config: Config) -> Self {
        DiscoMachine {
            requester: Requester::new(&config),
            responder: Responder::new(&config),
            id_prefix: text::check(TextField::IdPrefix, &config.id_prefix),
            stamp: stamp(&config),
            config,
            tree: Tree::default(),
            now: None,
            out: Outbox::default(),
        }
    }

    /// The settings the machine runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Records the session's JID, typically once a resource is bound. See
    /// [`Config::own_jid`] for why it matters.
    pub fn set_own_jid(&mut self, jid: Jid) {
        self.config.own_jid = Some(jid);
        self.stamp = stamp(&self.config);
    }

    /// What the machine did so far.
    pub fn stats(&self) -> Stats {
        self.out.stats
    }

    /// Offers a received stanza to the machine. It takes what is its business: replies to its
    /// own requests, and `disco#info` / `disco#items` requests, which it answers (or hands to the
    /// host, for [deferred](Node::Deferred) nodes). Everything else is handed back untouched in
    /// [`Handled::Unhandled`].
    ///
    /// `now` is the current instant, as for every input: a reply may start new deadlines (a
    /// question's next queries, the verification of a capabilities hash moving on to the next
    /// entity claiming it), so ask [`poll_timeout`](Self::poll_timeout) again after it.
    ///
    /// Replies are trusted only from the entity asked (see [`Config::own_jid`] for the server's
    /// exception), with an id the machine issued. A reply carrying such an id but failing those
    /// checks, or arriving late, is consumed without effect and counted in
    /// [`Stats::replies_rejected`]. A request whose `from` (or, for a component, `to`) is not a
    /// JID cannot be answered: it is consumed, nothing is sent, and
    /// [`Stats::requests_dropped`] counts it.
    pub fn handle_stanza(&mut self, now: Instant, stanza: Element) -> Handled<Element> {
        self.route(now, stanza)
    }

    /// [`handle_stanza`](Self::handle_stanza) for a typed [`Iq`], the form tokio-xmpp hands
    /// over. The payload is taken as it is, without converting the stanza back to an element.
    /// (A typed `Iq` does not carry `xml:lang`, so requests taken this way have no language.)
    pub fn handle_iq(&mut self, now: Instant, iq: Iq) -> Handled<Iq> {
        self.route(now, iq)
    }

    /// The one body behind [`handle_stanza`](Self::handle_stanza) and
    /// [`handle_iq`](Self::handle_iq).
    fn route<S: Received>(&mut self, now: Instant, stanza: S) -> Handled<S> {
        // The type alone decides the half; each reads the rest of the envelope itself.
        match stanza.iq_type() {
            None => Handled::Unhandled(stanza),
            Some(type_ @ (IqType::Get | IqType::Set)) => {
                self.responder
                    .handle(&mut self.out, &self.config, stanza, type_)
            }
            Some(type_ @ (IqType::Result | IqType::Error)) => {
                self.now = Some(now);
                let handled =
                    self.requester
                        .handle_reply(&mut self.out, &self.config, now, stanza, type_);
                self.settle();
                handled
            }
        }
    }

    /// Fires every deadline that is due at `now`: the queries concerned complete with
    /// [`QueryError::Timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = Some(now);
        self.requester
            .handle_timeout(&mut self.out, &self.config, now);
        self.settle();
    }

    /// The next stanza to send; the host takes it as an element, a typed IQ or bytes (see
    /// [`Transmit`]).
    #[must_use = "a transmit is a stanza the machine wants sent"]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let mut stanza = self.out.next_transmit()?;
        if let Outgoing::Query(query) = &mut stanza {
            if query.from.is_none() {
                query.from.clone_from(&self.stamp);
            }
        }
        Some(Transmit::new(self.config.stanza_namespace, stanza))
    }

    /// The next event: a completion, a request for primed data, a change, a deferred request.
    #[must_use = "events complete the host's queries"]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.next_event()
    }

    /// When the machine next needs [`handle_timeout`](Self::handle_timeout), or `None` while no
    /// query has a deadline.
    #[must_use = "the machine must be woken then"]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.requester.next_deadline()
    }
}

/// The `from` a component stamps on its requests ([`Config::stamp_from`]).
fn stamp(config: &Config) -> Option<Arc<Jid>> {
    config
        .own_jid
        .clone()
        .filter(|_| config.stamp_from)
        .map(Arc::new)
}

/// Validates a (JID, node) pair into a cache key.
fn key<'a>(jid: &'a Jid, node: Option<&'a str>) -> Result<KeyRef<'a>, InvalidArgument> {
    node.map_or(Ok(()), text::check_node)?;
    Ok(KeyRef {
        jid,
        node,
        from: None,
    })
}
