//! The harness behind tests/oci_clients.rs: the real container clients (podman, containerd's
//! `ctr`) drive an OCI runtime that is a parameter, and every scenario runs once per runtime
//! in a list (runtimes.rs). Everything is private to the test process: podman's stores and
//! containers.conf, a containerd of its own (root, state, socket, config), names `lp-test-…`.
//! After each scenario the harness checks that nothing is left (leftovers.rs).
//!
//! Facts about this machine that shaped it (issue 17's notes): podman 4.3 as root with the
//! cgroupfs manager, file locks and a file event log; rlimits below the caller's hard limit
//! (this VM lacks CAP_SYS_RESOURCE); crun 1.8 needs the cgroup2 mount hidden on this hybrid
//! layout; containerd 1.6 has no `--hostname` in `ctr`, so a full `--config` carries it.

#![allow(dead_code)] // each test binary uses a different part of the support code

pub(crate) mod bundle;
pub(crate) mod conformance;
pub(crate) mod containerd;
pub(crate) mod image;
pub(crate) mod leftovers;
pub(crate) mod podman;
pub(crate) mod runtimes;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use runtimes::Runtime;

/// The result of a scenario or a check: `Err` carries what went wrong, with the clients' words.
pub(crate) type Check = Result<(), String>;

/// `ensure!(cond, "format", args)`: return `Err(message)` from the enclosing check.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}
pub(crate) use ensure;

/// One scenario at a time in this process: the leftover checks look at the whole machine
/// (cgroups, mounts, processes), so two scenarios side by side would see each other's work.
pub(crate) fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A directory `/var/tmp/lp-test-oci-PID-TAG`, emptied on drop: mounts below it are detached
/// first (a failed scenario may leave one), then the tree is removed.
pub(crate) struct TestDir(pub(crate) PathBuf);

impl TestDir {
    pub(crate) fn new(tag: &str) -> TestDir {
        let p = PathBuf::from(format!("/var/tmp/lp-test-oci-{}-{tag}", std::process::id()));
        let d = TestDir(p);
        d.clear();
        std::fs::create_dir_all(&d.0).unwrap();
        d
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }

    /// An empty directory `scratch/NAME` below this one (bind-mount sources, specs, logs).
    pub(crate) fn scratch(&self, name: &str) -> PathBuf {
        let p = self.path(&format!("scratch/{name}"));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    fn clear(&self) {
        for m in leftovers::mounts_under(&self.0).into_iter().rev() {
            let _ = Command::new("umount").arg("-l").arg(&m).status();
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        self.clear();
    }
}

/// A finished client command: exit code (None when a signal ended it), output as text.
#[derive(Debug)]
pub(crate) struct Out {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) cmdline: String,
}

impl Out {
    /// `Err` unless the command exited with `code`; the message quotes the command and output.
    pub(crate) fn expect_code(&self, code: i32) -> Check {
        ensure!(
            self.code == Some(code),
            "expected exit {code}, got {}\n{}",
            self.code.map_or("a signal".to_string(), |c| c.to_string()),
            self.describe()
        );
        Ok(())
    }

    pub(crate) fn describe(&self) -> String {
        format!(
            "  $ {}\n  exit: {:?}\n  stdout: {:?}\n  stderr: {:?}",
            self.cmdline, self.code, self.stdout, self.stderr
        )
    }
}

/// How long one client command may take before the harness kills it (a runtime that hangs
/// must fail the scenario, not the CI run).
pub(crate) const COMMAND_LIMIT: Duration = Duration::from_secs(60);

/// Runs `cmd` with stdin from /dev/null, capturing stdout and stderr, killing it after `limit`.
pub(crate) fn run(cmd: &mut Command, limit: Duration) -> Result<Out, String> {
    let cmdline = cmdline_of(cmd);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start `{cmdline}`: {e}"))?;
    let (tx, rx) = mpsc::channel();
    for (i, pipe) in [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .enumerate()
    {
        let tx = tx.clone();
        let mut pipe = pipe.expect("piped");
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            let _ = tx.send((i, buf));
        });
    }
    drop(tx);
    let status = wait_limited(&mut child, limit)?;
    // A daemonised grandchild (conmon, a shim) could hold a pipe open: wait a little, no more.
    let mut bufs = [Vec::new(), Vec::new()];
    let drain_until = Instant::now() + Duration::from_secs(5);
    for _ in 0..2 {
        let left = drain_until.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((i, b)) => bufs[i] = b,
            Err(_) => break,
        }
    }
    let [so, se] = bufs;
    let out = Out {
        code: status.and_then(|s| s.code()),
        stdout: String::from_utf8_lossy(&so).into_owned(),
        stderr: String::from_utf8_lossy(&se).into_owned(),
        cmdline,
    };
    match status {
        Some(_) => Ok(out),
        None => Err(format!("killed after {limit:?}:\n{}", out.describe())),
    }
}

/// "panicked: MESSAGE" from what `catch_unwind` caught.
pub(crate) fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    format!(
        "panicked: {}",
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    )
}

/// The command line of `cmd`, for messages.
pub(crate) fn cmdline_of(cmd: &Command) -> String {
    format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// Waits for `child` at most `limit`, then kills it: `None` when it had to be killed.
pub(crate) fn wait_limited(
    child: &mut std::process::Child,
    limit: Duration,
) -> Result<Option<std::process::ExitStatus>, String> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(Some(st));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Quotes `s` for `sh -c` (the tty scenarios hand a command line to `script`).
pub(crate) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The names in a directory (empty when it does not exist).
pub(crate) fn dir_names(dir: &Path) -> BTreeSet<OsString> {
    std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.file_name())).collect())
        .unwrap_or_default()
}

