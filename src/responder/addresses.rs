//! The addresses the responder answers for, and which registry answers a request: the
//! machine's own, each registered [`Entity`], and the [`Resolver`]'s.

use std::collections::HashMap;

use xmpp_parsers::jid::Jid;

use super::entity::{Answerer, Entity, Resolver};
use crate::config::Config;

#[derive(Debug)]
pub(super) struct Addresses {
    /// The machine's own address.
    pub(super) own: Entity,
    /// Other addresses, registered one by one.
    pub(super) entities: HashMap<Jid, Entity>,
    /// Addresses served without registering each.
    pub(super) resolver: Option<Resolver>,
}

impl Addresses {
    pub(super) fn new(own: Entity) -> Self {
        Addresses {
            own,
            entities: HashMap::new(),
            resolver: None,
        }
    }

    /// Whether the own address answers a request to `to` (see [`answerer`](Self::answerer)).
    pub(super) fn is_own(&self, config: &Config, to: Option<&Jid>) -> bool {
        let Some(to) = to else {
            return true;
        };
        !self.entities.contains_key(to)
            && (config.own_jid.as_ref() == Some(to)
                || (self.resolver.is_none() && !config.stamp_from))
    }

    /// Who answers a request for `node` of the address `to`. The address is looked up in this
    /// order: the own address when the stanza names none, a registered entity, the own address
    /// ([`Config::own_jid`]), the resolver. What is left is nobody's for a machine that speaks
    /// for its addresses itself ([`Config::stamp_from`], a component); a client's server
    /// delivers only what is the client's, so there it is the own address, whatever the `to`.
    pub(super) fn answerer(
        &mut self,
        config: &Config,
        to: Option<&Jid>,
        node: Option<&str>,
    ) -> Answerer<'_> {
        let Some(to) = to else {
            return self.own.answerer(node);
        };
        if let Some(entity) = self.entities.get_mut(to) {
            return entity.answerer(node);
        }
        if config.own_jid.as_ref() == Some(to) {
            return self.own.answerer(node);
        }
        match &self.resolver {
            Some(resolver) => resolver.answerer(),
            None if config.stamp_from => Answerer::Missing,
            None => self.own.answerer(node),
        }
    }
}

/// The `from` of an answer to a request sent to `to`: the address asked, when the machine
/// stamps its stanzas ([`Config::stamp_from`]); the server stamps a client's.
pub(super) fn answering_address(config: &Config, to: Option<Jid>) -> Option<Jid> {
    if config.stamp_from {
        to.or_else(|| config.own_jid.clone())
    } else {
        None
    }
}
