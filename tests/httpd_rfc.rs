//! httpd against RFC 9110 / 9112 over raw TCP: how methods and request-targets are answered
//! (exact status lines), every precondition of RFC 9110 section 13 and their order, and
//! precompressed siblings (`x.css.br`, `.zst`, `.gz`) chosen by `Accept-Encoding`.

mod httpd_support;

use std::io::{BufReader, Read, Write};
use std::time::{Duration, SystemTime};

use httpd_support::*;

/// Sends `raw` on a new connection, followed by a request for `/a.txt` with
/// `Connection: close`; returns the first status line (without CRLF) and whether the server
/// closed the connection after it (else it answers the second request too, then closes).
fn status_line(s: &Server, raw: &[u8]) -> (String, bool) {
    let mut c = s.connect();
    let mut both = raw.to_vec();
    both.extend_from_slice(b"GET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    c.write_all(&both).unwrap();
    let mut all = Vec::new();
    // (A reset after the server's close, with our unread bytes in its buffer, still lets
    // us read what it sent before.)
    let _ = c.read_to_end(&mut all);
    let text = String::from_utf8_lossy(&all);
    let line = text.split("\r\n").next().unwrap_or_default().to_string();
    // (No body here holds a status line: they are "hello", "index" and error pages.)
    let answers = text.matches("HTTP/1.1 ").count();
    (line, answers == 1)
}

const BAD: &str = "HTTP/1.1 400 Bad Request";
const NOT_ALLOWED: &str = "HTTP/1.1 405 Method Not Allowed";
const NOT_IMPLEMENTED: &str = "HTTP/1.1 501 Not Implemented";
const OK: &str = "HTTP/1.1 200 OK";
const NOT_FOUND: &str = "HTTP/1.1 404 Not Found";

#[test]
fn methods_and_request_targets() {
    let d = TempDir::new("rfc-targets");
    d.write("a.txt", b"hello");
    d.write("index.html", b"index");
    d.write("dir/index.html", b"x");
    let s = Server::start(d.path(), &[]);
    let cases: &[(&[u8], &str)] = &[
        // RFC 9110 9: methods are case-sensitive; a known one not allowed here is 405, one
        // this server does not implement 501 (these were 405 before).
        (b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", OK),
        (b"HEAD /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", OK),
        (b"POST /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nab", NOT_ALLOWED),
        (b"PUT /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", NOT_ALLOWED),
        (b"DELETE /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", NOT_ALLOWED),
        (b"TRACE /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", NOT_ALLOWED),
        (b"PATCH /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", NOT_ALLOWED),
        (b"OPTIONS /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", NOT_ALLOWED),
        (b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n", NOT_ALLOWED),
        (b"CONNECT t:443 HTTP/1.1\r\nHost: t:443\r\n\r\n", NOT_ALLOWED),
        (b"FOO /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", NOT_IMPLEMENTED),
        (b"PROPFIND /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", NOT_IMPLEMENTED),
        (b"get /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", NOT_IMPLEMENTED),
        (b"Get /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", NOT_IMPLEMENTED),
        (b"M-SEARCH /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", NOT_IMPLEMENTED),
        (
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZ /a.txt HTTP/1.1\r\nHost: t\r\n\r\n",
            NOT_IMPLEMENTED,
        ),
        (b"G(T /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        // An invalid target is 400 whatever the method.
        (b"FOO /a#b HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"POST /a<b HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", BAD),
        // RFC 9112 3.2: the forms of a target and their methods.
        (b"GET * HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"HEAD * HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"GET t:80 HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"CONNECT /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"GET a.txt HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"GET http://t/a.txt HTTP/1.1\r\nHost: t\r\n\r\n", OK),
        (b"GET http://t:80/a.txt HTTP/1.1\r\nHost: t\r\n\r\n", OK),
        (b"GET HTTP://t/a.txt HTTP/1.1\r\nHost: t\r\n\r\n", OK),
        (b"GET http://[::1]:80/a.txt HTTP/1.1\r\nHost: t\r\n\r\n", OK),
        (b"GET http://t HTTP/1.1\r\nHost: t\r\n\r\n", OK),
        // RFC 9110 4.2.1 and 4.2.4: an empty host, userinfo (200 before).
        (b"GET http:///a.txt HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"GET http://u@t/a.txt HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"GET http://t:x/a.txt HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"GET http://t#f HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"GET http:a.txt HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        // No fragment in a request-target (404 before); RFC 3986 path characters.
        (b"GET /a.txt#frag HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"GET /a.txt?x#frag HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"GET http://t/a.txt#x HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"GET /a\"b HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"GET /<a> HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"GET /{a} HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"GET /a`b HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"GET /a.txt?q=<x> HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"GET /a\\b HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"GET /a%zz HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"GET /a%2 HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"GET /a%00 HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"GET /a%5c HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"GET /a\x01 HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"GET /a\x7f HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"GET /\xc3\xa9 HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"GET /a b HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"GET  /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        (b"GET /a.txt HTTP/1.1 \r\nHost: t\r\n\r\n", BAD),
        (b"GET /../a.txt HTTP/1.1\r\nHost: t\r\n\r\n", BAD),
        // What browsers send unencoded stays accepted; valid escapes are decoded.
        (b"GET /a[1]|^ HTTP/1.1\r\nHost: t\r\n\r\n", NOT_FOUND),
        (b"GET /%61.txt HTTP/1.1\r\nHost: t\r\n\r\n", OK),
        (b"GET /a.txt?x=[1]&y={}|%zz HTTP/1.1\r\nHost: t\r\n\r\n", OK),
        (b"GET /dir%2Findex.html HTTP/1.1\r\nHost: t\r\n\r\n", OK),
        (b"GET /a.txt;p=1 HTTP/1.1\r\nHost: t\r\n\r\n", NOT_FOUND),
        (b"GET /@:!$&'()*+,;= HTTP/1.1\r\nHost: t\r\n\r\n", NOT_FOUND),
    ];
    let mut wrong = Vec::new();
    for (raw, want) in cases {
        let (got, closed) = status_line(&s, raw);
        if got != *want {
            wrong.push(format!(
                "{:?}: {got:?}, want {want:?}",
                String::from_utf8_lossy(raw)
            ));
        }
        // A 400 closes the connection (the request line was not understood); the others
        // keep it.
        if got == BAD && !closed || got != BAD && closed {
            wrong.push(format!(
                "{:?}: closed {closed}",
                String::from_utf8_lossy(raw)
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // A 405 names the allowed methods; a 501 needs none.
    let r = exchange(&s, b"DELETE /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    let r = exchange(&s, b"FOO /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!((r.status, r.header("allow")), (501, None));
}

#[test]
fn http_versions() {
    // RFC 9112 2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT. A major version other than 1 is
    // answered 505 (RFC 9110 15.6.6), as nginx does for 2.0 and 3.0; what does not match the
    // grammar is a 400 (nginx is laxer: 505 for HTTP/10.1, 200 for HTTP/1.10, an HTTP/0.9
    // answer without a status line to `GET /`). Both close the connection. Every answer is
    // HTTP/1.1 (RFC 9110 6.2).
    let d = TempDir::new("rfc-versions");
    d.write("a.txt", b"hello");
    d.write("index.html", b"index");
    let s = Server::start(d.path(), &[]);
    let unsupported = "HTTP/1.1 505 HTTP Version Not Supported";
    let cases: &[(&[u8], &str, bool)] = &[
        (b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", OK, false),
        (
            b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            OK,
            false,
        ),
        // RFC 9110 6.2: a higher minor version of HTTP/1 is processed as HTTP/1.1 (as nginx
        // does): 200, persistent, and a Host is required.
        (b"GET / HTTP/1.2\r\nHost: t\r\n\r\n", OK, false),
        (b"GET / HTTP/1.9\r\nHost: t\r\n\r\n", OK, false),
        (b"GET / HTTP/1.2\r\n\r\n", BAD, true),
        (b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", unsupported, true),
        (b"GET / HTTP/3.0\r\nHost: t\r\n\r\n", unsupported, true),
        (b"GET / HTTP/0.9\r\nHost: t\r\n\r\n", unsupported, true),
        (b"GET / HTTP/9.9\r\nHost: t\r\n\r\n", unsupported, true),
        (b"GET / HTTP/10.1\r\nHost: t\r\n\r\n", BAD, true),
        (b"GET / HTTP/1.10\r\nHost: t\r\n\r\n", BAD, true),
        (b"GET / HTTP/01.1\r\nHost: t\r\n\r\n", BAD, true),
        (b"GET / http/1.1\r\nHost: t\r\n\r\n", BAD, true),
        (b"GET /\r\n\r\n", BAD, true),
    ];
    let mut wrong = Vec::new();
    for (raw, want, want_closed) in cases {
        let (got, closed) = status_line(&s, raw);
        if got != *want || closed != *want_closed {
            wrong.push(format!(
                "{:?}: {got:?} closed {closed}, want {want:?} closed {want_closed}",
                String::from_utf8_lossy(raw)
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A file and its validators as the server sends them.
fn validators(s: &Server, path: &str, extra: &str) -> (String, String) {
    let r = get(s, path, extra);
    assert_eq!(r.status, 200);
    (
        r.header("etag").unwrap().to_string(),
        r.header("last-modified").unwrap().to_string(),
    )
}

/// A file modified at a fixed time in the past (an HTTP date of it is a strong validator).
fn old_file(d: &TempDir, rel: &str, data: &[u8], unix: u64) {
    d.write(rel, data);
    let f = std::fs::File::options()
        .write(true)
        .open(d.path().join(rel))
        .unwrap();
    f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(unix))
        .unwrap();
}

#[test]
fn if_match_and_if_unmodified_since_fail_with_412() {
    let d = TempDir::new("rfc-412");
    old_file(&d, "f.txt", b"0123456789", 1_000_000_000);
    let s = Server::start(d.path(), &[]);
    let (etag, lm) = validators(&s, "/f.txt", "");
    assert_eq!(lm, "Sun, 09 Sep 2001 01:46:40 GMT");
    let status = |extra: &str| get(&s, "/f.txt", extra).status;

    // If-Match: strong comparison; `*` matches an existing file (412 before: always 200).
    assert_eq!(status(&format!("If-Match: {etag}\r\n")), 200);
    assert_eq!(status(&format!("If-Match: \"x\", {etag}\r\n")), 200);
    assert_eq!(status("If-Match: *\r\n"), 200);
    assert_eq!(status("If-Match: \"x\"\r\n"), 412);
    assert_eq!(status(&format!("If-Match: W/{etag}\r\n")), 412);
    assert_eq!(status("If-Match: not-a-tag\r\n"), 412);
    // If-Unmodified-Since: a date on or after Last-Modified passes, one before fails; in any
    // of the three date formats; an invalid date is ignored.
    assert_eq!(status(&format!("If-Unmodified-Since: {lm}\r\n")), 200);
    assert_eq!(
        status("If-Unmodified-Since: Sun, 09 Sep 2001 01:46:39 GMT\r\n"),
        412
    );
    assert_eq!(
        status("If-Unmodified-Since: Sunday, 09-Sep-01 01:46:39 GMT\r\n"),
        412
    );
    assert_eq!(
        status("If-Unmodified-Since: Sun Sep  9 01:46:39 2001\r\n"),
        412
    );
    assert_eq!(
        status("If-Unmodified-Since: Sun Sep  9 01:46:40 2001\r\n"),
        200
    );
    assert_eq!(status("If-Unmodified-Since: yesterday\r\n"), 200);
    // If-Unmodified-Since is ignored when If-Match is present (and passes).
    assert_eq!(
        status(&format!(
            "If-Match: {etag}\r\nIf-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
        )),
        200
    );
    // The 412 is a complete response on a connection that stays open, also for HEAD.
    let mut c = s.connect();
    let mut r = BufReader::new(c.try_clone().unwrap());
    c.write_all(b"GET /f.txt HTTP/1.1\r\nHost: t\r\nIf-Match: \"x\"\r\n\r\n")
        .unwrap();
    let resp = read_response(&mut r, false).unwrap();
    assert_eq!(resp.status, 412);
    assert_eq!(resp.header("connection"), None);
    assert_eq!(resp.header("etag"), None);
    c.write_all(b"HEAD /f.txt HTTP/1.1\r\nHost: t\r\nIf-Match: \"x\"\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut r, true).unwrap().status, 412);
    c.write_all(b"GET /f.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut r, false).unwrap().body, b"0123456789");
    // Preconditions are not evaluated where the answer would not be 2xx anyway.
    assert_eq!(get(&s, "/missing", "If-Match: \"x\"\r\n").status, 404);
    let r = exchange(
        &s,
        b"DELETE /f.txt HTTP/1.1\r\nHost: t\r\nIf-Match: \"x\"\r\n\r\n",
    );
    assert_eq!(r.status, 405);
}

#[test]
fn preconditions_are_evaluated_in_the_order_of_rfc_9110_13_2_2() {
    let d = TempDir::new("rfc-order");
    old_file(&d, "f.txt", b"0123456789", 1_000_000_000);
    let s = Server::start(d.path(), &[]);
    let (etag, lm) = validators(&s, "/f.txt", "");
    let status = |extra: &str| get(&s, "/f.txt", extra).status;
    let early = "Thu, 01 Jan 1970 00:00:00 GMT";
    // 1 before 3: a failed If-Match is 412 even when If-None-Match would give 304.
    assert_eq!(
        status(&format!("If-Match: \"x\"\r\nIf-None-Match: {etag}\r\n")),
        412
    );
    // 2 before 4: a failed If-Unmodified-Since is 412 even when If-Modified-Since gives 304.
    assert_eq!(
        status(&format!(
            "If-Unmodified-Since: {early}\r\nIf-Modified-Since: {lm}\r\n"
        )),
        412
    );
    // Passing 1, then 3 decides: 304 (weak comparison), 200 when no tag matches.
    assert_eq!(
        status(&format!("If-Match: {etag}\r\nIf-None-Match: W/{etag}\r\n")),
        304
    );
    assert_eq!(
        status(&format!("If-Match: {etag}\r\nIf-None-Match: \"y\"\r\n")),
        200
    );
    // 3 replaces 4: If-Modified-Since is ignored when If-None-Match is present.
    assert_eq!(
        status(&format!(
            "If-None-Match: \"y\"\r\nIf-Modified-Since: {lm}\r\n"
        )),
        200
    );
    // 4 in each date format, ignored when invalid.
    assert_eq!(status(&format!("If-Modified-Since: {lm}\r\n")), 304);
    assert_eq!(
        status("If-Modified-Since: Sunday, 09-Sep-01 01:46:40 GMT\r\n"),
        304
    );
    assert_eq!(
        status("If-Modified-Since: Sun Sep  9 01:46:40 2001\r\n"),
        304
    );
    assert_eq!(
        status("If-Modified-Since: Sun, 09 Sep 2001 01:46:39 GMT\r\n"),
        200
    );
    assert_eq!(
        status("If-Modified-Since: Sun, 09 Sep 2001 01:46:40 GMT, x\r\n"),
        200
    );
    // 5: If-Range after the preconditions; a weak tag or an inexact date never matches.
    let range = |if_range: &str| -> u16 {
        status(&format!(
            "If-Match: {etag}\r\nRange: bytes=0-3\r\nIf-Range: {if_range}\r\n"
        ))
    };
    assert_eq!(range(&etag), 206);
    assert_eq!(range(&lm), 206);
    assert_eq!(range(&format!("W/{etag}")), 200);
    assert_eq!(range("Sun, 09 Sep 2001 01:46:41 GMT"), 200);
    assert_eq!(range("\"other\""), 200);
    assert_eq!(
        status(&format!("Range: bytes=0-3\r\nIf-None-Match: {etag}\r\n")),
        304
    );
    assert_eq!(
        status("Range: bytes=0-3\r\nIf-Match: \"x\"\r\n"),
        412,
        "the precondition before the range"
    );
    // HEAD: the same verdicts.
    let head = |extra: &str| {
        exchange(
            &s,
            format!("HEAD /f.txt HTTP/1.1\r\nHost: t\r\n{extra}\r\n").as_bytes(),
        )
        .status
    };
    assert_eq!(head("If-Match: \"x\"\r\n"), 412);
    assert_eq!(head(&format!("If-None-Match: {etag}\r\n")), 304);
    assert_eq!(head(&format!("If-Unmodified-Since: {early}\r\n")), 412);
}

#[test]
fn a_date_in_if_range_is_a_validator_only_once_its_second_is_over() {
    // RFC 9110 8.8.2.2: a file modified in the current second may change again within it,
    // so its Last-Modified is weak and If-Range with it serves the whole file.
    let d = TempDir::new("rfc-ifrange");
    let s = Server::start(d.path(), &[]);
    let mut fresh = None;
    for _ in 0..20 {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap();
        if now.subsec_millis() > 600 {
            std::thread::sleep(Duration::from_millis(450));
            continue;
        }
        d.write("new.txt", b"0123456789");
        let r = get(
            &s,
            "/new.txt",
            &format!("Range: bytes=0-3\r\nIf-Range: {}\r\n", now_http_date()),
        );
        let after = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap();
        if after.as_secs() == now.as_secs() {
            fresh = Some(r.status);
            break;
        }
    }
    assert_eq!(fresh, Some(200), "If-Range with the current second");
    std::thread::sleep(Duration::from_millis(2100));
    let lm = get(&s, "/new.txt", "")
        .header("last-modified")
        .unwrap()
        .to_string();
    assert_eq!(
        get(
            &s,
            "/new.txt",
            &format!("Range: bytes=0-3\r\nIf-Range: {lm}\r\n")
        )
        .status,
        206
    );
}

fn compressed_site() -> TempDir {
    let d = TempDir::new("rfc-gz");
    d.write("x.css", b"body { color: red }\n");
    d.write("x.css.gz", b"GZIP-BYTES-OF-X");
    d.write("x.css.br", b"BR-BYTES");
    d.write("x.css.zst", b"ZSTD-BYTES-OF-X");
    d.write("only.js", b"let a = 1;\n");
    d.write("only.js.gz", b"GZ-ONLY");
    d.write("plain.txt", b"no siblings");
    d.write("index.html", b"<p>index</p>");
    d.write("index.html.gz", b"GZ-INDEX");
    d
}

#[test]
fn precompressed_siblings_follow_accept_encoding() {
    let d = compressed_site();
    let big = pattern(300_000);
    d.write("big.js", &big);
    d.write("big.js.gz", &big[..200_000]);
    let s = Server::start(d.path(), &[]);
    let ae = |v: &str| get(&s, "/x.css", &format!("Accept-Encoding: {v}\r\n"));

    // Without Accept-Encoding: the file, with Vary since its representation depends on it.
    let plain = get(&s, "/x.css", "");
    assert_eq!(plain.body, b"body { color: red }\n");
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.header("vary"), Some("Accept-Encoding"));
    assert_eq!(
        plain.header("content-type"),
        Some("text/css; charset=utf-8")
    );
    let plain_etag = plain.header("etag").unwrap().to_string();

    // The server prefers br > zstd > gzip when the weights tie.
    let br = ae("gzip, deflate, br, zstd");
    assert_eq!(br.body, b"BR-BYTES");
    assert_eq!(br.header("content-encoding"), Some("br"));
    assert_eq!(br.header("content-length"), Some("8"));
    assert_eq!(br.header("vary"), Some("Accept-Encoding"));
    assert_eq!(br.header("content-type"), Some("text/css; charset=utf-8"));
    let br_etag = br.header("etag").unwrap().to_string();
    assert_ne!(br_etag, plain_etag);
    let zstd = ae("gzip, zstd");
    assert_eq!(
        (zstd.header("content-encoding"), zstd.body.as_slice()),
        (Some("zstd"), &b"ZSTD-BYTES-OF-X"[..])
    );
    let gz = ae("gzip");
    assert_eq!(
        (gz.header("content-encoding"), gz.body.as_slice()),
        (Some("gzip"), &b"GZIP-BYTES-OF-X"[..])
    );
    let gz_etag = gz.header("etag").unwrap().to_string();
    let etags = [
        &plain_etag,
        &br_etag,
        &gz_etag,
        zstd.header("etag").unwrap(),
    ];
    for (i, a) in etags.iter().enumerate() {
        for b in &etags[i + 1..] {
            assert_ne!(a, b, "each representation has its own ETag");
        }
    }
    // Weights (RFC 9110 12.5.3), names without regard to case, x-gzip, `*`, identity.
    assert_eq!(ae("BR;q=0.5, GZIP;q=0.9").body, b"GZIP-BYTES-OF-X");
    assert_eq!(ae("x-gzip").body, b"GZIP-BYTES-OF-X");
    assert_eq!(ae("br;q=0, zstd;q=0, *").body, b"GZIP-BYTES-OF-X");
    assert_eq!(ae("*").body, b"BR-BYTES");
    assert_eq!(
        ae("br;q=0, zstd;q=0, gzip;q=0").body,
        b"body { color: red }\n"
    );
    assert_eq!(ae("*;q=0").body, b"body { color: red }\n");
    assert_eq!(ae("gzip;q=0.5, identity").body, b"body { color: red }\n");
    assert_eq!(ae("deflate").body, b"body { color: red }\n");
    assert_eq!(ae("").body, b"body { color: red }\n");
    assert_eq!(ae("br;q=2, gzip").body, b"GZIP-BYTES-OF-X");

    // HEAD tells what GET would send.
    let r = exchange(
        &s,
        b"HEAD /x.css HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n",
    );
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.header("content-length"), Some("15"));
    assert_eq!(r.header("etag"), Some(gz_etag.as_str()));

    // Ranges are over the encoded bytes.
    let r = get(
        &s,
        "/x.css",
        "Accept-Encoding: gzip\r\nRange: bytes=5-9\r\n",
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.body, b"BYTES");
    assert_eq!(r.header("content-range"), Some("bytes 5-9/15"));
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let r = get(
        &s,
        "/x.css",
        "Accept-Encoding: gzip\r\nRange: bytes=15-\r\n",
    );
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */15"));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    let r = get(
        &s,
        "/x.css",
        &format!("Accept-Encoding: gzip\r\nRange: bytes=0-3\r\nIf-Range: {plain_etag}\r\n"),
    );
    assert_eq!(
        (r.status, r.body.len()),
        (200, 15),
        "If-Range of another variant"
    );

    // Conditionals compare the selected representation's validators.
    let r = get(
        &s,
        "/x.css",
        &format!("Accept-Encoding: gzip\r\nIf-None-Match: {gz_etag}\r\n"),
    );
    assert_eq!(r.status, 304);
    assert_eq!(r.header("etag"), Some(gz_etag.as_str()));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    let r = get(&s, "/x.css", &format!("If-None-Match: {gz_etag}\r\n"));
    assert_eq!(r.status, 200, "the identity ETag differs");
    assert_eq!(
        get(
            &s,
            "/x.css",
            &format!("Accept-Encoding: br\r\nIf-Match: {gz_etag}\r\n")
        )
        .status,
        412
    );
    assert_eq!(
        get(
            &s,
            "/x.css",
            &format!("Accept-Encoding: br\r\nIf-Match: {br_etag}\r\n")
        )
        .status,
        200
    );

    // Only the siblings that exist; a file without siblings has no Vary.
    let r = get(&s, "/only.js", "Accept-Encoding: br, zstd, gzip\r\n");
    assert_eq!(r.body, b"GZ-ONLY");
    assert_eq!(
        r.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(
        get(&s, "/only.js", "Accept-Encoding: br\r\n").body,
        b"let a = 1;\n"
    );
    let r = get(&s, "/plain.txt", "Accept-Encoding: gzip\r\n");
    assert_eq!(r.body, b"no siblings");
    assert_eq!(
        (r.header("vary"), r.header("content-encoding")),
        (None, None)
    );
    // A directory's index.html has its siblings too.
    let r = get(&s, "/", "Accept-Encoding: gzip\r\n");
    assert_eq!(r.body, b"GZ-INDEX");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    // A compressed file asked for by its own name is served as it is.
    let r = get(&s, "/x.css.gz", "Accept-Encoding: gzip\r\n");
    assert_eq!(r.body, b"GZIP-BYTES-OF-X");
    assert_eq!(r.header("content-type"), Some("application/gzip"));
    assert_eq!(r.header("content-encoding"), None);
    // A large sibling goes out with sendfile, ranges too.
    let r = get(&s, "/big.js", "Accept-Encoding: gzip\r\n");
    assert!(r.body == big[..200_000]);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let r = get(
        &s,
        "/big.js",
        "Accept-Encoding: gzip\r\nRange: bytes=100000-\r\n",
    );
    assert_eq!(r.status, 206);
    assert!(r.body == big[100_000..200_000]);
    assert!(get(&s, "/big.js", "").body == big);
}

#[test]
fn precompressed_siblings_on_a_pipelined_keep_alive_connection() {
    let d = compressed_site();
    let s = Server::start(d.path(), &[]);
    let mut c = s.connect();
    let mut r = BufReader::new(c.try_clone().unwrap());
    let mut burst = Vec::new();
    for i in 0..30 {
        let ae = ["gzip", "br", "", "zstd;q=1, br;q=0.1"][i % 4];
        burst.extend_from_slice(
            format!("GET /x.css HTTP/1.1\r\nHost: t\r\nAccept-Encoding: {ae}\r\n\r\n").as_bytes(),
        );
    }
    c.write_all(&burst).unwrap();
    for i in 0..30 {
        let want: &[u8] = [
            &b"GZIP-BYTES-OF-X"[..],
            b"BR-BYTES",
            b"body { color: red }\n",
            b"ZSTD-BYTES-OF-X",
        ][i % 4];
        assert_eq!(read_response(&mut r, false).unwrap().body, want, "#{i}");
    }
}

#[test]
fn a_sibling_must_be_a_fresh_regular_file_inside_the_root() {
    let outside = TempDir::new("rfc-gz-outside");
    outside.write("secret.gz", b"TOP SECRET");
    let d = TempDir::new("rfc-gz-checks");
    d.write("leak.css", b"leak css");
    std::os::unix::fs::symlink(
        outside.path().join("secret.gz"),
        d.path().join("leak.css.gz"),
    )
    .unwrap();
    d.write("dir.css", b"dir css");
    std::fs::create_dir(d.path().join("dir.css.gz")).unwrap();
    d.write("inner.css", b"inner css");
    d.write("target.gz", b"INNER GZ");
    std::os::unix::fs::symlink(d.path().join("target.gz"), d.path().join("inner.css.br")).unwrap();
    // A sibling older than its file (left behind by an edit of the file) is stale.
    old_file(&d, "stale.css.gz", b"OLD GZ", 1_000_000_000);
    d.write("stale.css", b"new css");
    let s = Server::start(d.path(), &[]);
    let ae = "Accept-Encoding: gzip, br\r\n";
    let r = get(&s, "/leak.css", ae);
    assert_eq!(
        r.body, b"leak css",
        "a symlink out of the root is no sibling"
    );
    assert_eq!(r.header("vary"), None);
    assert_eq!(get(&s, "/leak.css.gz", "").status, 403);
    assert_eq!(get(&s, "/dir.css", ae).body, b"dir css");
    let r = get(&s, "/stale.css", ae);
    assert_eq!(
        (r.body.as_slice(), r.header("vary")),
        (&b"new css"[..], None)
    );
    // A symlink inside the root is followed, as for any file.
    let r = get(&s, "/inner.css", ae);
    assert_eq!(r.body, b"INNER GZ");
    assert_eq!(r.header("content-encoding"), Some("br"));
}
