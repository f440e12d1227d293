//! Files, pipes and descriptors: read/write, vectored and positioned I/O, `openat` and the other
//! `*at` path calls, `fcntl`, `stat`/`statx`, directory reading, `sendfile`.
//!
//! Paths are `&CStr` and resolved relative to a directory descriptor; [`CWD`] stands for the
//! current working directory (`AT_FDCWD`).
//!
//! ```
//! use rawsys::io::{self, Mode, OFlags, CWD};
//!
//! let fd = io::openat(CWD, c"/proc/self/stat", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
//! let mut buf = [0u8; 64];
//! let n = io::read(&fd, &mut buf)?;
//! assert!(n > 0);
//! # Ok::<(), rawsys::Errno>(())
//! ```

use core::ffi::CStr;
use core::marker::PhantomData;

use static_assertions::{assert_eq_size, const_assert_eq};

use crate::Result;
use crate::fd::{AsFd, BorrowedFd, OwnedFd};
use crate::sys::{self, Sysno};

/// The current working directory as a directory descriptor (`AT_FDCWD`) for the `*at` calls.
// SAFETY: AT_FDCWD is never a real descriptor; the kernel interprets it specially and it can
// never be closed, so a 'static borrow is sound.
pub const CWD: BorrowedFd<'static> = unsafe { BorrowedFd::borrow_raw(-100) };

#[inline(always)]
fn raw(fd: impl AsFd) -> usize {
    fd.as_fd().as_raw() as usize
}

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

#[cfg(target_arch = "x86_64")]
const O_DIRECTORY: u32 = 0o200000;
#[cfg(target_arch = "x86_64")]
const O_NOFOLLOW: u32 = 0o400000;
#[cfg(target_arch = "x86_64")]
const O_DIRECT: u32 = 0o40000;
#[cfg(target_arch = "aarch64")]
const O_DIRECTORY: u32 = 0o40000;
#[cfg(target_arch = "aarch64")]
const O_NOFOLLOW: u32 = 0o100000;
#[cfg(target_arch = "aarch64")]
const O_DIRECT: u32 = 0o200000;

bitflags::bitflags! {
    /// Open flags for [`openat`] and file status flags for [`fcntl_getfl`]/[`fcntl_setfl`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct OFlags: u32 {
        /// `O_RDONLY` (zero: the absence of write access).
        const RDONLY = 0;
        /// `O_WRONLY`
        const WRONLY = 0o1;
        /// `O_RDWR`
        const RDWR = 0o2;
        /// `O_CREAT`
        const CREAT = 0o100;
        /// `O_EXCL`
        const EXCL = 0o200;
        /// `O_NOCTTY`
        const NOCTTY = 0o400;
        /// `O_TRUNC`
        const TRUNC = 0o1000;
        /// `O_APPEND`
        const APPEND = 0o2000;
        /// `O_NONBLOCK`
        const NONBLOCK = 0o4000;
        /// `O_DIRECTORY`
        const DIRECTORY = O_DIRECTORY;
        /// `O_NOFOLLOW`
        const NOFOLLOW = O_NOFOLLOW;
        /// `O_DIRECT`
        const DIRECT = O_DIRECT;
        /// `O_NOATIME`
        const NOATIME = 0o1000000;
        /// `O_CLOEXEC`
        const CLOEXEC = 0o2000000;
        /// `O_PATH`
        const PATH = 0o10000000;
        /// `O_TMPFILE` (includes `O_DIRECTORY`, as the kernel defines it).
        const TMPFILE = 0o20000000 | O_DIRECTORY;
    }
}

bitflags::bitflags! {
    /// File mode bits (permissions and file type) for [`openat`], [`mkdirat`], [`mknodat`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Mode: u32 {
        /// `S_IFIFO`
        const IFIFO = 0o010000;
        /// `S_IFCHR`
        const IFCHR = 0o020000;
        /// `S_IFDIR`
        const IFDIR = 0o040000;
        /// `S_IFBLK`
        const IFBLK = 0o060000;
        /// `S_IFREG`
        const IFREG = 0o100000;
        /// `S_IFLNK`
        const IFLNK = 0o120000;
        /// `S_IFSOCK`
        const IFSOCK = 0o140000;
        /// `S_ISUID`
        const SUID = 0o4000;
        /// `S_ISGID`
        const SGID = 0o2000;
        /// `S_ISVTX`
        const SVTX = 0o1000;
        /// `S_IRWXU`
        const RWXU = 0o700;
        /// `S_IRUSR`
        const RUSR = 0o400;
        /// `S_IWUSR`
        const WUSR = 0o200;
        /// `S_IXUSR`
        const XUSR = 0o100;
        /// `S_IRWXG`
        const RWXG = 0o070;
        /// `S_IRGRP`
        const RGRP = 0o040;
        /// `S_IWGRP`
        const WGRP = 0o020;
        /// `S_IXGRP`
        const XGRP = 0o010;
        /// `S_IRWXO`
        const RWXO = 0o007;
        /// `S_IROTH`
        const ROTH = 0o004;
        /// `S_IWOTH`
        const WOTH = 0o002;
        /// `S_IXOTH`
        const XOTH = 0o001;
    }
}

/// The `S_IFMT` mask selecting the file type from a mode.
pub const S_IFMT: u32 = 0o170000;

bitflags::bitflags! {
    /// `AT_*` flags for the `*at` calls.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct AtFlags: u32 {
        /// `AT_SYMLINK_NOFOLLOW`
        const SYMLINK_NOFOLLOW = 0x100;
        /// `AT_REMOVEDIR` (for [`unlinkat`]).
        const REMOVEDIR = 0x200;
        /// `AT_SYMLINK_FOLLOW`
        const SYMLINK_FOLLOW = 0x400;
        /// `AT_NO_AUTOMOUNT`
        const NO_AUTOMOUNT = 0x800;
        /// `AT_EMPTY_PATH`
        const EMPTY_PATH = 0x1000;
        /// `AT_STATX_FORCE_SYNC`
        const STATX_FORCE_SYNC = 0x2000;
        /// `AT_STATX_DONT_SYNC`
        const STATX_DONT_SYNC = 0x4000;
    }
}

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

