//! `isorun`, the OCI runtime example, through its command line against the real kernel (run
//! as root, one suite at a time: `flock /tmp/lp-test.lock cargo test --test isorun_cli`).
//! Each test makes its own state root and bundles with a busybox-static rootfs under
//! `/tmp/lp-test-isorun-PID-TAG`, container ids and cgroups named `lp-test-…`; everything is
//! removed on drop, also when the test fails.
//!
//! The test process makes itself a child subreaper, as conmon and containerd's shim are: a
//! container outlives the `isorun create` that made it and is re-parented to the test, which
//! can then wait for it and see its exit status.

mod example_bin;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{Value, json};

/// The busybox-static binary (installed by .ci/run).
fn busybox() -> &'static str {
    ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox (apt-get install busybox-static; .ci/run installs it)")
}

/// A private state root, rootfs and cgroup parent; everything goes on drop.
struct Env {
    dir: PathBuf,
    root: PathBuf,
    rootfs: PathBuf,
    /// `/lp-test-isorun-PID-TAG`, absolute in every cgroup hierarchy.
    cgroup_parent: String,
    bin: PathBuf,
}

impl Env {
    fn new(tag: &str) -> Env {
        static SUBREAPER: Once = Once::new();
        SUBREAPER.call_once(|| rawsys::process::set_child_subreaper(true).unwrap());
        let name = format!("lp-test-isorun-{}-{tag}", std::process::id());
        let dir = PathBuf::from("/tmp").join(&name);
        let _ = std::fs::remove_dir_all(&dir);
        let rootfs = dir.join("rootfs");
        for d in ["bin", "etc", "tmp", "proc", "dev", "sys"] {
            std::fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        std::fs::copy(busybox(), rootfs.join("bin/busybox")).unwrap();
        let list = Command::new(busybox()).arg("--list").output().unwrap();
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            if applet != "busybox" && !applet.contains('/') {
                std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
            }
        }
        Env {
            root: dir.join("state"),
            rootfs,
            cgroup_parent: format!("/{name}"),
            bin: example_bin::example_binary("isorun"),
            dir,
        }
    }

    /// `isorun --root ROOT ARGS...`, stdin from /dev/null.
    fn isorun(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--root").arg(&self.root).args(args);
        self.output(&mut cmd)
    }

    /// Runs `cmd` with stdout and stderr in files: a created container keeps the streams it
    /// was given (as it must), so waiting for pipes to close would wait for the container.
    fn output(&self, cmd: &mut Command) -> Output {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let (out, err) = (
            self.dir.join(format!("stdout.{n}")),
            self.dir.join(format!("stderr.{n}")),
        );
        let status = cmd
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .status()
            .unwrap();
        let o = Output {
            status,
            stdout: std::fs::read(&out).unwrap(),
            stderr: std::fs::read(&err).unwrap(),
        };
        let _ = std::fs::remove_file(out);
        let _ = std::fs::remove_file(err);
        o
    }

    /// A bundle `NAME` whose config is runc's default spec (from `isorun spec`) with the
    /// rootfs, `args`, the cgroup below this test's parent and `patch` merged in.
    fn bundle(&self, name: &str, args: &[&str], patch: Value) -> PathBuf {
        let b = self.dir.join(name);
        std::fs::create_dir_all(&b).unwrap();
        let o = self.isorun(&["spec", "--bundle", b.to_str().unwrap()]);
        assert!(o.status.success(), "spec: {o:?}");
        let mut cfg: Value =
            serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
        merge(
            &mut cfg,
            json!({
                "process": {"args": args},
                "root": {"path": self.rootfs.to_str().unwrap(), "readonly": true},
                "linux": {"cgroupsPath": format!("{}/{name}", self.cgroup_parent)}
            }),
        );
        merge(&mut cfg, patch);
        std::fs::write(b.join("config.json"), cfg.to_string()).unwrap();
        b
    }

