//! What a session tells its host: the stanzas that are not the machine's, the machine's own
//! reports nobody awaits, and the stream's lifecycle.

use std::time::Duration;

use tokio_xmpp::Stanza;
use xmpp_parsers::jid::FullJid;

use super::error::LoginError;
use crate::event::Event;

/// Something the host of a [`Disco`](super::Disco) session should know, read from
/// [`Incoming`](super::Incoming).
#[derive(Debug)]
#[non_exhaustive]
// Most events are stanzas, handed on as tokio-xmpp gave them: boxing them would add an
// allocation to each to shrink the rare lifecycle events.
#[allow(clippy::large_enum_variant)]
pub enum SessionEvent {
    /// A stanza that is not the machine's business: every message and presence, and the IQs
    /// the machine handed back (requests in other namespaces, replies to IQs the host sent).
    /// An IQ `get` or `set` among them must be answered; [`Disco::refuse`](super::Disco::refuse)
    /// does it for the ones the host does not handle either.
    Stanza(Stanza),
    /// A report of the machine that no awaiting query takes: [`Event::DeferredRequest`] (answer
    /// it through [`Disco::with_machine`](super::Disco::with_machine)),
    /// [`Event::NodeChanged`], [`Event::PrimeRequested`], [`Event::InvalidAnswer`], and the
    /// completions of queries the host started itself through `with_machine`.
    Disco(Event),
    /// The connection was lost. tokio-xmpp is reconnecting; queries keep waiting (each within
    /// its own deadline), and the session ends if no new connection comes within
    /// [`Login::give_up_after`](super::Login::give_up_after).
    Suspended,
    /// A reconnection attempt is about to start, `after` a pause on the
    /// [`Login::reconnect_backoff`](super::Login::reconnect_backoff) schedule. `attempt` counts
    /// the attempts since the last stream that held (the session's own login counts while
    /// none has).
    Reconnecting {
        /// This attempt's number since the last stream that held.
        attempt: u32,
        /// The pause before it.
        after: Duration,
    },
    /// A reconnection attempt failed; the next one comes in its turn (a
    /// [`Reconnecting`](Self::Reconnecting) says when).
    /// [`LoginError::NotEstablished`] says that a login succeeded but its stream broke before
    /// it came up.
    ReconnectFailed(LoginError),
    /// The stream came back without loss (XEP-0198 resumption): nothing to do, the cache and
    /// the queries in flight are as they were.
    Resumed,
    /// The stream came back as a new one (the server could not resume it): the machine failed
    /// every query in flight with [`QueryError::Disconnected`](crate::QueryError::Disconnected)
    /// and cleared its cache. The server has forgotten the host's presence: the session sends
    /// the host's last broadcast presence again itself (unless
    /// [`Login::manage_presence`](super::Login::manage_presence) is off); directed presences
    /// (rooms joined) are the host's to send again.
    Reset {
        /// The full JID the server bound this time.
        jid: FullJid,
    },
    /// The session is over; the last event. Queries in flight completed with
    /// [`QueryError::Disconnected`](crate::QueryError::Disconnected); later ones fail at once.
    Ended(SessionEnd),
}

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionEnd {
    /// [`Disco::close`](super::Disco::close) was called.
    #[error("the session was closed")]
    Closed,
    /// Every [`Disco`](super::Disco) handle was dropped.
    #[error("every handle of the session was dropped")]
    Dropped,
    /// The connection was lost and did not come back within
    /// [`Login::give_up_after`](super::Login::give_up_after).
    #[error(
        "the connection to the server was lost and did not come back within {suspended_for:?}"
    )]
    Lost {
        /// How long the session waited for a new connection.
        suspended_for: Duration,
    },
    /// tokio-xmpp's stream ended by itself (it does so only on a fatal error of its own).
    #[error("the XMPP stream ended")]
    StreamEnded,
    /// Host code the session ran panicked: a [`DynamicNode`](crate::DynamicNode), the
    /// [policy](crate::DiscoMachine::set_policy) or a [`Resolver`](crate::Resolver)'s code,
    /// called while a request was answered. The session ended at once rather than go on with
    /// a machine stopped halfway through a call: queries in flight fail with
    /// [`AskError::Ended`](super::AskError::Ended), [`Incoming`](super::Incoming) ends after this reason. (A
    /// panic in a [`Disco::with_machine`](super::Disco::with_machine) closure unwinds in the
    /// caller's task instead and leaves the session running.) Under `panic = "abort"` the
    /// process ends with the panic.
    #[error("host code run by the session panicked")]
    Panicked,
}
