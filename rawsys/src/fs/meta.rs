//! File metadata: `fstat`, `fstatat`, `statx`, and changing size, mode and owner.

use core::ffi::CStr;

use static_assertions::{assert_eq_size, const_assert_eq};

use super::{AtFlags, Mode};
use crate::Result;
use crate::arch::FSTATAT;
pub use crate::arch::Stat;
use crate::fd::AsFd;
use crate::sys::{self, Sysno};

/// The `S_IFMT` mask selecting the file type from a mode.
pub const S_IFMT: u32 = 0o170000;

/// `ftruncate(2)`.
pub fn ftruncate(fd: impl AsFd, len: u64) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { sys::syscall2(Sysno::ftruncate, sys::fd_arg(fd), len as usize) }.map(drop)
}

/// `fchmod(2)`.
pub fn fchmod(fd: impl AsFd, mode: Mode) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { sys::syscall2(Sysno::fchmod, sys::fd_arg(fd), mode.bits() as usize) }.map(drop)
}

/// `fsetxattr(2)`: sets the extended attribute `name` (e.g. `c"trusted.overlay.opaque"`) of
/// the open file `fd` to `value`; `flags` 0, or `XATTR_CREATE` (1) / `XATTR_REPLACE` (2).
pub fn fsetxattr(fd: impl AsFd, name: &CStr, value: &[u8], flags: u32) -> Result<()> {
    // SAFETY: name is NUL-terminated; value is valid for value.len() bytes; both outlive the
    // call, which only reads them.
    unsafe {
        sys::syscall5(
            Sysno::fsetxattr,
            sys::fd_arg(fd),
            sys::c_str(name),
            sys::by_ref(value),
            value.len(),
            flags as usize,
        )
    }
    .map(drop)
}

/// `fgetxattr(2)`: reads the extended attribute `name` of `fd` into `buf`; returns its length
/// (`ENODATA` when it is not set, `ERANGE` when `buf` is too small).
pub fn fgetxattr(fd: impl AsFd, name: &CStr, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: name is NUL-terminated; buf is valid for writes of buf.len() bytes.
    unsafe {
        sys::syscall4(
            Sysno::fgetxattr,
            sys::fd_arg(fd),
            sys::c_str(name),
            sys::by_mut(buf),
            buf.len(),
        )
    }
}

/// `fchown(2)`; `u32::MAX` leaves an id unchanged.
pub fn fchown(fd: impl AsFd, uid: u32, gid: u32) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { sys::syscall3(Sysno::fchown, sys::fd_arg(fd), uid as usize, gid as usize) }.map(drop)
}

/// `fchownat(2)`; `u32::MAX` leaves an id unchanged. With [`AtFlags::EMPTY_PATH`] and `c""`
/// it changes `dirfd` itself (an `O_PATH` descriptor included).
pub fn fchownat(dirfd: impl AsFd, path: &CStr, uid: u32, gid: u32, flags: AtFlags) -> Result<()> {
    // SAFETY: path is NUL-terminated.
    unsafe {
        sys::syscall5(
            Sysno::fchownat,
            sys::fd_arg(dirfd),
            sys::c_str(path),
            uid as usize,
            gid as usize,
            flags.bits() as usize,
        )
    }
    .map(drop)
}

/// `fchmodat(2)` (the three-argument call: symlinks are followed, no flags).
pub fn fchmodat(dirfd: impl AsFd, path: &CStr, mode: Mode) -> Result<()> {
    // SAFETY: path is NUL-terminated.
    unsafe {
        sys::syscall3(
            Sysno::fchmodat,
            sys::fd_arg(dirfd),
            sys::c_str(path),
            mode.bits() as usize,
        )
    }
    .map(drop)
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
    unsafe { sys::syscall2(Sysno::fstat, sys::fd_arg(fd), sys::by_mut(&mut st)) }?;
    Ok(st)
}

