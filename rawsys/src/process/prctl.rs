//! `prctl` for the calling thread: `no_new_privs`, the parent-death signal and the thread
//! name. The capability-related options live in [`super::caps`] with the other capability
//! calls.

use core::ffi::CStr;

use crate::Result;
use crate::errno::Errno;
use crate::signal::Signal;
use crate::sys::{self, Sysno};

const PR_SET_PDEATHSIG: usize = 1;
const PR_GET_PDEATHSIG: usize = 2;
const PR_SET_KEEPCAPS: usize = 8;
const PR_SET_NAME: usize = 15;
const PR_GET_NAME: usize = 16;
const PR_SET_DUMPABLE: usize = 4;
const PR_GET_DUMPABLE: usize = 3;
const PR_SET_CHILD_SUBREAPER: usize = 36;
const PR_GET_CHILD_SUBREAPER: usize = 37;
const PR_SET_NO_NEW_PRIVS: usize = 38;
const PR_GET_NO_NEW_PRIVS: usize = 39;

/// # Safety
/// The arguments must be valid for `option` (pointers live and of the right size).
pub(super) unsafe fn prctl(
    option: usize,
    a2: usize,
    a3: usize,
    a4: usize,
    a5: usize,
) -> Result<usize> {
    // SAFETY: forwarded from the caller.
    unsafe { sys::syscall5(Sysno::prctl, option, a2, a3, a4, a5) }
}

/// `prctl(PR_SET_NO_NEW_PRIVS, 1)`: from now on `execve` never grants privileges (setuid bits,
/// file capabilities). Irreversible, inherited by children.
pub fn set_no_new_privs() -> Result<()> {
    // SAFETY: integer arguments; the unused ones must be zero.
    unsafe { prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }.map(drop)
}

/// `prctl(PR_SET_KEEPCAPS)`: whether the permitted capabilities survive a change of every uid
/// from 0 to non-zero (`setresuid`); the effective set is cleared either way. Cleared at
/// `execve`.
pub fn set_keepcaps(keep: bool) -> Result<()> {
    // SAFETY: integer arguments; the unused ones must be zero.
    unsafe { prctl(PR_SET_KEEPCAPS, usize::from(keep), 0, 0, 0) }.map(drop)
}

/// `prctl(PR_GET_NO_NEW_PRIVS)`: whether `no_new_privs` is set.
pub fn get_no_new_privs() -> Result<bool> {
    // SAFETY: integer arguments; the unused ones must be zero.
    unsafe { prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) }.map(|r| r != 0)
}

/// `prctl(PR_SET_PDEATHSIG)`: the signal the caller gets when the thread that created it dies
/// (`None` clears it).
pub fn set_pdeathsig(sig: Option<Signal>) -> Result<()> {
    let sig = sig.map_or(0, |s| s.raw() as usize);
    // SAFETY: integer argument.
    unsafe { prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) }.map(drop)
}

/// `prctl(PR_GET_PDEATHSIG)`: the parent-death signal (`None` if none is set).
pub fn get_pdeathsig() -> Result<Option<Signal>> {
    let mut sig: i32 = 0;
    // SAFETY: the kernel writes one int through the pointer, which is live.
    unsafe { prctl(PR_GET_PDEATHSIG, sys::by_mut(&mut sig), 0, 0, 0) }?;
    match sig {
        0 => Ok(None),
        // The kernel only stores valid signals; anything else would be a broken ABI.
        n => Signal::from_raw(n).map(Some).ok_or(Errno::EINVAL),
    }
}

/// `prctl(PR_SET_CHILD_SUBREAPER)`: whether the calling process adopts its orphaned
/// descendants (instead of init), as conmon and containerd's shim do for containers.
pub fn set_child_subreaper(on: bool) -> Result<()> {
    // SAFETY: integer argument.
    unsafe { prctl(PR_SET_CHILD_SUBREAPER, usize::from(on), 0, 0, 0) }.map(drop)
}

/// `prctl(PR_GET_CHILD_SUBREAPER)`: whether the calling process is a subreaper.
pub fn get_child_subreaper() -> Result<bool> {
    let mut on: i32 = 0;
    // SAFETY: the kernel writes one int through the pointer, which is live.
    unsafe { prctl(PR_GET_CHILD_SUBREAPER, sys::by_mut(&mut on), 0, 0, 0) }?;
    Ok(on != 0)
}

/// `prctl(PR_SET_DUMPABLE)`: whether the process can be core-dumped and, more to the point,
/// be ptraced or have its `/proc/PID` files opened by other processes of the same user. A
/// process joining a container clears it before the container can see it.
pub fn set_dumpable(on: bool) -> Result<()> {
    // SAFETY: integer argument.
    unsafe { prctl(PR_SET_DUMPABLE, usize::from(on), 0, 0, 0) }.map(drop)
}

/// `prctl(PR_GET_DUMPABLE)`: whether the process is dumpable.
pub fn get_dumpable() -> Result<bool> {
    // SAFETY: no pointers; the answer is the return value.
    unsafe { prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) }.map(|r| r != 0)
}

/// A thread name as the kernel keeps it (`comm`): at most 15 bytes plus a NUL.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TaskName([u8; 16]);

impl TaskName {
    /// The name, without the NUL.
    pub fn as_c_str(&self) -> &CStr {
        CStr::from_bytes_until_nul(&self.0).unwrap_or(c"")
    }
}

impl core::fmt::Debug for TaskName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_c_str(), f)
    }
}

