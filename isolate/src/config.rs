//! The typed builder and the validated container configuration.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use rawsys::OwnedFd;

use crate::cgroup::{CgroupParent, CpuQuota, Limits};
use crate::error::ConfigError;

/// The default `PATH` inside the container when the environment sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The host directories the default root filesystem shows read-only (those that exist).
pub const HOST_SYSTEM_DIRS: &[&str] = &["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// `/etc/passwd` of [`Rootfs::HostSystem`].
pub const HOST_SYSTEM_PASSWD: &str =
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n";

/// `/etc/group` of [`Rootfs::HostSystem`].
pub const HOST_SYSTEM_GROUP: &str = "root:x:0:\nnogroup:x:65534:\n";

/// Builder state: no root filesystem chosen yet.
#[derive(Debug)]
pub struct NoRootfs;
/// Builder state: no command chosen yet.
#[derive(Debug)]
pub struct NoCommand;

/// The container's root filesystem.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rootfs {
    /// A fresh tmpfs with the host's `/usr`, `/bin`, `/sbin` and `/lib*` bind-mounted
    /// read-only, plus `/etc` (hostname, resolv.conf, passwd, group), `/tmp` and `/root`.
    HostSystem,
    /// An existing directory holding a root filesystem (bind-mounted onto itself; writable).
    Dir(String),
    /// An overlay filesystem of read-only `lower` directories (top first) with the writes
    /// landing in `upper` (`work` is overlayfs's scratch directory on the same filesystem);
    /// built with [`Builder::overlay_rootfs`]. The lower directories are never written.
    Overlay {
        /// The read-only layers, the topmost first.
        lower: Vec<String>,
        /// Where the container's writes (and whiteouts of deleted files) land.
        upper: String,
        /// overlayfs's work directory: empty, on the filesystem of `upper`.
        work: String,
    },
    /// An overlay of read-only `lower` directories (top first) whose writes land in a tmpfs of
    /// the container's own, freed with it; built with [`Builder::overlay_rootfs_tmpfs`].
    OverlayTmpfs {
        /// The read-only layers, the topmost first.
        lower: Vec<String>,
    },
}

/// The longest mount option string the kernel takes for a mount (one page, with its NUL).
pub(crate) const MOUNT_DATA_MAX: usize = 4095;

/// The overlay mount's option string for these layers (`lowerdir=A:B,upperdir=U,workdir=W`).
pub(crate) fn overlay_options(lower: &[String], upper: &str, work: &str) -> String {
    // Room for ",volatile" is kept in the length check (see `Builder::overlay_volatile`).
    alloc::format!(
        "lowerdir={},upperdir={upper},workdir={work}",
        lower.join(":")
    )
}

/// An overlay directory: absolute, not `/`, without the `,` `:` `\\` overlayfs splits its
/// options at (refused rather than mounting something else).
fn overlay_path(what: &'static str, p: &str) -> Result<String, ConfigError> {
    let p = check_abs(what, p)?;
    if p == "/" || p.contains([',', ':', '\\']) {
        return Err(ConfigError::BadPath { what, path: p });
    }
    Ok(p)
}

/// The lower layers of an overlay, checked: at least one, each an [`overlay_path`].
fn overlay_layers<S: AsRef<str>>(lower: &[S]) -> Result<Vec<String>, ConfigError> {
    if lower.is_empty() {
        return Err(ConfigError::Overlay("no lower layer given".into()));
    }
    lower
        .iter()
        .map(|l| overlay_path("overlay layer", l.as_ref()))
        .collect()
}

/// Refuses layers whose mount options (with room for ",volatile") exceed one page.
fn overlay_options_fit(lower: &[String], upper: &str, work: &str) -> Result<(), ConfigError> {
    let len = overlay_options(lower, upper, work).len() + ",volatile".len();
    if len > MOUNT_DATA_MAX {
        return Err(ConfigError::Overlay(alloc::format!(
            "{} layers need {len} bytes of mount options, more than one page \
             ({MOUNT_DATA_MAX} bytes): use fewer layers or shorter paths",
            lower.len()
        )));
    }
    Ok(())
}

