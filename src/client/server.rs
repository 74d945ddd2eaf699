//! Where a session connects.

use std::fmt;

/// Where the server is and how to talk to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Server {
    /// The address the JID's domain publishes in DNS (its `_xmpp-client._tcp` SRV records,
    /// else the domain itself on port 5222), with STARTTLS and certificates checked against
    /// the system's roots. What a real account uses.
    Published,
    /// `host` (a name or an IP address) on `port`, with STARTTLS.
    StartTls {
        /// A DNS name, `localhost` or an IP address.
        host: String,
        /// The server's client port.
        port: u16,
    },
    /// `host` on `port` without encryption: passwords travel in clear, so only for a test
    /// server on loopback.
    Plaintext {
        /// A DNS name, `localhost` or an IP address.
        host: String,
        /// The server's client port.
        port: u16,
    },
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Published => f.write_str("the address its domain publishes in DNS"),
            Self::StartTls { host, port } => write!(f, "{host}:{port}"),
            Self::Plaintext { host, port } => write!(f, "{host}:{port} (plaintext)"),
        }
    }
}
