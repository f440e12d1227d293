//! Opening files: the open flags, the mode bits, `openat` and `openat2` with its resolution
//! controls, and [`CWD`].

use core::ffi::CStr;

use static_assertions::{assert_eq_size, const_assert_eq};

use crate::arch::{O_DIRECT, O_DIRECTORY, O_NOFOLLOW};
use crate::fd::{AsFd, BorrowedFd, OwnedFd};
use crate::sys::{self, Sysno};
use crate::{Errno, Result};

/// The current working directory as a directory descriptor (`AT_FDCWD`) for the `*at` calls.
// SAFETY: AT_FDCWD is never a real descriptor; the kernel interprets it specially and it can
// never be closed, so a 'static borrow is sound.
pub const CWD: BorrowedFd<'static> = unsafe { BorrowedFd::borrow_raw(-100) };

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

/// `openat(2)`.
pub fn openat(dirfd: impl AsFd, path: &CStr, flags: OFlags, mode: Mode) -> Result<OwnedFd> {
    // SAFETY: path is NUL-terminated and outlives the call.
    let r = unsafe {
        sys::syscall4(
            Sysno::openat,
            sys::fd_arg(dirfd),
            sys::c_str(path),
            flags.bits() as usize,
            mode.bits() as usize,
        )
    }?;
    Ok(sys::ret_fd(r))
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
/// With `BENEATH` or `IN_ROOT` (and not `CACHED`), the kernel fails a lookup that resolved
/// `..` while any rename or mount happened anywhere on the system with `EAGAIN`, asking the
/// caller to retry (openat2(2)); this function retries such a lookup up to
/// [`OPENAT2_RETRIES`] times before returning `EAGAIN`, so a busy machine (containers
/// mounting beside it) does not turn a valid path into a spurious error.
///
/// ```
/// use rawsys::fs::{self, OFlags, Mode, ResolveFlags, CWD};
///
/// let root = fs::openat(CWD, c"/", OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
/// // Magic links are refused when asked.
/// let r = fs::openat2(&root, c"proc/self/exe", OFlags::PATH | OFlags::CLOEXEC, Mode::empty(),
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
    let retry = resolve.intersects(ResolveFlags::BENEATH | ResolveFlags::IN_ROOT)
        && !resolve.contains(ResolveFlags::CACHED);
    let mut tries = 0;
    loop {
        // SAFETY: path is NUL-terminated and `how` is live for the call; the size passed is
        // its real size.
        let r = unsafe {
            sys::syscall4(
                Sysno::openat2,
                sys::fd_arg(&dirfd),
                sys::c_str(path),
                sys::by_ref(&how),
                core::mem::size_of::<OpenHow>(),
            )
        };
        match r {
            Err(Errno::EAGAIN) if retry && tries < OPENAT2_RETRIES => tries += 1,
            r => return Ok(sys::ret_fd(r?)),
        }
    }
}

/// How many times [`openat2`] retries a `BENEATH` / `IN_ROOT` lookup that failed with
/// `EAGAIN` (a concurrent rename or mount while it resolved `..`).
pub const OPENAT2_RETRIES: u32 = 128;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::fs::testing::TempDir;
    use crate::fs::*;

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
}
