//! A tour of xmpp-disco: a small XMPP world in memory, every entity its own `DiscoMachine`.
//!
//! No network and no server: a server with a few services and two clients answer each other
//! from their responder registries, and a router in memory carries the stanzas between them on
//! a simulated clock (10 ms per hop). Juliet walks the server's disco tree, finds services by
//! feature and asks Romeo what his client offers; at the end she counts the IQs her cache and
//! aliasing saved. Run with `cargo run --example tour`.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use xmpp_disco::xmpp_parsers::data_forms::{DataForm, DataFormType, Field, FieldType};
use xmpp_disco::xmpp_parsers::disco::{DiscoInfoResult, Item};
use xmpp_disco::xmpp_parsers::jid::Jid;
use xmpp_disco::xmpp_parsers::minidom::rxml::Namespace;
use xmpp_disco::xmpp_parsers::minidom::Element;
use xmpp_disco::{
    Config, DiscoMachine, Event, QueryError, QueryOptions, RegistryError, RequestId, ServiceFilter,
    Services, StaticNode, Walk,
};

const SERVER: &str = "example.org";
const JULIET: &str = "juliet@example.org/balcony";
const ROMEO: &str = "romeo@example.org/orchard";
/// Listed by the server, but nobody serves it: the server answers service-unavailable.
const GONE: &str = "gone.example.org";
/// Listed by the server, but never answers: Juliet's deadline has to fire.
const SILENT: &str = "silent.example.org";
const COMMANDS: &str = "http://jabber.org/protocol/commands";
const HOP: Duration = Duration::from_millis(10);

fn jid(s: &str) -> Jid {
    s.parse().expect("a valid JID")
}

fn item(to: &str, node: Option<&str>, name: Option<&str>) -> Item {
    Item {
        jid: jid(to),
        node: node.map(str::to_owned),
        name: name.map(str::to_owned),
    }
}

/// An entity whose root has one identity (instead of the default client/bot) and some features.
fn entity(
    own: &str,
    identity: (&str, &str, &str),
    features: &[&str],
) -> Result<DiscoMachine, RegistryError> {
    let mut config = Config::default();
    config.own_jid = Some(jid(own));
    let mut machine = DiscoMachine::new(config);
    let mut root = machine.root_mut();
    let (category, type_, name) = identity;
    if (category, type_) == ("client", "bot") {
        root.set_identity_names(category, type_, [(Some("en"), name)])?;
    } else {
        root.register_identity(category, type_, [(Some("en"), name)])?;
        root.unregister_identity("client", "bot")?;
    }
    for feature in features {
        root.register_feature(*feature)?;
    }
    drop(root); // the edit is settled (and announced) when the guard goes
    Ok(machine)
}

/// A node with one identity and a list of items, as mounted under an entity's root.
fn node_with_items(
    identity: (&str, &str, &str),
    items: Vec<Item>,
) -> Result<StaticNode, RegistryError> {
    let mut node = StaticNode::new();
    let (category, type_, name) = identity;
    node.register_identity(category, type_, [(Some("en"), name)])?;
    node.set_items(items)?;
    Ok(node)
}

/// The server, its services and the two clients.
fn world() -> Result<BTreeMap<String, DiscoMachine>, Box<dyn std::error::Error>> {
    let mut server = entity(
        SERVER,
        ("server", "im", "Example Server"),
        &["urn:xmpp:ping", "jabber:iq:version"],
    )?;
    let mut root = server.root_mut();
    root.set_form(DataForm::new(
        DataFormType::Result_,
        "http://jabber.org/network/serverinfo",
        vec![Field::new("admin-addresses", FieldType::ListMulti)
            .with_value("xmpp:admin@example.org")],
    ))?;
    root.set_items(vec![
        item("conference.example.org", None, Some("Chatrooms")),
        item("upload.example.org", None, Some("File sharing")),
        item("pubsub.example.org", None, Some("News feeds")),
        item(GONE, None, None),
        item(SILENT, None, None),
    ])?;
    drop(root);

    let conference = entity(
        "conference.example.org",
        ("conference", "text", "Chatrooms"),
        &["http://jabber.org/protocol/muc"],
    )?;
    let upload = entity(
        "upload.example.org",
        ("store", "file", "HTTP File Upload"),
        &["urn:xmpp:http:upload:0"],
    )?;

    let pubsub_jid = "pubsub.example.org";
    let mut pubsub = entity(
        pubsub_jid,
        ("pubsub", "service", "News feeds"),
        &["http://jabber.org/protocol/pubsub"],
    )?;
    pubsub.root_mut().set_items(vec![
        item(pubsub_jid, Some("news"), Some("Verona News")),
        item(pubsub_jid, Some("weather"), Some("Weather")),
    ])?;
    let news = node_with_items(
        ("pubsub", "leaf", "Verona News"),
        // A leaf node's items are what was published there, not further disco nodes.
        vec![
            item(pubsub_jid, None, Some("The feud goes on")),
            item(pubsub_jid, None, Some("A ball at the Capulets'")),
        ],
    )?;
    pubsub.mount("news", news)?;
    let weather = node_with_items(("pubsub", "leaf", "Weather"), Vec::new())?;
    pubsub.mount("weather", weather)?;

    let juliet = entity(JULIET, ("client", "pc", "Juliet's laptop"), &[])?;
    let mut romeo = entity(
        ROMEO,
        ("client", "phone", "Romeo's phone"),
        &[COMMANDS, "urn:xmpp:jingle:1"],
    )?;
    romeo
        .root_mut()
        .set_items(vec![item(ROMEO, Some(COMMANDS), Some("Commands"))])?;
    let commands = node_with_items(
        ("automation", "command-list", "Commands"),
        vec![item(
            ROMEO,
            Some("serenade"),
            Some("Sing under the balcony"),
        )],
    )?;
    romeo.mount(COMMANDS, commands)?;
    let mut serenade = node_with_items(("automation", "command-node", "Serenade"), Vec::new())?;
    serenade.register_feature(COMMANDS)?;
    serenade.register_feature("jabber:x:data")?;
    romeo.mount("serenade", serenade)?;

    Ok(BTreeMap::from(
        [
            (SERVER, server),
            ("conference.example.org", conference),
            ("upload.example.org", upload),
            (pubsub_jid, pubsub),
            (JULIET, juliet),
            (ROMEO, romeo),
        ]
        .map(|(address, machine)| (address.to_owned(), machine)),
    ))
}

