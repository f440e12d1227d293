//! The plan of a process joining a running container ([`crate::StateRoot::exec`]): the
//! joining steps run by a child of the caller on the host side, a fork into the container's
//! PID namespace, then the same hardening steps a container's own process takes, ending in
//! `execve`. See [`crate::lifecycle::exec`] for why the order is what it is.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rawsys::RawFd;
use rawsys::process::CloneFlags;

use super::security::{Credentials, push_identity, push_seccomp_first, push_seccomp_last};
use super::{Op, Plan};
use crate::error::Error;
use crate::fsutil::cjoin;
use crate::spec::Rlimit;

/// The descriptors the parent opened for the joining steps.
#[derive(Debug)]
pub(crate) struct JoinHandles<'a> {
    /// The container's `cgroup.procs` files, open for writing, with their paths.
    pub(crate) cgroup_procs: &'a [(RawFd, String)],
    /// A pidfd of the container's process, checked against its start time.
    pub(crate) pidfd: RawFd,
    /// The container's pid (for messages).
    pub(crate) pid: i32,
    /// The namespaces to join through the pidfd (those that differ from the caller's).
    pub(crate) namespaces: CloneFlags,
    /// Where the joining process writes the pid of the process it forks.
    pub(crate) pid_pipe: RawFd,
    /// The error pipe's write end.
    pub(crate) err_fd: RawFd,
    /// With a terminal: the socket for the pty master.
    pub(crate) terminal: Option<RawFd>,
}

/// The process to start, with the container's defaults already applied.
#[derive(Debug)]
pub(crate) struct JoinProcess<'a> {
    pub(crate) program: &'a str,
    pub(crate) args: &'a [String],
    pub(crate) env: &'a [(String, String)],
    pub(crate) hostname: &'a str,
    pub(crate) cwd: &'a str,
    pub(crate) user: (u32, u32),
    pub(crate) groups: Vec<u32>,
    pub(crate) credentials: &'a Credentials,
    pub(crate) rlimits: &'a [Rlimit],
    /// Descriptors for 0, 1, 2 (`None`: the caller's own).
    pub(crate) stdio: [Option<RawFd>; 3],
    /// Descriptors passed at 3, 4, ...
    pub(crate) pass_fds: Vec<RawFd>,
}

/// Builds the joining process's plan.
pub(crate) fn build(h: &JoinHandles<'_>, p: &JoinProcess<'_>) -> Result<Plan, Error> {
    let mut ops = Vec::new();
    // First of all: nothing of the caller (memory, descriptors) may be reachable through
    // /proc from the container once this process is visible there.
    ops.push(Op::NotDumpable);
    let mut keep: Vec<RawFd> = [0, 1, 2, h.err_fd, h.pid_pipe, h.pidfd].to_vec();
    keep.extend(h.cgroup_procs.iter().map(|(fd, _)| *fd));
    keep.extend(p.stdio.iter().flatten());
    keep.extend(&p.pass_fds);
    keep.extend(h.terminal);
    keep.sort_unstable();
    keep.dedup();
    ops.push(Op::CloseAllBut { keep });
    for (fd, path) in h.cgroup_procs {
        ops.push(Op::JoinCgroup {
            fd: *fd,
            path: path.clone(),
        });
    }
    if !h.namespaces.is_empty() {
        ops.push(Op::JoinNamespace {
            fd: h.pidfd,
            kind: h.namespaces,
            path: format!("the namespaces of process {}", h.pid),
        });
    }
    let mut close: Vec<RawFd> = [h.pidfd].to_vec();
    close.extend(h.cgroup_procs.iter().map(|(fd, _)| *fd));
    ops.push(Op::ForkJoined {
        pid_pipe: h.pid_pipe,
        close,
    });
    // Inside the container's PID namespace from here on.
    match h.terminal {
        Some(socket) => ops.push(Op::Terminal {
            socket,
            console: false,
        }),
        None => {
            for (i, fd) in p.stdio.iter().enumerate() {
                if let Some(from) = fd {
                    ops.push(Op::Dup {
                        from: *from,
                        to: i as RawFd,
                    });
                }
            }
        }
    }
    for r in p.rlimits {
        ops.push(Op::SetRlimit {
            resource: r.resource,
            limit: rawsys::process::Rlimit {
                cur: r.soft,
                max: r.hard,
            },
        });
    }
    let cred = p.credentials;
    push_seccomp_first(&mut ops, cred);
    push_identity(&mut ops, cred, Some(p.user), p.groups.clone());
    // Resolved inside the container's root without magic links (CVE-2024-21626).
    ops.push(Op::Chdir {
        path: cjoin(&[p.cwd])?,
    });
    ops.push(Op::ResetSignals);
    let first = 3 + p.pass_fds.len() as u32;
    if !p.pass_fds.is_empty() {
        ops.push(Op::PassFds {
            fds: p.pass_fds.clone(),
        });
    }
    ops.push(Op::CloseFds { first });
    push_seccomp_last(&mut ops, cred);
    let exec = super::prepare_command(p.program, p.args, p.env, Some(p.user), p.hostname, false)?;
    Ok(Plan {
        ops,
        exec,
        keep: Vec::new(),
    })
}
