//! The end of the child: `execve` of the command, directly or under the minimal init.

use rawsys::fs::{self, AtFlags, CWD};
use rawsys::io;
use rawsys::process::{self, CloneFlags, Fork, WaitOptions, WaitStatus};
use rawsys::signal::{self, SigSet, SigmaskHow, Signal};
use rawsys::{Errno, OwnedFd, RawFd};

use super::helpers::{SubStep, borrowed, close, fail};
use crate::plan::Plan;

/// Tries each candidate path like `execvp`: a missing file moves on, anything else is the
/// answer (`EACCES` is remembered but the search goes on, as the shells do).
pub(super) fn exec(plan: &Plan, err_fd: RawFd) -> ! {
    let x = &plan.exec;
    let mut err = Errno::ENOENT;
    for cand in &x.candidates {
        // SAFETY: plan::exec::prepare built argv and envp as null-terminated arrays of pointers
        // into the CStrings the plan owns, and `plan` is borrowed (alive) for the whole call.
        match unsafe { process::execve(cand, &x.argv, &x.envp) } {
            Errno::ENOENT | Errno::ENOTDIR => {}
            Errno::EACCES => err = Errno::EACCES,
            e => {
                err = e;
                break;
            }
        }
    }
    fail(err_fd, plan.ops.len() as u32, (SubStep::Exec, err))
}

/// Checks, before the child waits to be started, that the command will be found the way
/// [`exec`] looks for it: the first candidate that exists must be a regular file with an
/// execute bit (`EACCES` otherwise); none existing is `ENOENT`. A created container whose
/// command is missing fails at `create`, as runc's does, not silently at `start`.
pub(super) fn find_command(plan: &Plan) -> Result<(), Errno> {
    let mut err = Errno::ENOENT;
    for cand in &plan.exec.candidates {
        match fs::statat(CWD, cand, AtFlags::empty()) {
            Ok(st) if st.is_file() && st.st_mode & 0o111 != 0 => return Ok(()),
            Ok(_) => err = Errno::EACCES,
            Err(Errno::ENOENT | Errno::ENOTDIR) => {}
            Err(e) => return Err(e),
        }
    }
    Err(err)
}

/// Blocks until `start` writes a byte into the start FIFO (see [`super::StartGate`]), then
/// closes it. A read that fails for another reason than a signal ends the process: it cannot
/// be started any more.
pub(super) fn wait_for_start(fifo: RawFd) {
    let mut b = [0u8; 1];
    loop {
        match io::read(borrowed(fifo), &mut b) {
            Ok(1) => break,
            Err(Errno::EINTR) => {}
            _ => process::exit_group(127),
        }
    }
    // SAFETY: the FIFO is this process's own descriptor, not used after this.
    close(unsafe { OwnedFd::from_raw(fifo) });
}

fn encode(st: WaitStatus) -> (i32, i32) {
    match st {
        WaitStatus::Exited(c) => ((c & 0xff) << 8, c & 0xff),
        WaitStatus::Signaled {
            signal,
            core_dumped,
        } => (
            signal.raw() | if core_dumped { 0x80 } else { 0 },
            128 + signal.raw(),
        ),
        WaitStatus::Stopped(_) | WaitStatus::Continued | WaitStatus::Unrecognized(_) => (0, 0),
    }
}

/// The minimal init: forks the command, then reaps every child and forwards every signal it
/// receives to the command; when the command ends it reports the command's raw wait status
/// on `status_fd` and exits (the kernel then kills whatever is left in the PID namespace).
pub(super) fn init(plan: &Plan, err_fd: RawFd, status_fd: RawFd) -> ! {
    let index = plan.ops.len() as u32;
    let all = SigSet::full();
    if let Err(e) = signal::rt_sigprocmask(SigmaskHow::SetMask, Some(&all)) {
        fail(err_fd, index, (SubStep::Fork, e));
    }
    // SAFETY: the grandchild follows the same rules as this child: raw system calls only,
    // ending in execve or exit_group.
    let main = match unsafe { process::fork_with(CloneFlags::empty(), Some(Signal::SIGCHLD)) } {
        Err(e) => fail(err_fd, index, (SubStep::Fork, e)),
        Ok(Fork::Child) => {
            let _ = process::set_pdeathsig(Some(Signal::SIGKILL));
            if let Err(e) = signal::rt_sigprocmask(SigmaskHow::SetMask, Some(&SigSet::empty())) {
                fail(err_fd, index, (SubStep::Exec, e));
            }
            exec(plan, err_fd)
        }
        Ok(Fork::Parent(pid)) => pid,
    };
    // The error pipe now belongs to the command: our copy must close for the parent to see
    // the exec succeed.
    // SAFETY: err_fd is this process's copy, used by nothing else here from now on.
    close(unsafe { OwnedFd::from_raw(err_fd) });
    loop {
        let Ok(sig) = signal::rt_sigtimedwait(&all, None) else {
            continue;
        };
        if sig != Signal::SIGCHLD {
            let _ = process::kill_process(main, sig);
            continue;
        }
        loop {
            match process::wait4(-1, WaitOptions::NOHANG) {
                Ok(Some((pid, st))) if pid == main => {
                    let (raw, code) = encode(st);
                    if status_fd >= 0 {
                        let _ = io::write(borrowed(status_fd), &raw.to_ne_bytes());
                    }
                    process::exit_group(code);
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(Errno::ECHILD) => break,
                Err(_) => break,
            }
        }
    }
}
