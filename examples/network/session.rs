//! One XMPP session: a tokio-xmpp client connection with a `DiscoMachine` embedded in it.
//!
//! This is the whole integration a tokio application needs: hand every incoming IQ to the
//! machine, send what it emits, wake it at the instant it asks for, and reset it when the stream
//! dies. The `network` example and the interop tests (`tests/interop.rs`) both drive their
//! sessions through this file.

// Each user of this file uses a different part of it.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt;
use std::future::{pending, Future};
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio_xmpp::connect::{
    DnsConfig, ServerConnector, StartTlsServerConnector, TcpServerConnector,
};
use tokio_xmpp::xmlstream::Timeouts;
use tokio_xmpp::Stanza;
use xmpp_disco::xmpp_parsers::disco::{DiscoInfoResult, DiscoItemsResult};
use xmpp_disco::xmpp_parsers::iq::Iq;
use xmpp_disco::xmpp_parsers::jid::{BareJid, FullJid, Jid};
use xmpp_disco::xmpp_parsers::presence::Presence;
use xmpp_disco::xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};
use xmpp_disco::{
    Config, DiscoMachine, Event, Handled, InvalidArgument, QueryError, QueryKind, QueryOptions,
    RequestId, ResponseHandle, Transmit,
};

/// How to reach the server.
#[derive(Clone, Debug)]
pub enum Transport {
    /// STARTTLS (certificates checked against the system's roots), to `host:port` if given,
    /// otherwise to the address the JID's domain publishes in DNS.
    StartTls(Option<(String, u16)>),
    /// Plaintext TCP, for a test server on loopback only.
    Plaintext(String),
}

/// Everything needed to log in.
#[derive(Clone, Debug)]
pub struct Account {
    pub jid: BareJid,
    pub password: String,
    pub transport: Transport,
    /// Bound on every wait for the server: connecting, logging in, a query without an answer.
    pub timeout: Duration,
}

/// Why a session could not start or go on.
#[derive(Debug)]
pub enum SessionError {
    /// No XMPP server answered at the address (refused, unreachable, TLS failed).
    Unreachable {
        address: String,
        reason: tokio_xmpp::Error,
    },
    /// The server answered but refused the credentials.
    LoginRefused {
        jid: BareJid,
        reason: tokio_xmpp::Error,
    },
    /// The server did not finish what was asked within the account's timeout.
    Timeout { waiting_for: &'static str },
    /// The stream failed after login.
    Disconnected(tokio_xmpp::Error),
    /// The stream ended.
    Closed,
    /// A query the machine refused to start (an empty node, say, read from a peer's items).
    Invalid(InvalidArgument),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable { address, reason } => {
                write!(f, "cannot reach an XMPP server at {address}: {reason}")
            }
            Self::LoginRefused { jid, reason } => {
                write!(f, "the server refused the login of {jid}: {reason}")
            }
            Self::Timeout { waiting_for } => {
                write!(f, "timed out waiting for {waiting_for}")
            }
            Self::Disconnected(reason) => write!(f, "the connection failed: {reason}"),
            Self::Closed => write!(f, "the connection closed"),
            Self::Invalid(reason) => write!(f, "a query could not start: {reason}"),
        }
    }
}

impl std::error::Error for SessionError {}

/// A logged-in client whose disco is answered and asked by its own `DiscoMachine`.
pub struct Session {
    client: tokio_xmpp::Client,
    /// The machine; configure its responder freely between calls.
    pub machine: DiscoMachine,
    /// The full JID the server bound.
    pub jid: FullJid,
    timeout: Duration,
    /// Machine events nobody has asked for yet, oldest first.
    events: VecDeque<Event>,
    /// IQ gets and sets the machine handed back and this session refused.
    pub refused: u64,
    answer_deferred: Option<Box<DeferredHandler>>,
}

