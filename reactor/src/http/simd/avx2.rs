//! The AVX2 scanners: 32 bytes a load, for CPUs that have AVX2 (and BMI1 and BMI2).
//!
//! The [`Avx2`] token is made only by [`Avx2::detect`], so holding one proves the CPU has
//! those instruction sets: its methods are safe, and the intrinsics they call are sound
//! because of it. The helpers are `#[inline(always)]` without `#[target_feature]`: they
//! inline into the code that runs inside [`Avx2::enabled`] (compiled with AVX2 enabled), and
//! so do the intrinsics they call. A `#[target_feature]` function could only be `#[inline]`,
//! and the compiler kept the scanners out of line, a call per field line.

use core::arch::x86_64::*;

use super::line::trim_ows;
use super::runtime::avx2_available;
use super::sse2::plain_host16;
use super::swar::{Portable, short_target_end, short_token_end, short_value_end};
use super::{FieldLine, LinesTaken, Scanner};
use crate::http::chars;
use crate::http::headers::RawHeader;
use core::slice::IterMut;

/// The AVX2 scanners; a value proves that the CPU supports AVX2, BMI1 and BMI2.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Avx2(());

impl Avx2 {
    /// The token, when the CPU and the OS support AVX2, BMI1 and BMI2 (detected once, then
    /// cached).
    #[inline]
    pub(crate) fn detect() -> Option<Self> {
        avx2_available().then_some(Self(()))
    }

    /// Runs `f(self, a, b, c)` inside a function compiled with AVX2, BMI1 and BMI2 enabled, so
    /// that the scanners' intrinsics inline into `f`'s code (mark the closure
    /// `#[inline(always)]`). The arguments go separately, not captured by the closure, so that
    /// they travel in registers rather than in a closure built in memory.
    #[inline(always)]
    pub(crate) fn enabled<A, B, C, R>(
        self,
        a: A,
        b: B,
        c: C,
        f: impl FnOnce(Self, A, B, C) -> R,
    ) -> R {
        #[target_feature(enable = "avx2,bmi1,bmi2")]
        fn with_avx2<A, B, C, R>(
            avx2: Avx2,
            a: A,
            b: B,
            c: C,
            f: impl FnOnce(Avx2, A, B, C) -> R,
        ) -> R {
            f(avx2, a, b, c)
        }
        // SAFETY: `self` exists only on a CPU with AVX2, BMI1 and BMI2 (`detect`).
        unsafe { with_avx2(self, a, b, c, f) }
    }

    /// Loads 32 bytes of `buf` at `pos`.
    ///
    /// # Safety
    /// `pos + 32 <= buf.len()` (without wrapping around).
    #[inline(always)]
    unsafe fn load32(self, buf: &[u8], pos: usize) -> __m256i {
        debug_assert!(pos + 32 <= buf.len());
        // SAFETY: the caller guarantees 32 readable bytes at `pos`; loadu has no alignment
        // requirement; `self` proves AVX.
        unsafe { _mm256_loadu_si256(buf.as_ptr().add(pos).cast()) }
    }

    /// The bytes of `v` outside the token class, as a bit mask.
    #[inline(always)]
    fn token_miss(self, v: __m256i) -> u32 {
        self.class_miss(v, TOKEN_NIBBLES)
    }

    /// The start of a field line whose 32 bytes from `pos` hold its name and colon: the
    /// name's length and the bytes of those 32 outside the value class (`None` for an empty
    /// name, one that fills the 32 bytes, or one not ended by a colon).
    ///
    /// # Safety
    /// `pos + 32 <= buf.len()` (without wrapping around).
    #[inline(always)]
    unsafe fn name_and_value_miss(self, buf: &[u8], pos: usize) -> Option<(usize, u32)> {
        // SAFETY: the caller guarantees pos + 32 <= buf.len().
        let v = unsafe { self.load32(buf, pos) };
        let name_len = self.token_miss(v).trailing_zeros() as usize;
        if name_len == 0 || name_len == 32 {
            return None;
        }
        // SAFETY: name_len < 32, so pos + name_len < pos + 32 <= buf.len().
        if unsafe { *buf.get_unchecked(pos + name_len) } != b':' {
            return None;
        }
        Some((name_len, self.value_miss(v)))
    }

