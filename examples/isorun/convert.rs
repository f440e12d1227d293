//! config.json -> an isolate builder. Every field spec.rs reads is either converted here or
//! refused with a message naming it; nothing is dropped on the floor.

use std::path::{Path, PathBuf};

use isolate::security::{
    ArgCondition, ArgOp, IdMap, Seccomp, SeccompAction, SeccompProfile, SyscallRule, UserNamespace,
};
use isolate::spec::{
    CapabilitySets, Device, DeviceKind, Mount, NamespaceKind, Propagation, Rlimit,
    parse_capability_set, parse_rlimit,
};
use isolate::{Builder, CgroupParent, Command, Container, Network, Rootfs};

use crate::spec::{self, Spec};

/// A refusal: one line for the user.
pub(crate) type Refusal = String;

fn refuse<T>(msg: impl Into<String>) -> Result<T, Refusal> {
    Err(msg.into())
}

fn cfg<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> Refusal + '_ {
    move |e| format!("{what}: {e}")
}

/// What `create` needs besides the container.
pub(crate) struct Converted {
    /// The container to create.
    pub(crate) container: Container,
    /// The hooks, checked.
    pub(crate) hooks: spec::Hooks,
    /// The umask to run the process with, if the config names one.
    pub(crate) umask: Option<u32>,
}

/// Reads `bundle/config.json`.
pub(crate) fn read_config(bundle: &Path) -> Result<Spec, Refusal> {
    let path = bundle.join("config.json");
    let text = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&text).map_err(|e| format!("{}: bad JSON: {e}", path.display()))
}

/// Converts `spec` (of the bundle at `bundle`, absolute) for container `id`.
pub(crate) fn convert(
    spec: &Spec,
    bundle: &Path,
    id: &str,
    systemd_cgroup: bool,
    preserve_fds: u32,
) -> Result<Converted, Refusal> {
    if !spec.oci_version.is_empty() && !spec.oci_version.starts_with("1.") {
        return refuse(format!(
            "ociVersion {:?}: only runtime-spec 1.x is supported",
            spec.oci_version
        ));
    }
    let Some(process) = &spec.process else {
        return refuse("config.json has no process");
    };
    let Some(root) = &spec.root else {
        return refuse("config.json has no root");
    };
    let linux = spec.linux.as_ref();
    let default_linux = spec::Linux::default();
    let linux = linux.unwrap_or(&default_linux);

    let rootfs: PathBuf = bundle.join(&root.path);
    let rootfs = rootfs
        .canonicalize()
        .map_err(|e| format!("root.path {}: {e}", rootfs.display()))?;
    let rootfs = rootfs
        .to_str()
        .ok_or_else(|| format!("root.path {} is not UTF-8", rootfs.display()))?;
    let Some((program, rest)) = process.args.split_first() else {
        return refuse("process.args is empty");
    };
    let b = Container::builder()
        .rootfs(rootfs)
        .map_err(cfg("root.path"))?
        .command(program, rest)
        .map_err(cfg("process.args"))?;
    let b = process_fields(b, process)?;
    let b = namespaces(b, linux)?;
    let b = mounts(b, spec, linux)?;
    let b = cgroup(b, linux, id, systemd_cgroup)?;
    let b = resources(b, linux.resources.as_ref())?;
    let b = security(b, linux)?;
    let mut b = b.readonly_rootfs(root.readonly);
    for fd in 3..3i32.saturating_add(preserve_fds.min(1024) as i32) {
        if std::fs::symlink_metadata(format!("/proc/self/fd/{fd}")).is_err() {
            return refuse(format!(
                "--preserve-fds {preserve_fds}: descriptor {fd} is not open"
            ));
        }
        // SAFETY: the descriptor is open (checked just above) and the caller handed it to the
        // container with --preserve-fds: nothing else in this program owns or closes it, and
        // convert runs once per process.
        let owned = unsafe { rawsys::OwnedFd::from_raw(fd) };
        b = b.pass_fd(owned).map_err(cfg("--preserve-fds"))?;
    }
    let own_uts = linux
        .namespaces
        .iter()
        .any(|n| NamespaceKind::parse(&n.kind) == Ok(NamespaceKind::Uts));
    let named = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    if !own_uts && (named(&spec.hostname) || named(&spec.domainname)) {
        return refuse("hostname and domainname need a uts namespace in linux.namespaces");
    }
    if let Some(h) = spec.hostname.as_deref().filter(|h| !h.is_empty()) {
        b = b.hostname(h).map_err(cfg("hostname"))?;
    }
    if let Some(d) = spec.domainname.as_deref().filter(|d| !d.is_empty()) {
        b = b.domainname(d).map_err(cfg("domainname"))?;
    }
    let hooks = spec.hooks.clone().unwrap_or_default();
    check_hooks(&hooks)?;
    let container = b.build().map_err(cfg("config.json"))?;
    Ok(Converted {
        container,
        hooks,
        umask: process.user.umask,
    })
}

