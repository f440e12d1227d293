//! Recovery after a crashed parent: removing the empty cgroups it left.

use alloc::string::ToString;

use rawsys::Errno;
use rawsys::fs::{self, AtFlags, CWD};

use super::CgroupParent;
use super::layout::{discover, parent_path};
use crate::error::Error;
use crate::fsutil::{cjoin, list_dir, read_string};

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
    use crate::cgroup::{Cgroup, Limits};
    use alloc::format;
    use alloc::string::String;
    use alloc::vec::Vec;

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
}
