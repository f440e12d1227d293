//! A container lifecycle that outlives the calling process, as the OCI runtimes have it:
//! [`StateRoot::create`] sets a container up and leaves its process waiting before
//! `execve`; [`StateRoot::start`], [`StateRoot::state`], [`StateRoot::kill`],
//! [`StateRoot::pause`], [`StateRoot::resume`] and [`StateRoot::delete`] work on it later,
//! from any process, by id.
//!
//! ```no_run
//! use isolate::{Container, Signal, StateRoot, Status};
//!
//! let root = StateRoot::new("/run/isolate")?;
//! let c = Container::builder().host_rootfs().command("/bin/sleep", ["100"])?.build()?;
//! root.create(&c, "web", &[("bundle", "/srv/web")])?;
//! assert_eq!(root.state("web")?.status, Status::Created);
//! root.start("web")?; // in another process, later
//! root.kill("web", Signal::SIGKILL, false)?;
//! root.delete("web", false)?; // once it has stopped
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The state directory
//! One directory per container below the root (default [`DEFAULT_STATE_ROOT`]), holding:
//! - `lock`: every command takes an exclusive `flock` on it for its whole run, so two
//!   commands on one id never interleave. A command that waited for the lock while the
//!   container was deleted finds the file unlinked (`st_nlink == 0`) and answers "does not
//!   exist".
//! - `state`: the record (pid and its start time, cgroup and freezer directories,
//!   the caller's annotations), written to `state.tmp` and renamed over `state`.
//! - `start.fifo` while the container is created and not yet started.
//!
//! `create` builds the directory under a temporary name with the lock already held and
//! renames it into place: a second `create` of the same id fails at the rename (exactly one
//! wins), and no other command sees a directory whose lock is free before its state exists.
//!
//! # Blocked before `execve`: a FIFO the child reads
//! The parent makes `start.fifo` and opens it read-write (which never blocks) for the child;
//! after its whole setup the child checks that its command exists, closes its error pipe
//! (the parent reads end-of-file as "created") and blocks in `read` on the FIFO: being a
//! writer itself it never sees end-of-file, only the byte `start` writes. `start` opens the
//! FIFO write-only and non-blocking, which fails with `ENXIO` exactly when no process waits
//! on it, writes the byte and unlinks the FIFO. Compared with runc's `exec.fifo` (the child
//! opens `/proc/self/fd/N` write-only and blocks in `open`) this needs no `/proc` inside the
//! container, and compared with a signal it cannot be released by a stray signal, is
//! released once only (the FIFO is gone afterwards, under the lock), and its presence is
//! what "created" means on disk. The read is interruptible: `kill` works on a created
//! container.
//!
//! # The process
//! The container's process is a child of the process that calls `create`; it has no
//! parent-death signal, so when that process exits the kernel re-parents it to the nearest
//! `PR_SET_CHILD_SUBREAPER` ancestor (conmon, containerd's shim) or to init, which reaps it.
//! Its standard descriptors are the creator's (or those the builder names), unchanged.
//! Later commands name it by pid and start time (`/proc/PID/stat` field 22): a pid reused
//! by another process never matches, and signals go through a pidfd checked against the
//! start time after opening.
//!
//! # Status
//! `stopped` when the process is gone (or a zombie, or its pid belongs to another process
//! now); else `created` while `start.fifo` exists; else `paused` when its freezer cgroup is
//! frozen; else `running`. `creating` is a directory whose `state` was never written (a
//! `create` that crashed); only `delete` with `force` removes it.
//!
//! # Joining: `exec`
//! [`StateRoot::exec`] starts another process in a running container ([`ExecProcess`], a
//! typed `process.json`); the steps and the escapes they close (CVE-2016-9962,
//! CVE-2019-5736, CVE-2024-21626) are in [`exec`]. A container built with a terminal is
//! created with [`StateRoot::create_with_terminal`], which returns the pty master.
//!
//! # Not yet
//! - the bridge network for created containers (its address lease names the creator's pid
//!   as owner, which exits).

