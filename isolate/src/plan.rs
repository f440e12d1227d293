//! The child's setup as data: the parent turns a [`Container`](crate::Container) into a list
//! of operations with every string already NUL-terminated, so the child after `clone` only
//! walks the list issuing system calls (see [`crate::child`]). A failing operation is reported
//! by its index, and the parent describes it from the same list.

use alloc::ffi::CString;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::c_char;

use rawsys::RawFd;
use rawsys::ns::MountFlags;

use crate::config::{Container, DEFAULT_PATH, HOST_SYSTEM_DIRS, MountSpec, Rootfs, Stdio};
use crate::error::{ConfigError, Error, Stage};
use crate::fsutil::{cjoin, cstring, lstat, read_file, readlink, stat};
use crate::security::ops::SecOp;
use crate::security::{self, MASKED_PATHS, READONLY_PATHS, Seccomp, SystemPaths};

/// One step of the child's setup.
#[derive(Debug)]
pub(crate) enum Op {
    /// `prctl(PR_SET_PDEATHSIG, SIGKILL)`.
    ParentDeathSignal,
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
    /// `chdir(root)`, `pivot_root(".", ".")`, `umount2(".", MNT_DETACH)`, `chdir("/")`.
    PivotRoot { root: CString },
    /// `sethostname(2)`.
    SetHostname { name: Vec<u8> },
    /// `dup3(from, to)` (or clearing close-on-exec when equal).
    Dup { from: RawFd, to: RawFd },
    /// Drop every capability outside `keep` from the bounding set.
    DropBoundingSet { keep: u64 },
    /// `setgroups(2)` to just `gid`.
    SetGroups { gid: u32 },
    /// `setresgid(2)`.
    SetGid { gid: u32 },
    /// `setresuid(2)`.
    SetUid { uid: u32 },
    /// `capset(2)` leaving `keep` effective and permitted, nothing inheritable or ambient.
    SetCapabilities { keep: u64 },
    /// `prctl(PR_SET_NO_NEW_PRIVS)`.
    NoNewPrivs,
    /// `chdir(2)`.
    Chdir { path: CString },
    /// Default dispositions for ignored signals and an empty signal mask.
    ResetSignals,
    /// A hardening step (see [`crate::security`]).
    Security(SecOp),
    /// Set `lo` up over rtnetlink (in the container's fresh network namespace).
    LoopbackUp,
    /// Block until the parent has connected the network: one byte on this pipe.
    WaitParent { fd: RawFd },
}

impl Op {
    pub(crate) fn stage(&self) -> Stage {
        match self {
            Op::ParentDeathSignal => Stage::ParentDeathSignal,
            Op::JoinCgroup { .. } | Op::UnshareCgroupNs => Stage::JoinCgroup,
            Op::MakePrivate => Stage::MakePrivate,
            Op::Mount { .. } => Stage::Mount,
            Op::Mkdir { .. } | Op::ChmodDir { .. } => Stage::Mkdir,
            Op::CreateFile { .. } => Stage::CreateFile,
            Op::Symlink { .. } => Stage::Symlink,
            Op::WriteFile { .. } => Stage::WriteFile,
            Op::PivotRoot { .. } => Stage::PivotRoot,
            Op::SetHostname { .. } => Stage::SetHostname,
            Op::Dup { .. } => Stage::ResetSignals,
            Op::DropBoundingSet { .. } | Op::SetCapabilities { .. } => Stage::DropCapabilities,
            Op::SetGroups { .. } => Stage::SetGroups,
            Op::SetGid { .. } => Stage::SetGid,
            Op::SetUid { .. } => Stage::SetUid,
            Op::NoNewPrivs => Stage::NoNewPrivs,
            Op::Chdir { .. } => Stage::Chdir,
            Op::ResetSignals => Stage::ResetSignals,
            Op::Security(s) => s.stage(),
            Op::LoopbackUp | Op::WaitParent { .. } => Stage::Network,
        }
    }

