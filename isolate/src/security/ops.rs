//! The child's hardening steps and its root-confined path resolution. Everything here runs
//! after `clone`: raw system calls only, no allocation, no panics.

use alloc::ffi::CString;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::CStr;

use rawsys::fs::{self, CWD, Mode, OFlags, ResolveFlags};
use rawsys::io::{self, CloseRangeFlags};
use rawsys::ns::{self, MountFlags};
use rawsys::process;
use rawsys::seccomp::{FilterFlags, SockFilter};
use rawsys::{AsFd, BorrowedFd, Errno, OwnedFd, RawFd};

use crate::error::Stage;

/// At most this many descriptors can be passed to the command.
pub(crate) const MAX_PASSED_FDS: usize = 64;

/// A hardening step of the child (see [`crate::plan::Op::Security`]).
#[derive(Debug)]
pub(crate) enum SecOp {
    /// Close our copy of `write`, then wait until the parent has written the id maps and sends
    /// one byte on `read`; then become root inside (and drop the supplementary groups when
    /// `setgroups` is allowed).
    WaitForIdMaps {
        read: RawFd,
        write: RawFd,
        drop_groups: bool,
    },
    /// Open the new root (after its mount): later paths below it are resolved inside it.
    OpenRoot { path: CString },
    /// Open `/dev/null` (inside, after `pivot_root`) without following links and check that
    /// it is the null device (character device 1:3).
    OpenNull,
    /// Hide a path: `/dev/null` over a file, an empty read-only tmpfs over a directory.
    Mask { path: CString },
    /// Bind a path onto itself and remount it read-only.
    ReadOnly { path: CString },
    /// Place these descriptors at 3, 4, ... (without close-on-exec).
    PassFds { fds: Vec<RawFd> },
    /// Mark every descriptor from `first` on close-on-exec.
    CloseFds { first: u32 },
    /// Install the seccomp filter (last step before `execve`).
    Seccomp { prog: Vec<SockFilter> },
}

impl SecOp {
    pub(crate) fn stage(&self) -> Stage {
        match self {
            SecOp::WaitForIdMaps { .. } => Stage::UserNamespace,
            SecOp::OpenRoot { .. } => Stage::Mount,
            SecOp::OpenNull | SecOp::Mask { .. } | SecOp::ReadOnly { .. } => Stage::MaskPaths,
            SecOp::PassFds { .. } | SecOp::CloseFds { .. } => Stage::Descriptors,
            SecOp::Seccomp { .. } => Stage::Seccomp,
        }
    }

    pub(crate) fn describe(&self, sub: u32) -> String {
        let s = |c: &CString| String::from_utf8_lossy(c.to_bytes()).into_owned();
        match self {
            SecOp::WaitForIdMaps { .. } => match sub {
                0 => "wait for the uid/gid maps".into(),
                1 => "setgroups [] in the user namespace".into(),
                _ => "become root (0:0) in the user namespace".into(),
            },
            SecOp::OpenRoot { path } => format!("open the new root {}", s(path)),
            SecOp::OpenNull => match sub {
                0 => "open /dev/null inside without following links".into(),
                _ => "verify /dev/null inside is the null device (char 1:3)".into(),
            },
            SecOp::Mask { path } => format!("mask {}", s(path)),
            SecOp::ReadOnly { path } => format!("make {} read-only", s(path)),
            SecOp::PassFds { .. } => format!("pass descriptor {}", 3 + sub),
            SecOp::CloseFds { first } => format!("mark descriptors from {first} close-on-exec"),
            SecOp::Seccomp { prog } => {
                format!("install the seccomp filter ({} instructions)", prog.len())
            }
        }
    }
}

/// What the child keeps between steps.
#[derive(Debug)]
pub(crate) struct ChildState<'a> {
    /// The new root's path and an `O_PATH` descriptor for it, once opened.
    root: Option<(&'a CStr, RawFd)>,
    /// The verified `/dev/null`.
    null: RawFd,
    /// Where failures are reported (moved out of the way of passed descriptors).
    pub(crate) err_fd: RawFd,
    /// The init's status pipe (-1 without init).
    pub(crate) status_fd: RawFd,
}

type OpResult = Result<(), (u32, Errno)>;

fn at(sub: u32) -> impl Fn(Errno) -> (u32, Errno) {
    move |e| (sub, e)
}

