//! Controlling descriptors: closing (one, or a range), duplicating, and the descriptor and file
//! status flags of `fcntl`.

use crate::Result;
use crate::fd::{AsFd, OwnedFd};
use crate::fs::OFlags;
use crate::sys::{self, Sysno};

bitflags::bitflags! {
    /// Descriptor flags for [`fcntl_getfd`]/[`fcntl_setfd`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct FdFlags: u32 {
        /// `FD_CLOEXEC`
        const CLOEXEC = 1;
    }
}

bitflags::bitflags! {
    /// Flags for [`dup3`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct DupFlags: u32 {
        /// `O_CLOEXEC`
        const CLOEXEC = 0o2000000;
    }
}

/// `close(2)` on an owned descriptor, reporting the kernel's answer. Same as [`OwnedFd::close`].
pub fn close(fd: OwnedFd) -> Result<()> {
    fd.close()
}

bitflags::bitflags! {
    /// Flags for [`close_range`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct CloseRangeFlags: u32 {
        /// `CLOSE_RANGE_UNSHARE`: unshare the descriptor table first.
        const UNSHARE = 1 << 1;
        /// `CLOSE_RANGE_CLOEXEC`: set close-on-exec instead of closing.
        const CLOEXEC = 1 << 2;
    }
}

/// `close_range(2)`: closes (or, with [`CloseRangeFlags::CLOEXEC`], marks close-on-exec) every
/// descriptor from `first` to `last` inclusive.
///
/// # Safety
/// Without `CLOEXEC`, every closed descriptor must not be owned by anything that will use or
/// close it later (an [`OwnedFd`], a `std::fs::File`...): this is the bulk form of
/// [`OwnedFd::from_raw`]'s contract. With `CLOEXEC` nothing is closed and the call is harmless.
pub unsafe fn close_range(first: u32, last: u32, flags: CloseRangeFlags) -> Result<()> {
    // SAFETY: no pointers; the caller owns the descriptors in the range (see above).
    unsafe {
        sys::syscall3(
            Sysno::close_range,
            first as usize,
            last as usize,
            flags.bits() as usize,
        )
    }
    .map(drop)
}

/// `dup3(2)` onto a descriptor number the caller chose (which is closed first if open).
///
/// Returns ownership of `newfd`. Use it to place a descriptor at 0, 1 or 2 in a child.
pub fn dup3(oldfd: impl AsFd, newfd: i32, flags: DupFlags) -> Result<OwnedFd> {
    // SAFETY: no pointers; the kernel validates both numbers.
    let r = unsafe {
        sys::syscall3(
            Sysno::dup3,
            sys::fd_arg(oldfd),
            newfd as usize,
            flags.bits() as usize,
        )
    }?;
    Ok(sys::ret_fd(r))
}

/// `fcntl(F_DUPFD_CLOEXEC)`: a new close-on-exec descriptor numbered at least `min`.
pub fn fcntl_dupfd_cloexec(fd: impl AsFd, min: i32) -> Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC (1030) takes an integer argument.
    let r = unsafe { sys::syscall3(Sysno::fcntl, sys::fd_arg(fd), 1030, min as usize) }?;
    Ok(sys::ret_fd(r))
}

/// `fcntl(F_GETFD)`: the descriptor flags.
pub fn fcntl_getfd(fd: impl AsFd) -> Result<FdFlags> {
    // SAFETY: F_GETFD (1) takes no argument.
    let r = unsafe { sys::syscall2(Sysno::fcntl, sys::fd_arg(fd), 1) }?;
    Ok(FdFlags::from_bits_retain(r as u32))
}

/// `fcntl(F_SETFD)`: sets the descriptor flags (close-on-exec).
pub fn fcntl_setfd(fd: impl AsFd, flags: FdFlags) -> Result<()> {
    // SAFETY: F_SETFD (2) takes an integer argument.
    unsafe { sys::syscall3(Sysno::fcntl, sys::fd_arg(fd), 2, flags.bits() as usize) }.map(drop)
}