    /// The bytes of `v` outside the class of the nibble tables `tables`, as a bit mask.
    #[inline(always)]
    fn class_miss(self, v: __m256i, tables: ([u8; 16], [u8; 16])) -> u32 {
        let (lo, hi) = tables;
        // SAFETY: both tables are 16 bytes (loadu has no alignment requirement); `self`
        // proves AVX2.
        unsafe {
            let lo = _mm256_broadcastsi128_si256(_mm_loadu_si128(lo.as_ptr().cast()));
            let hi = _mm256_broadcastsi128_si256(_mm_loadu_si128(hi.as_ptr().cast()));
            let nib = _mm256_set1_epi8(0x0f);
            // The low nibble's lookup needs no mask: `vpshufb` reads bits 0-3 of the index,
            // and gives 0 (a miss) for the bytes from 0x80, whose bit 7 is set.
            let l = _mm256_shuffle_epi8(lo, v);
            let h = _mm256_shuffle_epi8(hi, _mm256_and_si256(_mm256_srli_epi16::<4>(v), nib));
            let hit = _mm256_and_si256(l, h);
            _mm256_movemask_epi8(_mm256_cmpeq_epi8(hit, _mm256_setzero_si256())) as u32
        }
    }

    /// The bytes of `v` outside visible ASCII (0x21..=0x7e), as a bit mask.
    #[inline(always)]
    fn target_miss(self, v: __m256i) -> u32 {
        // SAFETY: `self` proves AVX2.
        unsafe {
            // Signed compares: bytes >= 0x80 are negative, so they fail `> 0x20`.
            let above_space = _mm256_cmpgt_epi8(v, _mm256_set1_epi8(0x20));
            let below_del = _mm256_cmpgt_epi8(_mm256_set1_epi8(0x7f), v);
            !(_mm256_movemask_epi8(_mm256_and_si256(above_space, below_del)) as u32)
        }
    }

    /// The bytes of `v` that may not appear in a field value (controls but HTAB, and DEL).
    #[inline(always)]
    fn value_miss(self, v: __m256i) -> u32 {
        // SAFETY: `self` proves AVX2.
        unsafe {
            let ctl = _mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8(0x1f)), v);
            let tab = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\t' as i8));
            let del = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(0x7f));
            _mm256_movemask_epi8(_mm256_or_si256(_mm256_andnot_si256(tab, ctl), del)) as u32
        }
    }

    /// Runs `miss` over `buf[pos..end]` 32 bytes at a time. The last, partial block is read
    /// as the 32 bytes ending at `end` with the already-scanned bytes masked off, so short
    /// tails need no byte loop as long as the buffer holds 32 bytes before `end`.
    #[inline(always)]
    fn scan(
        self,
        buf: &[u8],
        mut pos: usize,
        end: usize,
        miss: fn(Self, __m256i) -> u32,
        portable: fn(&[u8], usize, usize) -> usize,
    ) -> usize {
        let end = end.min(buf.len());
        if end >= 32 {
            // `pos <= last` is `pos + 32 <= end` without a sum that could wrap around, so
            // `pos` needs no clamping: a `pos` past `end` takes no load and gives `end`.
            let last = end - 32;
            // Most spans end in their first 32 bytes; longer ones (a cookie) go on 64 bytes
            // at a time, one branch per two loads.
            if pos <= last {
                // SAFETY: pos + 32 <= last + 32 == end <= buf.len().
                let m = miss(self, unsafe { self.load32(buf, pos) });
                if m != 0 {
                    return pos + m.trailing_zeros() as usize;
                }
                pos += 32;
                // `pos <= last64` is `pos + 64 <= end`, as above.
                if let Some(last64) = end.checked_sub(64) {
                    while pos <= last64 {
                        // SAFETY: pos + 64 <= last64 + 64 == end <= buf.len().
                        let (lo, hi) =
                            unsafe { (self.load32(buf, pos), self.load32(buf, pos + 32)) };
                        let m = u64::from(miss(self, lo)) | u64::from(miss(self, hi)) << 32;
                        if m != 0 {
                            return pos + m.trailing_zeros() as usize;
                        }
                        pos += 64;
                    }
                }
                if pos <= last {
                    // SAFETY: pos + 32 <= last + 32 == end <= buf.len().
                    let m = miss(self, unsafe { self.load32(buf, pos) });
                    if m != 0 {
                        return pos + m.trailing_zeros() as usize;
                    }
                    pos += 32;
                }
            }
            if pos >= end {
                return end;
            }
            // last < pos < end: the 32 bytes ending at `end`, without those before `pos`.
            // SAFETY: last + 32 == end <= buf.len().
            let m = miss(self, unsafe { self.load32(buf, last) }) >> (pos - last);
            return if m != 0 {
                pos + m.trailing_zeros() as usize
            } else {
                end
            };
        }
        if pos >= end {
            return end;
        }
        portable(buf, pos, end)
    }
}

