//! A tour of xmpp-disco: a client walks a simulated server's disco tree.
//!
//! No network and no server: every entity of the small world below is its own `DiscoMachine`,
//! answering from its responder registry, and a router in memory carries the stanzas between
//! them on a simulated clock. Run with `cargo run --example tour`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use xmpp_disco::xmpp_parsers::data_forms::{DataForm, DataFormType, Field, FieldType};
use xmpp_disco::xmpp_parsers::disco::Item;
use xmpp_disco::xmpp_parsers::jid::Jid;
use xmpp_disco::xmpp_parsers::minidom::rxml::Namespace;
use xmpp_disco::xmpp_parsers::minidom::Element;
use xmpp_disco::{Config, DiscoMachine, Event, QueryError, QueryOptions, RegistryError, RequestId};

const CLIENT: &str = "juliet@example.org/balcony";
/// Listed by the server, but never answers: the client's deadline has to fire.
const SILENT: &str = "silent.example.org";

fn jid(s: &str) -> Jid {
    s.parse().expect("a valid JID")
}

fn entity(own: &str) -> DiscoMachine {
    let mut config = Config::default();
    config.own_jid = Some(jid(own));
    DiscoMachine::new(config)
}

/// An entity whose root has one identity and some features.
fn service(
    own: &str,
    identity: (&str, &str, &str),
    features: &[&str],
) -> Result<DiscoMachine, RegistryError> {
    let mut machine = entity(own);
    let mut root = machine.root_mut();
    let (category, type_, name) = identity;
    root.register_identity(category, type_, [(Some("en"), name)])?;
    root.unregister_identity("client", "bot")?;
    for feature in features {
        root.register_feature(*feature)?;
    }
    Ok(machine)
}

/// The server and its services, each answering from its own machine.
fn world() -> Result<HashMap<String, DiscoMachine>, RegistryError> {
    let mut server = service(
        "example.org",
        ("server", "im", "Example Server"),
        &[
            "http://jabber.org/protocol/disco#items",
            "urn:xmpp:ping",
            "jabber:iq:version",
        ],
    )?;
    {
        let mut root = server.root_mut();
        root.set_form(DataForm::new(
            DataFormType::Result_,
            "http://jabber.org/network/serverinfo",
            vec![Field::new("admin-addresses", FieldType::ListMulti)
                .with_value("xmpp:admin@example.org")],
        ))?;
        let item = |to: &str, name: Option<&str>| Item {
            jid: jid(to),
            node: None,
            name: name.map(str::to_owned),
        };
        root.set_items(vec![
            item("conference.example.org", Some("Chatrooms")),
            item("upload.example.org", Some("File sharing")),
            item("pubsub.example.org", None),
            item(SILENT, None),
        ]);
    }
    let conference = service(
        "conference.example.org",
        ("conference", "text", "Chatrooms"),
        &["http://jabber.org/protocol/muc"],
    )?;
    let upload = service(
        "upload.example.org",
        ("store", "file", "HTTP File Upload"),
        &["urn:xmpp:http:upload:0"],
    )?;
    Ok(HashMap::from([
        ("example.org".to_owned(), server),
        ("conference.example.org".to_owned(), conference),
        ("upload.example.org".to_owned(), upload),
    ]))
}

/// What a server does with a stanza for an address nobody serves.
fn service_unavailable(request: &Element) -> Option<Element> {
    let (id, to) = (request.attr("id")?, request.attr("to")?);
    format!(
        "<iq xmlns='jabber:client' type='error' id='{id}' from='{to}' to='{CLIENT}'><error type='cancel'>\
         <service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
    )
    .parse()
    .ok()
}

/// Carries one request from the client to its addressee and the answer back, 10 ms each way.
fn route(
    request: Element,
    world: &mut HashMap<String, DiscoMachine>,
    clock: &mut Instant,
) -> Option<Element> {
    let to = request.attr("to")?.to_owned();
    if to == SILENT {
        return None;
    }
    *clock += Duration::from_millis(10);
    let Some(addressee) = world.get_mut(&to) else {
        return service_unavailable(&request);
    };
    let mut request = request;
    request.set_attr(Namespace::NONE, "from".try_into().ok()?, CLIENT);
    let _ = addressee.handle_stanza(*clock, request);
    let mut answer = addressee.poll_transmit()?;
    answer.set_attr(Namespace::NONE, "from".try_into().ok()?, to);
    *clock += Duration::from_millis(10);
    Some(answer)
}

