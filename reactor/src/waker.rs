//! [`Waker`]: wakes a [`Poll`](crate::Poll) from another thread.

use rawsys::epoll::{self, EventfdFlags};
use rawsys::{Errno, OwnedFd};

use crate::{Interest, Registry, Token};

/// Wakes a thread blocked in [`Poll::poll`](crate::Poll::poll), from any thread.
///
/// It is an `eventfd` registered for readability under its own token. Each
/// [`wake`](Self::wake) makes the poll report that token once (the registration is
/// edge-triggered and every write to an eventfd is a new edge). The waking side carries no
/// message: pair it with an atomic flag or a queue that the woken thread checks.
///
/// ```
/// use reactor::{Events, Poll, Token, Waker};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let mut poll = Poll::new()?;
/// let waker = Arc::new(Waker::new(poll.registry(), Token(99))?);
/// let w = Arc::clone(&waker);
/// let t = std::thread::spawn(move || w.wake());
/// let mut events = Events::with_capacity(4);
/// poll.poll(&mut events, Some(Duration::from_secs(5)))?;
/// assert_eq!(events.iter().next().map(|e| e.token()), Some(Token(99)));
/// t.join().unwrap()?;
/// # Ok::<(), rawsys::Errno>(())
/// ```
#[derive(Debug)]
pub struct Waker {
    fd: OwnedFd,
}

impl Waker {
    /// A waker registered with `registry` under `token`.
    pub fn new(registry: &Registry, token: Token) -> rawsys::Result<Waker> {
        let fd = epoll::eventfd2(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        registry.register(&fd, token, Interest::READABLE)?;
        Ok(Waker { fd })
    }

    /// Wakes the poll. Never blocks: if the counter is about to overflow (after some 2^64
    /// wakes nobody consumed), it is drained and written again.
    pub fn wake(&self) -> rawsys::Result<()> {
        match epoll::eventfd_write(&self.fd, 1) {
            Err(Errno::EAGAIN) => {
                self.reset()?;
                epoll::eventfd_write(&self.fd, 1)
            }
            other => other,
        }
    }

    /// Consumes pending wakes and returns how many there were (0 when none). Calling it is
    /// optional with edge-triggered registration, but keeps the counter small.
    pub fn reset(&self) -> rawsys::Result<u64> {
        match epoll::eventfd_read(&self.fd) {
            Ok(n) => Ok(n),
            Err(Errno::EAGAIN) => Ok(0),
            Err(e) => Err(e),
        }
    }
}
