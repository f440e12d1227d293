//! The child side: after `clone`, walk the prepared [`Plan`] issuing raw system calls only.
//!
//! Nothing here allocates, takes a lock or can panic: the child is a copy of a possibly
//! multi-threaded parent whose other threads' locks are frozen in whatever state they were.
//! A failure is written to the error pipe as a [`Report`] (step index, [`SubStep`], errno) and
//! the child exits; a successful `execve` closes the pipe (it is close-on-exec), which the
//! parent reads as "started".
//!
//! [`run_op`] maps each [`Op`] to its system calls, grouped by area: files and mounts
//! ([`fs`]), hardening ([`security`]), the process ([`process`]), the network ([`net`]), and
//! the final `execve` ([`exec`]). [`helpers`] holds what they share.

mod exec;
mod fs;
mod helpers;
mod join;
mod net;
mod process;
mod procfs;
mod security;

use core::cell::Cell;
use core::ffi::CStr;

use rawsys::RawFd;
use rawsys::io;
use rawsys::ns::{self, MountFlags};
use rawsys::process::CloneFlags;
use rawsys::signal::Signal;

use crate::plan::{Op, Plan};

pub(crate) use helpers::{Report, SubStep};
pub(crate) use security::MAX_PASSED_FDS;

use helpers::{StepResult, at, borrowed, fail};

/// What the child keeps between steps.
#[derive(Debug)]
pub(crate) struct ChildState<'a> {
    /// The new root's path and an `O_PATH` descriptor for it, once opened.
    root: Option<(&'a CStr, RawFd)>,
    /// The verified `/dev/null`.
    null: RawFd,
    /// The container's `/proc`, checked to be a procfs root (see [`procfs`]); -1 until
    /// opened.
    proc: RawFd,
    /// Its `self/fd` directory: where the mounts of descriptors name them.
    fd_dir: RawFd,
    /// Where failures are reported (moved out of the way of passed descriptors).
    err_fd: RawFd,
    /// The init's status pipe (-1 without init).
    status_fd: RawFd,
    /// Whether the process outlives its creator (a lifecycle `create`): no parent-death
    /// signal then.
    detached: bool,
    /// The directory below the root that [`ChildState::at`] resolved last: its path
    /// relative to the root and an `O_PATH` descriptor. Consecutive steps in one directory
    /// (the devices in `/dev`, the hierarchies in `/sys/fs/cgroup`) use it instead of
    /// resolving it again; it is forgotten when a mount could change what the path names
    /// and before any step that is not a file step below the root.
    dir: Cell<Option<(&'a [u8], RawFd)>>,
    /// Whether the working directory is the checked `/proc`'s `self/fd` (the masks' mounts
    /// name descriptors relative to it); `/` again before any other step.
    in_fd_dir: Cell<bool>,
}

impl ChildState<'_> {
    /// The state before the first step: no root opened yet.
    fn new(err_fd: RawFd, status_fd: RawFd) -> Self {
        ChildState {
            root: None,
            null: -1,
            proc: -1,
            fd_dir: -1,
            err_fd,
            status_fd,
            detached: false,
            dir: Cell::new(None),
            in_fd_dir: Cell::new(false),
        }
    }
}

/// Where the child stops before `execve` when the container is created now and started
/// later (see [`crate::lifecycle`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct StartGate {
    /// The start FIFO, opened read-write by the parent (so that opening it never blocks and
    /// a read waits for data rather than seeing end-of-file), close-on-exec, above every
    /// descriptor the plan places.
    pub(crate) fifo: RawFd,
}

