//! Driving a connection: on an event, make all the progress possible: send what is queued,
//! answer what is buffered, read what arrived, until the socket is drained or the output
//! is blocked. The socket's input side is here (`recv`); the HTTP code (`requests`) sees
//! only received bytes (decrypted by `tls` on a TLS connection) and the output side
//! (`output`) owns the sending.

use std::mem;

use rawsys::Errno;
use rawsys::fs::{self, Mode, OFlags};
use rawsys::net::{self, RecvFlags};
use reactor::http::{RawHeader, RequestParser};

use super::access_log::LOG_BATCH;
use super::output::{Flushed, finish_batch, flush};
use super::requests::{BatchEnd, answer_requests};
use super::state::{ClientSends, Conn};
use super::tls::{Decrypted, decrypt, notify_close};
use crate::ServerState;
use crate::dates::{clf_date, http_date};
use crate::files::FileCache;

/// The read buffer of a thread; a connection keeps its own only for a partial request.
const READ_BUF: usize = 64 * 1024;
/// The write buffer of a thread, at start.
const WRITE_BUF: usize = 64 * 1024;

/// What one serving thread keeps for all its connections: buffers, a parser, the file
/// cache, the clock and the dates, the access log buffer.
pub(crate) struct ThreadState {
    pub(super) cache: FileCache,
    pub(super) rbuf: Vec<u8>,
    pub(super) wbuf: Vec<u8>,
    /// The plaintext of a TLS connection's last read (empty, unallocated, without TLS).
    pub(super) plain: Vec<u8>,
    pub(super) scratch: Vec<u8>,
    pub(super) headers: Box<[RawHeader; 100]>,
    pub(super) parser: RequestParser,
    pub(crate) date: [u8; 29],
    pub(super) clf: [u8; 26],
    /// The event loop's clock (`monotonic_ms`), refreshed on each tick.
    pub(crate) now_ms: u64,
    /// Shutting down: every response closes its connection.
    pub(crate) draining: bool,
    pub(super) max_body: u64,
    pub(crate) log: Option<Vec<u8>>,
    /// `--log-format combined`: lines add the Referer and User-Agent.
    pub(super) log_combined: bool,
    /// `--notsent-lowat`: `TCP_NOTSENT_LOWAT` for sockets sending files (0: not set).
    pub(super) notsent_lowat: u32,
}