fn bfd(raw: RawFd) -> BorrowedFd<'static> {
    // SAFETY: the descriptors kept in ChildState stay open until execve (close-on-exec) and
    // are never closed while borrowed.
    unsafe { BorrowedFd::borrow_raw(raw) }
}

/// `/proc/self/fd/N` as a C string in `buf`.
fn fd_path(fd: RawFd, buf: &mut [u8; 32]) -> &CStr {
    let prefix = b"/proc/self/fd/";
    buf[..prefix.len()].copy_from_slice(prefix);
    let mut digits = [0u8; 12];
    let mut n = fd.unsigned_abs();
    let mut k = 0;
    loop {
        digits[k] = b'0' + (n % 10) as u8;
        k += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut i = prefix.len();
    while k > 0 {
        k -= 1;
        buf[i] = digits[k];
        i += 1;
    }
    buf[i] = 0;
    CStr::from_bytes_with_nul(&buf[..=i]).unwrap_or(c"/proc/self/fd/-1")
}

const PATH_FLAGS: OFlags = OFlags::PATH.union(OFlags::CLOEXEC);

impl<'a> ChildState<'a> {
    pub(crate) fn new(err_fd: RawFd, status_fd: RawFd) -> ChildState<'a> {
        ChildState {
            root: None,
            null: -1,
            err_fd,
            status_fd,
        }
    }

    /// Forgets the root descriptor (at `pivot_root`: paths are container paths from then on).
    pub(crate) fn leave_root(&mut self) {
        if let Some((_, fd)) = self.root.take() {
            // SAFETY: the descriptor was opened by OpenRoot and is owned by this state only.
            let _ = unsafe { OwnedFd::from_raw(fd) }.close();
        }
    }

    /// Runs `f` on (directory, last component) of `path`. Below the opened root, the
    /// directory is resolved with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`: symlinks in the
    /// rootfs (absolute ones included) and `..` cannot lead out of it. Elsewhere `path` is a
    /// host path prepared by the parent and is used as it is.
    pub(crate) fn at<T>(
        &self,
        path: &CStr,
        f: impl FnOnce(BorrowedFd<'_>, &CStr) -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        let Some((root, root_fd)) = self.root else {
            return f(CWD, path);
        };
        let p = path.to_bytes_with_nul();
        let r = root.to_bytes();
        if p.len() <= r.len() + 1 || !p.starts_with(r) || p[r.len()] != b'/' {
            return f(CWD, path);
        }
        let rel = &p[r.len() + 1..];
        let name_start = rel[..rel.len() - 1]
            .iter()
            .rposition(|b| *b == b'/')
            .map_or(0, |i| i + 1);
        let name = CStr::from_bytes_with_nul(&rel[name_start..]).map_err(|_| Errno::EINVAL)?;
        if name_start == 0 {
            return f(bfd(root_fd), name);
        }
        let mut buf = [0u8; 4096];
        let dir = &rel[..name_start - 1];
        if dir.len() >= buf.len() {
            return Err(Errno::ENAMETOOLONG);
        }
        buf[..dir.len()].copy_from_slice(dir);
        let dir = CStr::from_bytes_with_nul(&buf[..=dir.len()]).map_err(|_| Errno::EINVAL)?;
        let d = fs::openat2(
            bfd(root_fd),
            dir,
            PATH_FLAGS | OFlags::DIRECTORY,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )?;
        let r = f(d.as_fd(), name);
        let _ = d.close();
        r
    }

    /// `mount(2)` with the target resolved by [`ChildState::at`]; a target that is itself a
    /// symlink is refused (`ELOOP`), and the mount goes through `/proc/self/fd/N` so nothing
    /// is resolved again by path.
    pub(crate) fn mount(
        &self,
        source: Option<&CStr>,
        target: &CStr,
        fstype: Option<&CStr>,
        flags: MountFlags,
        data: Option<&CStr>,
    ) -> Result<(), Errno> {
        if self.root.is_none() {
            return ns::mount(source, target, fstype, flags, data);
        }
        let t = self.at(target, |dir, name| {
            fs::openat(dir, name, PATH_FLAGS | OFlags::NOFOLLOW, Mode::empty())
        })?;
        let r = (|| {
            if fs::fstat(&t)?.is_symlink() {
                return Err(Errno::ELOOP);
            }
            let mut buf = [0u8; 32];
            ns::mount(source, fd_path(t.as_raw(), &mut buf), fstype, flags, data)
        })();
        let _ = t.close();
        r
    }

    /// Runs one hardening step.
    pub(crate) fn run(&mut self, op: &'a SecOp) -> OpResult {
        match op {
            SecOp::WaitForIdMaps {
                read,
                write,
                drop_groups,
            } => {
                // SAFETY: the child's copy of the write end is owned by nobody else here.
                let _ = unsafe { OwnedFd::from_raw(*write) }.close();
                let mut b = [0u8; 1];
                loop {
                    match io::read(bfd(*read), &mut b) {
                        Ok(1) => break,
                        Ok(_) => return Err((0, Errno::EPIPE)),
                        Err(Errno::EINTR) => {}
                        Err(e) => return Err((0, e)),
                    }
                }
                // The caller's ids may be unmapped inside (a range map run by root): become
                // root of the namespace, which every map has.
                if *drop_groups {
                    process::setgroups(&[]).map_err(at(1))?;
                }
                process::setresgid(0, 0, 0).map_err(at(2))?;
                process::setresuid(0, 0, 0).map_err(at(3))
            }
            SecOp::OpenRoot { path } => {
                let fd = fs::openat(CWD, path, PATH_FLAGS | OFlags::DIRECTORY, Mode::empty())
                    .map_err(at(0))?;
                self.root = Some((path.as_c_str(), fd.into_raw()));
                Ok(())
            }
            SecOp::OpenNull => {
                let fd = fs::openat2(
                    CWD,
                    c"/dev/null",
                    PATH_FLAGS,
                    Mode::empty(),
                    ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
                )
                .map_err(at(0))?;
                let st = fs::fstat(&fd).map_err(at(1))?;
                if st.file_type() != 0o020000 || st.st_rdev != fs::makedev(1, 3) {
                    return Err((1, Errno::ENODEV));
                }
                self.null = fd.into_raw();
                Ok(())
            }
            SecOp::Mask { path } => {
                let Some(t) = open_nofollow(path).map_err(at(0))? else {
                    return Ok(());
                };
                let mut tb = [0u8; 32];
                let target = fd_path(t.as_raw(), &mut tb);
                let st = fs::fstat(&t).map_err(at(0))?;
                let r = if st.is_dir() {
                    ns::mount(
                        Some(c"tmpfs"),
                        target,
                        Some(c"tmpfs"),
                        MountFlags::RDONLY
                            | MountFlags::NOSUID
                            | MountFlags::NODEV
                            | MountFlags::NOEXEC,
                        Some(c"size=0,mode=000"),
                    )
                } else {
                    let mut nb = [0u8; 32];
                    ns::mount(
                        Some(fd_path(self.null, &mut nb)),
                        target,
                        None,
                        MountFlags::BIND,
                        None,
                    )
                };
                let _ = t.close();
                r.map_err(at(1))
            }
            SecOp::ReadOnly { path } => {
                let Some(t) = open_nofollow(path).map_err(at(0))? else {
                    return Ok(());
                };
                let mut tb = [0u8; 32];
                let target = fd_path(t.as_raw(), &mut tb);
                let r = ns::mount(
                    Some(target),
                    target,
                    None,
                    MountFlags::BIND | MountFlags::REC,
                    None,
                );
                let _ = t.close();
                r.map_err(at(1))?;
                // The bind is on top now: open the path again to reach it.
                let Some(t) = open_nofollow(path).map_err(at(2))? else {
                    return Err((2, Errno::ENOENT));
                };
                let target = fd_path(t.as_raw(), &mut tb);
                let r = ns::mount(
                    None,
                    target,
                    None,
                    MountFlags::BIND
                        | MountFlags::REMOUNT
                        | MountFlags::RDONLY
                        | MountFlags::NOSUID
                        | MountFlags::NODEV
                        | MountFlags::NOEXEC,
                    None,
                );
                let _ = t.close();
                r.map_err(at(3))
            }
            SecOp::PassFds { fds } => self.pass_fds(fds),
            SecOp::CloseFds { first } => {
                // SAFETY: with CLOEXEC nothing is closed now; the descriptors close at execve,
                // when nothing of this process uses them any more.
                unsafe { io::close_range(*first, u32::MAX, CloseRangeFlags::CLOEXEC) }
                    .map_err(at(0))
            }
            SecOp::Seccomp { prog } => {
                rawsys::seccomp::set_mode_filter(prog, FilterFlags::empty()).map_err(at(0))
            }
        }
    }

    fn pass_fds(&mut self, fds: &[RawFd]) -> OpResult {
        let n = fds.len();
        if n > MAX_PASSED_FDS {
            return Err((0, Errno::EMFILE));
        }
        let above = 3 + n as i32;
        // Our own pipes must not be overwritten by the passed descriptors.
        for slot in [&mut self.err_fd, &mut self.status_fd] {
            if *slot >= 0 && *slot < above {
                let moved = io::fcntl_dupfd_cloexec(bfd(*slot), above).map_err(at(0))?;
                *slot = moved.into_raw();
            }
        }
        // First copy every source above the target range, then place the copies.
        let mut tmp = [-1; MAX_PASSED_FDS];
        for (i, f) in fds.iter().enumerate() {
            tmp[i] = io::fcntl_dupfd_cloexec(bfd(*f), above)
                .map_err(at(i as u32))?
                .into_raw();
        }
        for (i, t) in tmp.iter().take(n).enumerate() {
            io::dup3(bfd(*t), 3 + i as i32, io::DupFlags::empty())
                .map(|f| {
                    let _ = f.into_raw();
                })
                .map_err(at(i as u32))?;
        }
        Ok(())
    }
}

