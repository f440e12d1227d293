//! `container`: a tiny `docker run` on the `isolate` crate.
//!
//! ```text
//! container                      interactive /bin/sh as PID 1 in a fresh container (100M memory)
//! container run [OPTIONS] [--] CMD [ARGS...]
//!     --rootfs DIR       root filesystem (default: host /usr, /bin, /lib*, /sbin read-only on a tmpfs)
//!     --hostname H       hostname inside (default: isolate)
//!     --name NAME        container and cgroup name (default: isolate-<pid>-<n>)
//!     --memory SIZE      memory limit, e.g. 100M
//!     --pids N           process limit
//!     --cpus X           CPU limit in cores, e.g. 0.5
//!     -e K=V             environment variable (repeatable)
//!     -v SRC:DST[:ro]    bind mount (repeatable)
//!     --tmpfs DST        tmpfs mount (repeatable)
//!     -w DIR             working directory
//!     --user UID[:GID]   run as this user
//!     --init             minimal init as PID 1 (reaps zombies, forwards signals)
//!     --net bridge|none|host  network (default bridge: veth into bridge lp0, 172.29.0.0/16,
//!                        NAT; none: only lo; host: the host's network)
//!     -p HOST:CTR[/tcp|/udp]  publish a port (bridge only; repeatable)
//!     --bridge NAME, --subnet CIDR, --nft-table T, --veth-prefix P, --lease-dir DIR
//!                        a bridge network other than the default (lp0, 172.29.0.0/16,
//!                        lp_nat, lpv, /run/linux-primitives/net)
//!     --privileged       keep all capabilities; no seccomp filter, no masked paths (as docker)
//!     --cap-add CAP      keep CAP too (NET_ADMIN, CAP_NET_ADMIN or ALL; repeatable)
//!     --cap-drop CAP     drop CAP from the default set (or ALL); drops apply before adds
//!     --seccomp default|unconfined     the default syscall filter (default) or none
//!     --system-paths masked|unconfined mask /proc/kcore & co., /proc/sys read-only (default)
//!     --preserve-fds N   pass the caller's descriptors 3..3+N-1 (all others are closed)
//!     --userns           new user namespace, root inside = the caller outside (rootless:
//!                        works without root; no --memory/--pids/--cpus then)
//!     --uidmap IN:OUT:N  uid map line (repeatable; implies a user namespace; root only)
//!     --gidmap IN:OUT:N  gid map line (repeatable)
//!     --cgroup-parent P  create the cgroup below P (absolute, per hierarchy) instead of our own
//!     --stats            print exit status, peak memory and CPU time to stderr
//! container cleanup              remove cgroups left behind by crashed `container` processes
//! ```
//! Exit status: the command's; 128+N when killed by signal N; 137 after an OOM kill;
//! 125 for a bad invocation or a failed setup; 126/127 when the command cannot run / is not found.

use std::process::ExitCode;

use isolate::{
    BridgeConfig, CgroupParent, Container, Error, ExitStatus, Ipv4Net, Network, PortMapping, Rootfs,
};

const USAGE: &str = "usage: container [run [--rootfs DIR] [--hostname H] [--name N] [--memory 100M] \
[--pids N] [--cpus 0.5] [-e K=V]... [-v SRC:DST[:ro]]... [--tmpfs DST]... [-w DIR] \
[--user UID[:GID]] [--init] [--net bridge|none|host] [-p HOST:CTR[/tcp]]... \
[--bridge NAME] [--subnet CIDR] [--nft-table T] [--veth-prefix P] [--lease-dir DIR] [--privileged] [--cgroup-parent P] [--stats] \
[--] CMD [ARGS...] | cleanup]";

/// The hardening options of `run` (see the module docs).
const SECURITY_HELP: &str = "hardening (defaults match a docker/runc default container):
  --cap-add CAP       keep CAP too (NET_ADMIN, CAP_NET_ADMIN or ALL; repeatable)
  --cap-drop CAP      drop CAP from the default set (or ALL); drops apply before adds
  --seccomp default|unconfined       the default syscall filter, or none
  --system-paths masked|unconfined   mask /proc/kcore & co. and make /proc/sys read-only, or not
  --preserve-fds N    pass the caller's descriptors 3..3+N-1 (every other one is closed)
  --userns            new user namespace, root inside = the caller outside: works without
                      root (rootless; then no --memory/--pids/--cpus)
  --uidmap IN:OUT:N   uid map line (repeatable; implies a user namespace; needs root)
  --gidmap IN:OUT:N   gid map line (repeatable)
  --privileged        all capabilities, no seccomp filter, no masked paths (as docker)";

