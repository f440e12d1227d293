//! Side-by-side benchmark of `reactor::http::RequestParser`, `httparse` and picohttpparser.
//!
//! `cargo run --release -p benchmarks --example http_parser_bench [ROUNDS]`
//!
//! Each case is parsed by the three parsers in the same run; every number is the median over
//! ROUNDS (default 21) rounds of a timed loop, the parsers alternating round by round.
//! picohttpparser is the C library through `picohttpparser-sys`, whose build script compiles it
//! with `-msse4` (its SSE4.2 `pcmpestri` path). "portable" rows force reactor's portable (SWAR,
//! no SIMD) scanners; httparse and picohttpparser keep their own SIMD in every row. Fragmented
//! rows feed the request in pieces (one byte, or 64 bytes, at a time) through one growing
//! buffer: reactor resumes where it stopped, httparse has to re-parse the buffer from the start
//! (its way of handling partial input), picohttpparser is given the previous length
//! (`last_len`), so it only looks for the end of the head in the new bytes and parses the
//! whole head once it is there. The ratio columns are the other parser's time / reactor time:
//! above 1 means reactor is faster.
//!
//! On a shared, noisy machine, count instructions instead (repeatable to the unit):
//! `HTTP_BENCH_FILTER='=tiny GET' HTTP_BENCH_ITERS=20000 valgrind --tool=callgrind
//! target/release/examples/http_parser_bench 1`, then divide the inclusive cost of
//! `ours_whole`, `httparse_whole` and `pico_whole` (or `*_pieces`) by their call counts
//! (`callgrind_annotate --inclusive=yes`, or the `calls=` lines of the output file).
//! Valgrind cannot execute picohttpparser's `pcmpestri` (range mode), so the picohttpparser
//! column is left out (printed as NaN) when running under valgrind (detected through its
//! `LD_PRELOAD`) or when `HTTP_BENCH_NO_PICO` is set.

use std::hint::black_box;
use std::time::Instant;

use std::os::raw::c_char;

use benchmarks::median;
use picohttpparser_sys::{phr_header, phr_parse_request};
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
        // The length arrives from outside (a read), the buffer stays where it is: black_box
        // on the length alone keeps the compiler from following the loop without forcing
        // the slice through memory on every call. The same for the three parsers.
        let end = black_box(end.min(req.len()));
        match parser.parse(&req[..end], headers) {
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
        let end = black_box(end.min(req.len()));
        let mut r = httparse::Request::new(headers);
        match r.parse(&req[..end]) {
            Ok(httparse::Status::Complete(n)) => return n + r.headers.len(),
            Ok(httparse::Status::Partial) => {}
            Err(_) => return 0,
        }
    }
    0
}

/// Calls `phr_parse_request` on `buf`; returns its result (head length, -1 error, -2 partial)
/// and the number of headers.
fn pico_call(buf: &[u8], last_len: usize, headers: &mut [phr_header]) -> (i32, usize) {
    let mut method: *const c_char = std::ptr::null();
    let mut method_len = 0;
    let mut path: *const c_char = std::ptr::null();
    let mut path_len = 0;
    let mut minor = 0;
    let mut num_headers = headers.len();
    // SAFETY: every pointer is valid for the call: `buf` for `buf.len()` bytes (only read), the
    // out-parameters are locals, `headers` has room for `num_headers` entries, as the C API
    // requires; the returned pointers into `buf` are not kept.
    let ret = unsafe {
        phr_parse_request(
            buf.as_ptr().cast(),
            buf.len(),
            &mut method,
            &mut method_len,
            &mut path,
            &mut path_len,
            &mut minor,
            headers.as_mut_ptr(),
            &mut num_headers,
            last_len,
        )
    };
    (ret, num_headers)
}

#[inline(never)]
fn pico_whole(req: &[u8], headers: &mut [phr_header]) -> usize {
    match pico_call(req, 0, headers) {
        (n, count) if n > 0 => n as usize + count,
        _ => 0,
    }
}