/// `prctl(PR_SET_NAME)`: names the calling thread; the kernel keeps the first 15 bytes.
pub fn set_name(name: &CStr) -> Result<()> {
    // SAFETY: the kernel reads at most 16 bytes up to the NUL, which `name` contains.
    unsafe { prctl(PR_SET_NAME, sys::c_str(name), 0, 0, 0) }.map(drop)
}

/// `prctl(PR_GET_NAME)`: the calling thread's name.
pub fn get_name() -> Result<TaskName> {
    let mut buf = [0u8; 16];
    // SAFETY: the kernel writes at most 16 bytes (NUL-terminated) into buf, which has 16.
    unsafe { prctl(PR_GET_NAME, sys::by_mut(&mut buf), 0, 0, 0) }?;
    Ok(TaskName(buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::io;
    use crate::process::testing::*;
    use crate::process::*;

    #[test]
    fn prctl_no_new_privs_pdeathsig_and_name_in_a_child() {
        let before = get_no_new_privs().unwrap();
        let st = run(CloneFlags::empty(), &[], || {
            ensure!(set_no_new_privs().is_ok(), 1);
            ensure!(get_no_new_privs() == Ok(true), 2);
            ensure!(set_pdeathsig(Some(SIGKILL)).is_ok(), 3);
            ensure!(get_pdeathsig() == Ok(Some(SIGKILL)), 4);
            ensure!(
                set_pdeathsig(None).is_ok() && get_pdeathsig() == Ok(None),
                5
            );
            // Signal 1000 (once refused by the kernel with EINVAL) cannot be expressed now;
            // the real-time signals can.
            ensure!(Signal::from_raw(1000).is_none(), 6);
            let rt = Signal::rt(8);
            ensure!(rt.is_some_and(|s| set_pdeathsig(Some(s)).is_ok()), 61);
            ensure!(get_pdeathsig() == Ok(rt), 62);
            ensure!(set_name(c"lp-test-name").is_ok(), 7);
            ensure!(
                matches!(get_name(), Ok(n) if n.as_c_str() == c"lp-test-name"),
                8
            );
            ensure!(set_name(c"lp-test-a-much-longer-name").is_ok(), 9);
            ensure!(
                matches!(get_name(), Ok(n) if n.as_c_str() == c"lp-test-a-much-"),
                10
            );
            0
        });
        assert_eq!(st, WaitStatus::Exited(0));
        assert_eq!(
            get_no_new_privs().unwrap(),
            before,
            "the harness is unchanged"
        );
    }

    #[test]
    fn subreaper_and_dumpable_in_a_child() {
        let st = run(CloneFlags::empty(), &[], || {
            ensure!(get_child_subreaper() == Ok(false), 1);
            ensure!(set_child_subreaper(true).is_ok(), 2);
            ensure!(get_child_subreaper() == Ok(true), 3);
            ensure!(get_dumpable() == Ok(true), 4);
            ensure!(set_dumpable(false).is_ok(), 5);
            ensure!(get_dumpable() == Ok(false), 6);
            0
        });
        assert_eq!(st, WaitStatus::Exited(0));
    }

    #[test]
    fn keepcaps_keeps_the_permitted_set_across_setuid() {
        if getuid() != 0 {
            return;
        }
        let st = run(CloneFlags::empty(), &[], || {
            ensure!(set_keepcaps(true).is_ok(), 1);
            let before = capget(0).map(|c| c.permitted.bits()).unwrap_or(0);
            ensure!(setresuid(1000, 1000, 1000).is_ok(), 2);
            let after = capget(0);
            ensure!(matches!(after, Ok(c) if c.permitted.bits() == before), 3);
            ensure!(matches!(after, Ok(c) if c.effective.bits() == 0), 4);
            0
        });
        assert_eq!(st, WaitStatus::Exited(0));
    }

    #[test]
    fn pdeathsig_kills_the_orphan() {
        // A (child) starts B, which asks for SIGKILL when A dies and then waits for a byte on
        // `hold`. After A is reaped, the signal has been sent; the byte we then write would make
        // B report "survived" on `report`, but a killed B only closes it (EOF).
        let (hold_r, hold_w) = pipe();
        let (rep_r, rep_w) = pipe();
        let (ready_r, ready_w) = pipe();
        let keep = [
            hold_r.as_raw(),
            rep_w.as_raw(),
            ready_w.as_raw(),
            ready_r.as_raw(),
        ];
        let a = spawn(CloneFlags::empty(), &keep, || {
            // SAFETY: B only issues raw system calls and exits.
            match unsafe { fork_with(CloneFlags::empty(), Some(SIGCHLD)) } {
                Ok(Fork::Child) => {
                    let ok = set_pdeathsig(Some(SIGKILL)).is_ok() && poke(&ready_w);
                    if ok && await_poke(&hold_r) {
                        let _ = io::write(&rep_w, b"survived");
                    }
                    exit_group(0)
                }
                // A ends only once B has asked for the signal.
                Ok(Fork::Parent(_)) => {
                    if await_poke(&ready_r) {
                        0
                    } else {
                        2
                    }
                }
                Err(_) => 1,
            }
        });
        drop((hold_r, rep_w, ready_w, ready_r));
        assert_eq!(reap(a), WaitStatus::Exited(0));
        // EPIPE means B is already gone (it held the only read end); both outcomes are fine.
        let w = io::write(&hold_w, b"x");
        assert!(w == Ok(1) || w == Err(Errno::EPIPE), "{w:?}");
        let mut buf = [0u8; 16];
        assert_eq!(io::read(&rep_r, &mut buf), Ok(0), "B survived its parent");
    }
}
