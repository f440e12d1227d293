//! Waiting for children: `wait4` and `waitid`, and the decoded [`WaitStatus`].

use static_assertions::{assert_eq_size, const_assert_eq};

use super::{Pid, Uid};
use crate::Result;
use crate::errno::Errno;
use crate::fd::BorrowedFd;
use crate::signal::Signal;
use crate::sys::{self, Sysno};

bitflags::bitflags! {
    /// Options for [`wait4`] and [`waitid`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct WaitOptions: u32 {
        /// `WNOHANG`: return at once if no child changed state.
        const NOHANG = 1;
        /// `WUNTRACED` (= `WSTOPPED`): also report stopped children.
        const UNTRACED = 2;
        /// `WSTOPPED` (for `waitid`).
        const STOPPED = 2;
        /// `WEXITED` (for `waitid`): report children that ended.
        const EXITED = 4;
        /// `WCONTINUED`: report children resumed by `SIGCONT`.
        const CONTINUED = 8;
        /// `WNOWAIT` (for `waitid`): leave the child waitable.
        const NOWAIT = 0x0100_0000;
        /// `__WNOTHREAD`: only the caller's own children, not its thread group's.
        const NOTHREAD = 0x2000_0000;
        /// `__WALL`: any child, whatever its exit signal.
        const ALL = 0x4000_0000;
        /// `__WCLONE`: only children whose exit signal is not `SIGCHLD`.
        const CLONE = 0x8000_0000;
    }
}

/// How a child changed state, decoded from a `wait4` status or a `waitid` siginfo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStatus {
    /// It exited with this code (0-255).
    Exited(i32),
    /// A signal ended it.
    Signaled {
        /// The signal.
        signal: Signal,
        /// Whether it dumped core.
        core_dumped: bool,
    },
    /// A signal stopped it (`WUNTRACED`), or it is in a ptrace signal-delivery stop.
    Stopped(Signal),
    /// `SIGCONT` resumed it (`WCONTINUED`).
    Continued,
    /// A change the variants above cannot name, as the raw `wait4` status word: a ptrace stop
    /// whose stop value is not a signal (`SIGTRAP | 0x80` under `PTRACE_O_TRACESYSGOOD`), or a
    /// word the kernel never produces (a signal number above 64).
    Unrecognized(i32),
}

impl WaitStatus {
    /// Decodes the status word of `wait4` (the `WIFEXITED`/`WIFSIGNALED`/... macros). Every value
    /// decodes to something: a word that names no [`Signal`] where one belongs comes out as
    /// [`WaitStatus::Unrecognized`] with the word itself.
    pub const fn from_raw(status: i32) -> WaitStatus {
        if status == 0xffff {
            WaitStatus::Continued
        } else if status & 0x7f == 0 {
            WaitStatus::Exited((status >> 8) & 0xff)
        } else if status & 0xff == 0x7f {
            match Signal::from_raw((status >> 8) & 0xff) {
                Some(signal) => WaitStatus::Stopped(signal),
                None => WaitStatus::Unrecognized(status),
            }
        } else {
            match Signal::from_raw(status & 0x7f) {
                Some(signal) => WaitStatus::Signaled {
                    signal,
                    core_dumped: status & 0x80 != 0,
                },
                None => WaitStatus::Unrecognized(status),
            }
        }
    }

    /// The exit code, if the child exited.
    pub const fn exit_code(self) -> Option<i32> {
        match self {
            WaitStatus::Exited(code) => Some(code),
            _ => None,
        }
    }

    /// The signal that ended the child, if one did.
    pub const fn terminating_signal(self) -> Option<Signal> {
        match self {
            WaitStatus::Signaled { signal, .. } => Some(signal),
            _ => None,
        }
    }

    /// The signal that stopped the child, if it is stopped.
    pub const fn stopping_signal(self) -> Option<Signal> {
        match self {
            WaitStatus::Stopped(signal) => Some(signal),
            _ => None,
        }
    }
}

