//! The main job on a real XMPP network: log in through tokio-xmpp, walk the server's disco
//! tree, find its services by feature, and answer disco queries for the connected client, all
//! through the crate's tokio-xmpp integration (`xmpp_disco::client`).
//!
//! ```text
//! cargo run --features tokio-xmpp --example network -- JID PASSWORD [--server HOST:PORT] [--plaintext]
//!                                              [--timeout SECONDS] [--serve SECONDS]
//! ```
//!
//! Without `--server` the server is found through the JID's DNS SRV records; `HOST` is a name
//! or an IP address. STARTTLS is used unless `--plaintext` is given (only for a test server on
//! loopback). Every wait is bounded by `--timeout` (default 10 s): logging in, each query, and
//! a lost connection, which ends the program with status 1 if it has not come back by then. A
//! server that hangs without closing the connection is noticed after at most twice
//! `--timeout` of silence (probed after one, given one to answer), so the program ends at most
//! three times `--timeout` after the server last spoke.
//! With `--serve`, the client stays online that long afterwards, answering disco queries.
//!
//! `RUST_LOG` sets what is logged (to standard error), as for any program logging through the
//! `log` facade: `RUST_LOG=info` shows the session's connections and lifecycle,
//! `RUST_LOG=xmpp_disco=debug` every request refused and reply ignored, `RUST_LOG=debug` adds
//! tokio-xmpp's own.

use std::collections::BTreeSet;
use std::error::Error;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_xmpp::Stanza;
use xmpp_disco::client::{AskError, Disco, Incoming, Login, Server, SessionEnd, SessionEvent};
use xmpp_disco::xmpp_parsers::disco::{DiscoInfoResult, Identity, Item};
use xmpp_disco::xmpp_parsers::jid::{BareJid, Jid};
use xmpp_disco::xmpp_parsers::presence::Presence;
use xmpp_disco::{
    Config, DiscoMachine, Event, Node, QueryKind, QueryOptions, ServiceFilter, StaticNode,
};

const USAGE: &str = "usage: network JID PASSWORD [--server HOST:PORT] [--plaintext] \
                     [--timeout SECONDS] [--serve SECONDS]";

/// Services worth finding, by the feature that makes them what they are.
const SERVICES: &[(&str, &str)] = &[
    ("http://jabber.org/protocol/muc", "chat rooms"),
    ("urn:xmpp:http:upload:0", "file upload"),
    ("http://jabber.org/protocol/pubsub", "publish-subscribe"),
    (
        "http://jabber.org/protocol/bytestreams",
        "file transfer proxy",
    ),
];

/// A node this client publishes beside its root, so that others have something to walk.
const EXAMPLE_NODE: &str = "urn:xmpp-disco:example";
/// A node answered by this program when asked (a deferred node), not by the machine's registry.
const UPTIME_NODE: &str = "urn:xmpp-disco:example:uptime";

struct Arguments {
    login: Login,
    serve: Duration,
}

fn parse(args: &[String]) -> Result<Arguments, String> {
    let [jid, password, rest @ ..] = args else {
        return Err(USAGE.into());
    };
    let jid: BareJid = jid
        .parse()
        .map_err(|e| format!("invalid JID {jid:?}: {e}"))?;
    let (mut server, mut plaintext) = (None, false);
    let (mut timeout, mut serve) = (Duration::from_secs(10), Duration::ZERO);
    let mut rest = rest.iter();
    while let Some(flag) = rest.next() {
        let mut value = || rest.next().ok_or(format!("{flag} needs a value\n{USAGE}"));
        let seconds = |text: &String| {
            text.parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| format!("{flag} takes whole seconds, not {text:?}"))
        };
        match flag.as_str() {
            "--server" => server = Some(value()?.clone()),
            "--plaintext" => plaintext = true,
            "--timeout" => timeout = seconds(value()?)?,
            "--serve" => serve = seconds(value()?)?,
            _ => return Err(format!("unknown argument {flag:?}\n{USAGE}")),
        }
    }
    let host_port = |address: &str| {
        address
            .rsplit_once(':')
            .and_then(|(host, port)| Some((host.to_owned(), port.parse().ok()?)))
            .ok_or(format!("--server takes HOST:PORT, not {address:?}"))
    };
    let server = match (server, plaintext) {
        (Some(address), true) => {
            let (host, port) = host_port(&address)?;
            Server::Plaintext { host, port }
        }
        (None, true) => return Err("--plaintext needs --server".into()),
        (Some(address), false) => {
            let (host, port) = host_port(&address)?;
            Server::StartTls { host, port }
        }
        (None, false) => Server::Published,
    };
    let mut config = Config::default();
    config.default_timeout = Some(timeout);
    // Our presence announces our capabilities; the caps nodes are answered.
    config.caps_node = Some("https://docs.rs/xmpp-disco#network-example".into());
    // A server that stops answering is probed after `timeout` of silence and given `timeout`
    // to answer: noticed within twice `timeout`, given up on `timeout` after that.
    let login = Login::new(jid, password.clone())
        .server(server)
        .timeout(timeout)
        .keepalive(timeout, timeout)
        .give_up_after(timeout)
        .config(config);
    Ok(Arguments { login, serve })
}

