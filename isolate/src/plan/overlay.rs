//! An overlay root filesystem ([`Rootfs::Overlay`]): read-only layers under a writable upper
//! directory, mounted in the child's own mount namespace (the host never sees the mount, and it
//! goes away with the namespace); with [`Rootfs::OverlayTmpfs`] the upper directory is in a
//! tmpfs mounted there first; and the read-only remount of the root (`--read-only`).

use alloc::string::String;
use alloc::vec::Vec;

use rawsys::ns::MountFlags;

use super::{Op, PlanBuilder};
use crate::config::{Rootfs, overlay_options};
use crate::error::{ConfigError, Error};
use crate::fsutil::{cjoin, cstring, lstat, read_file, stat};

/// The flags of the overlay mount: `nodev` as for a directory rootfs (a device node made
/// inside cannot be opened; `/dev` is a tmpfs of its own).
const OVERLAY_FLAGS: MountFlags = MountFlags::NODEV;

/// Checks, in the parent, what would make the mount fail with a bare errno: a missing
/// directory (a layer, or the upper or work directory), or a kernel without overlayfs.
pub(super) fn check(rootfs: &Rootfs) -> Result<(), Error> {
    let fs = read_file(c"/proc/filesystems").unwrap_or_default();
    let known = fs
        .split(|b| *b == b'\n')
        .any(|line| line.split(|b| *b == b'\t').any(|w| w == b"overlay"));
    if !known {
        return Err(ConfigError::Overlay(
            "the kernel has no overlay filesystem (not in /proc/filesystems; try modprobe overlay)"
                .into(),
        )
        .into());
    }
    let (lower, upper_work): (&[String], _) = match rootfs {
        Rootfs::Overlay { lower, upper, work } => (lower, Some((upper, work))),
        Rootfs::OverlayTmpfs { lower } => (lower, None),
        _ => (&[], None),
    };
    let dirs = lower.iter().map(|l| ("layer", l.as_str())).chain(
        upper_work
            .into_iter()
            .flat_map(|(u, w)| [("upper directory", u.as_str()), ("work directory", w)]),
    );
    for (what, d) in dirs {
        let errno = match stat(&cstring("overlay directory", d)?) {
            Ok(st) if st.is_dir() => continue,
            Ok(_) => rawsys::Errno::ENOTDIR,
            Err(e) => e,
        };
        return Err(ConfigError::Overlay(alloc::format!("{what} {d}: {errno:?}")).into());
    }
    Ok(())
}

/// The host directories an overlay root reads from (kept out of the staging directory).
pub(super) fn sources(c: &crate::Container) -> Vec<String> {
    match &c.rootfs {
        Rootfs::Overlay { lower, upper, work } => {
            let mut v = lower.clone();
            v.push(upper.clone());
            v.push(work.clone());
            v
        }
        Rootfs::OverlayTmpfs { lower } => lower.clone(),
        _ => Vec::new(),
    }
}

/// Mounts the overlay on the staging directory that becomes the root.
pub(super) fn mount(
    p: &mut PlanBuilder<'_>,
    lower: &[String],
    upper: &str,
    work: &str,
) -> Result<(), Error> {
    let target = p.in_root(&[])?;
    let mut data = overlay_options(lower, upper, work);
    if p.o.overlay_volatile {
        data.push_str(",volatile");
    }
    p.mount(
        Some("overlay"),
        target,
        Some("overlay"),
        OVERLAY_FLAGS,
        Some(&data),
    )
}

/// Mounts a tmpfs on the staging directory, makes `upper` and `work` in it, and mounts the
/// overlay over it (the option paths are resolved before the overlay covers them): the
/// overlay keeps the tmpfs (its upper layer) alive though hidden, and both go with the mount
/// namespace, freed by the kernel when the container ends.
pub(super) fn mount_tmpfs(p: &mut PlanBuilder<'_>, lower: &[String]) -> Result<(), Error> {
    let target = p.in_root(&[])?;
    p.mount(
        Some("isolate-upper"),
        target.clone(),
        Some("tmpfs"),
        OVERLAY_FLAGS,
        Some("mode=755"),
    )?;
    for (d, mode) in [("/upper", 0o755), ("/work", 0o700)] {
        let path = p.in_root(&[d])?;
        p.push(Op::Mkdir { path, mode });
    }
    let upper = alloc::format!("{}/upper", p.root);
    let work = alloc::format!("{}/work", p.root);
    mount(p, lower, &upper, &work)
}

/// The host directories of an overlay root's layers, the upper one first (empty for any
/// other root, and a tmpfs upper has none yet).
fn layers(rootfs: &Rootfs) -> impl Iterator<Item = &str> {
    let (upper, lower): (Option<&str>, &[String]) = match rootfs {
        Rootfs::Overlay { lower, upper, .. } => (Some(upper), lower),
        Rootfs::OverlayTmpfs { lower } => (None, lower),
        _ => (None, &[]),
    };
    upper.into_iter().chain(lower.iter().map(String::as_str))
}

/// Whether the topmost layer holding `path` (relative, e.g. `etc/hostname`) has a regular
/// file (`Some(true)`), something else (`Some(false)`), or no layer has it (`None`).
pub(super) fn layer_entry_is_file(rootfs: &Rootfs, path: &str) -> Option<bool> {
    layers(rootfs).find_map(|l| {
        let c = cjoin(&[l, "/", path]).ok()?;
        lstat(&c).ok().map(|st| st.is_file())
    })
}

/// Whether some layer has a directory at `path` (relative).
pub(super) fn layers_have_dir(rootfs: &Rootfs, path: &str) -> bool {
    layers(rootfs)
        .any(|l| cjoin(&[l, "/", path]).is_ok_and(|c| stat(&c).is_ok_and(|st| st.is_dir())))
}

/// With [`crate::Builder::read_only_root`] or [`crate::Builder::readonly_rootfs`]: after `pivot_root`, remounts `/` read-only,
/// repeating the flags the root was mounted with (a remount in a user namespace may not clear
/// locked ones).
pub(super) fn read_only_root(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    // Two builder settings ask for it: `read_only_root` (container's `--read-only`) and the
    // OCI `root.readonly` (`readonly_rootfs`).
    if !p.o.read_only_root && !p.o.spec.readonly_rootfs {
        return Ok(());
    }
    let kept = match &p.c.rootfs {
        Rootfs::Dir(dir) => MountFlags::NODEV | crate::security::source_mount_flags(dir),
        Rootfs::Overlay { .. } | Rootfs::OverlayTmpfs { .. } => OVERLAY_FLAGS,
        Rootfs::HostSystem => MountFlags::NOSUID | MountFlags::NODEV,
    };
    p.push(Op::Mount {
        source: None,
        target: cjoin(&["/"])?,
        fstype: None,
        flags: MountFlags::BIND | MountFlags::REMOUNT | MountFlags::RDONLY | kept,
        data: None,
    });
    Ok(())
}