impl ThreadState {
    /// Buffers, parser and a file cache over its own descriptor of the root directory.
    pub(crate) fn new(server: &ServerState, now_ms: u64, log: bool) -> Result<ThreadState, Errno> {
        let root = fs::openat(
            fs::CWD,
            &server.root_path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(ThreadState {
            cache: FileCache::new(root, server.root_canon.clone()),
            rbuf: vec![0; READ_BUF],
            wbuf: Vec::with_capacity(WRITE_BUF),
            plain: Vec::new(),
            scratch: Vec::with_capacity(256),
            headers: Box::new([RawHeader::EMPTY; 100]),
            parser: RequestParser::new(),
            date: http_date(0),
            clf: clf_date(0),
            now_ms,
            draining: false,
            max_body: server.cfg.max_body,
            log: log.then(|| Vec::with_capacity(LOG_BATCH)),
            log_combined: server.cfg.log_format == crate::config::LogFormat::Combined,
            notsent_lowat: server.cfg.notsent_lowat,
        })
    }

    /// Refreshes the `Date` header and the access log's date for wall-clock second `secs`.
    pub(crate) fn set_wall_clock(&mut self, secs: i64) {
        self.date = http_date(secs);
        self.clf = clf_date(secs);
    }

    /// Whether the access log buffer holds at least `bytes`.
    pub(crate) fn log_holds(&self, bytes: usize) -> bool {
        self.log.as_ref().is_some_and(|l| l.len() >= bytes.max(1))
    }
}

/// What [`drive`] left a connection in.
pub(crate) enum Disposition {
    /// Close it (done, failed, or the peer left).
    Close,
    /// Keep it; `progressed`: bytes moved (extends a send deadline).
    KeepOpen { progressed: bool },
}

/// Makes all the progress possible on a connection: send what is queued, answer what is
/// buffered, read what arrived.
/// `readable`: the event said the socket has input (or an error) to read.
pub(crate) fn drive(ts: &mut ThreadState, conn: &mut Conn, readable: bool) -> Disposition {
    let mut progressed = false;
    let mut try_read = readable;
    loop {
        if conn.has_output() {
            match flush(conn, &mut ts.wbuf) {
                (Flushed::All, _) => progressed = true,
                (Flushed::Blocked, p) => {
                    progressed |= p;
                    conn.unread_input = true;
                    break;
                }
                (Flushed::Failed, _) => {
                    return Disposition::Close;
                }
            }
        }
        if conn.close_when_sent {
            return Disposition::Close;
        }
        if conn.requests_waiting {
            conn.requests_waiting = false;
            let buf = mem::take(&mut conn.inbuf);
            let (used, end) = answer_requests(ts, conn, &buf);
            keep_rest(conn, buf, used, &end);
            finish_batch(&mut ts.wbuf, conn, end, ts.notsent_lowat);
            progressed = true;
            continue;
        }
        if conn.client_sends == ClientSends::Ended {
            if conn.inbuf.is_empty() || !conn.has_output() {
                return Disposition::Close;
            }
            break;
        }
        if !(try_read || conn.unread_input) {
            break;
        }
        conn.unread_input = false;
        let mut rbuf = mem::take(&mut ts.rbuf);
        let n = match net::recv(&conn.fd, &mut rbuf, RecvFlags::empty()) {
            Ok(0) => {
                conn.client_sends = ClientSends::Ended;
                ts.rbuf = rbuf;
                continue;
            }
            Ok(n) => n,
            Err(Errno::EAGAIN) => {
                ts.rbuf = rbuf;
                break;
            }
            Err(Errno::EINTR) => {
                ts.rbuf = rbuf;
                continue;
            }
            Err(_) => {
                ts.rbuf = rbuf;
                return Disposition::Close;
            }
        };
        // A short read drained the socket: new data will raise a new edge. Not so the FIN
        // if it came with the data (nginx checks the same): read on to the end of the stream.
        try_read = n == rbuf.len() || conn.client_sends == ClientSends::Closing;
        // Received bytes count as progress (a deadline may move) once they are request
        // bytes: over TLS, records that carry none (handshake messages, empty records) do
        // not, or a client trickling them would hold its connection forever.
        progressed |= conn.tls.is_none();
        // Over TLS the HTTP code reads the plaintext: it takes the read buffer's place
        // until the batch is answered.
        let mut cipher = None;
        let mut n = n;
        if conn.tls.is_some() {
            let mut plain = mem::take(&mut ts.plain);
            plain.clear();
            match decrypt(conn, &rbuf[..n], &mut plain) {
                Decrypted::Data => {}
                Decrypted::Ended => conn.client_sends = ClientSends::Ended,
                Decrypted::Failed => {
                    ts.rbuf = rbuf;
                    ts.plain = plain;
                    return Disposition::Close;
                }
            }
            n = plain.len();
            progressed |= n > 0;
            cipher = Some(mem::replace(&mut rbuf, plain));
        }
        let end = if conn.inbuf.is_empty() {
            let (used, end) = answer_requests(ts, conn, &rbuf[..n]);
            if !matches!(end, BatchEnd::Close) && used < n {
                conn.inbuf.extend_from_slice(&rbuf[used..n]);
            }
            if matches!(end, BatchEnd::Paused) && !conn.inbuf.is_empty() {
                conn.requests_waiting = true;
            }
            end
        } else {
            let mut buf = mem::take(&mut conn.inbuf);
            buf.extend_from_slice(&rbuf[..n]);
            let (used, end) = answer_requests(ts, conn, &buf);
            keep_rest(conn, buf, used, &end);
            end
        };
        if let Some(cipher) = cipher {
            ts.plain = mem::replace(&mut rbuf, cipher);
        }
        ts.rbuf = rbuf;
        finish_batch(&mut ts.wbuf, conn, end, ts.notsent_lowat);
    }
    if ts.draining && conn.is_quiet() {
        // Shutting down: over TLS the stream ends with the server's close_notify, as a
        // `Connection: close` response's does.
        notify_close(conn);
        return Disposition::Close;
    }
    Disposition::KeepOpen { progressed }
}

/// Keeps the unconsumed part of `buf` as the connection's input.
fn keep_rest(conn: &mut Conn, mut buf: Vec<u8>, used: usize, end: &BatchEnd) {
    if matches!(end, BatchEnd::Close) || used >= buf.len() {
        conn.inbuf = Vec::new();
        return;
    }
    buf.drain(..used);
    conn.inbuf = buf;
    if matches!(end, BatchEnd::Paused) {
        conn.requests_waiting = true;
    }
}
