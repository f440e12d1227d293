//! One reactor thread: its own `Poll`, listener registration, connections, timers and file
//! cache. Nothing is shared between workers but the connection count and the shutdown flag.

use std::ffi::CString;
use std::io::Write as _;
use std::mem;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::Duration;

use rawsys::io::{self, Mode, OFlags};
use rawsys::net::{self, RecvFlags, SendFlags, SocketAddr, SocketFlags};
use rawsys::time::{ClockId, clock_gettime};
use rawsys::{Errno, OwnedFd};
use reactor::http::{BodyFraming, ChunkedDecoder, RawHeader, RequestParser, Status, Version};
use reactor::{Events, Interest, Poll, Timer, TimerWheel, Token, Waker, monotonic_ms};

use crate::config::{AcceptMode, Config};
use crate::files::FileCache;
use crate::respond::{Ctx, FileSend, respond, simple_response};
use crate::util::{clf_date, http_date};

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
const TICK: Token = Token(2);
const FIRST_CONN: usize = 3;
/// The shared read buffer of a worker; a connection keeps its own only for a partial request.
const READ_BUF: usize = 64 * 1024;
/// Stop answering pipelined requests and write once this much is queued.
const WRITE_HIGH_WATER: usize = 256 * 1024;
/// The most a partial request head may take before it is refused (431): the parser's own
/// limits (8 KiB request line, 64 KiB of fields) plus slack.
const MAX_HEAD: usize = 80 * 1024;
/// The clock tick: the event loop reads the clock and expires deadlines on a timerfd tick
/// instead of calling `clock_gettime` after every wait. Deadlines get one tick of slack.
const TICK_MS: u64 = 50;

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

#[derive(Clone, Copy)]
enum Peer {
    V4([u8; 4]),
    V6([u8; 16]),
    Other,
}

struct Conn {
    fd: OwnedFd,
    generation: u32,
    phase: Phase,
    deadline: u64,
    /// The deadline of this connection's entry in the timer wheel (0: none).
    armed_at: u64,
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
    /// Responses have been written before (a later batch sets `TCP_NODELAY`).
    answered: bool,
    nodelay: bool,
    peer: Peer,
}

struct Deferred {
    bytes: Vec<u8>,
    file: Option<FileSend>,
    keep_alive: bool,
}

