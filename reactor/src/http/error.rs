//! The typed parse error and the HTTP status a server should answer with.

use core::fmt;

/// Why a request head or a chunked body was rejected.
///
/// Each variant maps to the status a server should answer with through
/// [`ParseError::status`]: most are `400 Bad Request`; a request line over the limit is `414`,
/// too many or too large header fields `431`, an unknown transfer coding `501` and an HTTP
/// version other than 1.0 and 1.1 `505`. After any error the connection must be closed: the
/// message boundary is unknown.
///
/// ```
/// use reactor::http::{ParseError, RequestParser};
///
/// let mut parser = RequestParser::new();
/// let mut headers = [reactor::http::RawHeader::EMPTY; 8];
/// let err = parser.parse(b"GET / HTTP/2.0\r\n\r\n", &mut headers).unwrap_err();
/// assert_eq!(err, ParseError::UnsupportedVersion);
/// assert_eq!(err.status(), 505);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseError {
    /// The method is empty or holds a byte that is not a token character (400).
    InvalidMethod,
    /// The request target is empty, holds a control byte, a space, a non-ASCII byte, or has
    /// no recognisable form (400).
    InvalidTarget,
    /// The asterisk-form `*` was used with a method other than `OPTIONS` (400).
    AsteriskWithoutOptions,
    /// `CONNECT` without an authority-form target (`host:port`) (400).
    InvalidAuthorityForm,
    /// An absolute-form target while the configuration rejects them (400).
    AbsoluteFormRejected,
    /// The HTTP version is not of the form `HTTP/DIGIT.DIGIT` (400).
    InvalidVersion,
    /// A well-formed HTTP version whose major version is not 1 (505); `HTTP/1.2` to
    /// `HTTP/1.9` are taken as 1.1 (RFC 9110 6.2).
    UnsupportedVersion,
    /// A line ends in a bare LF while LF-only line endings are not enabled (400).
    BareLf,
    /// A CR that is not followed by LF (400).
    BareCr,
    /// Too many leading empty lines before the request line (400).
    TooManyEmptyLines,
    /// The request line is longer than [`Limits::max_request_line`](super::Limits) (414).
    RequestLineTooLong,
    /// A header field name is empty or holds a byte that is not a token character (400).
    InvalidHeaderName,
    /// Whitespace between a field name and the colon (400).
    WhitespaceBeforeColon,
    /// A field value holds NUL, DEL or another control byte other than HTAB (400).
    InvalidHeaderValue,
    /// A field line starts with whitespace: obsolete line folding, or whitespace before the
    /// first header (400).
    ObsoleteLineFolding,
    /// More header fields than [`Limits::max_headers`](super::Limits) or the caller's header
    /// slice holds (431).
    TooManyHeaders,
    /// The header section is larger than [`Limits::max_header_bytes`](super::Limits) (431).
    HeadersTooLarge,
    /// An HTTP/1.1 request without a `Host` header (400).
    MissingHost,
    /// More than one `Host` header (400).
    DuplicateHost,
    /// A `Host` value that is not `uri-host [ ":" port ]` (400).
    InvalidHost,
    /// A `Content-Length` that is not a plain decimal number fitting in 64 bits (400).
    InvalidContentLength,
    /// More than one `Content-Length` (or a list of them), not allowed by policy or not all
    /// identical (400).
    DuplicateContentLength,
    /// Both `Transfer-Encoding` and `Content-Length` are present (400).
    ContentLengthWithTransferEncoding,
    /// `Transfer-Encoding` in an HTTP/1.0 request (400).
    TransferEncodingInHttp10,
    /// `Transfer-Encoding` whose final coding is not `chunked`, or `chunked` applied twice
    /// (400).
    ChunkedNotFinal,
    /// A `Transfer-Encoding` value that is not a list of transfer codings (400).
    InvalidTransferEncoding,
    /// A transfer coding other than `chunked`, which this server does not implement (501).
    UnsupportedTransferCoding,
    /// A chunk size that is empty, not hexadecimal, or overflows 64 bits (400).
    InvalidChunkSize,
    /// A malformed chunk extension, or a chunk-size line longer than
    /// [`Limits::max_chunk_size_line`](super::Limits) (400).
    InvalidChunkExtension,
    /// Chunk data not followed by CRLF (400).
    MissingChunkDelimiter,
    /// The trailer section has more fields or bytes than the header limits allow (431).
    /// Malformed trailer lines get the same errors as malformed header lines.
    TrailersTooLarge,
    /// The caller broke the calling contract: a resumed parse got a buffer shorter than what
    /// was already parsed, or a header slice shorter than the fields already stored in it
    /// (500: a server bug, not a client one).
    ResumeMismatch,
}

impl ParseError {
    /// The HTTP status code a server should answer with (400, 414, 431, 501, 505; 500 for
    /// [`ParseError::ResumeMismatch`]).
    pub const fn status(self) -> u16 {
        match self {
            Self::RequestLineTooLong => 414,
            Self::TooManyHeaders | Self::HeadersTooLarge | Self::TrailersTooLarge => 431,
            Self::UnsupportedTransferCoding => 501,
            Self::UnsupportedVersion => 505,
            Self::ResumeMismatch => 500,
            _ => 400,
        }
    }

    /// A short human-readable description.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidMethod => "invalid method",
            Self::InvalidTarget => "invalid request target",
            Self::AsteriskWithoutOptions => "asterisk-form target without OPTIONS",
            Self::InvalidAuthorityForm => "CONNECT needs an authority-form target",
            Self::AbsoluteFormRejected => "absolute-form target not accepted",
            Self::InvalidVersion => "malformed HTTP version",
            Self::UnsupportedVersion => "HTTP version not supported",
            Self::BareLf => "line ends in a bare LF",
            Self::BareCr => "CR not followed by LF",
            Self::TooManyEmptyLines => "too many empty lines before the request line",
            Self::RequestLineTooLong => "request line too long",
            Self::InvalidHeaderName => "invalid header field name",
            Self::WhitespaceBeforeColon => "whitespace between field name and colon",
            Self::InvalidHeaderValue => "invalid byte in header field value",
            Self::ObsoleteLineFolding => "field line starts with whitespace (obs-fold)",
            Self::TooManyHeaders => "too many header fields",
            Self::HeadersTooLarge => "header section too large",
            Self::MissingHost => "HTTP/1.1 request without Host",
            Self::DuplicateHost => "more than one Host",
            Self::InvalidHost => "invalid Host value",
            Self::InvalidContentLength => "invalid Content-Length",
            Self::DuplicateContentLength => "conflicting or repeated Content-Length",
            Self::ContentLengthWithTransferEncoding => "both Content-Length and Transfer-Encoding",
            Self::TransferEncodingInHttp10 => "Transfer-Encoding in an HTTP/1.0 request",
            Self::ChunkedNotFinal => "chunked is not the final transfer coding, or repeated",
            Self::InvalidTransferEncoding => "malformed Transfer-Encoding",
            Self::UnsupportedTransferCoding => "transfer coding not implemented",
            Self::InvalidChunkSize => "invalid chunk size",
            Self::InvalidChunkExtension => "invalid chunk extension",
            Self::MissingChunkDelimiter => "chunk data not followed by CRLF",
            Self::TrailersTooLarge => "trailer section too large",
            Self::ResumeMismatch => "resumed with a shorter buffer or header slice",
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.as_str(), self.status())
    }
}

impl core::error::Error for ParseError {}
