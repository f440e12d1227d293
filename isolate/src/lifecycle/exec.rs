//! Joining a running container: [`StateRoot::exec`] starts another process inside it, as
//! `runc exec` / `docker exec` do.
//!
//! ```no_run
//! use isolate::{ExitStatus, StateRoot};
//! use isolate::lifecycle::ExecProcess;
//!
//! let root = StateRoot::new("/run/isolate")?;
//! let p = ExecProcess::new("sh", ["-c", "echo $X; exit 3"])?.env("X", "hi")?;
//! let mut child = root.exec("web", &p)?;
//! assert_eq!(child.wait()?, ExitStatus::Exited(3));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # How a process joins
//! The caller (holding the container's lock, which refuses anything but a `running`
//! container) opens a pidfd of the container's process, checked against its recorded start
//! time (a reused pid never matches), the container's `cgroup.procs` files, and notes which
//! namespaces differ from its own. It then forks a child that, issuing raw system calls only:
//! 1. makes itself non-dumpable (`PR_SET_DUMPABLE` 0) before anything else;
//! 2. closes every descriptor except the ones it needs (`close_range` around a sorted list:
//!    its pipes, the pidfd, the cgroup files, the standard and passed descriptors);
//! 3. joins the cgroups (writing `0` to each `cgroup.procs`, on the host side);
//! 4. joins every namespace with one `setns` on the pidfd (atomic, and through the pidfd it
//!    cannot be another process's);
//! 5. forks with `CLONE_PARENT` into the PID namespace it joined: the new process is the
//!    **caller's** child (it can wait for it, and once the caller exits the process is
//!    re-parented to the caller's subreaper as a `create`d container's is). The first child
//!    reports the new pid on a pipe and exits; the new process closes the pidfd and the cgroup
//!    files.
//!
//! The new process then takes the steps a container's own process takes before `execve`:
//! a pty of the container's `/dev/pts` with a terminal, standard descriptors, rlimits, the
//! seccomp filter (before the credentials without `no_new_privs`), the bounding set, groups,
//! gid, uid, capabilities, `no_new_privs`, the working directory, signals, passed descriptors
//! (the others close at `execve`), the seccomp filter (with `no_new_privs`), and `execve` of
//! the command looked up in the process's `PATH` inside the container. A failing step is
//! reported as in `create`: (step, errno) on a close-on-exec pipe.
//!
//! # The escapes this order closes
//! - **CVE-2016-9962** (a container process opening `/proc/PID/fd/N`, `mem` or `cwd` of the
//!   joining process, or ptracing it, before it has dropped its privileges and the host's
//!   descriptors): the joining processes are non-dumpable from their first step until
//!   `execve`, so `/proc/PID/{fd,mem,cwd,root,environ,exe}` and `ptrace` need
//!   `CAP_SYS_PTRACE` in the initial user namespace, which a container does not have
//!   (uid 0 inside no longer suffices). The first child is never visible in the container's
//!   PID namespace at all; the second is visible only after the caller's descriptors are
//!   closed and, with the pidfd and cgroup files, gone before its first step inside.
//! - **CVE-2024-21626** (a working directory outside the root through a leaked host
//!   descriptor, `/proc/self/fd/N`): no host descriptor is left but those named above, and
//!   the working directory is opened with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`
//!   from the container's root: `..` and symlinks stay inside, magic links are refused.
//! - **CVE-2019-5736** (the container opening the runtime's binary through `/proc/PID/exe`
//!   of the joining process and writing it): while it runs the runtime's image the process is
//!   non-dumpable, so `/proc/PID/exe` does not open from inside; the process runs none of
//!   the runtime's code inside the container but these raw steps and replaces its image with
//!   `execve`. A front end that runs its own code inside a container (a Rust init kept as the
//!   container's process, hooks run from inside) must not rely on this: it should re-execute
//!   itself from a sealed `memfd` copy (`memfd_create` + `F_SEAL_*`, as runc does) so that the
//!   binary a container can reach is not the one on disk.
//!
//! Tests: `isolate/tests/exec.rs` runs each attack from inside a container while `exec`
//! joins it.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rawsys::fs::{self, AtFlags, CWD, Mode, OFlags};
use rawsys::io::{self, PipeFlags};
use rawsys::process::{self, CloneArgs, CloneFlags, ForkPidfd, WaitId, WaitOptions};
use rawsys::signal::Signal;
use rawsys::{AsFd, Errno, OwnedFd, RawFd};

