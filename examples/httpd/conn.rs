//! A connection and what one worker thread needs to serve it, shared by both designs
//! (`worker`: one reactor per core; `pool`: one epoll thread feeding a worker pool): read
//! until the socket is drained, answer every complete request into one write, send with
//! back-pressure, discard request bodies, keep the deadline phase.

use std::ffi::CString;
use std::io::Write as _;
use std::mem;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::Duration;

use rawsys::fs::{self, Mode, OFlags};
use rawsys::io;
use rawsys::net::{self, RecvFlags, SendFlags, SocketAddr};
use rawsys::{Errno, OwnedFd};
use reactor::http::{BodyFraming, ChunkedDecoder, RawHeader, RequestParser, Status, Version};
use reactor::{TimerKey, TimerWheel};

use crate::config::Config;
use crate::files::FileCache;
use crate::respond::{Ctx, FileSend, respond, simple_response};
use crate::util::{clf_date, http_date};

/// The shared read buffer of a worker; a connection keeps its own only for a partial request.
const READ_BUF: usize = 64 * 1024;
/// Stop answering pipelined requests and write once this much is queued.
const WRITE_HIGH_WATER: usize = 256 * 1024;
/// The most of a file waiting unsent in a connection's socket (`TCP_NOTSENT_LOWAT`, set at
/// the connection's first file): 64 KiB and 128 KiB measured best on the 1 MiB row, 256 KiB
/// and 512 KiB less well (see `finish_batch`).
const NOTSENT_LOWAT: u32 = 128 * 1024;
/// The most a partial request head may take before it is refused (431): the parser's own
/// limits (8 KiB request line, 64 KiB of fields) plus slack.
const MAX_HEAD: usize = 80 * 1024;
/// Per-connection tables are sized up front for this many connections (or the connection
/// cap, if lower): address space only, touched as connections arrive, as nginx sizes its
/// connection array; growing them later would copy them and leave the old copies behind.
pub(crate) const PRESIZED_CONNS: usize = 1 << 16;
/// The clock tick: the event loop reads the clock and expires deadlines on a timerfd tick
/// instead of calling `clock_gettime` after every wait. Deadlines get one tick of slack.
pub(crate) const TICK_MS: u64 = 50;

/// State shared by the main thread and every worker.
pub(crate) struct Shared {
    pub(crate) cfg: Config,
    pub(crate) root_path: CString,
    pub(crate) root_canon: Vec<u8>,
    pub(crate) conns: AtomicUsize,
    pub(crate) max_conns: usize,
    pub(crate) shutdown: AtomicBool,
    pub(crate) log_dropped: AtomicU64,
}

/// Where a connection is in its life, which decides its deadline.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// Receiving a request head (or waiting for the first one): header timeout, not
    /// extended by trickling bytes.
    Head,
    /// Between requests: keep-alive timeout.
    Idle,
    /// A response is waiting for room in the send buffer: send timeout, extended on progress.
    Sending,
}

/// The client's address, for the access log.
#[derive(Clone, Copy)]
pub(crate) enum Peer {
    V4([u8; 4]),
    V6([u8; 16]),
    Other,
}

