//! The error type: what failed, where, and the kernel's errno.

use alloc::string::{String, ToString};
use core::fmt;

use rawsys::Errno;

/// Everything that can go wrong building, starting or tearing down a container.
///
/// `Display` is the message for a person (`pivot_root into /x: EINVAL`); `Debug` names the
/// variant with its errno and that message, so a `main` returning this error prints something
/// useful too.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value was rejected before anything was created.
    Config(ConfigError),
    /// A step taken by the parent (cgroups, pipes, `clone`, waiting) failed.
    Host {
        /// What the parent was doing, with the path involved, e.g. `"mkdir /sys/fs/cgroup/pids/x"`.
        step: String,
        /// The kernel's answer.
        errno: Errno,
    },
    /// A step of the child's setup failed before `execve` (or `execve` itself).
    Child {
        /// Which kind of step failed.
        stage: Stage,
        /// The step with its arguments, e.g. `"pivot_root into /x"`.
        step: String,
        /// The kernel's answer.
        errno: Errno,
    },
    /// The child ended during setup without reporting why (for example it was killed).
    ChildVanished,
    /// Containers need root (namespaces, mounts, cgroups).
    NotRoot,
    /// The kernel or a control file said something this crate could not parse.
    Unexpected(String),
    /// No container of this id under the state root (see [`crate::StateRoot`]).
    NotFound(String),
    /// A container of this id exists already under the state root.
    Exists(String),
    /// A lifecycle operation the container's status does not allow (`start` of a running
    /// container, `delete` of one that is not stopped, ...).
    WrongStatus {
        /// The container.
        id: String,
        /// The operation refused: `start`, `kill`, `delete`, `pause`, `resume`.
        op: &'static str,
        /// The container's status.
        status: crate::lifecycle::Status,
    },
}

impl Error {
    pub(crate) fn host(step: impl Into<String>, errno: Errno) -> Error {
        Error::Host {
            step: step.into(),
            errno,
        }
    }

    /// The errno carried by this error, if any.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Host { errno, .. } | Error::Child { errno, .. } => Some(*errno),
            _ => None,
        }
    }

    /// True when the command could not be found (or is not executable) inside the container.
    pub fn is_command_not_found(&self) -> bool {
        matches!(
            self,
            Error::Child { stage: Stage::Exec, errno, .. }
                if *errno == Errno::ENOENT || *errno == Errno::EACCES || *errno == Errno::ENOTDIR
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(c) => write!(f, "{c}"),
            Error::Host { step, errno } | Error::Child { step, errno, .. } => {
                write!(f, "{step}: {errno:?}")
            }
            Error::ChildVanished => f.write_str("the container process died during setup"),
            Error::NotRoot => {
                f.write_str("containers need root (run as root, or use a user namespace: --userns)")
            }
            Error::Unexpected(s) => write!(f, "unexpected: {s}"),
            Error::NotFound(id) => write!(f, "container {id} does not exist"),
            Error::Exists(id) => write!(f, "container {id} already exists"),
            Error::WrongStatus { id, op, status } => {
                write!(f, "cannot {op} container {id}: it is {status}")
            }
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = self.to_string();
        match self {
            Error::Config(c) => f.debug_tuple("Config").field(c).finish(),
            Error::Host { errno, .. } => f
                .debug_struct("Host")
                .field("errno", errno)
                .field("message", &message)
                .finish(),
            Error::Child { stage, errno, .. } => f
                .debug_struct("Child")
                .field("stage", stage)
                .field("errno", errno)
                .field("message", &message)
                .finish(),
            Error::ChildVanished => debug_message(f, "ChildVanished", &message),
            Error::NotRoot => debug_message(f, "NotRoot", &message),
            Error::Unexpected(_) => debug_message(f, "Unexpected", &message),
            Error::NotFound(_) => debug_message(f, "NotFound", &message),
            Error::Exists(_) => debug_message(f, "Exists", &message),
            Error::WrongStatus { status, .. } => f
                .debug_struct("WrongStatus")
                .field("status", status)
                .field("message", &message)
                .finish(),
        }
    }
}

