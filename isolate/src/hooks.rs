//! OCI hooks: the points a container's life offers (`createRuntime`, `createContainer`,
//! `startContainer`, `poststart`, `poststop`), the programs the builder registers at each, and
//! [`run_hook`], which runs one with the container's state (JSON bytes the front end made) on
//! its standard input.
//!
//! Which hook runs when belongs to the lifecycle: runtime-spec wants `createRuntime` after the
//! namespaces exist and before `pivot_root` (in the runtime's namespaces), `createContainer`
//! at the same point in the container's mount namespace, `startContainer` in the container
//! just before the user's program, `poststart` after it started and `poststop` after the
//! container was deleted.

use alloc::ffi::CString;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::c_char;
use core::fmt;

use rawsys::Errno;
use rawsys::epoll::{self, EpollCreateFlags, EpollEvent, EpollFlags};
use rawsys::io::{self, DupFlags, PipeFlags};
use rawsys::process::{
    self, CloneArgs, CloneFlags, ForkPidfd, WaitId, WaitOptions, WaitStatus, clone3_with_pidfd,
};
use rawsys::signal::Signal;

use crate::config::{Builder, Container, check_abs};
use crate::error::{ConfigError, Error};

/// One hook program (OCI `hooks.*[]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hook {
    /// The program, absolute.
    pub path: String,
    /// Its argv, `argv[0]` included (empty: just the path).
    pub args: Vec<String>,
    /// Its whole environment, `KEY=VALUE` entries.
    pub env: Vec<String>,
    /// Seconds it may run before it is killed (`None`: no limit).
    pub timeout_secs: Option<u32>,
}

impl Hook {
    /// A hook running `path` with `args` (argv, `argv[0]` included) and `env`.
    pub fn new(
        path: &str,
        args: Vec<String>,
        env: Vec<String>,
        timeout_secs: Option<u32>,
    ) -> Result<Hook, ConfigError> {
        let path = check_abs("hook path", path)?;
        if args.iter().chain(env.iter()).any(|s| s.contains('\0')) {
            return Err(ConfigError::InteriorNul { what: "hook" });
        }
        if env.iter().any(|e| !e.contains('=')) {
            return Err(ConfigError::BadOption(format!(
                "hook {path}: environment entries must be KEY=VALUE"
            )));
        }
        if timeout_secs == Some(0) {
            return Err(ConfigError::BadOption(format!(
                "hook {path}: timeout must be positive"
            )));
        }
        Ok(Hook {
            path,
            args,
            env,
            timeout_secs,
        })
    }
}

/// The hooks of a container, per point, each list run in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hooks {
    /// After the runtime environment is created, before `pivot_root`, in the runtime's
    /// namespaces.
    pub create_runtime: Vec<Hook>,
    /// After `createRuntime`, in the container's mount namespace, before `pivot_root`.
    pub create_container: Vec<Hook>,
    /// In the container, before the user's program is executed.
    pub start_container: Vec<Hook>,
    /// After the user's program started.
    pub poststart: Vec<Hook>,
    /// After the container was deleted.
    pub poststop: Vec<Hook>,
}

/// Why a hook failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum HookError {
    /// Starting or waiting for it failed.
    Spawn(Error),
    /// It could not be executed (`execve`'s errno is not visible: exit code 127).
    Exited {
        /// The program.
        path: String,
        /// Its exit code.
        code: i32,
    },
    /// A signal ended it.
    Killed {
        /// The program.
        path: String,
        /// The signal.
        signal: Signal,
    },
    /// It ran past its timeout and was killed.
    TimedOut {
        /// The program.
        path: String,
        /// The timeout.
        secs: u32,
    },
}

impl fmt::Display for HookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HookError::Spawn(e) => write!(f, "hook: {e}"),
            HookError::Exited { path, code } => write!(f, "hook {path} exited with {code}"),
            HookError::Killed { path, signal } => write!(f, "hook {path} killed by {signal:?}"),
            HookError::TimedOut { path, secs } => {
                write!(f, "hook {path} did not finish within {secs} s")
            }
        }
    }
}

impl core::error::Error for HookError {}

/// The largest state [`run_hook`] passes: what a pipe holds without a reader (the state is
/// written before the hook starts, so a hook that never reads cannot block the caller).
pub const MAX_STATE_BYTES: usize = 4096 * 16;

/// Runs `hook` with `state` (the container's state JSON) on its standard input, its other
/// descriptors the caller's 1 and 2, and waits for it (killing it at its timeout). Exit code
/// 0 is success.
pub fn run_hook(hook: &Hook, state: &[u8]) -> Result<(), HookError> {
    spawn_and_wait(hook, state, None)
}

