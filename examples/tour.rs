//! A tour of the requester: a client walks a simulated server's disco tree.
//!
//! No network and no server: a small in-memory "server" answers the IQs the machine emits,
//! and time is a simulated clock. Run with `cargo run --example tour`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use xmpp_disco::xmpp_parsers::jid::Jid;
use xmpp_disco::xmpp_parsers::minidom::Element;
use xmpp_disco::{Config, DiscoMachine, Event, QueryError, QueryOptions, RequestId};

const INFO: &str = "http://jabber.org/protocol/disco#info";
const ITEMS: &str = "http://jabber.org/protocol/disco#items";

/// What the simulated entities answer: (JID, kind namespace) -> query body. Entities absent
/// from the table answer `service-unavailable`; `silent.example.org` never answers.
fn world() -> HashMap<(&'static str, &'static str), &'static str> {
    HashMap::from([
        (
            ("example.org", INFO),
            "<identity category='server' type='im' name='Example Server'/>\
             <feature var='http://jabber.org/protocol/disco#info'/>\
             <feature var='http://jabber.org/protocol/disco#items'/>\
             <feature var='urn:xmpp:ping'/>\
             <x xmlns='jabber:x:data' type='result'>\
               <field var='FORM_TYPE' type='hidden'><value>http://jabber.org/network/serverinfo</value></field>\
               <field var='admin-addresses'><value>xmpp:admin@example.org</value></field>\
             </x>",
        ),
        (
            ("example.org", ITEMS),
            "<item jid='conference.example.org' name='Chatrooms'/>\
             <item jid='upload.example.org' name='File sharing'/>\
             <item jid='pubsub.example.org'/>\
             <item jid='silent.example.org'/>",
        ),
        (
            ("conference.example.org", INFO),
            "<identity category='conference' type='text' name='Chatrooms'/>\
             <feature var='http://jabber.org/protocol/muc'/>",
        ),
        (
            ("upload.example.org", INFO),
            "<identity category='store' type='file' name='HTTP File Upload'/>\
             <feature var='urn:xmpp:http:upload:0'/>",
        ),
    ])
}

/// Answers one request the way the simulated world would, or `None` for silence.
fn answer(request: &Element, world: &HashMap<(&str, &str), &str>) -> Option<Element> {
    let to = request.attr("to")?;
    let id = request.attr("id")?;
    let ns = if request.has_child("query", INFO) {
        INFO
    } else {
        ITEMS
    };
    if to == "silent.example.org" {
        return None;
    }
    let xml = match world.get(&(to, ns)) {
        Some(body) => format!(
            "<iq xmlns='jabber:client' type='result' id='{id}' from='{to}'><query xmlns='{ns}'>{body}</query></iq>"
        ),
        None => format!(
            "<iq xmlns='jabber:client' type='error' id='{id}' from='{to}'><error type='cancel'>\
             <service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
        ),
    };
    xml.parse().ok()
}

/// Runs the machine until every query in `ids` has completed: delivers requests to the
/// simulated world (20 ms round trip) and advances the clock to the machine's deadlines.
fn settle(
    disco: &mut DiscoMachine,
    clock: &mut Instant,
    world: &HashMap<(&str, &str), &str>,
    ids: &[RequestId],
) -> HashMap<RequestId, Event> {
    let mut done = HashMap::new();
    while done.len() < ids.len() {
        let mut progressed = false;
        while let Some(request) = disco.poll_transmit() {
            progressed = true;
            if let Some(reply) = answer(&request, world) {
                *clock += Duration::from_millis(20);
                let _ = disco.handle_stanza(*clock, reply);
            }
        }
        while let Some(event) = disco.poll_event() {
            progressed = true;
            if let Some(id) = event.request_id() {
                done.insert(id, event);
            }
        }
        if !progressed {
            match disco.poll_timeout() {
                Some(deadline) => {
                    *clock = deadline;
                    disco.handle_timeout(deadline);
                }
                None => break,
            }
        }
    }
    done
}

fn jid(s: &str) -> Jid {
    s.parse().expect("a valid JID")
}

