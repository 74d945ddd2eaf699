//! A XEP-0114 component answering disco for itself and for every one of its rooms: a small
//! directory service in the shape of a MUC service, connected to a real server through
//! tokio-xmpp's component connection.
//!
//! ```text
//! cargo run --features component --example component -- JID SECRET [--server HOST:PORT]
//!                                    [--rooms N] [--page N] [--serve SECONDS]
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
//! tokio-xmpp's component support switches xmpp-parsers' stanza namespace for the whole build
//! (its `component` feature), so a program is a component or a client, not both: hence the
//! crate's own `component` feature, apart from `tokio-xmpp`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio_xmpp::connect::DnsConfig;
use tokio_xmpp::xmlstream::Timeouts;
use tokio_xmpp::{Component, Stanza};
use xmpp_disco::xmpp_parsers::data_forms::{DataForm, DataFormType, Field, FieldType};
use xmpp_disco::xmpp_parsers::disco::{DiscoInfoResult, Identity, Item};
use xmpp_disco::xmpp_parsers::iq::Iq;
use xmpp_disco::xmpp_parsers::jid::{BareJid, Jid};
use xmpp_disco::xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};
use xmpp_disco::{
    Config, DiscoMachine, DynamicNode, Event, Handled, QueryOptions, RequestContext, Resolver,
    StanzaNamespace, Transmit,
};

const USAGE: &str = "usage: component JID SECRET [--server HOST:PORT] [--rooms N] \
                     [--page N] [--serve SECONDS]";

const MUC: &str = "http://jabber.org/protocol/muc";

struct Arguments {
    jid: BareJid,
    secret: String,
    server: (String, u16),
    rooms: u32,
    page: u32,
    serve: Option<Duration>,
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

async fn run(arguments: Arguments) -> Result<(), Box<dyn std::error::Error>> {
    let mut machine = machine(&arguments)?;
    let (host, port) = &arguments.server;
    let mut component = Component::new_plaintext(
        arguments.jid.as_str(),
        &arguments.secret,
        DnsConfig::no_srv(host, *port),
        Timeouts::default(),
    )
    .await
    .map_err(|e| format!("cannot connect as {} to {host}:{port}: {e}", arguments.jid))?;
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

    loop {
        while let Some(transmit) = machine.poll_transmit() {
            component
                .send_stanza(Stanza::Iq(Transmit::into_iq(transmit)))
                .await?;
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
            stanza = component.next() => {
                let Some(stanza) = stanza else {
                    return Err("the server closed the connection".into());
                };
                if let Stanza::Iq(iq) = stanza {
                    if let Handled::Unhandled(iq) = machine.handle_iq(Instant::now(), iq) {
                        if let Some(refusal) = refuse(&iq) {
                            component.send_stanza(Stanza::Iq(refusal)).await?;
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
                    component.send_end().await?;
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
