//! The root and working directory: `pivot_root`, `chroot`, `chdir`, `fchdir`.

use core::ffi::CStr;

use crate::Result;
use crate::fd::AsFd;
use crate::sys::{self, Sysno};

/// `pivot_root(2)`: makes the mount at `new_root` the root of the caller's mount namespace and
/// moves the old root to `put_old` (which must be at or below `new_root`). `new_root` must be a
/// mount point and neither it nor the old root may have shared propagation.
pub fn pivot_root(new_root: &CStr, put_old: &CStr) -> Result<()> {
    // SAFETY: both paths are NUL-terminated and outlive the call.
    unsafe { sys::syscall2(Sysno::pivot_root, sys::c_str(new_root), sys::c_str(put_old)) }.map(drop)
}

/// `chroot(2)`: changes the caller's root directory (the cwd stays where it is; `chdir("/")`
/// next).
pub fn chroot(path: &CStr) -> Result<()> {
    // SAFETY: path is NUL-terminated and outlives the call.
    unsafe { sys::syscall1(Sysno::chroot, sys::c_str(path)) }.map(drop)
}

/// `chdir(2)`: changes the working directory of the process (all threads share it).
pub fn chdir(path: &CStr) -> Result<()> {
    // SAFETY: path is NUL-terminated and outlives the call.
    unsafe { sys::syscall1(Sysno::chdir, sys::c_str(path)) }.map(drop)
}

/// `fchdir(2)`: changes the working directory to the directory `fd` refers to.
pub fn fchdir(fd: impl AsFd) -> Result<()> {
    // SAFETY: integer argument; the descriptor is borrowed for the call.
    unsafe { sys::syscall1(Sysno::fchdir, sys::fd_arg(fd)) }.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::fs::{self, CWD, Mode};
    use crate::io::{self, PipeFlags};
    use crate::ns::testing::*;
    use crate::ns::{MountFlags, UnmountFlags, mount, umount2};
    use crate::process::testing::*;
    use crate::process::{self, WaitStatus};

    #[test]
    fn pivot_root_into_a_tmpfs() {
        let dir = TempDir::new("pivot");
        let (root, old, marker) = (dir.c(), join(&dir, "old"), join(&dir, "marker"));
        let st = run(process::CloneFlags::empty(), &[], || {
            ensure!(private_mount_ns(), 1);
            ensure!(
                mount(
                    Some(c"lp-test"),
                    &root,
                    Some(c"tmpfs"),
                    MountFlags::empty(),
                    None
                )
                .is_ok(),
                2
            );
            ensure!(
                fs::mkdirat(CWD, &old, Mode::RWXU).is_ok() && create(&marker).is_ok(),
                3
            );
            ensure!(
                pivot_root(&root, c"/nonexistent-lp-test") == Err(Errno::ENOENT),
                4
            );
            ensure!(pivot_root(&root, &old).is_ok(), 5);
            ensure!(chdir(c"/").is_ok(), 6);
            ensure!(exists(c"/marker").is_ok(), 7);
            ensure!(exists(c"/old/proc").is_ok(), 8);
            ensure!(umount2(c"/old", UnmountFlags::DETACH).is_ok(), 9);
            ensure!(exists(c"/old/proc") == Err(Errno::ENOENT), 10);
            ensure!(exists(c"/proc") == Err(Errno::ENOENT), 11);
            0
        });
        assert_eq!(st, WaitStatus::Exited(0));
        assert_eq!(
            std::fs::read_dir(&dir.0).unwrap().count(),
            0,
            "the tmpfs died with the namespace"
        );
    }

    #[test]
    fn chroot_chdir_and_fchdir() {
        let dir = TempDir::new("chroot");
        std::fs::write(dir.0.join("marker"), b"").unwrap();
        std::fs::create_dir(dir.0.join("sub")).unwrap();
        std::fs::write(dir.0.join("sub/inner"), b"").unwrap();
        let (top, sub) = (dir.c(), join(&dir, "sub"));
        let st = run(process::CloneFlags::empty(), &[], || {
            ensure!(chdir(&top).is_ok(), 1);
            ensure!(exists(c"marker").is_ok(), 2);
            let Ok(subfd) = open_dir(&sub) else { return 3 };
            ensure!(fchdir(&subfd).is_ok(), 4);
            ensure!(
                exists(c"inner").is_ok() && exists(c"marker") == Err(Errno::ENOENT),
                5
            );
            ensure!(chroot(&top).is_ok(), 6);
            ensure!(
                exists(c"/marker").is_ok() && exists(c"/sub/inner").is_ok(),
                7
            );
            ensure!(exists(c"/proc") == Err(Errno::ENOENT), 8);
            ensure!(chdir(c"/").is_ok() && exists(c"marker").is_ok(), 9);
            ensure!(chdir(c"/marker") == Err(Errno::ENOTDIR), 10);
            ensure!(chroot(c"/nonexistent") == Err(Errno::ENOENT), 11);
            0
        });
        assert_eq!(st, WaitStatus::Exited(0));
        assert_eq!(chdir(c"/nonexistent-lp-test"), Err(Errno::ENOENT));
        let (r, _w) = io::pipe2(PipeFlags::CLOEXEC).unwrap();
        assert_eq!(fchdir(&r), Err(Errno::ENOTDIR));
    }
}