/// Runs the world until every query in `ids` has completed, advancing the clock to the client's
/// deadlines when nothing else can happen.
fn settle(
    client: &mut DiscoMachine,
    world: &mut HashMap<String, DiscoMachine>,
    clock: &mut Instant,
    ids: &[RequestId],
) -> HashMap<RequestId, Event> {
    let mut done = HashMap::new();
    while done.len() < ids.len() {
        let mut progressed = false;
        while let Some(request) = client.poll_transmit() {
            progressed = true;
            if let Some(answer) = route(request, world, clock) {
                let _ = client.handle_stanza(*clock, answer);
            }
        }
        while let Some(event) = client.poll_event() {
            progressed = true;
            if let Some(id) = event.request_id().filter(|id| ids.contains(id)) {
                done.insert(id, event);
            }
        }
        if !progressed {
            let Some(deadline) = client.poll_timeout() else {
                break;
            };
            *clock = deadline;
            client.handle_timeout(deadline);
        }
    }
    done
}

fn describe(event: Option<&Event>) -> String {
    match event {
        Some(Event::Info {
            result: Ok(info), ..
        }) => {
            let identity = info
                .identities
                .first()
                .map(|i| format!("{}/{}", i.category, i.type_));
            let features: Vec<_> = info
                .features
                .iter()
                .filter(|f| !f.starts_with("http://jabber.org/protocol/disco#"))
                .map(String::as_str)
                .collect();
            format!("{} [{}]", identity.unwrap_or_default(), features.join(", "))
        }
        Some(Event::Info {
            result: Err(QueryError::Timeout),
            ..
        }) => "no answer (timed out)".to_owned(),
        Some(Event::Info {
            result: Err(error), ..
        }) => format!("error: {error}"),
        _ => "?".to_owned(),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut world = world()?;
    let start = Instant::now();
    let mut clock = start;
    let mut client = entity(CLIENT);
    let server = jid("example.org");
    let options = QueryOptions::default().with_timeout(Duration::from_secs(5));

    // 1. The server's own info and its items, concurrently.
    let info = client.query_info(clock, &server, None, options)?;
    let items = client.query_items(clock, &server, None, options)?;
    let mut done = settle(&mut client, &mut world, &mut clock, &[info, items]);
    let Some(Event::Items {
        result: Ok(items), ..
    }) = done.remove(&items)
    else {
        return Err("the server listed no items".into());
    };
    println!("example.org  {}", describe(done.get(&info)));
    if let Some(Event::Info {
        result: Ok(info), ..
    }) = done.get(&info)
    {
        for form in &info.extensions {
            println!("│  form {}", form.form_type().unwrap_or("(no FORM_TYPE)"));
        }
    }

    // 2. Every item's info, asked twice at once: the second query is aliased to the first.
    let mut queries = Vec::new();
    let mut ids = Vec::new();
    for item in &items.items {
        let first = client.query_info(clock, &item.jid, item.node.as_deref(), options)?;
        let twin = client.query_info(clock, &item.jid, item.node.as_deref(), options)?;
        queries.push((item, first));
        ids.extend([first, twin]);
    }
    let done = settle(&mut client, &mut world, &mut clock, &ids);
    for (index, (item, id)) in queries.iter().enumerate() {
        let branch = if index + 1 == queries.len() {
            "└─"
        } else {
            "├─"
        };
        let name = item
            .name
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        println!("{branch} {}{name}  {}", item.jid, describe(done.get(id)));
    }

    // 3. Find the upload service by feature: answered from the cache where it can be.
    let before = client.stats().requests_sent;
    let mut lookups = Vec::new();
    for item in &items.items {
        lookups.push((
            &item.jid,
            client.query_info(clock, &item.jid, None, options)?,
        ));
    }
    let ids: Vec<_> = lookups.iter().map(|(_, id)| *id).collect();
    let done = settle(&mut client, &mut world, &mut clock, &ids);
    let upload = lookups.iter().find_map(|(jid, id)| match done.get(id) {
        Some(Event::Info {
            result: Ok(info), ..
        }) if info.features.contains("urn:xmpp:http:upload:0") => Some(*jid),
        _ => None,
    });
    println!();
    println!(
        "upload service: {} ({} new requests: answers come from the cache, failures are never \
         cached, so only the entities that failed were asked again)",
        upload.map(Jid::to_string).unwrap_or_else(|| "none".into()),
        client.stats().requests_sent - before
    );

    let stats = client.stats();
    let answered: u64 = world.values().map(|m| m.stats().requests_answered).sum();
    println!(
        "client: {} queries, {} IQs sent, {} answered from the cache, {} aliased, {} timed out",
        stats.requests_sent + stats.cache_hits + stats.aliased,
        stats.requests_sent,
        stats.cache_hits,
        stats.aliased,
        stats.timeouts
    );
    println!("world: {answered} requests answered by the entities' responders");
    println!("simulated time: {:?}", clock - start);
    Ok(())
}
