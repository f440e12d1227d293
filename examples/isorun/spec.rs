//! The subset of the runtime-spec `config.json` that isorun reads, as serde types.
//!
//! Unknown fields are ignored, as config.md requires of a runtime; every field that is here
//! is either converted (convert.rs) or refused there when it asks for something isolate cannot
//! do. A field we neither convert nor refuse would be silently ignored: so a field that is
//! parsed here is one that convert.rs looks at.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `config.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Spec {
    /// The spec version the bundle was written for.
    #[serde(default)]
    pub(crate) oci_version: String,
    /// The container's process.
    pub(crate) process: Option<Process>,
    /// The root filesystem.
    pub(crate) root: Option<Root>,
    /// The UTS hostname.
    pub(crate) hostname: Option<String>,
    /// The UTS domain name.
    pub(crate) domainname: Option<String>,
    /// Mounts, in order.
    #[serde(default)]
    pub(crate) mounts: Vec<Mount>,
    /// Hooks.
    pub(crate) hooks: Option<Hooks>,
    /// Arbitrary metadata, shown in the state.
    #[serde(default)]
    pub(crate) annotations: BTreeMap<String, String>,
    /// Linux specifics.
    pub(crate) linux: Option<Linux>,
}

/// `process`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Process {
    /// A pseudo-terminal on stdio.
    #[serde(default)]
    pub(crate) terminal: bool,
    /// The user.
    #[serde(default)]
    pub(crate) user: User,
    /// argv.
    #[serde(default)]
    pub(crate) args: Vec<String>,
    /// `KEY=VALUE` entries.
    #[serde(default)]
    pub(crate) env: Vec<String>,
    /// The working directory (absolute).
    #[serde(default)]
    pub(crate) cwd: String,
    /// Capability sets.
    pub(crate) capabilities: Option<Capabilities>,
    /// Resource limits.
    #[serde(default)]
    pub(crate) rlimits: Vec<Rlimit>,
    /// `no_new_privs`.
    #[serde(default)]
    pub(crate) no_new_privileges: bool,
    /// AppArmor profile (refused unless empty).
    pub(crate) apparmor_profile: Option<String>,
    /// SELinux label (refused unless empty).
    pub(crate) selinux_label: Option<String>,
    /// oom_score_adj (refused when set).
    pub(crate) oom_score_adj: Option<i32>,
    /// I/O priority (refused when set).
    pub(crate) io_priority: Option<serde_json::Value>,
    /// Scheduler (refused when set).
    pub(crate) scheduler: Option<serde_json::Value>,
}

/// `process.user`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct User {
    /// uid.
    #[serde(default)]
    pub(crate) uid: u32,
    /// gid.
    #[serde(default)]
    pub(crate) gid: u32,
    /// The file mode creation mask.
    pub(crate) umask: Option<u32>,
    /// Supplementary groups.
    #[serde(default)]
    pub(crate) additional_gids: Vec<u32>,
}

/// `process.capabilities`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Capabilities {
    /// The bounding set.
    #[serde(default)]
    pub(crate) bounding: Vec<String>,
    /// The effective set.
    #[serde(default)]
    pub(crate) effective: Vec<String>,
    /// The inheritable set.
    #[serde(default)]
    pub(crate) inheritable: Vec<String>,
    /// The permitted set.
    #[serde(default)]
    pub(crate) permitted: Vec<String>,
    /// The ambient set.
    #[serde(default)]
    pub(crate) ambient: Vec<String>,
}

/// `process.rlimits[]`.
#[derive(Debug, Deserialize)]
pub(crate) struct Rlimit {
    /// `RLIMIT_*`.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    /// The hard limit.
    pub(crate) hard: u64,
    /// The soft limit.
    pub(crate) soft: u64,
}

/// `root`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Root {
    /// The rootfs, absolute or relative to the bundle.
    pub(crate) path: String,
    /// Read-only.
    #[serde(default)]
    pub(crate) readonly: bool,
}

/// `mounts[]`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Mount {
    /// Where, inside.
    pub(crate) destination: String,
    /// The filesystem type.
    #[serde(rename = "type")]
    pub(crate) kind: Option<String>,
    /// The source.
    pub(crate) source: Option<String>,
    /// `mount -o` words.
    #[serde(default)]
    pub(crate) options: Vec<String>,
    /// Id-mapped mounts (refused when given).
    pub(crate) uid_mappings: Option<Vec<IdMapping>>,
    /// Id-mapped mounts (refused when given).
    pub(crate) gid_mappings: Option<Vec<IdMapping>>,
}