/// What a server does with a stanza for an address nobody serves.
fn service_unavailable(request: &Element, from: &str) -> Option<Element> {
    let (id, to) = (request.attr("id")?, request.attr("to")?);
    format!(
        "<iq xmlns='jabber:client' type='error' id='{id}' from='{to}' to='{from}'><error \
         type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
         </error></iq>"
    )
    .parse()
    .ok()
}

/// The network: carries stanzas between the entities, one hop at a time, and keeps the clock.
struct Router {
    entities: BTreeMap<String, DiscoMachine>,
    now: Instant,
    /// Completions for Juliet, by request.
    done: HashMap<RequestId, Event>,
}

impl Router {
    /// Moves every stanza every entity wants to send until nothing is left, then lets time
    /// pass to the earliest deadline if Juliet is still waiting for `ids`.
    fn settle(&mut self, ids: &[RequestId]) {
        loop {
            let mut wire = VecDeque::new();
            for (address, machine) in &mut self.entities {
                while let Some(transmit) = machine.poll_transmit() {
                    wire.push_back((address.clone(), transmit.into_element()));
                }
            }
            let moved = !wire.is_empty();
            while let Some((from, mut stanza)) = wire.pop_front() {
                self.now += HOP;
                let Some(to) = stanza.attr("to").map(str::to_owned) else {
                    continue;
                };
                if to == SILENT {
                    continue;
                }
                stanza.set_attr(
                    Namespace::NONE,
                    "from".try_into().expect("a name"),
                    from.as_str(),
                );
                match self.entities.get_mut(&to) {
                    Some(addressee) => {
                        let _ = addressee.handle_stanza(self.now, stanza);
                    }
                    None => {
                        if let (Some(bounce), Some(sender)) = (
                            service_unavailable(&stanza, &from),
                            self.entities.get_mut(&from),
                        ) {
                            let _ = sender.handle_stanza(self.now, bounce);
                        }
                    }
                }
            }
            let juliet = self
                .entities
                .get_mut(JULIET)
                .expect("Juliet is in the world");
            while let Some(event) = juliet.poll_event() {
                if let Some(id) = event.request_id() {
                    self.done.insert(id, event);
                }
            }
            if ids.iter().all(|id| self.done.contains_key(id)) {
                return;
            }
            if !moved {
                let Some(deadline) = juliet.poll_timeout() else {
                    return;
                };
                self.now = self.now.max(deadline);
                juliet.handle_timeout(self.now);
            }
        }
    }

    fn juliet(&mut self) -> &mut DiscoMachine {
        self.entities
            .get_mut(JULIET)
            .expect("Juliet is in the world")
    }

    fn walked(&self, id: RequestId) -> Result<Arc<Walk>, QueryError> {
        match self.done.get(&id) {
            Some(Event::Walk { result, .. }) => result.clone(),
            _ => Err(QueryError::Cancelled),
        }
    }

    fn services(&self, id: RequestId) -> Result<Arc<Services>, QueryError> {
        match self.done.get(&id) {
            Some(Event::Services { result, .. }) => result.clone(),
            _ => Err(QueryError::Cancelled),
        }
    }
}

