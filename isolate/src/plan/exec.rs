//! What the child executes at the end: `execve` arguments, environment and the `PATH`
//! candidates, all prepared before `clone`.

use alloc::ffi::CString;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::c_char;

use crate::config::{Container, DEFAULT_PATH};
use crate::error::{ConfigError, Error};
use crate::fsutil::cstring;

/// Prepared `execve` arguments.
#[derive(Debug)]
pub(crate) struct Exec {
    /// The program as given (for messages).
    pub(crate) program: String,
    /// Full paths to try in order (one when the program contains a `/`).
    pub(crate) candidates: Vec<CString>,
    /// The strings `argv` and `envp` point into.
    _strings: Vec<CString>,
    /// Null-terminated `argv`.
    pub(crate) argv: Vec<*const c_char>,
    /// Null-terminated `envp`.
    pub(crate) envp: Vec<*const c_char>,
    /// Run under the minimal init.
    pub(crate) init: bool,
}

/// The environment with its defaults (`PATH`, `HOME`, `HOSTNAME`), the `PATH` candidates and
/// the `argv` and `envp` arrays.
pub(super) fn prepare(c: &Container) -> Result<Exec, Error> {
    let o = &c.opts;
    let cmd = &c.command;
    prepare_command(&cmd.program, &cmd.args, &o.env, o.user, &o.hostname, o.init)
}

/// [`prepare`] for any process: `env` gets `PATH`, `HOME` (for `user`) and `HOSTNAME` unless
/// it sets them.
pub(crate) fn prepare_command(
    prog: &str,
    args: &[String],
    env: &[(String, String)],
    user: Option<(u32, u32)>,
    hostname: &str,
    init: bool,
) -> Result<Exec, Error> {
    let mut env: Vec<(String, String)> = env.to_vec();
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.push(("PATH".into(), DEFAULT_PATH.into()));
    }
    if !env.iter().any(|(k, _)| k == "HOME") {
        let home = if user.is_none_or(|(u, _)| u == 0) {
            "/root"
        } else {
            "/"
        };
        env.push(("HOME".into(), home.into()));
    }
    if !env.iter().any(|(k, _)| k == "HOSTNAME") {
        env.push(("HOSTNAME".into(), hostname.into()));
    }
    let mut candidates = Vec::new();
    if prog.contains('/') {
        candidates.push(cstring("command", prog)?);
    } else {
        let pathvar = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_str())
            .unwrap_or(DEFAULT_PATH);
        for dir in pathvar.split(':').filter(|d| !d.is_empty()) {
            candidates.push(cstring(
                "PATH entry",
                &format!("{}/{prog}", dir.trim_end_matches('/')),
            )?);
        }
        if candidates.len() > 64 {
            return Err(ConfigError::TooMany("PATH entries").into());
        }
    }
    let mut strings = Vec::new();
    strings.push(cstring("command", prog)?);
    for a in args {
        strings.push(cstring("command argument", a)?);
    }
    let argc = strings.len();
    for (k, v) in &env {
        strings.push(cstring("environment", &format!("{k}={v}"))?);
    }
    let mut argv: Vec<*const c_char> = strings[..argc].iter().map(|s| s.as_ptr()).collect();
    argv.push(core::ptr::null());
    let mut envp: Vec<*const c_char> = strings[argc..].iter().map(|s| s.as_ptr()).collect();
    envp.push(core::ptr::null());
    Ok(Exec {
        program: prog.into(),
        candidates,
        _strings: strings,
        argv,
        envp,
        init,
    })
}
