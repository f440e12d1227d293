//! `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf`: written into a small tmpfs staged at
//! `<root>/proc`, bound over the rootfs's files, then the staging mount is detached (the binds
//! keep its files; `mount` inside lists only the three files) before the real `/proc` goes
//! there (see [`super::sys::proc`]). Nothing touches the rootfs except creating the empty
//! mount targets if it lacks them.

use alloc::format;
use alloc::vec::Vec;

use rawsys::ns::MountFlags;

use super::{Op, PlanBuilder};
use crate::config::Rootfs;
use crate::error::Error;
use crate::fsutil::{lstat, read_file, stat};
use crate::net::Network;

/// Creates `<root>/proc` and, when the rootfs has an `/etc`, stages and binds the three files.
pub(super) fn hostname_and_resolv_conf(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    let has_etc = match &p.c.rootfs {
        Rootfs::HostSystem => true,
        Rootfs::Dir(_) => stat(&p.in_root(&["/etc"])?).is_ok_and(|st| st.is_dir()),
        // Not mounted yet: look into the layers.
        Rootfs::Overlay { .. } | Rootfs::OverlayTmpfs { .. } => {
            super::overlay::layers_have_dir(&p.c.rootfs, "etc")
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
    let hosts = match p.o.network {
        // Sharing the host's network: the host's names, as docker does.
        Network::Host => read_file(c"/etc/hosts").unwrap_or_else(|_| hosts_file(p, None)),
        _ => hosts_file(p, p.handles.address),
    };
    for (name, contents) in [
        ("hostname", hostname),
        ("hosts", hosts),
        ("resolv.conf", resolv),
    ] {
        let staged = p.in_root(&["/proc/", name])?;
        let target = p.in_root(&["/etc/", name])?;
        // A symlink in a rootfs directory would be followed on the host before pivot_root:
        // leave such files alone.
        let not_a_file = match &p.c.rootfs {
            Rootfs::Dir(_) => lstat(&target).is_ok_and(|st| !st.is_file()),
            Rootfs::Overlay { .. } | Rootfs::OverlayTmpfs { .. } => {
                let rel = alloc::format!("etc/{name}");
                super::overlay::layer_entry_is_file(&p.c.rootfs, &rel) == Some(false)
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
    let staging = p.in_root(&["/proc"])?;
    p.push(Op::Detach { path: staging });
    Ok(())
}

/// `/etc/hosts` of a container with its own network: localhost, and the hostname (and the
/// container's name, when it differs) on its bridge address, or on 127.0.1.1 without one (as
/// Debian names its own host).
fn hosts_file(p: &PlanBuilder<'_>, address: Option<[u8; 4]>) -> Vec<u8> {
    let [a, b, c, d] = address.unwrap_or([127, 0, 1, 1]);
    let mut names = p.o.hostname.clone();
    if let Some(n) = p.o.name.as_deref().filter(|n| *n != p.o.hostname) {
        names.push(' ');
        names.push_str(n);
    }
    format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{a}.{b}.{c}.{d}\t{names}\n"
    )
    .into_bytes()
}
