//! Fuzz target for `reactor::http`.
//!
//! Input layout: byte 0 picks the configuration (LF line endings, identical Content-Lengths,
//! absolute-form, small limits), byte 1 seeds the split points, the rest is the request.
//! Checks, for every input:
//! - the SIMD and portable scanners give the same result;
//! - feeding the request in fuzzer-chosen pieces gives the same result as feeding it whole
//!   (same request, same error, or both incomplete), and every intermediate call is
//!   `Partial`;
//! - a completed head is consistent: spans inside the buffer, head length within the input;
//! - a chunked body decodes to the same bytes and outcome whole and in pieces.
//! Reading past the input is caught by AddressSanitizer (cargo fuzz's default).
#![no_main]

use libfuzzer_sys::fuzz_target;
use reactor::http::{
    BodyFraming, ChunkedDecoder, Limits, ParseError, ParserConfig, RawHeader, RequestParser,
    Status, TargetForm, Version,
};

#[derive(Debug, PartialEq, Eq)]
struct Summary {
    method: String,
    target: String,
    version: Version,
    form: TargetForm,
    headers: Vec<(String, Vec<u8>)>,
    head_len: usize,
    body: BodyFraming,
    keep_alive: bool,
}

type Outcome = Result<Option<Summary>, ParseError>;

fn summarise(parser: &mut RequestParser, buf: &[u8], headers: &mut [RawHeader]) -> Outcome {
    match parser.parse(buf, headers)? {
        Status::Partial => Ok(None),
        Status::Complete(r) => {
            assert!(r.head_len() <= buf.len());
            let s = Summary {
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
            };
            assert!(!s.method.is_empty() && !s.target.is_empty());
            assert!(s.headers.iter().all(|(n, _)| !n.is_empty()));
            Ok(Some(s))
        }
    }
}

/// A small xorshift generator for split points.
struct Splits(u32);

impl Splits {
    fn next(&mut self, max: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        // Mostly tiny pieces, sometimes large ones.
        let n = match self.0 % 4 {
            0 => 1,
            1 => (self.0 >> 8) as usize % 8,
            2 => (self.0 >> 8) as usize % 64,
            _ => (self.0 >> 8) as usize % 1024,
        };
        n.clamp(1, max.max(1))
    }
}

fn config(flags: u8, simd: bool) -> ParserConfig {
    let mut limits = Limits::DEFAULT;
    if flags & 8 != 0 {
        limits = Limits {
            max_request_line: 64,
            max_headers: 4,
            max_header_bytes: 128,
            max_empty_lines: 2,
            max_chunk_size_line: 16,
        };
    }
    ParserConfig {
        limits,
        allow_lf_line_endings: flags & 1 != 0,
        allow_identical_content_lengths: flags & 2 != 0,
        allow_absolute_form: flags & 4 == 0,
        use_simd: simd,
    }
}

fn decode_body(
    config: &ParserConfig,
    body: &[u8],
    splits: Option<&mut Splits>,
) -> (Result<bool, ParseError>, Vec<u8>, usize) {
    let mut decoder = ChunkedDecoder::with_config(config);
    let mut out = Vec::new();
    let mut consumed = 0;
    let mut avail = match &splits {
        Some(_) => 0,
        None => body.len(),
    };
    let mut splits = splits;
    loop {
        if let Some(s) = splits.as_deref_mut() {
            if avail < body.len() {
                avail = (avail + s.next(body.len() - avail)).min(body.len());
            }
        }
        let input = &body[consumed..avail];
        let step = match decoder.decode(input) {
            Ok(step) => step,
            // Where in the input an error was found depends on the pieces; only the error
            // and the data before it must agree.
            Err(e) => return (Err(e), out, 0),
        };
        assert!(step.consumed <= input.len());
        out.extend_from_slice(step.data);
        consumed += step.consumed;
        if step.done {
            return (Ok(true), out, consumed);
        }
        let stuck = step.consumed == 0 && step.data.is_empty();
        if stuck && avail == body.len() {
            return (Ok(false), out, consumed);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [flags, seed, request @ ..] = data else {
        return;
    };
    let simd_config = config(*flags, true);
    let portable_config = config(*flags, false);

    let mut slots = [RawHeader::EMPTY; 8];
    let whole = summarise(
        &mut RequestParser::with_config(simd_config),
        request,
        &mut slots,
    );
    let mut slots2 = [RawHeader::EMPTY; 8];
    let portable = summarise(
        &mut RequestParser::with_config(portable_config),
        request,
        &mut slots2,
    );
    assert_eq!(whole, portable, "SIMD and portable scanners disagree");

    // Fed in pieces: every call before the last is Partial, the last agrees with `whole`.
    let mut parser = RequestParser::with_config(if seed & 1 == 0 {
        simd_config
    } else {
        portable_config
    });
    let mut slots3 = [RawHeader::EMPTY; 8];
    let mut splits = Splits(u32::from(*seed).wrapping_mul(0x9E37_79B9) | 1);
    let mut end = 0;
    let pieces = loop {
        end = (end + splits.next(request.len() - end)).min(request.len());
        let r = summarise(&mut parser, &request[..end], &mut slots3);
        if end == request.len() || !matches!(r, Ok(None)) {
            break r;
        }
    };
    assert_eq!(whole, pieces, "whole and split parses disagree");
    // Errors and completion are sticky.
    assert_eq!(summarise(&mut parser, request, &mut slots3), pieces);

    if let Ok(Some(head)) = &whole {
        if head.body == BodyFraming::Chunked {
            let body = &request[head.head_len..];
            let a = decode_body(&simd_config, body, None);
            let b = decode_body(&simd_config, body, Some(&mut splits));
            assert_eq!(a, b, "chunked body: whole and split decodes disagree");
        }
    }
});
