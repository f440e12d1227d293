//! A field line found by a scanner, as a checked view: the bounds that make its reads safe
//! are established once, where the line is found, so that the grammar's reads of it (the
//! CRLF, the bytes around the value, the name) need no bounds checks of their own.

use super::Scanner;
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

    /// The line, without the checks of [`new`](Self::new).
    ///
    /// # Safety
    /// `pos < colon < stop` and `stop + 1 < buf.len()` (without wrapping around).
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub(super) unsafe fn new_unchecked(
        buf: &'a [u8],
        pos: usize,
        colon: usize,
        stop: usize,
    ) -> Self {
        debug_assert!(pos < colon && colon < stop && stop < buf.len().saturating_sub(1));
        Self {
            buf,
            pos,
            colon,
            stop,
        }
    }

    /// The colon ending the name.
    #[inline(always)]
    pub(crate) fn colon(self) -> usize {
        self.colon
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

    /// Whether `buf[stop + 1]` is LF (for a line whose `stop` is known to be a CR).
    #[inline(always)]
    pub(crate) fn lf_follows(self) -> bool {
        // SAFETY: stop + 1 < buf.len() (the invariant).
        unsafe { *self.buf.get_unchecked(self.stop + 1) == b'\n' }
    }

    /// The value's bounds, `(colon + 2, stop)`, when exactly one space follows the colon and
    /// the value, not empty, does not end in whitespace (see [`field`](Self::field)).
    #[inline(always)]
    pub(crate) fn plain_value(self) -> Option<(usize, usize)> {
        let (colon, stop) = (self.colon, self.stop);
        // SAFETY: colon + 1 <= stop, colon + 2 <= stop + 1 and stop - 1 < stop are all below
        // buf.len() (the invariant: colon < stop, stop + 1 < buf.len()).
        let (space, first, last) = unsafe {
            (
                *self.buf.get_unchecked(colon + 1),
                *self.buf.get_unchecked(colon + 2),
                *self.buf.get_unchecked(stop - 1),
            )
        };
        (space == b' ' && first > b' ' && last > b' ').then_some((colon + 2, stop))
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
        Field {
            // SAFETY: pos < colon < buf.len() (the invariant).
            name: unsafe { self.buf.get_unchecked(pos..colon) },
            name_span: (pos, colon),
            value_span,
        }
    }
}

/// The field lines of a head whose ends are found ahead of them, 64 bytes at a time (for the
/// scanners where [`Scanner::WIDE`]): the CRs of the 64 bytes before `next_block` (bit `i`
/// for `next_block - 64 + i`) that are at or after the current line's start. No CR lies
/// between that start and `next_block` other than those, so the lowest bit is the CR ending
/// the line: a line's end comes from the bits (one `tzcnt`; one `blsr` drops it once the line
/// is taken, [`taken`](Self::taken)), not from a load at the line's start that waits for the
/// previous line's end.
///
/// Invariant: every bit stands for a CR at `cr` with `cr + 1 < end <= buf.len()`, so that its
/// LF can be read; that is what lets [`Scanner::field_line_to`] skip its checks.
#[derive(Debug)]
pub(crate) struct CrLines<'a> {
    buf: &'a [u8],
    end: usize,
    crs: u64,
    next_block: usize,
}

impl<'a> CrLines<'a> {
    /// The lines of `buf` from `pos`, each with its CRLF before `end`.
    #[inline(always)]
    pub(crate) fn new(buf: &'a [u8], pos: usize, end: usize) -> Self {
        Self {
            buf,
            end: end.min(buf.len()),
            crs: 0,
            next_block: pos,
        }
    }

    /// The line at `pos` when its CR is the next one found ahead and the line is ordinary
    /// ([`Scanner::field_line_to`]); the next 64 bytes are read when the bits ran out. `None`
    /// (a long line, an unusual one, the empty line ending the head) means "use the usual
    /// way"; the line's CR is then the first CR after `pos` too, so [`taken`](Self::taken)
    /// drops it all the same.
    #[inline(always)]
    pub(crate) fn line<S: Scanner>(&mut self, scan: S, pos: usize) -> Option<FieldLine<'a>> {
        if self.crs == 0 {
            self.refill(scan, pos);
        }
        if self.crs == 0 {
            return None;
        }
        let cr = self.next_block - 64 + self.crs.trailing_zeros() as usize;
        // SAFETY: cr + 1 < end <= buf.len() (the invariant).
        unsafe { scan.field_line_to(self.buf, pos, cr, self.end) }
    }

    /// Drops the CR ending the line just taken: the lowest bit, if it is among them.
    #[inline(always)]
    pub(crate) fn taken(&mut self) {
        self.crs &= self.crs.wrapping_sub(1);
    }

    /// The CRs of the 64 bytes from `max(next_block, pos)` (no CR lies in `pos..next_block`),
    /// with the new `next_block`, the end of those 64 bytes. Only CRs at `cr` with
    /// `cr + 1 < end` are kept (the invariant): when 64 bytes and one more are not left, the
    /// last 64 bytes before `end` are read, shifted to start at `max(next_block, pos)` and
    /// without their last bit; after that, `next_block` is past `end` and no bits come any
    /// more. No bits (a long line) leaves that line to the usual way.
    #[inline(always)]
    fn refill<S: Scanner>(&mut self, scan: S, pos: usize) {
        let (buf, end) = (self.buf, self.end);
        let at = self.next_block.max(pos);
        (self.crs, self.next_block) = if at + 64 < end {
            // at + 64 < end <= buf.len(): bits for CRs at most at + 63, with at + 64 < end.
            (scan.cr_mask64(buf, at), at + 64)
        } else if at + 1 < end && end >= 64 {
            let base = end - 64;
            // base + 64 == end <= buf.len(); the last bit (end - 1) goes. `base < at`
            // (at + 64 >= end): the bits from `at` on.
            let crs = scan.cr_mask64(buf, base) & u64::MAX >> 1;
            (crs >> (at - base), at + 64)
        } else {
            (0, at)
        };
    }
}

/// `start..end` without the whitespace at either end (rare case of the fast path, kept out of
/// it).
#[cold]
fn trim_ows(buf: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && buf.get(start).is_some_and(|&b| ows(b)) {
        start += 1;
    }
    while end > start && buf.get(end - 1).is_some_and(|&b| ows(b)) {
        end -= 1;
    }
    (start, end)
}