/// Nibble tables for a class of visible ASCII bytes (tokens, host bytes): a byte `b` is
/// in the class when `LO[b & 15] & HI[b >> 4] != 0`. Bit `h - 2` of `LO[l]` says whether
/// `h << 4 | l` is in the class for the high nibbles 2..=7 (the others hold no visible
/// ASCII).
const fn nibble_tables(class: &[bool; 256]) -> ([u8; 16], [u8; 16]) {
    let mut lo = [0u8; 16];
    let mut hi = [0u8; 16];
    let mut h = 2;
    while h <= 7 {
        hi[h] = 1 << (h - 2);
        let mut l = 0;
        while l < 16 {
            if class[h << 4 | l] {
                lo[l] |= 1 << (h - 2);
            }
            l += 1;
        }
        h += 1;
    }
    (lo, hi)
}
const TOKEN_NIBBLES: ([u8; 16], [u8; 16]) = nibble_tables(&chars::TOKEN);

impl Scanner for Avx2 {
    const WIDE: bool = true;

    #[inline(always)]
    fn plain_host(self, buf: &[u8], start: usize, end: usize) -> bool {
        plain_host16(buf, start, end)
    }

    #[inline(always)]
    fn token_end(self, buf: &[u8], pos: usize, end: usize) -> usize {
        self.scan(buf, pos, end, Self::token_miss, short_token_end)
    }
    #[inline(always)]
    fn target_end(self, buf: &[u8], pos: usize, end: usize) -> usize {
        self.scan(buf, pos, end, Self::target_miss, short_target_end)
    }
    #[inline(always)]
    fn value_end(self, buf: &[u8], pos: usize, end: usize) -> usize {
        self.scan(buf, pos, end, Self::value_miss, short_value_end)
    }

    /// Most request lines have their method and target in the first 32 bytes: one load
    /// finds both.
    #[inline(always)]
    fn request_line(self, buf: &[u8], end: usize) -> Option<(usize, usize)> {
        let end = end.min(buf.len());
        if end < 32 {
            return Portable.request_line(buf, end);
        }
        // SAFETY: 32 <= end <= buf.len().
        let v = unsafe { self.load32(buf, 0) };
        let method_end = if buf[..4] == *b"GET " {
            3
        } else {
            let m = self.token_miss(v).trailing_zeros() as usize;
            if m == 0 || m == 32 || buf[m] != b' ' {
                return None;
            }
            m
        };
        let target = method_end + 1;
        // The method ended inside the block, but the target may start right after it.
        let miss = if target < 32 {
            self.target_miss(v) >> target
        } else {
            0
        };
        let target_end = if miss != 0 {
            target + miss.trailing_zeros() as usize
        } else {
            self.target_end(buf, 32, end)
        };
        if target_end == target || target_end >= end || buf[target_end] != b' ' {
            return None;
        }
        Some((method_end, target_end))
    }

