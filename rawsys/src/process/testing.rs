//! Helpers for tests that run code in fork-like children (used by the process tests and by
//! other modules' tests such as `ns`).

use std::string::String;
use std::vec::Vec;

use super::*;
use crate::fd::{AsFd, OwnedFd, RawFd};
use crate::io::{self, PipeFlags};
use crate::signal::Signal;

pub(crate) const SIGKILL: Signal = Signal::SIGKILL;
pub(crate) const SIGTERM: Signal = Signal::SIGTERM;
pub(crate) const SIGCHLD: Signal = Signal::SIGCHLD;
pub(crate) const SIGCONT: Signal = Signal::SIGCONT;
pub(crate) const SIGSTOP: Signal = Signal::SIGSTOP;

/// Returns `$code` from the child closure when `$cond` is false.
macro_rules! ensure {
    ($cond:expr, $code:expr) => {
        if !$cond {
            return $code;
        }
    };
}
pub(crate) use ensure;

/// Ends the child if its closure unwinds, so it never returns into the test harness.
struct ExitOnUnwind;
impl Drop for ExitOnUnwind {
    fn drop(&mut self) {
        exit_group(125)
    }
}

fn close_range(lo: u32, hi: u32) {
    // SAFETY: closes descriptors of this (child) process only; nothing in the child uses
    // them afterwards.
    let _ = unsafe { io::close_range(lo, hi, io::CloseRangeFlags::empty()) };
}

/// Closes every descriptor from 3 up except those in `keep` (at most 8), so that the child
/// does not hold copies of other tests' pipes open.
pub(crate) fn close_other_fds(keep: &[RawFd]) {
    let mut k = [0i32; 8];
    let n = keep.len().min(8);
    k[..n].copy_from_slice(&keep[..n]);
    k[..n].sort_unstable();
    let mut lo: u32 = 3;
    for &fd in &k[..n] {
        let fd = fd as u32;
        if fd >= lo {
            if fd > lo {
                close_range(lo, fd - 1);
            }
            lo = fd + 1;
        }
    }
    close_range(lo, u32::MAX);
}

/// Runs `f` in a fork-like child (`flags`, exit signal SIGCHLD) that keeps only the
/// descriptors in `keep` and exits with `f`'s result. Returns the child's pid.
pub(crate) fn spawn(flags: CloneFlags, keep: &[RawFd], f: impl FnOnce() -> i32) -> Pid {
    // SAFETY: the child closes descriptors, runs `f` (which in these tests issues only raw
    // system calls, no allocation) and exits; the guard ends it even if `f` unwinds.
    match unsafe { fork_with(flags, Some(SIGCHLD)) }.expect("fork_with") {
        Fork::Child => {
            let guard = ExitOnUnwind;
            close_other_fds(keep);
            let code = f();
            core::mem::forget(guard);
            exit_group(code)
        }
        Fork::Parent(pid) => pid,
    }
}

/// Waits for the child `pid` to end.
pub(crate) fn reap(pid: Pid) -> WaitStatus {
    let (p, st) = wait4(pid, WaitOptions::empty())
        .expect("wait4")
        .expect("no WNOHANG");
    assert_eq!(p, pid);
    st
}

/// [`spawn`] then [`reap`].
pub(crate) fn run(flags: CloneFlags, keep: &[RawFd], f: impl FnOnce() -> i32) -> WaitStatus {
    reap(spawn(flags, keep, f))
}

/// Sends one byte: wakes the other side of a pipe.
pub(crate) fn poke(fd: impl AsFd) -> bool {
    io::write(fd, b"x") == Ok(1)
}

/// Waits for one byte from the other side of a pipe.
pub(crate) fn await_poke(fd: impl AsFd) -> bool {
    let mut b = [0u8; 1];
    io::read(fd, &mut b) == Ok(1)
}

/// The whitespace-separated fields after `key` in a `/proc/.../status`-like file.
pub(crate) fn proc_fields(path: &str, key: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("{key} in {path}"));
    line[key.len()..]
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// A capability mask (hexadecimal) from this thread's `/proc` status.
pub(crate) fn cap_field(key: &str) -> u64 {
    u64::from_str_radix(&proc_fields("/proc/thread-self/status", key)[0], 16).unwrap()
}

/// A close-on-exec pipe: (read end, write end).
pub(crate) fn pipe() -> (OwnedFd, OwnedFd) {
    io::pipe2(PipeFlags::CLOEXEC).unwrap()
}
