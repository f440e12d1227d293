//! httpd over HTTPS with real clients: curl, openssl s_client, Python's ssl module. The test
//! makes its own CA, an intermediate CA and server certificates (ECDSA P-256, RSA 2048) with
//! the `openssl` command.

mod httpd_support;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use httpd_support::tls::Pki;
use httpd_support::*;

/// Starts httpd serving `root` over TLS with `cert` and `key`.
fn start_tls(root: &Path, cert: &Path, key: &Path, extra: &[&str]) -> Server {
    let (c, k) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let mut args = vec!["--tls-cert", c, "--tls-key", k];
    args.extend_from_slice(extra);
    Server::start(root, &args)
}

fn curl(ca: &Path, args: &[&str]) -> (String, Vec<u8>, String) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "-v",
            "--max-time",
            "20",
            "-D",
            "-",
            "-o",
            "-",
            "--cacert",
        ])
        .arg(ca)
        .args(args)
        .output()
        .expect("curl is installed");
    let verbose = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "curl {args:?}: {verbose}");
    let split = out
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(out.stdout.len(), |p| p + 4);
    (
        String::from_utf8_lossy(&out.stdout[..split]).into_owned(),
        out.stdout[split..].to_vec(),
        verbose,
    )
}

#[test]
fn curl_over_tls_with_a_chain_keep_alive_range_and_304() {
    let d = TempDir::new("tls-curl");
    let pki = Pki::new(d.path());
    let (cert, key) = pki.server("ecdsa", "ec");
    let site = TempDir::new("tls-curl-site");
    site.write("index.html", b"<p>hello tls</p>\n");
    site.write("big.bin", &pattern(3_000_000));
    let s = start_tls(site.path(), &cert, &key, &[]);
    let base = format!("https://localhost:{}", s.port);

    // Two requests on one connection: keep-alive over TLS, ALPN http/1.1.
    let (head, body, verbose) = curl(
        &pki.ca(),
        &[&format!("{base}/"), &format!("{base}/index.html")],
    );
    // curl writes both responses, each with its head, one after the other.
    let all = head + &String::from_utf8_lossy(&body);
    assert!(all.starts_with("HTTP/1.1 200 OK\r\n"), "{all}");
    assert_eq!(all.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{all}");
    assert_eq!(all.matches("<p>hello tls</p>\n").count(), 2, "{all}");
    assert!(
        verbose.contains("ALPN: server accepted http/1.1"),
        "{verbose}"
    );
    assert!(
        verbose.contains("Re-using existing connection"),
        "{verbose}"
    );

    // A large file is read and encrypted in chunks: every byte arrives.
    let (head, body, _) = curl(&pki.ca(), &[&format!("{base}/big.bin")]);
    assert!(head.contains("Content-Length: 3000000"), "{head}");
    assert!(body == pattern(3_000_000), "big.bin differs over TLS");

    let (head, body, _) = curl(&pki.ca(), &["-r", "100-199", &format!("{base}/big.bin")]);
    assert!(
        head.starts_with("HTTP/1.1 206 Partial Content\r\n"),
        "{head}"
    );
    assert!(body == pattern(3_000_000)[100..200]);

    let etag = head_field(&head, "ETag").expect("etag").to_string();
    let (head, body, _) = curl(
        &pki.ca(),
        &[
            "-H",
            &format!("If-None-Match: {etag}"),
            &format!("{base}/big.bin"),
        ],
    );
    assert!(head.starts_with("HTTP/1.1 304 Not Modified\r\n"), "{head}");
    assert!(body.is_empty());
}

/// `openssl s_client` with `args`, sending one `Connection: close` request; its output.
fn s_client(port: u16, ca: &Path, args: &[&str]) -> String {
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-CAfile",
        ])
        .arg(ca)
        .args(["-servername", "localhost", "-ign_eof"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl is installed");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn tls12_and_tls13_alpn_and_resumption_with_rsa_and_ecdsa() {
    let d = TempDir::new("tls-sclient");
    let pki = Pki::new(d.path());
    let site = TempDir::new("tls-sclient-site");
    site.write("index.html", b"hello s_client\n");
    for kind in ["rsa", "ec"] {
        let (cert, key) = pki.server(&format!("srv-{kind}"), kind);
        let s = start_tls(site.path(), &cert, &key, &[]);
        for (version, name) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
            let sess = d.path().join(format!("sess-{kind}{version}"));
            let sess = sess.to_str().unwrap();
            let first = s_client(
                s.port,
                &pki.ca(),
                &[version, "-alpn", "http/1.1", "-sess_out", sess],
            );
            assert!(
                first.contains("Verify return code: 0 (ok)"),
                "{kind} {version}: {first}"
            );
            assert!(
                first.contains(&format!("Protocol  : {name}"))
                    || first.contains(&format!(", {name},")),
                "{kind} {version}: {first}"
            );
            assert!(
                first.contains("ALPN protocol: http/1.1"),
                "{kind} {version}: {first}"
            );
            assert!(
                first.contains("HTTP/1.1 200 OK"),
                "{kind} {version}: {first}"
            );
            assert!(
                first.contains("hello s_client"),
                "{kind} {version}: {first}"
            );
            let again = s_client(s.port, &pki.ca(), &[version, "-sess_in", sess]);
            assert!(
                again.contains(&format!("Reused, {name}")),
                "{kind} {version} resumption: {again}"
            );
            assert!(
                again.contains("HTTP/1.1 200 OK"),
                "{kind} {version}: {again}"
            );
        }
    }
}

