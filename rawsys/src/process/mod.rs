//! Processes, one file per concern: identity ([`getpid`], ...), creation with `clone`
//! (fork-like, on a separate stack, and `clone3`), [`execve`] and [`exit_group`], waiting
//! ([`wait4`], [`waitid`]), signalling by pid ([`kill_process`], ...) and by pidfd, `prctl`,
//! capabilities, credentials, resource limits and scheduling.
//!
//! Signals are [`Signal`](crate::signal::Signal) values, which cover every Linux signal `1..=64` including the
//! real-time ones; where the kernel also accepts "no signal", the argument is an
//! `Option<Signal>` (a clone's exit signal, the parent-death signal) or there is a separate
//! `test_*` call (signal 0: does the target exist?).
//!
//! A child created with a fork-like clone (a copy of the caller's memory, no `CLONE_VM`) inherits
//! locks that other threads held at the time of the call, frozen forever. It must therefore issue
//! only raw system calls (no allocation, no `std` I/O, no panics) until it calls [`execve`] or
//! [`exit_group`]:
//!
//! ```
//! use rawsys::process::{self, CloneFlags, Fork, WaitOptions, WaitStatus};
//! use rawsys::signal::Signal;
//!
//! // SAFETY: the child only issues raw system calls and then exits.
//! match unsafe { process::fork_with(CloneFlags::empty(), Some(Signal::SIGCHLD)) }? {
//!     Fork::Child => process::exit_group(42),
//!     Fork::Parent(pid) => {
//!         let (reaped, status) = process::wait4(pid, WaitOptions::empty())?.expect("no WNOHANG");
//!         assert_eq!(reaped, pid);
//!         assert_eq!(status, WaitStatus::Exited(42));
//!     }
//! }
//! # Ok::<(), rawsys::Errno>(())
//! ```

mod caps;
mod clone;
mod cred;
mod exec;
mod id;
mod kill;
mod pidfd;
mod prctl;
mod rlimit;
mod sched;
mod wait;

#[cfg(test)]
pub(crate) mod testing;

pub use caps::*;
pub use clone::*;
pub use cred::*;
pub use exec::*;
pub use id::*;
pub use kill::*;
pub use pidfd::*;
pub use prctl::*;
pub use rlimit::*;
pub use sched::*;
pub use wait::*;
