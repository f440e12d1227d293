//! Capability names and the default set a container keeps.

use rawsys::process::{CapSet, Capability};

use crate::error::ConfigError;

/// The capabilities a default container keeps in its bounding, effective and permitted sets:
/// Docker's (and so runc-under-Docker's) default list. Inheritable and ambient are empty.
/// `CAP_SYS_ADMIN` is absent (no mounts), and so are `CAP_NET_ADMIN`, `CAP_SYS_PTRACE`,
/// `CAP_SYS_MODULE`, `CAP_SYS_RAWIO`, `CAP_SYS_TIME` and the rest.
///
/// `CAP_MKNOD` is kept as Docker keeps it: a device node created inside cannot be opened
/// because every writable mount of the container is `nodev` (Docker relies on the devices
/// cgroup for that instead).
pub const DEFAULT_CAPABILITIES: CapSet = CapSet::empty()
    .with(Capability::CHOWN)
    .with(Capability::DAC_OVERRIDE)
    .with(Capability::FSETID)
    .with(Capability::FOWNER)
    .with(Capability::MKNOD)
    .with(Capability::NET_RAW)
    .with(Capability::SETGID)
    .with(Capability::SETUID)
    .with(Capability::SETFCAP)
    .with(Capability::SETPCAP)
    .with(Capability::NET_BIND_SERVICE)
    .with(Capability::SYS_CHROOT)
    .with(Capability::KILL)
    .with(Capability::AUDIT_WRITE);

/// Every capability this crate can name (`CAP_CHOWN` to `CAP_CHECKPOINT_RESTORE`).
pub const ALL_CAPABILITIES: CapSet = CapSet::from_bits((1u64 << (Capability::LAST.raw() + 1)) - 1);

const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// The name of a capability without the `CAP_` prefix (`"NET_ADMIN"`), if this crate knows it.
pub fn capability_name(cap: Capability) -> Option<&'static str> {
    NAMES.get(cap.raw() as usize).copied()
}

/// What a `--cap-add`/`--cap-drop` argument names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapabilityArg {
    /// `ALL`.
    All,
    /// One capability.
    One(Capability),
}

/// Parses `NET_ADMIN`, `CAP_NET_ADMIN`, `net_admin` or `ALL`.
///
/// ```
/// use isolate::security::{CapabilityArg, parse_capability};
/// use rawsys::process::Capability;
///
/// assert_eq!(parse_capability("cap_net_admin"), Ok(CapabilityArg::One(Capability::NET_ADMIN)));
/// assert_eq!(parse_capability("ALL"), Ok(CapabilityArg::All));
/// assert!(parse_capability("CAP_FLY").is_err());
/// ```
pub fn parse_capability(s: &str) -> Result<CapabilityArg, ConfigError> {
    let up = s.trim().to_ascii_uppercase();
    if up == "ALL" {
        return Ok(CapabilityArg::All);
    }
    let bare = up.strip_prefix("CAP_").unwrap_or(&up);
    NAMES
        .iter()
        .position(|n| *n == bare)
        .and_then(|i| Capability::from_raw(i as u32))
        .map(CapabilityArg::One)
        .ok_or_else(|| ConfigError::BadCapability(s.into()))
}

/// Formats a set as `CHOWN,KILL,...` (for messages and the probe comparison).
pub fn format_capabilities(set: CapSet) -> alloc::string::String {
    let mut out = alloc::string::String::new();
    for n in 0..64u32 {
        let Some(c) = Capability::from_raw(n) else {
            break;
        };
        if set.contains(c) {
            if !out.is_empty() {
                out.push(',');
            }
            match capability_name(c) {
                Some(name) => out.push_str(name),
                None => out.push_str(&alloc::format!("{n}")),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_the_default_set_matches_docker() {
        for n in 0..=Capability::LAST.raw() {
            let c = Capability::from_raw(n).unwrap();
            let name = capability_name(c).unwrap();
            assert_eq!(parse_capability(name), Ok(CapabilityArg::One(c)));
            assert_eq!(
                parse_capability(&alloc::format!("cap_{}", name.to_ascii_lowercase())),
                Ok(CapabilityArg::One(c))
            );
        }
        assert_eq!(parse_capability("all"), Ok(CapabilityArg::All));
        assert!(parse_capability("").is_err());
        assert!(parse_capability("CAP_").is_err());
        // Docker's default: 14 capabilities, 0x00000000a80425fb as /proc/self/status shows it.
        assert_eq!(DEFAULT_CAPABILITIES.bits(), 0xa80425fb);
        assert_eq!(ALL_CAPABILITIES.bits(), 0x1ff_ffff_ffff);
        assert_eq!(
            format_capabilities(DEFAULT_CAPABILITIES),
            "CHOWN,DAC_OVERRIDE,FOWNER,FSETID,KILL,SETGID,SETUID,SETPCAP,NET_BIND_SERVICE,\
             NET_RAW,SYS_CHROOT,MKNOD,AUDIT_WRITE,SETFCAP"
        );
    }
}
