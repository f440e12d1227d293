//! The child's setup as data: the parent turns a [`Container`] into a list of steps ([`Op`])
//! with every string already NUL-terminated, so the child after `clone` only walks the list
//! issuing system calls (see [`crate::child`]). A failing step is reported by its index, and
//! the parent describes it from the same list.
//!
//! The list is written by planners, one function per area, run in the order of [`PLANNERS`]:
//! the process's start, the root filesystem, `/etc`, `/proc`, `/dev`, `/sys`, the caller's
//! mounts, `pivot_root`, then hardening and the process's identity. Each appends its steps
//! to a [`PlanBuilder`], whose helpers (`mount`, `bind`, `mkdir_p`, `in_root`, ...) build the
//! usual ones. A new area is a new planner in that list; a new kind of step is a new [`Op`].

mod dev;
mod etc;
mod exec;
pub(crate) mod joined;
mod mounts;
mod op;
mod overlay;
mod process;
mod rootfs;
mod security;
mod spec;
mod sys;

use alloc::ffi::CString;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rawsys::RawFd;
use rawsys::ns::MountFlags;

use crate::child::{Report, SubStep};
use crate::config::{Container, Options};
use crate::error::{Error, Stage};
use crate::fsutil::{cjoin, cjoin_below};

pub(crate) use exec::{Exec, prepare_command};
pub(crate) use op::Op;
pub(crate) use security::{Credentials, container_credentials};

/// A planner: appends the steps of one area.
type Planner = fn(&mut PlanBuilder<'_>) -> Result<(), Error>;

/// The planners, in the order their steps run in the child.
const PLANNERS: &[Planner] = &[
    process::start,
    rootfs::root,
    etc::hostname_and_resolv_conf,
    sys::proc,
    dev::dev,
    sys::sysfs,
    mounts::caller_mounts,
    spec::devices,
    rootfs::pivot_root,
    overlay::read_only_root,
    spec::sysctls,
    security::mask_system_paths,
    process::hostname,
    process::stdio,
    process::terminal,
    spec::rlimits,
    process::create_working_dir,
    security::seccomp_before_credentials,
    security::credentials,
    process::working_dir,
    process::reset_signals,
    security::descriptors,
    security::seccomp,
    process::wait_for_network,
];

/// Descriptors the parent opened for the child's steps.
#[derive(Debug, Default)]
pub(crate) struct Handles<'a> {
    /// Open `cgroup.procs` (or `tasks`) files to join, with their paths for messages.
    pub(crate) cgroup_procs: &'a [(RawFd, String)],
    /// In a new user namespace: the pipe (read, write) on which the parent says the uid/gid
    /// maps are written.
    pub(crate) id_maps: Option<(RawFd, RawFd)>,
    /// With a bridge: the read end of the pipe on which the parent says the network is
    /// connected.
    pub(crate) network_ready: Option<RawFd>,
    /// With a terminal: the socket on which the child sends the pty master.
    pub(crate) terminal: Option<RawFd>,
    /// With a bridge: the container's leased address (for `/etc/hosts`).
    pub(crate) address: Option<[u8; 4]>,
}

/// The child's whole program.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) ops: Vec<Op>,
    pub(crate) exec: Exec,
    /// Descriptors the steps use that the parent opened while planning (namespace files),
    /// open as long as the plan lives.
    #[allow(dead_code)]
    pub(crate) keep: Vec<rawsys::OwnedFd>,
}

impl Plan {
    /// The stage and description of a failure the child reported (index `ops.len()` stands
    /// for `execve`).
    pub(crate) fn describe(&self, r: &Report) -> (Stage, String) {
        match self.ops.get(r.index as usize) {
            Some(op) => (op.stage(), op.describe(r.sub)),
            None if r.sub == SubStep::Fork => {
                (Stage::InitFork, "fork the command under init".into())
            }
            None => (Stage::Exec, format!("exec {}", self.exec.program)),
        }
    }
}

impl Plan {
    /// The error for `rec`, the first `n` bytes read from the error pipe of a child that
    /// failed (`n > 0`).
    pub(crate) fn failure(&self, rec: &[u8; Report::LEN], n: usize) -> Error {
        if n < Report::LEN {
            return Error::ChildVanished;
        }
        let Some(report) = Report::decode(rec) else {
            return Error::Unexpected("a malformed report on the error pipe".into());
        };
        let (stage, step) = self.describe(&report);
        Error::Child {
            stage,
            step,
            errno: report.errno,
        }
    }
}