/// Feeds `req` to picohttpparser `piece` bytes at a time, passing the previous length.
#[inline(never)]
fn pico_pieces(req: &[u8], piece: usize, headers: &mut [phr_header]) -> usize {
    let mut last_len = 0;
    for end in (piece..req.len() + piece).step_by(piece) {
        let end = black_box(end.min(req.len()));
        match pico_call(&req[..end], last_len, headers) {
            (-2, _) => last_len = end,
            (n, count) if n > 0 => return n as usize + count,
            _ => return 0,
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
    pico: f64,
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
    let with_pico = std::env::var_os("HTTP_BENCH_NO_PICO").is_none()
        && !std::env::var("LD_PRELOAD").is_ok_and(|p| p.contains("vgpreload"));
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
        let mut pico_headers = [phr_header::default(); 32];
        let c = if with_pico {
            pico_whole(case.req, &mut pico_headers)
        } else {
            a
        };
        assert!(
            a > 0 && a == b && a == c,
            "{}: reactor {a}, httparse {b}, picohttpparser {c}",
            case.name
        );
        if with_pico && case.piece > 0 {
            let c = pico_pieces(case.req, case.piece, &mut pico_headers);
            assert_eq!(a, c, "{}: picohttpparser in pieces", case.name);
        }

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
            let mut pico = Vec::new();
            for _ in 0..rounds {
                if case.piece > 0 {
                    ours.extend(time_ns(1, iters, || {
                        ours_pieces(&config, case.req, case.piece, &mut ours_headers)
                    }));
                    theirs.extend(time_ns(1, iters, || {
                        httparse_pieces(case.req, case.piece, &mut their_headers)
                    }));
                    pico.extend(time_ns(1, if with_pico { iters } else { 0 }, || {
                        pico_pieces(case.req, case.piece, &mut pico_headers)
                    }));
                } else {
                    ours.extend(time_ns(1, iters, || {
                        ours_whole(&config, case.req, &mut ours_headers)
                    }));
                    theirs.extend(time_ns(1, iters, || {
                        httparse_whole(case.req, &mut their_headers)
                    }));
                    pico.extend(time_ns(1, if with_pico { iters } else { 0 }, || {
                        pico_whole(case.req, &mut pico_headers)
                    }));
                }
            }
            rows.push(Row {
                name,
                bytes: case.req.len(),
                ours: median(&mut ours).unwrap_or(f64::NAN),
                theirs: median(&mut theirs).unwrap_or(f64::NAN),
                pico: median(&mut pico).unwrap_or(f64::NAN),
            });
        }
    }

    println!(
        "reactor::http vs httparse 1.x vs picohttpparser (SSE4.2), medians of {rounds} rounds \
         (lower ns is better; ratio = other / reactor, above 1 means reactor is faster)"
    );
    println!(
        "| {:<41} | {:>5} | {:>7} | {:>8} | {:>7} | {:>7} | {:>8} | {:>7} | {:>8} | {:>6} |",
        "case",
        "bytes",
        "ours ns",
        "httparse",
        "pico ns",
        "ours GB/s",
        "httparse",
        "pico GB/s",
        "httparse/",
        "pico/"
    );
    println!(
        "|{:-<43}|{:->7}|{:->9}|{:->10}|{:->9}|{:->11}|{:->10}|{:->11}|{:->11}|{:->8}|",
        "", "", "", "", "", "", "", "", "", ""
    );
    for r in &rows {
        let gbs = |ns: f64| r.bytes as f64 / ns;
        println!(
            "| {:<41} | {:>5} | {:>7.1} | {:>8.1} | {:>7.1} | {:>9.2} | {:>8.2} | {:>9.2} | {:>8.2}x | {:>5.2}x |",
            r.name,
            r.bytes,
            r.ours,
            r.theirs,
            r.pico,
            gbs(r.ours),
            gbs(r.theirs),
            gbs(r.pico),
            r.theirs / r.ours,
            r.pico / r.ours
        );
    }
}
