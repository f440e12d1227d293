//! Namespaces and the filesystem view: `unshare`, `setns`, `mount`, `umount2`, `pivot_root`,
//! `chroot`, `chdir`/`fchdir`, host and domain names, `uname`.
//!
//! All of these change state shared by the whole process (or its namespace); call them in a
//! child created with [`crate::process::fork_with`], never in a multi-threaded parent:
//!
//! ```
//! use rawsys::{ns, process::{self, CloneFlags, Fork, WaitOptions, WaitStatus}, signal::Signal};
//!
//! // SAFETY: the child only issues raw system calls and then exits.
//! match unsafe { process::fork_with(CloneFlags::NEWUTS, Some(Signal::SIGCHLD)) }? {
//!     Fork::Child => {
//!         let ok = ns::sethostname(b"lp-test-doc").is_ok()
//!             && ns::uname().is_ok_and(|u| u.nodename() == c"lp-test-doc");
//!         process::exit_group(if ok { 0 } else { 1 })
//!     }
//!     Fork::Parent(pid) => {
//!         let (_, status) = process::wait4(pid, WaitOptions::empty())?.unwrap();
//!         assert_eq!(status, WaitStatus::Exited(0));
//!         assert_ne!(ns::uname()?.nodename(), c"lp-test-doc");
//!     }
//! }
//! # Ok::<(), rawsys::Errno>(())
//! ```

use core::ffi::CStr;

use static_assertions::{assert_eq_size, const_assert_eq};

use crate::Result;
use crate::fd::AsFd;
use crate::process::CloneFlags;
use crate::sys::{self, Sysno};

/// `unshare(2)`: moves the caller into new namespaces (`NEW*` flags) and/or stops sharing
/// `FS`, `FILES`, `SYSVSEM` with other processes.
///
/// `CLONE_NEWPID` affects only children created afterwards; the caller stays where it is.
pub fn unshare(flags: CloneFlags) -> Result<()> {
    // SAFETY: integer argument.
    unsafe { sys::syscall1(Sysno::unshare, flags.bits() as usize) }.map(drop)
}

/// `setns(2)`: joins the namespace `fd` refers to (a `/proc/<pid>/ns/*` file or, for several
/// at once, a pidfd). `nstype` is the expected namespace type (one `NEW*` flag; empty accepts
/// any), or for a pidfd the set of namespaces to join.
pub fn setns(fd: impl AsFd, nstype: CloneFlags) -> Result<()> {
    // SAFETY: integer arguments; the descriptor is borrowed for the call.
    unsafe { sys::syscall2(Sysno::setns, sys::fd_arg(fd), nstype.bits() as usize) }.map(drop)
}

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

/// `sethostname(2)`: sets the host name of the caller's UTS namespace (at most 64 bytes,
/// `EINVAL` beyond).
pub fn sethostname(name: &[u8]) -> Result<()> {
    // SAFETY: the kernel reads name.len() bytes from the slice.
    unsafe { sys::syscall2(Sysno::sethostname, sys::by_ref(name), name.len()) }.map(drop)
}

/// `setdomainname(2)`: sets the NIS domain name of the caller's UTS namespace (at most 64
/// bytes).
pub fn setdomainname(name: &[u8]) -> Result<()> {
    // SAFETY: the kernel reads name.len() bytes from the slice.
    unsafe { sys::syscall2(Sysno::setdomainname, sys::by_ref(name), name.len()) }.map(drop)
}

/// The kernel's `struct new_utsname`: six NUL-terminated fields of 65 bytes.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct Utsname {
    sysname: [u8; 65],
    nodename: [u8; 65],
    release: [u8; 65],
    version: [u8; 65],
    machine: [u8; 65],
    domainname: [u8; 65],
}

assert_eq_size!(Utsname, [u8; 390]);
const_assert_eq!(core::mem::offset_of!(Utsname, sysname), 0);
const_assert_eq!(core::mem::offset_of!(Utsname, nodename), 65);
const_assert_eq!(core::mem::offset_of!(Utsname, release), 130);
const_assert_eq!(core::mem::offset_of!(Utsname, version), 195);
const_assert_eq!(core::mem::offset_of!(Utsname, machine), 260);
const_assert_eq!(core::mem::offset_of!(Utsname, domainname), 325);

