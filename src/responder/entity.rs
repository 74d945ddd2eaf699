//! Entities: the addresses the responder answers for, each a root node and nodes mounted under
//! names, and the resolver that answers for addresses the host does not register one by one.

use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use xmpp_parsers::jid::Jid;

use super::dynamic::DynamicNode;
use super::mount::{AnswerCache, Mount, Node, NodeMut};
use super::node::StaticNode;
use crate::error::{InvalidArgument, RegistryError};
use crate::event::Event;
use crate::outbox::Outbox;
use crate::text;
use crate::write::prepared::Prepared;

/// One address the responder answers for: a root node, and nodes mounted under names.
///
/// The machine's own address is one (what [`DiscoMachine::root_mut`](crate::DiscoMachine::root_mut)
/// and [`mount`](crate::DiscoMachine::mount) change). A component or service adds one per
/// address it answers for with [`DiscoMachine::add_entity`](crate::DiscoMachine::add_entity)
/// (a MUC service's rooms, a gateway's users), or answers for many at once through a
/// [`Resolver`]. A request addressed to one entity never sees another's nodes.
///
/// An entity costs its content and a map slot: the answers of its static nodes are built when
/// first asked for and kept until they change.
///
/// ```
/// use xmpp_disco::{DiscoMachine, Entity, StaticNode};
///
/// let mut room = StaticNode::new();
/// room.register_identity("conference", "text", [(Some("en"), "The balcony")])?;
/// room.register_feature("http://jabber.org/protocol/muc")?;
///
/// let mut disco = DiscoMachine::default();
/// let address = "balcony@conference.capulet.example".parse().unwrap();
/// disco.add_entity(address, Entity::new(room));
/// # Ok::<(), xmpp_disco::RegistryError>(())
/// ```
pub struct Entity {
    root: StaticNode,
    root_cache: AnswerCache,
    mounts: HashMap<String, Mount>,
}

impl fmt::Debug for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entity")
            .field("root", &self.root)
            .field("mounts", &self.mounts.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Entity {
    /// An entity answering from `root` for requests without a node, with no other node.
    pub fn new(root: StaticNode) -> Self {
        Entity {
            root,
            root_cache: AnswerCache::default(),
            mounts: HashMap::new(),
        }
    }

    /// What the entity answers for requests without a node.
    pub fn root(&self) -> &StaticNode {
        &self.root
    }

    /// The node mounted at `name`, if any.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.mounts.get(name).map(|mount| &mount.node)
    }

    /// The root's `disco#info` payload (built now if it was not), and the root.
    pub(crate) fn root_info(&mut self) -> (&StaticNode, Option<&Arc<Prepared>>) {
        (&self.root, self.root_cache.info(None, &self.root))
    }

    /// Who answers a request for `node` (`None`: the root).
    pub(crate) fn answerer(&mut self, node: Option<&str>) -> Answerer<'_> {
        let Some(name) = node else {
            return Answerer::Static(&self.root, &mut self.root_cache);
        };
        match self.mounts.get_mut(name) {
            None => Answerer::Missing,
            Some(Mount {
                node: Node::Static(node),
                cache,
            }) => Answerer::Static(node, cache),
            Some(Mount {
                node: Node::Dynamic(dynamic),
                ..
            }) => Answerer::Dynamic(&**dynamic),
            Some(Mount {
                node: Node::Deferred,
                ..
            }) => Answerer::Deferred,
        }
    }

    /// The edit guard of the root; `jid` names this entity in the event (`None`: the own one).
    pub(crate) fn root_mut<'a>(
        &'a mut self,
        jid: Option<&'a Jid>,
        out: &'a mut Outbox,
    ) -> NodeMut<'a> {
        self.root_cache.edit(jid, None, &mut self.root, out)
    }

    pub(crate) fn node_mut<'a>(
        &'a mut self,
        jid: Option<&'a Jid>,
        out: &'a mut Outbox,
        name: &'a str,
    ) -> Option<NodeMut<'a>> {
        let mount = self.mounts.get_mut(name)?;
        match &mut mount.node {
            Node::Static(node) => Some(mount.cache.edit(jid, Some(name), node, out)),
            Node::Dynamic(_) | Node::Deferred => None,
        }
    }

    pub(crate) fn mount(
        &mut self,
        jid: Option<&Jid>,
        out: &mut Outbox,
        name: String,
        node: Node,
    ) -> Result<Option<Node>, InvalidArgument> {
        text::check_node(&name)?;
        let mount = Mount {
            node,
            cache: AnswerCache::default(),
        };
        let previous = self.mounts.insert(name.clone(), mount);
        out.report(Event::NodeChanged {
            entity: jid.cloned(),
            node: Some(name),
        });
        Ok(previous.map(|mount| mount.node))
    }

    pub(crate) fn unmount(
        &mut self,
        jid: Option<&Jid>,
        out: &mut Outbox,
        name: &str,
    ) -> Result<Node, RegistryError> {
        let mount = self
            .mounts
            .remove(name)
            .ok_or_else(|| RegistryError::NotMounted(name.to_owned()))?;
        out.report(Event::NodeChanged {
            entity: jid.cloned(),
            node: Some(name.to_owned()),
        });
        Ok(mount.node)
    }
}

