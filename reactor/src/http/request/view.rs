//! The parsed request head: [`Request`], a view borrowing the buffer, the header slots and
//! the parser, and the small types it reports ([`Status`], [`Version`], [`TargetForm`]).

use super::Head;
use crate::http::BodyFraming;
use crate::http::headers::{Headers, RawHeader};

/// The outcome of a parse that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// The head is complete.
    Complete(T),
    /// More bytes are needed; call again with the buffer extended.
    Partial,
}

impl<T> Status<T> {
    /// Whether this is `Complete`.
    pub const fn is_complete(&self) -> bool {
        matches!(self, Self::Complete(_))
    }

    /// Whether this is `Partial`.
    pub const fn is_partial(&self) -> bool {
        matches!(self, Self::Partial)
    }

    /// The completed value, if any.
    pub fn complete(self) -> Option<T> {
        match self {
            Self::Complete(t) => Some(t),
            Self::Partial => None,
        }
    }
}

/// The HTTP versions this parser accepts: `HTTP/1.2` to `HTTP/1.9` are read as
/// [`Version::Http11`] (RFC 9110 6.2: a higher minor version is processed as the highest
/// one implemented); a well-formed version of another major version is
/// [`ParseError::UnsupportedVersion`](crate::http::ParseError::UnsupportedVersion) (505).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// HTTP/1.0
    Http10,
    /// HTTP/1.1
    Http11,
}

impl Version {
    /// The version as it appears on the wire, `HTTP/1.x`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Http10 => "HTTP/1.0",
            Self::Http11 => "HTTP/1.1",
        }
    }
}

/// The form of the request target (RFC 9112 3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetForm {
    /// `/path?query`: the usual form.
    Origin,
    /// `scheme://authority/path`: for proxies; servers must accept it too (RFC 9112 3.2.2).
    Absolute,
    /// `host:port`: only with `CONNECT`.
    Authority,
    /// `*`: only with `OPTIONS`.
    Asterisk,
}

/// A parsed request head, borrowing the buffer it was parsed from, the header slice and the
/// parser.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub(super) buf: &'a [u8],
    pub(super) headers: &'a [RawHeader],
    pub(super) head: &'a Head,
}

/// Checked token text: every span was validated as ASCII when parsed (from this buffer, as
/// long as the caller kept the contract of [`RequestParser::parse`](super::RequestParser::parse)).
#[inline]
fn ascii(buf: &[u8], span: (usize, usize)) -> &str {
    buf.get(span.0..span.1)
        .map_or("", crate::http::headers::ascii_str)
}

impl<'a> Request<'a> {
    /// The method, e.g. `GET` (case-sensitive; unknown methods are not an error here).
    pub fn method(&self) -> &'a str {
        ascii(self.buf, self.head.method)
    }

    /// The request target as sent, e.g. `/index.html?x=1`.
    pub fn target(&self) -> &'a str {
        ascii(self.buf, self.head.target)
    }

    /// The path of an origin-form target: the target up to `?`.
    pub fn path(&self) -> &'a str {
        let t = self.target();
        t.split_once('?').map_or(t, |(p, _)| p)
    }

    /// The query of an origin-form target: what follows the first `?`, if any.
    pub fn query(&self) -> Option<&'a str> {
        self.target().split_once('?').map(|(_, q)| q)
    }

    /// The form of the target.
    pub const fn target_form(&self) -> TargetForm {
        self.head.target_form
    }

    /// The HTTP version.
    pub const fn version(&self) -> Version {
        self.head.version
    }

    /// The header fields, in the order received.
    pub fn headers(&self) -> Headers<'a> {
        Headers {
            buf: self.buf,
            raw: self.headers.iter(),
        }
    }

    /// The number of header fields.
    pub const fn header_count(&self) -> usize {
        self.headers.len()
    }

    /// The value of the first field named `name` (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        // Compares the name's bytes: no UTF-8 conversion per field.
        let name = name.as_bytes();
        self.headers
            .iter()
            .find(|h| h.name_bytes(self.buf).eq_ignore_ascii_case(name))
            .map(|h| h.resolve(self.buf).value)
    }

    /// How many bytes of the buffer the head took, including the empty lines skipped before
    /// the request line and the empty line ending the head. The body (or the next pipelined
    /// request) starts there.
    pub const fn head_len(&self) -> usize {
        self.head.head_len
    }

    /// How the body is delimited.
    pub const fn body(&self) -> BodyFraming {
        self.head.body
    }

    /// Whether the connection may serve another request after this one: HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    pub const fn keep_alive(&self) -> bool {
        self.head.keep_alive
    }
}
