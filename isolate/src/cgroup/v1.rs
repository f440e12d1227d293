//! cgroup v1: one directory per hierarchy holding a controller in use.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::layout::{Hierarchy, parent_path};
use super::{CgroupParent, CgroupStats, Controllers, Dir, Limits, write};
use crate::error::{ConfigError, Error};

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
