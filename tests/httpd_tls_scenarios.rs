//! The scenario tests of the plain server (burst pipelining, slow reader, slowloris, the
//! client's FIN, graceful stop, 10,000 connections, the connection cap, mutation fuzzing)
//! over TLS: the same shared scenarios (`httpd_support`) with a rustls client trusting a
//! test CA made here with `openssl`, plus what only TLS has: a handshake that stalls or
//! trickles is cut off by the header timeout like a slow head.

mod httpd_support;

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use httpd_support::tls::handshake;
use httpd_support::*;
use rustls::pki_types::ServerName;

#[test]
fn tls_late_reader_of_a_pipelined_burst_gets_every_byte_in_order() {
    let tls = TlsSetup::new("tls-late");
    late_reader_of_a_pipelined_burst_gets_every_byte("tls-late", Some(&tls), &["--workers", "1"]);
    late_reader_of_a_pipelined_burst_gets_every_byte(
        "tls-pool-late",
        Some(&tls),
        &["--design", "pool", "--workers", "1"],
    );
}

#[test]
fn tls_slow_reader_gets_the_whole_file_and_blocks_nobody() {
    let tls = TlsSetup::new("tls-slow");
    slow_reader_gets_everything_and_blocks_nobody(
        "tls-slow",
        Some(&tls),
        &["--workers", "1", "--send-timeout", "10"],
    );
    slow_reader_gets_everything_and_blocks_nobody(
        "tls-pool-slow",
        Some(&tls),
        &["--design", "pool", "--workers", "1"],
    );
}

#[test]
fn tls_request_with_the_clients_close_notify_and_fin_is_answered_then_closed_at_once() {
    let tls = TlsSetup::new("tls-fin");
    a_request_with_the_clients_fin_is_answered_then_closed(
        "tls-fin",
        Some(&tls),
        &["--workers", "1"],
    );
}

#[test]
fn tls_sigterm_finishes_in_flight_responses_and_exits_zero() {
    let tls = TlsSetup::new("tls-shutdown");
    sigterm_finishes_in_flight_responses("tls-shutdown", Some(&tls), &["--workers", "1"]);
}

/// The first flight of a real TLS client (its ClientHello records), as it would send it.
fn client_hello(tls: &TlsSetup) -> Vec<u8> {
    let name = ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::clone(&tls.client), name).unwrap();
    let mut hello = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut hello).unwrap();
    }
    assert!(hello.len() > 100 && hello[0] == 0x16, "a handshake record");
    hello
}

/// Asserts the header deadline (0.5 s) cut the connection: not before it, and before the
/// keep-alive timeout (3 s) could have (a handshake that never ends must not be taken for
/// an idle connection, whose deadline its bytes would move on).
fn at_header_deadline(what: &str, at: Duration) {
    assert!(
        at >= Duration::from_millis(450) && at < Duration::from_millis(2500),
        "{what}: closed after {at:?}"
    );
}

#[test]
fn tls_slowloris_stalled_handshakes_and_idle_connections_are_closed() {
    let tls = TlsSetup::new("tls-timeouts");
    slowloris_over_tls(&tls, &[]);
    slowloris_over_tls(&tls, &["--design", "pool"]);
}

#[test]
fn tls_a_head_begun_in_the_handshakes_last_flight_gets_its_own_header_deadline() {
    let tls = TlsSetup::new("tls-head-deadline");
    let d = TempDir::new("tls-head-deadline");
    d.write("index.html", b"hi");
    let s = Server::start_tls(
        d.path(),
        &tls,
        &["--header-timeout", "0.5", "--keepalive-timeout", "3"],
    );
    let name = ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::clone(&tls.client), name).unwrap();
    let mut tcp = s.connect();
    // The handshake up to the client's last flight (TLS 1.3: its Finished), held back.
    while conn.is_handshaking() {
        while conn.wants_write() {
            conn.write_tls(&mut tcp).unwrap();
        }
        if conn.is_handshaking() {
            conn.read_tls(&mut tcp).unwrap();
            conn.process_new_packets().unwrap();
        }
    }
    // 0.3 s into the handshake's header deadline (0.5 s from the accept), the Finished and
    // the head's first byte in one segment, so the server reads them together; then the
    // rest of the head a byte every 20 ms. The head's deadline runs from its first byte, as
    // over plain TCP and as when the two come in separate reads (before, it was the
    // handshake's, and the connection went 0.2 s into the head).
    std::thread::sleep(Duration::from_millis(300));
    conn.writer().write_all(&SLOW_HEAD[..1]).unwrap();
    let mut flight = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut flight).unwrap();
    }
    let start = Instant::now();
    tcp.write_all(&flight).unwrap();
    let mut c = Stream::Tls(Box::new(rustls::StreamOwned::new(conn, tcp)));
    trickle_until_closed(&mut c, &SLOW_HEAD[1..]);
    at_header_deadline("head begun with the Finished", start.elapsed());
}

