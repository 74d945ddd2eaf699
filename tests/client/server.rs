//! A scripted XMPP server on loopback: enough of RFC 6120 (PLAIN, binding) and XEP-0198
//! (enable, resume, acks) to log a tokio-xmpp client in, then misbehave the way real servers
//! and networks do, one behaviour per test.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
                      xmlns:stream='http://etherx.jabber.org/streams' id='s1' \
                      from='localhost' version='1.0'>";
const PLAIN: &str = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
                     <mechanism>PLAIN</mechanism></mechanisms></stream:features>";
const STARTTLS: &str = "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>\
                        <required/></starttls></stream:features>";
const SM: &str = "urn:xmpp:sm:3";

/// What the server does once a client is logged in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Then {
    /// Serves: acks, and whatever the test injects.
    Serve,
    /// Closes the connection at once (after `<enabled/>` when stream management is on).
    Drop,
    /// Goes silent: reads everything, writes nothing, never closes (a hung server).
    Freeze,
    /// Stops reading and writing, never closes: what the client sends piles up in the
    /// connection's buffers (a server stuck in a loop).
    Stall,
}

/// How the server behaves.
#[derive(Clone, Copy, Debug)]
pub struct Behaviour {
    /// Offer XEP-0198 and let clients enable it.
    pub stream_management: bool,
    /// What follows the login, on each connection in turn; the last one repeats.
    pub then: &'static [Then],
    /// Answer `<resume/>` as ejabberd does after a restart: `<failed/>` without `h`.
    pub refuse_resumption: bool,
    /// Stop listening after this many connections (later ones are refused).
    pub accept: Option<usize>,
    /// Offer STARTTLS (required), then answer it with `<failure/>` and close.
    pub refuse_starttls: bool,
    /// Answer the authentication only after this long.
    pub slow_authentication: Option<Duration>,
    /// Answer resource binding (never, if not).
    pub bind: bool,
    /// Keep every stanza received (off for floods, whose answers would weigh on the memory
    /// the test measures).
    pub record: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            stream_management: false,
            then: &[Then::Serve],
            refuse_resumption: false,
            accept: None,
            refuse_starttls: false,
            slow_authentication: None,
            bind: true,
            record: true,
        }
    }
}

/// What a test asks of the newest connection.
#[derive(Debug)]
pub enum Control {
    /// Writes raw XML.
    Write(String),
    /// Writes this many disco#info requests to the client, as fast as it reads them.
    Flood(usize),
    /// Writes this many chat messages to the client (bodies `flood 0`, `flood 1`, ...), as fast
    /// as it reads them.
    Messages(usize),
    /// Reads the client's stream (the default), or stops reading it.
    Read(bool),
    /// Closes the connection.
    Drop,
}

/// A running scripted server.
pub struct Server {
    pub port: u16,
    /// Connections accepted so far.
    pub connections: Arc<AtomicUsize>,
    /// Resumptions asked for so far.
    pub resumptions: Arc<AtomicUsize>,
    /// IQ results received so far (the client's answers).
    pub results: Arc<AtomicUsize>,
    /// Every stanza received, with the number of the connection it came on (when recorded).
    pub stanzas: Arc<Mutex<Vec<(usize, String)>>>,
    /// What to do on the newest connection.
    inject: Arc<Mutex<Option<mpsc::UnboundedSender<Control>>>>,
}

impl Server {
    pub async fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let port = listener.local_addr().expect("an address").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let resumptions = Arc::new(AtomicUsize::new(0));
        let results = Arc::new(AtomicUsize::new(0));
        let stanzas = Arc::new(Mutex::new(Vec::new()));
        let inject = Arc::new(Mutex::new(None));
        let (counted, resumed, injector) = (
            Arc::clone(&connections),
            Arc::clone(&resumptions),
            Arc::clone(&inject),
        );
        let (answered, heard) = (Arc::clone(&results), Arc::clone(&stanzas));
        // The stream management session's count of stanzas received, kept across connections
        // so that a resumption says how many it really got.
        let counted_stanzas = Arc::new(AtomicU32::new(0));
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let number = counted.fetch_add(1, Ordering::SeqCst);
                let then = behaviour
                    .then
                    .get(number)
                    .or(behaviour.then.last())
                    .copied()
                    .unwrap_or(Then::Serve);
                let (injected, injections) = mpsc::unbounded_channel();
                *injector.lock().expect("not poisoned") = Some(injected);
                let connection = Connection {
                    socket,
                    behaviour,
                    then,
                    number,
                    resumptions: Arc::clone(&resumed),
                    results: Arc::clone(&answered),
                    stanzas: Arc::clone(&heard),
                    injections,
                    authenticated: false,
                    received: Arc::clone(&counted_stanzas),
                };
                tokio::spawn(connection.run());
                if behaviour.accept.is_some_and(|limit| number + 1 >= limit) {
                    return;
                }
            }
        });
        Self {
            port,
            connections,
            resumptions,
            results,
            stanzas,
            inject,
        }
    }

    /// Writes `xml` on the newest connection.
    pub fn inject(&self, xml: &str) {
        self.control(Control::Write(xml.to_owned()));
    }

    /// Asks `control` of the newest connection.
    pub fn control(&self, control: Control) {
        if let Some(injected) = self.inject.lock().expect("not poisoned").as_ref() {
            let _ = injected.send(control);
        }
    }

    /// The stanzas received so far whose text contains `needle`, with their connection.
    pub fn received(&self, needle: &str) -> Vec<(usize, String)> {
        let stanzas = self.stanzas.lock().expect("not poisoned");
        stanzas
            .iter()
            .filter(|(_, stanza)| stanza.contains(needle))
            .cloned()
            .collect()
    }

    pub fn results(&self) -> usize {
        self.results.load(Ordering::SeqCst)
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn resumptions(&self) -> usize {
        self.resumptions.load(Ordering::SeqCst)
    }
}

