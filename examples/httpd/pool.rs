//! The thread-pool design (`--design pool`, the seed's): one epoll thread accepts
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

use rawsys::Errno;
use reactor::{Events, Interest, Registry, TimerKey, Waker};

use crate::ServerState;
use crate::conn::{Conn, Disposition, LOG_BATCH, ThreadState, drive, flush_log};
use crate::dates::http_date;
use crate::event_loop::{ConnSlot, EventHandler, EventLoop, Listener, conn_token, handle_events};

/// A ready connection on its way to a pool thread.
struct Job {
    idx: usize,
    conn: Box<Conn>,
    readable: bool,
    /// Accepted and never registered: the pool thread adds it to the epoll set.
    fresh: bool,
}

/// A connection on its way back from a pool thread to the polling thread.
enum Returned {
    /// Re-armed; park it.
    Rearmed(usize, Box<Conn>),
    /// Closed by the pool thread; free the slot (and cancel the connection's timer entry).
    Closed(usize, Option<TimerKey>),
}

struct JobQueue {
    jobs: VecDeque<Job>,
    /// Pool threads waiting on the condition variable (a wake-up is a system call: skip it
    /// when nobody sleeps).
    sleeping: usize,
    /// Shutdown is complete: pool threads exit.
    closed: bool,
}