/// One client connection: its socket and everything between two of its events.
pub(crate) struct Conn {
    pub(crate) fd: OwnedFd,
    /// Tells a reused slot from the connection an old timer entry or event was for.
    pub(crate) generation: u32,
    phase: Phase,
    pub(crate) deadline: u64,
    /// The deadline of this connection's entry in the timer wheel (0: none).
    armed_at: u64,
    /// That entry, to cancel when the connection closes or its deadline comes nearer.
    timer: Option<TimerKey>,
    /// Received bytes not yet consumed: a partial request, or pipelined requests held back
    /// by back-pressure. Empty (and unallocated) while idle.
    inbuf: Vec<u8>,
    /// The parser of a partial request head in `inbuf`.
    parser: Option<Box<RequestParser>>,
    /// Queued response bytes not yet sent, from `out_pos`.
    out: Vec<u8>,
    out_pos: usize,
    /// A file region to send after `out`.
    file: Option<FileSend>,
    /// Request body bytes still to discard.
    body_left: u64,
    chunked: Option<Box<ChunkedDecoder>>,
    /// The response to a request whose body is still arriving: released once the body is
    /// complete, replaced by a 400 if the body turns out malformed.
    deferred: Option<Box<Deferred>>,
    /// Close once the queued output is sent.
    close_after: bool,
    /// `inbuf` may hold complete requests not yet answered.
    pending_input: bool,
    /// Reading stopped before `EAGAIN` (back-pressure): read again once output drains.
    read_stalled: bool,
    /// The peer shut down its sending side.
    eof: bool,
    /// An event said the peer shut down its sending side (`EPOLLRDHUP`): its FIN may be
    /// waiting behind the data, and an edge-triggered socket would not signal it again, so
    /// a short read does not end the reading (set by the caller of [`drive`]).
    pub(crate) peer_closed: bool,
    /// Responses have been written before (a later batch sets `TCP_NODELAY`).
    answered: bool,
    nodelay: bool,
    /// `TCP_CORK` is on while a response's head and file go out (see `finish_batch`).
    corked: bool,
    /// `TCP_NOTSENT_LOWAT` is set (at the connection's first file, see `finish_batch`).
    paced: bool,
    peer: Peer,
}

struct Deferred {
    bytes: Vec<u8>,
    file: Option<FileSend>,
    keep_alive: bool,
}

impl Conn {
    /// A fresh connection, waiting for its first request head.
    pub(crate) fn new(fd: OwnedFd, peer: Peer, generation: u32, deadline: u64) -> Conn {
        Conn {
            fd,
            generation,
            phase: Phase::Head,
            deadline,
            armed_at: 0,
            timer: None,
            inbuf: Vec::new(),
            parser: None,
            out: Vec::new(),
            out_pos: 0,
            file: None,
            body_left: 0,
            chunked: None,
            deferred: None,
            close_after: false,
            pending_input: false,
            read_stalled: false,
            eof: false,
            peer_closed: false,
            answered: false,
            nodelay: false,
            corked: false,
            paced: false,
            peer,
        }
    }

    /// Gives the connection an entry in `wheel` (as slot `idx`) for its deadline, unless
    /// its entry fires no later: one entry per connection, a nearer deadline replacing it;
    /// a deadline moved later is re-armed when the entry fires.
    pub(crate) fn arm(&mut self, wheel: &mut TimerWheel<(u32, u32)>, idx: usize) {
        if self.armed_at == 0 || self.armed_at > self.deadline {
            if let Some(k) = self.timer.take() {
                wheel.cancel(k);
            }
            self.armed_at = self.deadline;
            self.timer = Some(wheel.insert(self.deadline, (idx as u32, self.generation)));
        }
    }

    /// Forgets the connection's entry if it is due at `now_ms`: it fired, or fired while the
    /// connection was away (an entry never fires before its deadline).
    pub(crate) fn entry_fired(&mut self, now_ms: u64) {
        if self.armed_at != 0 && self.armed_at <= now_ms {
            self.armed_at = 0;
            self.timer = None;
        }
    }

    /// The key of the connection's entry, for the thread that owns the wheel.
    pub(crate) fn timer_key(&self) -> Option<TimerKey> {
        self.timer
    }

    /// Cancels the connection's entry, before it closes.
    pub(crate) fn disarm(&mut self, wheel: &mut TimerWheel<(u32, u32)>) {
        if let Some(k) = self.timer.take() {
            wheel.cancel(k);
        }
        self.armed_at = 0;
    }

    /// Response bytes or a file region wait to be sent.
    pub(crate) fn has_output(&self) -> bool {
        self.out_pos < self.out.len() || self.file.is_some()
    }

