//! The container's `/proc`, trusted once checked (the 2025 runc `/proc` races).
//!
//! After `pivot_root`, every write the child makes below `/proc` and every mount it makes
//! through a `/proc/self/fd/N` path would otherwise be resolved again, by path, through a
//! `/proc` the container's side can have changed: a process sharing the rootfs directory can
//! rename the directory procfs was mounted on out of the way and put a plain directory (or a
//! symlink) in its place (CVE-2025-52881: the runtime's writes land in files of the
//! attacker's choice), and a fake `/proc/self/fd/N` turns a mask's `/dev/null` bind into a
//! bind of whatever the attacker names onto whatever it names (CVE-2025-31133).
//!
//! So [`ChildState::open_proc`] opens `/proc` once without following links and checks it is
//! the root of a procfs (`fstatfs` says `PROC_SUPER_MAGIC`, inode 1); later steps resolve
//! below that descriptor only: sysctl files with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//! RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV` (no link, no mount crossed: the file written is
//! the procfs file named), masked and read-only `/proc` paths beneath it without links, and
//! the mounts' `/proc/self/fd/N` paths relative to its `self/fd` directory (the child
//! `fchdir`s there for the masks' mounts and back to `/` after them), never through the path
//! `/proc`.

use core::ffi::CStr;

use rawsys::fs::{self, CWD, Mode, OFlags, PROC_SUPER_MAGIC, ResolveFlags};
use rawsys::io;
use rawsys::ns::{self, MountFlags};
use rawsys::{Errno, OwnedFd, RawFd};

use super::ChildState;
use super::helpers::{
    PATH_FLAGS, StepResult, SubStep, at, borrowed, close, fd_name, open_nofollow,
};

/// procfs's root inode number (`PROC_ROOT_INO`).
const PROC_ROOT_INO: u64 = 1;

/// How a path below the checked `/proc` is resolved: inside it, no link of any kind.
const BENEATH_NO_LINKS: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS);

/// Whether `fd` is on a procfs.
fn on_procfs(fd: &OwnedFd) -> Result<bool, Errno> {
    Ok(fs::fstatfs(fd)?.f_type == PROC_SUPER_MAGIC)
}

/// Opens the directory `path` (`O_PATH`) without following any link on the way.
fn open_dir_no_links(path: &CStr) -> Result<OwnedFd, Errno> {
    fs::openat2(
        CWD,
        path,
        PATH_FLAGS | OFlags::DIRECTORY | OFlags::NOFOLLOW,
        Mode::empty(),
        ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    )
}

