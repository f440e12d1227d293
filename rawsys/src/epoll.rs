//! Readiness notification: `epoll`, and the descriptors made to be polled with it: `eventfd`,
//! `timerfd` and `signalfd`.
//!
//! ```
//! use rawsys::epoll::{self, EpollEvent, EpollFlags, EventfdFlags};
//!
//! let ep = epoll::epoll_create1(epoll::EpollCreateFlags::CLOEXEC)?;
//! let efd = epoll::eventfd2(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
//! epoll::epoll_ctl_add(&ep, &efd, EpollEvent::new(EpollFlags::IN | EpollFlags::ET, 7))?;
//! epoll::eventfd_write(&efd, 1)?;
//! let mut events = [EpollEvent::default(); 4];
//! let n = epoll::epoll_pwait(&ep, &mut events, 1000, None)?;
//! assert_eq!(n, 1);
//! assert_eq!(events[0].token(), 7);
//! assert!(events[0].flags().contains(EpollFlags::IN));
//! # Ok::<(), rawsys::Errno>(())
//! ```

use core::fmt;

use crate::Errno;
pub use crate::arch::EpollEvent;
use crate::fd::{AsFd, OwnedFd};
use crate::signal::{SIGSET_SIZE, SigSet, Signal};
use crate::sys::{self, Sysno};
use crate::time::{ClockId, Itimerspec};

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

bitflags::bitflags! {
    /// Flags for [`eventfd2`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct EventfdFlags: u32 {
        /// `EFD_SEMAPHORE`: each read takes 1 from the counter instead of all of it.
        const SEMAPHORE = 1;
        /// `EFD_CLOEXEC`
        const CLOEXEC = 0o2000000;
        /// `EFD_NONBLOCK`
        const NONBLOCK = 0o4000;
    }
}

/// `eventfd2(2)`: a counter descriptor starting at `initval`; readable while non-zero.
pub fn eventfd2(initval: u32, flags: EventfdFlags) -> crate::Result<OwnedFd> {
    // SAFETY: takes only integers.
    unsafe { sys::syscall2(Sysno::eventfd2, initval as usize, flags.bits() as usize) }
        .map(sys::ret_fd)
}

/// Reads exactly 8 bytes as the kernel's native-endian `u64`; anything shorter is `EINVAL`
/// (eventfd, timerfd and friends never return less).
fn read_u64(fd: impl AsFd) -> crate::Result<u64> {
    let mut b = [0u8; 8];
    match crate::io::read(fd, &mut b)? {
        8 => Ok(u64::from_ne_bytes(b)),
        _ => Err(Errno::EINVAL),
    }
}

/// `read(2)` on an eventfd: takes the counter (or 1 with `EFD_SEMAPHORE`), waiting while it is
/// zero unless non-blocking (`EAGAIN`).
pub fn eventfd_read(fd: impl AsFd) -> crate::Result<u64> {
    read_u64(fd)
}

/// `write(2)` on an eventfd: adds `value` to the counter (`EAGAIN` if it would overflow and the
/// descriptor is non-blocking; `u64::MAX` is `EINVAL`).
pub fn eventfd_write(fd: impl AsFd, value: u64) -> crate::Result<()> {
    match crate::io::write(fd, &value.to_ne_bytes())? {
        8 => Ok(()),
        _ => Err(Errno::EINVAL),
    }
}

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

bitflags::bitflags! {
    /// Flags for [`signalfd4`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct SignalfdFlags: u32 {
        /// `SFD_CLOEXEC`
        const CLOEXEC = 0o2000000;
        /// `SFD_NONBLOCK`
        const NONBLOCK = 0o4000;
    }
}

/// `struct signalfd_siginfo`: one signal taken by reading a signalfd (128 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(C)]
pub struct SignalfdSiginfo {
    /// Signal number.
    pub ssi_signo: u32,
    /// Error number (unused by most signals).
    pub ssi_errno: i32,
    /// Signal code (`SI_USER`, `SI_TKILL`, ...).
    pub ssi_code: i32,
    /// Sender's PID.
    pub ssi_pid: u32,
    /// Sender's real UID.
    pub ssi_uid: u32,
    /// File descriptor (`SIGIO`).
    pub ssi_fd: i32,
    /// Kernel timer ID (POSIX timers).
    pub ssi_tid: u32,
    /// Band event (`SIGIO`).
    pub ssi_band: u32,
    /// Timer overrun count (POSIX timers).
    pub ssi_overrun: u32,
    /// Trap number that caused the signal.
    pub ssi_trapno: u32,
    /// Exit status or signal (`SIGCHLD`).
    pub ssi_status: i32,
    /// Integer sent by `sigqueue(3)`.
    pub ssi_int: i32,
    /// Pointer sent by `sigqueue(3)`.
    pub ssi_ptr: u64,
    /// User CPU time consumed (`SIGCHLD`).
    pub ssi_utime: u64,
    /// System CPU time consumed (`SIGCHLD`).
    pub ssi_stime: u64,
    /// Address that generated the signal (hardware signals).
    pub ssi_addr: u64,
    /// Least significant bit of the address (`SIGBUS`).
    pub ssi_addr_lsb: u16,
    __pad2: u16,
    /// System call number (`SIGSYS` from seccomp).
    pub ssi_syscall: i32,
    /// Address of the system call instruction (`SIGSYS`).
    pub ssi_call_addr: u64,
    /// Architecture of the system call (`SIGSYS`).
    pub ssi_arch: u32,
    __pad: [u8; 28],
}