    /// The step as a person would name it, with its arguments.
    pub(crate) fn describe(&self, sub: u32) -> String {
        let s = |c: &CString| String::from_utf8_lossy(c.to_bytes()).into_owned();
        match self {
            Op::ParentDeathSignal => "set the parent-death signal".into(),
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
            Op::PivotRoot { root } => match sub {
                0 => format!("chdir into {}", s(root)),
                1 => format!("pivot_root into {}", s(root)),
                2 => "detach the old root".into(),
                _ => "chdir to the new root".into(),
            },
            Op::SetHostname { name } => {
                format!("sethostname {}", String::from_utf8_lossy(name))
            }
            Op::Dup { from, to } => format!("dup fd {from} to {to}"),
            Op::DropBoundingSet { .. } => format!("drop capability {sub} from the bounding set"),
            Op::SetGroups { gid } => format!("setgroups [{gid}]"),
            Op::SetGid { gid } => format!("setresgid {gid}"),
            Op::SetUid { uid } => format!("setresuid {uid}"),
            Op::SetCapabilities { .. } => "capset".into(),
            Op::NoNewPrivs => "set no_new_privs".into(),
            Op::Chdir { path } => format!("chdir into {}", s(path)),
            Op::ResetSignals => "reset signal dispositions and mask".into(),
            Op::Security(s) => s.describe(sub),
            Op::LoopbackUp => "set lo up".into(),
            Op::WaitParent { .. } => "wait for the parent to connect the network".into(),
        }
    }
}

/// What the child executes at the end: prepared `execve` arguments.
#[derive(Debug)]
pub(crate) struct Exec {
    /// The program as given (for messages).
    pub(crate) program: String,
    /// Full paths to try in order (one when the program contains a `/`).
    pub(crate) candidates: Vec<CString>,
    _strings: Vec<CString>,
    /// Null-terminated `argv`.
    pub(crate) argv: Vec<*const c_char>,
    /// Null-terminated `envp`.
    pub(crate) envp: Vec<*const c_char>,
    /// Run under the minimal init.
    pub(crate) init: bool,
}

/// The child's whole program.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) ops: Vec<Op>,
    pub(crate) exec: Exec,
}

impl Plan {
    /// Describes the step with index `i` (`ops.len()` stands for `execve`).
    pub(crate) fn describe(&self, i: u32, sub: u32) -> (Stage, String) {
        match self.ops.get(i as usize) {
            Some(op) => (op.stage(), op.describe(sub)),
            None if sub == 1 => (Stage::InitFork, "fork the command under init".into()),
            None => (Stage::Exec, format!("exec {}", self.exec.program)),
        }
    }
}

fn path(parts: &[&str]) -> Result<CString, Error> {
    cjoin(parts)
}

/// A recursive bind of `source` onto `target`, then a remount adding `extra` flags. The
/// source mount's own locked flags are repeated in the remount (a user namespace may not clear
/// them, and the remount fails if it tries).
fn bind(ops: &mut Vec<Op>, source: &str, target: CString, extra: MountFlags) -> Result<(), Error> {
    ops.push(mount(
        Some(source),
        target.clone(),
        None,
        MountFlags::BIND | MountFlags::REC,
        None,
    )?);
    ops.push(mount(
        None,
        target,
        None,
        MountFlags::BIND | MountFlags::REMOUNT | extra | security::source_mount_flags(source),
        None,
    )?);
    Ok(())
}

fn mount(
    source: Option<&str>,
    target: CString,
    fstype: Option<&str>,
    flags: MountFlags,
    data: Option<&str>,
) -> Result<Op, Error> {
    let c = |v: Option<&str>| -> Result<Option<CString>, Error> {
        match v {
            Some(s) => Ok(Some(cjoin(&[s])?)),
            None => Ok(None),
        }
    };
    Ok(Op::Mount {
        source: c(source)?,
        target,
        fstype: c(fstype)?,
        flags,
        data: c(data)?,
    })
}