/// `Name { message: "..." }`.
fn debug_message(f: &mut fmt::Formatter<'_>, name: &str, message: &str) -> fmt::Result {
    f.debug_struct(name).field("message", &message).finish()
}

impl core::error::Error for Error {}

impl From<ConfigError> for Error {
    fn from(c: ConfigError) -> Error {
        Error::Config(c)
    }
}

/// A configuration value the builder or [`crate::Container::spawn`] rejected.
///
/// `Debug` shows the variant's name and the `Display` message.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The command has no program name.
    EmptyCommand,
    /// A string given for `what` contains a NUL byte, which no system call can carry.
    InteriorNul {
        /// Which setting.
        what: &'static str,
    },
    /// A path that must be absolute is not.
    NotAbsolute {
        /// Which setting.
        what: &'static str,
        /// The path given.
        path: String,
    },
    /// A path contains `..` or is otherwise unusable inside the container.
    BadPath {
        /// Which setting.
        what: &'static str,
        /// The path given.
        path: String,
    },
    /// The rootfs directory is missing or not a directory.
    BadRootfs {
        /// The path given.
        path: String,
        /// What `stat` said (`ENOTDIR` when it is not a directory).
        errno: Errno,
    },
    /// A bind mount source is missing.
    BadMountSource {
        /// The path given.
        path: String,
        /// What `stat` said.
        errno: Errno,
    },
    /// The hostname is empty, longer than 64 bytes or has characters outside `[A-Za-z0-9.-]`.
    BadHostname(String),
    /// An environment entry is not `KEY=VALUE` with a non-empty key without `=`.
    BadEnv(String),
    /// The container name is not a usable cgroup directory name.
    BadName(String),
    /// A limit is out of range (zero memory, zero pids, cpu quota not positive).
    BadLimit(&'static str),
    /// A size string such as `100M` did not parse.
    BadSize(String),
    /// A cgroup limit was asked for but no usable cgroup hierarchy has the controller.
    NoController(&'static str),
    /// Too many entries for the fixed-size tables (mounts, PATH candidates).
    TooMany(&'static str),
    /// A capability name that is not `ALL`, `NAME` or `CAP_NAME` of a known capability.
    BadCapability(String),
    /// A uid/gid map is empty, overlapping or not `INSIDE:OUTSIDE:COUNT`, or the user to run
    /// as is not mapped.
    BadIdMap(String),
    /// cgroup limits were asked for by a non-root caller whose cgroup is not delegated.
    LimitsNeedRoot,
    /// A network setting is unusable (bad subnet or port, subnet overlapping a host route,
    /// port already published, address pool exhausted).
    Network(String),
    /// A lifecycle annotation key that is not one word of printable characters.
    BadAnnotation(String),
    /// An option of the OCI kind (mount, rlimit, sysctl, device, seccomp rule, namespace
    /// path, hook) is unusable; the message names the value and why.
    BadOption(String),
    /// An overlay root filesystem is unusable: no layers, mount options longer than one page,
    /// a layer missing, or no overlay filesystem in the kernel; the message says which.
    Overlay(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::EmptyCommand => f.write_str("no command given"),
            ConfigError::InteriorNul { what } => write!(f, "{what} contains a NUL byte"),
            ConfigError::NotAbsolute { what, path } => {
                write!(f, "{what} must be an absolute path: {path}")
            }
            ConfigError::BadPath { what, path } => write!(f, "{what}: unusable path {path}"),
            ConfigError::BadRootfs { path, errno } => write!(f, "rootfs {path}: {errno:?}"),
            ConfigError::BadMountSource { path, errno } => {
                write!(f, "mount source {path}: {errno:?}")
            }
            ConfigError::BadHostname(h) => write!(f, "bad hostname: {h:?}"),
            ConfigError::BadEnv(e) => write!(f, "bad environment entry (want KEY=VALUE): {e:?}"),
            ConfigError::BadName(n) => write!(f, "bad container name: {n:?}"),
            ConfigError::BadLimit(w) => write!(f, "bad limit: {w}"),
            ConfigError::BadSize(s) => write!(f, "bad size: {s:?} (want e.g. 100M, 1G, 65536)"),
            ConfigError::NoController(c) => {
                write!(f, "no usable cgroup hierarchy with the {c} controller")
            }
            ConfigError::TooMany(w) => write!(f, "too many {w}"),
            ConfigError::BadCapability(c) => {
                write!(
                    f,
                    "unknown capability {c:?} (want e.g. NET_ADMIN, CAP_NET_ADMIN or ALL)"
                )
            }
            ConfigError::BadIdMap(m) => write!(f, "bad id map: {m}"),
            ConfigError::LimitsNeedRoot => f.write_str(
                "memory/pids/cpu limits need root or a delegated cgroup; \
                 a rootless container runs without them",
            ),
            ConfigError::Network(w) => write!(f, "network: {w}"),
            ConfigError::BadAnnotation(k) => write!(f, "bad annotation key: {k:?}"),
            ConfigError::BadOption(w) => f.write_str(w),
            ConfigError::Overlay(w) => write!(f, "overlay root filesystem: {w}"),
        }
    }
}

impl ConfigError {
    /// The variant's name, for `Debug`.
    fn name(&self) -> &'static str {
        match self {
            ConfigError::EmptyCommand => "EmptyCommand",
            ConfigError::InteriorNul { .. } => "InteriorNul",
            ConfigError::NotAbsolute { .. } => "NotAbsolute",
            ConfigError::BadPath { .. } => "BadPath",
            ConfigError::BadRootfs { .. } => "BadRootfs",
            ConfigError::BadMountSource { .. } => "BadMountSource",
            ConfigError::BadHostname(_) => "BadHostname",
            ConfigError::BadEnv(_) => "BadEnv",
            ConfigError::BadName(_) => "BadName",
            ConfigError::BadLimit(_) => "BadLimit",
            ConfigError::BadSize(_) => "BadSize",
            ConfigError::NoController(_) => "NoController",
            ConfigError::TooMany(_) => "TooMany",
            ConfigError::BadCapability(_) => "BadCapability",
            ConfigError::BadIdMap(_) => "BadIdMap",
            ConfigError::LimitsNeedRoot => "LimitsNeedRoot",
            ConfigError::Network(_) => "Network",
            ConfigError::BadAnnotation(_) => "BadAnnotation",
            ConfigError::BadOption(_) => "BadOption",
            ConfigError::Overlay(_) => "Overlay",
        }
    }
}

