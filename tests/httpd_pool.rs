//! httpd with `--design pool` (the seed's design: one epoll thread handing ready connections
//! to a worker pool through a queue): files, keep-alive, pipelining, an error status,
//! back-pressure, deadlines, many connections without a descriptor leak, and graceful
//! shutdown, against the real server over raw TCP.

mod httpd_support;

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use httpd_support::*;

const POOL: &str = "--design";

fn site() -> TempDir {
    let d = TempDir::new("pool");
    d.write("index.html", b"<h1>pool index</h1>\n");
    d.write("style.css", b"body{}\n");
    d.write("big.bin", &pattern(3 * 1024 * 1024 + 17));
    d.write("sub/index.html", b"sub index");
    d
}

#[test]
fn pool_serves_files_keep_alive_and_pipelined_requests_in_order() {
    let d = site();
    let s = Server::start(d.path(), &[POOL, "pool"]);
    let r = get(&s, "/", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"<h1>pool index</h1>\n");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(r.header("date").is_some_and(|d| d.ends_with(" GMT")));
    assert_eq!(get(&s, "/missing", "").status, 404);
    let big = get(&s, "/big.bin", "");
    assert_eq!(big.status, 200);
    assert!(
        big.body == pattern(3 * 1024 * 1024 + 17),
        "sendfile body differs"
    );
    let etag = r.header("etag").unwrap().to_string();
    assert_eq!(
        get(&s, "/", &format!("If-None-Match: {etag}\r\n")).status,
        304
    );

    // Keep-alive: one request after another on one connection.
    let mut c = s.connect();
    let mut rd = BufReader::new(c.try_clone().unwrap());
    for _ in 0..5 {
        c.write_all(b"GET /style.css HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(&mut rd, false).unwrap().body, b"body{}\n");
    }

    // Pipelining: 40 requests in one write, small, large, missing and HEAD mixed, answered
    // in order.
    pipelined_burst(
        &mut c,
        &mut rd,
        &["/style.css", "/big.bin", "/nope", "/sub/", "/index.html"],
        40,
        &[
            ("/big.bin", &pattern(3 * 1024 * 1024 + 17)),
            ("/sub/", b"sub index"),
            ("/style.css", b"body{}\n"),
        ],
    );

    // Connection: close is honoured.
    c.write_all(b"GET /style.css HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let resp = read_response(&mut rd, false).unwrap();
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(closed_by_server(&mut rd));
}

#[test]
fn pool_answers_a_bad_request_with_400_and_closes() {
    let d = site();
    let s = Server::start(d.path(), &[POOL, "pool"]);
    for raw in [
        &b"GET / HTTP/1.1\r\n\r\n"[..], // no Host
        b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
    ] {
        let mut c = s.connect();
        c.write_all(raw).unwrap();
        let mut r = BufReader::new(c);
        let resp = read_response(&mut r, false).expect("a response");
        assert_eq!(resp.status, 400, "{:?}", String::from_utf8_lossy(raw));
        assert_eq!(resp.header("connection"), Some("close"));
        assert!(closed_by_server(&mut r));
    }
    // The server is still fine.
    assert_eq!(get(&s, "/", "").status, 200);
}

#[test]
fn pool_request_with_the_clients_fin_is_answered_then_closed_at_once() {
    a_request_with_the_clients_fin_is_answered_then_closed(
        "pool-fin",
        None,
        &[POOL, "pool", "--workers", "1"],
    );
}

#[test]
fn pool_late_reader_of_a_pipelined_burst_gets_every_byte_in_order() {
    late_reader_of_a_pipelined_burst_gets_every_byte(
        "pool-late",
        None,
        &[POOL, "pool", "--workers", "1"],
    );
}

#[test]
fn pool_slow_reader_gets_the_whole_file_and_blocks_nobody() {
    // One pool thread: the slow reader and the others share it.
    slow_reader_gets_everything_and_blocks_nobody(
        "pool-slow",
        None,
        &[POOL, "pool", "--workers", "1"],
    );
}

#[test]
fn pool_closes_idle_and_slow_heads_and_leaks_no_descriptor() {
    let d = site();
    let s = Server::start(
        d.path(),
        &[
            POOL,
            "pool",
            "--keepalive-timeout",
            "0.5",
            "--header-timeout",
            "0.5",
        ],
    );
    let baseline = s.fd_count();

    // An idle keep-alive connection is closed after its timeout.
    let mut idle = s.connect();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(idle.try_clone().unwrap());
    assert_eq!(read_response(&mut r, false).unwrap().status, 200);
    let t = Instant::now();
    assert!(closed_by_server(&mut r));
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());

    // A head that never completes is cut off too.
    let mut slow = s.connect();
    slow.write_all(b"GET / HTTP/1.1\r\nHo").unwrap();
    let t = Instant::now();
    assert!(closed_by_server(&mut slow));
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());

    // Many connections at once, each answered.
    let n = 1000;
    let mut conns: Vec<TcpStream> = (0..n).map(|_| s.connect()).collect();
    for c in &mut conns {
        c.write_all(b"GET /style.css HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
    }
    for (i, c) in conns.iter_mut().enumerate() {
        let mut r = BufReader::new(&mut *c);
        let resp = read_response(&mut r, false).unwrap_or_else(|| panic!("no answer on #{i}"));
        assert_eq!(resp.body, b"body{}\n");
    }
    drop(conns);
    drop((idle, slow));
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.fd_count() > baseline && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(s.fd_count(), baseline, "descriptors leaked");
}

#[test]
fn pool_sigterm_finishes_in_flight_responses_and_exits_zero() {
    sigterm_finishes_in_flight_responses("pool-shutdown", None, &[POOL, "pool"]);
}

#[test]
fn design_flag_is_documented_and_checked() {
    let out = std::process::Command::new(binary())
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--design <reactor|pool>"));
    for bad in [&["--design", "threads"][..], &["--design"]] {
        let out = std::process::Command::new(binary())
            .args(bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--design"),
            "{bad:?}"
        );
    }
}