struct Connection {
    socket: TcpStream,
    behaviour: Behaviour,
    then: Then,
    number: usize,
    resumptions: Arc<AtomicUsize>,
    results: Arc<AtomicUsize>,
    stanzas: Arc<Mutex<Vec<(usize, String)>>>,
    injections: mpsc::UnboundedReceiver<Control>,
    authenticated: bool,
    /// Stanzas received since stream management was enabled (the `h` of our acks), on this
    /// connection and the ones it resumed.
    received: Arc<AtomicU32>,
}

/// What a piece of the client's stream asks of the server.
enum Step {
    Write(String),
    WriteThenLoggedIn(String),
    WriteThenClose(String),
    Close,
    Nothing,
}

impl Connection {
    async fn run(mut self) {
        let mut heard = String::new();
        let mut frozen = false;
        let mut reading = true;
        loop {
            let mut buffer = [0; 4096];
            let read = tokio::select! {
                read = self.socket.read(&mut buffer), if reading => read,
                Some(control) = self.injections.recv() => {
                    let xml = match control {
                        Control::Write(xml) => xml,
                        Control::Flood(count) | Control::Messages(count) => {
                            let write = match control {
                                Control::Flood(_) => flood,
                                _ => messages,
                            };
                            // In chunks, so that the flood's own XML weighs little.
                            for first in (0..count).step_by(100) {
                                let chunk = write(first..count.min(first + 100));
                                if self.socket.write_all(chunk.as_bytes()).await.is_err() {
                                    return;
                                }
                            }
                            continue;
                        }
                        Control::Read(read) => {
                            reading = read;
                            continue;
                        }
                        Control::Drop => return,
                    };
                    if !frozen && self.socket.write_all(xml.as_bytes()).await.is_err() {
                        return;
                    }
                    continue;
                }
            };
            match read {
                Ok(0) | Err(_) => return,
                Ok(count) => heard.push_str(&String::from_utf8_lossy(&buffer[..count])),
            }
            while let Some((piece, used)) = next_piece(&heard) {
                let step = self.answer(&piece);
                heard.drain(..used);
                if frozen {
                    continue;
                }
                if let (Some(delay), true) = (
                    self.behaviour.slow_authentication,
                    piece.starts_with("<auth"),
                ) {
                    tokio::time::sleep(delay).await;
                }
                let (reply, logged_in) = match step {
                    Step::Write(reply) => (reply, false),
                    Step::WriteThenLoggedIn(reply) => (reply, true),
                    Step::WriteThenClose(reply) => {
                        let _ = self.socket.write_all(reply.as_bytes()).await;
                        return;
                    }
                    Step::Close => return,
                    Step::Nothing => continue,
                };
                if self.socket.write_all(reply.as_bytes()).await.is_err() {
                    return;
                }
                if logged_in {
                    match self.then {
                        Then::Serve => {}
                        Then::Drop => return,
                        Then::Freeze => frozen = true,
                        Then::Stall => {
                            // Held, never read, until the client goes.
                            std::future::pending::<()>().await;
                        }
                    }
                }
            }
        }
    }

