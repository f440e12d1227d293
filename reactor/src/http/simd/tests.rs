//! The scanners of every instruction set against the byte classes and each other.

use super::*;
use crate::http::chars;

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
    check_against(&reference(chars::token), &|b, p, e| Sse2.token_end(b, p, e));
    check_against(&reference(chars::target_byte), &|b, p, e| {
        Sse2.target_end(b, p, e)
    });
    check_against(&reference(chars::value_byte), &|b, p, e| {
        Sse2.value_end(b, p, e)
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
                            sse2::plain_host16(&buf[..len], start, end),
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
                        sse2::plain_host16(&buf[..len], start, end),
                        len >= 16,
                        "len {len} span {start}..{end} outside {outside:#x}"
                    );
                }
            }
        }
    }
    // Spans that do not fit the buffer are never vouched for.
    assert!(!sse2::plain_host16(&[b'a'; 20], 5, 21));
    assert!(!sse2::plain_host16(&[b'a'; 20], 6, 5));
    assert!(!sse2::plain_host16(&[b'a'; 40], 30, 41));
}

#[cfg(target_arch = "x86_64")]
#[test]
fn avx2_lines_found_ahead_match_the_portable_ones() {
    let Some(avx2) = Avx2::detect() else {
        std::eprintln!("no AVX2 on this CPU: skipping");
        return;
    };
    // The CR masks: a CR and another byte at every pair of places.
    let mut buf = [b'x'; 130];
    for cr_at in 0..130 {
        for (other_at, b) in [(cr_at * 7 % 130, b'\n'), (cr_at * 3 % 130, 0xff)] {
            buf.fill(b'x');
            buf[other_at] = b;
            buf[cr_at] = b'\r';
            for start in [0, 1, 31, 33, 66] {
                // start + 64 <= 130.
                let (wide, portable) =
                    (avx2.cr_mask64(&buf, start), Portable.cr_mask64(&buf, start));
                assert_eq!(wide, portable, "CR at {cr_at}, start {start}");
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
                // 0 + 64 <= end; cr < end.
                // SAFETY: cr + 1 < end == line.len() (the 200 bytes added after the CR).
                let (wide, portable) = unsafe {
                    (
                        avx2.field_line_to(&line, 0, cr, end),
                        Portable.field_line_to(&line, 0, cr, end),
                    )
                };
                assert_eq!(wide, portable, "len {len}, {b:#x} at {at}");
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn avx2_scanners_match_the_byte_classes() {
    let Some(avx2) = Avx2::detect() else {
        std::eprintln!("no AVX2 on this CPU: skipping");
        return;
    };
    check_against(&reference(chars::token), &|b, p, e| avx2.token_end(b, p, e));
    check_against(&reference(chars::target_byte), &|b, p, e| {
        avx2.target_end(b, p, e)
    });
    check_against(&reference(chars::value_byte), &|b, p, e| {
        avx2.value_end(b, p, e)
    });
}