type B = Builder<Rootfs, Command>;

fn process_fields(mut b: B, p: &spec::Process) -> Result<B, Refusal> {
    b = b.terminal(p.terminal);
    for (name, v) in [
        ("process.apparmorProfile", &p.apparmor_profile),
        ("process.selinuxLabel", &p.selinux_label),
    ] {
        if v.as_deref().is_some_and(|s| !s.is_empty()) {
            return refuse(format!("{name} is not supported"));
        }
    }
    if p.oom_score_adj.is_some() {
        return refuse("process.oomScoreAdj is not supported");
    }
    if p.io_priority.is_some() || p.scheduler.is_some() {
        return refuse("process.ioPriority and process.scheduler are not supported");
    }
    for e in &p.env {
        b = b.env_pair(e).map_err(cfg("process.env"))?;
    }
    if p.cwd.is_empty() {
        return refuse("process.cwd is empty (it must be absolute)");
    }
    b = b.working_dir(&p.cwd).map_err(cfg("process.cwd"))?;
    b = b.user(p.user.uid, p.user.gid);
    b = b
        .additional_gids(p.user.additional_gids.iter().copied())
        .map_err(cfg("process.user.additionalGids"))?;
    if let Some(m) = p.user.umask.filter(|m| *m > 0o777) {
        return refuse(format!("process.user.umask {m:o}"));
    }
    let c = p.capabilities.as_ref();
    let set = |what: &'static str, names: Option<&Vec<String>>| {
        parse_capability_set(names.map(Vec::as_slice).unwrap_or(&[]))
            .map_err(|e| format!("process.capabilities.{what}: {e}"))
    };
    let sets = CapabilitySets {
        bounding: set("bounding", c.map(|c| &c.bounding))?,
        effective: set("effective", c.map(|c| &c.effective))?,
        permitted: set("permitted", c.map(|c| &c.permitted))?,
        inheritable: set("inheritable", c.map(|c| &c.inheritable))?,
        ambient: set("ambient", c.map(|c| &c.ambient))?,
    };
    b = b
        .capability_sets(sets)
        .map_err(cfg("process.capabilities"))?;
    for (i, r) in p.rlimits.iter().enumerate() {
        if p.rlimits[..i].iter().any(|o| o.kind == r.kind) {
            return refuse(format!("process.rlimits: {} given twice", r.kind));
        }
        let resource = parse_rlimit(&r.kind).map_err(cfg("process.rlimits"))?;
        b = b
            .rlimit(Rlimit {
                resource,
                soft: r.soft,
                hard: r.hard,
            })
            .map_err(cfg("process.rlimits"))?;
    }
    Ok(b.no_new_privileges(p.no_new_privileges))
}

