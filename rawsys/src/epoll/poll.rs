//! The epoll instance: creating it, registering descriptors, waiting for events.

use core::fmt;

pub use crate::arch::EpollEvent;
use crate::fd::{AsFd, OwnedFd};
use crate::signal::{SIGSET_SIZE, SigSet};
use crate::sys::{self, Sysno};

bitflags::bitflags! {
    /// Flags for [`epoll_create1`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct EpollCreateFlags: u32 {
        /// `EPOLL_CLOEXEC`
        const CLOEXEC = 0o2000000;
    }
}

bitflags::bitflags! {
    /// Event and option bits of an [`EpollEvent`] (`EPOLL*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct EpollFlags: u32 {
        /// `EPOLLIN`: readable.
        const IN = 0x001;
        /// `EPOLLPRI`: exceptional condition (out-of-band data, ...).
        const PRI = 0x002;
        /// `EPOLLOUT`: writable.
        const OUT = 0x004;
        /// `EPOLLERR`: error condition (always reported).
        const ERR = 0x008;
        /// `EPOLLHUP`: hang up (always reported).
        const HUP = 0x010;
        /// `EPOLLRDNORM`
        const RDNORM = 0x040;
        /// `EPOLLRDBAND`
        const RDBAND = 0x080;
        /// `EPOLLWRNORM`
        const WRNORM = 0x100;
        /// `EPOLLWRBAND`
        const WRBAND = 0x200;
        /// `EPOLLMSG`
        const MSG = 0x400;
        /// `EPOLLRDHUP`: the peer shut down its writing half.
        const RDHUP = 0x2000;
        /// `EPOLLEXCLUSIVE`: wake only one of several epoll instances waiting on the target.
        const EXCLUSIVE = 1 << 28;
        /// `EPOLLWAKEUP`: keep the system from suspending while the event is pending.
        const WAKEUP = 1 << 29;
        /// `EPOLLONESHOT`: disable the registration after one event until re-armed.
        const ONESHOT = 1 << 30;
        /// `EPOLLET`: edge-triggered: report a change once rather than a level repeatedly.
        const ET = 1 << 31;
    }
}

impl EpollEvent {
    /// An event registration for `flags` carrying `token`.
    pub const fn new(flags: EpollFlags, token: u64) -> EpollEvent {
        EpollEvent {
            events: flags.bits(),
            data: token,
        }
    }

    /// The event bits (unknown bits kept).
    pub const fn flags(&self) -> EpollFlags {
        EpollFlags::from_bits_retain(self.events)
    }

    /// The caller's token.
    pub const fn token(&self) -> u64 {
        self.data
    }
}

impl fmt::Debug for EpollEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EpollEvent")
            .field("flags", &self.flags())
            .field("token", &self.token())
            .finish()
    }
}

/// `epoll_create1(2)`: a new epoll instance.
pub fn epoll_create1(flags: EpollCreateFlags) -> crate::Result<OwnedFd> {
    // SAFETY: takes only an integer.
    unsafe { sys::syscall1(Sysno::epoll_create1, flags.bits() as usize) }.map(sys::ret_fd)
}

const EPOLL_CTL_ADD: usize = 1;
const EPOLL_CTL_DEL: usize = 2;
const EPOLL_CTL_MOD: usize = 3;

fn epoll_ctl(
    epfd: impl AsFd,
    op: usize,
    fd: impl AsFd,
    event: Option<&EpollEvent>,
) -> crate::Result<()> {
    let ev = sys::opt_ref(event);
    // SAFETY: `ev` is null (only for EPOLL_CTL_DEL) or a valid epoll_event the kernel reads.
    unsafe { sys::syscall4(Sysno::epoll_ctl, sys::fd_arg(epfd), op, sys::fd_arg(fd), ev) }.map(drop)
}

/// `epoll_ctl(2)` with `EPOLL_CTL_ADD`: starts watching `fd` for `event`.
pub fn epoll_ctl_add(epfd: impl AsFd, fd: impl AsFd, event: EpollEvent) -> crate::Result<()> {
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, Some(&event))
}

/// `epoll_ctl(2)` with `EPOLL_CTL_MOD`: changes the watch on `fd` (and re-arms `ONESHOT`).
pub fn epoll_ctl_modify(epfd: impl AsFd, fd: impl AsFd, event: EpollEvent) -> crate::Result<()> {
    epoll_ctl(epfd, EPOLL_CTL_MOD, fd, Some(&event))
}

/// `epoll_ctl(2)` with `EPOLL_CTL_DEL`: stops watching `fd`.
pub fn epoll_ctl_delete(epfd: impl AsFd, fd: impl AsFd) -> crate::Result<()> {
    epoll_ctl(epfd, EPOLL_CTL_DEL, fd, None)
}