use super::record::{FreezerDir, ProcessRecord};
use super::{StateRoot, Status, proc, wrong};
use crate::child::{self, MAX_PASSED_FDS, Report};
use crate::config::{Command, Stdio};
use crate::error::{ConfigError, Error};
use crate::fsutil::{cjoin, cstring};
use crate::plan::joined::{self, JoinHandles, JoinProcess};
use crate::runtime::{ExitStatus, receive_terminal, terminal_socketpair};
use crate::security::SeccompProfile;
use crate::spec::{CapabilitySets, Rlimit};

/// A process to start in a running container: what an OCI `process.json` carries, with the
/// container's settings as defaults (its environment, working directory, user, capabilities,
/// `no_new_privs` and seccomp filter as they were given to `create`).
#[derive(Debug)]
pub struct ExecProcess {
    command: Command,
    env: Vec<(String, String)>,
    inherit_env: bool,
    cwd: Option<String>,
    user: Option<(u32, u32)>,
    groups: Option<Vec<u32>>,
    caps: Option<CapabilitySets>,
    no_new_privs: Option<bool>,
    seccomp: Option<SeccompProfile>,
    rlimits: Vec<Rlimit>,
    terminal: bool,
    stdio: [Stdio; 3],
    pass_fds: Vec<OwnedFd>,
}

fn no_nul(what: &'static str, s: &str) -> Result<(), ConfigError> {
    cstring(what, s).map(drop)
}

impl ExecProcess {
    /// The program (an absolute path, or a name looked up in the process's `PATH` inside the
    /// container) and its arguments.
    pub fn new<I, S>(program: &str, args: I) -> Result<ExecProcess, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Ok(ExecProcess {
            command: Command::parse(program, args)?,
            env: Vec::new(),
            inherit_env: true,
            cwd: None,
            user: None,
            groups: None,
            caps: None,
            no_new_privs: None,
            seccomp: None,
            rlimits: Vec::new(),
            terminal: false,
            stdio: [Stdio::Inherit, Stdio::Inherit, Stdio::Inherit],
            pass_fds: Vec::new(),
        })
    }

    /// Sets an environment variable (over the container's, and an earlier value).
    pub fn env(mut self, key: &str, value: &str) -> Result<Self, ConfigError> {
        if key.is_empty() || key.contains('=') || key.contains('\0') || value.contains('\0') {
            return Err(ConfigError::BadEnv(format!("{key}={value}")));
        }
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
        Ok(self)
    }

    /// Sets an environment variable from a `KEY=VALUE` string.
    pub fn env_pair(self, kv: &str) -> Result<Self, ConfigError> {
        match kv.split_once('=') {
            Some((k, v)) => self.env(k, v),
            None => Err(ConfigError::BadEnv(kv.into())),
        }
    }

    /// Whether the container's environment is the base (default: yes); with `false` the
    /// process gets only what [`ExecProcess::env`] set (plus `PATH`, `HOME`, `HOSTNAME` when
    /// missing), as an OCI `process.json` says it.
    pub fn inherit_env(mut self, yes: bool) -> Self {
        self.inherit_env = yes;
        self
    }

    /// The working directory inside (absolute; default the container's). It is resolved in
    /// the container's root: `..` and symlinks cannot lead out of it.
    pub fn working_dir(mut self, dir: &str) -> Result<Self, ConfigError> {
        no_nul("working directory", dir)?;
        if !dir.starts_with('/') {
            return Err(ConfigError::NotAbsolute {
                what: "working directory",
                path: dir.into(),
            });
        }
        self.cwd = Some(dir.into());
        Ok(self)
    }

    /// Runs as `uid`/`gid` (default: the container's user, or root).
    pub fn user(mut self, uid: u32, gid: u32) -> Self {
        self.user = Some((uid, gid));
        self
    }

    /// The supplementary groups (OCI `user.additionalGids`; default: the container's for its
    /// own user, none for a user given with [`ExecProcess::user`]).
    pub fn additional_gids(mut self, gids: &[u32]) -> Result<Self, ConfigError> {
        if gids.len() > 64 {
            return Err(ConfigError::TooMany("additional gids"));
        }
        self.groups = Some(gids.to_vec());
        Ok(self)
    }

    /// Every capability set exactly (OCI `process.capabilities`; default the container's).
    pub fn capabilities(mut self, sets: CapabilitySets) -> Result<Self, ConfigError> {
        sets.check()?;
        self.caps = Some(sets);
        Ok(self)
    }

    /// Sets `no_new_privs` or not (OCI `noNewPrivileges`; default the container's).
    pub fn no_new_privileges(mut self, yes: bool) -> Self {
        self.no_new_privs = Some(yes);
        self
    }

    /// A seccomp filter instead of the container's.
    pub fn seccomp_profile(mut self, p: SeccompProfile) -> Result<Self, ConfigError> {
        p.compile()?;
        self.seccomp = Some(p);
        Ok(self)
    }

    /// A resource limit (replacing an earlier one of the same resource); the others are the
    /// caller's.
    pub fn rlimit(mut self, r: Rlimit) -> Result<Self, ConfigError> {
        r.check()?;
        self.rlimits.retain(|o| o.resource != r.resource);
        self.rlimits.push(r);
        Ok(self)
    }

    /// A new pseudo-terminal of the container's `/dev/pts` as stdin, stdout, stderr and
    /// controlling terminal, in a new session (replacing the [`Stdio`] settings); its master
    /// is [`ExecHandle::take_terminal`].
    pub fn terminal(mut self, yes: bool) -> Self {
        self.terminal = yes;
        self
    }

    /// Where standard input comes from (default: the caller's).
    pub fn stdin(mut self, s: Stdio) -> Self {
        self.stdio[0] = s;
        self
    }

    /// Where standard output goes (default: the caller's).
    pub fn stdout(mut self, s: Stdio) -> Self {
        self.stdio[1] = s;
        self
    }

    /// Where standard error goes (default: the caller's).
    pub fn stderr(mut self, s: Stdio) -> Self {
        self.stdio[2] = s;
        self
    }

    /// Passes `fd` as descriptor 3 for the first call, 4 for the second, ... Every other
    /// descriptor above 2 is closed.
    pub fn pass_fd(mut self, fd: OwnedFd) -> Result<Self, ConfigError> {
        if self.pass_fds.len() >= MAX_PASSED_FDS {
            return Err(ConfigError::TooMany("passed descriptors"));
        }
        self.pass_fds.push(fd);
        Ok(self)
    }
}

