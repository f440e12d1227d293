//! The SSE2 scanners: 16 bytes a load. SSE2 is part of the x86_64 base instruction set, so
//! the token needs no detection and its code no `#[target_feature]`: it inlines anywhere.

use core::arch::x86_64::*;

use super::Scanner;
use super::swar::{Portable, short_target_end, short_value_end};

/// Loads 16 bytes of `buf` at `pos`.
///
/// # Safety
/// `pos + 16 <= buf.len()`.
#[inline(always)]
unsafe fn load16(buf: &[u8], pos: usize) -> __m128i {
    debug_assert!(pos + 16 <= buf.len());
    // SAFETY: the caller guarantees 16 readable bytes at `pos`; loadu has no alignment
    // requirement.
    unsafe { _mm_loadu_si128(buf.as_ptr().add(pos).cast()) }
}

/// The AVX2 `value_miss` on 16 bytes, with SSE2 (part of x86_64).
#[inline(always)]
fn value_miss16(v: __m128i) -> u32 {
    // SAFETY: every x86_64 CPU has SSE2.
    unsafe {
        let ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
        let tab = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\t' as i8));
        let del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f));
        _mm_movemask_epi8(_mm_or_si128(_mm_andnot_si128(tab, ctl), del)) as u32
    }
}

/// The bytes of `v` that are not letters, digits, `.` or `-` (see [`Scanner::plain_host`]),
/// as a bit mask, with SSE2.
#[inline(always)]
fn host_miss16(v: __m128i) -> u32 {
    // SAFETY: every x86_64 CPU has SSE2.
    unsafe {
        // `x` is in `lo..=lo + n` when `x - lo`, wrapping, is at most `n` (unsigned min).
        let within = |x: __m128i, lo: u8, n: u8| {
            let d = _mm_sub_epi8(x, _mm_set1_epi8(lo as i8));
            _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(n as i8)), d)
        };
        // OR-ing 0x20 folds only A-Z onto a-z (bytes from 0x80 stay above 0x7f).
        let letter = within(_mm_or_si128(v, _mm_set1_epi8(0x20)), b'a', 25);
        let digit = within(v, b'0', 9);
        let dash_dot = within(v, b'-', 1);
        let hit = _mm_or_si128(_mm_or_si128(letter, digit), dash_dot);
        !(_mm_movemask_epi8(hit) as u32) & 0xffff
    }
}

/// [`Scanner::plain_host`] with SSE2. A value of at most 16 bytes (most hosts) takes one
/// load of the 16 bytes of the buffer around it, with the bytes outside it masked off;
/// longer ones go 16 bytes a load, out of line. `false` when the buffer is shorter than
/// 16 bytes (the caller's full check decides).
#[inline(always)]
pub(crate) fn plain_host16(buf: &[u8], start: usize, end: usize) -> bool {
    let len = buf.len();
    // `start > end` wraps around to a large count.
    let n = end.wrapping_sub(start);
    if n > 16 || len < 16 || end > len {
        return long_plain_host16(buf, start, end);
    }
    // `base <= start` and `end <= base + 16 <= len`.
    let base = start.min(len - 16);
    // SAFETY: base + 16 <= len.
    let miss = host_miss16(unsafe { load16(buf, base) });
    (miss >> (start - base)) & !(u32::MAX << n) == 0
}

/// [`plain_host16`] for values longer than 16 bytes.
#[inline(never)]
fn long_plain_host16(buf: &[u8], start: usize, end: usize) -> bool {
    let len = buf.len();
    if len < 16 || start > end || end > len {
        return false;
    }
    let mut pos = start;
    while pos + 16 <= end {
        // SAFETY: pos + 16 <= end <= buf.len().
        if host_miss16(unsafe { load16(buf, pos) }) != 0 {
            return false;
        }
        pos += 16;
    }
    if pos == end {
        return true;
    }
    // Fewer than 16 bytes left, at `pos < end <= len`: the 16 bytes ending at `end`.
    // SAFETY: end >= 16 (pos > start, so 16 bytes were scanned), end <= len.
    let miss = host_miss16(unsafe { load16(buf, end - 16) });
    miss >> (16 - (end - pos)) == 0
}

/// The AVX2 `target_miss` on 16 bytes, with SSE2.
#[inline(always)]
fn target_miss16(v: __m128i) -> u32 {
    // SAFETY: every x86_64 CPU has SSE2.
    unsafe {
        let above_space = _mm_cmpgt_epi8(v, _mm_set1_epi8(0x20));
        let below_del = _mm_cmpgt_epi8(_mm_set1_epi8(0x7f), v);
        !(_mm_movemask_epi8(_mm_and_si128(above_space, below_del)) as u32) & 0xffff
    }
}

