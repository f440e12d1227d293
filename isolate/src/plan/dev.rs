//! `/dev`: a tmpfs with the basic devices bound from the host (their modes are right and no
//! `CAP_MKNOD` is needed), devpts, shm and the usual links.

use rawsys::ns::MountFlags;

use super::{Op, PlanBuilder};
use crate::error::Error;
use crate::fsutil::{cjoin, stat};

/// The host devices bound into the container's `/dev` (those the host has).
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// The links of `/dev` and their targets.
const LINKS: [(&str, &str); 5] = [
    ("ptmx", "pts/ptmx"),
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

/// Builds `/dev`.
pub(super) fn dev(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    let dev = p.in_root(&["/dev"])?;
    p.push(Op::Mkdir {
        path: dev.clone(),
        mode: 0o755,
    });
    p.mount(
        Some("isolate-dev"),
        dev,
        Some("tmpfs"),
        // nodev: the bound device files are mounts of their own; a node made here with
        // CAP_MKNOD cannot be opened.
        MountFlags::NOSUID | MountFlags::NOEXEC | MountFlags::NODEV,
        Some("mode=755,size=64k"),
    )?;
    for d in DEVICES {
        let host = cjoin(&["/dev/", d])?;
        if stat(&host).is_err() {
            continue;
        }
        let inside = p.in_root(&["/dev/", d])?;
        p.bind_file(host, inside);
    }
    for (d, mode) in [("pts", 0o755), ("shm", 0o1777)] {
        let path = p.in_root(&["/dev/", d])?;
        p.push(Op::Mkdir { path, mode });
    }
    let pts = p.in_root(&["/dev/pts"])?;
    p.mount(
        Some("devpts"),
        pts,
        Some("devpts"),
        MountFlags::NOSUID | MountFlags::NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )?;
    let shm = p.in_root(&["/dev/shm"])?;
    p.mount(
        Some("shm"),
        shm,
        Some("tmpfs"),
        MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        Some("mode=1777,size=64m"),
    )?;
    for (link, target) in LINKS {
        p.push(Op::Symlink {
            target: cjoin(&[target])?,
            link: p.in_root(&["/dev/", link])?,
        });
    }
    Ok(())
}