/// `read(2)`: reads up to `buf.len()` bytes; `Ok(0)` is end of file.
pub fn read(fd: impl AsFd, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: buf is valid for writes of buf.len() bytes for the duration of the call.
    unsafe { sys::syscall3(Sysno::read, raw(fd), buf.as_mut_ptr() as usize, buf.len()) }
}

/// `write(2)`: writes up to `buf.len()` bytes; a short count is returned as it is.
pub fn write(fd: impl AsFd, buf: &[u8]) -> Result<usize> {
    // SAFETY: buf is valid for reads of buf.len() bytes.
    unsafe { sys::syscall3(Sysno::write, raw(fd), buf.as_ptr() as usize, buf.len()) }
}

/// `pread64(2)`: reads at `offset` without moving the file position.
pub fn pread(fd: impl AsFd, buf: &mut [u8], offset: u64) -> Result<usize> {
    // SAFETY: buf is valid for writes of buf.len() bytes.
    unsafe {
        sys::syscall4(
            Sysno::pread64,
            raw(fd),
            buf.as_mut_ptr() as usize,
            buf.len(),
            offset as usize,
        )
    }
}

/// `pwrite64(2)`: writes at `offset` without moving the file position.
pub fn pwrite(fd: impl AsFd, buf: &[u8], offset: u64) -> Result<usize> {
    // SAFETY: buf is valid for reads of buf.len() bytes.
    unsafe {
        sys::syscall4(
            Sysno::pwrite64,
            raw(fd),
            buf.as_ptr() as usize,
            buf.len(),
            offset as usize,
        )
    }
}

/// One buffer of a vectored write: the kernel's `struct iovec`, borrowing a byte slice.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct IoSlice<'a> {
    base: *const u8,
    len: usize,
    _buf: PhantomData<&'a [u8]>,
}

/// One buffer of a vectored read: the kernel's `struct iovec`, borrowing a mutable byte slice.
#[derive(Debug)]
#[repr(C)]
pub struct IoSliceMut<'a> {
    base: *mut u8,
    len: usize,
    _buf: PhantomData<&'a mut [u8]>,
}

