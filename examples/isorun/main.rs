//! `isorun`: an OCI runtime (runc's command line) on isolate's lifecycle, for podman
//! (`--runtime`) and containerd (`ctr run --runc-binary`). See README.md beside this file.
//!
//! Every command either does its work and exits 0, or writes one error line (stderr, and the
//! `--log` file) and exits 1 leaving nothing behind; `run` without `--detach` exits with the
//! container's status.

#[path = "../common/cgroupfs.rs"]
mod cgroupfs;
#[path = "../common/civil.rs"]
mod civil;
mod cli;
mod console;
mod convert;
mod create;
mod exec;
mod hooks;
mod info;
mod log;
mod manage;
#[path = "../common/rfc3339.rs"]
mod rfc3339;
#[path = "../common/signal.rs"]
mod signal;
mod spec;
mod state;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use create::Failure;

/// Writes `s` to stdout; a closed stdout (`| head`) is not worth a panic. Returns 0.
fn print(s: &str) -> i32 {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes()).and_then(|()| out.flush());
    0
}

/// Runs the command; `Ok(code)` is the exit status.
fn dispatch(cli: &Cli, log: &mut log::Log) -> Result<i32, Failure> {
    let root = || state::root(&cli.root);
    match &cli.command {
        Command::Create(a) => create::create(&root()?, a, cli.systemd_cgroup, log).map(|_| 0),
        Command::Run { create, detach } => {
            create::run(&root()?, create, *detach, cli.systemd_cgroup, log)
        }
        Command::Start { id } => manage::start(&root()?, id, log).map(|()| 0),
        Command::State { id } => manage::state(&root()?, id).map(|s| print(&format!("{s}\n"))),
        Command::Kill { all, id, signal } => manage::kill(&root()?, id, signal, *all).map(|()| 0),
        Command::Delete { force, id } => manage::delete(&root()?, id, *force, log).map(|()| 0),
        Command::Pause { id } => manage::pause(&root()?, id).map(|()| 0),
        Command::Resume { id } => manage::resume(&root()?, id).map(|()| 0),
        Command::List { quiet, format } => {
            manage::list(&root()?, *quiet, *format).map(|s| print(&s))
        }
        Command::Ps { format, id, .. } => manage::ps(&root()?, id, *format).map(|s| print(&s)),
        Command::Exec(a) => exec::exec(&root()?, a, log),
        Command::Features => Ok(print(&format!("{:#}\n", info::features()))),
        Command::Spec { bundle } => {
            let dir = match bundle {
                Some(b) => b.clone(),
                None => std::env::current_dir().map_err(|e| e.to_string())?,
            };
            info::write_spec(&dir).map(|()| 0)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut log = log::Log::open(cli.log.as_deref(), cli.log_format, cli.debug);
    let needs_root = !matches!(cli.command, Command::Features | Command::Spec { .. });
    if needs_root && rawsys::process::geteuid() != 0 {
        log.error("isorun needs root (run it as root, or through podman/containerd as root)");
        return ExitCode::from(1);
    }
    match dispatch(&cli, &mut log) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(255)),
        Err(msg) => {
            log.error(&msg);
            ExitCode::from(1)
        }
    }
}
