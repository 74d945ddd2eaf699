//! A XEP-0114 component answering disco for itself and for every one of its rooms: a small
//! directory service in the shape of a MUC service, connected to a real server through
//! tokio-xmpp's component connection.
//!
//! ```text
//! cargo run --features component --example component -- JID SECRET [--server HOST:PORT]
//!                                    [--rooms N] [--page N] [--serve SECONDS] [--timeout SECONDS]
//! ```
//!
//! `JID` is the component's address (`rooms.localhost`), `SECRET` the one the server's config
//! gives it; the server is `127.0.0.1:5347` unless `--server` says otherwise. The service
//! answers for rooms `room0@JID` .. `room{N-1}@JID` (default 10,000) through one
//! [`Resolver`]: no room is registered, each answer is built when asked. Its items list every
//! room, at most `--page` in one answer (default 100): a request without a result set gets the
//! first page and the `<set/>` that says how many there are, and a requester pages through the
//! rest with XEP-0059. Any other address of the service is answered `item-not-found`. With `--serve` it stops after that many
//! seconds (exit status 0); a lost connection ends it with status 1.
//!
//! Connecting and the XEP-0114 handshake are bounded by `--timeout` (default 10 s), and each
//! way they fail is said apart, with the address: nothing listening, a port that does not
//! speak XMPP or says nothing, a client port, a component name the server does not know, a
//! wrong secret. They are done here with tokio-xmpp's XML stream rather than its `Component`,
//! whose login folds every refusal into "authentication failure". A server silent for 60 s is
//! pinged, and one that does not answer within 15 s counts as lost.
//!
//! tokio-xmpp's component support switches xmpp-parsers' stanza namespace for the whole build
//! (its `component` feature), so a program is a component or a client, not both: hence the
//! crate's own `component` feature, apart from `tokio-xmpp`.

use std::borrow::Cow;
use std::io;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;
use tokio_xmpp::xmlstream::{
    initiate_stream, ReadError, StreamHeader, Timeouts, XmppStream, XmppStreamElement,
};
use tokio_xmpp::Stanza;
use xmpp_disco::xmpp_parsers::component::Handshake;
use xmpp_disco::xmpp_parsers::data_forms::{DataForm, DataFormType, Field, FieldType};
use xmpp_disco::xmpp_parsers::disco::{DiscoInfoResult, Identity, Item};
use xmpp_disco::xmpp_parsers::iq::Iq;
use xmpp_disco::xmpp_parsers::jid::{BareJid, Jid};
use xmpp_disco::xmpp_parsers::minidom::Element;
use xmpp_disco::xmpp_parsers::ns;
use xmpp_disco::xmpp_parsers::ping::Ping;
use xmpp_disco::xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};
use xmpp_disco::xmpp_parsers::stream_error::{
    DefinedCondition as StreamCondition, ReceivedStreamError,
};
use xmpp_disco::{
    Config, DiscoMachine, DynamicNode, Event, Handled, QueryOptions, RequestContext, Resolver,
    StanzaNamespace, Transmit,
};

const USAGE: &str = "usage: component JID SECRET [--server HOST:PORT] [--rooms N] \
                     [--page N] [--serve SECONDS] [--timeout SECONDS]";

const MUC: &str = "http://jabber.org/protocol/muc";

struct Arguments {
    jid: BareJid,
    secret: String,
    server: (String, u16),
    rooms: u32,
    page: u32,
    serve: Option<Duration>,
    timeout: Duration,
}

