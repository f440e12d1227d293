//! The `container` example's edges a docker user meets (run as root): /etc/hosts, the mount
//! list, `--net host`'s hostname, `-w` created when missing (inside the root only), `--cpus`
//! beyond the machine, and a name in use. Names, cgroups and directories made here start with
//! `lp-test-` and are removed, also on failure.

mod example_bin;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> PathBuf {
    example_bin::example_binary("container")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `container run --net none ARGS` (no bridge: these tests need no network).
fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(["run", "--net", "none"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(0), "stderr: {}", text(&o.stderr));
    text(&o.stdout)
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("lp-test-edges-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A busybox rootfs (sh, pwd, stat, cat, ...).
fn busybox_rootfs(tag: &str) -> TempDir {
    let r = TempDir::new(tag);
    std::fs::create_dir_all(r.0.join("bin")).unwrap();
    std::fs::create_dir_all(r.0.join("etc")).unwrap();
    let bb = ["/usr/bin/busybox", "/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox (apt-get install busybox-static)");
    std::fs::copy(bb, r.0.join("bin/busybox")).unwrap();
    for app in ["sh", "pwd", "stat", "cat", "ls"] {
        std::os::unix::fs::symlink("busybox", r.0.join("bin").join(app)).unwrap();
    }
    r
}

#[test]
fn etc_hosts_names_localhost_and_the_container_and_mounts_list_no_staging_tmpfs() {
    let out = ok(&run(&[
        "--hostname",
        "lp-test-box",
        "--",
        "/bin/sh",
        "-c",
        "getent hosts localhost; getent hosts lp-test-box; cat /proc/self/mounts",
    ]));
    let mut lines = out.lines();
    assert!(
        lines.next().unwrap_or("").starts_with("127.0.0.1 ") || out.starts_with("::1 "),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("127.0.1.1") && l.ends_with("lp-test-box")),
        "the hostname resolves: {out}"
    );
    let proc_mounts: Vec<&str> = out.lines().filter(|l| l.contains(" /proc ")).collect();
    assert_eq!(
        proc_mounts.len(),
        1,
        "only the proc filesystem is mounted on /proc: {out}"
    );
    assert!(proc_mounts[0].starts_with("proc /proc proc "), "{out}");
    for f in ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"] {
        assert!(out.contains(&format!(" {f} ")), "{f} is bound: {out}");
    }
}

#[test]
fn net_host_takes_the_hosts_hostname_and_hosts_file() {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let o = Command::new(bin())
        .args([
            "run",
            "--net",
            "host",
            "--",
            "/bin/sh",
            "-c",
            "hostname; cat /etc/hosts",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = ok(&o);
    let (name, hosts) = out.split_once('\n').unwrap();
    assert_eq!(name, host.trim_end());
    assert_eq!(hosts, std::fs::read_to_string("/etc/hosts").unwrap());
    // An explicit --hostname still wins.
    let o = Command::new(bin())
        .args([
            "run",
            "--net",
            "host",
            "--hostname",
            "lp-test-h",
            "--",
            "hostname",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(ok(&o), "lp-test-h\n");
}

#[test]
fn a_missing_working_directory_is_created_as_root_and_inside_the_root_only() {
    let r = busybox_rootfs("workdir");
    // A symlink pointing out of the rootfs (`..` past the root, then the host's /tmp):
    // followed inside the root, never on the host.
    std::fs::create_dir_all(r.0.join("tmp")).unwrap();
    std::os::unix::fs::symlink("../../../../../tmp", r.0.join("escape")).unwrap();
    let leaf = format!("lp-test-edges-out-{}", std::process::id());
    let outside = Path::new("/tmp").join(&leaf);
    let _ = std::fs::remove_dir_all(&outside);
    let root = r.0.to_str().unwrap();
    // In place (--rootfs-write): the directories are checked in the rootfs itself.
    let out = ok(&run(&[
        "--rootfs",
        root,
        "--rootfs-write",
        "-w",
        "/app/deep/er",
        "--user",
        "1000:1000",
        "--",
        "/bin/sh",
        "-c",
        "pwd; stat -c %u /app/deep/er",
    ]));
    assert_eq!(out, "/app/deep/er\n0\n");
    assert!(r.0.join("app/deep/er").is_dir());
    let w = format!("/escape/{leaf}");
    let out = ok(&run(&[
        "--rootfs",
        root,
        "--rootfs-write",
        "-w",
        &w,
        "--",
        "pwd",
    ]));
    // The symlink resolved inside the root: the physical directory is the rootfs's /tmp/LEAF.
    assert_eq!(out, format!("/tmp/{leaf}\n"));
    assert!(!outside.exists(), "created on the host through the symlink");
    assert!(
        r.0.join("tmp").join(&leaf).is_dir(),
        "created inside the rootfs instead"
    );
    // A dangling symlink in the way is one clear error, exit 125.
    std::os::unix::fs::symlink("/nowhere/at/all", r.0.join("dangling")).unwrap();
    let o = run(&[
        "--rootfs",
        root,
        "--rootfs-write",
        "-w",
        "/dangling/x",
        "--",
        "pwd",
    ]);
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("create the working directory /dangling/x"),
        "{}",
        text(&o.stderr)
    );
    // An existing file in the way is one clear error, exit 125.
    std::fs::write(r.0.join("file"), b"").unwrap();
    let o = run(&[
        "--rootfs",
        root,
        "--rootfs-write",
        "-w",
        "/file/x",
        "--",
        "pwd",
    ]);
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).starts_with("container: "),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn more_cpus_than_the_machine_has_are_refused() {
    let n = std::thread::available_parallelism().unwrap().get();
    let o = run(&["--cpus", &format!("{}", n + 1), "--", "true"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(125), "{err}");
    assert!(
        err.contains(&format!("as there are only {n} CPUs available")),
        "{err}"
    );
    // The machine's own count is accepted.
    ok(&run(&["--cpus", &format!("{n}"), "--", "true"]));
}

#[test]
fn a_name_in_use_is_refused_with_a_clear_message() {
    let name = format!("lp-test-dup{}", std::process::id());
    // Ended by SIGTERM at the end (--init forwards it), so `container` removes its cgroups.
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.0.id().to_string()])
                .status();
            let _ = self.0.wait();
        }
    }
    let mut first = Stop(
        Command::new(bin())
            .args([
                "run", "--net", "none", "--init", "--name", &name, "--memory", "64M",
            ])
            .args(["--", "/bin/sh", "-c", "echo up; sleep 30"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(first.0.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "up\n");
    let o = run(&["--name", &name, "--memory", "64M", "--", "true"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(125), "{err}");
    assert!(
        err.contains(&format!("the name {name} is in use by another container")),
        "{err}"
    );
    assert!(!err.contains("panicked"));
    drop(first);
    // Neither run left a cgroup of that name in any hierarchy.
    let left: Vec<_> = std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .filter_map(|h| h.ok())
        .map(|h| h.path().join(&name))
        .filter(|p| p.exists())
        .collect();
    assert!(left.is_empty(), "cgroups left: {left:?}");
}