impl fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_message(f, self.name(), &self.to_string())
    }
}

impl core::error::Error for ConfigError {}

/// The kind of setup step the child was taking when it failed (see [`Error::Child`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
#[non_exhaustive]
pub enum Stage {
    /// Writing to the container cgroup's `cgroup.procs`.
    JoinCgroup = 1,
    /// `prctl(PR_SET_PDEATHSIG)`.
    ParentDeathSignal,
    /// Making mount propagation private.
    MakePrivate,
    /// A `mount(2)`.
    Mount,
    /// A `mkdirat(2)`.
    Mkdir,
    /// Creating an empty file as a bind mount target.
    CreateFile,
    /// A `mknodat(2)`.
    Mknod,
    /// A `symlinkat(2)`.
    Symlink,
    /// Writing a small file.
    WriteFile,
    /// Changing into the new root before `pivot_root`.
    EnterRoot,
    /// `pivot_root(2)`.
    PivotRoot,
    /// Detaching the old root.
    DetachOldRoot,
    /// `sethostname(2)`.
    SetHostname,
    /// Dropping capabilities from the bounding set or the process's sets.
    DropCapabilities,
    /// `setgroups(2)`.
    SetGroups,
    /// `setresgid(2)`.
    SetGid,
    /// `setresuid(2)`.
    SetUid,
    /// `prctl(PR_SET_NO_NEW_PRIVS)`.
    NoNewPrivs,
    /// `chdir(2)` into the working directory.
    Chdir,
    /// Resetting the signal mask and dispositions.
    ResetSignals,
    /// Forking the command under the minimal init.
    InitFork,
    /// `execve(2)` of the command.
    Exec,
    /// Waiting for the parent to write the uid/gid maps of the user namespace.
    UserNamespace,
    /// Masking or making read-only the kernel paths of `/proc` and `/sys`.
    MaskPaths,
    /// Passing descriptors and marking the others close-on-exec.
    Descriptors,
    /// Installing the seccomp filter.
    Seccomp,
    /// Bringing up `lo`, or waiting for the parent to connect the network.
    Network,
    /// Setting a resource limit (`prlimit64`).
    Rlimits,
    /// Writing a sysctl below `/proc/sys`.
    Sysctl,
    /// Joining an existing namespace by path.
    JoinNamespace,
}

