//! An arbitrary sequence of presences claiming true and false hashes, unavailable presences,
//! root queries and `supports` questions, honest, lying, ill-formed, failed and lost answers,
//! time, cancels, flushes, resets and hash cache round trips: every id completes once, and no
//! contact ever gets an answer it neither gave nor claimed.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/model/mod.rs"]
mod model;

fuzz_target!(|data: &[u8]| model::caps::run_bytes(data));
