//! The single doorway to the kernel: thin wrappers over the `syscalls` crate that convert its
//! error type into ours, and the conversions of typed arguments (descriptors, references,
//! slices, C strings) into the machine words the kernel takes. Every other module calls these;
//! none calls `syscalls` directly or spells out its own pointer or descriptor casts.

use core::ffi::CStr;

use crate::errno::{Errno, Result};
use crate::fd::AsFd;
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

/// A descriptor as an argument. The kernel reads an `int`, so a negative value such as
/// `AT_FDCWD` (sign-extended here) arrives intact.
#[inline(always)]
pub(crate) fn fd_arg(fd: impl AsFd) -> usize {
    fd.as_fd().as_raw() as usize
}

/// The address of what `r` refers to, for the kernel to read. For a slice it is the address of
/// the first element; pass the length separately.
#[inline(always)]
pub(crate) fn by_ref<T: ?Sized>(r: &T) -> usize {
    r as *const T as *const u8 as usize
}

/// The address of what `r` refers to, for the kernel to write (or read and write). For a slice
/// it is the address of the first element; pass the length separately.
#[inline(always)]
pub(crate) fn by_mut<T: ?Sized>(r: &mut T) -> usize {
    r as *mut T as *mut u8 as usize
}

/// [`by_ref`], or a null pointer for `None`.
#[inline(always)]
pub(crate) fn opt_ref<T: ?Sized>(r: Option<&T>) -> usize {
    r.map_or(0, by_ref)
}

/// [`by_mut`], or a null pointer for `None`.
#[inline(always)]
pub(crate) fn opt_mut<T: ?Sized>(r: Option<&mut T>) -> usize {
    r.map_or(0, by_mut)
}

/// The address of a NUL-terminated string.
#[inline(always)]
pub(crate) fn c_str(s: &CStr) -> usize {
    s.as_ptr() as usize
}

/// [`c_str`], or a null pointer for `None`.
#[inline(always)]
pub(crate) fn opt_c_str(s: Option<&CStr>) -> usize {
    s.map_or(0, c_str)
}

/// Converts a syscall return that is known to be a file descriptor.
#[inline(always)]
pub(crate) fn ret_fd(r: usize) -> crate::fd::OwnedFd {
    // SAFETY: the kernel just returned this descriptor to us; nobody else owns it yet.
    unsafe { crate::fd::OwnedFd::from_raw(r as i32) }
}
