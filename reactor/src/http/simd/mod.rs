//! Byte scanners: the three hot loops of the parser (token, request target, field value) and
//! the whole-line shortcuts built on them, one implementation per instruction set:
//!
//! - [`swar`]: portable, SWAR on `u64` words plus tables; every target.
//! - `sse2`: 16 bytes a load (x86_64, where SSE2 is part of the base instruction set): small
//!   heads, and x86_64 CPUs without AVX2.
//! - `avx2`: 32 bytes a load, for CPUs that have AVX2 (with BMI1 and BMI2).
//! - `runtime`: detecting AVX2 once, without `std`.
//!
//! # Safe dispatch
//! Each instruction set is a zero-sized token type implementing the safe [`Scanner`] trait.
//! A token of an instruction set the CPU may lack can only be made where it was detected
//! (`Avx2::detect`), so holding one proves the CPU has it: its methods are safe, and the
//! `unsafe` (intrinsics, unchecked loads) stays inside its module, next to the checks that
//! justify it. The grammar (`request/`) is generic over `Scanner`, safe Rust, and
//! monomorphised per token. Code that must be *compiled* with a target feature for the
//! intrinsics to inline (the AVX2 state machine) runs inside `Avx2::enabled`, a safe call
//! into a `#[target_feature]` function.
//!
//! `is_x86_feature_detected!` lives in `std`, so this `no_std` crate detects AVX2 itself (see
//! `runtime`). A build with `-C target-feature=+avx2,+bmi1,+bmi2` (or `target-cpu=native` on
//! an AVX2 machine) skips the check. Other architectures use the portable scanners, which are
//! also reachable on purpose through [`ParserConfig::use_simd`](super::ParserConfig).
//!
//! # Reading contract
//! Every scanner, given `pos` and `end`, returns the index of the first byte in
//! `buf[pos..end]` outside its class, or `end` when there is none (`end` is clamped to
//! `buf.len()`). They read no byte outside `buf[pos..end]`. Any arguments are memory-safe;
//! outside `pos <= end <= buf.len()` the answer is unspecified but within `buf`'s bounds or
//! equal to `pos` or `end`.

mod line;
pub(crate) mod swar;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod runtime;
#[cfg(target_arch = "x86_64")]
mod sse2;
#[cfg(test)]
mod tests;

#[cfg(target_arch = "x86_64")]
pub(crate) use avx2::Avx2;
pub(crate) use line::FieldLine;
#[cfg(target_arch = "x86_64")]
pub(crate) use sse2::Sse2;
pub(crate) use swar::Portable;

use super::headers::RawHeader;

/// A set of scanners for one instruction set: a zero-sized token whose existence proves that
/// the CPU supports that instruction set, so every method is safe. See the module
/// documentation for the reading contract shared by all the methods.
pub(crate) trait Scanner: Copy {
    /// Whether one vector load classifies a typical field line, and
    /// [`field_lines`](Self::field_lines) takes lines (AVX2).
    const WIDE: bool = false;

    /// First byte in `buf[pos..end]` that is not a token character.
    fn token_end(self, buf: &[u8], pos: usize, end: usize) -> usize;
    /// First byte in `buf[pos..end]` that may not appear in a request target.
    fn target_end(self, buf: &[u8], pos: usize, end: usize) -> usize;
    /// First byte in `buf[pos..end]` that may not appear in a field value.
    fn value_end(self, buf: &[u8], pos: usize, end: usize) -> usize;

    /// Whether every byte of `buf[start..end]` is a letter, a digit, `.` or `-`: a `Host`
    /// value that needs no closer look (a subset of what
    /// [`valid_host`](super::chars::valid_host) accepts). `false` means "not known", and the
    /// caller runs the full check; this default never knows.
    #[inline(always)]
    fn plain_host(self, buf: &[u8], start: usize, end: usize) -> bool {
        let _ = (buf, start, end);
        false
    }

