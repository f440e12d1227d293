//! What an OCI `config.json` can ask for, as typed values and builder options (the JSON stays
//! in the front ends): mounts of any type with their options and propagation, rlimits,
//! sysctls, capabilities per set, `noNewPrivileges`, masked and read-only paths, and a seccomp
//! profile ([`crate::security::profile`]).
//!
//! Every option is additive: a builder that uses none of them gives the same container as
//! before. The order the child applies them in follows runc: mounts with the other mounts
//! before `pivot_root`; sysctls after it, in the container's namespaces, before the kernel
//! paths are made read-only; rlimits, then capabilities, `no_new_privs` and the seccomp filter
//! last.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use rawsys::ns::MountFlags;
use rawsys::process::{CapSet, Resource};

use crate::config::{Builder, MountSpec, check_abs};
use crate::error::ConfigError;
use crate::security::{CapabilityArg, SeccompProfile, parse_capability};

pub use rawsys::process::Resource as RlimitResource;

/// Mount propagation (`mount --make-*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    /// `MS_PRIVATE`.
    Private,
    /// `MS_SLAVE`.
    Slave,
    /// `MS_SHARED`.
    Shared,
    /// `MS_UNBINDABLE`.
    Unbindable,
}

impl Propagation {
    /// The `mount(2)` flag.
    pub fn flag(self) -> MountFlags {
        match self {
            Propagation::Private => MountFlags::PRIVATE,
            Propagation::Slave => MountFlags::SLAVE,
            Propagation::Shared => MountFlags::SHARED,
            Propagation::Unbindable => MountFlags::UNBINDABLE,
        }
    }
}

/// A mount's flags, propagation and filesystem data, as `mount -o` (and OCI `options`) say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountOptions {
    /// `MS_*` flags (`BIND` and `REC` for `bind`/`rbind`).
    pub flags: MountFlags,
    /// Propagation applied after the mount, recursively when `.1`.
    pub propagation: Option<(Propagation, bool)>,
    /// Options passed to the filesystem (`mode=755`, `size=64k`), joined with commas.
    pub data: Vec<String>,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MountFlags::empty(),
            propagation: None,
            data: Vec::new(),
        }
    }
}

