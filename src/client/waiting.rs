//! Disco requests that wait for room to answer them.
//!
//! A request weighs about half a kilobyte as tokio-xmpp hands it over; its answer, as the element
//! tree tokio-xmpp keeps until the server acknowledges it, tens of kilobytes. So when what
//! waits to be sent reaches [`Login::backlog_limit`](super::Login::backlog_limit), a disco
//! request is neither answered at once nor dropped: it waits here, and the requests are
//! answered in order as the backlog drains. A burst (a room joined, whose occupants' clients
//! all ask what we are) is answered in full, a round trip later; a flood fills this queue
//! too, and the requests past it go unanswered.

use std::collections::VecDeque;

use xmpp_parsers::iq::Iq;

use super::shared::iq_from;

/// For each stanza the backlog may hold, how many disco requests may wait for room: sixteen
/// requests weigh less than the smallest answer.
const PER_BACKLOG_STANZA: usize = 16;

/// The disco requests waiting for room, oldest first.
pub(crate) struct WaitingRequests {
    requests: VecDeque<Iq>,
    limit: usize,
    /// A request was turned away since the queue last had room (logged once per overflow).
    overflowing: bool,
}

impl WaitingRequests {
    /// Room for [`PER_BACKLOG_STANZA`] requests for each stanza of the backlog's limit.
    pub(crate) fn new(backlog_limit: usize) -> Self {
        WaitingRequests {
            requests: VecDeque::new(),
            limit: backlog_limit.saturating_mul(PER_BACKLOG_STANZA),
            overflowing: false,
        }
    }

    /// Keeps `request` to answer once there is room, and says so; when as many wait already,
    /// it goes unanswered, and says that.
    pub(crate) fn push(&mut self, request: Iq) -> bool {
        if self.requests.len() >= self.limit {
            if !self.overflowing {
                self.overflowing = true;
                log::warn!(
                    "{} disco requests wait for room in the backlog: the ones past them go \
                     unanswered until it drains",
                    self.requests.len()
                );
            }
            log::debug!(
                "backlog full: a disco request from {:?} left unanswered",
                iq_from(&request)
            );
            return false;
        }
        if self.requests.is_empty() {
            log::warn!("the backlog is full: disco requests wait for room");
        }
        self.requests.push_back(request);
        true
    }

    /// The oldest request, to answer now.
    pub(crate) fn pop(&mut self) -> Option<Iq> {
        let request = self.requests.pop_front()?;
        self.overflowing = false;
        if self.requests.is_empty() {
            log::info!("the backlog has room again: every waiting disco request answered");
        }
        Some(request)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.requests.len()
    }

    /// Forgets every request (their stream is gone, or the session): how many there were.
    pub(crate) fn clear(&mut self) -> usize {
        self.overflowing = false;
        let forgotten = self.requests.len();
        self.requests.clear();
        forgotten
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(n: usize) -> Iq {
        Iq::from_get(
            n.to_string(),
            xmpp_parsers::disco::DiscoInfoQuery { node: None },
        )
    }

    fn id(iq: &Iq) -> &str {
        match iq {
            Iq::Get { id, .. }
            | Iq::Set { id, .. }
            | Iq::Result { id, .. }
            | Iq::Error { id, .. } => id,
        }
    }

    #[test]
    fn requests_wait_in_order_up_to_sixteen_per_backlog_stanza() {
        let mut waiting = WaitingRequests::new(2);
        for n in 0..32 {
            assert!(waiting.push(request(n)), "request {n}");
        }
        assert!(!waiting.push(request(32)), "the queue is full");
        assert_eq!(waiting.len(), 32);
        let first = waiting.pop().expect("a request");
        assert_eq!(id(&first), "0");
        assert!(waiting.push(request(33)), "room for one again");
        assert_eq!(waiting.clear(), 32);
        assert!(waiting.is_empty());
        assert!(waiting.pop().is_none());
    }
}
