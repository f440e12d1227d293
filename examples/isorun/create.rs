//! `create` and `run`: config.json to a created container (hooks, pid file), and `run`'s
//! start and wait.

use std::io::Write;
use std::path::Path;

use isolate::{Signal, StateRoot};
use rawsys::process::{self, WaitId, WaitOptions, WaitStatus};

use crate::cli::CreateArgs;
use crate::exec::{Foreground, Forwarder};
use crate::log::Log;
use crate::state;
use crate::{convert, hooks, manage};

/// What a failed command reports: the message (exit status 1).
pub(crate) type Failure = String;

/// `create`: returns the container's pid. On any failure nothing is left: the container is
/// deleted (killed, its cgroup and state removed) before the error is reported.
pub(crate) fn create(
    root: &StateRoot,
    a: &CreateArgs,
    systemd_cgroup: bool,
    log: &mut Log,
) -> Result<i32, Failure> {
    let bundle = match &a.bundle {
        Some(b) => b.clone(),
        None => std::env::current_dir().map_err(|e| format!("current directory: {e}"))?,
    };
    let bundle =
        std::path::absolute(&bundle).map_err(|e| format!("bundle {}: {e}", bundle.display()))?;
    if !bundle.is_dir() {
        return Err(format!("bundle {}: not a directory", bundle.display()));
    }
    let spec = convert::read_config(&bundle)?;
    let conv = convert::convert(&spec, &bundle, &a.id, systemd_cgroup, a.preserve_fds)?;
    let bundle_s = bundle.to_string_lossy().into_owned();
    let rootfs = match conv.container.rootfs() {
        isolate::Rootfs::Dir(d) => d.clone(),
        _ => String::new(),
    };
    let annotations =
        state::record_annotations(&bundle_s, &rootfs, &conv.hooks, &spec.annotations)?;
    let refs: Vec<(&str, &str)> = annotations
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if let Some(m) = conv.umask {
        // The container's process is forked from this one and keeps the mask.
        process::umask(m);
    }
    log.debug(&format!("create {} from {}", a.id, bundle.display()));
    let terminal = spec.process.as_ref().is_some_and(|p| p.terminal);
    let console = a.console_socket.as_deref();
    let st = crate::console::create(root, &conv.container, &a.id, &refs, terminal, console)?;
    let undo = |msg: String| -> Failure {
        let _ = root.delete(&a.id, true);
        msg
    };
    let state = state::state_json(&st, Some("creating"));
    let ran = hooks::run_all(
        conv.hooks.prestart.iter().chain(&conv.hooks.create_runtime),
        &state,
    )
    .map_err(|e| format!("createRuntime hook: {e}"))
    .and_then(|()| {
        hooks::run_all_in(&conv.hooks.create_container, &state, st.pid, false)
            .map_err(|e| format!("createContainer hook: {e}"))
    });
    if let Err(e) = ran {
        // runtime.md's lifecycle: the container is destroyed (step 12), then the poststop
        // hooks run (step 13).
        let _ = root.delete(&a.id, true);
        hooks::run_warning("poststop", &conv.hooks.poststop, &st, "stopped", log);
        return Err(e);
    }
    if let Some(p) = &a.pid_file {
        write_pid_file(p, st.pid).map_err(|e| undo(format!("pid file {}: {e}", p.display())))?;
    }
    Ok(st.pid)
}

/// Writes `pid` to `path` through a temporary file renamed over it.
pub(crate) fn write_pid_file(path: &Path, pid: i32) -> std::io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("no file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let res = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(pid.to_string().as_bytes()))
        .and_then(|()| std::fs::rename(&tmp, path));
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// `run`: create and start; with `detach` return, else wait for the process (this process
/// is its parent), delete the container and return its exit status (128 + signal).
pub(crate) fn run(
    root: &StateRoot,
    a: &CreateArgs,
    detach: bool,
    systemd_cgroup: bool,
    log: &mut Log,
) -> Result<i32, Failure> {
    // In the foreground the signals this process gets are the container process's, as
    // runc's `run` forwards them: blocked from before the process exists (isolate resets the
    // mask before execve), so none is lost or ends this process first.
    let signals = if detach {
        None
    } else {
        Some(Forwarder::block()?)
    };
    let pid = create(root, a, systemd_cgroup, log)?;
    if let Err(e) = manage::start(root, &a.id, log) {
        let _ = root.delete(&a.id, true);
        let _ = process::waitid(WaitId::Pid(pid), WaitOptions::EXITED);
        return Err(e);
    }
    let Some(signals) = signals else {
        return Ok(0);
    };
    let mut child = Child { pid };
    let code = signals.forward_until_exit(&mut child)?;
    manage::delete(root, &a.id, false, log)?;
    Ok(code)
}

/// The container's process that `run` created: this process's child, not reaped before the
/// forwarding ends, so its pid names no other process (an ended one is a zombie until then).
struct Child {
    pid: i32,
}

impl Foreground for Child {
    fn pid(&self) -> i32 {
        self.pid
    }

    fn signal(&self, sig: Signal) -> Result<(), Failure> {
        process::kill_process(self.pid, sig)
            .map_err(|e| format!("signal {sig:?} to pid {}: {e}", self.pid))
    }

    fn try_exit_code(&mut self) -> Result<Option<i32>, Failure> {
        let opts = WaitOptions::EXITED | WaitOptions::NOHANG;
        loop {
            match process::waitid(WaitId::Pid(self.pid), opts) {
                Ok(Some(s)) => match s.status {
                    WaitStatus::Exited(c) => return Ok(Some(c)),
                    WaitStatus::Signaled { signal, .. } => return Ok(Some(128 + signal.raw())),
                    _ => return Ok(None),
                },
                Ok(None) => return Ok(None),
                Err(rawsys::Errno::EINTR) => continue,
                Err(e) => return Err(format!("wait for pid {}: {e}", self.pid)),
            }
        }
    }
}
