//! A field line found by a scanner, as a checked view: the bounds that make its reads safe
//! are established once, where the line is found, so that the grammar's reads of it (the
//! CRLF, the bytes around the value, the name) need no bounds checks of their own.

use crate::http::chars::ows;

/// A field line in `buf` that a scanner found: a name `buf[pos..colon]` (ended by the colon
/// at `colon`), then value bytes up to `stop`, the first byte after the colon that may not
/// appear in a value (normally the CR), with room for one byte after it.
///
/// Invariant, checked where a value is made: `pos < colon < stop` and `stop + 1 < buf.len()`.
/// The scanners also find the name made of token characters, the colon and the value bytes,
/// which the grammar relies on for its verdicts, never for memory safety.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldLine<'a> {
    buf: &'a [u8],
    pos: usize,
    colon: usize,
    stop: usize,
}

/// A field line's name and value, with their positions: the value without the whitespace at
/// either end.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field<'a> {
    /// `buf[pos..colon]`.
    pub(crate) name: &'a [u8],
    /// `(pos, colon)`.
    pub(crate) name_span: (usize, usize),
    /// `buf[value_span.0..value_span.1]`.
    pub(crate) value: &'a [u8],
    /// The value's bounds, within `colon + 1..=stop`.
    pub(crate) value_span: (usize, usize),
}

impl<'a> FieldLine<'a> {
    /// The line, when `pos < colon < stop` and `stop + 1 < min(end, buf.len())`.
    #[inline(always)]
    pub(crate) fn new(
        buf: &'a [u8],
        pos: usize,
        colon: usize,
        stop: usize,
        end: usize,
    ) -> Option<Self> {
        let end = end.min(buf.len());
        // `stop + 1 < end` without an overflow.
        (pos < colon && colon < stop && stop < end.saturating_sub(1)).then_some(Self {
            buf,
            pos,
            colon,
            stop,
        })
    }

    /// The value of a `Host` line at `pos` known by its first six bytes (`host: `), whose
    /// value bytes run from `pos + 6` to `stop`: the value, when it is not empty, its first
    /// and last bytes are not whitespace, and `buf[stop..stop + 2]` is CRLF with
    /// `stop + 1 < min(end, buf.len())`. (The first-field shortcut: two tests of the bounds
    /// for the whole line.)
    #[inline(always)]
    pub(crate) fn host_value(
        buf: &'a [u8],
        pos: usize,
        stop: usize,
        end: usize,
    ) -> Option<&'a [u8]> {
        let end = end.min(buf.len());
        let start = pos.checked_add(6)?;
        // `stop + 1 < end` as in `new`, whose bound the compiler then computes once for both.
        if start >= stop || stop >= end.saturating_sub(1) {
            return None;
        }
        // SAFETY: start < stop < stop + 1 < end <= buf.len(): every index read is below
        // buf.len(), and `start..stop` is a range inside the buffer.
        unsafe {
            let (first, last) = (*buf.get_unchecked(start), *buf.get_unchecked(stop - 1));
            let (cr, lf) = (*buf.get_unchecked(stop), *buf.get_unchecked(stop + 1));
            (cr == b'\r' && lf == b'\n' && first > b' ' && last > b' ')
                .then(|| buf.get_unchecked(start..stop))
        }
    }

    /// The first byte after the colon outside the value class.
    #[inline(always)]
    pub(crate) fn stop(self) -> usize {
        self.stop
    }

    /// Whether `buf[stop..stop + 2]` is CRLF.
    #[inline(always)]
    pub(crate) fn ends_in_crlf(self) -> bool {
        // SAFETY: stop < stop + 1 < buf.len() (the invariant).
        let (cr, lf) = unsafe {
            (
                *self.buf.get_unchecked(self.stop),
                *self.buf.get_unchecked(self.stop + 1),
            )
        };
        cr == b'\r' && lf == b'\n'
    }

    /// The value's bounds, `(colon + 2, stop)`, when exactly one space follows the colon, the
    /// value, not empty, does not end in whitespace, and a CR is at `stop` (see
    /// [`field`](Self::field)). Then `colon + 2 < stop`: with the CR at `stop`, a `stop` of
    /// `colon + 1` would have the CR for the space, one of `colon + 2` for the first byte.
    /// (Callers test the CRLF first, with [`ends_in_crlf`](Self::ends_in_crlf), and the
    /// compiler merges the two tests of the CR.)
    #[inline(always)]
    pub(crate) fn plain_value(self) -> Option<(usize, usize)> {
        let (colon, stop) = (self.colon, self.stop);
        // SAFETY: colon + 1 <= stop, colon + 2 <= stop + 1 and stop - 1 < stop are all below
        // buf.len() (the invariant: colon < stop, stop + 1 < buf.len()).
        let (space, first, last, cr) = unsafe {
            (
                *self.buf.get_unchecked(colon + 1),
                *self.buf.get_unchecked(colon + 2),
                *self.buf.get_unchecked(stop - 1),
                *self.buf.get_unchecked(stop),
            )
        };
        (space == b' ' && first > b' ' && last > b' ' && cr == b'\r').then_some((colon + 2, stop))
    }

    /// The name and the value's bounds. Usually exactly one space follows the colon and none
    /// precedes `stop`: a test of that space, of the value's first byte after it and of the
    /// byte before `stop` (anything else is trimmed out of line). Among value bytes, only SP
    /// and HTAB are at most `b' '`; the CR at `stop` is too, for an empty value.
    #[inline(always)]
    pub(crate) fn field(self) -> Field<'a> {
        let (pos, colon, stop) = (self.pos, self.colon, self.stop);
        let value_span = match self.plain_value() {
            Some(span) => span,
            None => trim_ows(self.buf, colon + 1, stop),
        };
        // SAFETY: pos < colon < buf.len() (the invariant). The value's span is `(colon + 2,
        // stop)` with `colon + 2 < stop` (`plain_value`), or the span `trim_ows` narrowed
        // `colon + 1..stop` to (it only moves its ends towards each other): inside the
        // buffer either way, stop < buf.len().
        let (name, value) = unsafe {
            (
                self.buf.get_unchecked(pos..colon),
                self.buf.get_unchecked(value_span.0..value_span.1),
            )
        };
        Field {
            name,
            name_span: (pos, colon),
            value,
            value_span,
        }
    }
}

/// `start..end` without the whitespace at either end (rare case of the fast path, kept out of
/// it).
#[cold]
pub(super) fn trim_ows(buf: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && buf.get(start).is_some_and(|&b| ows(b)) {
        start += 1;
    }
    while end > start && buf.get(end - 1).is_some_and(|&b| ows(b)) {
        end -= 1;
    }
    (start, end)
}
