//! Signals as descriptors: `signalfd4` and the `struct signalfd_siginfo` read from it.

use crate::fd::{AsFd, OwnedFd};
use crate::signal::{SIGSET_SIZE, SigSet, Signal};
use crate::sys::{self, Sysno};

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
    use crate::Errno;
    use crate::epoll::testing::*;
    use crate::epoll::*;
    use crate::signal::rt_sigpending;
    use crate::signal::test_util::{BlockGuard, getpid, raise_on_this_thread};
    use crate::signal::{SigSet, Signal};

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
