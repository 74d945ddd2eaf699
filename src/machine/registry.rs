//! The responder's registry: the own root and the nodes mounted under a name, the policy, and
//! the host's answers to deferred requests.

use xmpp_parsers::disco::{DiscoInfoResult, Item};
use xmpp_parsers::stanza_error::StanzaError;

use crate::error::{InvalidArgument, RegistryError, ResponseError};
use crate::ids::ResponseHandle;
use crate::responder::{DeferredAnswer, Node, NodeMut, RequestContext, StaticNode};

use super::DiscoMachine;
#[cfg(doc)]
use crate::event::Event;

/// # Answering others: the registry
///
/// What the machine's own address answers. See the crate docs' *Responder semantics*.
impl DiscoMachine {
    /// The root node: what the machine answers for requests without a node.
    pub fn root(&self) -> &StaticNode {
        self.responder.own().root()
    }

    /// Changes the root node, through a guard that settles the edit when it goes (see
    /// [`NodeMut`]). The root starts with the identity `client`/`bot` (see
    /// [`StaticNode::default_root`]).
    ///
    /// ```
    /// use xmpp_disco::{DiscoMachine, Event};
    ///
    /// let mut disco = DiscoMachine::default();
    /// let mut root = disco.root_mut();
    /// root.register_identity("client", "pc", [(Some("en"), "Juliet's balcony")])?;
    /// root.unregister_identity("client", "bot")?;
    /// root.register_feature("urn:xmpp:ping")?;
    /// drop(root);
    /// // The edit tells the host once, so that entity capabilities can be recomputed.
    /// assert!(matches!(disco.poll_event(), Some(Event::NodeChanged { node: None, .. })));
    /// assert!(disco.poll_event().is_none());
    /// # Ok::<(), xmpp_disco::RegistryError>(())
    /// ```
    pub fn root_mut(&mut self) -> NodeMut<'_> {
        self.responder.own_root_mut(&mut self.out)
    }

    /// The node mounted at `name`, if any.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.responder.own().node(name)
    }

    /// Changes the static node mounted at `name`, through a guard as for
    /// [`root_mut`](Self::root_mut); `None` if there is none (or it is dynamic or deferred, which
    /// the host changes itself).
    pub fn node_mut<'a>(&'a mut self, name: &'a str) -> Option<NodeMut<'a>> {
        self.responder.own_mut().node_mut(None, &mut self.out, name)
    }

    /// Answers requests for node `name` with `node` from now on. Mounting over a name replaces
    /// the node there (as aioxmpp's `mount_node` does) and returns the one replaced. Raises
    /// [`Event::NodeChanged`].
    ///
    /// # Errors
    ///
    /// [`InvalidArgument::EmptyNode`] for an empty name (requests without a node go to the
    /// root), [`InvalidArgument::Text`] for a name XML cannot carry.
    pub fn mount(
        &mut self,
        name: impl Into<String>,
        node: impl Into<Node>,
    ) -> Result<Option<Node>, InvalidArgument> {
        self.responder
            .own_mut()
            .mount(None, &mut self.out, name.into(), node.into())
    }

    /// Stops answering for node `name` (requests for it get `item-not-found`) and returns the
    /// node. Raises [`Event::NodeChanged`]. Deferred requests already handed to the host can
    /// still be answered.
    ///
    /// # Errors
    ///
    /// [`RegistryError::NotMounted`] if nothing is mounted at `name`.
    pub fn unmount(&mut self, name: &str) -> Result<Node, RegistryError> {
        self.responder.own_mut().unmount(None, &mut self.out, name)
    }

    /// Decides, per request, whether to answer at all: a request the policy refuses is answered
    /// `service-unavailable`, whatever node it asks for, so that a refused requester learns
    /// nothing (XEP-0030 §8; a client may refuse entities not in its roster this way).
    pub fn set_policy(&mut self, policy: impl Fn(&RequestContext<'_>) -> bool + Send + 'static) {
        self.responder.set_policy(Some(Box::new(policy)));
    }

    /// Answers every requester again.
    pub fn clear_policy(&mut self) {
        self.responder.set_policy(None);
    }

    /// Answers a deferred `disco#info` request. An answer without any identity is sent as
    /// `item-not-found`, as for dynamic nodes.
    ///
    /// # Errors
    ///
    /// [`ResponseError::UnknownHandle`] if the request was answered already or its stream is
    /// gone; [`ResponseError::WrongKind`] if it asks for items; [`ResponseError::Text`] if the
    /// answer holds text XML cannot carry. Nothing is sent then, and a request refused for its
    /// kind or text still waits for an answer.
    pub fn respond_info(
        &mut self,
        handle: ResponseHandle,
        info: DiscoInfoResult,
    ) -> Result<(), ResponseError> {
        self.responder.respond(
            &mut self.out,
            &self.config,
            handle,
            DeferredAnswer::Info(info),
        )
    }

    /// Answers a deferred `disco#items` request.
    ///
    /// # Errors
    ///
    /// As [`respond_info`](Self::respond_info), with [`ResponseError::WrongKind`] for an info
    /// request.
    pub fn respond_items(
        &mut self,
        handle: ResponseHandle,
        items: Vec<Item>,
    ) -> Result<(), ResponseError> {
        self.responder.respond(
            &mut self.out,
            &self.config,
            handle,
            DeferredAnswer::Items(items),
        )
    }

    /// Answers a deferred request with a stanza error.
    ///
    /// # Errors
    ///
    /// [`ResponseError::UnknownHandle`] if the request was answered already or its stream is
    /// gone; [`ResponseError::Text`] if the error's texts or application condition hold text XML
    /// cannot carry (the request still waits then).
    pub fn respond_error(
        &mut self,
        handle: ResponseHandle,
        error: StanzaError,
    ) -> Result<(), ResponseError> {
        self.responder.respond(
            &mut self.out,
            &self.config,
            handle,
            DeferredAnswer::Error(error),
        )
    }
}