impl MountOptions {
    /// Parses `mount -o` style words as the OCI runtime-spec lists them: `ro`, `rw`, `nosuid`,
    /// `suid`, `nodev`, `dev`, `noexec`, `exec`, `sync`, `async`, `dirsync`, `remount`,
    /// `mand`, `nomand`, `atime`, `noatime`, `diratime`, `nodiratime`, `relatime`,
    /// `norelatime`, `strictatime`, `nostrictatime`, `lazytime`, `nosymfollow`, `bind`,
    /// `rbind`, `[r]private`, `[r]slave`, `[r]shared`, `[r]unbindable`; anything else is
    /// filesystem data.
    ///
    /// ```
    /// use isolate::spec::{MountOptions, Propagation};
    /// use rawsys::ns::MountFlags;
    /// let o = MountOptions::parse(["rbind", "ro", "rslave", "mode=755"])?;
    /// assert_eq!(o.flags, MountFlags::BIND | MountFlags::REC | MountFlags::RDONLY);
    /// assert_eq!(o.propagation, Some((Propagation::Slave, true)));
    /// assert_eq!(o.data, ["mode=755"]);
    /// # Ok::<(), isolate::ConfigError>(())
    /// ```
    pub fn parse<I, S>(words: I) -> Result<MountOptions, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut o = MountOptions::default();
        for w in words {
            let w = w.as_ref();
            let (set, clear) = match w {
                "ro" => (MountFlags::RDONLY, MountFlags::empty()),
                "rw" => (MountFlags::empty(), MountFlags::RDONLY),
                "nosuid" => (MountFlags::NOSUID, MountFlags::empty()),
                "suid" => (MountFlags::empty(), MountFlags::NOSUID),
                "nodev" => (MountFlags::NODEV, MountFlags::empty()),
                "dev" => (MountFlags::empty(), MountFlags::NODEV),
                "noexec" => (MountFlags::NOEXEC, MountFlags::empty()),
                "exec" => (MountFlags::empty(), MountFlags::NOEXEC),
                "sync" => (MountFlags::SYNCHRONOUS, MountFlags::empty()),
                "async" => (MountFlags::empty(), MountFlags::SYNCHRONOUS),
                "dirsync" => (MountFlags::DIRSYNC, MountFlags::empty()),
                "remount" => (MountFlags::REMOUNT, MountFlags::empty()),
                "mand" => (MountFlags::MANDLOCK, MountFlags::empty()),
                "nomand" => (MountFlags::empty(), MountFlags::MANDLOCK),
                "atime" => (MountFlags::empty(), MountFlags::NOATIME),
                "noatime" => (MountFlags::NOATIME, MountFlags::empty()),
                "diratime" => (MountFlags::empty(), MountFlags::NODIRATIME),
                "nodiratime" => (MountFlags::NODIRATIME, MountFlags::empty()),
                "relatime" => (MountFlags::RELATIME, MountFlags::empty()),
                "norelatime" => (MountFlags::empty(), MountFlags::RELATIME),
                "strictatime" => (MountFlags::STRICTATIME, MountFlags::empty()),
                "nostrictatime" => (MountFlags::empty(), MountFlags::STRICTATIME),
                "lazytime" => (MountFlags::LAZYTIME, MountFlags::empty()),
                "nosymfollow" => (MountFlags::NOSYMFOLLOW, MountFlags::empty()),
                "bind" => (MountFlags::BIND, MountFlags::empty()),
                "rbind" => (MountFlags::BIND | MountFlags::REC, MountFlags::empty()),
                _ => {
                    let rec = w.starts_with('r');
                    let base = if rec { &w[1..] } else { w };
                    let prop = match base {
                        "private" => Some(Propagation::Private),
                        "slave" => Some(Propagation::Slave),
                        "shared" => Some(Propagation::Shared),
                        "unbindable" => Some(Propagation::Unbindable),
                        _ => None,
                    };
                    match prop {
                        Some(p) => o.propagation = Some((p, rec)),
                        None => {
                            if w.is_empty() || w.contains('\0') {
                                return Err(ConfigError::BadOption(format!(
                                    "bad mount option {w:?}"
                                )));
                            }
                            o.data.push(w.to_string());
                        }
                    }
                    continue;
                }
            };
            o.flags = (o.flags | set) - clear;
        }
        Ok(o)
    }
}

/// A mount of any type inside the container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// The filesystem type (`tmpfs`, `proc`, `mqueue`, ...; `bind` or `none` for a bind
    /// mount, which the options mark with `bind`/`rbind`).
    pub fstype: String,
    /// The source: a host path for a bind mount, a device or a name otherwise.
    pub source: String,
    /// The absolute path inside the container.
    pub destination: String,
    /// Flags, propagation and data.
    pub options: MountOptions,
}

impl Mount {
    /// A mount of type `fstype` from `source` at `destination` with `mount -o` style options
    /// (see [`MountOptions::parse`]). A type of `bind` implies `rbind` when the options name
    /// neither `bind` nor `rbind`, as runc does.
    pub fn new<I, S>(
        fstype: &str,
        source: &str,
        destination: &str,
        options: I,
    ) -> Result<Mount, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let destination = check_abs("mount destination", destination)?;
        if destination == "/" {
            return Err(ConfigError::BadPath {
                what: "mount destination",
                path: destination,
            });
        }
        let mut options = MountOptions::parse(options)?;
        if fstype == "bind" && !options.flags.contains(MountFlags::BIND) {
            options.flags |= MountFlags::BIND | MountFlags::REC;
        }
        let is_bind = options.flags.contains(MountFlags::BIND);
        if is_bind {
            check_abs("bind mount source", source)?;
        }
        if source.contains('\0') || fstype.contains('\0') {
            return Err(ConfigError::InteriorNul { what: "mount" });
        }
        if !is_bind && fstype.is_empty() {
            return Err(ConfigError::BadOption(format!(
                "mount on {destination}: no filesystem type"
            )));
        }
        Ok(Mount {
            fstype: fstype.into(),
            source: source.into(),
            destination,
            options,
        })
    }

    /// Whether this is a bind mount.
    pub fn is_bind(&self) -> bool {
        self.options.flags.contains(MountFlags::BIND)
    }
}

/// A resource limit set before `execve`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimit {
    /// Which resource.
    pub resource: RlimitResource,
    /// The soft limit.
    pub soft: u64,
    /// The hard limit (at least `soft`).
    pub hard: u64,
}

