//! Starting, waiting for and killing containers.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};
use core::time::Duration;

use rawsys::epoll::{self, EpollCreateFlags, EpollEvent, EpollFlags, SignalfdFlags};
use rawsys::io::{self, PipeFlags};
use rawsys::process::{self, CloneArgs, CloneFlags, ForkPidfd, WaitId, WaitOptions, WaitStatus};
use rawsys::signal::{self, SigSet, SigmaskHow, Signal};
use rawsys::time::{self, ClockId, Timespec};
use rawsys::{AsFd, Errno, OwnedFd, RawFd};

use crate::cgroup::{Cgroup, CgroupStats};
use crate::child::{self, Report};
use crate::config::{Container, Network};
use crate::error::Error;
use crate::plan;

static SEQ: AtomicU32 = AtomicU32::new(0);

/// How the container's command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Exited(i32),
    /// A signal killed it.
    Signaled(Signal),
    /// The kernel's OOM killer killed it for exceeding the memory limit.
    OutOfMemory,
}

impl ExitStatus {
    /// The shell convention: the code, `128 + signal`, or 137 for an OOM kill.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(c) => c,
            ExitStatus::Signaled(s) => 128 + s.raw(),
            ExitStatus::OutOfMemory => 128 + Signal::SIGKILL.raw(),
        }
    }

    /// Exited with code 0.
    pub fn success(self) -> bool {
        self == ExitStatus::Exited(0)
    }
}

/// The result of a finished container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// How the command ended.
    pub status: ExitStatus,
    /// Usage read from the cgroup just before it was removed.
    pub stats: CgroupStats,
    /// The memory limit that applied, if any (for messages).
    pub memory_limit: Option<u64>,
    /// Wall time from `spawn` to the end.
    pub elapsed: Duration,
}

impl Outcome {
    /// Peak memory in bytes, when the cgroup reported it.
    pub fn memory_peak(&self) -> Option<u64> {
        self.stats.memory_peak
    }

    /// CPU time used by every process of the container, when the cgroup reported it.
    pub fn cpu_time(&self) -> Option<Duration> {
        self.stats.cpu_time_ns.map(Duration::from_nanos)
    }
}

/// A running container. Dropping it kills the container (`SIGKILL`), reaps it and removes
/// its cgroup.
#[derive(Debug)]
pub struct Running {
    pid: i32,
    pidfd: OwnedFd,
    cgroup: Option<Cgroup>,
    status_pipe: Option<OwnedFd>,
    memory_limit: Option<u64>,
    started: Timespec,
    finished: Option<Outcome>,
    net: Option<crate::net::Attachment>,
    /// The pty master of a container with a terminal, until taken.
    terminal: Option<OwnedFd>,
    /// Handed over to the lifecycle: dropping it neither kills nor waits.
    detached: bool,
}

/// The cgroup directories of a [`Running`] handed over to the lifecycle.
pub(crate) struct Detached {
    /// The interface (none without a cgroup).
    pub(crate) version: Option<crate::cgroup::CgroupVersion>,
    /// The limits' directories.
    pub(crate) cgroups: Vec<String>,
    /// The v1 freezer directory the child joined (a gated launch on cgroup v1 with a
    /// freezer hierarchy).
    pub(crate) v1_freezer: Option<String>,
    /// Its place on the bridge network, if any (given back when dropped).
    pub(crate) net: Option<crate::net::Attachment>,
}

/// How [`Container::launch`] starts the container.
pub(crate) enum Launch<'a> {
    /// Runs the command now, as a child of the caller that dies with it.
    Now,
    /// Creates it under this cgroup name and leaves it waiting on the start FIFO, able to
    /// outlive the caller.
    Gated {
        /// The cgroup (and default) name.
        name: &'a str,
        /// Where the child waits.
        gate: child::StartGate,
    },
}

fn now() -> Timespec {
    time::clock_gettime(ClockId::Monotonic).unwrap_or(Timespec::ZERO)
}

