//! The container's cgroup: discovered layout (v2 when the unified hierarchy has the
//! controllers delegated, v1 otherwise), creation below the caller's own cgroup, limits,
//! statistics and removal.
//!
//! Only directories this module created are ever written to or removed: creation fails with
//! `EEXIST` rather than adopting a cgroup that is already there.
//!
//! `layout` reads the mounted hierarchies, `v1` and `v2` hold what differs between the two
//! interfaces (where the directories go, how limits are written, where figures are read),
//! `stats` the figures, `stale` the clean-up after a crashed parent.

use alloc::ffi::CString;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use rawsys::fs::{self, AtFlags, CWD, Mode, OFlags};
use rawsys::{Errno, OwnedFd};

use crate::error::{ConfigError, Error};
use crate::fsutil::{cjoin, read_string, write_existing};

mod layout;
mod stale;
mod stats;
mod v1;
mod v2;

pub use stale::{remove_stale, remove_stale_default};
pub use stats::CgroupStats;

use layout::discover;

bitflags::bitflags! {
    /// Cgroup controllers this crate uses.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Controllers: u8 {
        /// `memory`: limit, peak usage, OOM kills.
        const MEMORY = 1;
        /// `pids`: process count limit.
        const PIDS = 2;
        /// `cpu`: CFS quota.
        const CPU = 4;
        /// `cpuacct` (v1 only; v2 reports usage in `cpu.stat`): CPU time used.
        const CPUACCT = 8;
        /// `cpuset`: the CPUs and memory nodes the processes may use.
        const CPUSET = 16;
    }
}

impl Controllers {
    fn from_controller_name(name: &str) -> Controllers {
        match name {
            "memory" => Controllers::MEMORY,
            "pids" => Controllers::PIDS,
            "cpu" => Controllers::CPU,
            "cpuacct" => Controllers::CPUACCT,
            "cpuset" => Controllers::CPUSET,
            _ => Controllers::empty(),
        }
    }

    fn first_name(self) -> &'static str {
        if self.contains(Controllers::MEMORY) {
            "memory"
        } else if self.contains(Controllers::PIDS) {
            "pids"
        } else if self.contains(Controllers::CPU) {
            "cpu"
        } else if self.contains(Controllers::CPUSET) {
            "cpuset"
        } else {
            "cpuacct"
        }
    }
}

/// A CPU bandwidth limit: `quota_us` of CPU time per `period_us` of wall time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuQuota {
    /// Microseconds of CPU time allowed per period (1000 or more).
    pub quota_us: u64,
    /// The period in microseconds (1000 to 1 000 000).
    pub period_us: u64,
}

impl CpuQuota {
    /// The quota for `millicpus` thousandths of a CPU (500 = half a core) over a 100 ms period.
    pub fn from_millicpus(millicpus: u64) -> Result<CpuQuota, ConfigError> {
        let quota_us = millicpus
            .checked_mul(100)
            .ok_or(ConfigError::BadLimit("cpus"))?;
        if quota_us < 1000 {
            return Err(ConfigError::BadLimit("cpus (at least 0.01)"));
        }
        Ok(CpuQuota {
            quota_us,
            period_us: 100_000,
        })
    }
}

