//! The harness behind tests/oci_conformance.rs: every check of a group runs once per runtime
//! in the list (runtimes.rs), calling the runtime binary directly with a private state root
//! (`RT --root DIR create --bundle B ID`, ...). After each check every container it made is
//! deleted (`delete --force`) and the machine is checked for leftovers (the runtime's `list`,
//! processes, cgroups below the group's parent, mounts); a check that leaves something fails.
//! A table check x runtime is printed; a failure fails the test unless it is on the known
//! breaches list of that runtime (runc and crun, with the spec's reason).

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::bundle::Bundle;
use super::leftovers::{self, Allowed};
use super::runtimes::Runtime;
use super::{
    COMMAND_LIMIT, Check, Out, TestDir, cmdline_of, ensure, panic_message, run, wait_limited,
};

/// One check: a name (the table's row) and a function of the runtime under test.
pub(crate) type CheckFn = (&'static str, fn(&Conf) -> Check);

/// A known breach: (runtime, check, the spec's reason it is a breach).
pub(crate) type Known = (&'static str, &'static str, &'static str);

/// Prefix of an `Err` that means "this check does not apply to this runtime" (a MAY it does
/// not offer); shown as `n/a`, not a failure.
pub(crate) const NOT_APPLICABLE: &str = "n/a: ";

/// What a check sees: the runtime, its private state root, a directory for bundles, and the
/// ids it created (deleted after the check).
pub(crate) struct Conf<'a> {
    /// The runtime under test.
    pub(crate) rt: &'a Runtime,
    /// `--root` of every call.
    pub(crate) root: PathBuf,
    /// The check's own directory (bundles, scratch files).
    pub(crate) work: PathBuf,
    /// The cgroup parent of the group (one component below each hierarchy's root).
    pub(crate) cg_parent: String,
    ids: RefCell<Vec<String>>,
    bundles: Cell<u32>,
}

impl Conf<'_> {
    /// A fresh bundle directory with the default configuration.
    pub(crate) fn bundle(&self) -> Bundle {
        let n = self.bundles.get() + 1;
        self.bundles.set(n);
        Bundle::new(self.work.join(format!("b{n}")))
    }

    /// A container id, unique in this check (`lp-test-N`), remembered for the cleanup.
    pub(crate) fn id(&self) -> String {
        let mut ids = self.ids.borrow_mut();
        let id = format!("lp-test-{}", ids.len() + 1);
        ids.push(id.clone());
        id
    }

    /// `RT --root ROOT ARGS...`, output captured.
    pub(crate) fn rt(&self, args: &[&str]) -> Result<Out, String> {
        run(
            Command::new(&self.rt.path)
                .arg("--root")
                .arg(&self.root)
                .args(args),
            COMMAND_LIMIT,
        )
    }

    /// The cgroup path (relative to each hierarchy's root) of container `id`.
    pub(crate) fn cgroup_of(&self, id: &str) -> String {
        format!("{}/{}-{id}", self.cg_parent, self.rt.name)
    }

    /// Writes the bundle's config (with `cgroupsPath` below the group's parent unless the
    /// check set one) and runs `create`, the container's stdout and stderr going to the files
    /// `stdout` and `stderr` in the bundle (the runtime's own stderr too).
    pub(crate) fn create(&self, b: &mut Bundle, id: &str) -> Result<Out, String> {
        if b.config.pointer("/linux/cgroupsPath").is_none() {
            b.set(
                "/linux/cgroupsPath",
                Value::String(format!("/{}", self.cgroup_of(id))),
            );
        }
        b.write();
        let mut cmd = Command::new(&self.rt.path);
        cmd.arg("--root")
            .arg(&self.root)
            .args(["create", "--bundle"])
            .arg(&b.dir)
            .arg(id);
        run_to_files(&mut cmd, &b.dir, COMMAND_LIMIT)
    }

    /// `create` that must succeed.
    pub(crate) fn created(&self, b: &mut Bundle, id: &str) -> Check {
        let o = self.create(b, id)?;
        ensure!(o.code == Some(0), "create failed\n{}", o.describe());
        Ok(())
    }

    /// `create` that must fail and leave no container behind ("generating an error MUST
    /// leave the state of the environment as if the operation were never attempted").
    pub(crate) fn create_refused(&self, b: &mut Bundle, id: &str) -> Check {
        let o = self.create(b, id)?;
        ensure!(
            o.code != Some(0),
            "create succeeded where it must fail\n{}\n  state: {:?}",
            o.describe(),
            self.state(id).ok()
        );
        let st = self.rt(&["state", id])?;
        ensure!(
            st.code != Some(0),
            "the refused create left a container\n{}",
            st.describe()
        );
        Ok(())
    }

    /// `start` that must succeed.
    pub(crate) fn start(&self, id: &str) -> Check {
        let o = self.rt(&["start", id])?;
        o.expect_code(0)
    }

    /// The state JSON (`state ID` must succeed and print valid JSON).
    pub(crate) fn state(&self, id: &str) -> Result<Value, String> {
        let o = self.rt(&["state", id])?;
        o.expect_code(0)?;
        serde_json::from_str(&o.stdout)
            .map_err(|e| format!("state is not JSON: {e}\n{}", o.describe()))
    }

    /// The `status` field of the state.
    pub(crate) fn status(&self, id: &str) -> Result<String, String> {
        let s = self.state(id)?;
        s["status"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("state without a status string: {s}"))
    }

    /// The container's pid from its state.
    pub(crate) fn pid(&self, id: &str) -> Result<u32, String> {
        let s = self.state(id)?;
        s["pid"]
            .as_u64()
            .filter(|p| *p > 0)
            .map(|p| p as u32)
            .ok_or_else(|| format!("state without a pid: {s}"))
    }

    /// Waits (up to 20 s) until the state says `stopped`.
    pub(crate) fn wait_stopped(&self, id: &str) -> Check {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.status(id)?;
            if s == "stopped" {
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "still `{s}` 20 s after start (expected stopped)"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the container wrote to stdout so far.
    pub(crate) fn stdout(&self, b: &Bundle) -> String {
        std::fs::read_to_string(b.dir.join("stdout")).unwrap_or_default()
    }

    /// create, start, wait until stopped, delete: the container's stdout.
    pub(crate) fn output(&self, b: &mut Bundle) -> Result<String, String> {
        let id = self.id();
        self.created(b, &id)?;
        self.start(&id)?;
        self.wait_stopped(&id)?;
        let out = self.stdout(b);
        self.rt(&["delete", &id])?.expect_code(0)?;
        Ok(out)
    }

    /// Runs `script` in a container made from `b` and returns its stdout.
    pub(crate) fn script_output(&self, b: &mut Bundle, script: &str) -> Result<String, String> {
        b.script(script);
        self.output(b)
    }
}

/// Runs `cmd` with stdin from /dev/null and stdout/stderr into the files `stdout` and
/// `stderr` of `dir` (a container started by the command inherits them, so nothing waits on
/// a pipe it holds), killing it after `limit`.
pub(crate) fn run_to_files(cmd: &mut Command, dir: &Path, limit: Duration) -> Result<Out, String> {
    let cmdline = cmdline_of(cmd);
    let out = std::fs::File::create(dir.join("stdout")).map_err(|e| e.to_string())?;
    let err = std::fs::File::create(dir.join("stderr")).map_err(|e| e.to_string())?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start `{cmdline}`: {e}"))?;
    let status = wait_limited(&mut child, limit)?;
    let o = Out {
        code: status.and_then(|s| s.code()),
        stdout: std::fs::read_to_string(dir.join("stdout")).unwrap_or_default(),
        stderr: std::fs::read_to_string(dir.join("stderr")).unwrap_or_default(),
        cmdline,
    };
    match status {
        Some(_) => Ok(o),
        None => Err(format!("killed after {limit:?}:\n{}", o.describe())),
    }
}

/// Kills every process left in the cgroup parent's subtree (containers of a failed check)
/// and removes the parent's empty cgroups, in every hierarchy.
fn force_cleanup(cg_parent: &str) {
    let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for h in rd.flatten() {
        let top = h.path().join(cg_parent);
        let mut dirs = vec![top.clone()];
        let mut i = 0;
        while i < dirs.len() {
            if let Ok(sub) = std::fs::read_dir(&dirs[i]) {
                for e in sub.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        dirs.push(e.path());
                    }
                }
            }
            i += 1;
        }
        for d in &dirs {
            // Thawed first: a frozen process cannot die.
            let _ = std::fs::write(d.join("freezer.state"), "THAWED");
            let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
        }
        std::thread::sleep(Duration::from_millis(50));
        super::remove_empty_dirs(&top);
    }
}

