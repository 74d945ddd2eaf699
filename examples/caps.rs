//! Entity capabilities end to end, in memory: a hundred contacts running three programs log in,
//! Juliet learns what each supports with one request per program, a liar among them fools
//! nobody but itself, and the verified answers are saved to a file and loaded by Juliet's next
//! run, which then asks nothing at all. With the `serde` feature, the same answers also go
//! through a capsdb JSON file, the form a client ships so that even its very first login asks
//! nothing. Run with `cargo run --features serde --example caps`.

use std::collections::HashMap;
use std::error::Error;
use std::fs;
use std::time::Instant;

use xmpp_disco::caps::CapsStore;
use xmpp_disco::xmpp_parsers::jid::Jid;
use xmpp_disco::xmpp_parsers::minidom::Element;
use xmpp_disco::{Config, DiscoMachine, Event, QueryOptions};

const JINGLE: &str = "urn:xmpp:jingle:1";

/// The programs the contacts run: a name and the features each adds.
const PROGRAMS: [(&str, &[&str]); 3] = [
    ("Orchard", &["http://jabber.org/protocol/muc", JINGLE]),
    ("Street", &["http://jabber.org/protocol/muc"]),
    ("Square", &["urn:xmpp:ping"]),
];

/// A contact's machine: its program's identity and features, caps on.
fn contact(jid: &Jid, program: usize) -> Result<DiscoMachine, Box<dyn Error>> {
    let (name, features) = PROGRAMS[program];
    let mut config = Config::default();
    config.own_jid = Some(jid.clone());
    // Answers say who answers: no server in between stamps them.
    config.stamp_from = true;
    config.caps_node = Some(format!("https://example.org/{}", name.to_lowercase()));
    let mut machine = DiscoMachine::new(config);
    let mut root = machine.root_mut();
    root.register_identity("client", "pc", name)?;
    root.unregister_identity("client", "bot")?;
    for feature in features {
        root.register_feature(*feature)?;
    }
    drop(root);
    while machine.poll_event().is_some() {}
    Ok(machine)
}

/// The presence `machine` sends, carrying `caps` (its own, unless it lies).
fn presence(from: &Jid, caps: Vec<Element>) -> Result<Element, Box<dyn Error>> {
    let mut presence: Element =
        format!("<presence xmlns='jabber:client' from='{from}'/>").parse()?;
    for c in caps {
        presence.append_child(c);
    }
    Ok(presence)
}

/// Carries Juliet's requests to the contacts and their answers back until all is quiet;
/// returns how many requests Juliet sent.
fn route(
    now: Instant,
    juliet: &mut DiscoMachine,
    contacts: &mut HashMap<Jid, DiscoMachine>,
) -> usize {
    let mut sent = 0;
    while let Some(transmit) = juliet.poll_transmit() {
        sent += 1;
        let request = transmit.into_element();
        let to = request.attr("to").and_then(|to| to.parse::<Jid>().ok());
        let Some(peer) = to.and_then(|to| contacts.get_mut(&to)) else {
            continue;
        };
        let _ = peer.handle_stanza(now, request);
        while let Some(reply) = peer.poll_transmit() {
            let _ = juliet.handle_stanza(now, reply.into_element());
        }
    }
    sent
}

/// Juliet asks every contact whether it does Jingle; returns how many do.
fn ask_everyone(
    now: Instant,
    juliet: &mut DiscoMachine,
    contacts: &mut HashMap<Jid, DiscoMachine>,
    order: &[Jid],
) -> Result<(usize, usize), Box<dyn Error>> {
    for jid in order {
        juliet.supports(now, jid, None, JINGLE, QueryOptions::default())?;
    }
    let requests = route(now, juliet, contacts);
    let mut jingle = 0;
    while let Some(event) = juliet.poll_event() {
        if let Event::Supports { result, .. } = event {
            jingle += usize::from(result?.supported);
        }
    }
    Ok((requests, jingle))
}

