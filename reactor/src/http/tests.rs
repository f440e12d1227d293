//! The parser's rules, one test each, with the status a server should answer. Every request
//! goes through `check`, which also parses it split at every byte and with both scanner sets
//! and requires the same outcome.

use std::string::{String, ToString};
use std::vec::Vec;

use super::*;

#[derive(Debug, PartialEq, Eq, Clone)]
struct Parsed {
    method: String,
    target: String,
    version: Version,
    form: TargetForm,
    headers: Vec<(String, Vec<u8>)>,
    head_len: usize,
    body: BodyFraming,
    keep_alive: bool,
}

fn once(config: ParserConfig, buf: &[u8], slots: usize) -> Result<Option<Parsed>, ParseError> {
    let mut headers = std::vec![RawHeader::EMPTY; slots];
    let mut parser = RequestParser::with_config(config);
    summary(parser.parse(buf, &mut headers))
}

fn summary(r: Result<Status<Request<'_>>, ParseError>) -> Result<Option<Parsed>, ParseError> {
    Ok(r?.complete().map(|r| Parsed {
        method: r.method().to_string(),
        target: r.target().to_string(),
        version: r.version(),
        form: r.target_form(),
        headers: r
            .headers()
            .map(|h| (h.name.to_string(), h.value.to_vec()))
            .collect(),
        head_len: r.head_len(),
        body: r.body(),
        keep_alive: r.keep_alive(),
    }))
}

/// Parses `buf` whole with both scanner sets, and split in two at every point, and fed a
/// byte at a time; all must agree. Returns the common outcome.
fn check_with(
    config: ParserConfig,
    buf: &[u8],
    slots: usize,
) -> Result<Option<Parsed>, ParseError> {
    let whole = once(config, buf, slots);
    let portable = ParserConfig {
        use_simd: false,
        ..config
    };
    assert_eq!(
        once(portable, buf, slots),
        whole,
        "portable scanners differ"
    );
    for split in 0..=buf.len() {
        let mut headers = std::vec![RawHeader::EMPTY; slots];
        let mut parser = RequestParser::with_config(config);
        let first = summary(parser.parse(&buf[..split], &mut headers));
        let outcome = match first {
            Ok(None) => summary(parser.parse(buf, &mut headers)),
            other => other,
        };
        assert_eq!(outcome, whole, "split at {split}");
    }
    let mut headers = std::vec![RawHeader::EMPTY; slots];
    let mut parser = RequestParser::with_config(portable);
    let mut outcome = Ok(None);
    for end in 0..=buf.len() {
        outcome = summary(parser.parse(&buf[..end], &mut headers));
        if !matches!(outcome, Ok(None)) {
            break;
        }
    }
    assert_eq!(outcome, whole, "byte at a time");
    whole
}

fn check(buf: &[u8]) -> Result<Option<Parsed>, ParseError> {
    check_with(ParserConfig::DEFAULT, buf, 32)
}

fn complete(buf: &[u8]) -> Parsed {
    match check(buf) {
        Ok(Some(p)) => p,
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
    }
}

/// The error for `buf`, asserting the status a server should answer with.
fn rejects(buf: &[u8], status: u16) -> ParseError {
    rejects_with(ParserConfig::DEFAULT, buf, status)
}

fn rejects_with(config: ParserConfig, buf: &[u8], status: u16) -> ParseError {
    match check_with(config, buf, 32) {
        Err(e) => {
            assert_eq!(
                e.status(),
                status,
                "{e:?} for {:?}",
                String::from_utf8_lossy(buf)
            );
            e
        }
        other => panic!("{:?} accepted: {other:?}", String::from_utf8_lossy(buf)),
    }
}

const LF: ParserConfig = ParserConfig {
    allow_lf_line_endings: true,
    ..ParserConfig::DEFAULT
};

#[test]
fn parses_a_request_zero_copy() {
    let buf =
        b"GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nAccept:  */* \t\r\nX-Empty:\r\n\r\nrest";
    let p = complete(buf);
    assert_eq!((p.method.as_str(), p.target.as_str()), ("GET", "/a/b?c=d"));
    assert_eq!(
        (p.version, p.form, p.body, p.keep_alive),
        (Version::Http11, TargetForm::Origin, BodyFraming::None, true)
    );
    assert_eq!(p.head_len, buf.len() - 4);
    let names: Vec<_> = p
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    assert_eq!(
        names,
        [
            ("Host", &b"example.com"[..]),
            ("Accept", b"*/*"),
            ("X-Empty", b"")
        ]
    );

    // The views borrow the input buffer.
    let mut headers = [RawHeader::EMPTY; 4];
    let mut parser = RequestParser::new();
    let req = parser.parse(buf, &mut headers).unwrap().complete().unwrap();
    let range = buf.as_ptr_range();
    assert!(range.contains(&req.method().as_ptr()) && range.contains(&req.target().as_ptr()));
    for h in req.headers() {
        assert!(range.contains(&h.name.as_ptr()));
        assert!(h.value.is_empty() || range.contains(&h.value.as_ptr()));
    }
    assert_eq!(req.header("ACCEPT"), Some(&b"*/*"[..]));
    assert_eq!(req.header("missing"), None);
    assert_eq!((req.path(), req.query()), ("/a/b", Some("c=d")));
}

