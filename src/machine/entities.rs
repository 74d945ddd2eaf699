//! The other addresses a component answers for: entities registered one by one, and a
//! resolver for the rest.

use xmpp_parsers::jid::Jid;

use crate::responder::{Entity, EntityMut, Resolver};

use super::DiscoMachine;
#[cfg(doc)]
use crate::config::Config;
#[cfg(doc)]
use crate::event::Event;
#[cfg(doc)]
use crate::responder::RequestContext;

/// # Answering for many addresses
///
/// Entities and the resolver, for a component or service that answers for more than its own
/// address. See the crate docs' *Serving many addresses*.
impl DiscoMachine {
    /// Answers for `jid` from `entity` from now on, besides the machine's own address: a
    /// component or service answers for many addresses (a MUC service's rooms, a gateway's
    /// users). Requests addressed to `jid` see this entity's nodes and no other's, and with
    /// [`Config::stamp_from`] their answers come from `jid`. Adding at an address replaces the
    /// entity there and returns it. Raises [`Event::NodeChanged`] with `entity: Some(jid)`.
    ///
    /// Which entity answers a request: the own address when the stanza has no `to`; the entity
    /// registered at `to`; the own address when `to` is [`Config::own_jid`]; the
    /// [resolver](Self::set_resolver). A component ([`Config::stamp_from`]) answers any other
    /// address `item-not-found` (type `cancel`), as a MUC service answers for a room that does
    /// not exist; a client answers it from its own registry (its server delivers only what is
    /// the client's).
    ///
    /// ```
    /// use xmpp_disco::{Config, DiscoMachine, Entity, StaticNode};
    ///
    /// let mut config = Config::default();
    /// config.own_jid = Some("conference.capulet.example".parse().unwrap());
    /// config.stamp_from = true; // a component says which address answers
    /// let mut disco = DiscoMachine::new(config);
    ///
    /// let mut room = StaticNode::new();
    /// room.register_identity("conference", "text", "The balcony")?;
    /// let address = "balcony@conference.capulet.example".parse().unwrap();
    /// assert!(disco.add_entity(address, Entity::new(room)).is_none());
    /// # Ok::<(), xmpp_disco::RegistryError>(())
    /// ```
    pub fn add_entity(&mut self, jid: Jid, entity: Entity) -> Option<Entity> {
        self.responder.add_entity(&mut self.out, jid, entity)
    }

    /// Stops answering for `jid` as a registered entity and returns it; requests to it go to the
    /// resolver, if any, or get `item-not-found`. Raises [`Event::NodeChanged`]. `None` (and no
    /// event) if no entity is registered there.
    pub fn remove_entity(&mut self, jid: &Jid) -> Option<Entity> {
        self.responder.remove_entity(&mut self.out, jid)
    }

    /// The entity registered at `jid`, if any.
    pub fn entity(&self, jid: &Jid) -> Option<&Entity> {
        self.responder.entity(jid)
    }

    /// Changes the entity registered at `jid` (its root and mounted nodes; see [`EntityMut`]).
    pub fn entity_mut<'a>(&'a mut self, jid: &'a Jid) -> Option<EntityMut<'a>> {
        let entity = self.responder.entity_mut(jid)?;
        Some(EntityMut::new(jid, entity, &mut self.out))
    }

    /// Answers for every address that is neither the own one nor a registered entity through
    /// `resolver`, asked per request with the address in [`RequestContext::to`]: ten thousand
    /// rooms need no ten thousand entities, and an address answered this way costs nothing while
    /// no request for it is being answered. Replaces the resolver set before.
    ///
    /// ```
    /// use xmpp_disco::{DiscoMachine, DynamicNode, RequestContext, Resolver};
    /// use xmpp_disco::xmpp_parsers::disco::{DiscoInfoResult, Identity};
    ///
    /// /// Rooms `room0` to `room9999` exist; every other address does not.
    /// struct Rooms;
    ///
    /// impl DynamicNode for Rooms {
    ///     fn info(&self, request: &RequestContext<'_>) -> Option<DiscoInfoResult> {
    ///         let room = request.to?.node()?.as_str().strip_prefix("room")?;
    ///         let number: u32 = room.parse().ok().filter(|n| *n < 10_000)?;
    ///         request.node.is_none().then(|| DiscoInfoResult {
    ///             node: None,
    ///             identities: vec![Identity::new("conference", "text", "en", format!("Room {number}"))],
    ///             features: ["http://jabber.org/protocol/muc".into()].into(),
    ///             extensions: vec![],
    ///         })
    ///     }
    /// }
    ///
    /// let mut disco = DiscoMachine::default();
    /// disco.set_resolver(Resolver::dynamic(Rooms));
    /// ```
    pub fn set_resolver(&mut self, resolver: Resolver) {
        self.responder.set_resolver(Some(resolver));
    }

    /// Stops resolving addresses: only the own address and registered entities are answered.
    pub fn clear_resolver(&mut self) {
        self.responder.set_resolver(None);
    }
}
