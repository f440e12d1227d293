//! The harness of the detached-container tests (`container_detached*.rs`): a private state
//! root and image store per test ([`Env`]), what a container leaves while it exists
//! ([`Traces`]), and polling.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::example_bin;

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A private state root and image store; on drop every container left is removed and the
/// directories go.
pub(crate) struct Env {
    pub(crate) dir: PathBuf,
    bin: PathBuf,
}

impl Env {
    pub(crate) fn new(tag: &str) -> Env {
        let dir = PathBuf::from(format!(
            "/tmp/lp-test-detached-{}-{tag}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Env {
            dir,
            bin: example_bin::example_binary("container"),
        }
    }

    pub(crate) fn root(&self) -> PathBuf {
        self.dir.join("root")
    }

    pub(crate) fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.args(args)
            .env("CONTAINER_ROOT", self.root())
            .env("CONTAINER_IMAGES", self.dir.join("images"))
            // Not about networking unless a test asks (`--net bridge`, or without this
            // variable the default, bridge): none keeps the host's default network out.
            .env("CONTAINER_NET", "none")
            .stdin(Stdio::null());
        c
    }

    /// `container ARGS` (stdout and stderr collected: the supervisor does not hold them).
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// `container ARGS`, checked to succeed; its stdout.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "container {args:?}: {} {}",
            o.status,
            text(&o.stderr)
        );
        text(&o.stdout)
    }

    pub(crate) fn inspect(&self, name: &str) -> Value {
        let v: Value = serde_json::from_str(&self.ok(&["inspect", name])).unwrap();
        v[0].clone()
    }

    /// What a container leaves while it exists: its cgroup directories and its supervisor.
    pub(crate) fn traces(&self, name: &str) -> Traces {
        let info: Value = serde_json::from_slice(
            &std::fs::read(self.root().join(".container").join(name).join("info.json")).unwrap(),
        )
        .unwrap();
        let cgroups = self.inspect(name)["CgroupPaths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| PathBuf::from(p.as_str().unwrap()))
            .collect();
        Traces {
            cgroups,
            supervisor: (
                info["supervisor"][0].as_u64().unwrap() as u32,
                info["supervisor"][1].as_u64().unwrap(),
            ),
        }
    }

    /// Nothing of any container is left: no state directory, no `container` directory, no
    /// writable layer.
    pub(crate) fn assert_empty(&self) {
        let names = |p: &Path| -> Vec<String> {
            std::fs::read_dir(p)
                .map(|rd| {
                    rd.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default()
        };
        let states: Vec<String> = names(&self.root())
            .into_iter()
            .filter(|n| n != ".container")
            .collect();
        assert!(states.is_empty(), "state dirs left: {states:?}");
        assert!(names(&self.root().join(".container")).is_empty());
        assert!(
            names(&self.dir.join("images/rw")).is_empty(),
            "writable layers left"
        );
        assert_eq!(self.ok(&["ps", "-a", "-q"]), "");
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Ok(o) = self.cmd(&["ps", "-a", "--quiet"]).output() {
            for id in text(&o.stdout).lines() {
                let _ = self.cmd(&["rm", "-f", id]).output();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A container's cgroups and supervisor, to check they are gone.
pub(crate) struct Traces {
    pub(crate) cgroups: Vec<PathBuf>,
    /// Pid and start time.
    pub(crate) supervisor: (u32, u64),
}

impl Traces {
    /// Whether the supervisor still runs (a zombie does not).
    pub(crate) fn supervisor_alive(&self) -> bool {
        let Ok(s) = std::fs::read_to_string(format!("/proc/{}/stat", self.supervisor.0)) else {
            return false;
        };
        let mut f = s[s.rfind(')').unwrap() + 1..].split_whitespace();
        let state = f.next().unwrap();
        state != "Z" && f.nth(18).and_then(|t| t.parse().ok()) == Some(self.supervisor.1)
    }

    pub(crate) fn assert_gone(&self) {
        for c in &self.cgroups {
            assert!(!c.exists(), "cgroup {} left", c.display());
        }
        assert!(
            !self.supervisor_alive(),
            "the supervisor {} is still running",
            self.supervisor.0
        );
    }
}

/// Polls `f` for up to 5 s.
pub(crate) fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
