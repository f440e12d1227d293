//! Namespaces and the filesystem view, one file per concern: joining and leaving namespaces
//! ([`unshare`], [`setns`]), mounts ([`mount`], [`umount2`]), the root and working directory
//! ([`pivot_root`], [`chroot`], [`chdir`], [`fchdir`]) and the UTS names ([`sethostname`],
//! [`setdomainname`], [`uname`]).
//!
//! All of these change state shared by the whole process (or its namespace); call them in a
//! child created with [`crate::process::fork_with`], never in a multi-threaded parent:
//!
//! ```
//! use rawsys::{ns, process::{self, CloneFlags, Fork, WaitOptions, WaitStatus}, signal::Signal};
//!
//! // SAFETY: the child only issues raw system calls and then exits.
//! match unsafe { process::fork_with(CloneFlags::NEWUTS, Some(Signal::SIGCHLD)) }? {
//!     Fork::Child => {
//!         let ok = ns::sethostname(b"lp-test-doc").is_ok()
//!             && ns::uname().is_ok_and(|u| u.nodename() == c"lp-test-doc");
//!         process::exit_group(if ok { 0 } else { 1 })
//!     }
//!     Fork::Parent(pid) => {
//!         let (_, status) = process::wait4(pid, WaitOptions::empty())?.unwrap();
//!         assert_eq!(status, WaitStatus::Exited(0));
//!         assert_ne!(ns::uname()?.nodename(), c"lp-test-doc");
//!     }
//! }
//! # Ok::<(), rawsys::Errno>(())
//! ```

mod mount;
mod namespace;
mod root;
mod uts;

#[cfg(test)]
mod testing;

pub use mount::*;
pub use namespace::*;
pub use root::*;
pub use uts::*;