#[test]
fn one_tls13_ticket_per_connection_and_tls12_resumes_by_session_id() {
    let d = TempDir::new("tls-tickets");
    let pki = Pki::new(d.path());
    let site = TempDir::new("tls-tickets-site");
    site.write("index.html", b"hello tickets\n");
    let (cert, key) = pki.server("srv-tickets", "ec");
    let s = start_tls(site.path(), &cert, &key, &[]);
    // TLS 1.3: one NewSessionTicket after the full handshake, one after each resumed one,
    // and the ticket of each connection resumes the next.
    let sess = d.path().join("sess13");
    let sess = sess.to_str().unwrap();
    let mut args = vec!["-tls1_3", "-msg", "-sess_out", sess];
    for round in 0..3 {
        let out = s_client(s.port, &pki.ca(), &args);
        let tickets = out.matches(", NewSessionTicket").count();
        assert_eq!(tickets, 1, "round {round}: {out}");
        assert!(out.contains("hello tickets"), "round {round}: {out}");
        if round > 0 {
            assert!(out.contains("Reused, TLSv1.3"), "round {round}: {out}");
        }
        args = vec!["-tls1_3", "-msg", "-sess_in", sess, "-sess_out", sess];
    }
    // TLS 1.2 without the ticket extension: the session ID, from the shared cache.
    let sess12 = d.path().join("sess12");
    let sess12 = sess12.to_str().unwrap();
    let first = s_client(
        s.port,
        &pki.ca(),
        &["-tls1_2", "-no_ticket", "-sess_out", sess12],
    );
    assert!(first.contains("hello tickets"), "{first}");
    assert!(!first.contains("TLS session ticket:"), "{first}");
    for _ in 0..2 {
        let again = s_client(
            s.port,
            &pki.ca(),
            &["-tls1_2", "-no_ticket", "-sess_in", sess12],
        );
        assert!(again.contains("Reused, TLSv1.2"), "{again}");
        assert!(again.contains("hello tickets"), "{again}");
    }
}

#[test]
fn the_servers_order_of_cipher_suites_decides_aes_128_first() {
    // OpenSSL's client lists AES-256-GCM first; httpd picks AES-128-GCM, then ChaCha20,
    // then AES-256-GCM, whatever the client's order (see examples/httpd/tls.rs).
    let d = TempDir::new("tls-suites");
    let pki = Pki::new(d.path());
    let site = TempDir::new("tls-suites-site");
    site.write("index.html", b"hello suites\n");
    let (cert, key) = pki.server("suites", "ec");
    let s = start_tls(site.path(), &cert, &key, &[]);
    let cases: &[(&[&str], &str)] = &[
        (&["-tls1_3"], "TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256"),
        (
            &[
                "-tls1_3",
                "-ciphersuites",
                "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
            ],
            "TLSv1.3, Cipher is TLS_CHACHA20_POLY1305_SHA256",
        ),
        (
            &["-tls1_3", "-ciphersuites", "TLS_AES_256_GCM_SHA384"],
            "TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384",
        ),
        (
            &["-tls1_2"],
            "TLSv1.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256",
        ),
        (
            &[
                "-tls1_2",
                "-cipher",
                "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305",
            ],
            "TLSv1.2, Cipher is ECDHE-ECDSA-CHACHA20-POLY1305",
        ),
    ];
    for (args, want) in cases {
        let out = s_client(s.port, &pki.ca(), args);
        assert!(out.contains(want), "{args:?}: {out}");
        assert!(out.contains("hello suites"), "{args:?}: {out}");
    }
}