fn namespaces(mut b: B, linux: &spec::Linux) -> Result<B, Refusal> {
    let mut seen = Vec::new();
    let mut network = None;
    let mut user = None;
    for ns in &linux.namespaces {
        let kind = NamespaceKind::parse(&ns.kind).map_err(cfg("linux.namespaces"))?;
        if seen.contains(&kind) {
            return refuse(format!("linux.namespaces: {} given twice", ns.kind));
        }
        seen.push(kind);
        let path = ns.path.as_deref().filter(|p| !p.is_empty());
        match kind {
            NamespaceKind::Network => network = Some(path),
            NamespaceKind::User => user = Some(path),
            NamespaceKind::Time => return refuse("linux.namespaces: time is not supported"),
            _ => {}
        }
        if let Some(path) = path {
            if kind == NamespaceKind::User {
                return refuse(
                    "linux.namespaces: joining a user namespace by path is not supported",
                );
            }
            b = b
                .join_namespace(kind, path)
                .map_err(cfg("linux.namespaces"))?;
        }
    }
    // Not listed: the runtime's own, as the spec says; but a cgroup namespace is always
    // made (the /sys/fs/cgroup mount shows the container only its own cgroups through it,
    // and podman on cgroup v1 does not list one).
    for kind in [NamespaceKind::Uts, NamespaceKind::Ipc] {
        if !seen.contains(&kind) {
            b = b.share_namespace(kind).map_err(cfg("linux.namespaces"))?;
        }
    }
    // isolate always makes these: the host's cannot be shared.
    for (kind, name) in [(NamespaceKind::Mount, "mount"), (NamespaceKind::Pid, "pid")] {
        if !seen.contains(&kind) {
            return refuse(format!(
                "linux.namespaces: sharing the host's {name} namespace is not supported \
                 (add {{\"type\": \"{name}\"}})"
            ));
        }
    }
    // No network namespace listed: the host's network, as the spec says.
    b = b.network(match network {
        None => Network::Host,
        Some(_) => Network::None,
    });
    match user {
        Some(_) => {
            let map = |v: &[spec::IdMapping]| -> Vec<IdMap> {
                v.iter()
                    .map(|m| IdMap {
                        inside: m.container_id,
                        outside: m.host_id,
                        count: m.size,
                    })
                    .collect()
            };
            let ns = UserNamespace::new(map(&linux.uid_mappings), map(&linux.gid_mappings))
                .map_err(cfg("linux.uidMappings/gidMappings"))?;
            b = b.user_namespace(ns);
        }
        None if !linux.uid_mappings.is_empty() || !linux.gid_mappings.is_empty() => {
            return refuse(
                "linux.uidMappings/gidMappings need a user namespace in linux.namespaces",
            );
        }
        None => {}
    }
    Ok(b)
}

/// The mounts isolate always makes itself, with the options of the runtime-spec's defaults:
/// a config mount of the same type on the same path is the same mount.
fn provided_by_isolate(m: &spec::Mount) -> bool {
    let kind = m.kind.as_deref().unwrap_or("");
    let ro = m.options.iter().any(|o| o == "ro");
    matches!(
        (m.destination.trim_end_matches('/'), kind),
        ("/proc", "proc") | ("/dev", "tmpfs") | ("/dev/pts", "devpts")
    ) || (m.destination.trim_end_matches('/') == "/sys" && kind == "sysfs" && ro)
}

fn mounts(mut b: B, spec: &Spec, linux: &spec::Linux) -> Result<B, Refusal> {
    // runc's default is rslave: a bind of a shared host mount can then be its slave.
    let root = match linux.rootfs_propagation.as_deref() {
        None | Some("") | Some("slave") | Some("rslave") => Propagation::Slave,
        Some("private") | Some("rprivate") => Propagation::Private,
        Some(p) => {
            return refuse(format!(
                "linux.rootfsPropagation {p:?}: only private and slave are supported"
            ));
        }
    };
    b = b
        .root_propagation(root)
        .map_err(cfg("linux.rootfsPropagation"))?;
    for m in &spec.mounts {
        if m.uid_mappings.is_some() || m.gid_mappings.is_some() {
            return refuse(format!(
                "mount {}: id-mapped mounts are not supported",
                m.destination
            ));
        }
        if provided_by_isolate(m) {
            continue;
        }
        let kind = m.kind.as_deref().unwrap_or("");
        let what = format!("mount {}", m.destination);
        if kind == "cgroup" || kind == "cgroup2" {
            for cm in cgroup_mounts(m).map_err(cfg(&what))? {
                b = b.mount(cm).map_err(cfg(&what))?;
            }
            continue;
        }
        let bind = m.options.iter().any(|o| o == "bind" || o == "rbind");
        let fstype = if kind.is_empty() && bind {
            "bind"
        } else {
            kind
        };
        let mount = Mount::new(
            fstype,
            m.source.as_deref().unwrap_or(""),
            &m.destination,
            &m.options,
        )
        .map_err(cfg(&what))?;
        b = b.mount(mount).map_err(cfg(&what))?;
    }
    Ok(b)
}

