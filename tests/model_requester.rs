//! Model-based property test of the requester: random operation sequences over few keys,
//! checked after every step against the reference model in `tests/model/requester.rs`.
//!
//! `PROPTEST_CASES=50000 cargo test --release --test model_requester` runs more cases.

mod model;

use model::bytes::hostile_text;
use model::requester::{Bounds, Deadline, Op, Reply, World, JIDS, NODES};
use proptest::prelude::*;

fn bounds() -> impl Strategy<Value = Bounds> {
    (0usize..4, 0usize..4, 0usize..5).prop_map(|(info_capacity, items_capacity, max_in_flight)| {
        Bounds {
            info_capacity,
            items_capacity,
            max_in_flight,
        }
    })
}

/// Text a host might pass as a node, hostile characters included.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<u8>(), 0..14).prop_map(|raw| hostile_text(&raw))
}

fn op() -> impl Strategy<Value = Op> {
    let deadline = prop_oneof![
        3 => Just(Deadline::Default),
        1 => Just(Deadline::Never),
        2 => (1u64..60_000).prop_map(Deadline::After),
    ];
    let reply = prop_oneof![
        5 => Just(Reply::Result),
        1 => Just(Reply::Error),
        1 => Just(Reply::Malformed),
        1 => Just(Reply::WrongKind),
        1 => Just(Reply::WrongSender),
        1 => Just(Reply::NoFrom),
        1 => Just(Reply::WrongAddressee),
    ];
    prop_oneof![
        8 => (any::<bool>(), 0..JIDS.len(), 0..NODES.len(), prop::bool::weighted(0.15), deadline, prop::bool::weighted(0.25))
            .prop_map(|(items, jid, node, fresh, deadline, other)| Op::Query { items, jid, node, fresh, deadline, asker: usize::from(other) }),
        6 => (0usize..64, reply).prop_map(|(iq, how)| Op::Reply { iq, how }),
        3 => (0u64..40_000).prop_map(Op::Advance),
        2 => (0usize..64).prop_map(Op::Cancel),
        1 => (0..JIDS.len(), 0..NODES.len()).prop_map(|(jid, node)| Op::SetCache { jid, node }),
        2 => (0..JIDS.len(), 0..NODES.len(), any::<bool>()).prop_map(|(jid, node, lazy)| Op::Prime { jid, node, lazy }),
        2 => (0usize..16, any::<bool>()).prop_map(|(prime, ok)| Op::Resolve { prime, ok }),
        1 => Just(Op::ForeignReply),
        1 => Just(Op::Flush),
        1 => Just(Op::Reset),
        2 => (any::<bool>(), 0..JIDS.len(), any::<bool>(), text())
            .prop_map(|(items, jid, fresh, text)| Op::QueryText { items, jid, fresh, text }),
        1 => (0..JIDS.len(), text()).prop_map(|(jid, text)| Op::PrimeText { jid, text }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2_000),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_requester_agrees_with_the_model(bounds in bounds(), ops in prop::collection::vec(op(), 1..60)) {
        let mut world = World::new(bounds);
        for op in &ops {
            world.step(op);
        }
        world.finish();
    }
}