fn field(b: &[u8; 65]) -> &CStr {
    // The kernel always terminates each field; an empty name is the fallback otherwise.
    CStr::from_bytes_until_nul(b).unwrap_or(c"")
}

impl Utsname {
    /// The operating system name (`"Linux"`).
    pub fn sysname(&self) -> &CStr {
        field(&self.sysname)
    }
    /// The host name of the caller's UTS namespace.
    pub fn nodename(&self) -> &CStr {
        field(&self.nodename)
    }
    /// The kernel release, such as `"6.8.0-45-generic"`.
    pub fn release(&self) -> &CStr {
        field(&self.release)
    }
    /// The kernel build version string.
    pub fn version(&self) -> &CStr {
        field(&self.version)
    }
    /// The hardware name, such as `"x86_64"` or `"aarch64"`.
    pub fn machine(&self) -> &CStr {
        field(&self.machine)
    }
    /// The NIS domain name of the caller's UTS namespace.
    pub fn domainname(&self) -> &CStr {
        field(&self.domainname)
    }
}

impl core::fmt::Debug for Utsname {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Utsname")
            .field("sysname", &self.sysname())
            .field("nodename", &self.nodename())
            .field("release", &self.release())
            .field("version", &self.version())
            .field("machine", &self.machine())
            .field("domainname", &self.domainname())
            .finish()
    }
}

