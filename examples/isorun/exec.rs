//! `exec`: a process in a running container, as `runc exec` runs it. With `--process` the
//! OCI `process.json` says everything; without it the process is the container's own
//! `config.json` process with the command from the command line and the flags on top
//! (`--env` added, `--cwd`, `--user`, `--cap` added, `--no-new-privs`, `--tty`). The joining
//! itself, and why the container cannot reach this process, is isolate's
//! (`isolate::lifecycle::exec`).

use std::path::PathBuf;

use isolate::lifecycle::ExecProcess;
use isolate::spec::{CapabilitySets, Rlimit, parse_capability_set, parse_rlimit};
use isolate::{ExecHandle, ExitStatus, Signal, StateRoot};
use rawsys::epoll::{
    EpollCreateFlags, EpollEvent, EpollFlags, SignalfdFlags, SignalfdSiginfo, epoll_create1,
    epoll_ctl_add, epoll_pwait, signalfd_read, signalfd4,
};
use rawsys::process::{PidfdFlags, pidfd_open};
use rawsys::signal::{SigSet, SigmaskHow, rt_sigprocmask};

use crate::create::{Failure, write_pid_file};
use crate::log::Log;
use crate::spec::Process;
use crate::state::describe;

/// `exec`'s flags (runc's).
#[derive(Debug, clap::Args)]
pub(crate) struct ExecArgs {
    /// The process as OCI process.json (the command line's process flags are ignored then).
    #[arg(short, long, value_name = "FILE")]
    pub(crate) process: Option<PathBuf>,
    /// Return once the process runs (else wait and exit with its status).
    #[arg(short, long)]
    pub(crate) detach: bool,
    /// Write the process's pid (as the host sees it) here.
    #[arg(long, value_name = "FILE")]
    pub(crate) pid_file: Option<PathBuf>,
    /// Give the process a pseudo-terminal.
    #[arg(short, long)]
    pub(crate) tty: bool,
    /// A unix socket to send the terminal's master to.
    #[arg(long, value_name = "PATH")]
    pub(crate) console_socket: Option<PathBuf>,
    /// The working directory inside.
    #[arg(long, value_name = "DIR")]
    pub(crate) cwd: Option<String>,
    /// An environment variable KEY=VALUE (repeatable).
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub(crate) env: Vec<String>,
    /// UID[:GID] to run as.
    #[arg(short, long, value_name = "UID[:GID]")]
    pub(crate) user: Option<String>,
    /// Supplementary groups (repeatable).
    #[arg(short = 'g', long, value_name = "GID")]
    pub(crate) additional_gids: Vec<u32>,
    /// A capability added to every set (repeatable).
    #[arg(short, long, value_name = "CAP")]
    pub(crate) cap: Vec<String>,
    /// Set no_new_privs.
    #[arg(long)]
    pub(crate) no_new_privs: bool,
    /// Pass descriptors 3 .. 3+N-1 to the process.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub(crate) preserve_fds: u32,
    /// Accepted for runc compatibility (ignored).
    #[arg(long, value_name = "LABEL")]
    pub(crate) process_label: Option<String>,
    /// Accepted for runc compatibility (ignored).
    #[arg(long, value_name = "PROFILE")]
    pub(crate) apparmor: Option<String>,
    /// The container's id.
    pub(crate) id: String,
    /// The command and its arguments (without --process).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub(crate) command: Vec<String>,
}

/// The container's own process from its bundle's config.json.
fn container_process(root: &StateRoot, id: &str) -> Result<Process, Failure> {
    let st = root.state(id).map_err(|e| describe(&e))?;
    let bundle = st
        .annotations
        .iter()
        .find(|(k, _)| k == "bundle")
        .map(|(_, v)| PathBuf::from(v))
        .ok_or_else(|| format!("container {id} has no bundle recorded"))?;
    crate::convert::read_config(&bundle)?
        .process
        .ok_or_else(|| "config.json has no process".into())
}

/// The process to start: process.json, or the container's with the flags on top.
fn process(root: &StateRoot, a: &ExecArgs) -> Result<Process, Failure> {
    if let Some(path) = &a.process {
        let text = std::fs::read(path).map_err(|e| format!("--process {}: {e}", path.display()))?;
        return serde_json::from_slice(&text)
            .map_err(|e| format!("--process {}: {e}", path.display()));
    }
    if a.command.is_empty() {
        return Err("exec needs a command (or --process FILE)".into());
    }
    let mut p = container_process(root, &a.id)?;
    p.args = a.command.clone();
    p.env.extend(a.env.iter().cloned());
    if let Some(cwd) = &a.cwd {
        p.cwd = cwd.clone();
    }
    if let Some(u) = &a.user {
        let (uid, gid) = u.split_once(':').unwrap_or((u, "0"));
        let num = |s: &str| {
            s.parse::<u32>()
                .map_err(|_| format!("--user {u}: want UID[:GID]"))
        };
        p.user.uid = num(uid)?;
        p.user.gid = num(gid)?;
    }
    if !a.additional_gids.is_empty() {
        p.user.additional_gids = a.additional_gids.clone();
    }
    if !a.cap.is_empty() {
        let caps = p.capabilities.get_or_insert_with(Default::default);
        for set in [
            &mut caps.bounding,
            &mut caps.effective,
            &mut caps.permitted,
            &mut caps.inheritable,
            &mut caps.ambient,
        ] {
            set.extend(a.cap.iter().cloned());
        }
    }
    p.no_new_privileges |= a.no_new_privs;
    p.terminal |= a.tty;
    Ok(p)
}

