//! What a session's handles and its driver share, behind two locks never held across an
//! `.await`:
//!
//! * [`Shared`]: the machine, and the waiters of the handles' questions. The handles call the
//!   machine from any task and wake the driver; the driver feeds it the stream and the time.
//! * [`Front`]: what a handle reads and writes without the machine: the bound JID, the end,
//!   a copy of the machine's counters, the current capabilities announcement, the host's
//!   presence, and the host's stanzas on their way to the driver. It is always taken after
//!   [`Shared`] when both are, so a [`Disco::with_machine`](super::Disco::with_machine)
//!   closure can call [`send`](super::Disco::send), [`presence`](super::Disco::presence),
//!   [`jid`](super::Disco::jid) or [`stats`](super::Disco::stats) on its own handle.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot, Notify};
use tokio_xmpp::Stanza;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{FullJid, Jid};
use xmpp_parsers::ns;
use xmpp_parsers::presence::Presence;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};
use xmpp_parsers::stream_features::StreamFeatures;

use super::backlog::Owner;
use super::events::{SessionEnd, SessionEvent};
use super::presence::Presences;
use super::unread::Unread;
use crate::caps::CapsAnnouncement;
use crate::event::Event;
use crate::ids::RequestId;
use crate::machine::DiscoMachine;
use crate::read::Handled;
use crate::stats::Stats;

/// The ids of the pings tokio-xmpp sends on its own to check a quiet connection; their
/// answers reach the host's side of the stream and are nobody's business here.
const LIVENESS_PROBE_PREFIX: &str = "xmpp-rs-stanzastream-liveness-probe";

/// What a handle asks of the driver.
pub(crate) enum Command {
    /// End the session; the sender is told, once the stream is closed, how many of the host's
    /// stanzas could not be sent.
    Close(oneshot::Sender<usize>),
}

/// The machine and the handles' waiters.
pub(crate) struct Shared {
    pub(crate) machine: DiscoMachine,
    /// The awaiting query of each request id the handles started.
    waiting: HashMap<RequestId, oneshot::Sender<Event>>,
    /// The host's side; dropped at the end so that [`Incoming`](super::Incoming) ends too.
    events: Option<mpsc::UnboundedSender<SessionEvent>>,
}

/// What a handle reads and writes without the machine (see the module docs).
pub(crate) struct Front {
    pub(crate) jid: FullJid,
    /// Set when the session ends, or starts closing: nothing is accepted any more.
    pub(crate) ended: Option<SessionEnd>,
    /// The machine's counters as of the last time the session touched it.
    stats: Stats,
    /// Disco requests left unanswered: no room to answer them, or their stream was gone.
    shed: u64,
    /// Disco requests waiting for room to answer them, now.
    waiting: u64,
    /// The machine's current capabilities announcement.
    announcement: Option<Arc<CapsAnnouncement>>,
    presences: Presences,
    /// Stanzas for the driver, in order: the host's, and the session's own for the stream of
    /// that number.
    outgoing: Vec<(Stanza, Owner)>,
    /// The stream the session's stanzas are written for.
    stream: u64,
}

impl Front {
    /// Queues a stanza of the host's; a presence gets the session's capabilities (see
    /// [`Presences`]).
    pub(crate) fn send(&mut self, stanza: Stanza) {
        let stanza = match stanza {
            Stanza::Presence(presence) => Stanza::Presence(
                self.presences
                    .outgoing(presence, self.announcement.as_ref()),
            ),
            other => other,
        };
        self.outgoing.push((stanza, Owner::Host));
    }

    /// Queues a stanza of the session's own, for the current stream.
    fn send_own(&mut self, stanza: Stanza) {
        let owner = Owner::Session(self.stream);
        self.outgoing.push((stanza, owner));
    }

    /// The machine's counters, with the requests the session left unanswered.
    pub(crate) fn stats(&self) -> Stats {
        Stats {
            requests_shed: self.shed,
            requests_waiting: self.waiting,
            ..self.stats
        }
    }

    /// An available presence carrying the current capabilities.
    pub(crate) fn presence(&self) -> Presence {
        let mut presence = Presence::available();
        if let Some(announcement) = &self.announcement {
            presence.payloads.extend(announcement.elements());
        }
        presence
    }
}

/// A session's state and the ways to reach its driver and host.
pub(crate) struct Inner {
    shared: Mutex<Shared>,
    front: Mutex<Front>,
    /// Whether the backlog is at its limit: the host's refusals go unsent meanwhile.
    backlog_full: AtomicBool,
    /// The events the host has not read: the stream waits while it is behind.
    pub(crate) unread: Unread,
    /// Wakes the driver after a handle changed the machine or queued a stanza.
    pub(crate) wake: Notify,
}

