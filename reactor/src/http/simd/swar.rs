//! The portable scanners: SWAR on 64-bit words plus tables; no unsafe, no target features.

use super::Scanner;
use crate::http::chars;

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
        if word_misses(word(w)) != 0
            && let Some(i) = w.iter().position(|&b| !class(b))
        {
            return Some(at + i);
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
        if word_misses(word(lo)) | word_misses(word(hi)) != 0
            && let Some(i) = w.iter().position(|&b| !class(b))
        {
            return Ok(at + i);
        }
        at += 16;
    }
    Err(at)
}

/// Tables and SWAR on 64-bit words; no unsafe, no target features. Always available.
#[derive(Debug, Clone, Copy)]
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

impl Scanner for Portable {
    #[inline(always)]
    fn token_end(self, buf: &[u8], pos: usize, end: usize) -> usize {
        Portable::token_end(buf, pos, end)
    }
    #[inline(always)]
    fn target_end(self, buf: &[u8], pos: usize, end: usize) -> usize {
        Portable::target_end(buf, pos, end)
    }
    #[inline(always)]
    fn value_end(self, buf: &[u8], pos: usize, end: usize) -> usize {
        Portable::value_end(buf, pos, end)
    }
}

// The portable scanners for spans in buffers too short for one vector load, kept out of line
// for the vector scanners: rare, and inlined they would only crowd the fast path.
#[cfg(target_arch = "x86_64")]
#[inline(never)]
pub(super) fn short_token_end(buf: &[u8], pos: usize, end: usize) -> usize {
    Portable::token_end(buf, pos, end)
}
#[cfg(target_arch = "x86_64")]
#[inline(never)]
pub(super) fn short_target_end(buf: &[u8], pos: usize, end: usize) -> usize {
    Portable::target_end(buf, pos, end)
}
#[cfg(target_arch = "x86_64")]
#[inline(never)]
pub(super) fn short_value_end(buf: &[u8], pos: usize, end: usize) -> usize {
    Portable::value_end(buf, pos, end)
}
