//! The scanners of every instruction set against the byte classes and each other.

use super::*;
use crate::http::chars;
use crate::http::headers::RawHeader;

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

/// What the portable scanners say of the field line at the start of `buf`: its name and
/// value spans when it is ordinary and ends in CRLF (`field_line`, `field`).
fn portable_line(buf: &[u8]) -> Option<RawHeader> {
    let line = Portable.field_line(buf, 0, buf.len())?;
    line.ends_in_crlf().then(|| {
        let field = line.field();
        RawHeader::new(field.name_span, field.value_span)
    })
}

/// A field line's value is its span of the buffer, the value without the whitespace at either
/// end, whatever ends the line (a CR, which the one-space shortcut needs, or any other byte
/// outside the value class) and however short the value is.
#[test]
fn field_values_are_their_trimmed_spans() {
    for before in ["", " ", "  ", "\t", " \t "] {
        for value in ["", "a", "ab", "a b", "keep-alive"] {
            for after in ["", " ", "\t "] {
                for stop in [b'\r', b'\n', 0, 0x7f] {
                    let mut buf = std::format!("Name:{before}{value}{after}").into_bytes();
                    buf.extend_from_slice(&[stop, b'\n', b'x']);
                    let line = Portable
                        .field_line(&buf, 0, buf.len())
                        .expect("an ordinary line");
                    let field = line.field();
                    let start = 5 + before.len();
                    let want = (start, start + value.len());
                    let case = std::format!("{buf:?}");
                    assert_eq!(field.name, b"Name", "{case}");
                    assert_eq!(field.value, value.as_bytes(), "{case}");
                    assert_eq!(field.value, &buf[field.value_span.0..field.value_span.1]);
                    if !value.is_empty() {
                        assert_eq!(field.value_span, want, "{case}");
                    }
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn avx2_field_lines_match_the_portable_lines() {
    let Some(avx2) = Avx2::detect() else {
        std::eprintln!("no AVX2 on this CPU: skipping");
        return;
    };
    // Field lines of several lengths (one vector, two, more than the CR bits of two 64-byte
    // blocks reach), every byte value at every place, then bytes that are no line (no CR):
    // the loop takes the line exactly when the portable scanners find it ordinary, with the
    // same spans, and stops after it.
    for len in [
        4usize, 10, 31, 32, 33, 40, 63, 64, 65, 100, 127, 128, 129, 200,
    ] {
        for at in 0..len {
            for b in 0..=255u8 {
                let mut buf = std::vec![b'v'; len];
                buf[..3].copy_from_slice(b"Ab:");
                buf[len - 2..].copy_from_slice(b"\r\n");
                buf[at] = b;
                buf.resize(len + 200, b'z');
                let want = portable_line(&buf);
                let mut slots = [RawHeader::EMPTY; 2];
                let mut names = 0;
                let taken = avx2.field_lines(&buf, 0, buf.len(), &mut slots.iter_mut(), |_, _| {
                    names += 1;
                    true
                });
                let got = (taken.pos > 0).then_some(slots[0]);
                assert_eq!(got, want, "len {len}, {b:#x} at {at}");
                assert_eq!(
                    names,
                    usize::from(want.is_some()),
                    "len {len}, {b:#x} at {at}"
                );
                assert!(!taken.head_ended, "len {len}, {b:#x} at {at}");
                if got.is_some() {
                    assert_eq!(buf[taken.pos - 2..taken.pos], *b"\r\n");
                    assert_eq!(slots[1], RawHeader::EMPTY, "len {len}, {b:#x} at {at}");
                }
            }
        }
    }
    // The empty line ending the head is taken after the lines; a line `take` declines, and a
    // line without a slot, are left where they start.
    let mut head = b"Ab: 1\r\nCd:  two \r\nEf:\r\n\r\n".to_vec();
    head.resize(200, b'z');
    let mut slots = [RawHeader::EMPTY; 4];
    let taken = avx2.field_lines(&head, 0, head.len(), &mut slots.iter_mut(), |_, _| true);
    assert_eq!((taken.pos, taken.head_ended), (25, true));
    assert_eq!(slots[1], RawHeader::new((7, 9), (12, 15)));
    assert_eq!(slots[2], RawHeader::new((18, 20), (21, 21)));
    let mut slots = [RawHeader::EMPTY; 4];
    let taken = avx2.field_lines(&head, 0, head.len(), &mut slots.iter_mut(), |name, _| {
        name != b"Cd"
    });
    assert_eq!((taken.pos, taken.head_ended), (7, false));
    let mut slots = [RawHeader::EMPTY; 2];
    let taken = avx2.field_lines(&head, 0, head.len(), &mut slots.iter_mut(), |_, _| true);
    assert_eq!((taken.pos, taken.head_ended), (18, false));
    // The portable scanners take nothing here.
    let taken = Portable.field_lines(&head, 0, head.len(), &mut slots.iter_mut(), |_, _| true);
    assert_eq!((taken.pos, taken.head_ended), (0, false));
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

/// Outside `pos <= end <= buf.len()` a scanner's answer is unspecified, but it reads nothing
/// outside the buffer and answers within it or with `pos` or `end`: a start past the end
/// (also one a sum would wrap around from) and an end past the buffer, around the lengths
/// where the vector scanners switch between a whole load, the last load of the buffer and
/// the portable tail.
#[test]
fn scanners_given_bounds_outside_the_buffer_stay_inside_it() {
    type Scan = std::boxed::Box<dyn Fn(&[u8], usize, usize) -> usize>;
    let mut scanners: std::vec::Vec<(&str, Scan)> = std::vec![
        ("portable token", std::boxed::Box::new(Portable::token_end)),
        (
            "portable target",
            std::boxed::Box::new(Portable::target_end)
        ),
        ("portable value", std::boxed::Box::new(Portable::value_end)),
    ];
    #[cfg(target_arch = "x86_64")]
    {
        scanners.push((
            "sse2 token",
            std::boxed::Box::new(|b, p, e| Sse2.token_end(b, p, e)),
        ));
        scanners.push((
            "sse2 target",
            std::boxed::Box::new(|b, p, e| Sse2.target_end(b, p, e)),
        ));
        scanners.push((
            "sse2 value",
            std::boxed::Box::new(|b, p, e| Sse2.value_end(b, p, e)),
        ));
        if let Some(avx2) = Avx2::detect() {
            scanners.push((
                "avx2 token",
                std::boxed::Box::new(move |b, p, e| avx2.token_end(b, p, e)),
            ));
            scanners.push((
                "avx2 target",
                std::boxed::Box::new(move |b, p, e| avx2.target_end(b, p, e)),
            ));
            scanners.push((
                "avx2 value",
                std::boxed::Box::new(move |b, p, e| avx2.value_end(b, p, e)),
            ));
        }
    }
    let buf = [b'a'; 200];
    for len in [
        0usize, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 96, 97, 130, 200,
    ] {
        let buf = &buf[..len];
        for end in [0, len.saturating_sub(1), len, len + 1, len + 40, usize::MAX] {
            for pos in [
                end.saturating_add(1),
                end.saturating_add(16),
                end.saturating_add(33),
                usize::MAX - 64,
                usize::MAX - 31,
                usize::MAX - 15,
                usize::MAX,
            ] {
                for (name, scan) in &scanners {
                    let got = scan(buf, pos, end);
                    assert!(
                        got <= len || got == pos || got == end,
                        "{name}: len {len} pos {pos} end {end}: {got}"
                    );
                }
            }
            // And inside the buffer up to an end past it: the end is the buffer's.
            for (name, scan) in &scanners {
                assert_eq!(
                    scan(buf, 0, end),
                    end.min(len),
                    "{name}: len {len} end {end}"
                );
            }
        }
    }
}

#[test]
fn words_and_host_values_stay_inside_their_bounds() {
    let buf = b"host: a.example\r\n\r\n";
    assert_eq!(
        word_at(buf, 0, buf.len()),
        Some(u64::from_le_bytes(*b"host: a."))
    );
    assert_eq!(
        word_at(buf, 11, buf.len()),
        Some(u64::from_le_bytes(*b"mple\r\n\r\n"))
    );
    assert_eq!(word_at(buf, 12, buf.len()), None);
    assert_eq!(word_at(buf, 0, 7), None);
    assert_eq!(word_at(buf, 0, buf.len() + 1), None);
    assert_eq!(word_at(buf, usize::MAX - 3, buf.len()), None);
    // The value up to its CR at 15, with the LF inside the end.
    assert_eq!(
        FieldLine::host_value(buf, 0, 15, buf.len()),
        Some(&b"a.example"[..])
    );
    assert_eq!(FieldLine::host_value(buf, 0, 15, 16), None);
    assert_eq!(
        FieldLine::host_value(buf, 0, 15, 17),
        Some(&b"a.example"[..])
    );
    // Not a CR at `stop`, an empty value, whitespace at either end, positions past the end.
    assert_eq!(FieldLine::host_value(buf, 0, 14, buf.len()), None);
    assert_eq!(FieldLine::host_value(buf, 0, 6, buf.len()), None);
    assert_eq!(FieldLine::host_value(b"host:  a\r\n", 0, 8, 10), None);
    assert_eq!(FieldLine::host_value(b"host: a \r\n", 0, 8, 10), None);
    assert_eq!(FieldLine::host_value(buf, 0, usize::MAX, buf.len()), None);
    assert_eq!(
        FieldLine::host_value(buf, 0, usize::MAX - 1, buf.len()),
        None
    );
    assert_eq!(FieldLine::host_value(buf, 0, 15, 0), None);
    assert_eq!(FieldLine::host_value(buf, 0, 15, 1), None);
    assert_eq!(
        FieldLine::host_value(buf, usize::MAX - 2, 15, buf.len()),
        None
    );
}