/// The slowloris scenarios over TLS against a server started with `args`.
fn slowloris_over_tls(tls: &TlsSetup, args: &[&str]) {
    let d = TempDir::new("tls-timeouts");
    d.write("index.html", b"hi");
    let mut all = vec!["--header-timeout", "0.5", "--keepalive-timeout", "3"];
    all.extend_from_slice(args);
    let s = Server::start_tls(d.path(), tls, &all);
    let hello = client_hello(tls);

    // Connected, then nothing: not even a ClientHello.
    let mut c = s.connect();
    let start = Instant::now();
    assert!(closed_by_server(&mut c), "silent connection not closed");
    at_header_deadline("nothing sent", start.elapsed());

    // Half a ClientHello, then a stall.
    let mut c = s.connect();
    let start = Instant::now();
    c.write_all(&hello[..hello.len() / 2]).unwrap();
    assert!(closed_by_server(&mut c), "half a ClientHello not closed");
    at_header_deadline("half a ClientHello", start.elapsed());

    // The ClientHello a byte every 20 ms: bytes keep coming, the deadline holds. (Before,
    // a handshake in progress had the keep-alive deadline, moved on by every byte.)
    let mut c = Stream::Plain(s.connect());
    at_header_deadline("trickled ClientHello", trickle_until_closed(&mut c, &hello));

    // The handshake done, then a head a byte at a time (a record per byte): cut off at the
    // header deadline, counted from its first byte, as over plain TCP.
    at_header_deadline("slow head", trickle_until_closed(&mut s.open(), SLOW_HEAD));

    // Idle after a response: the keep-alive timeout.
    let idle = idle_after_a_response(&s, b"hi");
    assert!(
        idle >= Duration::from_millis(2900) && idle < Duration::from_secs(6),
        "{idle:?}"
    );

    // The server is fine, and holds none of these connections any more.
    assert_eq!(get(&s, "/", "").body, b"hi");
}

/// How many client threads do the 10,000 handshakes (the server has two workers).
const HANDSHAKERS: usize = 4;

