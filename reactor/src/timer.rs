//! Timers: [`Timer`], a `timerfd` that a [`Poll`](crate::Poll) reports like any source, and
//! [`TimerWheel`], a hashed wheel holding many deadlines (one per connection) for the price of
//! one poll timeout.

extern crate alloc;

use alloc::vec::Vec;
use core::num::NonZeroU64;
use core::time::Duration;

use rawsys::epoll::{self, TimerfdFlags, TimerfdSetFlags};
use rawsys::time::{self, ClockId, Itimerspec, Timespec};
use rawsys::{Errno, OwnedFd};

use crate::{Interest, Registry, Token};

/// Milliseconds on the monotonic clock (`CLOCK_MONOTONIC`), for [`TimerWheel`] deadlines.
///
/// ```
/// let a = reactor::monotonic_ms()?;
/// let b = reactor::monotonic_ms()?;
/// assert!(b >= a);
/// # Ok::<(), rawsys::Errno>(())
/// ```
pub fn monotonic_ms() -> rawsys::Result<u64> {
    let t = time::clock_gettime(ClockId::Monotonic)?;
    Ok((t.tv_sec as u64) * 1000 + (t.tv_nsec as u64) / 1_000_000)
}

/// A kernel timer (`timerfd`, monotonic clock) registered with a [`Registry`].
///
/// When it fires, the poll reports its token as readable; call [`read`](Self::read) to learn
/// how many expirations happened and to consume them.
///
/// ```
/// use reactor::{Events, Poll, Timer, Token};
/// use std::time::Duration;
///
/// let mut poll = Poll::new()?;
/// let timer = Timer::new(poll.registry(), Token(1))?;
/// timer.set_after(Duration::from_millis(5))?;
/// let mut events = Events::with_capacity(4);
/// poll.poll(&mut events, Some(Duration::from_secs(5)))?;
/// assert_eq!(events.iter().next().map(|e| e.token()), Some(Token(1)));
/// assert_eq!(timer.read()?, 1);
/// # Ok::<(), rawsys::Errno>(())
/// ```
#[derive(Debug)]
pub struct Timer {
    fd: OwnedFd,
}

fn timespec(d: Duration) -> Timespec {
    // A zero it_value disarms a timerfd: round a zero delay up to one nanosecond.
    let d = if d.is_zero() {
        Duration::from_nanos(1)
    } else {
        d
    };
    Timespec::from_duration(d).unwrap_or(Timespec {
        tv_sec: i64::MAX,
        tv_nsec: 0,
    })
}

impl Timer {
    /// A disarmed timer registered with `registry` under `token`.
    pub fn new(registry: &Registry, token: Token) -> rawsys::Result<Timer> {
        let fd = epoll::timerfd_create(
            ClockId::Monotonic,
            TimerfdFlags::CLOEXEC | TimerfdFlags::NONBLOCK,
        )?;
        registry.register(&fd, token, Interest::READABLE)?;
        Ok(Timer { fd })
    }

    /// Fires once, `delay` from now (replacing any previous setting).
    pub fn set_after(&self, delay: Duration) -> rawsys::Result<()> {
        let spec = Itimerspec {
            it_interval: Timespec::ZERO,
            it_value: timespec(delay),
        };
        epoll::timerfd_settime(&self.fd, TimerfdSetFlags::empty(), &spec).map(drop)
    }

    /// Fires every `period`, the first time one period from now.
    pub fn set_interval(&self, period: Duration) -> rawsys::Result<()> {
        let p = timespec(period);
        let spec = Itimerspec {
            it_interval: p,
            it_value: p,
        };
        epoll::timerfd_settime(&self.fd, TimerfdSetFlags::empty(), &spec).map(drop)
    }

    /// Disarms the timer.
    pub fn cancel(&self) -> rawsys::Result<()> {
        let spec = Itimerspec::default();
        epoll::timerfd_settime(&self.fd, TimerfdSetFlags::empty(), &spec).map(drop)
    }

    /// Consumes and returns the expirations since the last read (0 if none).
    pub fn read(&self) -> rawsys::Result<u64> {
        match epoll::timerfd_read(&self.fd) {
            Ok(n) => Ok(n),
            Err(Errno::EAGAIN) => Ok(0),
            Err(e) => Err(e),
        }
    }
}

