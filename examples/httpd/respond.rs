//! Turning a parsed request into response bytes: methods, conditionals, ranges, errors.

use std::io::Write as _;
use std::sync::Arc;

use rawsys::OwnedFd;
use reactor::http::{Request, TargetForm, Version};

use crate::conditional::{Preconditions, Verdict};
use crate::files::{DATE_AT, FileCache, FileInfo, HEAD_200, Kind};
use crate::negotiate::AcceptEncoding;
use crate::paths::normalize_path;

/// A file region still to be sent with `sendfile` after the bytes already queued.
pub(crate) struct FileSend {
    pub(crate) fd: Arc<OwnedFd>,
    pub(crate) offset: u64,
    pub(crate) end: u64,
}

/// What answering one request did.
pub(crate) struct Outcome {
    pub(crate) status: u16,
    /// Body bytes (for the access log).
    pub(crate) body_len: u64,
    /// Whether the connection stays open after this response.
    pub(crate) keep_alive: bool,
    /// A file region to send after the queued bytes.
    pub(crate) file: Option<FileSend>,
}

/// What answering a request needs of its thread: the file cache, the `Date` value, the
/// clock, and the buffers the response goes to.
pub(crate) struct Responder<'a> {
    pub(crate) cache: &'a mut FileCache,
    pub(crate) date: &'a [u8; 29],
    pub(crate) now_ms: u64,
    pub(crate) out: &'a mut Vec<u8>,
    pub(crate) scratch: &'a mut Vec<u8>,
}

pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

fn status_line(out: &mut Vec<u8>, status: u16, date: &[u8; 29]) {
    match status {
        200 => out.extend_from_slice(HEAD_200),
        _ => {
            let _ = write!(
                out,
                "HTTP/1.1 {status} {}\r\nServer: httpd\r\nDate: ",
                reason(status)
            );
        }
    }
    out.extend_from_slice(date);
    out.extend_from_slice(b"\r\n");
}

fn connection_line(out: &mut Vec<u8>, keep_alive: bool, version: Version) {
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if version == Version::Http10 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
}

/// Queues a complete error (or other body-less) response with a small HTML body.
pub(crate) fn simple_response(
    out: &mut Vec<u8>,
    date: &[u8; 29],
    status: u16,
    keep_alive: bool,
    version: Version,
    extra: &[u8],
    head_only: bool,
) -> u64 {
    status_line(out, status, date);
    out.extend_from_slice(extra);
    let why = reason(status);
    let body_len = 2 * (why.len() + 4) + 64;
    let _ = write!(
        out,
        "Content-Type: text/html; charset=utf-8\r\nContent-Length: {body_len}\r\n"
    );
    connection_line(out, keep_alive, version);
    out.extend_from_slice(b"\r\n");
    if head_only {
        return 0;
    }
    let _ = writeln!(
        out,
        "<html><head><title>{status} {why}</title></head><body><h1>{status} {why}</h1></body></html>"
    );
    body_len as u64
}

/// `s` without leading and trailing spaces and tabs (OWS).
pub(crate) fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// A single byte range resolved against the file size.
enum RangeReq {
    /// No usable Range: serve the whole file.
    Whole,
    /// `start..end` (end exclusive).
    Part(u64, u64),
    /// 416.
    Unsatisfiable,
}

fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u64, |a, &b| {
        a.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

fn range(value: &[u8], size: u64) -> RangeReq {
    let v = trim(value);
    let Some(spec) = v
        .get(..6)
        .filter(|u| u.eq_ignore_ascii_case(b"bytes="))
        .map(|_| &v[6..])
    else {
        return RangeReq::Whole; // another unit: ignore
    };
    if spec.contains(&b',') {
        return RangeReq::Whole; // several ranges: answered with the whole file (allowed)
    }
    let spec = trim(spec);
    let Some(dash) = spec.iter().position(|&b| b == b'-') else {
        return RangeReq::Whole;
    };
    let (first, last) = (trim(&spec[..dash]), trim(&spec[dash + 1..]));
    if first.is_empty() {
        let Some(n) = parse_u64(last) else {
            return RangeReq::Whole;
        };
        if n == 0 || size == 0 {
            return RangeReq::Unsatisfiable;
        }
        return RangeReq::Part(size.saturating_sub(n), size);
    }
    let Some(a) = parse_u64(first) else {
        return RangeReq::Whole;
    };
    let b = if last.is_empty() {
        u64::MAX
    } else {
        match parse_u64(last) {
            Some(b) if b >= a => b,
            _ => return RangeReq::Whole,
        }
    };
    if a >= size {
        return RangeReq::Unsatisfiable;
    }
    RangeReq::Part(a, b.saturating_add(1).min(size))
}

/// Whether `authority` (of an absolute-form target) is `host [ ":" port ]` with a host that is
/// not empty (RFC 9110 4.2.1: an `http` URI with an empty host is invalid and must be
/// rejected) and no userinfo (4.2.4: `user@` is to be treated as an error): an IP literal
/// in brackets, or reg-name / IPv4 characters; the port digits.
fn valid_authority(authority: &[u8]) -> bool {
    let (host, port) = match authority.iter().rposition(|&b| b == b':') {
        Some(c) if !authority[c..].contains(&b']') => (&authority[..c], &authority[c + 1..]),
        _ => (authority, &b""[..]),
    };
    let host_ok = match host {
        [b'[', inner @ .., b']'] => {
            !inner.is_empty()
                && inner
                    .iter()
                    .all(|&b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'))
        }
        _ => {
            !host.is_empty()
                && host
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=%".contains(&b))
        }
    };
    host_ok && port.iter().all(u8::is_ascii_digit)
}

/// The path of the target, perhaps followed by `?` and a query (origin-form as it is; the
/// path and query of an absolute-form target, whose authority must be valid). `None` for a
/// target this server cannot answer (asterisk- or authority-form) or an invalid one.
fn target_path<'a>(req: &Request<'a>) -> Option<&'a str> {
    match req.target_form() {
        TargetForm::Origin => Some(req.target()),
        TargetForm::Absolute => {
            let t = req.target();
            // scheme ":" "//" authority path-abempty [ "?" query ] (the parser checked the
            // scheme and the bytes).
            let rest = t[t.find(':')? + 1..].strip_prefix("//")?;
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            if !valid_authority(&rest.as_bytes()[..end]) {
                return None;
            }
            match rest.as_bytes().get(end) {
                Some(b'/') => Some(&rest[end..]),
                // An empty path is `/`; a fragment is refused with the path's checks.
                None | Some(b'?') => Some("/"),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Methods of RFC 9110 section 9 (and PATCH, RFC 5789) that this server knows but does not
/// allow on a file: 405 with `Allow`. Any other method (method names are case-sensitive, so
/// `get` is one) is one it does not implement: 501 (RFC 9110 9.1, 15.6.2).
fn known_method(method: &str) -> bool {
    matches!(
        method,
        "POST" | "PUT" | "DELETE" | "CONNECT" | "OPTIONS" | "TRACE" | "PATCH"
    )
}

/// Answers `req`, appending the response head (and a small body) to `ctx.out`.
/// `keep_alive` says whether the server still allows the connection to continue.
pub(crate) fn respond(req: &Request<'_>, ctx: &mut Responder<'_>, keep_alive: bool) -> Outcome {
    let version = req.version();
    let keep_alive = keep_alive && req.keep_alive();
    let method = req.method();
    let head_only = method == "HEAD";
    let simple =
        |ctx: &mut Responder<'_>, status: u16, keep_alive: bool, extra: &[u8]| -> Outcome {
            let body_len = simple_response(
                ctx.out, ctx.date, status, keep_alive, version, extra, head_only,
            );
            Outcome {
                status,
                body_len,
                keep_alive,
                file: None,
            }
        };
    let target = target_path(req);
    // An invalid request-target is answered 400 whatever the method (RFC 9112 3.2); the
    // checks are those of the path (`normalize_path` leaves the query out of `scratch`).
    let bad_target = match target {
        Some(path) => normalize_path(path.as_bytes(), ctx.scratch).is_err(),
        // The parser checked the asterisk and authority forms (and their methods).
        None => matches!(req.target_form(), TargetForm::Origin | TargetForm::Absolute),
    };
    if bad_target {
        return simple(ctx, 400, false, b"");
    }
    if method != "GET" && !head_only {
        return if known_method(method) {
            simple(ctx, 405, keep_alive, b"Allow: GET, HEAD\r\n")
        } else {
            simple(ctx, 501, keep_alive, b"")
        };
    }
    let Some(path) = target else {
        return simple(ctx, 400, false, b"");
    };
    let entry = ctx.cache.lookup(ctx.scratch, ctx.now_ms);
    let f = match &mut entry.kind {
        Kind::File(f) => f,
        Kind::NotFound => return simple(ctx, 404, keep_alive, b""),
        Kind::Forbidden => return simple(ctx, 403, keep_alive, b""),
        Kind::Redirect => {
            let path = path.split_once('?').map_or(path, |(p, _)| p);
            let mut loc = Vec::with_capacity(path.len() + 16);
            loc.extend_from_slice(b"Location: ");
            loc.extend_from_slice(path.as_bytes());
            loc.extend_from_slice(b"/\r\n");
            if let Some(q) = req.query() {
                loc.truncate(loc.len() - 2);
                loc.push(b'?');
                loc.extend_from_slice(q.as_bytes());
                loc.extend_from_slice(b"\r\n");
            }
            let body_len =
                simple_response(ctx.out, ctx.date, 301, keep_alive, version, &loc, head_only);
            return Outcome {
                status: 301,
                body_len,
                keep_alive,
                file: None,
            };
        }
    };
    let out = &mut *ctx.out;

    // Built only when a field of theirs comes: most requests have none.
    let mut conditions: Option<Preconditions<'_>> = None;
    let mut accept: Option<AcceptEncoding> = None;
    let has_siblings = !f.siblings.is_empty();
    if req.header_count() > 0 {
        for h in req.headers() {
            let n = h.name.as_bytes();
            if n.len() < 5 {
                continue;
            }
            match n[0] | 0x20 {
                b'i' | b'r' => {
                    conditions.get_or_insert_default().note(h.name, h.value);
                }
                b'a' if has_siblings && h.name.eq_ignore_ascii_case("accept-encoding") => {
                    accept.get_or_insert_default().add(h.value);
                }
                _ => {}
            }
        }
    }
    // The selected representation: a precompressed sibling the client accepts, or the file.
    let f = match accept.and_then(|a| a.choose(f.siblings.iter().map(|(c, _)| *c))) {
        Some(c) => match f.siblings.iter_mut().find(|(s, _)| *s == c) {
            Some((_, s)) => s,
            None => f,
        },
        None => f,
    };
    let vary = |f: &FileInfo| -> &'static [u8] {
        if f.vary {
            b"Vary: Accept-Encoding\r\n"
        } else {
            b""
        }
    };

    // Preconditions (RFC 9110 13.2.2), then the range they allow.
    let verdict = match &conditions {
        Some(c) => c.evaluate(f, true, ctx.date),
        None => Verdict::Proceed { range: false },
    };
    let use_range = match verdict {
        Verdict::Proceed { range } => range,
        Verdict::NotModified => {
            status_line(out, 304, ctx.date);
            out.extend_from_slice(vary(f));
            out.extend_from_slice(b"Last-Modified: ");
            out.extend_from_slice(&f.last_modified);
            out.extend_from_slice(b"\r\nETag: ");
            out.extend_from_slice(&f.etag);
            out.extend_from_slice(b"\r\n");
            connection_line(out, keep_alive, version);
            out.extend_from_slice(b"\r\n");
            return Outcome {
                status: 304,
                body_len: 0,
                keep_alive,
                file: None,
            };
        }
        Verdict::Failed => {
            let body_len =
                simple_response(out, ctx.date, 412, keep_alive, version, vary(f), head_only);
            return Outcome {
                status: 412,
                body_len,
                keep_alive,
                file: None,
            };
        }
    };
    let want = match conditions.and_then(|c| c.range) {
        Some(v) if use_range => range(v, f.size),
        _ => RangeReq::Whole,
    };
    let (status, start, end) = match want {
        RangeReq::Whole if !head_only && keep_alive && version == Version::Http11 => {
            if let Some(whole) = f.whole.as_deref_mut() {
                // The file's whole response, kept ready: only its Date may need renewing.
                if let Some(d) = whole.get_mut(DATE_AT..DATE_AT + 29)
                    && d != ctx.date
                {
                    d.copy_from_slice(ctx.date);
                }
                out.extend_from_slice(whole);
                return Outcome {
                    status: 200,
                    body_len: f.size,
                    keep_alive,
                    file: None,
                };
            }
            (200, 0, f.size)
        }
        RangeReq::Whole => (200, 0, f.size),
        RangeReq::Part(a, b) => (206, a, b),
        RangeReq::Unsatisfiable => {
            let mut extra = format!("Content-Range: bytes */{}\r\n", f.size).into_bytes();
            extra.extend_from_slice(vary(f));
            let body_len =
                simple_response(out, ctx.date, 416, keep_alive, version, &extra, head_only);
            return Outcome {
                status: 416,
                body_len,
                keep_alive,
                file: None,
            };
        }
    };
    status_line(out, status, ctx.date);
    out.extend_from_slice(&f.tail);
    if status == 200 {
        out.extend_from_slice(&f.length_line);
    } else {
        let _ = write!(
            out,
            "Content-Range: bytes {}-{}/{}\r\nContent-Length: {}\r\n",
            start,
            end - 1,
            f.size,
            end - start
        );
    }
    connection_line(out, keep_alive, version);
    out.extend_from_slice(b"\r\n");
    let len = end - start;
    if head_only || len == 0 {
        return Outcome {
            status,
            body_len: 0,
            keep_alive,
            file: None,
        };
    }
    if let Some(body) = f.body() {
        out.extend_from_slice(body.get(start as usize..end as usize).unwrap_or_default());
        return Outcome {
            status,
            body_len: len,
            keep_alive,
            file: None,
        };
    }
    match &f.fd {
        Some(fd) => Outcome {
            status,
            body_len: len,
            keep_alive,
            file: Some(FileSend {
                fd: Arc::clone(fd),
                offset: start,
                end,
            }),
        },
        None => Outcome {
            status,
            body_len: 0,
            keep_alive: false,
            file: None,
        },
    }
}
