//! New TLS connections per second against a server on 127.0.0.1, for the TLS rows of
//! `scripts/bench-httpd.sh`: THREADS threads, each a loop of connect, handshake, one
//! `GET PATH HTTP/1.0` and reading the response until the server closes, for SECONDS.
//!
//! ```text
//! tls_handshakes PORT THREADS SECONDS new|resume [PATH]
//! ```
//!
//! `new`: every connection a full handshake (no session offered); `resume`: the client keeps
//! the sessions (tickets, or a TLS 1.2 session ID) and offers one on each connection.
//! rustls with aws-lc-rs as the client, so that the client's share of the two cores stays
//! small: the two cores run client and server, so a connection's rate is bounded by the
//! client's CPU plus the server's, and every CPU microsecond the client wastes pulls the
//! servers' rates together. (`openssl s_time` spends ~1-1.5 ms of CPU per full handshake
//! with OpenSSL 3.0, several times the servers' cost; rustls with ring ~0.25 ms, a quarter
//! of it in ring's X25519, which aws-lc's assembly does in about half the time.) The same
//! client does the same work against every server. The certificate chain is
//! not checked (the script made it), the handshake signature is, as any client does.
//! Prints `connections N resumed R failed F seconds S`; with `TLS_HANDSHAKES_DEBUG` set, one
//! line per connection: the key exchange group, the cipher suite, full or resumed.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::Resumption;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, HandshakeKind};

/// Accepts any certificate chain but checks the handshake's signatures with it.
#[derive(Debug)]
struct SignatureOnly(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for SignatureOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// What one thread did.
#[derive(Default)]
struct Counts {
    connections: u64,
    resumed: u64,
    failed: u64,
}

/// One connection: handshake, request, the whole response. Ok(resumed) on a 200.
fn one_connection(
    config: &Arc<ClientConfig>,
    addr: SocketAddr,
    request: &[u8],
) -> Result<bool, String> {
    let mut sock = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    let _ = sock.set_nodelay(true);
    let _ = sock.set_read_timeout(Some(Duration::from_secs(5)));
    let name = ServerName::IpAddress(Ipv4Addr::LOCALHOST.into());
    let mut conn = ClientConnection::new(Arc::clone(config), name).map_err(|e| e.to_string())?;
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    tls.write_all(request).map_err(|e| format!("write: {e}"))?;
    let mut response = Vec::with_capacity(2048);
    match tls.read_to_end(&mut response) {
        Ok(_) => {}
        // A server that closes without close_notify: the response is what matters here.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
        Err(e) => return Err(format!("read: {e}")),
    }
    if !(response.starts_with(b"HTTP/1.1 200") || response.starts_with(b"HTTP/1.0 200")) {
        return Err("no 200 response".to_string());
    }
    if std::env::var_os("TLS_HANDSHAKES_DEBUG").is_some() {
        eprintln!(
            "{:?} {:?} {:?}",
            conn.negotiated_key_exchange_group().map(|g| g.name()),
            conn.negotiated_cipher_suite(),
            conn.handshake_kind()
        );
    }
    Ok(conn.handshake_kind() == Some(HandshakeKind::Resumed))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: tls_handshakes PORT THREADS SECONDS new|resume [PATH]";
    let (Some(port), Some(threads), Some(seconds), Some(mode)) = (
        args.first().and_then(|a| a.parse::<u16>().ok()),
        args.get(1).and_then(|a| a.parse::<usize>().ok()),
        args.get(2).and_then(|a| a.parse::<f64>().ok()),
        args.get(3).filter(|m| *m == "new" || *m == "resume"),
    ) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    if threads == 0 || !(seconds > 0.0 && seconds < 3600.0) {
        eprintln!("{usage} (THREADS >= 1, 0 < SECONDS < 3600)");
        std::process::exit(2);
    }
    let path = args.get(4).map_or("/index.html", String::as_str);
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").into_bytes();

    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    // X25519 first and alone in the key share, as OpenSSL 3.0, browsers and curl offer it:
    // not aws-lc-rs' default X25519MLKEM768 hybrid (which the peers' OpenSSL 3.0 lacks, and
    // which would add a post-quantum share to every ClientHello).
    use rustls::crypto::aws_lc_rs::kx_group;
    provider.kx_groups = vec![kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1];
    let provider = Arc::new(provider);
    let verifier = Arc::new(SignatureOnly(provider.signature_verification_algorithms));
    let mut config = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports TLS 1.2 and 1.3")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    if mode == "new" {
        config.resumption = Resumption::disabled();
    }
    let config = Arc::new(config);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);

    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let config = Arc::clone(&config);
            let request = request.clone();
            std::thread::spawn(move || {
                let mut c = Counts::default();
                let mut last_error = None;
                while Instant::now() < deadline {
                    match one_connection(&config, addr, &request) {
                        Ok(resumed) => {
                            c.connections += 1;
                            c.resumed += u64::from(resumed);
                        }
                        Err(e) => {
                            c.failed += 1;
                            last_error = Some(e);
                            // A refused or failing server: do not spin on it.
                            std::thread::sleep(Duration::from_millis(10));
                        }
                    }
                }
                (c, last_error)
            })
        })
        .collect();
    let mut total = Counts::default();
    for h in handles {
        let Ok((c, last_error)) = h.join() else {
            eprintln!("tls_handshakes: a client thread panicked");
            std::process::exit(1);
        };
        total.connections += c.connections;
        total.resumed += c.resumed;
        total.failed += c.failed;
        if let Some(e) = last_error {
            eprintln!("tls_handshakes: {e}");
        }
    }
    println!(
        "connections {} resumed {} failed {} seconds {:.3}",
        total.connections,
        total.resumed,
        total.failed,
        start.elapsed().as_secs_f64()
    );
}
