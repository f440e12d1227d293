//! Small pure helpers: HTTP dates, request-path decoding and normalisation, a fast hasher.

use std::hash::{BuildHasherDefault, Hasher};

const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// (year, month 1-12, day 1-31) of a count of days since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 of a civil date (`days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn two(out: &mut [u8], v: u32) {
    out[0] = b'0' + (v / 10 % 10) as u8;
    out[1] = b'0' + (v % 10) as u8;
}

/// The IMF-fixdate of a Unix time: `Sun, 06 Nov 1994 08:49:37 GMT` (29 bytes).
pub(crate) fn http_date(unix: i64) -> [u8; 29] {
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400) as u32;
    let (y, m, d) = civil_from_days(days);
    out[..3].copy_from_slice(DAYS[days.rem_euclid(7) as usize]);
    two(&mut out[5..], d);
    out[8..11].copy_from_slice(MONTHS[(m - 1) as usize]);
    let y = y.clamp(0, 9999) as u32;
    two(&mut out[12..], y / 100);
    two(&mut out[14..], y % 100);
    two(&mut out[17..], secs / 3600);
    two(&mut out[20..], secs / 60 % 60);
    two(&mut out[23..], secs % 60);
    out
}

/// The common-log-format time of a Unix time: `10/Oct/2000:13:55:36 +0000` (26 bytes).
pub(crate) fn clf_date(unix: i64) -> [u8; 26] {
    let mut out = *b"01/Jan/1970:00:00:00 +0000";
    let (y, m, d) = civil_from_days(unix.div_euclid(86_400));
    let secs = unix.rem_euclid(86_400) as u32;
    two(&mut out[0..], d);
    out[3..6].copy_from_slice(MONTHS[(m - 1) as usize]);
    let y = y.clamp(0, 9999) as u32;
    two(&mut out[7..], y / 100);
    two(&mut out[9..], y % 100);
    two(&mut out[12..], secs / 3600);
    two(&mut out[15..], secs / 60 % 60);
    two(&mut out[18..], secs % 60);
    out
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u32, |a, &b| {
        a.checked_mul(10)?.checked_add(u32::from(b - b'0'))
    })
}

/// Parses an IMF-fixdate (the only format a sender may generate, RFC 9110 5.6.7) into a
/// Unix time. Anything else is `None`, and a conditional with an invalid date is ignored.
pub(crate) fn parse_http_date(s: &[u8]) -> Option<i64> {
    if s.len() != 29 || &s[3..5] != b", " || &s[25..] != b" GMT" {
        return None;
    }
    if s[7] != b' ' || s[11] != b' ' || s[16] != b' ' || s[19] != b':' || s[22] != b':' {
        return None;
    }
    DAYS.iter().position(|d| &s[..3] == *d)?;
    let d = digits(&s[5..7])?;
    let m = MONTHS.iter().position(|m| &s[8..11] == *m)? as u32 + 1;
    let y = digits(&s[12..16])?;
    let (hh, mm, ss) = (
        digits(&s[17..19])?,
        digits(&s[20..22])?,
        digits(&s[23..25])?,
    );
    if !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let days = days_from_civil(i64::from(y), m, d);
    Some(days * 86_400 + i64::from(hh * 3600 + mm * 60 + ss))
}

/// Why a request path was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PathError {
    /// A `%` not followed by two hexadecimal digits, a NUL or a backslash, a path that does
    /// not start with `/`, or `..` above the root: 400.
    Bad,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Byte classes for the scan of a request path: 1 `/`, 2 `.`, 4 needs decoding or is refused
/// (`%`, `\`, NUL), 8 ends the path (`?`, the query follows); 0 any other byte.
static PATH_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b'/' as usize] = 1;
    t[b'.' as usize] = 2;
    t[b'%' as usize] = 4;
    t[b'\\' as usize] = 4;
    t[0] = 4;
    t[b'?' as usize] = 8;
    t
};

/// The length of `path` up to its query (`?`) if that part needs neither decoding nor
/// normalising (no `%`, `\` or NUL, no `/` followed by `.` or `/`); `None` if it does. One
/// pass over the bytes.
fn plain_path(path: &[u8]) -> Option<usize> {
    let mut after_slash = false;
    for (i, &b) in path.iter().enumerate() {
        let c = PATH_CLASS[b as usize];
        if c != 0 {
            if c >= 4 {
                return (c == 8).then_some(i);
            }
            if after_slash {
                return None;
            }
        }
        after_slash = c == 1;
    }
    Some(path.len())
}

