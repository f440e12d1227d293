//! Usage figures of a container's cgroup.

use super::{Cgroup, CgroupVersion, v1, v2};
use crate::fsutil::{cjoin, read_string};

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

impl Cgroup {
    /// Reads peak memory, the OOM kill count and CPU time (each `None` when unavailable).
    pub fn stats(&self) -> CgroupStats {
        let mut s = CgroupStats::default();
        for d in &self.dirs {
            match self.version {
                CgroupVersion::V1 => v1::read_stats(d, &mut s),
                CgroupVersion::V2 => v2::read_stats(d, &mut s),
            }
        }
        s
    }
}

/// A control file holding one number.
pub(super) fn read_u64(dir: &str, file: &str) -> Option<u64> {
    let p = cjoin(&[dir, "/", file]).ok()?;
    read_string(&p).ok()?.trim().parse().ok()
}

/// The value of `key` in a control file of `key value` lines.
pub(super) fn read_key(dir: &str, file: &str, key: &str) -> Option<u64> {
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