impl Rlimit {
    /// The soft limit must not be above the hard one.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        if self.soft > self.hard {
            return Err(ConfigError::BadOption(format!(
                "rlimit {:?}: soft limit {} above hard limit {}",
                self.resource, self.soft, self.hard
            )));
        }
        Ok(())
    }
}

const RLIMIT_NAMES: [(&str, Resource); 16] = [
    ("CPU", Resource::Cpu),
    ("FSIZE", Resource::Fsize),
    ("DATA", Resource::Data),
    ("STACK", Resource::Stack),
    ("CORE", Resource::Core),
    ("RSS", Resource::Rss),
    ("NPROC", Resource::Nproc),
    ("NOFILE", Resource::Nofile),
    ("MEMLOCK", Resource::Memlock),
    ("AS", Resource::As),
    ("LOCKS", Resource::Locks),
    ("SIGPENDING", Resource::Sigpending),
    ("MSGQUEUE", Resource::Msgqueue),
    ("NICE", Resource::Nice),
    ("RTPRIO", Resource::Rtprio),
    ("RTTIME", Resource::Rttime),
];

/// Parses an rlimit name as the OCI spec writes it (`RLIMIT_NOFILE`; `NOFILE` and lower case
/// are accepted too). An unknown name is an error naming it.
///
/// ```
/// use isolate::spec::{RlimitResource, parse_rlimit};
/// assert_eq!(parse_rlimit("RLIMIT_NOFILE"), Ok(RlimitResource::Nofile));
/// assert!(parse_rlimit("RLIMIT_FLY").is_err());
/// ```
pub fn parse_rlimit(name: &str) -> Result<RlimitResource, ConfigError> {
    let up = name.to_ascii_uppercase();
    let bare = up.strip_prefix("RLIMIT_").unwrap_or(&up);
    RLIMIT_NAMES
        .iter()
        .find(|(n, _)| *n == bare)
        .map(|(_, r)| *r)
        .ok_or_else(|| ConfigError::BadOption(format!("unknown rlimit type {name:?}")))
}

/// The namespace a sysctl belongs to, if it is namespaced (runc's list: IPC, UTS, network).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SysctlNamespace {
    /// `kernel.msg*`, `kernel.sem`, `kernel.shm*`, `fs.mqueue.*`.
    Ipc,
    /// `kernel.hostname`, `kernel.domainname`.
    Uts,
    /// `net.*`.
    Net,
}

/// Which namespace the sysctl `key` (dotted or slashed) lives in; `None` for a sysctl of the
/// whole machine, which a container may not set.
pub fn sysctl_namespace(key: &str) -> Option<SysctlNamespace> {
    let k = key.replace('/', ".");
    const IPC: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if IPC.contains(&k.as_str()) || k.starts_with("fs.mqueue.") {
        Some(SysctlNamespace::Ipc)
    } else if k == "kernel.hostname" || k == "kernel.domainname" {
        Some(SysctlNamespace::Uts)
    } else if k.starts_with("net.") {
        Some(SysctlNamespace::Net)
    } else {
        None
    }
}

/// A capability set per kind, as the OCI `process.capabilities` has them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapabilitySets {
    /// The bounding set.
    pub bounding: CapSet,
    /// The effective set.
    pub effective: CapSet,
    /// The permitted set.
    pub permitted: CapSet,
    /// The inheritable set.
    pub inheritable: CapSet,
    /// The ambient set (each must also be permitted and inheritable).
    pub ambient: CapSet,
}

impl CapabilitySets {
    /// Every ambient capability must be permitted and inheritable.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        let stray = self.ambient.bits() & !(self.permitted.bits() & self.inheritable.bits());
        if stray != 0 {
            return Err(ConfigError::BadOption(format!(
                "ambient capabilities {} are not both permitted and inheritable",
                crate::security::format_capabilities(CapSet::from_bits(stray))
            )));
        }
        Ok(())
    }
}