/// Percent-decodes `path` (which must start with `/`; a query after `?` is left out) and
/// normalises it into `out`: the relative path below the root, segments joined by `/`,
/// without `.`, `..` or empty segments, and with a trailing `/` if the request path had one
/// (the root is empty).
///
/// Decoding comes first, so `%2e%2e` is `..` and `%2f` is a separator (`%3f` is a `?` in a
/// name); `..` that would climb above the root, a decoded NUL and a backslash are refused.
pub(crate) fn normalize_path(path: &[u8], out: &mut Vec<u8>) -> Result<(), PathError> {
    out.clear();
    if path.first() != Some(&b'/') {
        return Err(PathError::Bad);
    }
    // Fast path: nothing to decode and nothing to normalise.
    if let Some(end) = plain_path(path) {
        out.extend_from_slice(&path[1..end]);
        return Ok(());
    }
    let path = path.split(|&b| b == b'?').next().unwrap_or_default();
    // Decode first into `out`, then normalise in place.
    let mut i = 0;
    while i < path.len() {
        let b = path[i];
        if b == b'%' {
            let (Some(&h), Some(&l)) = (path.get(i + 1), path.get(i + 2)) else {
                return Err(PathError::Bad);
            };
            let (Some(h), Some(l)) = (hex(h), hex(l)) else {
                return Err(PathError::Bad);
            };
            out.push(h << 4 | l);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    if out.iter().any(|&b| b == 0 || b == b'\\') {
        return Err(PathError::Bad);
    }
    let trailing = out.last() == Some(&b'/') || out.ends_with(b"/.") || out.ends_with(b"/..");
    // Normalise: walk the segments, writing the kept ones at the front of the same buffer.
    let len = out.len();
    let mut w = 0usize;
    let mut r = 0usize;
    while r < len {
        let start = r;
        while r < len && out[r] != b'/' {
            r += 1;
        }
        let seg_len = r - start;
        r += 1; // skip '/'
        match seg_len {
            0 => {}
            1 if out[start] == b'.' => {}
            2 if out[start] == b'.' && out[start + 1] == b'.' => {
                if w == 0 {
                    return Err(PathError::Bad);
                }
                // Drop the last kept segment (and its separator).
                let cut = out[..w - 1]
                    .iter()
                    .rposition(|&b| b == b'/')
                    .map_or(0, |p| p + 1);
                w = cut;
            }
            _ => {
                out.copy_within(start..start + seg_len, w);
                w += seg_len;
                out[w] = b'/';
                w += 1;
            }
        }
    }
    // `w` counts a '/' after every kept segment; keep it only for a directory request.
    if w > 0 && !trailing {
        w -= 1;
    }
    out.truncate(w);
    Ok(())
}

/// FxHash (rustc's hasher): much faster than SipHash for short keys, and the cache keys are
/// normalised paths that an attacker can choose only within the cache's size bound.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let v = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FxBuild = BuildHasherDefault<FxHasher>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(&http_date(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(
            parse_http_date(b"Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(&clf_date(971_186_136), b"10/Oct/2000:13:55:36 +0000");
        for t in [0i64, 951_782_400, 1_709_210_096, 4_102_444_800] {
            assert_eq!(parse_http_date(&http_date(t)), Some(t));
        }
        assert_eq!(parse_http_date(b"Sunday, 06-Nov-94 08:49:37 GMT"), None);
    }

    fn norm(p: &str) -> Result<String, PathError> {
        let mut out = Vec::new();
        normalize_path(p.as_bytes(), &mut out).map(|()| String::from_utf8(out).unwrap())
    }

    #[test]
    fn the_fast_path_check_agrees_with_its_definition() {
        // Every string of up to 6 bytes over the characters that matter.
        let alphabet = [b'/', b'.', b'%', b'\\', 0, b'a', b'?'];
        let mut stack: Vec<Vec<u8>> = vec![Vec::new()];
        while let Some(p) = stack.pop() {
            let path = p.split(|&b| b == b'?').next().unwrap();
            let slow = path.iter().any(|&b| b == b'%' || b == b'\\' || b == 0)
                || path.windows(2).any(|w| w == b"/." || w == b"//");
            let end = p.iter().position(|&b| b == b'?').unwrap_or(p.len());
            assert_eq!(plain_path(&p), (!slow).then_some(end), "{p:?}");
            // Whatever follows a `?` does not matter.
            let mut q = p.clone();
            q.extend_from_slice(b"?/./%00");
            assert_eq!(plain_path(&q), (!slow).then_some(end), "{q:?}");
            if p.len() < 6 {
                for &c in &alphabet {
                    let mut q = p.clone();
                    q.push(c);
                    stack.push(q);
                }
            }
        }
    }

    #[test]
    fn paths_never_leave_the_root() {
        assert_eq!(norm("/").unwrap(), "");
        assert_eq!(norm("/index.html").unwrap(), "index.html");
        assert_eq!(norm("/a//b/./c/").unwrap(), "a/b/c/");
        assert_eq!(norm("/a/b/../c").unwrap(), "a/c");
        assert_eq!(norm("/a/%2e%2e/b").unwrap(), "b");
        assert_eq!(norm("/a/..").unwrap(), "");
        assert_eq!(norm("/a%20b").unwrap(), "a b");
        assert_eq!(norm("/.."), Err(PathError::Bad));
        assert_eq!(norm("/%2e%2e/etc/passwd"), Err(PathError::Bad));
        assert_eq!(norm("/a/../../etc"), Err(PathError::Bad));
        assert_eq!(norm("/%2E%2E%2Fetc"), Err(PathError::Bad));
        assert_eq!(norm("/..%5c..%5cetc"), Err(PathError::Bad));
        assert_eq!(norm("/a%00b"), Err(PathError::Bad));
        assert_eq!(norm("/a%zz"), Err(PathError::Bad));
        assert_eq!(norm("/a%2"), Err(PathError::Bad));
        assert_eq!(norm("relative"), Err(PathError::Bad));
        // The query is not part of the path, on either path.
        assert_eq!(norm("/index.html?a=/../b").unwrap(), "index.html");
        assert_eq!(norm("/a/./b?x=%zz").unwrap(), "a/b");
        assert_eq!(norm("/a%3fb?c").unwrap(), "a?b");
        assert_eq!(norm("/?x").unwrap(), "");
        assert_eq!(norm("/..?x"), Err(PathError::Bad));
    }
}
