//! The root filesystem: an existing directory bound onto itself, or a fresh tmpfs showing the
//! host's system directories read-only; and the `pivot_root` into it.

use alloc::ffi::CString;
use alloc::format;
use alloc::string::String;

use rawsys::ns::MountFlags;

use super::{Op, PlanBuilder};
use crate::config::{Container, HOST_SYSTEM_DIRS, HOST_SYSTEM_GROUP, HOST_SYSTEM_PASSWD, Rootfs};
use crate::error::{ConfigError, Error};
use crate::fsutil::{cjoin, cstring, lstat, readlink, stat};

/// The directory on the host that becomes the root: the rootfs directory (checked to be
/// one), or for [`Rootfs::HostSystem`] a staging directory (see [`staging_dir`]).
pub(super) fn root_dir(c: &Container, bind_sources: &[(String, bool)]) -> Result<String, Error> {
    match &c.rootfs {
        Rootfs::Dir(dir) => {
            let d = cstring("rootfs", dir)?;
            let errno = match stat(&d) {
                Ok(st) if st.is_dir() => return Ok(dir.clone()),
                Ok(_) => rawsys::Errno::ENOTDIR,
                Err(errno) => errno,
            };
            Err(ConfigError::BadRootfs {
                path: dir.clone(),
                errno,
            }
            .into())
        }
        Rootfs::Overlay { .. } | Rootfs::OverlayTmpfs { .. } => {
            super::overlay::check(&c.rootfs)?;
            let extra = super::overlay::sources(c);
            let sources: alloc::vec::Vec<&str> = bind_sources
                .iter()
                .map(|(p, _)| p.as_str())
                .chain(extra.iter().map(String::as_str))
                .collect();
            staging_dir(&sources).map(String::from)
        }
        Rootfs::HostSystem => {
            let sources: alloc::vec::Vec<&str> =
                bind_sources.iter().map(|(p, _)| p.as_str()).collect();
            staging_dir(&sources).map(String::from)
        }
    }
}

/// A directory on the host where the fresh root tmpfs can be mounted (in the child's own mount
/// namespace, so the host never sees it) without hiding any bind mount source.
pub(super) fn staging_dir(sources: &[&str]) -> Result<&'static str, Error> {
    for cand in ["/tmp", "/mnt", "/run", "/media", "/srv", "/opt", "/var/tmp"] {
        let covers = sources
            .iter()
            .any(|s| *s == cand || s.strip_prefix(cand).is_some_and(|r| r.starts_with('/')));
        if covers {
            continue;
        }
        let Ok(c) = cjoin(&[cand]) else { continue };
        if lstat(&c).is_ok_and(|st| st.is_dir()) {
            return Ok(cand);
        }
    }
    Err(Error::Unexpected(
        "no empty-enough host directory (/tmp, /mnt, ...) to stage the root filesystem".into(),
    ))
}

/// Mounts the root, then opens it: from there on, paths below it are resolved inside it
/// (symlinks cannot lead out).
pub(super) fn root(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    match &p.c.rootfs {
        Rootfs::Dir(dir) => {
            // nodev: a device node made inside (CAP_MKNOD is kept) cannot be opened.
            let target = p.in_root(&[])?;
            p.bind(dir, target, MountFlags::NODEV)?;
        }
        Rootfs::Overlay { lower, upper, work } => super::overlay::mount(p, lower, upper, work)?,
        Rootfs::OverlayTmpfs { lower } => super::overlay::mount_tmpfs(p, lower)?,
        Rootfs::HostSystem => host_system(p)?,
    }
    let path = p.in_root(&[])?;
    p.push(Op::OpenRoot { path });
    Ok(())
}

/// A tmpfs with the host's system directories bound read-only (symlinks among them copied),
/// `/etc` with a minimal `passwd` and `group`, `/root`, `/tmp` and `/home`.
fn host_system(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    let target = p.in_root(&[])?;
    p.mount(
        Some("isolate-root"),
        target,
        Some("tmpfs"),
        MountFlags::NOSUID | MountFlags::NODEV,
        Some("mode=755"),
    )?;
    for d in HOST_SYSTEM_DIRS {
        let host = cjoin(&["/", d])?;
        let Ok(st) = lstat(&host) else { continue };
        let inside = p.in_root(&["/", d])?;
        if st.is_symlink() {
            let t = readlink(&host).map_err(|e| Error::host(format!("readlink /{d}"), e))?;
            let t = CString::new(t).map_err(|_| Error::Unexpected("symlink".into()))?;
            p.push(Op::Symlink {
                target: t,
                link: inside,
            });
        } else if st.is_dir() {
            p.push(Op::Mkdir {
                path: inside.clone(),
                mode: 0o755,
            });
            p.bind(
                &format!("/{d}"),
                inside,
                MountFlags::RDONLY | MountFlags::NOSUID,
            )?;
        }
    }
    for (d, mode) in [
        ("etc", 0o755),
        ("root", 0o700),
        ("tmp", 0o1777),
        ("home", 0o755),
    ] {
        let path = p.in_root(&["/", d])?;
        p.push(Op::Mkdir {
            path: path.clone(),
            mode,
        });
        if mode & 0o7022 != 0 {
            p.push(Op::ChmodDir { path, mode });
        }
    }
    p.push(Op::WriteFile {
        path: p.in_root(&["/etc/passwd"])?,
        contents: HOST_SYSTEM_PASSWD.as_bytes().to_vec(),
    });
    p.push(Op::WriteFile {
        path: p.in_root(&["/etc/group"])?,
        contents: HOST_SYSTEM_GROUP.as_bytes().to_vec(),
    });
    Ok(())
}

/// `pivot_root` into the new root, detaching the old one. A read-only root
/// ([`crate::Builder::readonly_rootfs`], [`crate::Builder::read_only_root`]) is remounted next
/// by `overlay::read_only_root`.
pub(super) fn pivot_root(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    let root = p.in_root(&[])?;
    p.push(Op::PivotRoot { root });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_avoids_bind_sources() {
        let s = staging_dir(&["/tmp/x"]).unwrap();
        assert_ne!(s, "/tmp");
    }
}
