//! Detached containers of the `container` example (run as root): `run -d` and its
//! supervisor, `ps [-a]`, `logs [-f]`, `exec`, `stop` (SIGTERM, then SIGKILL after the grace
//! period), `kill`, `wait`, `inspect`, `rm [-f]`, `--rm`, names, and the state root shared
//! with `isorun`. Every test has its own state root (`CONTAINER_ROOT`) and image store, and
//! checks that nothing is left: state directories, the supervisor, cgroups, writable layers.
//! Their bridge networking is in `container_detached_net.rs`.

mod detached_support;
mod example_bin;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use detached_support::{Env, eventually, text};

#[test]
fn run_d_ps_logs_exec_stop_wait_inspect_rm() {
    let env = Env::new("life");
    let name = "lp-test-life";
    let id = env.ok(&[
        "run",
        "-d",
        "--name",
        name,
        "--memory",
        "64M",
        "--pids",
        "32",
        "--",
        "sh",
        "-c",
        "echo out-line; echo err-line >&2; exec sleep 100",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    let t = env.traces(name);
    assert!(!t.cgroups.is_empty());
    // ps: docker's columns; the short id, the command, Up.
    let ps = env.ok(&["ps"]);
    let mut lines = ps.lines();
    let header = lines.next().unwrap();
    for col in [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "NAMES",
    ] {
        assert!(header.contains(col), "{header}");
    }
    let row = lines.next().unwrap();
    assert!(row.starts_with(&id[..12]), "{row}");
    assert!(row.contains(" Up ") && row.ends_with(name), "{row}");
    assert!(row.contains("\"sh -c echo out-line"), "{row}");
    // logs: each stream to its own.
    eventually("the log", || {
        env.run(&["logs", name]).stdout == b"out-line\n"
    });
    let o = env.run(&["logs", name]);
    assert_eq!(text(&o.stderr), "err-line\n");
    // exec: in the container (its PID namespace and hostname), with its exit code; by id
    // prefix too.
    let o = env.run(&["exec", name, "sh", "-c", "cat /proc/1/comm; exit 3"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "sleep\n");
    let o = env.run(&["exec", "-e", "X=y", &id[..8], "sh", "-c", "echo $X"]);
    assert_eq!(text(&o.stdout), "y\n", "{}", text(&o.stderr));
    // The container's memory limit is the one asked for.
    let v = env.inspect(name);
    assert_eq!(v["Id"], id);
    assert_eq!(v["Name"], name);
    assert_eq!(v["State"]["Status"], "running");
    assert_eq!(v["State"]["Running"], true);
    assert!(v["State"]["Pid"].as_i64().unwrap() > 0);
    assert_eq!(v["HostConfig"]["Memory"], 64 << 20);
    assert_eq!(v["HostConfig"]["PidsLimit"], 32);
    assert_eq!(v["Path"], "sh");
    // rm refuses a running container.
    let o = env.run(&["rm", name]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        format!("container: cannot remove {name}: it is running (stop it first, or rm -f)\n")
    );
    // stop: sleep as PID 1 has no SIGTERM handler, so SIGKILL after the grace period.
    assert_eq!(env.ok(&["stop", "-t", "1", name]), format!("{name}\n"));
    assert_eq!(env.ok(&["wait", name]), "137\n");
    let ps = env.ok(&["ps"]);
    assert_eq!(ps.lines().count(), 1, "{ps}");
    let ps = env.ok(&["ps", "-a"]);
    assert!(ps.contains("Exited (137) "), "{ps}");
    let v = env.inspect(name);
    assert_eq!(v["State"]["Status"], "exited");
    assert_eq!(v["State"]["ExitCode"], 137);
    assert_ne!(v["State"]["FinishedAt"], "0001-01-01T00:00:00Z");
    // exec into a stopped container: one line.
    let o = env.run(&["exec", name, "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        text(&o.stderr).contains("is not running"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(env.ok(&["rm", name]), format!("{name}\n"));
    t.assert_gone();
    env.assert_empty();
}

#[test]
fn stop_takes_the_grace_period_plus_little_and_a_handled_sigterm_ends_sooner() {
    let env = Env::new("stop");
    env.ok(&[
        "run",
        "-d",
        "--name",
        "lp-test-stubborn",
        "--",
        "sleep",
        "100",
    ]);
    let t0 = Instant::now();
    env.ok(&["stop", "-t", "1", "lp-test-stubborn"]);
    let took = t0.elapsed();
    eprintln!("stop -t 1 of a container ignoring SIGTERM: {took:?}");
    assert!(took >= Duration::from_secs(1), "{took:?}");
    // The target is 50 ms over the grace period; this loaded machine gets some slack.
    assert!(took < Duration::from_millis(1500), "{took:?}");
    // A container that handles SIGTERM ends at once, with its own exit code.
    env.ok(&[
        "run",
        "-d",
        "--name",
        "lp-test-polite",
        "--",
        "sh",
        "-c",
        "trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done",
    ]);
    eventually("ready", || {
        env.run(&["logs", "lp-test-polite"]).stdout == b"ready\n"
    });
    let t0 = Instant::now();
    env.ok(&["stop", "-t", "10", "lp-test-polite"]);
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert_eq!(env.ok(&["wait", "lp-test-polite"]), "7\n");
    // kill: a signal of our choice (PID 1 gets it once it has a handler); stop of a stopped
    // container is no error.
    env.ok(&[
        "run",
        "-d",
        "--name",
        "lp-test-killed",
        "--",
        "sh",
        "-c",
        "trap 'exit 10' USR1; echo ready; while :; do sleep 0.05; done",
    ]);
    eventually("ready", || {
        env.run(&["logs", "lp-test-killed"]).stdout == b"ready\n"
    });
    env.ok(&["kill", "-s", "USR1", "lp-test-killed"]);
    assert_eq!(env.ok(&["wait", "lp-test-killed"]), "10\n");
    env.ok(&["stop", "lp-test-killed"]);
    let o = env.run(&["kill", "lp-test-killed"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "container: cannot kill lp-test-killed: it is not running\n"
    );
    for n in ["lp-test-stubborn", "lp-test-polite", "lp-test-killed"] {
        let t = env.traces(n);
        env.ok(&["rm", n]);
        t.assert_gone();
    }
    env.assert_empty();
}

#[test]
fn names_are_unique_unknown_ones_are_one_line_and_rm_flag_removes_on_exit() {
    let env = Env::new("names");
    env.ok(&["run", "-d", "--name", "lp-test-dup", "--", "sleep", "100"]);
    let o = env.run(&["run", "-d", "--name", "lp-test-dup", "--", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(
        text(&o.stderr),
        "container: the name lp-test-dup is in use by another container (container rm \
         lp-test-dup removes it)\n"
    );
    // A generated name: adjective_noun.
    let id = env.ok(&["run", "-d", "--", "sleep", "100"]);
    let v = env.inspect(&id.trim()[..12]);
    let generated = v["Name"].as_str().unwrap().to_string();
    assert!(generated.contains('_'), "{generated}");
    for cmd in [
        &["logs", "lp-test-nope"][..],
        &["stop", "lp-test-nope"],
        &["kill", "lp-test-nope"],
        &["rm", "lp-test-nope"],
        &["inspect", "lp-test-nope"],
        &["wait", "lp-test-nope"],
        &["exec", "lp-test-nope", "true"],
    ] {
        let o = env.run(cmd);
        assert_ne!(o.status.code(), Some(0), "{cmd:?}");
        assert_eq!(
            text(&o.stderr),
            "container: no such container: lp-test-nope\n",
            "{cmd:?}"
        );
    }
    // A missing command: refused at run -d, nothing left.
    let o = env.run(&["run", "-d", "--name", "lp-test-missing", "--", "/no/such"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        text(&o.stderr).contains("command not found inside the container: /no/such"),
        "{}",
        text(&o.stderr)
    );
    // A bridge that cannot be used (an interface of that name without the bridge's address):
    // said in one line, nothing left (checked at the end).
    let leases = env.dir.join("leases");
    let o = env.run(&[
        "run",
        "-d",
        "--net",
        "bridge",
        "--bridge",
        "lo",
        "--lease-dir",
        leases.to_str().unwrap(),
        "--",
        "true",
    ]);
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(
        text(&o.stderr),
        "container: network: interface lo exists but does not have address 172.29.0.1/16: \
         choose another bridge name or subnet\n"
    );
    // rm -f kills a running one.
    let t = env.traces("lp-test-dup");
    env.ok(&["rm", "-f", "lp-test-dup", &generated]);
    t.assert_gone();
    // --rm: gone once it ended by itself, its overlay layer too.
    let rootfs = busybox_rootfs(&env.dir.join("rootfs"));
    let rootfs_s = rootfs.to_str().unwrap().to_string();
    let args = [
        "run",
        "-d",
        "--rm",
        "--name",
        "lp-test-rm",
        "--rootfs",
        &rootfs_s,
        "--",
        "sh",
        "-c",
        "echo x > /written; sleep 1; exit 6",
    ];
    env.ok(&args);
    {
        assert_eq!(
            std::fs::read_dir(env.dir.join("images/rw"))
                .unwrap()
                .count(),
            1,
            "the run's writable layer"
        );
    }
    // wait gets the code though --rm removes the container and its record right after.
    assert_eq!(env.ok(&["wait", "lp-test-rm"]), "6\n");
    eventually("--rm to remove it", || {
        env.ok(&["ps", "-a", "-q"]).is_empty() && !env.root().join("lp-test-rm").exists()
    });
    eventually("its writable layer to go", || {
        std::fs::read_dir(env.dir.join("images/rw")).map_or(true, |rd| rd.count() == 0)
    });
    assert!(!rootfs.join("written").exists(), "the rootfs was written");
    env.assert_empty();
}

#[test]
fn logs_are_bounded_and_follow_ends_with_the_container() {
    let env = Env::new("logs");
    let o = env
        .cmd(&[
            "run",
            "-d",
            "--name",
            "lp-test-logs",
            "--",
            "sh",
            "-c",
            "sleep 0.3; i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); done; exit 5",
        ])
        .env("CONTAINER_LOG_SIZE", "8192")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    // -f from the start to the end: the newest lines, ending with the last.
    let o = env.run(&["logs", "-f", "lp-test-logs"]);
    assert!(o.status.success());
    let out = text(&o.stdout);
    assert!(
        out.ends_with("line 2999\n"),
        "{}",
        &out[out.len().saturating_sub(100)..]
    );
    assert_eq!(env.ok(&["wait", "lp-test-logs"]), "5\n");
    // Two files of at most 8 KiB each are kept.
    let dir = env.root().join(".container/lp-test-logs");
    let size = |n: &str| std::fs::metadata(dir.join(n)).map_or(0, |m| m.len());
    assert!(
        size("log") <= 8192 && size("log.1") <= 8192,
        "{} {}",
        size("log"),
        size("log.1")
    );
    let all = env.ok(&["logs", "lp-test-logs"]);
    assert!(
        all.len() < 16384 && !all.contains("line 0\n"),
        "{}",
        all.len()
    );
    assert!(all.ends_with("line 2999\n"));
    // Every line kept is whole and in order, but the oldest (frames are what one read of
    // the pipe got, and rotation keeps whole frames, not whole lines).
    let nums: Vec<u32> = all
        .lines()
        .skip(1)
        .map(|l| l.strip_prefix("line ").unwrap().parse().unwrap())
        .collect();
    assert!(nums.windows(2).all(|w| w[1] == w[0] + 1));
    env.ok(&["rm", "lp-test-logs"]);
    env.assert_empty();
}

/// A busybox rootfs at `dir` (sh, sleep).
fn busybox_rootfs(dir: &Path) -> PathBuf {
    for d in ["bin", "proc", "dev", "sys", "tmp"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let bb = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox (apt-get install busybox-static)");
    std::fs::copy(bb, dir.join("bin/busybox")).unwrap();
    for app in ["sh", "sleep"] {
        std::os::unix::fs::symlink("busybox", dir.join("bin").join(app)).unwrap();
    }
    dir.to_path_buf()
}

/// A minimal OCI bundle for isorun: busybox rootfs, `sleep 100`.
fn isorun_bundle(env: &Env, isorun: &Path) -> PathBuf {
    let b = env.dir.join("bundle");
    let rootfs = busybox_rootfs(&b.join("rootfs"));
    let st = Command::new(isorun)
        .args(["spec", "--bundle"])
        .arg(&b)
        .status()
        .unwrap();
    assert!(st.success());
    let mut cfg: Value =
        serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
    cfg["process"]["args"] = serde_json::json!(["sleep", "100"]);
    cfg["process"]["terminal"] = Value::Bool(false);
    cfg["root"] = serde_json::json!({"path": rootfs, "readonly": true});
    std::fs::write(b.join("config.json"), cfg.to_string()).unwrap();
    b
}

#[test]
fn isorun_and_container_share_the_state_root() {
    let env = Env::new("shared");
    let isorun = example_bin::example_binary("isorun");
    let root = env.root();
    env.ok(&["run", "-d", "--name", "lp-test-ours", "--", "sleep", "100"]);
    // isorun lists container's container and can read its state.
    let o = Command::new(&isorun)
        .arg("--root")
        .arg(&root)
        .args(["list", "-q"])
        .output()
        .unwrap();
    assert_eq!(text(&o.stdout), "lp-test-ours\n", "{}", text(&o.stderr));
    let o = Command::new(&isorun)
        .arg("--root")
        .arg(&root)
        .args(["state", "lp-test-ours"])
        .output()
        .unwrap();
    let st: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(st["status"], "running");
    // And container sees isorun's, stops and removes it.
    let b = isorun_bundle(&env, &isorun);
    let o = Command::new(&isorun)
        .arg("--root")
        .arg(&root)
        .args(["run", "-d", "--bundle"])
        .arg(&b)
        .arg("lp-test-theirs")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // A file: the container keeps the streams it was given (a pipe would stay open).
        .stderr(std::fs::File::create(env.dir.join("isorun.err")).unwrap())
        .status()
        .unwrap();
    let err = std::fs::read_to_string(env.dir.join("isorun.err")).unwrap();
    assert!(o.success(), "{err}");
    let ps = env.ok(&["ps"]);
    let theirs = ps.lines().find(|l| l.ends_with("lp-test-theirs"));
    let theirs = theirs.unwrap_or_else(|| panic!("{ps}"));
    assert!(
        theirs.contains(b.to_str().unwrap()) && theirs.contains(" Up "),
        "{theirs}"
    );
    let cgroups = env.inspect("lp-test-theirs")["CgroupPaths"].clone();
    env.ok(&["stop", "-t", "0", "lp-test-theirs"]);
    env.ok(&["rm", "lp-test-theirs"]);
    for c in cgroups.as_array().unwrap() {
        assert!(!Path::new(c.as_str().unwrap()).exists(), "{c}");
    }
    // isorun stops and deletes ours.
    let t = env.traces("lp-test-ours");
    let o = Command::new(&isorun)
        .arg("--root")
        .arg(&root)
        .args(["delete", "-f", "lp-test-ours"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    // Its supervisor sees it deleted, removes its own directory and goes.
    eventually("the supervisor to end", || !t.supervisor_alive());
    let o = env.run(&["rm", "lp-test-ours"]);
    assert_eq!(
        text(&o.stderr),
        "container: no such container: lp-test-ours\n"
    );
    t.assert_gone();
    env.assert_empty();
}

#[test]
fn the_containers_own_cgroups_are_read_only_at_sys_fs_cgroup() {
    let env = Env::new("cgfs");
    // v1 (this host: a hybrid) or v2: the memory limit's file inside.
    let file = if Path::new("/sys/fs/cgroup/memory").is_dir() {
        "/sys/fs/cgroup/memory/memory.limit_in_bytes"
    } else {
        "/sys/fs/cgroup/memory.max"
    };
    let want = format!("{}\n", 48 << 20);
    // A foreground run reads its own limit.
    let out = env.ok(&["run", "--net", "none", "--memory", "48M", "--", "cat", file]);
    assert_eq!(out, want);
    // So does a process joining a detached one; the cgroup is the root there (its own
    // namespace), and the mount is read-only.
    env.ok(&[
        "run",
        "-d",
        "--name",
        "lp-test-cgfs",
        "--memory",
        "48M",
        "--",
        "sleep",
        "100",
    ]);
    assert_eq!(env.ok(&["exec", "lp-test-cgfs", "cat", file]), want);
    let o = env.run(&["exec", "lp-test-cgfs", "sh", "-c", "cat /proc/self/cgroup"]);
    let cg = text(&o.stdout);
    assert!(
        cg.lines()
            .any(|l| l.contains("memory") && l.ends_with(":/")),
        "{cg}"
    );
    let o = env.run(&[
        "exec",
        "lp-test-cgfs",
        "sh",
        "-c",
        &format!("echo 1 > {file}"),
    ]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        text(&o.stderr).contains("Read-only file system"),
        "{}",
        text(&o.stderr)
    );
    let t = env.traces("lp-test-cgfs");
    env.ok(&["rm", "-f", "lp-test-cgfs"]);
    t.assert_gone();
    env.assert_empty();
}