struct Args {
    rootfs: Option<String>,
    hostname: Option<String>,
    name: Option<String>,
    memory: Option<u64>,
    pids: Option<u64>,
    cpus: Option<u64>,
    env: Vec<String>,
    volumes: Vec<(String, String, bool)>,
    tmpfs: Vec<String>,
    workdir: Option<String>,
    user: Option<(u32, u32)>,
    init: bool,
    net: Option<String>,
    bridge: BridgeConfig,
    ports: Vec<PortMapping>,
    privileged: bool,
    security: Security,
    cgroup_parent: Option<String>,
    stats: bool,
    command: Vec<String>,
}

fn parse_user(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("bad --user {s:?} (want UID or UID:GID)");
    let (u, g) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    let uid: u32 = u.parse().map_err(|_| bad())?;
    let gid: u32 = match g {
        Some(g) => g.parse().map_err(|_| bad())?,
        None => uid,
    };
    Ok((uid, gid))
}

fn parse_volume(s: &str) -> Result<(String, String, bool), String> {
    let parts: Vec<&str> = s.split(':').collect();
    match parts.as_slice() {
        [src, dst] if !src.is_empty() && !dst.is_empty() => {
            Ok((src.to_string(), dst.to_string(), false))
        }
        [src, dst, "ro"] if !src.is_empty() && !dst.is_empty() => {
            Ok((src.to_string(), dst.to_string(), true))
        }
        [src, dst, "rw"] if !src.is_empty() && !dst.is_empty() => {
            Ok((src.to_string(), dst.to_string(), false))
        }
        _ => Err(format!("bad -v {s:?} (want SRC:DST or SRC:DST:ro)")),
    }
}

fn parse_run(argv: &[String]) -> Result<Args, String> {
    let mut a = Args {
        rootfs: None,
        hostname: None,
        name: None,
        memory: None,
        pids: None,
        cpus: None,
        env: Vec::new(),
        volumes: Vec::new(),
        tmpfs: Vec::new(),
        workdir: None,
        user: None,
        init: false,
        net: None,
        bridge: BridgeConfig::default(),
        ports: Vec::new(),
        privileged: false,
        security: Security::default(),
        cgroup_parent: None,
        stats: false,
        command: Vec::new(),
    };
    let mut i = 0;
    while i < argv.len() {
        let arg = argv[i].as_str();
        // `--flag=value` is accepted as well as `--flag value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg, None),
        };
        let value = |i: &mut usize| -> Result<String, String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            *i += 1;
            argv.get(*i)
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag {
            "--" => {
                a.command = argv[i + 1..].to_vec();
                break;
            }
            "--rootfs" => a.rootfs = Some(value(&mut i)?),
            "--hostname" => a.hostname = Some(value(&mut i)?),
            "--name" => a.name = Some(value(&mut i)?),
            "--memory" | "-m" => {
                a.memory = Some(
                    value(&mut i)?
                        .parse::<isolate::ByteSize>()
                        .map_err(|e| e.to_string())?
                        .get(),
                )
            }
            "--pids" => {
                let v = value(&mut i)?;
                a.pids = Some(v.parse().map_err(|_| format!("bad --pids {v:?}"))?)
            }
            "--cpus" => {
                a.cpus = Some(
                    value(&mut i)?
                        .parse::<isolate::Millicpus>()
                        .map_err(|e| e.to_string())?
                        .get(),
                )
            }
            "-e" | "--env" => a.env.push(value(&mut i)?),
            "-v" | "--volume" => a.volumes.push(parse_volume(&value(&mut i)?)?),
            "--tmpfs" => a.tmpfs.push(value(&mut i)?),
            "-w" | "--workdir" => a.workdir = Some(value(&mut i)?),
            "-u" | "--user" => a.user = Some(parse_user(&value(&mut i)?)?),
            "--init" => a.init = true,
            "--privileged" => a.privileged = true,
            "--cap-add" => a.security.cap_add.push(value(&mut i)?),
            "--cap-drop" => a.security.cap_drop.push(value(&mut i)?),
            "--seccomp" => {
                a.security.seccomp = match value(&mut i)?.as_str() {
                    "default" => isolate::security::Seccomp::Default,
                    "unconfined" => isolate::security::Seccomp::Unconfined,
                    other => {
                        return Err(format!(
                            "bad --seccomp {other:?} (want default or unconfined)"
                        ));
                    }
                }
            }
            "--system-paths" => {
                a.security.system_paths = match value(&mut i)?.as_str() {
                    "masked" => isolate::security::SystemPaths::Masked,
                    "unconfined" => isolate::security::SystemPaths::Unconfined,
                    other => {
                        return Err(format!(
                            "bad --system-paths {other:?} (want masked or unconfined)"
                        ));
                    }
                }
            }
            "--preserve-fds" => {
                let v = value(&mut i)?;
                a.security.preserve_fds = v
                    .parse()
                    .ok()
                    .filter(|n| *n <= 64)
                    .ok_or_else(|| format!("bad --preserve-fds {v:?} (want 0 to 64)"))?;
                for fd in 3..3 + a.security.preserve_fds as i32 {
                    // SAFETY: fcntl(F_GETFD) on a number we do not own only reads its flags.
                    let b = unsafe { rawsys::BorrowedFd::borrow_raw(fd) };
                    if rawsys::io::fcntl_getfd(b).is_err() {
                        return Err(format!("--preserve-fds: descriptor {fd} is not open"));
                    }
                }
            }
            "--userns" => a.security.userns = true,
            "--uidmap" => {
                let m = isolate::security::IdMap::parse(&value(&mut i)?);
                a.security.uidmap.push(m.map_err(|e| e.to_string())?)
            }
            "--gidmap" => {
                let m = isolate::security::IdMap::parse(&value(&mut i)?);
                a.security.gidmap.push(m.map_err(|e| e.to_string())?)
            }
            "--stats" => a.stats = true,
            "--net" | "--network" => {
                let v = value(&mut i)?;
                if !matches!(v.as_str(), "bridge" | "none" | "host") {
                    return Err(format!("bad --net {v:?} (want bridge, none or host)"));
                }
                a.net = Some(v);
            }
            "-p" | "--publish" => a
                .ports
                .push(PortMapping::parse(&value(&mut i)?).map_err(|e| e.to_string())?),
            "--bridge" => {
                a.bridge = a
                    .bridge
                    .with_name(&value(&mut i)?)
                    .map_err(|e| e.to_string())?
            }
            "--subnet" => {
                let n = Ipv4Net::parse(&value(&mut i)?).map_err(|e| e.to_string())?;
                a.bridge = a.bridge.with_subnet(n)
            }
            "--nft-table" => {
                a.bridge = a
                    .bridge
                    .with_table(&value(&mut i)?)
                    .map_err(|e| e.to_string())?
            }
            "--veth-prefix" => {
                a.bridge = a
                    .bridge
                    .with_veth_prefix(&value(&mut i)?)
                    .map_err(|e| e.to_string())?
            }
            "--lease-dir" => {
                a.bridge = a
                    .bridge
                    .with_lease_dir(&value(&mut i)?)
                    .map_err(|e| e.to_string())?
            }
            "--cgroup-parent" => a.cgroup_parent = Some(value(&mut i)?),
            f if f.starts_with('-') => return Err(format!("unknown option {f}")),
            _ => {
                a.command = argv[i..].to_vec();
                break;
            }
        }
        i += 1;
    }
    if a.command.is_empty() {
        return Err("no command given".into());
    }
    Ok(a)
}

