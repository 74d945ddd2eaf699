//! What waits to be sent: stanzas on their way to tokio-xmpp, and the ones it took and has not
//! yet seen through.
//!
//! tokio-xmpp takes only so many stanzas while disconnected (its queue's depth), and awaiting
//! its `send` would hold up the driver: deadlines, stream events and commands would wait for a
//! connection. Splitting the stream does not help either, since tokio-xmpp's receiving half
//! cannot be read while its sending half waits. So each stanza is offered without waiting, and
//! what finds no room stays here and is offered again every [`RETRY`] (and after anything else
//! wakes the driver), in order.
//!
//! What waits is bounded by counting it: the stanzas here, and every stanza handed to
//! tokio-xmpp that it has not yet acknowledged (XEP-0198), or, on a stream without stream
//! management, sent ([`Backlog::waiting`]). While the count is at its limit, disco requests
//! wait for room ([`WaitingRequests`](super::waiting::WaitingRequests)), and
//! [`Backlog::room`] tells when the server acknowledged the oldest stanza (see
//! [`Login::backlog_limit`](super::Login::backlog_limit)).
//!
//! Stanzas belong to a stream. While the stream is suspended nothing is offered, so that what
//! the session wrote for a stream that turns out destroyed can still be withdrawn: after a new
//! stream, the session's own stanzas from before it (queries whose waiters failed, answers to
//! requests of the old stream) are dropped, and the host's go out in order. A stanza handed to
//! tokio-xmpp before the connection broke (its queue holds 16) follows tokio-xmpp's rules.
//!
//! tokio-xmpp's `send` panics when its worker is gone; the worker ends by itself only in a
//! panic of its own (under `panic = "abort"`, the end of the process), after which its stream
//! ends and the driver stops. No unwinding is caught here.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::FutureExt;
use tokio_xmpp::stanzastream::{StanzaStage, StanzaState, StanzaStream, StanzaToken};
use tokio_xmpp::Stanza;

/// How often stanzas waiting for room in tokio-xmpp's queue try again.
const RETRY: Duration = Duration::from_millis(50);

/// Whose stanza it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// The host's ([`Disco::send`](super::Disco::send)): never dropped, sent on whichever
    /// stream comes.
    Host,
    /// The session's own (the machine's queries and answers, refusals, presences it sends
    /// again), written for the stream of this number.
    Session(u64),
}

/// A stanza tokio-xmpp took, and how far it got.
struct Handed {
    token: StanzaToken,
    owner: Owner,
}

impl Handed {
    /// Whether tokio-xmpp is done with it: acknowledged, failed or dropped, or (without stream
    /// management, where it keeps nothing sent) sent.
    fn through(&mut self) -> bool {
        self.reached(StanzaStage::Acked)
    }

    /// Whether it reached the connection (its last known state, even once untracked).
    fn sent(&self) -> bool {
        matches!(
            self.token.state(),
            StanzaState::Sent { .. } | StanzaState::Acked { .. }
        )
    }

    /// Whether it left: sent (or beyond), or no longer tracked.
    fn left(&mut self) -> bool {
        self.reached(StanzaStage::Sent)
    }

    /// Whether it reached `stage` or is no longer tracked. Asked outside tokio's cooperative
    /// budget: a token's wait polled after the task spent its budget says "not yet" whatever
    /// the stanza's state, and a backlog asks hundreds of them in one go.
    fn reached(&mut self, stage: StanzaStage) -> bool {
        tokio::task::unconstrained(self.token.wait_for(stage))
            .now_or_never()
            .is_some()
    }
}

#[derive(Default)]
pub(crate) struct Backlog {
    /// Not yet taken by tokio-xmpp, in order.
    stanzas: VecDeque<(Stanza, Owner)>,
    /// Taken, not yet seen through, in order.
    handed: VecDeque<Handed>,
    /// The number of the current stream (one more after each new stream).
    stream: u64,
    /// The stream is suspended: nothing is offered.
    held: bool,
}

