//! Side-by-side benchmark of `reactor::http::RequestParser` and `httparse`.
//!
//! `cargo run --release --example http_parser_bench [ROUNDS]`
//!
//! Each case is parsed by both parsers in the same run; every number is the median over
//! ROUNDS (default 21) rounds of a timed loop, the parsers alternating round by round.
//! "portable" rows force reactor's portable (SWAR, no SIMD) scanners; httparse keeps its own
//! runtime-detected SIMD in every row. Fragmented rows feed the request in pieces (one byte,
//! or 64 bytes, at a time) through one growing buffer: reactor resumes where it stopped,
//! httparse has to re-parse the buffer from the start (its way of handling partial input).
//! The ratio column is httparse time / reactor time: above 1 means reactor is faster.
//!
//! On a shared, noisy machine, count instructions instead (repeatable to the unit):
//! `HTTP_BENCH_FILTER='=tiny GET' HTTP_BENCH_ITERS=20000 valgrind --tool=callgrind
//! target/release/examples/http_parser_bench 1`, then divide the inclusive cost of
//! `ours_whole` and `httparse_whole` (or `*_pieces`) by their call counts
//! (`callgrind_annotate --inclusive=yes`, or the `calls=` lines of the output file).

use std::hint::black_box;
use std::time::Instant;

use linux_primitives::bench::median;
use reactor::http::{ParserConfig, RawHeader, RequestParser, Status};

const TINY: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

const BROWSER: &[u8] = b"GET /assets/js/app.bundle.js?v=3 HTTP/1.1\r\n\
Host: www.example.com\r\n\
Connection: keep-alive\r\n\
sec-ch-ua: \"Chromium\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n\
sec-ch-ua-mobile: ?0\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n\
sec-ch-ua-platform: \"Linux\"\r\n\
Accept: */*\r\n\
Sec-Fetch-Site: same-origin\r\n\
Sec-Fetch-Mode: no-cors\r\n\
Referer: https://www.example.com/products/index.html\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-US,en;q=0.9\r\n\
\r\n";

fn cookie_request() -> Vec<u8> {
    let mut r = b"GET /account HTTP/1.1\r\nHost: www.example.com\r\nCookie: ".to_vec();
    let mut i = 0u32;
    while r.len() < 4096 + 48 {
        r.extend_from_slice(format!("k{i}=v{:08x}; ", i.wrapping_mul(2_654_435_761)).as_bytes());
        i += 1;
    }
    r.truncate(r.len() - 2);
    r.extend_from_slice(b"\r\nAccept: */*\r\n\r\n");
    r
}

/// Parses `req` whole with reactor; returns the head length.
#[inline(never)]
fn ours_whole(config: &ParserConfig, req: &[u8], headers: &mut [RawHeader]) -> usize {
    let mut parser = RequestParser::with_config(*config);
    match parser.parse(req, headers) {
        Ok(Status::Complete(r)) => r.head_len() + r.header_count(),
        _ => 0,
    }
}

/// Feeds `req` to reactor `piece` bytes at a time.
#[inline(never)]
fn ours_pieces(
    config: &ParserConfig,
    req: &[u8],
    piece: usize,
    headers: &mut [RawHeader],
) -> usize {
    let mut parser = RequestParser::with_config(*config);
    for end in (piece..req.len() + piece).step_by(piece) {
        let end = end.min(req.len());
        match parser.parse(black_box(&req[..end]), headers) {
            Ok(Status::Complete(r)) => return r.head_len() + r.header_count(),
            Ok(Status::Partial) => {}
            Err(_) => return 0,
        }
    }
    0
}

#[inline(never)]
fn httparse_whole(req: &'static [u8], headers: &mut [httparse::Header<'static>]) -> usize {
    let mut r = httparse::Request::new(headers);
    match r.parse(req) {
        Ok(httparse::Status::Complete(n)) => n + r.headers.len(),
        _ => 0,
    }
}

/// Feeds `req` to httparse `piece` bytes at a time: each call re-parses from the start.
#[inline(never)]
fn httparse_pieces(
    req: &'static [u8],
    piece: usize,
    headers: &mut [httparse::Header<'static>],
) -> usize {
    for end in (piece..req.len() + piece).step_by(piece) {
        let end = end.min(req.len());
        let mut r = httparse::Request::new(headers);
        match r.parse(black_box(&req[..end])) {
            Ok(httparse::Status::Complete(n)) => return n + r.headers.len(),
            Ok(httparse::Status::Partial) => {}
            Err(_) => return 0,
        }
    }
    0
}

/// Nanoseconds per call of `f`, median over `rounds`, each round `iters` calls.
fn time_ns(rounds: usize, iters: usize, mut f: impl FnMut() -> usize) -> Vec<f64> {
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..iters {
            black_box(f());
        }
        samples.push(start.elapsed().as_nanos() as f64 / iters as f64);
    }
    samples
}