/// Runs `hook` as [`run_hook`] does, but in the namespaces of process `pid` (a container's
/// init): every namespace of it that differs from the caller's, the mount namespace only
/// when `mount` is set (without it the hook's path and files resolve as the caller sees
/// them, what OCI asks of `createContainer`; with it, inside the container's root, what
/// `startContainer` needs). A helper process joins them (`setns` on a pidfd) and forks the
/// hook, so the hook is in the container's PID namespace too.
///
/// `pid` must be the container's: the caller's own child not yet reaped. A later command
/// (which is not its parent) takes a pidfd checked against the container's start time
/// instead ([`crate::StateRoot::process_fd`]) and calls [`run_hook_in_pidfd`].
pub fn run_hook_in(
    hook: &Hook,
    state: &[u8],
    pid: rawsys::process::Pid,
    mount: bool,
) -> Result<(), HookError> {
    let target = process::pidfd_open(pid, process::PidfdFlags::empty())
        .map_err(|e| HookError::Spawn(Error::host(format!("pidfd_open {pid}"), e)))?;
    run_hook_in_pidfd(hook, state, &target, mount)
}

/// [`run_hook_in`] for the process behind `pidfd`: its namespaces are read through its pid
/// (from the pidfd's `fdinfo`) and then the process is checked to be still running, so
/// what was read was that process's, not one that reused its pid; the hook joins them
/// through the pidfd itself. A process that has ended is an error, and no hook runs.
pub fn run_hook_in_pidfd(
    hook: &Hook,
    state: &[u8],
    pidfd: &rawsys::OwnedFd,
    mount: bool,
) -> Result<(), HookError> {
    let host = |what: String| move |e: Errno| HookError::Spawn(Error::host(what, e));
    let ended = || HookError::Spawn(Error::Unexpected("the container's process ended".into()));
    let pid = pidfd_pid(pidfd)?.ok_or_else(ended)?;
    let mut flags = CloneFlags::empty();
    for (name, flag) in [
        ("cgroup", CloneFlags::NEWCGROUP),
        ("ipc", CloneFlags::NEWIPC),
        ("net", CloneFlags::NEWNET),
        ("pid", CloneFlags::NEWPID),
        ("uts", CloneFlags::NEWUTS),
        ("user", CloneFlags::NEWUSER),
        ("mnt", CloneFlags::NEWNS),
    ] {
        if flag == CloneFlags::NEWNS && !mount {
            continue;
        }
        let id = |who: &str| -> Result<(u64, u64), HookError> {
            let p = CString::new(format!("/proc/{who}/ns/{name}"))
                .map_err(|_| HookError::Spawn(ConfigError::InteriorNul { what: "hook" }.into()))?;
            let st = rawsys::fs::statat(rawsys::fs::CWD, &p, rawsys::fs::AtFlags::empty())
                .map_err(host(format!("stat /proc/{who}/ns/{name}")))?;
            Ok((st.st_dev, st.st_ino))
        };
        if id("self")? != id(&format!("{pid}"))? {
            flags |= flag;
        }
    }
    // A pidfd turns readable when its process ends: not readable now, the pid read above
    // still names it (a pid is reused only after its process is reaped).
    if crate::lifecycle::process_ended(pidfd).map_err(HookError::Spawn)? {
        return Err(ended());
    }
    spawn_and_wait(hook, state, Some((pidfd, flags)))
}

/// The pid of the pidfd's process (the `Pid:` line of its `fdinfo`); `None` once it has
/// ended.
fn pidfd_pid(pidfd: &rawsys::OwnedFd) -> Result<Option<rawsys::process::Pid>, HookError> {
    let path = CString::new(format!("/proc/self/fdinfo/{}", pidfd.as_raw()))
        .map_err(|_| HookError::Spawn(ConfigError::InteriorNul { what: "hook" }.into()))?;
    let text = crate::fsutil::read_string(&path)
        .map_err(|e| HookError::Spawn(Error::host("read the pidfd's fdinfo", e)))?;
    let pid = text
        .lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|v| v.trim().parse::<i32>().ok())
        .ok_or_else(|| HookError::Spawn(Error::Unexpected("no Pid: in a pidfd's fdinfo".into())))?;
    Ok((pid > 0).then_some(pid))
}

