//! A private containerd 1.6: started by the test with its own root, state dir, sockets and
//! config (the CRI plugin and the unused snapshotters off), stopped by its pid on drop, also
//! when a scenario panicked. `ctr` talks to it in the namespace `lp-test-oci-PID`, with the
//! runtime under test as `--runc-binary`, a private `--runc-root` and FIFO dir.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::image::IMAGE;
use super::leftovers::{self, Allowed};
use super::runtimes::Runtime;
use super::{COMMAND_LIMIT, Client, HostDirs, Out, TestDir, dir_names, run};

/// The shim's socket directory: containerd 1.6 puts it under /run/containerd whatever its
/// state dir is.
const SHIM_SOCKETS: &str = "/run/containerd/s";

/// A running private containerd.
pub(crate) struct Containerd {
    child: Child,
    /// The `ctr` namespace, also the cgroup parent of the containers (`/NS/ID`).
    pub(crate) ns: String,
    sock: PathBuf,
    runc_root: PathBuf,
    fifo_dir: PathBuf,
    state: PathBuf,
    dir: TestDir,
    _host: HostDirs,
}

impl Containerd {
    /// Starts containerd and waits until it answers.
    pub(crate) fn start() -> Containerd {
        let host = HostDirs::note(&["/run/containerd"]);
        let dir = TestDir::new("containerd");
        let d = dir.0.display();
        let sock = dir.path("containerd.sock");
        let config = dir.path("config.toml");
        std::fs::write(
            &config,
            format!(
                "version = 2\n\
                 root = \"{d}/root\"\n\
                 state = \"{d}/state\"\n\
                 disabled_plugins = [\"io.containerd.grpc.v1.cri\", \"io.containerd.internal.v1.opt\", \
                 \"io.containerd.snapshotter.v1.btrfs\", \"io.containerd.snapshotter.v1.zfs\", \
                 \"io.containerd.snapshotter.v1.devmapper\", \"io.containerd.snapshotter.v1.aufs\", \
                 \"io.containerd.tracing.processor.v1.otlp\", \"io.containerd.internal.v1.tracing\"]\n\
                 [grpc]\n  address = \"{}\"\n\
                 [ttrpc]\n  address = \"{}.ttrpc\"\n\
                 [debug]\n  address = \"\"\n\
                 [metrics]\n  address = \"\"\n",
                sock.display(),
                sock.display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path("containerd.log")).unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .current_dir(&dir.0)
            .spawn()
            .expect("containerd (apt-get install containerd; .ci/run installs it)");
        let ns = format!("lp-test-oci-{}", std::process::id());
        let c = Containerd {
            child,
            runc_root: dir.path("runc-root"),
            fifo_dir: dir.path("fifo"),
            state: dir.path("state"),
            ns,
            sock,
            dir,
            _host: host,
        };
        std::fs::create_dir_all(&c.fifo_dir).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(o) = c.ctr(&["version"]) {
                if o.code == Some(0) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "containerd did not answer in 30 s:\n{}\n{}",
                    o.describe(),
                    c.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        c
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path("containerd.log")).unwrap_or_default();
        let lines: Vec<_> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// `ctr --address SOCK --namespace NS`.
    pub(crate) fn cmd(&self) -> Command {
        let mut c = Command::new("ctr");
        c.current_dir(&self.dir.0)
            .arg("--address")
            .arg(&self.sock)
            .arg("--namespace")
            .arg(&self.ns);
        c
    }

    /// Runs `ctr ARGS`.
    pub(crate) fn ctr(&self, args: &[&str]) -> Result<Out, String> {
        run(self.cmd().args(args), COMMAND_LIMIT)
    }

    /// `ctr image import` of a docker archive.
    pub(crate) fn import(&self, archive: &std::path::Path) -> Result<(), String> {
        self.ctr(&["image", "import", archive.to_str().unwrap()])?
            .expect_code(0)
    }

    /// The flags of `ctr run` that put runtime `rt` in charge, with private roots.
    pub(crate) fn run_flags(&self, rt: &Runtime) -> Vec<String> {
        vec![
            "--runc-binary".into(),
            rt.path.to_string_lossy().into_owned(),
            "--runc-root".into(),
            self.runc_root.to_string_lossy().into_owned(),
            "--fifo-dir".into(),
            self.fifo_dir.to_string_lossy().into_owned(),
        ]
    }

    /// The FIFO directory for `ctr tasks exec --fifo-dir`.
    pub(crate) fn fifo_dir(&self) -> String {
        self.fifo_dir.to_string_lossy().into_owned()
    }

    /// `ctr run <runtime flags> OPTS IMAGE ID CMD...`.
    pub(crate) fn run_image(
        &self,
        rt: &Runtime,
        opts: &[&str],
        id: &str,
        cmd: &[&str],
    ) -> Result<Out, String> {
        let mut c = self.cmd();
        c.arg("run")
            .args(self.run_flags(rt))
            .args(opts)
            .arg(IMAGE)
            .arg(id)
            .args(cmd);
        run(&mut c, COMMAND_LIMIT)
    }

    /// An empty scratch directory of this environment.
    pub(crate) fn scratch(&self, name: &str) -> PathBuf {
        self.dir.scratch(name)
    }

    /// Lines of `ctr ARGS` output after the header.
    fn listed(&self, what: &str, args: &[&str]) -> Vec<String> {
        match self.ctr(args) {
            Ok(o) if o.code == Some(0) => o
                .stdout
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| format!("{what}: {l}"))
                .collect(),
            Ok(o) => vec![format!("{what} failed:\n{}", o.describe())],
            Err(e) => vec![format!("{what}: {e}")],
        }
    }
}

impl Client for Containerd {
    fn name(&self) -> &'static str {
        "containerd"
    }