/// `newfstatat(2)` (`fstatat`): stat of a path relative to `dirfd`.
pub fn statat(dirfd: impl AsFd, path: &CStr, flags: AtFlags) -> Result<Stat> {
    let mut st = Stat::default();
    // SAFETY: path is NUL-terminated; st is a properly sized, writable struct stat.
    unsafe {
        sys::syscall4(
            FSTATAT,
            sys::fd_arg(dirfd),
            sys::c_str(path),
            sys::by_mut(&mut st),
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
            sys::fd_arg(dirfd),
            sys::c_str(path),
            flags.bits() as usize,
            mask.bits() as usize,
            sys::by_mut(&mut st),
        )
    }?;
    Ok(st)
}

/// `PROC_SUPER_MAGIC`: the [`StatFs::f_type`] of procfs.
pub const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// The kernel's `struct statfs` (64-bit layout, x86_64 and aarch64 alike).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
#[allow(missing_docs)]
pub struct StatFs {
    /// The filesystem's magic number (e.g. [`PROC_SUPER_MAGIC`]).
    pub f_type: i64,
    pub f_bsize: i64,
    pub f_blocks: u64,
    pub f_bfree: u64,
    pub f_bavail: u64,
    pub f_files: u64,
    pub f_ffree: u64,
    pub f_fsid: [i32; 2],
    pub f_namelen: i64,
    pub f_frsize: i64,
    pub f_flags: i64,
    __spare: [i64; 4],
}

assert_eq_size!(StatFs, [u8; 120]);
const_assert_eq!(core::mem::offset_of!(StatFs, f_fsid), 56);
const_assert_eq!(core::mem::offset_of!(StatFs, f_flags), 80);

/// `fstatfs(2)`: what filesystem `fd` (an `O_PATH` descriptor included) lives on.
pub fn fstatfs(fd: impl AsFd) -> Result<StatFs> {
    let mut st = StatFs::default();
    // SAFETY: st is a properly sized, writable struct statfs.
    unsafe { sys::syscall2(Sysno::fstatfs, sys::fd_arg(fd), sys::by_mut(&mut st)) }?;
    Ok(st)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::fd::OwnedFd;
    use crate::fs::testing::TempDir;
    use crate::fs::*;
    use crate::io::*;

    #[test]
    fn extended_attributes_are_set_and_read() {
        let dir = TempDir::new("xattr");
        let d = dir.open();
        let f = openat(
            &d,
            c"f",
            OFlags::RDWR | OFlags::CREAT | OFlags::CLOEXEC,
            Mode::from_bits_retain(0o600),
        )
        .unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(fgetxattr(&f, c"user.lp", &mut buf), Err(Errno::ENODATA));
        match fsetxattr(&f, c"user.lp", b"yes", 0) {
            // A filesystem without user xattrs (tmpfs before 6.6): nothing more to check.
            Err(Errno::EOPNOTSUPP) => return,
            r => r.unwrap(),
        }
        assert_eq!(fgetxattr(&f, c"user.lp", &mut buf), Ok(3));
        assert_eq!(&buf[..3], b"yes");
        assert_eq!(fsetxattr(&f, c"user.lp", b"no", 1), Err(Errno::EEXIST));
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
        fchmodat(&d, c"data", Mode::from_bits_retain(0o640)).unwrap();
        fchownat(&f, c"", u32::MAX, u32::MAX, AtFlags::EMPTY_PATH).unwrap();
        assert_eq!(
            statat(&d, c"data", AtFlags::empty()).unwrap().st_mode & 0o777,
            0o640
        );
        fchmod(&f, Mode::from_bits_retain(0o600)).unwrap();
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
        assert_ne!(fstatfs(&f).unwrap().f_type, PROC_SUPER_MAGIC);
        let proc = openat(
            CWD,
            c"/proc/self",
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        assert_eq!(fstatfs(&proc).unwrap().f_type, PROC_SUPER_MAGIC);
        renameat(&d, c"data", &d, c"moved").unwrap();
        unlinkat(&d, c"moved", AtFlags::empty()).unwrap();
        assert_eq!(unlinkat(&d, c"moved", AtFlags::empty()), Err(Errno::ENOENT));
    }
}