fn main() -> Result<(), Box<dyn Error>> {
    let now = Instant::now();
    let mut contacts = HashMap::new();
    let mut order = Vec::new();
    let mut presences = Vec::new();
    for n in 0..100 {
        let jid: Jid = format!("contact{n}@montague.example/device").parse()?;
        let mut machine = contact(&jid, n % PROGRAMS.len())?;
        let caps = machine.caps_announcement().ok_or("caps are on")?;
        presences.push(presence(&jid, caps.elements())?);
        contacts.insert(jid.clone(), machine);
        order.push(jid);
    }
    // Tybalt runs Square but claims Orchard's hash, Jingle included, and answers at Orchard's
    // caps node with Square's info.
    let tybalt: Jid = "tybalt@capulet.example/sword".parse()?;
    let orchard = contacts
        .get_mut(&order[0])
        .and_then(|machine| machine.caps_announcement())
        .ok_or("caps are on")?;
    let hash = &orchard.modern().ok_or("XEP-0390 is on")?.hashes[0];
    let mut liar = contact(&tybalt, 2)?;
    let square = liar.root().clone();
    liar.mount(
        format!("urn:xmpp:caps#sha-256.{}", hash.to_base64()),
        square,
    )?;
    // Shown first, so that Juliet asks him for Orchard's hash before anyone else.
    presences.insert(0, presence(&tybalt, orchard.elements())?);
    contacts.insert(tybalt.clone(), liar);
    order.insert(0, tybalt.clone());

    let mut juliet = DiscoMachine::new(Config::default());
    for presence in &presences {
        juliet.observe_presence_element(now, presence);
    }
    let (requests, jingle) = ask_everyone(now, &mut juliet, &mut contacts, &order)?;
    let stats = juliet.stats();
    println!(
        "login: {} contacts, {} programs: {requests} requests sent, {} verified, {} rejected, \
         {} queries answered from the hash cache or a shared request",
        order.len(),
        PROGRAMS.len(),
        stats.caps_verified,
        stats.caps_rejected,
        stats.caps_hits + stats.caps_joined
    );
    println!("{jingle} contacts do Jingle (Orchard's 34; Tybalt's lie answered only Tybalt)");
    assert_eq!(jingle, 34, "the lie reached someone");

    // Saved at the end of the run, one answer per line ...
    let path = std::env::temp_dir().join("xmpp-disco-caps.xml");
    let saved: Vec<String> = juliet.export_caps().iter().map(String::from).collect();
    fs::write(&path, saved.join("\n"))?;
    // ... and loaded by the next run, verified again.
    let mut next = DiscoMachine::new(Config::default());
    let stored = fs::read_to_string(&path)?;
    let entries = stored
        .lines()
        .filter_map(|line| line.parse::<Element>().ok());
    let loaded = next.import_caps(entries, CapsStore::Learned).taken;
    for presence in &presences[1..] {
        next.observe_presence_element(now, presence);
    }
    let (requests, jingle) = ask_everyone(now, &mut next, &mut contacts, &order[1..])?;
    println!(
        "next run: {loaded} verified answers loaded from {}: {requests} requests sent, \
         {jingle} contacts do Jingle",
        path.display()
    );
    assert_eq!(requests, 0);
    fs::remove_file(&path)?;
    ship_a_capsdb_file(now, &juliet, &presences[1..], &mut contacts, &order[1..])
}

/// The verified answers as a capsdb JSON file, loaded by a machine on its very first start.
#[cfg(feature = "serde")]
fn ship_a_capsdb_file(
    now: Instant,
    juliet: &DiscoMachine,
    presences: &[Element],
    contacts: &mut HashMap<Jid, DiscoMachine>,
    order: &[Jid],
) -> Result<(), Box<dyn Error>> {
    use xmpp_disco::caps;

    let path = std::env::temp_dir().join("xmpp-disco-capsdb.json");
    fs::write(&path, caps::to_json(&juliet.export_capsdb()))?;
    let mut first_start = DiscoMachine::new(Config::default());
    let shipped = caps::from_json(&fs::read_to_string(&path)?)?;
    let loaded = first_start.import_capsdb(shipped, CapsStore::Shipped).taken;
    for presence in presences {
        first_start.observe_presence_element(now, presence);
    }
    let (requests, jingle) = ask_everyone(now, &mut first_start, contacts, order)?;
    println!(
        "first start with a shipped capsdb file ({}): {loaded} hashes loaded, {requests} \
         requests sent, {jingle} contacts do Jingle",
        path.display()
    );
    assert_eq!(requests, 0);
    fs::remove_file(&path)?;
    Ok(())
}

#[cfg(not(feature = "serde"))]
fn ship_a_capsdb_file(
    _: Instant,
    _: &DiscoMachine,
    _: &[Element],
    _: &mut HashMap<Jid, DiscoMachine>,
    _: &[Jid],
) -> Result<(), Box<dyn Error>> {
    println!("(with --features serde, the same answers also go through a capsdb JSON file)");
    Ok(())
}