fn parse(args: &[String]) -> Result<Arguments, String> {
    let [jid, secret, rest @ ..] = args else {
        return Err(USAGE.into());
    };
    let jid: BareJid = jid
        .parse()
        .map_err(|e| format!("invalid component JID {jid:?}: {e}"))?;
    let mut arguments = Arguments {
        jid,
        secret: secret.clone(),
        server: ("127.0.0.1".into(), 5347),
        rooms: 10_000,
        page: 100,
        serve: None,
        timeout: Duration::from_secs(10),
    };
    let mut rest = rest.iter();
    while let Some(flag) = rest.next() {
        let value = rest
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = || {
            value
                .parse::<u32>()
                .map_err(|_| format!("{flag} takes a whole number, not {value:?}"))
        };
        match flag.as_str() {
            "--server" => {
                let (host, port) = value
                    .rsplit_once(':')
                    .and_then(|(host, port)| Some((host, port.parse().ok()?)))
                    .ok_or_else(|| format!("--server takes HOST:PORT, not {value:?}"))?;
                arguments.server = (host.into(), port);
            }
            "--rooms" => arguments.rooms = number()?,
            "--page" => arguments.page = number()?,
            "--serve" => arguments.serve = Some(Duration::from_secs(number()?.into())),
            "--timeout" => arguments.timeout = Duration::from_secs(number()?.into()),
            _ => return Err(format!("unknown argument {flag:?}\n{USAGE}")),
        }
    }
    Ok(arguments)
}

/// The service's rooms, answered from their address: nothing is stored per room.
struct Rooms {
    service: BareJid,
    count: u32,
}

impl Rooms {
    /// The number of the room `request` is addressed to, if the service has that room.
    fn room(&self, request: &RequestContext<'_>) -> Option<u32> {
        let to = request.to?;
        if to.domain() != self.service.domain() || to.resource().is_some() {
            return None;
        }
        let number: u32 = to.node()?.as_str().strip_prefix("room")?.parse().ok()?;
        (number < self.count).then_some(number)
    }

    fn address(&self, number: u32) -> Option<Jid> {
        format!("room{number}@{}", self.service).parse().ok()
    }
}

impl DynamicNode for Rooms {
    fn info(&self, request: &RequestContext<'_>) -> Option<DiscoInfoResult> {
        let number = self.room(request)?;
        if request.node.is_some() {
            return None; // rooms have no nodes
        }
        // XEP-0045 §15.5.4: what a room says of itself, in a muc#roominfo form.
        let form = DataForm::new(
            DataFormType::Result_,
            "http://jabber.org/protocol/muc#roominfo",
            vec![
                Field::new("muc#roominfo_description", FieldType::TextSingle)
                    .with_value(&format!("Generated room number {number}")),
                Field::new("muc#roominfo_occupants", FieldType::TextSingle)
                    .with_value(&(number % 7).to_string()),
            ],
        );
        Some(DiscoInfoResult {
            node: None,
            identities: vec![Identity::new(
                "conference",
                "text",
                "en",
                format!("Room {number}"),
            )],
            features: [MUC, "muc_public", "muc_open", "muc_persistent"]
                .map(String::from)
                .into(),
            extensions: vec![form],
        })
    }

    fn items(&self, request: &RequestContext<'_>) -> Option<Vec<Item>> {
        // A room's items would be its occupants; these rooms show none.
        self.room(request)
            .and(request.node.is_none().then(Vec::new))
    }
}

/// The machine of a component answering for `arguments.jid` and its rooms.
fn machine(arguments: &Arguments) -> Result<DiscoMachine, Box<dyn std::error::Error>> {
    let mut config = Config::default();
    config.own_jid = Some(Jid::from(arguments.jid.clone()));
    config.stamp_from = true;
    config.stanza_namespace = StanzaNamespace::ComponentAccept;
    config.max_items_per_answer = usize::try_from(arguments.page).ok();
    let mut machine = DiscoMachine::new(config);
    let mut root = machine.root_mut();
    root.register_identity("conference", "text", "Rooms directory (xmpp-disco example)")?;
    root.unregister_identity("client", "bot")?;
    root.register_feature(MUC)?;
    let rooms = Rooms {
        service: arguments.jid.clone(),
        count: arguments.rooms,
    };
    let listed = (0..arguments.rooms)
        .filter_map(|number| {
            Some(Item {
                jid: rooms.address(number)?,
                node: None,
                name: Some(format!("Room {number}")),
            })
        })
        .collect();
    root.set_items(listed)?;
    drop(root);
    machine.set_resolver(Resolver::dynamic(rooms));
    while machine.poll_event().is_some() {} // the edit's NodeChanged: nobody to tell yet
    Ok(machine)
}