    fn watched_dirs(&self, _rt: &Runtime) -> Vec<PathBuf> {
        vec![PathBuf::from(SHIM_SOCKETS)]
    }

    fn client_leftovers(&self, _rt: &Runtime) -> Vec<String> {
        let mut l = self.listed("ctr containers ls -q", &["containers", "ls", "-q"]);
        l.extend(self.listed("ctr tasks ls -q", &["tasks", "ls", "-q"]));
        l.extend(
            self.listed("ctr snapshots ls", &["snapshots", "ls"])
                .into_iter()
                .filter(|s| s.contains("Active")),
        );
        for (what, d) in [
            ("runtime state (--runc-root)", self.runc_root.join(&self.ns)),
            (
                "shim bundle",
                self.state
                    .join("io.containerd.runtime.v2.task")
                    .join(&self.ns),
            ),
            ("FIFO dir", self.fifo_dir.clone()),
        ] {
            for n in dir_names(&d) {
                l.push(format!("{what} {}: {}", d.display(), n.to_string_lossy()));
            }
        }
        l
    }

    fn allowed(&self) -> Allowed {
        Allowed {
            tmp: self.dir.0.clone(),
            cgroup_parents: vec![self.ns.clone()],
            daemon_pid: Some(self.child.id()),
        }
    }

    fn force_cleanup(&self) {
        let _ = std::fs::remove_dir_all(&self.fifo_dir);
        let _ = std::fs::create_dir_all(&self.fifo_dir);
        if let Ok(o) = self.ctr(&["tasks", "ls", "-q"]) {
            for id in o.stdout.lines().filter(|l| !l.is_empty()) {
                let _ = self.ctr(&["tasks", "delete", "--force", id]);
            }
        }
        if let Ok(o) = self.ctr(&["containers", "ls", "-q"]) {
            for id in o.stdout.lines().filter(|l| !l.is_empty()) {
                let _ = self.ctr(&["containers", "delete", id]);
            }
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        self.force_cleanup();
        // SIGTERM by pid, then SIGKILL if it has not gone in 10 s.
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        leftovers::remove_cgroup_parent(&self.ns);
    }
}