/// The program to run and its arguments (`argv[0]` is the program as given).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub(crate) program: String,
    pub(crate) args: Vec<String>,
}

pub use crate::net::Network;

/// A mount added inside the container.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MountSpec {
    /// A host file or directory bind-mounted at `target`.
    Bind {
        /// Host path.
        source: String,
        /// Absolute path inside the container.
        target: String,
        /// Mounted read-only.
        readonly: bool,
    },
    /// A fresh tmpfs at `target`.
    Tmpfs {
        /// Absolute path inside the container.
        target: String,
        /// Size limit in bytes (`None`: the kernel default, half of RAM).
        size: Option<u64>,
    },
    /// A mount of any type with its options (see [`crate::spec::Mount`]).
    Mount(crate::spec::Mount),
}

impl MountSpec {
    /// The target path inside the container.
    pub fn target(&self) -> &str {
        match self {
            MountSpec::Bind { target, .. } | MountSpec::Tmpfs { target, .. } => target,
            MountSpec::Mount(m) => &m.destination,
        }
    }
}

/// Where a standard stream of the container goes.
#[derive(Debug, Default)]
#[non_exhaustive]
pub enum Stdio {
    /// The caller's own descriptor.
    #[default]
    Inherit,
    /// This descriptor (for example a pipe's write end).
    Fd(OwnedFd),
}

/// Everything optional about a container, with defaults.
#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) name: Option<String>,
    pub(crate) hostname: String,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) workdir: String,
    /// Create the working directory when the rootfs lacks it.
    pub(crate) create_workdir: bool,
    pub(crate) user: Option<(u32, u32)>,
    pub(crate) mounts: Vec<MountSpec>,
    pub(crate) limits: Limits,
    pub(crate) cgroup_parent: CgroupParent,
    pub(crate) network: Network,
    pub(crate) ports: Vec<crate::net::PortMapping>,
    pub(crate) init: bool,
    pub(crate) privileged: bool,
    pub(crate) stdio: [Stdio; 3],
    pub(crate) security: crate::security::Security,
    pub(crate) spec: crate::spec::SpecOptions,
    pub(crate) hooks: crate::hooks::Hooks,
    pub(crate) read_only_root: bool,
    pub(crate) overlay_volatile: bool,
    /// A new pseudo-terminal as the command's stdio and controlling terminal.
    pub(crate) terminal: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            name: None,
            hostname: "isolate".into(),
            env: Vec::new(),
            workdir: "/".into(),
            create_workdir: false,
            user: None,
            mounts: Vec::new(),
            limits: Limits::default(),
            cgroup_parent: CgroupParent::Own,
            network: Network::None,
            ports: Vec::new(),
            init: false,
            privileged: false,
            stdio: [Stdio::Inherit, Stdio::Inherit, Stdio::Inherit],
            security: crate::security::Security::default(),
            spec: crate::spec::SpecOptions::default(),
            hooks: crate::hooks::Hooks::default(),
            read_only_root: false,
            overlay_volatile: false,
            terminal: false,
        }
    }
}

/// A typed builder: [`Builder::build`] exists only once a root filesystem and a command are set.
///
/// ```
/// use isolate::Container;
///
/// let c = Container::builder()
///     .host_rootfs()
///     .command("/bin/echo", ["hello"])?
///     .hostname("box")?
///     .env("GREETING", "hi")?
///     .memory_limit(100 << 20)?
///     .build()?;
/// assert_eq!(c.hostname(), "box");
/// # Ok::<(), isolate::ConfigError>(())
/// ```
///
/// Without a command it does not compile:
///
/// ```compile_fail
/// let c = isolate::Container::builder().host_rootfs().build();
/// ```
#[derive(Debug)]
pub struct Builder<R, C> {
    rootfs: R,
    command: C,
    pub(crate) opts: Options,
}

/// A validated container description; [`Container::spawn`] or [`Container::run`] start it, as
/// many times as wanted.
#[derive(Debug)]
pub struct Container {
    pub(crate) rootfs: Rootfs,
    pub(crate) command: Command,
    pub(crate) opts: Options,
}

