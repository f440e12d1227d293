//! Property tests for `reactor::http` (black-box, through the public API):
//! 1. any request generated from the RFC 9112 grammar parses to what was generated, and to
//!    the same result whatever split points it is fed with;
//! 2. serialising a parsed request and parsing it again gives the same request;
//! 3. random bytes (and damaged requests) never panic, give the same outcome with the SIMD
//!    and the portable scanners and whatever the split points, and never look at bytes past
//!    the end of the input.

use proptest::prelude::*;
use reactor::http::{
    BodyFraming, ChunkedDecoder, Limits, ParseError, ParserConfig, RawHeader, Request,
    RequestParser, Status, TargetForm, Version,
};

#[derive(Debug, Clone, PartialEq, Eq)]
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

type Outcome = Result<Option<Parsed>, ParseError>;

fn summary(r: Result<Status<Request<'_>>, ParseError>) -> Outcome {
    Ok(r?.complete().map(|r| Parsed {
        method: r.method().to_owned(),
        target: r.target().to_owned(),
        version: r.version(),
        form: r.target_form(),
        headers: r
            .headers()
            .map(|h| (h.name.to_owned(), h.value.to_vec()))
            .collect(),
        head_len: r.head_len(),
        body: r.body(),
        keep_alive: r.keep_alive(),
    }))
}

fn parse_whole(config: ParserConfig, buf: &[u8]) -> Outcome {
    let mut headers = [RawHeader::EMPTY; 64];
    summary(RequestParser::with_config(config).parse(buf, &mut headers))
}

/// Feeds `buf` growing through the given split points (sorted, deduplicated, clamped).
fn parse_split(config: ParserConfig, buf: &[u8], splits: &[usize]) -> Outcome {
    let mut headers = [RawHeader::EMPTY; 64];
    let mut parser = RequestParser::with_config(config);
    let mut points: Vec<usize> = splits.iter().map(|&s| s.min(buf.len())).collect();
    points.push(buf.len());
    points.sort_unstable();
    points.dedup();
    for end in points {
        let outcome = summary(parser.parse(&buf[..end], &mut headers));
        if end == buf.len() || !matches!(outcome, Ok(None)) {
            return outcome;
        }
    }
    unreachable!("the last point is the whole buffer")
}

const PORTABLE: ParserConfig = ParserConfig {
    use_simd: false,
    ..ParserConfig::DEFAULT
};

/// A generated request and what parsing it must give.
#[derive(Debug, Clone)]
struct Generated {
    bytes: Vec<u8>,
    method: String,
    target: String,
    version: Version,
    headers: Vec<(String, Vec<u8>)>,
    body: BodyFraming,
    keep_alive: bool,
}

fn token() -> impl Strategy<Value = String> {
    "[!#$%&'*+.^_`|~0-9a-zA-Z-]{1,16}"
}

/// A field name without a meaning for the parser.
fn plain_name() -> impl Strategy<Value = String> {
    token().prop_filter("reserved name", |n| {
        !["host", "content-length", "transfer-encoding", "connection"]
            .iter()
            .any(|r| n.eq_ignore_ascii_case(r))
    })
}

/// A field value: VCHAR / obs-text at both ends, SP and HTAB allowed inside.
fn value() -> impl Strategy<Value = Vec<u8>> {
    let edge = prop_oneof![0x21u8..=0x7e, 0x80u8..=0xff];
    let inner = prop_oneof![4 => 0x20u8..=0x7e, 1 => Just(b'\t'), 1 => 0x80u8..=0xff];
    prop_oneof![
        1 => Just(Vec::new()),
        6 => (edge.clone(), prop::collection::vec(inner, 0..40), edge).prop_map(|(a, mut mid, b)| {
            mid.insert(0, a);
            mid.push(b);
            mid
        }),
    ]
}

fn ows() -> impl Strategy<Value = &'static str> {
    prop_oneof![4 => Just(" "), 2 => Just(""), 1 => Just("\t"), 1 => Just("  \t ")]
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9-]{1,12}(\\.[a-z0-9-]{1,12}){0,3}",
        "[a-z]{1,8}:[0-9]{1,5}",
        "\\[[0-9a-f:]{2,12}\\](:[0-9]{1,5})?",
        "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
    ]
}