/// The AVX2 `scan`, 16 bytes at a time with SSE2: [`Sse2::value_end`]'s loop. Its loads are
/// bounded by `last = end - 16` (`pos <= last` is `pos + 16 <= end` without a sum that could
/// wrap around), so `pos` needs no clamping: a `pos` past `end` takes no load and gives
/// `end`. Against [`scan16_clamped`]'s shape, the first-field `Host` shortcut of a tiny
/// request takes 285 instructions instead of 296 (callgrind, `http_parser_bench`).
#[inline(always)]
fn scan16(
    buf: &[u8],
    mut pos: usize,
    end: usize,
    miss: fn(__m128i) -> u32,
    portable: fn(&[u8], usize, usize) -> usize,
) -> usize {
    let end = end.min(buf.len());
    if end >= 16 {
        let last = end - 16;
        while pos <= last {
            // SAFETY: pos + 16 <= last + 16 == end <= buf.len().
            let m = miss(unsafe { load16(buf, pos) });
            if m != 0 {
                return pos + m.trailing_zeros() as usize;
            }
            pos += 16;
        }
        if pos >= end {
            return end;
        }
        // SAFETY: last + 16 == end <= buf.len(); last < pos < end (the loop and the test).
        return unsafe { last_block16(buf, pos, last, end, miss) };
    }
    if pos >= end {
        return end;
    }
    portable(buf, pos, end)
}

/// [`scan16`] in the shape the scanners had before it, for [`Sse2::target_end`]: `pos` is
/// clamped to `end` first, and the loads are bounded by `pos + 16 <= end`; the same answers.
/// The request line's target scan sits inside `parse`, which inlines into the caller's loop
/// of calls: in [`scan16`]'s shape it cost that loop a register (a browser request fed a byte
/// at a time: 15,185 instructions against 14,727 in this one).
#[inline(always)]
fn scan16_clamped(
    buf: &[u8],
    mut pos: usize,
    end: usize,
    miss: fn(__m128i) -> u32,
    portable: fn(&[u8], usize, usize) -> usize,
) -> usize {
    let end = end.min(buf.len());
    // From here `pos <= end <= buf.len() <= isize::MAX`: none of the sums below wraps.
    pos = pos.min(end);
    while pos + 16 <= end {
        // SAFETY: pos + 16 <= end <= buf.len().
        let m = miss(unsafe { load16(buf, pos) });
        if m != 0 {
            return pos + m.trailing_zeros() as usize;
        }
        pos += 16;
    }
    if pos >= end {
        return end;
    }
    if end >= 16 {
        // SAFETY: (end - 16) + 16 == end <= buf.len(); end - 16 < pos < end (the loop and
        // the test).
        return unsafe { last_block16(buf, pos, end - 16, end, miss) };
    }
    portable(buf, pos, end)
}

/// The end of a scan whose last block is short: the 16 bytes from `last`, ending at `end`,
/// without those before `pos`.
///
/// # Safety
/// `last + 16 == end <= buf.len()` and `last < pos < end`.
#[inline(always)]
unsafe fn last_block16(
    buf: &[u8],
    pos: usize,
    last: usize,
    end: usize,
    miss: fn(__m128i) -> u32,
) -> usize {
    // SAFETY: the caller guarantees last + 16 <= buf.len().
    let m = miss(unsafe { load16(buf, last) }) >> (pos - last);
    if m != 0 {
        pos + m.trailing_zeros() as usize
    } else {
        end
    }
}

/// SSE2 scanners (every x86_64 CPU has SSE2, so they need no detection and no
/// `#[target_feature]`, and inline anywhere): 16 bytes at a time for targets and values;
/// names, which are short and need a table lookup that SSE2 lacks, byte by byte. For
/// small heads, where AVX2's set-up and the call into an AVX2 function cost more than
/// the wider loads save.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sse2;

impl Scanner for Sse2 {
    #[inline(always)]
    fn token_end(self, buf: &[u8], pos: usize, end: usize) -> usize {
        Portable::token_end(buf, pos, end)
    }
    #[inline(always)]
    fn target_end(self, buf: &[u8], pos: usize, end: usize) -> usize {
        scan16_clamped(buf, pos, end, target_miss16, short_target_end)
    }
    #[inline(always)]
    fn value_end(self, buf: &[u8], pos: usize, end: usize) -> usize {
        scan16(buf, pos, end, value_miss16, short_value_end)
    }

    /// Short request lines (`GET / HTTP/1.1` is 14 bytes) have their method and target in
    /// the first 16 bytes: one load finds both ends.
    #[inline(always)]
    fn request_line(self, buf: &[u8], end: usize) -> Option<(usize, usize)> {
        let end = end.min(buf.len());
        if end < 16 {
            return Portable.request_line(buf, end);
        }
        // SAFETY: 16 <= end <= buf.len().
        let miss = target_miss16(unsafe { load16(buf, 0) });
        let method_end = if buf[..4] == *b"GET " {
            3
        } else {
            // A method is made of token characters, which are all target bytes: the
            // first miss ends it, and the token check runs over the method only.
            let m = miss.trailing_zeros() as usize;
            if m == 0 || m >= 16 || buf[m] != b' ' || Portable::token_end(buf, 0, m) != m {
                return None;
            }
            m
        };
        let target = method_end + 1;
        // The method ended inside the block, but the target may start right after it.
        let rest = if target < 16 { miss >> target } else { 0 };
        let target_end = if rest != 0 {
            target + rest.trailing_zeros() as usize
        } else {
            self.target_end(buf, 16, end)
        };
        if target_end == target || target_end >= end || buf[target_end] != b' ' {
            return None;
        }
        Some((method_end, target_end))
    }

    #[inline(always)]
    fn plain_host(self, buf: &[u8], start: usize, end: usize) -> bool {
        plain_host16(buf, start, end)
    }
}
