//! RFC 3339 timestamps in UTC, as docker, podman and Go's `time.Time` write them: isorun's
//! log and state times, container's inspect and image times. Included with `#[path]` by the
//! programs that write them (httpd's HTTP dates are another format).

/// Seconds since the epoch as RFC 3339 in UTC: with `Some(nanos)` nine fraction digits
/// (`2026-12-07T19:30:00.123456789Z`), with `None` whole seconds (`2026-12-07T19:30:00Z`).
pub(crate) fn rfc3339(secs: i64, nanos: Option<u32>) -> String {
    let (y, m, d) = crate::civil::civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let (h, min, sec) = (s / 3600, s / 60 % 60, s % 60);
    match nanos {
        Some(n) => format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{sec:02}.{n:09}Z"),
        None => format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{sec:02}Z"),
    }
}
