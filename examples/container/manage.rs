//! The commands on detached containers, by name or id (prefix): `ps`, `stop`, `kill`, `rm`,
//! `inspect`, `wait`, and `cleanup`'s part for them. Containers of `isorun` on the same root
//! are listed, stopped and removed alike (their IMAGE is their bundle).

use std::time::{Duration, Instant};

use isolate::{ContainerState, Error, Signal, Status};
use rawsys::epoll::{self, EpollCreateFlags, EpollEvent, EpollFlags};
use rawsys::process::{self, PidfdFlags};

use std::process::ExitCode;

use crate::cli::{Command, Net};
use crate::state::{self, Info, Root, annotation};

/// Annotation keys of the network as `run -d` was asked for it (docker's `HostConfig`):
/// `bridge`, `none` or `host`, and the published ports as `-p` takes them, space-separated.
pub(crate) const A_NETWORK: &str = "container.network";
pub(crate) const A_PORTS: &str = "container.ports";

/// The annotation values of [`A_NETWORK`] and [`A_PORTS`].
pub(crate) fn network_annotations(net: Net, ports: &[isolate::PortMapping]) -> (String, String) {
    let mode = match net {
        Net::Bridge => "bridge",
        Net::None => "none",
        Net::Host => "host",
    };
    let ports: Vec<String> = ports
        .iter()
        .map(|p| format!("{}:{}/{}", p.host_port, p.container_port, p.proto.name()))
        .collect();
    (mode.into(), ports.join(" "))
}

/// `container ps`.
#[derive(clap::Args, Debug)]
pub(crate) struct PsArgs {
    /// Show every container (default: running ones only)
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Only the ids
    #[arg(short, long)]
    pub(crate) quiet: bool,
}

/// `container stop`.
#[derive(clap::Args, Debug)]
pub(crate) struct StopArgs {
    /// Seconds to wait after SIGTERM before SIGKILL
    #[arg(short, long = "time", value_name = "SECONDS", default_value_t = 10)]
    pub(crate) time: u32,
    /// Containers by name or id
    #[arg(value_name = "CONTAINER", required = true)]
    pub(crate) names: Vec<String>,
}

/// `container kill`.
#[derive(clap::Args, Debug)]
pub(crate) struct KillArgs {
    /// The signal (a name with or without SIG, or a number)
    #[arg(short, long, value_name = "SIGNAL", default_value = "KILL")]
    pub(crate) signal: String,
    /// Containers by name or id
    #[arg(value_name = "CONTAINER", required = true)]
    pub(crate) names: Vec<String>,
}

/// `container rm`.
#[derive(clap::Args, Debug)]
pub(crate) struct RmArgs {
    /// Kill a running container first
    #[arg(short, long)]
    pub(crate) force: bool,
    /// Containers by name or id
    #[arg(value_name = "CONTAINER", required = true)]
    pub(crate) names: Vec<String>,
}

/// `container inspect`, `wait`, `logs` (one or more containers).
#[derive(clap::Args, Debug)]
pub(crate) struct NamesArgs {
    /// Containers by name or id
    #[arg(value_name = "CONTAINER", required = true)]
    pub(crate) names: Vec<String>,
}

/// `container logs`.
#[derive(clap::Args, Debug)]
pub(crate) struct LogsArgs {
    /// Follow the output until the container ends
    #[arg(short, long)]
    pub(crate) follow: bool,
    /// The container, by name or id
    #[arg(value_name = "CONTAINER")]
    pub(crate) name: String,
}

/// The first 12 hex digits of `container`'s id; another tool's container by its whole id.
fn short_id(st: &ContainerState) -> String {
    match annotation(st, state::A_ID) {
        Some(id) => id.chars().take(12).collect(),
        None => st.id.clone(),
    }
}

fn command_words(st: &ContainerState) -> Vec<String> {
    annotation(st, state::A_COMMAND)
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or_default()
}