    fn answer(&mut self, piece: &str) -> Step {
        if piece.starts_with("<?xml") {
            return Step::Nothing;
        }
        if piece.starts_with("<stream:stream") {
            let features = if !self.authenticated && self.behaviour.refuse_starttls {
                STARTTLS.to_owned()
            } else if !self.authenticated {
                PLAIN.to_owned()
            } else if self.behaviour.stream_management {
                format!(
                    "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>\
                     <sm xmlns='{SM}'/></stream:features>"
                )
            } else {
                "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>\
                 </stream:features>"
                    .to_owned()
            };
            return Step::Write(format!("{HEADER}{features}"));
        }
        if piece.starts_with("</stream:stream") {
            return Step::Close;
        }
        if piece.starts_with("<starttls") {
            return Step::WriteThenClose(
                "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>".into(),
            );
        }
        if piece.starts_with("<auth") {
            self.authenticated = true;
            return Step::Write("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>".into());
        }
        if piece.starts_with("<iq") && piece.contains("urn:ietf:params:xml:ns:xmpp-bind") {
            if !self.behaviour.bind {
                return Step::Nothing;
            }
            let id = attribute(piece, "id").unwrap_or_default();
            let reply = format!(
                "<iq type='result' id='{id}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\
                 <jid>juliet@localhost/r{}</jid></bind></iq>",
                self.number
            );
            return if self.behaviour.stream_management {
                Step::Write(reply)
            } else {
                Step::WriteThenLoggedIn(reply)
            };
        }
        if piece.starts_with("<enable") {
            self.received.store(0, Ordering::SeqCst);
            return Step::WriteThenLoggedIn(format!(
                "<enabled xmlns='{SM}' id='sm-{}' resume='true'/>",
                self.number
            ));
        }
        if piece.starts_with("<resume") {
            self.resumptions.fetch_add(1, Ordering::SeqCst);
            return if self.behaviour.refuse_resumption {
                // ejabberd after a restart: no `h`, which xmpp-parsers 0.23 cannot read.
                Step::Write(format!(
                    "<failed xmlns='{SM}'><item-not-found \
                     xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>"
                ))
            } else {
                let h = self.received.load(Ordering::SeqCst);
                Step::WriteThenLoggedIn(format!("<resumed xmlns='{SM}' h='{h}' previd='x'/>"))
            };
        }
        if piece.starts_with("<r ") || piece.starts_with("<r/") {
            let h = self.received.load(Ordering::SeqCst);
            return Step::Write(format!("<a xmlns='{SM}' h='{h}'/>"));
        }
        if ["<iq", "<presence", "<message"]
            .iter()
            .any(|stanza| piece.starts_with(stanza))
        {
            self.received.fetch_add(1, Ordering::SeqCst);
            if piece.starts_with("<iq") && attribute(piece, "type").as_deref() == Some("result") {
                self.results.fetch_add(1, Ordering::SeqCst);
            }
            if self.behaviour.record {
                let mut stanzas = self.stanzas.lock().expect("not poisoned");
                stanzas.push((self.number, piece.to_owned()));
            }
        }
        Step::Nothing
    }
}

/// Disco#info requests from a contact, as a server relays them, numbered `numbers`.
fn flood(numbers: std::ops::Range<usize>) -> String {
    numbers
        .map(|n| {
            format!(
                "<iq type='get' id='flood-{n}' from='romeo@localhost/orchard' \
                 to='juliet@localhost/r0'><query xmlns='http://jabber.org/protocol/disco#info'/>\
                 </iq>"
            )
        })
        .collect()
}

/// Chat messages from a contact, numbered `numbers`.
fn messages(numbers: std::ops::Range<usize>) -> String {
    numbers
        .map(|n| {
            format!(
                "<message type='chat' id='m-{n}' from='romeo@localhost/orchard' \
                 to='juliet@localhost/r0'><body>flood {n}</body></message>"
            )
        })
        .collect()
}

/// The value of `name` in the first tag of `piece`, quoted either way.
pub fn attribute(piece: &str, name: &str) -> Option<String> {
    let tag = &piece[..piece.find('>')?];
    for quote in ['\'', '"'] {
        let key = format!(" {name}={quote}");
        if let Some(start) = tag.find(&key) {
            let rest = &tag[start + key.len()..];
            return Some(rest[..rest.find(quote)?].to_owned());
        }
    }
    None
}

/// The next whole piece of the client's stream (the XML declaration, the stream header or
/// footer, or one top-level element) and the bytes it takes; `None` until one is complete.
fn next_piece(heard: &str) -> Option<(String, usize)> {
    let start = heard.find('<')?;
    let rest = &heard[start..];
    let single = |end: &str| rest.find(end).map(|at| at + end.len());
    let length = if rest.starts_with("<?") {
        single("?>")?
    } else if rest.starts_with("<stream:stream") || rest.starts_with("</stream:stream") {
        single(">")?
    } else {
        let mut depth = 0usize;
        let mut at = 0;
        loop {
            let open = at + rest[at..].find('<')?;
            let close = open + rest[open..].find('>')?;
            let tag = &rest[open..=close];
            if tag.starts_with("</") {
                depth = depth.saturating_sub(1);
            } else if !tag.ends_with("/>") {
                depth += 1;
            }
            at = close + 1;
            if depth == 0 {
                break at;
            }
        }
    };
    Some((rest[..length].to_owned(), start + length))
}
