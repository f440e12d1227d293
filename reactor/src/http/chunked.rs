//! The chunked transfer coding (RFC 9112 section 7.1), decoded incrementally and in place.

use super::chars::{token, value_byte};
use super::{ParseError, ParserConfig};

/// Where the decoder stopped. Framing is decoded a byte at a time (it is a few bytes per
/// chunk); data is handed out as slices of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// In the chunk size; `digits` hex digits read so far.
    Size,
    /// Whitespace after the size or an extension: only more whitespace or `;` may follow.
    Bws,
    /// After `;`: whitespace, then an extension name.
    ExtNameStart,
    /// In an extension name.
    ExtName,
    /// Whitespace after an extension name: `=` or `;` must follow.
    ExtNameBws,
    /// After `=`: whitespace, then a token or a quoted string.
    ExtValueStart,
    /// In a token extension value.
    ExtToken,
    /// In a quoted extension value.
    ExtQuoted,
    /// After a backslash in a quoted extension value.
    ExtQuotedEscape,
    /// After a complete extension (or the size): `;`, whitespace or the line ending.
    ExtEnd,
    /// After the CR ending a chunk-size line.
    SizeLf,
    /// In chunk data; `remaining` bytes to go.
    Data,
    /// After chunk data: CR expected.
    DataCr,
    /// After chunk data and CR: LF expected.
    DataLf,
    /// At the start of a trailer line or of the final empty line.
    TrailerStart,
    /// In a trailer field name.
    TrailerName,
    /// In a trailer field value (or the whitespace before it).
    TrailerValue,
    /// After the CR ending a trailer line.
    TrailerLf,
    /// After the CR of the final empty line.
    EndLf,
    /// The body is complete.
    Done,
    /// Decoding failed; the error is sticky.
    Failed(ParseError),
}

/// What one call to [`ChunkedDecoder::decode`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// How many bytes of the input were used; drop them from the buffer. Framing bytes are
    /// consumed as they are read, so a call never needs to see them again.
    pub consumed: usize,
    /// Body bytes decoded by this call: a slice of the input (possibly empty). At most one
    /// slice per call; call again with the rest of the input.
    pub data: &'a [u8],
    /// The last chunk and the trailer section have been read: the body is complete and the
    /// input after `consumed` belongs to the next request.
    pub done: bool,
}