fn main() {
    let world = world();
    let start = Instant::now();
    let mut clock = start;
    let mut config = Config::default();
    config.own_jid = Some(jid("juliet@example.org/balcony"));
    config.default_timeout = Some(Duration::from_secs(5));
    let mut disco = DiscoMachine::new(config);
    let server = jid("example.org");
    let options = QueryOptions::default();

    // 1. The server's own info and its items, concurrently.
    let info = disco
        .query_info(clock, &server, None, options)
        .expect("valid query");
    let items = disco
        .query_items(clock, &server, None, options)
        .expect("valid query");
    let mut done = settle(&mut disco, &mut clock, &world, &[info, items]);

    println!("example.org");
    if let Some(Event::Info {
        result: Ok(info), ..
    }) = done.remove(&info)
    {
        for identity in &info.identities {
            println!(
                "├─ identity {}/{} {:?}",
                identity.category,
                identity.type_,
                identity.name.as_deref().unwrap_or("")
            );
        }
        println!("├─ {} features", info.features.len());
        for form in &info.extensions {
            println!("├─ form {}", form.form_type().unwrap_or("(no FORM_TYPE)"));
        }
    }
    let Some(Event::Items {
        result: Ok(items), ..
    }) = done.remove(&items)
    else {
        eprintln!("the server listed no items");
        std::process::exit(1);
    };

    // 2. Every item's info, twice over: the second round is aliased to the first.
    let mut queries = Vec::new();
    for item in &items.items {
        for _ in 0..2 {
            let id = disco
                .query_info(clock, &item.jid, item.node.as_deref(), options)
                .expect("valid query");
            queries.push((item, id));
        }
    }
    let ids: Vec<_> = queries.iter().map(|(_, id)| *id).collect();
    let mut done = settle(&mut disco, &mut clock, &world, &ids);
    let count = items.items.len();
    for (index, (item, id)) in queries.iter().enumerate().step_by(2) {
        let branch = if index / 2 + 1 == count {
            "└─"
        } else {
            "├─"
        };
        let description = match done.remove(id) {
            Some(Event::Info {
                result: Ok(info), ..
            }) => {
                let identity = &info.identities[0];
                let features: Vec<_> = info.features.iter().map(String::as_str).collect();
                format!(
                    "{}/{} [{}]",
                    identity.category,
                    identity.type_,
                    features.join(", ")
                )
            }
            Some(Event::Info {
                result: Err(QueryError::Timeout),
                ..
            }) => "no answer (timed out)".to_owned(),
            Some(Event::Info {
                result: Err(error), ..
            }) => format!("error: {error}"),
            _ => "?".to_owned(),
        };
        let name = item
            .name
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        println!("{branch} {}{name}: {description}", item.jid);
    }

    // 3. Find the upload service by feature: answered from the cache, nothing sent.
    let before = disco.stats().requests_sent;
    let mut lookups = Vec::new();
    for item in &items.items {
        lookups.push((
            item.jid.clone(),
            disco
                .query_info(clock, &item.jid, None, options)
                .expect("valid query"),
        ));
    }
    let ids: Vec<_> = lookups.iter().map(|(_, id)| *id).collect();
    let done = settle(&mut disco, &mut clock, &world, &ids);
    let upload = lookups.iter().find_map(|(jid, id)| match done.get(id) {
        Some(Event::Info {
            result: Ok(info), ..
        }) if info.features.contains("urn:xmpp:http:upload:0") => Some(jid),
        _ => None,
    });
    println!();
    println!(
        "upload service: {} (found with {} new requests: failures are not cached, so the \
         entities that failed were asked again)",
        upload.map(Jid::to_string).unwrap_or_else(|| "none".into()),
        disco.stats().requests_sent - before
    );

    let stats = disco.stats();
    println!(
        "queries: {}, IQs sent: {}, answered from cache: {}, aliased: {}, timed out: {}",
        stats.requests_sent + stats.cache_hits + stats.aliased,
        stats.requests_sent,
        stats.cache_hits,
        stats.aliased,
        stats.timeouts
    );
    println!("simulated time: {:?}", clock - start);
}