/// `hooks.*[]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub(crate) struct Hook {
    /// The program (absolute).
    pub(crate) path: String,
    /// argv, `argv[0]` included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) args: Vec<String>,
    /// Its environment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) env: Vec<String>,
    /// Seconds before it is killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) timeout: Option<i64>,
}

/// `hooks`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Hooks {
    /// Deprecated twin of `createRuntime` (run first, at the same point).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) prestart: Vec<Hook>,
    /// In the runtime's namespaces once the container exists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) create_runtime: Vec<Hook>,
    /// In the container's mount namespace (refused: not supported yet).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) create_container: Vec<Hook>,
    /// In the container before the program (refused: not supported yet).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) start_container: Vec<Hook>,
    /// After `start`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) poststart: Vec<Hook>,
    /// After `delete`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) poststop: Vec<Hook>,
}

/// `linux.uidMappings[]` / `gidMappings[]`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IdMapping {
    /// First id inside.
    #[serde(rename = "containerID")]
    pub(crate) container_id: u32,
    /// First id outside.
    #[serde(rename = "hostID")]
    pub(crate) host_id: u32,
    /// How many.
    pub(crate) size: u32,
}

/// `linux`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Linux {
    /// User namespace uid maps.
    #[serde(default)]
    pub(crate) uid_mappings: Vec<IdMapping>,
    /// User namespace gid maps.
    #[serde(default)]
    pub(crate) gid_mappings: Vec<IdMapping>,
    /// Namespaced sysctls.
    #[serde(default)]
    pub(crate) sysctl: BTreeMap<String, String>,
    /// cgroup limits.
    pub(crate) resources: Option<Resources>,
    /// Where the cgroup goes.
    pub(crate) cgroups_path: Option<String>,
    /// Namespaces: new, or joined by path.
    #[serde(default)]
    pub(crate) namespaces: Vec<Namespace>,
    /// Device nodes to create.
    #[serde(default)]
    pub(crate) devices: Vec<Device>,
    /// The seccomp profile.
    pub(crate) seccomp: Option<Seccomp>,
    /// The root's mount propagation.
    pub(crate) rootfs_propagation: Option<String>,
    /// Paths hidden inside.
    pub(crate) masked_paths: Option<Vec<String>>,
    /// Paths made read-only inside.
    pub(crate) readonly_paths: Option<Vec<String>>,
    /// SELinux mount label (refused unless empty).
    pub(crate) mount_label: Option<String>,
    /// Intel RDT (refused when given).
    pub(crate) intel_rdt: Option<serde_json::Value>,
    /// Personality (refused when given).
    pub(crate) personality: Option<serde_json::Value>,
    /// Time namespace offsets (refused when given).
    pub(crate) time_offsets: Option<serde_json::Value>,
}

/// `linux.namespaces[]`.
#[derive(Debug, Deserialize)]
pub(crate) struct Namespace {
    /// `pid`, `network`, `mount`, `ipc`, `uts`, `user`, `cgroup`, `time`.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    /// Join this one instead of making a new one.
    pub(crate) path: Option<String>,
}

/// `linux.devices[]`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Device {
    /// `c`, `b`, `u`, `p`.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    /// Where, inside.
    pub(crate) path: String,
    /// Major number.
    #[serde(default)]
    pub(crate) major: u32,
    /// Minor number.
    #[serde(default)]
    pub(crate) minor: u32,
    /// Permission bits.
    pub(crate) file_mode: Option<u32>,
    /// Owner.
    pub(crate) uid: Option<u32>,
    /// Group.
    pub(crate) gid: Option<u32>,
}