    #[inline(always)]
    fn field_lines(
        self,
        buf: &[u8],
        pos: usize,
        end: usize,
        slots: &mut IterMut<'_, RawHeader>,
        take: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> LinesTaken {
        self.take_field_lines(buf, pos, end, slots, take)
    }

    /// Most field lines fit in 32 bytes: one load classifies the name and the value.
    #[inline(always)]
    fn field_line(self, buf: &[u8], pos: usize, end: usize) -> Option<FieldLine<'_>> {
        let end = end.min(buf.len());
        // From here `pos <= end <= buf.len() <= isize::MAX`: none of the sums below wraps.
        let left = end.checked_sub(pos)?;
        if left >= 32 {
            // The usual case, with no shifting: 32 bytes from `pos`.
            // SAFETY: pos + 32 <= end <= buf.len().
            let (name_len, miss) = unsafe { self.name_and_value_miss(buf, pos) }?;
            let stop = if miss != 0 {
                // Inside the 32 bytes, so before `end`.
                pos + miss.trailing_zeros() as usize
            } else {
                self.value_end(buf, pos + 32, end)
            };
            return FieldLine::new(buf, pos, pos + name_len, stop, end);
        }
        // The line starts in the last 32 bytes: those, with the bytes before `pos` shifted
        // out and the bytes past `end` counted as misses.
        let (v, shift) = if left > 0 && end >= 32 {
            // SAFETY: (end - 32) + 32 == end <= buf.len().
            (unsafe { self.load32(buf, end - 32) }, pos - (end - 32))
        } else {
            return Portable.field_line(buf, pos, end);
        };
        let past_end = !(u32::MAX >> shift);
        let token = self.token_miss(v) >> shift | past_end;
        let name_len = token.trailing_zeros() as usize;
        if name_len == 0 || name_len == 32 || pos + name_len >= end || buf[pos + name_len] != b':' {
            return None;
        }
        // Token characters and the colon are value bytes too, so the first byte from
        // `pos` that is not a value byte ends the line: finding it does not wait for the
        // name's classification, which only has to confirm the colon.
        let miss = self.value_miss(v) >> shift | past_end;
        let stop = if miss != 0 {
            pos + miss.trailing_zeros() as usize
        } else {
            // Only a whole 32-byte block can be free of misses.
            self.value_end(buf, pos + 32, end)
        };
        FieldLine::new(buf, pos, pos + name_len, stop, end)
    }
}

/// The vectors the field-line loop ([`Avx2::take_field_lines`]) classifies with, made once
/// per head so that they stay in registers from one line to the next.
#[derive(Clone, Copy)]
struct LineClasses {
    token_lo: __m256i,
    token_hi: __m256i,
    nibble: __m256i,
    zero: __m256i,
    ctl: __m256i,
    tab: __m256i,
    del: __m256i,
    cr: __m256i,
    /// Made only from the token: proves AVX2.
    avx2: Avx2,
}

impl LineClasses {
    #[inline(always)]
    fn new(avx2: Avx2) -> Self {
        let (lo, hi) = TOKEN_NIBBLES;
        // SAFETY: both tables are 16 bytes (loadu has no alignment requirement); `avx2`
        // proves AVX2.
        unsafe {
            Self {
                token_lo: _mm256_broadcastsi128_si256(_mm_loadu_si128(lo.as_ptr().cast())),
                token_hi: _mm256_broadcastsi128_si256(_mm_loadu_si128(hi.as_ptr().cast())),
                nibble: _mm256_set1_epi8(0x0f),
                zero: _mm256_setzero_si256(),
                ctl: _mm256_set1_epi8(0x1f),
                tab: _mm256_set1_epi8(b'\t' as i8),
                del: _mm256_set1_epi8(0x7f),
                cr: _mm256_set1_epi8(b'\r' as i8),
                avx2,
            }
        }
    }

