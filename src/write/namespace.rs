//! Which stream's namespace stanzas are written in.

/// The namespace stanzas are written in: it depends on the stream the host speaks. Incoming
/// stanzas are recognised in any of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StanzaNamespace {
    /// `jabber:client`: a client's stream (RFC 6120).
    #[default]
    Client,
    /// `jabber:component:accept`: an external component's stream (XEP-0114).
    ComponentAccept,
    /// `jabber:server`: a server-to-server stream.
    Server,
}

impl StanzaNamespace {
    /// The namespace's URI.
    pub fn as_str(self) -> &'static str {
        match self {
            StanzaNamespace::Client => xmpp_parsers::ns::JABBER_CLIENT,
            StanzaNamespace::ComponentAccept => xmpp_parsers::ns::COMPONENT_ACCEPT,
            StanzaNamespace::Server => "jabber:server",
        }
    }
}
