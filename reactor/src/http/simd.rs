//! Byte scanners: the three hot loops of the parser (token, request target, field value),
//! in a portable version (SWAR on `u64` words plus tables), an SSE2 version (small heads, and
//! x86_64 CPUs without AVX2) and an AVX2 version.
//!
//! # Choosing a scanner
//! `is_x86_feature_detected!` lives in `std`, so this `no_std` crate detects AVX2 itself:
//! `cpuid` leaf 7 for AVX2 (and BMI1 and BMI2, which the AVX2 code is compiled with), leaf 1
//! for OSXSAVE + AVX, and `xgetbv` to check that the OS saves the YMM registers. The answer is
//! cached in an atomic. A build with `-C target-feature=+avx2,+bmi1,+bmi2` (or
//! `target-cpu=native` on an AVX2 machine) skips the check. Other architectures use the
//! portable scanners, which are also reachable on purpose through
//! [`ParserConfig::use_simd`](super::ParserConfig).
//!
//! Every scanner has the same contract: given `pos <= end <= buf.len()`, return the index of
//! the first byte in `buf[pos..end]` outside the class, or `end` when there is none. They read
//! no byte outside `buf[pos..end]`.

use super::chars;

/// A set of scanners.
pub(crate) trait Scan {
    /// Whether one vector load classifies a typical field line (AVX2).
    const WIDE: bool = false;

    /// First byte in `buf[pos..end]` that is not a token character.
    ///
    /// # Safety
    /// The CPU supports the scanner's target features.
    unsafe fn token_end(buf: &[u8], pos: usize, end: usize) -> usize;
    /// First byte in `buf[pos..end]` that may not appear in a request target.
    ///
    /// # Safety
    /// The CPU supports the scanner's target features.
    unsafe fn target_end(buf: &[u8], pos: usize, end: usize) -> usize;
    /// First byte in `buf[pos..end]` that may not appear in a field value.
    ///
    /// # Safety
    /// The CPU supports the scanner's target features.
    unsafe fn value_end(buf: &[u8], pos: usize, end: usize) -> usize;

    /// Whether every byte of `buf[start..end]` is a letter, a digit, `.` or `-`: a `Host`
    /// value that needs no closer look (a subset of what
    /// [`valid_host`](super::chars::valid_host) accepts). `false` means "not known", and the
    /// caller runs the full check; this default never knows. `start <= end <= buf.len()`.
    #[inline(always)]
    fn plain_host(buf: &[u8], start: usize, end: usize) -> bool {
        let _ = (buf, start, end);
        false
    }

    /// A whole field line at `pos`, when it looks ordinary: a non-empty token name ending in
    /// `:` at `colon`, then value bytes up to `stop`, the first byte after the colon that may
    /// not appear in a value (normally the CR), with `stop < end`. `None` means "use the
    /// byte-by-byte path", never "invalid". Same reading contract as the scanners.
    ///
    /// # Safety
    /// The CPU supports the scanner's target features.
    #[inline(always)]
    unsafe fn field_line(buf: &[u8], pos: usize, end: usize) -> Option<(usize, usize)> {
        // SAFETY: the caller's guarantee is passed on.
        let colon = unsafe { Self::token_end(buf, pos, end) };
        if colon == pos || colon >= end || buf[colon] != b':' {
            return None;
        }
        // SAFETY: as above.
        let stop = unsafe { Self::value_end(buf, colon + 1, end) };
        (stop < end).then_some((colon, stop))
    }

    /// The CRs among the 64 bytes of `buf` from `at`, a bit each (bit `i` for `at + i`):
    /// where the lines end, found ahead of them. Used only where [`WIDE`](Self::WIDE).
    ///
    /// # Safety
    /// The CPU supports the scanner's target features, and `at + 64 <= buf.len()`.
    #[inline(always)]
    unsafe fn cr_mask64(buf: &[u8], at: usize) -> u64 {
        buf[at..at + 64]
            .iter()
            .rev()
            .fold(0, |m, &b| m << 1 | u64::from(b == b'\r'))
    }

    /// The field line at `pos` whose first CR is known to be at `cr` (`cr < end`), when it is
    /// ordinary: returns the colon, as [`field_line`](Self::field_line) would with
    /// `stop == cr`; `None` when `cr < pos`. Same reading contract.
    ///
    /// # Safety
    /// The CPU supports the scanner's target features.
    #[inline(always)]
    unsafe fn field_line_to(buf: &[u8], pos: usize, cr: usize, end: usize) -> Option<usize> {
        // SAFETY: the caller's guarantee is passed on.
        let (colon, stop) = unsafe { Self::field_line(buf, pos, end) }?;
        (stop == cr).then_some(colon)
    }