/// A process started by [`StateRoot::exec`]: a child of the caller. Dropping the handle
/// leaves it running (the caller, or after the caller's exit its subreaper, reaps it).
#[derive(Debug)]
pub struct ExecHandle {
    pid: i32,
    pidfd: OwnedFd,
    terminal: Option<OwnedFd>,
    finished: Option<ExitStatus>,
}

impl ExecHandle {
    /// The process's pid as the caller sees it.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The pty master, with [`ExecProcess::terminal`] (once).
    pub fn take_terminal(&mut self) -> Option<OwnedFd> {
        self.terminal.take()
    }

    /// Sends `sig` to the process (through its pidfd: never to a reused pid).
    pub fn kill(&self, sig: Signal) -> Result<(), Error> {
        if self.finished.is_some() {
            return Ok(());
        }
        match process::pidfd_send_signal(&self.pidfd, sig) {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(e) => Err(Error::host(format!("signal pid {}", self.pid), e)),
        }
    }

    /// Waits for the process to end and reaps it; again returns the same status.
    pub fn wait(&mut self) -> Result<ExitStatus, Error> {
        self.wait_with(WaitOptions::EXITED)
            .map(|s| s.unwrap_or(ExitStatus::Exited(0)))
    }

    /// [`ExecHandle::wait`] without blocking: `None` while it runs.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>, Error> {
        self.wait_with(WaitOptions::EXITED | WaitOptions::NOHANG)
    }

    fn wait_with(&mut self, opts: WaitOptions) -> Result<Option<ExitStatus>, Error> {
        if let Some(s) = self.finished {
            return Ok(Some(s));
        }
        loop {
            match process::waitid(WaitId::Pidfd(self.pidfd.as_fd()), opts) {
                Ok(None) => return Ok(None),
                Ok(Some(info)) => {
                    let s = match info.status {
                        process::WaitStatus::Exited(c) => ExitStatus::Exited(c),
                        process::WaitStatus::Signaled { signal, .. } => {
                            ExitStatus::Signaled(signal)
                        }
                        _ => continue,
                    };
                    self.finished = Some(s);
                    return Ok(Some(s));
                }
                Err(Errno::EINTR) => {}
                Err(e) => return Err(Error::host(format!("waitid for pid {}", self.pid), e)),
            }
        }
    }
}

/// The namespace files of `/proc/PID/ns` with the flag `setns` joins them by.
const NAMESPACES: [(&core::ffi::CStr, CloneFlags); 8] = [
    (c"user", CloneFlags::NEWUSER),
    (c"mnt", CloneFlags::NEWNS),
    (c"pid", CloneFlags::NEWPID),
    (c"net", CloneFlags::NEWNET),
    (c"ipc", CloneFlags::NEWIPC),
    (c"uts", CloneFlags::NEWUTS),
    (c"cgroup", CloneFlags::NEWCGROUP),
    (c"time", CloneFlags::NEWTIME),
];

