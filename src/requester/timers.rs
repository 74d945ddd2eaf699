//! Deadlines of waiting queries, earliest first.
//!
//! Most queries use one timeout, so their deadlines arrive in order: those go to the back of a
//! queue, and expire from its front without any heap work. A deadline earlier than the queue's
//! back (a query with a shorter timeout) goes to a binary heap instead. The earliest entry of
//! the two is the next deadline; both hold `(deadline, id)` pairs ordered the same way, so the
//! expiry order is the one a single heap would give.
//!
//! Deletion is lazy: a waiter that completes for another reason leaves its entry behind, and
//! the entry is skipped when it surfaces. The owner keeps the earliest entry live (see
//! [`Timers::prune`]) so that [`Timers::next`] is exact, and both are compacted when stale
//! entries outnumber live ones, so memory stays proportional to the live deadlines.
//!
//! Why not a library container alone: `cargo bench --bench containers` (2026-11-30, one run,
//! beside std's `BinaryHeap` with the same lazy deletion and a `BTreeSet` deleting eagerly)
//! measured, at 1,000 and at 1,000,000 deadlines, 11.1 and 11.4 ns per query answered in order
//! (the heap 60.4 and 176.8, the set 33.8 and 50.8) and 3.1 and 5.6 ns per expiry (57.2 and
//! 169.0; 24.7 and 36.6), the same bytes per deadline as the heap and half the set's. It loses
//! where the queue does not help: arming at a million (22.0 ns against the heap's 14.4) and
//! replies all out of order at a million (36.2 against 28.4). `benches/README.md` has the table.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Instant;

use crate::ids::RequestId;

/// Stale entries tolerated beyond the live count before the heap is compacted.
const SLACK: usize = 1024;

type Timer = (Instant, RequestId);

#[derive(Default)]
pub(crate) struct Timers {
    /// Deadlines that arrived in order, earliest at the front.
    in_order: VecDeque<Timer>,
    /// Deadlines that arrived earlier than the back of `in_order`.
    heap: BinaryHeap<Reverse<Timer>>,
    live: usize,
}

impl Timers {
    pub(crate) fn arm(&mut self, deadline: Instant, id: RequestId) {
        let timer = (deadline, id);
        match self.in_order.back() {
            Some(last) if timer < *last => self.heap.push(Reverse(timer)),
            _ => self.in_order.push_back(timer),
        }
        self.live += 1;
    }

    /// Records that an armed waiter completed some other way; its entry is now stale.
    pub(crate) fn disarm(&mut self) {
        self.live = self.live.saturating_sub(1);
    }

    /// The earliest entry and whether it sits in the heap.
    fn first(&self) -> Option<(Timer, bool)> {
        let queued = self.in_order.front().copied();
        let heaped = self.heap.peek().map(|Reverse(timer)| *timer);
        match (queued, heaped) {
            (Some(q), Some(h)) if h < q => Some((h, true)),
            (Some(q), _) => Some((q, false)),
            (None, Some(h)) => Some((h, true)),
            (None, None) => None,
        }
    }

    fn pop_first(&mut self, from_heap: bool) -> Option<Timer> {
        if from_heap {
            self.heap.pop().map(|Reverse(timer)| timer)
        } else {
            self.in_order.pop_front()
        }
    }

    /// The earliest deadline, live if [`prune`](Timers::prune) ran since the last change.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.first().map(|((deadline, _), _)| deadline)
    }

    /// Removes and returns the earliest entry if it is due at `now`, live or stale.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        match self.first() {
            Some(((deadline, _), from_heap)) if deadline <= now => self.pop_first(from_heap),
            _ => None,
        }
    }

    /// Drops stale entries from the front (and compacts when most entries are stale).
    /// `is_live` says whether an entry still stands for a waiting query.
    pub(crate) fn prune(&mut self, is_live: impl Fn(Instant, RequestId) -> bool) {
        if self.heap.len() + self.in_order.len() > 2 * self.live + SLACK {
            self.heap
                .retain(|Reverse((deadline, id))| is_live(*deadline, *id));
            self.in_order
                .retain(|(deadline, id)| is_live(*deadline, *id));
        }
        while let Some(((deadline, id), from_heap)) = self.first() {
            if is_live(deadline, id) {
                break;
            }
            self.pop_first(from_heap);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.in_order.clear();
        self.heap.clear();
        self.live = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn expire_in_deadline_order_whatever_the_arrival_order() {
        let base = Instant::now();
        let at = |ms: u64| base + Duration::from_millis(ms);
        let mut timers = Timers::default();
        // In order, then earlier ones (to the heap), then equal deadlines, then in order again.
        let arms = [30, 40, 10, 40, 20, 50, 35, 60];
        for (id, ms) in arms.iter().enumerate() {
            timers.arm(at(*ms), RequestId(id as u64));
        }
        let mut expired = Vec::new();
        while let Some((deadline, id)) = timers.pop_due(at(1_000)) {
            expired.push((deadline, id));
        }
        let mut expected: Vec<_> = arms
            .iter()
            .enumerate()
            .map(|(id, ms)| (at(*ms), RequestId(id as u64)))
            .collect();
        expected.sort();
        assert_eq!(expired, expected);
    }

    #[test]
    fn next_is_the_earliest_live_deadline_after_prune() {
        let base = Instant::now();
        let mut timers = Timers::default();
        timers.arm(base + Duration::from_secs(2), RequestId(0));
        timers.arm(base + Duration::from_secs(1), RequestId(1)); // to the heap
        timers.arm(base + Duration::from_secs(3), RequestId(2));
        assert_eq!(timers.next(), Some(base + Duration::from_secs(1)));
        timers.disarm();
        timers.prune(|_, id| id != RequestId(1));
        assert_eq!(timers.next(), Some(base + Duration::from_secs(2)));
        assert_eq!(timers.pop_due(base), None);
    }
}
