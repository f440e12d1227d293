//! Black-box tests of the `container` example binary (run as root). `cargo test` builds the
//! examples before running tests; the binary is found next to this test's own directory.

mod example_bin;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn bin() -> PathBuf {
    example_bin::example_binary("container")
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

/// One clear line on stderr (a bad flag adds a second one, the hint to `--help`), no panic, a
/// non-zero exit.
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
        // A missing -w is created (docker's way, tests/container_edges.rs); a file is no
        // working directory.
        &container(&["run", "-w", "/etc/hostname", "true"]),
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
    // In place (--rootfs-write): the mount targets below are made in the directory itself.
    let mut args = vec![
        "run".to_string(),
        "--rootfs".into(),
        root.clone(),
        "--rootfs-write".into(),
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

/// `container run` with `args`; its exit code, stdout and stderr.
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    let o = container(&all);
    (o.status.code(), text(&o.stdout), text(&o.stderr))
}

#[test]
fn boolean_flags_take_true_or_false_after_an_equals_sign() {
    // --init: the command is PID 1 without it, a child of the init with it.
    for (flag, init) in [
        ("--init", true),
        ("--init=true", true),
        ("--init=false", false),
    ] {
        let (code, out, err) = run(&[flag, "--", "sh", "-c", "echo $$"]);
        assert_eq!(code, Some(0), "{flag}: {err}");
        assert_eq!(out.trim() == "1", !init, "{flag}: {out}");
    }
    // --stats: the status line on stderr.
    for (flag, stats) in [
        ("--stats", true),
        ("--stats=true", true),
        ("--stats=false", false),
    ] {
        let (code, _, err) = run(&[flag, "true"]);
        assert_eq!(code, Some(0), "{flag}: {err}");
        assert_eq!(
            err.contains("container: status Exited(0)"),
            stats,
            "{flag}: {err}"
        );
    }
    // --userns: root inside is the caller (root) only, not the whole range.
    for (flag, userns) in [
        ("--userns", true),
        ("--userns=true", true),
        ("--userns=false", false),
    ] {
        let (code, out, err) = run(&[flag, "cat", "/proc/self/uid_map"]);
        assert_eq!(code, Some(0), "{flag}: {err}");
        let map: Vec<&str> = out.split_whitespace().collect();
        let want = if userns { "1" } else { "4294967295" };
        assert_eq!(map, ["0", "0", want], "{flag}");
    }
    // Anything but true or false is refused, before anything runs.
    for flag in ["--init", "--stats", "--userns", "--privileged"] {
        for bad in ["maybe", "1", "yes", "TRUE"] {
            let arg = format!("{flag}={bad}");
            let o = container(&["run", &arg, "--", "sh", "-c", "echo ran"]);
            assert_clear_failure(
                &o,
                125,
                &format!("bad {flag} \"{bad}\" (want true or false)"),
            );
            assert_eq!(text(&o.stdout), "", "{arg}");
        }
    }
    // The value only follows `=`: a separate word is the command.
    let (code, out, err) = run(&["--init", "echo", "ran"]);
    assert_eq!((code, out.as_str()), (Some(0), "ran\n"), "{err}");
}

#[test]
fn help_lists_the_commands_and_every_flag() {
    let o = container(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let top = text(&o.stdout);
    for cmd in ["run", "cleanup"] {
        assert!(
            top.lines().any(|l| l.trim_start().starts_with(cmd)),
            "{cmd}: {top}"
        );
    }
    for args in [&["run", "--help"][..], &["run", "-h"], &["help", "run"]] {
        let o = container(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        assert_eq!(text(&o.stderr), "", "{args:?}");
        let help = text(&o.stdout);
        for flag in [
            "--rootfs",
            "--hostname",
            "--name",
            "-m, --memory",
            "--pids",
            "--cpus",
            "-e, --env",
            "-v, --volume",
            "--tmpfs",
            "-w, --workdir",
            "-u, --user",
            "--init[=<BOOL>]",
            "--net",
            "-p, --publish",
            "--bridge",
            "--subnet",
            "--nft-table",
            "--veth-prefix",
            "--lease-dir",
            "--privileged[=<BOOL>]",
            "--cap-add",
            "--cap-drop",
            "--seccomp",
            "--system-paths",
            "--preserve-fds",
            "--userns[=<BOOL>]",
            "--uidmap",
            "--gidmap",
            "--cgroup-parent",
            "--stats[=<BOOL>]",
        ] {
            let lines: Vec<&str> = help
                .lines()
                .filter(|l| l.trim_start().starts_with(&format!("{flag} ")))
                .collect();
            assert_eq!(lines.len(), 1, "{flag}:\n{help}");
            // The flag and its value, then (past the gap) some words of explanation.
            let words = lines[0]
                .trim()
                .split_once("  ")
                .map_or(0, |(_, why)| why.split_whitespace().count());
            assert!(words >= 2, "{}", lines[0]);
        }
        assert!(help.contains("CONTAINER_NET"), "{help}");
        assert!(help.contains("125"), "{help}");
    }
}

#[test]
fn a_bad_flag_is_one_line_and_a_hint_to_help() {
    let o = container(&["run", "--bogus", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(
        text(&o.stderr),
        "container: unknown option --bogus\nSee 'container run --help'.\n"
    );
    let o = container(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(
        text(&o.stderr),
        "container: unknown command \"frobnicate\"\nSee 'container --help'.\n"
    );
}

#[test]
fn a_mistyped_container_net_is_an_error_not_the_bridge() {
    let o = Command::new(bin())
        .env("CONTAINER_NET", "brigde")
        .args(["run", "true"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_clear_failure(
        &o,
        125,
        "bad CONTAINER_NET \"brigde\" (want bridge, none or host)",
    );
    // An explicit --net does not read it.
    let o = Command::new(bin())
        .env("CONTAINER_NET", "brigde")
        .args(["run", "--net", "none", "true"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    // host is taken from it: the host's network namespace.
    let o = Command::new(bin())
        .env("CONTAINER_NET", "host")
        .args(["run", "readlink", "/proc/self/ns/net"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let host = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout).trim_end(), host.to_str().unwrap());
}
