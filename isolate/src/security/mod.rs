//! Hardening: what a default container may not do, matching runc's default (Docker) container.
//!
//! - **Capabilities**: bounding, effective and permitted reduced to
//!   [`DEFAULT_CAPABILITIES`] (Docker's list), inheritable and ambient empty; changed with
//!   [`Builder::cap_add`](crate::Builder::cap_add) / [`cap_drop`](crate::Builder::cap_drop).
//!   `no_new_privs` is always set, so a setuid binary or file capabilities never raise them.
//! - **Seccomp**: a BPF filter built here ([`seccomp`]), architecture checked first; off with
//!   [`Seccomp::Unconfined`].
//! - **Masked and read-only paths** ([`MASKED_PATHS`], [`READONLY_PATHS`]); off with
//!   [`SystemPaths::Unconfined`]. The `/dev/null` bound over masked files is opened without
//!   following links and checked to be the null device.
//! - **Descriptors**: only 0, 1, 2 and those passed with
//!   [`Builder::pass_fd`](crate::Builder::pass_fd) survive `execve`; the working directory is
//!   resolved inside the new root with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`; mount targets
//!   and files created below the root are resolved inside it too, and a target that is a
//!   symlink is refused.
//! - **User namespaces** ([`UserNamespace`]): root inside is an unprivileged user outside, and
//!   a non-root caller can start containers (without cgroup limits, which need root or a
//!   delegated cgroup).
//!
//! [`Builder::privileged`](crate::Builder::privileged) keeps every capability and turns the
//! filter and the path masking off, as `docker run --privileged` does.

use alloc::vec::Vec;

use rawsys::OwnedFd;
use rawsys::process::CapSet;

#[cfg(test)]
mod bpf_eval;
pub mod caps;
pub mod masks;
pub mod profile;
pub mod seccomp;
pub mod userns;

pub use caps::{
    ALL_CAPABILITIES, CapabilityArg, DEFAULT_CAPABILITIES, capability_name, format_capabilities,
    parse_capability,
};
pub use masks::{MASKED_PATHS, READONLY_PATHS, SystemPaths};
pub use profile::{ArgCondition, ArgOp, SeccompAction, SeccompProfile, SyscallRule};
pub use seccomp::{Seccomp, default_filter, denied_syscalls};
pub use userns::{IdMap, UserNamespace};

/// The hardening part of a container's options.
#[derive(Debug)]
pub(crate) struct Security {
    pub(crate) caps: CapSet,
    pub(crate) seccomp: Seccomp,
    pub(crate) system_paths: SystemPaths,
    pub(crate) pass_fds: Vec<OwnedFd>,
    pub(crate) userns: Option<UserNamespace>,
}

impl Default for Security {
    fn default() -> Self {
        Security {
            caps: DEFAULT_CAPABILITIES,
            seccomp: Seccomp::Default,
            system_paths: SystemPaths::Masked,
            pass_fds: Vec::new(),
            userns: None,
        }
    }
}

/// The per-mount flags (read-only, nosuid, nodev, noexec, atime) of the mount holding host
/// path `path`. A bind remount must repeat them: inside a user namespace the kernel refuses
/// to clear flags that were set when the namespace was made.
///
/// They come from `statfs(2)`'s `f_flags` (the mount's flags, one system call on the path
/// itself), or, where the path cannot be opened, from `/proc/self/mountinfo`'s longest
/// covering mount point (whose text the kernel builds for every mount: ~0.1 ms a read here,
/// more than the rest of a bind's planning).
pub(crate) fn source_mount_flags(path: &str) -> rawsys::ns::MountFlags {
    use rawsys::ns::MountFlags;
    if let Some(flags) = statfs_mount_flags(path) {
        return flags;
    }
    match crate::fsutil::read_string(c"/proc/self/mountinfo") {
        Ok(info) => flags_from_mountinfo(&info, path),
        Err(_) => MountFlags::empty(),
    }
}

/// The mount flags `statfs(2)` reports for `path` (`ST_*` bits as `MS_*` ones).
fn statfs_mount_flags(path: &str) -> Option<rawsys::ns::MountFlags> {
    use rawsys::fs::{self, Mode, OFlags};
    use rawsys::ns::MountFlags;
    let c = crate::fsutil::cstring("mount source", path).ok()?;
    let fd = fs::openat(fs::CWD, &c, OFlags::PATH | OFlags::CLOEXEC, Mode::empty()).ok()?;
    let st = fs::fstatfs(&fd).ok()?;
    // statvfs.h's ST_* values; only RELATIME differs from its MS_ flag.
    const ST: [(i64, MountFlags); 7] = [
        (1, MountFlags::RDONLY),
        (2, MountFlags::NOSUID),
        (4, MountFlags::NODEV),
        (8, MountFlags::NOEXEC),
        (1024, MountFlags::NOATIME),
        (2048, MountFlags::NODIRATIME),
        (4096, MountFlags::RELATIME),
    ];
    Some(
        ST.iter()
            .filter(|(st_bit, _)| st.f_flags & st_bit != 0)
            .fold(MountFlags::empty(), |acc, (_, ms)| acc | *ms),
    )
}