/// Reads a `/proc` file (which says size 0) with a buffer that fits it at once: 2 `read`s
/// instead of `fs::read_to_string`'s 8 growing from 32 bytes.
fn read_proc(path: &str) -> Result<String, String> {
    use std::io::Read;
    let mut s = String::with_capacity(16 << 10);
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_string(&mut s))
        .map_err(|e| format!("{path}: {e}"))?;
    Ok(s)
}

/// `/sys/fs/cgroup` as runc makes it with a cgroup namespace: a tmpfs with each of the
/// host's hierarchies mounted fresh (the container's own cgroup is their root), read-only
/// when the config says so; or the unified hierarchy alone on a pure cgroup v2 host.
fn cgroup_mounts(m: &spec::Mount) -> Result<Vec<Mount>, String> {
    let ro = m.options.iter().any(|o| o == "ro");
    let mut base = vec!["nosuid", "nodev", "noexec"];
    if ro {
        base.push("ro");
    }
    let dest = m.destination.trim_end_matches('/');
    let info = read_proc("/proc/self/mountinfo")?;
    let mut out = Vec::new();
    let mut subs = Vec::new();
    for line in info.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let mp = pre.split(' ').nth(4).unwrap_or("");
        let mut post = post.split(' ');
        let (Some(fstype), Some(_), Some(opts)) = (post.next(), post.next(), post.next()) else {
            continue;
        };
        if fstype != "cgroup" && fstype != "cgroup2" {
            continue;
        }
        if mp == "/sys/fs/cgroup" && fstype == "cgroup2" {
            let o: Vec<&str> = base.clone();
            return Ok(vec![
                Mount::new("cgroup2", "cgroup2", dest, o).map_err(|e| e.to_string())?,
            ]);
        }
        let Some(name) = mp.strip_prefix("/sys/fs/cgroup/") else {
            continue;
        };
        if name.contains('/') || subs.iter().any(|(n, _, _)| n == name) {
            continue;
        }
        let data: Vec<String> = opts
            .split(',')
            .filter(|o| *o != "rw" && *o != "ro")
            .map(String::from)
            .collect();
        subs.push((name.to_string(), fstype.to_string(), data));
    }
    out.push(
        Mount::new(
            "tmpfs",
            "cgroup",
            dest,
            ["nosuid", "nodev", "noexec", "mode=755"],
        )
        .map_err(|e| e.to_string())?,
    );
    for (name, fstype, data) in &subs {
        let mut o: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        if fstype == "cgroup" {
            o.extend(data.iter().cloned());
        }
        out.push(
            Mount::new(fstype, fstype, &format!("{dest}/{name}"), &o).map_err(|e| e.to_string())?,
        );
    }
    if ro {
        out.push(
            Mount::new(
                "tmpfs",
                "cgroup",
                dest,
                ["remount", "ro", "nosuid", "nodev", "noexec", "mode=755"],
            )
            .map_err(|e| e.to_string())?,
        );
    }
    Ok(out)
}

/// `linux.cgroupsPath` as runc places it: absolute from each hierarchy's root, relative below
/// the caller's own cgroup; the last component is the container's cgroup (which must be new).
/// No path: a cgroup named after the id below the caller's own.
fn cgroup(b: B, linux: &spec::Linux, id: &str, systemd: bool) -> Result<B, Refusal> {
    let path = linux.cgroups_path.as_deref().unwrap_or("");
    if path.is_empty() {
        return Ok(b);
    }
    if systemd || path.contains(':') {
        return refuse(format!(
            "linux.cgroupsPath {path:?}: systemd cgroups (slice:prefix:name) are not supported; \
             use the cgroupfs manager"
        ));
    }
    let abs = path.starts_with('/');
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        return refuse(format!("linux.cgroupsPath {path:?} names no cgroup"));
    }
    let (parent, name) = match trimmed.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, trimmed),
    };
    let _ = id;
    let parent = match (abs, parent) {
        (true, Some(p)) => CgroupParent::Path(format!("/{p}")),
        (true, None) => CgroupParent::Path("/".into()),
        (false, Some(p)) => CgroupParent::OwnBelow(p.into()),
        (false, None) => CgroupParent::Own,
    };
    b.cgroup_parent(parent)
        .name(name)
        .map_err(cfg("linux.cgroupsPath"))
}