/// The hardening options of `run`.
#[derive(Default)]
struct Security {
    cap_add: Vec<String>,
    cap_drop: Vec<String>,
    seccomp: isolate::security::Seccomp,
    system_paths: isolate::security::SystemPaths,
    preserve_fds: u32,
    userns: bool,
    uidmap: Vec<isolate::security::IdMap>,
    gidmap: Vec<isolate::security::IdMap>,
}

/// Applies capabilities, descriptors and the user namespace to the builder.
fn secure<R, C>(
    mut b: isolate::Builder<R, C>,
    s: &Security,
) -> Result<isolate::Builder<R, C>, isolate::ConfigError> {
    for c in &s.cap_drop {
        b = b.cap_drop(c)?;
    }
    for c in &s.cap_add {
        b = b.cap_add(c)?;
    }
    for fd in 3..3 + s.preserve_fds as i32 {
        // SAFETY: parse_run checked that the descriptor is open; nothing else in this program
        // owns it (the caller handed it over with --preserve-fds), and build runs once.
        let owned = unsafe { rawsys::OwnedFd::from_raw(fd) };
        b = b.pass_fd(owned)?;
    }
    if !s.uidmap.is_empty() || !s.gidmap.is_empty() {
        let ns = isolate::security::UserNamespace::new(s.uidmap.clone(), s.gidmap.clone())?;
        b = b.user_namespace(ns);
    } else if s.userns {
        b = b.user_namespace(isolate::security::UserNamespace::rootless());
    }
    Ok(b)
}