/// Directories to create so that `target` (absolute, inside the container) exists below `root`.
fn mkdir_p(ops: &mut Vec<Op>, root: &str, target: &str) -> Result<(), Error> {
    let mut cur = String::from(root);
    for comp in target.split('/').filter(|c| !c.is_empty() && *c != ".") {
        cur.push('/');
        cur.push_str(comp);
        ops.push(Op::Mkdir {
            path: path(&[&cur])?,
            mode: 0o755,
        });
    }
    Ok(())
}

fn parent_of(p: &str) -> &str {
    match p.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &p[..i],
    }
}

/// A directory on the host where the fresh root tmpfs can be mounted (in the child's own mount
/// namespace, so the host never sees it) without hiding any bind mount source.
fn staging_dir(sources: &[String]) -> Result<&'static str, Error> {
    for cand in ["/tmp", "/mnt", "/run", "/media", "/srv", "/opt", "/var/tmp"] {
        let covers = sources
            .iter()
            .any(|s| s == cand || s.strip_prefix(cand).is_some_and(|r| r.starts_with('/')));
        if covers {
            continue;
        }
        let Ok(c) = cjoin(&[cand]) else { continue };
        if lstat(&c).is_ok_and(|st| st.is_dir()) {
            return Ok(cand);
        }
    }
    Err(Error::Unexpected(
        "no empty-enough host directory (/tmp, /mnt, ...) to stage the root filesystem".into(),
    ))
}

/// The canonical host path of a bind source (symlinks resolved), or why it is unusable.
fn canonical_source(src: &str) -> Result<(String, bool), Error> {
    let c = cstring("mount source", src)?;
    let st = stat(&c).map_err(|errno| ConfigError::BadMountSource {
        path: src.into(),
        errno,
    })?;
    let fd = rawsys::fs::openat(
        rawsys::fs::CWD,
        &c,
        rawsys::fs::OFlags::PATH | rawsys::fs::OFlags::CLOEXEC,
        rawsys::fs::Mode::empty(),
    )
    .map_err(|errno| ConfigError::BadMountSource {
        path: src.into(),
        errno,
    })?;
    let link = path(&["/proc/self/fd/", &format!("{}", fd.as_raw())])?;
    let real = readlink(&link).map_err(|e| Error::host(format!("readlink {src}"), e))?;
    let real = String::from_utf8(real)
        .map_err(|_| Error::Unexpected(format!("mount source {src} is not UTF-8")))?;
    Ok((real, st.is_dir()))
}