impl Container {
    /// Starts describing a container.
    pub fn builder() -> Builder<NoRootfs, NoCommand> {
        Builder {
            rootfs: NoRootfs,
            command: NoCommand,
            opts: Options::default(),
        }
    }

    /// The hostname inside.
    pub fn hostname(&self) -> &str {
        &self.opts.hostname
    }

    /// The limits applied through the cgroup.
    pub fn limits(&self) -> &Limits {
        &self.opts.limits
    }

    /// The root filesystem.
    pub fn rootfs(&self) -> &Rootfs {
        &self.rootfs
    }
}

fn no_nul(what: &'static str, s: &str) -> Result<(), ConfigError> {
    if s.contains('\0') {
        Err(ConfigError::InteriorNul { what })
    } else {
        Ok(())
    }
}

/// Checks an absolute path without `..` components and returns it without trailing slashes.
pub(crate) fn check_abs(what: &'static str, p: &str) -> Result<String, ConfigError> {
    no_nul(what, p)?;
    if !p.starts_with('/') {
        return Err(ConfigError::NotAbsolute {
            what,
            path: p.to_string(),
        });
    }
    if p.split('/').any(|c| c == "..") {
        return Err(ConfigError::BadPath {
            what,
            path: p.to_string(),
        });
    }
    let t = p.trim_end_matches('/');
    Ok(if t.is_empty() { "/".into() } else { t.into() })
}

impl<C> Builder<NoRootfs, C> {
    /// Uses the default root filesystem, [`Rootfs::HostSystem`].
    pub fn host_rootfs(self) -> Builder<Rootfs, C> {
        Builder {
            rootfs: Rootfs::HostSystem,
            command: self.command,
            opts: self.opts,
        }
    }

    /// Uses the root filesystem in directory `dir` (absolute; it must exist when spawning).
    pub fn rootfs(self, dir: &str) -> Result<Builder<Rootfs, C>, ConfigError> {
        let dir = check_abs("rootfs", dir)?;
        if dir == "/" {
            return Err(ConfigError::BadPath {
                what: "rootfs",
                path: dir,
            });
        }
        Ok(Builder {
            rootfs: Rootfs::Dir(dir),
            command: self.command,
            opts: self.opts,
        })
    }

    /// Uses an overlay filesystem as the root: the read-only directories `lower` (the topmost
    /// first, as `lowerdir=` takes them) under the writable `upper`, with overlayfs's `work`
    /// directory (empty, on the same filesystem as `upper`). All absolute; they must exist
    /// when spawning. The mount lives in the container's mount namespace only and goes away
    /// with it; `upper` and `work` stay for the caller to remove (or to keep: the container's
    /// changes). Whiteouts in the layers are overlayfs's own (character devices 0/0 and the
    /// `trusted.overlay.opaque` attribute).
    ///
    /// ```
    /// let b = isolate::Container::builder()
    ///     .overlay_rootfs(&["/images/app", "/images/base"], "/run/c1/upper", "/run/c1/work")?;
    /// assert!(isolate::Container::builder().overlay_rootfs(&[] as &[&str], "/u", "/w").is_err());
    /// # Ok::<(), isolate::ConfigError>(())
    /// ```
    pub fn overlay_rootfs<S: AsRef<str>>(
        self,
        lower: &[S],
        upper: &str,
        work: &str,
    ) -> Result<Builder<Rootfs, C>, ConfigError> {
        let lower = overlay_layers(lower)?;
        let upper = overlay_path("overlay upper directory", upper)?;
        let work = overlay_path("overlay work directory", work)?;
        overlay_options_fit(&lower, &upper, &work)?;
        Ok(Builder {
            rootfs: Rootfs::Overlay { lower, upper, work },
            command: self.command,
            opts: self.opts,
        })
    }