/// process.json as isolate's [`ExecProcess`].
fn to_exec(p: &Process, preserve_fds: u32) -> Result<ExecProcess, Failure> {
    fn e(what: &'static str) -> impl Fn(isolate::ConfigError) -> Failure {
        move |err| format!("{what}: {err}")
    }
    let Some((program, args)) = p.args.split_first() else {
        return Err("process.args is empty".into());
    };
    let mut x = ExecProcess::new(program, args).map_err(e("process.args"))?;
    x = x.inherit_env(false);
    for kv in &p.env {
        x = x.env_pair(kv).map_err(e("process.env"))?;
    }
    if !p.cwd.is_empty() {
        x = x.working_dir(&p.cwd).map_err(e("process.cwd"))?;
    }
    x = x
        .user(p.user.uid, p.user.gid)
        .additional_gids(&p.user.additional_gids)
        .map_err(e("process.user.additionalGids"))?;
    if let Some(c) = &p.capabilities {
        let set = |what: &str, names: &[String]| {
            parse_capability_set(names).map_err(|err| format!("process.capabilities.{what}: {err}"))
        };
        x = x
            .capabilities(CapabilitySets {
                bounding: set("bounding", &c.bounding)?,
                effective: set("effective", &c.effective)?,
                permitted: set("permitted", &c.permitted)?,
                inheritable: set("inheritable", &c.inheritable)?,
                ambient: set("ambient", &c.ambient)?,
            })
            .map_err(e("process.capabilities"))?;
    }
    for r in &p.rlimits {
        let resource = parse_rlimit(&r.kind).map_err(e("process.rlimits"))?;
        let (soft, hard) = (r.soft, r.hard);
        x = x
            .rlimit(Rlimit {
                resource,
                soft,
                hard,
            })
            .map_err(e("process.rlimits"))?;
    }
    x = x
        .no_new_privileges(p.no_new_privileges)
        .terminal(p.terminal);
    for i in 0..preserve_fds {
        let fd = 3 + i as i32;
        // SAFETY: descriptor `fd` was given to this process by its caller and stays open
        // while it is duplicated.
        let borrowed = unsafe { rawsys::BorrowedFd::borrow_raw(fd) };
        let copy = rawsys::io::fcntl_dupfd_cloexec(borrowed, 3)
            .map_err(|err| format!("--preserve-fds: descriptor {fd}: {err}"))?;
        x = x.pass_fd(copy).map_err(e("--preserve-fds"))?;
    }
    Ok(x)
}

/// `exec`: returns the exit status (0 with `--detach`).
pub(crate) fn exec(root: &StateRoot, a: &ExecArgs, log: &mut Log) -> Result<i32, Failure> {
    let p = process(root, a)?;
    for (name, v) in [
        ("process.apparmorProfile", &p.apparmor_profile),
        ("process.selinuxLabel", &p.selinux_label),
    ] {
        if v.as_deref().is_some_and(|s| !s.is_empty()) {
            return Err(format!("{name} is not supported"));
        }
    }
    match (p.terminal, &a.console_socket) {
        (true, None) => return Err("a terminal needs --console-socket".into()),
        (false, Some(_)) => {
            return Err("--console-socket without a terminal (process.terminal or --tty)".into());
        }
        _ => {}
    }
    let x = to_exec(&p, a.preserve_fds)?;
    log.debug(&format!("exec {:?} in {}", p.args, a.id));
    // In the foreground the signals this process gets are the process's (runc forwards
    // them): blocked from before the process exists, so none is lost or kills us first. The
    // process starts with an empty mask (isolate resets it before execve).
    let signals = if a.detach {
        None
    } else {
        Some(Forwarder::block()?)
    };
    let mut h = root.exec(&a.id, &x).map_err(|e| describe(&e))?;
    drop(x);
    if let (Some(master), Some(sock)) = (h.take_terminal(), &a.console_socket)
        && let Err(e) = crate::console::send_master(sock, &master)
    {
        let _ = h.kill(isolate::Signal::SIGKILL);
        let _ = h.wait();
        return Err(e);
    }
    if let Some(f) = &a.pid_file {
        write_pid_file(f, h.pid()).map_err(|e| format!("pid file {}: {e}", f.display()))?;
    }
    let Some(signals) = signals else {
        return Ok(0);
    };
    signals.forward_until_exit(&mut h)
}

