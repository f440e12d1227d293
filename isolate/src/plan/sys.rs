//! The kernel's filesystems: a fresh `/proc`, and `/sys` read-only.

use rawsys::ns::MountFlags;

use super::{Op, PlanBuilder};
use crate::error::Error;
use crate::net::Network;

const NOSUID_NODEV_NOEXEC: MountFlags = MountFlags::NOSUID
    .union(MountFlags::NODEV)
    .union(MountFlags::NOEXEC);

/// A fresh `/proc` on `<root>/proc` (made by [`super::etc`], whose staged files it hides).
pub(super) fn proc(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    let target = p.in_root(&["/proc"])?;
    p.mount(
        Some("proc"),
        target,
        Some("proc"),
        NOSUID_NODEV_NOEXEC,
        None,
    )
}

/// `/sys`, read-only: a fresh sysfs, or the host's bound where sysfs cannot be mounted.
pub(super) fn sysfs(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    let target = p.in_root(&["/sys"])?;
    p.push(Op::Mkdir {
        path: target.clone(),
        mode: 0o555,
    });
    if p.o.security.userns.is_some() && matches!(p.o.network, Network::Host) {
        // Only the owner of the network namespace may mount sysfs: in a user namespace
        // sharing the host's network, the host's /sys is bound read-only instead.
        p.bind("/sys", target, NOSUID_NODEV_NOEXEC | MountFlags::RDONLY)
    } else {
        p.mount(
            Some("sysfs"),
            target,
            Some("sysfs"),
            NOSUID_NODEV_NOEXEC | MountFlags::RDONLY,
            None,
        )
    }
}