/// Parses a list of capability names (`CAP_NET_ADMIN`, ...) into a set; an unknown name is an
/// error naming it (the runtime-spec's MUST).
///
/// ```
/// use isolate::spec::parse_capability_set;
/// assert_eq!(parse_capability_set(["CAP_KILL", "CAP_CHOWN"])?.bits(), 0b100001);
/// let e = parse_capability_set(["CAP_KILL", "CAP_FLY"]).unwrap_err();
/// assert!(e.to_string().contains("CAP_FLY"));
/// # Ok::<(), isolate::ConfigError>(())
/// ```
pub fn parse_capability_set<I, S>(names: I) -> Result<CapSet, ConfigError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut set = CapSet::empty();
    for n in names {
        match parse_capability(n.as_ref())? {
            CapabilityArg::One(c) => set = set.with(c),
            CapabilityArg::All => {
                return Err(ConfigError::BadCapability(n.as_ref().into()));
            }
        }
    }
    Ok(set)
}

/// The kind of a device node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    /// A character device (`c`, `u`).
    Char,
    /// A block device (`b`).
    Block,
    /// A FIFO (`p`).
    Fifo,
}

impl DeviceKind {
    /// Parses the OCI letter: `c` or `u`, `b`, `p`.
    pub fn parse(s: &str) -> Result<DeviceKind, ConfigError> {
        match s {
            "c" | "u" => Ok(DeviceKind::Char),
            "b" => Ok(DeviceKind::Block),
            "p" => Ok(DeviceKind::Fifo),
            _ => Err(ConfigError::BadOption(format!("unknown device type {s:?}"))),
        }
    }

    /// The `S_IF*` bits.
    pub fn mode_bits(self) -> u32 {
        match self {
            DeviceKind::Char => 0o020000,
            DeviceKind::Block => 0o060000,
            DeviceKind::Fifo => 0o010000,
        }
    }
}

/// A device node created in the container's `/dev` (OCI `linux.devices`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// Where, below `/dev` (e.g. `/dev/fuse`).
    pub path: String,
    /// Character, block or FIFO.
    pub kind: DeviceKind,
    /// Major number.
    pub major: u32,
    /// Minor number.
    pub minor: u32,
    /// Permission bits (default `0o666` in OCI; `fileMode`).
    pub file_mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

/// The entries of `/dev` that are links or mounts of their own: no device goes through them.
const DEV_RESERVED: [&str; 8] = [
    "fd", "stdin", "stdout", "stderr", "ptmx", "pts", "shm", "mqueue",
];

/// A kind of namespace (OCI `linux.namespaces[].type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NamespaceKind {
    /// `network`.
    Network,
    /// `uts`.
    Uts,
    /// `ipc`.
    Ipc,
    /// `cgroup`.
    Cgroup,
    /// `mount`.
    Mount,
    /// `pid`.
    Pid,
    /// `user`.
    User,
    /// `time`.
    Time,
}

impl NamespaceKind {
    /// Parses the OCI name (`network`, `uts`, `ipc`, `cgroup`, `mount`, `pid`, `user`,
    /// `time`).
    pub fn parse(s: &str) -> Result<NamespaceKind, ConfigError> {
        Ok(match s {
            "network" => NamespaceKind::Network,
            "uts" => NamespaceKind::Uts,
            "ipc" => NamespaceKind::Ipc,
            "cgroup" => NamespaceKind::Cgroup,
            "mount" => NamespaceKind::Mount,
            "pid" => NamespaceKind::Pid,
            "user" => NamespaceKind::User,
            "time" => NamespaceKind::Time,
            _ => {
                return Err(ConfigError::BadOption(format!(
                    "unknown namespace type {s:?}"
                )));
            }
        })
    }

    /// The `CLONE_NEW*` flag `setns` checks the file against.
    pub fn clone_flag(self) -> rawsys::process::CloneFlags {
        use rawsys::process::CloneFlags as F;
        match self {
            NamespaceKind::Network => F::NEWNET,
            NamespaceKind::Uts => F::NEWUTS,
            NamespaceKind::Ipc => F::NEWIPC,
            NamespaceKind::Cgroup => F::NEWCGROUP,
            NamespaceKind::Mount => F::NEWNS,
            NamespaceKind::Pid => F::NEWPID,
            NamespaceKind::User => F::NEWUSER,
            NamespaceKind::Time => F::from_bits_retain(0x80),
        }
    }
}

