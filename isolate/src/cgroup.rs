//! The container's cgroup: discovered layout (v2 when the unified hierarchy has the
//! controllers delegated, v1 otherwise), creation below the caller's own cgroup, limits,
//! statistics and removal.
//!
//! Only directories this module created are ever written to or removed: creation fails with
//! `EEXIST` rather than adopting a cgroup that is already there.

use alloc::ffi::CString;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use rawsys::fs::{self, AtFlags, CWD, Mode, OFlags};
use rawsys::{Errno, OwnedFd};

use crate::error::{ConfigError, Error};
use crate::fsutil::{cjoin, list_dir, read_string, write_existing};

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
    }
}

impl Controllers {
    fn from_controller_name(name: &str) -> Controllers {
        match name {
            "memory" => Controllers::MEMORY,
            "pids" => Controllers::PIDS,
            "cpu" => Controllers::CPU,
            "cpuacct" => Controllers::CPUACCT,
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Memory limit in bytes (swap is limited to the same total where the kernel allows).
    pub memory_bytes: Option<u64>,
    /// Maximum number of processes and threads.
    pub pids: Option<u64>,
    /// CPU bandwidth.
    pub cpu: Option<CpuQuota>,
}

impl Limits {
    fn required(&self) -> Controllers {
        let mut c = Controllers::empty();
        if self.memory_bytes.is_some() {
            c |= Controllers::MEMORY;
        }
        if self.pids.is_some() {
            c |= Controllers::PIDS;
        }
        if self.cpu.is_some() {
            c |= Controllers::CPU;
        }
        c
    }
}

/// Where the container's cgroup is created.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CgroupParent {
    /// Below the calling process's own cgroup in each hierarchy (from `/proc/self/cgroup`).
    #[default]
    Own,
    /// Below this absolute path, relative to the root of each hierarchy (e.g. `/lp-test-parent`).
    Path(String),
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

/// One mounted hierarchy and the caller's place in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hierarchy {
    /// Mount point.
    pub(crate) mount: String,
    /// The path inside the hierarchy that the mount shows at its mount point.
    pub(crate) mount_root: String,
    /// `None` for the unified (v2) hierarchy.
    pub(crate) v1: Option<Controllers>,
    /// The caller's own cgroup path in this hierarchy, from `/proc/self/cgroup`.
    pub(crate) own: Option<String>,
}

impl Hierarchy {
    /// The directory of `cgroup_path` (absolute in the hierarchy), or `None` if the mount does
    /// not show it.
    fn dir_of(&self, cgroup_path: &str) -> Option<String> {
        let rel = if self.mount_root == "/" {
            cgroup_path
        } else {
            let rest = cgroup_path.strip_prefix(self.mount_root.as_str())?;
            if !(rest.is_empty() || rest.starts_with('/')) {
                return None;
            }
            rest
        };
        let rel = rel.trim_end_matches('/');
        Some(format!("{}{}", self.mount.trim_end_matches('/'), rel))
    }
}

/// Undoes `\ooo` escapes in a mountinfo field.
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `/proc/self/mountinfo` and `/proc/self/cgroup` text into the hierarchies.
pub(crate) fn parse_layout(mountinfo: &str, self_cgroup: &str) -> Vec<Hierarchy> {
    let mut out: Vec<Hierarchy> = Vec::new();
    for line in mountinfo.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if pre.len() < 5 || post.len() < 3 {
            continue;
        }
        let (root, mount) = (unescape(pre[3]), unescape(pre[4]));
        let v1 = match post[0] {
            "cgroup2" => None,
            "cgroup" => {
                let mut c = Controllers::empty();
                for opt in post[2].split(',') {
                    c |= Controllers::from_controller_name(opt);
                }
                if c.is_empty() {
                    continue;
                }
                Some(c)
            }
            _ => continue,
        };
        // A hierarchy mounted twice: the first mount is enough.
        if out.iter().any(|h| h.v1 == v1) {
            continue;
        }
        out.push(Hierarchy {
            mount,
            mount_root: root,
            v1,
            own: None,
        });
    }
    for line in self_cgroup.lines() {
        let mut it = line.splitn(3, ':');
        let (Some(_id), Some(ctrls), Some(path)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let want = if ctrls.is_empty() {
            None
        } else {
            let mut c = Controllers::empty();
            for n in ctrls.split(',') {
                c |= Controllers::from_controller_name(n);
            }
            if c.is_empty() {
                continue;
            }
            Some(c)
        };
        for h in out.iter_mut() {
            if h.v1 == want {
                h.own = Some(path.to_string());
            }
        }
    }
    out
}

/// The cgroup hierarchies of the running system.
pub(crate) fn discover() -> Result<Vec<Hierarchy>, Error> {
    let mi = read_string(c"/proc/self/mountinfo")
        .map_err(|e| Error::host("read /proc/self/mountinfo", e))?;
    let cg =
        read_string(c"/proc/self/cgroup").map_err(|e| Error::host("read /proc/self/cgroup", e))?;
    Ok(parse_layout(&mi, &cg))
}

/// One created cgroup directory.
#[derive(Debug)]
struct Dir {
    path: String,
    controllers: Controllers,
}

/// Usage figures read from the container's cgroup.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CgroupStats {
    /// Highest memory use in bytes (`memory.max_usage_in_bytes` / `memory.peak`).
    pub memory_peak: Option<u64>,
    /// Processes the OOM killer killed in the cgroup (`oom_kill` counter).
    pub oom_kills: Option<u64>,
    /// CPU time used by all processes of the cgroup, in nanoseconds.
    pub cpu_time_ns: Option<u64>,
}