/// `fcntl(F_GETFL)`: the file status flags and access mode.
pub fn fcntl_getfl(fd: impl AsFd) -> Result<OFlags> {
    // SAFETY: F_GETFL (3) takes no argument.
    let r = unsafe { sys::syscall2(Sysno::fcntl, sys::fd_arg(fd), 3) }?;
    Ok(OFlags::from_bits_retain(r as u32))
}

/// `fcntl(F_SETFL)`: sets the file status flags (`O_NONBLOCK`, `O_APPEND`, ...).
pub fn fcntl_setfl(fd: impl AsFd, flags: OFlags) -> Result<()> {
    // SAFETY: F_SETFL (4) takes an integer argument.
    unsafe { sys::syscall3(Sysno::fcntl, sys::fd_arg(fd), 4, flags.bits() as usize) }.map(drop)
}

/// Turns `O_NONBLOCK` on or off with `fcntl(F_GETFL)` then `fcntl(F_SETFL)`.
pub fn set_nonblocking(fd: impl AsFd, nonblocking: bool) -> Result<()> {
    let fd = fd.as_fd();
    let flags = fcntl_getfl(fd)?;
    let new = if nonblocking {
        flags | OFlags::NONBLOCK
    } else {
        flags - OFlags::NONBLOCK
    };
    if new == flags {
        Ok(())
    } else {
        fcntl_setfl(fd, new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::fd::OwnedFd;
    use crate::fs::*;
    use crate::io::*;

    #[test]
    fn close_range_marks_cloexec_and_closes() {
        let (r, w) = pipe2(PipeFlags::empty()).unwrap();
        let (rn, wn) = (r.as_fd().as_raw(), w.as_fd().as_raw());
        assert!(!fcntl_getfd(&r).unwrap().contains(FdFlags::CLOEXEC));
        // SAFETY: CLOEXEC closes nothing.
        unsafe { close_range(rn as u32, rn as u32, CloseRangeFlags::CLOEXEC) }.unwrap();
        assert!(fcntl_getfd(&r).unwrap().contains(FdFlags::CLOEXEC));
        assert!(!fcntl_getfd(&w).unwrap().contains(FdFlags::CLOEXEC));
        // Give up ownership of the write end, then close it through close_range.
        let raw_w = w.into_raw();
        assert_eq!(raw_w, wn);
        // SAFETY: raw_w is no longer owned by anything.
        unsafe { close_range(raw_w as u32, raw_w as u32, CloseRangeFlags::empty()) }.unwrap();
        // The read end now sees end-of-file: the only write end is gone.
        let mut b = [0u8; 1];
        assert_eq!(read(&r, &mut b), Ok(0));
        // first > last is the caller's mistake, reported as EINVAL.
        // SAFETY: an invalid range closes nothing.
        let bad = unsafe { close_range(10, 5, CloseRangeFlags::empty()) };
        assert_eq!(bad, Err(Errno::EINVAL));
    }

    #[test]
    fn fcntl_flags_round_trip_and_dup() {
        let (r, _w) = pipe2(PipeFlags::empty()).unwrap();
        assert_eq!(fcntl_getfd(&r).unwrap(), FdFlags::empty());
        fcntl_setfd(&r, FdFlags::CLOEXEC).unwrap();
        assert_eq!(fcntl_getfd(&r).unwrap(), FdFlags::CLOEXEC);
        set_nonblocking(&r, true).unwrap();
        assert!(fcntl_getfl(&r).unwrap().contains(OFlags::NONBLOCK));
        set_nonblocking(&r, false).unwrap();
        assert!(!fcntl_getfl(&r).unwrap().contains(OFlags::NONBLOCK));
        let d = fcntl_dupfd_cloexec(&r, 100).unwrap();
        assert!(d.as_raw() >= 100);
        assert!(fcntl_getfd(&d).unwrap().contains(FdFlags::CLOEXEC));
        // dup3 onto a number we own (the duplicate's), replacing it.
        let target = d.into_raw();
        let e = dup3(&r, target, DupFlags::empty()).unwrap();
        assert_eq!(e.as_raw(), target);
        assert_eq!(fcntl_getfd(&e).unwrap(), FdFlags::empty());
        assert_eq!(
            dup3(&r, r.as_raw(), DupFlags::empty()).map(OwnedFd::into_raw),
            Err(Errno::EINVAL)
        );
    }
}
