//! A TCP relay on loopback between a client and a server, which a test can freeze and cut:
//! a lost connection without a stopped server, so that the server still holds the session
//! (and resumes it, where it does XEP-0198).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

#[derive(Default)]
struct State {
    connections: AtomicUsize,
    frozen: AtomicBool,
    relays: Mutex<Vec<JoinHandle<()>>>,
}

/// The relay; every connection to [`port`](Self::port) is relayed to the target.
pub struct Proxy {
    port: u16,
    state: Arc<State>,
    listener: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free port of 127.0.0.1 and relays to `target` (`HOST:PORT`).
    pub async fn start(target: &str) -> Proxy {
        let target: SocketAddr = tokio::net::lookup_host(target)
            .await
            .expect("the target resolves")
            .next()
            .expect("the target has an address");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let port = listener.local_addr().expect("an address").port();
        let state = Arc::new(State::default());
        let accepting = Arc::clone(&state);
        let listener = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                accepting.connections.fetch_add(1, Ordering::SeqCst);
                let relaying = Arc::clone(&accepting);
                let relay = tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(target).await {
                        relay(client, server, &relaying.frozen).await;
                    }
                });
                accepting.relays.lock().expect("the lock").push(relay);
            }
        });
        Proxy {
            port,
            state,
            listener,
        }
    }

    /// Where clients connect.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many connections clients have opened so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Stops relaying in both directions: what either side sends from now on is dropped, and
    /// the connections stay open.
    pub fn freeze(&self) {
        self.state.frozen.store(true, Ordering::SeqCst);
    }

    /// Relays again what either side sends from now on (what was sent while frozen is lost).
    pub fn thaw(&self) {
        self.state.frozen.store(false, Ordering::SeqCst);
    }

    /// Closes every relayed connection; new ones are relayed normally.
    pub fn cut(&self) {
        for relay in self.state.relays.lock().expect("the lock").drain(..) {
            relay.abort();
        }
        self.state.frozen.store(false, Ordering::SeqCst);
    }

    /// Cuts every connection and stops listening: from now on, connecting is refused.
    pub fn stop(&self) {
        self.listener.abort();
        self.cut();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn relay(client: TcpStream, server: TcpStream, frozen: &AtomicBool) {
    let (mut client_in, mut client_out) = client.into_split();
    let (mut server_in, mut server_out) = server.into_split();
    tokio::select! {
        () = pipe(&mut client_in, &mut server_out, frozen) => {}
        () = pipe(&mut server_in, &mut client_out, frozen) => {}
    }
}

async fn pipe(
    from: &mut (impl AsyncReadExt + Unpin),
    to: &mut (impl AsyncWriteExt + Unpin),
    frozen: &AtomicBool,
) {
    let mut buffer = vec![0; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        if frozen.load(Ordering::SeqCst) {
            continue;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}
