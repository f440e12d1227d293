//! What must be gone after a scenario, whatever the client: mounts below the private
//! directories, the containers' cgroups (in every hierarchy, also if a runtime nested them
//! somewhere unexpected), processes of the runtime, the client's helpers (conmon, shims) and
//! the containers themselves.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::remove_empty_dirs;
use super::runtimes::Runtime;

/// What belongs to the client environment and may stay between scenarios.
pub(crate) struct Allowed {
    /// The environment's private directory: no mount may stay below it, no process may run
    /// with it on its command line (the client's daemon aside).
    pub(crate) tmp: PathBuf,
    /// Cgroup parents the client made (relative to each hierarchy's root); they and their
    /// `conmon` child may stay, empty, until the environment ends.
    pub(crate) cgroup_parents: Vec<String>,
    /// The client's daemon (containerd), which runs until the environment ends.
    pub(crate) daemon_pid: Option<u32>,
}

/// Re-runs `check` for up to 5 s until it finds nothing (shims and conmon exit a moment after
/// the client returns); returns what it found last.
pub(crate) fn settle(mut check: impl FnMut() -> Vec<String>) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let found = check();
        if found.is_empty() || Instant::now() >= deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Mount points at or below `prefix` in this mount namespace, sorted (parents first).
pub(crate) fn mounts_under(prefix: &Path) -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(m.replace("\\040", " ")))
        .filter(|m| m.starts_with(prefix))
        .collect();
    found.sort();
    found.dedup();
    found
}

/// Everything of `a`'s environment and runtime `rt` still on the machine.
pub(crate) fn common(a: &Allowed, rt: &Runtime) -> Vec<String> {
    let mut l: Vec<String> = mounts_under(&a.tmp)
        .into_iter()
        .map(|m| format!("mount {}", m.display()))
        .collect();
    l.extend(cgroups(a));
    l.extend(processes(a, rt));
    l
}

/// Each cgroup hierarchy's root (v1 controllers, name=systemd, the cgroup2 mount).
fn hierarchies() -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    // A pure cgroup2 machine has the controllers' files directly in /sys/fs/cgroup.
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        v = vec![PathBuf::from("/sys/fs/cgroup")];
    }
    v
}

fn walk_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.push(e.path());
                walk_dirs(&e.path(), out);
            }
        }
    }
}

/// Container cgroups still present: any directory named `libpod-…` or below a component named
/// like one of the client's parents, wherever a runtime put it, except the parents themselves
/// and podman's `PARENT/conmon`; and any process still in the parents' subtrees.
fn cgroups(a: &Allowed) -> Vec<String> {
    let mut l = Vec::new();
    for h in hierarchies() {
        let mut dirs = Vec::new();
        walk_dirs(&h, &mut dirs);
        for d in dirs {
            let rel = d.strip_prefix(&h).unwrap().to_string_lossy().into_owned();
            let ours = rel
                .split('/')
                .any(|c| c.starts_with("libpod-") || a.cgroup_parents.iter().any(|p| p == c));
            let kept = a
                .cgroup_parents
                .iter()
                .any(|p| rel == *p || rel == format!("{p}/conmon"));
            if ours && !kept {
                l.push(format!("cgroup {}", d.display()));
            }
            if ours {
                let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
                for pid in procs.split_whitespace() {
                    l.push(format!(
                        "process {pid} ({}) in cgroup {}",
                        cmdline(pid),
                        d.display()
                    ));
                }
            }
        }
    }
    l
}

fn cmdline(pid: &str) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .trim_end_matches('\0')
                .replace('\0', " ")
        })
        .unwrap_or_default()
}

/// Processes of the runtime (its binary, or a memfd copy of it, as `runc init` runs) and of
/// the client's helpers (their command line names the private directory).
fn processes(a: &Allowed, rt: &Runtime) -> Vec<String> {
    let me = std::process::id();
    let tmp = a.tmp.to_string_lossy().into_owned();
    let rt_base = rt
        .real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut l = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return l;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(pid) = name.parse::<u32>() else {
            continue;
        };
        if pid == me || Some(pid) == a.daemon_pid {
            continue;
        }
        let cmd = cmdline(&name);
        let exe = std::fs::read_link(e.path().join("exe")).unwrap_or_default();
        let argv0 = cmd.split(' ').next().unwrap_or("");
        let is_runtime = exe == rt.real
            || (exe.to_string_lossy().starts_with("/memfd:")
                && Path::new(argv0)
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy() == rt_base));
        if is_runtime || cmd.contains(&tmp) {
            l.push(format!("process {pid}: {cmd} (exe {})", exe.display()));
        }
    }
    l
}

/// Removes a client's cgroup parent (and its empty children) from every hierarchy.
pub(crate) fn remove_cgroup_parent(rel: &str) {
    for h in hierarchies() {
        let d = h.join(rel);
        if d.exists() {
            remove_empty_dirs(&d);
        }
    }
}