    /// A whole field line at `pos`, when it looks ordinary: a non-empty token name ending in
    /// `:` at `colon`, then value bytes up to `stop`, the first byte after the colon that may
    /// not appear in a value (normally the CR), with `stop + 1 < end` (room for the LF).
    /// `None` means "use the byte-by-byte path", never "invalid".
    #[inline(always)]
    fn field_line(self, buf: &[u8], pos: usize, end: usize) -> Option<FieldLine<'_>> {
        let colon = self.token_end(buf, pos, end);
        if colon == pos || colon >= end || buf.get(colon) != Some(&b':') {
            return None;
        }
        let stop = self.value_end(buf, colon + 1, end);
        FieldLine::new(buf, pos, colon, stop, end)
    }

    /// Takes the ordinary field lines of a head from `pos` in one loop, as far as they go:
    /// each line's name and value (trimmed) go to `take`, which says whether the line is
    /// taken, and a line taken has its name and value bounds written to the next of `slots`.
    /// Stops at the empty line ending the head (taken) or at the first line it leaves to the
    /// caller's usual way (not taken): anything unusual, a line `take` declines, or no slot
    /// left. Every line taken ends in CRLF with `stop + 1 < end`, as with
    /// [`field_line`](Self::field_line). This default (the narrow scanners) takes nothing.
    #[inline(always)]
    fn field_lines(
        self,
        buf: &[u8],
        pos: usize,
        end: usize,
        slots: &mut core::slice::IterMut<'_, RawHeader>,
        take: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> LinesTaken {
        let _ = (buf, end, slots, take);
        LinesTaken {
            pos,
            head_ended: false,
        }
    }

    /// An ordinary request line's method and target at the start of `buf`: returns
    /// `(method_end, target_end)`, both non-empty and each followed by a space, with
    /// `target_end < end`. `None` means "use the byte-by-byte path", never "invalid".
    #[inline(always)]
    fn request_line(self, buf: &[u8], end: usize) -> Option<(usize, usize)> {
        let end = end.min(buf.len());
        if end < 4 {
            return None;
        }
        let method_end = if buf[..4] == *b"GET " {
            3
        } else {
            let m = self.token_end(buf, 0, end);
            if m == 0 || m >= end || buf[m] != b' ' {
                return None;
            }
            m
        };
        let target = method_end + 1;
        let target_end = self.target_end(buf, target, end);
        if target_end == target || target_end >= end || buf[target_end] != b' ' {
            return None;
        }
        Some((method_end, target_end))
    }
}

/// Where [`Scanner::field_lines`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LinesTaken {
    /// Past the empty line ending the head, or the start of the first line not taken.
    pub(crate) pos: usize,
    /// Whether the empty line ending the head was found (and `pos` is past it).
    pub(crate) head_ended: bool,
}

/// The eight bytes of `buf` at `pos` as a little-endian word, when `pos + 8 <= end` and
/// `end <= buf.len()` (one test of the bounds).
#[inline(always)]
pub(crate) fn word_at(buf: &[u8], pos: usize, end: usize) -> Option<u64> {
    if end > buf.len() || pos.checked_add(8)? > end {
        return None;
    }
    // SAFETY: pos + 8 <= end <= buf.len(); read_unaligned has no alignment requirement.
    Some(u64::from_le(unsafe {
        buf.as_ptr().add(pos).cast::<u64>().read_unaligned()
    }))
}

/// `bytes` as a `&str` when they are ASCII, else `""`.
///
/// The spans given here (method, target, field names) were checked by the parser to be token
/// or visible-ASCII characters, so for a caller that keeps the contract of
/// [`RequestParser::parse`](crate::http::RequestParser::parse) they are always ASCII. That contract
/// (the same buffer prefix on every call) is not something the parser can verify in safe
/// code, so the ASCII property is re-checked here with `is_ascii` (word-at-a-time, inlined),
/// which is cheaper than `core::str::from_utf8`'s general validation and its out-of-line call.
#[inline]
pub(crate) fn ascii_str(bytes: &[u8]) -> &str {
    if bytes.is_ascii() {
        // SAFETY: every byte was just checked to be ASCII (< 0x80), and a sequence of ASCII
        // bytes is valid UTF-8.
        unsafe { core::str::from_utf8_unchecked(bytes) }
    } else {
        ""
    }
}
