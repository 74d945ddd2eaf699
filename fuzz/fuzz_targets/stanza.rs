//! Raw bytes, parsed as XML the way a host would, fed to a machine with requests in flight,
//! primed entries and static, dynamic and deferred nodes. Only a panic, a hang or unbounded
//! growth is a failure.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/model/mod.rs"]
mod model;

fuzz_target!(|data: &[u8]| model::stanzas::feed(data));