/// `ps`: docker's columns.
pub(crate) fn ps(root: &Root, a: &PsArgs) -> Result<String, String> {
    let mut rows = vec![[
        "CONTAINER ID".to_string(),
        "IMAGE".into(),
        "COMMAND".into(),
        "CREATED".into(),
        "STATUS".into(),
        "PORTS".into(),
        "NAMES".into(),
    ]];
    let mut all = root.all()?;
    all.sort_by_key(|s| std::cmp::Reverse(s.created));
    let now = state::now().0;
    let mut quiet = String::new();
    for st in all {
        let up = matches!(st.status, Status::Running | Status::Paused);
        if !a.all && !up {
            continue;
        }
        if a.quiet {
            quiet.push_str(&format!("{}\n", short_id(&st)));
            continue;
        }
        let info = Info::read(&root.extra(&st.id));
        let image = annotation(&st, state::A_IMAGE)
            .or_else(|| annotation(&st, "bundle"))
            .unwrap_or("")
            .to_string();
        let mut command = format!("\"{}\"", command_words(&st).join(" "));
        if command.chars().count() > 22 {
            command = format!("{}…\"", command.chars().take(20).collect::<String>());
        }
        rows.push([
            short_id(&st),
            image,
            command,
            format!("{} ago", state::human_duration(now - st.created)),
            state::status_words(&st, info.as_ref()),
            ports_column(&st),
            st.id.clone(),
        ]);
    }
    if a.quiet {
        return Ok(quiet);
    }
    let mut widths = [0usize; 7];
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(c);
            } else {
                line.push_str(c);
                let pad = widths[i] + 3 - c.chars().count();
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    Ok(out)
}

/// docker's PORTS: `0.0.0.0:8080->80/tcp, 0.0.0.0:5353->53/udp` while the container holds
/// them.
fn ports_column(st: &ContainerState) -> String {
    let Some(n) = &st.network else {
        return String::new();
    };
    let ports: Vec<String> = n
        .ports()
        .iter()
        .map(|p| {
            format!(
                "0.0.0.0:{}->{}/{}",
                p.host_port,
                p.container_port,
                p.proto.name()
            )
        })
        .collect();
    ports.join(", ")
}

fn show_ip(ip: [u8; 4]) -> String {
    std::net::Ipv4Addr::from(ip).to_string()
}

/// docker's `NetworkSettings`: the address, gateway, prefix length, MAC address and the
/// published ports while the container holds them (empty once it has stopped, as docker's).
fn network_settings(st: &ContainerState) -> serde_json::Value {
    // isorun's containers have their caller's network namespace: no mode of ours.
    let mode = annotation(st, A_NETWORK).unwrap_or("");
    let held = st.network.as_ref().filter(|_| st.status != Status::Stopped);
    let mut ports = serde_json::Map::new();
    let (ip, gw, prefix, mac, bridge) = match held {
        Some(n) => {
            for p in n.ports() {
                let key = format!("{}/{}", p.container_port, p.proto.name());
                let binding =
                    serde_json::json!({"HostIp": "0.0.0.0", "HostPort": p.host_port.to_string()});
                let list = ports.entry(key).or_insert_with(|| serde_json::json!([]));
                if let Some(l) = list.as_array_mut() {
                    l.push(binding);
                }
            }
            let mac = n.mac_address().map(|m| {
                m.iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(":")
            });
            (
                show_ip(n.address()),
                show_ip(n.gateway()),
                n.prefix_len(),
                mac.unwrap_or_default(),
                n.bridge().name().to_string(),
            )
        }
        None => Default::default(),
    };
    let mut networks = serde_json::Map::new();
    if !mode.is_empty() {
        let endpoint = serde_json::json!({
            "Gateway": gw,
            "IPAddress": ip,
            "IPPrefixLen": prefix,
            "MacAddress": mac,
        });
        networks.insert(mode.to_string(), endpoint);
    }
    serde_json::json!({
        "Bridge": bridge,
        "Ports": ports,
        "Gateway": gw,
        "IPAddress": ip,
        "IPPrefixLen": prefix,
        "MacAddress": mac,
        "Networks": networks,
    })
}