pub mod exec;
pub(crate) mod freezer;
mod proc;
mod record;

pub use exec::{ExecHandle, ExecProcess};

/// Whether the process behind `pidfd` has ended (its pidfd is readable), without waiting.
pub(crate) fn process_ended(pidfd: &rawsys::OwnedFd) -> Result<bool, Error> {
    proc::wait_exit(pidfd, 0)
}

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

use rawsys::fs::{self, AtFlags, CWD, FlockOp, Mode, OFlags};
use rawsys::io;
use rawsys::process::{self, WaitId, WaitOptions};
use rawsys::signal::Signal;
use rawsys::time::{self, ClockId};
use rawsys::{AsFd, Errno, OwnedFd};

use crate::child::{MAX_PASSED_FDS, StartGate};
use crate::config::{Container, check_abs};
use crate::error::{ConfigError, Error};
use crate::fsutil::{cjoin, list_dir, read_string, write_all};
use crate::net::Network;
use crate::runtime::Launch;
use record::{FreezerDir, Record};

/// Where the state directories live unless the caller names another root.
pub const DEFAULT_STATE_ROOT: &str = "/run/isolate";

/// How long `delete` with `force` waits for a killed container to exit.
const KILL_WAIT_MS: i32 = 10_000;

/// A container's status, as the OCI runtime specification names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Being created (or a `create` crashed half way).
    Creating,
    /// Set up, its process waiting before `execve` for [`StateRoot::start`].
    Created,
    /// Its command runs.
    Running,
    /// Its process has exited.
    Stopped,
    /// Frozen by [`StateRoot::pause`].
    Paused,
}

impl Status {
    /// The runtime specification's word: `creating`, `created`, `running`, `stopped`,
    /// `paused`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Stopped => "stopped",
            Status::Paused => "paused",
        }
    }
}

impl core::fmt::Display for Status {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`StateRoot::state`] reports about a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerState {
    /// The container's id.
    pub id: String,
    /// Its status now.
    pub status: Status,
    /// Its process (PID 1 inside) as the host sees it; 0 while `creating`.
    pub pid: i32,
    /// When it was created, in seconds since the epoch (0 while `creating`).
    pub created: i64,
    /// The key-value pairs given to [`StateRoot::create`] (the OCI bundle, annotations...).
    pub annotations: Vec<(String, String)>,
    /// Its cgroup directories.
    pub cgroup_paths: Vec<String>,
}

/// The directory holding one state directory per container; every lifecycle operation goes
/// through it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateRoot {
    dir: String,
}

/// A container's directory with its lock held (released on drop).
struct Locked {
    dir: String,
    _lock: OwnedFd,
}

fn host(what: impl Into<String>) -> impl FnOnce(Errno) -> Error {
    let what = what.into();
    move |e| Error::host(what, e)
}

fn mkdir_p(path: &str) -> Result<(), Error> {
    let mut cur = String::new();
    for comp in path.split('/').filter(|c| !c.is_empty()) {
        cur.push('/');
        cur.push_str(comp);
        match fs::mkdirat(CWD, &cjoin(&[&cur])?, Mode::RWXU) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(Error::host(format!("mkdir {cur}"), e)),
        }
    }
    Ok(())
}

/// Unlinks `dir/name`; a missing file is fine.
fn unlink(dir: &str, name: &str) -> Result<(), Error> {
    match fs::unlinkat(CWD, &cjoin(&[dir, "/", name])?, AtFlags::empty()) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(Error::host(format!("unlink {dir}/{name}"), e)),
    }
}

impl StateRoot {
    /// The root at `dir` (absolute; created on the first `create`).
    pub fn new(dir: &str) -> Result<StateRoot, ConfigError> {
        Ok(StateRoot {
            dir: check_abs("state root", dir)?,
        })
    }

    /// The root directory.
    pub fn dir(&self) -> &str {
        &self.dir
    }

