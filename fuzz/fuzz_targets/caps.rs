//! An arbitrary sequence of presences claiming true and false hashes, unavailable presences,
//! root queries and `supports` questions, honest, lying, forged (hashing alike), ill-formed,
//! failed and lost answers, time, cancels, flushes, resets and hash cache round trips: every
//! id completes once, and no contact ever gets an answer that is neither its own nor the true
//! answer of a program it claimed. Then the same bytes as a room of honest, forging and silent
//! occupants: every honest occupant gets the true answer.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/model/mod.rs"]
mod model;

fuzz_target!(|data: &[u8]| {
    model::caps::run_bytes(data);
    model::caps::run_room(data);
});