    /// Nothing in flight: no output, no partial request, no body being discarded (a
    /// draining server closes such a connection).
    pub(crate) fn is_quiet(&self) -> bool {
        !self.has_output()
            && self.inbuf.is_empty()
            && self.body_left == 0
            && self.deferred.is_none()
    }

    /// Sets the deadline for the phase the connection is now in.
    pub(crate) fn update_deadline(&mut self, cfg: &Config, now: u64, progressed: bool) {
        if self.has_output() {
            if self.phase != Phase::Sending || progressed {
                self.phase = Phase::Sending;
                self.deadline = now + ms(cfg.send_timeout);
            }
        } else if !self.inbuf.is_empty()
            || self.body_left > 0
            || self.chunked.is_some()
            || self.deferred.is_some()
        {
            if self.phase != Phase::Head {
                self.phase = Phase::Head;
                self.deadline = now + ms(cfg.header_timeout);
            }
        } else if self.phase != Phase::Idle || progressed {
            self.phase = Phase::Idle;
            self.deadline = now + ms(cfg.keepalive_timeout);
        }
    }
}

/// What [`drive`] left a connection in.
pub(crate) enum Driven {
    /// Close it (done, failed, or the peer left).
    Close,
    /// Keep it; `progressed`: bytes moved (extends a send deadline).
    Open { progressed: bool },
}

/// The peer of an accepted connection, for the access log.
pub(crate) fn peer_of(addr: &SocketAddr) -> Peer {
    match addr {
        SocketAddr::V4(a) => Peer::V4(a.ip()),
        SocketAddr::V6(a) => Peer::V6(a.octets()),
        _ => Peer::Other,
    }
}

/// Answers a connection above the cap with 503 (best effort, never blocking); the caller
/// closes it.
pub(crate) fn refuse_busy(fd: &OwnedFd, date: &[u8; 29]) {
    let mut out = Vec::with_capacity(256);
    simple_response(&mut out, date, 503, false, Version::Http11, b"", false);
    let _ = net::send(fd, &out, SendFlags::NOSIGNAL | SendFlags::DONTWAIT);
}

enum Flow {
    /// Every complete request was answered; anything left is a partial request.
    More,
    /// Stop: a file must be sent, or enough output is queued; input may remain.
    Hold,
    /// Stop and close the connection after the output.
    Close,
}

enum Flush {
    Done,
    Blocked,
    Failed,
}

/// The per-thread buffers and state a request needs.
pub(crate) struct Io {
    cache: FileCache,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    scratch: Vec<u8>,
    headers: Box<[RawHeader; 100]>,
    parser: RequestParser,
    pub(crate) date: [u8; 29],
    clf: [u8; 26],
    /// The event loop's clock (`monotonic_ms`), refreshed on each tick.
    pub(crate) now_ms: u64,
    /// Shutting down: every response closes its connection.
    pub(crate) draining: bool,
    max_body: u64,
    pub(crate) log: Option<Vec<u8>>,
}

impl Io {
    /// Buffers, parser and a file cache over its own descriptor of the root directory.
    pub(crate) fn new(shared: &Shared, now_ms: u64, log: bool) -> Result<Io, Errno> {
        let root = fs::openat(
            fs::CWD,
            &shared.root_path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Io {
            cache: FileCache::new(root, shared.root_canon.clone()),
            rbuf: vec![0; READ_BUF],
            wbuf: Vec::with_capacity(64 * 1024),
            scratch: Vec::with_capacity(256),
            headers: Box::new([RawHeader::EMPTY; 100]),
            parser: RequestParser::new(),
            date: http_date(0),
            clf: clf_date(0),
            now_ms,
            draining: false,
            max_body: shared.cfg.max_body,
            log: log.then(|| Vec::with_capacity(16 * 1024)),
        })
    }

    /// Refreshes the `Date` header and the access log's date for wall-clock second `secs`.
    pub(crate) fn set_wall_clock(&mut self, secs: i64) {
        self.date = http_date(secs);
        self.clf = clf_date(secs);
    }
}