/// The OCI options of a container (all empty by default: nothing changes).
#[derive(Clone, Debug)]
pub(crate) struct SpecOptions {
    pub(crate) rlimits: Vec<Rlimit>,
    pub(crate) sysctls: Vec<(String, String)>,
    pub(crate) cap_sets: Option<CapabilitySets>,
    pub(crate) no_new_privs: bool,
    pub(crate) masked_paths: Option<Vec<String>>,
    pub(crate) readonly_paths: Option<Vec<String>>,
    pub(crate) seccomp_profile: Option<SeccompProfile>,
    pub(crate) devices: Vec<Device>,
    pub(crate) join_namespaces: Vec<(NamespaceKind, String)>,
    pub(crate) additional_gids: Vec<u32>,
    pub(crate) readonly_rootfs: bool,
    /// The NIS domain name ([`crate::Builder::domainname`]).
    pub(crate) domainname: Option<String>,
    /// The caller's namespaces kept ([`crate::Builder::share_namespace`]).
    pub(crate) shared_namespaces: Vec<NamespaceKind>,
    /// The propagation the whole mount tree gets first ([`crate::Builder::root_propagation`]).
    pub(crate) root_propagation: Propagation,
}

impl Default for SpecOptions {
    fn default() -> Self {
        SpecOptions {
            rlimits: Vec::new(),
            sysctls: Vec::new(),
            cap_sets: None,
            no_new_privs: true,
            masked_paths: None,
            readonly_paths: None,
            seccomp_profile: None,
            devices: Vec::new(),
            join_namespaces: Vec::new(),
            additional_gids: Vec::new(),
            readonly_rootfs: false,
            domainname: None,
            shared_namespaces: Vec::new(),
            root_propagation: Propagation::Private,
        }
    }
}

fn abs_list<I, S>(what: &'static str, paths: I) -> Result<Vec<String>, ConfigError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    paths
        .into_iter()
        .map(|p| check_abs(what, p.as_ref()))
        .collect()
}

impl<R, C> Builder<R, C> {
    /// Adds a mount of any type (see [`Mount::new`]), after the default ones and the earlier
    /// mounts, before `pivot_root`.
    pub fn mount(mut self, m: Mount) -> Result<Self, ConfigError> {
        self.opts.mounts.push(MountSpec::Mount(m));
        Ok(self)
    }

    /// Sets a resource limit for the command (replacing an earlier one of the same resource).
    pub fn rlimit(mut self, r: Rlimit) -> Result<Self, ConfigError> {
        r.check()?;
        self.opts.spec.rlimits.retain(|o| o.resource != r.resource);
        self.opts.spec.rlimits.push(r);
        Ok(self)
    }

    /// Sets a namespaced sysctl (`net.ipv4.ip_forward`, `kernel.shmmax`, ...) inside the
    /// container. A sysctl of the whole machine is refused here, a network one without a
    /// network namespace of the container's own at [`Builder::build`].
    pub fn sysctl(mut self, key: &str, value: &str) -> Result<Self, ConfigError> {
        let ok = !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
            && !key.split(['.', '/']).any(|c| c.is_empty() || c == "..");
        if !ok || value.contains('\0') {
            return Err(ConfigError::BadOption(format!("bad sysctl {key:?}")));
        }
        if sysctl_namespace(key).is_none() {
            return Err(ConfigError::BadOption(format!(
                "sysctl {key:?} is not namespaced: a container may not set it"
            )));
        }
        let k = key.replace('/', ".");
        self.opts.spec.sysctls.retain(|(o, _)| *o != k);
        self.opts.spec.sysctls.push((k, value.into()));
        Ok(self)
    }

    /// Every capability set exactly (instead of [`Builder::capabilities`] and
    /// `cap_add`/`cap_drop`). An ambient capability must be permitted and inheritable.
    pub fn capability_sets(mut self, sets: CapabilitySets) -> Result<Self, ConfigError> {
        sets.check()?;
        self.opts.spec.cap_sets = Some(sets);
        self.opts.security.caps = sets.bounding;
        Ok(self)
    }

    /// Whether `no_new_privs` is set (default: yes; OCI `noNewPrivileges`).
    pub fn no_new_privileges(mut self, yes: bool) -> Self {
        self.opts.spec.no_new_privs = yes;
        self
    }

    /// The paths hidden inside, replacing the default
    /// [`MASKED_PATHS`](crate::security::MASKED_PATHS) (OCI `linux.maskedPaths`).
    pub fn masked_paths<I, S>(mut self, paths: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.opts.spec.masked_paths = Some(abs_list("masked path", paths)?);
        Ok(self)
    }

