//! `container`: a tiny `docker run` on the `isolate` crate.
//!
//! `container --help` lists the commands, `container run --help` every flag with one line
//! each, the exit codes and the environment; the text is the doc comments in `cli.rs`, the one
//! place it is written. With no arguments: an interactive `/bin/sh` as PID 1 in a fresh
//! container.

#[path = "../common/cgroupfs.rs"]
mod cgroupfs;
#[path = "../common/civil.rs"]
mod civil;
mod cli;
mod detach;
mod exec;
mod image;
mod logs;
mod manage;
#[path = "../common/rfc3339.rs"]
mod rfc3339;
#[path = "../common/signal.rs"]
mod signal;
mod state;
mod tty;

use std::ffi::OsString;
use std::process::ExitCode;

use cli::{Command, Net, RunArgs};
use isolate::{BridgeConfig, CgroupParent, Container, Error, ExitStatus, Network, Rootfs};

/// Applies capabilities, descriptors and the user namespace to the builder.
fn secure<R, C>(
    mut b: isolate::Builder<R, C>,
    s: &cli::SecurityArgs,
) -> Result<isolate::Builder<R, C>, isolate::ConfigError> {
    for c in &s.cap_drop {
        b = b.cap_drop(c)?;
    }
    for c in &s.cap_add {
        b = b.cap_add(c)?;
    }
    for fd in 3..3 + s.preserve_fds as i32 {
        // SAFETY: the parser checked that the descriptor is open; nothing else in this program
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

/// The bridge network the flags describe (each was checked by the parser already).
fn bridge(n: &cli::BridgeArgs) -> Result<BridgeConfig, isolate::ConfigError> {
    let mut c = BridgeConfig::default();
    if let Some(name) = &n.bridge {
        c = c.with_name(name)?;
    }
    if let Some(subnet) = n.subnet {
        c = c.with_subnet(subnet);
    }
    if let Some(t) = &n.nft_table {
        c = c.with_table(t)?;
    }
    if let Some(p) = &n.veth_prefix {
        c = c.with_veth_prefix(p)?;
    }
    if let Some(d) = &n.lease_dir {
        c = c.with_lease_dir(d)?;
    }
    Ok(c)
}

/// Where the container's standard streams go.
pub(crate) enum Io {
    /// This process's own.
    Inherit,
    /// A pseudo-terminal of the container's own (-t).
    Terminal,
    /// These descriptors (stdin, stdout, stderr): a detached container's.
    Fds(rawsys::OwnedFd, rawsys::OwnedFd, rawsys::OwnedFd),
}

pub(crate) fn build(
    a: &RunArgs,
    net: Net,
    l: &image::Launch,
    io: Io,
) -> Result<Container, isolate::ConfigError> {
    let b = Container::builder();
    let b = match &l.root {
        image::Root::Dir(dir) => b.rootfs(dir)?,
        // The writable layer is a tmpfs of the container's own, freed with it.
        image::Root::Overlay { lower } => b.overlay_rootfs_tmpfs(lower)?,
        image::Root::Host => b.host_rootfs(),
    };
    let mut b = b
        .command(&l.argv[0], &l.argv[1..])?
        .read_only_root(a.read_only);
    if let Some(h) = &a.hostname {
        b = b.hostname(h)?;
    } else if net == Net::Host {
        // Sharing the host's network, the container takes the host's name (as docker).
        if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
            b = b.hostname(h.trim_end())?;
        }
    }
    if let Some(n) = &a.name {
        b = b.name(n)?;
    }
    if let Some(m) = a.memory {
        b = b.memory_limit(m.get())?;
    }
    if let Some(p) = a.pids {
        b = b.pids_limit(p)?;
    }
    if let Some(c) = a.cpus {
        // As docker: more CPUs than the machine has is refused, not silently unlimited.
        let n = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
        if c.get() > n * 1000 {
            return Err(isolate::ConfigError::BadOption(format!(
                "--cpus {}: the range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available",
                c
            )));
        }
        b = b.cpu_limit(c.get())?;
    }
    for e in &l.env {
        b = b.env_pair(e)?;
    }
    b = match io {
        Io::Inherit => b,
        Io::Terminal => {
            // As docker: a terminal has a TERM (the caller's, or xterm).
            if !l.env.iter().any(|e| e.starts_with("TERM=")) {
                let term = std::env::var("TERM").unwrap_or_else(|_| "xterm".into());
                b = b.env("TERM", &term)?;
            }
            b.terminal(true)
        }
        Io::Fds(i, o, e) => b
            .stdin(isolate::Stdio::Fd(i))
            .stdout(isolate::Stdio::Fd(o))
            .stderr(isolate::Stdio::Fd(e)),
    };
    for v in &a.volumes {
        b = b.bind_mount(&v.source, &v.target, v.read_only)?;
    }
    for t in &a.tmpfs {
        b = b.tmpfs(t, None)?;
    }
    let userns =
        a.security.userns || !a.security.uidmap.is_empty() || !a.security.gidmap.is_empty();
    if !userns && !a.security.privileged {
        // The container's own cgroups, read-only, through its cgroup namespace (as docker):
        // a program can read its limits. Not in a user namespace (no v1 mounts there).
        let mounts = cgroupfs::cgroup_fs_mounts("/sys/fs/cgroup", true)
            .map_err(|e| isolate::ConfigError::BadOption(format!("/sys/fs/cgroup: {e}")))?;
        for m in mounts {
            b = b.mount(m)?;
        }
    }
    if let Some(w) = &l.workdir {
        // As docker: a missing working directory (-w or the image's WorkingDir) is created.
        b = b.working_dir(w)?.create_working_dir(true);
    }
    if let Some((uid, gid)) = l.user {
        b = b.user(uid, gid);
    }
    if let Some(p) = &a.cgroup_parent {
        b = b.cgroup_parent(CgroupParent::Path(p.clone()));
    }
    let b = secure(b, &a.security)?;
    let net = match net {
        Net::None => Network::None,
        Net::Host => Network::Host,
        Net::Bridge => Network::Bridge(bridge(&a.net.bridge)?),
    };
    let mut b = b.network(net);
    for p in &a.net.ports {
        b = b.publish(*p)?;
    }
    b.init(a.init)
        .privileged(a.security.privileged)
        .seccomp(a.security.seccomp.into())
        .system_paths(a.security.system_paths.into())
        .build()
}

fn human(bytes: u64) -> String {
    if bytes.is_multiple_of(1 << 30) {
        format!("{} GiB", bytes >> 30)
    } else if bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

fn fail(msg: impl std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("container: {msg}");
    ExitCode::from(code)
}

/// A bad invocation: one line, then where the flags are explained (as docker).
fn usage_error(msg: impl std::fmt::Display, help: &str) -> ExitCode {
    eprintln!("container: {msg}\nSee '{help}'.");
    ExitCode::from(125)
}

/// The command line of the no-argument form: an interactive shell, as `run` would start it.
fn interactive() -> Vec<OsString> {
    let mut argv: Vec<OsString> = ["container", "run", "--memory", "100M"]
        .map(OsString::from)
        .to_vec();
    if tty::stdin_is_terminal() {
        // The shell gets a terminal of its own: job control, `exit` and Ctrl-D work.
        argv.push(OsString::from("-it"));
    }
    if let Some(term) = std::env::var_os("TERM") {
        let mut kv = OsString::from("TERM=");
        kv.push(term);
        argv.extend([OsString::from("-e"), kv]);
    }
    argv.extend(["--", "/bin/sh"].map(OsString::from));
    argv
}

/// `import`, `images`, `rmi`.
fn image_command(c: Command) -> ExitCode {
    if rawsys::process::geteuid() != 0 {
        return fail(
            "images need root (layers keep their owners and device nodes)",
            125,
        );
    }
    let store = image::Store::open();
    let r = match c {
        Command::Import(a) => {
            image::import(&store, &a.source, &a.reference).map(|id| format!("{id}\n"))
        }
        Command::Images => image::images_table(&store),
        Command::Rmi(a) => {
            let mut out = String::new();
            for i in &a.images {
                match store.remove(i) {
                    Ok(s) => out.push_str(&s),
                    Err(e) => {
                        print!("{out}");
                        return fail(e, 1);
                    }
                }
            }
            Ok(out)
        }
        _ => Ok(String::new()),
    };
    match r {
        Ok(s) => {
            print!("{s}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e, 1),
    }
}

/// `container cleanup`: every leftover of runs whose `container` process is gone.
fn cleanup(c: &cli::CleanupArgs) -> ExitCode {
    let net = match bridge(&c.bridge) {
        Ok(b) => b,
        Err(e) => return fail(e, 125),
    };
    let cgroups = match isolate::cgroup::remove_stale_default(&CgroupParent::Own) {
        Ok(n) => n,
        Err(e) => return fail(e, 125),
    };
    let layers = match image::remove_stale(&image::Store::open()) {
        Ok(n) => n,
        Err(e) => return fail(e, 125),
    };
    match net.remove_stale() {
        Ok(leases) => {
            println!(
                "removed {cgroups} stale cgroup directories and {leases} stale network leases"
            );
            println!("removed {layers} stale writable layers");
            if let Ok(root) = state::Root::open() {
                let n = manage::remove_crashed(&root) + root.remove_stale();
                println!("removed {n} stale detached-container directories");
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e, 125),
    }
}

fn main() -> ExitCode {
    let mut argv: Vec<OsString> = std::env::args_os().collect();
    if argv.len() <= 1 {
        argv = interactive();
    }
    let help = match argv.get(1).and_then(|a| a.to_str()) {
        Some(
            c @ ("run" | "cleanup" | "import" | "images" | "rmi" | "ps" | "exec" | "stop" | "kill"
            | "logs" | "rm" | "inspect" | "wait"),
        ) => format!("container {c} --help"),
        _ => "container --help".into(),
    };
    let help = help.as_str();
    let args = match cli::parse(argv.clone()) {
        Ok(cli::Cli {
            command: Some(Command::Run(a)),
        }) => a,
        Ok(cli::Cli {
            command: Some(Command::Cleanup(c)),
        }) => return cleanup(&c),
        Ok(cli::Cli {
            command: Some(other @ (Command::Import(_) | Command::Images | Command::Rmi(_))),
        }) => return image_command(other),
        Ok(cli::Cli {
            command: Some(other),
        }) => return manage::command(other),
        // `container` alone was made `run` above; flags without a command land here.
        Ok(cli::Cli { command: None }) => return usage_error("no command given", help),
        // --help: the text on stdout, success.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => return usage_error(cli::describe(&e), help),
    };
    // Bridge by default, as docker (detached too); CONTAINER_NET overrides the default (not
    // an explicit --net).
    let net = match args.net.net {
        Some(n) => Ok(n),
        None => Net::from_env(),
    };
    let net = match net {
        Ok(n) => n,
        Err(e) => return usage_error(e, help),
    };
    if let Some(v) = std::env::var_os(detach::SUPERVISE_ENV) {
        // SAFETY: the supervisor is single-threaded here, and the variable must not reach
        // what it starts.
        unsafe { std::env::remove_var(detach::SUPERVISE_ENV) };
        return ExitCode::from(detach::supervise(&args, net, &v.to_string_lossy()));
    }
    if rawsys::process::geteuid() != 0 && args.detach {
        return fail("-d needs root (the state root is shared with isorun)", 125);
    }
    // Leftovers of crashed earlier runs (their owner process is gone) are removed first.
    let _ = isolate::cgroup::remove_stale_default(&CgroupParent::Own);
    let _ = image::remove_stale(&image::Store::open());
    if args.detach {
        return match detach::run_detached(&args, net, &argv) {
            Ok(id) => {
                println!("{id}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e, 125),
        };
    }
    // The root, command and identity, with an image's config applied; its writable layer
    // (if any) is removed when `launch` is dropped, after the container ends.
    let launch = match image::prepare(&args) {
        Ok(l) => l,
        Err(e) => return fail(e, 125),
    };
    let io = if args.tty { Io::Terminal } else { Io::Inherit };
    let container = match build(&args, net, &launch, io) {
        Ok(c) => c,
        Err(e) => return fail(e, 125),
    };
    if let Rootfs::Dir(d) = container.rootfs()
        && !std::path::Path::new(d).is_dir()
    {
        return fail(format_args!("rootfs {d}: no such directory"), 125);
    }
    let ran = if args.tty {
        run_on_terminal(&container, args.interactive)
    } else {
        container.run()
    };
    let out = match ran {
        Ok(o) => o,
        Err(e) => return start_failure(e, &launch.argv[0]),
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

/// `run -t`: starts the container on its own pty and relays the terminal until it ends.
fn run_on_terminal(c: &Container, input: bool) -> Result<isolate::Outcome, Error> {
    let mut running = c.spawn()?;
    let Some(master) = running.take_terminal() else {
        return Err(Error::Unexpected("no pty master".into()));
    };
    // Our child, not reaped yet: its pid cannot have been reused.
    let pidfd = rawsys::process::pidfd_open(running.pid(), rawsys::process::PidfdFlags::empty())
        .map_err(|errno| Error::Host {
            step: "pidfd_open".into(),
            errno,
        })?;
    let relayed = tty::relay(&master, &pidfd, input, &|s| {
        let _ = running.kill(s);
    });
    if let Err(e) = relayed {
        eprintln!("container: {e}");
        let _ = running.kill(isolate::Signal::SIGKILL);
    }
    running.wait()
}

/// A failed start in the exit codes of `run --help`.
fn start_failure(e: Error, argv0: &str) -> ExitCode {
    match e {
        e if e.is_command_not_found() => {
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
            fail(
                format_args!("{what} inside the container: {argv0} ({e})"),
                code,
            )
        }
        e @ Error::Child { .. } => fail(format_args!("container setup failed: {e}"), 125),
        e => fail(e, 125),
    }
}
