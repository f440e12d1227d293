//! The container's own cgroups at `/sys/fs/cgroup`, as runc mounts them with a cgroup
//! namespace; shared by the programs (included with `#[path]`).

use isolate::spec::Mount;

/// `/sys/fs/cgroup` as runc makes it with a cgroup namespace: a tmpfs with each of the
/// host's hierarchies mounted fresh (the container's own cgroup is their root), read-only
/// when the config says so; or the unified hierarchy alone on a pure cgroup v2 host.
pub(crate) fn cgroup_fs_mounts(dest: &str, ro: bool) -> Result<Vec<Mount>, String> {
    let mut base = vec!["nosuid", "nodev", "noexec"];
    if ro {
        base.push("ro");
    }
    let info = read_proc("/proc/self/mountinfo")?;
    let mut out = Vec::new();
    let mut subs = Vec::new();
    for line in info.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let mp = pre.split(' ').nth(4).unwrap_or("");
        let mut post = post.split(' ');
        let (Some(fstype), Some(_), Some(opts)) = (post.next(), post.next(), post.next()) else {
            continue;
        };
        if fstype != "cgroup" && fstype != "cgroup2" {
            continue;
        }
        if mp == "/sys/fs/cgroup" && fstype == "cgroup2" {
            let o: Vec<&str> = base.clone();
            return Ok(vec![
                Mount::new("cgroup2", "cgroup2", dest, o).map_err(|e| e.to_string())?,
            ]);
        }
        let Some(name) = mp.strip_prefix("/sys/fs/cgroup/") else {
            continue;
        };
        if name.contains('/') || subs.iter().any(|(n, _, _)| n == name) {
            continue;
        }
        let data: Vec<String> = opts
            .split(',')
            .filter(|o| *o != "rw" && *o != "ro")
            .map(String::from)
            .collect();
        subs.push((name.to_string(), fstype.to_string(), data));
    }
    out.push(
        Mount::new(
            "tmpfs",
            "cgroup",
            dest,
            ["nosuid", "nodev", "noexec", "mode=755"],
        )
        .map_err(|e| e.to_string())?,
    );
    for (name, fstype, data) in &subs {
        let mut o: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        if fstype == "cgroup" {
            o.extend(data.iter().cloned());
        }
        out.push(
            Mount::new(fstype, fstype, &format!("{dest}/{name}"), &o).map_err(|e| e.to_string())?,
        );
    }
    if ro {
        out.push(
            Mount::new(
                "tmpfs",
                "cgroup",
                dest,
                ["remount", "ro", "nosuid", "nodev", "noexec", "mode=755"],
            )
            .map_err(|e| e.to_string())?,
        );
    }
    Ok(out)
}

/// Reads a `/proc` file (which says size 0) with a buffer that fits it at once: 2 `read`s
/// instead of `fs::read_to_string`'s 8 growing from 32 bytes.
fn read_proc(path: &str) -> Result<String, String> {
    use std::io::Read;
    let mut s = String::with_capacity(16 << 10);
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_string(&mut s))
        .map_err(|e| format!("{path}: {e}"))?;
    Ok(s)
}