/// docker's `HostConfig.PortBindings` from the ports `run` was given.
fn port_bindings(st: &ContainerState) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for p in annotation(st, A_PORTS).unwrap_or("").split_whitespace() {
        let Some((host, ctr)) = p.split_once(':') else {
            continue;
        };
        let binding = serde_json::json!({"HostIp": "", "HostPort": host});
        let list = m
            .entry(ctr.to_string())
            .or_insert_with(|| serde_json::json!([]));
        if let Some(l) = list.as_array_mut() {
            l.push(binding);
        }
    }
    serde_json::Value::Object(m)
}

use crate::signal::parse_signal;

/// A pidfd of the container's process while it runs (checked after opening).
fn pidfd(root: &Root, st: &ContainerState) -> Option<rawsys::OwnedFd> {
    let fd = process::pidfd_open(st.pid, PidfdFlags::empty()).ok()?;
    let again = root.states.state(&st.id).ok()?;
    (again.pid == st.pid && again.status != Status::Stopped).then_some(fd)
}

/// Waits up to `timeout` for `fd` (a pidfd) to turn readable: the process has exited.
fn wait_readable(fd: &rawsys::OwnedFd, timeout: Duration) -> bool {
    let Ok(ep) = epoll::epoll_create1(EpollCreateFlags::CLOEXEC) else {
        return false;
    };
    if epoll::epoll_ctl_add(&ep, fd, EpollEvent::new(EpollFlags::IN, 0)).is_err() {
        return false;
    }
    let end = Instant::now() + timeout;
    let mut ev = [EpollEvent::default(); 1];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
        match epoll::epoll_pwait(&ep, &mut ev, ms, None) {
            Ok(n) => return n > 0,
            Err(rawsys::Errno::EINTR) => continue,
            Err(_) => return false,
        }
    }
}

/// A pidfd of a detached container's supervisor while it runs (checked after opening).
fn supervisor(root: &Root, name: &str) -> Option<rawsys::OwnedFd> {
    let info = Info::read(&root.extra(name))?;
    let fd = process::pidfd_open(info.supervisor.0 as i32, PidfdFlags::empty()).ok()?;
    info.supervisor_alive().then_some(fd)
}

/// Waits (up to 5 s) for a detached container's supervisor to record the exit and end.
fn wait_supervisor(fd: Option<rawsys::OwnedFd>) {
    if let Some(fd) = fd {
        wait_readable(&fd, Duration::from_secs(5));
    }
}

/// `stop`: SIGTERM, then SIGKILL after `time` seconds; returns once the container has
/// stopped and its supervisor has recorded how.
pub(crate) fn stop(root: &Root, what: &str, time: u32) -> Result<(), String> {
    let st = root.resolve(what)?;
    let Some(fd) = pidfd(root, &st) else {
        return release_network(root, what, &st);
    };
    let sup = supervisor(root, &st.id);
    let signal = |sig| match root.states.kill(&st.id, sig, false) {
        Ok(()) | Err(Error::WrongStatus { .. }) => Ok(()),
        Err(e) => Err(format!("{what}: {e}")),
    };
    if st.status == Status::Paused {
        // A frozen process takes SIGTERM only once thawed.
        let _ = root.states.resume(&st.id);
    }
    signal(Signal::SIGTERM)?;
    if !wait_readable(&fd, Duration::from_secs(u64::from(time))) {
        signal(Signal::SIGKILL)?;
        if !wait_readable(&fd, Duration::from_secs(10)) {
            return Err(format!("{what}: still running 10 s after SIGKILL"));
        }
    }
    wait_supervisor(sup);
    release_network(root, what, &st)
}

/// Gives back a stopped container's network: its supervisor did already, unless it was
/// killed (then nobody else would before `rm` or `cleanup`).
fn release_network(root: &Root, what: &str, st: &ContainerState) -> Result<(), String> {
    match root.states.release_network(&st.id) {
        Ok(()) | Err(Error::NotFound(_) | Error::WrongStatus { .. }) => Ok(()),
        Err(e) => Err(format!("{what}: {e}")),
    }
}

