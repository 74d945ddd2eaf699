//! An arbitrary sequence of registry operations and requests, every answer checked against the
//! model of nodes.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/model/mod.rs"]
mod model;

fuzz_target!(|data: &[u8]| model::responder::run_bytes(data));