assert_eq_size!(IoSlice<'static>, [usize; 2]);
assert_eq_size!(IoSliceMut<'static>, [usize; 2]);
const_assert_eq!(core::mem::offset_of!(IoSlice<'static>, base), 0);
const_assert_eq!(
    core::mem::offset_of!(IoSlice<'static>, len),
    core::mem::size_of::<usize>()
);
const_assert_eq!(core::mem::offset_of!(IoSliceMut<'static>, base), 0);
const_assert_eq!(
    core::mem::offset_of!(IoSliceMut<'static>, len),
    core::mem::size_of::<usize>()
);

impl<'a> IoSlice<'a> {
    /// Wraps a slice.
    pub const fn new(buf: &'a [u8]) -> Self {
        IoSlice {
            base: buf.as_ptr(),
            len: buf.len(),
            _buf: PhantomData,
        }
    }
    /// The number of bytes.
    pub const fn len(&self) -> usize {
        self.len
    }
    /// Whether the buffer is empty.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<'a> IoSliceMut<'a> {
    /// Wraps a mutable slice.
    pub fn new(buf: &'a mut [u8]) -> Self {
        IoSliceMut {
            base: buf.as_mut_ptr(),
            len: buf.len(),
            _buf: PhantomData,
        }
    }
    /// The number of bytes.
    pub const fn len(&self) -> usize {
        self.len
    }
    /// Whether the buffer is empty.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// `readv(2)`: scatters one read over several buffers.
pub fn readv(fd: impl AsFd, bufs: &mut [IoSliceMut<'_>]) -> Result<usize> {
    // SAFETY: IoSliceMut has the layout of struct iovec and each borrows a live mutable buffer.
    unsafe {
        sys::syscall3(
            Sysno::readv,
            raw(fd),
            bufs.as_mut_ptr() as usize,
            bufs.len(),
        )
    }
}

/// `writev(2)`: gathers one write from several buffers.
pub fn writev(fd: impl AsFd, bufs: &[IoSlice<'_>]) -> Result<usize> {
    // SAFETY: IoSlice has the layout of struct iovec and each borrows a live buffer.
    unsafe { sys::syscall3(Sysno::writev, raw(fd), bufs.as_ptr() as usize, bufs.len()) }
}

/// `pipe2(2)`: returns the (read end, write end).
pub fn pipe2(flags: PipeFlags) -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0i32; 2];
    // SAFETY: fds has room for the two ints the kernel writes.
    unsafe {
        sys::syscall2(
            Sysno::pipe2,
            fds.as_mut_ptr() as usize,
            flags.bits() as usize,
        )
    }?;
    Ok((sys::ret_fd(fds[0] as usize), sys::ret_fd(fds[1] as usize)))
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
            raw(oldfd),
            newfd as usize,
            flags.bits() as usize,
        )
    }?;
    Ok(sys::ret_fd(r))
}

/// `fcntl(F_DUPFD_CLOEXEC)`: a new close-on-exec descriptor numbered at least `min`.
pub fn fcntl_dupfd_cloexec(fd: impl AsFd, min: i32) -> Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC (1030) takes an integer argument.
    let r = unsafe { sys::syscall3(Sysno::fcntl, raw(fd), 1030, min as usize) }?;
    Ok(sys::ret_fd(r))
}

/// `fcntl(F_GETFD)`: the descriptor flags.
pub fn fcntl_getfd(fd: impl AsFd) -> Result<FdFlags> {
    // SAFETY: F_GETFD (1) takes no argument.
    let r = unsafe { sys::syscall2(Sysno::fcntl, raw(fd), 1) }?;
    Ok(FdFlags::from_bits_retain(r as u32))
}

/// `fcntl(F_SETFD)`: sets the descriptor flags (close-on-exec).
pub fn fcntl_setfd(fd: impl AsFd, flags: FdFlags) -> Result<()> {
    // SAFETY: F_SETFD (2) takes an integer argument.
    unsafe { sys::syscall3(Sysno::fcntl, raw(fd), 2, flags.bits() as usize) }.map(drop)
}

/// `fcntl(F_GETFL)`: the file status flags and access mode.
pub fn fcntl_getfl(fd: impl AsFd) -> Result<OFlags> {
    // SAFETY: F_GETFL (3) takes no argument.
    let r = unsafe { sys::syscall2(Sysno::fcntl, raw(fd), 3) }?;
    Ok(OFlags::from_bits_retain(r as u32))
}

/// `fcntl(F_SETFL)`: sets the file status flags (`O_NONBLOCK`, `O_APPEND`, ...).
pub fn fcntl_setfl(fd: impl AsFd, flags: OFlags) -> Result<()> {
    // SAFETY: F_SETFL (4) takes an integer argument.
    unsafe { sys::syscall3(Sysno::fcntl, raw(fd), 4, flags.bits() as usize) }.map(drop)
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

/// `openat(2)`.
pub fn openat(dirfd: impl AsFd, path: &CStr, flags: OFlags, mode: Mode) -> Result<OwnedFd> {
    // SAFETY: path is NUL-terminated and outlives the call.
    let r = unsafe {
        sys::syscall4(
            Sysno::openat,
            raw(dirfd),
            path.as_ptr() as usize,
            flags.bits() as usize,
            mode.bits() as usize,
        )
    }?;
    Ok(sys::ret_fd(r))
}

/// `mkdirat(2)`.
pub fn mkdirat(dirfd: impl AsFd, path: &CStr, mode: Mode) -> Result<()> {
    // SAFETY: path is NUL-terminated and outlives the call.
    unsafe {
        sys::syscall3(
            Sysno::mkdirat,
            raw(dirfd),
            path.as_ptr() as usize,
            mode.bits() as usize,
        )
    }
    .map(drop)
}

/// `mknodat(2)`: creates a device node, FIFO or socket file; `dev` from [`makedev`].
pub fn mknodat(dirfd: impl AsFd, path: &CStr, mode: Mode, dev: u64) -> Result<()> {
    // SAFETY: path is NUL-terminated and outlives the call.
    unsafe {
        sys::syscall4(
            Sysno::mknodat,
            raw(dirfd),
            path.as_ptr() as usize,
            mode.bits() as usize,
            dev as usize,
        )
    }
    .map(drop)
}

/// Encodes a device number the way glibc's `makedev` does.
pub const fn makedev(major: u32, minor: u32) -> u64 {
    let (ma, mi) = (major as u64, minor as u64);
    ((ma & 0xffff_f000) << 32) | ((ma & 0xfff) << 8) | ((mi & 0xffff_ff00) << 12) | (mi & 0xff)
}

/// `unlinkat(2)`: removes a file, or an empty directory with [`AtFlags::REMOVEDIR`].
pub fn unlinkat(dirfd: impl AsFd, path: &CStr, flags: AtFlags) -> Result<()> {
    // SAFETY: path is NUL-terminated and outlives the call.
    unsafe {
        sys::syscall3(
            Sysno::unlinkat,
            raw(dirfd),
            path.as_ptr() as usize,
            flags.bits() as usize,
        )
    }
    .map(drop)
}

/// `symlinkat(2)`: creates `linkpath` pointing at `target`.
pub fn symlinkat(target: &CStr, dirfd: impl AsFd, linkpath: &CStr) -> Result<()> {
    // SAFETY: both paths are NUL-terminated and outlive the call.
    unsafe {
        sys::syscall3(
            Sysno::symlinkat,
            target.as_ptr() as usize,
            raw(dirfd),
            linkpath.as_ptr() as usize,
        )
    }
    .map(drop)
}

/// `readlinkat(2)`: the link's target into `buf` (not NUL-terminated); returns its length.
///
/// A result equal to `buf.len()` may mean the target was truncated.
pub fn readlinkat(dirfd: impl AsFd, path: &CStr, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: path is NUL-terminated; buf is valid for buf.len() bytes of writes.
    unsafe {
        sys::syscall4(
            Sysno::readlinkat,
            raw(dirfd),
            path.as_ptr() as usize,
            buf.as_mut_ptr() as usize,
            buf.len(),
        )
    }
}

/// `renameat2(2)`-free rename: `renameat(2)` semantics via `renameat2` with no flags.
pub fn renameat(olddir: impl AsFd, old: &CStr, newdir: impl AsFd, new: &CStr) -> Result<()> {
    // SAFETY: both paths are NUL-terminated and outlive the call.
    unsafe {
        sys::syscall5(
            Sysno::renameat2,
            raw(olddir),
            old.as_ptr() as usize,
            raw(newdir),
            new.as_ptr() as usize,
            0,
        )
    }
    .map(drop)
}

/// `ftruncate(2)`.
pub fn ftruncate(fd: impl AsFd, len: u64) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { sys::syscall2(Sysno::ftruncate, raw(fd), len as usize) }.map(drop)
}

/// `fchmod(2)`.
pub fn fchmod(fd: impl AsFd, mode: Mode) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { sys::syscall2(Sysno::fchmod, raw(fd), mode.bits() as usize) }.map(drop)
}

/// `fchown(2)`; `u32::MAX` leaves an id unchanged.
pub fn fchown(fd: impl AsFd, uid: u32, gid: u32) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { sys::syscall3(Sysno::fchown, raw(fd), uid as usize, gid as usize) }.map(drop)
}

/// Where [`lseek`] counts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whence {
    /// `SEEK_SET`
    Start,
    /// `SEEK_CUR`
    Current,
    /// `SEEK_END`
    End,
    /// `SEEK_DATA`: the next region holding data at or after the offset.
    Data,
    /// `SEEK_HOLE`: the next hole at or after the offset.
    Hole,
}

/// `lseek(2)`: returns the new offset.
pub fn lseek(fd: impl AsFd, offset: i64, whence: Whence) -> Result<u64> {
    let w = match whence {
        Whence::Start => 0,
        Whence::Current => 1,
        Whence::End => 2,
        Whence::Data => 3,
        Whence::Hole => 4,
    };
    // SAFETY: no pointers.
    unsafe { sys::syscall3(Sysno::lseek, raw(fd), offset as usize, w) }.map(|v| v as u64)
}

/// `sendfile(2)`: copies up to `count` bytes from `in_fd` to `out_fd` inside the kernel.
///
/// With `offset`, reads from there and advances it, leaving `in_fd`'s position alone.
pub fn sendfile(
    out_fd: impl AsFd,
    in_fd: impl AsFd,
    offset: Option<&mut u64>,
    count: usize,
) -> Result<usize> {
    let off = offset.map_or(core::ptr::null_mut(), |o| o as *mut u64);
    // SAFETY: off is null or points to a live u64 (loff_t) for the call.
    unsafe {
        sys::syscall4(
            Sysno::sendfile,
            raw(out_fd),
            raw(in_fd),
            off as usize,
            count,
        )
    }
}

/// The kernel's `struct stat` for this architecture.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
#[cfg(target_arch = "x86_64")]
#[allow(missing_docs)]
pub struct Stat {
    pub st_dev: u64,
    pub st_ino: u64,
    pub st_nlink: u64,
    pub st_mode: u32,
    pub st_uid: u32,
    pub st_gid: u32,
    __pad0: i32,
    pub st_rdev: u64,
    pub st_size: i64,
    pub st_blksize: i64,
    pub st_blocks: i64,
    pub st_atime: i64,
    pub st_atime_nsec: i64,
    pub st_mtime: i64,
    pub st_mtime_nsec: i64,
    pub st_ctime: i64,
    pub st_ctime_nsec: i64,
    __unused: [i64; 3],
}

#[cfg(target_arch = "x86_64")]
mod stat_layout {
    use super::Stat;
    use core::mem::offset_of;
    static_assertions::assert_eq_size!(Stat, [u8; 144]);
    static_assertions::const_assert_eq!(offset_of!(Stat, st_nlink), 16);
    static_assertions::const_assert_eq!(offset_of!(Stat, st_mode), 24);
    static_assertions::const_assert_eq!(offset_of!(Stat, st_uid), 28);
    static_assertions::const_assert_eq!(offset_of!(Stat, st_rdev), 40);
    static_assertions::const_assert_eq!(offset_of!(Stat, st_size), 48);
    static_assertions::const_assert_eq!(offset_of!(Stat, st_blocks), 64);
    static_assertions::const_assert_eq!(offset_of!(Stat, st_mtime), 88);
    static_assertions::const_assert_eq!(offset_of!(Stat, st_ctime_nsec), 112);
}

/// The kernel's `struct stat` for this architecture (asm-generic layout).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
#[cfg(target_arch = "aarch64")]
#[allow(missing_docs)]
pub struct Stat {
    pub st_dev: u64,
    pub st_ino: u64,
    pub st_mode: u32,
    pub st_nlink: u32,
    pub st_uid: u32,
    pub st_gid: u32,
    pub st_rdev: u64,
    __pad1: u64,
    pub st_size: i64,
    pub st_blksize: i32,
    __pad2: i32,
    pub st_blocks: i64,
    pub st_atime: i64,
    pub st_atime_nsec: i64,
    pub st_mtime: i64,
    pub st_mtime_nsec: i64,
    pub st_ctime: i64,
    pub st_ctime_nsec: i64,
    __unused: [u32; 2],
}

#[cfg(target_arch = "aarch64")]
mod stat_layout {
    use super::Stat;
    use core::mem::offset_of;
    static_assertions::assert_eq_size!(Stat, [u8; 128]);
    static_assertions::const_assert_eq!(offset_of!(Stat, st_mode), 16);
    static_assertions::const_assert_eq!(offset_of!(Stat, st_rdev), 32);
    static_assertions::const_assert_eq!(offset_of!(Stat, st_size), 48);
    static_assertions::const_assert_eq!(offset_of!(Stat, st_blocks), 64);
    static_assertions::const_assert_eq!(offset_of!(Stat, st_mtime), 88);
}

impl Stat {
    /// The file type bits (`st_mode & S_IFMT`).
    pub const fn file_type(&self) -> u32 {
        self.st_mode & S_IFMT
    }
    /// Whether this is a directory.
    pub const fn is_dir(&self) -> bool {
        self.file_type() == Mode::IFDIR.bits()
    }
    /// Whether this is a regular file.
    pub const fn is_file(&self) -> bool {
        self.file_type() == Mode::IFREG.bits()
    }
    /// Whether this is a symbolic link (only seen with [`AtFlags::SYMLINK_NOFOLLOW`]).
    pub const fn is_symlink(&self) -> bool {
        self.file_type() == Mode::IFLNK.bits()
    }
}

/// `fstat(2)`.
pub fn fstat(fd: impl AsFd) -> Result<Stat> {
    let mut st = Stat::default();
    // SAFETY: st is a properly sized, writable struct stat.
    unsafe { sys::syscall2(Sysno::fstat, raw(fd), &mut st as *mut Stat as usize) }?;
    Ok(st)
}

/// The `fstatat` syscall number: `newfstatat` on x86_64, `fstatat` on the asm-generic arches.
#[cfg(target_arch = "x86_64")]
const FSTATAT: Sysno = Sysno::newfstatat;
#[cfg(not(target_arch = "x86_64"))]
const FSTATAT: Sysno = Sysno::fstatat;

/// `newfstatat(2)` (`fstatat`): stat of a path relative to `dirfd`.
pub fn statat(dirfd: impl AsFd, path: &CStr, flags: AtFlags) -> Result<Stat> {
    let mut st = Stat::default();
    // SAFETY: path is NUL-terminated; st is a properly sized, writable struct stat.
    unsafe {
        sys::syscall4(
            FSTATAT,
            raw(dirfd),
            path.as_ptr() as usize,
            &mut st as *mut Stat as usize,
            flags.bits() as usize,
        )
    }?;
    Ok(st)
}

/// A `statx` timestamp.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct StatxTimestamp {
    /// Seconds since the epoch.
    pub tv_sec: i64,
    /// Nanoseconds.
    pub tv_nsec: u32,
    __reserved: i32,
}

/// The kernel's `struct statx` (same on every architecture).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
#[allow(missing_docs)]
pub struct Statx {
    pub stx_mask: u32,
    pub stx_blksize: u32,
    pub stx_attributes: u64,
    pub stx_nlink: u32,
    pub stx_uid: u32,
    pub stx_gid: u32,
    pub stx_mode: u16,
    __spare0: u16,
    pub stx_ino: u64,
    pub stx_size: u64,
    pub stx_blocks: u64,
    pub stx_attributes_mask: u64,
    pub stx_atime: StatxTimestamp,
    pub stx_btime: StatxTimestamp,
    pub stx_ctime: StatxTimestamp,
    pub stx_mtime: StatxTimestamp,
    pub stx_rdev_major: u32,
    pub stx_rdev_minor: u32,
    pub stx_dev_major: u32,
    pub stx_dev_minor: u32,
    pub stx_mnt_id: u64,
    pub stx_dio_mem_align: u32,
    pub stx_dio_offset_align: u32,
    __spare3: [u64; 12],
}

assert_eq_size!(StatxTimestamp, [u8; 16]);
assert_eq_size!(Statx, [u8; 256]);
const_assert_eq!(core::mem::offset_of!(Statx, stx_mode), 28);
const_assert_eq!(core::mem::offset_of!(Statx, stx_ino), 32);
const_assert_eq!(core::mem::offset_of!(Statx, stx_size), 40);
const_assert_eq!(core::mem::offset_of!(Statx, stx_atime), 64);
const_assert_eq!(core::mem::offset_of!(Statx, stx_mtime), 112);
const_assert_eq!(core::mem::offset_of!(Statx, stx_rdev_major), 128);
const_assert_eq!(core::mem::offset_of!(Statx, stx_mnt_id), 144);

bitflags::bitflags! {
    /// Which fields [`statx`] should fill (`STATX_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct StatxMask: u32 {
        /// `STATX_TYPE`
        const TYPE = 0x1;
        /// `STATX_MODE`
        const MODE = 0x2;
        /// `STATX_NLINK`
        const NLINK = 0x4;
        /// `STATX_UID`
        const UID = 0x8;
        /// `STATX_GID`
        const GID = 0x10;
        /// `STATX_ATIME`
        const ATIME = 0x20;
        /// `STATX_MTIME`
        const MTIME = 0x40;
        /// `STATX_CTIME`
        const CTIME = 0x80;
        /// `STATX_INO`
        const INO = 0x100;
        /// `STATX_SIZE`
        const SIZE = 0x200;
        /// `STATX_BLOCKS`
        const BLOCKS = 0x400;
        /// `STATX_BASIC_STATS`
        const BASIC_STATS = 0x7ff;
        /// `STATX_BTIME`
        const BTIME = 0x800;
        /// `STATX_MNT_ID`
        const MNT_ID = 0x1000;
    }
}

/// `statx(2)`: extended stat; use `AtFlags::EMPTY_PATH` with `c""` to stat `dirfd` itself.
pub fn statx(dirfd: impl AsFd, path: &CStr, flags: AtFlags, mask: StatxMask) -> Result<Statx> {
    let mut st = Statx::default();
    // SAFETY: path is NUL-terminated; st is a writable struct statx.
    unsafe {
        sys::syscall5(
            Sysno::statx,
            raw(dirfd),
            path.as_ptr() as usize,
            flags.bits() as usize,
            mask.bits() as usize,
            &mut st as *mut Statx as usize,
        )
    }?;
    Ok(st)
}

/// `getdents64(2)`: fills `buf` with directory entries; `Ok(0)` at the end of the directory.
///
/// Walk the filled part with [`DirEntries`].
pub fn getdents64(dirfd: impl AsFd, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: buf is valid for buf.len() bytes of writes.
    unsafe {
        sys::syscall3(
            Sysno::getdents64,
            raw(dirfd),
            buf.as_mut_ptr() as usize,
            buf.len(),
        )
    }
}

/// The type of a directory entry (`d_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `DT_UNKNOWN`: the filesystem does not say; `stat` it.
    Unknown,
    /// `DT_FIFO`
    Fifo,
    /// `DT_CHR`
    CharDevice,
    /// `DT_DIR`
    Directory,
    /// `DT_BLK`
    BlockDevice,
    /// `DT_REG`
    File,
    /// `DT_LNK`
    Symlink,
    /// `DT_SOCK`
    Socket,
}

