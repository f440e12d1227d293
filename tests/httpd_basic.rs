//! httpd serving files: content, headers, validators, conditionals, ranges, directories,
//! methods, keep-alive, pipelining and HTTP/1.0, against the real server over raw TCP.

mod httpd_support;

use std::io::{BufReader, Write};

use httpd_support::*;

fn site() -> TempDir {
    let d = TempDir::new("basic");
    d.write("index.html", b"<h1>root index</h1>\n");
    d.write("style.css", b"body{}\n");
    d.write("data.json", b"{}");
    d.write("big.bin", &pattern(3 * 1024 * 1024 + 17));
    d.write("sub/index.html", b"sub index");
    d.write("noindex/file.txt", b"text");
    d.write("sp ace.txt", b"spaced");
    d
}

#[test]
fn files_headers_and_mime_types() {
    let d = site();
    let s = Server::start(d.path(), &[]);
    let r = get(&s, "/", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"<h1>root index</h1>\n");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(r.header("content-length"), Some("20"));
    assert!(
        r.header("date")
            .is_some_and(|d| d.ends_with(" GMT") && d.len() == 29)
    );
    let lm = r.header("last-modified").unwrap();
    assert_eq!(lm.len(), 29);
    let etag = r.header("etag").unwrap();
    assert!(etag.starts_with('"') && etag.ends_with('"'));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));

    assert_eq!(
        get(&s, "/style.css", "").header("content-type"),
        Some("text/css; charset=utf-8")
    );
    assert_eq!(
        get(&s, "/data.json", "").header("content-type"),
        Some("application/json")
    );
    assert_eq!(
        get(&s, "/big.bin", "").header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(get(&s, "/sp%20ace.txt", "").body, b"spaced");
    assert_eq!(get(&s, "/index.html?x=1&y", "").status, 200);
    assert_eq!(get(&s, "/missing.html", "").status, 404);

    // Large file through sendfile: every byte right.
    let big = get(&s, "/big.bin", "");
    assert_eq!(big.status, 200);
    assert_eq!(big.body.len(), 3 * 1024 * 1024 + 17);
    assert!(
        big.body == pattern(3 * 1024 * 1024 + 17),
        "sendfile body differs"
    );
}

#[test]
fn head_and_methods() {
    let d = site();
    let s = Server::start(d.path(), &[]);
    let mut c = s.connect();
    c.write_all(
        b"HEAD /index.html HTTP/1.1\r\nHost: t\r\n\r\nGET /style.css HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .unwrap();
    let mut r = BufReader::new(c);
    let head = read_response(&mut r, true).unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some("20"),
        "HEAD tells the GET length"
    );
    // The next response follows directly: the HEAD sent no body.
    let next = read_response(&mut r, false).unwrap();
    assert_eq!(next.body, b"body{}\n");

    for m in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"] {
        let r = exchange(
            &s,
            format!("{m} /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n").as_bytes(),
        );
        assert_eq!(r.status, 405, "{m}");
        assert_eq!(r.header("allow"), Some("GET, HEAD"), "{m}");
    }
}

