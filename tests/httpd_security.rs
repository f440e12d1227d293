//! httpd under hostile input: every parser error gets its status and a closed connection,
//! traversal never leaves the root, symlinks out of the root are refused.

mod httpd_support;

use std::io::{BufReader, Write};

use httpd_support::*;

fn site() -> (TempDir, TempDir) {
    let outside = TempDir::new("outside");
    outside.write("secret.txt", b"TOP SECRET");
    let d = TempDir::new("sec");
    d.write("index.html", b"inside");
    d.write("dir/a.txt", b"a");
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), d.path().join("leak.txt"))
        .unwrap();
    std::os::unix::fs::symlink(outside.path(), d.path().join("leakdir")).unwrap();
    std::os::unix::fs::symlink(d.path().join("dir/a.txt"), d.path().join("inner.txt")).unwrap();
    (d, outside)
}

/// Sends `raw` and expects `status` followed by the server closing the connection.
fn expect_error(s: &Server, raw: &[u8], status: u16) {
    let mut c = s.connect();
    c.write_all(raw).unwrap();
    let mut r = BufReader::new(c);
    let resp = read_response(&mut r, false)
        .unwrap_or_else(|| panic!("no response to {:?}", String::from_utf8_lossy(raw)));
    assert_eq!(resp.status, status, "{:?}", String::from_utf8_lossy(raw));
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(closed_by_server(&mut r), "closed after {status}");
}

#[test]
fn each_parser_error_gets_its_status_and_closes() {
    let (d, _o) = site();
    let s = Server::start(d.path(), &["--max-body", "1000"]);
    expect_error(&s, b"GET / HTTP/1.1\r\n\r\n", 400); // no Host
    expect_error(&s, b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
    expect_error(&s, b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    expect_error(&s, b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400);
    expect_error(&s, b"GET / HTTP/1.1\nHost: a\n\n", 400);
    expect_error(
        &s,
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        400,
    );
    expect_error(
        &s,
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n",
        413,
    );
    let long = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(9000));
    expect_error(&s, long.as_bytes(), 414);
    let mut many = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
    for i in 0..200 {
        many.push_str(&format!("X-{i}: v\r\n"));
    }
    many.push_str("\r\n");
    expect_error(&s, many.as_bytes(), 431);
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "b".repeat(70_000)
    );
    expect_error(&s, huge.as_bytes(), 431);
    expect_error(
        &s,
        b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        501,
    );
    expect_error(&s, b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
    expect_error(
        &s,
        b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        400,
    );
    // Binary garbage.
    expect_error(
        &s,
        &[
            0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, b'\r', b'\n',
        ],
        400,
    );
    // The server is still fine.
    assert_eq!(get(&s, "/", "").body, b"inside");
}

#[test]
fn traversal_never_escapes_the_root() {
    let (d, _o) = site();
    let s = Server::start(d.path(), &[]);
    let attempts = [
        "/../secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/%2E%2E/etc/passwd",
        "/dir/../../etc/passwd",
        "/dir/%2e%2e/%2e%2e/etc/passwd",
        "/..%5c..%5cetc%5cpasswd",
        "/dir%5c..%5c..%5cetc%5cpasswd",
        "/index.html%00.txt",
        "/%00",
        "/..",
        "/%",
        "/%zz",
    ];
    for a in attempts {
        let r = exchange(
            &s,
            format!("GET {a} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(),
        );
        assert!(
            r.status == 400 || r.status == 404 || r.status == 403,
            "{a}: status {}",
            r.status
        );
        assert!(!String::from_utf8_lossy(&r.body).contains("root:"), "{a}");
        assert!(!String::from_utf8_lossy(&r.body).contains("SECRET"), "{a}");
    }
    // Backslashes in the raw target are refused by the parser or the server.
    let r = exchange(&s, b"GET /..\\..\\etc\\passwd HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 400);
    // Absolute-form targets are held to the same rules.
    let r = exchange(
        &s,
        b"GET http://t/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        exchange(&s, b"GET http://t/dir/a.txt HTTP/1.1\r\nHost: t\r\n\r\n").body,
        b"a"
    );
    // `..` that stays inside is fine.
    assert_eq!(get(&s, "/dir/%2e%2e/index.html", "").body, b"inside");
}

#[test]
fn symlinks_out_of_the_root_are_not_served() {
    let (d, _o) = site();
    let s = Server::start(d.path(), &[]);
    let r = get(&s, "/leak.txt", "");
    assert_eq!(r.status, 403);
    assert!(!String::from_utf8_lossy(&r.body).contains("SECRET"));
    assert_eq!(get(&s, "/leakdir/secret.txt", "").status, 403);
    assert_eq!(get(&s, "/leakdir/", "").status, 403);
    // A symlink that stays inside the root is served.
    assert_eq!(get(&s, "/inner.txt", "").body, b"a");
}

#[test]
fn random_bytes_never_kill_the_server() {
    let (d, _o) = site();
    let s = Server::start(d.path(), &[]);
    let mut x = 0x1234_5678_9abc_def0u64;
    for round in 0..200 {
        let mut c = s.connect();
        let mut msg = b"GET /".to_vec();
        for _ in 0..(round % 60 + 1) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            msg.push((x >> 24) as u8);
        }
        msg.extend_from_slice(b" HTTP/1.1\r\nHost: t\r\n\r\n");
        let _ = c.write_all(&msg);
        let mut r = BufReader::new(c);
        if let Some(resp) = read_response(&mut r, false) {
            assert!(
                [200, 301, 400, 403, 404].contains(&resp.status),
                "{}",
                resp.status
            );
        }
    }
    assert_eq!(get(&s, "/", "").status, 200);
    assert!(!s.stderr().contains("panicked"), "{}", s.stderr());
}
