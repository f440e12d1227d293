//! `run -d`: a container that outlives the command, on isolate's lifecycle.
//!
//! Who keeps its output and its exit code once `run -d` has returned? A small supervisor, as
//! conmon is for podman: `run -d` starts this same program again (`/proc/self/exe`, in a new
//! session, with `CONTAINER_SUPERVISE=ID NAME` set) and waits only for its one-line report.
//! The supervisor prepares the root (so a writable layer names the supervisor as its owner),
//! creates and starts the container through the shared [`StateRoot`](isolate::StateRoot) (the
//! container's process is its child), reports `ok` or the error, and then stays: it copies
//! the container's stdout and stderr (or its terminal) into the bounded log, reaps the
//! process, gives back its bridge network (DNAT rules, address lease; the veth goes with the
//! container's network namespace), records the exit code and the times in `info.json` for
//! `ps`, `wait` and `inspect`, and with `--rm` deletes the container. Its own writable layer
//! goes when it exits.
//!
//! On the bridge the container's lease is owned by the container's own process (isolate's
//! lifecycle hands it over at `create`), not by the supervisor: a `kill -9` of the
//! supervisor leaves a running container its network, and once the container is gone too,
//! `container cleanup` (or the next container on the bridge) finds the lease stale and
//! removes it with the DNAT rules and the veth, and deletes the container's state. The
//! supervisor holds the published host ports (the sockets `create` returns) while the
//! container runs, as docker's proxy does.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use isolate::ContainerState;
use rawsys::io::{self, DupFlags, PipeFlags};
use rawsys::process::{self, WaitId, WaitOptions, WaitStatus};

use crate::cli::{Net, RunArgs};
use crate::logs::LogWriter;
use crate::state::{self, Info, Root};

/// The environment variable that makes `container` the supervisor of one container.
pub(crate) const SUPERVISE_ENV: &str = "CONTAINER_SUPERVISE";

