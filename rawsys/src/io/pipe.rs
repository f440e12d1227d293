//! Pipes.

use crate::Result;
use crate::arch::O_DIRECT;
use crate::fd::OwnedFd;
use crate::sys::{self, Sysno};

bitflags::bitflags! {
    /// Flags for [`pipe2`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct PipeFlags: u32 {
        /// `O_CLOEXEC`
        const CLOEXEC = 0o2000000;
        /// `O_NONBLOCK`
        const NONBLOCK = 0o4000;
        /// `O_DIRECT`: packet mode.
        const DIRECT = O_DIRECT;
    }
}

/// `pipe2(2)`: returns the (read end, write end).
pub fn pipe2(flags: PipeFlags) -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0i32; 2];
    // SAFETY: fds has room for the two ints the kernel writes.
    unsafe { sys::syscall2(Sysno::pipe2, sys::by_mut(&mut fds), flags.bits() as usize) }?;
    Ok((sys::ret_fd(fds[0] as usize), sys::ret_fd(fds[1] as usize)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::fs::OFlags;
    use crate::io::*;

    #[test]
    fn pipe_read_write_and_nonblocking_eagain() {
        let (r, w) = pipe2(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(read(&r, &mut buf), Err(Errno::EAGAIN));
        assert_eq!(write(&w, b"abcdef").unwrap(), 6);
        // A short read is returned as it is.
        assert_eq!(read(&r, &mut buf).unwrap(), 4);
        assert_eq!(&buf, b"abcd");
        assert_eq!(read(&r, &mut buf).unwrap(), 2);
        assert!(fcntl_getfd(&r).unwrap().contains(FdFlags::CLOEXEC));
        assert!(fcntl_getfl(&r).unwrap().contains(OFlags::NONBLOCK));
        close(w).unwrap();
        assert_eq!(read(&r, &mut buf).unwrap(), 0);
    }
}
