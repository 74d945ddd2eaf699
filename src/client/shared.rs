//! What a session's handles and its driver share: the machine behind a mutex that is never
//! held across an `.await`, the waiters of the handles' questions, and the commands a handle
//! sends the driver. The handles call the machine from any task and wake the driver; the
//! driver feeds it the stream and the time.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot, Notify};
use tokio_xmpp::Stanza;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{FullJid, Jid};
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};
use xmpp_parsers::stream_features::StreamFeatures;

use super::events::{SessionEnd, SessionEvent};
use crate::event::Event;
use crate::ids::RequestId;
use crate::machine::DiscoMachine;
use crate::read::Handled;

/// The ids of the pings tokio-xmpp sends on its own to check a quiet connection; their
/// answers reach the host's side of the stream and are nobody's business here.
const LIVENESS_PROBE_PREFIX: &str = "xmpp-rs-stanzastream-liveness-probe";

/// What a handle asks of the driver.
pub(crate) enum Command {
    /// End the session; the sender is told once the stream is closed.
    Close(oneshot::Sender<()>),
}

/// What the handles and the driver share.
pub(crate) struct Shared {
    pub(crate) machine: DiscoMachine,
    /// The awaiting query of each request id the handles started.
    waiting: HashMap<RequestId, oneshot::Sender<Event>>,
    /// Stanzas the host gave [`Disco::send`](super::Disco::send) and refusals, sent by the
    /// driver before the machine's own.
    outgoing: Vec<Stanza>,
    pub(crate) jid: FullJid,
    pub(crate) ended: Option<SessionEnd>,
    /// The host's side; dropped at the end so that [`Incoming`](super::Incoming) ends too.
    events: Option<mpsc::UnboundedSender<SessionEvent>>,
}

impl Shared {
    /// Tells the host. Once nobody reads [`Incoming`](super::Incoming), requests still get
    /// their answer: an IQ `get` or `set` is refused.
    fn report(&mut self, event: SessionEvent) {
        let unheard = match &self.events {
            Some(events) => events.send(event).err().map(|unread| unread.0),
            None => Some(event),
        };
        if let Some(SessionEvent::Stanza(Stanza::Iq(iq))) = unheard {
            self.outgoing.extend(refusal(iq).map(Stanza::from));
        }
    }
}

/// A session's state and the ways to reach its driver and host.
pub(crate) struct Inner {
    shared: Mutex<Shared>,
    /// Wakes the driver after a handle changed the machine.
    pub(crate) wake: Notify,
}

impl Inner {
    pub(crate) fn new(
        machine: DiscoMachine,
        jid: FullJid,
        events: mpsc::UnboundedSender<SessionEvent>,
    ) -> Self {
        Self {
            shared: Mutex::new(Shared {
                machine,
                waiting: HashMap::new(),
                outgoing: Vec::new(),
                jid,
                ended: None,
                events: Some(events),
            }),
            wake: Notify::new(),
        }
    }

