//! Deadlines of waiting queries, earliest first.
//!
//! A binary heap with lazy deletion: a waiter that completes for another reason leaves its entry
//! behind, and the entry is skipped when it surfaces. The owner keeps the earliest entry live
//! (see [`Timers::prune`]) so that [`Timers::next`] is exact, and the heap is rebuilt when stale
//! entries outnumber live ones, so memory stays proportional to the live deadlines.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use crate::event::RequestId;

/// Stale entries tolerated beyond the live count before the heap is compacted.
const SLACK: usize = 1024;

#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, RequestId)>>,
    live: usize,
}

impl Timers {
    pub(crate) fn arm(&mut self, deadline: Instant, id: RequestId) {
        self.heap.push(Reverse((deadline, id)));
        self.live += 1;
    }

    /// Records that an armed waiter completed some other way; its entry is now stale.
    pub(crate) fn disarm(&mut self) {
        self.live = self.live.saturating_sub(1);
    }

    /// The earliest deadline, live if [`prune`](Timers::prune) ran since the last change.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((deadline, _))| *deadline)
    }

    /// Removes and returns the earliest entry if it is due at `now`, live or stale.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, RequestId)> {
        match self.heap.peek() {
            Some(Reverse((deadline, _))) if *deadline <= now => {
                self.heap.pop().map(|Reverse(entry)| entry)
            }
            _ => None,
        }
    }

    /// Drops stale entries from the top (and compacts the heap when it is mostly stale).
    /// `is_live` says whether an entry still stands for a waiting query.
    pub(crate) fn prune(&mut self, is_live: impl Fn(Instant, RequestId) -> bool) {
        if self.heap.len() > 2 * self.live + SLACK {
            self.heap
                .retain(|Reverse((deadline, id))| is_live(*deadline, *id));
        }
        while let Some(Reverse((deadline, id))) = self.heap.peek() {
            if is_live(*deadline, *id) {
                break;
            }
            self.heap.pop();
        }
    }

    pub(crate) fn clear(&mut self) {
        self.heap.clear();
        self.live = 0;
    }
}