impl Backlog {
    /// The number of the current stream, to own the session's stanzas with.
    pub(crate) fn stream(&self) -> u64 {
        self.stream
    }

    pub(crate) fn push(&mut self, stanza: Stanza, owner: Owner) {
        self.stanzas.push_back((stanza, owner));
    }

    /// How many stanzas wait: here, or taken by tokio-xmpp and not yet through.
    pub(crate) fn waiting(&mut self) -> usize {
        while self.handed.front_mut().is_some_and(Handed::through) {
            self.handed.pop_front();
        }
        self.stanzas.len() + self.handed.len()
    }

    /// Resolves when the oldest stanza tokio-xmpp took is through, which makes room for one
    /// more; never when it took none (the stanzas here are offered again on their own timer)
    /// or while the stream is suspended (until it is resumed or replaced).
    pub(crate) async fn room(&mut self) {
        match self.handed.front_mut() {
            Some(oldest) if !self.held => {
                oldest.token.wait_for(StanzaStage::Acked).await;
            }
            _ => std::future::pending().await,
        }
    }

    /// Whether the stream is suspended: what is written now may be for a stream that turns
    /// out destroyed.
    pub(crate) fn is_held(&self) -> bool {
        self.held
    }

    /// How many of the host's stanzas never reached the connection: still here, or taken by
    /// tokio-xmpp and dropped or failed before being sent (for a close that could not send
    /// them; asked once tokio-xmpp is done with the stream).
    pub(crate) fn unsent(&self) -> usize {
        let handed = self
            .handed
            .iter()
            .filter(|handed| handed.owner == Owner::Host && !handed.sent())
            .count();
        let here = self
            .stanzas
            .iter()
            .filter(|(_, owner)| *owner == Owner::Host)
            .count();
        handed + here
    }

    /// Whether every stanza has left (sent, or dropped by tokio-xmpp).
    pub(crate) fn all_left(&mut self) -> bool {
        self.stanzas.is_empty() && self.handed.iter_mut().all(Handed::left)
    }

    /// The stream is suspended: nothing is offered until it is resumed or replaced.
    pub(crate) fn hold(&mut self) {
        self.held = true;
    }

    /// The stream was resumed: everything goes on.
    pub(crate) fn resume(&mut self) {
        self.held = false;
    }

    /// A new stream: the session's own stanzas written for an earlier one are dropped (their
    /// ids mean nothing on this one); the host's wait their turn. Returns how many were dropped.
    pub(crate) fn new_stream(&mut self) -> usize {
        self.held = false;
        self.stream += 1;
        let before = self.stanzas.len();
        let current = self.stream;
        self.stanzas.retain(|(_, owner)| match owner {
            Owner::Host => true,
            Owner::Session(stream) => *stream == current,
        });
        // tokio-xmpp dropped the old stream's unacknowledged stanzas (or sends its queue on the
        // new one): nothing taken before counts any more.
        self.handed.clear();
        before - self.stanzas.len()
    }

    /// Offers the stanzas in order until tokio-xmpp has no room; when to offer the rest.
    pub(crate) fn flush(&mut self, stream: &StanzaStream) -> Option<tokio::time::Instant> {
        if self.held {
            return None;
        }
        while let Some((stanza, owner)) = self.stanzas.front() {
            // A send that finds no room is dropped unsent, so it is given a copy.
            match stream.send(Box::new(copy(stanza))).now_or_never() {
                Some(token) => {
                    let owner = *owner;
                    self.stanzas.pop_front();
                    self.handed.push_back(Handed { token, owner });
                }
                None => return Some(tokio::time::Instant::now() + RETRY),
            }
        }
        None
    }
}

/// A copy of `stanza` (xmpp-parsers' `Stanza` is not `Clone`, its three kinds are).
fn copy(stanza: &Stanza) -> Stanza {
    match stanza {
        Stanza::Iq(iq) => Stanza::Iq(iq.clone()),
        Stanza::Message(message) => Stanza::Message(message.clone()),
        Stanza::Presence(presence) => Stanza::Presence(presence.clone()),
    }
}