/// A hashed timing wheel: many deadlines, checked in one pass per tick.
///
/// Deadlines are milliseconds on any monotonic clock (see [`monotonic_ms`]), rounded up to
/// the wheel's tick. Inserting and cancelling are O(1); [`expire`](Self::expire) visits only
/// the slots of the ticks that passed, and an entry further away than one turn of the wheel
/// just stays in its slot until its turn comes. Entries live in one slab, linked into their
/// slot's list, so the memory is that of the most entries ever waiting at once: an owner
/// that cancels an entry when its connection closes keeps it at one entry per open
/// connection, whatever the rate of connections.
///
/// [`insert`](Self::insert) returns a [`TimerKey`] for [`cancel`](Self::cancel); a key
/// whose entry already fired or was cancelled cancels nothing (its slab place may have
/// been reused: keys carry the entry's insertion stamp). Owners whose deadlines only move
/// later need not cancel at all: keep the real deadline with the connection, let the entry
/// fire, and insert a new one for a deadline that moved.
///
/// ```
/// use reactor::TimerWheel;
///
/// let mut wheel = TimerWheel::new(10, 64, 0); // 10 ms ticks, 64 slots, now = 0 ms
/// wheel.insert(25, "a");
/// wheel.insert(2_000, "b"); // beyond one turn (640 ms): fine
/// let c = wheel.insert(40, "c");
/// assert_eq!(wheel.cancel(c), Some("c"));
/// let mut fired = Vec::new();
/// wheel.expire(20, |v| fired.push(v));
/// assert!(fired.is_empty());
/// wheel.expire(50, |v| fired.push(v));
/// assert_eq!(fired, ["a"]);
/// wheel.expire(1_999, |v| fired.push(v));
/// assert_eq!(fired, ["a"]);
/// wheel.expire(2_000, |v| fired.push(v));
/// assert_eq!(fired, ["a", "b"]);
/// assert!(wheel.is_empty());
/// assert_eq!(wheel.cancel(c), None); // long gone
/// ```
#[derive(Debug)]
pub struct TimerWheel<T> {
    tick_ms: u64,
    mask: u64,
    /// The first tick not yet expired.
    next_tick: u64,
    /// The first node of each slot's list.
    heads: Vec<u32>,
    nodes: Vec<Node<T>>,
    /// The first free node (linked through `next`).
    free: u32,
    len: usize,
    /// Counts insertions: each entry's stamp, so a key never names a later entry.
    stamps: NonZeroU64,
}

/// The end of a list.
const NIL: u32 = u32::MAX;

#[derive(Debug)]
struct Node<T> {
    tick: u64,
    prev: u32,
    next: u32,
    /// The stamp of the entry in the node (see [`TimerWheel::stamps`]).
    stamp: NonZeroU64,
    /// `None` while the node is free.
    value: Option<T>,
}

/// Names one entry of a [`TimerWheel`], for [`TimerWheel::cancel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerKey {
    index: u32,
    /// Not zero, so `Option<TimerKey>` takes no more room than the key.
    stamp: NonZeroU64,
}

impl<T> TimerWheel<T> {
    /// A wheel of `slots` slots (rounded up to a power of two) of `tick_ms` milliseconds,
    /// starting at `now_ms`.
    pub fn new(tick_ms: u64, slots: usize, now_ms: u64) -> TimerWheel<T> {
        let tick_ms = tick_ms.max(1);
        let n = slots.clamp(1, 1 << 24).next_power_of_two();
        TimerWheel {
            tick_ms,
            mask: n as u64 - 1,
            next_tick: now_ms / tick_ms + 1,
            heads: alloc::vec![NIL; n],
            nodes: Vec::new(),
            free: NIL,
            len: 0,
            stamps: NonZeroU64::MIN,
        }
    }

    /// Makes room for `additional` more waiting entries without moving the ones there.
    /// Address space only: pages are touched as entries arrive, so a wheel sized for the most
    /// connections a server allows costs memory only for the connections it has, and never
    /// copies its entries to grow.
    pub fn reserve(&mut self, additional: usize) {
        self.nodes.reserve(additional);
    }

    /// The tick length in milliseconds.
    pub fn tick_ms(&self) -> u64 {
        self.tick_ms
    }