/// A new container id: 32 random bytes in hex (docker's form; `ps` shows the first 12).
fn new_id() -> Result<String, String> {
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| format!("/dev/urandom: {e}"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// A docker-like name from the id's bytes: `adjective_noun`.
fn generated_name(id: &str) -> String {
    const ADJ: [&str; 16] = [
        "brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "merry",
        "nimble", "proud", "quiet", "sharp", "tender", "witty",
    ];
    const NOUN: [&str; 16] = [
        "babbage", "curie", "darwin", "euler", "fermat", "gauss", "hopper", "kepler", "lovelace",
        "noether", "pascal", "ritchie", "shannon", "thompson", "turing", "wozniak",
    ];
    let n = |i: usize| usize::from_str_radix(&id[i..i + 1], 16).unwrap_or(0);
    format!("{}_{}", ADJ[n(0)], NOUN[n(1)])
}

/// `run -d`: starts the supervisor and prints the id once it reports the container started.
pub(crate) fn run_detached(a: &RunArgs, net: Net, argv: &[OsString]) -> Result<String, String> {
    let root = Root::open()?;
    let id = new_id()?;
    let name = match &a.name {
        Some(n) => n.clone(),
        None => {
            // A generated name already taken gets the id's start appended.
            let g = generated_name(&id);
            match root.states.state(&g) {
                Err(isolate::Error::NotFound(_)) => g,
                _ => format!("{g}_{}", &id[..6]),
            }
        }
    };
    if !state::valid_name(&name) {
        return Err(format!(
            "bad --name {name:?} (want [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 128)"
        ));
    }
    if root.states.state(&name).is_ok() {
        return Err(format!(
            "the name {name} is in use by another container (container rm {name} removes it)"
        ));
    }
    check_network(a, net)?;
    // This very program (its path, so that `ps` names it `container`).
    let exe = std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into());
    let mut cmd = Command::new(exe);
    // `run`, then a generated name as if given (the container's /etc/hosts names it).
    cmd.arg(&argv[1]);
    if a.name.is_none() {
        cmd.args(["--name", &name]);
    }
    cmd.args(&argv[2..])
        .env(SUPERVISE_ENV, format!("{id} {name}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe and touches no memory of this process; the new
    // session keeps the supervisor clear of this terminal's hangup and job control.
    unsafe {
        cmd.pre_exec(|| {
            process::setsid()
                .map(drop)
                .map_err(|e| std::io::Error::from_raw_os_error(e.raw()))
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("start the supervisor: {e}"))?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    match line.trim_end().strip_prefix("err ") {
        None if line.trim_end() == "ok" => Ok(id),
        Some(msg) => {
            let _ = child.wait();
            Err(msg.to_string())
        }
        None => {
            let st = child.wait().map_err(|e| e.to_string())?;
            Err(format!("the supervisor ended without a report ({st})"))
        }
    }
}

/// A published host port in use (by a host program or another container), found before the
/// supervisor starts: nothing is created for a run refused so. The supervisor's `create`
/// checks again (and `-p` without the bridge is refused when the container is built).
fn check_network(a: &RunArgs, net: Net) -> Result<(), String> {
    if a.net.ports.is_empty() || net != Net::Bridge {
        return Ok(());
    }
    let cfg = crate::bridge(&a.net.bridge).map_err(|e| e.to_string())?;
    cfg.check_ports(&a.net.ports).map_err(|e| e.to_string())
}

/// What the supervisor reports: `ok`, or `err MESSAGE` on one line.
fn report(r: &Result<(), String>) {
    let msg = match r {
        Ok(()) => "ok\n".to_string(),
        Err(e) => format!("err {}\n", e.replace('\n', " ")),
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(msg.as_bytes()).and_then(|()| out.flush());
}

/// A std file as the `rawsys` descriptor the builder takes.
fn owned(f: impl Into<std::os::fd::OwnedFd>) -> rawsys::OwnedFd {
    rawsys::OwnedFd::from(f.into())
}

/// The supervisor of container `name` (`SUPERVISE_ENV` was `ID NAME`); returns the exit code
/// of this process.
pub(crate) fn supervise(a: &RunArgs, net: Net, id_name: &str) -> u8 {
    let Some((id, name)) = id_name.split_once(' ') else {
        report(&Err(format!("bad {SUPERVISE_ENV}")));
        return 125;
    };
    let root = match Root::open() {
        Ok(r) => r,
        Err(e) => {
            report(&Err(e));
            return 125;
        }
    };
    let dir = root.extra(name);
    let started = start(a, net, &root, id, name);
    let (st, launch, io, port_holds) = match started {
        Ok(s) => s,
        Err(e) => {
            report(&Err(e));
            let _ = std::fs::remove_dir_all(&dir);
            return 125;
        }
    };
    report(&Ok(()));
    // From here on nobody reads our stdout.
    if let Ok(null) = std::fs::File::options().write(true).open("/dev/null") {
        let _ = io::dup3(owned(null), 1, DupFlags::empty()).map(rawsys::OwnedFd::into_raw);
    }
    let code = watch(&root, &st, &dir, io);
    // Held until the container has ended and its DNAT rules are gone.
    drop(port_holds);
    if a.rm {
        let _ = root.states.delete(name, true);
        let _ = std::fs::remove_dir_all(&dir);
    } else if matches!(root.states.state(name), Err(isolate::Error::NotFound(_))) {
        // Deleted under us (`isorun delete -f`): our directory goes with it.
        let _ = std::fs::remove_dir_all(&dir);
    }
    drop(launch);
    u8::try_from(code).unwrap_or(255)
}

/// The container's output: its stdout and stderr pipes, or its terminal's master.
enum Output {
    Pipes(rawsys::OwnedFd, rawsys::OwnedFd),
    Terminal(rawsys::OwnedFd),
}

/// What `start` hands to the supervision: the container's state, the launch (holding the
/// writable layer), the output to copy and the sockets holding its published host ports.
type Started = (
    ContainerState,
    crate::image::Launch,
    Output,
    Vec<rawsys::OwnedFd>,
);

/// Prepares, creates and starts the container.
fn start(a: &RunArgs, net: Net, root: &Root, id: &str, name: &str) -> Result<Started, String> {
    let launch = crate::image::prepare(a)?;
    let null = std::fs::File::open("/dev/null").map_err(|e| format!("/dev/null: {e}"))?;
    let mut pipes = None;
    let io = if a.tty {
        crate::Io::Terminal
    } else {
        let (out_r, out_w) = io::pipe2(PipeFlags::CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
        let (err_r, err_w) = io::pipe2(PipeFlags::CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
        pipes = Some((out_r, err_r));
        crate::Io::Fds(owned(null), out_w, err_w)
    };
    let c = crate::build(a, net, &launch, io).map_err(|e| e.to_string())?;
    if let isolate::Rootfs::Dir(d) = c.rootfs()
        && !std::path::Path::new(d).is_dir()
    {
        return Err(format!("rootfs {d}: no such directory"));
    }
    let image = match (&a.rootfs, &launch.root) {
        (Some(r), _) => r.clone(),
        (None, crate::image::Root::Overlay { .. }) => a.command[0].clone(),
        _ => "(host)".into(),
    };
    let command = serde_json::to_string(&launch.argv).unwrap_or_default();
    let limits = serde_json::json!({
        "memory": a.memory.map(isolate::ByteSize::get),
        "cpus_milli": a.cpus.map(isolate::Millicpus::get),
        "pids": a.pids,
    })
    .to_string();
    let rm = if a.rm { "1" } else { "0" };
    let (mode, ports) = crate::manage::network_annotations(net, &a.net.ports);
    let ann = [
        (state::A_ID, id),
        (state::A_IMAGE, image.as_str()),
        (state::A_COMMAND, command.as_str()),
        (state::A_LIMITS, limits.as_str()),
        (state::A_RM, rm),
        (crate::manage::A_NETWORK, mode.as_str()),
        (crate::manage::A_PORTS, ports.as_str()),
    ];
    let dir = root.extra(name);
    // A directory of a container that no longer exists (a crash) is stale.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let me = std::process::id();
    let mut info = Info {
        supervisor: (me, state::proc_start_time(me).unwrap_or(0)),
        ..Info::default()
    };
    info.write(&dir)?;
    // There from the start, so that `logs -f` right after `run -d` follows it.
    std::fs::File::create(dir.join("log")).map_err(|e| format!("create log: {e}"))?;
    let describe = |e: isolate::Error| match e {
        isolate::Error::Exists(n) => format!("the name {n} is in use by another container"),
        e if e.is_command_not_found() => {
            format!(
                "command not found inside the container: {} ({e})",
                launch.argv[0]
            )
        }
        e => e.to_string(),
    };
    let created = root
        .states
        .create_with_handles(&c, name, &ann)
        .map_err(describe)?;
    let st = created.state;
    let out = match (created.terminal, pipes.take()) {
        (Some(m), _) => Output::Terminal(m),
        (None, Some((o, e))) => Output::Pipes(o, e),
        (None, None) => {
            let _ = root.states.delete(name, true);
            let _ = process::waitid(WaitId::Pid(st.pid), WaitOptions::EXITED);
            return Err("no pty master from the container".into());
        }
    };
    // Our copies of the pipes' write ends go with the description.
    drop(c);
    if let Err(e) = root.states.start(name) {
        let _ = root.states.delete(name, true);
        let _ = process::waitid(WaitId::Pid(st.pid), WaitOptions::EXITED);
        return Err(e.to_string());
    }
    info.started = Some(state::now());
    info.write(&dir)?;
    Ok((st, launch, out, created.port_holds))
}

/// Copies the output into the log until the container ends, reaps it, gives back its network
/// and records how it ended; returns its exit code.
fn watch(root: &Root, st: &ContainerState, dir: &std::path::Path, out: Output) -> i32 {
    let limit = std::env::var("CONTAINER_LOG_SIZE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(crate::logs::DEFAULT_LOG_SIZE);
    let log = LogWriter::create(dir, limit).map(|w| Arc::new(Mutex::new(w)));
    if let Err(e) = &log {
        let mut info = Info::read(dir).unwrap_or_default();
        info.error = Some(e.clone());
        let _ = info.write(dir);
    }
    let copy = |fd: rawsys::OwnedFd, stream: u8| {
        let log = log.as_ref().ok().cloned();
        std::thread::spawn(move || {
            let mut f = std::fs::File::from(std::os::fd::OwnedFd::from(fd));
            let mut buf = vec![0u8; 16 << 10];
            loop {
                match f.read(&mut buf) {
                    // EIO: a terminal's last holder has gone.
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if let Some(l) = &log
                            && let Ok(mut w) = l.lock()
                        {
                            let _ = w.write(stream, &buf[..n]);
                        }
                    }
                }
            }
        })
    };
    let threads = match out {
        Output::Pipes(o, e) => vec![copy(o, 1), copy(e, 2)],
        Output::Terminal(m) => vec![copy(m, 1)],
    };
    let code = loop {
        match process::waitid(WaitId::Pid(st.pid), WaitOptions::EXITED) {
            Ok(Some(i)) => match i.status {
                WaitStatus::Exited(c) => break c,
                WaitStatus::Signaled { signal, .. } => break 128 + signal.raw(),
                _ => continue,
            },
            Ok(None) | Err(rawsys::Errno::EINTR) => continue,
            Err(_) => break 255,
        }
    };
    // Before the exit code is recorded: once `wait` or `stop` returns, the network is gone.
    let released = match root.states.release_network(&st.id) {
        Ok(()) | Err(isolate::Error::NotFound(_)) => None,
        Err(e) => Some(format!("release the network: {e}")),
    };
    for t in threads {
        let _ = t.join();
    }
    let mut info = Info::read(dir).unwrap_or_default();
    info.finished = Some(state::now());
    info.exit_code = Some(code);
    if released.is_some() {
        info.error = released;
    }
    // In place: a `wait` holding the file reads it even after --rm has removed it.
    if info.write_in_place(dir).is_err() {
        let _ = info.write(dir);
    }
    code
}
