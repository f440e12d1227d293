//! Conditional requests (RFC 9110 section 13): the preconditions of a request for a file,
//! evaluated against the selected representation in the order of 13.2.2.

use crate::dates::{parse_any_http_date, parse_http_date};
use crate::files::FileInfo;
use crate::respond::trim;

/// The precondition fields of a request, and `Range` (which `If-Range` qualifies). When a
/// field comes more than once, its last line counts.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Preconditions<'a> {
    if_match: Option<&'a [u8]>,
    if_none_match: Option<&'a [u8]>,
    if_modified_since: Option<&'a [u8]>,
    if_unmodified_since: Option<&'a [u8]>,
    if_range: Option<&'a [u8]>,
    /// The `Range` value.
    pub(crate) range: Option<&'a [u8]>,
}

/// What the preconditions decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Perform the request; `range` says whether a `Range` field applies (none came, or
    /// `If-Range` did not match: the whole representation).
    Proceed { range: bool },
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// `entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE`: whether it is weak, and its opaque part
/// (between the quotes). `None` if `tag` is not one.
fn entity_tag(tag: &[u8]) -> Option<(bool, &[u8])> {
    let (weak, quoted) = match tag.strip_prefix(b"W/") {
        Some(rest) => (true, rest),
        None => (false, tag),
    };
    let opaque = quoted.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    let etagc = |b: &u8| *b == 0x21 || (0x23..=0x7e).contains(b) || *b >= 0x80;
    opaque.iter().all(etagc).then_some((weak, opaque))
}

/// Whether `value`, `"*"` or a list of entity tags (RFC 9110 13.1.1/13.1.2), matches the
/// entity tag `etag` of the selected representation (which exists): `*` always; a listed tag
/// by the strong comparison (`strong`: neither weak, and equal) or the weak one (equal once
/// `W/` is dropped). `None` if `value` is neither.
fn list_matches(value: &[u8], etag: &[u8], strong: bool) -> Option<bool> {
    let value = trim(value);
    if value == b"*" {
        return Some(true);
    }
    let (etag_weak, etag_opaque) = entity_tag(etag)?;
    let mut rest = value;
    let mut matched = false;
    loop {
        // Empty list elements and whitespace between elements are skipped.
        while let [b' ' | b'\t' | b',', r @ ..] = rest {
            rest = r;
        }
        if rest.is_empty() {
            return Some(matched);
        }
        // The tag runs to its closing quote (a comma may be inside it).
        let open = usize::from(rest.starts_with(b"W/")) * 2;
        if rest.get(open) != Some(&b'"') {
            return None;
        }
        let close = open + 1 + rest[open + 1..].iter().position(|&b| b == b'"')?;
        let (weak, opaque) = entity_tag(&rest[..=close])?;
        matched |= opaque == etag_opaque && (!strong || !(weak || etag_weak));
        rest = &rest[close + 1..];
        while let [b' ' | b'\t', r @ ..] = rest {
            rest = r;
        }
        if !(rest.is_empty() || rest[0] == b',') {
            return None;
        }
    }
}

impl<'a> Preconditions<'a> {
    /// Notes the field `name: value` if it is a precondition or `Range`; returns whether it
    /// was one.
    pub(crate) fn note(&mut self, name: &str, value: &'a [u8]) -> bool {
        let slot = if name.eq_ignore_ascii_case("if-none-match") {
            &mut self.if_none_match
        } else if name.eq_ignore_ascii_case("if-modified-since") {
            &mut self.if_modified_since
        } else if name.eq_ignore_ascii_case("range") {
            &mut self.range
        } else if name.eq_ignore_ascii_case("if-range") {
            &mut self.if_range
        } else if name.eq_ignore_ascii_case("if-match") {
            &mut self.if_match
        } else if name.eq_ignore_ascii_case("if-unmodified-since") {
            &mut self.if_unmodified_since
        } else {
            return false;
        };
        *slot = Some(value);
        true
    }