    /// As [`overlay_rootfs`](Self::overlay_rootfs), but the writable layer is a fresh tmpfs in
    /// the container's mount namespace ([`Rootfs::OverlayTmpfs`]): the changes live in memory
    /// (charged to the container's memory cgroup; at most half the RAM, tmpfs's default) and
    /// the kernel frees them with the namespace: nothing to create or remove on the host.
    ///
    /// ```
    /// let b = isolate::Container::builder().overlay_rootfs_tmpfs(&["/images/app"])?;
    /// assert!(isolate::Container::builder().overlay_rootfs_tmpfs(&["a,b"]).is_err());
    /// # Ok::<(), isolate::ConfigError>(())
    /// ```
    pub fn overlay_rootfs_tmpfs<S: AsRef<str>>(
        self,
        lower: &[S],
    ) -> Result<Builder<Rootfs, C>, ConfigError> {
        let lower = overlay_layers(lower)?;
        // upper and work are made in the tmpfs on the staging directory (at most `/var/tmp`).
        overlay_options_fit(&lower, "/var/tmp/upper", "/var/tmp/work")?;
        Ok(Builder {
            rootfs: Rootfs::OverlayTmpfs { lower },
            command: self.command,
            opts: self.opts,
        })
    }
}

impl Command {
    /// A program (not empty) and its arguments, none with a NUL byte.
    pub(crate) fn parse<I, S>(program: &str, args: I) -> Result<Command, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        if program.is_empty() {
            return Err(ConfigError::EmptyCommand);
        }
        no_nul("command", program)?;
        let mut a = Vec::new();
        for s in args {
            no_nul("command argument", s.as_ref())?;
            a.push(s.as_ref().to_string());
        }
        Ok(Command {
            program: program.into(),
            args: a,
        })
    }
}

impl<R> Builder<R, NoCommand> {
    /// The program (an absolute path, or a name looked up in the container's `PATH`) and its
    /// arguments.
    pub fn command<I, S>(self, program: &str, args: I) -> Result<Builder<R, Command>, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Ok(Builder {
            rootfs: self.rootfs,
            command: Command::parse(program, args)?,
            opts: self.opts,
        })
    }
}

impl<R, C> Builder<R, C> {
    /// Names the container (and its cgroup); default `isolate-<pid>-<n>`.
    pub fn name(mut self, name: &str) -> Result<Self, ConfigError> {
        crate::cgroup::check_name(name)?;
        self.opts.name = Some(name.into());
        Ok(self)
    }