/// The namespaces of `pid` that are not the caller's (joining one's own user namespace is an
/// error, the others would only cost). The two `ns` directories are opened once and each
/// file is looked up in them (16 walks of `/proc/...` paths cost ~50 us of an exec here).
fn differing_namespaces(pid: i32) -> Result<CloneFlags, Error> {
    let open_dir = |path: &str| {
        let c = cjoin(&[path])?;
        fs::openat(
            CWD,
            &c,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::host(format!("open {path}"), e))
    };
    let theirs_dir = open_dir(&format!("/proc/{pid}/ns"))?;
    let ours_dir = open_dir("/proc/self/ns")?;
    let mut flags = CloneFlags::empty();
    for (name, flag) in NAMESPACES {
        let (t, o) = (
            fs::statat(&theirs_dir, name, AtFlags::empty()),
            fs::statat(&ours_dir, name, AtFlags::empty()),
        );
        match (t, o) {
            (Ok(t), Ok(o)) if (t.st_dev, t.st_ino) == (o.st_dev, o.st_ino) => {}
            (Ok(_), Ok(_)) => flags |= flag,
            // A kind this kernel does not have.
            (Err(Errno::ENOENT), _) | (_, Err(Errno::ENOENT)) => {}
            (Err(e), _) | (_, Err(e)) => {
                let name = name.to_str().unwrap_or("?");
                return Err(Error::host(format!("stat /proc/{pid}/ns/{name}"), e));
            }
        }
    }
    Ok(flags)
}

fn pipe() -> Result<(OwnedFd, OwnedFd), Error> {
    io::pipe2(PipeFlags::CLOEXEC).map_err(|e| Error::host("pipe2", e))
}

fn read_full(fd: &OwnedFd, buf: &mut [u8]) -> Result<usize, Error> {
    crate::runtime::read_full(fd, buf)
        .map_err(|e| Error::host("read a pipe from the joining process", e))
}

fn reap(id: WaitId<'_>) {
    loop {
        match process::waitid(id, WaitOptions::EXITED) {
            Err(Errno::EINTR) => {}
            _ => return,
        }
    }
}

impl StateRoot {
    /// Starts process `p` in running container `id` and returns once it runs (its `execve`
    /// succeeded) or with the step that failed. The process is a child of the caller: wait
    /// for it with [`ExecHandle::wait`], or leave it (and exit) for the caller's subreaper.
    ///
    /// A container that is not `running` (created, paused, stopped) is refused with
    /// [`Error::WrongStatus`], an unknown id with [`Error::NotFound`]. See the
    /// [module docs](self) for the steps and the escapes they close.
    pub fn exec(&self, id: &str, p: &ExecProcess) -> Result<ExecHandle, Error> {
        let l = self.lock(id)?;
        let Some(rec) = self.load(&l)? else {
            return Err(wrong(id, "exec", Status::Creating));
        };
        let status = Self::status(&l, &rec);
        if status != Status::Running {
            return Err(wrong(id, "exec", status));
        }
        let Some(defaults) = &rec.process else {
            return Err(Error::Unexpected(format!(
                "container {id} was created by an older version: its process settings are \
                 not recorded, so nothing can join it"
            )));
        };
        let Some(pidfd) = proc::open(rec.pid, rec.start_time)? else {
            return Err(wrong(id, "exec", Status::Stopped));
        };
        let namespaces = differing_namespaces(rec.pid)?;
        // The cgroups to join: the container's, and a v1 freezer directory of its own.
        let mut dirs: Vec<&str> = rec.cgroups.iter().map(String::as_str).collect();
        if let Some(FreezerDir::V1(f)) = &rec.freezer {
            dirs.push(f);
        }
        let mut procs_files = Vec::new();
        for d in dirs {
            let path = cjoin(&[d, "/cgroup.procs"])?;
            let flags = OFlags::WRONLY | OFlags::CLOEXEC;
            let fd = fs::openat(CWD, &path, flags, Mode::empty())
                .map_err(|e| Error::host(format!("open {d}/cgroup.procs"), e))?;
            procs_files.push((fd, String::from(d)));
        }
        let procs: Vec<(RawFd, String)> = procs_files
            .iter()
            .map(|(f, d)| (f.as_raw(), d.clone()))
            .collect();
        spawn_joined(p, defaults, &pidfd, rec.pid, namespaces, &procs)
    }
}

