//! Reaching the server and logging in, with every failure said in words.
//!
//! tokio-xmpp's own connectors retry forever and fold most failures into "disconnected" (a
//! refused connection to a name with two addresses, say). Here one login attempt is made
//! before the session exists, so that the caller learns at once, and precisely, why it cannot
//! log in; the same attempt, repeated, is what reconnects a lost stream.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::time::Duration;

use tokio::io::BufStream;
use tokio::net::TcpStream;
use tokio_xmpp::connect::starttls::starttls;
use tokio_xmpp::connect::{AsyncReadAndWrite, DnsConfig, ServerConnector};
use tokio_xmpp::error::{AuthError, ProtocolError};
use tokio_xmpp::stanzastream::Connection;
use tokio_xmpp::xmlstream::{initiate_stream, PendingFeaturesRecv, StreamHeader, Timeouts};
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::stream_error::{DefinedCondition, ReceivedStreamError};

use super::backoff::Backoff;
use crate::Config;

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
enum RouteError {
    #[error("cannot resolve {name}: {reason}")]
    Dns { name: String, reason: io::Error },
    #[error("cannot connect to {address}: {reason}")]
    Connect { address: String, reason: io::Error },
}

/// How to reach the server: the route (DNS or host and port) and the security.
#[derive(Clone, Debug)]
pub(crate) struct Connector {
    server: Server,
}

impl Connector {
    pub(crate) fn new(server: Server) -> Self {
        Self { server }
    }

    async fn open(&self, domain: &str) -> Result<TcpStream, tokio_xmpp::Error> {
        let (host, port) = match &self.server {
            Server::Published => return DnsConfig::srv_default_client(domain).resolve().await,
            Server::StartTls { host, port } | Server::Plaintext { host, port } => (host, *port),
        };
        let addresses = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|reason| {
                route_error(RouteError::Dns {
                    name: host.clone(),
                    reason,
                })
            })?;
        let address = format!("{host}:{port}");
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the name has no address");
        for candidate in addresses {
            match TcpStream::connect(candidate).await {
                Ok(stream) => return Ok(stream),
                Err(reason) => last = reason,
            }
        }
        Err(route_error(RouteError::Connect {
            address,
            reason: last,
        }))
    }
}

fn route_error(error: RouteError) -> tokio_xmpp::Error {
    tokio_xmpp::Error::Io(io::Error::other(error))
}

fn header(jid: &Jid) -> StreamHeader<'_> {
    StreamHeader {
        to: Some(Cow::Borrowed(jid.domain().as_str())),
        from: None,
        id: None,
    }
}

impl ServerConnector for Connector {
    type Stream = Box<dyn AsyncReadAndWrite + 'static>;

    async fn connect(
        &self,
        jid: &Jid,
        ns: &'static str,
        timeouts: Timeouts,
    ) -> Result<
        (
            PendingFeaturesRecv<Self::Stream>,
            sasl::common::ChannelBinding,
        ),
        tokio_xmpp::Error,
    > {
        let tcp = BufStream::new(self.open(jid.domain().as_str()).await?);
        if let Server::Plaintext { .. } = self.server {
            let stream: Self::Stream = Box::new(tcp);
            let pending = initiate_stream(stream, ns, header(jid), timeouts).await?;
            return Ok((pending, sasl::common::ChannelBinding::None));
        }
        let (features, stream) = initiate_stream(tcp, ns, header(jid), timeouts)
            .await?
            .recv_features()
            .await?;
        if !features.can_starttls() {
            return Err(ProtocolError::NoTls.into());
        }
        let (tls, binding) = starttls(stream, jid.domain().as_str()).await?;
        let stream: Self::Stream = Box::new(BufStream::new(tls));
        let pending = initiate_stream(stream, ns, header(jid), timeouts).await?;
        Ok((pending, binding))
    }
}

/// The bounds of one login and of the stream it opens.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// The whole login: connecting, authenticating, reading the features.
    pub(crate) timeout: Duration,
    /// How long the stream may be silent before tokio-xmpp probes it, and how long the probe's
    /// answer may take before the connection counts as lost.
    pub(crate) keepalive: Timeouts,
}

/// One login: connect, authenticate, open the authenticated stream and read its features,
/// bounded by `limits.timeout`. Resource binding is left to tokio-xmpp's `StanzaStream`, which
/// also negotiates stream management.
pub(crate) async fn log_in(
    connector: &Connector,
    jid: &BareJid,
    password: &str,
    limits: Limits,
) -> Result<Connection, LoginError> {
    let limit = limits.timeout;
    let deadline = tokio::time::Instant::now() + limit;
    let failed = |(stage, error): (LoginStage, Option<tokio_xmpp::Error>)| match error {
        Some(error) => classify(error, stage, jid, &connector.server),
        None => LoginError::Timeout {
            stage,
            after: limit,
        },
    };
    let identity = Jid::from(jid.clone());
    let timeouts = limits.keepalive;
    let connecting = async {
        let (pending, binding) = connector
            .connect(&identity, xmpp_parsers::ns::JABBER_CLIENT, timeouts)
            .await?;
        let (features, stream) = pending.recv_features().await?;
        Ok::<_, tokio_xmpp::Error>((features, stream, binding))
    };
    let (features, stream, binding) = step(deadline, LoginStage::Connecting, connecting)
        .await
        .map_err(failed)?;
    let credentials = sasl::common::Credentials::default()
        .with_username(jid.node().map(|node| node.as_str()).unwrap_or_default())
        .with_password(password)
        .with_channel_binding(binding);
    let authenticating = tokio_xmpp::client_login(stream, features.sasl_mechanisms, credentials);
    let stream = step(deadline, LoginStage::Authenticating, authenticating)
        .await
        .map_err(failed)?;
    let binding = async {
        let pending = stream.send_header(header(&identity)).await?;
        Ok::<_, tokio_xmpp::Error>(pending.recv_features().await?)
    };
    let (features, stream) = step(deadline, LoginStage::Binding, binding)
        .await
        .map_err(failed)?;
    // tokio-xmpp 6.0.0 panics on a stream it cannot bind; such a server is a failed login.
    if !features.can_bind() {
        return Err(LoginError::NoBinding);
    }
    Ok(Connection {
        stream: stream.box_stream(),
        features,
        identity,
    })
}

