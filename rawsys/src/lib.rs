//! Raw Linux system calls with no libc.
//!
//! `rawsys` is the only crate of linux-primitives that issues a system call. Every call goes
//! through the [`syscalls`] crate's inline-assembly entry points and comes back as
//! [`Result<T>`](Result) carrying a typed [`Errno`]. File descriptors are owned ([`OwnedFd`], closed
//! on drop) or borrowed ([`BorrowedFd`]); flag arguments are `bitflags` types; every struct shared
//! with the kernel is `#[repr(C)]` with compile-time asserts on its size and field offsets.
//!
//! Nothing here retries or hides a failure: `EINTR`, `EAGAIN` and short reads or writes reach
//! the caller exactly as the kernel reported them.
//!
//! ```
//! use rawsys::io;
//!
//! let (r, w) = io::pipe2(io::PipeFlags::CLOEXEC)?;
//! assert_eq!(io::write(&w, b"ping")?, 4);
//! let mut buf = [0u8; 8];
//! assert_eq!(io::read(&r, &mut buf)?, 4);
//! assert_eq!(&buf[..4], b"ping");
//! # Ok::<(), rawsys::Errno>(())
//! ```
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The README's examples, compiled and run as doctests so that they cannot fall out of date.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(any(feature = "std", test))]
extern crate std;

mod arch;
mod sys;

pub mod epoll;
pub mod errno;
pub mod fd;
pub mod fs;
pub mod io;
pub mod mm;
pub mod net;
pub mod netlink;
pub mod nfnetlink;
pub mod ns;
pub mod process;
pub mod seccomp;
pub mod signal;
pub mod time;

pub use errno::{Errno, Result};
pub use fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
