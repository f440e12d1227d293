//! The fast path of a fresh parse: an ordinary request line and whole, ordinary field lines
//! ending in CRLF, in one pass with no state dispatch.

use super::{RequestParser, State, classify_target};
use crate::http::headers::{FieldState, HostHint, RawHeader};
use crate::http::simd::{FieldLine, Scanner, word_at};
use crate::http::{ParseError, TargetForm, Version};

const HTTP_11: u64 = u64::from_le_bytes(*b"HTTP/1.1");
/// `host: ` in the low six bytes.
const HOST_FIELD: u64 = u64::from_le_bytes(*b"host: \0\0");
const HTTP_10: u64 = u64::from_le_bytes(*b"HTTP/1.0");

impl RequestParser {
    /// The fast path for a fresh parse: an ordinary request line and whole, ordinary field
    /// lines ending in CRLF, in one pass with no state dispatch. Returns the final answer
    /// (complete, or an error that the general path would report at the same point), or
    /// `None` to let the general path go on from what was saved: nothing when the request line
    /// was not ordinary, or the field lines taken so far (`State::LineStart`). Everything
    /// unusual (an incomplete head, a limit reached, bare LF, malformed input) goes to the
    /// general path, which gives the verdict.
    #[inline(always)]
    pub(super) fn fast_head<S: Scanner>(
        &mut self,
        scan: S,
        buf: &[u8],
        headers: &mut [RawHeader],
    ) -> Option<Result<bool, ParseError>> {
        let len = buf.len();
        let limits = self.config.limits;
        let max_line = limits.max_request_line as usize;
        let (method_end, target_end) = scan.request_line(buf, max_line)?;
        // The general path checks the line's length at the end of the version (8 bytes).
        if target_end + 9 > max_line {
            return None;
        }
        let version_at = target_end + 1;
        // One 8-byte and one 2-byte compare instead of a byte-by-byte match.
        let v = buf.get(version_at..version_at + 10)?;
        let (name, eol) = v.split_at(8);
        if eol != b"\r\n" {
            return None;
        }
        let version = match u64::from_le_bytes(name.try_into().ok()?) {
            HTTP_11 => Version::Http11,
            HTTP_10 => Version::Http10,
            _ => return None,
        };
        let target = (method_end + 1, target_end);
        let target_form = if buf[target.0] == b'/' && method_end != 7 {
            // Origin form, and the method is not CONNECT (the only 7-byte method that
            // changes the verdict).
            TargetForm::Origin
        } else {
            match classify_target(
                &buf[..method_end],
                &buf[target.0..target.1],
                self.config.allow_absolute_form,
            ) {
                Ok(form) => form,
                Err(e) => return Some(Err(e)),
            }
        };
        self.head.method = (0, method_end);
        self.head.target = target;
        self.head.version = version;
        self.head.target_form = target_form;
        let headers_start = version_at + 10;
        self.headers_start = headers_start;

        let max_fields = (limits.max_headers as usize).min(headers.len());
        // The general path's bounds: lines are scanned up to `field_end`, and a line with its
        // CRLF must end by `field_limit`. A line taken here has `stop + 1 < field_end`, which
        // keeps its CRLF inside the buffer and inside the limit.
        let field_limit = headers_start
            .saturating_add(limits.max_header_bytes as usize)
            .min(u32::MAX as usize);
        let field_end = len.min(field_limit);
        let allow_identical = self.config.allow_identical_content_lengths;
        let mut pos = headers_start;
        // The slots left to fill: a pointer and an end, one register fewer than an index, its
        // bound and the slice.
        let mut slots = headers.get_mut(..max_fields)?.iter_mut();
        // A user agent should send Host as the first field (RFC 9110 7.2): an ordinary
        // `Host: value` line there is taken without the name scan and the name dispatch.
        // Anything else about it (more whitespace, an empty value, no CRLF, a limit) is left
        // to the loop below.
        // A line that ends inside the limit is at least 9 bytes long.
        let host_word = match slots.len() {
            0 => None,
            _ => word_at(buf, pos, field_end),
        };
        if let Some(w) = host_word {
            // Bytes 0-3 fold to "host" only from "host" in any case; 4-5 must be ": " (the
            // shift drops bytes 6 and 7).
            if (w | 0x2020_2020) << 16 == HOST_FIELD << 16 {
                let value_start = pos + 6;
                let stop = scan.value_end(buf, value_start, field_end);
                // The value and its CRLF, inside the limit; its first and last bytes are not
                // whitespace (an empty value is left to the loop).
                let value = FieldLine::host_value(buf, pos, stop, field_end);
                // `slots.len() > 0`: `next` gives a slot.
                if let Some((value, slot)) = value.and_then(|v| Some((v, slots.next()?))) {
                    let hint = SpanHint(scan, buf, value_start, stop);
                    if let Err(e) = self.fields.on_host(value, hint) {
                        return Some(Err(e));
                    }
                    *slot = RawHeader::new((pos, pos + 4), (value_start, stop));
                    pos = stop + 2;
                }
            }
        }
        'lines: loop {
            // AVX2: one loop takes the ordinary lines (`field_lines`, in `simd/`), those
            // whose fields the parser checks without a call; the rest of this loop takes the
            // line it left the usual way, and comes back.
            if S::WIDE {
                let fields = &mut self.fields;
                let taken = scan.field_lines(
                    buf,
                    pos,
                    field_end,
                    &mut slots,
                    #[inline(always)]
                    |name, value| {
                        // Only four names mean something to the parser; their lengths sort
                        // out the rest.
                        !FieldState::may_matter(name.len()) || fields.on_plain_field(name, value)
                    },
                );
                pos = taken.pos;
                if taken.head_ended {
                    self.header_count = max_fields - slots.len();
                    return Some(self.finish(pos));
                }
            }
            let line = {
                // A name never starts with CR. The narrow scanners look for the empty line
                // first, before a field line scan's set-up; for AVX2, which classifies a whole
                // line at once, it is among the lines `field_line` declines and looked for
                // only then, unless fewer than 32 bytes are left (the usual end of a head,
                // where `field_line` would shift a vector to decline it).
                if S::WIDE && pos + 32 > field_end && buf.get(pos..pos + 2) == Some(b"\r\n") {
                    self.header_count = max_fields - slots.len();
                    return Some(self.finish(pos + 2));
                }
                if !S::WIDE && buf.get(pos) == Some(&b'\r') {
                    if buf.get(pos + 1) == Some(&b'\n') {
                        self.header_count = max_fields - slots.len();
                        return Some(self.finish(pos + 2));
                    }
                    break 'lines;
                }
                // A line with room for its LF before `field_end`: inside the buffer and the
                // limit.
                let Some(line) = scan.field_line(buf, pos, field_end) else {
                    if S::WIDE && buf.get(pos..pos + 2) == Some(b"\r\n") {
                        self.header_count = max_fields - slots.len();
                        return Some(self.finish(pos + 2));
                    }
                    break 'lines;
                };
                if !line.ends_in_crlf() {
                    break 'lines;
                }
                line
            };
            // `buf[stop..stop + 2]` is CRLF. No slot left: the general path reports it.
            if slots.len() == 0 {
                break 'lines;
            }
            let field = line.field();
            let (value_start, value_end) = field.value_span;
            // Only four names mean something to the parser; their lengths sort out the rest.
            if FieldState::may_matter(field.name.len()) {
                let hint = SpanHint(scan, buf, value_start, value_end);
                if let Err(e) =
                    self.fields
                        .on_field_with(field.name, field.value, allow_identical, hint)
                {
                    return Some(Err(e));
                }
            }
            // `slots.len() > 0`: `next` gives a slot.
            if let Some(slot) = slots.next() {
                *slot = RawHeader::new(field.name_span, field.value_span);
            }
            let stop = line.stop();
            pos = stop + 2;
        }
        self.header_count = max_fields - slots.len();
        self.pos = pos;
        self.mark = pos;
        self.state = State::LineStart;
        None
    }
}

/// A field value, `buf[start..end]` (fields 1 to 3), that the scanners (field 0) may vouch
/// for as a plain `Host`.
struct SpanHint<'a, S>(S, &'a [u8], usize, usize);

impl<S: Scanner> HostHint for SpanHint<'_, S> {
    #[inline(always)]
    fn plain_host(self) -> bool {
        self.0.plain_host(self.1, self.2, self.3)
    }
}
