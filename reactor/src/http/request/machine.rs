//! The incremental state machine: every request head, however it is split, goes through it
//! (a fresh, whole head usually only past the lines the fast path declines).

use super::{RequestParser, State, classify_target};
use crate::http::chars::{C_CR, ows};
use crate::http::headers::RawHeader;
use crate::http::simd::Scanner;
use crate::http::{ParseError, Version};

impl RequestParser {
    /// The state machine, with the scanners `scan`. Returns whether the head is complete.
    #[inline(always)]
    pub(super) fn run<S: Scanner>(
        &mut self,
        scan: S,
        buf: &[u8],
        headers: &mut [RawHeader],
    ) -> Result<bool, ParseError> {
        use ParseError::*;
        let len = buf.len();
        let limits = self.config.limits;
        let lf_ok = self.config.allow_lf_line_endings;
        let max_line = limits.max_request_line as usize;
        let max_fields = (limits.max_headers as usize).min(headers.len());
        let max_field_bytes = limits.max_header_bytes as usize;
        let mut pos = self.pos;
        let mut mark = self.mark;
        let mut state = self.state;

        macro_rules! partial {
            () => {{
                self.quick_last = 0;
                partial!(@save)
            }};
            (@save) => {{
                self.pos = pos;
                self.mark = mark;
                self.set_quick_state(state);
                return Ok(false);
            }};
        }
        // The bytes at `pos` end a line: their length, or an error, or a partial return.
        macro_rules! line_ending {
            ($other:expr) => {
                match buf[pos] {
                    b'\r' => match buf.get(pos + 1) {
                        Some(b'\n') => 2,
                        Some(_) => return Err(BareCr),
                        None => partial!(),
                    },
                    b'\n' if lf_ok => 1,
                    b'\n' => return Err(BareLf),
                    _ => return Err($other),
                }
            };
        }
        // The scanning end for the current element: the end of the buffer or the limit,
        // whichever comes first; reaching the limit means the element is too long.
        macro_rules! scan_end {
            ($start:expr, $max:expr, $err:expr) => {{
                let limit = $start.saturating_add($max);
                (len.min(limit), limit, $err)
            }};
        }
        macro_rules! at_end {
            ($end:expr) => {{
                let (end, limit, err) = $end;
                if pos == end {
                    if end == limit {
                        return Err(err);
                    }
                    self.set_scan_limit(limit);
                    partial!(@save);
                }
            }};
        }

        // The states run in order; each block falls through to the next, and a resumed call
        // enters at the block it stopped in. (Straight-line blocks instead of a `match` in a
        // loop: the compiler threads the `state` tests away, so a whole head in one buffer
        // runs without dispatch.)
        if matches!(state, State::Start) {
            loop {
                if pos >= len {
                    partial!();
                }
                if buf[pos] != b'\r' && buf[pos] != b'\n' {
                    break;
                }
                pos += line_ending!(InvalidMethod);
                self.empty_lines += 1;
                if self.empty_lines > limits.max_empty_lines {
                    return Err(TooManyEmptyLines);
                }
            }
            mark = pos;
            self.line_start = pos;
            state = State::Method;
        }
        if matches!(state, State::Method) {
            let end = scan_end!(self.line_start, max_line, RequestLineTooLong);
            if pos == mark && end.0 >= pos + 4 && buf[pos..pos + 4] == *b"GET " {
                self.head.method = (pos, pos + 3);
                pos += 4;
            } else {
                pos = scan.token_end(buf, pos, end.0);
                at_end!(end);
                if buf[pos] != b' ' || pos == mark {
                    return Err(InvalidMethod);
                }
                self.head.method = (mark, pos);
                pos += 1;
            }
            mark = pos;
            state = State::Target;
        }
        if matches!(state, State::Target) {
            let end = scan_end!(self.line_start, max_line, RequestLineTooLong);
            pos = scan.target_end(buf, pos, end.0);
            at_end!(end);
            if buf[pos] != b' ' || pos == mark {
                return Err(InvalidTarget);
            }
            self.head.target = (mark, pos);
            pos += 1;
            mark = pos;
            state = State::Version;
        }
        if matches!(state, State::Version) {
            // The quick path may have taken some of the version's bytes unexamined.
            pos = mark;
            let version;
            let line_end = pos + 8;
            if len >= pos + 10 && buf[pos..pos + 10] == *b"HTTP/1.1\r\n" {
                version = Version::Http11;
                pos += 10;
            } else {
                let Some(v) = buf.get(pos..pos + 8) else {
                    // Nothing is decided before 8 bytes: the quick path takes the bytes until
                    // then (the request-line limit is checked once the version is there).
                    self.set_scan_limit(pos + 8);
                    partial!(@save)
                };
                if v[..5] != *b"HTTP/"
                    || !v[5].is_ascii_digit()
                    || v[6] != b'.'
                    || !v[7].is_ascii_digit()
                {
                    return Err(InvalidVersion);
                }
                let (major, minor) = (v[5], v[7]);
                let Some(&eol_byte) = buf.get(pos + 8) else {
                    // The version is checked: the quick path may take a CR after it (and
                    // nothing else); the line is complete here, with its LF.
                    self.set_scan_limit(pos + 10);
                    self.pos = pos + 8;
                    self.mark = mark;
                    self.state = state;
                    self.quick_class = C_CR;
                    return Ok(false);
                };
                let eol = match eol_byte {
                    b'\r' => match buf.get(pos + 9) {
                        Some(b'\n') => 2,
                        Some(_) => return Err(BareCr),
                        None => partial!(),
                    },
                    b'\n' if lf_ok => 1,
                    b'\n' => return Err(BareLf),
                    _ => return Err(InvalidVersion),
                };
                version = match (major, minor) {
                    (b'1', b'0') => Version::Http10,
                    // RFC 9110 6.2: a higher minor version of a major version we implement
                    // is processed as the highest minor we conform to (HTTP/1.2 as 1.1).
                    (b'1', _) => Version::Http11,
                    _ => return Err(UnsupportedVersion),
                };
                pos += 8 + eol;
            }
            if line_end - self.line_start > max_line {
                return Err(RequestLineTooLong);
            }
            self.head.version = version;
            self.head.target_form = classify_target(
                &buf[self.head.method.0..self.head.method.1],
                &buf[self.head.target.0..self.head.target.1],
                self.config.allow_absolute_form,
            )?;
            self.headers_start = pos;
            state = State::LineStart;
        }
        // Within the header section, everything is bounded by the same limit.
        // Header offsets are stored as u32 (RawHeader): the section never reaches 4 GiB.
        let field_limit = self
            .headers_start
            .saturating_add(max_field_bytes)
            .min(u32::MAX as usize);
        let field_end = len.min(field_limit);
        // Lines end before `field_end`; only when that is the limit can a line ending (CRLF
        // after the last byte scanned) go past it.
        let near_limit = field_end + 1 >= field_limit;
        loop {
            if matches!(state, State::LineStart) {
                // Fast path: a whole, ordinary field line ending in CRLF is taken in one go.
                // Anything else (incomplete, over a limit, malformed, the end of the head)
                // goes through the byte-by-byte states below, which give the verdict.
                if self.header_count < max_fields
                    && let Some(line) = scan.field_line(buf, pos, field_end)
                {
                    let stop = line.stop();
                    if line.ends_in_crlf()
                        && (!near_limit || stop + 2 - self.headers_start <= max_field_bytes)
                    {
                        // The name and the value without the whitespace around it.
                        let field = line.field();
                        let Some(slot) = headers.get_mut(self.header_count) else {
                            return Err(TooManyHeaders);
                        };
                        *slot = RawHeader::new(field.name_span, field.value_span);
                        self.header_count += 1;
                        self.fields.on_field(
                            field.name,
                            field.value,
                            self.config.allow_identical_content_lengths,
                        )?;
                        pos = stop + 2;
                        continue;
                    }
                }
                if pos >= len {
                    // Resumable by `quick_resume` (at the start of a field line).
                    self.set_scan_limit(field_limit);
                    partial!(@save);
                }
                match buf[pos] {
                    b'\r' | b'\n' => {
                        pos += line_ending!(InvalidHeaderName);
                        return self.finish(pos);
                    }
                    b' ' | b'\t' => return Err(ObsoleteLineFolding),
                    _ => {}
                }
                if self.header_count >= max_fields {
                    return Err(TooManyHeaders);
                }
                mark = pos;
                state = State::Name;
            }
            if matches!(state, State::Name) {
                let end = (field_end, field_limit, HeadersTooLarge);
                pos = scan.token_end(buf, pos, end.0);
                at_end!(end);
                match buf[pos] {
                    b':' if pos > mark => {}
                    b' ' | b'\t' if pos > mark => return Err(WhitespaceBeforeColon),
                    _ => return Err(InvalidHeaderName),
                }
                self.name = (mark, pos);
                pos += 1;
                state = State::ValueStart;
            }
            if matches!(state, State::ValueStart) {
                let end = (field_end, field_limit, HeadersTooLarge);
                while pos < end.0 && ows(buf[pos]) {
                    pos += 1;
                }
                at_end!(end);
                mark = pos;
                state = State::Value;
            }
            if !matches!(state, State::Value) {
                // Only Done and Failed are left, and `parse` does not call `run` in those.
                return match state {
                    State::Failed => Err(self.failure),
                    _ => Ok(true),
                };
            }
            let end = (field_end, field_limit, HeadersTooLarge);
            pos = scan.value_end(buf, pos, end.0);
            at_end!(end);
            let eol = line_ending!(InvalidHeaderValue);
            let mut value_end = pos;
            while value_end > mark && ows(buf[value_end - 1]) {
                value_end -= 1;
            }
            if pos + eol - self.headers_start > max_field_bytes {
                return Err(HeadersTooLarge);
            }
            let Some(slot) = headers.get_mut(self.header_count) else {
                return Err(TooManyHeaders);
            };
            *slot = RawHeader::new(self.name, (mark, value_end));
            self.header_count += 1;
            self.fields.on_field(
                &buf[self.name.0..self.name.1],
                &buf[mark..value_end],
                self.config.allow_identical_content_lengths,
            )?;
            pos += eol;
            state = State::LineStart;
        }
    }
}