/// `linux.resources`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Resources {
    /// Device cgroup rules (see convert.rs: enforced through nodev mounts).
    #[serde(default)]
    pub(crate) devices: Vec<DeviceRule>,
    /// Memory.
    pub(crate) memory: Option<Memory>,
    /// CPU.
    pub(crate) cpu: Option<Cpu>,
    /// Pids.
    pub(crate) pids: Option<Pids>,
    /// Block I/O (refused unless empty).
    #[serde(rename = "blockIO")]
    pub(crate) block_io: Option<serde_json::Value>,
    /// Huge pages (refused unless empty).
    #[serde(default)]
    pub(crate) hugepage_limits: Vec<serde_json::Value>,
    /// Network classes (refused unless empty).
    pub(crate) network: Option<serde_json::Value>,
    /// RDMA (refused unless empty).
    #[serde(default)]
    pub(crate) rdma: BTreeMap<String, serde_json::Value>,
    /// cgroup v2 files (refused unless empty).
    #[serde(default)]
    pub(crate) unified: BTreeMap<String, String>,
}

/// `linux.resources.devices[]`.
#[derive(Debug, Deserialize)]
pub(crate) struct DeviceRule {
    /// Allow or deny.
    pub(crate) allow: bool,
    /// `a`, `c`, `b` (absent: all).
    #[serde(rename = "type")]
    pub(crate) kind: Option<String>,
    /// Major (absent: all).
    pub(crate) major: Option<i64>,
    /// Minor (absent: all).
    pub(crate) minor: Option<i64>,
    /// `rwm` letters.
    pub(crate) access: Option<String>,
}

/// `linux.resources.memory`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Memory {
    /// Bytes (-1: none).
    pub(crate) limit: Option<i64>,
    /// Soft limit.
    pub(crate) reservation: Option<i64>,
    /// Memory plus swap (-1: unlimited).
    pub(crate) swap: Option<i64>,
    /// Kernel memory (refused when set).
    pub(crate) kernel: Option<i64>,
    /// Kernel TCP memory (refused when set).
    #[serde(rename = "kernelTCP")]
    pub(crate) kernel_tcp: Option<i64>,
    /// Swappiness (refused when set).
    pub(crate) swappiness: Option<u64>,
    /// Turning the OOM killer off (refused when true).
    #[serde(rename = "disableOOMKiller")]
    pub(crate) disable_oom_killer: Option<bool>,
}

/// `linux.resources.cpu`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Cpu {
    /// Relative weight.
    pub(crate) shares: Option<u64>,
    /// Microseconds per period (-1 or absent: none).
    pub(crate) quota: Option<i64>,
    /// The period, microseconds.
    pub(crate) period: Option<u64>,
    /// Realtime (refused when set).
    pub(crate) realtime_runtime: Option<i64>,
    /// Realtime (refused when set).
    pub(crate) realtime_period: Option<u64>,
    /// cpuset (refused unless empty).
    pub(crate) cpus: Option<String>,
    /// cpuset (refused unless empty).
    pub(crate) mems: Option<String>,
    /// SCHED_IDLE group (refused when set).
    pub(crate) idle: Option<i64>,
}

/// `linux.resources.pids`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Pids {
    /// The limit (0 or less: none).
    pub(crate) limit: i64,
}

/// `linux.seccomp`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Seccomp {
    /// The action of calls no rule names.
    pub(crate) default_action: String,
    /// Its errno, for `SCMP_ACT_ERRNO`.
    pub(crate) default_errno_ret: Option<u32>,
    /// Extra architectures.
    #[serde(default)]
    pub(crate) architectures: Vec<String>,
    /// Filter flags (refused unless empty).
    #[serde(default)]
    pub(crate) flags: Vec<String>,
    /// A notification agent (refused when given).
    pub(crate) listener_path: Option<String>,
    /// Rules.
    #[serde(default)]
    pub(crate) syscalls: Vec<SyscallRule>,
}

/// `linux.seccomp.syscalls[]`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SyscallRule {
    /// Call names.
    pub(crate) names: Vec<String>,
    /// Action.
    pub(crate) action: String,
    /// Errno for `SCMP_ACT_ERRNO`.
    pub(crate) errno_ret: Option<u32>,
    /// Argument conditions.
    #[serde(default)]
    pub(crate) args: Vec<SyscallArg>,
}

/// `linux.seccomp.syscalls[].args[]`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SyscallArg {
    /// Argument index.
    pub(crate) index: u32,
    /// Compared value.
    pub(crate) value: u64,
    /// Second value (masked equal).
    #[serde(default)]
    pub(crate) value_two: u64,
    /// `SCMP_CMP_*`.
    pub(crate) op: String,
}