#[test]
fn conditional_requests() {
    let d = site();
    let s = Server::start(d.path(), &[]);
    let r = get(&s, "/style.css", "");
    let etag = r.header("etag").unwrap().to_string();
    let lm = r.header("last-modified").unwrap().to_string();

    let r = get(&s, "/style.css", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert_eq!(
        get(
            &s,
            "/style.css",
            &format!("If-None-Match: \"x\", W/{etag}\r\n")
        )
        .status,
        304
    );
    assert_eq!(get(&s, "/style.css", "If-None-Match: *\r\n").status, 304);
    assert_eq!(
        get(&s, "/style.css", "If-None-Match: \"other\"\r\n").status,
        200
    );

    assert_eq!(
        get(&s, "/style.css", &format!("If-Modified-Since: {lm}\r\n")).status,
        304
    );
    assert_eq!(
        get(
            &s,
            "/style.css",
            "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
        )
        .status,
        200
    );
    assert_eq!(
        get(&s, "/style.css", "If-Modified-Since: garbage\r\n").status,
        200
    );
    // If-None-Match wins over If-Modified-Since.
    let both = format!("If-None-Match: \"other\"\r\nIf-Modified-Since: {lm}\r\n");
    assert_eq!(get(&s, "/style.css", &both).status, 200);
}

#[test]
fn byte_ranges() {
    let d = site();
    let s = Server::start(d.path(), &[]);
    let big = pattern(3 * 1024 * 1024 + 17);
    let len = big.len();

    let r = get(&s, "/index.html", "Range: bytes=0-3\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(r.body, b"<h1>");
    assert_eq!(r.header("content-range"), Some("bytes 0-3/20"));

    let r = get(&s, "/index.html", "Range: bytes=-6\r\n");
    assert_eq!((r.status, r.body.as_slice()), (206, &b"x</h1>\n"[1..]));
    let r = get(&s, "/index.html", "Range: bytes=15-\r\n");
    assert_eq!((r.status, r.body.as_slice()), (206, &b"/h1>\n"[..]));
    let r = get(&s, "/index.html", "Range: bytes=10-1000\r\n");
    assert_eq!(r.header("content-range"), Some("bytes 10-19/20"));

    // A range of the large file goes through sendfile with an offset.
    let r = get(&s, "/big.bin", "Range: bytes=1000000-2000000\r\n");
    assert_eq!(r.status, 206);
    assert!(r.body == big[1_000_000..=2_000_000]);
    assert_eq!(
        r.header("content-range").unwrap(),
        format!("bytes 1000000-2000000/{len}")
    );

    let r = get(&s, "/index.html", "Range: bytes=20-\r\n");
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */20"));
    assert_eq!(get(&s, "/index.html", "Range: bytes=-0\r\n").status, 416);
    // Several ranges, another unit, or nonsense: the whole file.
    assert_eq!(
        get(&s, "/index.html", "Range: bytes=0-1,4-5\r\n").status,
        200
    );
    assert_eq!(get(&s, "/index.html", "Range: lines=1-2\r\n").status, 200);
    assert_eq!(get(&s, "/index.html", "Range: bytes=5-2\r\n").status, 200);
    // If-Range with a stale validator: the whole file.
    let etag = get(&s, "/index.html", "")
        .header("etag")
        .unwrap()
        .to_string();
    assert_eq!(
        get(
            &s,
            "/index.html",
            &format!("Range: bytes=0-1\r\nIf-Range: {etag}\r\n")
        )
        .status,
        206
    );
    assert_eq!(
        get(
            &s,
            "/index.html",
            "Range: bytes=0-1\r\nIf-Range: \"old\"\r\n"
        )
        .status,
        200
    );
}

#[test]
fn directories() {
    let d = site();
    let s = Server::start(d.path(), &[]);
    assert_eq!(get(&s, "/sub/", "").body, b"sub index");
    let r = get(&s, "/sub", "");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/sub/"));
    assert_eq!(get(&s, "/noindex/", "").status, 403);
    assert_eq!(get(&s, "/noindex/file.txt", "").body, b"text");
    assert_eq!(
        get(&s, "/sub/../index.html", "").body,
        b"<h1>root index</h1>\n"
    );
}

#[test]
fn keep_alive_pipelining_and_http10() {
    let d = site();
    let s = Server::start(d.path(), &[]);

    // Keep-alive: several requests, one after another, on one connection.
    let mut c = s.connect();
    let mut r = BufReader::new(c.try_clone().unwrap());
    for _ in 0..5 {
        c.write_all(b"GET /style.css HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(&mut r, false).unwrap().body, b"body{}\n");
    }

    // Pipelining: 50 requests in one write (mixing small, large, missing, HEAD), answered
    // in order.
    pipelined_burst(
        &mut c,
        &mut r,
        &[
            "/style.css",
            "/index.html",
            "/big.bin",
            "/nope",
            "/sub/",
            "/data.json",
        ],
        50,
        &[
            ("/big.bin", &pattern(3 * 1024 * 1024 + 17)),
            ("/sub/", b"sub index"),
        ],
    );

    // Connection: close is honoured.
    c.write_all(b"GET /style.css HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let resp = read_response(&mut r, false).unwrap();
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(closed_by_server(&mut r));

    // HTTP/1.0 without keep-alive: closed after the response.
    let mut c = s.connect();
    c.write_all(b"GET /style.css HTTP/1.0\r\n\r\n").unwrap();
    let mut r = BufReader::new(c);
    assert_eq!(read_response(&mut r, false).unwrap().status, 200);
    assert!(closed_by_server(&mut r));

    // HTTP/1.0 with keep-alive: stays open and says so.
    let mut c = s.connect();
    let mut r = BufReader::new(c.try_clone().unwrap());
    for _ in 0..3 {
        c.write_all(b"GET /style.css HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap();
        let resp = read_response(&mut r, false).unwrap();
        assert_eq!(resp.header("connection"), Some("keep-alive"));
    }
}

/// A cached file's whole response is kept ready, Date included: the Date must still move on
/// with the clock, also on one keep-alive connection.
#[test]
fn cached_responses_carry_the_current_date() {
    let d = site();
    let s = Server::start(d.path(), &["--workers", "1"]);
    let mut c = s.connect();
    let mut r = BufReader::new(c.try_clone().unwrap());
    let mut dates = Vec::new();
    for _ in 0..2 {
        c.write_all(b"GET /style.css HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let resp = read_response(&mut r, false).unwrap();
        assert_eq!(resp.body, b"body{}\n");
        dates.push(resp.header("date").unwrap().to_string());
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    assert_ne!(dates[0], dates[1], "the Date did not move on in 1.1 s");
    // And it is the date of now, not of when the file was cached. The server renews its Date
    // on its 50 ms clock tick, so just after a second begins it may still say the last one:
    // ask well inside a second, where the two clocks must agree.
    loop {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_millis();
        if (300..800).contains(&ms) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let before = now_http_date();
    let again = get(&s, "/style.css", "");
    let after = now_http_date();
    let date = again.header("date").unwrap();
    assert!(
        date == before || date == after,
        "Date {date}, now {before} .. {after}"
    );
}

/// A file goes out under `TCP_CORK`; the socket must be uncorked once it is sent, or the
/// next small response on the connection sits in the kernel for the 200 ms cork timeout.
#[test]
fn small_response_after_a_file_is_not_held_back() {
    let d = site();
    let s = Server::start(d.path(), &[]);
    let mut c = s.connect();
    c.set_nodelay(true).unwrap();
    let mut r = BufReader::new(c.try_clone().unwrap());
    let mut waits = Vec::new();
    for _ in 0..5 {
        c.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        assert_eq!(
            read_response(&mut r, false).unwrap().body.len(),
            3 * 1024 * 1024 + 17
        );
        let t = std::time::Instant::now();
        c.write_all(b"GET /style.css HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(&mut r, false).unwrap().body, b"body{}\n");
        waits.push(t.elapsed());
    }
    waits.sort();
    // Corked, every wait would be at least 200 ms; the median is far below on any machine.
    assert!(
        waits[2] < std::time::Duration::from_millis(100),
        "small responses after a file waited {waits:?}"
    );
}

#[test]
fn request_bodies_are_skipped_in_the_stream() {
    let d = site();
    let s = Server::start(d.path(), &[]);
    let mut c = s.connect();
    c.write_all(
        b"GET /style.css HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello worldGET /data.json HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .unwrap();
    c.write_all(
        b"GET /style.css HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /index.html HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .unwrap();
    let mut r = BufReader::new(c);
    assert_eq!(read_response(&mut r, false).unwrap().body, b"body{}\n");
    assert_eq!(read_response(&mut r, false).unwrap().body, b"{}");
    assert_eq!(read_response(&mut r, false).unwrap().body, b"body{}\n");
    assert_eq!(
        read_response(&mut r, false).unwrap().body,
        b"<h1>root index</h1>\n"
    );
}

#[test]
fn default_site_is_created() {
    // The default root, ./public_html, is the one created (an explicit --root must exist).
    let d = TempDir::new("default");
    let s = Server::start_in(Some(d.path()), std::path::Path::new("./public_html"), &[]);
    assert!(d.path().join("public_html/index.html").exists());
    let r = get(&s, "/", "");
    assert_eq!(r.status, 200);
    assert!(String::from_utf8_lossy(&r.body).contains("Hello from"));
    assert_eq!(get(&s, "/style.css", "").status, 200);
}

#[test]
fn help_and_bad_options() {
    let out = std::process::Command::new(binary())
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--port",
        "--bind",
        "--root",
        "--workers",
        "--access-log",
        "--sched",
        "--help",
    ] {
        assert!(text.contains(flag), "--help mentions {flag}");
    }
    let out = std::process::Command::new(binary())
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // The one flag without a value refuses one; a value after `=` is checked like any other;
    // either way one line on stderr, exit 2.
    for (bad, says) in [
        ("--help=yes", "--help"),
        ("--sched=fifo", "--sched: unknown policy fifo"),
        ("--workers=0", "--workers: between 1 and 1024"),
    ] {
        let out = std::process::Command::new(binary())
            .arg(bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{bad}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{bad}: {stderr}");
        assert!(out.stdout.is_empty(), "{bad}");
    }
}

#[test]
fn a_head_split_across_writes_is_resumed() {
    let d = site();
    let s = Server::start(d.path(), &[]);
    let mut c = s.connect();
    let mut r = BufReader::new(c.try_clone().unwrap());
    let msg = b"GET /style.css HTTP/1.1\r\nHost: t\r\nAccept: */*\r\n\r\nGET /data.json HTTP/1.1\r\nHost: t\r\n\r\n";
    for piece in msg.chunks(7) {
        c.write_all(piece).unwrap();
        c.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(3));
    }
    assert_eq!(read_response(&mut r, false).unwrap().body, b"body{}\n");
    assert_eq!(read_response(&mut r, false).unwrap().body, b"{}");
}

/// The scheduling policy of every thread of process `pid` (field 41 of each task's `stat`).
fn thread_policies(pid: i32) -> Vec<u32> {
    let mut out = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let stat = std::fs::read_to_string(t.unwrap().path().join("stat")).unwrap();
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        out.push(after.split(' ').nth(38).unwrap().parse().unwrap());
    }
    out
}

#[test]
fn threads_run_sched_batch_unless_told_otherwise() {
    const SCHED_OTHER: u32 = 0;
    const SCHED_BATCH: u32 = 3;
    let d = site();
    let s = Server::start(d.path(), &["--workers", "2"]);
    assert_eq!(get(&s, "/style.css", "").status, 200);
    let p = thread_policies(s.pid());
    assert!(p.len() >= 3, "main thread and 2 workers: {p:?}");
    assert!(p.iter().all(|&x| x == SCHED_BATCH), "{p:?}");
    drop(s);
    let s = Server::start(d.path(), &["--workers", "2", "--sched", "normal"]);
    assert_eq!(get(&s, "/style.css", "").status, 200);
    let p = thread_policies(s.pid());
    assert!(p.iter().all(|&x| x == SCHED_OTHER), "{p:?}");
    let out = std::process::Command::new(binary())
        .args(["--sched", "fifo"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--sched: unknown policy fifo"));
}

#[test]
fn an_explicit_root_that_does_not_exist_is_refused_not_created() {
    let d = TempDir::new("noroot");
    let missing = d.path().join("typo/site");
    let out = std::process::Command::new(binary())
        .args(["--port", "0", "--bind", "127.0.0.1", "--root"])
        .arg(&missing)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("--root") && err.contains("no such directory"),
        "{err}"
    );
    assert!(!d.path().join("typo").exists(), "the directory was created");
}

#[test]
fn a_second_server_on_a_served_port_is_refused_unless_asked_to_share() {
    let d = site();
    let first = Server::start(d.path(), &[]);
    let port = first.port.to_string();
    // Without --reuse-port: one line, exit 2, and nothing taken from the first server.
    let out = run_to_exit(
        &["--bind", "127.0.0.1", "--port", &port, "--workers", "2"],
        d.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!("httpd: 127.0.0.1:{port}: address in use")),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(out.stdout.is_empty());
    // The same through --listen.
    let out = run_to_exit(
        &["--listen", &format!("127.0.0.1:{port}"), "--workers", "1"],
        d.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("address in use"));
    for _ in 0..8 {
        assert_eq!(get(&first, "/index.html", "").status, 200);
    }
    // With --reuse-port the second one starts on the same port, and both serve.
    let second = Server::start(d.path(), &["--port", &port, "--reuse-port"]);
    assert_eq!(second.port, first.port);
    for _ in 0..8 {
        assert_eq!(get(&second, "/index.html", "").status, 200);
    }
}

/// The output of httpd run with `args` and `--root root` once it has exited; one still
/// running after 30 s (a server that came up instead of refusing) is killed and the test fails.
fn run_to_exit(args: &[&str], root: &std::path::Path) -> std::process::Output {
    let mut child = std::process::Command::new(binary())
        .args(args)
        .arg("--root")
        .arg(root)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let within = std::time::Duration::from_secs(30);
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > within {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running after {within:?}: it came up instead of refusing");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}