/// Resource limits for the container's cgroup. `None` leaves a resource unlimited.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Memory limit in bytes (swap is limited to the same total where the kernel allows).
    pub memory_bytes: Option<u64>,
    /// Maximum number of processes and threads.
    pub pids: Option<u64>,
    /// CPU bandwidth.
    pub cpu: Option<CpuQuota>,
    /// Memory plus swap in bytes (at least `memory_bytes`; `None`: the same as the memory
    /// limit, no swap). OCI `memory.swap`.
    pub memory_swap: Option<u64>,
    /// The soft limit memory is pushed back to under pressure (v1
    /// `memory.soft_limit_in_bytes`, v2 `memory.low`). OCI `memory.reservation`.
    pub memory_reservation: Option<u64>,
    /// The relative CPU weight (v1 `cpu.shares`, 2 to 262144; v2 `cpu.weight` converted as
    /// runc does). OCI `cpu.shares`.
    pub cpu_shares: Option<u64>,
    /// How eagerly the kernel swaps the cgroup's anonymous memory, 0 to 100 (v1
    /// `memory.swappiness`; cgroup v2 has no such file, and creating the cgroup there fails).
    /// OCI `memory.swappiness`.
    pub memory_swappiness: Option<u64>,
    /// The CPUs the processes may run on, in the kernel's list format (`0-3,6`): the
    /// `cpuset.cpus` file (v1 and v2). OCI `cpu.cpus`.
    pub cpuset_cpus: Option<String>,
    /// The memory nodes the processes may allocate from (`0`, `0-1`): `cpuset.mems`. OCI
    /// `cpu.mems`.
    pub cpuset_mems: Option<String>,
}

impl Limits {
    fn required(&self) -> Controllers {
        let mut c = Controllers::empty();
        if self.memory_bytes.is_some()
            || self.memory_swap.is_some()
            || self.memory_reservation.is_some()
            || self.memory_swappiness.is_some()
        {
            c |= Controllers::MEMORY;
        }
        if self.pids.is_some() {
            c |= Controllers::PIDS;
        }
        if self.cpu.is_some() || self.cpu_shares.is_some() {
            c |= Controllers::CPU;
        }
        if self.cpuset_cpus.is_some() || self.cpuset_mems.is_some() {
            c |= Controllers::CPUSET;
        }
        c
    }
}

/// Where the container's cgroup is created.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CgroupParent {
    /// Below the calling process's own cgroup in each hierarchy (from `/proc/self/cgroup`).
    #[default]
    Own,
    /// Below this absolute path, relative to the root of each hierarchy (e.g. `/lp-test-parent`).
    Path(String),
    /// Below this relative path under the calling process's own cgroup in each hierarchy
    /// (`a/b`: `OWN/a/b`), as runc and crun place an OCI `cgroupsPath` that is not absolute.
    OwnBelow(String),
    /// Create no cgroup at all (no limits, no memory or CPU statistics).
    None,
}

/// Which cgroup interface a container uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgroupVersion {
    /// One directory per v1 hierarchy.
    V1,
    /// One directory in the unified hierarchy.
    V2,
}

/// One created cgroup directory.
#[derive(Debug)]
struct Dir {
    path: String,
    controllers: Controllers,
}

/// A cgroup this crate created; removed on [`Cgroup::remove`] or on drop.
#[derive(Debug)]
pub struct Cgroup {
    version: CgroupVersion,
    dirs: Vec<Dir>,
    /// A v1 `freezer` directory of the lifecycle's (see [`Cgroup::add_v1_freezer`]).
    freezer: Option<String>,
    /// The join files of `dirs`, then of `freezer`.
    procs: Vec<OwnedFd>,
    removed: bool,
}

/// Checks that `name` is a single safe directory name (what a container may be called).
pub(crate) fn check_name(name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::BadName(name.to_string()))
    }
}

/// Makes the missing directories above `path` (a cgroup directory to be created).
pub(crate) fn mkdir_parents(path: &str) -> Result<(), Error> {
    let Some((parent, _)) = path.rsplit_once('/') else {
        return Ok(());
    };
    let p = cjoin(&[parent])?;
    match fs::statat(CWD, &p, AtFlags::empty()) {
        Ok(_) => return Ok(()),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(Error::host(format!("stat {parent}"), e)),
    }
    mkdir_parents(parent)?;
    match fs::mkdirat(CWD, &p, Mode::from_bits_truncate(0o755)) {
        Ok(()) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(Error::host(format!("mkdir {parent}"), e)),
    }
}

/// Writes `value` to control file `file` of `dir`; a missing `optional` file is skipped.
fn write(dir: &str, file: &str, value: &str, optional: bool) -> Result<(), Error> {
    let p = cjoin(&[dir, "/", file])?;
    match write_existing(&p, value.as_bytes()) {
        Ok(()) => Ok(()),
        Err(Errno::ENOENT) if optional => Ok(()),
        Err(e) => Err(Error::host(format!("write {value:?} to {dir}/{file}"), e)),
    }
}

