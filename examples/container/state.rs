//! Where detached containers live: isolate's [`StateRoot`] shared with `isorun` (default
//! [`DEFAULT_ROOT`], `$CONTAINER_ROOT` to move it), so each tool lists and stops the other's
//! containers. The state directory's id is the container's name; `container` keeps its own
//! words about it in the record's annotations (`container.id`, `.image`, `.command`,
//! `.limits`, `.rm`) and, below `ROOT/.container/NAME/` (a dot name: hidden from
//! `isorun list`), the supervisor's record `info.json` and the output `log`/`log.1`.

use std::path::{Path, PathBuf};

use isolate::{ContainerState, Error, StateRoot, Status};
use serde::{Deserialize, Serialize};

/// The state root `isorun` uses by default: shared, so either tool sees the other's
/// containers.
pub(crate) const DEFAULT_ROOT: &str = "/run/isorun";

/// The environment variable naming another state root (tests use a temporary one).
pub(crate) const ROOT_ENV: &str = "CONTAINER_ROOT";

/// Annotation keys in isolate's record.
pub(crate) const A_ID: &str = "container.id";
pub(crate) const A_IMAGE: &str = "container.image";
pub(crate) const A_COMMAND: &str = "container.command";
pub(crate) const A_LIMITS: &str = "container.limits";
pub(crate) const A_RM: &str = "container.rm";

/// The state root and `container`'s own directory beside the state directories.
pub(crate) struct Root {
    pub(crate) states: StateRoot,
    pub(crate) dir: PathBuf,
}

impl Root {
    /// `$CONTAINER_ROOT` or [`DEFAULT_ROOT`].
    pub(crate) fn open() -> Result<Root, String> {
        let dir = std::env::var(ROOT_ENV)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| DEFAULT_ROOT.to_string());
        let states =
            StateRoot::new(&dir).map_err(|e| format!("state root {dir} ({ROOT_ENV}): {e}"))?;
        Ok(Root {
            dir: PathBuf::from(&dir).join(".container"),
            states,
        })
    }

    /// `ROOT/.container/NAME`.
    pub(crate) fn extra(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The container a user names: its name (the state id), else a unique prefix of its id.
    pub(crate) fn resolve(&self, what: &str) -> Result<ContainerState, String> {
        if valid_name(what) {
            match self.states.state(what) {
                Ok(st) => return Ok(st),
                Err(Error::NotFound(_)) => {}
                Err(e) => return Err(format!("{what}: {e}")),
            }
        }
        let is_hex = what.len() >= 3 && what.bytes().all(|b| b.is_ascii_hexdigit());
        if is_hex {
            let mut found = Vec::new();
            for st in self.all()? {
                if annotation(&st, A_ID).is_some_and(|id| id.starts_with(what)) {
                    found.push(st);
                }
            }
            match found.len() {
                1 => return Ok(found.remove(0)),
                0 => {}
                n => return Err(format!("{what}: {n} containers have ids starting so")),
            }
        }
        Err(format!("no such container: {what}"))
    }

    /// Every container's state (those removed while listing are skipped).
    pub(crate) fn all(&self) -> Result<Vec<ContainerState>, String> {
        let ids = self
            .states
            .list()
            .map_err(|e| format!("{}: {e}", self.states.dir()))?;
        let mut v = Vec::new();
        for id in ids {
            match self.states.state(&id) {
                Ok(st) => v.push(st),
                Err(Error::NotFound(_)) => {}
                Err(e) => return Err(format!("{id}: {e}")),
            }
        }
        Ok(v)
    }
}

impl Root {
    /// Removes `container`'s directories of containers that no longer exist and whose
    /// supervisor is gone (deleted by another tool, or a crash); returns how many.
    pub(crate) fn remove_stale(&self) -> usize {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        let mut n = 0;
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let gone =
                matches!(self.states.state(&name), Err(Error::NotFound(_))) || !valid_name(&name);
            let orphan = Info::read(&e.path()).is_none_or(|i| !i.supervisor_alive());
            if gone && orphan && std::fs::remove_dir_all(e.path()).is_ok() {
                n += 1;
            }
        }
        n
    }
}

/// A name as the state root and cgroups take it (docker's: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`).
pub(crate) fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

pub(crate) fn annotation<'a>(st: &'a ContainerState, key: &str) -> Option<&'a str> {
    st.annotations
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// What the supervisor of a detached container records (`info.json`, written atomically).
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub(crate) struct Info {
    /// The supervisor: pid and `/proc/PID/stat` start time.
    pub(crate) supervisor: (u32, u64),
    /// When the command was started (Unix seconds and nanoseconds).
    pub(crate) started: Option<(i64, u32)>,
    /// When it ended.
    pub(crate) finished: Option<(i64, u32)>,
    /// Its exit code (128+N for signal N).
    pub(crate) exit_code: Option<i32>,
    /// An error of the supervisor after the start (the log is the place for the rest).
    pub(crate) error: Option<String>,
}

