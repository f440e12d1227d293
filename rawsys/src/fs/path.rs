//! Creating, removing, linking and renaming by path relative to a directory descriptor: the
//! `*at` calls and their [`AtFlags`].

use core::ffi::CStr;

use super::Mode;
use crate::Result;
use crate::fd::AsFd;
use crate::sys::{self, Sysno};

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

/// `mkdirat(2)`.
pub fn mkdirat(dirfd: impl AsFd, path: &CStr, mode: Mode) -> Result<()> {
    // SAFETY: path is NUL-terminated and outlives the call.
    unsafe {
        sys::syscall3(
            Sysno::mkdirat,
            sys::fd_arg(dirfd),
            sys::c_str(path),
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
            sys::fd_arg(dirfd),
            sys::c_str(path),
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
            sys::fd_arg(dirfd),
            sys::c_str(path),
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
            sys::c_str(target),
            sys::fd_arg(dirfd),
            sys::c_str(linkpath),
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
            sys::fd_arg(dirfd),
            sys::c_str(path),
            sys::by_mut(buf),
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
            sys::fd_arg(olddir),
            sys::c_str(old),
            sys::fd_arg(newdir),
            sys::c_str(new),
            0,
        )
    }
    .map(drop)
}

/// `linkat(2)`: a new name `new` (below `newdir`) for the file `old` (below `olddir`). Without
/// [`AtFlags::SYMLINK_FOLLOW`] a symlink `old` is linked itself, not its target.
pub fn linkat(
    olddir: impl AsFd,
    old: &CStr,
    newdir: impl AsFd,
    new: &CStr,
    flags: AtFlags,
) -> Result<()> {
    // SAFETY: both paths are NUL-terminated and outlive the call.
    unsafe {
        sys::syscall5(
            Sysno::linkat,
            sys::fd_arg(olddir),
            sys::c_str(old),
            sys::fd_arg(newdir),
            sys::c_str(new),
            flags.bits() as usize,
        )
    }
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::fd::OwnedFd;
    use crate::fs::testing::TempDir;
    use crate::fs::*;
    use crate::io::write;
    use std::string::String;
    use std::vec::Vec;

    #[test]
    fn directories_symlinks_nodes_and_getdents() {
        let dir = TempDir::new("dir");
        let d = dir.open();
        mkdirat(&d, c"sub", Mode::RWXU).unwrap();
        assert_eq!(mkdirat(&d, c"sub", Mode::RWXU), Err(Errno::EEXIST));
        symlinkat(c"sub/target", &d, c"link").unwrap();
        // A hard link of the symlink itself (not followed), then of a directory (refused).
        linkat(&d, c"link", &d, c"link2", AtFlags::empty()).unwrap();
        assert!(
            statat(&d, c"link2", AtFlags::SYMLINK_NOFOLLOW)
                .unwrap()
                .is_symlink()
        );
        assert_eq!(
            statat(&d, c"link2", AtFlags::SYMLINK_NOFOLLOW).map(|s| s.st_nlink),
            Ok(2)
        );
        assert_eq!(
            linkat(&d, c"sub", &d, c"sub2", AtFlags::empty()),
            Err(Errno::EPERM)
        );
        unlinkat(&d, c"link2", AtFlags::empty()).unwrap();
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
}