fn request() -> impl Strategy<Value = Generated> {
    let method = prop_oneof![
        Just("GET".to_owned()),
        Just("POST".to_owned()),
        Just("PUT".to_owned()),
        Just("OPTIONS".to_owned()),
        "[A-Z]{1,10}".prop_filter("CONNECT", |m| m != "CONNECT"),
        token().prop_filter("CONNECT", |m| m != "CONNECT"),
    ];
    let path = "/[!-~]{0,60}";
    let version = prop_oneof![Just(Version::Http11), Just(Version::Http10)];
    let fields = prop::collection::vec((plain_name(), ows(), value(), ows()), 0..12);
    // 0: no body, 1: Content-Length, 2: chunked
    let framing = (0u8..3, 0u64..1_000_000);
    let connection = prop_oneof![
        Just(None),
        Just(Some("close")),
        Just(Some("keep-alive")),
        Just(Some("Upgrade, Keep-Alive"))
    ];
    (
        method,
        path,
        version,
        fields,
        framing,
        connection,
        host(),
        0usize..3,
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                method,
                path,
                version,
                fields,
                (framing, len),
                connection,
                host,
                empty_lines,
                host_at,
                absolute,
            )| {
                let target = if method == "OPTIONS" && absolute {
                    "*".to_owned()
                } else if absolute {
                    format!("http://{host}{path}")
                } else {
                    path
                };
                let mut headers: Vec<(String, Vec<u8>, &str, &str)> = fields
                    .into_iter()
                    .map(|(n, a, v, b)| (n, v, a, b))
                    .collect();
                let mut extra: Vec<(String, Vec<u8>)> = Vec::new();
                if version == Version::Http11 || absolute {
                    extra.push(("Host".to_owned(), host.into_bytes()));
                }
                let body = match (framing, version) {
                    (1, _) => {
                        extra.push(("Content-Length".to_owned(), len.to_string().into_bytes()));
                        BodyFraming::ContentLength(len)
                    }
                    (2, Version::Http11) => {
                        extra.push(("transfer-encoding".to_owned(), b"chunked".to_vec()));
                        BodyFraming::Chunked
                    }
                    _ => BodyFraming::None,
                };
                if let Some(c) = connection {
                    extra.push(("Connection".to_owned(), c.as_bytes().to_vec()));
                }
                for (i, (n, v)) in extra.into_iter().enumerate() {
                    let at = (host_at.index(headers.len() + 1) + i).min(headers.len());
                    headers.insert(at, (n, v, " ", ""));
                }
                let keep_alive = match connection {
                    Some("close") => false,
                    Some(_) => true,
                    None => version == Version::Http11,
                };
                let mut bytes = "\r\n".repeat(empty_lines).into_bytes();
                bytes.extend_from_slice(
                    format!("{method} {target} {}\r\n", version.as_str()).as_bytes(),
                );
                for (n, v, a, b) in &headers {
                    bytes.extend_from_slice(n.as_bytes());
                    bytes.push(b':');
                    bytes.extend_from_slice(a.as_bytes());
                    bytes.extend_from_slice(v);
                    bytes.extend_from_slice(b.as_bytes());
                    bytes.extend_from_slice(b"\r\n");
                }
                bytes.extend_from_slice(b"\r\n");
                Generated {
                    bytes,
                    method,
                    target,
                    version,
                    headers: headers.into_iter().map(|(n, v, _, _)| (n, v)).collect(),
                    body,
                    keep_alive,
                }
            },
        )
}

