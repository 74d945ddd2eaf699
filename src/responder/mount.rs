//! Mounted nodes, their cached answers, and the guard through which a static node is changed.

use std::collections::VecDeque;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use xmpp_parsers::data_forms::DataForm;
use xmpp_parsers::disco::Item;

use super::dynamic::DynamicNode;
use super::node::{IdentityNames, StaticNode};
use crate::error::RegistryError;
use crate::event::Event;
use crate::write::payload;
use crate::write::prepared::Prepared;

/// What answers requests for one node name.
pub enum Node {
    /// A fixed answer held by the machine, built once and reused until it changes.
    Static(StaticNode),
    /// An answer computed by the host for each request.
    Dynamic(Box<dyn DynamicNode>),
    /// An answer the host gives later: each request raises
    /// [`Event::DeferredRequest`](crate::Event::DeferredRequest) and is answered with
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

    /// Write access to `node`, which this cache belongs to.
    pub(crate) fn edit<'a>(
        &'a mut self,
        name: Option<&'a str>,
        node: &'a mut StaticNode,
        events: &'a mut VecDeque<Event>,
    ) -> NodeMut<'a> {
        NodeMut {
            name,
            node,
            cache: self,
            events,
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
/// [`DiscoMachine::node_mut`](crate::DiscoMachine::node_mut)).
///
/// The same operations as [`StaticNode`]'s, with two effects on success: the node's cached
/// answer is rebuilt on the next request, and a change to identities, features or forms raises
/// [`Event::NodeChanged`](crate::Event::NodeChanged) so that entity capabilities can be
/// recomputed (items are not part of them and raise nothing). A failed call changes nothing and
/// raises nothing. Reading goes through `Deref` to the [`StaticNode`].
pub struct NodeMut<'a> {
    name: Option<&'a str>,
    node: &'a mut StaticNode,
    cache: &'a mut AnswerCache,
    events: &'a mut VecDeque<Event>,
}

impl Deref for NodeMut<'_> {
    type Target = StaticNode;

    fn deref(&self) -> &StaticNode {
        self.node
    }
}

impl NodeMut<'_> {
    /// Applies a change to the node's info; on success, drops the built answer and tells the host.
    fn info_change<T>(
        &mut self,
        change: impl FnOnce(&mut StaticNode) -> Result<T, RegistryError>,
    ) -> Result<T, RegistryError> {
        let done = change(self.node)?;
        self.cache.info = None;
        self.events.push_back(Event::NodeChanged {
            node: self.name.map(str::to_owned),
        });
        Ok(done)
    }

    /// See [`StaticNode::register_feature`].
    ///
    /// # Errors
    ///
    /// As [`StaticNode::register_feature`].
    pub fn register_feature(&mut self, var: impl Into<String>) -> Result<(), RegistryError> {
        self.info_change(|node| node.register_feature(var))
    }

    /// See [`StaticNode::unregister_feature`].
    ///
    /// # Errors
    ///
    /// As [`StaticNode::unregister_feature`].
    pub fn unregister_feature(&mut self, var: &str) -> Result<(), RegistryError> {
        self.info_change(|node| node.unregister_feature(var))
    }

    /// See [`StaticNode::register_identity`].
    ///
    /// # Errors
    ///
    /// As [`StaticNode::register_identity`].
    pub fn register_identity(
        &mut self,
        category: &str,
        type_: &str,
        names: impl Into<IdentityNames>,
    ) -> Result<(), RegistryError> {
        self.info_change(|node| node.register_identity(category, type_, names))
    }

    /// See [`StaticNode::unregister_identity`].
    ///
    /// # Errors
    ///
    /// As [`StaticNode::unregister_identity`].
    pub fn unregister_identity(
        &mut self,
        category: &str,
        type_: &str,
    ) -> Result<(), RegistryError> {
        self.info_change(|node| node.unregister_identity(category, type_))
    }

    /// See [`StaticNode::set_identity_names`].
    ///
    /// # Errors
    ///
    /// As [`StaticNode::set_identity_names`].
    pub fn set_identity_names(
        &mut self,
        category: &str,
        type_: &str,
        names: impl Into<IdentityNames>,
    ) -> Result<(), RegistryError> {
        self.info_change(|node| node.set_identity_names(category, type_, names))
    }

    /// See [`StaticNode::set_form`].
    ///
    /// # Errors
    ///
    /// As [`StaticNode::set_form`].
    pub fn set_form(&mut self, form: DataForm) -> Result<(), RegistryError> {
        self.info_change(|node| node.set_form(form))
    }

    /// See [`StaticNode::remove_form`]; raises the event only if a form was removed.
    pub fn remove_form(&mut self, form_type: &str) -> bool {
        self.info_change(|node| {
            if node.remove_form(form_type) {
                Ok(())
            } else {
                Err(RegistryError::InvalidForm("no form of this FORM_TYPE"))
            }
        })
        .is_ok()
    }

    /// See [`StaticNode::set_items`].
    ///
    /// # Errors
    ///
    /// As [`StaticNode::set_items`].
    pub fn set_items(&mut self, items: Vec<Item>) -> Result<(), RegistryError> {
        self.node.set_items(items)?;
        self.cache.items = None;
        Ok(())
    }

    /// See [`StaticNode::push_item`].
    ///
    /// # Errors
    ///
    /// As [`StaticNode::push_item`].
    pub fn push_item(&mut self, item: Item) -> Result<(), RegistryError> {
        self.node.push_item(item)?;
        self.cache.items = None;
        Ok(())
    }
}
