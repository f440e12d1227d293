//! The reactor design (the default): one thread per core, each with its own `Poll`, listener
//! registration, connections, timers and file cache. Nothing is shared between workers but
//! the connection count and the shutdown flag.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use rawsys::Errno;
use rawsys::process::sched_yield;
use reactor::{Events, Interest, Waker};

use crate::ServerState;
use crate::config::AcceptMode;
use crate::conn::{Conn, Disposition, ThreadState, drive, flush_log};
use crate::event_loop::{EventHandler, EventLoop, Listener, conn_token, handle_events};

/// One reactor thread.
pub(crate) struct Worker {
    server: Arc<ServerState>,
    event_loop: EventLoop<Option<Conn>>,
    ts: ThreadState,
    log_tx: Option<SyncSender<Vec<u8>>>,
}

impl Worker {
    /// A worker with its poll, waker and listeners registered.
    pub(crate) fn new(
        server: Arc<ServerState>,
        listeners: Vec<Listener>,
        log_tx: Option<SyncSender<Vec<u8>>>,
    ) -> Result<Worker, Errno> {
        let exclusive = server.cfg.accept == AcceptMode::Exclusive;
        let event_loop = EventLoop::new(&server, listeners, exclusive)?;
        let ts = ThreadState::new(&server, event_loop.now_ms, log_tx.is_some())?;
        Ok(Worker {
            server,
            event_loop,
            ts,
            log_tx,
        })
    }

    /// A handle that wakes this worker (to notice shutdown).
    pub(crate) fn waker(&self) -> Arc<Waker> {
        Arc::clone(&self.event_loop.waker)
    }

    /// The event loop; returns when shutdown is complete.
    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        self.read_clock();
        // After a batch of events, look again without waiting; if nothing came, give the
        // CPU away once (`sched_yield`) before the wait that may sleep: clients sharing the
        // CPUs often have the next requests written by then. Measured: see the README ("A
        // second look before sleeping"). Two system calls more per sleep on an idle server.
        let mut look_again = false;
        loop {
            let limit = self.event_loop.wait_limit();
            let wait = if look_again && limit.is_none() {
                Some(Duration::ZERO)
            } else {
                limit
            };
            if self.event_loop.poll.poll(&mut events, wait).is_err() {
                std::thread::sleep(Duration::from_millis(10));
            }
            if events.is_empty() && look_again {
                look_again = false;
                sched_yield();
                continue;
            }
            look_again = !events.is_empty();
            handle_events(&mut self, &events);
            if self.event_loop.accept_retry_due() {
                self.accept_all();
            }
            flush_log(&mut self.ts, self.log_tx.as_ref(), &self.server);
            if self.server.shutdown.load(Ordering::Acquire) {
                self.read_clock();
                if !self.event_loop.draining {
                    self.begin_drain();
                }
                if self.event_loop.drained() {
                    break;
                }
            }
        }
        flush_log(&mut self.ts, self.log_tx.as_ref(), &self.server);
        // Dropping the worker closes every remaining connection.
        self.server.release_conns(self.event_loop.conns.live());
    }

    fn begin_drain(&mut self) {
        self.event_loop.draining = true;
        self.ts.draining = true;
        self.accept_all();
        self.event_loop.close_listener(&self.server.cfg);
        for idx in self.event_loop.conns.quiet() {
            self.close(idx);
        }
    }

    fn arm(&mut self, idx: usize) {
        if let Some(Some(c)) = self.event_loop.conns.get_mut(idx) {
            c.arm(&mut self.event_loop.wheel, idx);
        }
    }
}

impl EventHandler for Worker {
    type Slot = Option<Conn>;

    fn event_loop(&mut self) -> &mut EventLoop<Option<Conn>> {
        &mut self.event_loop
    }

    fn read_clock(&mut self) {
        if let Some(secs) = self.event_loop.read_clock() {
            self.ts.set_wall_clock(secs);
        }
        self.ts.now_ms = self.event_loop.now_ms;
    }

    fn accept_all(&mut self) {
        while let Some(accepted) = self.event_loop.accept_next(&self.server, &self.ts.date) {
            let (idx, generation) = self.event_loop.insert(&self.server.cfg, accepted, Some);
            self.arm(idx);
            // The request is usually there already: answer it before registering, so a
            // one-shot `Connection: close` exchange never touches the epoll set.
            // Registering later loses nothing: EPOLL_CTL_ADD reports what is ready.
            self.conn_event(idx, generation, true, false);
            let registered = match self.event_loop.conns.get_mut(idx) {
                Some(Some(c)) => self
                    .event_loop
                    .poll
                    .registry()
                    .register(
                        &c.fd,
                        conn_token(idx, generation),
                        Interest::READABLE | Interest::WRITABLE,
                    )
                    .is_ok(),
                _ => true,
            };
            if !registered {
                self.close(idx);
            }
        }
    }

    fn close(&mut self, idx: usize) {
        let Some(slot) = self.event_loop.conns.get_mut(idx) else {
            return;
        };
        if let Some(mut conn) = slot.take() {
            conn.disarm(&mut self.event_loop.wheel);
            // Closing the last descriptor also removes it from the epoll set.
            drop(conn);
            self.event_loop.conns.release(idx, None);
            self.server.release_conns(1);
        }
    }

    /// Makes all the progress possible on a connection, then closes it or sets its
    /// deadline.
    /// `client_closing`: the event said the client shut down its sending side.
    fn conn_event(&mut self, idx: usize, generation: u32, readable: bool, client_closing: bool) {
        let Some(Some(conn)) = self.event_loop.conns.current(idx, generation) else {
            return;
        };
        if client_closing {
            conn.client_closing();
        }
        match drive(&mut self.ts, conn, readable) {
            Disposition::Close => self.close(idx),
            Disposition::KeepOpen { progressed } => {
                conn.update_deadline(&self.server.cfg, self.ts.now_ms, progressed);
                conn.arm(&mut self.event_loop.wheel, idx);
            }
        }
    }
}
