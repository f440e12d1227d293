//! Mounting and unmounting: `mount`, `umount2` and their flags.

use core::ffi::CStr;

use crate::Result;
use crate::sys::{self, Sysno};

bitflags::bitflags! {
    /// `MS_*` flags for [`mount`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct MountFlags: u64 {
        /// `MS_RDONLY`
        const RDONLY = 1;
        /// `MS_NOSUID`
        const NOSUID = 2;
        /// `MS_NODEV`
        const NODEV = 4;
        /// `MS_NOEXEC`
        const NOEXEC = 8;
        /// `MS_SYNCHRONOUS`
        const SYNCHRONOUS = 16;
        /// `MS_REMOUNT`: change the flags of an existing mount.
        const REMOUNT = 32;
        /// `MS_MANDLOCK`
        const MANDLOCK = 64;
        /// `MS_DIRSYNC`
        const DIRSYNC = 128;
        /// `MS_NOSYMFOLLOW`
        const NOSYMFOLLOW = 256;
        /// `MS_NOATIME`
        const NOATIME = 1024;
        /// `MS_NODIRATIME`
        const NODIRATIME = 2048;
        /// `MS_BIND`: bind mount.
        const BIND = 4096;
        /// `MS_MOVE`: move a mount.
        const MOVE = 8192;
        /// `MS_REC`: apply to the whole subtree (bind, propagation changes).
        const REC = 16384;
        /// `MS_SILENT`
        const SILENT = 32768;
        /// `MS_POSIXACL`
        const POSIXACL = 1 << 16;
        /// `MS_UNBINDABLE`: propagation type unbindable.
        const UNBINDABLE = 1 << 17;
        /// `MS_PRIVATE`: propagation type private.
        const PRIVATE = 1 << 18;
        /// `MS_SLAVE`: propagation type slave.
        const SLAVE = 1 << 19;
        /// `MS_SHARED`: propagation type shared.
        const SHARED = 1 << 20;
        /// `MS_RELATIME`
        const RELATIME = 1 << 21;
        /// `MS_KERNMOUNT`
        const KERNMOUNT = 1 << 22;
        /// `MS_I_VERSION`
        const I_VERSION = 1 << 23;
        /// `MS_STRICTATIME`
        const STRICTATIME = 1 << 24;
        /// `MS_LAZYTIME`
        const LAZYTIME = 1 << 25;
    }
}

bitflags::bitflags! {
    /// Flags for [`umount2`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct UnmountFlags: u32 {
        /// `MNT_FORCE`: force (network filesystems).
        const FORCE = 1;
        /// `MNT_DETACH`: lazy unmount: detach now, clean up when no longer busy.
        const DETACH = 2;
        /// `MNT_EXPIRE`: mark as expired / unmount if already marked.
        const EXPIRE = 4;
        /// `UMOUNT_NOFOLLOW`: do not follow a final symlink in the target.
        const NOFOLLOW = 8;
    }
}

/// `mount(2)`.
///
/// `source`, `fstype` and `data` are optional as the kernel allows for the operation (a bind
/// or propagation change needs no filesystem type; `data` is the filesystem's option string,
/// such as `c"size=1m,mode=0755"` for tmpfs).
pub fn mount(
    source: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: MountFlags,
    data: Option<&CStr>,
) -> Result<()> {
    // SAFETY: every string is NUL-terminated and outlives the call; absent ones are null, which
    // the kernel accepts for these arguments.
    unsafe {
        sys::syscall5(
            Sysno::mount,
            sys::opt_c_str(source),
            sys::c_str(target),
            sys::opt_c_str(fstype),
            flags.bits() as usize,
            sys::opt_c_str(data),
        )
    }
    .map(drop)
}

/// `umount2(2)`: unmounts the filesystem mounted at `target`.
pub fn umount2(target: &CStr, flags: UnmountFlags) -> Result<()> {
    // SAFETY: target is NUL-terminated and outlives the call.
    unsafe { sys::syscall2(Sysno::umount2, sys::c_str(target), flags.bits() as usize) }.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::ns::testing::*;
    use crate::process::testing::*;
    use crate::process::{self, WaitStatus};

    #[test]
    fn tmpfs_mount_remount_and_unmount_in_a_private_mount_namespace() {
        let dir = TempDir::new("mnt");
        let (target, inside, other) = (dir.c(), join(&dir, "inside"), join(&dir, "other"));
        let st = run(process::CloneFlags::empty(), &[], || {
            ensure!(private_mount_ns(), 1);
            let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::STRICTATIME;
            ensure!(
                mount(
                    Some(c"lp-test"),
                    &target,
                    Some(c"tmpfs"),
                    flags,
                    Some(c"size=1m,mode=0700")
                )
                .is_ok(),
                2
            );
            ensure!(create(&inside).is_ok() && exists(&inside).is_ok(), 3);
            // Read-only remount: new files are refused.
            let ro = MountFlags::REMOUNT | MountFlags::RDONLY | flags;
            ensure!(mount(None, &target, None, ro, None).is_ok(), 4);
            ensure!(create(&other) == Err(Errno::EROFS), 5);
            ensure!(umount2(&target, UnmountFlags::empty()).is_ok(), 6);
            ensure!(exists(&inside) == Err(Errno::ENOENT), 7);
            ensure!(
                umount2(&target, UnmountFlags::empty()) == Err(Errno::EINVAL),
                8
            );
            // A busy mount needs MNT_DETACH.
            ensure!(
                mount(Some(c"lp-test"), &target, Some(c"tmpfs"), flags, None).is_ok(),
                9
            );
            let Ok(busy) = open_dir(&target) else {
                return 10;
            };
            ensure!(
                umount2(&target, UnmountFlags::NOFOLLOW) == Err(Errno::EBUSY),
                11
            );
            ensure!(umount2(&target, UnmountFlags::DETACH).is_ok(), 12);
            drop(busy);
            // A bind mount of the directory onto itself, then gone again.
            ensure!(
                mount(Some(&target), &target, None, MountFlags::BIND, None).is_ok(),
                13
            );
            ensure!(umount2(&target, UnmountFlags::empty()).is_ok(), 14);
            ensure!(
                mount(None, c"/lp-test-nonexistent", Some(c"tmpfs"), flags, None)
                    == Err(Errno::ENOENT),
                15
            );
            0
        });
        assert_eq!(st, WaitStatus::Exited(0));
        assert_eq!(
            std::fs::read_dir(&dir.0).unwrap().count(),
            0,
            "nothing leaked into the host"
        );
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains(dir.0.to_str().unwrap()));
    }
}
