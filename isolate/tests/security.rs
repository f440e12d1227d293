//! Hardening through the library API (run as root): capabilities, seccomp, masked paths,
//! descriptors, the working directory and user namespaces with explicit maps.

use std::io::Read;
use std::os::fd::AsRawFd;

use isolate::security::{IdMap, Seccomp, SystemPaths, UserNamespace};
use isolate::{Error, ExitStatus, Stage};

mod common;
use common::{pipe, run_capture, sh};

fn status_field(out: &str, key: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

#[test]
fn capability_sets_follow_the_builder() {
    let script = "grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status";
    let (res, out, err) = run_capture(sh(script));
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0), "{err}");
    assert_eq!(status_field(&out, "CapEff:"), "00000000a80425fb");
    assert_eq!(status_field(&out, "CapBnd:"), "00000000a80425fb");
    assert_eq!(status_field(&out, "NoNewPrivs:"), "1");
    assert_eq!(status_field(&out, "Seccomp:"), "2");

    let b = sh(script)
        .cap_drop("ALL")
        .unwrap()
        .cap_add("NET_BIND_SERVICE")
        .unwrap()
        .seccomp(Seccomp::Unconfined);
    let (res, out, _) = run_capture(b);
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0));
    assert_eq!(status_field(&out, "CapEff:"), "0000000000000400");
    assert_eq!(status_field(&out, "CapBnd:"), "0000000000000400");
    assert_eq!(status_field(&out, "CapAmb:"), "0000000000000000");
    assert_eq!(status_field(&out, "Seccomp:"), "0");
}

#[test]
fn masked_paths_and_their_opt_out() {
    let script = "ls /sys/firmware | wc -l; echo x > /proc/sys/kernel/domainname 2>&1 || echo ro";
    let (res, out, _) = run_capture(sh(script));
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0));
    let mut l = out.lines();
    assert_eq!(l.next(), Some("0"));
    assert_eq!(l.next(), Some("ro"));
    let firmware_on_host = std::fs::read_dir("/sys/firmware").unwrap().count();
    let (res, out, _) =
        run_capture(sh("ls /sys/firmware | wc -l").system_paths(SystemPaths::Unconfined));
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0));
    assert_eq!(out.trim(), firmware_on_host.to_string());
}

#[test]
fn something_bound_over_dev_null_is_not_used_for_masking() {
    let c = sh("true")
        .bind_mount("/etc/passwd", "/dev/null", true)
        .unwrap()
        .build()
        .unwrap();
    match c.run() {
        Err(Error::Child { stage, errno, step }) => {
            assert_eq!(stage, Stage::MaskPaths, "{step}");
            assert_eq!(errno, rawsys::Errno::ENODEV, "{step}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn passed_descriptors_arrive_from_3_and_nothing_else_leaks() {
    let (mut r, w) = pipe();
    let (r2, w2) = pipe();
    // A descriptor that is not close-on-exec in the caller must still not leak.
    rawsys::io::fcntl_setfd(
        // SAFETY: r2 outlives the borrow.
        unsafe { rawsys::BorrowedFd::borrow_raw(r2.as_raw_fd()) },
        rawsys::io::FdFlags::empty(),
    )
    .unwrap();
    let b = sh("echo via-3 >&3; ls /proc/self/fd | sort -n | tr '\\n' ' '")
        .pass_fd(w)
        .unwrap();
    let (res, out, _) = run_capture(b);
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0));
    let mut got = String::new();
    r.read_to_string(&mut got).unwrap();
    assert_eq!(got, "via-3\n");
    // 0-2, the passed 3, and ls's own directory descriptor.
    assert_eq!(
        out.split_whitespace().take(4).collect::<Vec<_>>(),
        ["0", "1", "2", "3"]
    );
    assert!(out.split_whitespace().count() <= 5, "{out}");
    drop((r2, w2));
}

#[test]
fn a_working_dir_through_a_magic_link_is_refused() {
    let dir = std::fs::File::open("/var/tmp").unwrap();
    let n = dir.as_raw_fd();
    // SAFETY: dir outlives the borrow.
    let b = unsafe { rawsys::BorrowedFd::borrow_raw(n) };
    rawsys::io::fcntl_setfd(b, rawsys::io::FdFlags::empty()).unwrap();
    let c = sh("pwd")
        .working_dir(&format!("/proc/self/fd/{n}"))
        .unwrap()
        .build()
        .unwrap();
    match c.run() {
        Err(Error::Child { stage, errno, .. }) => {
            assert_eq!(stage, Stage::Chdir);
            assert_eq!(errno, rawsys::Errno::ELOOP);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_mapped_user_namespace_makes_root_inside_an_ordinary_user_outside() {
    let tmp = common::TempDir::new(std::path::PathBuf::from(format!(
        "/var/tmp/lp-test-userns-{}",
        std::process::id()
    )));
    let dir = tmp.0.clone();
    let file = dir.join("root-owned");
    std::fs::write(&file, "host\n").unwrap();
    let m = |inside, outside, count| IdMap {
        inside,
        outside,
        count,
    };
    let ns = UserNamespace::new(vec![m(0, 200_000, 65536)], vec![m(0, 200_000, 65536)]).unwrap();
    let b = sh(
        "id -u; cat /proc/self/uid_map; echo x >> /host-file || echo denied; \
                stat -c %u /host-file",
    )
    .bind_mount(file.to_str().unwrap(), "/host-file", false)
    .unwrap()
    .user_namespace(ns.clone());
    let (res, out, err) = run_capture(b);
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0");
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["0", "200000", "65536"]
    );
    assert_eq!(lines[2], "denied");
    // The host's root is unmapped inside: the overflow id.
    assert_eq!(lines[3], "65534");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "host\n");

    // A user inside must be mapped.
    let bad = sh("true")
        .user_namespace(ns.clone())
        .user(70_000, 0)
        .build();
    assert!(matches!(bad, Err(isolate::ConfigError::BadIdMap(_))));
    let (res, out, _) = run_capture(sh("id -u").user_namespace(ns).user(1000, 1000));
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0));
    assert_eq!(out.trim(), "1000");
}