/// Opens a container path as `O_PATH` refusing every symlink and magic link; `None` when it
/// does not exist.
fn open_nofollow(path: &CStr) -> Result<Option<OwnedFd>, Errno> {
    match fs::openat2(
        CWD,
        path,
        PATH_FLAGS | OFlags::NOFOLLOW,
        Mode::empty(),
        ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(f) => Ok(Some(f)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `chdir` into `path` resolved inside the current root without magic links: a working
/// directory such as `/proc/self/fd/7` (a descriptor leaked from the host, CVE-2024-21626) or
/// a symlink pointing out is refused or stays inside.
pub(crate) fn chdir_in_root(path: &CStr) -> Result<(), (u32, Errno)> {
    let root =
        fs::openat(CWD, c"/", PATH_FLAGS | OFlags::DIRECTORY, Mode::empty()).map_err(at(0))?;
    let d = fs::openat2(
        &root,
        path,
        PATH_FLAGS | OFlags::DIRECTORY,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(at(0));
    let _ = root.close();
    let d = d?;
    let r = ns::fchdir(&d).map_err(at(1));
    let _ = d.close();
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_paths_are_formatted_without_allocating() {
        let mut b = [0u8; 32];
        assert_eq!(fd_path(0, &mut b), c"/proc/self/fd/0");
        assert_eq!(fd_path(1234567, &mut b), c"/proc/self/fd/1234567");
        assert_eq!(fd_path(i32::MAX, &mut b), c"/proc/self/fd/2147483647");
    }

    #[test]
    fn paths_below_the_root_resolve_inside_it() {
        let base = std::env::temp_dir().join(format!("lp-test-inroot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc", base.join("link")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", base.join("pw")).unwrap();
        struct Rm(std::path::PathBuf);
        impl Drop for Rm {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        let _rm = Rm(base.clone());
        let root = CString::new(base.to_str().unwrap()).unwrap();
        let mut st = ChildState::new(-1, -1);
        let op = SecOp::OpenRoot { path: root.clone() };
        st.run(&op).unwrap();
        // mkdir through an absolute symlink lands in <root>/etc, not the host's /etc.
        let p = CString::new(format!("{}/link/lp-test-made", base.display())).unwrap();
        st.at(&p, |d, n| fs::mkdirat(d, n, Mode::from_bits_retain(0o755)))
            .unwrap();
        assert!(base.join("etc/lp-test-made").is_dir());
        assert!(!std::path::Path::new("/etc/lp-test-made").exists());
        // A symlink as the final component of a mount target is refused.
        let p = CString::new(format!("{}/pw", base.display())).unwrap();
        assert_eq!(
            st.mount(None, &p, None, MountFlags::BIND, None),
            Err(Errno::ELOOP)
        );
        // Host paths outside the root are used as given.
        let seen = st.at(c"/proc/self", |d, n| {
            assert_eq!(d.as_raw(), -100);
            assert_eq!(n, c"/proc/self");
            Ok(())
        });
        assert_eq!(seen, Ok(()));
        st.leave_root();
    }
}