/// `kill -s SIGNAL`.
pub(crate) fn kill(root: &Root, what: &str, sig: Signal) -> Result<(), String> {
    let st = root.resolve(what)?;
    match root.states.kill(&st.id, sig, false) {
        Ok(()) => Ok(()),
        Err(Error::WrongStatus { .. }) => Err(format!("cannot kill {what}: it is not running")),
        Err(e) => Err(format!("{what}: {e}")),
    }
}

/// `rm [-f]`.
pub(crate) fn rm(root: &Root, what: &str, force: bool) -> Result<(), String> {
    let st = root.resolve(what)?;
    if st.status != Status::Stopped && !force {
        return Err(format!(
            "cannot remove {what}: it is {} (stop it first, or rm -f)",
            st.status
        ));
    }
    // Taken first: the supervisor may remove its directory once the container is gone.
    let sup = supervisor(root, &st.id);
    root.states
        .delete(&st.id, force)
        .map_err(|e| format!("{what}: {e}"))?;
    // The supervisor sees its container end, records it and goes with its writable layer.
    wait_supervisor(sup);
    let dir = root.extra(&st.id);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("remove {}: {e}", dir.display())),
    }
}

/// `wait`: the exit code once the container has stopped.
pub(crate) fn wait(root: &Root, what: &str) -> Result<i32, String> {
    let st = root.resolve(what)?;
    let sup = supervisor(root, &st.id);
    let dir = root.extra(&st.id);
    // Opened now: the supervisor writes the code into this file in place, and with --rm
    // then removes it; the descriptor still reads it.
    let mut held = std::fs::File::open(dir.join("info.json")).ok();
    let recorded = |held: &mut Option<std::fs::File>| {
        held.as_mut()
            .and_then(Info::read_from)
            .or_else(|| Info::read(&dir))
            .and_then(|i| i.exit_code)
    };
    if let Some(fd) = pidfd(root, &st) {
        while !wait_readable(&fd, Duration::from_secs(3600)) {}
    }
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(c) = recorded(&mut held) {
            return Ok(c);
        }
        let done = sup
            .as_ref()
            .is_none_or(|fd| wait_readable(fd, Duration::ZERO));
        if done || Instant::now() > end {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    recorded(&mut held).ok_or_else(|| format!("{what}: its exit code was not recorded"))
}

/// `inspect`: docker's JSON (a list of one object per container).
pub(crate) fn inspect(root: &Root, what: &str) -> Result<serde_json::Value, String> {
    let st = root.resolve(what)?;
    let info = Info::read(&root.extra(&st.id));
    let words = command_words(&st);
    let limits: serde_json::Value = annotation(&st, state::A_LIMITS)
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(serde_json::Value::Null);
    let time = |t: Option<(i64, u32)>| {
        t.map(state::rfc3339)
            .unwrap_or_else(|| "0001-01-01T00:00:00Z".into())
    };
    let running = matches!(st.status, Status::Running | Status::Paused);
    Ok(serde_json::json!({
        "Id": annotation(&st, state::A_ID).unwrap_or(&st.id),
        "Name": st.id,
        "Image": annotation(&st, state::A_IMAGE).or_else(|| annotation(&st, "bundle")),
        "Path": words.first(),
        "Args": words.get(1..).unwrap_or_default(),
        "Created": state::rfc3339((st.created, 0)),
        "State": {
            "Status": match st.status {
                Status::Stopped => "exited",
                s => s.as_str(),
            },
            "Running": running,
            "Paused": st.status == Status::Paused,
            "Pid": if running { st.pid } else { 0 },
            "ExitCode": info.as_ref().and_then(|i| i.exit_code).unwrap_or(0),
            "StartedAt": time(info.as_ref().and_then(|i| i.started)),
            "FinishedAt": time(info.as_ref().and_then(|i| i.finished)),
        },
        "HostConfig": {
            "Memory": limits.get("memory").and_then(|v| v.as_u64()).unwrap_or(0),
            "NanoCpus": limits.get("cpus_milli").and_then(|v| v.as_u64()).unwrap_or(0) * 1_000_000,
            "PidsLimit": limits.get("pids"),
            "AutoRemove": annotation(&st, state::A_RM) == Some("1"),
            "NetworkMode": annotation(&st, A_NETWORK).unwrap_or(""),
            "PortBindings": port_bindings(&st),
        },
        "NetworkSettings": network_settings(&st),
        "CgroupPaths": st.cgroup_paths,
    }))
}

/// `cleanup`'s part: deletes the detached containers of crashed runs, those whose supervisor
/// is gone without having recorded an exit (a `kill -9`) and whose process is gone too (or
/// never started): their cgroups, network (DNAT rules, lease) and state. A container still
/// running without its supervisor is left alone. Returns how many were deleted.
pub(crate) fn remove_crashed(root: &Root) -> usize {
    let Ok(all) = root.all() else {
        return 0;
    };
    let mut n = 0;
    for st in all {
        if annotation(&st, state::A_ID).is_none()
            || !matches!(st.status, Status::Stopped | Status::Created)
        {
            continue;
        }
        let dir = root.extra(&st.id);
        let crashed =
            Info::read(&dir).is_none_or(|i| !i.supervisor_alive() && i.exit_code.is_none());
        if crashed && root.states.delete(&st.id, true).is_ok() {
            let _ = std::fs::remove_dir_all(&dir);
            n += 1;
        }
    }
    n
}

/// Runs a lifecycle command (`ps`, `exec`, `stop`, `kill`, `logs`, `rm`, `inspect`,
/// `wait`): 0, or one error line per failed container and exit status 1 (125 when nothing
/// could be tried, the command's own status for `exec`).
pub(crate) fn command(c: Command) -> ExitCode {
    let fail = |msg: &str, code: u8| {
        eprintln!("container: {msg}");
        ExitCode::from(code)
    };
    if rawsys::process::geteuid() != 0 {
        return fail(
            "this command needs root (the state root is shared with isorun)",
            125,
        );
    }
    let root = match Root::open() {
        Ok(r) => r,
        Err(e) => return fail(&e, 125),
    };
    let mut out = String::new();
    let mut failed = false;
    let mut each = |names: &[String], f: &mut dyn FnMut(&str) -> Result<String, String>| {
        for n in names {
            match f(n) {
                Ok(s) => out.push_str(&s),
                Err(e) => {
                    eprintln!("container: {e}");
                    failed = true;
                }
            }
        }
    };
    match c {
        Command::Ps(a) => match ps(&root, &a) {
            Ok(s) => out = s,
            Err(e) => return fail(&e, 1),
        },
        Command::Exec(a) => {
            return match crate::exec::exec(&root, &a) {
                Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(255)),
                Err((e, code)) => fail(&e, code),
            };
        }
        Command::Logs(a) => {
            if let Err(e) = crate::logs::logs(&root, &a.name, a.follow) {
                return fail(&e, 1);
            }
        }
        Command::Stop(a) => each(&a.names, &mut |n| {
            stop(&root, n, a.time).map(|()| format!("{n}\n"))
        }),
        Command::Kill(a) => {
            let sig = match parse_signal(&a.signal) {
                Ok(s) => s,
                Err(e) => return fail(&e, 125),
            };
            each(&a.names, &mut |n| {
                kill(&root, n, sig).map(|()| format!("{n}\n"))
            });
        }
        Command::Rm(a) => each(&a.names, &mut |n| {
            rm(&root, n, a.force).map(|()| format!("{n}\n"))
        }),
        Command::Wait(a) => each(&a.names, &mut |n| wait(&root, n).map(|c| format!("{c}\n"))),
        Command::Inspect(a) => {
            let mut all = Vec::new();
            each(&a.names, &mut |n| {
                inspect(&root, n).map(|v| {
                    all.push(v);
                    String::new()
                })
            });
            if !all.is_empty() {
                out = serde_json::to_string_pretty(&all).unwrap_or_default() + "\n";
            }
        }
        _ => return fail("not a lifecycle command", 125),
    }
    print!("{out}");
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