fn resources(mut b: B, r: Option<&spec::Resources>) -> Result<B, Refusal> {
    let Some(r) = r else { return Ok(b) };
    let set = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .is_some_and(|v| !v.is_null() && v.as_object().is_none_or(|o| !o.is_empty()))
    };
    if set(&r.block_io)
        || !r.hugepage_limits.is_empty()
        || set(&r.network)
        || !r.rdma.is_empty()
        || !r.unified.is_empty()
    {
        return refuse(
            "linux.resources: blockIO, hugepageLimits, network, rdma and unified are not supported",
        );
    }
    // Device rules: isolate has no device cgroup. Access to device nodes is governed by the
    // mounts instead: every mount isolate makes is nodev except the default device nodes and
    // linux.devices, so "deny all, allow some" holds for every node the container can reach.
    // A rule allowing more than those (an allow-all) cannot be honoured.
    for d in &r.devices {
        let all =
            d.kind.as_deref().is_none_or(|k| k == "a") && d.major.is_none() && d.minor.is_none();
        if d.allow
            && all
            && d.access
                .as_deref()
                .is_none_or(|a| a.contains('r') || a.contains('w'))
        {
            return refuse(
                "linux.resources.devices: allowing every device is not supported (no device cgroup)",
            );
        }
    }
    if let Some(m) = &r.memory {
        if m.kernel.is_some() || m.kernel_tcp.is_some() {
            return refuse("linux.resources.memory: kernel and kernelTCP are not supported");
        }
        if let Some(v) = m.swappiness {
            b = b
                .memory_swappiness(v)
                .map_err(cfg("linux.resources.memory.swappiness"))?;
        }
        if m.disable_oom_killer == Some(true) {
            return refuse("linux.resources.memory.disableOOMKiller is not supported");
        }
        if let Some(l) = m.limit.filter(|l| *l > 0) {
            b = b
                .memory_limit(l as u64)
                .map_err(cfg("linux.resources.memory.limit"))?;
        }
        if let Some(s) = m.swap.filter(|s| *s > 0) {
            b = b
                .memory_swap(s as u64)
                .map_err(cfg("linux.resources.memory.swap"))?;
        }
        if let Some(s) = m.reservation.filter(|s| *s > 0) {
            b = b
                .memory_reservation(s as u64)
                .map_err(cfg("linux.resources.memory.reservation"))?;
        }
    }
    if let Some(c) = &r.cpu {
        fn list(v: &Option<String>) -> Option<&str> {
            v.as_deref().filter(|s| !s.is_empty())
        }
        if list(&c.cpus).is_some() || list(&c.mems).is_some() {
            b = b
                .cpuset(list(&c.cpus), list(&c.mems))
                .map_err(cfg("linux.resources.cpu (cpus, mems)"))?;
        }
        if c.realtime_runtime.is_some_and(|v| v != 0)
            || c.realtime_period.is_some_and(|v| v != 0)
            || c.idle.is_some_and(|v| v != 0)
        {
            return refuse("linux.resources.cpu: realtime and idle are not supported");
        }
        if let Some(s) = c.shares.filter(|s| *s > 0) {
            b = b.cpu_shares(s).map_err(cfg("linux.resources.cpu.shares"))?;
        }
        if let Some(q) = c.quota.filter(|q| *q > 0) {
            let period = c.period.filter(|p| *p > 0).unwrap_or(100_000);
            b = b
                .cpu_quota(q as u64, period)
                .map_err(cfg("linux.resources.cpu.quota"))?;
        }
    }
    if let Some(p) = r.pids.as_ref().filter(|p| p.limit > 0) {
        b = b
            .pids_limit(p.limit as u64)
            .map_err(cfg("linux.resources.pids"))?;
    }
    Ok(b)
}

