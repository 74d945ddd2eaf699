//! Property test of long lists and questions about a tree: random sequences of list, page,
//! find-services, walk and supports queries against honest and lying responders, with
//! cancels, time, partial deliveries, lost answers and resets (see `tests/model/questions.rs`).
//!
//! `PROPTEST_CASES=50000 cargo test --release --test model_questions` runs more cases.

mod model;

use model::questions::{Op, World, ENTITIES};
use proptest::prelude::*;

fn op() -> impl Strategy<Value = Op> {
    let entity = 0..ENTITIES.len();
    prop_oneof![
        3 => entity.clone().prop_map(|entity| Op::List { entity }),
        1 => (entity.clone(), 0usize..12).prop_map(|(entity, max)| Op::Page { entity, max }),
        2 => (entity.clone(), any::<bool>()).prop_map(|(entity, muc)| Op::Services { entity, muc }),
        2 => (entity.clone(), 0usize..4, 0usize..30)
            .prop_map(|(entity, depth, max)| Op::Walk { entity, depth, max }),
        1 => entity.prop_map(|entity| Op::Supports { entity }),
        1 => any::<usize>().prop_map(Op::Cancel),
        2 => (0u64..40_000).prop_map(Op::Advance),
        6 => (1usize..6).prop_map(Op::Deliver),
        1 => Just(Op::Lose),
        1 => Just(Op::Reset),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn every_question_completes_once_and_honest_lists_are_whole(
        ops in prop::collection::vec(op(), 0..60)
    ) {
        let mut world = World::new();
        for op in &ops {
            world.step(op);
        }
        world.finish();
    }
}