/// Who answers one request.
pub(crate) enum Answerer<'a> {
    /// A static node and its built answers.
    Static(&'a StaticNode, &'a mut AnswerCache),
    /// The host, now.
    Dynamic(&'a dyn DynamicNode),
    /// The host, later.
    Deferred,
    /// Nobody: `item-not-found`.
    Missing,
}

/// Write access to an entity the machine answers for
/// ([`DiscoMachine::entity_mut`](crate::DiscoMachine::entity_mut)): the same changes the
/// machine makes to its own address, each raising
/// [`Event::NodeChanged`] with this entity's address. Reading goes
/// through `Deref` to the [`Entity`].
///
/// ```
/// use xmpp_disco::xmpp_parsers::jid::Jid;
/// use xmpp_disco::{DiscoMachine, Entity, StaticNode};
///
/// let mut disco = DiscoMachine::default();
/// let room: Jid = "balcony@conference.capulet.example".parse().unwrap();
/// disco.add_entity(room.clone(), Entity::new(StaticNode::new()));
/// let mut entity = disco.entity_mut(&room).expect("added above");
/// entity.root_mut().register_identity("conference", "text", "The balcony")?;
/// entity.mount("topics", StaticNode::new()).expect("a valid node name");
/// # Ok::<(), xmpp_disco::RegistryError>(())
/// ```
pub struct EntityMut<'a> {
    jid: &'a Jid,
    entity: &'a mut Entity,
    out: &'a mut Outbox,
}

impl<'a> EntityMut<'a> {
    pub(crate) fn new(jid: &'a Jid, entity: &'a mut Entity, out: &'a mut Outbox) -> Self {
        EntityMut { jid, entity, out }
    }

    /// The entity's address.
    pub fn jid(&self) -> &Jid {
        self.jid
    }

    /// Changes the root, through a guard as for
    /// [`DiscoMachine::root_mut`](crate::DiscoMachine::root_mut).
    pub fn root_mut(&mut self) -> NodeMut<'_> {
        self.entity.root_mut(Some(self.jid), self.out)
    }

    /// Changes the static node mounted at `name`, as
    /// [`DiscoMachine::node_mut`](crate::DiscoMachine::node_mut) does for the own address.
    pub fn node_mut<'b>(&'b mut self, name: &'b str) -> Option<NodeMut<'b>> {
        self.entity.node_mut(Some(self.jid), self.out, name)
    }

    /// Answers requests for node `name` of this entity with `node`, as
    /// [`DiscoMachine::mount`](crate::DiscoMachine::mount) does for the own address.
    ///
    /// # Errors
    ///
    /// As [`DiscoMachine::mount`](crate::DiscoMachine::mount).
    pub fn mount(
        &mut self,
        name: impl Into<String>,
        node: impl Into<Node>,
    ) -> Result<Option<Node>, InvalidArgument> {
        self.entity
            .mount(Some(self.jid), self.out, name.into(), node.into())
    }

    /// Stops answering for node `name` of this entity, as
    /// [`DiscoMachine::unmount`](crate::DiscoMachine::unmount) does for the own address.
    ///
    /// # Errors
    ///
    /// [`RegistryError::NotMounted`] if nothing is mounted at `name`.
    pub fn unmount(&mut self, name: &str) -> Result<Node, RegistryError> {
        self.entity.unmount(Some(self.jid), self.out, name)
    }
}

impl Deref for EntityMut<'_> {
    type Target = Entity;

    fn deref(&self) -> &Entity {
        self.entity
    }
}

/// Answers for the addresses a host serves without registering each as an [`Entity`]: rooms
/// created on the fly, the users a gateway bridges
/// ([`DiscoMachine::set_resolver`](crate::DiscoMachine::set_resolver)).
///
/// It is asked about every request addressed to neither the machine's own address nor a
/// registered entity, with the address in [`RequestContext::to`](crate::RequestContext::to)
/// and the node asked for; "no such node" answers `item-not-found`, so an address the host
/// does not serve reads as a MUC service's room that does not exist. It holds nothing per
/// address: an entity answered this way costs nothing while no request is being answered.
#[non_exhaustive]
pub enum Resolver {
    /// The host answers each request at once.
    Dynamic(Box<dyn DynamicNode>),
    /// Each request raises [`Event::DeferredRequest`] (with the
    /// address it was sent to) and the host answers it later, as for a deferred node.
    Deferred,
}

impl Resolver {
    /// A resolver answering each request at once through `node`.
    pub fn dynamic(node: impl DynamicNode + 'static) -> Self {
        Resolver::Dynamic(Box::new(node))
    }

    /// Who answers a request for `node` of any address this resolver serves.
    pub(crate) fn answerer(&self) -> Answerer<'_> {
        match self {
            Resolver::Dynamic(dynamic) => Answerer::Dynamic(dynamic.as_ref()),
            Resolver::Deferred => Answerer::Deferred,
        }
    }
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resolver::Dynamic(_) => f.write_str("Dynamic(..)"),
            Resolver::Deferred => f.write_str("Deferred"),
        }
    }
}
