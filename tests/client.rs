//! The tokio-xmpp integration's logins, without a real server: every way a login fails is
//! said in words. A few lines of scripted "server" on loopback stand in where the failure
//! needs one that speaks XMPP. The sessions themselves, against Prosody and ejabberd, are in
//! `tests/interop.rs`.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use xmpp_disco::client::{Login, LoginError, LoginStage, Server};
use xmpp_disco::xmpp_parsers::jid::BareJid;

const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
                      xmlns:stream='http://etherx.jabber.org/streams' id='s1' \
                      from='localhost' version='1.0'>";

fn juliet() -> BareJid {
    BareJid::new("juliet@localhost").expect("a valid JID")
}

fn plaintext(host: &str, port: u16) -> Login {
    Login::new(juliet(), "secret")
        .server(Server::Plaintext {
            host: host.into(),
            port,
        })
        .timeout(Duration::from_secs(5))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

async fn login_error(login: Login) -> LoginError {
    match login.connect().await {
        Ok(_) => panic!("the login succeeded"),
        Err(error) => error,
    }
}

/// A port on loopback nothing listens on.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    listener.local_addr().expect("an address").port()
}

/// A one-connection server that answers each thing the client says with the next reply, once
/// it has read up to and including the matching `until` text.
async fn scripted(script: Vec<(&'static str, String)>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let port = listener.local_addr().expect("an address").port();
    tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let mut heard = String::new();
        for (until, reply) in script {
            while !heard.contains(until) {
                let mut buffer = [0; 1024];
                match socket.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(read) => heard.push_str(&String::from_utf8_lossy(&buffer[..read])),
                }
            }
            heard.clear();
            if socket.write_all(reply.as_bytes()).await.is_err() {
                return;
            }
        }
        // Hold the connection, silent, until the client goes.
        let mut buffer = [0; 1024];
        while let Ok(1..) = socket.read(&mut buffer).await {}
    });
    port
}

#[test]
fn a_port_nothing_listens_on_is_refused_by_address() {
    runtime().block_on(async {
        let port = closed_port().await;
        let error = login_error(plaintext("127.0.0.1", port)).await;
        assert!(
            matches!(&error, LoginError::Refused { address } if *address == format!("127.0.0.1:{port}")),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!("nothing accepts connections at 127.0.0.1:{port} (connection refused)")
        );
    });
}

#[test]
fn a_host_is_given_by_name_as_well_as_by_address() {
    runtime().block_on(async {
        // `localhost` resolves (to 127.0.0.1 and maybe ::1) and every address refuses: a
        // name is accepted, and what fails is said of the name the user gave.
        let port = closed_port().await;
        let error = login_error(plaintext("localhost", port)).await;
        assert!(
            matches!(&error, LoginError::Refused { address } if *address == format!("localhost:{port}")),
            "{error:?}"
        );
    });
}

#[test]
fn a_name_that_does_not_resolve_is_a_dns_error() {
    runtime().block_on(async {
        // `.invalid` never resolves (RFC 2606).
        let error = login_error(plaintext("xmpp.nonexistent.invalid", 5222)).await;
        assert!(
            matches!(&error, LoginError::Dns { name, .. } if name == "xmpp.nonexistent.invalid"),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .starts_with("cannot find xmpp.nonexistent.invalid in DNS: "),
            "{error}"
        );
    });
}

#[test]
fn a_server_that_never_speaks_times_out_while_connecting() {
    runtime().block_on(async {
        let port = scripted(Vec::new()).await;
        let login = plaintext("127.0.0.1", port).timeout(Duration::from_millis(300));
        let error = login_error(login).await;
        assert!(
            matches!(
                error,
                LoginError::Timeout {
                    stage: LoginStage::Connecting,
                    after
                } if after == Duration::from_millis(300)
            ),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "timed out after 300ms waiting for a connection to the server"
        );
    });
}

#[test]
fn a_server_for_another_domain_says_so() {
    runtime().block_on(async {
        let refusal = "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\
                       </stream:error></stream:stream>";
        let port = scripted(vec![(">", format!("{HEADER}{refusal}"))]).await;
        let error = login_error(plaintext("127.0.0.1", port)).await;
        assert!(
            matches!(&error, LoginError::UnknownDomain { domain, .. } if domain == "localhost"),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!(
                "the server at 127.0.0.1:{port} (plaintext) does not serve the domain localhost"
            )
        );
    });
}

const PLAIN_ONLY: &str = "<stream:features><mechanisms \
                          xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>\
                          </mechanisms></stream:features>";

#[test]
fn refused_credentials_name_the_account_and_the_condition() {
    runtime().block_on(async {
        let failure =
            "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>";
        let port = scripted(vec![
            (">", format!("{HEADER}{PLAIN_ONLY}")),
            ("</auth>", failure.to_owned()),
        ])
        .await;
        let error = login_error(plaintext("127.0.0.1", port)).await;
        assert!(
            matches!(&error, LoginError::BadCredentials { jid, condition }
                if *jid == juliet() && condition == "not-authorized"),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "the server refused the credentials of juliet@localhost (not-authorized)"
        );
    });
}

#[test]
fn a_server_closing_during_authentication_is_said_with_the_stage() {
    runtime().block_on(async {
        let port = scripted(vec![
            (">", format!("{HEADER}{PLAIN_ONLY}")),
            ("</auth>", "</stream:stream>".to_owned()),
        ])
        .await;
        let error = login_error(plaintext("127.0.0.1", port)).await;
        assert!(
            matches!(
                error,
                LoginError::Closed {
                    stage: LoginStage::Authenticating
                }
            ),
            "{error:?}"
        );
    });
}

#[test]
fn a_server_without_starttls_is_refused_when_tls_is_required() {
    runtime().block_on(async {
        let port = scripted(vec![(">", format!("{HEADER}{PLAIN_ONLY}"))]).await;
        let login = Login::new(juliet(), "secret")
            .server(Server::StartTls {
                host: "127.0.0.1".into(),
                port,
            })
            .timeout(Duration::from_secs(5));
        let error = login_error(login).await;
        assert!(matches!(error, LoginError::NoTls), "{error:?}");
    });
}