/// Writes a parsed request back in canonical form.
fn serialise(p: &Parsed) -> Vec<u8> {
    let mut out = format!("{} {} {}\r\n", p.method, p.target, p.version.as_str()).into_bytes();
    for (n, v) in &p.headers {
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn generated_requests_parse_to_what_was_generated(
        g in request(),
        splits in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        body in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        let mut buf = g.bytes.clone();
        let head_len = buf.len();
        buf.extend_from_slice(&body);
        let whole = parse_whole(ParserConfig::DEFAULT, &buf);
        let p = whole.clone().unwrap().unwrap();
        prop_assert_eq!(&p.method, &g.method);
        prop_assert_eq!(&p.target, &g.target);
        prop_assert_eq!(p.version, g.version);
        prop_assert_eq!(&p.headers, &g.headers);
        prop_assert_eq!(p.head_len, head_len);
        prop_assert_eq!(p.body, g.body);
        prop_assert_eq!(p.keep_alive, g.keep_alive);
        let points: Vec<usize> = splits.iter().map(|i| i.index(buf.len() + 1)).collect();
        prop_assert_eq!(parse_split(ParserConfig::DEFAULT, &buf, &points), whole.clone());
        prop_assert_eq!(parse_split(PORTABLE, &buf, &points), whole.clone());
        // And a byte at a time.
        let every: Vec<usize> = (0..buf.len()).collect();
        prop_assert_eq!(parse_split(PORTABLE, &buf, &every), whole);
    }

    #[test]
    fn serialising_and_reparsing_gives_the_same_request(g in request()) {
        let first = parse_whole(ParserConfig::DEFAULT, &g.bytes).unwrap().unwrap();
        let again = serialise(&first);
        let second = parse_whole(ParserConfig::DEFAULT, &again).unwrap().unwrap();
        prop_assert_eq!(second.head_len, again.len());
        prop_assert_eq!(Parsed { head_len: 0, ..second }, Parsed { head_len: 0, ..first });
    }

    #[test]
    fn random_bytes_never_panic_and_agree_everywhere(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        splits in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        lf in any::<bool>(),
    ) {
        check_agreement(&bytes, &splits, lf)?;
    }

    #[test]
    fn damaged_requests_never_panic_and_agree_everywhere(
        g in request(),
        damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        splits in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        lf in any::<bool>(),
    ) {
        let mut bytes = g.bytes;
        for (at, b) in damage {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        check_agreement(&bytes, &splits, lf)?;
    }

    #[test]
    fn chunked_bodies_decode_the_same_however_split(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..40), 0..6),
        ext in any::<bool>(),
        splits in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let mut wire = Vec::new();
        for c in &chunks {
            wire.extend_from_slice(format!("{:x}", c.len()).as_bytes());
            if ext {
                wire.extend_from_slice(b" ;name=\"v\\\"al\"");
            }
            wire.extend_from_slice(b"\r\n");
            wire.extend_from_slice(c);
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b"0\r\nTrailer: x\r\n\r\nNEXT");
        let expected: Vec<u8> = chunks.concat();
        let mut points: Vec<usize> = splits.iter().map(|i| i.index(wire.len() + 1)).collect();
        points.push(wire.len());
        points.sort_unstable();
        let mut decoder = ChunkedDecoder::new();
        let (mut body, mut consumed, mut done) = (Vec::new(), 0, false);
        for end in points {
            while !done {
                let step = decoder.decode(&wire[consumed..end]).unwrap();
                body.extend_from_slice(step.data);
                consumed += step.consumed;
                done = step.done;
                if step.consumed == 0 {
                    break;
                }
            }
        }
        prop_assert!(done);
        prop_assert_eq!(body, expected);
        prop_assert_eq!(&wire[consumed..], b"NEXT");
    }
}

/// SIMD and portable agree; any split agrees with the whole; and the bytes after the input
/// do not matter (a parser that looked past the end would see them change).
fn check_agreement(
    bytes: &[u8],
    splits: &[prop::sample::Index],
    lf: bool,
) -> Result<(), TestCaseError> {
    let config = ParserConfig {
        allow_lf_line_endings: lf,
        ..ParserConfig::DEFAULT
    };
    let portable = ParserConfig {
        use_simd: false,
        ..config
    };
    let whole = parse_whole(config, bytes);
    prop_assert_eq!(parse_whole(portable, bytes), whole.clone());
    let points: Vec<usize> = splits.iter().map(|i| i.index(bytes.len() + 1)).collect();
    prop_assert_eq!(parse_split(config, bytes, &points), whole.clone());
    // A byte at a time (the resumed calls' quick path), also with limits small enough to be
    // reached in the middle of an element.
    let every: Vec<usize> = (0..=bytes.len()).collect();
    prop_assert_eq!(parse_split(config, bytes, &every), whole.clone());
    let tight = ParserConfig {
        limits: Limits {
            max_request_line: 24,
            max_headers: 3,
            max_header_bytes: 60,
            ..config.limits
        },
        ..config
    };
    let tight_whole = parse_whole(tight, bytes);
    prop_assert_eq!(parse_split(tight, bytes, &every), tight_whole.clone());
    prop_assert_eq!(parse_split(tight, bytes, &points), tight_whole);
    for tail in [&b"\r\n\r\n"[..], b"\0\0\0\0", b"  :x", &[b'a'; 64]] {
        let mut padded = bytes.to_vec();
        padded.extend_from_slice(tail);
        let (inside, _) = padded.split_at(bytes.len());
        prop_assert_eq!(parse_whole(config, inside), whole.clone());
        prop_assert_eq!(parse_whole(portable, inside), whole.clone());
    }
    if let Ok(Some(p)) = &whole {
        prop_assert!(p.head_len <= bytes.len());
    }
    Ok(())
}