static_assertions::assert_eq_size!(SignalfdSiginfo, [u8; 128]);
static_assertions::const_assert_eq!(core::mem::offset_of!(SignalfdSiginfo, ssi_signo), 0);
static_assertions::const_assert_eq!(core::mem::offset_of!(SignalfdSiginfo, ssi_errno), 4);
static_assertions::const_assert_eq!(core::mem::offset_of!(SignalfdSiginfo, ssi_code), 8);
static_assertions::const_assert_eq!(core::mem::offset_of!(SignalfdSiginfo, ssi_pid), 12);
static_assertions::const_assert_eq!(core::mem::offset_of!(SignalfdSiginfo, ssi_uid), 16);
static_assertions::const_assert_eq!(core::mem::offset_of!(SignalfdSiginfo, ssi_fd), 20);
static_assertions::const_assert_eq!(core::mem::offset_of!(SignalfdSiginfo, ssi_tid), 24);
static_assertions::const_assert_eq!(core::mem::offset_of!(SignalfdSiginfo, ssi_band), 28);
static_assertions::const_assert_eq!(core::mem::offset_of!(SignalfdSiginfo, ssi_overrun), 32);
static_assertions::const_assert_eq!(core::mem::offset_of!(SignalfdSiginfo, ssi_trapno), 36);
static_assertions::const_assert_eq!(core::mem::offset_of!(SignalfdSiginfo, ssi_status), 40);
static_assertions::const_assert_eq!(core::mem::offset_of!(SignalfdSiginfo, ssi_int), 44);
static_assertions::const_assert_eq!(core::mem::offset_of!(SignalfdSiginfo, ssi_ptr), 48);
static_assertions::const_assert_eq!(core::mem::offset_of!(SignalfdSiginfo, ssi_utime), 56);
static_assertions::const_assert_eq!(core::mem::offset_of!(SignalfdSiginfo, ssi_stime), 64);
static_assertions::const_assert_eq!(core::mem::offset_of!(SignalfdSiginfo, ssi_addr), 72);
static_assertions::const_assert_eq!(core::mem::offset_of!(SignalfdSiginfo, ssi_addr_lsb), 80);
static_assertions::const_assert_eq!(core::mem::offset_of!(SignalfdSiginfo, __pad2), 82);
static_assertions::const_assert_eq!(core::mem::offset_of!(SignalfdSiginfo, ssi_syscall), 84);
static_assertions::const_assert_eq!(core::mem::offset_of!(SignalfdSiginfo, ssi_call_addr), 88);
static_assertions::const_assert_eq!(core::mem::offset_of!(SignalfdSiginfo, ssi_arch), 96);
static_assertions::const_assert_eq!(core::mem::offset_of!(SignalfdSiginfo, __pad), 100);

impl SignalfdSiginfo {
    /// The signal taken (`ssi_signo`), if it is a valid signal number.
    pub const fn signal(&self) -> Option<Signal> {
        Signal::from_raw(self.ssi_signo as i32)
    }
}

/// `signalfd4(2)`: a new descriptor from which the signals of `mask` can be read while they
/// are blocked (block them with [`rt_sigprocmask`](crate::signal::rt_sigprocmask) first, or
/// they are delivered normally).
pub fn signalfd4(mask: &SigSet, flags: SignalfdFlags) -> crate::Result<OwnedFd> {
    // SAFETY: `mask` is a valid sigset whose size is passed; fd -1 asks for a new descriptor.
    unsafe {
        sys::syscall4(
            Sysno::signalfd4,
            -1isize as usize,
            sys::by_ref(mask),
            SIGSET_SIZE,
            flags.bits() as usize,
        )
    }
    .map(sys::ret_fd)
}

/// `signalfd4(2)` on an existing signalfd: replaces the set of signals it reports.
pub fn signalfd_set_mask(fd: impl AsFd, mask: &SigSet) -> crate::Result<()> {
    // SAFETY: `mask` is a valid sigset whose size is passed; flags must be 0 for an update.
    unsafe {
        sys::syscall4(
            Sysno::signalfd4,
            sys::fd_arg(fd),
            sys::by_ref(mask),
            SIGSET_SIZE,
            0,
        )
    }
    .map(drop)
}

