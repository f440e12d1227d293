//! The reactor design (the default): one thread per core, each with its own `Poll`, listener
//! registration, connections, timers and file cache. Nothing is shared between workers but
//! the connection count and the shutdown flag.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use rawsys::net::{self, SocketFlags};
use rawsys::process::sched_yield;
use rawsys::time::{ClockId, clock_gettime};
use rawsys::{Errno, OwnedFd};
use reactor::{Events, Interest, Poll, Timer, TimerWheel, Token, Waker, monotonic_ms};

use crate::config::AcceptMode;
use crate::conn::{
    Conn, Driven, Io, PRESIZED_CONNS, Peer, Shared, TICK_MS, drive, flush_log, ms, peer_of,
    refuse_busy,
};

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
const TICK: Token = Token(2);
const FIRST_CONN: usize = 3;

/// One reactor thread.
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
    wheel: TimerWheel<(u32, u32)>,
    io: Io,
    date_next_ms: u64,
    drain_deadline: u64,
    log_tx: Option<SyncSender<Vec<u8>>>,
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
        let now = monotonic_ms()?;
        let presized = shared.max_conns.min(PRESIZED_CONNS);
        let mut wheel = TimerWheel::new(TICK_MS, 2048, now);
        wheel.reserve(presized);
        let io = Io::new(&shared, now, log_tx.is_some())?;
        Ok(Worker {
            shared,
            poll,
            waker,
            tick,
            listener: Some(listener),
            accept_retry_at: 0,
            conns: Vec::with_capacity(presized),
            gens: Vec::with_capacity(presized),
            free: Vec::new(),
            live: 0,
            wheel,
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
                self.io.set_wall_clock(t.tv_sec);
                let into_second = (t.tv_nsec / 1_000_000) as u64;
                self.date_next_ms = self.io.now_ms + (1000 - into_second.min(999));
            }
        }
    }

    /// The event loop; returns when shutdown is complete.
    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        self.tick_clock();
        // After a batch of events, look again without waiting; if nothing came, give the
        // CPU away once (`sched_yield`) before the wait that may sleep. When the clients
        // share the CPUs and the scheduling group, they often have the next requests
        // written by then, and the worker takes them without the sleep and the wake-up the
        // writer would pay for (in a VM an interrupt to another CPU). Measured with wrk in
        // the same session (interleaved A/B, unpinned): Connection: close 22.4-25.3k ->
        // 26.1-28.7k requests/s, pipelined 1.01-1.04M -> 1.07-1.11M, keep-alive +2-6 %.
        // A yield only passes the CPU within the task's own group, so with the server in a
        // session of its own (an autogroup, as scripts/bench-httpd.sh starts every server)
        // it changes nothing (pipelined 0.99M, close 23.5-23.9k either way). Two system
        // calls more per sleep on an idle server.
        let mut look_again = false;
        loop {
            let timeout = (self.accept_retry_at != 0 || self.io.draining)
                .then_some(Duration::from_millis(100));
            let wait = if look_again && timeout.is_none() {
                Some(Duration::ZERO)
            } else {
                timeout
            };
            if self.poll.poll(&mut events, wait).is_err() {
                std::thread::sleep(Duration::from_millis(10));
            }
            if events.is_empty() && look_again {
                look_again = false;
                sched_yield();
                continue;
            }
            look_again = !events.is_empty();
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
                    Token(t) => self.drive(
                        t - FIRST_CONN,
                        ev.is_readable() || ev.is_error(),
                        ev.is_read_closed(),
                    ),
                }
            }
            if self.accept_retry_at != 0 && self.io.now_ms >= self.accept_retry_at {
                self.accept_retry_at = 0;
                self.accept_all();
            }
            flush_log(&mut self.io, self.log_tx.as_ref(), &self.shared);
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
        flush_log(&mut self.io, self.log_tx.as_ref(), &self.shared);
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
            if self.conns[idx].as_ref().is_some_and(Conn::is_quiet) {
                self.close(idx);
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
                        refuse_busy(&fd, &self.io.date);
                        continue;
                    }
                    let peer = peer_of(&addr);
                    let idx = self.insert(fd, peer);
                    // The request is usually there already: answer it before registering, so
                    // a one-shot `Connection: close` exchange never touches the epoll set.
                    // Registering later loses nothing: EPOLL_CTL_ADD reports what is ready.
                    self.drive(idx, true, false);
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
        self.conns[idx] = Some(Conn::new(fd, peer, self.gens[idx], deadline));
        self.live += 1;
        self.arm(idx);
        idx
    }

    fn close(&mut self, idx: usize) {
        if let Some(slot) = self.conns.get_mut(idx) {
            if let Some(mut conn) = slot.take() {
                conn.disarm(&mut self.wheel);
                // Closing the last descriptor also removes it from the epoll set.
                drop(conn);
                self.free.push(idx);
                self.live -= 1;
                self.shared.conns.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    fn arm(&mut self, idx: usize) {
        if let Some(Some(c)) = self.conns.get_mut(idx) {
            c.arm(&mut self.wheel, idx);
        }
    }

    fn expire_timers(&mut self) {
        let mut due = Vec::new();
        self.wheel.expire(self.io.now_ms, |e| due.push(e));
        for (idx, generation) in due {
            let idx = idx as usize;
            let Some(Some(c)) = self.conns.get_mut(idx) else {
                continue;
            };
            if c.generation != generation {
                continue;
            }
            // The connection's one entry (an older one is cancelled when replaced).
            c.entry_fired(self.io.now_ms);
            if self.io.now_ms >= c.deadline {
                self.close(idx);
            } else {
                self.arm(idx);
            }
        }
    }

    /// Makes all the progress possible on a connection, then closes it or sets its
    /// deadline.
    /// `peer_closed`: the event said the peer shut down its sending side.
    fn drive(&mut self, idx: usize, readable: bool, peer_closed: bool) {
        let Some(Some(conn)) = self.conns.get_mut(idx) else {
            return;
        };
        conn.peer_closed |= peer_closed;
        match drive(&mut self.io, conn, readable) {
            Driven::Close => self.close(idx),
            Driven::Open { progressed } => {
                conn.update_deadline(&self.shared.cfg, self.io.now_ms, progressed);
                self.arm(idx);
            }
        }
    }
}
