//! `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf`: written into a small tmpfs and bound
//! over the rootfs's files (the binds keep its files; `mount` inside lists only the three
//! files). The tmpfs is staged on a free host directory outside the new root (in the child's
//! own mount namespace: the host never sees it), and leaves with the old root at `pivot_root`;
//! where no such directory is free it is staged at `<root>/proc` and detached before the real
//! `/proc` goes there (see [`super::sys::proc`]): a detach of its own waits for an RCU grace
//! period, 0.1-3 ms on a loaded machine. Nothing touches the rootfs except creating the empty
//! mount targets if it lacks them.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rawsys::ns::MountFlags;

use super::{Op, PlanBuilder};
use crate::config::Rootfs;
use crate::error::Error;
use crate::fsutil::{cjoin, lstat, read_file, stat};
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
    let host_staging = host_staging_dir(p);
    let staging = match host_staging {
        Some(dir) => String::from(dir),
        None => format!("{}/proc", p.root),
    };
    p.mount(
        Some("isolate-etc"),
        cjoin(&[&staging])?,
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
        let staged = cjoin(&[&staging, "/", name])?;
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
    if host_staging.is_none() {
        p.push(Op::Detach {
            path: cjoin(&[&staging])?,
        });
    }
    Ok(())
}

/// A host directory for the staging tmpfs that hides nothing the plan uses by host path: not
/// the new root or a directory above it, no bind or overlay source below it (each compared as
/// given and with its symlinks resolved). `None` (stage inside the root) when one of them
/// cannot be resolved.
fn host_staging_dir(p: &PlanBuilder<'_>) -> Option<&'static str> {
    let mut used: Vec<String> = alloc::vec![p.root.clone()];
    used.extend(p.bind_sources.iter().map(|(s, _)| s.clone()));
    used.extend(super::overlay::sources(p.c));
    for m in &p.o.mounts {
        if let crate::config::MountSpec::Mount(m) = m {
            if m.is_bind() {
                used.push(m.source.clone());
            }
        }
    }
    let mut all = used.clone();
    for u in &used {
        all.push(super::mounts::canonical_source(u).ok()?.0);
    }
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    super::rootfs::staging_dir(&all).ok()
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