    /// Evaluates the preconditions against the representation `f` (RFC 9110 13.2.2), for a
    /// request whose method is safe (`safe`: GET or HEAD, the only ones this server
    /// performs; a failed `If-None-Match` is 412 for any other). `date` is the response's
    /// `Date` (the server's clock, for the obsolete two-digit years and the strength of a
    /// date in `If-Range`). Out of line: most requests have no field to evaluate.
    #[inline(never)]
    pub(crate) fn evaluate(&self, f: &FileInfo, safe: bool, date: &[u8; 29]) -> Verdict {
        let now = || parse_http_date(date).unwrap_or(i64::MAX);
        let valid_date = |v: &[u8]| parse_any_http_date(trim(v), now());
        // 1. If-Match (strong comparison; a malformed field is a false condition), else
        // 2. If-Unmodified-Since (ignored if not a valid date).
        if let Some(v) = self.if_match {
            if list_matches(v, &f.etag, true) != Some(true) {
                return Verdict::Failed;
            }
        } else if let Some(t) = self.if_unmodified_since.and_then(valid_date)
            && f.mtime > t
        {
            return Verdict::Failed;
        }
        // 3. If-None-Match (weak comparison; a malformed field is a true condition), else
        // 4. If-Modified-Since, for GET and HEAD only (ignored if not a valid date).
        if let Some(v) = self.if_none_match {
            if list_matches(v, &f.etag, false) == Some(true) {
                return if safe {
                    Verdict::NotModified
                } else {
                    Verdict::Failed
                };
            }
        } else if safe
            && let Some(t) = self.if_modified_since.and_then(valid_date)
            && f.mtime <= t
        {
            return Verdict::NotModified;
        }
        // 5. If-Range, with Range only: an entity tag must match strongly; a date must
        // equal Last-Modified and be a strong validator (RFC 9110 8.8.2.2: the file has not
        // changed during the current second, so it cannot have changed twice in that one).
        let range = self.range.is_some()
            && self.if_range.is_none_or(|v| {
                let v = trim(v);
                if v.starts_with(b"\"") || v.starts_with(b"W/") {
                    list_matches(v, &f.etag, true) == Some(true) && entity_tag(v).is_some()
                } else {
                    valid_date(v) == Some(f.mtime) && f.mtime < now()
                }
            });
        Verdict::Proceed { range }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dates::http_date;

    const ETAG: &[u8] = b"\"5f-1c\"";

    #[test]
    fn entity_tag_lists() {
        for (value, strong, weak) in [
            ("*", Some(true), Some(true)),
            ("\"5f-1c\"", Some(true), Some(true)),
            ("W/\"5f-1c\"", Some(false), Some(true)),
            ("\"x\", \"5f-1c\"", Some(true), Some(true)),
            ("\"x\",W/\"5f-1c\" ,", Some(false), Some(true)),
            ("\"x\"", Some(false), Some(false)),
            ("\"a,b\", \"5f-1c\"", Some(true), Some(true)),
            ("", Some(false), Some(false)),
            (" , ", Some(false), Some(false)),
            ("5f-1c", None, None),
            ("\"5f-1c", None, None),
            ("\"5f-1c\" x", None, None),
            ("w/\"5f-1c\"", None, None),
            ("*, \"5f-1c\"", None, None),
        ] {
            assert_eq!(
                list_matches(value.as_bytes(), ETAG, true),
                strong,
                "{value}"
            );
            assert_eq!(list_matches(value.as_bytes(), ETAG, false), weak, "{value}");
        }
    }

    fn file(mtime: i64) -> FileInfo {
        FileInfo {
            size: 28,
            mtime,
            etag: ETAG.into(),
            last_modified: http_date(mtime),
            tail: Box::default(),
            length_line: Box::default(),
            whole: None,
            fd: None,
            vary: false,
            siblings: Box::default(),
        }
    }

    fn verdict(fields: &[(&str, &str)], safe: bool) -> Verdict {
        let mut p = Preconditions::default();
        for (n, v) in fields {
            assert!(p.note(n, v.as_bytes()), "{n}");
        }
        let now = http_date(1_000_000_100);
        p.evaluate(&file(1_000_000_000), safe, &now)
    }

    #[test]
    fn the_order_of_rfc_9110_13_2_2() {
        use Verdict::*;
        let lm = String::from_utf8(http_date(1_000_000_000).to_vec()).unwrap();
        let before = String::from_utf8(http_date(999_999_999).to_vec()).unwrap();
        let all = Proceed { range: false };
        let ranged = Proceed { range: true };
        assert_eq!(verdict(&[], true), all);
        // If-Match, strong.
        assert_eq!(verdict(&[("If-Match", "\"5f-1c\"")], true), all);
        assert_eq!(verdict(&[("If-Match", "*")], true), all);
        assert_eq!(verdict(&[("If-Match", "\"x\"")], true), Failed);
        assert_eq!(verdict(&[("If-Match", "W/\"5f-1c\"")], true), Failed);
        assert_eq!(verdict(&[("if-match", "garbage")], true), Failed);
        // If-Unmodified-Since, ignored with If-Match or an invalid date.
        assert_eq!(verdict(&[("If-Unmodified-Since", &lm)], true), all);
        assert_eq!(verdict(&[("If-Unmodified-Since", &before)], true), Failed);
        assert_eq!(
            verdict(
                &[("If-Unmodified-Since", "Sunday, 09-Sep-01 01:46:39 GMT")],
                true
            ),
            Failed
        );
        assert_eq!(verdict(&[("If-Unmodified-Since", "yesterday")], true), all);
        assert_eq!(
            verdict(
                &[("If-Match", "\"5f-1c\""), ("If-Unmodified-Since", &before)],
                true
            ),
            all
        );
        // If-Match fails before If-None-Match is looked at.
        assert_eq!(
            verdict(&[("If-Match", "\"x\""), ("If-None-Match", "*")], true),
            Failed
        );
        // If-None-Match, weak: 304 for GET/HEAD, 412 otherwise.
        assert_eq!(
            verdict(&[("If-None-Match", "W/\"5f-1c\"")], true),
            NotModified
        );
        assert_eq!(verdict(&[("If-None-Match", "*")], true), NotModified);
        assert_eq!(verdict(&[("If-None-Match", "*")], false), Failed);
        assert_eq!(verdict(&[("If-None-Match", "\"x\"")], true), all);
        assert_eq!(verdict(&[("If-None-Match", "nonsense")], true), all);
        // If-Modified-Since: ignored with If-None-Match, for other methods, for bad dates.
        assert_eq!(verdict(&[("If-Modified-Since", &lm)], true), NotModified);
        assert_eq!(
            verdict(&[("If-Modified-Since", "Sun Sep  9 01:46:40 2001")], true),
            NotModified
        );
        assert_eq!(verdict(&[("If-Modified-Since", &before)], true), all);
        assert_eq!(verdict(&[("If-Modified-Since", &lm)], false), all);
        assert_eq!(verdict(&[("If-Modified-Since", "not a date")], true), all);
        assert_eq!(
            verdict(
                &[("If-None-Match", "\"x\""), ("If-Modified-Since", &lm)],
                true
            ),
            all
        );
        // If-Range: only with Range; strong tags; exact, strong dates.
        assert_eq!(verdict(&[("Range", "bytes=0-1")], true), ranged);
        assert_eq!(verdict(&[("If-Range", "\"5f-1c\"")], true), all);
        let with = |ir: &str| verdict(&[("Range", "bytes=0-1"), ("If-Range", ir)], true);
        assert_eq!(with("\"5f-1c\""), ranged);
        assert_eq!(with("W/\"5f-1c\""), all);
        assert_eq!(with("\"x\""), all);
        assert_eq!(with("\"5f-1c\", \"x\""), all);
        assert_eq!(with(&lm), ranged);
        assert_eq!(with(&before), all);
        assert_eq!(with("garbage"), all);
        // A date in the current second is not a strong validator.
        let mut p = Preconditions::default();
        p.note("Range", b"bytes=0-1");
        p.note("If-Range", lm.as_bytes());
        assert_eq!(
            p.evaluate(&file(1_000_000_000), true, &http_date(1_000_000_000)),
            all
        );
        // Preconditions pass, then If-Range.
        assert_eq!(
            verdict(
                &[
                    ("If-Match", "\"5f-1c\""),
                    ("If-None-Match", "\"x\""),
                    ("Range", "bytes=0-1"),
                    ("If-Range", "\"5f-1c\"")
                ],
                true
            ),
            ranged
        );
    }
}
