//! The seed's design, kept for comparison (`--design pool`): one epoll thread accepts
//! connections and waits for their events; a ready connection goes through a queue to a pool
//! of worker threads, which read, answer and write exactly as the reactor design does
//! (`conn::drive`), re-arm it (`EPOLLONESHOT`) and hand it back.
//!
//! Ownership moves with the connection: while it is parked the polling thread owns it (and
//! its timer), while a worker serves it the worker does. `EPOLLONESHOT` guarantees one event
//! per arming, so no two threads ever serve one connection. A worker re-arms before handing
//! the connection back; an event that arrives in between is remembered on the slot and the
//! connection is dispatched again as soon as it is back.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use rawsys::net::{self, SocketFlags};
use rawsys::time::{ClockId, clock_gettime};
use rawsys::{Errno, OwnedFd};
use reactor::{
    Events, Interest, Poll, Registry, Timer, TimerKey, TimerWheel, Token, Waker, monotonic_ms,
};

use crate::conn::{
    Conn, Driven, Io, PRESIZED_CONNS, Shared, TICK_MS, drive, flush_log, ms, peer_of, refuse_busy,
};

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
const TICK: Token = Token(2);
const FIRST_CONN: usize = 3;
/// A connection's token: its slot index (plus `FIRST_CONN`) in the low half, the slot's
/// generation in the high half, so an event for a closed connection never reaches the next
/// one in its slot.
const GEN_SHIFT: u32 = usize::BITS / 2;
const INDEX_MASK: usize = (1 << GEN_SHIFT) - 1;

fn token(idx: usize, generation: u32) -> Token {
    Token(((generation as usize & INDEX_MASK) << GEN_SHIFT) | (idx + FIRST_CONN))
}

/// A ready connection on its way to a worker.
struct Job {
    idx: usize,
    conn: Box<Conn>,
    readable: bool,
    /// Accepted and never registered: the worker adds it to the epoll set.
    fresh: bool,
}

/// A connection on its way back to the polling thread.
enum Back {
    /// Re-armed; park it.
    Open(usize, Box<Conn>),
    /// Closed by the worker; free the slot (and cancel the connection's timer entry).
    Closed(usize, Option<TimerKey>),
}

struct JobQueue {
    jobs: VecDeque<Job>,
    /// Pool threads waiting on the condition variable (a wake-up is a system call: skip it
    /// when nobody sleeps).
    sleeping: usize,
    /// Shutdown is complete: workers exit.
    closed: bool,
}