/// A cgroup this crate created; removed on [`Cgroup::remove`] or on drop.
#[derive(Debug)]
pub struct Cgroup {
    version: CgroupVersion,
    dirs: Vec<Dir>,
    procs: Vec<OwnedFd>,
    removed: bool,
}

fn parent_path(h: &Hierarchy, parent: &CgroupParent) -> Option<String> {
    match parent {
        CgroupParent::Own => h.own.clone(),
        CgroupParent::Path(p) => Some(p.clone()),
        CgroupParent::None => None,
    }
}

fn v2_delegated(h: &Hierarchy, parent: &CgroupParent, need: Controllers) -> Option<String> {
    let dir = h.dir_of(&parent_path(h, parent)?)?;
    let ctl = cjoin(&[&dir, "/cgroup.subtree_control"]).ok()?;
    let text = read_string(&ctl).ok()?;
    let mut have = Controllers::empty();
    for n in text.split_whitespace() {
        have |= Controllers::from_controller_name(n);
    }
    if have.contains(need) { Some(dir) } else { None }
}

fn check_name(name: &str) -> Result<(), ConfigError> {
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
        let layout = discover()?;
        let need = limits.required();
        let v2 = layout
            .iter()
            .find(|h| h.v1.is_none())
            .and_then(|h| v2_delegated(h, parent, need | Controllers::MEMORY));
        let mut plan: Vec<(String, Controllers)> = Vec::new();
        if let Some(dir) = v2 {
            cg.version = CgroupVersion::V2;
            plan.push((
                format!("{dir}/{name}"),
                need | Controllers::MEMORY | Controllers::CPUACCT,
            ));
        } else {
            let want = need | Controllers::MEMORY | Controllers::CPUACCT;
            let mut covered = Controllers::empty();
            for h in layout.iter() {
                let Some(c) = h.v1 else { continue };
                if (c & want).is_empty() || c.intersects(covered) {
                    continue;
                }
                let Some(dir) = parent_path(h, parent).and_then(|p| h.dir_of(&p)) else {
                    continue;
                };
                covered |= c;
                plan.push((format!("{dir}/{name}"), c & want));
            }
            let missing = need - covered;
            if !missing.is_empty() {
                return Err(ConfigError::NoController(missing.first_name()).into());
            }
        }
        for (path, controllers) in plan {
            let p = cjoin(&[&path])?;
            fs::mkdirat(CWD, &p, Mode::from_bits_truncate(0o755))
                .map_err(|e| Error::host(format!("mkdir {path}"), e))?;
            cg.dirs.push(Dir { path, controllers });
        }
        // `cg` removes the directories on drop if anything below fails.
        cg.apply(limits)?;
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

    fn write(&self, dir: &str, file: &str, value: &str, optional: bool) -> Result<(), Error> {
        let p = cjoin(&[dir, "/", file])?;
        match write_existing(&p, value.as_bytes()) {
            Ok(()) => Ok(()),
            Err(Errno::ENOENT) if optional => Ok(()),
            Err(e) => Err(Error::host(format!("write {value:?} to {dir}/{file}"), e)),
        }
    }

    fn apply(&self, limits: &Limits) -> Result<(), Error> {
        for d in &self.dirs {
            let c = d.controllers;
            match self.version {
                CgroupVersion::V1 => {
                    if let (true, Some(m)) = (c.contains(Controllers::MEMORY), limits.memory_bytes)
                    {
                        let v = m.to_string();
                        self.write(&d.path, "memory.limit_in_bytes", &v, false)?;
                        // Memory plus swap gets the same bound, so the limit cannot be dodged
                        // by swapping; absent when swap accounting is off.
                        self.write(&d.path, "memory.memsw.limit_in_bytes", &v, true)?;
                    }
                    if let (true, Some(n)) = (c.contains(Controllers::PIDS), limits.pids) {
                        self.write(&d.path, "pids.max", &n.to_string(), false)?;
                    }
                    if let (true, Some(q)) = (c.contains(Controllers::CPU), limits.cpu) {
                        self.write(
                            &d.path,
                            "cpu.cfs_period_us",
                            &q.period_us.to_string(),
                            false,
                        )?;
                        self.write(&d.path, "cpu.cfs_quota_us", &q.quota_us.to_string(), false)?;
                    }
                }
                CgroupVersion::V2 => {
                    if let Some(m) = limits.memory_bytes {
                        self.write(&d.path, "memory.max", &m.to_string(), false)?;
                        self.write(&d.path, "memory.swap.max", "0", true)?;
                    }
                    if let Some(n) = limits.pids {
                        self.write(&d.path, "pids.max", &n.to_string(), false)?;
                    }
                    if let Some(q) = limits.cpu {
                        let v = format!("{} {}", q.quota_us, q.period_us);
                        self.write(&d.path, "cpu.max", &v, false)?;
                    }
                }
            }
        }
        Ok(())
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

    fn read_u64(dir: &str, file: &str) -> Option<u64> {
        let p = cjoin(&[dir, "/", file]).ok()?;
        read_string(&p).ok()?.trim().parse().ok()
    }

    fn read_key(dir: &str, file: &str, key: &str) -> Option<u64> {
        let p = cjoin(&[dir, "/", file]).ok()?;
        let text = read_string(&p).ok()?;
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            if k == key {
                v.trim().parse().ok()
            } else {
                None
            }
        })
    }

    /// Reads peak memory, the OOM kill count and CPU time (each `None` when unavailable).
    pub fn stats(&self) -> CgroupStats {
        let mut s = CgroupStats::default();
        for d in &self.dirs {
            match self.version {
                CgroupVersion::V1 => {
                    if d.controllers.contains(Controllers::MEMORY) {
                        s.memory_peak = Self::read_u64(&d.path, "memory.max_usage_in_bytes");
                        s.oom_kills = Self::read_key(&d.path, "memory.oom_control", "oom_kill");
                    }
                    if d.controllers.contains(Controllers::CPUACCT) {
                        s.cpu_time_ns = Self::read_u64(&d.path, "cpuacct.usage");
                    }
                }
                CgroupVersion::V2 => {
                    s.memory_peak = Self::read_u64(&d.path, "memory.peak");
                    s.oom_kills = Self::read_key(&d.path, "memory.events", "oom_kill");
                    s.cpu_time_ns = Self::read_key(&d.path, "cpu.stat", "usage_usec")
                        .map(|u| u.saturating_mul(1000));
                }
            }
        }
        s
    }

    /// Removes the directories (innermost hierarchy order does not matter: they are siblings
    /// in different hierarchies). Fails with `EBUSY` while processes remain inside.
    pub fn remove(mut self) -> Result<(), Error> {
        self.remove_dirs()
    }

    fn remove_dirs(&mut self) -> Result<(), Error> {
        self.removed = true;
        self.procs.clear();
        let mut first_err = None;
        while let Some(d) = self.dirs.pop() {
            let r = match cjoin(&[&d.path]) {
                Ok(p) => rmdir_cgroup(&p),
                Err(_) => Err(Errno::EINVAL),
            };
            match r {
                Ok(()) | Err(Errno::ENOENT) => {}
                Err(e) => {
                    if first_err.is_none() {
                        first_err = Some(Error::host(format!("rmdir {}", d.path), e));
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
fn rmdir_cgroup(p: &CString) -> Result<(), Errno> {
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

/// Removes leftover empty cgroups below `parent` whose name starts with `prefix` and for which
/// `is_stale(name)` agrees, in every hierarchy. Returns how many directories were removed.
///
/// This is the recovery path after a crashed parent: the container's processes die with it
/// (they carry a parent-death signal and their mounts live only in their own mount
/// namespace), but empty cgroup directories remain until something removes them.
pub fn remove_stale(
    parent: &CgroupParent,
    prefix: &str,
    is_stale: impl Fn(&str) -> bool,
) -> Result<usize, Error> {
    let layout = discover()?;
    let mut removed = 0;
    for h in &layout {
        let Some(dir) = parent_path(h, parent).and_then(|p| h.dir_of(&p)) else {
            continue;
        };
        let Ok(c) = cjoin(&[&dir]) else { continue };
        let Ok(entries) = list_dir(&c) else { continue };
        for (name, kind) in entries {
            if kind != fs::FileKind::Directory || !name.starts_with(prefix) || !is_stale(&name) {
                continue;
            }
            let Ok(procs) = cjoin(&[&dir, "/", &name, "/cgroup.procs"]) else {
                continue;
            };
            match read_string(&procs) {
                Ok(t) if t.trim().is_empty() => {}
                _ => continue,
            }
            if let Ok(p) = cjoin(&[&dir, "/", &name]) {
                if fs::unlinkat(CWD, &p, AtFlags::REMOVEDIR).is_ok() {
                    removed += 1;
                }
            }
        }
    }
    Ok(removed)
}

/// [`remove_stale`] for the default container names, `isolate-<pid>-<n>`: a leftover is stale
/// when process `<pid>` no longer exists (a live owner's cgroups are left alone).
pub fn remove_stale_default(parent: &CgroupParent) -> Result<usize, Error> {
    remove_stale(parent, "isolate-", |name| {
        let Some(pid) = name
            .strip_prefix("isolate-")
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            return false;
        };
        match cjoin(&["/proc/", &pid.to_string()]) {
            Ok(p) => matches!(crate::fsutil::stat(&p), Err(Errno::ENOENT)),
            Err(_) => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 /sub /sys/fs/cgroup/pi\\040ds rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const SELF: &str = "\
9:name=systemd:/
8:pids:/sub/x
4:memory:/process_api/abc
2:cpuacct:/
1:cpu:/
0::/
";

    #[test]
    fn layout_parses_v1_and_v2_with_escapes_and_mount_roots() {
        let l = parse_layout(MOUNTINFO, SELF);
        assert_eq!(l.len(), 5, "{l:?}");
        let mem = l
            .iter()
            .find(|h| h.v1 == Some(Controllers::MEMORY))
            .unwrap();
        assert_eq!(mem.own.as_deref(), Some("/process_api/abc"));
        assert_eq!(
            mem.dir_of("/process_api/abc").as_deref(),
            Some("/sys/fs/cgroup/memory/process_api/abc")
        );
        let pids = l.iter().find(|h| h.v1 == Some(Controllers::PIDS)).unwrap();
        assert_eq!(pids.mount, "/sys/fs/cgroup/pi ds");
        assert_eq!(
            pids.dir_of("/sub/x").as_deref(),
            Some("/sys/fs/cgroup/pi ds/x")
        );
        assert_eq!(pids.dir_of("/other"), None);
        assert_eq!(pids.dir_of("/subx"), None);
        let v2 = l.iter().find(|h| h.v1.is_none()).unwrap();
        assert_eq!(v2.dir_of("/").as_deref(), Some("/sys/fs/cgroup/unified"));
    }

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
    fn stale_cgroups_are_removed_only_when_empty_and_stale() {
        let name = format!("lp-test-stale-{}", std::process::id());
        let cg = Cgroup::create(&name, &CgroupParent::Own, &Limits::default()).unwrap();
        let paths: Vec<String> = cg.paths().map(String::from).collect();
        // Forget it as a crashed parent would.
        core::mem::forget(cg);
        assert_eq!(
            remove_stale(&CgroupParent::Own, &name, |_| false).unwrap(),
            0
        );
        let n = remove_stale(&CgroupParent::Own, &name, |n| n == name).unwrap();
        assert_eq!(n, paths.len());
        for p in &paths {
            assert!(!std::path::Path::new(p).exists());
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