/// A typed `service-unavailable` (RFC 6120 §8.3.3.19) for an IQ get or set that is not the
/// machine's: a component must answer every request it is sent.
fn refuse(iq: &Iq) -> Option<Iq> {
    let (Iq::Get { from, to, id, .. } | Iq::Set { from, to, id, .. }) = iq else {
        return None;
    };
    Some(Iq::Error {
        from: to.clone(),
        to: from.clone(),
        id: id.clone(),
        error: StanzaError {
            type_: ErrorType::Cancel,
            by: None,
            defined_condition: DefinedCondition::ServiceUnavailable,
            texts: Default::default(),
            other: None,
        },
        payload: None,
    })
}

/// Why the component could not get online, with the address it tried.
#[derive(Debug, thiserror::Error)]
enum ConnectError {
    #[error("cannot find {host} in DNS: {reason}")]
    Dns { host: String, reason: io::Error },
    #[error("nothing accepts connections at {address} (connection refused)")]
    Refused { address: String },
    #[error("cannot connect to {address}: {reason}")]
    Unreachable { address: String, reason: io::Error },
    #[error("{address} accepted the connection but opened no XMPP stream within {after:?} (an HTTP port, say, waits for a request of its own): is it the server's component port?")]
    Silent { address: String, after: Duration },
    #[error("{address} does not speak XMPP ({reason}): is it the server's component port?")]
    NotXmpp { address: String, reason: io::Error },
    #[error("{address} refused a component stream ({condition}): is it the server's client port rather than its component port?")]
    NotComponentPort { address: String, condition: String },
    #[error("the server at {address} does not know the component {jid} ({condition}): check the name in its configuration")]
    UnknownComponent {
        address: String,
        jid: BareJid,
        condition: String,
    },
    #[error("the server at {address} refused the secret of {jid} (not-authorized)")]
    BadSecret { address: String, jid: BareJid },
    #[error("the server at {address} closed the stream during the handshake: {condition}")]
    StreamError { address: String, condition: String },
    #[error("the server at {address} closed the connection during the handshake")]
    Closed { address: String },
    #[error("the server at {address} did not complete the handshake within {after:?}")]
    HandshakeTimeout { address: String, after: Duration },
}

type Stream = XmppStream<BufStream<TcpStream>>;