/// `read(2)` on a signalfd: takes pending signals into `out` and returns how many were taken
/// (waits for one unless non-blocking, `EAGAIN`). An empty `out` is `EINVAL`.
pub fn signalfd_read(fd: impl AsFd, out: &mut [SignalfdSiginfo]) -> crate::Result<usize> {
    // SAFETY: `out` is writable for `out.len() * 128` bytes and every bit pattern is a valid
    // SignalfdSiginfo (integers and byte arrays only).
    let n = unsafe {
        sys::syscall3(
            Sysno::read,
            sys::fd_arg(fd),
            sys::by_mut(out),
            core::mem::size_of_val(out),
        )
    }?;
    Ok(n / core::mem::size_of::<SignalfdSiginfo>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io;
    use crate::signal::rt_sigpending;
    use crate::signal::test_util::{BlockGuard, getpid, raise_on_this_thread};
    use crate::time::{Timespec, clock_gettime};
    use core::time::Duration;

    fn epoll() -> OwnedFd {
        epoll_create1(EpollCreateFlags::CLOEXEC).unwrap()
    }

    fn wait(ep: &OwnedFd, timeout_ms: i32) -> std::vec::Vec<EpollEvent> {
        let mut evs = [EpollEvent::default(); 8];
        let n = epoll_pwait(ep, &mut evs, timeout_ms, None).unwrap();
        evs[..n].to_vec()
    }

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

    #[test]
    fn eventfd_counts_and_wakes_epoll() {
        let ep = epoll();
        let efd = eventfd2(5, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK).unwrap();
        assert_eq!(eventfd_read(&efd), Ok(5));
        assert_eq!(eventfd_read(&efd), Err(Errno::EAGAIN));
        epoll_ctl_add(
            &ep,
            &efd,
            EpollEvent::new(EpollFlags::IN | EpollFlags::ET, 42),
        )
        .unwrap();
        assert!(wait(&ep, 0).is_empty());
        // Wake from another thread while this one waits.
        let raw = efd.as_raw();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            // SAFETY: the main test thread keeps `efd` open until after join().
            let b = unsafe { crate::fd::BorrowedFd::borrow_raw(raw) };
            eventfd_write(b, 3).unwrap();
        });
        let evs = wait(&ep, 5000);
        t.join().unwrap();
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].token(), 42);
        eventfd_write(&efd, 4).unwrap();
        assert_eq!(eventfd_read(&efd), Ok(7));
        assert_eq!(eventfd_write(&efd, u64::MAX), Err(Errno::EINVAL));

        let sem = eventfd2(2, EventfdFlags::SEMAPHORE | EventfdFlags::NONBLOCK).unwrap();
        assert_eq!(eventfd_read(&sem), Ok(1));
        assert_eq!(eventfd_read(&sem), Ok(1));
        assert_eq!(eventfd_read(&sem), Err(Errno::EAGAIN));
    }

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

    #[test]
    fn signalfd_receives_a_blocked_thread_signal() {
        let sig = Signal::rt(13).unwrap();
        let set = SigSet::from_signals(&[sig]);
        let _guard = BlockGuard::new(set); // on this test thread only
        let sfd = signalfd4(&set, SignalfdFlags::CLOEXEC | SignalfdFlags::NONBLOCK).unwrap();
        let mut infos = [SignalfdSiginfo::default(); 2];
        assert_eq!(signalfd_read(&sfd, &mut infos), Err(Errno::EAGAIN));
        let ep = epoll();
        epoll_ctl_add(&ep, &sfd, EpollEvent::new(EpollFlags::IN, 5)).unwrap();
        raise_on_this_thread(sig).unwrap();
        assert_eq!(wait(&ep, 5000).len(), 1);
        assert_eq!(signalfd_read(&sfd, &mut infos), Ok(1));
        assert_eq!(infos[0].ssi_signo, sig.raw() as u32);
        assert_eq!(infos[0].signal(), Some(sig));
        assert_eq!(infos[0].ssi_pid, getpid() as u32);
        assert_eq!(infos[0].ssi_code, -6, "SI_TKILL");
        assert!(
            !rt_sigpending().unwrap().contains(sig),
            "reading consumed it"
        );
        assert_eq!(signalfd_read(&sfd, &mut []), Err(Errno::EINVAL));

        // Changing the mask: a signal outside it stays pending and is not read.
        let other = Signal::rt(14).unwrap();
        let _guard2 = BlockGuard::new(SigSet::from_signals(&[other]));
        raise_on_this_thread(other).unwrap();
        assert_eq!(signalfd_read(&sfd, &mut infos), Err(Errno::EAGAIN));
        signalfd_set_mask(&sfd, &SigSet::from_signals(&[other])).unwrap();
        assert_eq!(signalfd_read(&sfd, &mut infos), Ok(1));
        assert_eq!(infos[0].ssi_signo, other.raw() as u32);
    }
}
