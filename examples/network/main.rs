//! The main job on a real XMPP network: log in through tokio-xmpp, walk the server's disco
//! tree, find its services by feature, and answer disco queries for the connected client, all
//! through one `DiscoMachine`.
//!
//! ```text
//! cargo run --features tokio-xmpp --example network -- JID PASSWORD [--server HOST:PORT] [--plaintext]
//!                                              [--timeout SECONDS] [--serve SECONDS]
//! ```
//!
//! Without `--server` the server is found through the JID's DNS SRV records; STARTTLS is used
//! unless `--plaintext` is given (only for a test server on loopback). Every wait is bounded by
//! `--timeout` (default 10 s); errors are printed and the exit status is 1. With `--serve`, the
//! client stays online that long afterwards, answering disco queries from its responder.

mod session;

use std::collections::BTreeSet;
use std::error::Error;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use session::{Account, Session, SessionError, Transport};
use xmpp_disco::xmpp_parsers::disco::{DiscoInfoResult, Identity, Item};
use xmpp_disco::xmpp_parsers::jid::{BareJid, Jid};
use xmpp_disco::{Config, DiscoMachine, Node, QueryError, QueryKind, QueryOptions, StaticNode};

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
    account: Account,
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
    let transport = match (server, plaintext) {
        (Some(address), true) => Transport::Plaintext(address),
        (None, true) => return Err("--plaintext needs --server".into()),
        (Some(address), false) => {
            let (host, port) = address
                .rsplit_once(':')
                .and_then(|(host, port)| Some((host.to_owned(), port.parse().ok()?)))
                .ok_or(format!("--server takes HOST:PORT, not {address:?}"))?;
            Transport::StartTls(Some((host, port)))
        }
        (None, false) => Transport::StartTls(None),
    };
    let password = password.clone();
    Ok(Arguments {
        account: Account {
            jid,
            password,
            transport,
            timeout,
        },
        serve,
    })
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

/// The deferred node's answer, computed when asked: how long this client has been online.
fn answer_uptime(session: &mut Session) {
    let online = Instant::now();
    session.answer_deferred_with(move |machine, handle, kind, _node| {
        let name = format!("online for {} s", online.elapsed().as_secs());
        let answered = match kind {
            QueryKind::Info => machine.respond_info(
                handle,
                DiscoInfoResult {
                    node: Some(UPTIME_NODE.into()),
                    identities: vec![Identity::new("hierarchy", "leaf", "en", name)],
                    features: BTreeSet::new(),
                    extensions: Vec::new(),
                },
            ),
            QueryKind::Items => machine.respond_items(handle, Vec::new()),
        };
        if let Err(error) = answered {
            eprintln!("warning: the uptime answer was not sent: {error}");
        }
    });
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

fn describe(result: &Result<Arc<DiscoInfoResult>, QueryError>) -> String {
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

async fn walk(session: &mut Session) -> Result<(), SessionError> {
    let server = session.server();
    let info = session.start_info(&server, None, QueryOptions::default())?;
    let items = session.start_items(&server, None, QueryOptions::default())?;
    let info = session.completion(info).await?;
    let items = session.completion(items).await?;

    if let xmpp_disco::Event::Info { result, .. } = &info {
        println!("{server}  {}", describe(result));
    }
    let items = match items {
        xmpp_disco::Event::Items {
            result: Ok(items), ..
        } => items.items.clone(),
        xmpp_disco::Event::Items {
            result: Err(error), ..
        } => {
            println!("└─ items: error: {error}");
            Vec::new()
        }
        _ => Vec::new(),
    };

    // Every item at once: the machine sends them all, then the answers arrive in any order.
    // An item the machine cannot ask about (an empty node from a careless server) is shown
    // with the reason instead.
    let pending: Vec<_> = items
        .iter()
        .map(|item| {
            let options = QueryOptions::default();
            let id = session.start_info(&item.jid, item.node.as_deref(), options);
            (item, id)
        })
        .collect();
    let mut found = Vec::new();
    for (index, (item, id)) in pending.iter().enumerate() {
        let branch = if index + 1 == pending.len() {
            "└─"
        } else {
            "├─"
        };
        let name = item
            .name
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        let node = item
            .node
            .as_deref()
            .map(|n| format!(" node={n}"))
            .unwrap_or_default();
        let id = match id {
            Ok(id) => *id,
            Err(not_asked) => {
                println!("{branch} {}{node}{name}  not asked: {not_asked}", item.jid);
                continue;
            }
        };
        if let xmpp_disco::Event::Info { result, .. } = session.completion(id).await? {
            println!("{branch} {}{node}{name}  {}", item.jid, describe(&result));
            found.push((item.jid.clone(), result));
        }
    }

    // Finding services by feature asks nothing new: every answer is in the cache.
    let sent_before = session.machine.stats().requests_sent;
    println!();
    for (feature, what) in SERVICES {
        let mut providers = Vec::new();
        for (jid, _) in &found {
            if let Ok(info) = session.info(jid, None).await? {
                if info.features.contains(*feature) {
                    providers.push(jid.to_string());
                }
            }
        }
        let providers = if providers.is_empty() {
            "none".to_owned()
        } else {
            providers.join(", ")
        };
        println!("{what:<20} {providers}");
    }
    let stats = session.machine.stats();
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
    let mut session = Session::connect(&arguments.account, Config::default()).await?;
    println!("online as {}", session.jid);
    let server = session.server();
    publish(
        &mut session.machine,
        &Jid::from(session.jid.clone()),
        &server,
    )?;
    answer_uptime(&mut session);
    walk(&mut session).await?;
    if !arguments.serve.is_zero() {
        println!("answering disco queries for {:?}", arguments.serve);
        session.serve_for(arguments.serve).await?;
        let stats = session.machine.stats();
        println!(
            "answered {} disco queries, refused {}, {} other IQs refused",
            stats.requests_answered, stats.requests_refused, session.refused
        );
    }
    session.close().await;
    Ok(())
}

fn main() -> ExitCode {
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
