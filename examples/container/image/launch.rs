//! What `run` starts from: the root (host system, a directory in place, or an overlay of an
//! image's layers or of `--rootfs DIR`), the command, environment, working directory and user
//! after the image's config is applied as docker applies it:
//! - argv = Entrypoint + (the command given, else Cmd); `--entrypoint` replaces Entrypoint
//!   and drops Cmd;
//! - Env from the image, then each `-e` (a key given again replaces the image's);
//! - WorkingDir unless `-w` (isolate creates a missing one inside the root);
//! - User unless `--user`; `USER[:GROUP]` as names or numbers, names looked up in the
//!   container's `/etc/passwd` and `/etc/group`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Record, Store, parse_reference, unknown_image};
use crate::cli::RunArgs;

/// The root filesystem of a run.
#[derive(Debug)]
pub(crate) enum Root {
    /// The host's system directories read-only on a tmpfs.
    Host,
    /// A directory used in place (`--rootfs DIR --rootfs-write`).
    Dir(String),
    /// An overlay of lower directories (top first) under a writable tmpfs of the run's own,
    /// in the container's mount namespace: the kernel frees it when the container ends.
    Overlay { lower: Vec<String> },
}

/// Everything `run` needs beyond the flags; removes the run's owner record when dropped.
#[derive(Debug)]
pub(crate) struct Launch {
    pub(crate) root: Root,
    pub(crate) argv: Vec<String>,
    pub(crate) env: Vec<String>,
    pub(crate) workdir: Option<String>,
    pub(crate) user: Option<(u32, u32)>,
    /// Held for its `Drop`: the record goes when the run is over.
    _owner: Option<Owner>,
}

/// The record of a run on an overlay: the file `rw/PID-N` holding `PID START IMAGE`, for
/// `rmi` (which spares images in use) and cleanup. The writable layer itself is a tmpfs in
/// the container's mount namespace (see [`Root::Overlay`]), never on disk: creating and
/// removing directories there cost milliseconds (an rmdir frees a block; with `discard` and
/// no journal ext4 discards it synchronously, ~1-3 ms each, 8 per run), and a crash left
/// them behind. Older versions made `rw/ID/{upper,work,owner}` directories: cleanup still
/// reads and removes those.
#[derive(Debug)]
struct Owner(PathBuf);

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Removes a store entry: a file (an owner record) or a directory with what is in it.
fn remove_entry(p: &Path) -> std::io::Result<()> {
    if p.symlink_metadata()?.is_dir() {
        std::fs::remove_dir_all(p)
    } else {
        std::fs::remove_file(p)
    }
}

/// The run part of an image config (docker's names).
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct RunConfig {
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    env: Option<Vec<String>>,
    #[serde(default)]
    entrypoint: Option<Vec<String>>,
    #[serde(default)]
    cmd: Option<Vec<String>>,
    #[serde(default)]
    working_dir: Option<String>,
}

