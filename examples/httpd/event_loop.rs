//! What the event loops of both designs share: the token layout, the connection table with
//! generations, the clock tick, accepting and admitting connections, deadline expiry, the
//! start of a drain, and the dispatch of a round of events to the design ([`EventHandler`]).

use std::sync::Arc;
use std::time::Duration;

use rawsys::net::{self, SocketFlags};
use rawsys::time::{ClockId, clock_gettime};
use rawsys::{Errno, OwnedFd};
use reactor::{Events, Interest, Poll, Timer, TimerWheel, Token, Waker, monotonic_ms};

use crate::ServerState;
use crate::config::Config;
use crate::conn::{Conn, Peer, refuse_busy, timeout_ms};

/// The clock tick: the event loop reads the clock and expires deadlines on a timerfd tick
/// instead of calling `clock_gettime` after every wait. Deadlines get one tick of slack.
pub(crate) const TICK_MS: u64 = 50;
/// Per-connection tables are sized up front for this many connections (or the connection
/// cap, if lower): address space only, touched as connections arrive, as nginx sizes its
/// connection array; growing them later would copy them and leave the old copies behind.
const PRESIZED_CONNS: usize = 1 << 16;
/// Out of descriptors or memory, the listener stays readable without a new edge: accepting
/// is tried again after this long.
const ACCEPT_RETRY_MS: u64 = 100;
/// How long a loop waits at most while an accept retry is due or it drains.
const SHORT_WAIT: Duration = Duration::from_millis(100);

const WAKER: Token = Token(0);
const TICK: Token = Token(1);
/// The listeners' tokens: `FIRST_LISTENER + i` for the `i`th.
const FIRST_LISTENER: usize = 2;
/// The most listening addresses (`--listen`, `--tls-listen`).
pub(crate) const MAX_LISTENERS: usize = 16;
const FIRST_CONN: usize = FIRST_LISTENER + MAX_LISTENERS;
/// A connection's token: its slot index (plus `FIRST_CONN`) in the low half, the slot's
/// generation in the high half, so an event for a closed connection never reaches the next
/// one in its slot.
const GEN_SHIFT: u32 = usize::BITS / 2;
const INDEX_MASK: usize = (1 << GEN_SHIFT) - 1;

/// The epoll token of the connection in slot `idx` with `generation`.
pub(crate) fn conn_token(idx: usize, generation: u32) -> Token {
    Token(((generation as usize & INDEX_MASK) << GEN_SHIFT) | (idx + FIRST_CONN))
}

/// A listening socket, shared by the workers (`EPOLLEXCLUSIVE`, the pool) or one per worker
/// (`SO_REUSEPORT`).
#[derive(Clone)]
pub(crate) struct Listener {
    pub(crate) fd: Arc<OwnedFd>,
    /// Its connections speak TLS.
    pub(crate) tls: bool,
}

/// An accepted connection: its socket, its peer, its TLS session if the listener serves TLS.
pub(crate) type Accepted = (OwnedFd, Peer, Option<Box<rustls::ServerConnection>>);

/// What an event's token names.
enum Source {
    Listener,
    Waker,
    Tick,
    /// The connection in slot `idx`, if that slot's generation is still `generation`.
    Conn {
        idx: usize,
        generation: u32,
    },
}

impl Source {
    /// The source of an event with token `t`.
    fn of(t: Token) -> Source {
        match t {
            WAKER => Source::Waker,
            TICK => Source::Tick,
            Token(t) if (FIRST_LISTENER..FIRST_CONN).contains(&t) => Source::Listener,
            Token(t) => Source::Conn {
                idx: (t & INDEX_MASK).wrapping_sub(FIRST_CONN),
                generation: (t >> GEN_SHIFT) as u32,
            },
        }
    }
}

/// What a design does with each kind of event; [`handle_events`] dispatches them.
pub(crate) trait EventHandler {
    /// What the design keeps per connection slot.
    type Slot: ConnSlot;
    /// The design's event loop.
    fn event_loop(&mut self) -> &mut EventLoop<Self::Slot>;
    /// Reads the clock (on a tick and when shutting down).
    fn read_clock(&mut self);
    /// Accepts what the listeners have queued.
    fn accept_all(&mut self);
    /// Closes the connection in slot `idx` (its deadline passed).
    fn close(&mut self, idx: usize);
    /// An event for the connection in slot `idx`, if the slot still holds `generation`.
    /// `readable`: input (or an error) to read; `client_closing`: the client shut down
    /// its sending side.
    fn conn_event(&mut self, idx: usize, generation: u32, readable: bool, client_closing: bool);
}