/// Answers a deferred request: the machine, the request's handle, its kind and node.
pub type DeferredHandler = dyn FnMut(&mut DiscoMachine, ResponseHandle, QueryKind, Option<&str>);

impl Session {
    /// Logs in, sends initial presence and returns once the server has bound a resource.
    ///
    /// One login attempt is made first on a connection of its own, so that an unreachable
    /// server or refused credentials come back as an error: tokio-xmpp's client retries both
    /// forever by design.
    pub async fn connect(account: &Account, config: Config) -> Result<Self, SessionError> {
        match &account.transport {
            Transport::Plaintext(address) => {
                let connector = TcpServerConnector::from(DnsConfig::addr(address));
                Self::connect_with(account, address.clone(), connector, config).await
            }
            Transport::StartTls(Some((host, port))) => {
                let connector = StartTlsServerConnector::from(DnsConfig::no_srv(host, *port));
                Self::connect_with(account, format!("{host}:{port}"), connector, config).await
            }
            Transport::StartTls(None) => {
                let domain = account.jid.domain().as_str();
                let connector =
                    StartTlsServerConnector::from(DnsConfig::srv_default_client(domain));
                let address = format!("{domain} (DNS SRV)");
                Self::connect_with(account, address, connector, config).await
            }
        }
    }

    async fn connect_with<C: ServerConnector>(
        account: &Account,
        address: String,
        connector: C,
        config: Config,
    ) -> Result<Self, SessionError> {
        let jid = Jid::from(account.jid.clone());
        let timeouts = Timeouts::tight();
        bounded(account.timeout, "the login", async {
            try_login(&connector, &jid, &account.password, timeouts).await
        })
        .await?
        .map_err(|reason| match reason {
            tokio_xmpp::Error::Auth(_) => SessionError::LoginRefused {
                jid: account.jid.clone(),
                reason,
            },
            reason => SessionError::Unreachable { address, reason },
        })?;

        let mut client = tokio_xmpp::Client::new_with_connector(
            jid,
            account.password.clone(),
            connector,
            timeouts,
        );
        let bound = bounded(account.timeout, "the session to start", async {
            loop {
                match client.next().await {
                    Some(tokio_xmpp::Event::Online { bound_jid, .. }) => return Ok(bound_jid),
                    Some(tokio_xmpp::Event::Disconnected(e)) => {
                        return Err(SessionError::Disconnected(e))
                    }
                    Some(tokio_xmpp::Event::Stanza(_)) => {}
                    None => return Err(SessionError::Closed),
                }
            }
        })
        .await??;
        let jid = bound.try_into_full().map_err(|_| SessionError::Closed)?;
        let mut machine = DiscoMachine::new(config);
        machine.set_own_jid(Jid::from(jid.clone()));
        let mut session = Session {
            client,
            machine,
            jid,
            timeout: account.timeout,
            events: VecDeque::new(),
            refused: 0,
            answer_deferred: None,
        };
        session.send(Presence::available().into()).await?;
        Ok(session)
    }

    /// The JID of the server this session is logged in to.
    pub fn server(&self) -> Jid {
        Jid::from(BareJid::from_parts(None, self.jid.domain()))
    }

    /// Asks `jid` for its info and waits for the answer.
    pub async fn info(
        &mut self,
        jid: &Jid,
        node: Option<&str>,
    ) -> Result<Result<Arc<DiscoInfoResult>, QueryError>, SessionError> {
        let id = self.start_info(jid, node, QueryOptions::default())?;
        match self.completion(id).await? {
            Event::Info { result, .. } => Ok(result),
            _ => Err(SessionError::Closed),
        }
    }

    /// Asks `jid` for its items and waits for the answer.
    pub async fn items(
        &mut self,
        jid: &Jid,
        node: Option<&str>,
    ) -> Result<Result<Arc<DiscoItemsResult>, QueryError>, SessionError> {
        let id = self.start_items(jid, node, QueryOptions::default())?;
        match self.completion(id).await? {
            Event::Items { result, .. } => Ok(result),
            _ => Err(SessionError::Closed),
        }
    }

