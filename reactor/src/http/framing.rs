//! Message body framing of a request (RFC 9112 section 6): `Content-Length` and
//! `Transfer-Encoding`, and the rules that keep two parsers from disagreeing on where a
//! request ends.

use super::ParseError;
use super::chars::{eq_ignore_case, ows, token};
use super::request::Version;

/// How the body of a request is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyFraming {
    /// No body: neither `Content-Length` nor `Transfer-Encoding`.
    None,
    /// Exactly this many bytes follow the head.
    ContentLength(u64),
    /// A chunked body follows; decode it with [`ChunkedDecoder`](super::ChunkedDecoder).
    Chunked,
}

impl BodyFraming {
    /// Whether bytes of a body follow the head (a `Content-Length: 0` has none).
    pub const fn has_body(self) -> bool {
        !matches!(self, Self::None | Self::ContentLength(0))
    }
}

/// What the header section said about framing so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FramingFields {
    content_length: Option<u64>,
    transfer_encoding: bool,
    /// The last transfer coding seen so far is `chunked`.
    chunked_last: bool,
    chunked_seen: bool,
    /// A coding other than `chunked` was listed.
    other_coding: bool,
}

/// Parses `1*DIGIT` into a `u64`; `None` when empty, not digits, or too large.
pub(crate) fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(n)
}

/// Splits `s` at the first byte for which `stop` holds (or at the end).
fn split_at_first(s: &[u8], stop: impl Fn(u8) -> bool) -> (&[u8], &[u8]) {
    let i = s.iter().position(|&b| stop(b)).unwrap_or(s.len());
    s.split_at(i)
}

fn trim_ows_start(s: &[u8]) -> &[u8] {
    let i = s.iter().position(|&b| !ows(b)).unwrap_or(s.len());
    &s[i..]
}

/// Parses a `quoted-string` at the start of `s` (which starts with `"`) and returns the rest.
fn skip_quoted_string(s: &[u8]) -> Option<&[u8]> {
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            b'"' => return Some(&s[i + 1..]),
            b'\\' => {
                let escaped = *s.get(i + 1)?;
                if !(escaped == b'\t' || (escaped >= 0x20 && escaped != 0x7f)) {
                    return None;
                }
                i += 2;
            }
            b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff => i += 1,
            _ => return None,
        }
    }
    None
}

impl FramingFields {
    pub(crate) const fn new() -> Self {
        Self {
            content_length: None,
            transfer_encoding: false,
            chunked_last: false,
            chunked_seen: false,
            other_coding: false,
        }
    }

    /// Records a `Content-Length` field value.
    pub(crate) fn content_length(
        &mut self,
        value: &[u8],
        allow_identical: bool,
    ) -> Result<(), ParseError> {
        let n = if allow_identical && value.contains(&b',') {
            // RFC 9112 6.3: a list of identical values may stand for one.
            let mut common = None;
            for item in value.split(|&b| b == b',') {
                let item = trim_ows_start(item);
                let (digits, rest) = split_at_first(item, ows);
                if !rest.iter().all(|&b| ows(b)) {
                    return Err(ParseError::InvalidContentLength);
                }
                let n = parse_decimal(digits).ok_or(ParseError::InvalidContentLength)?;
                if common.is_some_and(|c| c != n) {
                    return Err(ParseError::DuplicateContentLength);
                }
                common = Some(n);
            }
            common.ok_or(ParseError::InvalidContentLength)?
        } else {
            parse_decimal(value).ok_or(ParseError::InvalidContentLength)?
        };
        match self.content_length {
            Some(prev) if !(allow_identical && prev == n) => {
                Err(ParseError::DuplicateContentLength)
            }
            _ => {
                self.content_length = Some(n);
                Ok(())
            }
        }
    }

    /// Records a `Transfer-Encoding` field value: `#transfer-coding`, where
    /// `transfer-coding = token *( OWS ";" OWS token BWS "=" BWS ( token / quoted-string ) )`.
    pub(crate) fn transfer_encoding(&mut self, value: &[u8]) -> Result<(), ParseError> {
        const INVALID: ParseError = ParseError::InvalidTransferEncoding;
        self.transfer_encoding = true;
        let mut s = value;
        let mut any = false;
        loop {
            s = trim_ows_start(s);
            match s.first() {
                None => break,
                // Empty list elements are ignored (RFC 9110 5.6.1).
                Some(b',') => {
                    s = &s[1..];
                    continue;
                }
                Some(_) => {}
            }
            let (coding, rest) = split_at_first(s, |b| !token(b));
            if coding.is_empty() {
                return Err(INVALID);
            }
            any = true;
            let chunked = eq_ignore_case(coding, b"chunked");
            s = trim_ows_start(rest);
            let mut has_params = false;
            while let Some((b';', rest)) = s.split_first() {
                has_params = true;
                let (name, rest) = split_at_first(trim_ows_start(rest), |b| !token(b));
                let rest = trim_ows_start(rest);
                if name.is_empty() || rest.first() != Some(&b'=') {
                    return Err(INVALID);
                }
                let rest = trim_ows_start(&rest[1..]);
                let rest = if rest.first() == Some(&b'"') {
                    skip_quoted_string(rest).ok_or(INVALID)?
                } else {
                    let (v, rest) = split_at_first(rest, |b| !token(b));
                    if v.is_empty() {
                        return Err(INVALID);
                    }
                    rest
                };
                s = trim_ows_start(rest);
            }
            match s.split_first() {
                None => {}
                Some((b',', rest)) => s = rest,
                Some(_) => return Err(INVALID),
            }
            if chunked {
                // chunked takes no parameters and is applied at most once (RFC 9112 7).
                if has_params {
                    return Err(INVALID);
                }
                if self.chunked_seen {
                    return Err(ParseError::ChunkedNotFinal);
                }
                self.chunked_seen = true;
                self.chunked_last = true;
            } else {
                if self.chunked_seen {
                    return Err(ParseError::ChunkedNotFinal);
                }
                self.chunked_last = false;
                self.other_coding = true;
            }
        }
        if any { Ok(()) } else { Err(INVALID) }
    }