/// Runs the plan and execs the command; never returns.
///
/// With a `gate`, the child skips the parent-death signal (it must outlive its creator),
/// checks that the command can be found, closes the error pipe (the parent reads that as
/// "created") and waits for one byte on the gate's FIFO before `execve`. A failure after
/// that point has nobody to report to: the child exits with 127.
pub(crate) fn run(plan: &Plan, err_fd: RawFd, status_fd: RawFd, gate: Option<StartGate>) -> ! {
    // The state can move the pipes (out of the way of passed descriptors).
    let mut st = ChildState::new(err_fd, status_fd);
    st.detached = gate.is_some();
    for (i, op) in plan.ops.iter().enumerate() {
        // What `before` undoes was left by the step before (a mask's working directory).
        if let Err(f) = st.before(op) {
            fail(st.err_fd, i.saturating_sub(1) as u32, f);
        }
        if let Err(f) = run_op(op, &mut st) {
            fail(st.err_fd, i as u32, f);
        }
    }
    if let Err(f) = st.leave_fd_dir() {
        fail(st.err_fd, plan.ops.len().saturating_sub(1) as u32, f);
    }
    if let Some(g) = gate {
        if let Err(e) = exec::find_command(plan) {
            fail(st.err_fd, plan.ops.len() as u32, (SubStep::Exec, e));
        }
        // SAFETY: the error pipe is this process's own copy and is not used again: from here
        // on failures are reported to -1, which fails harmlessly with EBADF.
        helpers::close(unsafe { rawsys::OwnedFd::from_raw(st.err_fd) });
        st.err_fd = -1;
        close_inherited(plan, g.fifo);
        exec::wait_for_start(g.fifo);
    }
    if plan.exec.init {
        exec::init(plan, st.err_fd, st.status_fd)
    } else {
        exec::exec(plan, st.err_fd)
    }
}

impl ChildState<'_> {
    /// What the state keeps between steps that `op` must not see: the cached directory
    /// (kept only across file steps below the root) and the working directory in `self/fd`
    /// (kept only across the masks' mounts).
    fn before(&self, op: &Op) -> StepResult {
        if !matches!(
            op,
            Op::Mount { .. }
                | Op::Mkdir { .. }
                | Op::CreateFile { .. }
                | Op::ChmodDir { .. }
                | Op::Symlink { .. }
                | Op::WriteFile { .. }
                | Op::Device { .. }
        ) {
            self.forget_dir();
        }
        if !matches!(op, Op::Mask { .. } | Op::ReadOnly { .. }) {
            self.leave_fd_dir()?;
        }
        Ok(())
    }

    /// `chdir("/")` if a mask's mount left the working directory in `self/fd`.
    fn leave_fd_dir(&self) -> StepResult {
        if self.in_fd_dir.replace(false) {
            ns::chdir(c"/").map_err(at(SubStep::EnterNewRoot))?;
        }
        Ok(())
    }
}

/// Closes every descriptor a created child must not hold while it waits (possibly for a
/// long time): all but stdio, the passed descriptors and the start FIFO. Among them are the
/// state directory's lock (a `flock` belongs to the open file, so a copy held here would
/// keep every later command out), the FIFOs and locks of containers other threads were
/// creating at the time of the fork, and whatever else the caller had open.
fn close_inherited(plan: &Plan, fifo: RawFd) {
    let passed = plan
        .ops
        .iter()
        .find_map(|op| match op {
            Op::PassFds { fds } => Some(fds.len()),
            _ => None,
        })
        .unwrap_or(0);
    let first = 3 + passed as u32;
    let fifo = fifo as u32;
    // SAFETY: nothing of this process uses the closed descriptors any more: the plan's
    // descriptors were used by the steps already run, and the parent's are copies.
    unsafe {
        if fifo > first {
            let _ = rawsys::io::close_range(first, fifo - 1, rawsys::io::CloseRangeFlags::empty());
        }
        let _ = rawsys::io::close_range(fifo + 1, u32::MAX, rawsys::io::CloseRangeFlags::empty());
    }
}

