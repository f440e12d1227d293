//! Sending signals by process id: to a process, a process group, the caller's own group, or
//! one thread. The `test_*` forms send no signal (the kernel's signal 0): they only check that
//! the target exists and that the caller may signal it.
//!
//! A pid can be reused once its process has been reaped; to signal a child whose end the
//! caller does not control, prefer a pidfd ([`super::pidfd_send_signal`]).

use super::Pid;
use crate::Result;
use crate::errno::Errno;
use crate::signal::Signal;
use crate::sys::{self, Sysno};

/// `kill(2)` with the raw numbers: `pid` and `sig` as the kernel reads them (0 for the
/// existence check).
fn kill_raw(pid: Pid, sig: i32) -> Result<()> {
    // SAFETY: integers only.
    unsafe { sys::syscall2(Sysno::kill, pid as usize, sig as usize) }.map(drop)
}

/// A positive pid, or `EINVAL`: 0 and negative numbers would make `kill(2)` reach a whole
/// process group or every process the caller may signal.
fn positive(pid: Pid) -> Result<Pid> {
    if pid > 0 { Ok(pid) } else { Err(Errno::EINVAL) }
}

/// `kill(2)`: sends `sig` to the process `pid`. A `pid` of 0 or below is refused with
/// `EINVAL` (it would name a process group or every process); use [`kill_process_group`] or
/// [`kill_current_process_group`] for groups.
///
/// ```
/// use rawsys::process::{self, CloneFlags, Fork, WaitOptions, WaitStatus};
/// use rawsys::signal::Signal;
///
/// // SAFETY: the child only issues raw system calls: it sleeps, then exits.
/// match unsafe { process::fork_with(CloneFlags::empty(), Some(Signal::SIGCHLD)) }? {
///     Fork::Child => {
///         let _ = rawsys::time::nanosleep(&rawsys::time::Timespec::from_nanos(60_000_000_000), None);
///         process::exit_group(2)
///     }
///     Fork::Parent(pid) => {
///         // A real-time signal by number, as `kill 40` would send it.
///         let sig = Signal::from_raw(40).unwrap();
///         process::kill_process(pid, sig)?;
///         let (_, status) = process::wait4(pid, WaitOptions::empty())?.unwrap();
///         assert_eq!(status, WaitStatus::Signaled { signal: sig, core_dumped: false });
///     }
/// }
/// # Ok::<(), rawsys::Errno>(())
/// ```
pub fn kill_process(pid: Pid, sig: Signal) -> Result<()> {
    kill_raw(positive(pid)?, sig.raw())
}

/// `kill(2)` with signal 0 on the process `pid`: `Ok` if it exists and the caller may signal
/// it, `ESRCH` if there is no such process, `EPERM` if it may not. `pid <= 0` is `EINVAL`.
pub fn test_kill_process(pid: Pid) -> Result<()> {
    kill_raw(positive(pid)?, 0)
}

/// `kill(2)` with `-pgid`: sends `sig` to every process in the process group `pgid`. A `pgid`
/// of 0 or below is refused with `EINVAL`; see [`kill_current_process_group`].
pub fn kill_process_group(pgid: Pid, sig: Signal) -> Result<()> {
    kill_raw(-positive(pgid)?, sig.raw())
}

/// `kill(2)` with `-pgid` and signal 0: whether the process group exists and the caller may
/// signal at least one of its members. `pgid <= 0` is `EINVAL`.
pub fn test_kill_process_group(pgid: Pid) -> Result<()> {
    kill_raw(-positive(pgid)?, 0)
}

/// `kill(2)` with pid 0: sends `sig` to every process in the caller's process group (the
/// caller included).
pub fn kill_current_process_group(sig: Signal) -> Result<()> {
    kill_raw(0, sig.raw())
}

/// `tgkill(2)` with the raw signal number (0 for the existence check).
fn tgkill_raw(tgid: Pid, tid: Pid, sig: i32) -> Result<()> {
    // SAFETY: integers only.
    unsafe { sys::syscall3(Sysno::tgkill, tgid as usize, tid as usize, sig as usize) }.map(drop)
}

