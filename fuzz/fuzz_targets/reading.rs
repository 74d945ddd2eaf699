//! Bytes read as an answer of XEP-0115's shape: its string `S`'s reading joins back into `S`,
//! and no answer with that `S` but the reading is shared (the answer, and a twin the rest of
//! the bytes build). No machine: thousands of inputs a second.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/model/mod.rs"]
mod model;

fuzz_target!(|data: &[u8]| model::reading::check(data));
