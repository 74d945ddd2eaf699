//! The reconnection schedule [`Login::reconnect_backoff`](xmpp_disco::client::Login) promises,
//! written out for the tests that hold sessions to it.

use std::time::Duration;

/// The pause before an attempt after `in_a_row` attempts that did not hold.
pub fn pause(first: Duration, max: Duration, in_a_row: u32) -> Duration {
    match in_a_row {
        0 => Duration::ZERO,
        n => first.saturating_mul(2u32.saturating_pow(n - 1)).min(max),
    }
}

/// The most connection attempts that can start within `window` of the first one when none
/// holds.
pub fn attempts_within(first: Duration, max: Duration, window: Duration) -> usize {
    let (mut attempts, mut at) = (1, Duration::ZERO);
    loop {
        at += pause(first, max, attempts);
        if at > window {
            return attempts as usize;
        }
        attempts += 1;
    }
}