/// An incremental decoder for a chunked request body.
///
/// It reads chunk sizes (hexadecimal, no sign or prefix, overflow rejected), skips chunk
/// extensions after checking their grammar, requires CRLF after each chunk's data, and checks
/// the trailer section with the same rules as header fields (the trailer fields are then
/// discarded, which RFC 9110 6.5.1 allows). The state survives between calls, so input can be
/// split anywhere, and the work is linear in the size of the body.
///
/// ```
/// use reactor::http::ChunkedDecoder;
///
/// let mut decoder = ChunkedDecoder::new();
/// let mut input: &[u8] = b"5\r\nhello\r\n6;name=value\r\n world\r\n0\r\nExpires: never\r\n\r\nNEXT";
/// let mut body = Vec::new();
/// loop {
///     let step = decoder.decode(input).unwrap();
///     body.extend_from_slice(step.data);
///     input = &input[step.consumed..];
///     if step.done {
///         break;
///     }
/// }
/// assert_eq!(body, b"hello world");
/// assert_eq!(input, b"NEXT");
/// ```
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// The chunk size being read, then the data bytes left in the chunk.
    remaining: u64,
    digits: u32,
    line_len: u32,
    trailer_fields: u32,
    trailer_bytes: u32,
    total: u64,
    lf_ok: bool,
    max_line: u32,
    max_trailer_fields: u32,
    max_trailer_bytes: u32,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    /// A decoder with the strict default configuration.
    pub const fn new() -> Self {
        Self::with_config(&ParserConfig::DEFAULT)
    }

    /// A decoder with the limits and line-ending policy of `config`: chunk-size lines up to
    /// `max_chunk_size_line`, trailers within `max_headers` and `max_header_bytes`.
    pub const fn with_config(config: &ParserConfig) -> Self {
        Self {
            state: State::Size,
            remaining: 0,
            digits: 0,
            line_len: 0,
            trailer_fields: 0,
            trailer_bytes: 0,
            total: 0,
            lf_ok: config.allow_lf_line_endings,
            max_line: config.limits.max_chunk_size_line,
            max_trailer_fields: config.limits.max_headers,
            max_trailer_bytes: config.limits.max_header_bytes,
        }
    }

    /// Whether the whole body has been decoded.
    pub const fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Body bytes announced by the chunk sizes read so far.
    pub const fn body_len(&self) -> u64 {
        self.total
    }

    /// Decodes from the start of `input`, which continues where the previous call's
    /// `consumed` ended. Returns at most one slice of body data per call; call again with the
    /// unconsumed rest. With nothing left to do for this input, `consumed == input.len()`
    /// and `data` is empty: read more. Errors are sticky.
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<Decoded<'a>, ParseError> {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                State::Data => {
                    let avail = input.len() - i;
                    let n = if self.remaining < avail as u64 {
                        self.remaining as usize
                    } else {
                        avail
                    };
                    self.remaining -= n as u64;
                    if self.remaining == 0 {
                        self.state = State::DataCr;
                    }
                    return Ok(Decoded {
                        consumed: i + n,
                        data: &input[i..i + n],
                        done: false,
                    });
                }
                State::Done => break,
                State::Failed(e) => return Err(e),
                _ => {
                    if let Err(e) = self.step(input[i]) {
                        self.state = State::Failed(e);
                        return Err(e);
                    }
                    i += 1;
                }
            }
        }
        if let State::Failed(e) = self.state {
            return Err(e);
        }
        Ok(Decoded {
            consumed: i,
            data: &[],
            done: self.is_done(),
        })
    }

    /// Consumes one framing byte.
    fn step(&mut self, b: u8) -> Result<(), ParseError> {
        use ParseError::*;
        use State::*;
        let size_line = matches!(
            self.state,
            Size | Bws
                | ExtNameStart
                | ExtName
                | ExtNameBws
                | ExtValueStart
                | ExtToken
                | ExtQuoted
                | ExtQuotedEscape
                | ExtEnd
        );
        if size_line && b != b'\r' && b != b'\n' {
            self.line_len += 1;
            if self.line_len > self.max_line {
                return Err(if self.state == Size {
                    InvalidChunkSize
                } else {
                    InvalidChunkExtension
                });
            }
        }
        let in_trailer = matches!(self.state, TrailerName | TrailerValue | TrailerLf)
            || (self.state == TrailerStart && b != b'\r' && b != b'\n');
        if in_trailer {
            self.trailer_bytes += 1;
            if self.trailer_bytes > self.max_trailer_bytes {
                return Err(TrailersTooLarge);
            }
        }
        self.state = match (self.state, b) {
            (Size, b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F') => {
                let digit = (b as char).to_digit(16).unwrap_or(0);
                if self.remaining > u64::MAX >> 4 {
                    return Err(InvalidChunkSize);
                }
                self.remaining = self.remaining << 4 | u64::from(digit);
                self.digits += 1;
                Size
            }
            (Size, _) if self.digits == 0 => return Err(InvalidChunkSize),
            (Size | ExtEnd | ExtToken, b'\r') => SizeLf,
            (Size | ExtEnd | ExtToken, b'\n') => return self.size_line_done(),
            (Size | ExtEnd | ExtToken | Bws, b' ' | b'\t') => Bws,
            (Size | ExtEnd | ExtToken | Bws | ExtName | ExtNameBws, b';') => ExtNameStart,
            (Size, _) => return Err(InvalidChunkSize),
            (ExtNameStart, b' ' | b'\t') => ExtNameStart,
            (ExtNameStart | ExtName, _) if token(b) => ExtName,
            (ExtName, b'\r') => SizeLf,
            (ExtName, b'\n') => return self.size_line_done(),
            (ExtName | ExtNameBws, b' ' | b'\t') => ExtNameBws,
            (ExtName | ExtNameBws, b'=') => ExtValueStart,
            (ExtValueStart, b' ' | b'\t') => ExtValueStart,
            (ExtValueStart, b'"') => ExtQuoted,
            (ExtValueStart | ExtToken, _) if token(b) => ExtToken,
            (ExtQuoted, b'"') => ExtEnd,
            (ExtQuoted, b'\\') => ExtQuotedEscape,
            (ExtQuoted, b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff) => ExtQuoted,
            (ExtQuotedEscape, _) if value_byte(b) => ExtQuoted,
            (
                Bws | ExtNameStart | ExtName | ExtNameBws | ExtValueStart | ExtToken | ExtQuoted
                | ExtQuotedEscape | ExtEnd,
                _,
            ) => return Err(InvalidChunkExtension),
            (SizeLf, b'\n') => return self.size_line_done(),
            (SizeLf, _) => return Err(BareCr),
            (DataCr, b'\r') => DataLf,
            (DataCr, b'\n') if self.lf_ok => self.next_chunk(),
            (DataLf, b'\n') => self.next_chunk(),
            (DataCr | DataLf, _) => return Err(MissingChunkDelimiter),
            (TrailerStart, b'\r') => EndLf,
            (TrailerStart, b'\n') if self.lf_ok => Done,
            (TrailerValue, b'\n') if self.lf_ok => TrailerStart,
            (TrailerStart | TrailerValue, b'\n') => return Err(BareLf),
            (TrailerStart, b' ' | b'\t') => return Err(ObsoleteLineFolding),
            (TrailerStart, _) if token(b) => {
                self.trailer_fields += 1;
                if self.trailer_fields > self.max_trailer_fields {
                    return Err(TrailersTooLarge);
                }
                TrailerName
            }
            (TrailerStart, _) => return Err(InvalidHeaderName),
            (TrailerName, b':') => TrailerValue,
            (TrailerName, b' ' | b'\t') => return Err(WhitespaceBeforeColon),
            (TrailerName, _) if token(b) => TrailerName,
            (TrailerName, _) => return Err(InvalidHeaderName),
            (TrailerValue, b'\r') => TrailerLf,
            (TrailerValue, _) if value_byte(b) => TrailerValue,
            (TrailerValue, _) => return Err(InvalidHeaderValue),
            (TrailerLf, b'\n') => TrailerStart,
            (EndLf, b'\n') => Done,
            (TrailerLf | EndLf, _) => return Err(BareCr),
            (Data | Done | Failed(_), _) => self.state,
        };
        Ok(())
    }

    /// The chunk-size line ended (after LF; a bare LF only when allowed).
    fn size_line_done(&mut self) -> Result<(), ParseError> {
        if self.state != State::SizeLf && !self.lf_ok {
            return Err(ParseError::BareLf);
        }
        self.total = self
            .total
            .checked_add(self.remaining)
            .ok_or(ParseError::InvalidChunkSize)?;
        self.state = if self.remaining == 0 {
            State::TrailerStart
        } else {
            State::Data
        };
        Ok(())
    }

    fn next_chunk(&mut self) -> State {
        self.remaining = 0;
        self.digits = 0;
        self.line_len = 0;
        State::Size
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// Decodes `input` fed in pieces of `step` bytes; returns the body and the bytes left.
    fn decode_in(
        mut decoder: ChunkedDecoder,
        input: &[u8],
        step: usize,
    ) -> Result<(Vec<u8>, usize), ParseError> {
        let mut body = Vec::new();
        let mut buffered: Vec<u8> = Vec::new();
        let mut fed = 0;
        loop {
            let d = decoder.decode(&buffered)?;
            body.extend_from_slice(d.data);
            let (consumed, progressed, done) =
                (d.consumed, d.consumed > 0 || !d.data.is_empty(), d.done);
            buffered.drain(..consumed);
            if done {
                return Ok((body, buffered.len() + input.len() - fed));
            }
            if !progressed || buffered.is_empty() {
                if fed == input.len() {
                    return Err(ParseError::ResumeMismatch); // stands for "incomplete"
                }
                let next = (fed + step).min(input.len());
                buffered.extend_from_slice(&input[fed..next]);
                fed = next;
            }
        }
    }

    fn decode(input: &[u8]) -> Result<(Vec<u8>, usize), ParseError> {
        let whole = decode_in(ChunkedDecoder::new(), input, input.len().max(1));
        for step in [1, 2, 3, 7] {
            assert_eq!(
                decode_in(ChunkedDecoder::new(), input, step),
                whole,
                "step {step}"
            );
        }
        whole
    }

    const INCOMPLETE: ParseError = ParseError::ResumeMismatch;

    #[test]
    fn decodes_chunks_and_leaves_the_rest() {
        let (body, rest) =
            decode(b"4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\nGET").unwrap();
        assert_eq!(body, b"Wikipedia in\r\n\r\nchunks.");
        assert_eq!(rest, 3);
        assert_eq!(decode(b"0\r\n\r\n").unwrap(), (Vec::new(), 0));
        assert_eq!(
            decode(b"000A\r\n0123456789\r\n0\r\n\r\n").unwrap().0,
            b"0123456789"
        );
        assert_eq!(decode(b"1\r\nx\r\n0\r\n\r"), Err(INCOMPLETE));
    }

    #[test]
    fn chunk_sizes_are_plain_hex_without_overflow() {
        assert_eq!(decode(b"ffffffffffffffff\r\n"), Err(INCOMPLETE));
        for bad in [
            &b"10000000000000000\r\n"[..],
            b"0x5\r\n",
            b"+5\r\n",
            b"-5\r\n",
            b"\r\n",
            b" 5\r\n",
            b"g\r\n",
        ] {
            assert_eq!(decode(bad), Err(ParseError::InvalidChunkSize), "{bad:?}");
        }
        let mut d = ChunkedDecoder::new();
        let long = [b'0'; 5000];
        assert_eq!(d.decode(&long), Err(ParseError::InvalidChunkSize));
    }

    #[test]
    fn extensions_are_checked_and_skipped() {
        for ok in [
            &b"3;a\r\nabc\r\n0\r\n\r\n"[..],
            b"3;a=b\r\nabc\r\n0\r\n\r\n",
            b"3 ; a = \"q\\\"uo;ted\" ;b\r\nabc\r\n0;last\r\n\r\n",
            b"3\t;a=b\r\nabc\r\n0\r\n\r\n".as_slice(),
        ] {
            assert_eq!(
                decode(ok).unwrap().0,
                b"abc",
                "{:?}",
                core::str::from_utf8(ok)
            );
        }
        for bad in [
            &b"3;\r\nabc\r\n"[..],
            b"3 \r\nabc\r\n",
            b"3;a=\r\nabc\r\n",
            b"3;a b\r\nabc\r\n",
            b"3;a=\"x\r\nabc\r\n",
            b"3;a=\"x\"y\r\nabc\r\n",
            b"3;a=\x01\r\nabc\r\n",
            b"3;a=\"\x00\"\r\nabc\r\n",
            b"3;a=b c\r\nabc\r\n",
            b"3;a=b \r\nabc\r\n",
        ] {
            assert_eq!(
                decode(bad),
                Err(ParseError::InvalidChunkExtension),
                "{:?}",
                core::str::from_utf8(bad)
            );
        }
        let mut line = Vec::from(&b"1;a="[..]);
        line.resize(5000, b'x');
        assert_eq!(
            ChunkedDecoder::new().decode(&line),
            Err(ParseError::InvalidChunkExtension)
        );
    }

    #[test]
    fn line_endings_are_crlf() {
        assert_eq!(decode(b"3\nabc\r\n0\r\n\r\n"), Err(ParseError::BareLf));
        assert_eq!(decode(b"3;a\nabc\r\n"), Err(ParseError::BareLf));
        assert_eq!(decode(b"3\rabc"), Err(ParseError::BareCr));
        assert_eq!(
            decode(b"3\r\nabcd\r\n"),
            Err(ParseError::MissingChunkDelimiter)
        );
        assert_eq!(
            decode(b"3\r\nabc\n0\r\n\r\n"),
            Err(ParseError::MissingChunkDelimiter)
        );
        assert_eq!(
            decode(b"3\r\nabc\rx"),
            Err(ParseError::MissingChunkDelimiter)
        );
        assert_eq!(decode(b"0\r\n\n"), Err(ParseError::BareLf));
        let lf = ParserConfig {
            allow_lf_line_endings: true,
            ..ParserConfig::DEFAULT
        };
        let r = decode_in(ChunkedDecoder::with_config(&lf), b"3\nabc\n0\nA: b\n\n", 1);
        assert_eq!(r, Ok((b"abc".to_vec(), 0)));
    }

    #[test]
    fn trailers_follow_the_header_rules() {
        assert_eq!(
            decode(b"0\r\nA: b\r\nC-D:\te\t\r\n\r\nX").unwrap(),
            (Vec::new(), 1)
        );
        assert_eq!(
            decode(b"0\r\n b\r\n\r\n"),
            Err(ParseError::ObsoleteLineFolding)
        );
        assert_eq!(
            decode(b"0\r\nA : b\r\n\r\n"),
            Err(ParseError::WhitespaceBeforeColon)
        );
        assert_eq!(
            decode(b"0\r\n: b\r\n\r\n"),
            Err(ParseError::InvalidHeaderName)
        );
        assert_eq!(
            decode(b"0\r\nA(: b\r\n\r\n"),
            Err(ParseError::InvalidHeaderName)
        );
        assert_eq!(
            decode(b"0\r\nA: b\x00\r\n\r\n"),
            Err(ParseError::InvalidHeaderValue)
        );
        assert_eq!(decode(b"0\r\nA: b\rc\r\n\r\n"), Err(ParseError::BareCr));
        assert_eq!(decode(b"0\r\nA: b\nc\r\n\r\n"), Err(ParseError::BareLf));
        let small = ParserConfig {
            limits: super::super::Limits {
                max_headers: 1,
                max_header_bytes: 10,
                ..Default::default()
            },
            ..ParserConfig::DEFAULT
        };
        let r = decode_in(
            ChunkedDecoder::with_config(&small),
            b"0\r\nA: b\r\nC: d\r\n\r\n",
            100,
        );
        assert_eq!(r, Err(ParseError::TrailersTooLarge));
        let r = decode_in(
            ChunkedDecoder::with_config(&small),
            b"0\r\nA: bcdefghij\r\n\r\n",
            100,
        );
        assert_eq!(r, Err(ParseError::TrailersTooLarge));
    }

    #[test]
    fn errors_are_sticky_and_sizes_add_up() {
        let mut d = ChunkedDecoder::new();
        assert_eq!(d.decode(b"x"), Err(ParseError::InvalidChunkSize));
        assert_eq!(d.decode(b"0\r\n\r\n"), Err(ParseError::InvalidChunkSize));
        let mut d = ChunkedDecoder::new();
        let step = d.decode(b"10\r\nabc").unwrap();
        assert_eq!(
            (step.consumed, step.data, step.done),
            (7, &b"abc"[..], false)
        );
        assert_eq!(d.body_len(), 16);
    }
}
