//! Header fields: the caller-supplied slots the parser fills, the borrowed view of them, and
//! the per-field checks that need to know a field's name (`Host`, `Connection`, framing).

use core::iter::FusedIterator;

use super::ParseError;
use super::chars::{eq_ignore_case, eq_token_lower_words, ows, valid_host};
use super::framing::{BodyFraming, FramingFields};
use super::request::Version;

/// One parsed header field, as offsets into the parsed buffer.
///
/// The caller supplies a slice of these to [`RequestParser::parse`](super::RequestParser::parse)
/// (as with httparse, the parser allocates nothing) and keeps it for the whole request: a
/// resumed parse appends to it. Offsets instead of slices let the buffer be a different
/// borrow (for example a grown `Vec`) on each call. Read the fields through
/// [`Request::headers`](super::Request::headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RawHeader {
    name_start: u32,
    name_end: u32,
    value_start: u32,
    value_end: u32,
}

impl RawHeader {
    /// An empty slot, to initialise header arrays: `[RawHeader::EMPTY; 64]`.
    pub const EMPTY: Self = Self {
        name_start: 0,
        name_end: 0,
        value_start: 0,
        value_end: 0,
    };

    /// Offsets are below `u32::MAX`: the parser never looks further than its limits allow,
    /// and those are `u32`s that add up to less than 4 GiB.
    #[inline(always)]
    pub(crate) fn new(name: (usize, usize), value: (usize, usize)) -> Self {
        Self {
            name_start: name.0 as u32,
            name_end: name.1 as u32,
            value_start: value.0 as u32,
            value_end: value.1 as u32,
        }
    }

    /// Resolves the offsets against `buf`; empty slices when they do not fit (which happens
    /// only when a caller broke the contract and passed unrelated slots or buffers).
    #[inline]
    pub(crate) fn resolve<'a>(&self, buf: &'a [u8]) -> Header<'a> {
        let name = buf
            .get(self.name_start as usize..self.name_end as usize)
            .unwrap_or(&[]);
        let value = buf
            .get(self.value_start as usize..self.value_end as usize)
            .unwrap_or(&[]);
        Header {
            name: ascii_str(name),
            value,
        }
    }

    /// The name's bytes in `buf`; empty when the offsets do not fit (as in
    /// [`resolve`](Self::resolve)).
    #[inline]
    pub(crate) fn name_bytes<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.name_start as usize..self.name_end as usize)
            .unwrap_or(&[])
    }
}

// `ascii_str` lives in `simd`, with the crate's other `unsafe`.
pub(crate) use super::simd::ascii_str;

/// A header field borrowed from the request buffer. The value has no leading or trailing
/// whitespace; it may hold obs-text (bytes >= 0x80), hence `&[u8]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// The field name as sent (compare it case-insensitively).
    pub name: &'a str,
    /// The field value.
    pub value: &'a [u8],
}

/// Iterator over the header fields of a [`Request`](super::Request), in the order received.
#[derive(Debug, Clone)]
pub struct Headers<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) raw: core::slice::Iter<'a, RawHeader>,
}

impl<'a> Iterator for Headers<'a> {
    type Item = Header<'a>;

    #[inline]
    fn next(&mut self) -> Option<Header<'a>> {
        self.raw.next().map(|h| h.resolve(self.buf))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.raw.size_hint()
    }
}

impl DoubleEndedIterator for Headers<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.raw.next_back().map(|h| h.resolve(self.buf))
    }
}

impl ExactSizeIterator for Headers<'_> {}
impl FusedIterator for Headers<'_> {}

/// A quick, partial answer to "is this `Host` value valid" (see
/// [`FieldState::on_field_with`]). A trait rather than a closure: its `#[inline(always)]`
/// method is inlined where a closure's call was not.
pub(crate) trait HostHint {
    /// Whether the value is made of letters, digits, `.` and `-` only; `false` when unknown.
    fn plain_host(self) -> bool;
}

/// No hint: [`valid_host`] decides.
pub(crate) struct NoHint;

impl HostHint for NoHint {
    #[inline(always)]
    fn plain_host(self) -> bool {
        false
    }
}

/// What the fields with a meaning for the parser said so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FieldState {
    host_count: u8,
    connection_close: bool,
    connection_keep_alive: bool,
    framing: FramingFields,
}

impl FieldState {
    pub(crate) const fn new() -> Self {
        Self {
            host_count: 0,
            connection_close: false,
            connection_keep_alive: false,
            framing: FramingFields::new(),
        }
    }

    /// Whether a field whose name has `len` bytes may mean something to the parser (`Host`,
    /// `Connection`, `Content-Length`, `Transfer-Encoding`); [`on_field`](Self::on_field) has
    /// nothing to do for the others. Names of 32 bytes or more are tested modulo 32 (one shift,
    /// no range check): a few long names are let through, and `on_field`, which compares the
    /// whole name, ignores them.
    #[inline(always)]
    pub(crate) const fn may_matter(len: usize) -> bool {
        const LENGTHS: u32 = 1 << 4 | 1 << 10 | 1 << 14 | 1 << 17;
        LENGTHS >> (len % 32) & 1 != 0
    }

    /// Checks one field. `name` consists of token characters.
    #[inline(always)]
    pub(crate) fn on_field(
        &mut self,
        name: &[u8],
        value: &[u8],
        allow_identical_content_lengths: bool,
    ) -> Result<(), ParseError> {
        self.on_field_with(name, value, allow_identical_content_lengths, NoHint)
    }

