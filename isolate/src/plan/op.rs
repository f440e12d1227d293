//! The steps of the child's setup: what each does ([`Op`]), the [`Stage`] it reports and how
//! the parent names a failure of it.
//!
//! Adding a step: a variant here (with its stage and description), a planner that pushes it
//! (see [`crate::plan`]), and its system calls in [`crate::child`].

use alloc::ffi::CString;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rawsys::RawFd;
use rawsys::ns::MountFlags;
use rawsys::seccomp::SockFilter;

use crate::child::SubStep;
use crate::error::Stage;

/// One step of the child's setup.
#[derive(Debug)]
pub(crate) enum Op {
    /// `prctl(PR_SET_PDEATHSIG, SIGKILL)`.
    ParentDeathSignal,
    /// Close our copy of `write`, then wait until the parent has written the id maps and sends
    /// one byte on `read`; then become root inside (and drop the supplementary groups when
    /// `setgroups` is allowed).
    WaitForIdMaps {
        read: RawFd,
        write: RawFd,
        drop_groups: bool,
    },
    /// Set `lo` up over rtnetlink (in the container's fresh network namespace).
    LoopbackUp,
    /// Write `0` to an open `cgroup.procs`.
    JoinCgroup { fd: RawFd, path: String },
    /// `unshare(CLONE_NEWCGROUP)` after joining, so the container sees its cgroup as the root.
    UnshareCgroupNs,
    /// `mount(NULL, "/", NULL, MS_REC | MS_PRIVATE)`.
    MakePrivate,
    /// `mount(2)`.
    Mount {
        source: Option<CString>,
        target: CString,
        fstype: Option<CString>,
        flags: MountFlags,
        data: Option<CString>,
    },
    /// `mkdirat(2)`; `EEXIST` is fine.
    Mkdir { path: CString, mode: u32 },
    /// Create an empty file (bind mount target) if missing.
    CreateFile { path: CString },
    /// `fchmod` of an existing directory (mkdir's mode is subject to the umask).
    ChmodDir { path: CString, mode: u32 },
    /// `symlinkat(2)`.
    Symlink { target: CString, link: CString },
    /// Create or truncate a file and write `contents`.
    WriteFile { path: CString, contents: Vec<u8> },
    /// Open the new root (after its mount): later paths below it are resolved inside it.
    OpenRoot { path: CString },
    /// `chdir(root)`, `pivot_root(".", ".")`, `umount2(".", MNT_DETACH)`, `chdir("/")`.
    PivotRoot { root: CString },
    /// Open `/proc` (inside, after `pivot_root`) without following links and check that it is
    /// a procfs root: the sysctl, masked and read-only steps resolve below it only.
    OpenProc,
    /// Open `/dev/null` (inside, after `pivot_root`) without following links and check that
    /// it is the null device (character device 1:3).
    OpenNull,
    /// Hide a path: `/dev/null` over a file, an empty read-only tmpfs over a directory.
    Mask { path: CString },
    /// Create the missing directories of `path` (inside the new root, as root, before the
    /// credentials change: docker's `-w`).
    MakeDirs { path: CString },
    /// `umount2(path, MNT_DETACH)`: a staging mount whose files are bound elsewhere already
    /// (the binds keep them alive).
    Detach { path: CString },
    /// Bind a path onto itself and remount it read-only.
    ReadOnly { path: CString },
    /// `sethostname(2)`.
    SetHostname { name: Vec<u8> },
    /// `setdomainname(2)`.
    SetDomainname { name: Vec<u8> },
    /// `dup3(from, to)` (or clearing close-on-exec when equal).
    Dup { from: RawFd, to: RawFd },
    /// Drop every capability outside `keep` from the bounding set.
    DropBoundingSet { keep: u64 },
    /// `setgroups(2)` to exactly `groups` (the supplementary groups; often none).
    SetGroups { groups: Vec<u32> },
    /// `setresgid(2)`.
    SetGid { gid: u32 },
    /// `setresuid(2)`.
    SetUid { uid: u32 },
    /// `capset(2)` leaving `keep` effective and permitted, nothing inheritable or ambient.
    SetCapabilities { keep: u64 },
    /// `prctl(PR_SET_NO_NEW_PRIVS)`.
    NoNewPrivs,
    /// `chdir(2)` resolved inside the root without magic links.
    Chdir { path: CString },
    /// Default dispositions for ignored signals and an empty signal mask.
    ResetSignals,
    /// Place these descriptors at 3, 4, ... (without close-on-exec).
    PassFds { fds: Vec<RawFd> },
    /// Mark every descriptor from `first` on close-on-exec.
    CloseFds { first: u32 },
    /// Install the seccomp filter.
    Seccomp { prog: Vec<SockFilter> },
    /// `prlimit64(0, resource, limit)`.
    SetRlimit {
        resource: rawsys::process::Resource,
        limit: rawsys::process::Rlimit,
    },
    /// Write `value` to the sysctl file `path` (relative to the checked `/proc`:
    /// `sys/...`).
    Sysctl { path: CString, value: Vec<u8> },
    /// `mknodat(2)` (an existing entry is kept), owner and mode, then a bind onto itself
    /// remounted without `nodev`.
    Device {
        path: CString,
        mode: u32,
        dev: u64,
        uid: u32,
        gid: u32,
    },
    /// `setns(2)` into the namespace open at `fd` (of kind `kind`; `path` for messages).
    JoinNamespace {
        fd: RawFd,
        kind: rawsys::process::CloneFlags,
        path: String,
    },
    /// `prctl(PR_SET_KEEPCAPS, 1)` before switching to a non-root user that keeps
    /// capabilities.
    KeepCaps,
    /// `capset(2)` with these effective, permitted and inheritable sets, then raise each
    /// ambient one.
    SetCapabilitySets { sets: crate::spec::CapabilitySets },
    /// Block until the parent has connected the network: one byte on this pipe.
    WaitParent { fd: RawFd },
    /// `prctl(PR_SET_DUMPABLE, 0)`: a process joining a running container, whose
    /// `/proc/PID/{mem,fd,cwd,exe}` the container must not open and which it must not ptrace
    /// (CVE-2016-9962, CVE-2019-5736). `execve` makes the command dumpable again.
    NotDumpable,
    /// Close every descriptor but `keep` (sorted, no duplicates).
    CloseAllBut { keep: Vec<RawFd> },
    /// Fork into the PID namespace joined before (`CLONE_PARENT`: the new process is a child
    /// of the caller, not of this one). This process writes the new one's pid (as the caller
    /// sees it) on `pid_pipe` and exits; the new one closes `close` and goes on with the next
    /// step.
    ForkJoined { pid_pipe: RawFd, close: Vec<RawFd> },
    /// A new session with a new pseudo-terminal of the container's own `/dev/pts`: the slave
    /// becomes stdin, stdout, stderr and the controlling terminal, the master goes to the
    /// caller over `socket` (`SCM_RIGHTS`). With `console` (a container's terminal, not an
    /// exec's) the slave is also bound onto `/dev/console` (config-linux.md's default
    /// devices): after the masks, from descriptor to descriptor, onto a regular file or
    /// device node opened without following links (CVE-2025-52565).
    Terminal { socket: RawFd, console: bool },
}