fn build(a: &Args) -> Result<Container, isolate::ConfigError> {
    let b = Container::builder();
    let b = match &a.rootfs {
        Some(dir) => {
            // Relative rootfs paths are taken from the current directory.
            let abs = if dir.starts_with('/') {
                dir.clone()
            } else {
                let cwd = std::env::current_dir()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                format!("{cwd}/{dir}")
            };
            b.rootfs(&abs)?
        }
        None => b.host_rootfs(),
    };
    let mut b = b.command(&a.command[0], &a.command[1..])?;
    if let Some(h) = &a.hostname {
        b = b.hostname(h)?;
    }
    if let Some(n) = &a.name {
        b = b.name(n)?;
    }
    if let Some(m) = a.memory {
        b = b.memory_limit(m)?;
    }
    if let Some(p) = a.pids {
        b = b.pids_limit(p)?;
    }
    if let Some(c) = a.cpus {
        b = b.cpu_limit(c)?;
    }
    for e in &a.env {
        b = b.env_pair(e)?;
    }
    for (src, dst, ro) in &a.volumes {
        b = b.bind_mount(src, dst, *ro)?;
    }
    for t in &a.tmpfs {
        b = b.tmpfs(t, None)?;
    }
    if let Some(w) = &a.workdir {
        b = b.working_dir(w)?;
    }
    if let Some((u, g)) = a.user {
        b = b.user(u, g);
    }
    if let Some(p) = &a.cgroup_parent {
        b = b.cgroup_parent(CgroupParent::Path(p.clone()));
    }
    let b = secure(b, &a.security)?;
    // Bridge by default, as docker; CONTAINER_NET overrides the default (not an explicit --net).
    let default_net = std::env::var("CONTAINER_NET").unwrap_or_else(|_| "bridge".into());
    let net = match a.net.as_deref().unwrap_or(&default_net) {
        "none" => Network::None,
        "host" => Network::Host,
        _ => Network::Bridge(a.bridge.clone()),
    };
    let mut b = b.network(net);
    for p in &a.ports {
        b = b.publish(*p)?;
    }
    b.init(a.init)
        .privileged(a.privileged)
        .seccomp(a.security.seccomp)
        .system_paths(a.security.system_paths)
        .build()
}

fn human(bytes: u64) -> String {
    if bytes % (1 << 30) == 0 {
        format!("{} GiB", bytes >> 30)
    } else if bytes % (1 << 20) == 0 {
        format!("{} MiB", bytes >> 20)
    } else if bytes % (1 << 10) == 0 {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

fn fail(msg: impl std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("container: {msg}");
    ExitCode::from(code)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match argv.first().map(String::as_str) {
        None => Args {
            memory: Some(100 << 20),
            env: std::env::var("TERM")
                .map(|t| vec![format!("TERM={t}")])
                .unwrap_or_default(),
            ..parse_run(&["/bin/sh".to_string()]).expect("fixed arguments parse")
        },
        Some("run") if matches!(argv.get(1).map(String::as_str), Some("-h" | "--help")) => {
            println!("{USAGE}\n\n{SECURITY_HELP}");
            return ExitCode::SUCCESS;
        }
        Some("run") => match parse_run(&argv[1..]) {
            Ok(a) => a,
            Err(e) => return fail(format_args!("{e}\n{USAGE}"), 125),
        },
        Some("cleanup") => {
            return match isolate::cgroup::remove_stale_default(&CgroupParent::Own) {
                Ok(n) => {
                    println!("removed {n} stale cgroup directories");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e, 125),
            };
        }
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}\n\n{SECURITY_HELP}");
            return ExitCode::SUCCESS;
        }
        Some(other) => return fail(format_args!("unknown command {other:?}\n{USAGE}"), 125),
    };
    // Leftovers of crashed earlier runs (their owner process is gone) are removed first.
    let _ = isolate::cgroup::remove_stale_default(&CgroupParent::Own);
    let container = match build(&args) {
        Ok(c) => c,
        Err(e) => return fail(e, 125),
    };
    if let Rootfs::Dir(d) = container.rootfs() {
        if !std::path::Path::new(d).is_dir() {
            return fail(format_args!("rootfs {d}: no such directory"), 125);
        }
    }
    let out = match container.run() {
        Ok(o) => o,
        Err(e) if e.is_command_not_found() => {
            let code = if e.errno() == Some(rawsys::Errno::EACCES) {
                126
            } else {
                127
            };
            let what = if code == 126 {
                "command not executable"
            } else {
                "command not found"
            };
            return fail(
                format_args!("{what} inside the container: {} ({e})", args.command[0]),
                code,
            );
        }
        Err(e @ Error::Child { .. }) => {
            return fail(format_args!("container setup failed: {e}"), 125);
        }
        Err(e) => return fail(e, 125),
    };
    if args.stats {
        eprintln!(
            "container: status {:?}, peak memory {}, cpu {}, wall {:.3} ms",
            out.status,
            out.memory_peak()
                .map(human)
                .unwrap_or_else(|| "unknown".into()),
            out.cpu_time()
                .map(|d| format!("{:.3} ms", d.as_secs_f64() * 1e3))
                .unwrap_or_else(|| "unknown".into()),
            out.elapsed.as_secs_f64() * 1e3
        );
    }
    if out.status == ExitStatus::OutOfMemory {
        let limit = out.memory_limit.map(human).unwrap_or_else(|| "none".into());
        eprintln!("killed: out of memory (limit {limit})");
    }
    ExitCode::from(out.status.code().clamp(0, 255) as u8)
}
