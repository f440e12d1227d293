//! Access log lines (common log format), gathered per thread and handed to the logger
//! thread once per round of events.

use std::io::Write as _;
use std::mem;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{SyncSender, TrySendError};

use super::driver::ThreadState;
use super::state::Peer;
use crate::ServerState;

/// A thread's log buffer starts this large, and is handed over once it reaches it.
pub(crate) const LOG_BATCH: usize = 16 * 1024;

/// Hands the access log lines gathered so far to the logger thread, never waiting: if
/// its queue is full the lines are dropped and counted.
pub(crate) fn flush_log(
    ts: &mut ThreadState,
    tx: Option<&SyncSender<Vec<u8>>>,
    server: &ServerState,
) {
    let (Some(buf), Some(tx)) = (ts.log.as_mut(), tx) else {
        return;
    };
    if buf.is_empty() {
        return;
    }
    let batch = mem::replace(buf, Vec::with_capacity(LOG_BATCH));
    match tx.try_send(batch) {
        Ok(()) => {}
        Err(TrySendError::Full(b) | TrySendError::Disconnected(b)) => {
            let lines = b.iter().filter(|&&c| c == b'\n').count() as u64;
            server.log_dropped.fetch_add(lines, Ordering::Relaxed);
        }
    }
}

/// The request line of a head (without its CRLF), for the access log.
pub(super) fn request_line(head: &[u8], len: usize) -> &[u8] {
    let head = &head[..len.min(head.len())];
    let start = head
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(0);
    let line = &head[start..];
    let end = line
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(line.len());
    &line[..end]
}

/// Appends `field` escaped so a log line always parses: quotes, backslashes, control and
/// non-ASCII bytes become `\xHH` (as nginx writes them).
fn push_escaped(log: &mut Vec<u8>, field: &[u8]) {
    for &b in field {
        match b {
            b'"' | b'\\' | ..=0x1f | 0x7f.. => {
                let _ = write!(log, "\\x{b:02x}");
            }
            _ => log.push(b),
        }
    }
}

/// The `Referer` and `User-Agent` of a request, for `--log-format combined` (`None`: no
/// request was understood, both are logged as `-`).
pub(super) type Referrer<'a> = Option<(Option<&'a [u8]>, Option<&'a [u8]>)>;

/// Appends one line for a request to the thread's log buffer (if logging is on).
pub(super) fn log_line(
    ts: &mut ThreadState,
    peer: Peer,
    request: &[u8],
    status: u16,
    bytes: u64,
    referrer: Referrer<'_>,
) {
    let combined = ts.log_combined;
    let Some(log) = ts.log.as_mut() else { return };
    match peer {
        Peer::V4(a) => {
            let _ = write!(log, "{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
        }
        Peer::V6(a) => {
            let _ = write!(log, "{}", std::net::Ipv6Addr::from(a));
        }
        Peer::Other => log.push(b'-'),
    }
    log.extend_from_slice(b" - - [");
    log.extend_from_slice(&ts.clf);
    log.extend_from_slice(b"] \"");
    // The request line holds only visible ASCII and spaces (the parser checked it), but
    // escape quotes and backslashes anyway so a log line always parses.
    push_escaped(log, request);
    let _ = write!(log, "\" {status} {bytes}");
    if combined {
        let (referer, agent) = referrer.unwrap_or((None, None));
        for field in [referer, agent] {
            log.extend_from_slice(b" \"");
            match field {
                Some(v) if !v.is_empty() => push_escaped(log, v),
                _ => log.push(b'-'),
            }
            log.push(b'"');
        }
    }
    log.push(b'\n');
}
