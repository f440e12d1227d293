//! cgroup v2: one directory in the unified hierarchy, used where the parent delegates the
//! controllers.

use alloc::format;
use alloc::string::{String, ToString};

use super::layout::{Hierarchy, parent_path};
use super::{CgroupParent, CgroupStats, Controllers, Dir, Limits, write};
use crate::error::{ConfigError, Error};
use crate::fsutil::{cjoin, read_string};

/// The directory (and controllers) of cgroup `name` below `parent` in the unified
/// hierarchy, if there is one whose `parent` delegates memory and the `need`ed controllers.
pub(super) fn dir(
    layout: &[Hierarchy],
    parent: &CgroupParent,
    need: Controllers,
    name: &str,
) -> Option<(String, Controllers)> {
    let h = layout.iter().find(|h| h.v1.is_none())?;
    let dir = delegated(h, parent, need | Controllers::MEMORY)?;
    Some((
        format!("{dir}/{name}"),
        need | Controllers::MEMORY | Controllers::CPUACCT,
    ))
}

/// The parent's directory in `h` if its `cgroup.subtree_control` has every controller of
/// `need`.
fn delegated(h: &Hierarchy, parent: &CgroupParent, need: Controllers) -> Option<String> {
    let dir = h.dir_of(&parent_path(h, parent)?)?;
    let ctl = cjoin(&[&dir, "/cgroup.subtree_control"]).ok()?;
    let text = read_string(&ctl).ok()?;
    let mut have = Controllers::empty();
    for n in text.split_whitespace() {
        have |= Controllers::from_controller_name(n);
    }
    if have.contains(need) { Some(dir) } else { None }
}

/// Writes the limits.
pub(super) fn apply(d: &Dir, limits: &Limits) -> Result<(), Error> {
    if let Some(m) = limits.memory_bytes {
        write(&d.path, "memory.max", &m.to_string(), false)?;
        // v2 limits swap alone: the OCI memory+swap total minus the memory.
        let swap = limits.memory_swap.map_or(0, |s| s.saturating_sub(m));
        write(
            &d.path,
            "memory.swap.max",
            &swap.to_string(),
            limits.memory_swap.is_none(),
        )?;
    }
    if limits.memory_swappiness.is_some() {
        return Err(ConfigError::BadLimit(
            "memory swappiness (cgroup v2 has no memory.swappiness)",
        )
        .into());
    }
    if let Some(v) = &limits.cpuset_cpus {
        write(&d.path, "cpuset.cpus", v, false)?;
    }
    if let Some(v) = &limits.cpuset_mems {
        write(&d.path, "cpuset.mems", v, false)?;
    }
    if let Some(r) = limits.memory_reservation {
        write(&d.path, "memory.low", &r.to_string(), false)?;
    }
    if let Some(n) = limits.cpu_shares {
        // runc's conversion of 2..262144 shares to 1..10000.
        let weight = 1 + (n.clamp(2, 262_144) - 2) * 9999 / 262_142;
        write(&d.path, "cpu.weight", &weight.to_string(), false)?;
    }
    if let Some(n) = limits.pids {
        write(&d.path, "pids.max", &n.to_string(), false)?;
    }
    if let Some(q) = limits.cpu {
        let v = format!("{} {}", q.quota_us, q.period_us);
        write(&d.path, "cpu.max", &v, false)?;
    }
    Ok(())
}

/// Reads the figures into `s`.
pub(super) fn read_stats(d: &Dir, s: &mut CgroupStats) {
    use super::stats::{read_key, read_u64};
    s.memory_peak = read_u64(&d.path, "memory.peak");
    s.oom_kills = read_key(&d.path, "memory.events", "oom_kill");
    s.cpu_time_ns = read_key(&d.path, "cpu.stat", "usage_usec").map(|u| u.saturating_mul(1000));
}