impl Op {
    /// The kind of step, for [`crate::Error::Child`].
    pub(crate) fn stage(&self) -> Stage {
        match self {
            Op::ParentDeathSignal => Stage::ParentDeathSignal,
            Op::WaitForIdMaps { .. } => Stage::UserNamespace,
            Op::JoinCgroup { .. } | Op::UnshareCgroupNs => Stage::JoinCgroup,
            Op::MakePrivate => Stage::MakePrivate,
            Op::Mount { .. } | Op::OpenRoot { .. } | Op::Detach { .. } => Stage::Mount,
            Op::Mkdir { .. } | Op::ChmodDir { .. } => Stage::Mkdir,
            Op::CreateFile { .. } => Stage::CreateFile,
            Op::Symlink { .. } => Stage::Symlink,
            Op::WriteFile { .. } => Stage::WriteFile,
            Op::PivotRoot { .. } => Stage::PivotRoot,
            Op::OpenProc | Op::OpenNull | Op::Mask { .. } | Op::ReadOnly { .. } => Stage::MaskPaths,
            Op::SetHostname { .. } | Op::SetDomainname { .. } => Stage::SetHostname,
            Op::Dup { .. } => Stage::ResetSignals,
            Op::DropBoundingSet { .. } | Op::SetCapabilities { .. } => Stage::DropCapabilities,
            Op::SetGroups { .. } => Stage::SetGroups,
            Op::SetGid { .. } => Stage::SetGid,
            Op::SetUid { .. } => Stage::SetUid,
            Op::NoNewPrivs => Stage::NoNewPrivs,
            Op::Chdir { .. } | Op::MakeDirs { .. } => Stage::Chdir,
            Op::ResetSignals => Stage::ResetSignals,
            Op::PassFds { .. } | Op::CloseFds { .. } => Stage::Descriptors,
            Op::Seccomp { .. } => Stage::Seccomp,
            Op::SetRlimit { .. } => Stage::Rlimits,
            Op::Sysctl { .. } => Stage::Sysctl,
            Op::Device { .. } => Stage::Mknod,
            Op::JoinNamespace { .. } => Stage::JoinNamespace,
            Op::KeepCaps | Op::SetCapabilitySets { .. } => Stage::DropCapabilities,
            Op::LoopbackUp | Op::WaitParent { .. } => Stage::Network,
            Op::NotDumpable | Op::CloseAllBut { .. } | Op::ForkJoined { .. } => Stage::Join,
            Op::Terminal { .. } => Stage::Terminal,
        }
    }

