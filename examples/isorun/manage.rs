//! The commands on an existing container, by id: `start`, `state`, `kill`, `delete`, `pause`,
//! `resume`, `list`, `ps`.

use isolate::{Error, Signal, StateRoot, Status};

use crate::cli::Format;
use crate::create::Failure;
use crate::log::Log;
use crate::state::{self, describe};

fn fail(e: Error) -> Failure {
    describe(&e)
}

/// `start`, then the poststart hooks (a failing one is a warning, as the spec says).
///
/// The state is read once, before: `start` changes only the status, and each hook point is
/// given the status of its moment.
pub(crate) fn start(root: &StateRoot, id: &str, log: &mut Log) -> Result<(), Failure> {
    // A missing container (or a wrong state) is start's own error below.
    let st = root.state(id).ok();
    let hooks = st.as_ref().map(state::later_hooks).unwrap_or_default();
    if let Some(st) = &st {
        // startContainer: before the process is released. The hooks join the process
        // through a pidfd checked against its start time: a pid reused since `state` was
        // read is never joined (nor killed below).
        if st.status == Status::Created && !hooks.start_container.is_empty() {
            let json = state::state_json(st, Some("created"));
            let ran = match root.process_fd(id).map_err(fail)? {
                Some(pidfd) => {
                    crate::hooks::run_all_in_pidfd(&hooks.start_container, &json, &pidfd, true)
                        .map_err(|e| (e, Some(pidfd)))
                }
                None => Err(("the container's process ended".into(), None)),
            };
            if let Err((e, pidfd)) = ran {
                // runtime.md: stop the container; it is stopped when start returns.
                kill_and_wait(root, id, pidfd);
                return Err(format!("startContainer hook: {e}"));
            }
        }
    }
    root.start(id).map_err(fail)?;
    if let Some(st) = &st {
        crate::hooks::run_warning("poststart", &hooks.poststart, st, "running", log);
    }
    Ok(())
}

/// Kills container `id` and waits up to 5 s for its process (behind `pidfd`, when it still
/// runs) to end (its pidfd turns readable).
fn kill_and_wait(root: &StateRoot, id: &str, pidfd: Option<rawsys::OwnedFd>) {
    use rawsys::epoll::{self, EpollCreateFlags, EpollEvent, EpollFlags};
    let _ = root.kill(id, Signal::SIGKILL, true);
    let (Some(fd), Ok(ep)) = (pidfd, epoll::epoll_create1(EpollCreateFlags::CLOEXEC)) else {
        return;
    };
    if epoll::epoll_ctl_add(&ep, &fd, EpollEvent::new(EpollFlags::IN, 0)).is_ok() {
        let mut ev = [EpollEvent::default(); 1];
        let _ = epoll::epoll_pwait(&ep, &mut ev, 5000, None);
    }
}

/// `state`: the runtime-spec JSON.
pub(crate) fn state(root: &StateRoot, id: &str) -> Result<String, Failure> {
    let st = root.state(id).map_err(fail)?;
    serde_json::to_string_pretty(&state::oci_state(&st, None)).map_err(|e| e.to_string())
}

pub(crate) use crate::signal::parse_signal;

/// `kill`.
pub(crate) fn kill(root: &StateRoot, id: &str, signal: &str, all: bool) -> Result<(), Failure> {
    let sig = parse_signal(signal)?;
    root.kill(id, sig, all).map_err(fail)
}

/// `delete`: a stopped container (or with `force` any, killed first; an unknown id is then
/// no error), then the poststop hooks (failures are warnings).
pub(crate) fn delete(
    root: &StateRoot,
    id: &str,
    force: bool,
    log: &mut Log,
) -> Result<(), Failure> {
    if let Some(st) = root.remove(id, force).map_err(fail)? {
        let hooks = state::later_hooks(&st);
        crate::hooks::run_warning("poststop", &hooks.poststop, &st, "stopped", log);
    }
    Ok(())
}

/// `pause`.
pub(crate) fn pause(root: &StateRoot, id: &str) -> Result<(), Failure> {
    root.pause(id).map_err(fail)
}

/// `resume`.
pub(crate) fn resume(root: &StateRoot, id: &str) -> Result<(), Failure> {
    root.resume(id).map_err(fail)
}

/// `list`.
pub(crate) fn list(root: &StateRoot, quiet: bool, format: Format) -> Result<String, Failure> {
    let mut states = Vec::new();
    for id in root.list().map_err(fail)? {
        match root.state(&id) {
            Ok(st) => states.push(state::oci_state(&st, None)),
            Err(Error::NotFound(_)) => {}
            Err(e) => return Err(fail(e)),
        }
    }
    if quiet {
        return Ok(states.iter().map(|s| format!("{}\n", s.id)).collect());
    }
    Ok(match format {
        Format::Json => format!(
            "{}\n",
            serde_json::to_string(&states).map_err(|e| e.to_string())?
        ),
        Format::Table => {
            let mut out = String::from("ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n");
            for s in &states {
                out.push_str(&format!(
                    "{}\t{}\t{}\t{}\t{}\troot\n",
                    s.id, s.pid, s.status, s.bundle, s.created
                ));
            }
            out
        }
    })
}

/// `ps`: the pids in the container's cgroup.
pub(crate) fn ps(root: &StateRoot, id: &str, format: Format) -> Result<String, Failure> {
    let st = root.state(id).map_err(fail)?;
    let mut pids: Vec<i32> = Vec::new();
    if st.status != Status::Stopped {
        if let Some(dir) = st.cgroup_paths.first() {
            let procs = std::fs::read_to_string(format!("{dir}/cgroup.procs"))
                .map_err(|e| format!("{dir}/cgroup.procs: {e}"))?;
            pids = procs
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect();
        } else {
            pids.push(st.pid);
        }
    }
    pids.sort_unstable();
    Ok(match format {
        Format::Json => format!(
            "{}\n",
            serde_json::to_string(&pids).map_err(|e| e.to_string())?
        ),
        Format::Table => {
            let mut out = String::from("PID\n");
            for p in pids {
                out.push_str(&format!("{p}\n"));
            }
            out
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        for s in ["KILL", "SIGKILL", "sigkill", "9"] {
            assert_eq!(parse_signal(s), Ok(Signal::SIGKILL), "{s}");
        }
        assert_eq!(parse_signal("TERM"), Ok(Signal::SIGTERM));
        assert_eq!(parse_signal("SIGUSR1"), Ok(Signal::SIGUSR1));
        assert!(parse_signal("SIGFLY").is_err());
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("65").is_err());
    }
}