/// Handles one round of events.
pub(crate) fn handle_events<H: EventHandler>(handler: &mut H, events: &Events) {
    for ev in events.iter() {
        match Source::of(ev.token()) {
            Source::Listener => handler.accept_all(),
            Source::Waker => {
                let _ = handler.event_loop().waker.reset();
            }
            Source::Tick => {
                handler.event_loop().take_tick();
                handler.read_clock();
                for idx in handler.event_loop().expire_deadlines() {
                    handler.close(idx);
                }
            }
            Source::Conn { idx, generation } => handler.conn_event(
                idx,
                generation,
                ev.is_readable() || ev.is_error(),
                ev.is_read_closed(),
            ),
        }
    }
}

/// A slot of the connection table: what a design keeps per connection.
pub(crate) trait ConnSlot {
    /// The connection, if it is here and owned by the loop's thread (not out with a worker).
    fn owned_conn(&mut self) -> Option<&mut Conn>;
}

impl ConnSlot for Option<Conn> {
    fn owned_conn(&mut self) -> Option<&mut Conn> {
        self.as_mut()
    }
}

struct Slot<S> {
    generation: u32,
    state: S,
}

/// The connections of one event loop, by slot index; each slot counts its generations so
/// a token or timer entry of an earlier connection in the slot is recognised as stale.
pub(crate) struct ConnTable<S> {
    slots: Vec<Slot<S>>,
    free: Vec<usize>,
    live: usize,
}

impl<S: ConnSlot> ConnTable<S> {
    fn with_capacity(n: usize) -> ConnTable<S> {
        ConnTable {
            slots: Vec::with_capacity(n),
            free: Vec::new(),
            live: 0,
        }
    }

    /// Connections in the table.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// No slot is left whose index fits in a token.
    fn is_full(&self) -> bool {
        self.free.is_empty() && self.slots.len() >= INDEX_MASK - FIRST_CONN
    }

    /// Takes a free slot for a new connection, with the slot's next generation; `state`
    /// makes what the slot holds from that generation.
    pub(crate) fn insert(&mut self, state: impl FnOnce(u32) -> S) -> (usize, u32) {
        self.live += 1;
        match self.free.pop() {
            Some(idx) => {
                let slot = &mut self.slots[idx];
                slot.generation = slot.generation.wrapping_add(1) & INDEX_MASK as u32;
                slot.state = state(slot.generation);
                (idx, slot.generation)
            }
            None => {
                let generation = 1;
                self.slots.push(Slot {
                    generation,
                    state: state(generation),
                });
                (self.slots.len() - 1, generation)
            }
        }
    }

    /// Gives slot `idx` back, its state `vacant`.
    pub(crate) fn release(&mut self, idx: usize, vacant: S) {
        if let Some(slot) = self.slots.get_mut(idx) {
            slot.state = vacant;
            self.free.push(idx);
            self.live -= 1;
        }
    }

    /// The state of slot `idx`, whatever its generation.
    pub(crate) fn get_mut(&mut self, idx: usize) -> Option<&mut S> {
        self.slots.get_mut(idx).map(|s| &mut s.state)
    }

    /// The state of slot `idx` if it still holds `generation`.
    pub(crate) fn current(&mut self, idx: usize, generation: u32) -> Option<&mut S> {
        self.slots
            .get_mut(idx)
            .filter(|s| s.generation == generation)
            .map(|s| &mut s.state)
    }

    /// The slots whose connection is owned here and quiet (a draining loop closes them).
    pub(crate) fn quiet(&mut self) -> Vec<usize> {
        let mut out = Vec::new();
        for (idx, slot) in self.slots.iter_mut().enumerate() {
            if slot.state.owned_conn().is_some_and(|c| c.is_quiet()) {
                out.push(idx);
            }
        }
        out
    }
}

