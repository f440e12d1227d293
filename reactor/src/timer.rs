//! Timers: [`Timer`], a `timerfd` that a [`Poll`](crate::Poll) reports like any source, and
//! [`TimerWheel`], a hashed wheel holding many deadlines (one per connection) for the price of
//! one poll timeout.

extern crate alloc;

use alloc::vec::Vec;
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
/// the wheel's tick. Inserting is O(1); [`expire`](Self::expire) visits only the slots of
/// the ticks that passed, and an entry further away than one turn of the wheel just stays in
/// its slot until its turn comes. There is no cancel: deadlines are *lazy*. The owner stores
/// the real deadline with its connection (moving it costs nothing) and tags entries with a
/// generation; when an entry fires, the owner checks the generation and the real deadline,
/// and re-inserts an entry for a deadline that moved. So each connection keeps at most one
/// entry, however many requests move its deadline.
///
/// ```
/// use reactor::TimerWheel;
///
/// let mut wheel = TimerWheel::new(10, 64, 0); // 10 ms ticks, 64 slots, now = 0 ms
/// wheel.insert(25, "a");
/// wheel.insert(2_000, "b"); // beyond one turn (640 ms): fine
/// let mut fired = Vec::new();
/// wheel.expire(20, |v| fired.push(v));
/// assert!(fired.is_empty());
/// wheel.expire(30, |v| fired.push(v));
/// assert_eq!(fired, ["a"]);
/// wheel.expire(1_999, |v| fired.push(v));
/// assert_eq!(fired, ["a"]);
/// wheel.expire(2_000, |v| fired.push(v));
/// assert_eq!(fired, ["a", "b"]);
/// assert!(wheel.is_empty());
/// ```
#[derive(Debug)]
pub struct TimerWheel<T> {
    tick_ms: u64,
    mask: u64,
    /// The first tick not yet expired.
    next_tick: u64,
    slots: Vec<Vec<(u64, T)>>,
    len: usize,
}

impl<T> TimerWheel<T> {
    /// A wheel of `slots` slots (rounded up to a power of two) of `tick_ms` milliseconds,
    /// starting at `now_ms`.
    pub fn new(tick_ms: u64, slots: usize, now_ms: u64) -> TimerWheel<T> {
        let tick_ms = tick_ms.max(1);
        let n = slots.max(1).next_power_of_two();
        let mut v = Vec::with_capacity(n);
        v.resize_with(n, Vec::new);
        TimerWheel {
            tick_ms,
            mask: n as u64 - 1,
            next_tick: now_ms / tick_ms + 1,
            slots: v,
            len: 0,
        }
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
    pub fn insert(&mut self, deadline_ms: u64, value: T) {
        let tick = deadline_ms.div_ceil(self.tick_ms).max(self.next_tick);
        let slot = (tick & self.mask) as usize;
        if let Some(s) = self.slots.get_mut(slot) {
            s.push((tick, value));
            self.len += 1;
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
        for i in 0..ticks {
            let slot = ((self.next_tick + i) & self.mask) as usize;
            let Some(entries) = self.slots.get_mut(slot) else {
                continue;
            };
            let mut j = 0;
            while j < entries.len() {
                if entries[j].0 <= now_tick {
                    let (_, v) = entries.swap_remove(j);
                    fire(v);
                    fired += 1;
                } else {
                    j += 1;
                }
            }
            if entries.is_empty() && entries.capacity() > 64 {
                // A burst of deadlines left a large slot behind: give the memory back.
                entries.shrink_to(8);
            }
        }
        self.len -= fired;
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
}
