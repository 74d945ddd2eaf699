//! Reaching the server and logging in, with every failure said in words.
//!
//! tokio-xmpp's own connectors retry forever and fold most failures into "disconnected" (a
//! refused connection to a name with two addresses, say). Here one login attempt is made
//! before the session exists, so that the caller learns at once, and precisely, why it cannot
//! log in; the same attempt, repeated, is what reconnects a lost stream.

use std::borrow::Cow;
use std::io;
use std::time::Duration;

use tokio::io::BufStream;
use tokio::net::TcpStream;
use tokio_xmpp::connect::starttls::starttls;
use tokio_xmpp::connect::{AsyncReadAndWrite, DnsConfig, ServerConnector};
use tokio_xmpp::error::ProtocolError;
use tokio_xmpp::stanzastream::Connection;
use tokio_xmpp::xmlstream::{initiate_stream, PendingFeaturesRecv, StreamHeader, Timeouts};
use xmpp_parsers::jid::{BareJid, Jid};

use super::backoff::Backoff;
use super::error::{classify, route_error, LoginError, LoginStage, RouteError};
use super::server::Server;
use crate::config::Config;

/// How to reach the server: the route (DNS or host and port) and the security.
#[derive(Clone, Debug)]
pub(crate) struct Connector {
    server: Server,
}

impl Connector {
    pub(crate) fn new(server: Server) -> Self {
        Self { server }
    }

    /// The address connections go to, as a user would name it: `host:port`, or the domain
    /// whose published addresses are tried.
    fn address(&self, domain: &str) -> String {
        match &self.server {
            Server::Published => domain.to_owned(),
            Server::StartTls { host, port } | Server::Plaintext { host, port } => {
                format!("{host}:{port}")
            }
        }
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
        // tokio-xmpp reads a `<failure/>` as nothing and the close after it as a lost
        // connection: the connection was accepted, and TLS refused, here.
        let (tls, binding) = starttls(stream, jid.domain().as_str())
            .await
            .map_err(|error| match error {
                tokio_xmpp::Error::Disconnected => route_error(RouteError::TlsRefused {
                    address: self.address(jid.domain().as_str()),
                }),
                other => other,
            })?;
        let stream: Self::Stream = Box::new(BufStream::new(tls));
        let pending = initiate_stream(stream, ns, header(jid), timeouts).await?;
        Ok((pending, binding))
    }
}

/// How many stanzas may wait to be sent, by default ([`Login::backlog_limit`]).
const DEFAULT_BACKLOG_LIMIT: usize = 64;

/// How many events the host may leave unread, by default ([`Login::incoming_limit`]).
const DEFAULT_INCOMING_LIMIT: usize = 1024;

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
/// by `deadline` (`limits.timeout` after the login began, which the caller may still need for
/// resource binding). Resource binding is left to tokio-xmpp's `StanzaStream`, which also
/// negotiates stream management.
pub(crate) async fn log_in(
    connector: &Connector,
    jid: &BareJid,
    password: &str,
    limits: Limits,
    deadline: tokio::time::Instant,
) -> Result<Connection, LoginError> {
    let limit = limits.timeout;
    let address = connector.address(jid.domain().as_str());
    log::info!("connecting to {address} as {jid}");
    let failed = |(stage, error): (LoginStage, Option<tokio_xmpp::Error>)| {
        let error = match error {
            Some(error) => classify(error, stage, jid, &connector.server),
            None => LoginError::Timeout {
                stage,
                after: limit,
            },
        };
        log::warn!("logging in at {address} failed: {error}");
        error
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
        log::warn!("logging in at {address} failed: {}", LoginError::NoBinding);
        return Err(LoginError::NoBinding);
    }
    log::debug!("logged in at {address}; tokio-xmpp binds the stream");
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
    pub(crate) manage_presence: bool,
    pub(crate) backlog_limit: usize,
    pub(crate) incoming_limit: usize,
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
            manage_presence: true,
            backlog_limit: DEFAULT_BACKLOG_LIMIT,
            incoming_limit: DEFAULT_INCOMING_LIMIT,
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

    /// Whether the session manages the host's presence for entity capabilities (on by
    /// default): adds the current `<c/>` to every available presence the host
    /// [sends](super::Disco::send), sends the host's broadcast presence again when the root's
    /// capabilities change, and after a new stream. Off, presences go out as the host wrote
    /// them and nothing is sent on the host's behalf: for hosts that manage presence
    /// themselves (with [`Disco::presence`](super::Disco::presence) and
    /// [`Event::NodeChanged`](crate::Event::NodeChanged)). The
    /// [module documentation](super) has the rules.
    #[must_use]
    pub fn manage_presence(mut self, manage: bool) -> Self {
        self.manage_presence = manage;
        self
    }

    /// How many stanzas may wait to be sent before incoming disco requests wait to be
    /// answered: those in the session's backlog, and those tokio-xmpp took and has not seen
    /// acknowledged (XEP-0198) or, without stream management, sent. At the limit, a disco
    /// request waits for room (counted in
    /// [`Stats::requests_waiting`](crate::Stats::requests_waiting)), and the waiting ones are
    /// answered in order as the server acknowledges what went before: a burst (a room joined,
    /// whose occupants' clients all ask what we are) is answered in full. Up to 16 requests per
    /// stanza of the limit wait; past them, requests go unanswered (and IQ requests the host
    /// [refuses](super::Disco::refuse) while the backlog is full, unrefused), counted in
    /// [`Stats::requests_shed`](crate::Stats::requests_shed) and logged: a peer's flood, or a
    /// server that stops reading, then costs bounded memory. What one answer weighs is its
    /// size as the element tree tokio-xmpp keeps until the server acknowledges it: about
    /// 70 KiB for an answer of 60 features (3 KiB as XML), so 64 of them, the default, about
    /// 4.5 MiB; a waiting request, about half a KiB, so 1,024 of them about 0.5 MiB. The host's
    /// own stanzas are never dropped ([`Disco::send`](super::Disco::send)); deadlines, commands
    /// and stream events go on. At least 1.
    #[must_use]
    pub fn backlog_limit(mut self, stanzas: usize) -> Self {
        self.backlog_limit = stanzas.max(1);
        self
    }

    /// How many events may wait in [`Incoming`](super::Incoming) unread before the session
    /// stops reading the stream: the stanzas that are not the machine's come as fast as a peer
    /// sends them, and a host slower than that would keep them all. At the limit, the stream
    /// waits until the host reads one: tokio-xmpp stops reading the connection, TCP pushes
    /// back on the server, and the server's own limits apply to the peer. Meanwhile replies to
    /// queries wait too (their deadlines still fire), so a host that awaits a query while
    /// not reading `Incoming` should give the query a deadline, as the default does. What the
    /// unread events weigh is at most the limit times the server's largest stanza (Prosody
    /// and ejabberd accept 256 KiB by default); 1024 by default, a few MiB of ordinary
    /// messages. At least 1.
    #[must_use]
    pub fn incoming_limit(mut self, events: usize) -> Self {
        self.incoming_limit = events.max(1);
        self
    }
}
