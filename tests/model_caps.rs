//! Entity capabilities against contacts honest and lying: random operation sequences, checked
//! after every step (see `tests/model/caps.rs`). The operations are decoded from random bytes,
//! as the fuzz target `caps` decodes them.
//!
//! `PROPTEST_CASES=50000 cargo test --release --test model_caps` runs more cases.

mod model;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2_000),
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_query_completes_once_and_no_lie_reaches_another_contact(
        data in prop::collection::vec(any::<u8>(), 0..600)
    ) {
        model::caps::run_bytes(&data);
    }
}
