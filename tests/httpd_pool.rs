//! httpd with `--design pool` (the seed's design: one epoll thread handing ready connections
//! to a worker pool through a queue): files, keep-alive, pipelining, an error status,
//! back-pressure, deadlines, many connections without a descriptor leak, and graceful
//! shutdown, against the real server over raw TCP.

mod httpd_support;

use std::io::{BufReader, Read, Write};
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
    let paths = ["/style.css", "/big.bin", "/nope", "/sub/", "/index.html"];
    let mut burst = Vec::new();
    let mut expect = Vec::new();
    for i in 0..40 {
        let p = paths[i % paths.len()];
        let m = if i % 7 == 3 { "HEAD" } else { "GET" };
        burst.extend_from_slice(format!("{m} {p} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        expect.push((m, p));
    }
    c.write_all(&burst).unwrap();
    for (m, p) in expect {
        let resp = read_response(&mut rd, m == "HEAD").unwrap();
        assert_eq!(resp.status, if p == "/nope" { 404 } else { 200 }, "{m} {p}");
        match (m, p) {
            ("GET", "/big.bin") => assert_eq!(resp.body.len(), 3 * 1024 * 1024 + 17),
            ("GET", "/sub/") => assert_eq!(resp.body, b"sub index"),
            ("GET", "/style.css") => assert_eq!(resp.body, b"body{}\n"),
            _ => {}
        }
    }

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
fn pool_slow_reader_gets_the_whole_file_and_blocks_nobody() {
    let d = TempDir::new("pool-slow");
    let big = pattern(8 * 1024 * 1024);
    d.write("big.bin", &big);
    d.write("small.txt", b"small");
    // One pool thread: the slow reader and the others share it.
    let s = Server::start(d.path(), &[POOL, "pool", "--workers", "1"]);
    let mut slow = s.connect();
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    slow.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut got = Vec::with_capacity(big.len() + 512);
    let mut buf = vec![0u8; 64 * 1024];
    let start = Instant::now();
    let mut others = 0;
    loop {
        assert!(start.elapsed() < Duration::from_secs(30), "too slow");
        let n = slow.read(&mut buf).unwrap();
        assert!(n > 0, "closed early after {} bytes", got.len());
        got.extend_from_slice(&buf[..n]);
        if others < 20 {
            let t = Instant::now();
            assert_eq!(get(&s, "/small.txt", "").body, b"small");
            assert!(t.elapsed() < Duration::from_secs(2));
            others += 1;
        }
        std::thread::sleep(Duration::from_millis(2));
        if let Some(h) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            if got.len() - (h + 4) >= big.len() {
                break;
            }
        }
    }
    let h = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(got.len() - h, big.len());
    assert!(got[h..] == big[..], "slowly read body is intact");
    assert_eq!(others, 20);
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
    let d = TempDir::new("pool-shutdown");
    let big = pattern(16 * 1024 * 1024);
    d.write("big.bin", &big);
    let mut s = Server::start(d.path(), &[POOL, "pool"]);
    let port = s.port;
    let idle = s.connect();
    let mut c = s.connect();
    c.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut first = vec![0u8; 4096];
    let n = c.read(&mut first).unwrap();
    assert!(n > 0);
    rawsys::process::kill(s.pid(), 15).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still accepting"
    );
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    let mut all = first[..n].to_vec();
    all.extend_from_slice(&rest);
    let h = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(all.len() - h, big.len(), "whole body delivered");
    drop(idle);
    let code = s.terminate(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{}", s.stderr());
}

#[test]
fn design_flag_is_documented_and_checked() {
    let out = std::process::Command::new(binary())
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--design reactor|pool"));
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