/// Prints the tree a walk found, from `entry` down: each entity under the item that led to it;
/// an item pointing at an entity shown elsewhere (or not visited) is listed without details.
fn print(walk: &Walk, at: usize, shown: &mut HashSet<usize>, prefix: &str, lead: (&str, &str)) {
    let Some(entry) = walk.entities.get(at) else {
        return;
    };
    shown.insert(at);
    let description = describe(&Some(entry.info.clone()));
    println!(
        "{prefix}{}{}  {description}",
        lead.0,
        label_of(&entry.jid, entry.node.as_deref())
    );
    let Ok(items) = &entry.items else {
        return;
    };
    let prefix = format!("{prefix}{}", lead.1);
    for (index, item) in items.items.iter().enumerate() {
        let lead = if index + 1 == items.items.len() {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        let child = walk.entities.iter().position(|visited| {
            visited.jid == item.jid && visited.node == item.node && visited.depth == entry.depth + 1
        });
        match child.filter(|child| !shown.contains(child)) {
            Some(child) => print(walk, child, shown, &prefix, lead),
            None => println!("{prefix}{}{}", lead.0, label(item)),
        }
    }
}

fn label_of(jid: &Jid, node: Option<&str>) -> String {
    match node {
        Some(node) => format!("{jid} node={node}"),
        None => jid.to_string(),
    }
}

fn label(item: &Item) -> String {
    let mut label = match &item.node {
        Some(node) => format!("{} node={node}", item.jid),
        None => item.jid.to_string(),
    };
    if let Some(name) = &item.name {
        label += &format!(" \"{name}\"");
    }
    label
}

fn describe(info: &Option<Result<Arc<DiscoInfoResult>, QueryError>>) -> String {
    match info {
        None => String::new(),
        Some(Ok(info)) => {
            let mut parts: Vec<String> = info
                .identities
                .iter()
                .map(|i| format!("{}/{}", i.category, i.type_))
                .collect();
            let features: Vec<&str> = info
                .features
                .iter()
                .map(String::as_str)
                .filter(|f| !f.starts_with("http://jabber.org/protocol/disco#"))
                .collect();
            if !features.is_empty() {
                parts.push(format!("[{}]", features.join(", ")));
            }
            for form in &info.extensions {
                parts.push(format!("form {}", form.form_type().unwrap_or("?")));
            }
            parts.join("  ")
        }
        Some(Err(QueryError::Timeout)) => "no answer (timed out)".to_owned(),
        Some(Err(error)) => format!("error: {error}"),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let mut router = Router {
        entities: world()?,
        now: start,
        done: HashMap::new(),
    };
    // Nodes mounted while building the world raised NodeChanged; nobody needs them here.
    for machine in router.entities.values_mut() {
        while machine.poll_event().is_some() {}
    }

    let options = QueryOptions::default().with_timeout(Duration::from_secs(5));
    println!("1. Juliet walks the server's disco tree (one command: machine.walk)\n");
    let server = jid(SERVER);
    let walk = router
        .juliet()
        .walk(start, &server, None, 3, 100, options.clone())?;
    router.settle(&[walk]);
    let tree = router.walked(walk)?;
    print(&tree, 0, &mut HashSet::new(), "", ("", ""));

    println!("\n2. She looks for services by feature, three searches at once (find_services):");
    println!("   answers come from the cache; what failed is asked again, once for all three\n");
    let mut searches = Vec::new();
    for (feature, what) in [
        ("http://jabber.org/protocol/muc", "chat rooms"),
        ("urn:xmpp:http:upload:0", "file upload"),
        ("http://jabber.org/protocol/pubsub", "news feeds"),
    ] {
        let now = router.now;
        let filter = ServiceFilter::feature(feature);
        let id = router
            .juliet()
            .find_services(now, &server, None, filter, options.clone())?;
        searches.push((id, what));
    }
    let ids: Vec<RequestId> = searches.iter().map(|(id, _)| *id).collect();
    router.settle(&ids);
    for (id, what) in &searches {
        let services = router.services(*id)?;
        let found: Vec<String> = services
            .found
            .iter()
            .map(|found| found.item.jid.to_string())
            .collect();
        println!("   {what:<12} {}", found.join(", "));
    }
    if let Some((id, _)) = searches.first() {
        for missing in &router.services(*id)?.not_answered {
            println!("   (not answered: {}: {})", missing.item.jid, missing.error);
        }
    }

    println!("\n3. Juliet asks Romeo's client what it offers; his machine answers\n");
    let now = router.now;
    let romeo = router
        .juliet()
        .walk(now, &jid(ROMEO), None, 2, 100, options)?;
    router.settle(&[romeo]);
    let romeo = router.walked(romeo)?;
    print(&romeo, 0, &mut HashSet::new(), "", ("", ""));

    let stats = router.juliet().stats();
    let asked = stats.requests_sent + stats.cache_hits + stats.aliased;
    let answered: u64 = router
        .entities
        .values()
        .map(|machine| machine.stats().requests_answered)
        .sum();
    println!(
        "\nJuliet asked {asked} questions and sent {} IQs: {} were answered from her cache and {} \
         shared an IQ already in flight.",
        stats.requests_sent, stats.cache_hits, stats.aliased
    );
    println!(
        "Failures are never cached: {GONE} and {SILENT} were asked again in step 2 ({} \
         questions timed out in all).",
        stats.timeouts
    );
    println!(
        "The world's responders answered {answered} requests in {:?} of simulated time.",
        router.now - start
    );
    Ok(())
}
