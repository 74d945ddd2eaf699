//! Why logging in failed, in words a user can act on: the stage a login reached, the error,
//! and how tokio-xmpp's errors (and our connector's routes, carried inside them) are read.

use std::fmt;
use std::io;
use std::time::Duration;

use tokio_xmpp::error::{AuthError, ProtocolError};
use xmpp_parsers::jid::BareJid;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::stream_error::{DefinedCondition, ReceivedStreamError};

use super::server::Server;

/// What a login was doing when it failed or ran out of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginStage {
    /// Resolving the address, opening TCP, exchanging stream headers, STARTTLS.
    Connecting,
    /// SASL: the server checks the credentials.
    Authenticating,
    /// The stream after authentication: its features, then resource binding.
    Binding,
}

impl fmt::Display for LoginStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connecting => "a connection to the server",
            Self::Authenticating => "the server to check the credentials",
            Self::Binding => "the server to bind a resource",
        })
    }
}

/// Why logging in failed: each says what happened, in words a user can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The name could not be resolved (no such domain, no DNS records, no DNS server).
    #[error("cannot find {name} in DNS: {reason}")]
    Dns {
        /// The name looked up.
        name: String,
        /// What the resolver said.
        reason: String,
    },
    /// The address was found, but nothing listens there.
    #[error("nothing accepts connections at {address} (connection refused)")]
    Refused {
        /// The address tried, `host:port`.
        address: String,
    },
    /// The address was found, but it could not be reached.
    #[error("cannot connect to {address}: {reason}")]
    Unreachable {
        /// The address tried, `host:port`, or the domain for [`Server::Published`].
        address: String,
        /// What the network said.
        reason: io::Error,
    },
    /// The server did not get through `stage` within the login's bound.
    #[error("timed out after {after:?} waiting for {stage}")]
    Timeout {
        /// What the login was waiting for.
        stage: LoginStage,
        /// The bound that passed ([`Login::timeout`](super::Login::timeout)).
        after: Duration,
    },
    /// The server answered but does not serve the JID's domain (`host-unknown`): a typo in the
    /// JID's domain, or the wrong server.
    #[error("the server at {server} does not serve the domain {domain}")]
    UnknownDomain {
        /// The JID's domain.
        domain: String,
        /// Where the login went.
        server: Server,
    },
    /// The server refused the credentials (a wrong password, an unknown account).
    #[error("the server refused the credentials of {jid} ({condition})")]
    BadCredentials {
        /// The account.
        jid: BareJid,
        /// The SASL condition the server gave, such as `not-authorized`.
        condition: String,
    },
    /// The server offers no SASL mechanism this client has (SCRAM-SHA-256, SCRAM-SHA-1, PLAIN).
    #[error(
        "the server offers no login mechanism this client supports (a server that allows PLAIN \
         only over TLS refuses plaintext connections this way)"
    )]
    NoMechanism,
    /// STARTTLS was required but the server does not offer it.
    #[error("the server does not offer STARTTLS, and this connection requires TLS")]
    NoTls,
    /// The server offered STARTTLS, then refused it (a `<failure/>`) or closed the connection
    /// when asked: the connection was accepted, TLS was not.
    #[error("the server at {address} refused to start TLS")]
    TlsRefused {
        /// Where the login went: `host:port`, or the domain whose published address answered.
        address: String,
    },
    /// TLS could not be established (a certificate that does not match, an unknown authority).
    #[error("TLS with the server failed: {reason}")]
    Tls {
        /// What the TLS library said.
        reason: String,
    },
    /// The server ended the stream with a stream error.
    #[error("the server closed the stream during {stage} with the error {condition}{}", text_suffix(.text))]
    StreamError {
        /// What the login was doing.
        stage: LoginStage,
        /// The condition, such as `policy-violation`.
        condition: String,
        /// The server's explanation, if it gave one.
        text: Option<String>,
    },
    /// The connection closed while `stage` was under way, with no reason given.
    #[error("the connection closed while waiting for {stage}")]
    Closed {
        /// What the login was doing.
        stage: LoginStage,
    },
    /// After authentication, the server offers no resource binding: there is no way to a
    /// session (and tokio-xmpp would fail on the stream).
    #[error("the server offers no resource binding after authentication")]
    NoBinding,
    /// A reconnection logged in, but the stream broke before it was resumed or bound: the
    /// server refused the resumption (in a form tokio-xmpp cannot read, say) or dropped the
    /// connection. The next attempt, in its turn, starts a new stream.
    #[error(
        "the server accepted the login but the stream broke before it was resumed or bound; \
         the next attempt starts a new stream"
    )]
    NotEstablished,
    /// Anything else tokio-xmpp reports (a protocol violation by the server, say).
    #[error("the login failed while waiting for {stage}: {reason}")]
    Protocol {
        /// What the login was doing.
        stage: LoginStage,
        /// tokio-xmpp's error.
        reason: tokio_xmpp::Error,
    },
}

fn text_suffix(text: &Option<String>) -> String {
    text.as_deref()
        .map(|text| format!(": {text}"))
        .unwrap_or_default()
}

/// Where a TCP connection failed, carried inside tokio-xmpp's `io::Error` until
/// [`classify`] takes it back out.
#[derive(Debug, thiserror::Error)]
pub(super) enum RouteError {
    #[error("cannot resolve {name}: {reason}")]
    Dns { name: String, reason: io::Error },
    #[error("cannot connect to {address}: {reason}")]
    Connect { address: String, reason: io::Error },
    #[error("the server at {address} refused to start TLS")]
    TlsRefused { address: String },
}