/// One stage of a login, within the login's deadline: its error or its timeout (`None`),
/// labelled with the stage.
async fn step<T, E: Into<tokio_xmpp::Error>>(
    deadline: tokio::time::Instant,
    stage: LoginStage,
    work: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, (LoginStage, Option<tokio_xmpp::Error>)> {
    match tokio::time::timeout_at(deadline, work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err((stage, Some(error.into()))),
        Err(_elapsed) => Err((stage, None)),
    }
}

/// How to log in, and what the session does when the connection is lost.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use xmpp_disco::client::{Login, Server};
///
/// let (disco, incoming) = Login::new("juliet@localhost".parse()?, "secret")
///     .server(Server::Plaintext { host: "localhost".into(), port: 5222 })
///     .timeout(Duration::from_secs(10))
///     .keepalive(Duration::from_secs(30), Duration::from_secs(10))
///     .give_up_after(Duration::from_secs(60))
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Login {
    pub(crate) jid: BareJid,
    pub(crate) password: String,
    pub(crate) server: Server,
    pub(crate) limits: Limits,
    pub(crate) give_up_after: Option<Duration>,
    pub(crate) backoff: Backoff,
    pub(crate) config: Config,
}

impl Login {
    /// A login as `jid` with `password`, to the server its domain publishes in DNS, each
    /// attempt bounded by 30 s, a silent server probed after 60 s and given 15 s to answer,
    /// reconnecting for as long as it takes on [`reconnect_backoff`](Self::reconnect_backoff)'s
    /// default schedule.
    pub fn new(jid: BareJid, password: impl Into<String>) -> Self {
        Self {
            jid,
            password: password.into(),
            server: Server::Published,
            limits: Limits {
                timeout: Duration::from_secs(30),
                keepalive: Timeouts::tight(),
            },
            give_up_after: None,
            backoff: Backoff::DEFAULT,
            config: Config::default(),
        }
    }

    /// Where the server is ([`Server::Published`] by default).
    #[must_use]
    pub fn server(mut self, server: Server) -> Self {
        self.server = server;
        self
    }

    /// The bound on one login attempt (connecting, authenticating, binding a resource), the
    /// first and every reconnection. 30 s by default.
    #[must_use]
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.limits.timeout = limit;
        self
    }

    /// How a server that stops answering (hung, frozen, behind a dead route: the connection
    /// stays open but nothing comes) is noticed: after `idle` without a word from it, the
    /// stream asks it for one (an XEP-0198 `<r/>`, or a ping without stream management), and
    /// if none comes within `response`, the connection counts as lost
    /// ([`SessionEvent::Suspended`](super::SessionEvent::Suspended)) and the session
    /// reconnects. A dead server is noticed at most `idle + response` after it last spoke.
    /// 60 s and 15 s by default (tokio-xmpp's own); on a quiet stream a probe costs one small
    /// exchange every `idle`.
    #[must_use]
    pub fn keepalive(mut self, idle: Duration, response: Duration) -> Self {
        self.limits.keepalive = Timeouts {
            read_timeout: idle,
            response_timeout: response,
        };
        self
    }

    /// The pauses between reconnection attempts: the first attempt after a stream that held
    /// is immediate; each one after an attempt that did not (a failed login, a stream that
    /// broke before or soon after it came up) waits `first`, twice as long as the one before,
    /// up to `max`. A stream holds once it has lasted `max`. 1 s and 30 s by default: a server
    /// that drops every stream at once sees at most 6 connections in its first minute and 2
    /// a minute after that. `first` is at least 1 ms and `max` at least `first`.
    #[must_use]
    pub fn reconnect_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff = Backoff::new(first, max);
        self
    }

    /// Ends the session ([`SessionEnd::Lost`](super::SessionEnd::Lost)) when a lost connection has not come back within
    /// `limit`. Without it, the session reconnects for as long as it lives, which a
    /// program that must notice a lost server cannot afford.
    #[must_use]
    pub fn give_up_after(mut self, limit: Duration) -> Self {
        self.give_up_after = Some(limit);
        self
    }

    /// The machine's configuration. Its `own_jid` is set to the bound JID whatever it says.
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }
}

/// Says in words what tokio-xmpp's error means at this stage of a login.
fn classify(
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
            condition: kebab(&format!("{condition:?}")),
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
            condition: kebab(&format!("{:?}", error.condition)),
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

/// `NotAuthorized` (a condition's Rust name) as the XML names it: `not-authorized`.
fn kebab(name: &str) -> String {
    let mut xml = String::with_capacity(name.len() + 4);
    for (at, c) in name.char_indices() {
        if c.is_ascii_uppercase() && at > 0 {
            xml.push('-');
        }
        xml.push(c.to_ascii_lowercase());
    }
    xml
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