/// The plan being written, with what every planner needs.
pub(crate) struct PlanBuilder<'a> {
    /// The container.
    c: &'a Container,
    /// Its options.
    o: &'a Options,
    /// Descriptors for the child.
    handles: &'a Handles<'a>,
    /// The new root on the host (a directory the rootfs is mounted on).
    root: String,
    /// The caller's bind mount sources, canonical (symlinks resolved), and whether each is a
    /// directory; in the order of the bind mounts in the options.
    bind_sources: Vec<(String, bool)>,
    /// The steps so far.
    ops: Vec<Op>,
    /// Descriptors opened for the steps (see [`Plan::keep`]).
    keep: Vec<rawsys::OwnedFd>,
    /// Whether [`Op::OpenProc`] is in the plan already.
    proc_opened: bool,
    /// The directories an [`Op::Mkdir`] so far makes (host paths below the new root), less
    /// those a later mount hides: [`PlanBuilder::mkdir_p`] does not make them again (the
    /// parents of `/sys/fs/cgroup/*` were made once per hierarchy, three steps each).
    made: Vec<CString>,
}

impl<'a> PlanBuilder<'a> {
    fn new(c: &'a Container, handles: &'a Handles<'a>) -> Result<PlanBuilder<'a>, Error> {
        // Bind sources first: their canonical paths decide where a fresh root may be staged.
        let bind_sources = mounts::resolve_bind_sources(&c.opts)?;
        let root = rootfs::root_dir(c, &bind_sources)?;
        Ok(PlanBuilder {
            c,
            o: &c.opts,
            handles,
            root,
            bind_sources,
            ops: Vec::new(),
            keep: Vec::new(),
            proc_opened: false,
            made: Vec::new(),
        })
    }

    /// Appends a step.
    fn push(&mut self, op: Op) {
        match &op {
            Op::Mkdir { path, .. } if !self.made.contains(path) => self.made.push(path.clone()),
            // What was made below a mount's target is hidden by it (the target itself stays).
            Op::Mount { target, .. } => {
                let t = target.to_bytes();
                self.made.retain(|d| {
                    let d = d.to_bytes();
                    !(d.len() > t.len() && d.starts_with(t) && d[t.len()] == b'/')
                });
            }
            Op::PivotRoot { .. } | Op::Detach { .. } => self.made.clear(),
            _ => {}
        }
        self.ops.push(op);
    }

    /// Appends [`Op::OpenProc`] unless the plan has it (after `pivot_root`: for the steps
    /// that write or mount below `/proc`).
    fn open_proc(&mut self) {
        if !self.proc_opened {
            self.proc_opened = true;
            self.push(Op::OpenProc);
        }
    }

    /// The host path of `parts` joined below the new root.
    fn in_root(&self, parts: &[&str]) -> Result<CString, Error> {
        cjoin_below(&self.root, parts)
    }

    /// Appends a `mount(2)`.
    fn mount(
        &mut self,
        source: Option<&str>,
        target: CString,
        fstype: Option<&str>,
        flags: MountFlags,
        data: Option<&str>,
    ) -> Result<(), Error> {
        let c = |v: Option<&str>| v.map(|s| cjoin(&[s])).transpose();
        self.push(Op::Mount {
            source: c(source)?,
            target,
            fstype: c(fstype)?,
            flags,
            data: c(data)?,
        });
        Ok(())
    }

    /// A recursive bind of `source` onto `target`, then a remount adding `extra` flags. The
    /// source mount's own locked flags are repeated in the remount (a user namespace may not
    /// clear them, and the remount fails if it tries).
    fn bind(&mut self, source: &str, target: CString, extra: MountFlags) -> Result<(), Error> {
        self.mount(
            Some(source),
            target.clone(),
            None,
            MountFlags::BIND | MountFlags::REC,
            None,
        )?;
        let locked = crate::security::source_mount_flags(source);
        self.mount(
            None,
            target,
            None,
            MountFlags::BIND | MountFlags::REMOUNT | extra | locked,
            None,
        )
    }

    /// Binds the file `source` onto `target` (created empty if missing), as it is.
    fn bind_file(&mut self, source: CString, target: CString) {
        self.push(Op::CreateFile {
            path: target.clone(),
        });
        self.push(Op::Mount {
            source: Some(source),
            target,
            fstype: None,
            flags: MountFlags::BIND,
            data: None,
        });
    }

    /// Creates every directory of `target` (absolute, inside the container) below the root.
    fn mkdir_p(&mut self, target: &str) -> Result<(), Error> {
        let mut cur = self.root.clone();
        for comp in target.split('/').filter(|c| !c.is_empty() && *c != ".") {
            cur.push('/');
            cur.push_str(comp);
            let path = cjoin(&[&cur])?;
            if !self.made.contains(&path) {
                self.push(Op::Mkdir { path, mode: 0o755 });
            }
        }
        Ok(())
    }
}

/// Builds the child's plan.
pub(crate) fn build(c: &Container, handles: &Handles<'_>) -> Result<Plan, Error> {
    let mut p = PlanBuilder::new(c, handles)?;
    for planner in PLANNERS {
        planner(&mut p)?;
    }
    Ok(Plan {
        ops: p.ops,
        exec: exec::prepare(c)?,
        keep: p.keep,
    })
}

#[cfg(test)]
mod tests;