/// `wait4(2)` without resource usage: waits for the child `pid` (-1: any child; 0: any in the
/// caller's process group; < -1: any in group `-pid`).
///
/// Returns `Ok(None)` with [`WaitOptions::NOHANG`] when no child has changed state yet.
pub fn wait4(pid: Pid, options: WaitOptions) -> Result<Option<(Pid, WaitStatus)>> {
    let mut status: i32 = 0;
    // SAFETY: status is a live int for the kernel to write; rusage is null (not wanted).
    let r = unsafe {
        sys::syscall4(
            Sysno::wait4,
            pid as usize,
            sys::by_mut(&mut status),
            options.bits() as usize,
            0,
        )
    }?;
    Ok(if r == 0 {
        None
    } else {
        Some((r as Pid, WaitStatus::from_raw(status)))
    })
}

/// Which children [`waitid`] waits for.
#[derive(Clone, Copy, Debug)]
pub enum WaitId<'a> {
    /// `P_ALL`: any child.
    All,
    /// `P_PID`: this child.
    Pid(Pid),
    /// `P_PGID`: any child in this process group (0: the caller's).
    Pgid(Pid),
    /// `P_PIDFD`: the child this pidfd refers to.
    Pidfd(BorrowedFd<'a>),
}

/// What [`waitid`] reports about a child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitIdStatus {
    /// The child's pid.
    pub pid: Pid,
    /// The child's real user id.
    pub uid: Uid,
    /// How it changed state.
    pub status: WaitStatus,
}

/// The `SIGCHLD` view of the kernel's 128-byte `siginfo_t`, as `waitid` fills it.
#[repr(C)]
struct ChildSiginfo {
    si_signo: i32,
    si_errno: i32,
    si_code: i32,
    _pad: i32,
    si_pid: i32,
    si_uid: u32,
    si_status: i32,
    _pad2: i32,
    si_utime: i64,
    si_stime: i64,
    _rest: [u64; 10],
}

assert_eq_size!(ChildSiginfo, [u8; 128]);
const_assert_eq!(core::mem::offset_of!(ChildSiginfo, si_signo), 0);
const_assert_eq!(core::mem::offset_of!(ChildSiginfo, si_errno), 4);
const_assert_eq!(core::mem::offset_of!(ChildSiginfo, si_code), 8);
const_assert_eq!(core::mem::offset_of!(ChildSiginfo, si_pid), 16);
const_assert_eq!(core::mem::offset_of!(ChildSiginfo, si_uid), 20);
const_assert_eq!(core::mem::offset_of!(ChildSiginfo, si_status), 24);
const_assert_eq!(core::mem::offset_of!(ChildSiginfo, si_utime), 32);
const_assert_eq!(core::mem::offset_of!(ChildSiginfo, si_stime), 40);

const CLD_EXITED: i32 = 1;
const CLD_KILLED: i32 = 2;
const CLD_DUMPED: i32 = 3;
const CLD_TRAPPED: i32 = 4;
const CLD_STOPPED: i32 = 5;
const CLD_CONTINUED: i32 = 6;