impl Cgroup {
    /// Creates the cgroup `name` below `parent` and applies `limits`.
    ///
    /// Picks cgroup v2 when the unified hierarchy is mounted and the parent delegates the
    /// controllers needed (memory, plus pids and cpu when limited), v1 otherwise. Without a
    /// memory controller anywhere and no limit asked for, the result has no directory (and
    /// no statistics). On failure everything created so far is removed.
    pub fn create(name: &str, parent: &CgroupParent, limits: &Limits) -> Result<Cgroup, Error> {
        check_name(name)?;
        let mut cg = Cgroup {
            version: CgroupVersion::V1,
            dirs: Vec::new(),
            freezer: None,
            procs: Vec::new(),
            removed: false,
        };
        if *parent == CgroupParent::None {
            if !limits.required().is_empty() {
                return Err(ConfigError::NoController(limits.required().first_name()).into());
            }
            return Ok(cg);
        }
        if let CgroupParent::Path(p) = parent {
            if !p.starts_with('/') || p.split('/').any(|c| c == "..") || p.contains('\0') {
                return Err(ConfigError::NotAbsolute {
                    what: "cgroup parent",
                    path: p.clone(),
                }
                .into());
            }
        }
        if let CgroupParent::OwnBelow(p) = parent {
            if p.starts_with('/') || p.split('/').any(|c| c == "..") || p.contains('\0') {
                return Err(ConfigError::BadPath {
                    what: "cgroup parent below the caller's own",
                    path: p.clone(),
                }
                .into());
            }
        }
        let layout = discover()?;
        let need = limits.required();
        let dirs = match v2::dir(&layout, parent, need, name) {
            Some(d) => {
                cg.version = CgroupVersion::V2;
                alloc::vec![d]
            }
            None => v1::dirs(&layout, parent, need, name)?,
        };
        for (path, controllers) in dirs {
            // A parent named by path may not exist yet: its directories are made (and left,
            // as runc leaves them); the container's own directory must be new.
            mkdir_parents(&path)?;
            let p = cjoin(&[&path])?;
            fs::mkdirat(CWD, &p, Mode::from_bits_truncate(0o755)).map_err(|e| match e {
                // Never adopted: it belongs to a container of the same name.
                Errno::EEXIST => Error::host(
                    format!("mkdir {path}: the name {name} is in use by another container"),
                    e,
                ),
                _ => Error::host(format!("mkdir {path}"), e),
            })?;
            cg.dirs.push(Dir { path, controllers });
        }
        // `cg` removes the directories on drop if anything below fails.
        for d in &cg.dirs {
            match cg.version {
                CgroupVersion::V1 => v1::apply(d, limits)?,
                CgroupVersion::V2 => v2::apply(d, limits)?,
            }
        }
        // The child joins by writing `0` (itself). In v1 it writes to `tasks`: moving one
        // thread of a single-threaded process skips the global threadgroup lock that a write
        // to `cgroup.procs` takes for writing, which costs an RCU grace period (1-10 ms).
        let join_file = match cg.version {
            CgroupVersion::V1 => "tasks",
            CgroupVersion::V2 => "cgroup.procs",
        };
        for d in &cg.dirs {
            let p = cjoin(&[&d.path, "/", join_file])?;
            let fd = fs::openat(CWD, &p, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| Error::host(format!("open {}/{join_file}", d.path), e))?;
            cg.procs.push(fd);
        }
        Ok(cg)
    }

    /// The interface in use.
    pub fn version(&self) -> CgroupVersion {
        self.version
    }

