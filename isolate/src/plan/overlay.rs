//! An overlay root filesystem ([`Rootfs::Overlay`]): read-only layers under a writable upper
//! directory, mounted in the child's own mount namespace (the host never sees the mount, and it
//! goes away with the namespace); and the read-only remount of the root (`--read-only`).

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
/// directory, or a kernel without overlayfs.
pub(super) fn check(lower: &[String], upper: &str, work: &str) -> Result<(), Error> {
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
    let dirs = lower
        .iter()
        .map(|l| ("layer", l.as_str()))
        .chain([("upper directory", upper), ("work directory", work)]);
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

/// Whether the topmost layer holding `path` (relative, e.g. `etc/hostname`) has a regular
/// file (`Some(true)`), something else (`Some(false)`), or no layer has it (`None`).
pub(super) fn layer_entry_is_file(lower: &[String], upper: &str, path: &str) -> Option<bool> {
    core::iter::once(upper)
        .chain(lower.iter().map(String::as_str))
        .find_map(|l| {
            let c = cjoin(&[l, "/", path]).ok()?;
            lstat(&c).ok().map(|st| st.is_file())
        })
}

/// Whether some layer has a directory at `path` (relative).
pub(super) fn layers_have_dir(lower: &[String], upper: &str, path: &str) -> bool {
    core::iter::once(upper)
        .chain(lower.iter().map(String::as_str))
        .any(|l| cjoin(&[l, "/", path]).is_ok_and(|c| stat(&c).is_ok_and(|st| st.is_dir())))
}

/// With [`crate::Builder::read_only_root`]: after `pivot_root`, remounts `/` read-only,
/// repeating the flags the root was mounted with (a remount in a user namespace may not clear
/// locked ones).
pub(super) fn read_only_root(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    if !p.o.read_only_root {
        return Ok(());
    }
    let kept = match &p.c.rootfs {
        Rootfs::Dir(dir) => MountFlags::NODEV | crate::security::source_mount_flags(dir),
        Rootfs::Overlay { .. } => OVERLAY_FLAGS,
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
