//! An arbitrary sequence of whole-list and page queries, find-services, walks and supports
//! against honest and lying responders, with cancels, time, partial deliveries, lost answers
//! and resets: every id completes once, a question's own queries never reach the host, honest
//! lists come back whole.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/model/mod.rs"]
mod model;

fuzz_target!(|data: &[u8]| model::questions::run_bytes(data));