impl Conn {
    fn has_output(&self) -> bool {
        self.out_pos < self.out.len() || self.file.is_some()
    }
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

/// The worker-wide buffers and state a request needs.
struct Io {
    cache: FileCache,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    scratch: Vec<u8>,
    headers: Box<[RawHeader; 100]>,
    parser: RequestParser,
    date: [u8; 29],
    clf: [u8; 26],
    now_ms: u64,
    draining: bool,
    max_body: u64,
    log: Option<Vec<u8>>,
}

pub(crate) struct Worker {
    shared: Arc<Shared>,
    poll: Poll,
    waker: Arc<Waker>,
    tick: Timer,
    listener: Option<Arc<OwnedFd>>,
    accept_retry_at: u64,
    conns: Vec<Option<Conn>>,
    gens: Vec<u32>,
    free: Vec<usize>,
    live: usize,
    wheel: TimerWheel<(u32, u32, u64)>,
    io: Io,
    date_next_ms: u64,
    drain_deadline: u64,
    log_tx: Option<SyncSender<Vec<u8>>>,
}

/// A timeout in milliseconds, plus one tick since `now_ms` may be a tick old.
fn ms(d: Duration) -> u64 {
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

impl Worker {
    /// A worker with its poll, waker and (for `exclusive`) the shared listener registered.
    pub(crate) fn new(
        shared: Arc<Shared>,
        listener: Arc<OwnedFd>,
        log_tx: Option<SyncSender<Vec<u8>>>,
    ) -> Result<Worker, Errno> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let tick = Timer::new(poll.registry(), TICK)?;
        tick.set_interval(Duration::from_millis(TICK_MS))?;
        match shared.cfg.accept {
            AcceptMode::ReusePort => {
                poll.registry()
                    .register(&*listener, LISTENER, Interest::READABLE)?
            }
            AcceptMode::Exclusive => {
                poll.registry()
                    .register_exclusive(&*listener, LISTENER, Interest::READABLE)?
            }
        }
        let root = io::openat(
            io::CWD,
            &shared.root_path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let now = monotonic_ms()?;
        let io = Io {
            cache: FileCache::new(root, shared.root_canon.clone()),
            rbuf: vec![0; READ_BUF],
            wbuf: Vec::with_capacity(64 * 1024),
            scratch: Vec::with_capacity(256),
            headers: Box::new([RawHeader::EMPTY; 100]),
            parser: RequestParser::new(),
            date: http_date(0),
            clf: clf_date(0),
            now_ms: now,
            draining: false,
            max_body: shared.cfg.max_body,
            log: log_tx.as_ref().map(|_| Vec::with_capacity(16 * 1024)),
        };
        Ok(Worker {
            shared,
            poll,
            waker,
            tick,
            listener: Some(listener),
            accept_retry_at: 0,
            conns: Vec::new(),
            gens: Vec::new(),
            free: Vec::new(),
            live: 0,
            wheel: TimerWheel::new(TICK_MS, 2048, now),
            io,
            date_next_ms: 0,
            drain_deadline: 0,
            log_tx,
        })
    }

    /// A handle that wakes this worker (to notice shutdown).
    pub(crate) fn waker(&self) -> Arc<Waker> {
        Arc::clone(&self.waker)
    }

    fn tick_clock(&mut self) {
        if let Ok(now) = monotonic_ms() {
            self.io.now_ms = now;
        }
        if self.io.now_ms >= self.date_next_ms {
            if let Ok(t) = clock_gettime(ClockId::Realtime) {
                self.io.date = http_date(t.tv_sec);
                self.io.clf = clf_date(t.tv_sec);
                let into_second = (t.tv_nsec / 1_000_000) as u64;
                self.date_next_ms = self.io.now_ms + (1000 - into_second.min(999));
            }
        }
    }

    /// The event loop; returns when shutdown is complete.
    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        self.tick_clock();
        loop {
            let timeout = (self.accept_retry_at != 0 || self.io.draining)
                .then_some(Duration::from_millis(100));
            if self.poll.poll(&mut events, timeout).is_err() {
                std::thread::sleep(Duration::from_millis(10));
            }
            for ev in events.iter() {
                match ev.token() {
                    LISTENER => self.accept_all(),
                    WAKER => {
                        let _ = self.waker.reset();
                    }
                    TICK => {
                        let _ = self.tick.read();
                        self.tick_clock();
                        self.expire_timers();
                    }
                    Token(t) => self.drive(t - FIRST_CONN, ev.is_readable() || ev.is_error()),
                }
            }
            if self.accept_retry_at != 0 && self.io.now_ms >= self.accept_retry_at {
                self.accept_retry_at = 0;
                self.accept_all();
            }
            self.flush_log();
            if self.shared.shutdown.load(Ordering::Acquire) {
                self.tick_clock();
                if !self.io.draining {
                    self.begin_drain();
                }
                if self.live == 0 || self.io.now_ms >= self.drain_deadline {
                    break;
                }
            }
        }
        self.flush_log();
        // Dropping the worker closes every remaining connection.
        let n = self.live;
        self.shared.conns.fetch_sub(n, Ordering::AcqRel);
    }

    fn begin_drain(&mut self) {
        self.io.draining = true;
        self.accept_all();
        if let Some(l) = self.listener.take() {
            let _ = self.poll.registry().deregister(&*l);
        }
        let cfg = &self.shared.cfg;
        self.drain_deadline = self.io.now_ms + ms(cfg.send_timeout.max(cfg.header_timeout));
        for idx in 0..self.conns.len() {
            if let Some(c) = &self.conns[idx] {
                if !c.has_output() && c.inbuf.is_empty() && c.body_left == 0 && c.deferred.is_none()
                {
                    self.close(idx);
                }
            }
        }
    }

    fn accept_all(&mut self) {
        let Some(listener) = self.listener.clone() else {
            return;
        };
        loop {
            match net::accept4(&*listener, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC) {
                Ok((fd, addr)) => {
                    if self.shared.conns.fetch_add(1, Ordering::AcqRel) >= self.shared.max_conns {
                        self.shared.conns.fetch_sub(1, Ordering::AcqRel);
                        let mut out = Vec::with_capacity(256);
                        simple_response(
                            &mut out,
                            &self.io.date,
                            503,
                            false,
                            Version::Http11,
                            b"",
                            false,
                        );
                        let _ = net::send(&fd, &out, SendFlags::NOSIGNAL | SendFlags::DONTWAIT);
                        continue;
                    }
                    let peer = match addr {
                        SocketAddr::V4(a) => Peer::V4(a.ip()),
                        SocketAddr::V6(a) => Peer::V6(a.octets()),
                        _ => Peer::Other,
                    };
                    let idx = self.insert(fd, peer);
                    // The request is usually there already: answer it before registering, so
                    // a one-shot `Connection: close` exchange never touches the epoll set.
                    // Registering later loses nothing: EPOLL_CTL_ADD reports what is ready.
                    self.drive(idx, true);
                    let registered = match &self.conns[idx] {
                        Some(c) => self
                            .poll
                            .registry()
                            .register(
                                &c.fd,
                                Token(idx + FIRST_CONN),
                                Interest::READABLE | Interest::WRITABLE,
                            )
                            .is_ok(),
                        None => true,
                    };
                    if !registered {
                        self.close(idx);
                    }
                }
                Err(Errno::EAGAIN) => break,
                Err(Errno::EINTR | Errno::ECONNABORTED) => {}
                Err(Errno::EMFILE | Errno::ENFILE | Errno::ENOBUFS | Errno::ENOMEM) => {
                    // Out of descriptors or memory: the listener stays readable without a new
                    // edge, so come back on a timer.
                    self.accept_retry_at = self.io.now_ms + 100;
                    break;
                }
                Err(_) => {
                    self.accept_retry_at = self.io.now_ms + 100;
                    break;
                }
            }
        }
    }

    fn insert(&mut self, fd: OwnedFd, peer: Peer) -> usize {
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.conns.push(None);
                self.gens.push(0);
                self.conns.len() - 1
            }
        };
        self.gens[idx] = self.gens[idx].wrapping_add(1);
        let deadline = self.io.now_ms + ms(self.shared.cfg.header_timeout);
        self.conns[idx] = Some(Conn {
            fd,
            generation: self.gens[idx],
            phase: Phase::Head,
            deadline,
            armed_at: 0,
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
            answered: false,
            nodelay: false,
            peer,
        });
        self.live += 1;
        self.arm(idx);
        idx
    }

    fn close(&mut self, idx: usize) {
        if let Some(slot) = self.conns.get_mut(idx) {
            if let Some(conn) = slot.take() {
                // Closing the last descriptor also removes it from the epoll set.
                drop(conn);
                self.free.push(idx);
                self.live -= 1;
                self.shared.conns.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    fn arm(&mut self, idx: usize) {
        let Some(Some(c)) = self.conns.get_mut(idx) else {
            return;
        };
        if c.armed_at == 0 || c.armed_at > c.deadline {
            c.armed_at = c.deadline;
            self.wheel
                .insert(c.deadline, (idx as u32, c.generation, c.deadline));
        }
    }

    fn expire_timers(&mut self) {
        let mut due = Vec::new();
        self.wheel.expire(self.io.now_ms, |e| due.push(e));
        for (idx, generation, at) in due {
            let idx = idx as usize;
            let Some(Some(c)) = self.conns.get_mut(idx) else {
                continue;
            };
            if c.generation != generation {
                continue;
            }
            if c.armed_at == at {
                c.armed_at = 0;
            }
            if self.io.now_ms >= c.deadline {
                self.close(idx);
            } else {
                self.arm(idx);
            }
        }
    }

    /// Sets the deadline for the phase the connection is now in.
    fn update_deadline(&mut self, idx: usize, progressed: bool) {
        let cfg = &self.shared.cfg;
        let now = self.io.now_ms;
        let Some(Some(c)) = self.conns.get_mut(idx) else {
            return;
        };
        if c.has_output() {
            if c.phase != Phase::Sending || progressed {
                c.phase = Phase::Sending;
                c.deadline = now + ms(cfg.send_timeout);
            }
        } else if !c.inbuf.is_empty()
            || c.body_left > 0
            || c.chunked.is_some()
            || c.deferred.is_some()
        {
            if c.phase != Phase::Head {
                c.phase = Phase::Head;
                c.deadline = now + ms(cfg.header_timeout);
            }
        } else if c.phase != Phase::Idle || progressed {
            c.phase = Phase::Idle;
            c.deadline = now + ms(cfg.keepalive_timeout);
        }
        self.arm(idx);
    }

    /// Makes all the progress possible on a connection: send what is queued, answer what is
    /// buffered, read what arrived.
    fn drive(&mut self, idx: usize, readable: bool) {
        let mut progressed = false;
        let mut try_read = readable;
        loop {
            let Some(Some(conn)) = self.conns.get_mut(idx) else {
                return;
            };
            if conn.has_output() {
                match flush(conn) {
                    (Flush::Done, _) => progressed = true,
                    (Flush::Blocked, p) => {
                        progressed |= p;
                        conn.read_stalled = true;
                        break;
                    }
                    (Flush::Failed, _) => {
                        self.close(idx);
                        return;
                    }
                }
            }
            if conn.close_after {
                self.close(idx);
                return;
            }
            if conn.pending_input {
                conn.pending_input = false;
                let buf = mem::take(&mut conn.inbuf);
                let (used, flow) = process(&mut self.io, conn, &buf);
                keep_rest(conn, buf, used, &flow);
                self.finish_batch(idx, flow);
                progressed = true;
                continue;
            }
            if conn.eof {
                if conn.inbuf.is_empty() || !conn.has_output() {
                    self.close(idx);
                    return;
                }
                break;
            }
            if !(try_read || conn.read_stalled) {
                break;
            }
            conn.read_stalled = false;
            let mut rbuf = mem::take(&mut self.io.rbuf);
            let n = match net::recv(&conn.fd, &mut rbuf, RecvFlags::empty()) {
                Ok(0) => {
                    conn.eof = true;
                    self.io.rbuf = rbuf;
                    continue;
                }
                Ok(n) => n,
                Err(Errno::EAGAIN) => {
                    self.io.rbuf = rbuf;
                    break;
                }
                Err(Errno::EINTR) => {
                    self.io.rbuf = rbuf;
                    continue;
                }
                Err(_) => {
                    self.io.rbuf = rbuf;
                    self.close(idx);
                    return;
                }
            };
            // A short read drained the socket: new data will raise a new edge.
            try_read = n == rbuf.len();
            progressed = true;
            let flow = if conn.inbuf.is_empty() {
                let (used, flow) = process(&mut self.io, conn, &rbuf[..n]);
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
                let (used, flow) = process(&mut self.io, conn, &buf);
                keep_rest(conn, buf, used, &flow);
                flow
            };
            self.io.rbuf = rbuf;
            self.finish_batch(idx, flow);
        }
        let Some(Some(conn)) = self.conns.get(idx) else {
            return;
        };
        if self.io.draining
            && !conn.has_output()
            && conn.inbuf.is_empty()
            && conn.body_left == 0
            && conn.deferred.is_none()
        {
            self.close(idx);
            return;
        }
        self.update_deadline(idx, progressed);
    }

    /// Moves the responses of one batch from the shared write buffer to the socket (or the
    /// connection's queue), and applies the flow decision.
    fn finish_batch(&mut self, idx: usize, flow: Flow) {
        let Some(Some(conn)) = self.conns.get_mut(idx) else {
            return;
        };
        if matches!(flow, Flow::Close) {
            conn.close_after = true;
            conn.inbuf = Vec::new();
            conn.pending_input = false;
        }
        let wbuf = &mut self.io.wbuf;
        // Nagle would hold a small response back while an earlier one is unacknowledged:
        // turn it off from the second batch or a file on (a one-shot `Connection: close`
        // exchange saves the system call).
        if !conn.nodelay && (conn.answered || conn.file.is_some()) {
            let _ = net::set_tcp_nodelay(&conn.fd, true);
            conn.nodelay = true;
        }
        conn.answered |= !wbuf.is_empty();
        if !wbuf.is_empty() {
            if conn.out_pos < conn.out.len() {
                conn.out.extend_from_slice(wbuf);
            } else {
                match send_all_or_block(&conn.fd, wbuf, conn.file.is_some()) {
                    Ok(n) if n == wbuf.len() => {}
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

    fn flush_log(&mut self) {
        let (Some(buf), Some(tx)) = (self.io.log.as_mut(), self.log_tx.as_ref()) else {
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
                self.shared.log_dropped.fetch_add(lines, Ordering::Relaxed);
            }
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