/// `/proc/PID/stat`'s start time (field 22), which tells a process from a later one that got
/// the same pid.
fn start_time(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &s[s.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// The owner line of a run (`rw/ID`, or `rw/ID/owner` as older versions wrote it):
/// `PID START IMAGE`; whether that process still runs.
fn owner_alive(entry: &Path) -> Option<(bool, String)> {
    let s = std::fs::read_to_string(entry)
        .or_else(|_| std::fs::read_to_string(entry.join("owner")))
        .ok()?;
    let mut w = s.split_whitespace();
    let pid: u32 = w.next()?.parse().ok()?;
    let start: u64 = w.next()?.parse().ok()?;
    let image = w.next().unwrap_or("-").to_string();
    Some((start_time(pid) == Some(start), image))
}

/// The runs (their `rw/` entries) of running containers that use image `id`.
pub(super) fn running_users(store: &Store, id: &str) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(store.root.join("rw")) else {
        return Vec::new();
    };
    rd.flatten()
        .filter(|e| owner_alive(&e.path()).is_some_and(|(alive, img)| alive && img == id))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// `container cleanup`: removes the run records (and older versions' writable layers) and
/// import scratch directories of `container` processes that are gone. Returns how many.
pub(crate) fn remove_stale(store: &Store) -> Result<usize, String> {
    if !store.root.is_dir() {
        return Ok(0);
    }
    let _lock = store.lock(true)?;
    let mut n = 0;
    for (sub, dead) in [("rw", rw_dead as fn(&Path) -> bool), ("tmp", tmp_dead)] {
        let Ok(rd) = std::fs::read_dir(store.root.join(sub)) else {
            continue;
        };
        for e in rd.flatten() {
            if dead(&e.path()) {
                remove_entry(&e.path())
                    .map_err(|err| format!("remove {}: {err}", e.path().display()))?;
                n += 1;
            }
        }
    }
    Ok(n)
}

fn rw_dead(p: &Path) -> bool {
    // Made under the lock with its owner line, so one without is a crash's half-made one.
    !owner_alive(p).is_some_and(|(alive, _)| alive)
}

fn tmp_dead(p: &Path) -> bool {
    // `what-PID-N`
    let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
    let pid = name
        .as_deref()
        .and_then(|n| n.split('-').rev().nth(1))
        .and_then(|p| p.parse::<u32>().ok());
    pid.is_none_or(|pid| !Path::new(&format!("/proc/{pid}")).exists())
}

impl Owner {
    /// Writes `rw/PID-N` (under the store's shared lock, so that `rmi` and cleanup see it
    /// complete or not at all).
    fn create(store: &Store, image: &str) -> Result<Owner, String> {
        use std::io::Write;
        let pid = std::process::id();
        let start = start_time(pid).ok_or("read /proc/self/stat")?;
        for n in 0..1000 {
            let p = store.root.join("rw").join(format!("{pid}-{n}"));
            let mut f = match std::fs::File::create_new(&p) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(format!("create {}: {e}", p.display())),
            };
            let owner = Owner(p);
            f.write_all(format!("{pid} {start} {image}\n").as_bytes())
                .map_err(|e| format!("write {}: {e}", owner.0.display()))?;
            return Ok(owner);
        }
        Err("no free run record name".into())
    }
}

/// An absolute path: relative ones are taken from the current directory.
fn absolute(dir: &str) -> String {
    if dir.starts_with('/') {
        return dir.to_string();
    }
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    format!("{cwd}/{dir}")
}

/// What `run` starts from, with the image's config applied.
pub(crate) fn prepare(a: &RunArgs) -> Result<Launch, String> {
    let store = Store::open();
    // The first word is an image when it names one (and neither --rootfs nor `--` came
    // first); `NAME:TAG` naming none is an error, any other word the command, as before.
    let mut image: Option<Record> = None;
    let mut cmd: &[String] = &a.command;
    if a.rootfs.is_none() && !a.command_after_dash_dash {
        let first = &a.command[0];
        if !first.starts_with(['/', '.']) {
            match store.find(first)? {
                Some(r) => {
                    image = Some(r);
                    cmd = &a.command[1..];
                }
                None if first.contains(':') && parse_reference(first).is_ok() => {
                    return Err(unknown_image(first));
                }
                None => {}
            }
        }
    }
    let run: RunConfig = image
        .as_ref()
        .and_then(|r| r.config.get("config").cloned())
        .filter(|v| !v.is_null())
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| format!("the image's config: {e}"))?
        .unwrap_or_default();

    // The root.
    let (root, owner, layers) = match (&image, &a.rootfs) {
        (Some(rec), _) => {
            let _lock = store.lock(false)?;
            let mut lower = Vec::new();
            for l in rec.layers.iter().rev() {
                let d = store.layer_dir(l)?;
                if !d.is_dir() {
                    return Err(format!(
                        "image {}: layer {l} is missing from the store",
                        rec.id
                    ));
                }
                lower.push(d.display().to_string());
            }
            let owner = Owner::create(&store, &rec.id)?;
            let root = Root::Overlay {
                lower: lower.clone(),
            };
            (root, Some(owner), lower)
        }
        (None, Some(dir)) if !a.rootfs_write => {
            let dir = absolute(dir);
            if !Path::new(&dir).is_dir() {
                return Err(format!("rootfs {dir}: no such directory"));
            }
            let _lock = store.lock(false)?;
            let owner = Owner::create(&store, "-")?;
            let root = Root::Overlay {
                lower: vec![dir.clone()],
            };
            (root, Some(owner), vec![dir])
        }
        (None, Some(dir)) => (Root::Dir(absolute(dir)), None, vec![absolute(dir)]),
        (None, None) => (Root::Host, None, Vec::new()),
    };

    // The command.
    let entry: Vec<String> = match &a.entrypoint {
        Some(e) if e.is_empty() => Vec::new(),
        Some(e) => vec![e.clone()],
        None => run.entrypoint.clone().unwrap_or_default(),
    };
    let rest: Vec<String> = if !cmd.is_empty() || a.entrypoint.is_some() {
        cmd.to_vec()
    } else {
        run.cmd.clone().unwrap_or_default()
    };
    let argv: Vec<String> = entry.into_iter().chain(rest).collect();
    if argv.is_empty() {
        return Err(format!(
            "no command: image {} has neither Entrypoint nor Cmd (give one after the image name)",
            a.command[0]
        ));
    }

    let mut env = run.env.clone().unwrap_or_default();
    env.extend(a.env.iter().cloned());

    let workdir = a
        .workdir
        .clone()
        .or_else(|| run.working_dir.clone().filter(|w| !w.is_empty()));

    let user_spec = a.user.clone().or_else(|| {
        run.user
            .as_deref()
            .filter(|u| !u.is_empty())
            .map(crate::cli::parse_user)
            .and_then(Result::ok)
    });
    let user = match user_spec {
        Some(spec) => {
            let (passwd, group) = account_files(&root, &layers);
            Some(resolve_user(&spec, &passwd, &group)?)
        }
        None => None,
    };
    Ok(Launch {
        root,
        argv,
        env,
        workdir,
        user,
        _owner: owner,
    })
}