/// The hook's process: with `enter`, a helper joins those namespaces of the pidfd's process
/// and forks the hook (a PID namespace applies to children only), exiting with its status
/// (128 + the signal for a signal).
fn spawn_and_wait(
    hook: &Hook,
    state: &[u8],
    enter: Option<(&rawsys::OwnedFd, CloneFlags)>,
) -> Result<(), HookError> {
    let spawn = |e: Error| HookError::Spawn(e);
    let host = |what: &'static str| move |e: Errno| HookError::Spawn(Error::host(what, e));
    if state.len() > MAX_STATE_BYTES {
        return Err(spawn(
            ConfigError::BadOption(format!("hook state of {} bytes", state.len())).into(),
        ));
    }
    let c = |s: &str| {
        CString::new(s).map_err(|_| spawn(ConfigError::InteriorNul { what: "hook" }.into()))
    };
    let path = c(&hook.path)?;
    let mut args = Vec::new();
    for a in &hook.args {
        args.push(c(a)?);
    }
    if args.is_empty() {
        args.push(path.clone());
    }
    let mut env = Vec::new();
    for e in &hook.env {
        env.push(c(e)?);
    }
    let ptrs = |v: &[CString]| -> Vec<*const c_char> {
        v.iter()
            .map(|s| s.as_ptr())
            .chain(core::iter::once(core::ptr::null()))
            .collect()
    };
    let (argv, envp) = (ptrs(&args), ptrs(&env));

    // The state goes into the pipe before the hook exists: no SIGPIPE, no deadlock.
    let (r, w) = io::pipe2(PipeFlags::CLOEXEC).map_err(host("pipe2"))?;
    let mut off = 0;
    while off < state.len() {
        match io::write(&w, &state[off..]) {
            Ok(n) => off += n,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(host("write the hook's state")(e)),
        }
    }
    drop(w);
    let ep = epoll::epoll_create1(EpollCreateFlags::CLOEXEC).map_err(host("epoll_create1"))?;

    let args = CloneArgs::new(CloneFlags::empty(), Some(Signal::SIGCHLD));
    // SAFETY: the child below only issues raw system calls (dup3, execve, exit_group) on
    // data prepared before the clone, and never returns.
    let fork = unsafe { clone3_with_pidfd(&args) }.map_err(host("clone3"))?;
    let exec_hook = || -> ! {
        match io::dup3(&r, 0, DupFlags::empty()) {
            Ok(fd) => {
                let _ = fd.into_raw();
            }
            Err(_) => process::exit_group(126),
        }
        // SAFETY: argv and envp are null-terminated arrays of pointers into `args` and
        // `env`, CStrings alive (and unchanged) in this copy of the caller's memory.
        let _ = unsafe { process::execve(&path, &argv, &envp) };
        process::exit_group(127)
    };
    let pidfd = match fork {
        ForkPidfd::Child => match enter {
            None => exec_hook(),
            Some((target, flags)) => {
                if rawsys::ns::setns(target, flags).is_err() {
                    process::exit_group(125);
                }
                let args = CloneArgs::new(CloneFlags::empty(), Some(Signal::SIGCHLD));
                // SAFETY: as above: the grandchild only issues raw system calls and never
                // returns.
                match unsafe { clone3_with_pidfd(&args) } {
                    Err(_) => process::exit_group(125),
                    Ok(ForkPidfd::Child) => {
                        // Killed with its helper (at a timeout).
                        if process::set_pdeathsig(Some(Signal::SIGKILL)).is_err() {
                            process::exit_group(125);
                        }
                        exec_hook()
                    }
                    Ok(ForkPidfd::Parent { pidfd, .. }) => loop {
                        match process::waitid(
                            WaitId::Pidfd(rawsys::AsFd::as_fd(&pidfd)),
                            WaitOptions::EXITED,
                        ) {
                            Ok(Some(s)) => match s.status {
                                WaitStatus::Exited(c) => process::exit_group(c),
                                WaitStatus::Signaled { signal, .. } => {
                                    process::exit_group(128 + signal.raw())
                                }
                                _ => {}
                            },
                            Ok(None) | Err(Errno::EINTR) => {}
                            Err(_) => process::exit_group(125),
                        }
                    },
                }
            }
        },
        ForkPidfd::Parent { pidfd, .. } => pidfd,
    };
    drop(r);
    let timeout_ms = hook.timeout_secs.map_or(-1, |s| {
        i32::try_from(u64::from(s) * 1000).unwrap_or(i32::MAX)
    });
    epoll::epoll_ctl_add(&ep, &pidfd, EpollEvent::new(EpollFlags::IN, 0))
        .map_err(host("epoll_ctl"))?;
    let mut ev = [EpollEvent::default(); 1];
    let ready = loop {
        match epoll::epoll_pwait(&ep, &mut ev, timeout_ms, None) {
            Ok(n) => break n > 0,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(host("epoll_pwait")(e)),
        }
    };
    if !ready {
        let _ = process::pidfd_send_signal(&pidfd, Signal::SIGKILL);
    }
    let st = loop {
        match process::waitid(
            WaitId::Pidfd(rawsys::AsFd::as_fd(&pidfd)),
            WaitOptions::EXITED,
        ) {
            Ok(Some(s)) => break s.status,
            Ok(None) => {}
            Err(Errno::EINTR) => {}
            Err(e) => return Err(host("waitid")(e)),
        }
    };
    let path = hook.path.clone();
    match (ready, st) {
        (false, _) => Err(HookError::TimedOut {
            path,
            secs: hook.timeout_secs.unwrap_or(0),
        }),
        (true, WaitStatus::Exited(0)) => Ok(()),
        (true, WaitStatus::Exited(code)) => Err(HookError::Exited { path, code }),
        (true, WaitStatus::Signaled { signal, .. }) => Err(HookError::Killed { path, signal }),
        (true, other) => Err(spawn(Error::Unexpected(format!(
            "hook {path}: wait status {other:?}"
        )))),
    }
}

impl<R, C> Builder<R, C> {
    /// The hooks (OCI `hooks`); the lifecycle runs them at their points (see the
    /// [module docs](crate::hooks)).
    pub fn hooks(mut self, hooks: Hooks) -> Self {
        self.opts.hooks = hooks;
        self
    }
}

impl Container {
    /// The hooks registered with [`Builder::hooks`].
    pub fn hooks(&self) -> &Hooks {
        &self.opts.hooks
    }
}