    /// The step as a person would name it, with its arguments; `sub` is the call that failed.
    pub(crate) fn describe(&self, sub: SubStep) -> String {
        let s = |c: &CString| String::from_utf8_lossy(c.to_bytes()).into_owned();
        match self {
            Op::ParentDeathSignal => "set the parent-death signal".into(),
            Op::WaitForIdMaps { .. } => match sub {
                SubStep::WaitForParent => "wait for the uid/gid maps".into(),
                SubStep::SetGroups => "setgroups [] in the user namespace".into(),
                _ => "become root (0:0) in the user namespace".into(),
            },
            Op::JoinCgroup { path, .. } => format!("join cgroup {path}"),
            Op::UnshareCgroupNs => "unshare the cgroup namespace".into(),
            Op::MakePrivate => "make mount propagation private".into(),
            Op::Mount {
                source,
                target,
                fstype,
                flags,
                ..
            } => {
                if flags.contains(MountFlags::REMOUNT) {
                    format!("remount {} read-only", s(target))
                } else if flags.contains(MountFlags::BIND) {
                    let src = source.as_ref().map(s).unwrap_or_default();
                    format!("bind-mount {src} on {}", s(target))
                } else {
                    let t = fstype.as_ref().map(s).unwrap_or_default();
                    format!("mount {t} on {}", s(target))
                }
            }
            Op::Mkdir { path, .. } => format!("mkdir {}", s(path)),
            Op::CreateFile { path } => format!("create {}", s(path)),
            Op::ChmodDir { path, mode } => format!("chmod {mode:o} {}", s(path)),
            Op::Symlink { target, link } => format!("symlink {} -> {}", s(link), s(target)),
            Op::WriteFile { path, .. } => format!("write {}", s(path)),
            Op::Detach { path } => format!("detach the staging mount {}", s(path)),
            Op::MakeDirs { path } => format!("create the working directory {}", s(path)),
            Op::OpenRoot { path } => format!("open the new root {}", s(path)),
            Op::PivotRoot { root } => match sub {
                SubStep::EnterRoot => format!("chdir into {}", s(root)),
                SubStep::PivotRoot => format!("pivot_root into {}", s(root)),
                SubStep::DetachOldRoot => "detach the old root".into(),
                _ => "chdir to the new root".into(),
            },
            Op::OpenProc => match sub {
                SubStep::Open => "open /proc inside without following links".into(),
                _ => "verify /proc inside is the procfs mounted there (not a directory or \
                      mount put in its place)"
                    .into(),
            },
            Op::OpenNull => match sub {
                SubStep::Open => "open /dev/null inside without following links".into(),
                _ => "verify /dev/null inside is the null device (char 1:3)".into(),
            },
            Op::Mask { path } => format!("mask {}", s(path)),
            Op::ReadOnly { path } => format!("make {} read-only", s(path)),
            Op::SetDomainname { name } => {
                format!("setdomainname {}", String::from_utf8_lossy(name))
            }
            Op::SetHostname { name } => {
                format!("sethostname {}", String::from_utf8_lossy(name))
            }
            Op::Dup { from, to } => format!("dup fd {from} to {to}"),
            Op::DropBoundingSet { .. } => match sub {
                SubStep::DropBounding(n) => format!("drop capability {n} from the bounding set"),
                _ => "drop capabilities from the bounding set".into(),
            },
            Op::SetGroups { groups } => format!("setgroups {groups:?}"),
            Op::SetGid { gid } => format!("setresgid {gid}"),
            Op::SetUid { uid } => format!("setresuid {uid}"),
            Op::SetCapabilities { .. } => "capset".into(),
            Op::NoNewPrivs => "set no_new_privs".into(),
            Op::Chdir { path } => format!("chdir into {}", s(path)),
            Op::ResetSignals => "reset signal dispositions and mask".into(),
            Op::PassFds { .. } => match sub {
                SubStep::PassFd(i) => format!("pass descriptor {}", 3 + u32::from(i)),
                _ => "move the setup pipes above the passed descriptors".into(),
            },
            Op::CloseFds { first } => format!("mark descriptors from {first} close-on-exec"),
            Op::Seccomp { prog } => {
                format!("install the seccomp filter ({} instructions)", prog.len())
            }
            Op::SetRlimit { resource, limit } => format!(
                "set rlimit {resource:?} to {} (soft) {} (hard)",
                limit.cur, limit.max
            ),
            Op::Sysctl { path, value } => {
                let v = String::from_utf8_lossy(value);
                match sub {
                    SubStep::Verify => format!(
                        "verify /proc/{} is a procfs file before writing {v:?} to it",
                        s(path)
                    ),
                    _ => format!("write {v:?} to /proc/{}", s(path)),
                }
            }
            Op::Device {
                path, mode, dev, ..
            } => {
                let what = match sub {
                    SubStep::Open | SubStep::Verify => "open the new device",
                    SubStep::Chmod => "set owner and mode of device",
                    SubStep::BindOntoItself | SubStep::Reopen | SubStep::Remount => {
                        "bind (without nodev) device"
                    }
                    _ => "mknod",
                };
                format!("{what} {} (mode {mode:o}, dev {dev:#x})", s(path))
            }
            Op::JoinNamespace { path, .. } => format!("join the namespace {path}"),
            Op::KeepCaps => "keep capabilities across setuid (PR_SET_KEEPCAPS)".into(),
            Op::SetCapabilitySets { .. } => match sub {
                SubStep::RaiseAmbient(n) => format!("raise ambient capability {n}"),
                _ => "capset".into(),
            },
            Op::LoopbackUp => "set lo up".into(),
            Op::WaitParent { .. } => "wait for the parent to connect the network".into(),
            Op::NotDumpable => "make the joining process non-dumpable".into(),
            Op::CloseAllBut { keep } => format!("close every descriptor but {keep:?}"),
            Op::ForkJoined { .. } => "fork into the container's PID namespace".into(),
            Op::Terminal { .. } => match sub {
                SubStep::NewSession => "start a new session (setsid)".into(),
                SubStep::Open => "open /dev/pts/ptmx inside the container".into(),
                SubStep::Verify => "verify /dev/pts/ptmx is a pty master (char 5:2)".into(),
                SubStep::Unlock => "unlock the pty (TIOCSPTLCK)".into(),
                SubStep::OpenPeer => "open the pty's slave (TIOCGPTPEER)".into(),
                SubStep::ControllingTerminal => {
                    "make the pty the controlling terminal (TIOCSCTTY)".into()
                }
                SubStep::DupStdio => "make the pty stdin, stdout and stderr".into(),
                SubStep::Mount => "bind the pty onto /dev/console (a regular file or a device \
                                   node there, no link)"
                    .into(),
                _ => "send the pty master to the caller".into(),
            },
        }
    }
}
