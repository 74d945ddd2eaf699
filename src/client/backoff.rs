//! When to try to reconnect: the schedule that bounds how often a session connects to its
//! server, whatever the server does.

use std::time::Duration;

/// The pauses between connection attempts that do not hold: none before the first attempt
/// after a stream that held, then `first`, twice as long each time, up to `max`. A stream
/// holds when it came up (resumed or new) and lasted `max` at least.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Backoff {
    pub(crate) first: Duration,
    pub(crate) max: Duration,
}

impl Backoff {
    /// tokio-xmpp's own schedule: 1 s, doubling, up to 30 s.
    pub(crate) const DEFAULT: Self = Self {
        first: Duration::from_secs(1),
        max: Duration::from_secs(30),
    };

    /// The pause before an attempt that follows `in_a_row` attempts that did not hold (0 after
    /// a stream that held).
    pub(crate) fn pause(self, in_a_row: u32) -> Duration {
        match in_a_row {
            0 => Duration::ZERO,
            n => {
                let doublings = 2u32.saturating_pow(n.saturating_sub(1).min(31));
                self.first.saturating_mul(doublings).min(self.max)
            }
        }
    }

    /// A schedule with `first` and `max` as given, but `first` at least a millisecond (a
    /// schedule without pauses is no bound) and `max` at least `first`.
    pub(crate) fn new(first: Duration, max: Duration) -> Self {
        let first = first.max(Duration::from_millis(1));
        Self {
            first,
            max: max.max(first),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_doubles_from_nothing_up_to_its_cap() {
        let pauses: Vec<u64> = (0..8)
            .map(|n| Backoff::DEFAULT.pause(n).as_secs())
            .collect();
        assert_eq!(pauses, [0, 1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(Backoff::DEFAULT.pause(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn a_schedule_always_pauses() {
        let given = Backoff::new(Duration::ZERO, Duration::ZERO);
        assert_eq!(given.pause(1), Duration::from_millis(1));
        assert_eq!(given.pause(2), Duration::from_millis(1));
    }
}
