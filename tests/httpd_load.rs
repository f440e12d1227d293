//! httpd at scale: 10,000 concurrent connections each answered, no descriptor leaked, the
//! connection cap answered with 503, and the access log written off the event loop.

mod httpd_support;

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use httpd_support::*;

#[test]
fn ten_thousand_concurrent_connections_and_no_fd_leak() {
    let limit = raise_nofile();
    let n: usize = 10_000;
    assert!(
        limit as usize > n + 500,
        "RLIMIT_NOFILE {limit} too low for {n} connections"
    );
    let d = TempDir::new("load");
    d.write("index.html", b"ten thousand");
    let s = Server::start(d.path(), &[]);
    let baseline = s.fd_count();
    assert!(baseline > 0);

    let start = Instant::now();
    let mut conns: Vec<TcpStream> = Vec::with_capacity(n);
    for i in 0..n {
        let c = TcpStream::connect(("127.0.0.1", s.port))
            .unwrap_or_else(|e| panic!("connect #{i}: {e}"));
        conns.push(c);
    }
    // All open at once: the server holds every one of them.
    let open = s.fd_count();
    assert!(
        open >= baseline + n - 64,
        "server holds {open} fds, expected ~{}",
        baseline + n
    );
    for c in &mut conns {
        c.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    }
    for (i, c) in conns.iter_mut().enumerate() {
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut r = BufReader::new(&mut *c);
        let resp = read_response(&mut r, false).unwrap_or_else(|| panic!("no answer on #{i}"));
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body, b"ten thousand");
    }
    eprintln!("{n} connections answered in {:?}", start.elapsed());
    drop(conns);
    let after = wait_for_fds(&s, baseline, Duration::from_secs(10));
    assert_eq!(
        after, baseline,
        "descriptors leaked: {baseline} before, {after} after"
    );
}

#[test]
fn connection_cap_answers_503() {
    let d = TempDir::new("cap");
    d.write("index.html", b"capped");
    let s = Server::start(d.path(), &["--max-conns", "10", "--workers", "1"]);
    let held: Vec<TcpStream> = (0..10).map(|_| s.connect()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut extra = s.connect();
    let mut buf = Vec::new();
    extra.read_to_end(&mut buf).unwrap();
    assert!(
        buf.starts_with(b"HTTP/1.1 503 "),
        "{}",
        String::from_utf8_lossy(&buf)
    );
    drop(held);
    // Capacity comes back.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = get(&s, "/", "");
        if r.status == 200 {
            assert_eq!(r.body, b"capped");
            break;
        }
        assert!(Instant::now() < deadline, "capacity never came back");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn access_log_records_requests() {
    let d = TempDir::new("log");
    d.write("index.html", b"logged");
    let log = d.path().join("access.log");
    let root = d.path().join("www");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("a.txt"), b"a").unwrap();
    let mut s = Server::start(&root, &["--access-log", log.to_str().unwrap()]);
    assert_eq!(get(&s, "/a.txt", "").status, 200);
    assert_eq!(get(&s, "/missing", "").status, 404);
    let r505 = exchange(&s, b"GET / HTTP/9.9\r\nHost: t\r\n\r\n");
    assert_eq!(r505.status, 505);
    assert_eq!(s.terminate(Duration::from_secs(10)), Some(0));
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("127.0.0.1 - - [")
                && l.ends_with("\"GET /a.txt HTTP/1.1\" 200 1")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"GET /missing HTTP/1.1\" 404 ")),
        "{text}"
    );
    // An error answered before the request is understood logs the bytes of its body too
    // (issue 19: they were logged as 0).
    assert!(!r505.body.is_empty());
    let logged_505 = format!("\" 505 {}", r505.body.len());
    assert!(lines.iter().any(|l| l.ends_with(&logged_505)), "{text}");
}