    /// [`Avx2::token_miss`].
    #[inline(always)]
    fn token_miss(self, v: __m256i) -> u32 {
        // SAFETY: `self.avx2` proves AVX2.
        unsafe {
            let l = _mm256_shuffle_epi8(self.token_lo, v);
            let h = _mm256_shuffle_epi8(
                self.token_hi,
                _mm256_and_si256(_mm256_srli_epi16::<4>(v), self.nibble),
            );
            let hit = _mm256_and_si256(l, h);
            _mm256_movemask_epi8(_mm256_cmpeq_epi8(hit, self.zero)) as u32
        }
    }

    /// [`Avx2::value_miss`].
    #[inline(always)]
    fn value_miss(self, v: __m256i) -> u32 {
        // SAFETY: `self.avx2` proves AVX2.
        unsafe {
            let ctl = _mm256_cmpeq_epi8(_mm256_min_epu8(v, self.ctl), v);
            let tab = _mm256_cmpeq_epi8(v, self.tab);
            let del = _mm256_cmpeq_epi8(v, self.del);
            _mm256_movemask_epi8(_mm256_or_si256(_mm256_andnot_si256(tab, ctl), del)) as u32
        }
    }

    /// The CRs of the 64 bytes of `buf` from `at`, a bit each (bit `i` for `at + i`).
    ///
    /// # Safety
    /// `at + 64 <= buf.len()` (without wrapping around).
    #[inline(always)]
    unsafe fn crs(self, buf: &[u8], at: usize) -> u64 {
        // SAFETY: the caller guarantees 64 readable bytes at `at`; `self.avx2` proves AVX2.
        unsafe {
            let lo = self.avx2.load32(buf, at);
            let hi = self.avx2.load32(buf, at + 32);
            let lo = _mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, self.cr)) as u32;
            let hi = _mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, self.cr)) as u32;
            u64::from(lo) | u64::from(hi) << 32
        }
    }
}

