//! Error numbers returned by the kernel.

use core::fmt;

/// A Linux error number, as the kernel returns it (negated) from a failed system call.
///
/// It knows its symbolic name and the usual message:
///
/// ```
/// use rawsys::Errno;
/// assert_eq!(Errno::ENOENT.name(), Some("ENOENT"));
/// assert_eq!(Errno::ENOENT.message(), Some("No such file or directory"));
/// assert_eq!(format!("{}", Errno::EAGAIN), "EAGAIN: Try again");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct Errno(i32);

/// The result of a system call wrapper.
pub type Result<T> = core::result::Result<T, Errno>;

macro_rules! errnos {
    ($($name:ident = $num:expr;)*) => {
        impl Errno {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                pub const $name: Errno = Errno($num);
            )*
        }
    };
}

errnos! {
    EPERM = 1; ENOENT = 2; ESRCH = 3; EINTR = 4; EIO = 5; ENXIO = 6; E2BIG = 7; ENOEXEC = 8;
    EBADF = 9; ECHILD = 10; EAGAIN = 11; ENOMEM = 12; EACCES = 13; EFAULT = 14; ENOTBLK = 15;
    EBUSY = 16; EEXIST = 17; EXDEV = 18; ENODEV = 19; ENOTDIR = 20; EISDIR = 21; EINVAL = 22;
    ENFILE = 23; EMFILE = 24; ENOTTY = 25; ETXTBSY = 26; EFBIG = 27; ENOSPC = 28; ESPIPE = 29;
    EROFS = 30; EMLINK = 31; EPIPE = 32; EDOM = 33; ERANGE = 34; EDEADLK = 35;
    ENAMETOOLONG = 36; ENOLCK = 37; ENOSYS = 38; ENOTEMPTY = 39; ELOOP = 40; ENOMSG = 42;
    ENODATA = 61; EPROTO = 71; EBADMSG = 74; EOVERFLOW = 75; ENOTSOCK = 88; EDESTADDRREQ = 89; EMSGSIZE = 90; EPROTOTYPE = 91;
    ENOPROTOOPT = 92; EPROTONOSUPPORT = 93; EOPNOTSUPP = 95; EAFNOSUPPORT = 97;
    EADDRINUSE = 98; EADDRNOTAVAIL = 99; ENETDOWN = 100; ENETUNREACH = 101;
    ECONNABORTED = 103; ECONNRESET = 104; ENOBUFS = 105; EISCONN = 106; ENOTCONN = 107;
    ETIMEDOUT = 110; ECONNREFUSED = 111; EHOSTUNREACH = 113; EALREADY = 114;
    EINPROGRESS = 115; ESTALE = 116; EDQUOT = 122; ECANCELED = 125;
}

impl Errno {
    /// `EWOULDBLOCK` is the same number as [`Errno::EAGAIN`] on Linux.
    pub const EWOULDBLOCK: Errno = Errno::EAGAIN;

    /// Wraps a positive error number.
    pub const fn from_raw(errno: i32) -> Errno {
        Errno(errno)
    }

    /// The positive error number.
    pub const fn raw(self) -> i32 {
        self.0
    }

    /// The symbolic name, such as `"ENOENT"`, if the number is known.
    pub fn name(self) -> Option<&'static str> {
        syscalls::Errno::new(self.0).name()
    }

    /// The conventional message, such as `"No such file or directory"`, if the number is known.
    pub fn message(self) -> Option<&'static str> {
        syscalls::Errno::new(self.0).description()
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.name(), self.message()) {
            (Some(n), Some(m)) => write!(f, "{n}: {m}"),
            _ => write!(f, "errno {}", self.0),
        }
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "Errno({})", self.0),
        }
    }
}

impl core::error::Error for Errno {}

#[cfg(feature = "std")]
impl From<Errno> for std::io::Error {
    fn from(e: Errno) -> Self {
        std::io::Error::from_raw_os_error(e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    #[test]
    fn names_and_messages_come_from_the_table() {
        assert_eq!(Errno::EINTR.name(), Some("EINTR"));
        assert_eq!(Errno::EWOULDBLOCK, Errno::EAGAIN);
        assert_eq!(format!("{:?}", Errno::EBADF), "EBADF");
        assert_eq!(format!("{}", Errno::from_raw(100_000)), "errno 100000");
        assert_eq!(format!("{:?}", Errno::from_raw(100_000)), "Errno(100000)");
    }

    #[test]
    fn a_real_failure_carries_the_kernel_errno() {
        let mut buf = [0u8; 1];
        // fd 1_000_000 is above any open-file limit, so it cannot be open.
        // SAFETY: the fd is never used for anything but this failing read.
        let bad = unsafe { crate::fd::BorrowedFd::borrow_raw(1_000_000) };
        assert_eq!(crate::io::read(bad, &mut buf), Err(Errno::EBADF));
    }

    #[cfg(feature = "std")]
    #[test]
    fn converts_to_io_error() {
        let e: std::io::Error = Errno::ENOENT.into();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    }
}