    /// How many entries are waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no entry is waiting.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `value`, to be handed out by [`expire`](Self::expire) once the time reaches
    /// `deadline_ms` (rounded up to a tick; a deadline already past fires at the next tick).
    /// Returns its key for [`cancel`](Self::cancel).
    ///
    /// # Panics
    ///
    /// If more than 2^32 - 1 entries would be waiting at once.
    pub fn insert(&mut self, deadline_ms: u64, value: T) -> TimerKey {
        let tick = deadline_ms.div_ceil(self.tick_ms).max(self.next_tick);
        let slot = (tick & self.mask) as usize;
        let head = self.heads[slot];
        self.stamps = self.stamps.saturating_add(1);
        let stamp = self.stamps;
        let index = if self.free != NIL {
            let i = self.free;
            let n = &mut self.nodes[i as usize];
            self.free = n.next;
            n.tick = tick;
            n.prev = NIL;
            n.next = head;
            n.stamp = stamp;
            n.value = Some(value);
            i
        } else {
            let i = u32::try_from(self.nodes.len())
                .ok()
                .filter(|&i| i != NIL)
                .expect("TimerWheel: more than 2^32 - 1 entries");
            self.nodes.push(Node {
                tick,
                prev: NIL,
                next: head,
                stamp,
                value: Some(value),
            });
            i
        };
        if head != NIL {
            self.nodes[head as usize].prev = index;
        }
        self.heads[slot] = index;
        self.len += 1;
        TimerKey { index, stamp }
    }

    /// Removes the entry `key` names and returns its value; `None` if it already fired or
    /// was cancelled.
    pub fn cancel(&mut self, key: TimerKey) -> Option<T> {
        let n = self.nodes.get(key.index as usize)?;
        if n.stamp != key.stamp || n.value.is_none() {
            return None;
        }
        Some(self.remove(key.index))
    }