impl Inner {
    pub(crate) fn new(
        mut machine: DiscoMachine,
        jid: FullJid,
        events: mpsc::UnboundedSender<SessionEvent>,
        manage_presence: bool,
        incoming_limit: usize,
    ) -> Self {
        let front = Front {
            jid,
            ended: None,
            stats: machine.stats(),
            shed: 0,
            waiting: 0,
            announcement: machine.caps_announcement(),
            presences: Presences::new(manage_presence),
            outgoing: Vec::new(),
            stream: 0,
        };
        Self {
            shared: Mutex::new(Shared {
                machine,
                waiting: HashMap::new(),
                events: Some(events),
            }),
            front: Mutex::new(front),
            backlog_full: AtomicBool::new(false),
            unread: Unread::new(incoming_limit),
            wake: Notify::new(),
        }
    }

    /// The machine and the waiters. A panic in a host's closure under the lock (say, in
    /// [`Disco::with_machine`](super::Disco::with_machine)) leaves the machine as the closure
    /// left it, which the machine's own checks keep consistent; the session goes on.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What the handles read and write without the machine. Taken after [`lock`](Self::lock)
    /// when both are needed, never before.
    pub(crate) fn front(&self) -> MutexGuard<'_, Front> {
        self.front
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Tells the host. Once nobody reads [`Incoming`](super::Incoming), requests still get
    /// their answer: an IQ `get` or `set` is refused.
    fn report(&self, shared: &mut Shared, event: SessionEvent) {
        let unheard = match &shared.events {
            Some(events) => {
                self.unread.handing();
                events.send(event).err().map(|unheard| {
                    self.unread.read();
                    unheard.0
                })
            }
            None => Some(event),
        };
        if let Some(SessionEvent::Stanza(Stanza::Iq(iq))) = unheard {
            self.refuse(iq);
        }
    }

    /// Hands every completion to its awaiting query and every other report to the host, and
    /// keeps the handles' copy of what they read from the machine. Completions of `forget` (a
    /// query whose future was dropped) go nowhere. After a change of the root, the host's
    /// broadcast presence goes out again with the new announcement (see [`Presences`]).
    pub(crate) fn dispatch(&self, shared: &mut Shared, forget: Option<RequestId>) {
        while let Some(event) = shared.machine.poll_event() {
            let id = event.request_id();
            if id.is_some() && id == forget {
                continue;
            }
            match id.and_then(|id| shared.waiting.remove(&id)) {
                // A waiter that went away meanwhile has nothing left to tell.
                Some(waiter) => drop(waiter.send(event)),
                None => self.report(shared, SessionEvent::Disco(event)),
            }
        }
        let announcement = shared.machine.caps_announcement();
        let mut front = self.front();
        front.stats = shared.machine.stats();
        let unchanged = match (&front.announcement, &announcement) {
            (Some(before), Some(now)) => Arc::ptr_eq(before, now),
            (None, None) => true,
            _ => false,
        };
        if !unchanged {
            if let Some(again) = front.presences.changed(announcement.as_ref()) {
                log::info!(
                    "own capabilities changed: presence sent again (ver {})",
                    announcement
                        .as_ref()
                        .map(|caps| caps.ver())
                        .unwrap_or_default()
                );
                front.send_own(again.into());
            }
            front.announcement = announcement;
        }
    }

    /// Registers the waiter of a query just started and delivers what is already due (a cache
    /// hit completes at once).
    pub(crate) fn wait_for(&self, shared: &mut Shared, id: RequestId) -> oneshot::Receiver<Event> {
        let (waiter, completion) = oneshot::channel();
        shared.waiting.insert(id, waiter);
        self.dispatch(shared, None);
        completion
    }

    /// Gives up on a query whose future was dropped before it completed.
    pub(crate) fn abandon(&self, id: RequestId) {
        let mut shared = self.lock();
        if shared.waiting.remove(&id).is_some() {
            shared.machine.cancel(id);
            self.dispatch(&mut shared, Some(id));
        }
        drop(shared);
        self.wake.notify_one();
    }

    pub(super) fn report_event(&self, event: SessionEvent) {
        let mut shared = self.lock();
        self.report(&mut shared, event);
        drop(shared);
        // A refusal may have been queued.
        self.wake.notify_one();
    }