fn flags_from_mountinfo(info: &str, path: &str) -> rawsys::ns::MountFlags {
    use rawsys::ns::MountFlags;
    let mut best: Option<(usize, &str)> = None;
    for line in info.lines() {
        let mut f = line.split(' ');
        let (Some(mp), Some(opts)) = (f.nth(4), f.next()) else {
            continue;
        };
        // Mount points escape spaces and the like as \ooo; such paths are never a prefix of
        // ours unless they have none, so comparing the raw text is enough.
        let covers =
            mp == "/" || path == mp || path.strip_prefix(mp).is_some_and(|r| r.starts_with('/'));
        if covers && best.is_none_or(|(len, _)| mp.len() >= len) {
            best = Some((mp.len(), opts));
        }
    }
    let mut flags = MountFlags::empty();
    for o in best.map(|(_, o)| o).unwrap_or("").split(',') {
        flags |= match o {
            "ro" => MountFlags::RDONLY,
            "nosuid" => MountFlags::NOSUID,
            "nodev" => MountFlags::NODEV,
            "noexec" => MountFlags::NOEXEC,
            "noatime" => MountFlags::NOATIME,
            "nodiratime" => MountFlags::NODIRATIME,
            "relatime" => MountFlags::RELATIME,
            _ => MountFlags::empty(),
        };
    }
    flags
}

/// The cgroup of a container started by a non-root caller: none when no limit is asked for;
/// otherwise the usual one, which works only where the caller's cgroup is delegated to it, and
/// a clear configuration error where it is not.
pub(crate) fn rootless_cgroup(
    name: &str,
    parent: &crate::cgroup::CgroupParent,
    limits: &crate::cgroup::Limits,
) -> Result<crate::cgroup::Cgroup, crate::Error> {
    use crate::cgroup::{Cgroup, CgroupParent};
    use rawsys::Errno;
    if limits.memory_bytes.is_none() && limits.pids.is_none() && limits.cpu.is_none() {
        return Cgroup::create(name, &CgroupParent::None, limits);
    }
    Cgroup::create(name, parent, limits).map_err(|e| match e.errno() {
        Some(Errno::EACCES | Errno::EPERM | Errno::EROFS) => {
            crate::ConfigError::LimitsNeedRoot.into()
        }
        _ => e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rawsys::ns::MountFlags;

    #[test]
    fn mount_flags_come_from_the_longest_covering_mount() {
        let info = "1 0 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n\
                    2 1 0:5 / /dev rw,nosuid - devtmpfs udev rw\n\
                    3 1 0:6 / /data ro,nodev,noexec,noatime - ext4 /dev/sdb rw\n\
                    4 3 0:7 / /data/rw rw,nosuid - tmpfs t rw\n";
        assert_eq!(flags_from_mountinfo(info, "/usr/bin"), MountFlags::RELATIME);
        assert_eq!(flags_from_mountinfo(info, "/dev/null"), MountFlags::NOSUID);
        assert_eq!(
            flags_from_mountinfo(info, "/data/x"),
            MountFlags::RDONLY | MountFlags::NODEV | MountFlags::NOEXEC | MountFlags::NOATIME
        );
        assert_eq!(flags_from_mountinfo(info, "/data/rw/y"), MountFlags::NOSUID);
        // "/datax" is not below "/data".
        assert_eq!(flags_from_mountinfo(info, "/datax"), MountFlags::RELATIME);
        // The real table answers for "/" at least.
        let _ = source_mount_flags("/");
    }

    #[test]
    fn statfs_gives_the_flags_mountinfo_lists() {
        let info = crate::fsutil::read_string(c"/proc/self/mountinfo").unwrap();
        // Mount points of filesystems that are not read-only underneath (where statfs would
        // also say read-only for a read-write mount): each agrees with its mountinfo line.
        for path in ["/", "/proc", "/dev", "/dev/shm", "/sys/fs/cgroup"] {
            if !std::path::Path::new(path).exists() {
                continue;
            }
            assert_eq!(
                statfs_mount_flags(path),
                Some(flags_from_mountinfo(&info, path)),
                "{path}"
            );
        }
        assert_eq!(statfs_mount_flags("/lp-test-no-such-path"), None);
        // A path below a mount point has its mount's flags.
        assert_eq!(
            statfs_mount_flags("/proc/self"),
            Some(flags_from_mountinfo(&info, "/proc"))
        );
    }
}