impl Avx2 {
    /// [`Scanner::field_lines`] with AVX2: one loop for the whole block of field lines, so that
    /// the vectors it classifies with ([`LineClasses`]) stay in registers across lines, and
    /// each line's end comes from CR bits found ahead of it, 64 bytes at a time (one `tzcnt`
    /// gives the CR, one `blsr` drops it once the line is taken), not from a load at the
    /// line's start that waits for the previous line's end. One 32-byte load classifies the
    /// name and, for a line shorter than 32 bytes, the value.
    #[inline(always)]
    fn take_field_lines(
        self,
        buf: &[u8],
        mut pos: usize,
        end: usize,
        slots: &mut IterMut<'_, RawHeader>,
        mut take: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> LinesTaken {
        let end = end.min(buf.len());
        let stopped = |pos| LinesTaken {
            pos,
            head_ended: false,
        };
        if pos >= end {
            return stopped(pos);
        }
        let k = LineClasses::new(self);
        // The CRs of the 64 bytes before `next_block` (bit `i` for `next_block - 64 + i`)
        // that are at or after `pos`: no CR lies in `pos..next_block` other than those.
        // Invariant: every bit stands for a CR at `cr` with `cr + 1 < end <= buf.len()`, so
        // that its LF can be read; `pos <= end`.
        let mut crs: u64 = 0;
        let mut next_block = pos;
        loop {
            // The name, ended by a colon at `colon`, and the line's CR at `cr`, with
            // `pos < colon < cr`, `cr + 1 < end` and no byte outside the value class in
            // `colon..cr`.
            let (colon, cr) = 'line: {
                if crs == 0 {
                    // The next 64 bytes from `max(next_block, pos)`. Only CRs with room for
                    // their LF are kept: when 64 bytes and one more are not left, the last 64
                    // before `end` are read, shifted to start at `at`, without their last
                    // bit; after that, `next_block` is past `end` and no bits come any more.
                    let at = next_block.max(pos);
                    next_block = at + 64;
                    if at + 64 < end {
                        // SAFETY: at + 64 < end <= buf.len().
                        crs = unsafe { k.crs(buf, at) };
                        if crs == 0 && at + 128 < end {
                            // A line longer than 64 bytes (`at` is its start or inside
                            // it): a user agent's, a referrer's.
                            next_block = at + 128;
                            // SAFETY: at + 128 < end <= buf.len().
                            crs = unsafe { k.crs(buf, at + 64) };
                        }
                        if crs == 0 {
                            // A line longer than 64 bytes (`at` is its start or inside it):
                            // its end comes from a scan.
                            match self.long_field_line(buf, pos, end) {
                                Some(line) => break 'line line,
                                None => return stopped(pos),
                            }
                        }
                    } else if at + 1 < end && end >= 64 {
                        let base = end - 64;
                        // SAFETY: base + 64 == end <= buf.len(). `base < at` (at + 64 >= end).
                        crs = (unsafe { k.crs(buf, base) } & u64::MAX >> 1) >> (at - base);
                        if crs == 0 {
                            return stopped(pos);
                        }
                    } else {
                        return stopped(pos);
                    }
                }
                let cr = next_block - 64 + crs.trailing_zeros() as usize;
                // The CR was found ahead: it is the lowest bit, dropped here.
                crs &= crs - 1;
                // Below, `cr < pos` (which the invariant excludes) wraps around to a large
                // count, which no test accepts.
                let to_cr = cr.wrapping_sub(pos);
                if to_cr == 0 {
                    // SAFETY: cr + 1 < end <= buf.len() (the invariant).
                    let lf = unsafe { *buf.get_unchecked(cr + 1) };
                    if lf != b'\n' {
                        return stopped(pos);
                    }
                    return LinesTaken {
                        pos: cr + 2,
                        head_ended: true,
                    };
                }
                if pos + 32 <= end {
                    // SAFETY: pos + 32 <= end <= buf.len().
                    let v = unsafe { self.load32(buf, pos) };
                    let name_len = k.token_miss(v).trailing_zeros() as usize;
                    if name_len.wrapping_sub(1) >= 31
                        // SAFETY: 1 <= name_len <= 31 (the test before):
                        // pos + name_len < pos + 32 <= buf.len().
                        || unsafe { *buf.get_unchecked(pos + name_len) } != b':'
                    {
                        return stopped(pos);
                    }
                    let miss = k.value_miss(v);
                    if to_cr < 32 {
                        // The CR is the first miss. (It comes after the name and the colon,
                        // which are value bytes; the test of `name_len` is for the reads'
                        // sake.)
                        if miss.trailing_zeros() as usize != to_cr || name_len >= to_cr {
                            return stopped(pos);
                        }
                    } else if miss != 0 || self.value_end(buf, pos + 32, end) != cr {
                        // A long line: no miss in the first 32 bytes, and the first one
                        // after them at `cr`.
                        return stopped(pos);
                    }
                    break 'line (pos + name_len, cr);
                }
                // The last line: the 32 bytes ending at `end`, with those before `pos`
                // shifted out (0 <= shift < 32: end - 32 <= pos < end).
                if end < 32 || to_cr >= end - pos {
                    return stopped(pos);
                }
                let base = end - 32;
                let shift = pos - base;
                // SAFETY: base + 32 == end <= buf.len().
                let v = unsafe { self.load32(buf, base) };
                let name_len = (k.token_miss(v) >> shift).trailing_zeros() as usize;
                let miss = k.value_miss(v) >> shift;
                if name_len == 0
                    || name_len >= to_cr
                    // SAFETY: name_len < to_cr < end - pos (the tests before):
                    // pos + name_len < end <= buf.len().
                    || unsafe { *buf.get_unchecked(pos + name_len) } != b':'
                    || miss.trailing_zeros() as usize != to_cr
                {
                    return stopped(pos);
                }
                (pos + name_len, cr)
            };
            // `cr + 1 < end <= buf.len()`: every index read below is at most `cr + 1`.
            // SAFETY: as said.
            let (lf, space, first, last) = unsafe {
                (
                    *buf.get_unchecked(cr + 1),
                    *buf.get_unchecked(colon + 1),
                    *buf.get_unchecked(colon + 2),
                    *buf.get_unchecked(cr - 1),
                )
            };
            // No slot left: the caller reports it.
            if lf != b'\n' || slots.len() == 0 {
                return stopped(pos);
            }
            // Usually exactly one space follows the colon and none precedes the CR (among
            // value bytes, only SP and HTAB are at most `b' '`; the CR is too, for an empty
            // value); anything else is trimmed out of line.
            let (value_start, value_end) = if space == b' ' && first > b' ' && last > b' ' {
                (colon + 2, cr)
            } else {
                trim_ows(buf, colon + 1, cr)
            };
            // SAFETY: pos < colon < buf.len(); colon + 1 <= value_start <= value_end <= cr <
            // buf.len() (`trim_ows` narrows the span it is given).
            let (name, value) = unsafe {
                (
                    buf.get_unchecked(pos..colon),
                    buf.get_unchecked(value_start..value_end),
                )
            };
            if !take(name, value) {
                return stopped(pos);
            }
            // `slots.len() > 0`: `next` gives a slot.
            if let Some(slot) = slots.next() {
                *slot = RawHeader::new((pos, colon), (value_start, value_end));
            }
            pos = cr + 2;
        }
    }

