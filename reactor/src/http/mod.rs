//! An incremental, strict, zero-copy HTTP/1.1 request parser (RFC 9112).
//!
//! - **Incremental**: [`RequestParser`] keeps its state between calls; feed it the bytes of
//!   a request as they arrive and it resumes where it stopped. The total work is linear in the
//!   size of the head however it is split.
//! - **Zero-copy, no allocation**: the parsed [`Request`] borrows the method, target and
//!   header fields from the caller's buffer; header offsets go into a caller-supplied slice
//!   of [`RawHeader`]s (as with httparse).
//! - **Strict**: everything RFC 9112 names as a request-smuggling risk is an error: bare CR,
//!   bare LF (unless [`ParserConfig::allow_lf_line_endings`]), obs-fold, whitespace before the
//!   colon, control bytes in values, conflicting `Content-Length`s, `Transfer-Encoding` with
//!   `Content-Length` or in HTTP/1.0, `chunked` not final, a missing or repeated `Host`.
//!   Each error says which status to answer ([`ParseError::status`]).
//! - **Bodies**: [`Request::body`] gives the framing; [`ChunkedDecoder`] decodes a chunked
//!   body incrementally and in place.
//! - **Fast**: a fresh parser given a whole head takes a fast path: the request line and each
//!   field line in one pass with no state dispatch (method, version and the names that matter
//!   recognised with word compares), falling back to the state machine at the first line that
//!   is unusual or incomplete. The hot loops scan 32 bytes at a time with AVX2 when the CPU
//!   has it (one load classifies most field lines), 16 at a time with SSE2 for small heads
//!   (inlined, with no call into an AVX2 function), and 8 at a time with SWAR (plus lookup
//!   tables) otherwise. `is_x86_feature_detected!` needs `std`, so AVX2 is detected with `cpuid` and
//!   `xgetbv` (from `core::arch`) once and cached in an atomic; builds with
//!   `-C target-feature=+avx2` skip the check. [`ParserConfig::use_simd`] = `false` forces the
//!   portable path, which is always compiled and tested against the SIMD one.
//!
//! # Calling pattern for a server
//! One [`RequestParser`] per connection. After each read, call [`RequestParser::parse`] with
//! the whole unconsumed part of the read buffer (the request's first byte at index 0) and the
//! connection's header slots. On `Complete`, [`Request::head_len`] bytes are the head; the
//! body follows as [`Request::body`] says ([`RequestParser::chunked_decoder`] for chunked
//! bodies); after it, [`RequestParser::reset`] and parse the next pipelined request from there.
//! On an error, answer [`ParseError::status`] and close.
//!
//! ```
//! use reactor::http::{RawHeader, RequestParser, Status, Version};
//!
//! let mut parser = RequestParser::new();
//! let mut headers = [RawHeader::EMPTY; 32];
//! let buf = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
//! match parser.parse(buf, &mut headers) {
//!     Ok(Status::Complete(req)) => {
//!         assert_eq!((req.method(), req.path(), req.version()), ("GET", "/index.html", Version::Http11));
//!         assert_eq!(req.headers().count(), 2);
//!         assert_eq!(req.head_len(), buf.len());
//!     }
//!     Ok(Status::Partial) => { /* read more and call again */ }
//!     Err(e) => { let _status_to_send = e.status(); }
//! }
//! ```

mod chars;
mod chunked;
mod config;
mod error;
mod framing;
mod headers;
mod request;
mod simd;
#[cfg(test)]
mod tests;

pub use chunked::{ChunkedDecoder, Decoded};
pub use config::{Limits, ParserConfig};
pub use error::ParseError;
pub use framing::BodyFraming;
pub use headers::{Header, Headers, RawHeader};
pub use request::{Request, RequestParser, Status, TargetForm, Version};