    /// The hostname inside (UTS namespace and `/etc/hostname`); default `isolate`.
    pub fn hostname(mut self, name: &str) -> Result<Self, ConfigError> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && !name.starts_with('-')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if !ok {
            return Err(ConfigError::BadHostname(name.into()));
        }
        self.opts.hostname = name.into();
        Ok(self)
    }

    /// Sets one environment variable (replacing an earlier value of the same key).
    pub fn env(mut self, key: &str, value: &str) -> Result<Self, ConfigError> {
        if key.is_empty() || key.contains('=') || key.contains('\0') || value.contains('\0') {
            return Err(ConfigError::BadEnv(alloc::format!("{key}={value}")));
        }
        self.opts.env.retain(|(k, _)| k != key);
        self.opts.env.push((key.into(), value.into()));
        Ok(self)
    }

    /// Sets an environment variable from a `KEY=VALUE` string.
    pub fn env_pair(self, kv: &str) -> Result<Self, ConfigError> {
        match kv.split_once('=') {
            Some((k, v)) => self.env(k, v),
            None => Err(ConfigError::BadEnv(kv.into())),
        }
    }

    /// The working directory inside (absolute); default `/`.
    pub fn working_dir(mut self, dir: &str) -> Result<Self, ConfigError> {
        self.opts.workdir = check_abs("working directory", dir)?;
        Ok(self)
    }

    /// With `true`, the directories of the working directory that the rootfs lacks are
    /// created (mode 0755, owned by root, before the command's user is taken), as docker does
    /// for `-w` and runc for `process.cwd`. Each one is resolved inside the container's root
    /// and made relative to its opened parent, so a symlink in the rootfs cannot place it
    /// outside. Default `false`: a missing working directory fails the start.
    ///
    /// ```
    /// use isolate::Container;
    /// let c = Container::builder()
    ///     .host_rootfs()
    ///     .command("/bin/pwd", [""; 0])?
    ///     .working_dir("/srv/app")?
    ///     .create_working_dir(true)
    ///     .build()?;
    /// # Ok::<(), isolate::ConfigError>(())
    /// ```
    pub fn create_working_dir(mut self, yes: bool) -> Self {
        self.opts.create_workdir = yes;
        self
    }

    /// Runs the command as `uid`/`gid` (no supplementary groups) instead of root.
    pub fn user(mut self, uid: u32, gid: u32) -> Self {
        self.opts.user = Some((uid, gid));
        self
    }

    /// Bind-mounts host path `source` at `target` inside, read-only when `readonly`.
    pub fn bind_mount(
        mut self,
        source: &str,
        target: &str,
        readonly: bool,
    ) -> Result<Self, ConfigError> {
        let source = check_abs("mount source", source)?;
        let target = check_abs("mount target", target)?;
        if target == "/" {
            return Err(ConfigError::BadPath {
                what: "mount target",
                path: target,
            });
        }
        self.opts.mounts.push(MountSpec::Bind {
            source,
            target,
            readonly,
        });
        Ok(self)
    }

    /// Mounts a fresh tmpfs at `target` inside, limited to `size` bytes if given.
    pub fn tmpfs(mut self, target: &str, size: Option<u64>) -> Result<Self, ConfigError> {
        let target = check_abs("tmpfs target", target)?;
        if target == "/" || size == Some(0) {
            return Err(ConfigError::BadPath {
                what: "tmpfs target",
                path: target,
            });
        }
        self.opts.mounts.push(MountSpec::Tmpfs { target, size });
        Ok(self)
    }

    /// Limits memory (and memory plus swap) to `bytes`; at least 1 MiB.
    pub fn memory_limit(mut self, bytes: u64) -> Result<Self, ConfigError> {
        if bytes < (1 << 20) {
            return Err(ConfigError::BadLimit("memory (at least 1M)"));
        }
        self.opts.limits.memory_bytes = Some(bytes);
        Ok(self)
    }

    /// Limits the number of processes and threads; at least 1.
    pub fn pids_limit(mut self, n: u64) -> Result<Self, ConfigError> {
        if n == 0 {
            return Err(ConfigError::BadLimit("pids (at least 1)"));
        }
        self.opts.limits.pids = Some(n);
        Ok(self)
    }

    /// Limits CPU to `millicpus` thousandths of a core (500 = half a core).
    pub fn cpu_limit(mut self, millicpus: u64) -> Result<Self, ConfigError> {
        self.opts.limits.cpu = Some(CpuQuota::from_millicpus(millicpus)?);
        Ok(self)
    }

    /// Where the container's cgroup is created; default [`CgroupParent::Own`].
    pub fn cgroup_parent(mut self, parent: CgroupParent) -> Self {
        self.opts.cgroup_parent = parent;
        self
    }

    /// The network; default [`Network::None`] (a namespace with only `lo`).
    pub fn network(mut self, mode: Network) -> Self {
        self.opts.network = mode;
        self
    }

    /// Publishes a port (needs [`Network::Bridge`]); a host port may be published once.
    pub fn publish(mut self, port: crate::net::PortMapping) -> Result<Self, ConfigError> {
        if self
            .opts
            .ports
            .iter()
            .any(|p| p.host_port == port.host_port && p.proto == port.proto)
        {
            return Err(ConfigError::Network(alloc::format!(
                "host port {}/{} published twice",
                port.host_port,
                port.proto.name()
            )));
        }
        self.opts.ports.push(port);
        Ok(self)
    }

    /// Runs a minimal init as PID 1 that starts the command, reaps zombies and forwards
    /// signals to it.
    pub fn init(mut self, yes: bool) -> Self {
        self.opts.init = yes;
        self
    }

    /// Keeps every capability of the caller and turns the seccomp filter and the masked and
    /// read-only kernel paths off, as `docker run --privileged` (the default keeps
    /// [`DEFAULT_CAPABILITIES`](crate::security::DEFAULT_CAPABILITIES), see
    /// [`security`](crate::security)). `no_new_privs` is set either way.
    pub fn privileged(mut self, yes: bool) -> Self {
        self.opts.privileged = yes;
        self
    }

    /// The exact capability set kept (bounding, effective, permitted) by a root command.
    pub fn capabilities(mut self, set: rawsys::process::CapSet) -> Self {
        self.opts.security.caps = set;
        self
    }

    /// Adds a capability (`NET_ADMIN`, `CAP_NET_ADMIN` or `ALL`) to the kept set.
    ///
    /// ```
    /// let b = isolate::Container::builder().host_rootfs().command("true", [""; 0])?;
    /// let b = b.cap_drop("ALL")?.cap_add("CAP_NET_BIND_SERVICE")?;
    /// assert!(b.cap_add("CAP_FLY").is_err());
    /// # Ok::<(), isolate::ConfigError>(())
    /// ```
    pub fn cap_add(mut self, name: &str) -> Result<Self, ConfigError> {
        use crate::security::{ALL_CAPABILITIES, CapabilityArg, parse_capability};
        let s = &mut self.opts.security.caps;
        *s = match parse_capability(name)? {
            CapabilityArg::All => ALL_CAPABILITIES,
            CapabilityArg::One(c) => s.with(c),
        };
        Ok(self)
    }

    /// Removes a capability (or `ALL`) from the kept set.
    pub fn cap_drop(mut self, name: &str) -> Result<Self, ConfigError> {
        use crate::security::{CapabilityArg, parse_capability};
        let s = &mut self.opts.security.caps;
        *s = match parse_capability(name)? {
            CapabilityArg::All => rawsys::process::CapSet::empty(),
            CapabilityArg::One(c) => s.without(c),
        };
        Ok(self)
    }

    /// The seccomp filter; default [`Seccomp::Default`](crate::security::Seccomp::Default).
    pub fn seccomp(mut self, s: crate::security::Seccomp) -> Self {
        self.opts.security.seccomp = s;
        self
    }

    /// Masked and read-only `/proc` and `/sys` paths; default
    /// [`SystemPaths::Masked`](crate::security::SystemPaths::Masked).
    pub fn system_paths(mut self, p: crate::security::SystemPaths) -> Self {
        self.opts.security.system_paths = p;
        self
    }

    /// Passes `fd` to the command, as descriptor 3 for the first call, 4 for the second, ...
    /// Every other descriptor above 2 is closed at `execve`.
    pub fn pass_fd(mut self, fd: OwnedFd) -> Result<Self, ConfigError> {
        if self.opts.security.pass_fds.len() >= crate::child::MAX_PASSED_FDS {
            return Err(ConfigError::TooMany("passed descriptors"));
        }
        self.opts.security.pass_fds.push(fd);
        Ok(self)
    }

    /// Runs the container in a new user namespace with these id maps (see
    /// [`UserNamespace`](crate::security::UserNamespace)); this is what lets a non-root
    /// caller start a container.
    pub fn user_namespace(mut self, ns: crate::security::UserNamespace) -> Self {
        self.opts.security.userns = Some(ns);
        self
    }

    /// Makes the root filesystem read-only once it is set up (as `docker run --read-only`):
    /// writes to it fail with `EROFS`; `/dev`, `/proc`, `/sys` and the caller's mounts
    /// (tmpfs, writable binds) keep their own flags.
    pub fn read_only_root(mut self, yes: bool) -> Self {
        self.opts.read_only_root = yes;
        self
    }

    /// Mounts an overlay root ([`Rootfs::Overlay`]) with overlayfs's `volatile` option
    /// (Linux 5.10+): nothing syncs the upper directory's filesystem, neither `fsync` inside
    /// nor the unmount when the container ends (on a disk filesystem that sync is a journal
    /// commit, milliseconds). After a host crash the upper directory's contents are undefined
    /// and the work directory refuses a new mount: for throwaway upper directories only.
    pub fn overlay_volatile(mut self, yes: bool) -> Self {
        self.opts.overlay_volatile = yes;
        self
    }

    /// Gives the command a new pseudo-terminal from the container's own `/dev/pts` as its
    /// stdin, stdout, stderr and controlling terminal, in a session of its own (it replaces
    /// the [`Stdio`] settings). The caller gets the pty's master from
    /// [`Running::take_terminal`](crate::Running::take_terminal) or
    /// [`StateRoot::create_with_terminal`](crate::StateRoot::create_with_terminal).
    ///
    /// ```no_run
    /// use std::io::Read;
    /// let c = isolate::Container::builder().host_rootfs().command("tty", [""; 0])?
    ///     .terminal(true).build()?;
    /// let mut running = c.spawn()?;
    /// let master = std::os::fd::OwnedFd::from(running.take_terminal().unwrap());
    /// let mut master = std::fs::File::from(master);
    /// let mut out = String::new();
    /// let _ = master.read_to_string(&mut out); // EIO once the command has exited
    /// assert!(out.starts_with("/dev/pts/0"));
    /// running.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn terminal(mut self, yes: bool) -> Self {
        self.opts.terminal = yes;
        self
    }

    /// Where standard input goes.
    pub fn stdin(mut self, s: Stdio) -> Self {
        self.opts.stdio[0] = s;
        self
    }

    /// Where standard output goes.
    pub fn stdout(mut self, s: Stdio) -> Self {
        self.opts.stdio[1] = s;
        self
    }

    /// Where standard error goes.
    pub fn stderr(mut self, s: Stdio) -> Self {
        self.opts.stdio[2] = s;
        self
    }
}