/// One entry of a `getdents64` buffer.
#[derive(Clone, Copy, Debug)]
pub struct DirEntry<'a> {
    /// Inode number.
    pub ino: u64,
    /// Entry type.
    pub kind: FileKind,
    /// The name, without any directory part.
    pub name: &'a CStr,
}

/// Iterates over the entries [`getdents64`] wrote into a buffer, checking every length.
///
/// A malformed record ends the iteration instead of reading out of bounds.
pub struct DirEntries<'a> {
    buf: &'a [u8],
}

impl<'a> DirEntries<'a> {
    /// Walks `buf`, the filled part of a `getdents64` buffer.
    pub fn new(buf: &'a [u8]) -> Self {
        DirEntries { buf }
    }
}

/// Offset of `d_name` in `struct linux_dirent64` (u64 ino, i64 off, u16 reclen, u8 type).
const DIRENT_NAME_OFFSET: usize = 19;

impl<'a> Iterator for DirEntries<'a> {
    type Item = DirEntry<'a>;

    fn next(&mut self) -> Option<DirEntry<'a>> {
        let b = self.buf;
        if b.len() < DIRENT_NAME_OFFSET {
            return None;
        }
        let reclen = u16::from_ne_bytes([b[16], b[17]]) as usize;
        if reclen <= DIRENT_NAME_OFFSET || reclen > b.len() {
            self.buf = &[];
            return None;
        }
        let mut ino = [0u8; 8];
        ino.copy_from_slice(&b[..8]);
        let kind = match b[18] {
            1 => FileKind::Fifo,
            2 => FileKind::CharDevice,
            4 => FileKind::Directory,
            6 => FileKind::BlockDevice,
            8 => FileKind::File,
            10 => FileKind::Symlink,
            12 => FileKind::Socket,
            _ => FileKind::Unknown,
        };
        let name = match CStr::from_bytes_until_nul(&b[DIRENT_NAME_OFFSET..reclen]) {
            Ok(n) => n,
            Err(_) => {
                self.buf = &[];
                return None;
            }
        };
        self.buf = &b[reclen..];
        Some(DirEntry {
            ino: u64::from_ne_bytes(ino),
            kind,
            name,
        })
    }
}