impl Info {
    pub(crate) fn read(dir: &Path) -> Option<Info> {
        let text = std::fs::read(dir.join("info.json")).ok()?;
        serde_json::from_slice(&text).ok()
    }

    pub(crate) fn write(&self, dir: &Path) -> Result<(), String> {
        let tmp = dir.join("info.json.tmp");
        let text = serde_json::to_vec(self).map_err(|e| e.to_string())?;
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, dir.join("info.json")))
            .map_err(|e| format!("write {}/info.json: {e}", dir.display()))
    }

    /// Rewrites `info.json` in place (the same inode, padded with spaces to at least its old
    /// length, which JSON allows): a `wait` that opened it earlier reads the exit code through
    /// its descriptor even after `--rm` removed the file.
    pub(crate) fn write_in_place(&self, dir: &Path) -> Result<(), String> {
        use std::io::Write;
        let p = dir.join("info.json");
        let mut text = serde_json::to_vec(self).map_err(|e| e.to_string())?;
        let old = std::fs::metadata(&p).map_or(0, |m| m.len() as usize);
        text.resize(text.len().max(old), b' ');
        std::fs::File::options()
            .write(true)
            .open(&p)
            .and_then(|mut f| f.write_all(&text))
            .map_err(|e| format!("write {}: {e}", p.display()))
    }

    /// Reads an `info.json` opened earlier.
    pub(crate) fn read_from(f: &mut std::fs::File) -> Option<Info> {
        use std::io::{Read, Seek};
        let mut text = Vec::new();
        f.rewind().ok()?;
        f.read_to_end(&mut text).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Whether the supervisor still runs.
    pub(crate) fn supervisor_alive(&self) -> bool {
        proc_start_time(self.supervisor.0) == Some(self.supervisor.1)
    }
}

/// `/proc/PID/stat`'s start time (field 22) of a live (not zombie) process.
pub(crate) fn proc_start_time(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut after = s[s.rfind(')')? + 1..].split_whitespace();
    if matches!(after.next()?, "Z" | "X") {
        return None;
    }
    after.nth(18)?.parse().ok()
}

/// The time now (Unix seconds and nanoseconds).
pub(crate) fn now() -> (i64, u32) {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as i64, d.subsec_nanos())
}

/// RFC 3339 with nanoseconds, UTC (docker's inspect times).
pub(crate) fn rfc3339((secs, nanos): (i64, u32)) -> String {
    crate::rfc3339::rfc3339(secs, Some(nanos))
}

/// docker's human durations: "Less than a second", "3 seconds", "About a minute", ...
pub(crate) fn human_duration(secs: i64) -> String {
    let plural = |n: i64, unit: &str| {
        if n == 1 {
            format!("1 {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    match secs {
        i64::MIN..=0 => "Less than a second".into(),
        1..=59 => plural(secs, "second"),
        60..=119 => "About a minute".into(),
        120..=3599 => plural(secs / 60, "minute"),
        3600..=7199 => "About an hour".into(),
        7200..=172_799 => plural(secs / 3600, "hour"),
        172_800..=1_209_599 => plural(secs / 86_400, "day"),
        1_209_600..=5_183_999 => plural(secs / 604_800, "week"),
        5_184_000..=63_071_999 => plural(secs / 2_592_000, "month"),
        _ => plural(secs / 31_536_000, "year"),
    }
}

/// A status in docker's words: `Up 3 seconds`, `Exited (3) 2 minutes ago`, `Created`.
pub(crate) fn status_words(st: &ContainerState, info: Option<&Info>) -> String {
    let now = now().0;
    match st.status {
        Status::Running | Status::Paused => {
            let since = info.and_then(|i| i.started).map_or(st.created, |s| s.0);
            let paused = if st.status == Status::Paused {
                " (Paused)"
            } else {
                ""
            };
            format!("Up {}{paused}", human_duration(now - since))
        }
        Status::Created | Status::Creating => "Created".into(),
        Status::Stopped => match info.and_then(|i| i.exit_code.zip(i.finished)) {
            Some((code, (t, _))) => {
                format!("Exited ({code}) {} ago", human_duration(now - t))
            }
            None => "Exited".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times_read_as_dockers() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(42), "42 seconds");
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_duration(600), "10 minutes");
        assert_eq!(human_duration(3 * 3600), "3 hours");
        assert_eq!(human_duration(3 * 86_400), "3 days");
        assert_eq!(rfc3339((0, 5)), "1970-01-01T00:00:00.000000005Z");
        assert_eq!(
            rfc3339((1_796_600_000, 0)),
            "2026-12-06T23:33:20.000000000Z"
        );
        assert!(valid_name("web_1.a-b") && !valid_name("-x") && !valid_name("a/b"));
        assert!(!valid_name("") && !valid_name(".hidden"));
    }
}
