//! [`Poll`] and [`Registry`]: an edge-triggered `epoll` instance.

use core::time::Duration;

use rawsys::epoll::{self, EpollCreateFlags, EpollEvent, EpollFlags};
use rawsys::{AsFd, BorrowedFd, Errno, OwnedFd};

use crate::{Events, Interest, Token};

/// The event loop's wait point: an epoll instance and its [`Registry`].
///
/// Register sources through [`registry`](Self::registry), then call [`poll`](Self::poll) in a
/// loop. Every registration is edge-triggered: after an event, drain the source (read, write
/// or accept until `EAGAIN`) or the next event for it may never come.
///
/// ```
/// use reactor::{Events, Interest, Poll, Token};
/// use rawsys::epoll::{eventfd2, eventfd_write, EventfdFlags};
/// use std::time::Duration;
///
/// let mut poll = Poll::new()?;
/// let efd = eventfd2(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
/// poll.registry().register(&efd, Token(3), Interest::READABLE)?;
/// eventfd_write(&efd, 1)?;
/// let mut events = Events::with_capacity(16);
/// poll.poll(&mut events, Some(Duration::from_secs(1)))?;
/// let ev = events.iter().next().unwrap();
/// assert_eq!(ev.token(), Token(3));
/// assert!(ev.is_readable());
/// # Ok::<(), rawsys::Errno>(())
/// ```
#[derive(Debug)]
pub struct Poll {
    registry: Registry,
}

impl Poll {
    /// A new epoll instance (close-on-exec).
    pub fn new() -> rawsys::Result<Poll> {
        Ok(Poll {
            registry: Registry {
                epfd: epoll::epoll_create1(EpollCreateFlags::CLOEXEC)?,
            },
        })
    }

    /// The registry, to add, change and remove sources.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Waits until at least one event is ready or `timeout` passes (`None`: forever;
    /// `Some(ZERO)`: just look), and fills `events`.
    ///
    /// A timeout is rounded up to the next millisecond, so a short positive timeout never
    /// turns into a busy loop. A signal interrupting the wait returns `Ok` with no events
    /// (`EINTR` is not an error here: the caller's loop simply goes round again).
    pub fn poll(&mut self, events: &mut Events, timeout: Option<Duration>) -> rawsys::Result<()> {
        let timeout_ms = match timeout {
            None => -1,
            Some(d) => {
                let ms = d.as_millis() + u128::from(d.subsec_nanos() % 1_000_000 != 0);
                i32::try_from(ms).unwrap_or(i32::MAX)
            }
        };
        match epoll::epoll_pwait(&self.registry.epfd, events.raw_buffer(), timeout_ms, None) {
            Ok(n) => {
                events.set_len(n);
                Ok(())
            }
            Err(Errno::EINTR) => {
                events.set_len(0);
                Ok(())
            }
            Err(e) => {
                events.set_len(0);
                Err(e)
            }
        }
    }
}

impl AsFd for Poll {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.registry.epfd.as_fd()
    }
}

/// Adds, changes and removes the sources a [`Poll`] watches.
///
/// Registration, re-registration and deregistration are explicit: nothing is removed behind
/// the caller's back, except that the kernel forgets a descriptor once every copy of it is
/// closed. The registry can be shared between threads (`epoll_ctl` is thread-safe) and cloned
/// with [`try_clone`](Self::try_clone).
#[derive(Debug)]
pub struct Registry {
    epfd: OwnedFd,
}

impl Registry {
    /// Starts watching `source` for `interest`, edge-triggered, reporting `token`.
    ///
    /// Fails with `EEXIST` if `source` is already registered here.
    pub fn register(
        &self,
        source: impl AsFd,
        token: Token,
        interest: Interest,
    ) -> rawsys::Result<()> {
        let ev = EpollEvent::new(interest.epoll_flags(), token.0 as u64);
        epoll::epoll_ctl_add(&self.epfd, source, ev)
    }

    /// Like [`register`](Self::register), with `EPOLLEXCLUSIVE`: when several epoll instances
    /// (one per thread) watch the same listening socket, a new connection wakes only one of
    /// them instead of all (no thundering herd). An exclusive registration cannot be changed
    /// with [`reregister`](Self::reregister) (the kernel answers `EINVAL`), only deregistered.
    pub fn register_exclusive(
        &self,
        source: impl AsFd,
        token: Token,
        interest: Interest,
    ) -> rawsys::Result<()> {
        // The kernel accepts only IN, OUT, ERR, HUP, WAKEUP and ET beside EXCLUSIVE.
        let flags = (interest.epoll_flags() - EpollFlags::RDHUP) | EpollFlags::EXCLUSIVE;
        let ev = EpollEvent::new(flags, token.0 as u64);
        epoll::epoll_ctl_add(&self.epfd, source, ev)
    }

    /// Like [`register`](Self::register), with `EPOLLONESHOT`: after one event the
    /// registration is disabled until [`reregister_oneshot`](Self::reregister_oneshot) arms it
    /// again, so exactly one thread handles each event of the source (the hand-off pattern of
    /// a thread pool fed by one polling thread). Re-arming reports whatever is ready by then,
    /// so nothing that arrived while the source was disabled is lost.
    pub fn register_oneshot(
        &self,
        source: impl AsFd,
        token: Token,
        interest: Interest,
    ) -> rawsys::Result<()> {
        let ev = EpollEvent::new(interest.epoll_flags() | EpollFlags::ONESHOT, token.0 as u64);
        epoll::epoll_ctl_add(&self.epfd, source, ev)
    }

    /// Re-arms a [`register_oneshot`](Self::register_oneshot) registration, possibly with a new
    /// token and interest.
    pub fn reregister_oneshot(
        &self,
        source: impl AsFd,
        token: Token,
        interest: Interest,
    ) -> rawsys::Result<()> {
        let ev = EpollEvent::new(interest.epoll_flags() | EpollFlags::ONESHOT, token.0 as u64);
        epoll::epoll_ctl_modify(&self.epfd, source, ev)
    }

    /// Changes the token or interest of a registered `source`. Re-registering also reports
    /// the current readiness again (an edge for what is ready now).
    ///
    /// Fails with `ENOENT` if `source` is not registered here.
    pub fn reregister(
        &self,
        source: impl AsFd,
        token: Token,
        interest: Interest,
    ) -> rawsys::Result<()> {
        let ev = EpollEvent::new(interest.epoll_flags(), token.0 as u64);
        epoll::epoll_ctl_modify(&self.epfd, source, ev)
    }

    /// Stops watching `source`. Events already returned by a poll may still name its token.
    ///
    /// Fails with `ENOENT` if `source` is not registered here.
    pub fn deregister(&self, source: impl AsFd) -> rawsys::Result<()> {
        epoll::epoll_ctl_delete(&self.epfd, source)
    }

    /// A second handle on the same epoll instance (a duplicated descriptor).
    pub fn try_clone(&self) -> rawsys::Result<Registry> {
        Ok(Registry {
            epfd: rawsys::io::fcntl_dupfd_cloexec(&self.epfd, 0)?,
        })
    }
}

impl AsFd for Registry {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epfd.as_fd()
    }
}