/// A Python client (its ssl module) that pipelines requests on one connection.
const PY_CLIENT: &str = r#"
import socket, ssl, sys
port, ca, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
s.settimeout(20)
reqs = b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n" * (n - 1)
reqs += b"GET /index.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
s.sendall(reqs)
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
print(s.version(), s.selected_alpn_protocol(), data.count(b"HTTP/1.1 200 OK"), data.count(b"hello python"))
"#;

#[test]
fn python_ssl_pipelines_over_tls_and_plain_still_works_without_tls() {
    let d = TempDir::new("tls-python");
    let pki = Pki::new(d.path());
    let (cert, key) = pki.server("py", "ec");
    let site = TempDir::new("tls-python-site");
    site.write("index.html", b"hello python\n");
    let s = start_tls(site.path(), &cert, &key, &[]);
    let text = python_client(PY_CLIENT, s.port, &pki.ca(), &["100".as_ref()]);
    // ALPN is None: this client offers none; 100 pipelined responses, then the close.
    assert_eq!(text.trim(), "TLSv1.3 None 100 100");

    // A plain request to the TLS port is a TLS error (an alert at most), not an answer;
    // the connection is closed and the server lives.
    let mut c = s.connect();
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let end = std::io::Read::read_to_end(&mut c, &mut got);
    assert!(
        end.is_ok() || end.is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "not closed"
    );
    assert!(got.len() < 16 && !got.starts_with(b"HTTP/"), "{got:?}");
    let out = Command::new("python3")
        .args(["-c", PY_CLIENT, &s.port.to_string()])
        .arg(pki.ca())
        .arg("1")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "TLSv1.3 None 1 1"
    );
}

/// Starts httpd with `args` expecting it to refuse: returns its stderr.
fn refused(root: &Path, args: &[&str]) -> String {
    let out = Command::new(binary())
        .args(["--port", "0", "--bind", "127.0.0.1", "--root"])
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        out.stdout.is_empty(),
        "it did not start: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    err
}

#[test]
fn bad_certificate_or_key_files_exit_2_with_one_line() {
    let d = TempDir::new("tls-bad");
    let pki = Pki::new(d.path());
    let (cert, key) = pki.server("good", "ec");
    let (_, other_key) = pki.server("other", "rsa");
    let site = TempDir::new("tls-bad-site");
    let garbage = d.path().join("garbage.pem");
    std::fs::write(&garbage, "this is not PEM\n").unwrap();
    let missing = d.path().join("missing.pem");
    // Root reads any file whatever its mode: a directory is the file nobody can read.
    let unreadable = d.path().join("a-directory");
    std::fs::create_dir(&unreadable).unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (cert, key, other_key) = (s(&cert), s(&key), s(&other_key));
    let (garbage, missing, unreadable) = (s(&garbage), s(&missing), s(&unreadable));

    // (--tls-cert, --tls-key, what the one line must say)
    let cases: &[(&str, Option<&str>, &[&str])] = &[
        (
            &missing,
            Some(&key),
            &["--tls-cert", "missing.pem", "cannot read"],
        ),
        (&garbage, Some(&key), &["--tls-cert", "no certificate"]),
        (&cert, Some(&garbage), &["--tls-key", "no private key"]),
        (&cert, Some(&cert), &["--tls-key", "no private key"]),
        (&cert, Some(&other_key), &["does not match"]),
        (&unreadable, Some(&key), &["--tls-cert", "cannot read"]),
        (&cert, None, &["--tls-key"]),
    ];
    for (cert, key, said) in cases {
        let mut args = vec!["--tls-cert", cert];
        if let Some(key) = key {
            args.extend(["--tls-key", key]);
        }
        let err = refused(site.path(), &args);
        assert!(said.iter().all(|w| err.contains(w)), "{args:?}: {err}");
    }
}

