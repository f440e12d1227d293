//! Pausing a container: the cgroup v2 `cgroup.freeze` of its own cgroup, or on cgroup v1 a
//! directory of its own in the `freezer` hierarchy (which the limits' cgroup does not use),
//! made with the limits' directories and joined by the container's process with them, at
//! the start of its setup ([`v1_dir`] names it; `Cgroup::add_v1_freezer` makes it).

use alloc::format;
use alloc::string::String;

use rawsys::Errno;

use super::record::FreezerDir;
use crate::cgroup::{CgroupParent, CgroupVersion};
use crate::error::Error;
use crate::fsutil::{cjoin, read_string, write_existing};
use crate::runtime::Detached;

/// The v1 freezer directory for container `id` below `parent`, if a freezer hierarchy is
/// mounted (and the parent is a cgroup at all).
pub(crate) fn v1_dir(parent: &CgroupParent, id: &str) -> Result<Option<String>, Error> {
    let parent_path = match parent {
        CgroupParent::None => return Ok(None),
        CgroupParent::Path(p) => p.clone(),
        CgroupParent::Own | CgroupParent::OwnBelow(_) => {
            let own = read_string(c"/proc/self/cgroup")
                .map_err(|e| Error::host("read /proc/self/cgroup", e))?;
            let found: Option<String> = own.lines().find_map(|l| {
                let mut it = l.splitn(3, ':');
                let (_, ctrls, path) = (it.next()?, it.next()?, it.next()?);
                ctrls
                    .split(',')
                    .any(|c| c == "freezer")
                    .then(|| path.into())
            });
            match (found, parent) {
                (Some(p), CgroupParent::OwnBelow(rel)) => {
                    format!("{}/{rel}", p.trim_end_matches('/'))
                }
                (Some(p), _) => p,
                (None, _) => return Ok(None),
            }
        }
    };
    let mi = read_string(c"/proc/self/mountinfo")
        .map_err(|e| Error::host("read /proc/self/mountinfo", e))?;
    for line in mi.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: alloc::vec::Vec<&str> = pre.split(' ').collect();
        let mut post = post.split(' ');
        let (Some("cgroup"), Some(_), Some(opts)) = (post.next(), post.next(), post.next()) else {
            continue;
        };
        if pre.len() < 5 || !opts.split(',').any(|o| o == "freezer") {
            continue;
        }
        let (root, mount) = (pre[3], pre[4]);
        let rel = if root == "/" {
            parent_path.as_str()
        } else {
            match parent_path.strip_prefix(root) {
                Some(r) if r.is_empty() || r.starts_with('/') => r,
                _ => return Ok(None),
            }
        };
        return Ok(Some(format!(
            "{}{}/{id}",
            mount.trim_end_matches('/'),
            rel.trim_end_matches('/')
        )));
    }
    Ok(None)
}

/// The freezer of a container whose process was launched with `detached`'s cgroups: with
/// cgroup v2 its own cgroup is one; with v1 the freezer directory its process joined.
pub(crate) fn of(detached: &Detached) -> Option<FreezerDir> {
    if detached.version == Some(CgroupVersion::V2) {
        return detached.cgroups.first().map(|d| FreezerDir::V2(d.clone()));
    }
    detached.v1_freezer.clone().map(FreezerDir::V1)
}

impl FreezerDir {
    /// The directory.
    pub(crate) fn path(&self) -> &str {
        match self {
            FreezerDir::V1(p) | FreezerDir::V2(p) => p,
        }
    }

    /// Whether the cgroup is frozen (fully: v1's transitional `FREEZING` is not).
    pub(crate) fn is_frozen(&self) -> bool {
        let read = |file: &str| {
            cjoin(&[self.path(), file])
                .ok()
                .and_then(|p| read_string(&p).ok())
        };
        match self {
            FreezerDir::V1(_) => read("/freezer.state").is_some_and(|s| s.trim() == "FROZEN"),
            FreezerDir::V2(_) => {
                read("/cgroup.events").is_some_and(|s| s.lines().any(|l| l.trim() == "frozen 1"))
            }
        }
    }

    /// Freezes (`true`) or thaws the cgroup; freezing waits until every task is frozen.
    pub(crate) fn set_frozen(&self, frozen: bool) -> Result<(), Error> {
        let (file, value) = match (self, frozen) {
            (FreezerDir::V1(_), true) => ("/freezer.state", "FROZEN"),
            (FreezerDir::V1(_), false) => ("/freezer.state", "THAWED"),
            (FreezerDir::V2(_), true) => ("/cgroup.freeze", "1"),
            (FreezerDir::V2(_), false) => ("/cgroup.freeze", "0"),
        };
        let p = cjoin(&[self.path(), file])?;
        write_existing(&p, value.as_bytes())
            .map_err(|e| Error::host(format!("write {value} to {}{file}", self.path()), e))?;
        if !frozen {
            return Ok(());
        }
        // Freezing is asynchronous: a task in an uninterruptible sleep freezes when it wakes.
        for _ in 0..2000 {
            if self.is_frozen() {
                return Ok(());
            }
            if let FreezerDir::V1(_) = self {
                // v1 re-tries the tasks that are not frozen yet on each write.
                let _ = write_existing(&p, value.as_bytes());
            }
            let t = rawsys::time::Timespec::from_nanos(1_000_000);
            let _ = rawsys::time::nanosleep(&t, None);
        }
        Err(Error::host(
            format!("freeze {} (still not frozen after 2 s)", self.path()),
            Errno::EBUSY,
        ))
    }

    /// Removes a v1 freezer directory (the v2 one is the container's cgroup, removed with
    /// it).
    pub(crate) fn remove(&self) -> Result<(), Error> {
        let FreezerDir::V1(dir) = self else {
            return Ok(());
        };
        match crate::cgroup::rmdir_cgroup(&cjoin(&[dir])?) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(Error::host(format!("rmdir {dir}"), e)),
        }
    }
}