/// A timeout in milliseconds, plus one tick since `now_ms` may be a tick old.
pub(crate) fn ms(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u32::MAX)) as u64 + TICK_MS
}

fn send_all_or_block(fd: &OwnedFd, buf: &[u8], more: bool) -> Result<usize, Errno> {
    let flags = if more {
        SendFlags::NOSIGNAL | SendFlags::MORE
    } else {
        SendFlags::NOSIGNAL
    };
    let mut sent = 0;
    while sent < buf.len() {
        match net::send(fd, &buf[sent..], flags) {
            Ok(n) => sent += n,
            Err(Errno::EAGAIN) => break,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

/// Makes all the progress possible on a connection: send what is queued, answer what is
/// buffered, read what arrived.
/// `readable`: the event said the socket has input (or an error) to read.
pub(crate) fn drive(io: &mut Io, conn: &mut Conn, readable: bool) -> Driven {
    let mut progressed = false;
    let mut try_read = readable;
    loop {
        if conn.has_output() {
            match flush(conn) {
                (Flush::Done, _) => progressed = true,
                (Flush::Blocked, p) => {
                    progressed |= p;
                    conn.read_stalled = true;
                    break;
                }
                (Flush::Failed, _) => {
                    return Driven::Close;
                }
            }
        }
        if conn.close_after {
            return Driven::Close;
        }
        if conn.pending_input {
            conn.pending_input = false;
            let buf = mem::take(&mut conn.inbuf);
            let (used, flow) = process(io, conn, &buf);
            keep_rest(conn, buf, used, &flow);
            finish_batch(io, conn, flow);
            progressed = true;
            continue;
        }
        if conn.eof {
            if conn.inbuf.is_empty() || !conn.has_output() {
                return Driven::Close;
            }
            break;
        }
        if !(try_read || conn.read_stalled) {
            break;
        }
        conn.read_stalled = false;
        let mut rbuf = mem::take(&mut io.rbuf);
        let n = match net::recv(&conn.fd, &mut rbuf, RecvFlags::empty()) {
            Ok(0) => {
                conn.eof = true;
                io.rbuf = rbuf;
                continue;
            }
            Ok(n) => n,
            Err(Errno::EAGAIN) => {
                io.rbuf = rbuf;
                break;
            }
            Err(Errno::EINTR) => {
                io.rbuf = rbuf;
                continue;
            }
            Err(_) => {
                io.rbuf = rbuf;
                return Driven::Close;
            }
        };
        // A short read drained the socket: new data will raise a new edge. Not so the FIN
        // if it came with the data (nginx checks the same): read on to the end of the stream.
        try_read = n == rbuf.len() || conn.peer_closed;
        progressed = true;
        let flow = if conn.inbuf.is_empty() {
            let (used, flow) = process(io, conn, &rbuf[..n]);
            if !matches!(flow, Flow::Close) && used < n {
                conn.inbuf.extend_from_slice(&rbuf[used..n]);
            }
            if matches!(flow, Flow::Hold) && !conn.inbuf.is_empty() {
                conn.pending_input = true;
            }
            flow
        } else {
            let mut buf = mem::take(&mut conn.inbuf);
            buf.extend_from_slice(&rbuf[..n]);
            let (used, flow) = process(io, conn, &buf);
            keep_rest(conn, buf, used, &flow);
            flow
        };
        io.rbuf = rbuf;
        finish_batch(io, conn, flow);
    }
    if io.draining && conn.is_quiet() {
        return Driven::Close;
    }
    Driven::Open { progressed }
}

/// Moves the responses of one batch from the shared write buffer to the socket (or the
/// connection's queue), and applies the flow decision.
fn finish_batch(io: &mut Io, conn: &mut Conn, flow: Flow) {
    if matches!(flow, Flow::Close) {
        conn.close_after = true;
        conn.inbuf = Vec::new();
        conn.pending_input = false;
    }
    let wbuf = &mut io.wbuf;
    // Nagle would hold a small response back while an earlier one is unacknowledged:
    // turn it off from the second batch or a file on (a one-shot `Connection: close`
    // exchange saves the system call).
    if !conn.nodelay && (conn.answered || conn.file.is_some()) {
        let _ = net::set_tcp_nodelay(&conn.fd, true);
        conn.nodelay = true;
    }
    conn.answered |= !wbuf.is_empty();
    // A file goes out with sendfile: cork the socket until all of it is queued (uncorked in
    // `flush`), so no partial segment is pushed between the head and the file or within it,
    // as lighttpd does. Measured on the 1 MiB row (wrk pinned to its own core, its CPU the
    // bottleneck): the client spends ~7 % less CPU per byte received (A/B runs; the kernel
    // mechanism was not isolated further).
    if conn.file.is_some() && !conn.corked {
        conn.corked = net::set_tcp_cork(&conn.fd, true).is_ok();
    }
    // And at most NOTSENT_LOWAT bytes of it wait in the socket unsent: `sendfile` hands the
    // file over as the connection takes it, instead of queueing up to the whole send buffer
    // (megabytes per connection) that only the peer's acknowledgements push out. Measured
    // on the 1 MiB row pinned (wrk on its own core the bottleneck): on loopback those pushes
    // run in the client's system calls, and wrk's CPU per MiB fell 270 -> 252 us, the rate
    // rose 3.62 -> 3.88 GB/s (medians of 3; httpd's own CPU per MiB 119 -> 150 us, the work
    // it now does itself); unpinned the two balance out (4.93 GB/s either way).
    if conn.file.is_some() && !conn.paced {
        conn.paced = true;
        let _ = net::set_tcp_notsent_lowat(&conn.fd, NOTSENT_LOWAT);
    }
    if !wbuf.is_empty() {
        if conn.out_pos < conn.out.len() {
            conn.out.extend_from_slice(wbuf);
        } else {
            // The last response of a connection that closes: hold its last segment back
            // (MSG_MORE) and shut the sending side down, so the FIN rides on that segment
            // instead of following in a packet of its own (one segment less per connection,
            // counted with nstat: 9 instead of 10 for a `Connection: close` exchange).
            let last = conn.close_after && conn.file.is_none();
            match send_all_or_block(&conn.fd, wbuf, conn.file.is_some() || last) {
                Ok(n) if n == wbuf.len() => {
                    if last {
                        let _ = net::shutdown(&conn.fd, net::Shutdown::Write);
                    }
                }
                Ok(n) => {
                    conn.out = wbuf[n..].to_vec();
                    conn.out_pos = 0;
                }
                Err(_) => {
                    wbuf.clear();
                    conn.out = Vec::new();
                    conn.out_pos = 0;
                    conn.file = None;
                    conn.close_after = true;
                    return;
                }
            }
        }
        wbuf.clear();
        if wbuf.capacity() > 1 << 20 {
            wbuf.shrink_to(64 * 1024);
        }
    }
}

/// Hands the access log lines gathered so far to the logger thread, never waiting: if
/// its queue is full the lines are dropped and counted.
pub(crate) fn flush_log(io: &mut Io, tx: Option<&SyncSender<Vec<u8>>>, shared: &Shared) {
    let (Some(buf), Some(tx)) = (io.log.as_mut(), tx) else {
        return;
    };
    if buf.is_empty() {
        return;
    }
    let batch = mem::replace(buf, Vec::with_capacity(16 * 1024));
    match tx.try_send(batch) {
        Ok(()) => {}
        Err(TrySendError::Full(b) | TrySendError::Disconnected(b)) => {
            let lines = b.iter().filter(|&&c| c == b'\n').count() as u64;
            shared.log_dropped.fetch_add(lines, Ordering::Relaxed);
        }
    }
}

/// Keeps the unconsumed part of `buf` as the connection's input.
fn keep_rest(conn: &mut Conn, mut buf: Vec<u8>, used: usize, flow: &Flow) {
    if matches!(flow, Flow::Close) || used >= buf.len() {
        conn.inbuf = Vec::new();
        return;
    }
    buf.drain(..used);
    conn.inbuf = buf;
    if matches!(flow, Flow::Hold) {
        conn.pending_input = true;
    }
}

/// Sends queued bytes, then the file region. Returns whether everything went, and whether
/// anything did.
fn flush(conn: &mut Conn) -> (Flush, bool) {
    let mut progressed = false;

    if conn.out_pos < conn.out.len() {
        match send_all_or_block(&conn.fd, &conn.out[conn.out_pos..], conn.file.is_some()) {
            Ok(n) => {
                progressed = n > 0;
                conn.out_pos += n;
                if conn.out_pos < conn.out.len() {
                    return (Flush::Blocked, progressed);
                }
                conn.out = Vec::new();
                conn.out_pos = 0;
            }
            Err(_) => return (Flush::Failed, progressed),
        }
    }
    if let Some(f) = conn.file.as_mut() {
        while f.offset < f.end {
            let want = (f.end - f.offset).min(1 << 30) as usize;
            match io::sendfile(&conn.fd, &*f.fd, Some(&mut f.offset), want) {
                Ok(0) => return (Flush::Failed, progressed), // the file shrank
                Ok(_) => progressed = true,
                Err(Errno::EAGAIN) => return (Flush::Blocked, progressed),
                Err(Errno::EINTR) => {}
                Err(_) => return (Flush::Failed, progressed),
            }
        }
        conn.file = None;
        if conn.corked {
            // Pushes the last partial segment out now.
            let _ = net::set_tcp_cork(&conn.fd, false);
            conn.corked = false;
        }
    }
    (Flush::Done, progressed)
}

/// Answers every complete request at the front of `buf`. Returns the bytes consumed and
/// whether to go on.
fn process(io: &mut Io, conn: &mut Conn, buf: &[u8]) -> (usize, Flow) {
    let mut pos = 0;
    loop {
        // Discard a request body (this server has no use for one).
        if conn.body_left > 0 {
            let n = conn.body_left.min((buf.len() - pos) as u64);
            conn.body_left -= n;
            pos += n as usize;
            if conn.body_left > 0 {
                return (pos, Flow::More);
            }
        }
        if let Some(dec) = conn.chunked.as_mut() {
            loop {
                match dec.decode(&buf[pos..]) {
                    Ok(step) => {
                        pos += step.consumed;
                        if dec.body_len() > io.max_body {
                            conn.deferred = None;
                            simple_response(
                                &mut io.wbuf,
                                &io.date,
                                413,
                                false,
                                Version::Http11,
                                b"",
                                false,
                            );
                            return (pos, Flow::Close);
                        }
                        if step.done {
                            conn.chunked = None;
                            break;
                        }
                        if step.consumed == 0 || pos >= buf.len() {
                            return (pos, Flow::More);
                        }
                    }
                    Err(e) => {
                        conn.deferred = None;
                        simple_response(
                            &mut io.wbuf,
                            &io.date,
                            e.status(),
                            false,
                            Version::Http11,
                            b"",
                            false,
                        );
                        return (pos, Flow::Close);
                    }
                }
            }
        }
        if let Some(d) = conn.deferred.take() {
            io.wbuf.extend_from_slice(&d.bytes);
            if let Some(f) = d.file {
                conn.file = Some(f);
                conn.close_after |= !d.keep_alive;
                return (
                    pos,
                    if d.keep_alive {
                        Flow::Hold
                    } else {
                        Flow::Close
                    },
                );
            }
            if !d.keep_alive {
                return (pos, Flow::Close);
            }
        }
        if pos >= buf.len() {
            return (pos, Flow::More);
        }
        if io.wbuf.len() >= WRITE_HIGH_WATER {
            return (pos, Flow::Hold);
        }
        // A resumed head brings its own parser; a new one uses the worker's.
        let mut resumed = conn.parser.take();
        let parser: &mut RequestParser = match resumed.as_deref_mut() {
            Some(p) => p,
            None => {
                io.parser.reset();
                &mut io.parser
            }
        };
        let rest = &buf[pos..];
        let chunked_config = *parser.config();
        let req = match parser.parse(rest, &mut io.headers[..]) {
            Ok(Status::Complete(req)) => req,
            Ok(Status::Partial) => {
                if rest.len() > MAX_HEAD {
                    simple_response(
                        &mut io.wbuf,
                        &io.date,
                        431,
                        false,
                        Version::Http11,
                        b"",
                        false,
                    );
                    return (buf.len(), Flow::Close);
                }
                conn.parser = Some(match resumed {
                    Some(b) => b,
                    None => Box::new(io.parser.clone()),
                });
                return (pos, Flow::More);
            }
            Err(e) => {
                let status = match e.status() {
                    s @ (400 | 413 | 414 | 431 | 501 | 505) => s,
                    _ => 400,
                };
                simple_response(
                    &mut io.wbuf,
                    &io.date,
                    status,
                    false,
                    Version::Http11,
                    b"",
                    false,
                );
                log_line(io, conn.peer, b"-", status, 0);
                return (buf.len(), Flow::Close);
            }
        };
        pos += req.head_len();
        match req.body() {
            BodyFraming::None => {}
            BodyFraming::ContentLength(n) if n > io.max_body => {
                let line = request_line(rest, req.head_len());
                simple_response(
                    &mut io.wbuf,
                    &io.date,
                    413,
                    false,
                    req.version(),
                    b"",
                    false,
                );
                log_line(io, conn.peer, line, 413, 0);
                return (buf.len(), Flow::Close);
            }
            BodyFraming::ContentLength(n) => conn.body_left = n,
            BodyFraming::Chunked => {
                conn.chunked = Some(Box::new(ChunkedDecoder::with_config(&chunked_config)));
            }
        }
        let mut ctx = Ctx {
            cache: &mut io.cache,
            date: &io.date,
            now_ms: io.now_ms,
            out: &mut io.wbuf,
            scratch: &mut io.scratch,
        };
        let mark = ctx.out.len();
        let outcome = respond(&req, &mut ctx, !io.draining);
        if io.log.is_some() {
            let line = request_line(rest, req.head_len());
            log_line(io, conn.peer, line, outcome.status, outcome.body_len);
        }
        if conn.body_left > 0 || conn.chunked.is_some() {
            conn.deferred = Some(Box::new(Deferred {
                bytes: io.wbuf.split_off(mark),
                file: outcome.file,
                keep_alive: outcome.keep_alive,
            }));
            continue;
        }
        if let Some(f) = outcome.file {
            conn.file = Some(f);
            conn.close_after |= !outcome.keep_alive;
            return (
                pos,
                if outcome.keep_alive {
                    Flow::Hold
                } else {
                    Flow::Close
                },
            );
        }
        if !outcome.keep_alive {
            return (pos, Flow::Close);
        }
    }
}

/// The request line of a head (without its CRLF), for the access log.
fn request_line(head: &[u8], len: usize) -> &[u8] {
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

fn log_line(io: &mut Io, peer: Peer, request: &[u8], status: u16, bytes: u64) {
    let Some(log) = io.log.as_mut() else { return };
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
    log.extend_from_slice(&io.clf);
    log.extend_from_slice(b"] \"");
    // The request line holds only visible ASCII and spaces (the parser checked it), but
    // escape quotes and backslashes anyway so a log line always parses.
    for &b in request {
        match b {
            b'"' | b'\\' => {
                let _ = write!(log, "\\x{b:02x}");
            }
            _ => log.push(b),
        }
    }
    let _ = writeln!(log, "\" {status} {bytes}");
}