    /// The shared state. A panic in a host's closure under the lock (say, in
    /// [`Disco::with_machine`](super::Disco::with_machine)) leaves the machine as the closure
    /// left it, which the machine's own checks keep consistent; the session goes on.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Hands every completion to its awaiting query and every other report to the host.
    /// Completions of `forget` (a query whose future was dropped) go nowhere.
    pub(crate) fn dispatch(&self, shared: &mut Shared, forget: Option<RequestId>) {
        while let Some(event) = shared.machine.poll_event() {
            let id = event.request_id();
            if id.is_some() && id == forget {
                continue;
            }
            match id.and_then(|id| shared.waiting.remove(&id)) {
                // A waiter that went away meanwhile has nothing left to tell.
                Some(waiter) => drop(waiter.send(event)),
                None => shared.report(SessionEvent::Disco(event)),
            }
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

    pub(super) fn report(&self, event: SessionEvent) {
        self.lock().report(event);
        // A refusal may have been queued.
        self.wake.notify_one();
    }

    /// Answers an IQ `get` or `set` with `service-unavailable`; any other stanza is dropped.
    pub(crate) fn refuse(&self, iq: Iq) {
        if let Some(reply) = refusal(iq) {
            self.lock().outgoing.push(reply.into());
            self.wake.notify_one();
        }
    }

    pub(crate) fn queue(&self, stanza: Stanza) {
        self.lock().outgoing.push(stanza);
        self.wake.notify_one();
    }

    pub(super) fn receive(&self, stanza: Stanza) {
        let mut shared = self.lock();
        let iq = match stanza {
            Stanza::Iq(iq) => iq,
            Stanza::Presence(presence) => {
                // Read for entity capabilities, and the host's all the same.
                shared.machine.observe_presence(now(), &presence);
                return shared.report(SessionEvent::Stanza(Stanza::Presence(presence)));
            }
            other => return shared.report(SessionEvent::Stanza(other)),
        };
        let unhandled = match shared.machine.handle_iq(now(), iq) {
            Handled::Consumed => None,
            Handled::Unhandled(iq) => Some(iq),
        };
        self.dispatch(&mut shared, None);
        match unhandled {
            Some(iq) if is_liveness_probe(&iq) => {}
            Some(iq) => shared.report(SessionEvent::Stanza(Stanza::Iq(iq))),
            None => {}
        }
    }

    /// A new stream: nothing sent on the old one will be answered. The server may announce
    /// its capabilities in the stream's features (XEP-0115 §6.3).
    pub(super) fn reset(&self, bound: Jid, features: &StreamFeatures) {
        let mut shared = self.lock();
        shared.machine.stream_destroyed();
        self.dispatch(&mut shared, None);
        let server = Jid::from(bound.domain().to_owned());
        shared
            .machine
            .observe_stream_features(now(), &server, &features.others);
        if let Ok(jid) = bound.try_into_full() {
            shared.machine.set_own_jid(Jid::from(jid.clone()));
            shared.jid = jid;
        }
        let jid = shared.jid.clone();
        shared.report(SessionEvent::Reset { jid });
    }

    pub(super) fn handle_timeout(&self) {
        let mut shared = self.lock();
        shared.machine.handle_timeout(now());
        self.dispatch(&mut shared, None);
    }

    /// What to send now, and when to wake the machine next.
    pub(super) fn take_outgoing(&self) -> (Vec<Stanza>, Option<Instant>) {
        let mut shared = self.lock();
        let mut outgoing = std::mem::take(&mut shared.outgoing);
        while let Some(transmit) = shared.machine.poll_transmit() {
            outgoing.push(transmit.into_iq().into());
        }
        self.dispatch(&mut shared, None);
        (outgoing, shared.machine.poll_timeout())
    }

    pub(super) fn end(&self, reason: SessionEnd) {
        let mut shared = self.lock();
        shared.machine.stream_destroyed();
        shared.ended = Some(reason);
        shared.outgoing.clear();
        self.dispatch(&mut shared, None);
        // Queries started by the host itself through `with_machine` have been reported; the
        // handles' waiters all had their completion. None is left waiting.
        shared.waiting.clear();
        shared.report(SessionEvent::Ended(reason));
        shared.events = None;
    }

    /// The driver died in a panic of host code ([`SessionEnd::Panicked`]): every waiter and
    /// the host learn it now. The machine stays as the panic left it and is not called again
    /// by the session.
    pub(crate) fn end_after_panic(&self) {
        let mut shared = self.lock();
        if shared.ended.is_some() {
            return;
        }
        shared.ended = Some(SessionEnd::Panicked);
        shared.outgoing.clear();
        // Each awaiting query sees its waiter go and reads the reason.
        shared.waiting.clear();
        shared.report(SessionEvent::Ended(SessionEnd::Panicked));
        shared.events = None;
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
