//! The child's hardening steps (see [`crate::security`]): the user namespace's ids,
//! capabilities, masked and read-only kernel paths, and which descriptors survive `execve`.

use rawsys::fs::{self, CWD, Mode, ResolveFlags};
use rawsys::io::{self, CloseRangeFlags};
use rawsys::ns::MountFlags;
use rawsys::process::{self, CapSet, Capabilities, Capability};
use rawsys::{Errno, OwnedFd, RawFd};

use super::ChildState;
use super::helpers::{PATH_FLAGS, StepResult, SubStep, at, borrowed, close};

/// At most this many descriptors can be passed to the command.
pub(crate) const MAX_PASSED_FDS: usize = 64;

/// Closes our copy of `write`, waits for the parent's byte on `read` (the id maps are
/// written), then becomes root of the namespace.
pub(super) fn wait_for_id_maps(read: RawFd, write: RawFd, drop_groups: bool) -> StepResult {
    // SAFETY: the child's copy of the write end is owned by nobody else here.
    close(unsafe { OwnedFd::from_raw(write) });
    let mut b = [0u8; 1];
    loop {
        match io::read(borrowed(read), &mut b) {
            Ok(1) => break,
            Ok(_) => return Err((SubStep::WaitForParent, Errno::EPIPE)),
            Err(Errno::EINTR) => {}
            Err(e) => return Err((SubStep::WaitForParent, e)),
        }
    }
    // The caller's ids may be unmapped inside (a range map run by root): become root of the
    // namespace, which every map has.
    if drop_groups {
        process::setgroups(&[]).map_err(at(SubStep::SetGroups))?;
    }
    process::setresgid(0, 0, 0).map_err(at(SubStep::SetGid))?;
    process::setresuid(0, 0, 0).map_err(at(SubStep::SetUid))
}

/// Drops every capability outside `keep` from the bounding set.
pub(super) fn drop_bounding_set(keep: u64) -> StepResult {
    for n in 0..64u8 {
        if keep & (1u64 << n) != 0 {
            continue;
        }
        let Some(cap) = Capability::from_raw(n.into()) else {
            break;
        };
        match process::capbset_drop(cap) {
            Ok(()) => {}
            // Past the running kernel's last capability.
            Err(Errno::EINVAL) => break,
            Err(e) => return Err((SubStep::DropBounding(n), e)),
        }
    }
    Ok(())
}

/// Leaves `keep` (of what is permitted) effective and permitted, nothing inheritable or
/// ambient.
pub(super) fn set_capabilities(keep: u64) -> StepResult {
    match process::ambient_clear_all() {
        Ok(()) | Err(Errno::EINVAL) => {}
        Err(e) => return Err((SubStep::ClearAmbient, e)),
    }
    let cur = process::capget(0).map_err(at(SubStep::ReadCapabilities))?;
    let set = CapSet::from_bits(cur.permitted.bits() & keep);
    process::capset(&Capabilities {
        effective: set,
        permitted: set,
        inheritable: CapSet::empty(),
    })
    .map_err(at(SubStep::SetCapabilities))
}

/// `capset` with the effective, permitted and inheritable sets (after `setresuid`), then raises
/// each ambient capability.
pub(super) fn set_capability_sets(sets: &crate::spec::CapabilitySets) -> StepResult {
    match process::ambient_clear_all() {
        Ok(()) | Err(Errno::EINVAL) => {}
        Err(e) => return Err((SubStep::ClearAmbient, e)),
    }
    process::capset(&Capabilities {
        effective: sets.effective,
        permitted: sets.permitted,
        inheritable: sets.inheritable,
    })
    .map_err(at(SubStep::SetCapabilities))?;
    for n in 0..64u8 {
        if sets.ambient.bits() & (1u64 << n) == 0 {
            continue;
        }
        let Some(cap) = Capability::from_raw(n.into()) else {
            break;
        };
        process::ambient_raise(cap).map_err(at(SubStep::RaiseAmbient(n)))?;
    }
    Ok(())
}