#[test]
fn tls_ten_thousand_concurrent_connections_and_no_fd_leak() {
    let limit = raise_nofile();
    let n: usize = 10_000;
    assert!(
        limit as usize > n + 500,
        "RLIMIT_NOFILE {limit} too low for {n} connections"
    );
    let tls = TlsSetup::new("tls-load");
    let d = TempDir::new("tls-load");
    d.write("index.html", b"ten thousand");
    // Long timeouts: the first connections wait for their handshake, then idle, until the
    // last is answered (the test is bounded below, not by the server's timeouts).
    let s = Server::start_tls(
        d.path(),
        &tls,
        &["--header-timeout", "300", "--keepalive-timeout", "300"],
    );
    let baseline = s.fd_count();
    assert!(baseline > 0);

    let start = Instant::now();
    let conns: Vec<TcpStream> = (0..n)
        .map(|i| {
            TcpStream::connect(("127.0.0.1", s.port))
                .unwrap_or_else(|e| panic!("connect #{i}: {e}"))
        })
        .collect();
    // All open at once, before any handshake: the server holds every one of them.
    let open = s.fd_count();
    assert!(
        open >= baseline + n - 64,
        "server holds {open} fds, expected ~{}",
        baseline + n
    );
    eprintln!("{n} TCP connections in {:?}", start.elapsed());
    // Then on each (a few client threads, each its share): the handshake, a request, its
    // answer. The TCP connection is kept open, its client session dropped.
    let chunk = n.div_ceil(HANDSHAKERS);
    let mut conns = conns;
    let mut parts = Vec::new();
    while !conns.is_empty() {
        let rest = conns.split_off(conns.len().saturating_sub(chunk));
        parts.push(rest);
    }
    let workers: Vec<_> = parts
        .into_iter()
        .map(|part| {
            let config = Arc::clone(&tls.client);
            std::thread::spawn(move || {
                part.into_iter()
                    .map(|tcp| {
                        tcp.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                        let keep = tcp.try_clone().unwrap();
                        let mut c = handshake(&config, tcp);
                        c.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
                        let resp = read_response(&mut BufReader::new(c), false)
                            .expect("an answer over TLS");
                        assert_eq!(resp.status, 200);
                        assert_eq!(resp.body, b"ten thousand");
                        keep
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let conns: Vec<TcpStream> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("a handshake thread failed"))
        .collect();
    assert_eq!(conns.len(), n);
    let elapsed = start.elapsed();
    eprintln!("{n} TLS connections answered in {elapsed:?}");
    // Still all held: answered, idle, none dropped.
    let open = s.fd_count();
    assert!(
        open >= baseline + n - 64,
        "server holds {open} fds after the answers, expected ~{}",
        baseline + n
    );
    assert!(
        elapsed < Duration::from_secs(240),
        "10,000 TLS connections took {elapsed:?}"
    );
    drop(conns);
    let after = wait_for_fds(&s, baseline, Duration::from_secs(20));
    assert_eq!(
        after, baseline,
        "descriptors leaked: {baseline} before, {after} after"
    );
    // And it serves afterwards.
    assert_eq!(get(&s, "/", "").body, b"ten thousand");
}

#[test]
fn tls_connection_cap_closes_the_excess_and_capacity_comes_back() {
    let tls = TlsSetup::new("tls-cap");
    let d = TempDir::new("tls-cap");
    d.write("index.html", b"capped");
    let s = Server::start_tls(d.path(), &tls, &["--max-conns", "10", "--workers", "1"]);
    // Ten connections past their handshake hold the cap.
    let held: Vec<Stream> = (0..10).map(|_| s.open()).collect();
    std::thread::sleep(Duration::from_millis(200));
    // The eleventh is closed at once, before any handshake: a TLS client would not read a
    // plain 503, and a handshake is the work the cap saves.
    let mut extra = s.connect();
    extra.write_all(&client_hello(&tls)).unwrap();
    let start = Instant::now();
    let mut got = Vec::new();
    let end = extra.read_to_end(&mut got);
    assert!(
        end.is_ok() || end.is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "not closed"
    );
    assert!(got.is_empty(), "{got:?}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "closed only by a timeout"
    );
    // The held ones still work.
    let mut first = held.into_iter().next().unwrap();
    first
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let resp = read_response(&mut BufReader::new(&mut first), false).unwrap();
    assert_eq!(resp.body, b"capped");
    drop(first);
    // Capacity comes back.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let c = s.connect();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let tcp = c.try_clone().unwrap();
        // A refused connection fails its handshake: try again.
        let mut conn = rustls::ClientConnection::new(
            Arc::clone(&tls.client),
            ServerName::try_from("localhost").unwrap(),
        )
        .unwrap();
        let mut sock = tcp;
        let ok = (|| {
            while conn.is_handshaking() {
                conn.complete_io(&mut sock).ok()?;
            }
            Some(())
        })()
        .is_some();
        if ok {
            let mut stream = Stream::Tls(Box::new(rustls::StreamOwned::new(conn, sock)));
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            let r = read_response(&mut BufReader::new(stream), false).unwrap();
            assert_eq!(r.body, b"capped");
            break;
        }
        assert!(Instant::now() < deadline, "capacity never came back");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn fuzzing_over_tls_finds_no_crash_and_the_server_serves_afterwards() {
    // scripts/fuzz-httpd.py over TLS for a bounded time, on this build's binary: mutated
    // requests inside TLS and mutated ClientHellos; it ends with a clean request.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/fuzz-httpd.py");
    let seconds = std::env::var("HTTPD_TLS_FUZZ_SECONDS").unwrap_or_else(|_| "10".into());
    let out = Command::new("python3")
        .arg(script)
        .args(["--tls", "--seconds", &seconds, "--seed", "19", "--binary"])
        .arg(binary())
        .output()
        .expect("python3 is installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("fuzz-httpd (TLS): seed 19"), "{stdout}");
    assert!(stdout.contains("served afterwards"), "{stdout}");
    let connections: u64 = stdout
        .split(" connections")
        .next()
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(connections > 20, "{stdout}");
}