/// What the event loop of either design owns besides its connections: the epoll set, its
/// waker and clock tick, the listeners, the timer wheel of the connections' deadlines.
pub(crate) struct EventLoop<S> {
    pub(crate) poll: Poll,
    pub(crate) waker: Arc<Waker>,
    tick: Timer,
    listeners: Vec<Listener>,
    /// The listener [`EventLoop::accept_next`] takes from: a round of accepting goes over
    /// each once, until its queue is empty.
    accept_cursor: usize,
    accept_retry_at: u64,
    pub(crate) conns: ConnTable<S>,
    /// Deadlines, keyed by (slot, generation).
    pub(crate) wheel: TimerWheel<(u32, u32)>,
    /// The clock (`monotonic_ms`), refreshed on each tick.
    pub(crate) now_ms: u64,
    next_second_ms: u64,
    /// Shutting down: no more accepting, quiet connections closed.
    pub(crate) draining: bool,
    drain_deadline: u64,
}

impl<S: ConnSlot> EventLoop<S> {
    /// An epoll set with the `listeners` (shared with `EPOLLEXCLUSIVE` if `exclusive`), a
    /// waker and the clock tick registered; tables sized for the connection cap.
    pub(crate) fn new(
        server: &ServerState,
        listeners: Vec<Listener>,
        exclusive: bool,
    ) -> Result<EventLoop<S>, Errno> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let tick = Timer::new(poll.registry(), TICK)?;
        tick.set_interval(Duration::from_millis(TICK_MS))?;
        if listeners.len() > MAX_LISTENERS {
            return Err(Errno::EINVAL);
        }
        for (i, l) in listeners.iter().enumerate() {
            let token = Token(FIRST_LISTENER + i);
            if exclusive {
                poll.registry()
                    .register_exclusive(&*l.fd, token, Interest::READABLE)?;
            } else {
                poll.registry()
                    .register(&*l.fd, token, Interest::READABLE)?;
            }
        }
        let now = monotonic_ms()?;
        let presized = server.max_conns.min(PRESIZED_CONNS);
        let mut wheel = TimerWheel::new(TICK_MS, 2048, now);
        wheel.reserve(presized);
        Ok(EventLoop {
            poll,
            waker,
            tick,
            listeners,
            accept_cursor: 0,
            accept_retry_at: 0,
            conns: ConnTable::with_capacity(presized),
            wheel,
            now_ms: now,
            next_second_ms: 0,
            draining: false,
            drain_deadline: 0,
        })
    }

    /// Reads the clock; returns the wall-clock second when a new one has begun (for the
    /// `Date` header).
    pub(crate) fn read_clock(&mut self) -> Option<i64> {
        if let Ok(now) = monotonic_ms() {
            self.now_ms = now;
        }
        if self.now_ms < self.next_second_ms {
            return None;
        }
        let t = clock_gettime(ClockId::Realtime).ok()?;
        let into_second = (t.tv_nsec / 1_000_000) as u64;
        self.next_second_ms = self.now_ms + (1000 - into_second.min(999));
        Some(t.tv_sec)
    }

    /// Takes the tick's expirations (the caller then reads the clock and expires deadlines).
    fn take_tick(&self) {
        let _ = self.tick.read();
    }

    /// How long the next wait may last (`None`: until an event).
    pub(crate) fn wait_limit(&self) -> Option<Duration> {
        (self.accept_retry_at != 0 || self.draining).then_some(SHORT_WAIT)
    }

    /// Whether accepting should be tried again now (it failed for want of resources).
    pub(crate) fn accept_retry_due(&mut self) -> bool {
        let due = self.accept_retry_at != 0 && self.now_ms >= self.accept_retry_at;
        if due {
            self.accept_retry_at = 0;
        }
        due
    }

    /// The next connection to admit from the listener's queue: a connection above the cap
    /// (or with no slot left) is answered 503 (plain HTTP) and closed here. `None` when the queue is
    /// empty or accepting must wait (out of descriptors or memory).
    pub(crate) fn accept_next(
        &mut self,
        server: &ServerState,
        date: &[u8; 29],
    ) -> Option<Accepted> {
        loop {
            let Some(listener) = self.listeners.get(self.accept_cursor) else {
                self.accept_cursor = 0;
                return None;
            };
            match net::accept4(&*listener.fd, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC) {
                Ok((fd, addr)) => {
                    if self.conns.is_full() || !server.admit() {
                        // A TLS client would not read a plain 503: it is only closed.
                        if !listener.tls {
                            refuse_busy(&fd, date);
                        }
                        continue;
                    }
                    let tls = match (&server.tls, listener.tls) {
                        (Some(tls), true) => match tls.session() {
                            Some(session) => Some(session),
                            None => {
                                server.release_conns(1);
                                continue;
                            }
                        },
                        _ => None,
                    };
                    return Some((fd, Peer::of(&addr), tls));
                }
                Err(Errno::EAGAIN) => self.accept_cursor += 1,
                Err(Errno::EINTR | Errno::ECONNABORTED) => {}
                Err(_) => {
                    // Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) or
                    // another failure: the listener stays readable without a new edge, so
                    // come back on a timer.
                    self.accept_retry_at = self.now_ms + ACCEPT_RETRY_MS;
                    self.accept_cursor = 0;
                    return None;
                }
            }
        }
    }

    /// A new connection's slot, with its header deadline armed. `state` makes the slot's
    /// content from the connection.
    pub(crate) fn insert(
        &mut self,
        cfg: &Config,
        (fd, peer, tls): Accepted,
        state: impl FnOnce(Conn) -> S,
    ) -> (usize, u32) {
        let deadline = self.now_ms + timeout_ms(cfg.header_timeout);
        self.conns
            .insert(|generation| state(Conn::new(fd, peer, tls, generation, deadline)))
    }

    /// Stops accepting (after the caller accepted what was queued) and sets the time by
    /// which the drain ends whatever is left.
    pub(crate) fn close_listener(&mut self, cfg: &Config) {
        for l in self.listeners.drain(..) {
            let _ = self.poll.registry().deregister(&*l.fd);
        }
        self.accept_cursor = 0;
        self.drain_deadline = self.now_ms + timeout_ms(cfg.send_timeout.max(cfg.header_timeout));
    }

    /// The drain is over: nothing left, or out of time.
    pub(crate) fn drained(&self) -> bool {
        self.conns.live() == 0 || self.now_ms >= self.drain_deadline
    }

    /// Expires the deadlines due now: a connection owned here whose deadline passed is
    /// returned, to be closed; one whose deadline moved later gets a new entry.
    pub(crate) fn expire_deadlines(&mut self) -> Vec<usize> {
        let mut due = Vec::new();
        self.wheel.expire(self.now_ms, |e| due.push(e));
        let mut expired = Vec::new();
        for (idx, generation) in due {
            let idx = idx as usize;
            // A connection out with a worker gets a new entry when it comes back.
            let Some(c) = self
                .conns
                .current(idx, generation)
                .and_then(ConnSlot::owned_conn)
            else {
                continue;
            };
            // The connection's one entry (an older one is cancelled when replaced).
            c.entry_fired(self.now_ms);
            if self.now_ms >= c.deadline {
                expired.push(idx);
            } else {
                c.arm(&mut self.wheel, idx);
            }
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_slot_and_generation() {
        let last = INDEX_MASK - FIRST_CONN - 1;
        for (idx, generation) in [(0, 1), (5, 7), (last, INDEX_MASK as u32)] {
            match Source::of(conn_token(idx, generation)) {
                Source::Conn {
                    idx: i,
                    generation: g,
                } => assert_eq!((i, g), (idx, generation)),
                _ => panic!("slot {idx} read as another source"),
            }
        }
        assert!(matches!(
            Source::of(Token(FIRST_LISTENER)),
            Source::Listener
        ));
        assert!(matches!(
            Source::of(Token(FIRST_CONN - 1)),
            Source::Listener
        ));
        assert!(matches!(Source::of(WAKER), Source::Waker));
        assert!(matches!(Source::of(TICK), Source::Tick));
    }

    #[test]
    fn a_reused_slot_has_a_new_generation_and_the_old_one_is_stale() {
        let mut table: ConnTable<Option<Conn>> = ConnTable::with_capacity(4);
        let (a, gen_a) = table.insert(|_| None);
        let (b, _) = table.insert(|_| None);
        assert_ne!(a, b);
        assert_eq!(table.live(), 2);
        table.release(a, None);
        assert_eq!(table.live(), 1);
        let (c, gen_c) = table.insert(|_| None);
        assert_eq!(c, a, "a freed slot is taken again");
        assert_ne!(gen_c, gen_a);
        assert!(
            table.current(a, gen_a).is_none(),
            "the old generation is stale"
        );
        assert!(table.current(c, gen_c).is_some());
        assert!(table.current(99, 1).is_none());
        assert!(!table.is_full());
    }
}