/// A process in the foreground that [`Forwarder`] passes signals to and waits for.
pub(crate) trait Foreground {
    /// Its pid (this process's child: not reaped before the forwarding ends).
    fn pid(&self) -> i32;
    /// Sends it `sig`.
    fn signal(&self, sig: Signal) -> Result<(), Failure>;
    /// Its exit code (128 + signal when killed) once it has ended, reaping it.
    fn try_exit_code(&mut self) -> Result<Option<i32>, Failure>;
}

impl Foreground for ExecHandle {
    fn pid(&self) -> i32 {
        ExecHandle::pid(self)
    }

    fn signal(&self, sig: Signal) -> Result<(), Failure> {
        self.kill(sig).map_err(|e| describe(&e))
    }

    fn try_exit_code(&mut self) -> Result<Option<i32>, Failure> {
        Ok(self
            .try_wait()
            .map_err(|e| describe(&e))?
            .map(|st| match st {
                ExitStatus::Exited(c) => c,
                ExitStatus::Signaled(s) => 128 + s.raw(),
                ExitStatus::OutOfMemory => 137,
            }))
    }
}

/// The signals `exec` and `run` in the foreground pass on to their process, read from a
/// signalfd.
pub(crate) struct Forwarder {
    fd: rawsys::OwnedFd,
}

impl Forwarder {
    /// Every catchable signal but `SIGCHLD` (runc's list) and the synchronous faults
    /// (`SIGSEGV`, `SIGBUS`, `SIGILL`, `SIGFPE`, `SIGTRAP`, `SIGSYS`: this process's own),
    /// real-time ones included.
    fn set() -> SigSet {
        let mut set = SigSet::full();
        for s in [
            Signal::SIGKILL,
            Signal::SIGSTOP,
            Signal::SIGCHLD,
            Signal::SIGSEGV,
            Signal::SIGBUS,
            Signal::SIGILL,
            Signal::SIGFPE,
            Signal::SIGTRAP,
            Signal::SIGSYS,
        ] {
            set.remove(s);
        }
        set
    }

    /// Blocks [`Forwarder::set`] and opens a signalfd for it.
    pub(crate) fn block() -> Result<Forwarder, Failure> {
        let set = Self::set();
        rt_sigprocmask(SigmaskHow::Block, Some(&set)).map_err(|e| format!("block signals: {e}"))?;
        let fd = signalfd4(&set, SignalfdFlags::CLOEXEC | SignalfdFlags::NONBLOCK)
            .map_err(|e| format!("signalfd: {e}"))?;
        Ok(Forwarder { fd })
    }

    /// Passes every signal received on to `h`'s process until it ends; its exit code.
    pub(crate) fn forward_until_exit(self, h: &mut impl Foreground) -> Result<i32, Failure> {
        let fail = |what: &'static str| move |e: rawsys::Errno| format!("{what}: {e}");
        // Our child, not reaped before the loop ends: the pid cannot name another process.
        let pidfd = pidfd_open(h.pid(), PidfdFlags::empty()).map_err(fail("pidfd_open"))?;
        let ep = epoll_create1(EpollCreateFlags::CLOEXEC).map_err(fail("epoll_create1"))?;
        epoll_ctl_add(&ep, &self.fd, EpollEvent::new(EpollFlags::IN, 0))
            .map_err(fail("epoll_ctl"))?;
        epoll_ctl_add(&ep, &pidfd, EpollEvent::new(EpollFlags::IN, 1))
            .map_err(fail("epoll_ctl"))?;
        let mut ev = [EpollEvent::default(); 2];
        let mut info = [SignalfdSiginfo::default(); 8];
        loop {
            match epoll_pwait(&ep, &mut ev, -1, None) {
                Ok(_) | Err(rawsys::Errno::EINTR) => {}
                Err(e) => return Err(fail("epoll_pwait")(e)),
            }
            // Signals first: one that came with the exit still goes (to nobody, harmlessly).
            loop {
                match signalfd_read(&self.fd, &mut info) {
                    Ok(n) => {
                        for i in &info[..n] {
                            if let Some(sig) = Signal::from_raw(i.ssi_signo as i32) {
                                h.signal(sig)?;
                            }
                        }
                    }
                    Err(rawsys::Errno::EAGAIN) => break,
                    Err(rawsys::Errno::EINTR) => {}
                    Err(e) => return Err(fail("read signalfd")(e)),
                }
            }
            if let Some(code) = h.try_exit_code()? {
                return Ok(code);
            }
        }
    }
}
