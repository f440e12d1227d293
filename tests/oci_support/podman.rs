//! A private podman: its own root, runroot, tmpdir, storage.conf and containers.conf (cgroupfs,
//! file locks, a file event log, a private network config dir), containers under the cgroup
//! parent `/lp-test-oci-PID-podman`, `--pull never --network none`, and rlimits this VM
//! allows (podman's defaults fail with EPERM under every runtime here).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::image::IMAGE;
use super::leftovers::{self, Allowed};
use super::runtimes::Runtime;
use super::{COMMAND_LIMIT, Client, HostDirs, Out, TestDir, run};

/// One private podman (no daemon: each command is a process of its own).
pub(crate) struct Podman {
    dir: TestDir,
    /// The cgroup parent of every container (absolute, below each hierarchy's root).
    pub(crate) cgroup_parent: String,
    nofile: u64,
    nproc: u64,
    _host: HostDirs,
}

impl Podman {
    /// A fresh store in `/var/tmp/lp-test-oci-PID-TAG`; `runtimes`' default state roots are
    /// host directories podman's runtime calls may create.
    pub(crate) fn new(tag: &str, runtimes: &[Runtime]) -> Podman {
        let mut host = vec![
            "/var/lib/containers".to_string(),
            "/run/containers".to_string(),
            "/etc/containers/networks".to_string(),
        ];
        host.extend(
            runtimes
                .iter()
                .map(|r| r.default_root().to_string_lossy().into_owned()),
        );
        let host = HostDirs::note(&host.iter().map(String::as_str).collect::<Vec<_>>());
        let dir = TestDir::new(&format!("podman-{tag}"));
        let d = dir.0.display();
        std::fs::write(
            dir.path("containers.conf"),
            format!(
                "[containers]\n\
                 [engine]\n\
                 cgroup_manager = \"cgroupfs\"\n\
                 events_logger = \"file\"\n\
                 events_logfile_path = \"{d}/events.log\"\n\
                 lock_type = \"file\"\n\
                 [network]\n\
                 network_config_dir = \"{d}/networks\"\n"
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path("storage.conf"),
            format!(
                "[storage]\ndriver = \"overlay\"\ngraphroot = \"{d}/root\"\nrunroot = \"{d}/runroot\"\n"
            ),
        )
        .unwrap();
        let (nofile, nproc) = (hard_limit("Max open files"), hard_limit("Max processes"));
        // An unlimited hard limit is not a value podman can pass on.
        let nofile = nofile.min(1 << 20);
        Podman {
            cgroup_parent: format!("/lp-test-oci-{}-podman-{tag}", std::process::id()),
            dir,
            nofile,
            nproc: nproc.min(32768),
            _host: host,
        }
    }

    /// `podman` with this store's global flags and configuration.
    pub(crate) fn cmd(&self) -> Command {
        let mut c = Command::new("podman");
        // conmon inherits the working directory and writes an `oom` file there on an OOM kill.
        c.current_dir(&self.dir.0)
            .env("CONTAINERS_CONF", self.dir.path("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", self.dir.path("storage.conf"))
            .arg("--root")
            .arg(self.dir.path("root"))
            .arg("--runroot")
            .arg(self.dir.path("runroot"))
            .arg("--tmpdir")
            .arg(self.dir.path("tmp"))
            .args(["--cgroup-manager", "cgroupfs", "--events-backend", "file"]);
        c
    }

    /// The working directory of podman and so of conmon (where conmon's `oom` file lands).
    pub(crate) fn workdir(&self) -> &Path {
        &self.dir.0
    }

    /// Runs `podman ARGS`.
    pub(crate) fn podman(&self, args: &[&str]) -> Result<Out, String> {
        run(self.cmd().args(args), COMMAND_LIMIT)
    }

    /// `podman import TAR` as [`IMAGE`].
    pub(crate) fn import(&self, tar: &Path) -> Result<(), String> {
        self.podman(&["import", tar.to_str().unwrap(), IMAGE])?
            .expect_code(0)
    }

    /// The flags of `podman run`/`create` that put runtime `rt` and this store's rules in force.
    pub(crate) fn run_flags(&self, rt: &Runtime) -> Vec<String> {
        vec![
            "--runtime".into(),
            rt.path.to_string_lossy().into_owned(),
            "--pull".into(),
            "never".into(),
            "--network".into(),
            "none".into(),
            "--ulimit".into(),
            format!("nofile={0}:{0}", self.nofile),
            "--ulimit".into(),
            format!("nproc={0}:{0}", self.nproc),
            "--cgroup-parent".into(),
            self.cgroup_parent.clone(),
        ]
    }

    /// `podman VERB <runtime flags> OPTS IMAGE CMD...` (VERB is run or create).
    pub(crate) fn container(
        &self,
        verb: &str,
        rt: &Runtime,
        opts: &[&str],
        cmd: &[&str],
    ) -> Result<Out, String> {
        let mut c = self.cmd();
        c.arg(verb)
            .args(self.run_flags(rt))
            .args(opts)
            .arg(IMAGE)
            .args(cmd);
        run(&mut c, COMMAND_LIMIT)
    }

    /// An empty scratch directory of this environment.
    pub(crate) fn scratch(&self, name: &str) -> PathBuf {
        self.dir.scratch(name)
    }
}

impl Client for Podman {
    fn name(&self) -> &'static str {
        "podman"
    }

    fn watched_dirs(&self, rt: &Runtime) -> Vec<PathBuf> {
        // podman as root gives the runtime no --root: its state is in its default root.
        vec![rt.default_root()]
    }

    fn client_leftovers(&self, _rt: &Runtime) -> Vec<String> {
        match self.podman(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]) {
            Ok(o) if o.code == Some(0) => o
                .stdout
                .lines()
                .map(|l| format!("podman ps -a: {l}"))
                .collect(),
            Ok(o) => vec![format!("podman ps -a failed:\n{}", o.describe())],
            Err(e) => vec![format!("podman ps -a: {e}")],
        }
    }

    fn allowed(&self) -> Allowed {
        Allowed {
            tmp: self.dir.0.clone(),
            cgroup_parents: vec![self.cgroup_parent.trim_start_matches('/').to_string()],
            daemon_pid: None,
        }
    }

    fn force_cleanup(&self) {
        let _ = self.podman(&["rm", "-af", "-t", "0"]);
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        self.force_cleanup();
        let _ = self.podman(&["rmi", "-af"]);
        leftovers::remove_cgroup_parent(self.cgroup_parent.trim_start_matches('/'));
    }
}

/// The hard limit named `what` in /proc/self/limits ("Max open files", "Max processes").
fn hard_limit(what: &str) -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    limits
        .lines()
        .find(|l| l.starts_with(what))
        .and_then(|l| l[what.len()..].split_whitespace().nth(1))
        .and_then(|v| {
            if v == "unlimited" {
                Some(u64::MAX)
            } else {
                v.parse().ok()
            }
        })
        .unwrap_or(1024)
}
