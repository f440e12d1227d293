//! The single doorway to the kernel: thin wrappers over the `syscalls` crate that convert its
//! error type into ours. Every other module calls these; none calls `syscalls` directly.

use crate::errno::{Errno, Result};
pub(crate) use syscalls::Sysno;

#[inline(always)]
fn conv(r: core::result::Result<usize, syscalls::Errno>) -> Result<usize> {
    r.map_err(|e| Errno::from_raw(e.into_raw()))
}

/// # Safety
/// The caller upholds the contract of the system call `nr` for these arguments.
#[inline(always)]
pub(crate) unsafe fn syscall0(nr: Sysno) -> Result<usize> {
    // SAFETY: forwarded from the caller.
    conv(unsafe { syscalls::syscall0(nr) })
}

/// # Safety
/// The caller upholds the contract of the system call `nr` for these arguments.
#[inline(always)]
pub(crate) unsafe fn syscall1(nr: Sysno, a: usize) -> Result<usize> {
    // SAFETY: forwarded from the caller.
    conv(unsafe { syscalls::syscall1(nr, a) })
}

/// # Safety
/// The caller upholds the contract of the system call `nr` for these arguments.
#[inline(always)]
pub(crate) unsafe fn syscall2(nr: Sysno, a: usize, b: usize) -> Result<usize> {
    // SAFETY: forwarded from the caller.
    conv(unsafe { syscalls::syscall2(nr, a, b) })
}

/// # Safety
/// The caller upholds the contract of the system call `nr` for these arguments.
#[inline(always)]
pub(crate) unsafe fn syscall3(nr: Sysno, a: usize, b: usize, c: usize) -> Result<usize> {
    // SAFETY: forwarded from the caller.
    conv(unsafe { syscalls::syscall3(nr, a, b, c) })
}

/// # Safety
/// The caller upholds the contract of the system call `nr` for these arguments.
#[inline(always)]
pub(crate) unsafe fn syscall4(nr: Sysno, a: usize, b: usize, c: usize, d: usize) -> Result<usize> {
    // SAFETY: forwarded from the caller.
    conv(unsafe { syscalls::syscall4(nr, a, b, c, d) })
}

/// # Safety
/// The caller upholds the contract of the system call `nr` for these arguments.
#[inline(always)]
pub(crate) unsafe fn syscall5(
    nr: Sysno,
    a: usize,
    b: usize,
    c: usize,
    d: usize,
    e: usize,
) -> Result<usize> {
    // SAFETY: forwarded from the caller.
    conv(unsafe { syscalls::syscall5(nr, a, b, c, d, e) })
}

/// # Safety
/// The caller upholds the contract of the system call `nr` for these arguments.
#[inline(always)]
pub(crate) unsafe fn syscall6(
    nr: Sysno,
    a: usize,
    b: usize,
    c: usize,
    d: usize,
    e: usize,
    f: usize,
) -> Result<usize> {
    // SAFETY: forwarded from the caller.
    conv(unsafe { syscalls::syscall6(nr, a, b, c, d, e, f) })
}

/// Converts a syscall return that is known to be a file descriptor.
#[inline(always)]
pub(crate) fn ret_fd(r: usize) -> crate::fd::OwnedFd {
    // SAFETY: the kernel just returned this descriptor to us; nobody else owns it yet.
    unsafe { crate::fd::OwnedFd::from_raw(r as i32) }
}