    /// Starts an info query without waiting; see [`completion`](Self::completion).
    pub fn start_info(
        &mut self,
        jid: &Jid,
        node: Option<&str>,
        options: QueryOptions,
    ) -> Result<RequestId, SessionError> {
        self.machine
            .query_info(Instant::now(), jid, node, self.bounded_options(options))
            .map_err(SessionError::Invalid)
    }

    /// Starts an items query without waiting; see [`completion`](Self::completion).
    pub fn start_items(
        &mut self,
        jid: &Jid,
        node: Option<&str>,
        options: QueryOptions,
    ) -> Result<RequestId, SessionError> {
        self.machine
            .query_items(Instant::now(), jid, node, self.bounded_options(options))
            .map_err(SessionError::Invalid)
    }

    fn bounded_options(&self, options: QueryOptions) -> QueryOptions {
        options.with_timeout(self.timeout)
    }

    /// Runs the session until the query `id` completes and returns its event. Other events
    /// stay queued for [`next_event`](Self::next_event).
    pub async fn completion(&mut self, id: RequestId) -> Result<Event, SessionError> {
        loop {
            self.collect_events();
            if let Some(at) = self
                .events
                .iter()
                .position(|event| event.request_id() == Some(id))
            {
                return self.events.remove(at).ok_or(SessionError::Closed);
            }
            self.step().await?;
        }
    }

    /// Runs the session until the machine raises an event, and returns the oldest one.
    pub async fn next_event(&mut self) -> Result<Event, SessionError> {
        loop {
            self.collect_events();
            if let Some(event) = self.events.pop_front() {
                return Ok(event);
            }
            self.step().await?;
        }
    }

    /// Runs the session for `duration`, answering whatever arrives.
    pub async fn serve_for(&mut self, duration: Duration) -> Result<(), SessionError> {
        match tokio::time::timeout(duration, self.serve_forever()).await {
            Ok(Err(failed)) => Err(failed),
            Ok(Ok(never)) => match never {},
            Err(_elapsed) => Ok(()),
        }
    }

    async fn serve_forever(&mut self) -> Result<Infallible, SessionError> {
        loop {
            self.step().await?;
        }
    }

    /// Runs the session, answering whatever arrives, until `work` finishes; returns its output.
    /// Two sessions in one task serve each other this way: `b.run_until(a.info(..))`.
    pub async fn run_until<F: Future>(&mut self, work: F) -> Result<F::Output, SessionError> {
        let mut work = pin!(work);
        loop {
            if let Some(output) = self.turn(&mut work).await? {
                return Ok(output);
            }
        }
    }

    async fn step(&mut self) -> Result<(), SessionError> {
        self.turn(&mut pending::<()>()).await.map(drop)
    }