/// What this client answers when asked: a bot with one extra node listing the server.
fn publish(machine: &mut DiscoMachine, me: &Jid, server: &Jid) -> Result<(), Box<dyn Error>> {
    let mut root = machine.root_mut();
    root.set_identity_names("client", "bot", [(Some("en"), "xmpp-disco example")])?;
    root.register_feature("http://jabber.org/protocol/disco#items")?;
    root.set_items(vec![
        Item {
            jid: me.clone(),
            node: Some(EXAMPLE_NODE.into()),
            name: Some("What this example walked".into()),
        },
        Item {
            jid: me.clone(),
            node: Some(UPTIME_NODE.into()),
            name: Some("How long it has been online".into()),
        },
    ])?;
    drop(root);
    let mut node = StaticNode::new();
    node.register_identity("hierarchy", "leaf", [(Some("en"), "Walked servers")])?;
    node.set_items(vec![Item {
        jid: server.clone(),
        node: None,
        name: None,
    }])?;
    machine.mount(EXAMPLE_NODE, node)?;
    machine.mount(UPTIME_NODE, Node::Deferred)?;
    Ok(())
}

/// The host's side of the stream, for as long as the session lives: answers the deferred
/// node, refuses the IQs nobody handles, re-sends presence on a new stream, and says what
/// happens to the connection. Returns how many IQs it refused and why the session ended.
async fn host(disco: Disco, mut incoming: Incoming, online: Instant) -> (u64, SessionEnd) {
    let mut refused = 0;
    while let Some(event) = incoming.next().await {
        match event {
            SessionEvent::Stanza(Stanza::Iq(iq)) => {
                refused += 1;
                disco.refuse(iq);
            }
            SessionEvent::Disco(Event::DeferredRequest { handle, request }) => {
                let name = format!("online for {} s", online.elapsed().as_secs());
                let answered = disco.with_machine(|machine| match request.kind {
                    QueryKind::Info => machine.respond_info(handle, uptime(name)),
                    QueryKind::Items => machine.respond_items(handle, Vec::new()),
                });
                if let Err(error) = answered {
                    eprintln!("warning: the uptime answer was not sent: {error}");
                }
            }
            SessionEvent::Suspended => eprintln!("the connection was lost; reconnecting"),
            SessionEvent::Reconnecting { attempt, after } if attempt > 1 => {
                eprintln!("reconnecting in {after:?} (attempt {attempt})");
            }
            SessionEvent::ReconnectFailed(error) => eprintln!("reconnecting failed: {error}"),
            SessionEvent::Resumed => eprintln!("the stream was resumed; nothing was lost"),
            SessionEvent::Reset { jid } => {
                // The session sends the presence again itself.
                eprintln!("online again as {jid} (a new stream: queries in flight failed)");
            }
            SessionEvent::Ended(reason) => return (refused, reason),
            _ => {}
        }
    }
    (refused, SessionEnd::Dropped)
}

fn uptime(name: String) -> DiscoInfoResult {
    DiscoInfoResult {
        node: Some(UPTIME_NODE.into()),
        identities: vec![Identity::new("hierarchy", "leaf", "en", name)],
        features: BTreeSet::new(),
        extensions: Vec::new(),
    }
}