    /// An ordinary request line's method and target at the start of `buf`: returns
    /// `(method_end, target_end)`, both non-empty and each followed by a space, with
    /// `target_end < end`. `None` means "use the byte-by-byte path", never "invalid". Same
    /// reading contract as the scanners.
    ///
    /// # Safety
    /// The CPU supports the scanner's target features.
    #[inline(always)]
    unsafe fn request_line(buf: &[u8], end: usize) -> Option<(usize, usize)> {
        let end = end.min(buf.len());
        if end < 4 {
            return None;
        }
        let method_end = if buf[..4] == *b"GET " {
            3
        } else {
            // SAFETY: the caller's guarantee is passed on.
            let m = unsafe { Self::token_end(buf, 0, end) };
            if m == 0 || m >= end || buf[m] != b' ' {
                return None;
            }
            m
        };
        let target = method_end + 1;
        // SAFETY: as above; `target <= end` (`end >= 4`, or `buf[m]` is a space before `end`).
        let target_end = unsafe { Self::target_end(buf, target, end) };
        if target_end == target || target_end >= end || buf[target_end] != b' ' {
            return None;
        }
        Some((method_end, target_end))
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Non-zero when some byte of `x` is below `n` (`n <= 128`; exact as a yes/no answer).
#[inline(always)]
const fn less_mask(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES * n as u64) & !x & HIGHS
}

/// Non-zero when some byte of `x` equals `n` (exact as a yes/no answer).
#[inline(always)]
const fn byte_mask(x: u64, n: u8) -> u64 {
    let y = x ^ (ONES * n as u64);
    y.wrapping_sub(ONES) & !y & HIGHS
}

/// Non-zero when some byte of `x` is above 0x7e (DEL or non-ASCII).
#[inline(always)]
const fn above_tilde_mask(x: u64) -> u64 {
    (x.wrapping_add(ONES) | x) & HIGHS
}

#[inline(always)]
fn word(w: &[u8]) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(w);
    u64::from_le_bytes(a)
}

/// Scans `buf[pos..end]`: `word_misses` is non-zero when a word may hold a byte outside the
/// class (false alarms are fine), `class` decides byte by byte. The first 32 bytes (where most
/// values and targets end) go a word at a time, inline; the rest of a long span sixteen bytes
/// at a time, out of line ([`scan_blocks`]).
#[inline(always)]
fn scan_words(
    buf: &[u8],
    pos: usize,
    end: usize,
    word_misses: impl Fn(u64) -> u64,
    class: impl Fn(u8) -> bool,
) -> usize {
    let end = end.min(buf.len());
    let Some(mut s) = buf.get(pos..end) else {
        return pos.max(end);
    };
    let mut at = pos;
    if s.len() >= 96 {
        let (first, rest) = s.split_at(32);
        if let Some(i) = scan_word_loop(first, &word_misses, &class) {
            return at + i;
        }
        at += 32;
        match scan_blocks(rest, &word_misses, &class) {
            Ok(i) => return at + i,
            Err(scanned) => {
                at += scanned;
                s = &rest[scanned..];
            }
        }
    }
    match scan_word_loop(s, &word_misses, &class) {
        Some(i) => at + i,
        None => end,
    }
}