/// Where connections change hands between the polling thread and the pool threads, and the
/// polling thread's clock for the pool threads.
struct Handoff {
    server: Arc<ServerState>,
    queue: Mutex<JobQueue>,
    ready: Condvar,
    returned: Mutex<Vec<Returned>>,
    /// The polling thread waits for a connection that had an event while it was busy: the
    /// pool thread handing a connection back wakes it (`waker`) instead of leaving it asleep
    /// until the next event or tick.
    wake_on_return: AtomicBool,
    waker: Arc<Waker>,
    /// The polling thread's clock, for the pool threads' deadlines and `Date` header.
    clock_ms: AtomicU64,
    wall_secs: AtomicI64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A pool thread that panicked cannot leave these plain queues inconsistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where a slot's connection is.
enum Whereabouts {
    Empty,
    /// Registered (armed) and owned by the polling thread.
    Parked(Box<Conn>),
    /// With a pool thread (queued or being served).
    Busy,
}

/// The polling thread's slot of a connection.
struct PoolSlot {
    conn: Whereabouts,
    /// An event came while the connection was busy: dispatch it again when it is back.
    /// `Some(true)` when one of those events said the client shut down its sending side.
    pending: Option<bool>,
}

impl PoolSlot {
    const EMPTY: PoolSlot = PoolSlot {
        conn: Whereabouts::Empty,
        pending: None,
    };
}

impl ConnSlot for PoolSlot {
    fn owned_conn(&mut self) -> Option<&mut Conn> {
        match &mut self.conn {
            Whereabouts::Parked(c) => Some(c),
            _ => None,
        }
    }
}

/// The polling thread.
struct Poller {
    handoff: Arc<Handoff>,
    event_loop: EventLoop<PoolSlot>,
    date: [u8; 29],
    /// Jobs gathered during one round of events, queued under one lock.
    batch: Vec<Job>,
}

/// Starts the polling thread and `workers` pool threads; returns the polling thread's
/// waker (to notice shutdown) and every thread to join.
pub(crate) fn start(
    server: Arc<ServerState>,
    listeners: Vec<Listener>,
    workers: usize,
    log_tx: Option<SyncSender<Vec<u8>>>,
) -> Result<(Arc<Waker>, Vec<std::thread::JoinHandle<()>>), String> {
    let err = |e: Errno| e.to_string();
    let event_loop = EventLoop::new(&server, listeners, false).map_err(err)?;
    let waker = Arc::clone(&event_loop.waker);
    let handoff = Arc::new(Handoff {
        server,
        queue: Mutex::new(JobQueue {
            jobs: VecDeque::new(),
            sleeping: 0,
            closed: false,
        }),
        ready: Condvar::new(),
        returned: Mutex::new(Vec::new()),
        wake_on_return: AtomicBool::new(false),
        waker: Arc::clone(&waker),
        clock_ms: AtomicU64::new(event_loop.now_ms),
        wall_secs: AtomicI64::new(0),
    });
    let mut poller = Poller {
        handoff: Arc::clone(&handoff),
        event_loop,
        date: [b' '; 29],
        batch: Vec::new(),
    };
    poller.read_clock();

    let mut threads = Vec::new();
    for i in 0..workers {
        let registry = poller.event_loop.poll.registry().try_clone().map_err(err)?;
        let h = Arc::clone(&handoff);
        let log = log_tx.clone();
        // The pool thread's state (its file cache) is built on its own thread.
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::Builder::new()
            .name(format!("httpd-pool-{i}"))
            .spawn(move || {
                let now = h.clock_ms.load(Ordering::Relaxed);
                match ThreadState::new(&h.server, now, log.is_some()) {
                    Ok(ts) => {
                        let _ = tx.send(Ok(()));
                        serve_jobs(&h, &registry, ts, log.as_ref());
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
                close_queue(&handoff);
                return Err(format!("worker {i}: {e}"));
            }
            Err(_) => {
                close_queue(&handoff);
                return Err(format!("worker {i} died"));
            }
        }
    }
    let poll_thread = std::thread::Builder::new()
        .name("httpd-poll".into())
        .spawn(move || poller.run())
        .map_err(|e| format!("spawn: {e}"))?;
    threads.push(poll_thread);
    Ok((waker, threads))
}

fn close_queue(handoff: &Handoff) {
    lock(&handoff.queue).closed = true;
    handoff.ready.notify_all();
}

/// A pool thread: takes ready connections off the queue until shutdown.
fn serve_jobs(
    handoff: &Handoff,
    registry: &Registry,
    mut ts: ThreadState,
    log_tx: Option<&SyncSender<Vec<u8>>>,
) {
    let server = &*handoff.server;
    let mut wall = 0;
    loop {
        let job = {
            let mut q = lock(&handoff.queue);
            loop {
                if let Some(job) = q.jobs.pop_front() {
                    break job;
                }
                if q.closed {
                    return;
                }
                if ts.log_holds(1) {
                    drop(q);
                    flush_log(&mut ts, log_tx, server);
                    q = lock(&handoff.queue);
                    continue;
                }
                q.sleeping += 1;
                q = handoff.ready.wait(q).unwrap_or_else(|e| e.into_inner());
                q.sleeping -= 1;
            }
        };
        ts.now_ms = handoff.clock_ms.load(Ordering::Relaxed);
        let secs = handoff.wall_secs.load(Ordering::Relaxed);
        if secs != wall {
            wall = secs;
            ts.set_wall_clock(secs);
        }
        ts.draining = server.shutdown.load(Ordering::Acquire);
        let Job {
            idx,
            mut conn,
            readable,
            fresh,
        } = job;
        let timer = conn.timer_key();
        let kept = match drive(&mut ts, &mut conn, readable) {
            Disposition::Close => None,
            Disposition::KeepOpen { progressed } => {
                conn.update_deadline(&server.cfg, ts.now_ms, progressed);
                // Waiting for room to write: also wake on EPOLLOUT. Otherwise only on input
                // (a one-shot EPOLLOUT would fire at once, the socket being writable).
                let interest = if conn.has_output() {
                    Interest::READABLE | Interest::WRITABLE
                } else {
                    Interest::READABLE
                };
                let t = conn_token(idx, conn.generation);
                let armed = if fresh {
                    registry.register_oneshot(&conn.fd, t, interest)
                } else {
                    registry.reregister_oneshot(&conn.fd, t, interest)
                };
                armed.is_ok().then_some(conn)
            }
        };
        let returned = match kept {
            Some(conn) => Returned::Rearmed(idx, conn),
            None => {
                // Dropping the connection closes its socket (and its epoll registration).
                server.release_conns(1);
                Returned::Closed(idx, timer)
            }
        };
        lock(&handoff.returned).push(returned);
        // After the push: the polling thread sets the flag before it looks at `returned`
        // again.
        if handoff.wake_on_return.load(Ordering::SeqCst)
            && handoff.wake_on_return.swap(false, Ordering::SeqCst)
        {
            let _ = handoff.waker.wake();
        }
        if ts.log_holds(LOG_BATCH) {
            flush_log(&mut ts, log_tx, server);
        }
    }
}

impl Poller {
    /// The event loop of the polling thread; returns when shutdown is complete.
    fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        loop {
            let limit = self.event_loop.wait_limit();
            if self.event_loop.poll.poll(&mut events, limit).is_err() {
                std::thread::sleep(Duration::from_millis(10));
            }
            self.take_returned();
            handle_events(&mut self, &events);
            // A connection that had an event while busy may have come back meanwhile; if not,
            // its pool thread wakes this thread when it does.
            if self.handoff.wake_on_return.load(Ordering::SeqCst) {
                self.take_returned();
            }
            if self.event_loop.accept_retry_due() {
                self.accept_all();
            }
            self.dispatch_batch();
            if self.handoff.server.shutdown.load(Ordering::Acquire) {
                self.read_clock();
                if !self.event_loop.draining {
                    self.begin_drain();
                }
                self.take_returned();
                self.dispatch_batch();
                if self.event_loop.drained() {
                    break;
                }
            }
        }
        close_queue(&self.handoff);
        // Dropping the slots closes every parked connection.
    }

    /// Queues the gathered jobs under one lock and wakes as many pool threads.
    fn dispatch_batch(&mut self) {
        let n = self.batch.len();
        if n == 0 {
            return;
        }
        let sleeping = {
            let mut q = lock(&self.handoff.queue);
            q.jobs.extend(self.batch.drain(..));
            q.sleeping
        };
        if sleeping == 0 {
            // Every pool thread is busy and takes the next job without a wake-up.
        } else if n == 1 {
            self.handoff.ready.notify_one();
        } else {
            self.handoff.ready.notify_all();
        }
    }

    /// Parks the connections the pool threads handed back (or frees their slots).
    fn take_returned(&mut self) {
        let returned = std::mem::take(&mut *lock(&self.handoff.returned));
        for r in returned {
            match r {
                Returned::Closed(idx, timer) => {
                    if let Some(k) = timer {
                        self.event_loop.wheel.cancel(k);
                    }
                    self.event_loop.conns.release(idx, PoolSlot::EMPTY);
                }
                Returned::Rearmed(idx, mut conn) => {
                    let draining = self.event_loop.draining;
                    let Some(slot) = self.event_loop.conns.get_mut(idx) else {
                        continue;
                    };
                    if draining && conn.is_quiet() {
                        conn.disarm(&mut self.event_loop.wheel);
                        drop(conn);
                        self.handoff.server.release_conns(1);
                        self.event_loop.conns.release(idx, PoolSlot::EMPTY);
                        continue;
                    }
                    if let Some(client_closing) = slot.pending.take() {
                        if client_closing {
                            conn.client_closing();
                        }
                        self.batch.push(Job {
                            idx,
                            conn,
                            readable: true,
                            fresh: false,
                        });
                        continue;
                    }
                    // Its wheel entry may have fired while it was away.
                    conn.entry_fired(self.event_loop.now_ms);
                    conn.arm(&mut self.event_loop.wheel, idx);
                    slot.conn = Whereabouts::Parked(conn);
                }
            }
        }
    }

    fn begin_drain(&mut self) {
        self.event_loop.draining = true;
        self.accept_all();
        self.event_loop.close_listener(&self.handoff.server.cfg);
        for idx in self.event_loop.conns.quiet() {
            self.close(idx);
        }
    }
}

impl EventHandler for Poller {
    type Slot = PoolSlot;

    fn event_loop(&mut self) -> &mut EventLoop<PoolSlot> {
        &mut self.event_loop
    }

    fn read_clock(&mut self) {
        let secs = self.event_loop.read_clock();
        self.handoff
            .clock_ms
            .store(self.event_loop.now_ms, Ordering::Relaxed);
        if let Some(secs) = secs {
            self.handoff.wall_secs.store(secs, Ordering::Relaxed);
            self.date = http_date(secs);
        }
    }

    fn accept_all(&mut self) {
        let server = &*self.handoff.server;
        while let Some(accepted) = self.event_loop.accept_next(server, &self.date) {
            let mut fresh = None;
            let (idx, _) = self.event_loop.insert(&server.cfg, accepted, |conn| {
                fresh = Some(Box::new(conn));
                PoolSlot {
                    conn: Whereabouts::Busy,
                    pending: None,
                }
            });
            // The request is usually there already: a pool thread answers it, then
            // registers the connection.
            if let Some(conn) = fresh {
                self.batch.push(Job {
                    idx,
                    conn,
                    readable: true,
                    fresh: true,
                });
            }
        }
    }

    /// Closes a parked connection.
    fn close(&mut self, idx: usize) {
        let Some(slot) = self.event_loop.conns.get_mut(idx) else {
            return;
        };
        if let Whereabouts::Parked(mut conn) = std::mem::replace(&mut slot.conn, Whereabouts::Empty)
        {
            conn.disarm(&mut self.event_loop.wheel);
            drop(conn);
            self.event_loop.conns.release(idx, PoolSlot::EMPTY);
            self.handoff.server.release_conns(1);
        }
    }

    fn conn_event(&mut self, idx: usize, generation: u32, readable: bool, client_closing: bool) {
        let Some(slot) = self.event_loop.conns.current(idx, generation) else {
            return;
        };
        match std::mem::replace(&mut slot.conn, Whereabouts::Busy) {
            Whereabouts::Parked(mut conn) => {
                if client_closing {
                    conn.client_closing();
                }
                self.batch.push(Job {
                    idx,
                    conn,
                    readable,
                    fresh: false,
                });
            }
            Whereabouts::Busy => {
                slot.pending = Some(slot.pending == Some(true) || client_closing);
                self.handoff.wake_on_return.store(true, Ordering::SeqCst);
            }
            Whereabouts::Empty => slot.conn = Whereabouts::Empty,
        }
    }
}
