//! Hardening steps (see [`crate::security`]): masked and read-only kernel paths, capabilities
//! and ids, `no_new_privs`, the descriptors that survive `execve`, and the seccomp filter.

use alloc::string::String;
use alloc::vec::Vec;

use rawsys::seccomp::SockFilter;

use rawsys::RawFd;

use super::{Op, PlanBuilder};
use crate::config::Options;
use crate::error::Error;
use crate::fsutil::cjoin;
use crate::security::{MASKED_PATHS, READONLY_PATHS, Seccomp, SystemPaths};

/// After `pivot_root`: hides [`MASKED_PATHS`] and makes [`READONLY_PATHS`] read-only, or
/// the lists the builder gave instead (those apply even when the defaults are off).
pub(super) fn mask_system_paths(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    let defaults = !p.o.privileged && p.o.security.system_paths == SystemPaths::Masked;
    let spec = &p.o.spec;
    let masked: Vec<&str> = match &spec.masked_paths {
        Some(list) => list.iter().map(String::as_str).collect(),
        None if defaults => MASKED_PATHS.to_vec(),
        None => Vec::new(),
    };
    let readonly: Vec<&str> = match &spec.readonly_paths {
        Some(list) => list.iter().map(String::as_str).collect(),
        None if defaults => READONLY_PATHS.to_vec(),
        None => Vec::new(),
    };
    if !masked.is_empty() || !readonly.is_empty() {
        p.open_proc();
    }
    if !masked.is_empty() {
        p.push(Op::OpenNull);
    }
    for path in masked {
        p.push(Op::Mask {
            path: cjoin(&[path])?,
        });
    }
    for path in readonly {
        p.push(Op::ReadOnly {
            path: cjoin(&[path])?,
        });
    }
    Ok(())
}

/// The hardening a process of the container gets before `execve`, kept in the lifecycle's
/// record so that a process joining the container later ([`crate::lifecycle::ExecProcess`])
/// gets the same by default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Credentials {
    /// The capabilities kept: the bounding set and, for a root user, the effective and
    /// permitted sets (`None`: privileged, nothing dropped).
    pub(crate) keep: Option<u64>,
    /// Every set exactly (OCI `process.capabilities`), instead of `keep`'s sets.
    pub(crate) sets: Option<crate::spec::CapabilitySets>,
    /// `PR_SET_NO_NEW_PRIVS`.
    pub(crate) no_new_privs: bool,
    /// The compiled seccomp filter, if any.
    pub(crate) seccomp: Option<Vec<SockFilter>>,
    /// Whether `setgroups(2)` is allowed (not in a user namespace that denies it).
    pub(crate) set_groups: bool,
}

/// The container's [`Credentials`].
pub(crate) fn container_credentials(o: &Options) -> Result<Credentials, Error> {
    Ok(Credentials {
        keep: (!o.privileged).then(|| o.security.caps.bits()),
        sets: o.spec.cap_sets.filter(|_| !o.privileged),
        no_new_privs: o.spec.no_new_privs,
        seccomp: filter(o)?,
        set_groups: o
            .security
            .userns
            .as_ref()
            .is_none_or(|ns| !ns.setgroups_denied()),
    })
}

/// The bounding set, the user and group to run as (with these supplementary groups), the
/// capabilities kept, `no_new_privs`.
pub(crate) fn push_identity(
    ops: &mut Vec<Op>,
    cred: &Credentials,
    user: Option<(u32, u32)>,
    groups: Vec<u32>,
) {
    if let Some(keep) = cred.keep {
        ops.push(Op::DropBoundingSet { keep });
    }
    if cred.sets.is_some() && user.is_some_and(|(uid, _)| uid != 0) {
        // The permitted set must survive the switch to a non-root user.
        ops.push(Op::KeepCaps);
    }
    if let Some((uid, gid)) = user {
        // With setgroups denied in the user namespace the list stays as it is (empty).
        if cred.set_groups {
            ops.push(Op::SetGroups { groups });
        }
        ops.push(Op::SetGid { gid });
        ops.push(Op::SetUid { uid });
    }
    if let Some(sets) = cred.sets {
        ops.push(Op::SetCapabilitySets { sets });
    } else if let Some(keep) = cred.keep.filter(|_| user.is_none_or(|(uid, _)| uid == 0)) {
        ops.push(Op::SetCapabilities { keep });
    }
    if cred.no_new_privs {
        ops.push(Op::NoNewPrivs);
    }
}

/// Without `no_new_privs`, installing a filter takes `CAP_SYS_ADMIN`: the filter goes in
/// before the capabilities are dropped (as runc does), and then also filters the last setup
/// steps.
pub(crate) fn push_seccomp_first(ops: &mut Vec<Op>, cred: &Credentials) {
    if let (false, Some(prog)) = (cred.no_new_privs, &cred.seccomp) {
        ops.push(Op::Seccomp { prog: prog.clone() });
    }
}

/// The seccomp filter as the last hardening step (with `no_new_privs`).
pub(crate) fn push_seccomp_last(ops: &mut Vec<Op>, cred: &Credentials) {
    if let (true, Some(prog)) = (cred.no_new_privs, &cred.seccomp) {
        ops.push(Op::Seccomp { prog: prog.clone() });
    }
}

/// The bounding set, the user and group to run as, the capabilities kept, `no_new_privs`.
pub(super) fn credentials(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    let cred = container_credentials(p.o)?;
    push_identity(
        &mut p.ops,
        &cred,
        p.o.user,
        p.o.spec.additional_gids.clone(),
    );
    Ok(())
}

/// Descriptors passed to the command at 3, 4, ...; every other one above 2 closes at
/// `execve`.
pub(super) fn descriptors(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    let passed: Vec<RawFd> = p.o.security.pass_fds.iter().map(|f| f.as_raw()).collect();
    let first = 3 + passed.len() as u32;
    if !passed.is_empty() {
        p.push(Op::PassFds { fds: passed });
    }
    p.push(Op::CloseFds { first });
    Ok(())
}

/// The seccomp filter: the builder's profile, else the default one (unless turned off).
fn filter(o: &Options) -> Result<Option<Vec<SockFilter>>, Error> {
    if let Some(profile) = &o.spec.seccomp_profile {
        return Ok(Some(profile.compile()?));
    }
    Ok((!o.privileged && o.security.seccomp == Seccomp::Default)
        .then(|| crate::security::default_filter(o.security.caps)))
}

/// The seccomp filter before the credentials, without `no_new_privs` (see
/// [`push_seccomp_first`]).
pub(super) fn seccomp_before_credentials(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    if !p.o.spec.no_new_privs {
        let cred = container_credentials(p.o)?;
        push_seccomp_first(&mut p.ops, &cred);
    }
    Ok(())
}

/// The seccomp filter, the last hardening step (with `no_new_privs`).
pub(super) fn seccomp(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    if p.o.spec.no_new_privs {
        let cred = container_credentials(p.o)?;
        push_seccomp_last(&mut p.ops, &cred);
    }
    Ok(())
}