/// Connects to the server's component port and performs the XEP-0114 handshake as `jid`, each
/// step within `limit` and each failure said apart.
async fn connect(
    (host, port): &(String, u16),
    jid: &BareJid,
    secret: &str,
    limit: Duration,
) -> Result<Stream, ConnectError> {
    let address = format!("{host}:{port}");
    let deadline = tokio::time::Instant::now() + limit;
    let addresses = tokio::net::lookup_host((host.as_str(), *port))
        .await
        .map_err(|reason| ConnectError::Dns {
            host: host.clone(),
            reason,
        })?;
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the name has no address");
    let mut tcp = None;
    for candidate in addresses {
        match tokio::time::timeout_at(deadline, TcpStream::connect(candidate)).await {
            Ok(Ok(stream)) => {
                tcp = Some(stream);
                break;
            }
            Ok(Err(reason)) => last = reason,
            Err(_) => last = io::Error::from(io::ErrorKind::TimedOut),
        }
    }
    let tcp = match tcp {
        Some(tcp) => tcp,
        None if last.kind() == io::ErrorKind::ConnectionRefused => {
            return Err(ConnectError::Refused { address })
        }
        None => {
            return Err(ConnectError::Unreachable {
                address,
                reason: last,
            })
        }
    };
    let header = StreamHeader {
        to: Some(Cow::Borrowed(jid.as_str())),
        from: None,
        id: None,
    };
    let opening = initiate_stream(
        BufStream::new(tcp),
        ns::COMPONENT,
        header,
        Timeouts::tight(),
    );
    let mut pending = match tokio::time::timeout_at(deadline, opening).await {
        Ok(Ok(pending)) => pending,
        Ok(Err(reason)) => return Err(ConnectError::NotXmpp { address, reason }),
        Err(_) => {
            return Err(ConnectError::Silent {
                address,
                after: limit,
            })
        }
    };
    let id = pending.take_header().id.map(Cow::into_owned);
    let mut stream: Stream = pending.skip_features();
    let handshake = async {
        if let Some(id) = id {
            let proof = Handshake::from_stream_id_and_password(id, secret);
            stream
                .send(&XmppStreamElement::ComponentHandshake(proof))
                .await?;
        }
        // Without a stream id, the server's next word is a refusal.
        loop {
            match stream.next().await {
                Some(Ok(element)) => return Ok(Some(element.into_read_error())),
                Some(Err(ReadError::SoftTimeout | ReadError::ParseError(_))) => {}
                Some(Err(ReadError::HardError(error))) => return Err(error),
                Some(Err(ReadError::StreamFooterReceived)) | None => return Ok(None),
            }
        }
    };
    let answer = match tokio::time::timeout_at(deadline, handshake).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) | Err(_) if tokio::time::Instant::now() >= deadline => {
            return Err(ConnectError::HandshakeTimeout {
                address,
                after: limit,
            })
        }
        Ok(Err(_)) | Err(_) => return Err(ConnectError::Closed { address }),
    };
    match answer {
        Some(Ok(XmppStreamElement::ComponentHandshake(_))) => Ok(stream),
        Some(Ok(XmppStreamElement::StreamError(ReceivedStreamError(error)))) => {
            // The condition as the XML names it (`not-authorized`): xmpp-parsers writes it.
            let condition = Element::from(&error.condition).name().to_owned();
            Err(match error.condition {
                StreamCondition::NotAuthorized => ConnectError::BadSecret {
                    address,
                    jid: jid.clone(),
                },
                // A client port does not serve the component's name either: ask it which it is.
                StreamCondition::HostUnknown | StreamCondition::ImproperAddressing
                    if is_client_port(&address, jid, deadline).await =>
                {
                    ConnectError::NotComponentPort { address, condition }
                }
                StreamCondition::HostUnknown | StreamCondition::ImproperAddressing => {
                    ConnectError::UnknownComponent {
                        address,
                        jid: jid.clone(),
                        condition,
                    }
                }
                StreamCondition::InvalidNamespace | StreamCondition::UnsupportedStanzaType => {
                    ConnectError::NotComponentPort { address, condition }
                }
                _ => ConnectError::StreamError { address, condition },
            })
        }
        // Stream features, SASL: a client port.
        Some(Ok(_)) => Err(ConnectError::NotComponentPort {
            address,
            condition: "it offered a client's stream".into(),
        }),
        Some(Err(ReadError::HardError(reason))) => Err(ConnectError::NotXmpp { address, reason }),
        Some(Err(_)) | None => Err(ConnectError::Closed { address }),
    }
}

/// Whether `address` offers a client's login (SASL mechanisms) to a client stream for the
/// component's parent domain: what tells a client port from a component port that does not
/// know the name, both of which answer a component stream with `host-unknown`.
async fn is_client_port(address: &str, jid: &BareJid, deadline: tokio::time::Instant) -> bool {
    let domain = jid.domain().as_str();
    let parent = domain.split_once('.').map_or(domain, |(_, parent)| parent);
    let probe = async {
        let mut tcp = TcpStream::connect(address).await.ok()?;
        let header = format!(
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
             xmlns:stream='http://etherx.jabber.org/streams' to='{parent}' version='1.0'>"
        );
        tcp.write_all(header.as_bytes()).await.ok()?;
        let mut heard = Vec::new();
        let mut buffer = [0; 2048];
        while heard.len() < 16 * 1024 {
            let read = tcp.read(&mut buffer).await.ok()?;
            heard.extend_from_slice(buffer.get(..read)?);
            let text = String::from_utf8_lossy(&heard);
            if read == 0 || text.contains("</stream:features>") || text.contains("stream:error") {
                return Some(text.contains("urn:ietf:params:xml:ns:xmpp-sasl"));
            }
        }
        Some(false)
    };
    let limit = deadline.min(tokio::time::Instant::now() + Duration::from_secs(2));
    matches!(tokio::time::timeout_at(limit, probe).await, Ok(Some(true)))
}

