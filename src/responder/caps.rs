//! The machine's own entity capabilities: the hash sets of the root's info, and the caps nodes
//! that answer them.
//!
//! The hashes are computed from the root's built answer itself, so what is announced is exactly
//! what is answered. They are recomputed only when that answer was rebuilt (a change of the
//! root drops it), never per call. Each set is answered at its caps nodes with the info it was
//! computed from, for the current set and the three before it (XEP-0390 §7.1): a peer that
//! received an older presence can still verify it.

use std::collections::VecDeque;
use std::sync::Arc;

use super::node::StaticNode;
use crate::caps::{Algorithm, CapsAnnouncement, CapsInfo, Function, HashKey};
use crate::write::payload;
use crate::write::prepared::Prepared;

/// How many hash sets are answered: the current one and the three before it.
const ANSWERED: usize = 4;

/// One announced hash set and the answers at its caps nodes.
#[derive(Debug)]
struct HashSet {
    announcement: Arc<CapsAnnouncement>,
    /// (caps node, the root's info mirroring that node).
    answers: Vec<(String, Arc<Prepared>)>,
}

#[derive(Debug)]
pub(crate) struct Announcer {
    node: String,
    algorithms: Vec<Algorithm>,
    /// The root's built answer the newest set was computed from.
    computed_from: Option<Arc<Prepared>>,
    /// Newest first.
    sets: VecDeque<HashSet>,
}

impl Announcer {
    pub(crate) fn new(node: String, algorithms: Vec<Algorithm>) -> Self {
        Announcer {
            node,
            algorithms,
            computed_from: None,
            sets: VecDeque::new(),
        }
    }

    /// The current announcement for the root, whose built answer is `built` (`None`: the root
    /// has no identity, and nothing can be announced).
    pub(crate) fn current(
        &mut self,
        root: &StaticNode,
        built: Option<&Arc<Prepared>>,
    ) -> Option<Arc<CapsAnnouncement>> {
        let built = built?;
        self.update(root, built);
        let newest = self.sets.front()?;
        Some(Arc::clone(&newest.announcement))
    }

    /// The answer at caps node `node`, if it names one of the sets answered.
    pub(crate) fn answer(
        &mut self,
        node: &str,
        root: &StaticNode,
        built: Option<&Arc<Prepared>>,
    ) -> Option<Arc<Prepared>> {
        if let Some(built) = built {
            self.update(root, built);
        }
        self.sets
            .iter()
            .flat_map(|set| &set.answers)
            .find(|(name, _)| name == node)
            .map(|(_, answer)| Arc::clone(answer))
    }

    /// Computes the set of `built` unless it is the answer the newest set came from.
    fn update(&mut self, root: &StaticNode, built: &Arc<Prepared>) {
        if self
            .computed_from
            .as_ref()
            .is_some_and(|from| Arc::ptr_eq(from, built))
        {
            return;
        }
        self.computed_from = Some(Arc::clone(built));
        // The root's answer is the machine's own, checked when it was registered; should it
        // still not stand for a hash, nothing new is announced.
        let Ok(info) = CapsInfo::from_query(built.element()) else {
            return;
        };
        let Some(legacy) = HashKey::of(Function::Legacy, &info) else {
            return;
        };
        let modern: Vec<HashKey> = self
            .algorithms
            .iter()
            .filter_map(|algorithm| HashKey::of(Function::Modern(*algorithm), &info))
            .collect();
        let mut nodes = vec![legacy.query_node(Some(&self.node))];
        nodes.extend(modern.iter().map(|key| key.query_node(None)));
        if self
            .sets
            .front()
            .is_some_and(|newest| newest.answers.iter().map(|(node, _)| node).eq(&nodes))
        {
            // Rebuilt, but the same: nothing to announce anew.
            return;
        }
        let answers = nodes
            .into_iter()
            .map(|node| {
                let answer = payload::info(
                    Some(&node),
                    root.identities(),
                    root.features(),
                    root.forms(),
                );
                (node, Prepared::new(answer))
            })
            .collect();
        self.sets.push_front(HashSet {
            announcement: Arc::new(CapsAnnouncement::new(&self.node, legacy, &modern)),
            answers,
        });
        self.sets.truncate(ANSWERED);
    }
}
