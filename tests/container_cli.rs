//! Black-box tests of the `container` example binary (run as root). `cargo test` builds the
//! examples before running tests; the binary is found next to this test's own directory.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // <target>/<profile>/deps/container_cli-<hash> -> <target>/<profile>/examples/container
    let p = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/container");
    assert!(
        p.exists(),
        "{} missing: build it with `cargo build --example container`",
        p.display()
    );
    p
}

/// These tests are not about networking: `CONTAINER_NET=none` keeps them off the default
/// bridge (tests/container_net_cli.rs covers it with a private one).
fn container(args: &[&str]) -> Output {
    Command::new(bin())
        .env("CONTAINER_NET", "none")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// One clear line on stderr, no panic, a non-zero exit.
fn assert_clear_failure(o: &Output, code: i32, needle: &str) {
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "{err}");
    assert!(
        err.starts_with("container: ") && err.contains(needle),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn exit_codes_signals_and_oom_map_to_the_shell_convention() {
    assert_eq!(
        container(&["run", "--", "sh", "-c", "exit 5"])
            .status
            .code(),
        Some(5)
    );
    assert_eq!(container(&["run", "true"]).status.code(), Some(0));
    let o = container(&["run", "--init", "--", "sh", "-c", "kill -TERM $$"]);
    assert_eq!(o.status.code(), Some(128 + 15));
    let o = container(&[
        "run",
        "--memory",
        "100M",
        "--",
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=150M",
        "count=1",
    ]);
    assert_eq!(o.status.code(), Some(137));
    assert_eq!(
        text(&o.stderr).trim_end(),
        "killed: out of memory (limit 100 MiB)"
    );
}

#[test]
fn bad_input_gives_one_clear_line_and_leaves_nothing() {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .count();
    assert_clear_failure(
        &container(&["run", "--bogus", "true"]),
        125,
        "unknown option --bogus",
    );
    assert_clear_failure(
        &container(&["run", "--memory", "lots", "true"]),
        125,
        "bad size",
    );
    assert_clear_failure(&container(&["run", "--cpus", "0", "true"]), 125, "cpus");
    assert_clear_failure(
        &container(&["run", "--user", "x", "true"]),
        125,
        "bad --user",
    );
    assert_clear_failure(
        &container(&["run", "--net", "bogus", "true"]),
        125,
        "bad --net",
    );
    assert_clear_failure(&container(&["run", "-v", "nocolon", "true"]), 125, "bad -v");
    assert_clear_failure(&container(&["run"]), 125, "no command given");
    assert_clear_failure(&container(&["frobnicate"]), 125, "unknown command");
    assert_clear_failure(
        &container(&["run", "--rootfs", "/nonexistent-lp-test-rootfs", "true"]),
        125,
        "rootfs /nonexistent-lp-test-rootfs",
    );
    assert_clear_failure(
        &container(&[
            "run",
            "--name",
            "lp-test-cli-missing",
            "lp-test-no-such-cmd",
        ]),
        127,
        "command not found inside the container: lp-test-no-such-cmd",
    );
    assert_clear_failure(
        &container(&["run", "-v", "/nonexistent-lp-test:/x", "true"]),
        125,
        "mount source /nonexistent-lp-test",
    );
    assert_clear_failure(
        &container(&["run", "-w", "/nonexistent-lp-test", "true"]),
        125,
        "chdir into",
    );
    let o = Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(bin())
        .args(["run", "true"])
        .output()
        .unwrap();
    assert_clear_failure(&o, 125, "need root");
    for hier in ["memory", "pids", "cpu"] {
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let path = own
            .lines()
            .find_map(|l| {
                l.split_once(&format!(":{hier}:"))
                    .map(|(_, p)| p.to_string())
            })
            .unwrap();
        let dir = format!("/sys/fs/cgroup/{hier}{path}");
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("lp-test-cli-missing")
            })
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
    assert_eq!(
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .count(),
        mounts
    );
}

#[test]
fn no_arguments_starts_a_shell_as_pid_1() {
    let mut child = Command::new(bin())
        .env("CONTAINER_NET", "none")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"echo pid=$$; hostname; cat /proc/1/cmdline; echo; exit 3\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "pid=1\nisolate\n/bin/sh\0\n");
}

#[test]
fn options_apply_inside() {
    let dir = format!("/var/tmp/lp-test-cli-vol-{}", std::process::id());
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(format!("{dir}/f"), "vol\n").unwrap();
    let vol = format!("{dir}:/vol:ro");
    let o = container(&[
        "run",
        "--hostname",
        "lp-test-cli",
        "-e",
        "A=1",
        "-e",
        "B=two words",
        "-v",
        &vol,
        "-w",
        "/vol",
        "--user",
        "1234:4321",
        "--pids",
        "32",
        "--cpus",
        "1.5",
        "--memory",
        "64M",
        "--",
        "sh",
        "-c",
        "hostname; echo $$ $A $B; pwd; id -u; id -g; cat f; touch g || echo ro",
    ]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        "lp-test-cli\n1 1 two words\n/vol\n1234\n4321\nvol\nro\n"
    );
}

#[test]
fn a_rootfs_directory_is_used_as_root() {
    let root = format!("/var/tmp/lp-test-cli-rootfs-{}", std::process::id());
    std::fs::create_dir_all(format!("{root}/usr")).unwrap();
    std::fs::create_dir_all(format!("{root}/etc")).unwrap();
    std::fs::write(format!("{root}/marker"), "in-rootfs\n").unwrap();
    // Mirror the host's top-level links (bin -> usr/bin, ...) or directories.
    for d in ["bin", "lib", "lib64", "sbin"] {
        let host = std::path::Path::new("/").join(d);
        match std::fs::read_link(&host) {
            Ok(t) => std::os::unix::fs::symlink(t, format!("{root}/{d}")).unwrap(),
            Err(_) if host.is_dir() => std::fs::create_dir_all(format!("{root}/{d}")).unwrap(),
            Err(_) => {}
        }
    }
    let mut args = vec![
        "run".to_string(),
        "--rootfs".into(),
        root.clone(),
        "-v".into(),
        "/usr:/usr:ro".into(),
    ];
    for d in ["bin", "lib", "lib64", "sbin"] {
        let host = std::path::Path::new("/").join(d);
        if host.is_dir() && std::fs::read_link(&host).is_err() {
            args.extend(["-v".into(), format!("/{d}:/{d}:ro")]);
        }
    }
    args.extend([
        "--".into(),
        "sh".into(),
        "-c".into(),
        "cat /marker /etc/hostname; ls /proc/1 >/dev/null && echo proc".into(),
    ]);
    let o = Command::new(bin())
        .env("CONTAINER_NET", "none")
        .args(&args)
        .output()
        .unwrap();
    let etc_hostname = std::fs::read_to_string(format!("{root}/etc/hostname")).unwrap();
    std::fs::remove_dir_all(&root).unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "in-rootfs\nisolate\nproc\n");
    // The rootfs's own file was only a mount target: the host copy stays empty.
    assert_eq!(etc_hostname, "");
}