/// `epoll_pwait(2)`: waits up to `timeout_ms` milliseconds (-1 forever, 0 poll) for events and
/// fills the front of `events`; returns how many were filled.
///
/// With `sigmask`, the thread's signal mask is replaced by it for the duration of the wait.
/// An empty `events` slice fails with `EINVAL`, as the kernel requires room for one event.
pub fn epoll_pwait(
    epfd: impl AsFd,
    events: &mut [EpollEvent],
    timeout_ms: i32,
    sigmask: Option<&SigSet>,
) -> crate::Result<usize> {
    let max = i32::try_from(events.len()).unwrap_or(i32::MAX);
    let mask = sys::opt_ref(sigmask);
    // SAFETY: `events` is writable for `max` entries; `mask` is null or a valid sigset whose
    // size is passed.
    unsafe {
        sys::syscall6(
            Sysno::epoll_pwait,
            sys::fd_arg(epfd),
            sys::by_mut(events),
            max as usize,
            timeout_ms as isize as usize,
            mask,
            SIGSET_SIZE,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::epoll::testing::*;
    use crate::io;
    use crate::signal::{SigSet, Signal};
    use crate::time::{ClockId, clock_gettime};
    use core::time::Duration;

    #[test]
    fn edge_triggered_pipe_reports_once_per_new_data() {
        let ep = epoll();
        let (r, w) = io::pipe2(io::PipeFlags::CLOEXEC | io::PipeFlags::NONBLOCK).unwrap();
        epoll_ctl_add(
            &ep,
            &r,
            EpollEvent::new(EpollFlags::IN | EpollFlags::ET, 0xdead_beef_cafe),
        )
        .unwrap();
        assert!(wait(&ep, 0).is_empty());
        io::write(&w, b"abc").unwrap();
        let evs = wait(&ep, 1000);
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].token(), 0xdead_beef_cafe);
        assert!(evs[0].flags().contains(EpollFlags::IN));
        // Edge-triggered: the data is still there, but no new edge, so no new event.
        assert!(wait(&ep, 10).is_empty());
        io::write(&w, b"d").unwrap();
        assert_eq!(wait(&ep, 1000).len(), 1);
        let mut buf = [0u8; 8];
        assert_eq!(io::read(&r, &mut buf).unwrap(), 4);
        assert!(wait(&ep, 0).is_empty());
        // Closing the writer is a hang-up edge.
        drop(w);
        let evs = wait(&ep, 1000);
        assert_eq!(evs.len(), 1);
        assert!(evs[0].flags().contains(EpollFlags::HUP));
    }

    #[test]
    fn level_triggered_repeats_and_modify_delete_work() {
        let ep = epoll();
        let (r, w) = io::pipe2(io::PipeFlags::CLOEXEC).unwrap();
        epoll_ctl_add(&ep, &r, EpollEvent::new(EpollFlags::IN, 1)).unwrap();
        assert_eq!(
            epoll_ctl_add(&ep, &r, EpollEvent::new(EpollFlags::IN, 1)),
            Err(Errno::EEXIST)
        );
        io::write(&w, b"x").unwrap();
        assert_eq!(wait(&ep, 1000)[0].token(), 1);
        assert_eq!(wait(&ep, 1000)[0].token(), 1, "level-triggered repeats");
        epoll_ctl_modify(
            &ep,
            &r,
            EpollEvent::new(EpollFlags::IN | EpollFlags::ONESHOT, 2),
        )
        .unwrap();
        assert_eq!(wait(&ep, 1000)[0].token(), 2);
        assert!(wait(&ep, 0).is_empty(), "oneshot disarmed");
        epoll_ctl_modify(&ep, &r, EpollEvent::new(EpollFlags::IN, 3)).unwrap();
        assert_eq!(wait(&ep, 1000)[0].token(), 3);
        epoll_ctl_delete(&ep, &r).unwrap();
        assert!(wait(&ep, 0).is_empty());
        assert_eq!(epoll_ctl_delete(&ep, &r), Err(Errno::ENOENT));
        // Writable end with OUT; the writer is writable at once.
        epoll_ctl_add(
            &ep,
            &w,
            EpollEvent::new(EpollFlags::OUT | EpollFlags::ET, 4),
        )
        .unwrap();
        let evs = wait(&ep, 1000);
        assert_eq!((evs.len(), evs[0].token()), (1, 4));
        assert!(evs[0].flags().contains(EpollFlags::OUT));
        assert_eq!(epoll_pwait(&ep, &mut [], 0, None), Err(Errno::EINVAL));
    }

    #[test]
    fn epoll_pwait_with_sigmask_times_out() {
        let ep = epoll();
        let mask = SigSet::from_signals(&[Signal::rt(12).unwrap()]);
        let start = clock_gettime(ClockId::Monotonic).unwrap();
        let mut evs = [EpollEvent::default(); 2];
        assert_eq!(epoll_pwait(&ep, &mut evs, 20, Some(&mask)), Ok(0));
        let waited = clock_gettime(ClockId::Monotonic)
            .unwrap()
            .duration_since(start)
            .unwrap();
        assert!(waited >= Duration::from_millis(19), "{waited:?}");
    }
}
