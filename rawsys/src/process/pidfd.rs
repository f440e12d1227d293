//! Process descriptors: a pidfd names one process for good, so signalling or waiting through
//! it cannot reach another process that later reuses the pid.

use super::Pid;
use crate::Result;
use crate::fd::{AsFd, OwnedFd};
use crate::signal::Signal;
use crate::sys::{self, Sysno};

bitflags::bitflags! {
    /// Flags for [`pidfd_open`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct PidfdFlags: u32 {
        /// `PIDFD_NONBLOCK`: `waitid` on the pidfd does not block.
        const NONBLOCK = 0o4000;
        /// `PIDFD_THREAD` (Linux 6.9): refer to the thread `pid`, not its thread group.
        const THREAD = 0o200;
    }
}

/// `pidfd_open(2)`: a descriptor that refers to process `pid` (close-on-exec). Unlike a pid, it
/// can never come to mean another process.
pub fn pidfd_open(pid: Pid, flags: PidfdFlags) -> Result<OwnedFd> {
    // SAFETY: integers only.
    let r = unsafe { sys::syscall2(Sysno::pidfd_open, pid as usize, flags.bits() as usize) }?;
    Ok(sys::ret_fd(r))
}

/// `pidfd_send_signal(2)`: sends `sig` to the process `pidfd` refers to, as `kill` would.
///
/// Once the process has been reaped the call fails with `ESRCH`, whatever process now has its
/// pid.
pub fn pidfd_send_signal(pidfd: impl AsFd, sig: Signal) -> Result<()> {
    let (fd, sig) = (sys::fd_arg(pidfd), sig.raw() as usize);
    // SAFETY: a null siginfo and no flags; the descriptor is borrowed for the call.
    unsafe { sys::syscall4(Sysno::pidfd_send_signal, fd, sig, 0, 0) }.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::fd::OwnedFd;
    use crate::process::testing::*;
    use crate::process::*;

    #[test]
    fn pidfd_open_refers_to_a_fork_child() {
        let (r, _w) = pipe();
        let pid = spawn(CloneFlags::empty(), &[r.as_raw()], || {
            if await_poke(&r) { 0 } else { 1 }
        });
        let pidfd = pidfd_open(pid, PidfdFlags::NONBLOCK).unwrap();
        assert_eq!(
            waitid(WaitId::Pidfd(pidfd.as_fd()), WaitOptions::EXITED),
            Err(Errno::EAGAIN)
        );
        pidfd_send_signal(&pidfd, SIGTERM).unwrap();
        let info = waitid(WaitId::Pidfd(pidfd.as_fd()), WaitOptions::EXITED).unwrap_or_else(|e| {
            // NONBLOCK may report EAGAIN until the child has finished dying; block for it then.
            assert_eq!(e, Errno::EAGAIN);
            waitid(WaitId::Pid(pid), WaitOptions::EXITED).unwrap()
        });
        assert_eq!(
            info.unwrap().status,
            WaitStatus::Signaled {
                signal: SIGTERM,
                core_dumped: false
            }
        );
        assert_eq!(
            pidfd_open(-5, PidfdFlags::empty()).map(OwnedFd::into_raw),
            Err(Errno::EINVAL)
        );
    }
}