    /// Answers an IQ `get` or `set` with `service-unavailable`, unless the backlog is full
    /// (then it is counted as shed); any other stanza is dropped.
    pub(crate) fn refuse(&self, iq: Iq) {
        let Some(reply) = refusal(iq) else {
            return;
        };
        let mut front = self.front();
        if self.backlog_full.load(Ordering::Relaxed) {
            front.shed += 1;
            log::debug!("backlog full: a request left unrefused");
            return;
        }
        front.send_own(reply.into());
        drop(front);
        self.wake.notify_one();
    }

    /// Whether the backlog is at its limit; the driver says so as stanzas come.
    pub(super) fn backlog_full(&self, full: bool) {
        self.backlog_full.store(full, Ordering::Relaxed);
    }

    /// `count` disco requests are left unanswered.
    pub(super) fn shed(&self, count: usize) {
        self.front().shed += count as u64;
    }

    /// `count` disco requests wait for room to answer them.
    pub(super) fn requests_waiting(&self, count: usize) {
        self.front().waiting = count as u64;
    }

    pub(super) fn receive(&self, stanza: Stanza) {
        let mut shared = self.lock();
        let iq = match stanza {
            Stanza::Iq(iq) => iq,
            Stanza::Presence(presence) => {
                // Read for entity capabilities, and the host's all the same.
                shared.machine.observe_presence(now(), &presence);
                return self.report(
                    &mut shared,
                    SessionEvent::Stanza(Stanza::Presence(presence)),
                );
            }
            other => return self.report(&mut shared, SessionEvent::Stanza(other)),
        };
        let unhandled = match shared.machine.handle_iq(now(), iq) {
            Handled::Consumed => None,
            Handled::Unhandled(iq) => Some(iq),
        };
        self.dispatch(&mut shared, None);
        match unhandled {
            Some(iq) if is_liveness_probe(&iq) => {}
            Some(iq) => self.report(&mut shared, SessionEvent::Stanza(Stanza::Iq(iq))),
            None => {}
        }
    }

    /// A new stream, number `stream`: nothing sent on the old one will be answered. The server
    /// may announce its capabilities in the stream's features (XEP-0115 §6.3). It has
    /// forgotten the host's presence: the last broadcast one goes out again.
    pub(super) fn reset(&self, stream: u64, bound: Jid, features: &StreamFeatures) {
        let mut shared = self.lock();
        shared.machine.stream_destroyed();
        self.dispatch(&mut shared, None);
        let server = Jid::from(bound.domain().to_owned());
        shared
            .machine
            .observe_stream_features(now(), &server, &features.others);
        let mut front = self.front();
        front.stream = stream;
        // The session's own stanzas for the old stream are gone with it.
        front
            .outgoing
            .retain(|(_, owner)| matches!(owner, Owner::Host));
        if let Ok(jid) = bound.try_into_full() {
            shared.machine.set_own_jid(Jid::from(jid.clone()));
            front.jid = jid;
        }
        let announcement = front.announcement.clone();
        if let Some(again) = front.presences.reset(announcement.as_ref()) {
            log::info!("new stream: the host's presence sent again");
            front.send_own(again.into());
        }
        let jid = front.jid.clone();
        drop(front);
        self.report(&mut shared, SessionEvent::Reset { jid });
    }

    pub(super) fn handle_timeout(&self) {
        let mut shared = self.lock();
        shared.machine.handle_timeout(now());
        self.dispatch(&mut shared, None);
    }

    /// What to send now (the host's and refusals before the machine's own), each with its
    /// owner, and when to wake the machine next.
    pub(super) fn take_outgoing(&self) -> (Vec<(Stanza, Owner)>, Option<Instant>) {
        let mut shared = self.lock();
        let mut transmits = Vec::new();
        while let Some(transmit) = shared.machine.poll_transmit() {
            transmits.push(Stanza::from(transmit.into_iq()));
        }
        self.dispatch(&mut shared, None);
        let mut front = self.front();
        let mut outgoing = std::mem::take(&mut front.outgoing);
        let owner = Owner::Session(front.stream);
        outgoing.extend(transmits.into_iter().map(|stanza| (stanza, owner)));
        (outgoing, shared.machine.poll_timeout())
    }

    /// The session starts closing (`reason`): nothing more is accepted from the handles.
    pub(super) fn closing(&self, reason: SessionEnd) {
        self.front().ended.get_or_insert(reason);
    }

