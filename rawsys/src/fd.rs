//! File descriptors: owned ones close on drop, borrowed ones cannot outlive their owner.
//!
//! ```
//! use rawsys::{fd::AsFd, io};
//!
//! let (r, w) = io::pipe2(io::PipeFlags::CLOEXEC)?;
//! let borrowed = w.as_fd();          // lives no longer than `w`
//! io::write(borrowed, b"x")?;
//! drop(w);                           // closes the write end
//! let mut b = [0u8; 2];
//! assert_eq!(io::read(&r, &mut b)?, 1);
//! assert_eq!(io::read(&r, &mut b)?, 0); // end of file: no writer left
//! # Ok::<(), rawsys::Errno>(())
//! ```

use core::fmt;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;

use crate::sys::{self, Sysno};

/// A raw file descriptor number.
pub type RawFd = i32;

/// A file descriptor this value owns; it is closed when the value is dropped.
#[repr(transparent)]
pub struct OwnedFd {
    fd: RawFd,
}

/// A file descriptor borrowed from an owner for the lifetime `'fd`.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct BorrowedFd<'fd> {
    fd: RawFd,
    _owner: PhantomData<&'fd OwnedFd>,
}

/// Anything that can lend out a file descriptor.
pub trait AsFd {
    /// Borrows the descriptor.
    fn as_fd(&self) -> BorrowedFd<'_>;
}

impl OwnedFd {
    /// Takes ownership of `fd`.
    ///
    /// # Safety
    /// `fd` must be an open descriptor that nothing else will close.
    pub const unsafe fn from_raw(fd: RawFd) -> OwnedFd {
        OwnedFd { fd }
    }

    /// Gives up ownership without closing; the caller becomes responsible for closing it.
    pub fn into_raw(self) -> RawFd {
        ManuallyDrop::new(self).fd
    }

    /// The descriptor number, still owned by `self`.
    pub const fn as_raw(&self) -> RawFd {
        self.fd
    }

    /// Closes the descriptor now and reports the kernel's answer, which `drop` cannot do.
    ///
    /// The descriptor is released even when `close` reports an error (Linux never keeps it).
    pub fn close(self) -> crate::Result<()> {
        let fd = self.into_raw();
        // SAFETY: we owned `fd` and give it up here; nothing refers to it afterwards.
        unsafe { sys::syscall1(Sysno::close, fd as usize) }.map(drop)
    }
}

impl Drop for OwnedFd {
    fn drop(&mut self) {
        // SAFETY: we own `fd`; after this nothing refers to it. An error (EINTR, EIO) cannot be
        // reported from drop, and Linux releases the descriptor regardless, so it is ignored.
        let _ = unsafe { sys::syscall1(Sysno::close, self.fd as usize) };
    }
}

impl<'fd> BorrowedFd<'fd> {
    /// Borrows a raw descriptor.
    ///
    /// # Safety
    /// `fd` must stay open for the whole lifetime `'fd`.
    pub const unsafe fn borrow_raw(fd: RawFd) -> BorrowedFd<'fd> {
        BorrowedFd {
            fd,
            _owner: PhantomData,
        }
    }

    /// The descriptor number.
    pub const fn as_raw(self) -> RawFd {
        self.fd
    }
}

impl AsFd for OwnedFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        BorrowedFd {
            fd: self.fd,
            _owner: PhantomData,
        }
    }
}

impl AsFd for BorrowedFd<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        *self
    }
}

impl<T: AsFd + ?Sized> AsFd for &T {
    fn as_fd(&self) -> BorrowedFd<'_> {
        (**self).as_fd()
    }
}

impl<T: AsFd + ?Sized> AsFd for &mut T {
    fn as_fd(&self) -> BorrowedFd<'_> {
        (**self).as_fd()
    }
}

impl fmt::Debug for OwnedFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OwnedFd").field(&self.fd).finish()
    }
}

impl fmt::Debug for BorrowedFd<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BorrowedFd").field(&self.fd).finish()
    }
}

/// The standard input, output and error descriptors, which the process does not own.
pub mod stdio {
    use super::BorrowedFd;
    /// Descriptor 0.
    // SAFETY: descriptors 0-2 are the process's standard streams for its whole life; a
    // borrow does not close them.
    pub const STDIN: BorrowedFd<'static> = unsafe { BorrowedFd::borrow_raw(0) };
    /// Descriptor 1.
    // SAFETY: as for STDIN.
    pub const STDOUT: BorrowedFd<'static> = unsafe { BorrowedFd::borrow_raw(1) };
    /// Descriptor 2.
    // SAFETY: as for STDIN.
    pub const STDERR: BorrowedFd<'static> = unsafe { BorrowedFd::borrow_raw(2) };
}

#[cfg(feature = "std")]
mod std_conv {
    use super::*;
    use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};

    impl From<OwnedFd> for std::os::fd::OwnedFd {
        fn from(fd: OwnedFd) -> Self {
            // SAFETY: ownership moves from one owner type to the other; exactly one closes it.
            unsafe { std::os::fd::OwnedFd::from_raw_fd(fd.into_raw()) }
        }
    }

    impl From<std::os::fd::OwnedFd> for OwnedFd {
        fn from(fd: std::os::fd::OwnedFd) -> Self {
            // SAFETY: as above, in the other direction.
            unsafe { OwnedFd::from_raw(fd.into_raw_fd()) }
        }
    }

    impl<'a> From<std::os::fd::BorrowedFd<'a>> for BorrowedFd<'a> {
        fn from(fd: std::os::fd::BorrowedFd<'a>) -> Self {
            // SAFETY: the std borrow guarantees the descriptor stays open for 'a.
            unsafe { BorrowedFd::borrow_raw(fd.as_raw_fd()) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io;

    fn is_open(fd: RawFd) -> bool {
        // SAFETY: only queried with F_GETFD, which does not touch the descriptor.
        let b = unsafe { BorrowedFd::borrow_raw(fd) };
        io::fcntl_getfd(b).is_ok()
    }

    #[test]
    fn drop_closes_and_into_raw_does_not() {
        let (r, w) = io::pipe2(io::PipeFlags::CLOEXEC).unwrap();
        let rfd = r.as_raw();
        drop(r);
        assert!(!is_open(rfd));
        let wfd = w.into_raw();
        assert!(is_open(wfd));
        // SAFETY: wfd came from into_raw above and nothing else owns it.
        let w = unsafe { OwnedFd::from_raw(wfd) };
        w.close().unwrap();
        assert!(!is_open(wfd));
    }

    #[test]
    fn stdio_borrows_are_valid() {
        assert_eq!(stdio::STDERR.as_raw(), 2);
        assert_eq!(stdio::STDIN.as_fd().as_raw(), 0);
    }
}
