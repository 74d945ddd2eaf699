//! Mounted nodes, their built answers, and the guard through which a static node is changed.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use xmpp_parsers::jid::Jid;

use super::dynamic::DynamicNode;
use super::node::{InfoSnapshot, StaticNode};
use crate::error::RegistryError;
use crate::event::Event;
use crate::outbox::Outbox;
use crate::write::payload;
use crate::write::prepared::Prepared;

/// What answers requests for one node name.
#[non_exhaustive]
pub enum Node {
    /// A fixed answer held by the machine, built once and reused until it changes.
    Static(StaticNode),
    /// An answer computed by the host for each request.
    Dynamic(Box<dyn DynamicNode>),
    /// An answer the host gives later: each request raises
    /// [`Event::DeferredRequest`] and is answered with
    /// [`DiscoMachine::respond_info`](crate::DiscoMachine::respond_info) and its siblings.
    Deferred,
}

impl Node {
    /// A dynamic node answered by `node`.
    pub fn dynamic(node: impl DynamicNode + 'static) -> Self {
        Node::Dynamic(Box::new(node))
    }
}

impl From<StaticNode> for Node {
    fn from(node: StaticNode) -> Self {
        Node::Static(node)
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Static(node) => f.debug_tuple("Static").field(node).finish(),
            Node::Dynamic(_) => f.write_str("Dynamic(..)"),
            Node::Deferred => f.write_str("Deferred"),
        }
    }
}

/// The answers built for a static node, kept until it changes.
#[derive(Debug, Default)]
pub(crate) struct AnswerCache {
    info: Option<Arc<Prepared>>,
    items: Option<Arc<Prepared>>,
}

impl AnswerCache {
    /// The `disco#info` payload of `node` mounted at `name` (`None` if it has no identity).
    pub(crate) fn info(&mut self, name: Option<&str>, node: &StaticNode) -> Option<&Arc<Prepared>> {
        if !node.has_identity() {
            return None;
        }
        Some(self.info.get_or_insert_with(|| {
            let features = node.features();
            Prepared::new(payload::info(
                name,
                node.identities(),
                features,
                node.forms(),
            ))
        }))
    }

    /// The `disco#items` payload of `node` mounted at `name`.
    pub(crate) fn items(&mut self, name: Option<&str>, node: &StaticNode) -> &Arc<Prepared> {
        self.items
            .get_or_insert_with(|| Prepared::new(payload::items(name, node.items())))
    }

    /// Write access to `node`, which this cache belongs to, mounted at `name` of the entity
    /// at `entity` (`None`: the machine's own address).
    pub(crate) fn edit<'a>(
        &'a mut self,
        entity: Option<&'a Jid>,
        name: Option<&'a str>,
        node: &'a mut StaticNode,
        out: &'a mut Outbox,
    ) -> NodeMut<'a> {
        // The built answers leave the node for as long as it is open: an edit the guard never
        // settles (a guard leaked with `mem::forget`) leaves no answer built before it, only
        // one built afresh from what the node holds.
        self.items = None;
        NodeMut {
            before: node.info_snapshot(),
            built_info: self.info.take(),
            entity,
            name,
            node,
            cache: self,
            out,
            required: &[],
        }
    }
}

/// A node mounted under a name, with its built answers if it is static.
#[derive(Debug)]
pub(crate) struct Mount {
    pub(crate) node: Node,
    pub(crate) cache: AnswerCache,
}

/// Write access to a static node held by the machine
/// ([`DiscoMachine::root_mut`](crate::DiscoMachine::root_mut),
/// [`DiscoMachine::node_mut`](crate::DiscoMachine::node_mut)): every [`StaticNode`] method,
/// through `DerefMut`.
///
/// The node's built answers are set aside while the guard is open, so what it answers next is
/// always built from what it holds, whatever happens to the guard. When the guard goes out of
/// scope it settles the edit, whatever method made the changes: if the node's identities,
/// features or forms differ from what they were when the guard was taken, one
/// [`Event::NodeChanged`] tells the host (entity capabilities are
/// recomputed then; items are not part of them and raise nothing); if not, the built info
/// answer is put back. A refused call changes nothing, and neither does a change undone before
/// the guard goes. A guard leaked with [`mem::forget`](std::mem::forget) never settles: the
/// answers are still right (built afresh on the next request), but the host is not told.
///
/// ```
/// use xmpp_disco::{DiscoMachine, Event};
///
/// let mut disco = DiscoMachine::default();
/// let mut root = disco.root_mut();
/// root.register_feature("urn:xmpp:ping")?;
/// root.register_feature("urn:xmpp:time")?;
/// drop(root); // one event for the whole edit
/// assert!(matches!(disco.poll_event(), Some(Event::NodeChanged { node: None, .. })));
/// assert!(disco.poll_event().is_none());
/// # Ok::<(), xmpp_disco::RegistryError>(())
/// ```
pub struct NodeMut<'a> {
    entity: Option<&'a Jid>,
    name: Option<&'a str>,
    node: &'a mut StaticNode,
    cache: &'a mut AnswerCache,
    out: &'a mut Outbox,
    /// The node's identities, features and forms when the guard was taken.
    before: InfoSnapshot,
    /// The info answer built before the guard was taken, put back if nothing it says changed.
    built_info: Option<Arc<Prepared>>,
    /// Features the machine needs this node to keep: the root's caps features, while the
    /// machine's configuration announces own capabilities. They belong to the guard, not to
    /// the node, so that a node taken elsewhere does not carry them.
    required: &'static [&'static str],
}

impl NodeMut<'_> {
    /// The guard, refusing to unregister `required`.
    pub(crate) fn requiring(mut self, required: &'static [&'static str]) -> Self {
        self.required = required;
        self
    }

    /// Removes the feature `var`, as [`StaticNode::unregister_feature`] does, but for the
    /// features the machine needs the node to keep.
    ///
    /// # Errors
    ///
    /// [`RegistryError::FeatureRequired`] for the root's caps features while own capabilities
    /// are announced ([`Config::caps_node`](crate::Config::caps_node)); otherwise as
    /// [`StaticNode::unregister_feature`]. Nothing changes then.
    pub fn unregister_feature(&mut self, var: &str) -> Result<(), RegistryError> {
        if self.required.contains(&var) {
            return Err(RegistryError::FeatureRequired(var.to_owned()));
        }
        self.node.unregister_feature(var)
    }
}

impl Deref for NodeMut<'_> {
    type Target = StaticNode;

    fn deref(&self) -> &StaticNode {
        self.node
    }
}

impl DerefMut for NodeMut<'_> {
    fn deref_mut(&mut self) -> &mut StaticNode {
        self.node
    }
}

impl Drop for NodeMut<'_> {
    fn drop(&mut self) {
        // Items are not compared (a long list would cost a copy per edit): their answer is
        // simply rebuilt when next asked for.
        if self.node.info_is(&self.before) {
            self.cache.info = self.built_info.take();
        } else {
            self.out.report(Event::NodeChanged {
                entity: self.entity.cloned(),
                node: self.name.map(str::to_owned),
            });
        }
    }
}