async fn send(stream: &mut Stream, stanza: Stanza) -> Result<(), io::Error> {
    stream.send(&XmppStreamElement::Stanza(stanza)).await
}

async fn run(arguments: Arguments) -> Result<(), Box<dyn std::error::Error>> {
    let mut machine = machine(&arguments)?;
    let mut component = connect(
        &arguments.server,
        &arguments.jid,
        &arguments.secret,
        arguments.timeout,
    )
    .await?;
    let started = Instant::now();
    let stop = arguments.serve.map(|serve| started + serve);

    // The requester half works from a component too: ask the server who it is, from our address.
    let server: Jid = arguments
        .jid
        .domain()
        .as_str()
        .split_once('.')
        .map_or_else(
            || arguments.jid.domain().as_str().parse(),
            |(_, parent)| parent.parse(),
        )?;
    let asked = machine.query_info(Instant::now(), &server, None, QueryOptions::default())?;
    println!(
        "online as {}, answering for {} rooms (listed {} per page)",
        arguments.jid, arguments.rooms, arguments.page
    );

    let mut pings = 0u64;
    loop {
        while let Some(transmit) = machine.poll_transmit() {
            send(&mut component, Stanza::Iq(Transmit::into_iq(transmit))).await?;
        }
        while let Some(event) = machine.poll_event() {
            if let Event::Info { id, result } = event {
                if id == asked {
                    match result {
                        Ok(info) => println!("the server {server} is {:?}", info.identities),
                        Err(error) => println!("the server {server} did not say: {error}"),
                    }
                }
            }
        }
        let wake = [machine.poll_timeout(), stop].into_iter().flatten().min();
        let sleep = async {
            match wake {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            element = component.next() => {
                let stanza = match element.map(|element| element.and_then(|e| e.into_read_error())) {
                    Some(Ok(XmppStreamElement::Stanza(stanza))) => stanza,
                    Some(Ok(XmppStreamElement::StreamError(error))) => {
                        return Err(format!("the server closed the stream: {error}").into());
                    }
                    Some(Ok(_) | Err(ReadError::ParseError(_))) => continue,
                    // Quiet for a while: ask the server for a sign of life (the answer is
                    // handed back by the machine and ignored).
                    Some(Err(ReadError::SoftTimeout)) => {
                        pings += 1;
                        let ping = Iq::from_get(format!("keepalive-{pings}"), Ping)
                            .with_from(Jid::from(arguments.jid.clone()))
                            .with_to(server.clone());
                        send(&mut component, Stanza::Iq(ping)).await?;
                        continue;
                    }
                    Some(Err(ReadError::HardError(error))) => {
                        return Err(format!("the connection to the server was lost: {error}").into());
                    }
                    Some(Err(ReadError::StreamFooterReceived)) | None => {
                        return Err("the server closed the connection".into());
                    }
                };
                if let Stanza::Iq(iq) = stanza {
                    if let Handled::Unhandled(iq) = machine.handle_iq(Instant::now(), iq) {
                        if let Some(refusal) = refuse(&iq) {
                            send(&mut component, Stanza::Iq(refusal)).await?;
                        }
                    }
                }
            }
            () = sleep => {
                let now = Instant::now();
                machine.handle_timeout(now);
                if stop.is_some_and(|stop| now >= stop) {
                    println!("answered {} requests", machine.stats().requests_answered
                        + machine.stats().requests_refused);
                    SinkExt::<&XmppStreamElement>::close(&mut component).await?;
                    return Ok(());
                }
            }
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arguments = match parse(&args) {
        Ok(arguments) => arguments,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(arguments).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("component: {error}");
            ExitCode::FAILURE
        }
    }
}