/// Runs every check of `group` for every runtime, prints the table and panics if a check
/// failed that is not a known breach of that runtime.
pub(crate) fn run_group(group: &str, runtimes: &[Runtime], checks: &[CheckFn], known: &[Known]) {
    let only: Option<Vec<String>> = std::env::var("LP_OCI_CHECKS")
        .ok()
        .map(|v| v.split(',').map(str::to_string).collect());
    let dir = TestDir::new(&format!("conf-{group}"));
    let cg_parent = format!("lp-test-oci-{}-conf-{group}", std::process::id());
    let allowed = Allowed {
        tmp: dir.0.clone(),
        cgroup_parents: vec![cg_parent.clone()],
        daemon_pid: None,
    };
    let mut cells: Vec<Vec<String>> = Vec::new();
    let mut failures = Vec::new();
    let mut notes = Vec::new();
    let t0 = Instant::now();
    for (name, check) in checks {
        if only.as_ref().is_some_and(|o| !o.iter().any(|n| n == name)) {
            continue;
        }
        let mut row = vec![name.to_string()];
        for rt in runtimes {
            // Paths end up in shell commands and mount options: letters, digits and dashes.
            let slug: String = name
                .chars()
                .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' })
                .collect();
            let work = dir.path(&format!("{}/{slug}", rt.name));
            std::fs::create_dir_all(&work).unwrap();
            let conf = Conf {
                rt,
                root: dir.path(&format!("{}/state-root", rt.name)),
                work,
                cg_parent: cg_parent.clone(),
                ids: RefCell::new(Vec::new()),
                bundles: Cell::new(0),
            };
            let mut result = match catch_unwind(AssertUnwindSafe(|| check(&conf))) {
                Ok(r) => r,
                Err(p) => Err(panic_message(p)),
            };
            for id in conf.ids.borrow().iter() {
                let _ = conf.rt(&["delete", "--force", id]);
            }
            let left = leftovers::settle(|| {
                let mut l = leftovers::common(&allowed, rt);
                if let Ok(o) = conf.rt(&["list", "-q"]) {
                    l.extend(
                        o.stdout
                            .lines()
                            .map(|id| format!("`list` still shows {id}")),
                    );
                }
                l
            });
            if !left.is_empty() {
                force_cleanup(&cg_parent);
                let msg = format!("left behind:\n    {}", left.join("\n    "));
                result = match result {
                    Ok(()) => Err(msg),
                    Err(e) => Err(format!("{e}\n  and {msg}")),
                };
            }
            let breach = known.iter().find(|(r, c, _)| *r == rt.name && c == name);
            let cell = match (&result, breach) {
                (Ok(()), None) => "ok".to_string(),
                (Ok(()), Some(_)) => {
                    notes.push(format!(
                        "{} passes `{name}`, listed as a known breach",
                        rt.name
                    ));
                    "ok (listed)".to_string()
                }
                (Err(e), _) if e.starts_with(NOT_APPLICABLE) => {
                    notes.push(format!("{} / {name}: {e}", rt.name));
                    "n/a".to_string()
                }
                (Err(e), Some((_, _, why))) => {
                    notes.push(format!(
                        "{} / {name}: known breach ({why}): {}",
                        rt.name,
                        first_line(e)
                    ));
                    "known".to_string()
                }
                (Err(e), None) => {
                    failures.push(format!("[{group} / {} / {name}] {e}", rt.name));
                    "FAIL".to_string()
                }
            };
            row.push(cell);
        }
        cells.push(row);
    }
    let w = cells.iter().map(|r| r[0].len()).max().unwrap_or(5).max(5);
    let mut table = format!("{:<w$}", "check");
    for rt in runtimes {
        table.push_str(&format!(" | {:<11}", rt.name));
    }
    for row in &cells {
        table.push_str(&format!("\n{:<w$}", row[0]));
        for c in &row[1..] {
            table.push_str(&format!(" | {c:<11}"));
        }
    }
    force_cleanup(&cg_parent);
    eprintln!(
        "\nOCI conformance, group `{group}` ({} checks x {} runtime(s), {:.1} s):\n{table}\n{}\n",
        cells.len(),
        runtimes.len(),
        t0.elapsed().as_secs_f64(),
        notes
            .iter()
            .map(|n| format!("  note: {n}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        !cells.is_empty(),
        "no check ran (LP_OCI_CHECKS matches none?)"
    );
    assert!(
        failures.is_empty(),
        "{} failure(s) in group `{group}`:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// A process holding new uts, ipc and network namespaces (for "namespaces by path"),
/// killed when dropped.
pub(crate) struct NsHolder {
    child: std::process::Child,
}

impl NsHolder {
    pub(crate) fn new() -> Result<NsHolder, String> {
        let child = Command::new("unshare")
            .args(["--uts", "--ipc", "--net", "sleep", "120"])
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("unshare: {e}"))?;
        let h = NsHolder { child };
        let deadline = Instant::now() + Duration::from_secs(5);
        while h.ns("uts") == ns_of("self", "uts") {
            ensure!(Instant::now() < deadline, "unshare did not make namespaces");
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(h)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The holder's namespace of `kind` (`uts`, `net`, `ipc`), as `readlink` shows it.
    pub(crate) fn ns(&self, kind: &str) -> String {
        ns_of(&self.pid().to_string(), kind)
    }
}

impl Drop for NsHolder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `readlink /proc/PID/ns/KIND` (`PID` may be `self`), empty if unreadable.
pub(crate) fn ns_of(pid: &str, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}