    /// [`on_field`](Self::on_field), where `hint` may vouch for a `Host` value made of
    /// letters, digits, `.` and `-` only (a quicker test than [`valid_host`] when the caller
    /// can read the value with SIMD); when it does not, `valid_host` decides.
    #[inline(always)]
    pub(crate) fn on_field_with(
        &mut self,
        name: &[u8],
        value: &[u8],
        allow_identical_content_lengths: bool,
        hint: impl HostHint,
    ) -> Result<(), ParseError> {
        // Dispatch on the length first: most fields need no comparison at all.
        match name.len() {
            4 if eq_token_lower_words(name, b"host") => return self.on_host(value, hint),
            10 if eq_token_lower_words(name, b"connection") => {
                // The usual single options first, compared a word at a time: a field value
                // holds no CR, the only byte besides `-` that folds onto `-`.
                if eq_token_lower_words(value, b"keep-alive") {
                    self.connection_keep_alive = true;
                    return Ok(());
                }
                if eq_token_lower_words(value, b"close") {
                    self.connection_close = true;
                    return Ok(());
                }
                for option in value.split(|&b| b == b',') {
                    let option = trim_ows(option);
                    if eq_ignore_case(option, b"close") {
                        self.connection_close = true;
                    } else if eq_ignore_case(option, b"keep-alive") {
                        self.connection_keep_alive = true;
                    }
                }
            }
            14 if eq_token_lower_words(name, b"content-length") => {
                self.framing
                    .content_length(value, allow_identical_content_lengths)?;
            }
            17 if eq_token_lower_words(name, b"transfer-encoding") => {
                self.framing.transfer_encoding(value)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// [`on_field`](Self::on_field) for the fields it checks without a call: a name of a
    /// length that [may matter](Self::may_matter) but none of the four names, and
    /// `Connection: keep-alive` or `Connection: close`. Returns `false`, having done nothing,
    /// for the others (`Host`, the framing fields, other `Connection` values), which
    /// `on_field` must check. `name` consists of token characters. (For a loop over field
    /// lines that keeps its vector registers: a call would clobber them.)
    #[inline(always)]
    pub(crate) fn on_plain_field(&mut self, name: &[u8], value: &[u8]) -> bool {
        match name.len() {
            4 => !eq_token_lower_words(name, b"host"),
            10 if eq_token_lower_words(name, b"connection") => {
                if eq_token_lower_words(value, b"keep-alive") {
                    self.connection_keep_alive = true;
                    true
                } else if eq_token_lower_words(value, b"close") {
                    self.connection_close = true;
                    true
                } else {
                    false
                }
            }
            14 => !eq_token_lower_words(name, b"content-length"),
            17 => !eq_token_lower_words(name, b"transfer-encoding"),
            _ => true,
        }
    }

    /// Checks a `Host` field's value (see [`on_field_with`](Self::on_field_with)).
    #[inline(always)]
    pub(crate) fn on_host(&mut self, value: &[u8], hint: impl HostHint) -> Result<(), ParseError> {
        if self.host_count > 0 {
            return Err(ParseError::DuplicateHost);
        }
        self.host_count = 1;
        if !(hint.plain_host() || valid_host(value)) {
            return Err(ParseError::InvalidHost);
        }
        Ok(())
    }

    /// The end-of-head checks: `Host` presence and framing. Returns the framing and whether
    /// the connection stays open after this request.
    pub(crate) fn finish(&self, version: Version) -> Result<(BodyFraming, bool), ParseError> {
        if version == Version::Http11 && self.host_count == 0 {
            return Err(ParseError::MissingHost);
        }
        let framing = self.framing.finish(version)?;
        let keep_alive =
            !self.connection_close && (version == Version::Http11 || self.connection_keep_alive);
        Ok((framing, keep_alive))
    }
}

fn trim_ows(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !ows(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|&b| !ows(b)).map_or(start, |i| i + 1);
    &s[start..end.max(start)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_str_keeps_ascii_and_refuses_the_rest() {
        assert_eq!(ascii_str(b"Content-Length"), "Content-Length");
        assert_eq!(ascii_str(b""), "");
        // Valid UTF-8 that is not ASCII is refused too: the parser never accepts it here.
        assert_eq!(ascii_str("h\u{e9}".as_bytes()), "");
        assert_eq!(ascii_str(b"\xff\xfe"), "");
        // A resolved name from unrelated slots (a broken contract) is empty, never invalid.
        let raw = RawHeader::new((0, 2), (2, 2));
        assert_eq!(raw.resolve(b"\xc3\xa9").name, "");
        assert_eq!(raw.name_bytes(b"\xc3\xa9"), b"\xc3\xa9");
        assert_eq!(raw.name_bytes(b"x"), b"");
    }

    #[test]
    fn trims() {
        assert_eq!(trim_ows(b" \ta b\t "), b"a b");
        assert_eq!(trim_ows(b"   "), b"");
        assert_eq!(trim_ows(b""), b"");
    }

    #[test]
    fn connection_options() {
        let mut f = FieldState {
            host_count: 1,
            ..FieldState::default()
        };
        assert_eq!(f.finish(Version::Http11), Ok((BodyFraming::None, true)));
        assert_eq!(f.finish(Version::Http10), Ok((BodyFraming::None, false)));
        f.on_field(b"Connection", b"upgrade, Keep-Alive", false)
            .unwrap();
        assert_eq!(f.finish(Version::Http10), Ok((BodyFraming::None, true)));
        f.on_field(b"CONNECTION", b"CLOSE", false).unwrap();
        assert_eq!(f.finish(Version::Http11), Ok((BodyFraming::None, false)));
    }
}
