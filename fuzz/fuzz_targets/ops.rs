//! An arbitrary sequence of requester operations (queries, replies genuine and spoofed, time,
//! cancels, primes, flushes, resets), checked against the reference model after every step
//! and for exactly-once completion at the end, after time has passed every deadline.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/model/mod.rs"]
mod model;

fuzz_target!(|data: &[u8]| model::requester::run_bytes(data));