fn security(mut b: B, linux: &spec::Linux) -> Result<B, Refusal> {
    if linux.mount_label.as_deref().is_some_and(|s| !s.is_empty()) {
        return refuse("linux.mountLabel (SELinux) is not supported");
    }
    if linux.intel_rdt.is_some() || linux.personality.is_some() || linux.time_offsets.is_some() {
        return refuse("linux.intelRdt, personality and timeOffsets are not supported");
    }
    for (k, v) in &linux.sysctl {
        b = b.sysctl(k, v).map_err(cfg("linux.sysctl"))?;
    }
    for d in &linux.devices {
        let dev = Device {
            path: d.path.clone(),
            kind: DeviceKind::parse(&d.kind).map_err(cfg("linux.devices"))?,
            major: d.major,
            minor: d.minor,
            file_mode: d.file_mode.unwrap_or(0o666),
            uid: d.uid.unwrap_or(0),
            gid: d.gid.unwrap_or(0),
        };
        b = b.device(dev).map_err(cfg("linux.devices"))?;
    }
    // Absent lists mean none (the spec's defaults), not isolate's docker-like defaults.
    let none: Vec<String> = Vec::new();
    b = b
        .masked_paths(linux.masked_paths.as_ref().unwrap_or(&none))
        .map_err(cfg("linux.maskedPaths"))?;
    b = b
        .readonly_paths(linux.readonly_paths.as_ref().unwrap_or(&none))
        .map_err(cfg("linux.readonlyPaths"))?;
    match &linux.seccomp {
        None => b = b.seccomp(Seccomp::Unconfined),
        Some(s) => {
            b = b
                .seccomp_profile(seccomp(s)?)
                .map_err(cfg("linux.seccomp"))?
        }
    }
    Ok(b)
}

fn seccomp(s: &spec::Seccomp) -> Result<SeccompProfile, Refusal> {
    if !s.flags.is_empty() {
        return refuse(format!(
            "linux.seccomp.flags {:?} are not supported",
            s.flags
        ));
    }
    if s.listener_path.as_deref().is_some_and(|p| !p.is_empty()) {
        return refuse("linux.seccomp.listenerPath (SCMP_ACT_NOTIFY) is not supported");
    }
    // errnoRet belongs to the actions that return an errno (config-linux.md: with any other
    // action the runtime MUST fail).
    let with_errno = |action: &str, ret: Option<u32>, what: &str| -> Result<(), Refusal> {
        match ret {
            Some(_) if !matches!(action, "SCMP_ACT_ERRNO" | "SCMP_ACT_TRACE") => refuse(format!(
                "{what}: errnoRet is only for SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not {action}"
            )),
            _ => Ok(()),
        }
    };
    with_errno(
        &s.default_action,
        s.default_errno_ret,
        "linux.seccomp.defaultErrnoRet",
    )?;
    let default_action = SeccompAction::parse(&s.default_action, s.default_errno_ret)
        .map_err(cfg("linux.seccomp.defaultAction"))?;
    let mut rules = Vec::new();
    for r in &s.syscalls {
        with_errno(&r.action, r.errno_ret, "linux.seccomp.syscalls")?;
        let action =
            SeccompAction::parse(&r.action, r.errno_ret).map_err(cfg("linux.seccomp.syscalls"))?;
        let mut args = Vec::new();
        for a in &r.args {
            let index = u8::try_from(a.index)
                .ok()
                .filter(|i| *i < 6)
                .ok_or_else(|| format!("linux.seccomp.syscalls: argument index {}", a.index))?;
            args.push(ArgCondition {
                index,
                value: a.value,
                value_two: a.value_two,
                op: ArgOp::parse(&a.op).map_err(cfg("linux.seccomp.syscalls"))?,
            });
        }
        rules.push(SyscallRule {
            names: r.names.clone(),
            action,
            args,
        });
    }
    Ok(SeccompProfile {
        default_action,
        architectures: s.architectures.clone(),
        rules,
    })
}

