//! The cgroup hierarchies mounted on this system and the caller's place in each, from
//! `/proc/self/mountinfo` and `/proc/self/cgroup`.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::{CgroupParent, Controllers};
use crate::error::Error;
use crate::fsutil::read_string;

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
    pub(super) fn dir_of(&self, cgroup_path: &str) -> Option<String> {
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

/// The caller's chosen parent cgroup path in hierarchy `h`.
pub(super) fn parent_path(h: &Hierarchy, parent: &CgroupParent) -> Option<String> {
    match parent {
        CgroupParent::Own => h.own.clone(),
        CgroupParent::Path(p) => Some(p.clone()),
        CgroupParent::OwnBelow(rel) => h
            .own
            .as_ref()
            .map(|o| format!("{}/{rel}", o.trim_end_matches('/'))),
        CgroupParent::None => None,
    }
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
}