    /// Decides the framing once the head is complete (RFC 9112 6.1 and 6.3).
    pub(crate) fn finish(&self, version: Version) -> Result<BodyFraming, ParseError> {
        if self.transfer_encoding {
            if version == Version::Http10 {
                return Err(ParseError::TransferEncodingInHttp10);
            }
            if self.content_length.is_some() {
                return Err(ParseError::ContentLengthWithTransferEncoding);
            }
            if !self.chunked_last {
                return Err(ParseError::ChunkedNotFinal);
            }
            if self.other_coding {
                return Err(ParseError::UnsupportedTransferCoding);
            }
            return Ok(BodyFraming::Chunked);
        }
        Ok(match self.content_length {
            Some(n) => BodyFraming::ContentLength(n),
            None => BodyFraming::None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn te(values: &[&str]) -> Result<BodyFraming, ParseError> {
        let mut f = FramingFields::default();
        for v in values {
            f.transfer_encoding(v.as_bytes())?;
        }
        f.finish(Version::Http11)
    }

    fn cl(values: &[&str], allow: bool) -> Result<BodyFraming, ParseError> {
        let mut f = FramingFields::default();
        for v in values {
            f.content_length(v.as_bytes(), allow)?;
        }
        f.finish(Version::Http11)
    }

    #[test]
    fn decimal() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"0012"), Some(12));
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_decimal(b"18446744073709551616"), None);
        for bad in [
            &b""[..],
            b"+1",
            b"-1",
            b" 1",
            b"1 ",
            b"0x1",
            b"1e3",
            b"\xd9\xa1",
        ] {
            assert_eq!(parse_decimal(bad), None);
        }
    }

    #[test]
    fn transfer_codings() {
        assert_eq!(te(&["chunked"]), Ok(BodyFraming::Chunked));
        assert_eq!(te(&["Chunked"]), Ok(BodyFraming::Chunked));
        assert_eq!(te(&[" , chunked ,"]), Ok(BodyFraming::Chunked));
        assert_eq!(
            te(&["gzip, chunked"]),
            Err(ParseError::UnsupportedTransferCoding)
        );
        assert_eq!(
            te(&["gzip", "chunked"]),
            Err(ParseError::UnsupportedTransferCoding)
        );
        assert_eq!(
            te(&["gzip;level=\"a,b\", chunked"]),
            Err(ParseError::UnsupportedTransferCoding)
        );
        assert_eq!(te(&["chunked, gzip"]), Err(ParseError::ChunkedNotFinal));
        assert_eq!(te(&["gzip"]), Err(ParseError::ChunkedNotFinal));
        assert_eq!(
            te(&["chunked", "chunked"]),
            Err(ParseError::ChunkedNotFinal)
        );
        assert_eq!(te(&["chunked, chunked"]), Err(ParseError::ChunkedNotFinal));
        for bad in [
            "",
            " ",
            ",",
            "chunked;a=b",
            "chunk ed",
            "\"chunked\"",
            "chunked;",
            "x;a=",
            "x;a=\"b",
        ] {
            assert_eq!(
                te(&[bad]),
                Err(ParseError::InvalidTransferEncoding),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn content_lengths() {
        assert_eq!(cl(&["42"], false), Ok(BodyFraming::ContentLength(42)));
        assert_eq!(
            cl(&["42", "42"], false),
            Err(ParseError::DuplicateContentLength)
        );
        assert_eq!(cl(&["42", "42"], true), Ok(BodyFraming::ContentLength(42)));
        assert_eq!(
            cl(&["42", "43"], true),
            Err(ParseError::DuplicateContentLength)
        );
        assert_eq!(cl(&["42, 42"], true), Ok(BodyFraming::ContentLength(42)));
        assert_eq!(
            cl(&["42, 43"], true),
            Err(ParseError::DuplicateContentLength)
        );
        assert_eq!(
            cl(&["42, 42"], false),
            Err(ParseError::InvalidContentLength)
        );
        assert_eq!(cl(&["42,"], true), Err(ParseError::InvalidContentLength));
        assert_eq!(cl(&["4 2"], true), Err(ParseError::InvalidContentLength));
    }

    #[test]
    fn both_and_http10() {
        let mut f = FramingFields::default();
        f.transfer_encoding(b"chunked").unwrap();
        assert_eq!(
            f.finish(Version::Http10),
            Err(ParseError::TransferEncodingInHttp10)
        );
        f.content_length(b"1", false).unwrap();
        assert_eq!(
            f.finish(Version::Http11),
            Err(ParseError::ContentLengthWithTransferEncoding)
        );
    }
}