    /// `create --bundle B --pid-file B/pid ID`, checked to succeed; the pid.
    fn create(&self, bundle: &Path, id: &str) -> i32 {
        let pid_file = bundle.join("pid");
        let o = self.isorun(&[
            "create",
            "--bundle",
            bundle.to_str().unwrap(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            id,
        ]);
        assert!(o.status.success(), "create {id}: {}", text(&o.stderr));
        std::fs::read_to_string(&pid_file).unwrap().parse().unwrap()
    }

    fn state(&self, id: &str) -> Value {
        let o = self.isorun(&["state", id]);
        assert!(o.status.success(), "state {id}: {}", text(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap().to_string()
    }

    /// The container's cgroup directory in the memory hierarchy.
    fn memory_cgroup(&self, name: &str) -> PathBuf {
        PathBuf::from(format!(
            "/sys/fs/cgroup/memory{}/{name}",
            self.cgroup_parent
        ))
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let o = self.isorun(&["list", "-q"]);
        for id in text(&o.stdout).lines() {
            let _ = self.isorun(&["delete", "--force", id]);
        }
        // The parent directories isorun made (as runc does) in each hierarchy.
        if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
            for h in rd.flatten() {
                let p = h.path().join(self.cgroup_parent.trim_start_matches('/'));
                if let Ok(sub) = std::fs::read_dir(&p) {
                    for s in sub.flatten() {
                        if s.file_type().is_ok_and(|t| t.is_dir()) {
                            let _ = std::fs::remove_dir(s.path());
                        }
                    }
                }
                let _ = std::fs::remove_dir(&p);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Waits for our (re-parented) child `pid`; its exit status as a shell reports it.
fn reap(pid: i32) -> i32 {
    use rawsys::process::{WaitId, WaitOptions, WaitStatus};
    loop {
        match rawsys::process::waitid(WaitId::Pid(pid), WaitOptions::EXITED) {
            Ok(Some(s)) => match s.status {
                WaitStatus::Exited(c) => return c,
                WaitStatus::Signaled { signal, .. } => return 128 + signal.raw(),
                _ => {}
            },
            Ok(None) | Err(rawsys::Errno::EINTR) => {}
            Err(e) => panic!("waitid {pid}: {e:?}"),
        }
    }
}

/// The parent pid of `pid` (`/proc/PID/stat` field 4).
fn ppid(pid: i32) -> i32 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    s[s.rfind(')').unwrap() + 2..]
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

const SLEEPER: &[&str] = &["sleep", "1000"];

#[test]
fn lifecycle_created_running_stopped_with_pid_file_and_annotations() {
    let env = Env::new("life");
    let b = env.bundle(
        "lp-test-life",
        SLEEPER,
        json!({"annotations": {"org.lp-test.note": "a value with spaces"}}),
    );
    let pid = env.create(&b, "lp-test-life");
    // The process outlives create, as a descendant of the subreaper that called it.
    assert_eq!(ppid(pid), std::process::id() as i32);
    let s = env.state("lp-test-life");
    assert_eq!(s["status"], "created");
    assert_eq!(s["id"], "lp-test-life");
    assert_eq!(s["pid"], pid);
    assert_eq!(s["bundle"], b.to_str().unwrap());
    assert_eq!(s["ociVersion"], "1.1.0");
    assert_eq!(s["annotations"]["org.lp-test.note"], "a value with spaces");
    assert!(s["created"].as_str().unwrap().ends_with('Z'), "{s}");
    // No temporary file beside the pid file.
    let names: Vec<String> = std::fs::read_dir(&b)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("tmp")), "{names:?}");
    // The cgroup is exactly where cgroupsPath says.
    assert!(env.memory_cgroup("lp-test-life").is_dir());
    let procs =
        std::fs::read_to_string(env.memory_cgroup("lp-test-life").join("cgroup.procs")).unwrap();
    assert_eq!(procs.trim(), pid.to_string());

    let o = env.isorun(&["start", "lp-test-life"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(env.status("lp-test-life"), "running");
    let o = env.isorun(&["start", "lp-test-life"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("already running"), "{o:?}");

    let o = env.isorun(&["list", "--format", "json"]);
    let list: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(list[0]["id"], "lp-test-life");
    assert_eq!(list[0]["status"], "running");
    assert_eq!(text(&env.isorun(&["list", "-q"]).stdout), "lp-test-life\n");

    let o = env.isorun(&["pause", "lp-test-life"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(env.status("lp-test-life"), "paused");
    let o = env.isorun(&["resume", "lp-test-life"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(env.status("lp-test-life"), "running");

    // A running container is not deleted without --force.
    let o = env.isorun(&["delete", "lp-test-life"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("not stopped: running"), "{o:?}");

    let o = env.isorun(&["kill", "lp-test-life", "KILL"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(reap(pid), 137);
    let s = env.state("lp-test-life");
    assert_eq!(
        (s["status"].as_str(), s["pid"].as_i64()),
        (Some("stopped"), Some(0))
    );
    let o = env.isorun(&["kill", "lp-test-life", "KILL"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("container not running"), "{o:?}");

    let o = env.isorun(&["delete", "lp-test-life"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(!env.root.join("lp-test-life").exists());
    assert!(!env.memory_cgroup("lp-test-life").exists());
    let o = env.isorun(&["state", "lp-test-life"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stderr), "isorun: container does not exist\n");
}

#[test]
fn kill_takes_signal_names_and_numbers_and_all() {
    let env = Env::new("kill");
    let script = "trap 'exit 10' USR1; trap 'exit 12' USR2; trap 'exit 15' TERM; \
                  sleep 1000 & while :; do sleep 0.05; done";
    let cases = [
        ("USR1", 10),
        ("SIGUSR2", 12),
        ("sigterm", 15),
        ("15", 15),
        ("9", 137),
    ];
    for (i, (sig, code)) in cases.iter().enumerate() {
        let id = format!("lp-test-kill-{i}");
        let b = env.bundle(&id, &["sh", "-c", script], json!({}));
        let pid = env.create(&b, &id);
        assert!(env.isorun(&["start", &id]).status.success());
        // The trap is set once the shell runs its loop: wait for its sleep child.
        let cg = env.memory_cgroup(&id).join("cgroup.procs");
        let t = std::time::Instant::now();
        while std::fs::read_to_string(&cg)
            .unwrap()
            .split_whitespace()
            .count()
            < 3
        {
            assert!(t.elapsed().as_secs() < 10, "the script never started");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let o = env.isorun(&["kill", &id, sig]);
        assert!(o.status.success(), "kill {sig}: {}", text(&o.stderr));
        assert_eq!(reap(pid), *code, "kill {sig}");
        assert!(env.isorun(&["delete", &id]).status.success());
    }
    // --all reaches every process of the cgroup; ps lists them first. (busybox sh execs its
    // last command: PID 1 becomes the second sleep.)
    let b = env.bundle(
        "lp-test-kill-all",
        &["sh", "-c", "sleep 1000 & sleep 1000"],
        json!({}),
    );
    let pid = env.create(&b, "lp-test-kill-all");
    assert!(env.isorun(&["start", "lp-test-kill-all"]).status.success());
    let t = std::time::Instant::now();
    let pids = loop {
        let o = env.isorun(&["ps", "--format", "json", "lp-test-kill-all"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let pids: Vec<i64> = serde_json::from_slice(&o.stdout).unwrap();
        if pids.len() >= 2 || t.elapsed().as_secs() > 10 {
            break pids;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert!(pids.len() == 2 && pids.contains(&(pid as i64)), "{pids:?}");
    let o = env.isorun(&["kill", "--all", "lp-test-kill-all", "SIGKILL"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(reap(pid), 137);
    for bad in ["SIGFLY", "0", "99"] {
        let o = env.isorun(&["kill", "lp-test-kill-all", bad]);
        assert_eq!(o.status.code(), Some(1), "{bad}");
        assert!(text(&o.stderr).contains("signal"), "{bad}: {o:?}");
    }
}

#[test]
fn delete_refuses_a_created_container_without_force() {
    let env = Env::new("del");
    let b = env.bundle("lp-test-del", SLEEPER, json!({}));
    let pid = env.create(&b, "lp-test-del");
    let o = env.isorun(&["delete", "lp-test-del"]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("not stopped: created") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(env.status("lp-test-del"), "created");
    let o = env.isorun(&["delete", "--force", "lp-test-del"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(reap(pid), 137);
    assert!(!env.root.join("lp-test-del").exists());
    assert!(!env.memory_cgroup("lp-test-del").exists());
    // An unknown id: an error without --force (runc's words), success with it.
    let o = env.isorun(&["delete", "lp-test-del"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stderr), "isorun: container does not exist\n");
    assert!(
        env.isorun(&["delete", "--force", "lp-test-del"])
            .status
            .success()
    );
    for cmd in ["start", "state", "pause", "resume", "ps"] {
        let o = env.isorun(&[cmd, "lp-test-nothing"]);
        assert_eq!(o.status.code(), Some(1), "{cmd}");
        assert!(
            text(&o.stderr).contains("container does not exist"),
            "{cmd}: {o:?}"
        );
    }
    let o = env.isorun(&["kill", "lp-test-nothing"]);
    assert!(
        text(&o.stderr).contains("container does not exist"),
        "{o:?}"
    );
}

#[test]
fn run_waits_and_exits_with_the_status_and_removes_the_container() {
    let env = Env::new("run");
    let b = env.bundle(
        "lp-test-run",
        &["sh", "-c", "echo out $$ $(hostname); echo err >&2; exit 7"],
        json!({"hostname": "lp-test-host"}),
    );
    let o = env.isorun(&["run", "--bundle", b.to_str().unwrap(), "lp-test-run"]);
    assert_eq!(o.status.code(), Some(7), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "out 1 lp-test-host\n");
    assert_eq!(text(&o.stderr), "err\n");
    assert!(!env.root.join("lp-test-run").exists());
    assert!(!env.memory_cgroup("lp-test-run").exists());
    // --detach returns with the container running.
    let b = env.bundle("lp-test-run-d", SLEEPER, json!({}));
    let pid_file = b.join("pid");
    let o = env.isorun(&[
        "run",
        "-d",
        "--bundle",
        b.to_str().unwrap(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        "lp-test-run-d",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(env.status("lp-test-run-d"), "running");
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert!(
        env.isorun(&["delete", "-f", "lp-test-run-d"])
            .status
            .success()
    );
    assert_eq!(reap(pid), 137);

    // A relative cgroupsPath nests below the caller's own cgroup, as runc places it.
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .unwrap()
        .lines()
        .find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrl, path) = (f.next()?, f.next()?, f.next()?);
            ctrl.split(',')
                .any(|c| c == "memory")
                .then(|| path.to_string())
        })
        .unwrap();
    let rel = format!("lp-test-isorun-rel-{}", std::process::id());
    let parent = PathBuf::from(format!(
        "/sys/fs/cgroup/memory{}/{rel}",
        own.trim_end_matches('/')
    ));
    let b = env.bundle(
        "lp-test-rel",
        SLEEPER,
        json!({"linux": {"cgroupsPath": format!("{rel}/lp-test-rel")}}),
    );
    let pid = env.create(&b, "lp-test-rel");
    let in_cgroup = std::fs::read_to_string(parent.join("lp-test-rel/cgroup.procs"));
    assert!(
        env.isorun(&["delete", "-f", "lp-test-rel"])
            .status
            .success()
    );
    assert_eq!(reap(pid), 137);
    assert!(!parent.join("lp-test-rel").exists());
    // The parent made in each hierarchy, below our own cgroup there (which differs per
    // hierarchy).
    let owns: Vec<String> = std::fs::read_to_string("/proc/self/cgroup")
        .unwrap()
        .lines()
        .filter_map(|l| l.splitn(3, ':').nth(2).map(String::from))
        .collect();
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        for o in &owns {
            let _ = std::fs::remove_dir(h.path().join(o.trim_start_matches('/')).join(&rel));
        }
    }
    let mut left = Vec::new();
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        for o in &owns {
            let p = h.path().join(o.trim_start_matches('/')).join(&rel);
            if p.exists() {
                left.push(p);
            }
        }
    }
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(in_cgroup.unwrap().trim(), pid.to_string());
}

/// Nothing of a failed create stays: state directory, cgroup, process.
fn assert_nothing_left(env: &Env, id: &str) {
    assert!(!env.root.join(id).exists(), "state dir of {id}");
    let leftovers: Vec<_> = std::fs::read_dir(&env.root)
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(!env.memory_cgroup(id).exists(), "cgroup of {id}");
    assert_eq!(text(&env.isorun(&["list", "-q"]).stdout), "");
}

#[test]
fn a_failed_create_says_why_in_the_json_log_and_leaves_nothing() {
    let env = Env::new("bad");
    let log = env.dir.join("log.json");
    let create = |b: &Path, id: &str| {
        env.output(
            Command::new(&env.bin)
                .args(["--root", env.root.to_str().unwrap(), "--log"])
                .arg(&log)
                .args(["--log-format", "json", "create", "--bundle"])
                .arg(b)
                .arg(id),
        )
    };
    let last_log_line = || -> Value {
        let t = std::fs::read_to_string(&log).unwrap();
        serde_json::from_str(t.lines().last().unwrap()).unwrap()
    };
    // Bad JSON.
    let b = env.dir.join("lp-test-bad-json");
    std::fs::create_dir_all(&b).unwrap();
    std::fs::write(b.join("config.json"), "{\"ociVersion\": ").unwrap();
    let o = create(&b, "lp-test-bad-json");
    assert_eq!(o.status.code(), Some(1));
    let l = last_log_line();
    assert_eq!(l["level"], "error");
    let msg = l["msg"].as_str().unwrap();
    assert!(
        msg.contains("bad JSON") && msg.contains("config.json"),
        "{l}"
    );
    assert!(l["time"].as_str().unwrap().ends_with('Z'), "{l}");
    assert_eq!(text(&o.stderr), format!("isorun: {msg}\n"));
    assert_nothing_left(&env, "lp-test-bad-json");

    let cases: [(&str, Value, &[&str], &str); 6] = [
        (
            "lp-test-bad-cap",
            json!({"process": {"capabilities": {"bounding": ["CAP_FLY"]}}}),
            SLEEPER,
            "CAP_FLY",
        ),
        (
            "lp-test-bad-rlimit",
            json!({"process": {"rlimits": [{"type": "RLIMIT_FLY", "hard": 1, "soft": 1}]}}),
            SLEEPER,
            "RLIMIT_FLY",
        ),
        (
            "lp-test-bad-ns",
            json!({"linux": {"namespaces": [{"type": "pid"}, {"type": "time"}]}}),
            SLEEPER,
            "time",
        ),
        (
            "lp-test-bad-cpuset",
            json!({"linux": {"resources": {"cpu": {"cpus": "0-"}}}}),
            SLEEPER,
            "cpuset",
        ),
        // Refused only once the container's process exists: the command is missing.
        (
            "lp-test-bad-cmd",
            json!({}),
            &["/bin/lp-test-missing"],
            "no such file or directory",
        ),
        // A createRuntime hook that fails: the container existed and is removed again.
        (
            "lp-test-bad-hook",
            json!({"hooks": {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]}}),
            SLEEPER,
            "exited with 3",
        ),
    ];
    for (id, patch, args, words) in cases {
        let b = env.bundle(id, args, patch);
        let o = create(&b, id);
        assert_eq!(o.status.code(), Some(1), "{id}: {o:?}");
        let msg = last_log_line()["msg"].as_str().unwrap().to_string();
        assert!(msg.contains(words), "{id}: {msg}");
        assert!(text(&o.stderr).contains(&msg), "{id}: {o:?}");
        assert_nothing_left(&env, id);
    }
    // A missing bundle and a missing config.
    let o = create(&env.dir.join("lp-test-no-bundle"), "lp-test-x");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        last_log_line()["msg"]
            .as_str()
            .unwrap()
            .contains("lp-test-no-bundle")
    );
    let o = create(&env.dir, "lp-test-x");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        last_log_line()["msg"]
            .as_str()
            .unwrap()
            .contains("config.json")
    );
    assert_nothing_left(&env, "lp-test-x");
    // The same id twice: the second create is refused, the first container stays.
    let b = env.bundle("lp-test-twice", SLEEPER, json!({}));
    let pid = env.create(&b, "lp-test-twice");
    let o = create(&b, "lp-test-twice");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("exists"), "{o:?}");
    assert_eq!(env.status("lp-test-twice"), "created");
    assert!(
        env.isorun(&["delete", "-f", "lp-test-twice"])
            .status
            .success()
    );
    assert_eq!(reap(pid), 137);
}

#[test]
fn hooks_run_in_order_with_the_state_on_stdin() {
    let env = Env::new("hooks");
    let out = env.dir.join("hooks-out");
    std::fs::create_dir_all(&out).unwrap();
    let hook = |name: &str| {
        json!({"path": "/bin/sh", "args": ["sh", "-c",
            format!("cat > {0}/{name}.json; echo {name} >> {0}/order", out.display())]})
    };
    let b = env.bundle(
        "lp-test-hooks",
        &["sh", "-c", "exit 0"],
        json!({
            "annotations": {"org.lp-test.hooks": "yes"},
            "hooks": {
                "prestart": [hook("prestart")],
                "createRuntime": [hook("createRuntime1"), hook("createRuntime2")],
                "poststart": [hook("poststart")],
                "poststop": [hook("poststop")]
            }
        }),
    );
    let pid = env.create(&b, "lp-test-hooks");
    let order = || std::fs::read_to_string(out.join("order")).unwrap_or_default();
    assert_eq!(order(), "prestart\ncreateRuntime1\ncreateRuntime2\n");
    assert!(env.isorun(&["start", "lp-test-hooks"]).status.success());
    assert_eq!(reap(pid), 0);
    assert!(env.isorun(&["delete", "lp-test-hooks"]).status.success());
    assert_eq!(
        order(),
        "prestart\ncreateRuntime1\ncreateRuntime2\npoststart\npoststop\n"
    );
    for (name, status) in [
        ("createRuntime1", "creating"),
        ("poststart", "running"),
        ("poststop", "stopped"),
    ] {
        let s: Value =
            serde_json::from_slice(&std::fs::read(out.join(format!("{name}.json"))).unwrap())
                .unwrap();
        assert_eq!(s["id"], "lp-test-hooks", "{name}: {s}");
        assert_eq!(s["status"], status, "{name}: {s}");
        assert_eq!(s["bundle"], b.to_str().unwrap(), "{name}: {s}");
        assert_eq!(s["annotations"]["org.lp-test.hooks"], "yes", "{name}: {s}");
        if status != "stopped" {
            assert_eq!(s["pid"], pid, "{name}: {s}");
        }
    }
}

#[test]
fn spec_features_version_and_config_fields_reach_the_process() {
    let env = Env::new("spec");
    // spec writes a config that parses and refuses to overwrite it.
    let b = env.dir.join("lp-test-spec");
    std::fs::create_dir_all(&b).unwrap();
    assert!(
        env.isorun(&["spec", "--bundle", b.to_str().unwrap()])
            .status
            .success()
    );
    let cfg: Value =
        serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["root"]["path"], "rootfs");
    let o = env.isorun(&["spec", "--bundle", b.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("exists"), "{o:?}");
    let o = env.isorun(&["features"]);
    let f: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        f["hooks"]
            .as_array()
            .unwrap()
            .contains(&json!("createRuntime"))
    );
    assert!(
        f["linux"]["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("CAP_SYS_ADMIN"))
    );
    assert_eq!(f["linux"]["seccomp"]["enabled"], true);
    for flag in ["-v", "--version"] {
        let o = env.isorun(&[flag]);
        assert!(text(&o.stdout).starts_with("isorun "), "{o:?}");
    }
    // The config's fields inside: user, groups, env, cwd, rlimit, caps, sysctl, masked path,
    // a tmpfs with options, the read-only root, and a seccomp rule with an errno.
    let script = "id -u; id -G; echo $LP_VAR; pwd; ulimit -n; grep CapEff /proc/self/status; \
                  cat /proc/sys/kernel/shmmax; cat /proc/kcore | wc -c; \
                  grep ' /lp-test-tmp ' /proc/self/mountinfo | cut -d' ' -f6; \
                  touch /x 2>/dev/null || echo ro-root; mkdir /tmp/d 2>&1 | grep -c 'Function not implemented'";
    let b = env.bundle(
        "lp-test-fields",
        &["sh", "-c", script],
        json!({
            "process": {
                "user": {"uid": 1000, "gid": 1000, "additionalGids": [1001, 1002]},
                "env": ["PATH=/bin", "LP_VAR=from-config"],
                "cwd": "/tmp",
                "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 321, "soft": 123}],
                // A non-root process keeps capabilities across execve only as ambient ones.
                "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                                 "permitted": ["CAP_KILL"], "ambient": ["CAP_KILL"],
                                 "inheritable": ["CAP_KILL"]},
                "noNewPrivileges": true
            },
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "nodev", "mode=1777"]},
                {"destination": "/lp-test-tmp", "type": "tmpfs", "source": "tmpfs",
                 "options": ["noexec", "nosuid", "nodev", "ro"]}
            ],
            "linux": {
                "sysctl": {"kernel.shmmax": "4242"},
                "maskedPaths": ["/proc/kcore"],
                "seccomp": {"defaultAction": "SCMP_ACT_ALLOW",
                            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                                          "errnoRet": 38}]}
            }
        }),
    );
    let o = env.isorun(&["run", "--bundle", b.to_str().unwrap(), "lp-test-fields"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..5],
        ["1000", "1000 1001 1002", "from-config", "/tmp", "123"],
        "{out}"
    );
    assert_eq!(
        lines[5].split_whitespace().nth(1),
        Some("0000000000000020"),
        "{out}"
    );
    assert_eq!(
        lines[6..],
        [
            "4242",
            "0",
            "ro,nosuid,nodev,noexec,relatime",
            "ro-root",
            "1"
        ],
        "{out}"
    );
}

/// A shell that reports its start and each of SIGUSR1 and SIGTERM (which ends it with 7).
const TRAPPING: &str = "trap 'echo got-term; exit 7' TERM; trap 'echo got-usr1' USR1; \
                        echo ready; while :; do sleep 0.05; done";

/// Waits (at most 10 s, else fails with `what`) until the text of the file `out` is `done`.
fn wait_for_output(out: &Path, what: &str, done: impl Fn(&str) -> bool) {
    let t = std::time::Instant::now();
    while !done(&std::fs::read_to_string(out).unwrap()) {
        assert!(t.elapsed().as_secs() < 10, "{what}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// `exec` in the foreground passes the signals it gets on to its process (as runc does) and
/// exits with the process's status: its own code, or 128 + the signal that ended it.
#[test]
fn exec_in_the_foreground_forwards_signals_and_relays_the_status() {
    use rawsys::signal::Signal;
    let env = Env::new("execsig");
    let id = "lp-test-execsig";
    let b = env.bundle(id, SLEEPER, json!({}));
    let pid = env.create(&b, id);
    assert!(env.isorun(&["start", id]).status.success());
    let cases: [(&[&str], &[Signal], i32, &str); 2] = [
        (
            &["sh", "-c", TRAPPING],
            &[Signal::SIGUSR1, Signal::SIGTERM],
            7,
            "ready\ngot-usr1\ngot-term\n",
        ),
        (
            &["sh", "-c", "echo ready; exec sleep 1000"],
            &[Signal::SIGTERM],
            143,
            "ready\n",
        ),
    ];
    for (n, (args, signals, code, want)) in cases.iter().enumerate() {
        let out = env.dir.join(format!("exec-out.{n}"));
        let mut child = Command::new(&env.bin)
            .arg("--root")
            .arg(&env.root)
            .args(["exec", id])
            .args(*args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        wait_for_output(&out, "the exec'd process never started", |s| s == "ready\n");
        for sig in *signals {
            let before = std::fs::read_to_string(&out).unwrap();
            rawsys::process::kill_process(child.id() as i32, *sig).unwrap();
            // One at a time: busybox runs a trap after its foreground sleep.
            if *sig != Signal::SIGTERM {
                let what = format!("{sig:?} never reached the process");
                wait_for_output(&out, &what, |s| s != before);
            }
        }
        let st = child.wait().unwrap();
        assert_eq!(st.code(), Some(*code), "case {n}: {st:?}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), *want, "case {n}");
    }
    // The container itself was not signalled.
    assert_eq!(env.status(id), "running");
    let o = env.isorun(&["kill", id, "KILL"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(reap(pid), 137);
}

/// `run` in the foreground is the container process's parent and forwards the signals it
/// gets (as runc's `run`): a PID 1 with traps sees SIGUSR1 and SIGTERM, `run` exits with its
/// status and deletes the container.
#[test]
fn run_in_the_foreground_forwards_signals_and_relays_the_status() {
    use rawsys::signal::Signal;
    let env = Env::new("runsig");
    let id = "lp-test-runsig";
    let b = env.bundle(id, &["sh", "-c", TRAPPING], json!({}));
    let out = env.dir.join("run-out");
    let mut child = Command::new(&env.bin)
        .arg("--root")
        .arg(&env.root)
        .args(["run", "--bundle"])
        .arg(&b)
        .arg(id)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    wait_for_output(&out, "the container never started", |s| s == "ready\n");
    rawsys::process::kill_process(child.id() as i32, Signal::SIGUSR1).unwrap();
    wait_for_output(&out, "SIGUSR1 never reached PID 1", |s| s != "ready\n");
    rawsys::process::kill_process(child.id() as i32, Signal::SIGTERM).unwrap();
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(7), "{st:?}");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "ready\ngot-usr1\ngot-term\n"
    );
    let o = env.isorun(&["state", id]);
    assert!(!o.status.success(), "run left the container behind");
}