/// `uname(2)`: system names, including the host name of the caller's UTS namespace.
///
/// ```
/// let u = rawsys::ns::uname()?;
/// assert_eq!(u.sysname(), c"Linux");
/// # Ok::<(), rawsys::Errno>(())
/// ```
pub fn uname() -> Result<Utsname> {
    let mut u = Utsname {
        sysname: [0; 65],
        nodename: [0; 65],
        release: [0; 65],
        version: [0; 65],
        machine: [0; 65],
        domainname: [0; 65],
    };
    // SAFETY: u is a live 390-byte new_utsname for the kernel to fill.
    unsafe { sys::syscall1(Sysno::uname, sys::by_mut(&mut u)) }?;
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::fd::OwnedFd;
    use crate::fs::{self, AtFlags, CWD, Mode, OFlags};
    use crate::io::{self, PipeFlags};
    use crate::process::testing::*;
    use crate::process::{self, WaitStatus};
    use std::ffi::CString;
    use std::format;
    use std::path::PathBuf;

    /// A fresh directory under /tmp named `lp-test-ns-*`, removed on drop (after any child that
    /// mounted on it in its own namespace has gone, the mount is gone too).
    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let p = std::env::temp_dir().join(format!("lp-test-ns-{tag}-{}", process::getpid()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir(&p).unwrap();
            TempDir(p)
        }
        fn c(&self, rel: &str) -> CString {
            let p = if rel.is_empty() {
                self.0.clone()
            } else {
                self.0.join(rel)
            };
            CString::new(p.into_os_string().into_encoded_bytes()).unwrap()
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn exists(path: &CStr) -> Result<()> {
        fs::statat(CWD, path, AtFlags::SYMLINK_NOFOLLOW).map(drop)
    }

    fn create(path: &CStr) -> Result<()> {
        fs::openat(
            CWD,
            path,
            OFlags::WRONLY | OFlags::CREAT | OFlags::CLOEXEC,
            Mode::RUSR | Mode::WUSR,
        )
        .map(drop)
    }

    fn open_dir(path: &CStr) -> Result<OwnedFd> {
        fs::openat(
            CWD,
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
    }

    fn private_mount_ns() -> bool {
        unshare(process::CloneFlags::NEWNS).is_ok()
            && mount(None, c"/", None, MountFlags::REC | MountFlags::SLAVE, None).is_ok()
            && mount(
                None,
                c"/",
                None,
                MountFlags::REC | MountFlags::PRIVATE,
                None,
            )
            .is_ok()
    }

    #[test]
    fn uts_namespace_hostname_and_domainname() {
        let before = uname().unwrap();
        assert_eq!(before.sysname(), c"Linux");
        assert_eq!(
            before.machine().to_bytes(),
            std::env::consts::ARCH.as_bytes()
        );
        assert_eq!(
            before.release().to_bytes(),
            std::fs::read("/proc/sys/kernel/osrelease")
                .unwrap()
                .trim_ascii_end()
        );
        assert_eq!(
            before.nodename().to_bytes(),
            std::fs::read("/proc/sys/kernel/hostname")
                .unwrap()
                .trim_ascii_end()
        );
        assert!(!before.version().is_empty());
        let st = run(process::CloneFlags::empty(), &[], || {
            ensure!(unshare(process::CloneFlags::NEWUTS).is_ok(), 1);
            ensure!(sethostname(b"lp-test-uts").is_ok(), 2);
            ensure!(setdomainname(b"lp-test-domain").is_ok(), 3);
            let Ok(u) = uname() else { return 4 };
            ensure!(
                u.nodename() == c"lp-test-uts" && u.domainname() == c"lp-test-domain",
                5
            );
            ensure!(sethostname(&[b'x'; 65]) == Err(Errno::EINVAL), 6);
            0
        });
        assert_eq!(st, WaitStatus::Exited(0));
        let after = uname().unwrap();
        assert_eq!(
            after.nodename(),
            before.nodename(),
            "the harness's hostname is unchanged"
        );
        assert_eq!(after.domainname(), before.domainname());
    }

    #[test]
    fn tmpfs_mount_remount_and_unmount_in_a_private_mount_namespace() {
        let dir = TempDir::new("mnt");
        let (target, inside, other) = (dir.c(""), dir.c("inside"), dir.c("other"));
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

    #[test]
    fn pivot_root_into_a_tmpfs() {
        let dir = TempDir::new("pivot");
        let (root, old, marker) = (dir.c(""), dir.c("old"), dir.c("marker"));
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
        let (top, sub) = (dir.c(""), dir.c("sub"));
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

    #[test]
    fn setns_joins_a_childs_uts_namespace_by_nsfs_file_and_by_pidfd() {
        let (go_r, go_w) = io::pipe2(PipeFlags::CLOEXEC).unwrap();
        let (ready_r, ready_w) = io::pipe2(PipeFlags::CLOEXEC).unwrap();
        let holder = spawn(
            process::CloneFlags::NEWUTS,
            &[go_r.as_raw(), ready_w.as_raw()],
            || {
                ensure!(sethostname(b"lp-test-setns").is_ok(), 1);
                ensure!(poke(&ready_w), 2);
                if await_poke(&go_r) { 0 } else { 3 }
            },
        );
        drop(ready_w);
        let ready = await_poke(&ready_r);
        let path = CString::new(format!("/proc/{holder}/ns/uts")).unwrap();
        let nsfd = fs::openat(CWD, &path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty());
        let pidfd = process::pidfd_open(holder, process::PidfdFlags::empty());
        // `bad` is an nstype the kernel must refuse for this kind of descriptor.
        let check = |fd: &OwnedFd, ty: process::CloneFlags, bad: process::CloneFlags| {
            run(process::CloneFlags::empty(), &[fd.as_raw()], || {
                ensure!(setns(fd, bad) == Err(Errno::EINVAL), 1);
                ensure!(setns(fd, ty).is_ok(), 2);
                ensure!(uname().is_ok_and(|u| u.nodename() == c"lp-test-setns"), 3);
                0
            })
        };
        use process::CloneFlags as F;
        let by_file = nsfd.as_ref().map(|fd| check(fd, F::NEWUTS, F::NEWNET));
        let by_any = nsfd.as_ref().map(|fd| check(fd, F::empty(), F::NEWNET));
        let by_pidfd = pidfd.as_ref().map(|fd| check(fd, F::NEWUTS, F::VM));
        poke(&go_w);
        assert_eq!(reap(holder), WaitStatus::Exited(0));
        assert!(ready);
        assert_eq!(by_file, Ok(WaitStatus::Exited(0)));
        assert_eq!(by_any, Ok(WaitStatus::Exited(0)));
        assert_eq!(by_pidfd, Ok(WaitStatus::Exited(0)));
        assert_ne!(uname().unwrap().nodename(), c"lp-test-setns");
    }
}
