//! `/etc/hostname` and `/etc/resolv.conf`: written into a small tmpfs at `<root>/proc`, bound
//! over the rootfs's files, then hidden under the real `/proc` (see [`super::sys::proc`]).
//! Nothing touches the rootfs except creating the two empty mount targets if it lacks them.

use rawsys::ns::MountFlags;

use super::{Op, PlanBuilder};
use crate::config::Rootfs;
use crate::error::Error;
use crate::fsutil::{lstat, read_file, stat};
use crate::net::Network;

/// Creates `<root>/proc` and, when the rootfs has an `/etc`, stages and binds the two files.
pub(super) fn hostname_and_resolv_conf(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    let has_etc = match &p.c.rootfs {
        Rootfs::HostSystem => true,
        Rootfs::Dir(_) => stat(&p.in_root(&["/etc"])?).is_ok_and(|st| st.is_dir()),
        // Not mounted yet: look into the layers.
        Rootfs::Overlay { lower, upper, .. } => {
            super::overlay::layers_have_dir(lower, upper, "etc")
        }
    };
    let proc = p.in_root(&["/proc"])?;
    p.push(Op::Mkdir {
        path: proc.clone(),
        mode: 0o555,
    });
    if !has_etc {
        return Ok(());
    }
    let mut resolv = read_file(c"/etc/resolv.conf").unwrap_or_default();
    if matches!(p.o.network, Network::Bridge(_)) {
        resolv = crate::net::resolv_conf(&resolv);
    }
    p.mount(
        Some("isolate-etc"),
        proc,
        Some("tmpfs"),
        MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        Some("size=64k,mode=755"),
    )?;
    let mut hostname = p.o.hostname.clone().into_bytes();
    hostname.push(b'\n');
    for (name, contents) in [("hostname", hostname), ("resolv.conf", resolv)] {
        let staged = p.in_root(&["/proc/", name])?;
        let target = p.in_root(&["/etc/", name])?;
        // A symlink in a rootfs directory would be followed on the host before pivot_root:
        // leave such files alone.
        let not_a_file = match &p.c.rootfs {
            Rootfs::Dir(_) => lstat(&target).is_ok_and(|st| !st.is_file()),
            Rootfs::Overlay { lower, upper, .. } => {
                let rel = alloc::format!("etc/{name}");
                super::overlay::layer_entry_is_file(lower, upper, &rel) == Some(false)
            }
            Rootfs::HostSystem => false,
        };
        if not_a_file {
            continue;
        }
        p.push(Op::WriteFile {
            path: staged.clone(),
            contents,
        });
        p.bind_file(staged, target);
    }
    Ok(())
}
