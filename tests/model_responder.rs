//! Model-based property test of the responder: random registry operations on a few nodes of a
//! few addressed entities, a resolver set and cleared, and random requests to any address, every
//! answer compared with the model of nodes in `tests/model/responder.rs`.
//!
//! `PROPTEST_CASES=50000 cargo test --release --test model_responder` runs more cases.

mod model;

use model::responder::{Op, World, ADDRESSES, ENTITIES, FEATURES, IDENTITIES, NODES};
use proptest::prelude::*;

fn op() -> impl Strategy<Value = Op> {
    let node = 0..NODES.len();
    prop_oneof![
        3 => (node.clone(), 0..FEATURES.len()).prop_map(|(node, feature)| Op::RegisterFeature { node, feature }),
        2 => (node.clone(), 0..FEATURES.len()).prop_map(|(node, feature)| Op::UnregisterFeature { node, feature }),
        3 => (node.clone(), 0..IDENTITIES.len(), 0usize..3).prop_map(|(node, identity, names)| Op::RegisterIdentity { node, identity, names }),
        2 => (node.clone(), 0..IDENTITIES.len()).prop_map(|(node, identity)| Op::UnregisterIdentity { node, identity }),
        1 => (node.clone(), 0..IDENTITIES.len(), 0usize..3).prop_map(|(node, identity, names)| Op::SetNames { node, identity, names }),
        1 => (node.clone(), 0usize..3).prop_map(|(node, count)| Op::SetItems { node, count }),
        2 => (node.clone(), any::<bool>()).prop_map(|(node, with_identity)| Op::Mount { node, with_identity }),
        1 => node.clone().prop_map(|node| Op::Unmount { node }),
        1 => any::<bool>().prop_map(Op::Policy),
        1 => any::<bool>().prop_map(Op::LeakGuards),
        2 => (0..ENTITIES.len()).prop_map(Op::Select),
        1 => (0..ENTITIES.len()).prop_map(Op::AddEntity),
        1 => (0..ENTITIES.len()).prop_map(Op::RemoveEntity),
        1 => any::<bool>().prop_map(Op::Resolver),
        6 => (any::<bool>(), node, prop::bool::weighted(0.1), prop::bool::weighted(0.3), 0..ADDRESSES.len())
            .prop_map(|(items, node, set, stranger, to)| Op::Request { items, node, set, stranger, to }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2_000),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_responder_agrees_with_the_model(ops in prop::collection::vec(op(), 1..60)) {
        let mut world = World::new();
        for op in &ops {
            world.step(op);
        }
    }
}