    /// The created directories, outermost hierarchy first.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.dirs.iter().map(|d| d.path.as_str())
    }

    /// Open files (`tasks` in v1, `cgroup.procs` in v2) where a single-threaded process
    /// writing `0` moves itself in.
    pub(crate) fn procs_fds(&self) -> &[OwnedFd] {
        &self.procs
    }

    /// The directories of [`Cgroup::procs_fds`], in the same order: [`Cgroup::paths`], then
    /// the freezer directory if there is one.
    pub(crate) fn join_paths(&self) -> impl Iterator<Item = &str> {
        self.paths().chain(self.freezer.as_deref())
    }

    /// Adds a directory at `path` in the v1 `freezer` hierarchy (which the limits do not
    /// use), made and joined as the others are: the child moves itself in through `tasks`
    /// with the rest, so that the lifecycle does not move it later by pid, which takes the
    /// global threadgroup lock and waits for an RCU grace period (several ms, tens when the
    /// machine is loaded). Removed with the others; [`Cgroup::keep`] returns it apart.
    pub(crate) fn add_v1_freezer(&mut self, path: String) -> Result<(), Error> {
        mkdir_parents(&path)?;
        let p = cjoin(&[&path])?;
        fs::mkdirat(CWD, &p, Mode::from_bits_truncate(0o755))
            .map_err(|e| Error::host(format!("mkdir {path}"), e))?;
        let tasks = cjoin(&[&path, "/tasks"])?;
        self.freezer = Some(path);
        let fd = fs::openat(CWD, &tasks, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Error::host(format!("open {}/tasks", self.freezer_path()), e))?;
        self.procs.push(fd);
        Ok(())
    }

    fn freezer_path(&self) -> &str {
        self.freezer.as_deref().unwrap_or_default()
    }

    /// Moves process `pid` (as seen by the caller) into the cgroup.
    pub fn add_process(&self, pid: i32) -> Result<(), Error> {
        let v = pid.to_string();
        for d in &self.dirs {
            let p = cjoin(&[&d.path, "/cgroup.procs"])?;
            write_existing(&p, v.as_bytes())
                .map_err(|e| Error::host(format!("write {pid} to {}/cgroup.procs", d.path), e))?;
        }
        Ok(())
    }

    /// The process ids currently in the cgroup (union over the hierarchies).
    pub fn pids(&self) -> Result<Vec<i32>, Error> {
        let mut out: Vec<i32> = Vec::new();
        for d in &self.dirs {
            let p = cjoin(&[&d.path, "/cgroup.procs"])?;
            let text = read_string(&p)
                .map_err(|e| Error::host(format!("read {}/cgroup.procs", d.path), e))?;
            for l in text.lines() {
                if let Ok(pid) = l.trim().parse::<i32>() {
                    if !out.contains(&pid) {
                        out.push(pid);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Removes the directories (innermost hierarchy order does not matter: they are siblings
    /// in different hierarchies). Fails with `EBUSY` while processes remain inside.
    pub fn remove(mut self) -> Result<(), Error> {
        self.remove_dirs()
    }

    /// Keeps the directories for a container that outlives this value; their paths, and
    /// the freezer directory's apart.
    pub(crate) fn keep(mut self) -> (Vec<String>, Option<String>) {
        self.removed = true;
        (
            self.dirs.drain(..).map(|d| d.path).collect(),
            self.freezer.take(),
        )
    }

    fn remove_dirs(&mut self) -> Result<(), Error> {
        self.removed = true;
        self.procs.clear();
        let mut first_err = None;
        let dirs = self.dirs.drain(..).map(|d| d.path);
        let paths: Vec<String> = dirs.chain(self.freezer.take()).collect();
        for path in paths {
            let r = match cjoin(&[&path]) {
                Ok(p) => rmdir_cgroup(&p),
                Err(_) => Err(Errno::EINVAL),
            };
            match r {
                Ok(()) | Err(Errno::ENOENT) => {}
                Err(e) => {
                    if first_err.is_none() {
                        first_err = Some(Error::host(format!("rmdir {path}"), e));
                    }
                }
            }
        }
        match first_err {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}

/// `rmdir` of a cgroup whose last process has just been reaped: the kernel can still be
/// finishing that task's exit in the cgroup for a moment, which shows as `EBUSY`.
pub(crate) fn rmdir_cgroup(p: &CString) -> Result<(), Errno> {
    let mut tries = 0;
    loop {
        match fs::unlinkat(CWD, p, AtFlags::REMOVEDIR) {
            Err(Errno::EBUSY) if tries < 200 => {
                tries += 1;
                let t = rawsys::time::Timespec::from_nanos(500_000);
                let _ = rawsys::time::nanosleep(&t, None);
            }
            r => return r,
        }
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        if !self.removed {
            let _ = self.remove_dirs();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_single_safe_components() {
        assert!(check_name("lp-test-a_1.2").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "x\0"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cpu_quota_from_millicpus() {
        assert_eq!(
            CpuQuota::from_millicpus(500).unwrap(),
            CpuQuota {
                quota_us: 50_000,
                period_us: 100_000
            }
        );
        assert!(CpuQuota::from_millicpus(0).is_err());
        assert!(CpuQuota::from_millicpus(u64::MAX).is_err());
    }

    #[test]
    fn create_applies_limits_and_remove_leaves_nothing() {
        let limits = Limits {
            memory_bytes: Some(64 << 20),
            pids: Some(17),
            cpu: Some(CpuQuota::from_millicpus(250).unwrap()),
            ..Limits::default()
        };
        let name = format!("lp-test-cg-{}", std::process::id());
        let cg = Cgroup::create(&name, &CgroupParent::Own, &limits).unwrap();
        let paths: Vec<String> = cg.paths().map(String::from).collect();
        assert!(!paths.is_empty());
        for p in &paths {
            assert!(p.ends_with(&name));
            assert!(std::path::Path::new(p).is_dir());
        }
        // A second container of the same name must not adopt the first one's cgroup.
        let again = Cgroup::create(&name, &CgroupParent::Own, &limits).unwrap_err();
        assert_eq!(again.errno(), Some(Errno::EEXIST));
        for p in &paths {
            assert!(
                std::path::Path::new(p).is_dir(),
                "failed create removed {p}"
            );
        }
        let text = |p: &str, f: &str| std::fs::read_to_string(format!("{p}/{f}")).unwrap();
        match cg.version() {
            CgroupVersion::V1 => {
                let mem = paths.iter().find(|p| p.contains("/memory/")).unwrap();
                assert_eq!(text(mem, "memory.limit_in_bytes").trim(), "67108864");
                let pids = paths.iter().find(|p| p.contains("/pids/")).unwrap();
                assert_eq!(text(pids, "pids.max").trim(), "17");
                let cpu = paths.iter().find(|p| p.contains("/cpu/")).unwrap();
                assert_eq!(text(cpu, "cpu.cfs_quota_us").trim(), "25000");
            }
            CgroupVersion::V2 => {
                assert_eq!(text(&paths[0], "memory.max").trim(), "67108864");
                assert_eq!(text(&paths[0], "pids.max").trim(), "17");
            }
        }
        assert!(cg.pids().unwrap().is_empty());
        let mut child = std::process::Command::new("/bin/sleep")
            .arg("100")
            .spawn()
            .unwrap();
        cg.add_process(child.id() as i32).unwrap();
        assert_eq!(cg.pids().unwrap(), alloc::vec![child.id() as i32]);
        child.kill().unwrap();
        child.wait().unwrap();
        let s = cg.stats();
        assert_eq!(s.oom_kills, Some(0));
        assert!(s.memory_peak.is_some());
        cg.remove().unwrap();
        for p in &paths {
            assert!(!std::path::Path::new(p).exists(), "{p} left behind");
        }
    }

    #[test]
    fn no_cgroup_parent_refuses_limits() {
        let l = Limits {
            pids: Some(3),
            ..Limits::default()
        };
        assert_eq!(
            Cgroup::create("lp-test-none", &CgroupParent::None, &l).unwrap_err(),
            Error::Config(ConfigError::NoController("pids"))
        );
        let cg = Cgroup::create("lp-test-none", &CgroupParent::None, &Limits::default()).unwrap();
        assert_eq!(cg.paths().count(), 0);
    }
}
