//! Byte classes of RFC 9110 / RFC 9112, as 256-entry tables built at compile time.

/// `tchar`: the bytes of a token (method, field name, transfer coding, ...).
const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`'
        | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// Bytes allowed in a `Host` value or an authority-form target: `uri-host [ ":" port ]`,
/// where `uri-host` is an IP literal in brackets, an IPv4 address or a reg-name (unreserved,
/// pct-encoded, sub-delims).
const fn is_host_byte(b: u8) -> bool {
    matches!(b,
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&'
        | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' | b'%' | b':' | b'[' | b']')
}

macro_rules! table {
    ($f:ident) => {{
        let mut t = [false; 256];
        let mut i = 0;
        while i < 256 {
            t[i] = $f(i as u8);
            i += 1;
        }
        t
    }};
}

/// Token characters.
pub(crate) static TOKEN: [bool; 256] = table!(is_tchar);

/// Host bytes: 0 for plain ones, 1 for `:`, `[` and `]` (their placement is checked apart),
/// 2 for bytes that may not appear in a host at all.
static HOST_CLASS: [u8; 256] = {
    let mut t = [2u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if is_host_byte(b) {
            t[i] = if b == b':' || b == b'[' || b == b']' {
                1
            } else {
                0
            };
        }
        i += 1;
    }
    t
};

/// Class bits of [`CLASSES`]: token character.
pub(crate) const C_TOKEN: u8 = 1;
/// Class bit: request-target byte (visible ASCII).
pub(crate) const C_TARGET: u8 = 2;
/// Class bit: field-value byte (HTAB, SP, VCHAR, obs-text).
pub(crate) const C_VALUE: u8 = 4;
/// Class bit: optional whitespace (SP, HTAB).
pub(crate) const C_OWS: u8 = 8;
/// Class bit: CR (the quick path takes it after a version's eight bytes).
pub(crate) const C_CR: u8 = 0x10;
/// Class bit: every byte (the quick path takes the bytes of a version unexamined, as the state
/// machine does until it has all eight).
pub(crate) const C_ANY: u8 = 0x80;

/// Every byte's classes as a bit set, so that one load and one test decide membership in
/// whichever class a caller holds in a register (the byte-at-a-time quick path).
pub(crate) static CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut c = C_ANY;
        if is_tchar(b) {
            c |= C_TOKEN;
        }
        if target_byte(b) {
            c |= C_TARGET;
        }
        if value_byte(b) {
            c |= C_VALUE;
        }
        if ows(b) {
            c |= C_OWS;
        }
        if b == b'\r' {
            c |= C_CR;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// Whether `b` is in one of the classes `class` (bits of [`CLASSES`]).
#[inline(always)]
pub(crate) fn in_class(b: u8, class: u8) -> bool {
    CLASSES[b as usize] & class != 0
}

/// Whether `b` is a token character.
#[inline(always)]
pub(crate) fn token(b: u8) -> bool {
    TOKEN[b as usize]
}

/// Whether `b` may appear in a field value: HTAB, SP, VCHAR, obs-text.
#[inline(always)]
pub(crate) const fn value_byte(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

/// Whether `b` may appear in a request target: visible ASCII.
#[inline(always)]
pub(crate) const fn target_byte(b: u8) -> bool {
    b > 0x20 && b < 0x7f
}

/// Whether `b` is optional whitespace (SP or HTAB).
#[inline(always)]
pub(crate) const fn ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Whether `s` is a syntactically valid `uri-host [ ":" port ]` (possibly empty).
#[inline(always)]
pub(crate) fn valid_host(s: &[u8]) -> bool {
    // One pass over the bytes; the structure is checked only when a `:`, `[` or `]` shows up
    // (a port or an IP literal).
    let class = |b: &u8| HOST_CLASS[*b as usize];
    let mut words = s.chunks_exact(4);
    let mut acc = 0;
    for w in &mut words {
        acc |= w.iter().map(class).fold(0, |a, c| a | c);
    }
    acc |= words.remainder().iter().map(class).fold(0, |a, c| a | c);
    acc == 0 || (acc == 1 && valid_host_structure(s))
}

#[cold]
fn valid_host_structure(s: &[u8]) -> bool {
    // An IP literal is bracketed and comes first; elsewhere brackets are not allowed.
    let rest = if s.first() == Some(&b'[') {
        match s.iter().position(|&b| b == b']') {
            Some(close) => &s[close + 1..],
            None => return false,
        }
    } else {
        // No bracket or colon before the port's colon, none in the port: the first of them
        // must be that colon, followed by digits only (one pass, stopping there).
        match s.iter().position(|&b| matches!(b, b':' | b'[' | b']')) {
            Some(p) => &s[p..],
            None => &[],
        }
    };
    match rest.split_first() {
        None => true,
        Some((b':', port)) => port.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    }
}

/// `a` equals the lowercase ASCII name `lower`, ignoring case, byte by byte: the reference
/// for [`eq_token_lower_words`].
#[cfg(test)]
fn eq_token_lower(a: &[u8], lower: &[u8]) -> bool {
    a.len() == lower.len() && a.iter().zip(lower).all(|(&x, &y)| x | 0x20 == y)
}

/// `a` equals the lowercase ASCII name `lower` (letters and `-`, at least 4 bytes), ignoring
/// case. `a` must consist of token characters: for those, OR-ing 0x20 only folds A-Z (the
/// only other byte that would fold onto `-` is CR, which is not a token character), so a
/// whole word folds at once. With `lower` a literal, the loop unrolls into a few loads and
/// compares.
#[inline(always)]
pub(crate) fn eq_token_lower_words(a: &[u8], lower: &[u8]) -> bool {
    const FOLD: u64 = 0x2020_2020_2020_2020;
    let n = lower.len();
    if a.len() != n {
        return false;
    }
    if n < 8 {
        return n >= 4 && {
            let last = n - 4;
            let fold = FOLD as u32;
            (load4(a, 0) | fold) == load4(lower, 0) && (load4(a, last) | fold) == load4(lower, last)
        };
    }
    // Words at 0, 8, ..., and the last one aligned to the end (overlapping).
    let mut i = 0;
    loop {
        let at = i.min(n - 8);
        if load8(a, at) | FOLD != load8(lower, at) {
            return false;
        }
        if at == n - 8 {
            return true;
        }
        i += 8;
    }
}

#[inline(always)]
fn load4(s: &[u8], at: usize) -> u32 {
    let mut w = [0; 4];
    w.copy_from_slice(&s[at..at + 4]);
    u32::from_le_bytes(w)
}

#[inline(always)]
fn load8(s: &[u8], at: usize) -> u64 {
    let mut w = [0; 8];
    w.copy_from_slice(&s[at..at + 8]);
    u64::from_le_bytes(w)
}

/// `a` equals `b` ignoring ASCII case.
#[inline]
pub(crate) fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_table_matches_rfc_9110() {
        let expected =
            b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        for b in 0..=255u8 {
            assert_eq!(token(b), expected.contains(&b), "byte {b:#x}");
        }
    }

    #[test]
    fn class_bits_match_the_predicates() {
        for b in 0..=255u8 {
            assert_eq!(in_class(b, C_TOKEN), token(b), "{b:#x}");
            assert_eq!(in_class(b, C_TARGET), target_byte(b), "{b:#x}");
            assert_eq!(in_class(b, C_VALUE), value_byte(b), "{b:#x}");
            assert_eq!(in_class(b, C_OWS), ows(b), "{b:#x}");
            assert_eq!(in_class(b, C_CR), b == b'\r', "{b:#x}");
            assert!(in_class(b, C_ANY), "{b:#x}");
        }
    }

    #[test]
    fn value_and_target_classes() {
        assert!(value_byte(b'\t') && value_byte(b' ') && value_byte(0x80) && value_byte(0xff));
        assert!(!value_byte(0) && !value_byte(b'\r') && !value_byte(b'\n') && !value_byte(0x7f));
        assert!(target_byte(b'/') && target_byte(b'~'));
        assert!(!target_byte(b' ') && !target_byte(0x7f) && !target_byte(0x80) && !target_byte(0));
    }

    #[test]
    fn hosts() {
        for ok in [
            &b""[..],
            b"a",
            b"example.com",
            b"example.com:8080",
            b"[::1]",
            b"[::1]:80",
            b"1.2.3.4:0",
        ] {
            assert!(valid_host(ok), "{:?}", core::str::from_utf8(ok));
        }
        for bad in [
            &b"a b"[..],
            b"a/b",
            b"a@b",
            b"[::1",
            b"a:b:c",
            b"a:8x",
            b"::1",
            b"[::1]x",
            b"a]",
        ] {
            assert!(!valid_host(bad), "{:?}", core::str::from_utf8(bad));
        }
    }

    /// `uri-host [ ":" port ]` read off its definition: an IP literal in brackets, or a name
    /// up to the last colon with neither brackets nor colons; then nothing, or a colon and
    /// digits.
    fn host_structure_by_definition(s: &[u8]) -> bool {
        let rest = if s.first() == Some(&b'[') {
            match s.iter().position(|&b| b == b']') {
                Some(close) => &s[close + 1..],
                None => return false,
            }
        } else {
            let end = s.iter().rposition(|&b| b == b':').unwrap_or(s.len());
            if s[..end].iter().any(|&b| matches!(b, b'[' | b']' | b':')) {
                return false;
            }
            &s[end..]
        };
        match rest.split_first() {
            None => true,
            Some((b':', port)) => port.iter().all(u8::is_ascii_digit),
            Some(_) => false,
        }
    }

    #[test]
    fn host_structure_agrees_with_its_definition() {
        // Every string of up to 6 bytes over the characters that matter.
        let alphabet = [b'a', b'1', b':', b'[', b']', b'.'];
        let mut stack: std::vec::Vec<std::vec::Vec<u8>> = std::vec![std::vec::Vec::new()];
        let mut n = 0;
        while let Some(s) = stack.pop() {
            assert_eq!(
                valid_host_structure(&s),
                host_structure_by_definition(&s),
                "{:?}",
                core::str::from_utf8(&s)
            );
            n += 1;
            if s.len() < 6 {
                for &c in &alphabet {
                    let mut t = s.clone();
                    t.push(c);
                    stack.push(t);
                }
            }
        }
        assert_eq!(n, 55_987);
    }

    #[test]
    fn long_hosts_with_ports() {
        assert!(valid_host(b"a-very-long-host-name.example.com:65535"));
        assert!(!valid_host(b"a-very-long-host-name.exa:mple.com:65535"));
        assert!(!valid_host(b"a-very-long-host-name.example.com]:65535"));
    }

    #[test]
    fn case_folding_of_tokens() {
        assert!(eq_token_lower(b"Content-Length", b"content-length"));
        assert!(!eq_token_lower(b"Content-Lengtx", b"content-length"));
        assert!(!eq_token_lower(b"Host1", b"host"));
        for (a, lower, same) in [
            (&b"HOST"[..], &b"host"[..], true),
            (b"HosT", b"host", true),
            (b"Hosu", b"host", false),
            (b"Host1", b"host", false),
            (b"Connection", b"connection", true),
            (b"ConnectioN", b"connection", true),
            (b"Connectiom", b"connection", false),
            (b"Content-Length", b"content-length", true),
            (b"Content_Length", b"content-length", false),
            (b"Transfer-Encoding", b"transfer-encoding", true),
            (b"Transfer-EncodinG", b"transfer-encoding", true),
            (b"Transfer-Encodin", b"transfer-encoding", false),
            (b"Transfer-Encodinh", b"transfer-encoding", false),
            (b"xransfer-encoding", b"transfer-encoding", false),
        ] {
            assert_eq!(eq_token_lower_words(a, lower), same, "{a:?}");
            assert_eq!(eq_token_lower(a, lower), same, "{a:?}");
        }
        assert!(eq_ignore_case(b"Keep-Alive", b"keep-alive"));
    }
}