#[test]
fn access_log_counts_the_body_of_a_400() {
    let d = TempDir::new("log400");
    let log = d.path().join("access.log");
    let root = d.path().join("www");
    std::fs::create_dir_all(&root).unwrap();
    let mut s = Server::start(&root, &["--access-log", log.to_str().unwrap()]);
    let r = exchange(&s, b"GET / HTTP/1.1\r\nBad Header\r\n\r\n");
    assert_eq!(r.status, 400);
    assert!(!r.body.is_empty());
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
    assert_eq!(s.terminate(Duration::from_secs(10)), Some(0));
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].ends_with(&format!(" 400 {}", r.body.len())),
        "{text}"
    );
}

#[test]
fn access_log_is_reopened_on_sigusr1() {
    let d = TempDir::new("logrotate");
    let log = d.path().join("access.log");
    let rotated = d.path().join("access.log.1");
    let root = d.path().join("www");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("a.txt"), b"a").unwrap();
    std::fs::write(root.join("b.txt"), b"b").unwrap();
    let mut s = Server::start(&root, &["--access-log", log.to_str().unwrap()]);
    assert_eq!(get(&s, "/a.txt", "").status, 200);
    // The line is written by the log thread: wait for it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&log).unwrap_or_default().is_empty() {
        assert!(Instant::now() < deadline, "first line never written");
        std::thread::sleep(Duration::from_millis(20));
    }
    // logrotate: rename, then SIGUSR1. The signal is taken asynchronously, so requests go
    // on until one lands in a new file at the original path.
    std::fs::rename(&log, &rotated).unwrap();
    rawsys::process::kill_process(s.pid(), rawsys::signal::Signal::SIGUSR1).unwrap();
    let mut sent = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log).is_ok_and(|t| !t.is_empty()) {
        assert!(
            Instant::now() < deadline,
            "no new file at the original path"
        );
        assert_eq!(get(&s, "/b.txt", "").status, 200);
        sent += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(s.terminate(Duration::from_secs(10)), Some(0));
    let old = std::fs::read_to_string(&rotated).unwrap();
    let new = std::fs::read_to_string(&log).unwrap();
    assert!(
        old.lines().next().unwrap().contains("\"GET /a.txt "),
        "{old}"
    );
    assert!(!new.contains("/a.txt"), "{new}");
    assert!(new.lines().all(|l| l.contains("\"GET /b.txt ")), "{new}");
    // Nothing lost in the switch: every request is in one file or the other.
    let b_lines = old
        .lines()
        .chain(new.lines())
        .filter(|l| l.contains("/b.txt"))
        .count();
    assert_eq!(b_lines, sent, "{old}\n--\n{new}");
    assert!(!s.stderr().contains("cannot reopen"), "{}", s.stderr());
}

#[test]
fn access_log_combined_format_adds_referer_and_user_agent() {
    let d = TempDir::new("logcombined");
    let log = d.path().join("access.log");
    let root = d.path().join("www");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("a.txt"), b"a").unwrap();
    let mut s = Server::start(
        &root,
        &[
            "--access-log",
            log.to_str().unwrap(),
            "--log-format",
            "combined",
        ],
    );
    let extra = "Referer: http://example.test/from\r\nUser-Agent: test \"agent\" 1.0\r\n";
    assert_eq!(get(&s, "/a.txt", extra).status, 200);
    assert_eq!(get(&s, "/missing", "").status, 404);
    let bad = exchange(&s, b"GET / HTTP/1.1\r\nBad Header\r\n\r\n");
    assert_eq!(bad.status, 400);
    assert_eq!(s.terminate(Duration::from_secs(10)), Some(0));
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    // As nginx's combined: the common line, then "referer" "user-agent", quotes escaped.
    assert!(
        lines.iter().any(|l| l.starts_with("127.0.0.1 - - [")
            && l.ends_with(
                "\"GET /a.txt HTTP/1.1\" 200 1 \"http://example.test/from\" \"test \\x22agent\\x22 1.0\""
            )),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"GET /missing HTTP/1.1\" 404 ") && l.ends_with(" \"-\" \"-\"")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with(&format!("\"-\" 400 {} \"-\" \"-\"", bad.body.len()))),
        "{text}"
    );
    // A format it does not know: one line, exit 2.
    let out = std::process::Command::new(binary())
        .arg("--log-format=json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--log-format"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
