//! Running the config's hooks with the container's state on their stdin, in the spec's
//! order: `prestart` then `createRuntime` at the end of `create` (the container exists, its
//! process waits before `execve`), `poststart` after `start`, `poststop` after `delete`.
//!
//! isolate's `createRuntime` point is before `pivot_root`; the lifecycle does not stop there
//! yet, so isorun runs them once `create` has set the container up (the namespaces exist,
//! the process has not started): a hook that needs the rootfs before `pivot_root` (to mount
//! into it from outside) sees it already entered. `createContainer` runs next, in the
//! container's namespaces but the mount namespace (its path and files resolve as in the
//! runtime's, as the spec asks; the container's own root is already pivoted, so the mount
//! namespace of "before pivot_root" is gone). `startContainer` runs in `start` before the
//! byte that releases the process, in all the container's namespaces (its path resolves in
//! the container); a failing one kills the container and `start` fails. Both run with the
//! runtime's credentials, not the container process's user and capabilities.

use isolate::hooks::{Hook as IsolateHook, run_hook, run_hook_in_pidfd};

use crate::spec::Hook;

/// The isolate form of a config hook (checked: absolute path, no NUL, positive timeout).
pub(crate) fn to_isolate(h: &Hook) -> Result<IsolateHook, String> {
    let timeout = match h.timeout {
        None => None,
        Some(t) if t > 0 => Some(u32::try_from(t).unwrap_or(u32::MAX)),
        Some(t) => return Err(format!("hook {}: timeout {t} must be positive", h.path)),
    };
    IsolateHook::new(&h.path, h.args.clone(), h.env.clone(), timeout)
        .map_err(|e| format!("hook {}: {e}", h.path))
}

/// Runs `hooks` in order with `state` on stdin; the first failure stops the list.
pub(crate) fn run_all<'a>(
    hooks: impl IntoIterator<Item = &'a Hook>,
    state: &[u8],
) -> Result<(), String> {
    for h in hooks {
        let hook = to_isolate(h)?;
        run_hook(&hook, state).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Runs `hooks` in order in the namespaces of the container's process `pid`, this
/// process's own unreaped child (its mount namespace only with `mount`: see
/// [`isolate::hooks::run_hook_in`]); the first failure stops the list.
pub(crate) fn run_all_in(
    hooks: &[Hook],
    state: &[u8],
    pid: i32,
    mount: bool,
) -> Result<(), String> {
    if hooks.is_empty() {
        return Ok(());
    }
    let pidfd = rawsys::process::pidfd_open(pid, rawsys::process::PidfdFlags::empty())
        .map_err(|e| format!("pidfd_open {pid}: {e}"))?;
    run_all_in_pidfd(hooks, state, &pidfd, mount)
}

/// [`run_all_in`] for the process behind `pidfd` (from
/// [`isolate::StateRoot::process_fd`]: checked against the container's start time, so a
/// reused pid is never joined).
pub(crate) fn run_all_in_pidfd(
    hooks: &[Hook],
    state: &[u8],
    pidfd: &rawsys::OwnedFd,
    mount: bool,
) -> Result<(), String> {
    for h in hooks {
        let hook = to_isolate(h)?;
        run_hook_in_pidfd(&hook, state, pidfd, mount).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Runs every hook of `point` (poststart, poststop) with the state of `st` as `status`; a
/// failure is a warning and the next hook still runs, as the spec says for those points.
pub(crate) fn run_warning(
    point: &str,
    hooks: &[Hook],
    st: &isolate::ContainerState,
    status: &str,
    log: &mut crate::log::Log,
) {
    if hooks.is_empty() {
        return;
    }
    let json = crate::state::state_json(st, Some(status));
    for h in hooks {
        if let Err(e) = run_all([h], &json) {
            log.warn(&format!("{point} hook: {e}"));
        }
    }
}