/// `s` a word at a time, then byte by byte: the offset of the first byte outside the class.
#[inline(always)]
fn scan_word_loop(
    s: &[u8],
    word_misses: &impl Fn(u64) -> u64,
    class: &impl Fn(u8) -> bool,
) -> Option<usize> {
    let mut words = s.chunks_exact(8);
    let mut at = 0;
    for w in &mut words {
        if word_misses(word(w)) != 0 {
            if let Some(i) = w.iter().position(|&b| !class(b)) {
                return Some(at + i);
            }
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| !class(b))
        .map(|i| at + i)
}

/// The long-span loop of [`scan_words`], sixteen bytes (two words, one branch) at a time,
/// out of line so that short spans keep a small inlined loop. `Ok` is the offset of the first
/// byte outside the class; `Err` how many bytes were found to be inside it (a multiple of 16,
/// less than 16 left).
#[inline(never)]
fn scan_blocks(
    s: &[u8],
    word_misses: &impl Fn(u64) -> u64,
    class: &impl Fn(u8) -> bool,
) -> Result<usize, usize> {
    let mut at = 0;
    for w in s.chunks_exact(16) {
        let (lo, hi) = w.split_at(8);
        if word_misses(word(lo)) | word_misses(word(hi)) != 0 {
            if let Some(i) = w.iter().position(|&b| !class(b)) {
                return Ok(at + i);
            }
        }
        at += 16;
    }
    Err(at)
}

/// Tables and SWAR on 64-bit words; no unsafe, no target features.
pub(crate) struct Portable;

impl Portable {
    #[inline(always)]
    pub(crate) fn token_end(buf: &[u8], pos: usize, end: usize) -> usize {
        let end = end.min(buf.len());
        let Some(s) = buf.get(pos..end) else {
            return pos.max(end);
        };
        let mut i = 0;
        while let Some(&[a, b, c, d]) = s.get(i..i + 4) {
            if !chars::token(a) {
                return pos + i;
            }
            if !chars::token(b) {
                return pos + i + 1;
            }
            if !chars::token(c) {
                return pos + i + 2;
            }
            if !chars::token(d) {
                return pos + i + 3;
            }
            i += 4;
        }
        while let Some(&b) = s.get(i) {
            if !chars::token(b) {
                return pos + i;
            }
            i += 1;
        }
        end
    }

    #[inline(always)]
    pub(crate) fn target_end(buf: &[u8], pos: usize, end: usize) -> usize {
        scan_words(
            buf,
            pos,
            end,
            |x| less_mask(x, 0x21) | above_tilde_mask(x),
            chars::target_byte,
        )
    }

    #[inline(always)]
    pub(crate) fn value_end(buf: &[u8], pos: usize, end: usize) -> usize {
        // HTAB is below 0x20 but allowed: a word holding one is checked byte by byte.
        scan_words(
            buf,
            pos,
            end,
            |x| less_mask(x, 0x20) | byte_mask(x, 0x7f),
            chars::value_byte,
        )
    }
}

impl Scan for Portable {
    #[inline(always)]
    unsafe fn token_end(buf: &[u8], pos: usize, end: usize) -> usize {
        Portable::token_end(buf, pos, end)
    }
    #[inline(always)]
    unsafe fn target_end(buf: &[u8], pos: usize, end: usize) -> usize {
        Portable::target_end(buf, pos, end)
    }
    #[inline(always)]
    unsafe fn value_end(buf: &[u8], pos: usize, end: usize) -> usize {
        Portable::value_end(buf, pos, end)
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::{Avx2, Sse2, avx2_available};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Portable, Scan};
    use crate::http::chars;
    use core::arch::x86_64::*;
    use core::sync::atomic::{AtomicU8, Ordering};

    const UNKNOWN: u8 = 0;
    const ABSENT: u8 = 1;
    const PRESENT: u8 = 2;
    static AVX2: AtomicU8 = AtomicU8::new(UNKNOWN);

    /// Whether the CPU and the OS support AVX2, and the CPU BMI1 and BMI2 (which every AVX2
    /// CPU has, and the AVX2 functions are compiled with: `tzcnt` without a fallback value,
    /// shifts by any register), detected once, then cached.
    #[inline]
    pub(crate) fn avx2_available() -> bool {
        if cfg!(all(
            target_feature = "avx2",
            target_feature = "bmi1",
            target_feature = "bmi2"
        )) {
            return true;
        }
        match AVX2.load(Ordering::Relaxed) {
            PRESENT => true,
            ABSENT => false,
            _ => {
                let present = detect_avx2();
                AVX2.store(if present { PRESENT } else { ABSENT }, Ordering::Relaxed);
                present
            }
        }
    }

    #[cold]
    fn detect_avx2() -> bool {
        // cpuid exists on every x86_64 CPU.
        let max_leaf = __cpuid(0).eax;
        if max_leaf < 7 {
            return false;
        }
        let leaf1 = __cpuid(1);
        let osxsave = leaf1.ecx & (1 << 27) != 0;
        let avx = leaf1.ecx & (1 << 28) != 0;
        if !(osxsave && avx) {
            return false;
        }
        // SAFETY: OSXSAVE is set, so the CPU has XGETBV and the OS enabled it (CR4.OSXSAVE).
        let xcr0 = unsafe { _xgetbv(0) };
        // Bits 1 and 2: the OS saves and restores the XMM and YMM state.
        if xcr0 & 0b110 != 0b110 {
            return false;
        }
        // Bits 3, 5 and 8: BMI1, AVX2, BMI2.
        let bits = 1 << 3 | 1 << 5 | 1 << 8;
        __cpuid_count(7, 0).ebx & bits == bits
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

    /// Loads 32 bytes of `buf` at `pos`.
    ///
    /// # Safety
    /// `pos + 32 <= buf.len()`.
    #[inline(always)]
    unsafe fn load32(buf: &[u8], pos: usize) -> __m256i {
        debug_assert!(pos + 32 <= buf.len());
        // SAFETY: the caller guarantees 32 readable bytes at `pos`; loadu has no alignment
        // requirement.
        unsafe { _mm256_loadu_si256(buf.as_ptr().add(pos).cast()) }
    }

    // The helpers below are `#[inline(always)]` without `#[target_feature]`: they inline into
    // the AVX2 state machine (`RequestParser::run_avx2`, compiled with AVX2 enabled) and so
    // do the intrinsics they call. A `#[target_feature]` function could only be `#[inline]`,
    // and the compiler kept the scanners out of line, a call per field line.

    /// The bytes of `v` outside the token class, as a bit mask.
    ///
    /// # Safety
    /// The CPU supports AVX2.
    #[inline(always)]
    unsafe fn token_miss(v: __m256i) -> u32 {
        // SAFETY: the caller guarantees AVX2.
        unsafe { class_miss(v, TOKEN_NIBBLES) }
    }

    /// The start of a field line whose 32 bytes from `pos` hold its name and colon: the
    /// name's length and the bytes of those 32 outside the value class (`None` for an empty
    /// name, one that fills the 32 bytes, or one not ended by a colon).
    ///
    /// # Safety
    /// The CPU supports AVX2 and `pos + 32 <= buf.len()`.
    #[inline(always)]
    unsafe fn name_and_value_miss(buf: &[u8], pos: usize) -> Option<(usize, u32)> {
        // SAFETY: the caller guarantees pos + 32 <= buf.len().
        let v = unsafe { load32(buf, pos) };
        // SAFETY: the caller guarantees AVX2.
        let name_len = unsafe { token_miss(v) }.trailing_zeros() as usize;
        if name_len == 0 || name_len == 32 {
            return None;
        }
        // SAFETY: name_len < 32, so pos + name_len < pos + 32 <= buf.len().
        if unsafe { *buf.get_unchecked(pos + name_len) } != b':' {
            return None;
        }
        // SAFETY: the caller guarantees AVX2.
        Some((name_len, unsafe { value_miss(v) }))
    }

    /// The bytes of `v` outside the class of the nibble tables `tables`, as a bit mask.
    ///
    /// # Safety
    /// The CPU supports AVX2.
    #[inline(always)]
    unsafe fn class_miss(v: __m256i, tables: ([u8; 16], [u8; 16])) -> u32 {
        let (lo, hi) = tables;
        // SAFETY: both tables are 16 bytes (loadu has no alignment requirement); the caller
        // guarantees AVX2.
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
    ///
    /// # Safety
    /// The CPU supports AVX2.
    #[inline(always)]
    unsafe fn target_miss(v: __m256i) -> u32 {
        // SAFETY: the caller guarantees AVX2.
        unsafe {
            // Signed compares: bytes >= 0x80 are negative, so they fail `> 0x20`.
            let above_space = _mm256_cmpgt_epi8(v, _mm256_set1_epi8(0x20));
            let below_del = _mm256_cmpgt_epi8(_mm256_set1_epi8(0x7f), v);
            !(_mm256_movemask_epi8(_mm256_and_si256(above_space, below_del)) as u32)
        }
    }

    /// The bytes of `v` that may not appear in a field value (controls but HTAB, and DEL).
    ///
    /// # Safety
    /// The CPU supports AVX2.
    #[inline(always)]
    unsafe fn value_miss(v: __m256i) -> u32 {
        // SAFETY: the caller guarantees AVX2.
        unsafe {
            let ctl = _mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8(0x1f)), v);
            let tab = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\t' as i8));
            let del = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(0x7f));
            _mm256_movemask_epi8(_mm256_or_si256(_mm256_andnot_si256(tab, ctl), del)) as u32
        }
    }

    /// Runs `miss` over `buf[pos..end]` 32 bytes at a time. The last, partial block is read as
    /// the 32 bytes ending at `end` with the already-scanned bytes masked off, so short tails
    /// need no byte loop as long as the buffer holds 32 bytes before `end`.
    ///
    /// # Safety
    /// The CPU supports AVX2.
    #[inline(always)]
    unsafe fn scan(
        buf: &[u8],
        mut pos: usize,
        end: usize,
        miss: unsafe fn(__m256i) -> u32,
        portable: fn(&[u8], usize, usize) -> usize,
    ) -> usize {
        let end = end.min(buf.len());
        // Most spans end in their first 32 bytes; longer ones (a cookie) go on 64 bytes at a
        // time, one branch per two loads.
        if pos + 32 <= end {
            // SAFETY: pos + 32 <= end <= buf.len(); the caller guarantees AVX2.
            let m = unsafe { miss(load32(buf, pos)) };
            if m != 0 {
                return pos + m.trailing_zeros() as usize;
            }
            pos += 32;
        }
        while pos + 64 <= end {
            // SAFETY: pos + 64 <= end <= buf.len(); the caller guarantees AVX2.
            let (lo, hi) = unsafe { (miss(load32(buf, pos)), miss(load32(buf, pos + 32))) };
            let m = u64::from(lo) | u64::from(hi) << 32;
            if m != 0 {
                return pos + m.trailing_zeros() as usize;
            }
            pos += 64;
        }
        while pos + 32 <= end {
            // SAFETY: pos + 32 <= end <= buf.len(); the caller guarantees AVX2.
            let m = unsafe { miss(load32(buf, pos)) };
            if m != 0 {
                return pos + m.trailing_zeros() as usize;
            }
            pos += 32;
        }
        if pos >= end {
            return end;
        }
        if end >= 32 {
            let start = end - 32;
            // SAFETY: start + 32 == end <= buf.len(); the caller guarantees AVX2.
            let m = unsafe { miss(load32(buf, start)) } >> (pos - start);
            return if m != 0 {
                pos + m.trailing_zeros() as usize
            } else {
                end
            };
        }
        portable(buf, pos, end)
    }

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

    /// [`value_miss`] on 16 bytes, with SSE2 (part of x86_64).
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

    /// The bytes of `v` that are not letters, digits, `.` or `-` (see [`Scan::plain_host`]),
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

    /// [`Scan::plain_host`] with SSE2. A value of at most 16 bytes (most hosts) takes one
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

    /// [`target_miss`] on 16 bytes, with SSE2.
    #[inline(always)]
    fn target_miss16(v: __m128i) -> u32 {
        // SAFETY: every x86_64 CPU has SSE2.
        unsafe {
            let above_space = _mm_cmpgt_epi8(v, _mm_set1_epi8(0x20));
            let below_del = _mm_cmpgt_epi8(_mm_set1_epi8(0x7f), v);
            !(_mm_movemask_epi8(_mm_and_si128(above_space, below_del)) as u32) & 0xffff
        }
    }

    /// [`scan`] 16 bytes at a time with SSE2.
    #[inline(always)]
    fn scan16(
        buf: &[u8],
        mut pos: usize,
        end: usize,
        miss: fn(__m128i) -> u32,
        portable: fn(&[u8], usize, usize) -> usize,
    ) -> usize {
        let end = end.min(buf.len());
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
            let start = end - 16;
            // SAFETY: start + 16 == end <= buf.len().
            let m = miss(unsafe { load16(buf, start) }) >> (pos - start);
            return if m != 0 {
                pos + m.trailing_zeros() as usize
            } else {
                end
            };
        }
        portable(buf, pos, end)
    }

    /// SSE2 scanners (every x86_64 CPU has SSE2, so they need no detection and no
    /// `#[target_feature]`, and inline anywhere): 16 bytes at a time for targets and values;
    /// names, which are short and need a table lookup that SSE2 lacks, byte by byte. For
    /// small heads, where AVX2's set-up and the call into an AVX2 function cost more than
    /// the wider loads save.
    pub(crate) struct Sse2;

    impl Scan for Sse2 {
        #[inline(always)]
        unsafe fn token_end(buf: &[u8], pos: usize, end: usize) -> usize {
            Portable::token_end(buf, pos, end)
        }
        #[inline(always)]
        unsafe fn target_end(buf: &[u8], pos: usize, end: usize) -> usize {
            scan16(buf, pos, end, target_miss16, short_target_end)
        }
        #[inline(always)]
        unsafe fn value_end(buf: &[u8], pos: usize, end: usize) -> usize {
            scan16(buf, pos, end, value_miss16, short_value_end)
        }

        /// Short request lines (`GET / HTTP/1.1` is 14 bytes) have their method and target in
        /// the first 16 bytes: one load finds both ends.
        #[inline(always)]
        unsafe fn request_line(buf: &[u8], end: usize) -> Option<(usize, usize)> {
            let end = end.min(buf.len());
            if end < 16 {
                // SAFETY: the portable default needs no CPU feature.
                return unsafe { Portable::request_line(buf, end) };
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
                // SAFETY: SSE2 is part of x86_64; 16 <= end.
                unsafe { Self::target_end(buf, 16, end) }
            };
            if target_end == target || target_end >= end || buf[target_end] != b' ' {
                return None;
            }
            Some((method_end, target_end))
        }

        #[inline(always)]
        fn plain_host(buf: &[u8], start: usize, end: usize) -> bool {
            plain_host16(buf, start, end)
        }
    }

    // The portable scanners for spans in buffers too short for one vector load, kept out of
    // line: rare, and inlined they would only crowd the fast path.
    #[inline(never)]
    fn short_token_end(buf: &[u8], pos: usize, end: usize) -> usize {
        Portable::token_end(buf, pos, end)
    }
    #[inline(never)]
    fn short_target_end(buf: &[u8], pos: usize, end: usize) -> usize {
        Portable::target_end(buf, pos, end)
    }
    #[inline(never)]
    fn short_value_end(buf: &[u8], pos: usize, end: usize) -> usize {
        Portable::value_end(buf, pos, end)
    }

    /// The AVX2 scanners.
    pub(crate) struct Avx2;

    impl Scan for Avx2 {
        const WIDE: bool = true;

        #[inline(always)]
        fn plain_host(buf: &[u8], start: usize, end: usize) -> bool {
            plain_host16(buf, start, end)
        }

        #[inline(always)]
        unsafe fn token_end(buf: &[u8], pos: usize, end: usize) -> usize {
            // SAFETY: the caller guarantees AVX2.
            unsafe { scan(buf, pos, end, token_miss, short_token_end) }
        }
        #[inline(always)]
        unsafe fn target_end(buf: &[u8], pos: usize, end: usize) -> usize {
            // SAFETY: the caller guarantees AVX2.
            unsafe { scan(buf, pos, end, target_miss, short_target_end) }
        }
        #[inline(always)]
        unsafe fn value_end(buf: &[u8], pos: usize, end: usize) -> usize {
            // SAFETY: the caller guarantees AVX2.
            unsafe { scan(buf, pos, end, value_miss, short_value_end) }
        }

        /// Most request lines have their method and target in the first 32 bytes: one load
        /// finds both.
        #[inline(always)]
        unsafe fn request_line(buf: &[u8], end: usize) -> Option<(usize, usize)> {
            let end = end.min(buf.len());
            if end < 32 {
                // SAFETY: the portable default needs no CPU feature.
                return unsafe { Portable::request_line(buf, end) };
            }
            // SAFETY: 32 <= end <= buf.len().
            let v = unsafe { load32(buf, 0) };
            let method_end = if buf[..4] == *b"GET " {
                3
            } else {
                // SAFETY: the caller guarantees AVX2.
                let m = unsafe { token_miss(v) }.trailing_zeros() as usize;
                if m == 0 || m == 32 || buf[m] != b' ' {
                    return None;
                }
                m
            };
            let target = method_end + 1;
            // The method ended inside the block, but the target may start right after it.
            let miss = if target < 32 {
                // SAFETY: the caller guarantees AVX2.
                (unsafe { target_miss(v) }) >> target
            } else {
                0
            };
            let target_end = if miss != 0 {
                target + miss.trailing_zeros() as usize
            } else {
                // SAFETY: the caller guarantees AVX2; 32 <= end.
                unsafe { Self::target_end(buf, 32, end) }
            };
            if target_end == target || target_end >= end || buf[target_end] != b' ' {
                return None;
            }
            Some((method_end, target_end))
        }

        #[inline(always)]
        unsafe fn cr_mask64(buf: &[u8], at: usize) -> u64 {
            debug_assert!(at + 64 <= buf.len());
            // SAFETY: at + 64 <= buf.len(); the caller guarantees AVX2.
            unsafe {
                let cr = _mm256_set1_epi8(b'\r' as i8);
                let lo = _mm256_movemask_epi8(_mm256_cmpeq_epi8(load32(buf, at), cr)) as u32;
                let hi = _mm256_movemask_epi8(_mm256_cmpeq_epi8(load32(buf, at + 32), cr)) as u32;
                u64::from(lo) | u64::from(hi) << 32
            }
        }

        /// One load classifies the name and, for a line shorter than 32 bytes, the value,
        /// which must have no byte outside the class before the CR. Nothing here is on the
        /// way from this line's start to the next one's: `cr` is known.
        #[inline(always)]
        unsafe fn field_line_to(buf: &[u8], pos: usize, cr: usize, end: usize) -> Option<usize> {
            let end = end.min(buf.len());
            if pos + 32 > end {
                return None;
            }
            // SAFETY: pos + 32 <= end <= buf.len(); the caller guarantees AVX2.
            let (name_len, miss) = unsafe { name_and_value_miss(buf, pos) }?;
            // `cr < pos` wraps around to a large count: a long line, whose scan below does
            // not stop at `cr`.
            let to_cr = cr.wrapping_sub(pos);
            if to_cr < 32 {
                // The CR is a miss: the first one.
                return (miss.trailing_zeros() as usize == to_cr).then_some(pos + name_len);
            }
            // SAFETY: the caller guarantees AVX2.
            let ok = miss == 0 && unsafe { Self::value_end(buf, pos + 32, end) } == cr;
            ok.then_some(pos + name_len)
        }

        /// Most field lines fit in 32 bytes: one load classifies the name and the value.
        #[inline(always)]
        unsafe fn field_line(buf: &[u8], pos: usize, end: usize) -> Option<(usize, usize)> {
            let end = end.min(buf.len());
            if pos + 32 <= end {
                // The usual case, with no shifting: 32 bytes from `pos`.
                // SAFETY: pos + 32 <= end <= buf.len(); the caller guarantees AVX2.
                let (name_len, miss) = unsafe { name_and_value_miss(buf, pos) }?;
                if miss != 0 {
                    // Inside the 32 bytes, so before `end`.
                    return Some((pos + name_len, pos + miss.trailing_zeros() as usize));
                }
                // SAFETY: the caller guarantees AVX2.
                let stop = unsafe { Self::value_end(buf, pos + 32, end) };
                return (stop < end).then_some((pos + name_len, stop));
            }
            // The 32 bytes from `pos`, or, when the line starts in the last 32 bytes, those
            // with the bytes before `pos` shifted out and the bytes past `end` counted as
            // misses.
            let (v, shift) = if pos + 32 <= end {
                // SAFETY: pos + 32 <= end <= buf.len().
                (unsafe { load32(buf, pos) }, 0)
            } else if pos < end && end >= 32 {
                // SAFETY: (end - 32) + 32 == end <= buf.len().
                (unsafe { load32(buf, end - 32) }, pos - (end - 32))
            } else {
                // SAFETY: the portable default needs no CPU feature.
                return unsafe { Portable::field_line(buf, pos, end) };
            };
            let past_end = !(u32::MAX >> shift);
            // SAFETY: the caller guarantees AVX2.
            let token = unsafe { token_miss(v) } >> shift | past_end;
            let name_len = token.trailing_zeros() as usize;
            if name_len == 0
                || name_len == 32
                || pos + name_len >= end
                || buf[pos + name_len] != b':'
            {
                return None;
            }
            // Token characters and the colon are value bytes too, so the first byte from
            // `pos` that is not a value byte ends the line: finding it does not wait for the
            // name's classification, which only has to confirm the colon.
            // SAFETY: the caller guarantees AVX2.
            let miss = unsafe { value_miss(v) } >> shift | past_end;
            let stop = if miss != 0 {
                pos + miss.trailing_zeros() as usize
            } else {
                // Only a whole 32-byte block can be free of misses.
                // SAFETY: the caller guarantees AVX2.
                unsafe { Self::value_end(buf, pos + 32, end) }
            };
            (stop < end).then_some((pos + name_len, stop))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type ScanFn = fn(&[u8], usize, usize) -> usize;

    const ALL_BYTES: [u8; 256] = {
        let mut all = [0; 256];
        let mut i = 0;
        while i < 256 {
            all[i] = i as u8;
            i += 1;
        }
        all
    };

    fn reference(class: fn(u8) -> bool) -> impl Fn(&[u8], usize, usize) -> usize {
        move |buf, pos, end| (pos..end).find(|&i| !class(buf[i])).unwrap_or(end)
    }

    fn check_against(
        reference: &dyn Fn(&[u8], usize, usize) -> usize,
        f: &dyn Fn(&[u8], usize, usize) -> usize,
    ) {
        // Every byte value at every position of buffers of several lengths, with several
        // start and end points.
        // From 96 bytes on, the portable scanners switch to 16-byte blocks after the first 32:
        // long buffers with a sample of bytes (each class's edges).
        let mut buf = [b'a'; 200];
        let sample = [0u8, 9, 0x1f, b' ', b'!', b':', b'a', 0x7e, 0x7f, 0x80, 0xff];
        for len in [
            0usize, 1, 7, 8, 9, 31, 32, 33, 40, 63, 64, 65, 80, 95, 96, 97, 130, 200,
        ] {
            for bad_at in 0..len {
                let bytes: &[u8] = if len > 80 { &sample } else { &ALL_BYTES };
                for &b in bytes {
                    buf[..len].fill(b'a');
                    buf[bad_at] = b;
                    for pos in [0, 1, 5, 17, 40].into_iter().filter(|&p| p <= len) {
                        for end in [len, len.saturating_sub(3)]
                            .into_iter()
                            .filter(|&e| e >= pos)
                        {
                            let got = f(&buf[..len], pos, end);
                            let want = reference(&buf[..len], pos, end);
                            assert_eq!(
                                got, want,
                                "len {len} byte {b:#x} at {bad_at} pos {pos} end {end}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn portable_scanners_match_the_byte_classes() {
        let token: ScanFn = Portable::token_end;
        let target: ScanFn = Portable::target_end;
        let value: ScanFn = Portable::value_end;
        check_against(&reference(chars::token), &token);
        check_against(&reference(chars::target_byte), &target);
        check_against(&reference(chars::value_byte), &value);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sse2_scanners_match_the_byte_classes() {
        check_against(&reference(chars::token), &|b, p, e| {
            // SAFETY: every x86_64 CPU has SSE2.
            unsafe { Sse2::token_end(b, p, e) }
        });
        check_against(&reference(chars::target_byte), &|b, p, e| {
            // SAFETY: every x86_64 CPU has SSE2.
            unsafe { Sse2::target_end(b, p, e) }
        });
        check_against(&reference(chars::value_byte), &|b, p, e| {
            // SAFETY: every x86_64 CPU has SSE2.
            unsafe { Sse2::value_end(b, p, e) }
        });
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn plain_host_checks_every_byte_at_every_position() {
        let plain = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
        // Every byte value at every position of spans of several lengths, placed at the
        // start, in the middle and at the end of buffers of several lengths (below 16 bytes
        // the answer is always "not known").
        let mut buf = [b'a'; 80];
        for len in [0usize, 1, 15, 16, 17, 20, 31, 32, 33, 47, 48, 80] {
            for n in [0usize, 1, 2, 9, 15, 16, 17, 31, 32, 33, 40] {
                for start in [0, 1, 7, len.saturating_sub(n + 1), len.saturating_sub(n)] {
                    let end = start + n;
                    if end > len {
                        continue;
                    }
                    for bad_at in start..end {
                        for b in 0..=255u8 {
                            buf[..len].fill(b'x');
                            buf[bad_at] = b;
                            let want = len >= 16 && plain(b);
                            assert_eq!(
                                x86::plain_host16(&buf[..len], start, end),
                                want,
                                "len {len} span {start}..{end} byte {b:#x} at {bad_at}"
                            );
                        }
                    }
                    // Bytes outside the span do not count, whatever they are.
                    for outside in [0u8, b' ', b':', b'/', 0xff] {
                        buf[..len].fill(outside);
                        buf[start..end].fill(b'Z');
                        assert_eq!(
                            x86::plain_host16(&buf[..len], start, end),
                            len >= 16,
                            "len {len} span {start}..{end} outside {outside:#x}"
                        );
                    }
                }
            }
        }
        // Spans that do not fit the buffer are never vouched for.
        assert!(!x86::plain_host16(&[b'a'; 20], 5, 21));
        assert!(!x86::plain_host16(&[b'a'; 20], 6, 5));
        assert!(!x86::plain_host16(&[b'a'; 40], 30, 41));
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_lines_found_ahead_match_the_portable_ones() {
        if !avx2_available() {
            std::eprintln!("no AVX2 on this CPU: skipping");
            return;
        }
        // The CR masks: a CR and another byte at every pair of places.
        let mut buf = [b'x'; 130];
        for cr_at in 0..130 {
            for (other_at, b) in [(cr_at * 7 % 130, b'\n'), (cr_at * 3 % 130, 0xff)] {
                buf.fill(b'x');
                buf[other_at] = b;
                buf[cr_at] = b'\r';
                for start in [0, 1, 31, 33, 66] {
                    // SAFETY: AVX2 was detected above; start + 64 <= 130.
                    let (avx2, portable) = unsafe {
                        (
                            Avx2::cr_mask64(&buf, start),
                            Portable::cr_mask64(&buf, start),
                        )
                    };
                    assert_eq!(avx2, portable, "CR at {cr_at}, start {start}");
                }
            }
        }
        // Field lines of several lengths (one vector, more), every byte value at every
        // place, classified against their first CR.
        for len in [4usize, 10, 31, 32, 33, 40, 63, 64, 65, 100] {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut line = std::vec![b'v'; len];
                    line[..3].copy_from_slice(b"Ab:");
                    line[len - 2..].copy_from_slice(b"\r\n");
                    line[at] = b;
                    line.resize(len + 200, b'z');
                    let Some(cr) = line.iter().position(|&c| c == b'\r') else {
                        continue;
                    };
                    let end = line.len();
                    // SAFETY: AVX2 was detected above; 0 + 64 <= end; cr < end.
                    let (avx2, portable) = unsafe {
                        (
                            Avx2::field_line_to(&line, 0, cr, end),
                            Portable::field_line_to(&line, 0, cr, end),
                        )
                    };
                    assert_eq!(avx2, portable, "len {len}, {b:#x} at {at}");
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_scanners_match_the_byte_classes() {
        if !avx2_available() {
            std::eprintln!("no AVX2 on this CPU: skipping");
            return;
        }
        check_against(&reference(chars::token), &|b, p, e| {
            // SAFETY: AVX2 was detected above.
            unsafe { Avx2::token_end(b, p, e) }
        });
        check_against(&reference(chars::target_byte), &|b, p, e| {
            // SAFETY: AVX2 was detected above.
            unsafe { Avx2::target_end(b, p, e) }
        });
        check_against(&reference(chars::value_byte), &|b, p, e| {
            // SAFETY: AVX2 was detected above.
            unsafe { Avx2::value_end(b, p, e) }
        });
    }
}