/// A Python client that keeps one connection open: prints the server certificate's
/// common name and the answer of a request, then, at each line on its stdin, another
/// request's answer on the same connection.
const PY_KEEP: &str = r#"
import socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
s.settimeout(20)
cn = dict(x[0] for x in s.getpeercert()["subject"])["commonName"]
f = s.makefile("rb")
def ask():
    s.sendall(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
    status = f.readline().decode().strip()
    length = 0
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    body = f.read(length).decode().strip()
    print(cn, status, body, flush=True)
ask()
for _ in sys.stdin:
    ask()
"#;

fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sighup_reloads_the_certificate_and_a_failed_reload_keeps_the_old_one() {
    let d = TempDir::new("tls-reload");
    let pki = Pki::new(d.path());
    let (cert_a, key_a) = pki.server("first", "ec");
    let (cert_b, key_b) = pki.server("second", "rsa");
    let cert = d.path().join("live.pem");
    let key = d.path().join("live.key");
    std::fs::copy(&cert_a, &cert).unwrap();
    std::fs::copy(&key_a, &key).unwrap();
    let site = TempDir::new("tls-reload-site");
    site.write("index.html", b"hello reload\n");
    let s = start_tls(site.path(), &cert, &key, &[]);

    let mut open = Command::new("python3")
        .args(["-c", PY_KEEP, &s.port.to_string()])
        .arg(pki.ca())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut open_in = open.stdin.take().unwrap();
    let mut open_out = BufReader::new(open.stdout.take().unwrap()).lines();
    let line = open_out.next().unwrap().unwrap();
    assert_eq!(line, "first HTTP/1.1 200 OK hello reload");

    let fresh = || {
        let out = Command::new("python3")
            .args(["-c", PY_KEEP, &s.port.to_string()])
            .arg(pki.ca())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };

    std::fs::copy(&cert_b, &cert).unwrap();
    std::fs::copy(&key_b, &key).unwrap();
    rawsys::process::kill_process(s.pid(), rawsys::signal::Signal::SIGHUP).unwrap();
    wait_for("the reload", Duration::from_secs(10), || {
        s.stderr().contains("certificate and key reloaded")
    });
    assert_eq!(fresh(), "second HTTP/1.1 200 OK hello reload");
    // The connection opened before the reload goes on.
    writeln!(open_in).unwrap();
    let line = open_out.next().unwrap().unwrap();
    assert_eq!(line, "first HTTP/1.1 200 OK hello reload");

    // A broken certificate file: the reload fails, says why, and the last good one stays.
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nnot base64 !!\n").unwrap();
    rawsys::process::kill_process(s.pid(), rawsys::signal::Signal::SIGHUP).unwrap();
    wait_for("the failed reload", Duration::from_secs(10), || {
        s.stderr()
            .contains("reload failed, keeping the old certificate")
    });
    assert!(s.stderr().contains("live.pem"), "{}", s.stderr());
    assert_eq!(fresh(), "second HTTP/1.1 200 OK hello reload");
    writeln!(open_in).unwrap();
    assert_eq!(
        open_out.next().unwrap().unwrap(),
        "first HTTP/1.1 200 OK hello reload"
    );
    drop(open_in);
    let _ = open.wait();
}

#[test]
fn plain_and_tls_listeners_side_by_side_on_ipv4_and_ipv6() {
    let d = TempDir::new("tls-listen");
    let pki = Pki::new(d.path());
    let (cert, key) = pki.server("multi", "ec");
    let site = TempDir::new("tls-listen-site");
    site.write("index.html", b"hello listeners\n");
    let mut child = Command::new(binary())
        .args(["--workers", "2", "--root"])
        .arg(site.path())
        .args(["--listen", "127.0.0.1:0", "--listen", "[::1]:0"])
        .args(["--tls-listen", "127.0.0.1:0", "--tls-listen", "[::1]:0"])
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let banner = lines.next().unwrap().unwrap();
    assert!(banner.starts_with("Server listening on port "), "{banner}");
    let listening = lines.next().unwrap().unwrap();
    let urls: Vec<&str> = listening
        .strip_prefix("Listening on ")
        .expect("the listeners line")
        .split(' ')
        .collect();
    assert_eq!(urls.len(), 4, "{listening}");
    assert!(urls[0].starts_with("http://127.0.0.1:") && urls[1].starts_with("http://[::1]:"));
    assert!(urls[2].starts_with("https://127.0.0.1:") && urls[3].starts_with("https://[::1]:"));
    for url in &urls {
        let (head, body, _) = curl(&pki.ca(), &["-g", &format!("{url}/index.html")]);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{url}: {head}");
        assert_eq!(body, b"hello listeners\n", "{url}");
    }
    // Each port speaks only its own protocol.
    let plain_as_tls = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(pki.ca())
        .arg(urls[0].replace("http://", "https://"))
        .output()
        .unwrap();
    assert!(!plain_as_tls.status.success());
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn the_pool_design_serves_tls_too() {
    let d = TempDir::new("tls-pool");
    let pki = Pki::new(d.path());
    let (cert, key) = pki.server("pool", "rsa");
    let site = TempDir::new("tls-pool-site");
    site.write("index.html", b"hello python\n");
    let s = start_tls(site.path(), &cert, &key, &["--design", "pool"]);
    let out = Command::new("python3")
        .args(["-c", PY_CLIENT, &s.port.to_string()])
        .arg(pki.ca())
        .arg("50")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "TLSv1.3 None 50 50",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A slow reader over TLS: a small receive buffer and 8 KiB every millisecond, so the
/// server's socket fills again and again while a file is encrypted and sent in chunks (the
/// records the socket did not take wait in the TLS session). Prints, per response, its
/// status and whether the body equals the file's bytes (`ok`), then the bytes left over.
const PY_SLOW_READER: &str = r#"
import socket, ssl, sys, time
port, ca, big, mid = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
want = [open(big, "rb").read(), open(mid, "rb").read()[1000:300000], open(big, "rb").read()]
ctx = ssl.create_default_context(cafile=ca)
raw = socket.socket()
raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
raw.settimeout(20)
raw.connect(("127.0.0.1", port))
s = ctx.wrap_socket(raw, server_hostname="localhost")
s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n"
          b"GET /mid.bin HTTP/1.1\r\nHost: localhost\r\nRange: bytes=1000-299999\r\n\r\n"
          b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
data = b""
while True:
    time.sleep(0.001)
    chunk = s.recv(8192)
    if not chunk:
        break
    data += chunk
for w in want:
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    n = int([l.split(b":")[1] for l in lines if l.lower().startswith(b"content-length:")][0])
    print(lines[0].split()[1].decode(), "ok" if rest[:n] == w else "differs")
    data = rest[n:]
print(len(data))
"#;

#[test]
fn a_slow_reader_gets_whole_files_and_ranges_over_tls() {
    let d = TempDir::new("tls-slow");
    let pki = Pki::new(d.path());
    let (cert, key) = pki.server("slow", "ec");
    let site = TempDir::new("tls-slow-site");
    // Bytes that do not repeat in step with the 64 KiB chunks or the 16 KiB records, and
    // differ between the two files.
    let bytes = pattern(2_900_000);
    site.write("big.bin", &bytes[..2_500_000]);
    site.write("mid.bin", &bytes[2_500_000..]);
    let s = start_tls(site.path(), &cert, &key, &[]);
    let (big, mid) = (site.path().join("big.bin"), site.path().join("mid.bin"));
    let text = python_client(
        PY_SLOW_READER,
        s.port,
        &pki.ca(),
        &[big.as_ref(), mid.as_ref()],
    );
    assert_eq!(text.trim(), "200 ok\n206 ok\n200 ok\n0");
}

/// Runs the Python client `code` against 127.0.0.1:`port` trusting `ca`, with `args` after
/// those two; fails unless it exits 0; its standard output.
fn python_client(code: &str, port: u16, ca: &Path, args: &[&std::ffi::OsStr]) -> String {
    let out = Command::new("python3")
        .args(["-c", code, &port.to_string()])
        .arg(ca)
        .args(args)
        .output()
        .expect("python3 is installed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}