/// What the polling thread and the workers share.
struct Hub {
    shared: Arc<Shared>,
    queue: Mutex<JobQueue>,
    ready: Condvar,
    back: Mutex<Vec<Back>>,
    /// The polling thread waits for a connection that had an event while it was busy: the
    /// worker handing a connection back wakes it (`waker`) instead of leaving it asleep
    /// until the next event or tick.
    wake_on_back: AtomicBool,
    waker: Arc<Waker>,
    /// The polling thread's clock, for the workers' deadlines and `Date` header.
    clock_ms: AtomicU64,
    wall_secs: AtomicI64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A worker that panicked cannot leave these plain queues inconsistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

enum State {
    Empty,
    /// Registered (armed) and owned by the polling thread.
    Parked(Box<Conn>),
    /// With a worker (queued or being served).
    Busy,
}

struct Slot {
    generation: u32,
    state: State,
    /// An event came while the connection was busy: dispatch it again when it is back.
    /// `Some(true)` when one of those events said the peer shut down its sending side.
    pending: Option<bool>,
}

/// The polling thread.
pub(crate) struct Pool {
    hub: Arc<Hub>,
    poll: Poll,
    tick: Timer,
    listener: Option<OwnedFd>,
    accept_retry_at: u64,
    slots: Vec<Slot>,
    free: Vec<usize>,
    live: usize,
    wheel: TimerWheel<(u32, u32)>,
    now_ms: u64,
    date: [u8; 29],
    date_next_ms: u64,
    draining: bool,
    drain_deadline: u64,
    /// Jobs gathered during one round of events, queued under one lock.
    batch: Vec<Job>,
}

/// Starts the polling thread and `workers` worker threads; returns the polling thread's
/// waker (to notice shutdown) and every thread to join.
pub(crate) fn start(
    shared: Arc<Shared>,
    listener: OwnedFd,
    workers: usize,
    log_tx: Option<SyncSender<Vec<u8>>>,
) -> Result<(Arc<Waker>, Vec<std::thread::JoinHandle<()>>), String> {
    let err = |e: Errno| e.to_string();
    let poll = Poll::new().map_err(err)?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER).map_err(err)?);
    let tick = Timer::new(poll.registry(), TICK).map_err(err)?;
    tick.set_interval(Duration::from_millis(TICK_MS))
        .map_err(err)?;
    poll.registry()
        .register(&listener, LISTENER, Interest::READABLE)
        .map_err(err)?;
    let now = monotonic_ms().map_err(err)?;
    let presized = shared.max_conns.min(PRESIZED_CONNS);
    let mut wheel = TimerWheel::new(TICK_MS, 2048, now);
    wheel.reserve(presized);
    let hub = Arc::new(Hub {
        shared,
        queue: Mutex::new(JobQueue {
            jobs: VecDeque::new(),
            sleeping: 0,
            closed: false,
        }),
        ready: Condvar::new(),
        back: Mutex::new(Vec::new()),
        wake_on_back: AtomicBool::new(false),
        waker: Arc::clone(&waker),
        clock_ms: AtomicU64::new(now),
        wall_secs: AtomicI64::new(0),
    });
    let mut pool = Pool {
        hub: Arc::clone(&hub),
        poll,
        tick,
        listener: Some(listener),
        accept_retry_at: 0,
        slots: Vec::with_capacity(presized),
        free: Vec::new(),
        live: 0,
        wheel,
        now_ms: now,
        date: [b' '; 29],
        date_next_ms: 0,
        draining: false,
        drain_deadline: 0,
        batch: Vec::new(),
    };
    pool.tick_clock();

    let mut threads = Vec::new();
    for i in 0..workers {
        let registry = pool.poll.registry().try_clone().map_err(err)?;
        let h = Arc::clone(&hub);
        let log = log_tx.clone();
        // The worker's state (its file cache) is built on its own thread.
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::Builder::new()
            .name(format!("httpd-pool-{i}"))
            .spawn(move || {
                let now = h.clock_ms.load(Ordering::Relaxed);
                match Io::new(&h.shared, now, log.is_some()) {
                    Ok(io) => {
                        let _ = tx.send(Ok(()));
                        work(&h, &registry, io, log.as_ref());
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            })
            .map_err(|e| format!("spawn: {e}"))?;
        match rx.recv() {
            Ok(Ok(())) => threads.push(t),
            Ok(Err(e)) => {
                close_queue(&hub);
                return Err(format!("worker {i}: {e}"));
            }
            Err(_) => {
                close_queue(&hub);
                return Err(format!("worker {i} died"));
            }
        }
    }
    let poller = std::thread::Builder::new()
        .name("httpd-poll".into())
        .spawn(move || pool.run())
        .map_err(|e| format!("spawn: {e}"))?;
    threads.push(poller);
    Ok((waker, threads))
}

fn close_queue(hub: &Hub) {
    lock(&hub.queue).closed = true;
    hub.ready.notify_all();
}

/// A worker thread: takes ready connections off the queue until shutdown.
fn work(hub: &Hub, registry: &Registry, mut io: Io, log_tx: Option<&SyncSender<Vec<u8>>>) {
    let cfg = &hub.shared.cfg;
    let mut wall = 0;
    loop {
        let job = {
            let mut q = lock(&hub.queue);
            loop {
                if let Some(job) = q.jobs.pop_front() {
                    break job;
                }
                if q.closed {
                    return;
                }
                if io.log.as_ref().is_some_and(|l| !l.is_empty()) {
                    drop(q);
                    flush_log(&mut io, log_tx, &hub.shared);
                    q = lock(&hub.queue);
                    continue;
                }
                q.sleeping += 1;
                q = hub.ready.wait(q).unwrap_or_else(|e| e.into_inner());
                q.sleeping -= 1;
            }
        };
        io.now_ms = hub.clock_ms.load(Ordering::Relaxed);
        let secs = hub.wall_secs.load(Ordering::Relaxed);
        if secs != wall {
            wall = secs;
            io.set_wall_clock(secs);
        }
        io.draining = hub.shared.shutdown.load(Ordering::Acquire);
        let Job {
            idx,
            mut conn,
            readable,
            fresh,
        } = job;
        let timer = conn.timer_key();
        let back = match drive(&mut io, &mut conn, readable) {
            Driven::Close => None,
            Driven::Open { progressed } => {
                conn.update_deadline(cfg, io.now_ms, progressed);
                // Waiting for room to write: also wake on EPOLLOUT. Otherwise only on input
                // (a one-shot EPOLLOUT would fire at once, the socket being writable).
                let interest = if conn.has_output() {
                    Interest::READABLE | Interest::WRITABLE
                } else {
                    Interest::READABLE
                };
                let t = token(idx, conn.generation);
                let armed = if fresh {
                    registry.register_oneshot(&conn.fd, t, interest)
                } else {
                    registry.reregister_oneshot(&conn.fd, t, interest)
                };
                armed.is_ok().then_some(conn)
            }
        };
        let back = match back {
            Some(conn) => Back::Open(idx, conn),
            None => {
                // Dropping the connection closes its socket (and its epoll registration).
                hub.shared.conns.fetch_sub(1, Ordering::AcqRel);
                Back::Closed(idx, timer)
            }
        };
        lock(&hub.back).push(back);
        // After the push: the polling thread sets the flag before it looks at `back` again.
        if hub.wake_on_back.load(Ordering::SeqCst) && hub.wake_on_back.swap(false, Ordering::SeqCst)
        {
            let _ = hub.waker.wake();
        }
        if io.log.as_ref().is_some_and(|l| l.len() >= 16 * 1024) {
            flush_log(&mut io, log_tx, &hub.shared);
        }
    }
}

impl Pool {
    fn tick_clock(&mut self) {
        if let Ok(now) = monotonic_ms() {
            self.now_ms = now;
            self.hub.clock_ms.store(now, Ordering::Relaxed);
        }
        if self.now_ms >= self.date_next_ms {
            if let Ok(t) = clock_gettime(ClockId::Realtime) {
                self.hub.wall_secs.store(t.tv_sec, Ordering::Relaxed);
                self.date = crate::util::http_date(t.tv_sec);
                let into_second = (t.tv_nsec / 1_000_000) as u64;
                self.date_next_ms = self.now_ms + (1000 - into_second.min(999));
            }
        }
    }

    /// The event loop of the polling thread; returns when shutdown is complete.
    fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout =
                (self.accept_retry_at != 0 || self.draining).then_some(Duration::from_millis(100));
            if self.poll.poll(&mut events, timeout).is_err() {
                std::thread::sleep(Duration::from_millis(10));
            }
            self.take_back();
            for ev in events.iter() {
                match ev.token() {
                    LISTENER => self.accept_all(),
                    WAKER => {
                        let _ = self.hub.waker.reset();
                    }
                    TICK => {
                        let _ = self.tick.read();
                        self.tick_clock();
                        self.expire_timers();
                    }
                    Token(t) => {
                        let idx = (t & INDEX_MASK).wrapping_sub(FIRST_CONN);
                        let generation = (t >> GEN_SHIFT) as u32;
                        let readable = ev.is_readable() || ev.is_error();
                        self.event(idx, generation, readable, ev.is_read_closed());
                    }
                }
            }
            // A connection that had an event while busy may have come back meanwhile; if not,
            // its worker wakes this thread when it does.
            if self.hub.wake_on_back.load(Ordering::SeqCst) {
                self.take_back();
            }
            if self.accept_retry_at != 0 && self.now_ms >= self.accept_retry_at {
                self.accept_retry_at = 0;
                self.accept_all();
            }
            self.dispatch_batch();
            if self.hub.shared.shutdown.load(Ordering::Acquire) {
                self.tick_clock();
                if !self.draining {
                    self.begin_drain();
                }
                self.take_back();
                self.dispatch_batch();
                if self.live == 0 || self.now_ms >= self.drain_deadline {
                    break;
                }
            }
        }
        close_queue(&self.hub);
        // Dropping the slots closes every parked connection.
    }

    /// `peer_closed`: the event said the peer shut down its sending side.
    fn event(&mut self, idx: usize, generation: u32, readable: bool, peer_closed: bool) {
        let Some(slot) = self.slots.get_mut(idx) else {
            return;
        };
        if slot.generation & INDEX_MASK as u32 != generation {
            return;
        }
        match std::mem::replace(&mut slot.state, State::Busy) {
            State::Parked(mut conn) => {
                conn.peer_closed |= peer_closed;
                self.batch.push(Job {
                    idx,
                    conn,
                    readable,
                    fresh: false,
                });
            }
            State::Busy => {
                slot.pending = Some(slot.pending == Some(true) || peer_closed);
                self.hub.wake_on_back.store(true, Ordering::SeqCst);
            }
            State::Empty => slot.state = State::Empty,
        }
    }

    /// Queues the gathered jobs under one lock and wakes as many workers.
    fn dispatch_batch(&mut self) {
        let n = self.batch.len();
        if n == 0 {
            return;
        }
        let sleeping = {
            let mut q = lock(&self.hub.queue);
            q.jobs.extend(self.batch.drain(..));
            q.sleeping
        };
        if sleeping == 0 {
            // Every pool thread is busy and takes the next job without a wake-up.
        } else if n == 1 {
            self.hub.ready.notify_one();
        } else {
            self.hub.ready.notify_all();
        }
    }

    /// Parks the connections the workers handed back (or frees their slots).
    fn take_back(&mut self) {
        let back = std::mem::take(&mut *lock(&self.hub.back));
        for b in back {
            match b {
                Back::Closed(idx, timer) => {
                    if let Some(k) = timer {
                        self.wheel.cancel(k);
                    }
                    if let Some(slot) = self.slots.get_mut(idx) {
                        slot.state = State::Empty;
                        slot.pending = None;
                        self.free.push(idx);
                        self.live -= 1;
                    }
                }
                Back::Open(idx, mut conn) => {
                    let Some(slot) = self.slots.get_mut(idx) else {
                        continue;
                    };
                    if self.draining && conn.is_quiet() {
                        conn.disarm(&mut self.wheel);
                        drop(conn);
                        self.hub.shared.conns.fetch_sub(1, Ordering::AcqRel);
                        slot.state = State::Empty;
                        slot.pending = None;
                        self.free.push(idx);
                        self.live -= 1;
                        continue;
                    }
                    if let Some(peer_closed) = slot.pending.take() {
                        conn.peer_closed |= peer_closed;
                        self.batch.push(Job {
                            idx,
                            conn,
                            readable: true,
                            fresh: false,
                        });
                        continue;
                    }
                    // Its wheel entry may have fired while it was away.
                    conn.entry_fired(self.now_ms);
                    conn.arm(&mut self.wheel, idx);
                    slot.state = State::Parked(conn);
                }
            }
        }
    }

    fn begin_drain(&mut self) {
        self.draining = true;
        self.accept_all();
        if let Some(l) = self.listener.take() {
            let _ = self.poll.registry().deregister(&l);
        }
        let cfg = &self.hub.shared.cfg;
        self.drain_deadline = self.now_ms + ms(cfg.send_timeout.max(cfg.header_timeout));
        for idx in 0..self.slots.len() {
            if matches!(&self.slots[idx].state, State::Parked(c) if c.is_quiet()) {
                self.close(idx);
            }
        }
    }

    fn close(&mut self, idx: usize) {
        let Some(slot) = self.slots.get_mut(idx) else {
            return;
        };
        if let State::Parked(mut conn) = std::mem::replace(&mut slot.state, State::Empty) {
            conn.disarm(&mut self.wheel);
            drop(conn);
            slot.pending = None;
            self.free.push(idx);
            self.live -= 1;
            self.hub.shared.conns.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn expire_timers(&mut self) {
        let mut due = Vec::new();
        self.wheel.expire(self.now_ms, |e| due.push(e));
        for (idx, generation) in due {
            let idx = idx as usize;
            let Some(slot) = self.slots.get_mut(idx) else {
                continue;
            };
            // A busy connection's entry is renewed when it comes back.
            let State::Parked(c) = &mut slot.state else {
                continue;
            };
            if c.generation != generation {
                continue;
            }
            // The connection's one entry (an older one is cancelled when replaced).
            c.entry_fired(self.now_ms);
            if self.now_ms >= c.deadline {
                self.close(idx);
            } else {
                c.arm(&mut self.wheel, idx);
            }
        }
    }

    fn accept_all(&mut self) {
        let Some(listener) = self.listener.as_ref() else {
            return;
        };
        loop {
            match net::accept4(listener, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC) {
                Ok((fd, addr)) => {
                    let shared = &self.hub.shared;
                    if shared.conns.fetch_add(1, Ordering::AcqRel) >= shared.max_conns
                        || (self.free.is_empty() && self.slots.len() >= INDEX_MASK - FIRST_CONN)
                    {
                        shared.conns.fetch_sub(1, Ordering::AcqRel);
                        refuse_busy(&fd, &self.date);
                        continue;
                    }
                    let idx = match self.free.pop() {
                        Some(i) => i,
                        None => {
                            self.slots.push(Slot {
                                generation: 0,
                                state: State::Empty,
                                pending: None,
                            });
                            self.slots.len() - 1
                        }
                    };
                    let slot = &mut self.slots[idx];
                    slot.generation = slot.generation.wrapping_add(1) & INDEX_MASK as u32;
                    slot.state = State::Busy;
                    slot.pending = None;
                    let deadline = self.now_ms + ms(shared.cfg.header_timeout);
                    let conn = Conn::new(fd, peer_of(&addr), slot.generation, deadline);
                    self.live += 1;
                    // The request is usually there already: the worker answers it, then
                    // registers the connection.
                    self.batch.push(Job {
                        idx,
                        conn: Box::new(conn),
                        readable: true,
                        fresh: true,
                    });
                }
                Err(Errno::EAGAIN) => break,
                Err(Errno::EINTR | Errno::ECONNABORTED) => {}
                Err(_) => {
                    // Out of descriptors or memory: the listener stays readable without a
                    // new edge, so come back on a timer.
                    self.accept_retry_at = self.now_ms + 100;
                    break;
                }
            }
        }
    }
}