fn identities(info: &DiscoInfoResult) -> String {
    info.identities
        .iter()
        .map(|identity| match &identity.name {
            Some(name) => format!("{}/{} \"{name}\"", identity.category, identity.type_),
            None => format!("{}/{}", identity.category, identity.type_),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe(result: &Result<Arc<DiscoInfoResult>, AskError>) -> String {
    match result {
        Ok(info) => {
            let forms: Vec<_> = info
                .extensions
                .iter()
                .filter_map(|form| form.form_type())
                .collect();
            let mut line = format!("{}  ({} features)", identities(info), info.features.len());
            if !forms.is_empty() {
                line += &format!("  forms: {}", forms.join(", "));
            }
            line
        }
        Err(error) => format!("error: {error}"),
    }
}

fn label(jid: &Jid, node: Option<&str>) -> String {
    match node {
        Some(node) => format!("{jid} node={node}"),
        None => jid.to_string(),
    }
}

async fn walk(disco: &Disco) -> Result<(), AskError> {
    let server = disco.server();
    // The server and every item it lists, with their info: one walk, one level deep.
    let walk = disco
        .walk(&server, None, 1, 1000, QueryOptions::default())
        .await?;
    for (index, visited) in walk.entities.iter().enumerate() {
        let branch = match index {
            0 => "",
            n if n + 1 == walk.entities.len() => "└─ ",
            _ => "├─ ",
        };
        let info = visited.info.clone().map_err(AskError::from);
        let label = label(&visited.jid, visited.node.as_deref());
        println!("{branch}{label}  {}", describe(&info));
        if let (0, Err(error)) = (index, &visited.items) {
            println!("└─ items: error: {error}");
        }
    }

    // Finding services by feature asks nothing new: every answer is in the cache.
    let sent_before = disco.stats().requests_sent;
    println!();
    for (feature, what) in SERVICES {
        let filter = ServiceFilter::feature(*feature);
        let services = disco
            .find_services(&server, None, filter, QueryOptions::default())
            .await?;
        let providers: Vec<String> = services
            .found
            .iter()
            .map(|found| found.item.jid.to_string())
            .collect();
        let providers = if providers.is_empty() {
            "none".to_owned()
        } else {
            providers.join(", ")
        };
        println!("{what:<20} {providers}");
    }
    let stats = disco.stats();
    println!();
    println!(
        "{} IQs sent, {} answered from the cache ({} new while searching by feature), {} \
         aliased, {} timed out",
        stats.requests_sent,
        stats.cache_hits,
        stats.requests_sent - sent_before,
        stats.aliased,
        stats.timeouts
    );
    Ok(())
}

async fn run(arguments: Arguments) -> Result<(), Box<dyn Error>> {
    let (disco, incoming) = arguments.login.connect().await?;
    let me = Jid::from(disco.jid());
    println!("online as {me}");
    let server = disco.server();
    disco.with_machine(|machine| publish(machine, &me, &server))?;
    // The session adds our capabilities, and sends it again when they change.
    disco.send(Presence::available())?;
    let mut host = tokio::spawn(host(disco.clone(), incoming, Instant::now()));

    walk(&disco).await?;
    if !arguments.serve.is_zero() {
        println!("answering disco queries for {:?}", arguments.serve);
        tokio::select! {
            () = tokio::time::sleep(arguments.serve) => {}
            ended = &mut host => {
                let (_, reason) = ended?;
                return Err(reason.into());
            }
        }
    }
    if let Err(unsent) = disco.close().await {
        eprintln!("closing: {unsent}");
    }
    let (refused, reason) = host.await?;
    let stats = disco.stats();
    if !arguments.serve.is_zero() {
        println!(
            "answered {} disco queries, refused {}, {refused} other IQs refused",
            stats.requests_answered, stats.requests_refused
        );
    }
    match reason {
        SessionEnd::Closed => Ok(()),
        other => Err(other.into()),
    }
}

fn main() -> ExitCode {
    // Nothing is logged unless RUST_LOG asks for it.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("off")).init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arguments = match parse(&args) {
        Ok(arguments) => arguments,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(arguments)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