impl ChildState<'_> {
    /// Opens `/dev/null` without following links and checks that it is the null device.
    pub(super) fn open_null(&mut self) -> StepResult {
        let fd = fs::openat2(
            CWD,
            c"/dev/null",
            PATH_FLAGS,
            Mode::empty(),
            ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        )
        .map_err(at(SubStep::Open))?;
        let st = fs::fstat(&fd).map_err(at(SubStep::Verify))?;
        if st.file_type() != 0o020000 || st.st_rdev != fs::makedev(1, 3) {
            return Err((SubStep::Verify, Errno::ENODEV));
        }
        self.null = fd.into_raw();
        Ok(())
    }

    /// Hides `path`: the verified `/dev/null` over a file, an empty read-only tmpfs over a
    /// directory. A missing path is skipped. The path is opened without links (below `/proc`
    /// beneath the checked `/proc`) and both ends of the mount are descriptors, so nothing is
    /// resolved again by path (CVE-2025-31133).
    pub(super) fn mask(&self, path: &core::ffi::CStr) -> StepResult {
        let Some(t) = self.open_system_path(path).map_err(at(SubStep::Open))? else {
            return Ok(());
        };
        let st = fs::fstat(&t).map_err(at(SubStep::Open))?;
        let r = if st.is_dir() {
            self.mount_fds(
                None,
                t.as_raw(),
                Some(c"tmpfs"),
                MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
                Some(c"size=0,mode=000"),
            )
        } else {
            self.mount_fds(Some(self.null), t.as_raw(), None, MountFlags::BIND, None)
        };
        close(t);
        r.map_err(at(SubStep::Mount))
    }

    /// Makes `path` read-only: bound onto itself, then remounted read-only (and nosuid,
    /// nodev, noexec). A missing path is skipped. Opened and mounted as [`Self::mask`] does.
    pub(super) fn read_only(&self, path: &core::ffi::CStr) -> StepResult {
        let Some(t) = self.open_system_path(path).map_err(at(SubStep::Open))? else {
            return Ok(());
        };
        let r = self.mount_fds(
            Some(t.as_raw()),
            t.as_raw(),
            None,
            MountFlags::BIND | MountFlags::REC,
            None,
        );
        close(t);
        r.map_err(at(SubStep::BindOntoItself))?;
        // The bind is on top now: open the path again to reach it.
        let Some(t) = self.open_system_path(path).map_err(at(SubStep::Reopen))? else {
            return Err((SubStep::Reopen, Errno::ENOENT));
        };
        let r = self.mount_fds(
            None,
            t.as_raw(),
            None,
            MountFlags::BIND
                | MountFlags::REMOUNT
                | MountFlags::RDONLY
                | MountFlags::NOSUID
                | MountFlags::NODEV
                | MountFlags::NOEXEC,
            None,
        );
        close(t);
        r.map_err(at(SubStep::Remount))
    }

    /// Places `fds` at 3, 4, ... (without close-on-exec), first moving the child's own pipes
    /// out of the way.
    pub(super) fn pass_fds(&mut self, fds: &[RawFd]) -> StepResult {
        let n = fds.len();
        if n > MAX_PASSED_FDS {
            return Err((SubStep::PassFd(0), Errno::EMFILE));
        }
        let above = 3 + n as i32;
        // Our own pipes must not be overwritten by the passed descriptors.
        for slot in [&mut self.err_fd, &mut self.status_fd] {
            if *slot >= 0 && *slot < above {
                let moved = io::fcntl_dupfd_cloexec(borrowed(*slot), above)
                    .map_err(at(SubStep::MovePipes))?;
                *slot = moved.into_raw();
            }
        }
        // First copy every source above the target range, then place the copies.
        let mut tmp = [-1; MAX_PASSED_FDS];
        for (i, f) in fds.iter().enumerate() {
            tmp[i] = io::fcntl_dupfd_cloexec(borrowed(*f), above)
                .map_err(at(SubStep::PassFd(i as u8)))?
                .into_raw();
        }
        for (i, t) in tmp.iter().take(n).enumerate() {
            io::dup3(borrowed(*t), 3 + i as i32, io::DupFlags::empty())
                .map(|f| {
                    let _ = f.into_raw();
                })
                .map_err(at(SubStep::PassFd(i as u8)))?;
        }
        Ok(())
    }
}

/// Marks every descriptor from `first` on close-on-exec.
pub(super) fn close_fds(first: u32) -> StepResult {
    // SAFETY: with CLOEXEC nothing is closed now; the descriptors close at execve, when
    // nothing of this process uses them any more.
    unsafe { io::close_range(first, u32::MAX, CloseRangeFlags::CLOEXEC) }.map_err(at(SubStep::Call))
}