    /// The paths made read-only inside, replacing the default
    /// [`READONLY_PATHS`](crate::security::READONLY_PATHS) (OCI `linux.readonlyPaths`).
    pub fn readonly_paths<I, S>(mut self, paths: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.opts.spec.readonly_paths = Some(abs_list("read-only path", paths)?);
        Ok(self)
    }

    /// Creates a device node in the container's `/dev` (after the mounts, before
    /// `pivot_root`): `mknod` with the mode, then owner and permission bits, then bound onto
    /// itself without `nodev`, since the container's `/dev` is mounted `nodev`. A node that
    /// exists already (such as the default `/dev/null`) is left as it is, as runc does. Needs
    /// `CAP_MKNOD` on the host (not in a user namespace).
    pub fn device(mut self, d: Device) -> Result<Self, ConfigError> {
        let path = check_abs("device path", &d.path)?;
        let rest = path.strip_prefix("/dev/").unwrap_or("");
        let first = rest.split('/').next().unwrap_or("");
        if rest.is_empty() || DEV_RESERVED.contains(&first) {
            return Err(ConfigError::BadOption(format!(
                "device {path}: must be below /dev, not in /dev/{first}"
            )));
        }
        if d.file_mode & !0o7777 != 0 {
            return Err(ConfigError::BadOption(format!(
                "device {path}: file mode {:o}",
                d.file_mode
            )));
        }
        self.opts.spec.devices.retain(|o| o.path != path);
        self.opts.spec.devices.push(Device { path, ..d });
        Ok(self)
    }

    /// Joins the existing namespace at `path` (a `/proc/PID/ns/*` file or a bind mount of
    /// one, such as `/run/netns/NAME`) instead of a new one, as the first step in the child
    /// (OCI `linux.namespaces[].path`). Network, UTS, IPC and cgroup namespaces can be joined;
    /// mount, PID, user and time namespaces by path are refused for now (they must be joined
    /// before the container's process is created). The file is opened when the container
    /// starts, and checked by `setns` to be of the kind given.
    pub fn join_namespace(mut self, kind: NamespaceKind, path: &str) -> Result<Self, ConfigError> {
        let path = check_abs("namespace path", path)?;
        if !matches!(
            kind,
            NamespaceKind::Network
                | NamespaceKind::Uts
                | NamespaceKind::Ipc
                | NamespaceKind::Cgroup
        ) {
            return Err(ConfigError::BadOption(format!(
                "joining an existing {kind:?} namespace by path ({path}) is not supported"
            )));
        }
        self.opts.spec.join_namespaces.retain(|(k, _)| *k != kind);
        self.opts.spec.join_namespaces.push((kind, path));
        Ok(self)
    }

    /// Limits memory plus swap to `bytes` (OCI `memory.swap`); needs a memory limit no larger.
    pub fn memory_swap(mut self, bytes: u64) -> Result<Self, ConfigError> {
        self.opts.limits.memory_swap = Some(bytes);
        Ok(self)
    }

    /// The memory soft limit (OCI `memory.reservation`).
    pub fn memory_reservation(mut self, bytes: u64) -> Result<Self, ConfigError> {
        if bytes == 0 {
            return Err(ConfigError::BadLimit("memory reservation (at least 1)"));
        }
        self.opts.limits.memory_reservation = Some(bytes);
        Ok(self)
    }

    /// The relative CPU weight, 2 to 262144 (OCI `cpu.shares`; Docker's default is 1024).
    pub fn cpu_shares(mut self, shares: u64) -> Result<Self, ConfigError> {
        if !(2..=262_144).contains(&shares) {
            return Err(ConfigError::BadLimit("cpu shares (2 to 262144)"));
        }
        self.opts.limits.cpu_shares = Some(shares);
        Ok(self)
    }

    /// CPU bandwidth as quota and period in microseconds (OCI `cpu.quota`, `cpu.period`):
    /// a period of 1000 to 1 000 000, a quota of at least 1000.
    pub fn cpu_quota(mut self, quota_us: u64, period_us: u64) -> Result<Self, ConfigError> {
        if !(1000..=1_000_000).contains(&period_us) || quota_us < 1000 {
            return Err(ConfigError::BadLimit("cpu quota/period"));
        }
        self.opts.limits.cpu = Some(crate::cgroup::CpuQuota {
            quota_us,
            period_us,
        });
        Ok(self)
    }