impl Stage {
    /// Every stage, in discriminant order.
    pub const ALL: &'static [Stage] = &[
        Stage::JoinCgroup,
        Stage::ParentDeathSignal,
        Stage::MakePrivate,
        Stage::Mount,
        Stage::Mkdir,
        Stage::CreateFile,
        Stage::Mknod,
        Stage::Symlink,
        Stage::WriteFile,
        Stage::EnterRoot,
        Stage::PivotRoot,
        Stage::DetachOldRoot,
        Stage::SetHostname,
        Stage::DropCapabilities,
        Stage::SetGroups,
        Stage::SetGid,
        Stage::SetUid,
        Stage::NoNewPrivs,
        Stage::Chdir,
        Stage::ResetSignals,
        Stage::InitFork,
        Stage::Exec,
        Stage::UserNamespace,
        Stage::MaskPaths,
        Stage::Descriptors,
        Stage::Seccomp,
        Stage::Network,
        Stage::Rlimits,
        Stage::Sysctl,
        Stage::JoinNamespace,
    ];

    /// The stage with discriminant `n`.
    pub fn from_raw(n: u32) -> Option<Stage> {
        Stage::ALL.iter().copied().find(|s| *s as u32 == n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_errors_name_the_step_and_errno() {
        let e = Error::Child {
            stage: Stage::PivotRoot,
            step: "pivot_root into /x".into(),
            errno: Errno::EINVAL,
        };
        assert_eq!(e.to_string(), "pivot_root into /x: EINVAL");
        assert_eq!(e.errno(), Some(Errno::EINVAL));
        assert!(!e.is_command_not_found());
    }

    #[test]
    fn debug_shows_the_variant_and_the_message() {
        assert_eq!(
            alloc::format!("{:?}", Error::NotRoot),
            "NotRoot { message: \"containers need root (run as root, or use a user namespace: \
             --userns)\" }"
        );
        let e = Error::Child {
            stage: Stage::PivotRoot,
            step: "pivot_root into /x".into(),
            errno: Errno::EINVAL,
        };
        assert_eq!(
            alloc::format!("{e:?}"),
            "Child { stage: PivotRoot, errno: EINVAL, message: \"pivot_root into /x: EINVAL\" }"
        );
        let e = Error::from(ConfigError::BadHostname("a b".into()));
        assert_eq!(
            alloc::format!("{e:?}"),
            "Config(BadHostname { message: \"bad hostname: \\\"a b\\\"\" })"
        );
        let e = Error::host("mkdir /sys/fs/cgroup/x", Errno::EACCES);
        assert_eq!(
            alloc::format!("{e:?}"),
            "Host { errno: EACCES, message: \"mkdir /sys/fs/cgroup/x: EACCES\" }"
        );
    }

    #[test]
    fn stages_round_trip_through_their_number() {
        for &s in Stage::ALL {
            assert_eq!(Stage::from_raw(s as u32), Some(s));
        }
        assert_eq!(Stage::from_raw(0), None);
        assert_eq!(Stage::from_raw(999), None);
    }
}
