//! Limits and policy switches for the request parser and the chunked decoder.

/// Size limits. Exceeding one is a distinct [`ParseError`](super::ParseError) so a server can
/// answer `414` or `431`.
///
/// ```
/// use reactor::http::Limits;
///
/// let limits = Limits { max_headers: 32, ..Limits::DEFAULT };
/// assert_eq!(limits.max_request_line, 8 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest request line, in bytes, without its line ending (default 8 KiB, as nginx).
    pub max_request_line: u32,
    /// Most header fields (default 100). The caller's header slice may lower it further.
    pub max_headers: u32,
    /// Largest header section, in bytes: every field line with its line ending, not counting
    /// the empty line that ends the head (default 64 KiB). Also bounds a chunked trailer
    /// section.
    pub max_header_bytes: u32,
    /// Most empty lines skipped before the request line (default 8; RFC 9112 2.2 asks for at
    /// least one).
    pub max_empty_lines: u32,
    /// Longest chunk-size line of a chunked body, in bytes: the hexadecimal size and its
    /// extensions, without the line ending (default 4 KiB).
    pub max_chunk_size_line: u32,
}

impl Limits {
    /// The default limits.
    pub const DEFAULT: Self = Self {
        max_request_line: 8 * 1024,
        max_headers: 100,
        max_header_bytes: 64 * 1024,
        max_empty_lines: 8,
        max_chunk_size_line: 4 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Limits plus the policy choices RFC 9112 leaves to the server. The defaults are strict.
///
/// ```
/// use reactor::http::{ParserConfig, RequestParser};
///
/// // A server that wants to accept `\n`-only line endings from old clients.
/// let config = ParserConfig { allow_lf_line_endings: true, ..ParserConfig::DEFAULT };
/// let mut parser = RequestParser::with_config(config);
/// let mut headers = [reactor::http::RawHeader::EMPTY; 4];
/// assert!(parser.parse(b"GET / HTTP/1.1\nHost: a\n\n", &mut headers).unwrap().is_complete());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParserConfig {
    /// Size limits.
    pub limits: Limits,
    /// Accept a bare LF as a line ending (RFC 9112 2.2 allows it, but it is a smuggling
    /// vector when a proxy in front disagrees). Default `false`. A bare CR is never accepted.
    pub allow_lf_line_endings: bool,
    /// Accept several `Content-Length` fields (or a comma list) when all values are
    /// identical (RFC 9112 6.3 item 5 allows it). Default `false`: any repetition is rejected.
    pub allow_identical_content_lengths: bool,
    /// Accept absolute-form targets (`GET http://host/path HTTP/1.1`). RFC 9112 3.2.2 says a
    /// server MUST accept them; a server that is not a proxy then uses the target's authority
    /// instead of `Host`. Default `true`; the form is reported by [`Request::target_form`](super::Request::target_form).
    pub allow_absolute_form: bool,
    /// Use the SIMD scanners when the CPU has them (AVX2 on x86_64, detected at run time).
    /// Default `true`; `false` forces the portable path (for comparisons and testing).
    pub use_simd: bool,
}

impl ParserConfig {
    /// The strict defaults.
    pub const DEFAULT: Self = Self {
        limits: Limits::DEFAULT,
        allow_lf_line_endings: false,
        allow_identical_content_lengths: false,
        allow_absolute_form: true,
        use_simd: true,
    };
}

impl Default for ParserConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}
