//! (being written)
use crate::fd::{AsFd, OwnedFd};
use crate::sys::{self, Sysno};
bitflags::bitflags! {
    /// Flags for [`pipe2`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct PipeFlags: u32 {
        /// `O_CLOEXEC`
        const CLOEXEC = 0o2000000;
        /// `O_NONBLOCK`
        const NONBLOCK = 0o4000;
    }
}
/// read(2)
pub fn read(fd: impl AsFd, buf: &mut [u8]) -> crate::Result<usize> {
    // SAFETY: buf is valid for writes of buf.len() bytes.
    unsafe { sys::syscall3(Sysno::read, fd.as_fd().as_raw() as usize, buf.as_mut_ptr() as usize, buf.len()) }
}
/// write(2)
pub fn write(fd: impl AsFd, buf: &[u8]) -> crate::Result<usize> {
    // SAFETY: buf is valid for reads of buf.len() bytes.
    unsafe { sys::syscall3(Sysno::write, fd.as_fd().as_raw() as usize, buf.as_ptr() as usize, buf.len()) }
}
/// pipe2(2)
pub fn pipe2(flags: PipeFlags) -> crate::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0i32; 2];
    // SAFETY: fds has room for two ints.
    unsafe { sys::syscall2(Sysno::pipe2, fds.as_mut_ptr() as usize, flags.bits() as usize) }?;
    Ok((sys::ret_fd(fds[0] as usize), sys::ret_fd(fds[1] as usize)))
}
/// fcntl(F_GETFD)
pub fn fcntl_getfd(fd: impl AsFd) -> crate::Result<u32> {
    // SAFETY: F_GETFD takes no pointer.
    unsafe { sys::syscall2(Sysno::fcntl, fd.as_fd().as_raw() as usize, 1) }.map(|v| v as u32)
}
