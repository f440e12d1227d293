//! cgroup v1: one directory per hierarchy holding a controller in use.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::layout::{Hierarchy, parent_path};
use super::{CgroupParent, CgroupStats, Controllers, Dir, Limits, write};
use crate::error::{ConfigError, Error};
use crate::fsutil::{cjoin, read_string};

/// The directories (and their controllers) of cgroup `name` below `parent`: one in each
/// hierarchy holding a controller wanted (the `need`ed ones, memory and cpuacct); a needed
/// controller found in no hierarchy is an error.
pub(super) fn dirs(
    layout: &[Hierarchy],
    parent: &CgroupParent,
    need: Controllers,
    name: &str,
) -> Result<Vec<(String, Controllers)>, Error> {
    let want = need | Controllers::MEMORY | Controllers::CPUACCT;
    let mut covered = Controllers::empty();
    let mut out = Vec::new();
    for h in layout.iter() {
        let Some(c) = h.v1 else { continue };
        if (c & want).is_empty() || c.intersects(covered) {
            continue;
        }
        let Some(dir) = parent_path(h, parent).and_then(|p| h.dir_of(&p)) else {
            continue;
        };
        covered |= c;
        out.push((format!("{dir}/{name}"), c & want));
    }
    let missing = need - covered;
    if !missing.is_empty() {
        return Err(ConfigError::NoController(missing.first_name()).into());
    }
    Ok(out)
}

/// Writes the limits of the controllers `d` holds.
pub(super) fn apply(d: &Dir, limits: &Limits) -> Result<(), Error> {
    let c = d.controllers;
    if let (true, Some(m)) = (c.contains(Controllers::MEMORY), limits.memory_bytes) {
        let v = m.to_string();
        write(&d.path, "memory.limit_in_bytes", &v, false)?;
        // Memory plus swap gets the same bound, so the limit cannot be dodged by swapping;
        // absent when swap accounting is off.
        let swap = limits.memory_swap.map(|s| s.to_string());
        write(
            &d.path,
            "memory.memsw.limit_in_bytes",
            swap.as_deref().unwrap_or(&v),
            limits.memory_swap.is_none(),
        )?;
    }
    if let (true, Some(r)) = (c.contains(Controllers::MEMORY), limits.memory_reservation) {
        write(&d.path, "memory.soft_limit_in_bytes", &r.to_string(), false)?;
    }
    if let (true, Some(n)) = (c.contains(Controllers::CPU), limits.cpu_shares) {
        write(&d.path, "cpu.shares", &n.to_string(), false)?;
    }
    if let (true, Some(v)) = (c.contains(Controllers::MEMORY), limits.memory_swappiness) {
        write(&d.path, "memory.swappiness", &v.to_string(), false)?;
    }
    if c.contains(Controllers::CPUSET) {
        cpuset(d, limits)?;
    }
    if let (true, Some(n)) = (c.contains(Controllers::PIDS), limits.pids) {
        write(&d.path, "pids.max", &n.to_string(), false)?;
    }
    if let (true, Some(q)) = (c.contains(Controllers::CPU), limits.cpu) {
        write(
            &d.path,
            "cpu.cfs_period_us",
            &q.period_us.to_string(),
            false,
        )?;
        write(&d.path, "cpu.cfs_quota_us", &q.quota_us.to_string(), false)?;
    }
    Ok(())
}

/// A new v1 cpuset cgroup starts with no CPUs and no memory nodes, and no task can join it
/// (nor can a child get any) until both are set: each is the requested list, else the
/// parent's, as runc does. Parents made for a `cgroupsPath` are empty too: each empty one,
/// from the top down, gets its parent's lists first.
fn cpuset(d: &Dir, limits: &Limits) -> Result<(), Error> {
    let read = |dir: &str, file: &str| -> Result<String, Error> {
        let p = cjoin(&[dir, "/", file])?;
        read_string(&p)
            .map(|v| v.trim().to_string())
            .map_err(|e| Error::host(format!("read {dir}/{file}"), e))
    };
    // The ancestors below the hierarchy's root, nearest first.
    let mut chain = Vec::new();
    let mut cur = d.path.as_str();
    while let Some((parent, _)) = cur.rsplit_once('/') {
        let Ok(p) = cjoin(&[parent, "/cpuset.cpus"]) else {
            break;
        };
        if read_string(&p).is_err() {
            break;
        }
        chain.push(parent);
        cur = parent;
    }
    for file in ["cpuset.cpus", "cpuset.mems"] {
        // The topmost ancestor with the file is the hierarchy's root (never empty).
        for pair in chain.windows(2).rev() {
            let (dir, above) = (pair[0], pair[1]);
            if read(dir, file)?.is_empty() {
                write(dir, file, &read(above, file)?, false)?;
            }
        }
    }
    let parent = chain.first().copied().unwrap_or("");
    for (file, want) in [
        ("cpuset.cpus", &limits.cpuset_cpus),
        ("cpuset.mems", &limits.cpuset_mems),
    ] {
        let value = match want {
            Some(v) => v.clone(),
            None => read(parent, file)?,
        };
        write(&d.path, file, &value, false)?;
    }
    Ok(())
}

/// Reads the figures of the controllers `d` holds into `s`.
pub(super) fn read_stats(d: &Dir, s: &mut CgroupStats) {
    use super::stats::{read_key, read_u64};
    if d.controllers.contains(Controllers::MEMORY) {
        s.memory_peak = read_u64(&d.path, "memory.max_usage_in_bytes");
        s.oom_kills = read_key(&d.path, "memory.oom_control", "oom_kill");
    }
    if d.controllers.contains(Controllers::CPUACCT) {
        s.cpu_time_ns = read_u64(&d.path, "cpuacct.usage");
    }
}