/// `tgkill(2)`: sends `sig` to thread `tid` of thread group `tgid`.
pub fn tgkill(tgid: Pid, tid: Pid, sig: Signal) -> Result<()> {
    tgkill_raw(tgid, tid, sig.raw())
}

/// `tgkill(2)` with signal 0: whether thread `tid` of thread group `tgid` exists and may be
/// signalled by the caller.
pub fn test_tgkill(tgid: Pid, tid: Pid) -> Result<()> {
    tgkill_raw(tgid, tid, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::io;
    use crate::process::testing::*;
    use crate::process::*;
    use crate::time::{Timespec, nanosleep};

    /// Sleeps long enough for the test to signal it (raw system calls only).
    fn sleep_a_minute() {
        let _ = nanosleep(&Timespec::from_nanos(60_000_000_000), None);
    }

    #[test]
    fn non_positive_pids_are_refused_before_the_kernel_sees_them() {
        for pid in [0, -1, -7] {
            assert_eq!(test_kill_process(pid), Err(Errno::EINVAL));
            assert_eq!(test_kill_process_group(pid), Err(Errno::EINVAL));
        }
        // SIGCONT so that even a broken check would only resume our own process group.
        assert_eq!(kill_process(0, Signal::SIGCONT), Err(Errno::EINVAL));
        assert_eq!(kill_process_group(0, Signal::SIGCONT), Err(Errno::EINVAL));
        assert_eq!(test_kill_process(getpid()), Ok(()));
        assert_eq!(test_tgkill(getpid(), gettid()), Ok(()));
    }

    #[test]
    fn a_real_time_signal_by_number_kills_a_child() {
        let pid = spawn(CloneFlags::empty(), &[], || {
            sleep_a_minute();
            1
        });
        assert_eq!(test_kill_process(pid), Ok(()));
        // `kill 40`, as an OCI runtime's `kill ID 40` sends it.
        let sig = Signal::from_raw(40).unwrap();
        assert_eq!(sig, Signal::rt(8).unwrap());
        kill_process(pid, sig).unwrap();
        assert_eq!(
            reap(pid),
            WaitStatus::Signaled {
                signal: sig,
                core_dumped: false
            }
        );
        assert_eq!(test_kill_process(pid), Err(Errno::ESRCH));
    }

    #[test]
    fn a_group_signal_reaches_every_member() {
        // A starts a session (its pid becomes the group id) and then B in the same group; B
        // holds `alive_w` open, so reading `alive_r` ends only when B is gone too.
        let (alive_r, alive_w) = pipe();
        let (ready_r, ready_w) = pipe();
        let keep = [alive_w.as_raw(), ready_w.as_raw()];
        let a = spawn(CloneFlags::empty(), &keep, || {
            ensure!(setsid().is_ok(), 1);
            // SAFETY: B only issues raw system calls and exits.
            match unsafe { fork_with(CloneFlags::empty(), Some(SIGCHLD)) } {
                Ok(Fork::Child) => {
                    let _ = poke(&ready_w);
                    sleep_a_minute();
                    exit_group(3)
                }
                Ok(Fork::Parent(_)) => {
                    sleep_a_minute();
                    2
                }
                Err(_) => 4,
            }
        });
        drop((alive_w, ready_w));
        assert!(await_poke(&ready_r), "B started");
        assert_eq!(test_kill_process_group(a), Ok(()));
        kill_process_group(a, Signal::SIGTERM).unwrap();
        assert_eq!(
            reap(a),
            WaitStatus::Signaled {
                signal: Signal::SIGTERM,
                core_dumped: false
            }
        );
        let mut b = [0u8; 1];
        assert_eq!(io::read(&alive_r, &mut b), Ok(0), "B was signalled too");
        // (B may linger as a zombie until its new parent reaps it, and a zombie still counts
        // as a member of the group for kill(2), so the group's end is not asserted here.)
    }
}
