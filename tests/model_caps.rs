//! Entity capabilities against contacts honest, lying, forging and silent: random operation
//! sequences, checked after every step, and rooms of occupants claiming one program (see
//! `tests/model/caps.rs`). The operations are decoded from random bytes, as the fuzz target
//! `caps` decodes them.
//!
//! `PROPTEST_CASES=50000 cargo test --release --test model_caps` runs more cases.

mod model;

use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(2_000)
}

#[test]
fn the_model_forges_twins_that_hash_alike() {
    model::caps::twins_hash_alike();
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_query_completes_once_and_no_lie_reaches_another_contact(
        data in prop::collection::vec(any::<u8>(), 0..600)
    ) {
        model::caps::run_bytes(&data);
    }

    #[test]
    fn every_honest_occupant_gets_the_true_answer_whoever_forges_or_stays_silent(
        data in prop::collection::vec(any::<u8>(), 0..80)
    ) {
        model::caps::run_room(&data);
    }
}