/// The container's `/etc/passwd` and `/etc/group`: the topmost layer's (a whiteout or a
/// non-file hides it), the directory's, or the host system root's.
fn account_files(root: &Root, layers: &[String]) -> (String, String) {
    let read = |name: &str| -> String {
        for l in layers {
            let p = Path::new(l).join("etc").join(name);
            match p.symlink_metadata() {
                Ok(m) if m.is_file() => return std::fs::read_to_string(p).unwrap_or_default(),
                Ok(_) => return String::new(),
                Err(_) => {}
            }
        }
        String::new()
    };
    match root {
        Root::Host => (
            isolate::HOST_SYSTEM_PASSWD.to_string(),
            isolate::HOST_SYSTEM_GROUP.to_string(),
        ),
        _ => (read("passwd"), read("group")),
    }
}

/// `USER[:GROUP]` as ids: numbers as they are, names from the files. Without a group: the
/// user's primary group from passwd, or the uid for a number passwd does not list.
pub(crate) fn resolve_user(
    spec: &crate::cli::User,
    passwd: &str,
    group: &str,
) -> Result<(u32, u32), String> {
    let entries = |text: &'_ str| -> Vec<Vec<String>> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split(':').map(str::to_string).collect())
            .collect()
    };
    let users = entries(passwd);
    let field = |e: &Vec<String>, i: usize| e.get(i).and_then(|v| v.parse::<u32>().ok());
    let (uid, primary) = match spec.user.parse::<u32>() {
        Ok(uid) => (
            uid,
            users
                .iter()
                .find(|e| field(e, 2) == Some(uid))
                .and_then(|e| field(e, 3))
                .unwrap_or(uid),
        ),
        Err(_) => users
            .iter()
            .find(|e| e.first().is_some_and(|n| *n == spec.user))
            .and_then(|e| Some((field(e, 2)?, field(e, 3)?)))
            .ok_or_else(|| {
                format!(
                    "bad --user {:?}: no such user in the container's /etc/passwd",
                    spec.user
                )
            })?,
    };
    let gid = match &spec.group {
        None => primary,
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => entries(group)
                .iter()
                .find(|e| e.first().is_some_and(|n| n == g))
                .and_then(|e| field(e, 2))
                .ok_or_else(|| {
                    format!("bad --user group {g:?}: no such group in the container's /etc/group")
                })?,
        },
    };
    Ok((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::User;

    #[test]
    fn users_resolve_by_name_and_number() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nwww:x:33:34::/:/bin/false\n";
        let group = "root:x:0:\nstaff:x:50:\n";
        let u = |user: &str, group: Option<&str>| User {
            user: user.into(),
            group: group.map(String::from),
        };
        assert_eq!(resolve_user(&u("www", None), passwd, group), Ok((33, 34)));
        assert_eq!(
            resolve_user(&u("www", Some("staff")), passwd, group),
            Ok((33, 50))
        );
        assert_eq!(resolve_user(&u("33", None), passwd, group), Ok((33, 34)));
        assert_eq!(
            resolve_user(&u("1234", None), passwd, group),
            Ok((1234, 1234))
        );
        assert_eq!(resolve_user(&u("1", Some("2")), passwd, group), Ok((1, 2)));
        assert!(
            resolve_user(&u("nobody", None), passwd, group)
                .unwrap_err()
                .contains("no such user")
        );
        assert!(
            resolve_user(&u("root", Some("wheel")), passwd, group)
                .unwrap_err()
                .contains("no such group")
        );
    }
}