bitflags::bitflags! {
    /// `RESOLVE_*` flags of [`OpenHow`]: how [`openat2`] may walk the path.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct ResolveFlags: u64 {
        /// `RESOLVE_NO_XDEV`: never cross a mount point.
        const NO_XDEV = 0x01;
        /// `RESOLVE_NO_MAGICLINKS`: refuse `/proc/*/fd/*`-style magic links (`ELOOP`).
        const NO_MAGICLINKS = 0x02;
        /// `RESOLVE_NO_SYMLINKS`: refuse every symlink (`ELOOP`).
        const NO_SYMLINKS = 0x04;
        /// `RESOLVE_BENEATH`: refuse to leave the directory (`EXDEV`).
        const BENEATH = 0x08;
        /// `RESOLVE_IN_ROOT`: treat the directory as `/` (absolute symlinks and `..` stay in it).
        const IN_ROOT = 0x10;
        /// `RESOLVE_CACHED`: only succeed from the dentry cache (`EAGAIN` otherwise).
        const CACHED = 0x20;
    }
}

/// The kernel's `struct open_how` for [`openat2`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct OpenHow {
    /// `O_*` flags (as [`OFlags`] bits).
    pub flags: u64,
    /// Creation mode (only with `O_CREAT`/`O_TMPFILE`, else it must be 0).
    pub mode: u64,
    /// [`ResolveFlags`] bits.
    pub resolve: u64,
}

