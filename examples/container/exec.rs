//! `container exec [-i] [-t] NAME CMD...`: a process in a running container, joined through
//! isolate's [`StateRoot::exec`](isolate::StateRoot::exec) (its namespaces, cgroups, user,
//! capabilities and seccomp filter, as the container was created with).

use isolate::lifecycle::ExecProcess;
use isolate::{ExitStatus, Signal, Stdio};
use rawsys::process::{self, PidfdFlags};

use crate::state::Root;

/// `container exec`.
#[derive(clap::Args, Debug)]
pub(crate) struct ExecArgs {
    /// Keep stdin open to the process
    #[arg(short, long)]
    pub(crate) interactive: bool,
    /// Give the process a pseudo-terminal
    #[arg(short, long)]
    pub(crate) tty: bool,
    /// Environment variable (repeatable)
    #[arg(short, long = "env", value_name = "K=V")]
    pub(crate) env: Vec<String>,
    /// Working directory inside
    #[arg(short, long, value_name = "DIR")]
    pub(crate) workdir: Option<String>,
    /// The container, by name or id
    #[arg(value_name = "CONTAINER")]
    pub(crate) name: String,
    /// The command and its arguments
    #[arg(
        value_name = "CMD",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub(crate) command: Vec<String>,
}

/// The process's exit code as a shell reports it.
pub(crate) fn code(s: ExitStatus) -> i32 {
    match s {
        ExitStatus::Exited(c) => c,
        ExitStatus::Signaled(s) => 128 + s.raw(),
        ExitStatus::OutOfMemory => 137,
    }
}

/// Runs the command in the container; its exit code, or the error (exit status 126/127 when
/// the command cannot run / is not found, else 125).
pub(crate) fn exec(root: &Root, a: &ExecArgs) -> Result<i32, (String, u8)> {
    let bad = |e: isolate::ConfigError| (e.to_string(), 125);
    let mut p = ExecProcess::new(&a.command[0], &a.command[1..]).map_err(bad)?;
    if a.tty {
        p = p.terminal(true);
        if let Ok(term) = std::env::var("TERM") {
            p = p.env("TERM", &term).map_err(bad)?;
        } else {
            p = p.env("TERM", "xterm").map_err(bad)?;
        }
    } else if !a.interactive {
        let null = std::fs::File::open("/dev/null").map_err(|e| (e.to_string(), 125))?;
        p = p.stdin(Stdio::Fd(rawsys::OwnedFd::from(
            std::os::fd::OwnedFd::from(null),
        )));
    }
    for kv in &a.env {
        p = p.env_pair(kv).map_err(bad)?;
    }
    if let Some(w) = &a.workdir {
        p = p.working_dir(w).map_err(bad)?;
    }
    // A name is the state's id: tried first, without a lookup (exec is on the hot path);
    // an id prefix, or an unknown name, goes through the lookup.
    let mut joined = match crate::state::valid_name(&a.name) {
        true => root.states.exec(&a.name, &p),
        false => Err(isolate::Error::NotFound(a.name.clone())),
    };
    if let Err(isolate::Error::NotFound(_)) = joined {
        let st = root.resolve(&a.name).map_err(|e| (e, 125))?;
        joined = root.states.exec(&st.id, &p);
    }
    let mut h = joined.map_err(|e| match e {
        e if e.is_command_not_found() => {
            let c = if e.errno() == Some(rawsys::Errno::EACCES) {
                126
            } else {
                127
            };
            (format!("cannot run {} in {}: {e}", a.command[0], a.name), c)
        }
        isolate::Error::WrongStatus { status, .. } => (
            format!("container {} is not running ({status})", a.name),
            125,
        ),
        e => (format!("{}: {e}", a.name), 125),
    })?;
    drop(p);
    if let Some(master) = h.take_terminal() {
        // Our own child, not reaped yet: its pid cannot have been reused.
        let pidfd = process::pidfd_open(h.pid(), PidfdFlags::empty())
            .map_err(|e| (format!("pidfd_open: {e}"), 125))?;
        let r = crate::tty::relay(&master, &pidfd, a.interactive, &|s: Signal| {
            let _ = h.kill(s);
        });
        if let Err(e) = r {
            let _ = h.kill(Signal::SIGKILL);
            let _ = h.wait();
            return Err((e, 125));
        }
    }
    let s = h.wait().map_err(|e| (e.to_string(), 125))?;
    Ok(code(s))
}
