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
//!   the caller's annotations, what it holds on a bridge network), written to `state.tmp`
//!   and renamed over `state`.
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
//! # The bridge network
//! A container created on [`Network::Bridge`] is connected as [`Container::spawn`] connects
//! one (veth into the bridge, address, route, NAT, published ports' DNAT rules, `/etc/hosts`
//! with its address) while its process waits for `start`. What it holds must outlive the
//! creator, so:
//! - its address lease names the container's own process (pid and start time) as owner,
//!   handed over from the creator as soon as that process exists (see `net/lease.rs`): the
//!   lease is live exactly while the container's process is, whoever created it;
//! - the state records the network ([`NetworkSettings`]: the bridge's settings, the address,
//!   `eth0`'s MAC address, the published ports), which [`ContainerState::network`] reports;
//! - once the process has ended, [`StateRoot::release_network`] deletes its DNAT rules and
//!   its lease and drops the record's network lines (the veth pair goes with the container's
//!   network namespace, which the kernel tears down when its last process exits). The process
//!   that reaps the container calls it (`container`'s supervisor), and [`StateRoot::delete`]
//!   does the same for whoever did not;
//! - if every process involved was killed, the lease is stale once the container's process
//!   is gone: the next container on the bridge, or [`BridgeConfig::remove_stale`]
//!   (`container cleanup`), deletes it with its DNAT rules and veth.
//!
//! The published host ports are held by sockets that only the creator can keep
//! ([`Created::port_holds`]). The OCI runtime (`isorun`) does not use this: an OCI
//! container's network namespace comes from its caller.

mod create;
pub mod exec;
pub(crate) mod freezer;
mod proc;
mod record;

pub use create::Created;
pub use exec::{ExecHandle, ExecProcess};

/// Whether the process behind `pidfd` has ended (its pidfd is readable), without waiting.
pub(crate) fn process_ended(pidfd: &rawsys::OwnedFd) -> Result<bool, Error> {
    proc::wait_exit(pidfd, 0)
}

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rawsys::fs::{self, AtFlags, CWD, FlockOp, Mode, OFlags};
use rawsys::io;
use rawsys::process::{self, WaitId, WaitOptions};
use rawsys::signal::Signal;
use rawsys::{AsFd, Errno, OwnedFd};

#[cfg(doc)]
use crate::config::Container;
use crate::config::check_abs;
use crate::error::{ConfigError, Error};
use crate::fsutil::{cjoin, list_dir, read_string, write_all};
use crate::net::NetworkSettings;
#[cfg(doc)]
use crate::net::{BridgeConfig, Network};
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
    /// What it holds on a bridge network (its address, ports...), until that is given back
    /// ([`StateRoot::release_network`]); `None` without a bridge.
    pub network: Option<NetworkSettings>,
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
                network: r.network,
            },
            None => ContainerState {
                id: id.into(),
                status: Status::Creating,
                pid: 0,
                created: 0,
                annotations: Vec::new(),
                cgroup_paths: Vec::new(),
                network: None,
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
            network: r.network,
        }))
    }

    /// Gives back what stopped container `id` holds on its bridge network: its published
    /// ports' DNAT rules and its address lease (its veth pair has gone with its network
    /// namespace, or goes as the kernel finishes tearing it down); the state no longer
    /// reports a network afterwards. What the process that reaps the container does at once
    /// (a supervisor); [`StateRoot::delete`] does it too. Nothing to do without a bridge or
    /// when done already; [`Error::WrongStatus`] while the container runs (or is
    /// `creating`).
    pub fn release_network(&self, id: &str) -> Result<(), Error> {
        let l = self.lock(id)?;
        let Some(mut r) = self.load(&l)? else {
            return Err(wrong(id, "release the network of", Status::Creating));
        };
        let status = Self::status(&l, &r);
        if status != Status::Stopped {
            return Err(wrong(id, "release the network of", status));
        }
        let Some(n) = r.network.take() else {
            return Ok(());
        };
        crate::net::release(&n, (r.pid, r.start_time))?;
        write_state(&l.dir, &r)
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
/// exited), gives back its network and removes its cgroups. `reap`: the caller is its parent
/// (a failed `create`).
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
    if let Some(n) = &r.network {
        if let Err(e) = crate::net::release(n, (r.pid, r.start_time)) {
            first_err.get_or_insert(e);
        }
    }
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
