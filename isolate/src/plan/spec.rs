//! Steps for the OCI options ([`crate::spec`]): mounts of any type, sysctls and rlimits.

use alloc::string::String;
use alloc::vec::Vec;

use rawsys::ns::MountFlags;
use rawsys::process::Rlimit;

use super::{Op, PlanBuilder};
use crate::error::Error;
use crate::fsutil::cjoin;
use crate::spec::Mount;

/// One [`Mount`]: the target made (a file for a bind of a file), the mount, a bind remount
/// with the flags a bind ignores, then the propagation.
pub(super) fn mount(p: &mut PlanBuilder<'_>, m: &Mount) -> Result<(), Error> {
    let t = p.in_root(&[&m.destination])?;
    let flags = m.options.flags;
    if m.is_bind() {
        let (src, is_dir) = super::mounts::canonical_source(&m.source)?;
        if is_dir {
            p.mkdir_p(&m.destination)?;
        } else {
            p.mkdir_p(super::mounts::parent_of(&m.destination))?;
            p.push(Op::CreateFile { path: t.clone() });
        }
        p.mount(
            Some(&src),
            t.clone(),
            None,
            MountFlags::BIND | (flags & MountFlags::REC),
            None,
        )?;
        // A bind ignores the other flags: they take a remount, which must repeat the source
        // mount's locked ones.
        let rest = flags - (MountFlags::BIND | MountFlags::REC | MountFlags::REMOUNT);
        if !rest.is_empty() {
            let locked = crate::security::source_mount_flags(&src);
            p.mount(
                None,
                t.clone(),
                None,
                MountFlags::BIND | MountFlags::REMOUNT | rest | locked,
                None,
            )?;
        }
    } else {
        p.mkdir_p(&m.destination)?;
        let data: Vec<&str> = m.options.data.iter().map(String::as_str).collect();
        let data = data.join(",");
        let source = if m.source.is_empty() {
            &m.fstype
        } else {
            &m.source
        };
        p.mount(
            Some(source),
            t.clone(),
            Some(&m.fstype),
            flags,
            (!data.is_empty()).then_some(data.as_str()),
        )?;
    }
    if let Some((prop, rec)) = m.options.propagation {
        let rec = if rec {
            MountFlags::REC
        } else {
            MountFlags::empty()
        };
        p.mount(None, t, None, prop.flag() | rec, None)?;
    }
    Ok(())
}

/// After `pivot_root`, before `/proc/sys` is made read-only: the sysctls, written in the
/// container's own namespaces.
pub(super) fn sysctls(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    if !p.o.spec.sysctls.is_empty() {
        p.open_proc();
    }
    for (key, value) in &p.o.spec.sysctls {
        let path = cjoin(&["sys/", &key.replace('.', "/")])?;
        p.push(Op::Sysctl {
            path,
            value: value.as_bytes().to_vec(),
        });
    }
    Ok(())
}

/// The rlimits, before capabilities are dropped (raising a hard limit needs
/// `CAP_SYS_RESOURCE`).
pub(super) fn rlimits(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    for r in &p.o.spec.rlimits {
        p.push(Op::SetRlimit {
            resource: r.resource,
            limit: Rlimit {
                cur: r.soft,
                max: r.hard,
            },
        });
    }
    Ok(())
}

/// The devices, after the other mounts (so none hides them), before `pivot_root`.
pub(super) fn devices(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    for d in &p.o.spec.devices {
        p.mkdir_p(super::mounts::parent_of(&d.path))?;
        let path = p.in_root(&[&d.path])?;
        p.push(Op::Device {
            path,
            mode: d.kind.mode_bits() | d.file_mode,
            dev: rawsys::fs::makedev(d.major, d.minor),
            uid: d.uid,
            gid: d.gid,
        });
    }
    Ok(())
}

/// Right after the parent-death signal: the namespaces joined by path. Their files are
/// opened here, in the parent, and kept open in the plan until the child has started.
pub(super) fn join_namespaces(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    use rawsys::fs::{self, Mode, OFlags};
    for (kind, path) in &p.o.spec.join_namespaces {
        let c = cjoin(&[path])?;
        let fd = fs::openat(fs::CWD, &c, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).map_err(
            |e| {
                crate::error::ConfigError::BadOption(alloc::format!("namespace path {path}: {e:?}"))
            },
        )?;
        p.push(Op::JoinNamespace {
            fd: fd.as_raw(),
            kind: kind.clone_flag(),
            path: path.clone(),
        });
        p.keep.push(fd);
    }
    Ok(())
}