    /// One turn of the loop: send what the machine emitted, then wait for a stanza, the
    /// machine's next deadline or `work`, whichever comes first. Only the waits can be cut
    /// short; what a stanza or a deadline starts always runs to the end.
    async fn turn<F: Future + Unpin>(
        &mut self,
        work: &mut F,
    ) -> Result<Option<F::Output>, SessionError> {
        self.flush().await?;
        let deadline = self.machine.poll_timeout();
        let wake = async move {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => pending().await,
            }
        };
        tokio::select! {
            output = work => return Ok(Some(output)),
            incoming = self.client.next() => self.receive(incoming).await?,
            () = wake => self.machine.handle_timeout(Instant::now()),
        }
        self.flush().await?;
        Ok(None)
    }

    async fn receive(&mut self, incoming: Option<tokio_xmpp::Event>) -> Result<(), SessionError> {
        match incoming {
            Some(tokio_xmpp::Event::Stanza(Stanza::Iq(iq))) => {
                if let Handled::Unhandled(iq) = self.machine.handle_iq(Instant::now(), iq) {
                    self.refuse(iq).await?;
                }
                Ok(())
            }
            Some(tokio_xmpp::Event::Stanza(_)) => Ok(()),
            // A new stream after a reconnect: nothing in flight on the old one will be answered.
            Some(tokio_xmpp::Event::Online { .. }) => {
                self.machine.stream_destroyed();
                Ok(())
            }
            Some(tokio_xmpp::Event::Disconnected(reason)) => {
                self.machine.stream_destroyed();
                Err(SessionError::Disconnected(reason))
            }
            None => {
                self.machine.stream_destroyed();
                Err(SessionError::Closed)
            }
        }
    }

    /// RFC 6120 §8.2.3: every get or set gets an answer, so the ones that are not disco are
    /// refused rather than dropped.
    async fn refuse(&mut self, iq: Iq) -> Result<(), SessionError> {
        let (id, from) = match iq {
            Iq::Get { id, from, .. } | Iq::Set { id, from, .. } => (id, from),
            Iq::Result { .. } | Iq::Error { .. } => return Ok(()),
        };
        self.refused += 1;
        let error = StanzaError::new(
            ErrorType::Cancel,
            DefinedCondition::ServiceUnavailable,
            "en",
            "",
        );
        let mut reply = Iq::from_error(id, error);
        if let Some(from) = from {
            reply = reply.with_to(from);
        }
        self.send(reply.into()).await
    }

    async fn flush(&mut self) -> Result<(), SessionError> {
        self.collect_events();
        while let Some(iq) = self.machine.poll_transmit().map(Transmit::into_iq) {
            self.send(iq.into()).await?;
        }
        Ok(())
    }

    /// Has `answer` answer every deferred request from now on, as soon as it is raised,
    /// instead of queueing it for [`next_event`](Self::next_event).
    pub fn answer_deferred_with(
        &mut self,
        answer: impl FnMut(&mut DiscoMachine, ResponseHandle, QueryKind, Option<&str>) + 'static,
    ) {
        self.answer_deferred = Some(Box::new(answer));
    }

    fn collect_events(&mut self) {
        while let Some(event) = self.machine.poll_event() {
            match (event, self.answer_deferred.as_mut()) {
                (
                    Event::DeferredRequest {
                        handle, kind, node, ..
                    },
                    Some(answer),
                ) => answer(&mut self.machine, handle, kind, node.as_deref()),
                (event, _) => self.events.push_back(event),
            }
        }
    }

    async fn send(&mut self, stanza: Stanza) -> Result<(), SessionError> {
        self.client
            .send_stanza(stanza)
            .await
            .map(drop)
            .map_err(|e| SessionError::Disconnected(e.into()))
    }

    /// Closes the stream cleanly; the machine fails whatever was still waiting.
    pub async fn close(mut self) {
        self.machine.stream_destroyed();
        let _ = tokio::time::timeout(self.timeout, self.client.send_end()).await;
    }
}

/// One login on a connection of its own, to learn whether the server and the credentials work.
async fn try_login<C: ServerConnector>(
    connector: &C,
    jid: &Jid,
    password: &str,
    timeouts: Timeouts,
) -> Result<(), tokio_xmpp::Error> {
    let username = jid.node().map(|n| n.as_str()).unwrap_or_default();
    let (pending, channel_binding) = connector.connect(jid, "jabber:client", timeouts).await?;
    let (features, stream) = pending.recv_features().await?;
    let credentials = sasl::common::Credentials::default()
        .with_username(username)
        .with_password(password)
        .with_channel_binding(channel_binding);
    tokio_xmpp::client_login(stream, features.sasl_mechanisms, credentials).await?;
    Ok(())
}

async fn bounded<T>(
    limit: Duration,
    waiting_for: &'static str,
    work: impl std::future::Future<Output = T>,
) -> Result<T, SessionError> {
    tokio::time::timeout(limit, work)
        .await
        .map_err(|_| SessionError::Timeout { waiting_for })
}