    /// The supplementary groups of the command (OCI `process.user.additionalGids`), set with
    /// the user of [`Builder::user`] (without a user they are the caller's). At most 65536.
    pub fn additional_gids<I: IntoIterator<Item = u32>>(
        mut self,
        gids: I,
    ) -> Result<Self, ConfigError> {
        let gids: Vec<u32> = gids.into_iter().collect();
        if gids.len() > 65_536 {
            return Err(ConfigError::TooMany("supplementary groups"));
        }
        self.opts.spec.additional_gids = gids;
        Ok(self)
    }

    /// Makes the root filesystem read-only once the mounts are in place, after `pivot_root`
    /// (OCI `root.readonly`). The mounts on it keep their own flags.
    pub fn readonly_rootfs(mut self, yes: bool) -> Self {
        self.opts.spec.readonly_rootfs = yes;
        self
    }

    /// A seccomp filter built from rules (OCI `linux.seccomp`), replacing the default one.
    pub fn seccomp_profile(mut self, p: SeccompProfile) -> Result<Self, ConfigError> {
        p.compile()?;
        self.opts.spec.seccomp_profile = Some(p);
        Ok(self)
    }
}

/// The checks [`Builder::build`] makes on the OCI options once everything is known.
pub(crate) fn check(o: &crate::config::Options) -> Result<(), ConfigError> {
    let l = &o.limits;
    if let Some(swap) = l.memory_swap {
        if l.memory_bytes.is_none_or(|m| swap < m) {
            return Err(ConfigError::BadLimit(
                "memory+swap needs a memory limit no larger than it",
            ));
        }
    }
    let joins_net = o
        .spec
        .join_namespaces
        .iter()
        .any(|(k, _)| *k == NamespaceKind::Network);
    if joins_net && !matches!(o.network, crate::net::Network::None) {
        return Err(ConfigError::BadOption(
            "joining a network namespace by path needs Network::None (no bridge, not the host's)"
                .into(),
        ));
    }
    crate::spec_more::check(o)?;
    let own_net = !matches!(o.network, crate::net::Network::Host);
    for (k, _) in &o.spec.sysctls {
        if sysctl_namespace(k) == Some(SysctlNamespace::Net) && !own_net {
            return Err(ConfigError::BadOption(format!(
                "sysctl {k:?} needs a network namespace of the container's own"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_like_mount_does() {
        let o = MountOptions::parse(["ro", "rw", "nosuid", "private", "size=1k"]).unwrap();
        assert_eq!(o.flags, MountFlags::NOSUID);
        assert_eq!(o.propagation, Some((Propagation::Private, false)));
        assert_eq!(o.data, ["size=1k"]);
        assert!(MountOptions::parse([""]).is_err());
        let m = Mount::new("bind", "/tmp", "/x", ["ro"]).unwrap();
        assert!(m.is_bind() && m.options.flags.contains(MountFlags::REC));
        assert!(Mount::new("bind", "rel", "/x", [""; 0]).is_err());
        assert!(Mount::new("tmpfs", "tmpfs", "/", [""; 0]).is_err());
        assert!(Mount::new("", "x", "/x", [""; 0]).is_err());
    }

    #[test]
    fn rlimits_and_sysctls_are_checked() {
        for (n, r) in RLIMIT_NAMES {
            assert_eq!(parse_rlimit(&format!("RLIMIT_{n}")), Ok(r));
        }
        let e = parse_rlimit("RLIMIT_BOGUS").unwrap_err();
        assert!(e.to_string().contains("RLIMIT_BOGUS"), "{e}");
        assert_eq!(
            sysctl_namespace("net.ipv4.ip_forward"),
            Some(SysctlNamespace::Net)
        );
        assert_eq!(
            sysctl_namespace("kernel/shmmax"),
            Some(SysctlNamespace::Ipc)
        );
        assert_eq!(
            sysctl_namespace("fs.mqueue.msg_max"),
            Some(SysctlNamespace::Ipc)
        );
        assert_eq!(sysctl_namespace("kernel.pid_max"), None);
        assert_eq!(sysctl_namespace("vm.swappiness"), None);
    }
}