    /// The session ended (`reason`): every waiter and the host learn it. Returns how many of
    /// the host's stanzas were still on their way to the driver (accepted before the end, in
    /// the same lock that refuses them after it), which will never be sent.
    pub(super) fn end(&self, reason: SessionEnd) -> usize {
        let mut shared = self.lock();
        shared.machine.stream_destroyed();
        let mut front = self.front();
        front.ended = Some(reason);
        let unsent = front
            .outgoing
            .drain(..)
            .filter(|(_, owner)| *owner == Owner::Host)
            .count();
        drop(front);
        self.dispatch(&mut shared, None);
        // Queries started by the host itself through `with_machine` have been reported; the
        // handles' waiters all had their completion. None is left waiting.
        shared.waiting.clear();
        self.report(&mut shared, SessionEvent::Ended(reason));
        shared.events = None;
        unsent
    }

    /// The driver died in a panic of host code ([`SessionEnd::Panicked`]): every waiter and
    /// the host learn it now. The machine stays as the panic left it and is not called again
    /// by the session.
    pub(crate) fn end_after_panic(&self) {
        let mut shared = self.lock();
        let mut front = self.front();
        if matches!(front.ended, Some(SessionEnd::Panicked)) {
            return;
        }
        front.ended = Some(SessionEnd::Panicked);
        front.outgoing.clear();
        drop(front);
        // Each awaiting query sees its waiter go and reads the reason.
        shared.waiting.clear();
        self.report(&mut shared, SessionEvent::Ended(SessionEnd::Panicked));
        shared.events = None;
    }
}

/// Whether `iq` asks the machine something: a `get` of service discovery (XEP-0030).
pub(super) fn is_disco_request(iq: &Iq) -> bool {
    match iq {
        Iq::Get { payload, .. } => {
            payload.is("query", ns::DISCO_INFO) || payload.is("query", ns::DISCO_ITEMS)
        }
        _ => false,
    }
}

pub(super) fn iq_from(iq: &Iq) -> Option<&Jid> {
    match iq {
        Iq::Get { from, .. }
        | Iq::Set { from, .. }
        | Iq::Result { from, .. }
        | Iq::Error { from, .. } => from.as_ref(),
    }
}

/// The machine's clock. tokio's, so that a test with tokio's paused time drives it too.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

fn is_liveness_probe(iq: &Iq) -> bool {
    match iq {
        Iq::Result { id, .. } | Iq::Error { id, .. } => id.starts_with(LIVENESS_PROBE_PREFIX),
        Iq::Get { .. } | Iq::Set { .. } => false,
    }
}

/// RFC 6120 §8.2.3: every `get` and `set` gets an answer; one nobody handles is refused with
/// `service-unavailable` (and no text: there is nothing to say beyond the condition).
pub(crate) fn refusal(iq: Iq) -> Option<Iq> {
    let (id, from) = match iq {
        Iq::Get { id, from, .. } | Iq::Set { id, from, .. } => (id, from),
        Iq::Result { .. } | Iq::Error { .. } => return None,
    };
    let error = StanzaError {
        type_: ErrorType::Cancel,
        by: None,
        defined_condition: DefinedCondition::ServiceUnavailable,
        texts: Default::default(),
        other: None,
    };
    let reply = Iq::from_error(id, error);
    Some(match from {
        Some(from) => reply.with_to(from),
        None => reply,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use xmpp_parsers::ping::Ping;

    #[test]
    fn a_request_nobody_handles_is_refused_without_text() {
        let asker = Jid::new("romeo@montague.example/garden").expect("a valid JID");
        let request = Iq::from_get("ping-1", Ping).with_from(asker.clone());
        let Some(Iq::Error { id, to, error, .. }) = refusal(request) else {
            panic!("a get is answered with an error");
        };
        assert_eq!(id, "ping-1");
        assert_eq!(to, Some(asker));
        assert_eq!(error.type_, ErrorType::Cancel);
        assert_eq!(
            error.defined_condition,
            DefinedCondition::ServiceUnavailable
        );
        assert!(error.texts.is_empty(), "no empty <text/>");
    }

    #[test]
    fn answers_are_never_answered() {
        assert!(refusal(Iq::empty_result(
            Jid::new("example.org").expect("a JID"),
            "r-1"
        ))
        .is_none());
    }

    #[test]
    fn only_the_streams_own_pings_are_liveness_probes() {
        let probe = Iq::empty_result(
            Jid::new("example.org").expect("a JID"),
            format!("{LIVENESS_PROBE_PREFIX}-7"),
        );
        let mine = Iq::empty_result(Jid::new("example.org").expect("a JID"), "host-7");
        assert!(is_liveness_probe(&probe));
        assert!(!is_liveness_probe(&mine));
    }
}
