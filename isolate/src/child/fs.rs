//! Files and mounts in the child: creating what the root needs, mounting, `pivot_root`, and
//! resolving paths below the new root inside it.

use core::ffi::CStr;

use rawsys::fs::{self, CWD, Mode, OFlags, ResolveFlags};
use rawsys::io;
use rawsys::ns::{self, MountFlags, UnmountFlags};
use rawsys::{BorrowedFd, Errno, OwnedFd};

use super::ChildState;
use super::helpers::{PATH_FLAGS, StepResult, SubStep, at, borrowed, close, fd_path};

impl<'a> ChildState<'a> {
    /// Opens the new root (after its mount): later paths below it are resolved inside it.
    pub(super) fn open_root(&mut self, path: &'a CStr) -> StepResult {
        let fd = fs::openat(CWD, path, PATH_FLAGS | OFlags::DIRECTORY, Mode::empty())
            .map_err(at(SubStep::Call))?;
        self.root = Some((path, fd.into_raw()));
        Ok(())
    }

    /// Forgets the root descriptor (at `pivot_root`: paths are container paths from then on).
    pub(super) fn leave_root(&mut self) {
        self.forget_dir();
        if let Some((_, fd)) = self.root.take() {
            // SAFETY: the descriptor was opened by open_root and is owned by this state only.
            close(unsafe { OwnedFd::from_raw(fd) });
        }
    }

    /// Closes the cached directory of [`ChildState::at`], if any.
    pub(super) fn forget_dir(&self) {
        if let Some((_, fd)) = self.dir.take() {
            // SAFETY: the descriptor was opened by `at` and is owned by the cache only.
            close(unsafe { OwnedFd::from_raw(fd) });
        }
    }

