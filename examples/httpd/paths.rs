//! Request paths: percent-decoding and normalisation below the served root.

/// Why a request path was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PathError {
    /// A `%` not followed by two hexadecimal digits in the path, a NUL or a
    /// backslash, a byte RFC 3986 does not allow there (see [`normalize_path`]), a path that
    /// does not start with `/`, or `..` above the root: 400.
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

/// Bytes the parser lets through in a request target (visible ASCII) that RFC 3986 does not
/// allow in a path: `"`, `#` (a fragment is never sent), `<`, `>`, `` ` ``, `{`, `}` (and
/// `\`, refused apart, also when percent-encoded). `[`, `]`, `^` and `|` are not allowed
/// either, but browsers send them unencoded (the WHATWG URL standard's path percent-encode
/// set leaves them out), so they are accepted, as nginx does.
const PATH_REFUSED: &[u8] = b"\"#<>`{}";
/// The same for the query: `"`, `#`, `<`, `>` (browsers encode these; they send `[]^|{}`,
/// `` ` `` and `\` in a query as they are, so those pass).
const QUERY_REFUSED: &[u8] = b"\"#<>";

/// Byte classes for the scan of a request path: 1 `/`, 2 `.`, 4 needs decoding or is refused
/// (`%`, `\`, NUL, [`PATH_REFUSED`]), 8 ends the path (`?`, the query follows); 0 any other
/// byte.
static PATH_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b'/' as usize] = 1;
    t[b'.' as usize] = 2;
    t[b'%' as usize] = 4;
    t[b'\\' as usize] = 4;
    t[0] = 4;
    let mut i = 0;
    while i < PATH_REFUSED.len() {
        t[PATH_REFUSED[i] as usize] = 4;
        i += 1;
    }
    t[b'?' as usize] = 8;
    t
};

/// Whether `query` (after the `?`) holds none of [`QUERY_REFUSED`]. (The parser has already
/// refused control bytes, spaces and non-ASCII bytes.) A `%` not followed by two hexadecimal
/// digits is let through in a query, which this server does not use: browsers send a `%`
/// typed into a query unencoded.
fn valid_query(query: &[u8]) -> bool {
    !query.iter().any(|b| QUERY_REFUSED.contains(b))
}

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

/// Percent-decodes `path` (which must start with `/`; a query after `?` is checked, see
/// [`valid_query`], and left out) and normalises it into `out`: the relative path below the root, segments joined by `/`,
/// without `.`, `..` or empty segments, and with a trailing `/` if the request path had one
/// (the root is empty).
///
/// Decoding comes first, so `%2e%2e` is `..` and `%2f` is a separator (`%3f` is a `?` in a
/// name); `..` that would climb above the root, a decoded NUL and a backslash are refused, and
/// so are the bytes of [`PATH_REFUSED`] (RFC 9112 3.2: an invalid request-target is answered
/// 400, not corrected).
pub(crate) fn normalize_path(path: &[u8], out: &mut Vec<u8>) -> Result<(), PathError> {
    out.clear();
    if path.first() != Some(&b'/') {
        return Err(PathError::Bad);
    }
    // Fast path: nothing to decode and nothing to normalise.
    if let Some(end) = plain_path(path) {
        // (`end` is at a `?` if it is not the end.)
        if end < path.len() && !valid_query(&path[end + 1..]) {
            return Err(PathError::Bad);
        }
        out.extend_from_slice(&path[1..end]);
        return Ok(());
    }
    let (path, query) = match path.iter().position(|&b| b == b'?') {
        Some(q) => (&path[..q], Some(&path[q + 1..])),
        None => (path, None),
    };
    if query.is_some_and(|q| !valid_query(q)) {
        return Err(PathError::Bad);
    }
    // Decode first into `out`, then normalise in place.
    let mut i = 0;
    while i < path.len() {
        let b = path[i];
        if PATH_REFUSED.contains(&b) {
            return Err(PathError::Bad);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