/// Host directories a client creates for itself on first use (podman's blob-info cache in
/// /var/lib/containers, containerd's shim socket dir /run/containerd/s, the runtimes' default
/// state roots). Those that did not exist when the test started are removed at its end.
pub(crate) struct HostDirs(Vec<(PathBuf, bool)>);

impl HostDirs {
    pub(crate) fn note(paths: &[&str]) -> HostDirs {
        HostDirs(
            paths
                .iter()
                .map(|p| (PathBuf::from(p), Path::new(p).exists()))
                .collect(),
        )
    }
}

impl Drop for HostDirs {
    fn drop(&mut self) {
        for (p, existed) in &self.0 {
            if *existed {
                continue;
            }
            if p == Path::new("/var/lib/containers") {
                // Only podman's blob-info cache (a database file) lives there.
                let _ = std::fs::remove_dir_all(p);
            } else {
                // Empty directories only: anything inside would be a leftover worth seeing.
                remove_empty_dirs(p);
            }
        }
    }
}

/// Removes `p` and the directories below it, bottom-up, where they are empty.
pub(crate) fn remove_empty_dirs(p: &Path) {
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_empty_dirs(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(p);
}

/// What a client environment offers the scenario runner.
pub(crate) trait Client {
    /// "podman" or "containerd".
    fn name(&self) -> &'static str;
    /// Directories whose new entries after a scenario are leftovers (state roots, sockets).
    fn watched_dirs(&self, rt: &Runtime) -> Vec<PathBuf>;
    /// What the client itself still lists after a scenario (containers, tasks, snapshots).
    fn client_leftovers(&self, rt: &Runtime) -> Vec<String>;
    /// Everything that is the client's and may stay (its daemon's pid, its cgroup parents).
    fn allowed(&self) -> leftovers::Allowed;
    /// Removes whatever a failed scenario left, so that the next one starts clean.
    fn force_cleanup(&self);
}

/// One scenario: a name and a function of the client environment and the runtime.
pub(crate) type Scenario<C> = (&'static str, fn(&C, &Runtime) -> Check);

/// Runs every scenario for every runtime (`LP_OCI_SCENARIOS=a,b` picks scenarios by name),
/// checks for leftovers after each, prints a table and panics at the end if any failed.
pub(crate) fn run_matrix<C: Client>(client: &C, runtimes: &[Runtime], scenarios: &[Scenario<C>]) {
    let only: Option<Vec<String>> = std::env::var("LP_OCI_SCENARIOS")
        .ok()
        .map(|v| v.split(',').map(str::to_string).collect());
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    let total = Instant::now();
    for rt in runtimes {
        for (name, scenario) in scenarios {
            if only.as_ref().is_some_and(|o| !o.iter().any(|n| n == name)) {
                continue;
            }
            let watched: Vec<_> = client
                .watched_dirs(rt)
                .into_iter()
                .map(|d| {
                    let names = dir_names(&d);
                    (d, names)
                })
                .collect();
            let listed_before = rt.list_ids();
            let calls_before = rt.calls().len();
            let t = Instant::now();
            let mut result = match catch_unwind(AssertUnwindSafe(|| scenario(client, rt))) {
                Ok(r) => r,
                Err(p) => Err(panic_message(p)),
            };
            let took = t.elapsed();
            if result.is_ok() {
                // The runtime under test, not some default, created the containers.
                let calls = rt.calls();
                if !calls[calls_before.min(calls.len())..]
                    .iter()
                    .any(|c| c.split_whitespace().any(|w| w == "create" || w == "run"))
                {
                    result = Err(format!(
                        "{} was never asked to create a container (calls: {:?})",
                        rt.name,
                        &calls[calls_before.min(calls.len())..]
                    ));
                }
            }
            let left = leftovers::settle(|| {
                let mut l = client.client_leftovers(rt);
                for (d, before) in &watched {
                    for n in dir_names(d).difference(before) {
                        l.push(format!(
                            "new entry in {}: {}",
                            d.display(),
                            n.to_string_lossy()
                        ));
                    }
                }
                for id in rt.list_ids().difference(&listed_before) {
                    l.push(format!("`{} list` still shows {id}", rt.name));
                }
                l.extend(leftovers::common(&client.allowed(), rt));
                l
            });
            if !left.is_empty() {
                client.force_cleanup();
                let msg = format!("left behind:\n    {}", left.join("\n    "));
                result = match result {
                    Ok(()) => Err(msg),
                    Err(e) => Err(format!("{e}\n  and {msg}")),
                };
            }
            let verdict = if result.is_ok() { "ok" } else { "FAIL" };
            rows.push(format!(
                "{:<11} {:<6} {:<28} {:<4} {:>6.2} s",
                client.name(),
                rt.name,
                name,
                verdict,
                took.as_secs_f64()
            ));
            if let Err(e) = result {
                failures.push(format!("[{} / {} / {name}] {e}", client.name(), rt.name));
            }
        }
    }
    eprintln!(
        "\n{} scenarios with {} runtime(s) in {:.1} s:\n{}\n",
        client.name(),
        runtimes.len(),
        total.elapsed().as_secs_f64(),
        rows.join("\n")
    );
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n\n")
    );
    assert!(
        !rows.is_empty(),
        "no scenario ran (LP_OCI_SCENARIOS matches none?)"
    );
}