fn check_hooks(h: &spec::Hooks) -> Result<(), Refusal> {
    for hook in h
        .prestart
        .iter()
        .chain(&h.create_runtime)
        .chain(&h.create_container)
        .chain(&h.start_container)
        .chain(&h.poststart)
        .chain(&h.poststop)
    {
        crate::hooks::to_isolate(hook)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// A minimal valid config with `patch` merged in (objects merge, other values replace).
    fn conv(patch: Value) -> Result<Converted, Refusal> {
        fn merge(a: &mut Value, b: Value) {
            match (a, b) {
                (Value::Object(a), Value::Object(b)) => {
                    for (k, v) in b {
                        merge(a.entry(k).or_insert(Value::Null), v);
                    }
                }
                (a, b) => *a = b,
            }
        }
        let tmp = std::env::temp_dir();
        let mut base = json!({
            "ociVersion": "1.0.2",
            "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "root": {"path": tmp.to_str().unwrap()},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"},
                                     {"type": "uts"}]}
        });
        merge(&mut base, patch);
        let s: Spec = serde_json::from_value(base).map_err(|e| e.to_string())?;
        convert(&s, Path::new("/"), "lp-test-x", false, 0)
    }

    fn refused(patch: Value, words: &str) {
        match conv(patch.clone()) {
            Ok(_) => panic!("{patch} was accepted"),
            Err(e) => assert!(e.contains(words), "{patch}: {e}"),
        }
    }

    #[test]
    fn what_isolate_cannot_do_is_refused_by_name() {
        conv(json!({})).unwrap();
        conv(
            json!({"linux": {"cgroupsPath": "/lp-test-a/b", "resources": {
            "memory": {"limit": 33554432, "swap": 33554432}, "pids": {"limit": 10},
            "devices": [{"allow": false, "access": "rwm"}]}}}),
        )
        .unwrap();
        conv(json!({"hooks": {"startContainer": [{"path": "/bin/true"}],
                               "createContainer": [{"path": "/bin/true"}]}}))
        .unwrap();
        refused(
            json!({"hooks": {"startContainer": [{"path": "bin/true"}]}}),
            "absolute",
        );
        refused(
            json!({"process": {"capabilities": {"bounding": ["CAP_FLY"]}}}),
            "CAP_FLY",
        );
        refused(
            json!({"process": {"rlimits": [{"type": "RLIMIT_FLY", "hard": 1, "soft": 1}]}}),
            "RLIMIT_FLY",
        );
        refused(
            json!({"linux": {"namespaces": [{"type": "pid"}]}}),
            "mount namespace",
        );
        refused(
            json!({"linux": {"namespaces": [{"type": "pid"}, {"type": "pid"}]}}),
            "twice",
        );
        conv(
            json!({"linux": {"resources": {"cpu": {"cpus": "0", "mems": "0"},
                                            "memory": {"swappiness": 10}}}}),
        )
        .unwrap();
        refused(
            json!({"linux": {"resources": {"cpu": {"cpus": "0-"}}}}),
            "cpuset",
        );
        refused(
            json!({"linux": {"resources": {"memory": {"swappiness": 101}}}}),
            "swappiness",
        );
        conv(json!({"domainname": "lp.example", "hostname": "h"})).unwrap();
        // No uts entry: the runtime's UTS namespace, which takes no names.
        conv(json!({"linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}})).unwrap();
        refused(
            json!({"hostname": "h", "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}}),
            "uts namespace",
        );
        refused(
            json!({"process": {"rlimits": [
                {"type": "RLIMIT_NOFILE", "hard": 10, "soft": 10},
                {"type": "RLIMIT_NOFILE", "hard": 20, "soft": 20}]}}),
            "RLIMIT_NOFILE given twice",
        );
        refused(
            json!({"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["getpid"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}]}}}),
            "errnoRet",
        );
        refused(
            json!({"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1}}}),
            "errnoRet",
        );
        conv(json!({"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1}}}))
            .unwrap();
        refused(
            json!({"linux": {"resources": {"blockIO": {"weight": 10}}}}),
            "blockIO",
        );
        conv(json!({"linux": {"resources": {"blockIO": {}}}})).unwrap();
        refused(
            json!({"linux": {"cgroupsPath": "system.slice:lp:x"}}),
            "systemd",
        );
        refused(
            json!({"linux": {"rootfsPropagation": "shared"}}),
            "rootfsPropagation",
        );
        conv(json!({"linux": {"rootfsPropagation": "rprivate"}})).unwrap();
        refused(
            json!({"linux": {"seccomp": {"defaultAction": "SCMP_ACT_NOTIFY"}}}),
            "NOTIFY",
        );
        conv(json!({"process": {"terminal": true}})).unwrap();
        refused(json!({"process": {"cwd": "rel"}}), "process.cwd");
        refused(json!({"process": {"args": []}}), "process.args");
        refused(
            json!({"root": {"path": "/lp-test-missing-root"}}),
            "root.path",
        );
        refused(json!({"ociVersion": "2.0.0"}), "ociVersion");
        refused(
            json!({"linux": {"resources": {"devices": [{"allow": true, "access": "rwm"}]}}}),
            "every device",
        );
        refused(
            json!({"hooks": {"poststop": [{"path": "relative"}]}}),
            "relative",
        );
    }
}