/// The process's settings over the container's defaults.
fn resolve_env(p: &ExecProcess, d: &ProcessRecord) -> Vec<(String, String)> {
    let mut env = if p.inherit_env {
        d.env.clone()
    } else {
        Vec::new()
    };
    for (k, v) in &p.env {
        env.retain(|(o, _)| o != k);
        env.push((k.clone(), v.clone()));
    }
    env
}

fn spawn_joined(
    p: &ExecProcess,
    d: &ProcessRecord,
    pidfd: &OwnedFd,
    pid: i32,
    namespaces: CloneFlags,
    procs: &[(RawFd, String)],
) -> Result<ExecHandle, Error> {
    let mut credentials = d.credentials.clone();
    if let Some(sets) = p.caps {
        credentials.sets = Some(sets);
        credentials.keep = Some(sets.bounding.bits());
    }
    if let Some(nnp) = p.no_new_privs {
        credentials.no_new_privs = nnp;
    }
    if let Some(profile) = &p.seccomp {
        credentials.seccomp = Some(profile.compile()?);
    }
    let env = resolve_env(p, d);
    let stdio = p.stdio.each_ref().map(|s| match s {
        Stdio::Fd(f) => Some(f.as_raw()),
        Stdio::Inherit => None,
    });
    let (err_r, err_w) = pipe()?;
    let (pid_r, pid_w) = pipe()?;
    let terminal = match p.terminal {
        true => Some(terminal_socketpair()?),
        false => None,
    };
    let handles = JoinHandles {
        cgroup_procs: procs,
        pidfd: pidfd.as_raw(),
        pid,
        namespaces,
        pid_pipe: pid_w.as_raw(),
        err_fd: err_w.as_raw(),
        terminal: terminal.as_ref().map(|(_, child)| child.as_raw()),
    };
    let plan = joined::build(
        &handles,
        &JoinProcess {
            program: &p.command.program,
            args: &p.command.args,
            env: &env,
            hostname: &d.hostname,
            cwd: p.cwd.as_deref().unwrap_or(&d.cwd),
            user: p.user.or(d.user).unwrap_or((0, 0)),
            groups: match (&p.groups, p.user) {
                (Some(g), _) => g.clone(),
                (None, Some(_)) => Vec::new(),
                (None, None) => d.groups.clone(),
            },
            credentials: &credentials,
            rlimits: &p.rlimits,
            stdio,
            pass_fds: p.pass_fds.iter().map(|f| f.as_raw()).collect(),
        },
    )?;
    let args = CloneArgs::new(CloneFlags::empty(), Some(Signal::SIGCHLD));
    // SAFETY: the child runs only `child::run`, which issues raw system calls over the
    // prepared plan without allocating, and ends in execve or exit_group (its fork step
    // included).
    let forked = unsafe { process::clone3_with_pidfd(&args) };
    let joiner = match forked {
        Err(e) => return Err(Error::host("clone3 of the joining process", e)),
        Ok(ForkPidfd::Child) => child::run(&plan, err_w.as_raw(), -1, None),
        Ok(ForkPidfd::Parent { pidfd, .. }) => pidfd,
    };
    drop((err_w, pid_w));
    let ours = terminal.map(|(ours, _child)| ours);
    let mut rec = [0u8; Report::LEN];
    let n = read_full(&err_r, &mut rec);
    // The joining process has exited (after its fork, or on failure): reap it.
    reap(WaitId::Pidfd(joiner.as_fd()));
    let mut pidb = [0u8; 4];
    let got_pid = read_full(&pid_r, &mut pidb)?;
    let exec_pid = (got_pid == 4).then(|| i32::from_ne_bytes(pidb));
    let n = n?;
    if n > 0 {
        if let Some(pid) = exec_pid {
            reap(WaitId::Pid(pid));
        }
        return Err(plan.failure(&rec, n));
    }
    let Some(exec_pid) = exec_pid else {
        return Err(Error::ChildVanished);
    };
    // Our child (CLONE_PARENT), not reaped yet: the pid cannot have been reused.
    let pidfd = process::pidfd_open(exec_pid, process::PidfdFlags::empty())
        .map_err(|e| Error::host(format!("pidfd_open {exec_pid}"), e))?;
    let mut handle = ExecHandle {
        pid: exec_pid,
        pidfd,
        terminal: None,
        finished: None,
    };
    if let Some(sock) = &ours {
        match receive_terminal(sock) {
            Ok(m) => handle.terminal = Some(m),
            Err(e) => {
                let _ = handle.kill(Signal::SIGKILL);
                let _ = handle.wait();
                return Err(e);
            }
        }
    }
    Ok(handle)
}