assert_eq_size!(OpenHow, [u64; 3]);
const_assert_eq!(core::mem::offset_of!(OpenHow, flags), 0);
const_assert_eq!(core::mem::offset_of!(OpenHow, mode), 8);
const_assert_eq!(core::mem::offset_of!(OpenHow, resolve), 16);

/// `openat2(2)`: `openat` with control over path resolution, e.g. [`ResolveFlags::IN_ROOT`] to
/// resolve a path inside a container's root directory without ever leaving it.
///
/// Unlike `openat`, unknown flag bits and a mode without `O_CREAT` are errors (`EINVAL`).
///
/// ```
/// use rawsys::io::{self, OFlags, Mode, ResolveFlags, CWD};
///
/// let root = io::openat(CWD, c"/", OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
/// // Magic links are refused when asked.
/// let r = io::openat2(&root, c"proc/self/exe", OFlags::PATH | OFlags::CLOEXEC, Mode::empty(),
///                     ResolveFlags::NO_MAGICLINKS);
/// assert_eq!(r.unwrap_err(), rawsys::Errno::ELOOP);
/// # Ok::<(), rawsys::Errno>(())
/// ```
pub fn openat2(
    dirfd: impl AsFd,
    path: &CStr,
    flags: OFlags,
    mode: Mode,
    resolve: ResolveFlags,
) -> Result<OwnedFd> {
    let how = OpenHow {
        flags: flags.bits() as u64,
        mode: mode.bits() as u64,
        resolve: resolve.bits(),
    };
    // SAFETY: path is NUL-terminated and `how` is live for the call; the size passed is its
    // real size.
    let r = unsafe {
        sys::syscall4(
            Sysno::openat2,
            raw(dirfd),
            path.as_ptr() as usize,
            &how as *const OpenHow as usize,
            core::mem::size_of::<OpenHow>(),
        )
    }?;
    Ok(sys::ret_fd(r))
}

bitflags::bitflags! {
    /// Operations for [`flock`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct FlockOp: u32 {
        /// `LOCK_SH`: a shared lock.
        const SHARED = 1;
        /// `LOCK_EX`: an exclusive lock.
        const EXCLUSIVE = 2;
        /// `LOCK_NB`: fail with `EWOULDBLOCK` instead of waiting.
        const NONBLOCK = 4;
        /// `LOCK_UN`: release the lock.
        const UNLOCK = 8;
    }
}

