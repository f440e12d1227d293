//! More OCI options of the builder (beside [`crate::spec`]): the NIS domain name, sharing the
//! caller's UTS, IPC or cgroup namespace instead of making a new one, memory swappiness and
//! cpusets.

use alloc::format;
use alloc::string::String;

use rawsys::process::CloneFlags;

use crate::config::Builder;
use crate::error::ConfigError;
use crate::spec::{NamespaceKind, Propagation, SysctlNamespace, sysctl_namespace};

impl<R, C> Builder<R, C> {
    /// The NIS domain name inside (`setdomainname` in the container's UTS namespace; OCI
    /// `domainname`): at most 64 bytes, no NUL. Needs a UTS namespace of the container's own.
    pub fn domainname(mut self, name: &str) -> Result<Self, ConfigError> {
        if name.is_empty() || name.len() > 64 || name.contains('\0') {
            return Err(ConfigError::BadOption(format!("domainname {name:?}")));
        }
        self.opts.spec.domainname = Some(name.into());
        Ok(self)
    }

    /// Keeps the caller's namespace of `kind` instead of a new one (OCI: a namespace type not
    /// listed in `linux.namespaces` is inherited from the runtime). UTS, IPC and cgroup
    /// namespaces can be shared (the network's is [`crate::Network::Host`]); the container
    /// then sets no hostname or domain name (a shared UTS namespace is the host's) and does
    /// not unshare its cgroup namespace.
    pub fn share_namespace(mut self, kind: NamespaceKind) -> Result<Self, ConfigError> {
        if !matches!(
            kind,
            NamespaceKind::Uts | NamespaceKind::Ipc | NamespaceKind::Cgroup
        ) {
            return Err(ConfigError::BadOption(format!(
                "sharing the caller's {kind:?} namespace is not supported"
            )));
        }
        if !self.opts.spec.shared_namespaces.contains(&kind) {
            self.opts.spec.shared_namespaces.push(kind);
        }
        Ok(self)
    }

    /// The propagation the container's copy of the mount tree gets, recursively, before any
    /// mount is made (OCI `linux.rootfsPropagation`): [`Propagation::Private`] (the default:
    /// nothing crosses between the host and the container) or [`Propagation::Slave`] (mounts
    /// and unmounts on the host reach the container, as runc does by default; a bind mount of
    /// a shared host mount can then be a slave of it). Shared and unbindable are refused (a
    /// shared root's mounts would propagate back to the host, and `pivot_root` refuses one).
    pub fn root_propagation(mut self, p: Propagation) -> Result<Self, ConfigError> {
        if !matches!(p, Propagation::Private | Propagation::Slave) {
            return Err(ConfigError::BadOption(format!(
                "root propagation {p:?}: only private and slave are supported"
            )));
        }
        self.opts.spec.root_propagation = p;
        Ok(self)
    }

    /// The cgroup's memory swappiness, 0 to 100 (v1 `memory.swappiness`; OCI
    /// `memory.swappiness`). cgroup v2 has no such setting: starting the container fails there.
    pub fn memory_swappiness(mut self, value: u64) -> Result<Self, ConfigError> {
        if value > 100 {
            return Err(ConfigError::BadLimit("memory swappiness (0 to 100)"));
        }
        self.opts.limits.memory_swappiness = Some(value);
        Ok(self)
    }

    /// The CPUs (`cpus`, e.g. `0-1,3`) and memory nodes (`mems`) the container may use
    /// (cgroup `cpuset.cpus` / `cpuset.mems`; OCI `cpu.cpus` / `cpu.mems`). `None` keeps the
    /// parent's. The kernel checks the lists against the parent's when the cgroup is made.
    pub fn cpuset(mut self, cpus: Option<&str>, mems: Option<&str>) -> Result<Self, ConfigError> {
        for (what, list) in [("cpus", cpus), ("mems", mems)] {
            if let Some(l) = list {
                if !is_cpu_list(l) {
                    return Err(ConfigError::BadOption(format!("cpuset {what} {l:?}")));
                }
            }
        }
        self.opts.limits.cpuset_cpus = cpus.map(String::from);
        self.opts.limits.cpuset_mems = mems.map(String::from);
        Ok(self)
    }
}

/// The kernel's list format: `N` or `N-M` ranges separated by commas.
fn is_cpu_list(s: &str) -> bool {
    let num = |n: &str| !n.is_empty() && n.len() <= 5 && n.bytes().all(|b| b.is_ascii_digit());
    !s.is_empty()
        && s.split(',').all(|r| match r.split_once('-') {
            Some((a, b)) => num(a) && num(b),
            None => num(r),
        })
}

/// Whether the container keeps the caller's namespace of `kind`.
pub(crate) fn shares(o: &crate::config::Options, kind: NamespaceKind) -> bool {
    o.spec.shared_namespaces.contains(&kind)
}

/// The namespaces `clone` makes new: PID and mount always, UTS and IPC unless shared.
pub(crate) fn clone_namespaces(o: &crate::config::Options) -> CloneFlags {
    let mut f = CloneFlags::NEWPID | CloneFlags::NEWNS;
    if !shares(o, NamespaceKind::Uts) {
        f |= CloneFlags::NEWUTS;
    }
    if !shares(o, NamespaceKind::Ipc) {
        f |= CloneFlags::NEWIPC;
    }
    f
}

/// The checks [`Builder::build`] makes on these options.
pub(crate) fn check(o: &crate::config::Options) -> Result<(), ConfigError> {
    if shares(o, NamespaceKind::Uts) && o.spec.domainname.is_some() {
        return Err(ConfigError::BadOption(
            "a domain name needs a UTS namespace of the container's own".into(),
        ));
    }
    for (k, _) in &o.spec.sysctls {
        let shared = match sysctl_namespace(k) {
            Some(SysctlNamespace::Uts) => shares(o, NamespaceKind::Uts),
            Some(SysctlNamespace::Ipc) => shares(o, NamespaceKind::Ipc),
            _ => false,
        };
        if shared {
            return Err(ConfigError::BadOption(format!(
                "sysctl {k:?} needs a namespace of the container's own (it is shared)"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Container;

    #[test]
    fn options_are_validated() {
        let b = || {
            Container::builder()
                .host_rootfs()
                .command("/bin/true", [""; 0])
                .unwrap()
        };
        assert!(b().domainname("").is_err());
        assert!(b().domainname(&"x".repeat(65)).is_err());
        assert!(b().domainname("lp.example").is_ok());
        assert!(b().share_namespace(NamespaceKind::Pid).is_err());
        assert!(b().share_namespace(NamespaceKind::Mount).is_err());
        let c = b()
            .share_namespace(NamespaceKind::Uts)
            .unwrap()
            .share_namespace(NamespaceKind::Ipc)
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(
            clone_namespaces(&c.opts),
            CloneFlags::NEWPID | CloneFlags::NEWNS
        );
        let e = b()
            .share_namespace(NamespaceKind::Uts)
            .unwrap()
            .domainname("x")
            .unwrap()
            .build();
        assert!(e.is_err());
        let e = b()
            .share_namespace(NamespaceKind::Ipc)
            .unwrap()
            .sysctl("kernel.shmmax", "1")
            .unwrap()
            .build();
        assert!(e.is_err());
        assert!(b().memory_swappiness(101).is_err());
        assert!(b().memory_swappiness(60).is_ok());
        assert!(b().cpuset(Some("0-1,3"), Some("0")).is_ok());
        for bad in ["", "a", "0-", "-1", "0,,1", "0 1"] {
            assert!(b().cpuset(Some(bad), None).is_err(), "{bad:?}");
        }
    }
}
