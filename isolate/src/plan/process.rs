//! The process's own steps: the first ones (parent-death signal, user namespace, `lo`,
//! cgroup, private mounts), hostname, standard descriptors, working directory, signals, and
//! the last wait for the network.

use rawsys::RawFd;

use super::{Op, PlanBuilder};
use crate::config::Stdio;
use crate::error::Error;
use crate::fsutil::cjoin;
use crate::net::Network;

/// What the child does first: the parent-death signal, the wait for the id maps of a new
/// user namespace, `lo` up in a new network namespace, joining the cgroup (and unsharing the
/// cgroup namespace), and making mount propagation private.
pub(super) fn start(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    p.push(Op::ParentDeathSignal);
    super::spec::join_namespaces(p)?;
    if let (Some((read, write)), Some(ns)) = (p.handles.id_maps, &p.o.security.userns) {
        p.push(Op::WaitForIdMaps {
            read,
            write,
            drop_groups: !ns.setgroups_denied(),
        });
    }
    if !matches!(p.o.network, Network::Host) {
        p.push(Op::LoopbackUp);
    }
    let procs = p.handles.cgroup_procs;
    for (fd, path) in procs {
        p.push(Op::JoinCgroup {
            fd: *fd,
            path: path.clone(),
        });
    }
    if !procs.is_empty() && !crate::spec_more::shares(p.o, crate::spec::NamespaceKind::Cgroup) {
        p.push(Op::UnshareCgroupNs);
    }
    match p.o.spec.root_propagation {
        crate::spec::Propagation::Private => p.push(Op::MakePrivate),
        prop => p.mount(
            None,
            cjoin(&["/"])?,
            None,
            rawsys::ns::MountFlags::REC | prop.flag(),
            None,
        )?,
    }
    Ok(())
}

/// The hostname (UTS namespace).
pub(super) fn hostname(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    // A shared UTS namespace is the caller's: its names stay.
    if crate::spec_more::shares(p.o, crate::spec::NamespaceKind::Uts) {
        return Ok(());
    }
    p.push(Op::SetHostname {
        name: p.o.hostname.clone().into_bytes(),
    });
    if let Some(d) = &p.o.spec.domainname {
        p.push(Op::SetDomainname {
            name: d.clone().into_bytes(),
        });
    }
    Ok(())
}

/// Standard descriptors the caller chose.
pub(super) fn stdio(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    for (i, s) in p.o.stdio.iter().enumerate() {
        if let Stdio::Fd(fd) = s {
            p.push(Op::Dup {
                from: fd.as_raw(),
                to: i as RawFd,
            });
        }
    }
    Ok(())
}

/// With a terminal, after the standard descriptors (it replaces them) and the masks: a new
/// session and a pty of the container's `/dev/pts`, bound onto `/dev/console` through the
/// checked `/proc`, its master sent to the parent.
pub(super) fn terminal(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    if let Some(socket) = p.handles.terminal {
        p.open_proc();
        p.push(Op::Terminal {
            socket,
            console: true,
        });
    }
    Ok(())
}

/// When asked ([`crate::Builder::create_working_dir`]), a working directory the rootfs lacks is
/// created (as root, before the credentials change, as docker does for `-w`); `/` needs
/// nothing.
pub(super) fn create_working_dir(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    if !p.o.create_workdir || p.o.workdir.trim_matches('/').is_empty() {
        return Ok(());
    }
    p.push(Op::MakeDirs {
        path: cjoin(&[&p.o.workdir])?,
    });
    Ok(())
}

/// The working directory (resolved inside the new root).
pub(super) fn working_dir(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    p.push(Op::Chdir {
        path: cjoin(&[&p.o.workdir])?,
    });
    Ok(())
}

/// Default signal dispositions and an empty mask for the command.
pub(super) fn reset_signals(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    p.push(Op::ResetSignals);
    Ok(())
}

/// With a bridge, the last step: wait until the parent has connected the network.
pub(super) fn wait_for_network(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    if let Some(fd) = p.handles.network_ready {
        p.push(Op::WaitParent { fd });
    }
    Ok(())
}