/// `flock(2)`: an advisory lock on the whole file, held by the open file description (so two
/// `openat`s of one file in one process exclude each other) and released when its last
/// descriptor closes.
pub fn flock(fd: impl AsFd, op: FlockOp) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { sys::syscall2(Sysno::flock, raw(fd), op.bits() as usize) }.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use std::ffi::CString;
    use std::string::String;
    use std::vec::Vec;

    /// A fresh directory under /tmp, removed (with its contents) on drop.
    struct TempDir(std::path::PathBuf);
    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let p = std::env::temp_dir().join(std::format!(
                "lp-test-io-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir(&p).unwrap();
            TempDir(p)
        }
        fn c(&self) -> CString {
            CString::new(self.0.as_os_str().as_encoded_bytes()).unwrap()
        }
        fn open(&self) -> OwnedFd {
            openat(
                CWD,
                &self.c(),
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .unwrap()
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

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

    #[test]
    fn writing_to_a_closed_pipe_is_epipe_not_hidden() {
        // SIGPIPE is ignored by the Rust runtime, so the error surfaces as EPIPE.
        let (r, w) = pipe2(PipeFlags::CLOEXEC).unwrap();
        drop(r);
        assert_eq!(write(&w, b"x"), Err(Errno::EPIPE));
    }

    #[test]
    fn vectored_io_gathers_and_scatters() {
        let (r, w) = pipe2(PipeFlags::CLOEXEC).unwrap();
        let n = writev(
            &w,
            &[
                IoSlice::new(b"hello "),
                IoSlice::new(b""),
                IoSlice::new(b"world"),
            ],
        )
        .unwrap();
        assert_eq!(n, 11);
        let (mut a, mut b) = ([0u8; 3], [0u8; 16]);
        let n = readv(&r, &mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)]).unwrap();
        assert_eq!(n, 11);
        assert_eq!(&a, b"hel");
        assert_eq!(&b[..8], b"lo world");
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

    #[test]
    fn files_create_write_seek_stat_truncate_unlink() {
        let dir = TempDir::new("file");
        let d = dir.open();
        let f = openat(
            &d,
            c"data",
            OFlags::RDWR | OFlags::CREAT | OFlags::EXCL | OFlags::CLOEXEC,
            Mode::from_bits_retain(0o640),
        )
        .unwrap();
        assert_eq!(
            openat(
                &d,
                c"data",
                OFlags::RDWR | OFlags::CREAT | OFlags::EXCL,
                Mode::RUSR
            )
            .map(OwnedFd::into_raw),
            Err(Errno::EEXIST)
        );
        assert_eq!(write(&f, b"0123456789").unwrap(), 10);
        assert_eq!(lseek(&f, 0, Whence::Current).unwrap(), 10);
        assert_eq!(lseek(&f, 2, Whence::Start).unwrap(), 2);
        let mut b = [0u8; 3];
        assert_eq!(read(&f, &mut b).unwrap(), 3);
        assert_eq!(&b, b"234");
        assert_eq!(pread(&f, &mut b, 7).unwrap(), 3);
        assert_eq!(&b, b"789");
        assert_eq!(pwrite(&f, b"AB", 0).unwrap(), 2);
        assert_eq!(
            lseek(&f, 0, Whence::Current).unwrap(),
            5,
            "pread/pwrite keep the position"
        );
        assert_eq!(lseek(&f, 0, Whence::End).unwrap(), 10);
        assert_eq!(lseek(&f, 0, Whence::Data).unwrap(), 0);
        assert_eq!(lseek(&f, 0, Whence::Hole).unwrap(), 10);
        let st = fstat(&f).unwrap();
        assert!(st.is_file());
        assert_eq!(st.st_size, 10);
        assert_eq!(st.st_mode & 0o777 & !0o640, 0, "umask only removes bits");
        fchmod(&f, Mode::from_bits_retain(0o600)).unwrap();
        fchown(&f, u32::MAX, u32::MAX).unwrap();
        ftruncate(&f, 4).unwrap();
        let st2 = statat(&d, c"data", AtFlags::empty()).unwrap();
        assert_eq!(
            (st2.st_size, st2.st_mode & 0o777, st2.st_ino),
            (4, 0o600, st.st_ino)
        );
        let sx = statx(&f, c"", AtFlags::EMPTY_PATH, StatxMask::BASIC_STATS).unwrap();
        assert_eq!(
            (sx.stx_size, sx.stx_ino, sx.stx_mode as u32 & S_IFMT),
            (4, st.st_ino, Mode::IFREG.bits())
        );
        assert!(sx.stx_mtime.tv_sec > 1_600_000_000);
        std::assert_eq!(std::fs::read(dir.0.join("data")).unwrap(), b"AB23");
        renameat(&d, c"data", &d, c"moved").unwrap();
        unlinkat(&d, c"moved", AtFlags::empty()).unwrap();
        assert_eq!(unlinkat(&d, c"moved", AtFlags::empty()), Err(Errno::ENOENT));
    }

    #[test]
    fn directories_symlinks_nodes_and_getdents() {
        let dir = TempDir::new("dir");
        let d = dir.open();
        mkdirat(&d, c"sub", Mode::RWXU).unwrap();
        assert_eq!(mkdirat(&d, c"sub", Mode::RWXU), Err(Errno::EEXIST));
        symlinkat(c"sub/target", &d, c"link").unwrap();
        let mut buf = [0u8; 64];
        let n = readlinkat(&d, c"link", &mut buf).unwrap();
        assert_eq!(&buf[..n], b"sub/target");
        assert!(
            statat(&d, c"link", AtFlags::SYMLINK_NOFOLLOW)
                .unwrap()
                .is_symlink()
        );
        assert_eq!(
            statat(&d, c"link", AtFlags::empty()).map(|s| s.st_ino),
            Err(Errno::ENOENT)
        );
        mknodat(&d, c"fifo", Mode::IFIFO | Mode::RUSR | Mode::WUSR, 0).unwrap();
        mknodat(
            &d,
            c"null",
            Mode::IFCHR | Mode::RUSR | Mode::WUSR,
            makedev(1, 3),
        )
        .unwrap();
        let null = statat(&d, c"null", AtFlags::empty()).unwrap();
        assert_eq!(null.st_rdev, makedev(1, 3));
        assert_eq!(
            null.st_rdev,
            std::fs::metadata("/dev/null")
                .map(|m| std::os::unix::fs::MetadataExt::rdev(&m))
                .unwrap()
        );
        let nf = openat(&d, c"null", OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty()).unwrap();
        assert_eq!(write(&nf, b"discarded").unwrap(), 9);
        // O_NOFOLLOW refuses the final symlink.
        assert_eq!(
            openat(
                &d,
                c"link",
                OFlags::RDONLY | OFlags::NOFOLLOW,
                Mode::empty()
            )
            .map(OwnedFd::into_raw),
            Err(Errno::ELOOP)
        );

        let mut names = Vec::new();
        let mut kinds = Vec::new();
        let mut buf = [0u8; 256];
        loop {
            let n = getdents64(&d, &mut buf).unwrap();
            if n == 0 {
                break;
            }
            for e in DirEntries::new(&buf[..n]) {
                let name = String::from(e.name.to_str().unwrap());
                kinds.push((name.clone(), e.kind));
                names.push(name);
            }
        }
        names.sort();
        assert_eq!(names, [".", "..", "fifo", "link", "null", "sub"]);
        assert!(kinds.contains(&(String::from("sub"), FileKind::Directory)));
        assert!(kinds.contains(&(String::from("link"), FileKind::Symlink)));
        assert_eq!(unlinkat(&d, c"sub", AtFlags::empty()), Err(Errno::EISDIR));
        unlinkat(&d, c"sub", AtFlags::REMOVEDIR).unwrap();
    }

    #[test]
    fn dir_entries_never_read_past_a_malformed_buffer() {
        // reclen larger than the buffer, then a zero reclen: both must stop the walk.
        let mut b = [0u8; 32];
        b[16] = 200;
        assert_eq!(DirEntries::new(&b).count(), 0);
        b[16] = 0;
        assert_eq!(DirEntries::new(&b).count(), 0);
        // A name with no NUL inside its record.
        let mut c = [b'x'; 24];
        c[16] = 24;
        c[17] = 0;
        assert_eq!(DirEntries::new(&c).count(), 0);
        assert_eq!(DirEntries::new(&[]).count(), 0);
    }

    #[test]
    fn sendfile_copies_in_kernel_with_and_without_offset() {
        let dir = TempDir::new("sendfile");
        let d = dir.open();
        let f = openat(
            &d,
            c"src",
            OFlags::RDWR | OFlags::CREAT | OFlags::CLOEXEC,
            Mode::RUSR | Mode::WUSR,
        )
        .unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut off = 0;
        while off < data.len() {
            off += write(&f, &data[off..]).unwrap();
        }
        let (r, w) = pipe2(PipeFlags::CLOEXEC).unwrap();
        let mut pos = 10u64;
        assert_eq!(sendfile(&w, &f, Some(&mut pos), 1000).unwrap(), 1000);
        assert_eq!(pos, 1010);
        assert_eq!(
            lseek(&f, 0, Whence::Current).unwrap(),
            100_000,
            "offset form keeps the position"
        );
        let mut got = [0u8; 1000];
        let mut n = 0;
        while n < 1000 {
            n += read(&r, &mut got[n..]).unwrap();
        }
        assert_eq!(&got[..], &data[10..1010]);
        lseek(&f, 99_990, Whence::Start).unwrap();
        assert_eq!(
            sendfile(&w, &f, None, 1000).unwrap(),
            10,
            "short at end of file"
        );
        assert_eq!(lseek(&f, 0, Whence::Current).unwrap(), 100_000);
    }

    #[test]
    fn openat2_resolves_inside_a_root_and_refuses_escapes() {
        let dir = TempDir::new("openat2");
        let d = dir.open();
        mkdirat(&d, c"etc", Mode::from_bits_retain(0o755)).unwrap();
        let f = openat(
            &d,
            c"etc/marker",
            OFlags::WRONLY | OFlags::CREAT | OFlags::CLOEXEC,
            Mode::RUSR | Mode::WUSR,
        )
        .unwrap();
        drop(f);
        // An absolute symlink pointing at the host's /etc.
        symlinkat(c"/etc", &d, c"escape").unwrap();
        let pathfl = OFlags::PATH | OFlags::CLOEXEC;
        // IN_ROOT: "/etc" means <dir>/etc, so the marker is found through the link.
        let m = openat2(
            &d,
            c"escape/marker",
            pathfl,
            Mode::empty(),
            ResolveFlags::IN_ROOT,
        );
        assert!(m.is_ok(), "{m:?}");
        let m = openat2(
            &d,
            c"/../../etc/marker",
            pathfl,
            Mode::empty(),
            ResolveFlags::IN_ROOT,
        );
        assert!(m.is_ok(), "{m:?}");
        // The host's /etc/passwd is not reachable that way.
        assert_eq!(
            openat2(
                &d,
                c"escape/passwd",
                pathfl,
                Mode::empty(),
                ResolveFlags::IN_ROOT
            )
            .unwrap_err(),
            Errno::ENOENT
        );
        assert_eq!(
            openat2(
                &d,
                c"escape/marker",
                pathfl,
                Mode::empty(),
                ResolveFlags::BENEATH
            )
            .unwrap_err(),
            Errno::EXDEV
        );
        assert_eq!(
            openat2(
                &d,
                c"escape",
                pathfl,
                Mode::empty(),
                ResolveFlags::NO_SYMLINKS
            )
            .unwrap_err(),
            Errno::ELOOP
        );
        assert_eq!(
            openat2(
                CWD,
                c"/proc/self/cwd",
                pathfl,
                Mode::empty(),
                ResolveFlags::NO_MAGICLINKS
            )
            .unwrap_err(),
            Errno::ELOOP
        );
        // A mode without O_CREAT is refused, unlike openat.
        assert_eq!(
            openat2(&d, c"etc", pathfl, Mode::RUSR, ResolveFlags::empty()).unwrap_err(),
            Errno::EINVAL
        );
    }

    #[test]
    fn flock_excludes_other_open_file_descriptions_until_closed() {
        let dir = TempDir::new("flock");
        let d = dir.open();
        let open = || {
            openat(
                &d,
                c"lock",
                OFlags::RDWR | OFlags::CREAT | OFlags::CLOEXEC,
                Mode::RUSR | Mode::WUSR,
            )
            .unwrap()
        };
        let (a, b) = (open(), open());
        flock(&a, FlockOp::EXCLUSIVE).unwrap();
        assert_eq!(
            flock(&b, FlockOp::SHARED | FlockOp::NONBLOCK),
            Err(Errno::EWOULDBLOCK)
        );
        // Re-locking through the holder's own description converts, never conflicts.
        flock(&a, FlockOp::SHARED | FlockOp::NONBLOCK).unwrap();
        flock(&b, FlockOp::SHARED | FlockOp::NONBLOCK).unwrap();
        assert_eq!(
            flock(&a, FlockOp::EXCLUSIVE | FlockOp::NONBLOCK),
            Err(Errno::EWOULDBLOCK)
        );
        flock(&b, FlockOp::UNLOCK).unwrap();
        flock(&a, FlockOp::EXCLUSIVE | FlockOp::NONBLOCK).unwrap();
        drop(a);
        flock(&b, FlockOp::EXCLUSIVE | FlockOp::NONBLOCK).unwrap();
        assert_eq!(flock(&b, FlockOp::all()), Err(Errno::EINVAL));
    }
}