/// Builds the child's plan. `cgroup_procs` are the open `cgroup.procs` files to join.
pub(crate) fn build(c: &Container, cgroup_procs: &[(RawFd, String)]) -> Result<Plan, Error> {
    let o = &c.opts;
    let mut ops = Vec::new();
    ops.push(Op::ParentDeathSignal);
    if !matches!(o.network, crate::net::Network::Host) {
        ops.push(Op::LoopbackUp);
    }
    for (fd, p) in cgroup_procs {
        ops.push(Op::JoinCgroup {
            fd: *fd,
            path: p.clone(),
        });
    }
    if !cgroup_procs.is_empty() {
        ops.push(Op::UnshareCgroupNs);
    }
    ops.push(Op::MakePrivate);

    // Resolve bind sources first: their canonical paths decide where staging may happen.
    let mut binds = Vec::new();
    for m in &o.mounts {
        if let MountSpec::Bind { source, .. } = m {
            binds.push(canonical_source(source)?);
        }
    }
    let bind_paths: Vec<String> = binds.iter().map(|(p, _)| p.clone()).collect();

    let nosuid_nodev_noexec = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    let root: String = match &c.rootfs {
        Rootfs::Dir(dir) => {
            let d = cstring("rootfs", dir)?;
            match stat(&d) {
                Ok(st) if st.is_dir() => {}
                Ok(_) => {
                    return Err(ConfigError::BadRootfs {
                        path: dir.clone(),
                        errno: rawsys::Errno::ENOTDIR,
                    }
                    .into());
                }
                Err(errno) => {
                    return Err(ConfigError::BadRootfs {
                        path: dir.clone(),
                        errno,
                    }
                    .into());
                }
            }
            // nodev: a device node made inside (CAP_MKNOD is kept) cannot be opened.
            bind(&mut ops, dir, d.clone(), MountFlags::NODEV)?;
            dir.clone()
        }
        Rootfs::HostSystem => {
            let s = staging_dir(&bind_paths)?;
            ops.push(mount(
                Some("isolate-root"),
                path(&[s])?,
                Some("tmpfs"),
                MountFlags::NOSUID | MountFlags::NODEV,
                Some("mode=755"),
            )?);
            for d in HOST_SYSTEM_DIRS {
                let host = path(&["/", d])?;
                let Ok(st) = lstat(&host) else { continue };
                let inside = path(&[s, "/", d])?;
                if st.is_symlink() {
                    let t =
                        readlink(&host).map_err(|e| Error::host(format!("readlink /{d}"), e))?;
                    let t = CString::new(t).map_err(|_| Error::Unexpected("symlink".into()))?;
                    ops.push(Op::Symlink {
                        target: t,
                        link: inside,
                    });
                } else if st.is_dir() {
                    ops.push(Op::Mkdir {
                        path: inside.clone(),
                        mode: 0o755,
                    });
                    bind(
                        &mut ops,
                        &format!("/{d}"),
                        inside,
                        MountFlags::RDONLY | MountFlags::NOSUID,
                    )?;
                }
            }
            for (d, mode) in [
                ("etc", 0o755),
                ("root", 0o700),
                ("tmp", 0o1777),
                ("home", 0o755),
            ] {
                let p = path(&[s, "/", d])?;
                ops.push(Op::Mkdir {
                    path: p.clone(),
                    mode,
                });
                if mode & 0o7022 != 0 {
                    ops.push(Op::ChmodDir { path: p, mode });
                }
            }
            ops.push(Op::WriteFile {
                path: path(&[s, "/etc/passwd"])?,
                contents:
                    b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
                        .to_vec(),
            });
            ops.push(Op::WriteFile {
                path: path(&[s, "/etc/group"])?,
                contents: b"root:x:0:\nnogroup:x:65534:\n".to_vec(),
            });
            String::from(s)
        }
    };
    let r = root.as_str();
    // From here on, paths below the root are resolved inside it (symlinks cannot lead out).
    ops.push(Op::Security(SecOp::OpenRoot { path: path(&[r])? }));

    // /etc/hostname and /etc/resolv.conf: written into a small tmpfs at <root>/proc, bound
    // over the rootfs's files, then hidden under the real /proc. Nothing touches the rootfs
    // except creating the two empty mount targets if the rootfs lacks them.
    let etc = path(&[r, "/etc"])?;
    let has_etc = match &c.rootfs {
        Rootfs::HostSystem => true,
        Rootfs::Dir(_) => stat(&etc).is_ok_and(|st| st.is_dir()),
    };
    ops.push(Op::Mkdir {
        path: path(&[r, "/proc"])?,
        mode: 0o555,
    });
    if has_etc {
        let mut resolv = read_file(c"/etc/resolv.conf").unwrap_or_default();
        if matches!(o.network, crate::net::Network::Bridge(_)) {
            resolv = crate::net::resolv_conf(&resolv);
        }
        ops.push(mount(
            Some("isolate-etc"),
            path(&[r, "/proc"])?,
            Some("tmpfs"),
            nosuid_nodev_noexec,
            Some("size=64k,mode=755"),
        )?);
        let mut hostname = o.hostname.clone().into_bytes();
        hostname.push(b'\n');
        for (name, contents) in [("hostname", hostname), ("resolv.conf", resolv)] {
            let staged = path(&[r, "/proc/", name])?;
            let target = path(&[r, "/etc/", name])?;
            // A symlink in a rootfs directory would be followed on the host before
            // pivot_root: leave such files alone.
            if matches!(c.rootfs, Rootfs::Dir(_)) && lstat(&target).is_ok_and(|st| !st.is_file()) {
                continue;
            }
            ops.push(Op::WriteFile {
                path: staged.clone(),
                contents,
            });
            ops.push(Op::CreateFile {
                path: target.clone(),
            });
            ops.push(Op::Mount {
                source: Some(staged),
                target,
                fstype: None,
                flags: MountFlags::BIND,
                data: None,
            });
        }
    }
    ops.push(mount(
        Some("proc"),
        path(&[r, "/proc"])?,
        Some("proc"),
        nosuid_nodev_noexec,
        None,
    )?);

    // /dev: a tmpfs with the basic devices bound from the host (their modes are right and
    // no CAP_MKNOD is needed), devpts, shm and the usual links.
    let dev = path(&[r, "/dev"])?;
    ops.push(Op::Mkdir {
        path: dev.clone(),
        mode: 0o755,
    });
    ops.push(mount(
        Some("isolate-dev"),
        dev,
        Some("tmpfs"),
        // nodev: the bound device files are mounts of their own; a node made here with
        // CAP_MKNOD cannot be opened.
        MountFlags::NOSUID | MountFlags::NOEXEC | MountFlags::NODEV,
        Some("mode=755,size=64k"),
    )?);
    for d in ["null", "zero", "full", "random", "urandom", "tty"] {
        let host = path(&["/dev/", d])?;
        if stat(&host).is_err() {
            continue;
        }
        let inside = path(&[r, "/dev/", d])?;
        ops.push(Op::CreateFile {
            path: inside.clone(),
        });
        ops.push(Op::Mount {
            source: Some(host),
            target: inside,
            fstype: None,
            flags: MountFlags::BIND,
            data: None,
        });
    }
    for (d, mode) in [("pts", 0o755), ("shm", 0o1777)] {
        ops.push(Op::Mkdir {
            path: path(&[r, "/dev/", d])?,
            mode,
        });
    }
    ops.push(mount(
        Some("devpts"),
        path(&[r, "/dev/pts"])?,
        Some("devpts"),
        MountFlags::NOSUID | MountFlags::NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )?);
    ops.push(mount(
        Some("shm"),
        path(&[r, "/dev/shm"])?,
        Some("tmpfs"),
        nosuid_nodev_noexec,
        Some("mode=1777,size=64m"),
    )?);
    for (link, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        ops.push(Op::Symlink {
            target: path(&[target])?,
            link: path(&[r, "/dev/", link])?,
        });
    }

    // /sys, read-only.
    ops.push(Op::Mkdir {
        path: path(&[r, "/sys"])?,
        mode: 0o555,
    });
    if o.security.userns.is_some() && matches!(o.network, crate::config::NetworkMode::Host) {
        // Only the owner of the network namespace may mount sysfs: in a user namespace
        // sharing the host's network, the host's /sys is bound read-only instead.
        bind(
            &mut ops,
            "/sys",
            path(&[r, "/sys"])?,
            nosuid_nodev_noexec | MountFlags::RDONLY,
        )?;
    } else {
        ops.push(mount(
            Some("sysfs"),
            path(&[r, "/sys"])?,
            Some("sysfs"),
            nosuid_nodev_noexec | MountFlags::RDONLY,
            None,
        )?);
    }

    // The caller's mounts.
    let mut bi = binds.iter();
    for m in &o.mounts {
        match m {
            MountSpec::Bind {
                target, readonly, ..
            } => {
                let Some((src, is_dir)) = bi.next() else {
                    return Err(Error::Unexpected("bind list".into()));
                };
                let t = path(&[r, target])?;
                if *is_dir {
                    mkdir_p(&mut ops, r, target)?;
                } else {
                    mkdir_p(&mut ops, r, parent_of(target))?;
                    ops.push(Op::CreateFile { path: t.clone() });
                }
                // nodev as for the root.
                let mut extra = MountFlags::NODEV;
                if *readonly {
                    extra |= MountFlags::RDONLY;
                }
                bind(&mut ops, src, t, extra)?;
            }
            MountSpec::Tmpfs { target, size } => {
                mkdir_p(&mut ops, r, target)?;
                let data = match size {
                    Some(sz) => format!("mode=1777,size={sz}"),
                    None => "mode=1777".into(),
                };
                ops.push(mount(
                    Some("tmpfs"),
                    path(&[r, target])?,
                    Some("tmpfs"),
                    MountFlags::NOSUID | MountFlags::NODEV,
                    Some(&data),
                )?);
            }
        }
    }

    ops.push(Op::PivotRoot { root: path(&[r])? });
    if !o.privileged && o.security.system_paths == SystemPaths::Masked {
        ops.push(Op::Security(SecOp::OpenNull));
        for p in MASKED_PATHS {
            ops.push(Op::Security(SecOp::Mask { path: path(&[p])? }));
        }
        for p in READONLY_PATHS {
            ops.push(Op::Security(SecOp::ReadOnly { path: path(&[p])? }));
        }
    }
    ops.push(Op::SetHostname {
        name: o.hostname.clone().into_bytes(),
    });
    for (i, s) in o.stdio.iter().enumerate() {
        if let Stdio::Fd(fd) = s {
            ops.push(Op::Dup {
                from: fd.as_raw(),
                to: i as RawFd,
            });
        }
    }
    if !o.privileged {
        ops.push(Op::DropBoundingSet {
            keep: o.security.caps.bits(),
        });
    }
    if let Some((uid, gid)) = o.user {
        // With setgroups denied in the user namespace the list stays as it is (empty).
        if o.security
            .userns
            .as_ref()
            .is_none_or(|ns| !ns.setgroups_denied())
        {
            ops.push(Op::SetGroups { gid });
        }
        ops.push(Op::SetGid { gid });
        ops.push(Op::SetUid { uid });
    }
    if !o.privileged && o.user.is_none_or(|(uid, _)| uid == 0) {
        ops.push(Op::SetCapabilities {
            keep: o.security.caps.bits(),
        });
    }
    ops.push(Op::NoNewPrivs);
    ops.push(Op::Chdir {
        path: path(&[&o.workdir])?,
    });
    ops.push(Op::ResetSignals);
    let passed: Vec<RawFd> = o.security.pass_fds.iter().map(|f| f.as_raw()).collect();
    let first_closed = 3 + passed.len() as u32;
    if !passed.is_empty() {
        ops.push(Op::Security(SecOp::PassFds { fds: passed }));
    }
    ops.push(Op::Security(SecOp::CloseFds {
        first: first_closed,
    }));
    if !o.privileged && o.security.seccomp == Seccomp::Default {
        ops.push(Op::Security(SecOp::Seccomp {
            prog: security::default_filter(o.security.caps),
        }));
    }

    Ok(Plan {
        ops,
        exec: exec(c)?,
    })
}

