//! HTTP dates (IMF-fixdate) and the access log's date, from and to Unix time.

use crate::civil::civil_from_days;

const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

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

/// Parses an HTTP-date in any of its three formats (a recipient must accept all three, RFC
/// 9110 5.6.7): IMF-fixdate, the obsolete RFC 850 date (`Sunday, 06-Nov-94 08:49:37 GMT`,
/// its two-digit year taken in the century of `now`, or the one before if that would put it
/// more than 50 years after `now`) and asctime (`Sun Nov  6 08:49:37 1994`). Used for the
/// conditional request fields.
pub(crate) fn parse_any_http_date(s: &[u8], now: i64) -> Option<i64> {
    if let Some(t) = parse_http_date(s) {
        return Some(t);
    }
    let (y, m, d, time) = if let Some(comma) = s.iter().position(|&b| b == b',') {
        // rfc850-date = day-name-l "," SP date2 SP time-of-day SP GMT; date2 = DD-Mon-YY
        let (day, rest) = (&s[..comma], &s[comma + 1..]);
        if !LONG_DAYS.contains(&day) || rest.len() != 23 || rest[0] != b' ' {
            return None;
        }
        let rest = &rest[1..];
        if rest[2] != b'-' || rest[6] != b'-' || rest[9] != b' ' || &rest[18..] != b" GMT" {
            return None;
        }
        let m = MONTHS.iter().position(|m| &rest[3..6] == *m)? as u32 + 1;
        let (this_year, _, _) = civil_from_days(now.div_euclid(86_400));
        let mut y = this_year - this_year.rem_euclid(100) + i64::from(two_digits(&rest[7..9])?);
        if y > this_year + 50 {
            y -= 100;
        }
        (y, m, two_digits(&rest[..2])?, &rest[10..18])
    } else {
        // asctime-date = day-name SP date3 SP time-of-day SP year; date3 = Mon SP ( 2DIGIT / ( SP DIGIT ))
        if s.len() != 24 || s[3] != b' ' || s[7] != b' ' || s[10] != b' ' || s[19] != b' ' {
            return None;
        }
        DAYS.iter().position(|d| &s[..3] == *d)?;
        let m = MONTHS.iter().position(|m| &s[4..7] == *m)? as u32 + 1;
        let d = if s[8] == b' ' {
            digits(&s[9..10])?
        } else {
            two_digits(&s[8..10])?
        };
        (i64::from(digits(&s[20..24])?), m, d, &s[11..19])
    };
    if time[2] != b':' || time[5] != b':' {
        return None;
    }
    let (hh, mm, ss) = (
        two_digits(&time[..2])?,
        two_digits(&time[3..5])?,
        two_digits(&time[6..8])?,
    );
    if !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + i64::from(hh * 3600 + mm * 60 + ss))
}

const LONG_DAYS: [&[u8]; 7] = [
    b"Monday",
    b"Tuesday",
    b"Wednesday",
    b"Thursday",
    b"Friday",
    b"Saturday",
    b"Sunday",
];

fn two_digits(s: &[u8]) -> Option<u32> {
    if s.len() == 2 { digits(s) } else { None }
}

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

    #[test]
    fn the_three_formats_of_rfc_9110() {
        let now = 1_796_000_000; // 2026
        for s in [
            &b"Sun, 06 Nov 1994 08:49:37 GMT"[..],
            b"Sunday, 06-Nov-94 08:49:37 GMT",
            b"Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_any_http_date(s, now), Some(784_111_777), "{s:?}");
        }
        // Two-digit years: at most 50 years ahead, else the century before.
        assert_eq!(
            parse_any_http_date(b"Friday, 01-Jan-60 00:00:00 GMT", now),
            Some(days_from_civil(2060, 1, 1) * 86_400)
        );
        assert_eq!(
            parse_any_http_date(b"Friday, 01-Jan-99 00:00:00 GMT", now),
            Some(days_from_civil(1999, 1, 1) * 86_400)
        );
        assert_eq!(
            parse_any_http_date(b"Sun Nov 16 08:49:37 1994", now),
            Some(784_111_777 + 10 * 86_400)
        );
        for bad in [
            &b"Sun, 06 Nov 1994 08:49:37 UTC"[..],
            b"Sunday, 06-Nov-1994 08:49:37 GMT",
            b"Sunda, 06-Nov-94 08:49:37 GMT",
            b"Sun Nov  6 08:49:37 94",
            b"Sun Nov 6 08:49:37 1994",
            b"Sun Nov  6 25:49:37 1994",
            b"",
            b"garbage",
        ] {
            assert_eq!(parse_any_http_date(bad, now), None, "{bad:?}");
        }
    }
}