impl ChildState<'_> {
    /// Opens `/proc` (inside, after `pivot_root`) without following links, checks that it is
    /// a procfs root, and opens its `self/fd` beneath it.
    pub(super) fn open_proc(&mut self) -> StepResult {
        let proc = open_dir_no_links(c"/proc").map_err(at(SubStep::Open))?;
        let checked = (|| {
            let ok = on_procfs(&proc)? && fs::fstat(&proc)?.st_ino == PROC_ROOT_INO;
            if !ok {
                return Err(Errno::EXDEV);
            }
            fs::openat2(
                &proc,
                c"self/fd",
                PATH_FLAGS | OFlags::DIRECTORY,
                Mode::empty(),
                ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS | ResolveFlags::NO_XDEV,
            )
        })();
        match checked {
            Ok(fds) => {
                self.proc = proc.into_raw();
                self.fd_dir = fds.into_raw();
                Ok(())
            }
            Err(e) => {
                close(proc);
                Err((SubStep::Verify, e))
            }
        }
    }

    /// Opens a path to mask or make read-only (`O_PATH`, no link followed): one below `/proc`
    /// beneath the checked `/proc`, any other from the root; `None` when it does not exist.
    pub(super) fn open_system_path(&self, path: &CStr) -> Result<Option<OwnedFd>, Errno> {
        let rest = path.to_bytes_with_nul().strip_prefix(b"/proc/");
        let (Some(rest), true) = (rest, self.proc >= 0) else {
            return open_nofollow(path);
        };
        let rest = CStr::from_bytes_with_nul(rest).map_err(|_| Errno::EINVAL)?;
        match fs::openat2(
            borrowed(self.proc),
            rest,
            PATH_FLAGS | OFlags::NOFOLLOW,
            Mode::empty(),
            BENEATH_NO_LINKS,
        ) {
            Ok(f) => Ok(Some(f)),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `mount(2)` of descriptor `source` (if any) onto descriptor `target`, both named as
    /// `N` relative to the checked `/proc`'s `self/fd` (the child's working directory for the
    /// call, `/` again before the next step that is not a mask). Without a source descriptor the filesystem type names the
    /// source, as `mount -t tmpfs tmpfs DIR` does.
    pub(super) fn mount_fds(
        &self,
        source: Option<RawFd>,
        target: RawFd,
        fstype: Option<&CStr>,
        flags: MountFlags,
        data: Option<&CStr>,
    ) -> Result<(), Errno> {
        if self.fd_dir < 0 {
            return Err(Errno::EBADF);
        }
        let (mut sb, mut tb) = ([0u8; 12], [0u8; 12]);
        let source = match source {
            Some(s) => Some(fd_name(s, &mut sb)),
            None => fstype,
        };
        let target = fd_name(target, &mut tb);
        // Consecutive masks share the one fchdir; the step after them goes back to `/`
        // (ChildState::before).
        if !self.in_fd_dir.get() {
            ns::fchdir(borrowed(self.fd_dir))?;
            self.in_fd_dir.set(true);
        }
        ns::mount(source, target, fstype, flags, data)
    }
}

impl ChildState<'_> {
    /// Binds the pty slave `slave` onto `/dev/console` (inside, after the masks, so nothing
    /// it could be redirected onto is still writable: CVE-2025-52565's order). `/dev` is
    /// opened without links; `console` is made there as an empty file unless it exists, and
    /// an existing one must be a regular file or a character device (a symlink is refused);
    /// the bind names both by descriptor ([`ChildState::mount_fds`]).
    pub(super) fn bind_console(&self, slave: RawFd) -> Result<(), Errno> {
        let dev = open_dir_no_links(c"/dev")?;
        let made = fs::openat(
            &dev,
            c"console",
            OFlags::RDONLY | OFlags::CREAT | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_bits_retain(0o600),
        );
        let target = match made {
            Err(Errno::EEXIST) => fs::openat(
                &dev,
                c"console",
                PATH_FLAGS | OFlags::NOFOLLOW,
                Mode::empty(),
            )
            .and_then(|f| {
                let st = fs::fstat(&f)?;
                if st.is_file() || st.file_type() == 0o020000 {
                    Ok(f)
                } else {
                    close(f);
                    Err(Errno::ELOOP)
                }
            }),
            other => other,
        };
        close(dev);
        let target = target?;
        let r = self.mount_fds(Some(slave), target.as_raw(), None, MountFlags::BIND, None);
        close(target);
        r
    }
}

/// Writes `value` to the sysctl file `path` (relative to the checked `/proc`, e.g.
/// `sys/net/ipv4/ip_forward`): opened beneath it without links or mount crossings, checked
/// to be a procfs file.
pub(super) fn write_sysctl(st: &ChildState<'_>, path: &CStr, value: &[u8]) -> StepResult {
    if st.proc < 0 {
        return Err((SubStep::Open, Errno::EBADF));
    }
    let f = fs::openat2(
        borrowed(st.proc),
        path,
        OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
        BENEATH_NO_LINKS | ResolveFlags::NO_XDEV,
    )
    .map_err(at(SubStep::Open))?;
    let r = match on_procfs(&f) {
        Ok(true) => match io::write(&f, value) {
            Ok(n) if n == value.len() => Ok(()),
            Ok(_) => Err((SubStep::Write, Errno::EIO)),
            Err(e) => Err((SubStep::Write, e)),
        },
        Ok(false) => Err((SubStep::Verify, Errno::EXDEV)),
        Err(e) => Err((SubStep::Verify, e)),
    };
    close(f);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_procfs_root_is_taken_for_proc() {
        // This process's root has the host's /proc: it is taken, and a sysctl below it opens.
        let mut st = ChildState::new(-1, -1);
        st.open_proc().unwrap();
        assert!(st.proc >= 0 && st.fd_dir >= 0);
        let f = st.open_system_path(c"/proc/sys/kernel").unwrap().unwrap();
        assert!(on_procfs(&f).unwrap());
        assert!(
            st.open_system_path(c"/proc/lp-test-none")
                .unwrap()
                .is_none()
        );
        // A link below /proc is refused (self is one).
        assert_eq!(
            st.open_system_path(c"/proc/self/status")
                .map(|f| f.is_some()),
            Err(Errno::ELOOP)
        );
        // SAFETY: both descriptors were opened by open_proc and are owned by this test.
        unsafe {
            close(OwnedFd::from_raw(st.proc));
            close(OwnedFd::from_raw(st.fd_dir));
        }
    }
}