    /// The state directory of container `id`.
    pub fn container_dir(&self, id: &str) -> Result<String, ConfigError> {
        crate::cgroup::check_name(id)?;
        Ok(format!("{}/{id}", self.dir))
    }

    /// Locks container `id`'s directory; [`Error::NotFound`] if there is none (or it was
    /// deleted while we waited for the lock).
    fn lock(&self, id: &str) -> Result<Locked, Error> {
        let dir = self.container_dir(id)?;
        let path = cjoin(&[&dir, "/lock"])?;
        let fd = match fs::openat(CWD, &path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Err(Error::NotFound(id.into())),
            Err(e) => return Err(Error::host(format!("open {dir}/lock"), e)),
        };
        loop {
            match fs::flock(&fd, FlockOp::EXCLUSIVE) {
                Ok(()) => break,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::host(format!("flock {dir}/lock"), e)),
            }
        }
        let st = fs::fstat(&fd).map_err(host(format!("fstat {dir}/lock")))?;
        if st.st_nlink == 0 {
            return Err(Error::NotFound(id.into()));
        }
        Ok(Locked { dir, _lock: fd })
    }

    /// The container's record; `None` while it is `creating`.
    fn load(&self, l: &Locked) -> Result<Option<Record>, Error> {
        match read_string(&cjoin(&[&l.dir, "/state"])?) {
            Ok(text) => Record::parse(&text)
                .map(Some)
                .ok_or_else(|| Error::Unexpected(format!("{}/state is not a state file", l.dir))),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(Error::host(format!("read {}/state", l.dir), e)),
        }
    }

    fn status(l: &Locked, r: &Record) -> Status {
        if !proc::alive(r.pid, r.start_time) {
            Status::Stopped
        } else if cjoin(&[&l.dir, "/start.fifo"])
            .is_ok_and(|p| fs::statat(CWD, &p, AtFlags::SYMLINK_NOFOLLOW).is_ok())
        {
            Status::Created
        } else if r.freezer.as_ref().is_some_and(FreezerDir::is_frozen) {
            Status::Paused
        } else {
            Status::Running
        }
    }

    /// Creates container `id` from `c`: namespaces, cgroup, mounts and security exactly as
    /// [`Container::spawn`] sets them up (the cgroup is named as the builder's
    /// [`name`](crate::Builder::name), else `id`), with the process left
    /// waiting before `execve` until [`StateRoot::start`]. `annotations` are kept in the
    /// state for the caller (keys: one word each).
    ///
    /// The process is a child of the caller with no parent-death signal: when the caller
    /// exits it is re-parented to the nearest subreaper; a caller that stays must reap it.
    /// Fails with [`Error::Exists`] if the id is taken; on any failure nothing is left.
    ///
    /// A container with a terminal ([`Builder::terminal`](crate::Builder::terminal)) is
    /// refused here: its pty master must not be lost, use
    /// [`StateRoot::create_with_terminal`].
    pub fn create(
        &self,
        c: &Container,
        id: &str,
        annotations: &[(&str, &str)],
    ) -> Result<ContainerState, Error> {
        if c.opts.terminal {
            return Err(ConfigError::BadOption(
                "a container with a terminal is created with StateRoot::create_with_terminal"
                    .into(),
            )
            .into());
        }
        self.create_any(c, id, annotations).map(|(st, _)| st)
    }

    /// [`StateRoot::create`] of a container built with
    /// [`Builder::terminal(true)`](crate::Builder::terminal): also returns the master of the
    /// pty that is its process's stdin, stdout, stderr and controlling terminal (what an OCI
    /// runtime sends over `--console-socket`).
    ///
    /// ```no_run
    /// use isolate::{Container, StateRoot};
    /// let root = StateRoot::new("/run/isolate")?;
    /// let c = Container::builder().host_rootfs().command("/bin/sh", [""; 0])?
    ///     .terminal(true).build()?;
    /// let (_state, master) = root.create_with_terminal(&c, "shell", &[])?;
    /// root.start("shell")?;
    /// rawsys::io::write(&master, b"echo hi; exit\n")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_with_terminal(
        &self,
        c: &Container,
        id: &str,
        annotations: &[(&str, &str)],
    ) -> Result<(ContainerState, OwnedFd), Error> {
        if !c.opts.terminal {
            return Err(ConfigError::BadOption(
                "create_with_terminal needs a container built with terminal(true)".into(),
            )
            .into());
        }
        let (st, master) = self.create_any(c, id, annotations)?;
        match master {
            Some(m) => Ok((st, m)),
            None => Err(Error::Unexpected("no pty master from the container".into())),
        }
    }

    fn create_any(
        &self,
        c: &Container,
        id: &str,
        annotations: &[(&str, &str)],
    ) -> Result<(ContainerState, Option<OwnedFd>), Error> {
        let dir = self.container_dir(id)?;
        if let Some((k, _)) = annotations.iter().find(|(k, _)| !record::valid_key(k)) {
            return Err(ConfigError::BadAnnotation(k.to_string()).into());
        }
        if matches!(c.opts.network, Network::Bridge(_)) {
            return Err(ConfigError::Network(
                "the bridge network is not available to created containers yet".into(),
            )
            .into());
        }
        mkdir_p(&self.dir)?;
        let _locked = self.claim(id, &dir)?;
        let (rec, master) = match self.stage(c, id, &dir, annotations) {
            Ok(r) => r,
            Err(e) => {
                let _ = remove_files(&dir);
                return Err(e);
            }
        };
        let st = ContainerState {
            id: rec.id.clone(),
            // What stage made: the process waits on the FIFO (its start time was read just
            // now), which nobody but `start` under this lock removes.
            status: Status::Created,
            pid: rec.pid,
            created: rec.created,
            annotations: rec.annotations,
            cgroup_paths: rec.cgroups,
        };
        Ok((st, master))
    }

    /// Makes `dir` with its lock file held by us: the lock is made and taken in a temporary
    /// directory that is then renamed to `dir`, which fails when `dir` exists (the id is
    /// taken). Nobody else can see the directory before it is locked.
    fn claim(&self, id: &str, dir: &str) -> Result<Locked, Error> {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let tmp = format!("{}/.{id}.{}.{n}.tmp", self.dir, process::getpid());
        fs::mkdirat(CWD, &cjoin(&[&tmp])?, Mode::RWXU).map_err(host(format!("mkdir {tmp}")))?;
        let flags = OFlags::RDWR | OFlags::CREAT | OFlags::EXCL | OFlags::CLOEXEC;
        let lock = fs::openat(
            CWD,
            &cjoin(&[&tmp, "/lock"])?,
            flags,
            Mode::RUSR | Mode::WUSR,
        )
        .map_err(host(format!("create {tmp}/lock")))
        .and_then(|fd| {
            fs::flock(&fd, FlockOp::EXCLUSIVE)
                .map(|()| fd)
                .map_err(host(format!("flock {tmp}/lock")))
        });
        let renamed =
            lock.and_then(
                |fd| match fs::renameat(CWD, &cjoin(&[&tmp])?, CWD, &cjoin(&[dir])?) {
                    Ok(()) => Ok(fd),
                    Err(Errno::EEXIST | Errno::ENOTEMPTY) => Err(Error::Exists(id.into())),
                    Err(e) => Err(Error::host(format!("rename {tmp} to {dir}"), e)),
                },
            );
        match renamed {
            Ok(fd) => Ok(Locked {
                dir: dir.into(),
                _lock: fd,
            }),
            Err(e) => {
                let _ = remove_files(&tmp);
                Err(e)
            }
        }
    }

    /// The rest of `create` in the claimed directory `dir`: FIFO, the process, the freezer,
    /// the state file.
    fn stage(
        &self,
        c: &Container,
        id: &str,
        tmp: &str,
        annotations: &[(&str, &str)],
    ) -> Result<(Record, Option<OwnedFd>), Error> {
        let credentials = crate::plan::container_credentials(&c.opts)?;
        let fifo_path = cjoin(&[tmp, "/start.fifo"])?;
        fs::mknodat(CWD, &fifo_path, Mode::IFIFO | Mode::RUSR | Mode::WUSR, 0)
            .map_err(host(format!("mkfifo {tmp}/start.fifo")))?;
        let fifo = fs::openat(
            CWD,
            &fifo_path,
            OFlags::RDWR | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(host(format!("open {tmp}/start.fifo")))?;
        // Above every descriptor the child's steps place (stdio, passed descriptors).
        let fifo = io::fcntl_dupfd_cloexec(&fifo, 3 + MAX_PASSED_FDS as i32)
            .map_err(host("move the start FIFO's descriptor"))?;
        let cgroup_name = c.opts.name.as_deref().unwrap_or(id);
        let mut running = c.launch(Launch::Gated {
            name: cgroup_name,
            gate: StartGate {
                fifo: fifo.as_raw(),
            },
        })?;
        drop(fifo);
        let master = running.take_terminal();
        let pid = running.pid();
        let detached = running.detach();
        let freezer = freezer::of(&detached);
        let created = time::clock_gettime(ClockId::Realtime).map_or(0, |t| t.tv_sec);
        let mut rec = Record {
            id: id.into(),
            pid,
            start_time: 0,
            created,
            cgroups: detached.cgroups,
            freezer,
            annotations: annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            process: Some(record::ProcessRecord {
                hostname: c.opts.hostname.clone(),
                cwd: c.opts.workdir.clone(),
                env: c.opts.env.clone(),
                user: c.opts.user,
                groups: c.opts.spec.additional_gids.clone(),
                credentials,
            }),
        };
        let setup = proc::ProcStat::read(pid)
            .ok_or(Error::ChildVanished)
            .and_then(|st| {
                rec.start_time = st.start_time;
                write_state(tmp, &rec)
            });
        if let Err(e) = setup {
            let _ = destroy(&rec, true);
            return Err(e);
        }
        Ok((rec, master))
    }

    /// Starts created container `id`: its process goes on to `execve`. Fails with
    /// [`Error::WrongStatus`] unless the container is `created`.
    pub fn start(&self, id: &str) -> Result<(), Error> {
        let l = self.lock(id)?;
        let rec = self.load(&l)?;
        let status = rec
            .as_ref()
            .map_or(Status::Creating, |r| Self::status(&l, r));
        if status != Status::Created {
            return Err(wrong(id, "start", status));
        }
        let path = cjoin(&[&l.dir, "/start.fifo"])?;
        let flags = OFlags::WRONLY | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fifo = match fs::openat(CWD, &path, flags, Mode::empty()) {
            Ok(f) => f,
            // Nobody reads: the process died since the status was read.
            Err(Errno::ENXIO) => return Err(wrong(id, "start", Status::Stopped)),
            Err(e) => return Err(Error::host(format!("open {}/start.fifo", l.dir), e)),
        };
        io::write(&fifo, &[1]).map_err(host(format!("write {}/start.fifo", l.dir)))?;
        unlink(&l.dir, "start.fifo")
    }

    /// The state of container `id`.
    pub fn state(&self, id: &str) -> Result<ContainerState, Error> {
        let l = self.lock(id)?;
        Ok(match self.load(&l)? {
            Some(r) => ContainerState {
                status: Self::status(&l, &r),
                id: r.id,
                pid: r.pid,
                created: r.created,
                annotations: r.annotations,
                cgroup_paths: r.cgroups,
            },
            None => ContainerState {
                id: id.into(),
                status: Status::Creating,
                pid: 0,
                created: 0,
                annotations: Vec::new(),
                cgroup_paths: Vec::new(),
            },
        })
    }

    /// A pidfd for container `id`'s process, checked against the start time recorded at
    /// `create` (so never another process that reuses its pid); `None` when it has ended.
    /// Hooks that run in the container's namespaces take it
    /// ([`crate::hooks::run_hook_in_pidfd`]).
    pub fn process_fd(&self, id: &str) -> Result<Option<rawsys::OwnedFd>, Error> {
        let l = self.lock(id)?;
        match self.load(&l)? {
            Some(r) => proc::open(r.pid, r.start_time),
            None => Err(wrong(id, "open the process of", Status::Creating)),
        }
    }

    /// The ids of every container under the root (sorted).
    pub fn list(&self) -> Result<Vec<String>, Error> {
        let mut ids: Vec<String> = match list_dir(&cjoin(&[&self.dir])?) {
            Ok(v) => v
                .into_iter()
                .map(|(n, _)| n)
                .filter(|n| !n.starts_with('.'))
                .collect(),
            Err(Errno::ENOENT) => Vec::new(),
            Err(e) => return Err(Error::host(format!("list {}", self.dir), e)),
        };
        ids.sort();
        Ok(ids)
    }

    /// Sends `sig` to container `id`'s process, or with `all` to every process of its
    /// cgroup. Fails with [`Error::WrongStatus`] when it is stopped (or `creating`).
    pub fn kill(&self, id: &str, sig: Signal, all: bool) -> Result<(), Error> {
        let l = self.lock(id)?;
        let Some(r) = self.load(&l)? else {
            return Err(wrong(id, "kill", Status::Creating));
        };
        let status = Self::status(&l, &r);
        if status == Status::Stopped {
            return Err(wrong(id, "kill", status));
        }
        proc::signal(r.pid, r.start_time, sig)?;
        if all {
            for pid in cgroup_pids(&r)? {
                proc::signal_any(pid, sig)?;
            }
        }
        // A frozen task takes even SIGKILL only once thawed.
        if status == Status::Paused && sig == Signal::SIGKILL {
            if let Some(f) = &r.freezer {
                f.set_frozen(false)?;
            }
        }
        Ok(())
    }

    /// Freezes every process of running container `id`.
    pub fn pause(&self, id: &str) -> Result<(), Error> {
        self.freeze(id, true)
    }

    /// Thaws paused container `id`.
    pub fn resume(&self, id: &str) -> Result<(), Error> {
        self.freeze(id, false)
    }

    fn freeze(&self, id: &str, frozen: bool) -> Result<(), Error> {
        let (op, need) = if frozen {
            ("pause", Status::Running)
        } else {
            ("resume", Status::Paused)
        };
        let l = self.lock(id)?;
        let Some(r) = self.load(&l)? else {
            return Err(wrong(id, op, Status::Creating));
        };
        let status = Self::status(&l, &r);
        if status != need {
            return Err(wrong(id, op, status));
        }
        match &r.freezer {
            Some(f) => f.set_frozen(frozen),
            None => Err(Error::Unexpected(format!(
                "container {id} has no freezer cgroup (no cgroup, or no freezer hierarchy)"
            ))),
        }
    }

    /// Deletes container `id`: its cgroup, freezer and state directory. A container that is
    /// not `stopped` is refused with [`Error::WrongStatus`], unless `force`, which kills it
    /// (`SIGKILL`) and waits for it first. With `force` an unknown id is not an error.
    pub fn delete(&self, id: &str, force: bool) -> Result<(), Error> {
        self.remove(id, force).map(drop)
    }

    /// [`StateRoot::delete`], returning the state the container had just before (`None`
    /// for an unknown id with `force`, or a `creating` one): what a front end needs for the
    /// steps after deletion (its poststop hooks) without a second look under the lock.
    pub fn remove(&self, id: &str, force: bool) -> Result<Option<ContainerState>, Error> {
        let l = match self.lock(id) {
            Ok(l) => l,
            Err(Error::NotFound(_)) if force => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(r) = self.load(&l)? else {
            if !force {
                return Err(wrong(id, "delete", Status::Creating));
            }
            return remove_files(&l.dir).map(|()| None);
        };
        let status = Self::status(&l, &r);
        if status != Status::Stopped && !force {
            return Err(wrong(id, "delete", status));
        }
        destroy(&r, false)?;
        remove_files(&l.dir)?;
        Ok(Some(ContainerState {
            status,
            id: r.id,
            pid: r.pid,
            created: r.created,
            annotations: r.annotations,
            cgroup_paths: r.cgroups,
        }))
    }
}

fn wrong(id: &str, op: &'static str, status: Status) -> Error {
    Error::WrongStatus {
        id: id.into(),
        op,
        status,
    }
}

/// Writes the record to `dir/state` atomically (a temporary file renamed over it).
fn write_state(dir: &str, r: &Record) -> Result<(), Error> {
    let tmp = cjoin(&[dir, "/state.tmp"])?;
    let flags = OFlags::WRONLY | OFlags::CREAT | OFlags::TRUNC | OFlags::CLOEXEC;
    let fd = fs::openat(CWD, &tmp, flags, Mode::RUSR | Mode::WUSR)
        .map_err(host(format!("create {dir}/state.tmp")))?;
    write_all(&fd, r.encode().as_bytes()).map_err(host(format!("write {dir}/state.tmp")))?;
    drop(fd);
    fs::renameat(CWD, &tmp, CWD, &cjoin(&[dir, "/state"])?)
        .map_err(host(format!("rename {dir}/state.tmp")))
}

/// The processes in the container's cgroups (the freezer's, or the first of its others).
fn cgroup_pids(r: &Record) -> Result<Vec<i32>, Error> {
    let dir = match (&r.freezer, r.cgroups.first()) {
        (Some(f), _) => f.path(),
        (None, Some(c)) => c.as_str(),
        (None, None) => return Ok(Vec::new()),
    };
    let text = match read_string(&cjoin(&[dir, "/cgroup.procs"])?) {
        Ok(t) => t,
        Err(Errno::ENOENT) => return Ok(Vec::new()),
        Err(e) => return Err(Error::host(format!("read {dir}/cgroup.procs"), e)),
    };
    Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

/// Ends the container's process (`SIGKILL`, thawing it if frozen, and waiting until it has
/// exited) and removes its cgroups. `reap`: the caller is its parent (a failed `create`).
fn destroy(r: &Record, reap: bool) -> Result<(), Error> {
    if let Some(fd) = proc::open(r.pid, r.start_time)? {
        let _ = process::pidfd_send_signal(&fd, Signal::SIGKILL);
        if let Some(f) = &r.freezer {
            let _ = f.set_frozen(false);
        }
        if reap {
            let _ = process::waitid(WaitId::Pidfd(fd.as_fd()), WaitOptions::EXITED);
        } else if !proc::wait_exit(&fd, KILL_WAIT_MS)? {
            return Err(Error::host(
                format!("wait for pid {} to exit after SIGKILL", r.pid),
                Errno::ETIMEDOUT,
            ));
        }
    } else if reap {
        // Gone already, or a zombie: reap it (a pid of ours cannot have been reused yet).
        let _ = process::waitid(WaitId::Pid(r.pid), WaitOptions::EXITED);
    }
    let mut first_err = None;
    for c in &r.cgroups {
        let res = cjoin(&[c]).and_then(|p| match crate::cgroup::rmdir_cgroup(&p) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(Error::host(format!("rmdir {c}"), e)),
        });
        if let Err(e) = res {
            first_err.get_or_insert(e);
        }
    }
    if let Some(f) = &r.freezer {
        if let Err(e) = f.remove() {
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// Removes a state directory's files and the directory; the lock last, so that commands
/// waiting for it find it unlinked.
fn remove_files(dir: &str) -> Result<(), Error> {
    for f in ["state", "state.tmp", "start.fifo", "lock"] {
        unlink(dir, f)?;
    }
    match fs::unlinkat(CWD, &cjoin(&[dir])?, AtFlags::REMOVEDIR) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(Error::host(format!("rmdir {dir}"), e)),
    }
}