pub(super) fn route_error(error: RouteError) -> tokio_xmpp::Error {
    tokio_xmpp::Error::Io(io::Error::other(error))
}

/// Says in words what tokio-xmpp's error means at this stage of a login.
pub(super) fn classify(
    error: tokio_xmpp::Error,
    stage: LoginStage,
    jid: &BareJid,
    server: &Server,
) -> LoginError {
    use tokio_xmpp::Error;
    let domain = || jid.domain().to_string();
    match error {
        Error::Io(error) => classify_io(error, stage, domain()),
        Error::DnsNet(reason) => LoginError::Dns {
            name: domain(),
            reason: reason.to_string(),
        },
        Error::DnsProto(reason) => LoginError::Dns {
            name: domain(),
            reason: reason.to_string(),
        },
        Error::Auth(AuthError::Fail(condition)) => LoginError::BadCredentials {
            jid: jid.clone(),
            condition: condition_name(&condition),
        },
        Error::Auth(AuthError::NoMechanism) => LoginError::NoMechanism,
        Error::Protocol(ProtocolError::NoTls) => LoginError::NoTls,
        Error::Connection(reason) => LoginError::Tls {
            reason: reason.to_string(),
        },
        Error::StreamError(ReceivedStreamError(error))
            if error.condition == DefinedCondition::HostUnknown =>
        {
            LoginError::UnknownDomain {
                domain: domain(),
                server: server.clone(),
            }
        }
        Error::StreamError(ReceivedStreamError(error)) => LoginError::StreamError {
            stage,
            condition: condition_name(&error.condition),
            text: error.texts.into_values().next(),
        },
        // What tokio-xmpp's SRV connector says when every published target refused.
        Error::Disconnected if stage == LoginStage::Connecting => LoginError::Unreachable {
            address: domain(),
            reason: io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "no published address accepted a connection",
            ),
        },
        Error::Disconnected => LoginError::Closed { stage },
        reason => LoginError::Protocol { stage, reason },
    }
}

/// A defined condition (a stream error's, a SASL failure's) as the XML names it:
/// `not-authorized`. xmpp-parsers writes the element, so the name is the one on the wire.
fn condition_name<C>(condition: &C) -> String
where
    for<'a> Element: From<&'a C>,
{
    Element::from(condition).name().to_owned()
}

fn classify_io(error: io::Error, stage: LoginStage, domain: String) -> LoginError {
    let kind = error.kind();
    let route = error
        .get_ref()
        .is_some_and(|inner| inner.is::<RouteError>());
    if route {
        if let Some(route) = error.into_inner().and_then(|inner| inner.downcast().ok()) {
            return match *route {
                RouteError::Dns { name, reason } => LoginError::Dns {
                    name,
                    reason: reason.to_string(),
                },
                RouteError::Connect { address, reason }
                    if reason.kind() == io::ErrorKind::ConnectionRefused =>
                {
                    LoginError::Refused { address }
                }
                RouteError::Connect { address, reason } => {
                    LoginError::Unreachable { address, reason }
                }
                RouteError::TlsRefused { address } => LoginError::TlsRefused { address },
            };
        }
        return LoginError::Closed { stage };
    }
    match kind {
        io::ErrorKind::ConnectionRefused => LoginError::Refused { address: domain },
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => LoginError::Closed { stage },
        io::ErrorKind::TimedOut => LoginError::Closed { stage },
        _ => LoginError::Unreachable {
            address: domain,
            reason: error,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jid() -> BareJid {
        BareJid::new("juliet@example.org").expect("a valid JID")
    }

    #[test]
    fn a_refused_route_names_its_address() {
        let error = route_error(RouteError::Connect {
            address: "localhost:5222".into(),
            reason: io::Error::from(io::ErrorKind::ConnectionRefused),
        });
        let said = classify(error, LoginStage::Connecting, &jid(), &Server::Published);
        assert!(matches!(&said, LoginError::Refused { address } if address == "localhost:5222"));
        assert_eq!(
            said.to_string(),
            "nothing accepts connections at localhost:5222 (connection refused)"
        );
    }

    #[test]
    fn a_failed_lookup_is_a_dns_error() {
        let error = route_error(RouteError::Dns {
            name: "nowhere.invalid".into(),
            reason: io::Error::other("failed to lookup address information"),
        });
        let said = classify(error, LoginStage::Connecting, &jid(), &Server::Published);
        assert_eq!(
            said.to_string(),
            "cannot find nowhere.invalid in DNS: failed to lookup address information"
        );
    }

    #[test]
    fn a_sasl_failure_names_the_account_and_condition() {
        let error = tokio_xmpp::Error::Auth(AuthError::Fail(
            xmpp_parsers::sasl::DefinedCondition::NotAuthorized,
        ));
        let said = classify(
            error,
            LoginStage::Authenticating,
            &jid(),
            &Server::Published,
        );
        assert_eq!(
            said.to_string(),
            "the server refused the credentials of juliet@example.org (not-authorized)"
        );
    }

    #[test]
    fn host_unknown_says_the_server_does_not_serve_the_domain() {
        let stream_error =
            xmpp_parsers::stream_error::StreamError::new(DefinedCondition::HostUnknown, "en", "");
        let error = tokio_xmpp::Error::StreamError(ReceivedStreamError(stream_error));
        let server = Server::Plaintext {
            host: "localhost".into(),
            port: 5222,
        };
        let said = classify(error, LoginStage::Connecting, &jid(), &server);
        assert_eq!(
            said.to_string(),
            "the server at localhost:5222 (plaintext) does not serve the domain example.org"
        );
    }
}