#[test]
fn resumes_and_pipelines() {
    let two = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET";
    let mut headers = [RawHeader::EMPTY; 8];
    let mut parser = RequestParser::new();
    assert!(parser.parse(&two[..10], &mut headers).unwrap().is_partial());
    let first = parser.parse(two, &mut headers).unwrap().complete().unwrap();
    let (n, target) = (first.head_len(), first.target());
    assert_eq!((n, target), (28, "/1"));
    // Completion is sticky until reset.
    assert!(parser.parse(two, &mut headers).unwrap().is_complete());
    parser.reset();
    let second = parser
        .parse(&two[n..], &mut headers)
        .unwrap()
        .complete()
        .unwrap();
    assert_eq!(
        (second.method(), second.body()),
        ("POST", BodyFraming::ContentLength(3))
    );
    assert_eq!(&two[n + second.head_len()..][..3], b"abc");
}

#[test]
fn skips_leading_empty_lines() {
    assert_eq!(
        complete(b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n").head_len,
        31
    );
    assert_eq!(
        rejects(
            b"\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n",
            400
        ),
        ParseError::TooManyEmptyLines
    );
    assert_eq!(
        rejects(b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ParseError::BareLf
    );
    assert!(
        check_with(LF, b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 4)
            .unwrap()
            .is_some()
    );
}

#[test]
fn methods_are_tokens() {
    assert_eq!(
        complete(b"M-SEARCH /x HTTP/1.1\r\nHost: a\r\n\r\n").method,
        "M-SEARCH"
    );
    assert_eq!(
        rejects(b"G(T / HTTP/1.1\r\n", 400),
        ParseError::InvalidMethod
    );
    assert_eq!(
        rejects(b" GET / HTTP/1.1\r\n", 400),
        ParseError::InvalidMethod
    );
    assert_eq!(
        rejects(b"GET\t/ HTTP/1.1\r\n", 400),
        ParseError::InvalidMethod
    );
    assert_eq!(
        rejects(b"\x00GET / HTTP/1.1\r\n", 400),
        ParseError::InvalidMethod
    );
}

#[test]
fn targets_reject_controls_spaces_and_non_ascii() {
    for bad in [
        &b"GET /a\x00b HTTP/1.1\r\n"[..],
        b"GET /a\x7fb HTTP/1.1\r\n",
        b"GET /\xc3\xa9 HTTP/1.1\r\n",
        b"GET /a\tb HTTP/1.1\r\n",
        b"GET  / HTTP/1.1\r\n",
    ] {
        assert_eq!(rejects(bad, 400), ParseError::InvalidTarget);
    }
    // A space inside the target splits it: what follows is not a version.
    assert_eq!(
        rejects(b"GET /a b HTTP/1.1\r\n", 400),
        ParseError::InvalidVersion
    );
    assert_eq!(
        rejects(b"GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ParseError::InvalidTarget
    );
}

#[test]
fn target_forms() {
    let p = complete(b"GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert_eq!(p.form, TargetForm::Absolute);
    let no_proxy = ParserConfig {
        allow_absolute_form: false,
        ..ParserConfig::DEFAULT
    };
    let e = rejects_with(
        no_proxy,
        b"GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n",
        400,
    );
    assert_eq!(e, ParseError::AbsoluteFormRejected);
    assert_eq!(
        complete(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").form,
        TargetForm::Asterisk
    );
    assert_eq!(
        rejects(b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ParseError::AsteriskWithoutOptions
    );
    assert_eq!(
        complete(b"OPTIONS /x HTTP/1.1\r\nHost: a\r\n\r\n").form,
        TargetForm::Origin
    );
    assert_eq!(
        complete(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n").form,
        TargetForm::Authority
    );
    assert_eq!(
        complete(b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n").form,
        TargetForm::Authority
    );
    for bad in [
        &b"CONNECT / HTTP/1.1\r\n"[..],
        b"CONNECT example.com HTTP/1.1\r\n",
        b"CONNECT a:b HTTP/1.1\r\n",
        b"CONNECT u@a:1 HTTP/1.1\r\n",
    ] {
        assert_eq!(rejects(bad, 400), ParseError::InvalidAuthorityForm);
    }
}

#[test]
fn versions() {
    assert_eq!(complete(b"GET / HTTP/1.0\r\n\r\n").version, Version::Http10);
    // RFC 9110 6.2: a higher minor version of HTTP/1 is processed as HTTP/1.1 (Host
    // required, persistent by default).
    for v in ["HTTP/1.2", "HTTP/1.9"] {
        let req = std::format!("GET / {v}\r\nHost: a\r\n\r\n");
        let p = complete(req.as_bytes());
        assert_eq!((p.version, p.keep_alive), (Version::Http11, true), "{v}");
        let req = std::format!("GET / {v}\r\n\r\n");
        assert_eq!(rejects(req.as_bytes(), 400), ParseError::MissingHost, "{v}");
    }
    for v in ["HTTP/2.0", "HTTP/0.9", "HTTP/3.1", "HTTP/9.9"] {
        let req = std::format!("GET / {v}\r\nHost: a\r\n\r\n");
        assert_eq!(rejects(req.as_bytes(), 505), ParseError::UnsupportedVersion);
    }
    for v in [
        "http/1.1",
        "HTTP/1.10",
        "HTTP/11",
        "HTTP/1.x",
        "HTTP/1.1 ",
        "HTTPS/1.1",
        "HTTP/1,1",
    ] {
        let req = std::format!("GET / {v}\r\nHost: a\r\n\r\n");
        assert_eq!(
            rejects(req.as_bytes(), 400),
            ParseError::InvalidVersion,
            "{v}"
        );
    }
    assert_eq!(check(b"GET / HTTP/1"), Ok(None));
}

#[test]
fn line_endings_are_crlf_unless_lf_is_enabled() {
    assert_eq!(
        rejects(b"GET / HTTP/1.1\nHost: a\r\n\r\n", 400),
        ParseError::BareLf
    );
    assert_eq!(
        rejects(b"GET / HTTP/1.1\r\nHost: a\n\r\n", 400),
        ParseError::BareLf
    );
    assert_eq!(
        rejects(b"GET / HTTP/1.1\r\nHost: a\r\n\n", 400),
        ParseError::BareLf
    );
    let p = check_with(LF, b"GET / HTTP/1.1\nHost: a\r\nX: y\n\n", 4)
        .unwrap()
        .unwrap();
    assert_eq!(p.headers.len(), 2);
    // A bare CR is never a line ending.
    assert_eq!(
        rejects(b"GET / HTTP/1.1\rHost: a\r\n\r\n", 400),
        ParseError::BareCr
    );
    assert_eq!(
        rejects(b"GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", 400),
        ParseError::BareCr
    );
    assert_eq!(
        rejects(b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\rY: 2\r\n\r\n", 400),
        ParseError::BareCr
    );
    assert_eq!(
        rejects(b"GET / HTTP/1.1\r\nHost: a\r\n\rX", 400),
        ParseError::BareCr
    );
    assert_eq!(
        rejects_with(LF, b"GET / HTTP/1.1\r\nHost: a\rb\n\n", 400),
        ParseError::BareCr
    );
}

#[test]
fn field_values_reject_controls() {
    for bad in [
        &b"X: a\x00b"[..],
        b"X: a\x01",
        b"X: \x7f",
        b"X: a\x1bb",
        b"X: a\x0bb",
    ] {
        let mut req = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        req.extend_from_slice(bad);
        req.extend_from_slice(b"\r\n\r\n");
        assert_eq!(rejects(&req, 400), ParseError::InvalidHeaderValue);
    }
    // HTAB and obs-text are allowed; surrounding whitespace is not part of the value.
    let p = complete(b"GET / HTTP/1.1\r\nHost: a\r\nX: \ta\tb \xff\t \r\n\r\n");
    assert_eq!(p.headers[1].1, b"a\tb \xff");
}

#[test]
fn field_names() {
    assert_eq!(
        rejects(b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
        ParseError::WhitespaceBeforeColon
    );
    assert_eq!(
        rejects(b"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400),
        ParseError::WhitespaceBeforeColon
    );
    assert_eq!(
        rejects(b"GET / HTTP/1.1\r\n: a\r\n\r\n", 400),
        ParseError::InvalidHeaderName
    );
    assert_eq!(
        rejects(b"GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", 400),
        ParseError::InvalidHeaderName
    );
    assert_eq!(
        rejects(b"GET / HTTP/1.1\r\nHost\r\n\r\n", 400),
        ParseError::InvalidHeaderName
    );
    assert_eq!(
        rejects(b"GET / HTTP/1.1\r\nH\xc3\xa9: a\r\n\r\n", 400),
        ParseError::InvalidHeaderName
    );
    assert_eq!(
        complete(b"GET / HTTP/1.1\r\nHost: a\r\n!#$%&'*+-.^_`|~09azAZ: x\r\n\r\n")
            .headers
            .len(),
        2
    );
}

#[test]
fn long_names_with_the_lengths_of_framing_names_modulo_32_mean_nothing() {
    // The fast paths pick the names to compare by length modulo 32: names of 36, 42, 46 and
    // 49 bytes pass that filter and must still be plain fields, whole, split or byte by byte.
    for len in [36, 42, 46, 49, 68] {
        let name = "X".repeat(len);
        let req = std::format!("GET / HTTP/1.1\r\nHost: a\r\n{name}: b\r\n{name}: c d \r\n\r\n");
        let p = complete(req.as_bytes());
        assert_eq!(p.headers.len(), 3, "{len}");
        assert_eq!(p.headers[2].1, b"c d", "{len}");
        assert_eq!(p.body, BodyFraming::None, "{len}");
    }
}

#[test]
fn obs_fold_and_leading_whitespace_are_rejected() {
    assert_eq!(
        rejects(b"GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400),
        ParseError::ObsoleteLineFolding
    );
    assert_eq!(
        rejects(b"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", 400),
        ParseError::ObsoleteLineFolding
    );
    assert_eq!(
        rejects(b"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n", 400),
        ParseError::ObsoleteLineFolding
    );
}

#[test]
fn host_rules() {
    assert_eq!(
        rejects(b"GET / HTTP/1.1\r\n\r\n", 400),
        ParseError::MissingHost
    );
    assert_eq!(complete(b"GET / HTTP/1.0\r\n\r\n").headers.len(), 0);
    assert_eq!(
        complete(b"GET / HTTP/1.1\r\nHost:\r\n\r\n").headers[0].1,
        b""
    );
    assert_eq!(
        rejects(b"GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400),
        ParseError::DuplicateHost
    );
    assert_eq!(
        rejects(b"GET / HTTP/1.0\r\nHost: a\r\nHOST: b\r\n\r\n", 400),
        ParseError::DuplicateHost
    );
    for bad in ["a b", "a/b", "u@a", "a:x", "[::1", "a,b\"", "a\\b"] {
        let req = std::format!("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n");
        assert_eq!(
            rejects(req.as_bytes(), 400),
            ParseError::InvalidHost,
            "{bad}"
        );
    }
}

#[test]
fn content_length() {
    let p = complete(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n");
    assert_eq!(p.body, BodyFraming::ContentLength(42));
    for bad in [
        "+42",
        "-1",
        "4 2",
        "0x10",
        "",
        "18446744073709551616",
        "1.0",
        "42,",
    ] {
        let req = std::format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {bad}\r\n\r\n");
        assert_eq!(
            rejects(req.as_bytes(), 400),
            ParseError::InvalidContentLength,
            "{bad:?}"
        );
    }
    let dup = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n";
    assert_eq!(rejects(dup, 400), ParseError::DuplicateContentLength);
    let lenient = ParserConfig {
        allow_identical_content_lengths: true,
        ..ParserConfig::DEFAULT
    };
    assert_eq!(
        check_with(lenient, dup, 8).unwrap().unwrap().body,
        BodyFraming::ContentLength(5)
    );
    let list = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n";
    assert_eq!(
        check_with(lenient, list, 8).unwrap().unwrap().body,
        BodyFraming::ContentLength(5)
    );
    assert_eq!(rejects(list, 400), ParseError::InvalidContentLength);
    let differ = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n";
    assert_eq!(
        rejects_with(lenient, differ, 400),
        ParseError::DuplicateContentLength
    );
}

#[test]
fn transfer_encoding() {
    let p = complete(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(p.body, BodyFraming::Chunked);
    let te = |v: &str| std::format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: {v}\r\n\r\n");
    assert_eq!(
        rejects(te("gzip, chunked").as_bytes(), 501),
        ParseError::UnsupportedTransferCoding
    );
    assert_eq!(
        rejects(te("chunked, gzip").as_bytes(), 400),
        ParseError::ChunkedNotFinal
    );
    assert_eq!(
        rejects(te("identity").as_bytes(), 400),
        ParseError::ChunkedNotFinal
    );
    assert_eq!(
        rejects(te("chunked, chunked").as_bytes(), 400),
        ParseError::ChunkedNotFinal
    );
    assert_eq!(
        rejects(te("\"chunked\"").as_bytes(), 400),
        ParseError::InvalidTransferEncoding
    );
    let both =
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(
        rejects(both, 400),
        ParseError::ContentLengthWithTransferEncoding
    );
    let both =
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n";
    assert_eq!(
        rejects(both, 400),
        ParseError::ContentLengthWithTransferEncoding
    );
    let old = b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(rejects(old, 400), ParseError::TransferEncodingInHttp10);
    // Split over two fields, still one list.
    let split = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(rejects(split, 501), ParseError::UnsupportedTransferCoding);
}

#[test]
fn chunked_body_after_the_head() {
    let buf =
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    let mut headers = [RawHeader::EMPTY; 4];
    let mut parser = RequestParser::new();
    let head_len = {
        let req = parser.parse(buf, &mut headers).unwrap().complete().unwrap();
        assert_eq!(req.body(), BodyFraming::Chunked);
        req.head_len()
    };
    let mut decoder = parser.chunked_decoder();
    let step = decoder.decode(&buf[head_len..]).unwrap();
    assert_eq!(step.data, b"abc");
    let end = decoder.decode(&buf[head_len + step.consumed..]).unwrap();
    assert!(end.done && head_len + step.consumed + end.consumed == buf.len());
}

#[test]
fn limits_are_distinct_errors() {
    let small = ParserConfig {
        limits: Limits {
            max_request_line: 20,
            max_headers: 2,
            max_header_bytes: 30,
            ..Limits::DEFAULT
        },
        ..ParserConfig::DEFAULT
    };
    // A 20-byte request line fits, 21 bytes do not.
    assert_eq!(
        check_with(small, b"GET /012345 HTTP/1.1\r\nHost: a\r\n\r\n", 8)
            .unwrap()
            .unwrap()
            .head_len,
        33
    );
    assert_eq!(
        rejects_with(small, b"GET /0123456 HTTP/1.1\r\n", 414),
        ParseError::RequestLineTooLong
    );
    assert_eq!(
        rejects_with(small, b"GET /0123456789012345678 HTTP/1.1\r\n", 414),
        ParseError::RequestLineTooLong
    );
    assert_eq!(
        rejects_with(small, b"GETGETGETGETGETGETGETGET / HTTP/1.1\r\n", 414),
        ParseError::RequestLineTooLong
    );
    assert_eq!(
        rejects_with(
            small,
            b"GET / HTTP/1.1\r\nHost: a\r\nA: b\r\nC: d\r\n\r\n",
            431
        ),
        ParseError::TooManyHeaders
    );
    // Exactly 30 bytes of field lines fit; 31 do not.
    assert!(
        check_with(
            small,
            b"GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789012345\r\n\r\n",
            8
        )
        .unwrap()
        .is_some()
    );
    assert_eq!(
        rejects_with(
            small,
            b"GET / HTTP/1.1\r\nHost: a\r\nX: 01234567890123456\r\n\r\n",
            431
        ),
        ParseError::HeadersTooLarge
    );
    assert_eq!(
        rejects_with(
            small,
            b"GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789012345678901234567890123",
            431
        ),
        ParseError::HeadersTooLarge
    );
    // The caller's slice also bounds the count.
    assert_eq!(
        check_with(
            ParserConfig::DEFAULT,
            b"GET / HTTP/1.1\r\nHost: a\r\nA: b\r\n\r\n",
            1
        ),
        Err(ParseError::TooManyHeaders)
    );
    assert_eq!(ParseError::TooManyHeaders.status(), 431);
}

#[test]
fn keep_alive_per_version_and_connection() {
    assert!(complete(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").keep_alive);
    assert!(!complete(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n").keep_alive);
    assert!(!complete(b"GET / HTTP/1.0\r\n\r\n").keep_alive);
    assert!(complete(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive);
    assert!(!complete(b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").keep_alive);
}

#[test]
fn errors_are_sticky_and_misuse_is_detected() {
    let mut headers = [RawHeader::EMPTY; 4];
    let mut parser = RequestParser::new();
    assert!(
        parser
            .parse(b"GET / HTTP/1.1\r\nHost: a\r", &mut headers)
            .unwrap()
            .is_partial()
    );
    assert_eq!(
        parser.parse(b"GET", &mut headers).err(),
        Some(ParseError::ResumeMismatch)
    );
    assert_eq!(ParseError::ResumeMismatch.status(), 500);
    let mut parser = RequestParser::new();
    assert!(
        parser
            .parse(b"GET / HTTP/1.1\r\nHost: a\r\nB: c\r\n\r\n", &mut headers)
            .unwrap()
            .is_complete()
    );
    assert_eq!(
        parser
            .parse(
                b"GET / HTTP/1.1\r\nHost: a\r\nB: c\r\n\r\n",
                &mut headers[..1]
            )
            .err(),
        Some(ParseError::ResumeMismatch)
    );
    let mut parser = RequestParser::new();
    assert_eq!(
        parser.parse(b"GET / HTTP/9.9\r\n", &mut headers).err(),
        Some(ParseError::UnsupportedVersion)
    );
    assert_eq!(
        parser
            .parse(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &mut headers)
            .err(),
        Some(ParseError::UnsupportedVersion)
    );
}

#[test]
fn every_error_has_a_status_and_a_message() {
    use ParseError::*;
    let all = [
        InvalidMethod,
        InvalidTarget,
        AsteriskWithoutOptions,
        InvalidAuthorityForm,
        AbsoluteFormRejected,
        InvalidVersion,
        UnsupportedVersion,
        BareLf,
        BareCr,
        TooManyEmptyLines,
        RequestLineTooLong,
        InvalidHeaderName,
        WhitespaceBeforeColon,
        InvalidHeaderValue,
        ObsoleteLineFolding,
        TooManyHeaders,
        HeadersTooLarge,
        MissingHost,
        DuplicateHost,
        InvalidHost,
        InvalidContentLength,
        DuplicateContentLength,
        ContentLengthWithTransferEncoding,
        TransferEncodingInHttp10,
        ChunkedNotFinal,
        InvalidTransferEncoding,
        UnsupportedTransferCoding,
        InvalidChunkSize,
        InvalidChunkExtension,
        MissingChunkDelimiter,
        TrailersTooLarge,
        ResumeMismatch,
    ];
    for e in all {
        assert!([400, 414, 431, 500, 501, 505].contains(&e.status()));
        assert!(std::format!("{e}").contains(&e.status().to_string()));
    }
}

#[test]
fn long_lines_take_the_simd_path_and_agree_with_the_portable_one() {
    // Requests of 64 bytes and more go through the AVX2 scanners when the CPU has them;
    // `check` compares them with the portable ones. A bad byte at every offset of a long
    // value and of a long target must be found wherever it falls relative to the 32-byte
    // blocks.
    let value: Vec<u8> = (0..150u8).map(|i| b'a' + i % 26).collect();
    let mut ok = b"GET /x HTTP/1.1\r\nHost: a\r\nX-Long: ".to_vec();
    ok.extend_from_slice(&value);
    ok.extend_from_slice(b"\r\nAccept: */*\r\n\r\n");
    assert_eq!(complete(&ok).headers[1].1, value);
    let start = ok.len() - value.len() - 17;
    for at in (start..start + value.len()).step_by(7) {
        for bad in [0u8, b'\r', b'\n', 0x7f] {
            let mut req = ok.clone();
            req[at] = bad;
            let expected = match bad {
                b'\r' => ParseError::BareCr,
                b'\n' => ParseError::BareLf,
                _ => ParseError::InvalidHeaderValue,
            };
            assert_eq!(check(&req), Err(expected), "byte {bad:#x} at {at}");
        }
    }
    let mut long_target = b"GET /".to_vec();
    long_target.extend_from_slice(&value);
    long_target.extend_from_slice(b" HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(complete(&long_target).target.len(), value.len() + 1);
    for at in (5..5 + value.len()).step_by(5) {
        let mut req = long_target.clone();
        req[at] = b'\t';
        assert_eq!(check(&req), Err(ParseError::InvalidTarget), "tab at {at}");
    }
}

/// The general path, fed a byte at a time: the reference for the fast path, which only a
/// fresh parser with the whole head in one buffer takes.
fn byte_at_a_time(
    config: ParserConfig,
    buf: &[u8],
    slots: usize,
) -> Result<Option<Parsed>, ParseError> {
    let mut headers = std::vec![RawHeader::EMPTY; slots];
    let mut parser = RequestParser::with_config(config);
    let mut outcome = Ok(None);
    for end in 0..=buf.len() {
        outcome = summary(parser.parse(&buf[..end], &mut headers));
        if !matches!(outcome, Ok(None)) {
            break;
        }
    }
    outcome
}

/// A fresh parse through the SSE2 fast path, which `parse` takes for small heads only (or
/// on CPUs without AVX2).
#[cfg(target_arch = "x86_64")]
fn sse2_fast_path(
    config: ParserConfig,
    buf: &[u8],
    slots: usize,
) -> Result<Option<Parsed>, ParseError> {
    let mut headers = std::vec![RawHeader::EMPTY; slots];
    let mut parser = RequestParser::with_config(config);
    match parser.run_sse2_fast_path(buf, &mut headers) {
        // Complete: `parse` now only reports the request.
        Ok(true) => summary(parser.parse(buf, &mut headers)),
        Ok(false) => Ok(None),
        Err(e) => Err(e),
    }
}

#[test]
fn the_fast_path_agrees_with_the_general_one_on_damaged_heads() {
    // Every prefix, and one byte replaced at every offset, of heads short and long: whole
    // (the fast path, AVX2 from 32 bytes when the CPU has it, else portable) must agree with
    // the general path fed a byte at a time, also where the fast path hands over half way.
    let browser: &[u8] = b"GET /assets/app.js?v=3 HTTP/1.1\r\nHost: www.example.com\r\n\
Connection: keep-alive\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 \
(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\nAccept: */*\r\nContent-Length: 0\r\n\
Accept-Language: en-US,en;q=0.9\r\n\r\n";
    let heads: [&[u8]; 8] = [
        b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"POST /submit HTTP/1.0\r\nHost: a:80\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\nX: \t y \t\r\n\r\n",
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        // Methods ending at the edge of the first 32-byte block.
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDE /a HTTP/1.1\r\nHost: a\r\n\r\n",
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZABCD /a HTTP/1.1\r\nHost: a\r\n\r\n",
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF /a HTTP/1.1\r\nHost: a\r\n\r\n",
        browser,
    ];
    let replacements = [0u8, b'\t', b'\n', b'\r', b' ', b':', b'/', b'A', 0x7f, 0x80];
    for config in [
        ParserConfig::DEFAULT,
        ParserConfig {
            allow_lf_line_endings: true,
            allow_identical_content_lengths: true,
            allow_absolute_form: false,
            ..ParserConfig::DEFAULT
        },
        ParserConfig {
            limits: Limits {
                max_request_line: 40,
                max_headers: 3,
                max_header_bytes: 90,
                ..Limits::DEFAULT
            },
            ..ParserConfig::DEFAULT
        },
    ] {
        let portable = ParserConfig {
            use_simd: false,
            ..config
        };
        let agree = |buf: &[u8], what: &dyn core::fmt::Display| {
            let reference = byte_at_a_time(portable, buf, 8);
            assert_eq!(once(config, buf, 8), reference, "{what}");
            assert_eq!(once(portable, buf, 8), reference, "{what} (portable)");
            #[cfg(target_arch = "x86_64")]
            assert_eq!(sse2_fast_path(config, buf, 8), reference, "{what} (SSE2)");
        };
        for head in heads {
            for end in 0..=head.len() {
                agree(&head[..end], &std::format!("{:?} cut at {end}", head));
            }
            for at in 0..head.len() {
                for &b in &replacements {
                    let mut buf = head.to_vec();
                    buf[at] = b;
                    agree(&buf, &std::format!("{:?} with {b:#x} at {at}", head));
                }
            }
        }
    }
}

/// The default configuration with the header-section byte and count limits replaced.
fn header_limits(bytes: u32, headers: u32) -> ParserConfig {
    ParserConfig {
        limits: Limits {
            max_header_bytes: bytes,
            max_headers: headers,
            ..Limits::DEFAULT
        },
        ..ParserConfig::DEFAULT
    }
}

#[test]
fn resumed_calls_agree_at_every_limit() {
    // The quick path of resumed calls (a few new bytes inside an element, or a simple step of
    // a field line) must give what the state machine gives, also where a limit falls inside
    // a method, target, name, whitespace, value or line ending, and with fewer header slots
    // than the limit allows. `check_with` compares whole, split and byte-at-a-time parses.
    let req: &[u8] = b"\r\nPOST /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nX-Long-Name:\t  v a l  \r\nAccept: */*\r\nContent-Length: 3\r\n\r\n";
    let head = req.len();
    for line in [4u32, 8, 14, 15, 16, 20, 22, 23, 24, 25, 30] {
        let config = ParserConfig {
            limits: Limits {
                max_request_line: line,
                ..Limits::DEFAULT
            },
            ..ParserConfig::DEFAULT
        };
        check_with(config, req, 8).ok();
    }
    for bytes in 0..=head as u32 {
        for headers in [1u32, 3, 4, 8] {
            for slots in [2usize, 4, 8] {
                let config = header_limits(bytes, headers);
                let outcome = check_with(config, req, slots);
                let fits = bytes as usize >= head - 28 && headers >= 4 && slots >= 4;
                assert_eq!(
                    outcome.is_ok(),
                    fits,
                    "{bytes} bytes, {headers} headers, {slots} slots: {outcome:?}"
                );
            }
        }
    }
}

/// The general path for a whole buffer: one byte first (which keeps the parser off the fast
/// path), then the rest in one call.
fn without_the_fast_path(
    config: ParserConfig,
    buf: &[u8],
    slots: usize,
) -> Result<Option<Parsed>, ParseError> {
    let mut headers = std::vec![RawHeader::EMPTY; slots];
    let mut parser = RequestParser::with_config(config);
    match summary(parser.parse(&buf[..buf.len().min(1)], &mut headers)) {
        Ok(None) => summary(parser.parse(buf, &mut headers)),
        other => other,
    }
}

#[test]
fn a_first_host_field_takes_a_shortcut_that_agrees_with_the_general_path() {
    // The fast path takes `Host: value` as the first field without scanning its name, and
    // checks the value with SIMD when it is made of letters, digits, `.` and `-`. Every byte
    // at every position of values of several lengths (one SIMD load, more than one), in
    // small heads (SSE2) and large ones (AVX2 when the CPU has it), must give what the
    // general path gives.
    let padding = std::format!("X-Padding: {}\r\n", "p".repeat(120));
    for tail in ["\r\n", padding.as_str()] {
        for n in [1usize, 9, 15, 16, 17, 33] {
            for at in 0..n {
                for b in 0..=255u8 {
                    let mut value = std::vec![b'h'; n];
                    value[at] = b;
                    let mut req = b"GET / HTTP/1.1\r\nHost: ".to_vec();
                    req.extend_from_slice(&value);
                    req.extend_from_slice(b"\r\n");
                    req.extend_from_slice(tail.as_bytes());
                    if !tail.starts_with("\r\n") {
                        req.extend_from_slice(b"\r\n");
                    }
                    let reference = without_the_fast_path(ParserConfig::DEFAULT, &req, 8);
                    let what = std::format!("{:?}", String::from_utf8_lossy(&req));
                    assert_eq!(once(ParserConfig::DEFAULT, &req, 8), reference, "{what}");
                    #[cfg(target_arch = "x86_64")]
                    assert_eq!(
                        sse2_fast_path(ParserConfig::DEFAULT, &req, 8),
                        reference,
                        "{what} (SSE2)"
                    );
                    // The verdict itself, where the value decides it.
                    if b.is_ascii_graphic() && b != b':' && b != b'[' && b != b']' {
                        let valid = chars::valid_host(&value);
                        assert_eq!(reference.is_ok(), valid, "{what}");
                        if !valid {
                            assert_eq!(reference, Err(ParseError::InvalidHost), "{what}");
                        }
                    }
                }
            }
        }
    }
    // The shapes of a first Host line that the shortcut leaves to the loop, or must reject
    // as the loop does; every prefix, whole and byte at a time (`check`).
    for head in [
        "Host: a\r\n",
        "host: a\r\n",
        "HOST: a\r\n",
        "hOsT: a\r\n",
        "Host:a\r\n",
        "Host:  a\r\n",
        "Host:\ta\r\n",
        "Host: \ta\r\n",
        "Host: a \r\n",
        "Host: a\t\r\n",
        "Host: \r\n",
        "Host:\r\n",
        "Host: a b\r\n",
        "Host: a\rb\r\n",
        "Host: a:80\r\n",
        "Host: [::1]:80\r\n",
        "Host : a\r\n",
        "Hosts: a\r\n",
        "Hos: a\r\n",
        "Host: a\r\nHost: a\r\n",
        "Host: a\r\nhost: b\r\n",
        "Host: a\r\nX: b\r\n",
    ] {
        let req = std::format!("GET / HTTP/1.1\r\n{head}\r\n");
        for end in 0..=req.len() {
            check(&req.as_bytes()[..end]).ok();
        }
    }
    // Limits that fall inside or right after the Host line.
    let req: &[u8] = b"GET / HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
    for bytes in 0..=40u32 {
        for headers in [0u32, 1, 2] {
            for slots in [0usize, 1, 2] {
                let config = header_limits(bytes, headers);
                let reference = without_the_fast_path(config, req, slots);
                assert_eq!(
                    once(config, req, slots),
                    reference,
                    "{bytes} bytes, {headers} headers, {slots} slots"
                );
                #[cfg(target_arch = "x86_64")]
                assert_eq!(sse2_fast_path(config, req, slots), reference);
                check_with(config, req, slots).ok();
            }
        }
    }
}

#[test]
fn lines_found_ahead_agree_with_the_general_path() {
    // The AVX2 fast path finds the CRs of 64 bytes ahead of the lines, and the next 64 once
    // they are used up (the last 64 of the header section at its end). Field lines of every
    // length from 4 to 150
    // bytes (so that lines start and end at every place in a 64-byte block, and some span
    // one or two blocks), whole and with a CR, an LF, a NUL, a colon or a space put in
    // place of one byte, must give what the general path gives.
    let mut head = b"GET / HTTP/1.1\r\nHost: example.com\r\n".to_vec();
    for n in 4..=150usize {
        // `X<n>: ` then value bytes, `n` bytes with the CRLF.
        let name = std::format!("X{n}: ");
        let line_len = n.max(name.len() + 3);
        head.extend_from_slice(name.as_bytes());
        head.extend(core::iter::repeat_n(b'v', line_len - name.len() - 2));
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    let slots = 200;
    let many = ParserConfig {
        limits: Limits {
            max_headers: 1000,
            ..Limits::DEFAULT
        },
        ..ParserConfig::DEFAULT
    };
    let whole = without_the_fast_path(many, &head, slots);
    assert!(matches!(whole, Ok(Some(_))), "{whole:?}");
    assert_eq!(once(many, &head, slots), whole);
    for at in (40..head.len()).step_by(7) {
        for b in [b'\r', b'\n', 0, b':', b' '] {
            let mut damaged = head.clone();
            damaged[at] = b;
            assert_eq!(
                once(many, &damaged, slots),
                without_the_fast_path(many, &damaged, slots),
                "{b:#x} at {at}"
            );
        }
    }
    // Limits that end the header section at every place near a block's end.
    for bytes in (100..600u32).step_by(3) {
        let config = header_limits(bytes, 1000);
        assert_eq!(
            once(config, &head, slots),
            without_the_fast_path(config, &head, slots),
            "{bytes} bytes"
        );
    }
}

#[test]
fn lines_found_ahead_agree_near_the_end_of_the_buffer() {
    // Near the end of the header section, the AVX2 fast path reads the CRs of its last 64
    // bytes, shifted, and only those whose LF is inside the section. A head followed by 0 to
    // 100 bytes of body, cut at every length, and with a CR, LF, colon, space, HTAB, DEL or NUL
    // put in place of every byte must give what the general path gives.
    let head: &[u8] = b"GET /x HTTP/1.1\r\nHost: example.com\r\nA: 1\r\n\
X-Middle-Sized-Name: a value of some forty bytes\r\nB: 22\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/1\r\n\
Accept: */*\r\nC:3\r\nAccept-Language: en-US,en;q=0.9\r\nD:  4  \r\n\r\n";
    let slots = 32;
    let config = ParserConfig::DEFAULT;
    let mut buf = head.to_vec();
    for extra in 0..=100 {
        buf.truncate(head.len());
        buf.extend(core::iter::repeat_n(b'b', extra));
        let whole = without_the_fast_path(config, &buf, slots);
        assert!(matches!(whole, Ok(Some(_))), "{extra}: {whole:?}");
        assert_eq!(
            once(config, &buf, slots),
            whole,
            "{extra} bytes after the head"
        );
    }
    for cut in 0..head.len() {
        assert_eq!(
            once(config, &head[..cut], slots),
            without_the_fast_path(config, &head[..cut], slots),
            "cut at {cut}"
        );
    }
    for extra in [0, 1, 2, 31, 32, 33, 63, 64, 65] {
        for at in 17..head.len() {
            for b in [b'\r', b'\n', b':', b' ', b'\t', 0x7f, 0] {
                buf.truncate(0);
                buf.extend_from_slice(head);
                buf[at] = b;
                buf.extend(core::iter::repeat_n(b'b', extra));
                assert_eq!(
                    once(config, &buf, slots),
                    without_the_fast_path(config, &buf, slots),
                    "{b:#x} at {at}, {extra} bytes after the head"
                );
            }
        }
    }
}

/// Feeds `buf` to one parser in pieces of the sizes `pieces` (taken in turn) and checks every
/// call against a fresh parser given the same prefix whole: resumed calls, and their quick
/// path, must answer `Partial`, an error or the complete head exactly when the state machine
/// (or the fast path) would for the bytes so far.
fn every_call_agrees(
    config: ParserConfig,
    buf: &[u8],
    slots: usize,
    pieces: &[usize],
    what: &dyn core::fmt::Display,
) {
    let mut headers = std::vec![RawHeader::EMPTY; slots];
    let mut parser = RequestParser::with_config(config);
    let mut end = 0;
    for &piece in pieces.iter().cycle() {
        let got = summary(parser.parse(&buf[..end], &mut headers));
        assert_eq!(
            got,
            once(config, &buf[..end], slots),
            "{what}: pieces {pieces:?}, at {end}"
        );
        if end == buf.len() {
            break;
        }
        end = (end + piece).min(buf.len());
    }
}

#[test]
fn every_call_in_small_pieces_agrees_with_the_prefix_whole() {
    // A byte at a time, and in pieces of 2 and 3 bytes (mixed too), each call's answer must
    // be the answer for its prefix parsed whole: on ordinary heads, on heads with one byte
    // replaced anywhere (errors must come at the same byte), and with limits (request line,
    // header bytes, header count, header slots) falling on every byte.
    let browser: &[u8] = b"GET /assets/app.js?v=3 HTTP/1.1\r\nHost: www.example.com\r\n\
Connection: keep-alive\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: */*\r\n\
Content-Length: 0\r\nX-Empty:\r\nX-Spaces: \t a b \t\r\nAccept-Language: en-US,en;q=0.9\r\n\r\n";
    let heads: [&[u8]; 6] = [
        b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"\r\nPOST /submit HTTP/1.0\r\nHost: a:80\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\nX:  \t y \t\r\n\r\n",
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nA:\r\n\r\n",
        b"GET http://a/b HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
        browser,
    ];
    let piece_sets: [&[usize]; 5] = [&[1], &[2], &[3], &[1, 2], &[2, 1, 3]];
    let lf = ParserConfig {
        allow_lf_line_endings: true,
        allow_identical_content_lengths: true,
        allow_absolute_form: false,
        ..ParserConfig::DEFAULT
    };
    for config in [ParserConfig::DEFAULT, lf] {
        for head in heads {
            for pieces in piece_sets {
                every_call_agrees(config, head, 8, pieces, &String::from_utf8_lossy(head));
            }
            let replacements: &[u8] = if head.len() > 100 {
                b"\r\n:\0"
            } else {
                b"\0\t\n\r :/A\x7f\x80"
            };
            for at in 0..head.len() {
                for &b in replacements {
                    let mut buf = head.to_vec();
                    buf[at] = b;
                    let what =
                        std::format!("{:?} with {b:#x} at {at}", String::from_utf8_lossy(head));
                    every_call_agrees(config, &buf, 8, &[1], &what);
                    if head.len() <= 100 {
                        every_call_agrees(config, &buf, 8, &[2, 3], &what);
                    }
                }
            }
        }
    }
    let req: &[u8] = b"\r\nPOST /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nX-Long-Name:\t  v a l  \r\nAccept: */*\r\nContent-Length: 3\r\n\r\n";
    for line in 0..40u32 {
        let config = ParserConfig {
            limits: Limits {
                max_request_line: line,
                ..Limits::DEFAULT
            },
            ..ParserConfig::DEFAULT
        };
        for pieces in piece_sets {
            every_call_agrees(config, req, 8, pieces, &std::format!("request line {line}"));
        }
    }
    for bytes in 0..=req.len() as u32 {
        for (headers, slots) in [(3u32, 8usize), (8, 3), (4, 4), (8, 8)] {
            let config = header_limits(bytes, headers);
            let what = std::format!("{bytes} bytes, {headers} headers, {slots} slots");
            for pieces in [&[1usize][..], &[2, 3]] {
                every_call_agrees(config, req, slots, pieces, &what);
            }
        }
    }
}
