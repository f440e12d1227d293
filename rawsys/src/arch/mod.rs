//! What differs between the architectures this crate supports, x86_64 and aarch64: kernel
//! structs laid out differently (`struct stat`, `struct epoll_event`), flag values and system
//! call names that differ, the audit architecture of the native calling convention, and the
//! assembly of the clone trampoline. Everything else in the crate is written once and reaches
//! these through the names re-exported here.

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "x86_64")]
mod x86_64;

#[cfg(target_arch = "aarch64")]
use aarch64 as imp;
#[cfg(target_arch = "x86_64")]
use x86_64 as imp;

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("rawsys supports Linux on x86_64 and aarch64 only");

pub(crate) use imp::{AUDIT_ARCH_NATIVE, FSTATAT, O_DIRECT, O_DIRECTORY, O_NOFOLLOW};
pub use imp::{EpollEvent, Stat};

unsafe extern "C" {
    /// Issues `clone(flags, sp)`. In the child, pops `entry` and `arg` from the new stack
    /// (`sp`), calls `entry(arg)` and `exit`s with its result. In the parent, returns the raw
    /// kernel result (pid or negative errno). Defined in assembly in each architecture's file.
    pub(crate) fn rawsys_clone_trampoline(flags: usize, sp: usize) -> isize;
}