fn exec(c: &Container) -> Result<Exec, Error> {
    let o = &c.opts;
    let prog = &c.command.program;
    let mut env: Vec<(String, String)> = o.env.clone();
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.push(("PATH".into(), DEFAULT_PATH.into()));
    }
    if !env.iter().any(|(k, _)| k == "HOME") {
        let home = if o.user.is_none_or(|(u, _)| u == 0) {
            "/root"
        } else {
            "/"
        };
        env.push(("HOME".into(), home.into()));
    }
    if !env.iter().any(|(k, _)| k == "HOSTNAME") {
        env.push(("HOSTNAME".into(), o.hostname.clone()));
    }
    let mut candidates = Vec::new();
    if prog.contains('/') {
        candidates.push(cstring("command", prog)?);
    } else {
        let pathvar = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_str())
            .unwrap_or(DEFAULT_PATH);
        for dir in pathvar.split(':').filter(|d| !d.is_empty()) {
            candidates.push(cstring(
                "PATH entry",
                &format!("{}/{prog}", dir.trim_end_matches('/')),
            )?);
        }
        if candidates.len() > 64 {
            return Err(ConfigError::TooMany("PATH entries").into());
        }
    }
    let mut strings = Vec::new();
    strings.push(cstring("command", prog)?);
    for a in &c.command.args {
        strings.push(cstring("command argument", a)?);
    }
    let argc = strings.len();
    for (k, v) in &env {
        strings.push(cstring("environment", &format!("{k}={v}"))?);
    }
    let mut argv: Vec<*const c_char> = strings[..argc].iter().map(|s| s.as_ptr()).collect();
    argv.push(core::ptr::null());
    let mut envp: Vec<*const c_char> = strings[argc..].iter().map(|s| s.as_ptr()).collect();
    envp.push(core::ptr::null());
    Ok(Exec {
        program: prog.clone(),
        candidates,
        _strings: strings,
        argv,
        envp,
        init: o.init,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Container;

    fn plan_for(c: &Container) -> Plan {
        build(c, &[]).unwrap()
    }

    #[test]
    fn host_rootfs_plan_pivots_and_never_chroots() {
        let c = Container::builder()
            .host_rootfs()
            .command("sh", ["-c", "true"])
            .unwrap()
            .build()
            .unwrap();
        let p = plan_for(&c);
        let descr: Vec<String> = (0..p.ops.len() as u32)
            .map(|i| p.describe(i, 1).1)
            .collect();
        assert!(matches!(p.ops[0], Op::ParentDeathSignal));
        assert!(p.ops.iter().any(|o| matches!(o, Op::MakePrivate)));
        let pivot = p
            .ops
            .iter()
            .position(|o| matches!(o, Op::PivotRoot { .. }))
            .unwrap();
        let proc_mount = descr
            .iter()
            .position(|d| d.starts_with("mount proc on"))
            .unwrap();
        assert!(proc_mount < pivot);
        assert!(
            descr
                .iter()
                .any(|d| d.starts_with("remount") && d.ends_with("/usr read-only"))
        );
        assert!(descr.iter().any(|d| d.starts_with("mount sysfs on")));
        assert!(descr.iter().any(|d| d.starts_with("mount devpts on")));
        assert!(descr.iter().any(|d| d.contains("bind-mount /dev/null on")));
        // PATH lookup happens in the child over prepared candidates.
        assert!(
            p.exec
                .candidates
                .iter()
                .any(|c| c.to_bytes() == b"/usr/bin/sh")
        );
        assert_eq!(p.exec.argv.len(), 4);
        assert!(p.exec.argv.last().unwrap().is_null());
        assert!(p.exec.envp.last().unwrap().is_null());
        assert_eq!(p.describe(p.ops.len() as u32, 0).0, Stage::Exec);
    }

    #[test]
    fn missing_rootfs_and_mount_sources_are_config_errors() {
        let c = Container::builder()
            .rootfs("/nonexistent-lp-test-root")
            .unwrap()
            .command("/bin/true", [""; 0])
            .unwrap()
            .build()
            .unwrap();
        assert!(matches!(
            build(&c, &[]).unwrap_err(),
            Error::Config(ConfigError::BadRootfs {
                errno: rawsys::Errno::ENOENT,
                ..
            })
        ));
        let c = Container::builder()
            .host_rootfs()
            .command("/bin/true", [""; 0])
            .unwrap()
            .bind_mount("/nonexistent-lp-test-src", "/x", false)
            .unwrap()
            .build()
            .unwrap();
        assert!(matches!(
            build(&c, &[]).unwrap_err(),
            Error::Config(ConfigError::BadMountSource { .. })
        ));
    }

    #[test]
    fn staging_avoids_bind_sources() {
        let s = staging_dir(&["/tmp/x".into()]).unwrap();
        assert_ne!(s, "/tmp");
        assert_eq!(parent_of("/a/b"), "/a");
        assert_eq!(parent_of("/a"), "/");
    }
}