    /// The path of `path` relative to the root (no NUL), if it is below the root.
    fn below_root(&self, path: &'a CStr) -> Option<&'a [u8]> {
        let (root, _) = self.root?;
        let p = path.to_bytes();
        let r = root.to_bytes();
        if p.len() <= r.len() + 1 || !p.starts_with(r) || p[r.len()] != b'/' {
            return None;
        }
        Some(&p[r.len() + 1..])
    }

    /// Runs `f` on (directory, last component) of `path`. Below the opened root, the
    /// directory is resolved with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`: symlinks in the
    /// rootfs (absolute ones included) and `..` cannot lead out of it; the directory stays
    /// open for the next step in it (see [`ChildState::dir`]). Elsewhere `path` is a host
    /// path prepared by the parent and is used as it is.
    pub(super) fn at<T>(
        &self,
        path: &'a CStr,
        f: impl FnOnce(BorrowedFd<'_>, &CStr) -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        let (Some((_, root_fd)), Some(rel)) = (self.root, self.below_root(path)) else {
            return f(CWD, path);
        };
        let name_start = rel.iter().rposition(|b| *b == b'/').map_or(0, |i| i + 1);
        // The last component with the path's NUL.
        let with_nul = path.to_bytes_with_nul();
        let name =
            CStr::from_bytes_with_nul(&with_nul[with_nul.len() - (rel.len() - name_start) - 1..])
                .map_err(|_| Errno::EINVAL)?;
        if name_start == 0 {
            return f(borrowed(root_fd), name);
        }
        let dir = &rel[..name_start - 1];
        // (No let chain: the crate builds with Rust 1.87.)
        if let Some((cached, fd)) = self.dir.get() {
            if cached == dir {
                return f(borrowed(fd), name);
            }
        }
        let mut buf = [0u8; 4096];
        if dir.len() >= buf.len() {
            return Err(Errno::ENAMETOOLONG);
        }
        buf[..dir.len()].copy_from_slice(dir);
        let dir_c = CStr::from_bytes_with_nul(&buf[..=dir.len()]).map_err(|_| Errno::EINVAL)?;
        let d = fs::openat2(
            borrowed(root_fd),
            dir_c,
            PATH_FLAGS | OFlags::DIRECTORY,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )?;
        self.forget_dir();
        let fd = d.into_raw();
        self.dir.set(Some((dir, fd)));
        f(borrowed(fd), name)
    }

    /// Forgets the cached directory unless a mount on `target` leaves what its path names as
    /// it was: only a mount strictly below it (not a move) does. A mount on the directory
    /// itself or on a directory above it shows another one at that path.
    fn after_mount(&self, target: &'a CStr, flags: MountFlags) {
        let Some((dir, _)) = self.dir.get() else {
            return;
        };
        let inside = self
            .below_root(target)
            .is_some_and(|t| t.len() > dir.len() + 1 && t.starts_with(dir) && t[dir.len()] == b'/');
        if !inside || flags.contains(MountFlags::MOVE) {
            self.forget_dir();
        }
    }

    /// `mount(2)` with the target resolved by [`ChildState::at`]; a target that is itself a
    /// symlink is refused (`ELOOP`), and the mount goes through `/proc/self/fd/N` so nothing
    /// is resolved again by path.
    pub(super) fn mount(
        &self,
        source: Option<&CStr>,
        target: &'a CStr,
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
        close(t);
        self.after_mount(target, flags);
        r
    }

    /// `mkdirat(2)`; an existing entry is fine.
    pub(super) fn mkdir(&self, path: &'a CStr, mode: u32) -> StepResult {
        match self.at(path, |d, n| fs::mkdirat(d, n, Mode::from_bits_retain(mode))) {
            Ok(()) | Err(Errno::EEXIST) => Ok(()),
            Err(e) => Err((SubStep::Call, e)),
        }
    }

    /// Creates an empty file (a bind mount target) unless one exists.
    pub(super) fn create_file(&self, path: &'a CStr) -> StepResult {
        let f = self
            .at(path, |d, n| {
                fs::openat(
                    d,
                    n,
                    OFlags::RDONLY | OFlags::CREAT | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::from_bits_retain(0o644),
                )
            })
            .map_err(at(SubStep::Call))?;
        close(f);
        Ok(())
    }

    /// `fchmod` of an existing directory.
    pub(super) fn chmod_dir(&self, path: &'a CStr, mode: u32) -> StepResult {
        let f = self
            .at(path, |d, n| {
                fs::openat(
                    d,
                    n,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
            })
            .map_err(at(SubStep::Open))?;
        let r = fs::fchmod(&f, Mode::from_bits_retain(mode)).map_err(at(SubStep::Chmod));
        close(f);
        r
    }

    /// `symlinkat(2)`; an existing entry is fine.
    pub(super) fn symlink(&self, target: &CStr, link: &'a CStr) -> StepResult {
        match self.at(link, |d, n| fs::symlinkat(target, d, n)) {
            Ok(()) | Err(Errno::EEXIST) => Ok(()),
            Err(e) => Err((SubStep::Call, e)),
        }
    }

    /// Creates or truncates a file and writes `contents`.
    pub(super) fn write_file(&self, path: &'a CStr, contents: &[u8]) -> StepResult {
        let f = self
            .at(path, |d, n| {
                fs::openat(
                    d,
                    n,
                    OFlags::WRONLY
                        | OFlags::CREAT
                        | OFlags::TRUNC
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_bits_retain(0o644),
                )
            })
            .map_err(at(SubStep::Open))?;
        let mut off = 0;
        let mut r = Ok(());
        while off < contents.len() {
            match io::write(&f, contents.get(off..).unwrap_or(&[])) {
                Ok(0) => {
                    r = Err((SubStep::Write, Errno::EIO));
                    break;
                }
                Ok(n) => off += n,
                Err(Errno::EINTR) => {}
                Err(e) => {
                    r = Err((SubStep::Write, e));
                    break;
                }
            }
        }
        close(f);
        r
    }

    /// `mknodat` below the root (an existing entry is kept as it is), then owner and mode, and
    /// a bind of the node onto itself remounted `nosuid,noexec` without `nodev`. Everything
    /// after the `mknodat` goes through an `O_PATH` descriptor checked to be the node made.
    pub(super) fn make_device(
        &self,
        path: &'a CStr,
        mode: u32,
        dev: u64,
        uid: u32,
        gid: u32,
    ) -> StepResult {
        match self.at(path, |d, n| {
            fs::mknodat(d, n, Mode::from_bits_retain(mode), dev)
        }) {
            Ok(()) => {}
            Err(Errno::EEXIST) => return Ok(()),
            Err(e) => return Err((SubStep::Call, e)),
        }
        let open = || {
            self.at(path, |d, n| {
                fs::openat(d, n, PATH_FLAGS | OFlags::NOFOLLOW, Mode::empty())
            })
        };
        let t = open().map_err(at(SubStep::Open))?;
        let r = (|| {
            let st = fs::fstat(&t).map_err(at(SubStep::Verify))?;
            let fifo = mode & fs::S_IFMT == 0o010000;
            if st.file_type() != mode & fs::S_IFMT || (!fifo && st.st_rdev != dev) {
                return Err((SubStep::Verify, Errno::ENODEV));
            }
            fs::fchownat(&t, c"", uid, gid, fs::AtFlags::EMPTY_PATH).map_err(at(SubStep::Chmod))?;
            let mut buf = [0u8; 32];
            let p = fd_path(t.as_raw(), &mut buf);
            fs::fchmodat(CWD, p, Mode::from_bits_retain(mode & 0o7777))
                .map_err(at(SubStep::Chmod))?;
            ns::mount(Some(p), p, None, MountFlags::BIND, None).map_err(at(SubStep::BindOntoItself))
        })();
        close(t);
        r?;
        let t = open().map_err(at(SubStep::Reopen))?;
        let mut buf = [0u8; 32];
        let p = fd_path(t.as_raw(), &mut buf);
        let r = ns::mount(
            None,
            p,
            None,
            MountFlags::BIND | MountFlags::REMOUNT | MountFlags::NOSUID | MountFlags::NOEXEC,
            None,
        )
        .map_err(at(SubStep::Remount));
        close(t);
        r
    }

    /// Makes `root` the root: `chdir(root)`, `pivot_root(".", ".")`, detach the old root,
    /// `chdir("/")`.
    pub(super) fn pivot_root(&mut self, root: &CStr) -> StepResult {
        self.leave_root();
        ns::chdir(root).map_err(at(SubStep::EnterRoot))?;
        // pivot_root(".", ".") stacks the old root on top of the new one at the same
        // place; detaching "." then removes the old root, no put_old directory needed.
        ns::pivot_root(c".", c".").map_err(at(SubStep::PivotRoot))?;
        ns::umount2(c".", UnmountFlags::DETACH).map_err(at(SubStep::DetachOldRoot))?;
        ns::chdir(c"/").map_err(at(SubStep::EnterNewRoot))
    }
}

/// `chdir` into `path` resolved inside the current root without magic links: a working
/// directory such as `/proc/self/fd/7` (a descriptor leaked from the host, CVE-2024-21626) or
/// a symlink pointing out is refused or stays inside.
pub(super) fn chdir_in_root(path: &CStr) -> StepResult {
    let root = fs::openat(CWD, c"/", PATH_FLAGS | OFlags::DIRECTORY, Mode::empty())
        .map_err(at(SubStep::Open))?;
    let d = fs::openat2(
        &root,
        path,
        PATH_FLAGS | OFlags::DIRECTORY,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(at(SubStep::Open));
    close(root);
    let d = d?;
    let r = ns::fchdir(&d).map_err(at(SubStep::Fchdir));
    close(d);
    r
}

/// Creates the directories of `path` that are missing (mode 0755), inside the current root:
/// each existing prefix is opened with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS` and a missing
/// component is made with `mkdirat` relative to its opened parent, so neither a symlink in
/// the rootfs nor a magic link can place a directory outside. Only a missing component is
/// acted on: any other failure (a magic link, a file in the way) is left for the `chdir`
/// step to report. No allocation: the prefix is built in a buffer on the stack.
pub(super) fn mkdirs_in_root(path: &CStr) -> StepResult {
    let bytes = path.to_bytes();
    let mut buf = [0u8; 4096];
    if bytes.len() >= buf.len() {
        return Err((SubStep::Open, Errno::ENAMETOOLONG));
    }
    let root = fs::openat(CWD, c"/", PATH_FLAGS | OFlags::DIRECTORY, Mode::empty())
        .map_err(at(SubStep::Open))?;
    let mut parent = fs::openat(CWD, c"/", PATH_FLAGS | OFlags::DIRECTORY, Mode::empty())
        .map_err(at(SubStep::Open))?;
    let mut end = 0;
    while end < bytes.len() {
        // The next component: bytes[start..end].
        while end < bytes.len() && bytes[end] == b'/' {
            end += 1;
        }
        let start = end;
        while end < bytes.len() && bytes[end] != b'/' {
            end += 1;
        }
        if start == end {
            break;
        }
        buf[..end].copy_from_slice(&bytes[..end]);
        buf[end] = 0;
        let prefix =
            CStr::from_bytes_with_nul(&buf[..=end]).map_err(|_| (SubStep::Open, Errno::EINVAL))?;
        let open = |root: &OwnedFd| {
            fs::openat2(
                root,
                prefix,
                PATH_FLAGS | OFlags::DIRECTORY,
                Mode::empty(),
                ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
            )
        };
        let next = match open(&root) {
            Err(Errno::ENOENT) => {
                let mut name = [0u8; 256];
                let len = end - start;
                if len >= name.len() {
                    return Err((SubStep::Call, Errno::ENAMETOOLONG));
                }
                name[..len].copy_from_slice(&bytes[start..end]);
                let name = CStr::from_bytes_with_nul(&name[..=len])
                    .map_err(|_| (SubStep::Call, Errno::EINVAL))?;
                match fs::mkdirat(&parent, name, Mode::from_bits_retain(0o755)) {
                    Ok(()) | Err(Errno::EEXIST) => open(&root).map_err(at(SubStep::Open)),
                    Err(e) => Err((SubStep::Call, e)),
                }
            }
            Ok(fd) => Ok(fd),
            // Not ours to judge: the chdir step that follows names the path and the errno.
            Err(_) => return Ok(()),
        };
        close(core::mem::replace(&mut parent, next?));
    }
    close(parent);
    close(root);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::ffi::CString;
    use alloc::format;

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
        st.open_root(&root).unwrap();
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

    #[test]
    fn a_mount_on_the_cached_directory_is_seen_by_the_next_step() {
        // In a thread of its own with a private mount namespace: the tmpfs stays there.
        std::thread::spawn(|| {
            ns::unshare(rawsys::process::CloneFlags::NEWNS).unwrap();
            ns::mount(
                None,
                c"/",
                None,
                MountFlags::REC | MountFlags::PRIVATE,
                None,
            )
            .unwrap();
            let base =
                std::env::temp_dir().join(format!("lp-test-dircache-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&base);
            std::fs::create_dir_all(&base).unwrap();
            let root = CString::new(base.to_str().unwrap()).unwrap();
            let p = |rel: &str| CString::new(format!("{}/{rel}", base.display())).unwrap();
            let (a, b, f) = (p("a"), p("a/b"), p("a/f"));
            let mut st = ChildState::new(-1, -1);
            st.open_root(&root).unwrap();
            st.mkdir(&a, 0o755).unwrap();
            // Resolves (and keeps) the directory a.
            st.mkdir(&b, 0o755).unwrap();
            st.mount(
                Some(c"tmpfs"),
                &a,
                Some(c"tmpfs"),
                MountFlags::empty(),
                None,
            )
            .unwrap();
            // Made in the tmpfs now on a, not in the directory below it.
            st.create_file(&f).unwrap();
            st.leave_root();
            assert!(base.join("a/f").is_file());
            assert!(!base.join("a/b").exists());
            ns::umount2(&a, UnmountFlags::empty()).unwrap();
            assert!(base.join("a/b").is_dir());
            assert!(!base.join("a/f").exists());
            std::fs::remove_dir_all(&base).unwrap();
        })
        .join()
        .unwrap();
    }
}