    /// A field line at `pos` longer than the CR bits of two 64-byte blocks reach (a
    /// cookie): the name, ended by a colon, in its first 32 bytes, and value bytes up to a
    /// CR with room for its LF before `end`. Returns `(colon, cr)` with `pos < colon < cr`,
    /// `cr + 1 < end`. (Written as a function of its own, with the scanners of a
    /// `#[target_feature]` function: in this form the field-line loop around it keeps its
    /// registers, 1,411 instructions per browser request against 1,450 with the scan
    /// inlined as a block of the loop.)
    #[inline(always)]
    fn long_field_line(self, buf: &[u8], pos: usize, end: usize) -> Option<(usize, usize)> {
        #[target_feature(enable = "avx2,bmi1,bmi2")]
        fn with_avx2(avx2: Avx2, buf: &[u8], pos: usize, end: usize) -> Option<(usize, usize)> {
            let end = end.min(buf.len());
            if end.checked_sub(pos)? < 32 {
                return None;
            }
            // SAFETY: pos + 32 <= end <= buf.len() (pos <= end).
            let v = unsafe { avx2.load32(buf, pos) };
            let name_len = avx2.token_miss(v).trailing_zeros() as usize;
            // 1 <= name_len <= 31: pos + name_len < pos + 32 <= buf.len().
            if name_len.wrapping_sub(1) >= 31
                || buf.get(pos + name_len) != Some(&b':')
                || avx2.value_miss(v) != 0
            {
                return None;
            }
            // At least pos + 32 (the reading contract).
            let cr = avx2.value_end(buf, pos + 32, end);
            (cr + 1 < end && buf.get(cr) == Some(&b'\r')).then_some((pos + name_len, cr))
        }
        // SAFETY: `self` exists only on a CPU with AVX2, BMI1 and BMI2 (`detect`).
        unsafe { with_avx2(self, buf, pos, end) }
    }
}
