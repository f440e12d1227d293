//! The HTTP side of a connection: answers every complete request in a buffer of received
//! (plain-text) bytes into the thread's write buffer, discards request bodies, and holds a
//! response back until its request's body is complete. No socket is touched here.

use reactor::http::{BodyFraming, ChunkedDecoder, Request, RequestParser, Status, Version};

use super::access_log::{Referrer, log_line, request_line};
use super::driver::ThreadState;
use super::state::{Conn, DeferredResponse};
use crate::respond::{FileSend, Responder, respond, simple_response};

/// Stop answering pipelined requests and write once this much is queued.
const WRITE_HIGH_WATER: usize = 256 * 1024;
/// The most a partial request head may take before it is refused (431): the parser's own
/// limits (8 KiB request line, 64 KiB of fields) plus slack.
const MAX_HEAD: usize = 80 * 1024;

/// How answering a buffer of requests ended.
pub(super) enum BatchEnd {
    /// Every complete request was answered; anything left is a partial request.
    NeedInput,
    /// Paused: a file must be sent, or enough output is queued; input may remain.
    Paused,
    /// Stop and close the connection after the output.
    Close,
}

/// Queues an error response that closes the connection.
fn error_response(ts: &mut ThreadState, status: u16, version: Version) -> u64 {
    simple_response(&mut ts.wbuf, &ts.date, status, false, version, b"", false)
}

/// The request's `Referer` and `User-Agent` for the access log, as slices of `head` (the
/// input, not the thread's header table, so the log can be written while the request is
/// held); a value not inside `head` is left out.
fn referrer<'b>(head: &'b [u8], req: &Request<'_>) -> Referrer<'b> {
    let within = |v: Option<&[u8]>| {
        let v = v?;
        let start = (v.as_ptr() as usize).checked_sub(head.as_ptr() as usize)?;
        head.get(start..start.checked_add(v.len())?)
    };
    Some((
        within(req.header("referer")),
        within(req.header("user-agent")),
    ))
}

/// Where the batch goes after a response is queued: on to the next request (`None`),
/// paused while its file goes out, or closing.
fn after_response(conn: &mut Conn, file: Option<FileSend>, keep_alive: bool) -> Option<BatchEnd> {
    if let Some(f) = file {
        conn.file = Some(f);
        conn.close_when_sent |= !keep_alive;
        return Some(if keep_alive {
            BatchEnd::Paused
        } else {
            BatchEnd::Close
        });
    }
    (!keep_alive).then_some(BatchEnd::Close)
}

/// Answers every complete request at the front of `buf`. Returns the bytes consumed and
/// how the batch ended.
pub(super) fn answer_requests(
    ts: &mut ThreadState,
    conn: &mut Conn,
    buf: &[u8],
) -> (usize, BatchEnd) {
    let mut pos = 0;
    loop {
        // Discard a request body (this server has no use for one).
        if conn.body_left > 0 {
            let n = conn.body_left.min((buf.len() - pos) as u64);
            conn.body_left -= n;
            pos += n as usize;
            if conn.body_left > 0 {
                return (pos, BatchEnd::NeedInput);
            }
        }
        if let Some(dec) = conn.chunked.as_mut() {
            loop {
                match dec.decode(&buf[pos..]) {
                    Ok(step) => {
                        pos += step.consumed;
                        if dec.body_len() > ts.max_body {
                            conn.deferred = None;
                            error_response(ts, 413, Version::Http11);
                            return (pos, BatchEnd::Close);
                        }
                        if step.done {
                            conn.chunked = None;
                            break;
                        }
                        if step.consumed == 0 || pos >= buf.len() {
                            return (pos, BatchEnd::NeedInput);
                        }
                    }
                    Err(e) => {
                        conn.deferred = None;
                        error_response(ts, e.status(), Version::Http11);
                        return (pos, BatchEnd::Close);
                    }
                }
            }
        }
        if let Some(d) = conn.deferred.take() {
            ts.wbuf.extend_from_slice(&d.bytes);
            if let Some(end) = after_response(conn, d.file, d.keep_alive) {
                return (pos, end);
            }
        }
        if pos >= buf.len() {
            return (pos, BatchEnd::NeedInput);
        }
        if ts.wbuf.len() >= WRITE_HIGH_WATER {
            return (pos, BatchEnd::Paused);
        }
        // A resumed head brings its own parser; a new one uses the thread's.
        let mut resumed = conn.parser.take();
        let parser: &mut RequestParser = match resumed.as_deref_mut() {
            Some(p) => p,
            None => {
                ts.parser.reset();
                &mut ts.parser
            }
        };
        let rest = &buf[pos..];
        let chunked_config = *parser.config();
        let req = match parser.parse(rest, &mut ts.headers[..]) {
            Ok(Status::Complete(req)) => req,
            Ok(Status::Partial) => {
                if rest.len() > MAX_HEAD {
                    error_response(ts, 431, Version::Http11);
                    return (buf.len(), BatchEnd::Close);
                }
                conn.parser = Some(match resumed {
                    Some(b) => b,
                    None => Box::new(ts.parser.clone()),
                });
                return (pos, BatchEnd::NeedInput);
            }
            Err(e) => {
                let status = match e.status() {
                    s @ (400 | 413 | 414 | 431 | 501 | 505) => s,
                    _ => 400,
                };
                let bytes = error_response(ts, status, Version::Http11);
                log_line(ts, conn.peer, b"-", status, bytes, None);
                return (buf.len(), BatchEnd::Close);
            }
        };
        pos += req.head_len();
        match req.body() {
            BodyFraming::None => {}
            BodyFraming::ContentLength(n) if n > ts.max_body => {
                let line = request_line(rest, req.head_len());
                let referrer = referrer(rest, &req);
                let version = req.version();
                let bytes = error_response(ts, 413, version);
                log_line(ts, conn.peer, line, 413, bytes, referrer);
                return (buf.len(), BatchEnd::Close);
            }
            BodyFraming::ContentLength(n) => conn.body_left = n,
            BodyFraming::Chunked => {
                conn.chunked = Some(Box::new(ChunkedDecoder::with_config(&chunked_config)));
            }
        }
        let mut responder = Responder {
            cache: &mut ts.cache,
            date: &ts.date,
            now_ms: ts.now_ms,
            out: &mut ts.wbuf,
            scratch: &mut ts.scratch,
        };
        let mark = responder.out.len();
        let outcome = respond(&req, &mut responder, !ts.draining);
        if ts.log.is_some() {
            let line = request_line(rest, req.head_len());
            let referrer = referrer(rest, &req);
            log_line(
                ts,
                conn.peer,
                line,
                outcome.status,
                outcome.body_len,
                referrer,
            );
        }
        if conn.body_left > 0 || conn.chunked.is_some() {
            conn.deferred = Some(Box::new(DeferredResponse {
                bytes: ts.wbuf.split_off(mark),
                file: outcome.file,
                keep_alive: outcome.keep_alive,
            }));
            continue;
        }
        if let Some(end) = after_response(conn, outcome.file, outcome.keep_alive) {
            return (pos, end);
        }
    }
}