struct Row {
    name: String,
    bytes: usize,
    ours: f64,
    theirs: f64,
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(21);
    // 'static requests let one httparse header array be reused across iterations, as
    // reactor's is: neither parser pays for initialising its header slots in the loop.
    // HTTP_BENCH_FILTER=substring runs only the rows whose name contains it, =name only the row
    // of that exact name (for profiling).
    let filter = std::env::var("HTTP_BENCH_FILTER").ok();
    // HTTP_BENCH_ITERS=N fixes the calls per round (for instruction counts under callgrind:
    // `valgrind --tool=callgrind` counts per call of `ours_whole` / `httparse_whole`).
    let fixed_iters: Option<usize> = std::env::var("HTTP_BENCH_ITERS")
        .ok()
        .and_then(|s| s.parse().ok());
    let cookie: &'static [u8] = cookie_request().leak();
    let simd = ParserConfig::DEFAULT;
    let portable = ParserConfig {
        use_simd: false,
        ..ParserConfig::DEFAULT
    };

    struct Case {
        name: &'static str,
        req: &'static [u8],
        /// Fed in pieces of this many bytes; 0 for whole.
        piece: usize,
    }
    let case = |name, req, piece| Case { name, req, piece };
    let cases = [
        case("tiny GET", TINY, 0),
        case("browser", BROWSER, 0),
        case("4 KiB cookie", cookie, 0),
        case("browser, 1 byte at a time", BROWSER, 1),
        case("browser, 64-byte pieces", BROWSER, 64),
        case("4 KiB cookie, 1 byte at a time", cookie, 1),
    ];

    let mut rows = Vec::new();
    for case in &cases {
        // Sanity: both parsers accept the request and agree on its head length.
        let mut ours_headers = [RawHeader::EMPTY; 32];
        let mut their_headers = [httparse::EMPTY_HEADER; 32];
        let a = ours_whole(&simd, case.req, &mut ours_headers);
        let b = httparse_whole(case.req, &mut their_headers);
        assert!(a > 0 && a == b, "{}: reactor {a}, httparse {b}", case.name);

        // Aim at ~20 ms per round for the slowest of the two.
        let probe = time_ns(1, 5, || httparse_whole(case.req, &mut their_headers))[0];
        let calls = if case.piece > 0 {
            case.req.len().div_ceil(case.piece)
        } else {
            1
        };
        let per_call = probe * calls as f64;
        let iters =
            fixed_iters.unwrap_or(((20e6 / per_call.max(1.0)) as usize).clamp(3, 2_000_000));
        let rounds = if case.piece == 1 && case.req.len() > 1000 {
            rounds.min(7)
        } else {
            rounds
        };

        for (label, config) in [("", simd), (" [portable]", portable)] {
            let name = format!("{}{label}", case.name);
            let selected = match filter.as_deref() {
                None => true,
                Some(f) => f
                    .strip_prefix('=')
                    .map_or(name.contains(f), |exact| name == exact),
            };
            if !selected {
                continue;
            }
            let mut ours = Vec::new();
            let mut theirs = Vec::new();
            for _ in 0..rounds {
                if case.piece > 0 {
                    ours.extend(time_ns(1, iters, || {
                        ours_pieces(&config, case.req, case.piece, &mut ours_headers)
                    }));
                    theirs.extend(time_ns(1, iters, || {
                        httparse_pieces(case.req, case.piece, &mut their_headers)
                    }));
                } else {
                    ours.extend(time_ns(1, iters, || {
                        ours_whole(&config, case.req, &mut ours_headers)
                    }));
                    theirs.extend(time_ns(1, iters, || {
                        httparse_whole(case.req, &mut their_headers)
                    }));
                }
            }
            rows.push(Row {
                name,
                bytes: case.req.len(),
                ours: median(&mut ours).unwrap_or(f64::NAN),
                theirs: median(&mut theirs).unwrap_or(f64::NAN),
            });
        }
    }

    println!("reactor::http vs httparse 1.x, medians of {rounds} rounds (lower ns is better)");
    println!(
        "| {:<40} | {:>6} | {:>10} | {:>11} | {:>12} | {:>13} | {:>16} |",
        "case",
        "bytes",
        "reactor ns",
        "httparse ns",
        "reactor GB/s",
        "httparse GB/s",
        "httparse/reactor"
    );
    println!(
        "|{:-<42}|{:->8}|{:->12}|{:->13}|{:->14}|{:->15}|{:->18}|",
        "", "", "", "", "", "", ""
    );
    for r in &rows {
        println!(
            "| {:<40} | {:>6} | {:>10.1} | {:>11.1} | {:>12.2} | {:>13.2} | {:>15.2}x |",
            r.name,
            r.bytes,
            r.ours,
            r.theirs,
            r.bytes as f64 / r.ours,
            r.bytes as f64 / r.theirs,
            r.theirs / r.ours
        );
    }
}