/// One step's system calls.
fn run_op<'a>(op: &'a Op, st: &mut ChildState<'a>) -> StepResult {
    let call = at(SubStep::Call);
    match op {
        Op::ParentDeathSignal if st.detached => Ok(()),
        Op::ParentDeathSignal => {
            rawsys::process::set_pdeathsig(Some(Signal::SIGKILL)).map_err(call)
        }
        Op::WaitForIdMaps {
            read,
            write,
            drop_groups,
        } => security::wait_for_id_maps(*read, *write, *drop_groups),
        Op::LoopbackUp => net::loopback_up(),
        Op::JoinCgroup { fd, .. } => io::write(borrowed(*fd), b"0").map(drop).map_err(call),
        Op::UnshareCgroupNs => ns::unshare(CloneFlags::NEWCGROUP).map_err(call),
        Op::MakePrivate => ns::mount(
            None,
            c"/",
            None,
            MountFlags::REC | MountFlags::PRIVATE,
            None,
        )
        .map_err(call),
        Op::Mount {
            source,
            target,
            fstype,
            flags,
            data,
        } => st
            .mount(
                source.as_deref(),
                target,
                fstype.as_deref(),
                *flags,
                data.as_deref(),
            )
            .map_err(call),
        Op::Mkdir { path, mode } => st.mkdir(path, *mode),
        Op::CreateFile { path } => st.create_file(path),
        Op::ChmodDir { path, mode } => st.chmod_dir(path, *mode),
        Op::Symlink { target, link } => st.symlink(target, link),
        Op::WriteFile { path, contents } => st.write_file(path, contents),
        Op::OpenRoot { path } => st.open_root(path),
        Op::PivotRoot { root } => st.pivot_root(root),
        Op::OpenNull => st.open_null(),
        Op::Mask { path } => st.mask(path),
        // No link followed: a symlink swapped in for the staging directory is refused.
        Op::Detach { path } => {
            ns::umount2(path, ns::UnmountFlags::DETACH | ns::UnmountFlags::NOFOLLOW).map_err(call)
        }
        Op::OpenProc => st.open_proc(),
        Op::ReadOnly { path } => st.read_only(path),
        Op::SetHostname { name } => ns::sethostname(name).map_err(call),
        Op::SetDomainname { name } => ns::setdomainname(name).map_err(call),
        Op::Dup { from, to } => process::dup(*from, *to),
        Op::DropBoundingSet { keep } => security::drop_bounding_set(*keep),
        Op::SetGroups { groups } => rawsys::process::setgroups(groups).map_err(call),
        Op::SetGid { gid } => rawsys::process::setresgid(*gid, *gid, *gid).map_err(call),
        Op::SetUid { uid } => rawsys::process::setresuid(*uid, *uid, *uid).map_err(call),
        Op::SetCapabilities { keep } => security::set_capabilities(*keep),
        Op::NoNewPrivs => rawsys::process::set_no_new_privs().map_err(call),
        // Resolved inside the new root without magic links (CVE-2024-21626).
        Op::Chdir { path } => fs::chdir_in_root(path),
        Op::MakeDirs { path } => fs::mkdirs_in_root(path),
        Op::ResetSignals => process::reset_signals(),
        Op::PassFds { fds } => st.pass_fds(fds),
        Op::CloseFds { first } => security::close_fds(*first),
        Op::Seccomp { prog } => {
            rawsys::seccomp::set_mode_filter(prog, rawsys::seccomp::FilterFlags::empty())
                .map_err(call)
        }
        Op::WaitParent { fd } => net::wait_parent(*fd),
        Op::SetRlimit { resource, limit } => {
            rawsys::process::setrlimit(*resource, limit).map_err(call)
        }
        Op::Sysctl { path, value } => procfs::write_sysctl(st, path, value),
        Op::Device {
            path,
            mode,
            dev,
            uid,
            gid,
        } => st.make_device(path, *mode, *dev, *uid, *gid),
        Op::JoinNamespace { fd, kind, .. } => ns::setns(borrowed(*fd), *kind).map_err(call),
        Op::KeepCaps => rawsys::process::set_keepcaps(true).map_err(call),
        Op::SetCapabilitySets { sets } => security::set_capability_sets(sets),
        Op::NotDumpable => rawsys::process::set_dumpable(false).map_err(call),
        Op::CloseAllBut { keep } => join::close_all_but(keep),
        Op::ForkJoined { pid_pipe, close } => join::fork_joined(*pid_pipe, close),
        Op::Terminal { socket, console } => join::terminal(st, *socket, *console),
    }
}