    /// Unlinks the waiting node `i` from its slot's list, frees it and returns its value.
    fn remove(&mut self, i: u32) -> T {
        let (prev, next, tick) = {
            let n = &self.nodes[i as usize];
            (n.prev, n.next, n.tick)
        };
        if prev != NIL {
            self.nodes[prev as usize].next = next;
        } else {
            self.heads[(tick & self.mask) as usize] = next;
        }
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        }
        let n = &mut self.nodes[i as usize];
        n.next = self.free;
        self.free = i;
        self.len -= 1;
        match n.value.take() {
            Some(v) => v,
            // Only waiting nodes (with a value) are ever linked into a slot.
            None => unreachable!("a free node in a slot list"),
        }
    }

    /// Hands every entry whose deadline is at or before `now_ms` to `fire`, and returns how
    /// many fired. Entries are handed out in no particular order within a tick.
    pub fn expire(&mut self, now_ms: u64, mut fire: impl FnMut(T)) -> usize {
        let now_tick = now_ms / self.tick_ms;
        if now_tick < self.next_tick || self.len == 0 {
            self.next_tick = self.next_tick.max(now_tick + 1);
            return 0;
        }
        // After a long pause every slot is due once; visiting each slot once is enough.
        let ticks = (now_tick - self.next_tick + 1).min(self.mask + 1);
        let mut fired = 0;
        for t in 0..ticks {
            let slot = ((self.next_tick + t) & self.mask) as usize;
            let mut i = self.heads[slot];
            while i != NIL {
                let (next, due) = {
                    let n = &self.nodes[i as usize];
                    (n.next, n.tick <= now_tick)
                };
                if due {
                    fire(self.remove(i));
                    fired += 1;
                }
                i = next;
            }
        }
        self.next_tick = now_tick + 1;
        fired
    }

    /// How long from `now_ms` until the next tick at which an entry may fire, for a poll
    /// timeout; `None` when the wheel is empty.
    pub fn next_timeout(&self, now_ms: u64) -> Option<Duration> {
        if self.len == 0 {
            return None;
        }
        let at = self.next_tick * self.tick_ms;
        Some(Duration::from_millis(at.saturating_sub(now_ms)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    #[test]
    fn wheel_fires_each_entry_once_at_its_tick() {
        let mut wheel = TimerWheel::new(10, 8, 1000);
        for d in [1005u64, 1010, 1011, 1090, 1500, 3000] {
            wheel.insert(d, d);
        }
        assert_eq!(wheel.len(), 6);
        let mut seen = vec![];
        for now in (1000..=3100).step_by(3) {
            wheel.expire(now, |d| {
                assert!(d <= now, "fired early: {d} at {now}");
                assert!(now < d + 20, "fired late: {d} at {now}");
                seen.push(d);
            });
        }
        seen.sort_unstable();
        assert_eq!(seen, [1005, 1010, 1011, 1090, 1500, 3000]);
        assert!(wheel.is_empty());
        assert_eq!(wheel.next_timeout(3100), None);
    }

    #[test]
    fn a_long_pause_fires_everything_due() {
        let mut wheel = TimerWheel::new(1, 4, 0);
        for d in 0..100u64 {
            wheel.insert(d, d);
        }
        wheel.insert(10_000, 10_000);
        let mut n = 0;
        wheel.expire(5_000, |_| n += 1);
        assert_eq!(n, 100);
        assert_eq!(wheel.len(), 1);
        assert_eq!(wheel.next_timeout(5_000), Some(Duration::from_millis(1)));
    }

    #[test]
    fn cancel_removes_exactly_the_entry_named() {
        let mut wheel = TimerWheel::new(10, 4, 0);
        // Several entries in one slot (4 slots of 10 ms: 15, 55 and 95 share slot 2).
        let a = wheel.insert(15, 'a');
        let b = wheel.insert(55, 'b');
        let c = wheel.insert(95, 'c');
        let d = wheel.insert(25, 'd');
        assert_eq!(wheel.len(), 4);
        assert_eq!(wheel.cancel(b), Some('b')); // from the middle of a list
        assert_eq!(wheel.cancel(b), None);
        assert_eq!(wheel.cancel(c), Some('c')); // its head
        assert_eq!(wheel.len(), 2);
        // The freed places are reused; the old keys still name nothing.
        let e = wheel.insert(55, 'e');
        assert_eq!(wheel.cancel(c), None);
        assert_eq!(wheel.cancel(b), None);
        assert_eq!(wheel.len(), 3);
        let mut fired = vec![];
        wheel.expire(1_000, |v| fired.push(v));
        fired.sort_unstable();
        assert_eq!(fired, ['a', 'd', 'e']);
        for k in [a, b, c, d, e] {
            assert_eq!(wheel.cancel(k), None, "{k:?}");
        }
        assert!(wheel.is_empty());
    }

    /// The owner's pattern: one entry per connection, cancelled when the connection closes,
    /// at a high rate of connections: memory is that of the entries waiting at once.
    #[test]
    fn memory_follows_the_entries_waiting_not_the_rate() {
        let mut wheel = TimerWheel::new(50, 2048, 0);
        let mut open = std::collections::VecDeque::new();
        for ms in 0..100_000u64 {
            // A connection per millisecond, each with a 60 s deadline, closed after 100 ms.
            open.push_back(wheel.insert(ms + 60_000, ms));
            if open.len() > 100 {
                let k = open.pop_front().unwrap();
                assert!(wheel.cancel(k).is_some());
            }
            wheel.expire(ms, |_| panic!("nothing is due"));
        }
        assert_eq!(wheel.len(), 100);
        assert!(wheel.nodes.len() <= 101, "{} nodes", wheel.nodes.len());
    }

    /// Against a plain list of deadlines: random inserts, cancels and expiries agree.
    #[test]
    fn agrees_with_a_simple_model() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut wheel = TimerWheel::new(7, 16, 0);
        let mut model: Vec<(u64, u64, TimerKey)> = vec![];
        let mut now = 0u64;
        for id in 0..20_000u64 {
            match rnd(4) {
                0 | 1 => {
                    let at = now + rnd(500);
                    let k = wheel.insert(at, id);
                    model.push((at, id, k));
                }
                2 if !model.is_empty() => {
                    let (_, v, k) = model.swap_remove(rnd(model.len() as u64) as usize);
                    assert_eq!(wheel.cancel(k), Some(v));
                }
                _ => {
                    now += rnd(30);
                    let mut fired = vec![];
                    wheel.expire(now, |v| fired.push(v));
                    fired.sort_unstable();
                    // Due: a deadline at or before now, rounded up to the tick.
                    let mut due: Vec<u64> = model
                        .iter()
                        .filter(|(at, _, _)| at.div_ceil(7) <= now / 7)
                        .map(|&(_, v, _)| v)
                        .collect();
                    due.sort_unstable();
                    assert_eq!(fired, due, "at {now}");
                    model.retain(|(at, _, _)| at.div_ceil(7) > now / 7);
                }
            }
            assert_eq!(wheel.len(), model.len());
        }
    }

    #[test]
    fn an_optional_key_costs_no_more_than_a_key() {
        assert_eq!(
            core::mem::size_of::<Option<TimerKey>>(),
            core::mem::size_of::<TimerKey>()
        );
    }
}