/// Reads until `buf` is full or end-of-file; the bytes read.
pub(crate) fn read_full(fd: impl AsFd, buf: &mut [u8]) -> Result<usize, Errno> {
    let mut got = 0;
    while got < buf.len() {
        match io::read(&fd, &mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

impl Container {
    /// Starts the container and returns once the command is running (its `execve`
    /// succeeded) or with the step that failed.
    ///
    /// Needs root. Every resource created on the way is removed again on failure.
    pub fn spawn(&self) -> Result<Running, Error> {
        self.launch(Launch::Now)
    }

    /// Starts the container's process: runs its setup and, for [`Launch::Now`], its command;
    /// for [`Launch::Gated`] returns once the process waits on its start FIFO.
    pub(crate) fn launch(&self, how: Launch<'_>) -> Result<Running, Error> {
        let (gate, forced_name) = match how {
            Launch::Now => (None, None),
            Launch::Gated { name, gate } => (Some(gate), Some(name)),
        };
        // Without root, only a container in its own user namespace can be made (rootless).
        let rootless = process::geteuid() != 0;
        if rootless && self.opts.security.userns.is_none() {
            return Err(Error::NotRoot);
        }
        let started = now();
        let o = &self.opts;
        let name = match (forced_name, &o.name) {
            (Some(n), _) => n.into(),
            (None, Some(n)) => n.clone(),
            (None, None) => format!(
                "isolate-{}-{}",
                process::getpid(),
                SEQ.fetch_add(1, Ordering::Relaxed)
            ),
        };
        // The address is leased (and the bridge made) first: nothing else exists yet if that
        // fails, and dropping the attachment releases it if a later step fails.
        let net = match &o.network {
            Network::Bridge(cfg) => Some(crate::net::prepare(cfg, &name, &o.ports)?),
            _ => None,
        };
        let mut cgroup = if rootless {
            crate::security::rootless_cgroup(&name, &o.cgroup_parent, &o.limits)?
        } else {
            Cgroup::create(&name, &o.cgroup_parent, &o.limits)?
        };
        if gate.is_some() && cgroup.version() == crate::cgroup::CgroupVersion::V1 {
            // A created container can be paused: its v1 freezer directory is joined by the
            // child with the others (lifecycle/freezer.rs).
            if let Some(dir) = crate::lifecycle::freezer::v1_dir(&o.cgroup_parent, &name)? {
                cgroup.add_v1_freezer(dir)?;
            }
        }
        let procs: Vec<(RawFd, String)> = cgroup
            .procs_fds()
            .iter()
            .zip(cgroup.join_paths())
            .map(|(f, p)| (f.as_raw(), String::from(p)))
            .collect();
        // In a new user namespace the child waits (right after setting its parent-death
        // signal) until the parent has written its uid/gid maps.
        let userns_sync = match &o.security.userns {
            Some(_) => Some(io::pipe2(PipeFlags::CLOEXEC).map_err(|e| Error::host("pipe2", e))?),
            None => None,
        };
        // With a bridge the child waits, as its last step, for the parent to connect it.
        let net_go = match net {
            Some(_) => Some(io::pipe2(PipeFlags::CLOEXEC).map_err(|e| Error::host("pipe2", e))?),
            None => None,
        };
        // With a terminal the child sends the pty master on this socket pair.
        let terminal = match o.terminal {
            true => Some(terminal_socketpair()?),
            false => None,
        };
        let handles = plan::Handles {
            cgroup_procs: &procs,
            id_maps: userns_sync.as_ref().map(|(r, w)| (r.as_raw(), w.as_raw())),
            network_ready: net_go.as_ref().map(|(r, _)| r.as_raw()),
            terminal: terminal.as_ref().map(|(_, child)| child.as_raw()),
            address: net.as_ref().map(|a| a.ip()),
        };
        let plan = plan::build(self, &handles)?;
        let (err_r, err_w) = io::pipe2(PipeFlags::CLOEXEC).map_err(|e| Error::host("pipe2", e))?;
        // A created container's init reports to nobody: its creator is gone by then.
        let (status_r, status_w) = if o.init && gate.is_none() {
            let (r, w) = io::pipe2(PipeFlags::CLOEXEC).map_err(|e| Error::host("pipe2", e))?;
            (Some(r), Some(w))
        } else {
            (None, None)
        };
        let mut flags = crate::spec_more::clone_namespaces(o);
        if !matches!(o.network, Network::Host) {
            flags |= CloneFlags::NEWNET;
        }
        if o.security.userns.is_some() {
            flags |= CloneFlags::NEWUSER;
        }
        let args = CloneArgs::new(flags, Some(Signal::SIGCHLD));
        // SAFETY: the child runs only `child::run`, which issues raw system calls over the
        // prepared plan without allocating, and ends in execve or exit_group.
        let forked = unsafe { process::clone3_with_pidfd(&args) };
        let (pid, pidfd) = match forked {
            Err(e) => return Err(Error::host("clone3 into new namespaces", e)),
            Ok(ForkPidfd::Child) => child::run(
                &plan,
                err_w.as_raw(),
                status_w.as_ref().map_or(-1, |f| f.as_raw()),
                gate,
            ),
            Ok(ForkPidfd::Parent { pid, pidfd }) => (pid, pidfd),
        };
        if let (Some(ns), Some((r, w))) = (&o.security.userns, userns_sync) {
            let res = ns.write_maps(pid).and_then(|()| {
                io::write(&w, &[1])
                    .map(drop)
                    .map_err(|e| Error::host("release the child", e))
            });
            drop((r, w));
            if let Err(e) = res {
                let _ = process::pidfd_send_signal(&pidfd, Signal::SIGKILL);
                let _ = process::waitid(WaitId::Pidfd(pidfd.as_fd()), WaitOptions::EXITED);
                return Err(e);
            }
        }
        drop(err_w);
        drop(status_w);
        let terminal = terminal.map(|(ours, _child)| ours);
        let mut running = Running {
            pid,
            pidfd,
            cgroup: Some(cgroup),
            status_pipe: status_r,
            memory_limit: o.limits.memory_bytes,
            started,
            finished: None,
            net,
            terminal: None,
            detached: false,
        };
        let mut net_err = None;
        if let (Some(a), Some((_r, w))) = (running.net.as_mut(), net_go.as_ref()) {
            // The pipe's read end stays open here until after the write: no SIGPIPE.
            let r = a.attach(pid, running.pidfd.as_fd()).and_then(|()| {
                io::write(w, &[1])
                    .map(drop)
                    .map_err(|e| Error::host("release the child", e))
            });
            if let Err(e) = r {
                let _ = process::pidfd_send_signal(&running.pidfd, Signal::SIGKILL);
                net_err = Some(e);
            }
        }
        drop(net_go);
        let mut rec = [0u8; Report::LEN];
        let n = read_full(&err_r, &mut rec).map_err(|e| Error::host("read the error pipe", e))?;
        if n == 0 {
            if let Some(e) = net_err {
                let _ = running.wait();
                return Err(e);
            }
            // A gated child closes the pipe when it starts waiting, but one killed during
            // setup closes it too: tell them apart.
            if gate.is_some() && running.try_wait_exited()? {
                let _ = running.wait();
                return Err(Error::ChildVanished);
            }
            if let Some(sock) = &terminal {
                running.terminal = Some(receive_terminal(sock)?);
            }
            return Ok(running);
        }
        // Setup failed: the child has exited (or is about to); reap it and clean up.
        let _ = running.wait();
        Err(plan.failure(&rec, n))
    }

    /// Starts the container, waits for it to end and returns how it ended.
    ///
    /// While waiting, `SIGINT` and `SIGTERM` sent to the calling process are forwarded to the
    /// container (they are blocked in the calling thread and read from a signalfd; in a
    /// multi-threaded program another thread that does not block them may take them instead).
    pub fn run(&self) -> Result<Outcome, Error> {
        let fwd = SigSet::from_signals(&[Signal::SIGINT, Signal::SIGTERM]);
        let old = signal::rt_sigprocmask(SigmaskHow::Block, Some(&fwd))
            .map_err(|e| Error::host("block SIGINT/SIGTERM", e))?;
        let r = self.spawn().and_then(|mut running| {
            let r = forward_until_exit(&running, &fwd);
            match r {
                Ok(()) => running.wait(),
                Err(e) => {
                    let _ = running.wait();
                    Err(e)
                }
            }
        });
        let _ = signal::rt_sigprocmask(SigmaskHow::SetMask, Some(&old));
        r
    }
}

fn forward_until_exit(running: &Running, fwd: &SigSet) -> Result<(), Error> {
    let host = |what: &'static str| move |e| Error::host(what, e);
    let sfd = epoll::signalfd4(fwd, SignalfdFlags::CLOEXEC | SignalfdFlags::NONBLOCK)
        .map_err(host("signalfd"))?;
    let ep = epoll::epoll_create1(EpollCreateFlags::CLOEXEC).map_err(host("epoll_create1"))?;
    epoll::epoll_ctl_add(&ep, &running.pidfd, EpollEvent::new(EpollFlags::IN, 0))
        .map_err(host("epoll_ctl pidfd"))?;
    epoll::epoll_ctl_add(&ep, &sfd, EpollEvent::new(EpollFlags::IN, 1))
        .map_err(host("epoll_ctl signalfd"))?;
    let mut events = [EpollEvent::default(); 2];
    loop {
        let n = match epoll::epoll_pwait(&ep, &mut events, -1, None) {
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::host("epoll_pwait", e)),
        };
        for ev in &events[..n] {
            if ev.token() == 0 {
                return Ok(());
            }
            let mut infos = [epoll::SignalfdSiginfo::default(); 4];
            while let Ok(k) = epoll::signalfd_read(&sfd, &mut infos) {
                for i in &infos[..k] {
                    if let Some(sig) = Signal::from_raw(i.ssi_signo as i32) {
                        let _ = running.kill(sig);
                    }
                }
            }
        }
    }
}

/// A close-on-exec `AF_UNIX` `SOCK_SEQPACKET` pair for a pty master: (the caller's end, the
/// child's end).
pub(crate) fn terminal_socketpair() -> Result<(OwnedFd, OwnedFd), Error> {
    use rawsys::net::{self, AddressFamily, Protocol, SocketFlags, SocketType};
    net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        Protocol::DEFAULT,
    )
    .map_err(|e| Error::host("socketpair for the terminal", e))
}

/// The pty master the child sent on `sock` (before its `execve`, or before it started to
/// wait for `start`): it is there already, so the receive does not wait.
pub(crate) fn receive_terminal(sock: &OwnedFd) -> Result<OwnedFd, Error> {
    use rawsys::net::{self, ControlMessages, IoSliceMut, MsgHdrMut, RecvFlags};
    let mut name = [0u8; 64];
    let mut control = [0u8; net::cmsg_space(4 * 4)];
    let mut iov = [IoSliceMut::new(&mut name)];
    let mut msg = MsgHdrMut::new(&mut iov).with_control(&mut control);
    let flags = RecvFlags::DONTWAIT | RecvFlags::CMSG_CLOEXEC;
    net::recvmsg(sock, &mut msg, flags).map_err(|e| Error::host("receive the pty master", e))?;
    let mut master = None;
    for m in ControlMessages::new(msg.control()) {
        for fd in m.rights().into_iter().flatten() {
            // SAFETY: a descriptor received with SCM_RIGHTS is new and ours alone.
            let fd = unsafe { OwnedFd::from_raw(fd) };
            master.get_or_insert(fd);
        }
    }
    master.ok_or_else(|| Error::Unexpected("no pty master came from the child".into()))
}

impl Running {
    /// The pty master of a container built with
    /// [`Builder::terminal`](crate::Builder::terminal) (once; `None` afterwards or without a
    /// terminal). Reading it gives the command's output, writing it is the command's input;
    /// its window size is the terminal's. Once every process holding the slave has exited,
    /// reads fail with `EIO`.
    pub fn take_terminal(&mut self) -> Option<OwnedFd> {
        self.terminal.take()
    }

    /// Whether the process has ended, without reaping it.
    fn try_wait_exited(&self) -> Result<bool, Error> {
        let opts = WaitOptions::EXITED | WaitOptions::NOHANG | WaitOptions::NOWAIT;
        match process::waitid(WaitId::Pidfd(self.pidfd.as_fd()), opts) {
            Ok(r) => Ok(r.is_some()),
            Err(e) => Err(Error::host(format!("waitid for pid {}", self.pid), e)),
        }
    }

    /// Hands the process over to the lifecycle: the cgroup is kept (its paths returned), the
    /// network attachment too, and dropping `self` no longer kills the process.
    pub(crate) fn detach(mut self) -> Detached {
        self.detached = true;
        let net = self.net.take();
        match self.cgroup.take() {
            Some(c) => {
                let version = c.version();
                let (cgroups, v1_freezer) = c.keep();
                Detached {
                    version: Some(version),
                    cgroups,
                    v1_freezer,
                    net,
                }
            }
            None => Detached {
                version: None,
                cgroups: Vec::new(),
                v1_freezer: None,
                net,
            },
        }
    }

    /// The command's pid as seen from the caller (it is PID 1 inside).
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The container's address on the bridge network, if it has one.
    pub fn address(&self) -> Option<[u8; 4]> {
        self.net.as_ref().map(|a| a.ip())
    }

    /// The paths of the container's cgroup directories.
    pub fn cgroup_paths(&self) -> Vec<String> {
        self.cgroup
            .as_ref()
            .map(|c| c.paths().map(String::from).collect())
            .unwrap_or_default()
    }

    /// Sends `sig` to the container's PID 1 (through its pidfd, so never to a recycled pid).
    /// A PID 1 without a handler ignores every signal but `SIGKILL` (and `SIGSTOP`).
    pub fn kill(&self, sig: Signal) -> Result<(), Error> {
        if self.finished.is_some() {
            return Ok(());
        }
        match process::pidfd_send_signal(&self.pidfd, sig) {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(e) => Err(Error::host(
                format!("signal {sig:?} to pid {}", self.pid),
                e,
            )),
        }
    }

    /// Waits for the container to end, removes its cgroup and reports how it ended.
    /// Calling it again returns the same outcome.
    pub fn wait(&mut self) -> Result<Outcome, Error> {
        if let Some(o) = self.finished {
            return Ok(o);
        }
        let st = loop {
            match process::waitid(WaitId::Pidfd(self.pidfd.as_fd()), WaitOptions::EXITED) {
                Ok(Some(info)) => break info.status,
                Ok(None) | Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::host(format!("waitid for pid {}", self.pid), e)),
            }
        };
        self.finish(st)
    }

    /// Like [`Running::wait`] without blocking: `None` while the container runs.
    pub fn try_wait(&mut self) -> Result<Option<Outcome>, Error> {
        if let Some(o) = self.finished {
            return Ok(Some(o));
        }
        match process::waitid(
            WaitId::Pidfd(self.pidfd.as_fd()),
            WaitOptions::EXITED | WaitOptions::NOHANG,
        ) {
            Ok(Some(info)) => self.finish(info.status).map(Some),
            Ok(None) | Err(Errno::EINTR) => Ok(None),
            Err(e) => Err(Error::host(format!("waitid for pid {}", self.pid), e)),
        }
    }

    fn finish(&mut self, st: WaitStatus) -> Result<Outcome, Error> {
        // Under init, the command's own status arrives on the status pipe.
        let mut st = st;
        if let Some(p) = self.status_pipe.take() {
            let mut b = [0u8; 4];
            if read_full(&p, &mut b) == Ok(4) {
                st = WaitStatus::from_raw(i32::from_ne_bytes(b));
            }
        }
        let cg = self.cgroup.take();
        let stats = cg.as_ref().map(|c| c.stats()).unwrap_or_default();
        let mut removal = match cg {
            Some(c) => c.remove(),
            None => Ok(()),
        };
        if let Some(mut a) = self.net.take() {
            let r = a.release();
            removal = removal.and(r);
        }
        let status = match st {
            // A shell reports a child the OOM killer took as 137; with the cgroup's counter
            // up, that is an OOM kill too.
            WaitStatus::Exited(137) if stats.oom_kills.is_some_and(|n| n > 0) => {
                ExitStatus::OutOfMemory
            }
            WaitStatus::Exited(c) => ExitStatus::Exited(c),
            WaitStatus::Signaled { signal, .. } => {
                if signal == Signal::SIGKILL && stats.oom_kills.is_some_and(|n| n > 0) {
                    ExitStatus::OutOfMemory
                } else {
                    ExitStatus::Signaled(signal)
                }
            }
            WaitStatus::Stopped(_) | WaitStatus::Continued | WaitStatus::Unrecognized(_) => {
                return Err(Error::Unexpected("stopped container".into()));
            }
        };
        let elapsed = now().duration_since(self.started).unwrap_or(Duration::ZERO);
        let out = Outcome {
            status,
            stats,
            memory_limit: self.memory_limit,
            elapsed,
        };
        self.finished = Some(out);
        removal.map(|()| out)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.finished.is_none() && !self.detached {
            let _ = process::pidfd_send_signal(&self.pidfd, Signal::SIGKILL);
            let _ = self.wait();
        }
    }
}