impl Builder<Rootfs, Command> {
    /// The finished description.
    pub fn build(self) -> Result<Container, ConfigError> {
        if self.opts.mounts.len() > 64 {
            return Err(ConfigError::TooMany("mounts"));
        }
        if let (Some(ns), Some((uid, gid))) = (&self.opts.security.userns, self.opts.user) {
            if !ns.maps_uid(uid) || !ns.maps_gid(gid) {
                return Err(ConfigError::BadIdMap(alloc::format!(
                    "user {uid}:{gid} is not mapped in the user namespace"
                )));
            }
        }
        crate::spec::check(&self.opts)?;
        if !self.opts.ports.is_empty() && !matches!(self.opts.network, Network::Bridge(_)) {
            return Err(ConfigError::Network(
                "publishing ports needs the bridge network".into(),
            ));
        }
        Ok(Container {
            rootfs: self.rootfs,
            command: self.command,
            opts: self.opts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_validates_each_setting() {
        let b = || Container::builder().host_rootfs();
        assert_eq!(
            b().command("", [""; 0]).unwrap_err(),
            ConfigError::EmptyCommand
        );
        assert!(matches!(
            b().command("a\0b", [""; 0]).unwrap_err(),
            ConfigError::InteriorNul { .. }
        ));
        let c = || b().command("/bin/true", [""; 0]).unwrap();
        assert!(c().hostname("").is_err());
        assert!(c().hostname(&"x".repeat(65)).is_err());
        assert!(c().hostname("a b").is_err());
        assert!(c().hostname("ok-name.1").is_ok());
        assert!(c().env("", "v").is_err());
        assert!(c().env("A=B", "v").is_err());
        assert!(c().env_pair("NOEQUALS").is_err());
        assert!(c().working_dir("relative").is_err());
        assert!(c().working_dir("/a/../b").is_err());
        assert!(c().bind_mount("/tmp", "/", false).is_err());
        assert!(c().bind_mount("tmp", "/x", false).is_err());
        assert!(c().memory_limit(10).is_err());
        assert!(c().pids_limit(0).is_err());
        assert!(c().cpu_limit(0).is_err());
        assert!(c().name("a/b").is_err());
        assert!(Container::builder().rootfs("/").is_err());
        assert!(Container::builder().rootfs("rel").is_err());
        let built = c()
            .env("A", "1")
            .unwrap()
            .env("A", "2")
            .unwrap()
            .working_dir("/tmp/")
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(built.opts.env, alloc::vec![("A".into(), "2".into())]);
        assert_eq!(built.opts.workdir, "/tmp");
    }
}