/// `waitid(2)`: waits for a state change of the children `id` selects. `options` must contain
/// at least one of `EXITED`, `STOPPED`, `CONTINUED`.
///
/// Returns `Ok(None)` with [`WaitOptions::NOHANG`] when no child has changed state yet. A
/// `si_code` the kernel does not document for children, or a killed child whose `si_status`
/// is not a signal, gives `EINVAL`.
pub fn waitid(id: WaitId<'_>, options: WaitOptions) -> Result<Option<WaitIdStatus>> {
    let (idtype, idval) = match id {
        WaitId::All => (0usize, 0usize),
        WaitId::Pid(p) => (1, p as usize),
        WaitId::Pgid(p) => (2, p as usize),
        WaitId::Pidfd(fd) => (3, fd.as_raw() as usize),
    };
    // SAFETY: an all-zero siginfo is a valid value of this plain-integer struct.
    let mut info: ChildSiginfo = unsafe { core::mem::zeroed() };
    // SAFETY: info is a live 128-byte siginfo for the kernel to write; rusage is null.
    unsafe {
        sys::syscall5(
            Sysno::waitid,
            idtype,
            idval,
            sys::by_mut(&mut info),
            options.bits() as usize,
            0,
        )
    }?;
    if info.si_pid == 0 {
        return Ok(None);
    }
    let s = info.si_status;
    let signal = Signal::from_raw(s);
    let status = match (info.si_code, signal) {
        (CLD_EXITED, _) => WaitStatus::Exited(s),
        (CLD_KILLED, Some(signal)) => WaitStatus::Signaled {
            signal,
            core_dumped: false,
        },
        (CLD_DUMPED, Some(signal)) => WaitStatus::Signaled {
            signal,
            core_dumped: true,
        },
        (CLD_TRAPPED | CLD_STOPPED, Some(signal)) => WaitStatus::Stopped(signal),
        // A ptrace stop value that is not a signal: the word wait4 would report for it.
        (CLD_TRAPPED | CLD_STOPPED, None) => WaitStatus::Unrecognized((s & 0xff) << 8 | 0x7f),
        (CLD_CONTINUED, _) => WaitStatus::Continued,
        _ => return Err(Errno::EINVAL),
    };
    Ok(Some(WaitIdStatus {
        pid: info.si_pid,
        uid: info.si_uid,
        status,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::process::testing::*;
    use crate::process::*;

    #[test]
    fn wait4_and_waitid_decode_stop_continue_and_signals() {
        let (r, _w) = pipe();
        let pid = spawn(CloneFlags::empty(), &[r.as_raw()], || {
            if await_poke(&r) { 0 } else { 1 }
        });
        assert_eq!(wait4(pid, WaitOptions::NOHANG), Ok(None));
        test_kill_process(pid).unwrap();
        kill_process(pid, SIGSTOP).unwrap();
        assert_eq!(
            wait4(pid, WaitOptions::UNTRACED).unwrap(),
            Some((pid, WaitStatus::Stopped(SIGSTOP)))
        );
        kill_process(pid, SIGCONT).unwrap();
        assert_eq!(
            wait4(pid, WaitOptions::CONTINUED).unwrap(),
            Some((pid, WaitStatus::Continued))
        );
        tgkill(pid, pid, SIGTERM).unwrap();
        assert_eq!(
            reap(pid),
            WaitStatus::Signaled {
                signal: SIGTERM,
                core_dumped: false
            }
        );
        assert_eq!(test_kill_process(pid), Err(Errno::ESRCH));
        assert_eq!(test_tgkill(pid, pid), Err(Errno::ESRCH));

        let pid = spawn(CloneFlags::empty(), &[r.as_raw()], || {
            if await_poke(&r) { 0 } else { 1 }
        });
        tgkill(pid, pid, SIGSTOP).unwrap();
        let st = waitid(WaitId::Pid(pid), WaitOptions::STOPPED)
            .unwrap()
            .unwrap();
        assert_eq!((st.pid, st.status), (pid, WaitStatus::Stopped(SIGSTOP)));
        kill_process(pid, SIGCONT).unwrap();
        let st = waitid(WaitId::Pid(pid), WaitOptions::CONTINUED)
            .unwrap()
            .unwrap();
        assert_eq!(st.status, WaitStatus::Continued);
        // WNOWAIT reports without reaping; the second waitid reaps.
        kill_process(pid, SIGKILL).unwrap();
        let killed = WaitStatus::Signaled {
            signal: SIGKILL,
            core_dumped: false,
        };
        let st = waitid(WaitId::Pid(pid), WaitOptions::EXITED | WaitOptions::NOWAIT)
            .unwrap()
            .unwrap();
        assert_eq!(st.status, killed);
        assert_eq!(
            waitid(WaitId::Pid(pid), WaitOptions::EXITED)
                .unwrap()
                .unwrap()
                .status,
            killed
        );
        assert_eq!(
            waitid(WaitId::Pid(pid), WaitOptions::EXITED),
            Err(Errno::ECHILD)
        );
        assert_eq!(wait4(pid, WaitOptions::empty()), Err(Errno::ECHILD));
    }

    #[test]
    fn waiting_for_any_child_inside_a_child() {
        // P_ALL and pid -1 would race with other tests' children in the harness, so a child
        // does it with children of its own.
        let st = run(CloneFlags::empty(), &[], || {
            let b = spawn_raw(7);
            ensure!(b > 0, 1);
            match waitid(WaitId::All, WaitOptions::EXITED) {
                Ok(Some(i)) => ensure!(
                    i.pid == b && i.status == WaitStatus::Exited(7) && i.uid == getuid(),
                    2
                ),
                _ => return 3,
            }
            let c = spawn_raw(9);
            ensure!(
                wait4(-1, WaitOptions::empty()) == Ok(Some((c, WaitStatus::Exited(9)))),
                4
            );
            let d = spawn_raw(11);
            ensure!(
                matches!(waitid(WaitId::Pgid(0), WaitOptions::EXITED), Ok(Some(i)) if i.pid == d),
                5
            );
            ensure!(
                waitid(WaitId::All, WaitOptions::EXITED) == Err(Errno::ECHILD),
                6
            );
            ensure!(wait4(-1, WaitOptions::NOHANG) == Err(Errno::ECHILD), 7);
            0
        });
        assert_eq!(st, WaitStatus::Exited(0));
    }

    /// A grandchild that exits with `code` at once (for use inside a test child).
    fn spawn_raw(code: i32) -> Pid {
        // SAFETY: the new child exits immediately.
        match unsafe { fork_with(CloneFlags::empty(), Some(SIGCHLD)) } {
            Ok(Fork::Child) => exit_group(code),
            Ok(Fork::Parent(pid)) => pid,
            Err(_) => -1,
        }
    }

    #[test]
    fn wait_status_decoding_matches_the_c_macros() {
        for code in 0..256 {
            assert_eq!(WaitStatus::from_raw(code << 8), WaitStatus::Exited(code));
        }
        for sig in 1..0x7f {
            let (killed, dumped, stopped) = match Signal::from_raw(sig) {
                Some(signal) => (
                    WaitStatus::Signaled {
                        signal,
                        core_dumped: false,
                    },
                    WaitStatus::Signaled {
                        signal,
                        core_dumped: true,
                    },
                    WaitStatus::Stopped(signal),
                ),
                // Numbers above 64 name no signal: the kernel never reports them.
                None => (
                    WaitStatus::Unrecognized(sig),
                    WaitStatus::Unrecognized(sig | 0x80),
                    WaitStatus::Unrecognized(sig << 8 | 0x7f),
                ),
            };
            assert_eq!(WaitStatus::from_raw(sig), killed);
            assert_eq!(WaitStatus::from_raw(sig | 0x80), dumped);
            assert_eq!(WaitStatus::from_raw(sig << 8 | 0x7f), stopped);
            assert_eq!(
                killed.terminating_signal().map(Signal::raw),
                (sig <= 64).then_some(sig)
            );
            assert_eq!(
                stopped.stopping_signal().map(Signal::raw),
                (sig <= 64).then_some(sig)
            );
        }
        let rt = Signal::from_raw(40).unwrap();
        assert_eq!(
            WaitStatus::from_raw(40),
            WaitStatus::Signaled {
                signal: rt,
                core_dumped: false
            }
        );
        // A ptrace syscall stop under PTRACE_O_TRACESYSGOOD: SIGTRAP | 0x80 is no signal.
        let sysgood = (0x80 | 5) << 8 | 0x7f;
        assert_eq!(
            WaitStatus::from_raw(sysgood),
            WaitStatus::Unrecognized(sysgood)
        );
        // The low byte 0xff is no status the kernel writes.
        assert_eq!(WaitStatus::from_raw(0xff), WaitStatus::Unrecognized(0xff));
        assert_eq!(WaitStatus::from_raw(0xffff), WaitStatus::Continued);
        assert_eq!(WaitStatus::Exited(3).exit_code(), Some(3));
        assert_eq!(WaitStatus::Continued.exit_code(), None);
    }

    proptest::proptest! {
        #[test]
        fn wait_status_decodes_every_word(raw in proptest::num::i32::ANY) {
            match WaitStatus::from_raw(raw) {
                WaitStatus::Exited(c) => proptest::prop_assert!((0..256).contains(&c) && raw & 0x7f == 0),
                WaitStatus::Signaled { signal, .. } => proptest::prop_assert!((1..=64).contains(&signal.raw()) && raw & 0x7f == signal.raw()),
                WaitStatus::Stopped(s) => proptest::prop_assert!(raw & 0xff == 0x7f && (raw >> 8) & 0xff == s.raw()),
                WaitStatus::Continued => proptest::prop_assert_eq!(raw, 0xffff),
                WaitStatus::Unrecognized(w) => proptest::prop_assert_eq!(w, raw),
            }
        }
    }
}
