//! Timers as descriptors: `timerfd_create`, arming and reading them.

use super::read_u64;
use crate::fd::{AsFd, OwnedFd};
use crate::sys::{self, Sysno};
use crate::time::{ClockId, Itimerspec};

bitflags::bitflags! {
    /// Flags for [`timerfd_create`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct TimerfdFlags: u32 {
        /// `TFD_CLOEXEC`
        const CLOEXEC = 0o2000000;
        /// `TFD_NONBLOCK`
        const NONBLOCK = 0o4000;
    }
}

bitflags::bitflags! {
    /// Flags for [`timerfd_settime`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct TimerfdSetFlags: u32 {
        /// `TFD_TIMER_ABSTIME`: `it_value` is an absolute time on the timer's clock.
        const ABSTIME = 1;
        /// `TFD_TIMER_CANCEL_ON_SET`: with an absolute realtime timer, fail reads with
        /// `ECANCELED` when the clock is set.
        const CANCEL_ON_SET = 2;
    }
}

/// `timerfd_create(2)`: a timer on `clock` (realtime, monotonic or boottime) whose expirations
/// are read as a count.
pub fn timerfd_create(clock: ClockId, flags: TimerfdFlags) -> crate::Result<OwnedFd> {
    // SAFETY: takes only integers.
    unsafe {
        sys::syscall2(
            Sysno::timerfd_create,
            clock as i32 as usize,
            flags.bits() as usize,
        )
    }
    .map(sys::ret_fd)
}

/// `timerfd_settime(2)`: arms (or with a zero `it_value`, disarms) the timer and returns the
/// previous setting.
pub fn timerfd_settime(
    fd: impl AsFd,
    flags: TimerfdSetFlags,
    new: &Itimerspec,
) -> crate::Result<Itimerspec> {
    let mut old = Itimerspec::default();
    // SAFETY: `new` is a valid itimerspec; `old` is writable.
    unsafe {
        sys::syscall4(
            Sysno::timerfd_settime,
            sys::fd_arg(fd),
            flags.bits() as usize,
            sys::by_ref(new),
            sys::by_mut(&mut old),
        )
    }?;
    Ok(old)
}

/// `timerfd_gettime(2)`: the time until the next expiry (relative) and the period.
pub fn timerfd_gettime(fd: impl AsFd) -> crate::Result<Itimerspec> {
    let mut cur = Itimerspec::default();
    // SAFETY: `cur` is a writable itimerspec.
    unsafe {
        sys::syscall2(
            Sysno::timerfd_gettime,
            sys::fd_arg(fd),
            sys::by_mut(&mut cur),
        )
    }?;
    Ok(cur)
}

/// `read(2)` on a timerfd: the number of expirations since the last read (waits for one unless
/// non-blocking, `EAGAIN`).
pub fn timerfd_read(fd: impl AsFd) -> crate::Result<u64> {
    read_u64(fd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::epoll::testing::*;
    use crate::epoll::*;
    use crate::time::{ClockId, Itimerspec, Timespec, clock_gettime};
    use core::time::Duration;

    #[test]
    fn timerfd_fires_and_reports_its_setting() {
        let tfd = timerfd_create(ClockId::Monotonic, TimerfdFlags::CLOEXEC).unwrap();
        assert_eq!(
            timerfd_gettime(&tfd).unwrap(),
            Itimerspec::default(),
            "created disarmed"
        );
        let ep = epoll();
        epoll_ctl_add(&ep, &tfd, EpollEvent::new(EpollFlags::IN, 9)).unwrap();
        let start = clock_gettime(ClockId::Monotonic).unwrap();
        let spec = Itimerspec {
            it_interval: Timespec::ZERO,
            it_value: Timespec::from_nanos(10_000_000),
        };
        let old = timerfd_settime(&tfd, TimerfdSetFlags::empty(), &spec).unwrap();
        assert_eq!(old, Itimerspec::default());
        let left = timerfd_gettime(&tfd).unwrap();
        assert!(
            left.it_value > Timespec::ZERO && left.it_value <= spec.it_value,
            "{left:?}"
        );
        let evs = wait(&ep, 5000);
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].token(), 9);
        assert_eq!(timerfd_read(&tfd), Ok(1));
        let fired = clock_gettime(ClockId::Monotonic)
            .unwrap()
            .duration_since(start)
            .unwrap();
        assert!(fired >= Duration::from_millis(10), "{fired:?}");
        assert_eq!(
            timerfd_gettime(&tfd).unwrap(),
            Itimerspec::default(),
            "one-shot is spent"
        );

        // An absolute periodic timer in the past fires immediately, then keeps its period.
        let nb = timerfd_create(ClockId::Monotonic, TimerfdFlags::NONBLOCK).unwrap();
        let now = clock_gettime(ClockId::Monotonic).unwrap();
        let abs = Itimerspec {
            it_interval: Timespec::from_nanos(1_000_000_000),
            it_value: now,
        };
        timerfd_settime(&nb, TimerfdSetFlags::ABSTIME, &abs).unwrap();
        assert_eq!(timerfd_read(&nb), Ok(1));
        assert_eq!(timerfd_read(&nb), Err(Errno::EAGAIN));
        assert_eq!(timerfd_gettime(&nb).unwrap().it_interval, abs.it_interval);
        // Disarm.
        let prev = timerfd_settime(&nb, TimerfdSetFlags::empty(), &Itimerspec::default()).unwrap();
        assert_eq!(prev.it_interval, abs.it_interval);
    }
}
