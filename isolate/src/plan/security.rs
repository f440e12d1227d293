//! Hardening steps (see [`crate::security`]): masked and read-only kernel paths, capabilities
//! and ids, `no_new_privs`, the descriptors that survive `execve`, and the seccomp filter.

use alloc::string::String;
use alloc::vec::Vec;

use rawsys::seccomp::SockFilter;

use rawsys::RawFd;

use super::{Op, PlanBuilder};
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

/// The bounding set, the user and group to run as, the capabilities kept, `no_new_privs`.
pub(super) fn credentials(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    let o = p.o;
    if !o.privileged {
        p.push(Op::DropBoundingSet {
            keep: o.security.caps.bits(),
        });
    }
    let sets = o.spec.cap_sets.filter(|_| !o.privileged);
    if sets.is_some() && o.user.is_some_and(|(uid, _)| uid != 0) {
        // The permitted set must survive the switch to a non-root user.
        p.push(Op::KeepCaps);
    }
    if let Some((uid, gid)) = o.user {
        // With setgroups denied in the user namespace the list stays as it is (empty).
        if o.security
            .userns
            .as_ref()
            .is_none_or(|ns| !ns.setgroups_denied())
        {
            p.push(Op::SetGroups {
                groups: o.spec.additional_gids.clone(),
            });
        }
        p.push(Op::SetGid { gid });
        p.push(Op::SetUid { uid });
    }
    if let Some(sets) = sets {
        p.push(Op::SetCapabilitySets { sets });
    } else if !o.privileged && o.user.is_none_or(|(uid, _)| uid == 0) {
        p.push(Op::SetCapabilities {
            keep: o.security.caps.bits(),
        });
    }
    if o.spec.no_new_privs {
        p.push(Op::NoNewPrivs);
    }
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
fn filter(p: &PlanBuilder<'_>) -> Result<Option<Vec<SockFilter>>, Error> {
    if let Some(profile) = &p.o.spec.seccomp_profile {
        return Ok(Some(profile.compile()?));
    }
    Ok(
        (!p.o.privileged && p.o.security.seccomp == Seccomp::Default)
            .then(|| crate::security::default_filter(p.o.security.caps)),
    )
}

/// Without `no_new_privs`, installing a filter takes `CAP_SYS_ADMIN`: the filter goes in
/// before the capabilities are dropped (as runc does), and then also filters the last setup
/// steps.
pub(super) fn seccomp_before_credentials(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    if !p.o.spec.no_new_privs {
        if let Some(prog) = filter(p)? {
            p.push(Op::Seccomp { prog });
        }
    }
    Ok(())
}

/// The seccomp filter, the last hardening step (with `no_new_privs`).
pub(super) fn seccomp(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    if p.o.spec.no_new_privs {
        if let Some(prog) = filter(p)? {
            p.push(Op::Seccomp { prog });
        }
    }
    Ok(())
}
