//! Hardening steps (see [`crate::security`]): masked and read-only kernel paths, capabilities
//! and ids, `no_new_privs`, the descriptors that survive `execve`, and the seccomp filter.

use alloc::vec::Vec;

use rawsys::RawFd;

use super::{Op, PlanBuilder};
use crate::error::Error;
use crate::fsutil::cjoin;
use crate::security::{MASKED_PATHS, READONLY_PATHS, Seccomp, SystemPaths};

/// After `pivot_root`: hides [`MASKED_PATHS`] and makes [`READONLY_PATHS`] read-only.
pub(super) fn mask_system_paths(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    if p.o.privileged || p.o.security.system_paths != SystemPaths::Masked {
        return Ok(());
    }
    p.push(Op::OpenNull);
    for path in MASKED_PATHS {
        p.push(Op::Mask {
            path: cjoin(&[path])?,
        });
    }
    for path in READONLY_PATHS {
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
    if let Some((uid, gid)) = o.user {
        // With setgroups denied in the user namespace the list stays as it is (empty).
        if o.security
            .userns
            .as_ref()
            .is_none_or(|ns| !ns.setgroups_denied())
        {
            p.push(Op::SetGroups { gid });
        }
        p.push(Op::SetGid { gid });
        p.push(Op::SetUid { uid });
    }
    if !o.privileged && o.user.is_none_or(|(uid, _)| uid == 0) {
        p.push(Op::SetCapabilities {
            keep: o.security.caps.bits(),
        });
    }
    p.push(Op::NoNewPrivs);
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

/// The seccomp filter, the last hardening step.
pub(super) fn seccomp(p: &mut PlanBuilder<'_>) -> Result<(), Error> {
    if !p.o.privileged && p.o.security.seccomp == Seccomp::Default {
        p.push(Op::Seccomp {
            prog: crate::security::default_filter(p.o.security.caps),
        });
    }
    Ok(())
}
