//! The OCI options of the builder ([`isolate::spec`]) applied for real (run as root): mounts
//! with options and propagation, rlimits, sysctls, capability sets, seccomp rules, masked and
//! read-only paths, `no_new_privs`.

use isolate::security::{ArgCondition, ArgOp, SeccompAction, SeccompProfile, SyscallRule};
use isolate::spec::{CapabilitySets, Mount, Rlimit, RlimitResource, parse_capability_set};
use isolate::{ConfigError, ExitStatus, Network};

mod common;
use common::{run_capture, sh};

fn status_field(out: &str, key: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

/// The mountinfo line of mount point `mp` (fields: ... mount point, options, optional
/// fields, `-`, type, source, super options).
fn mountinfo_line<'a>(info: &'a str, mp: &str) -> &'a str {
    info.lines()
        .rfind(|l| l.split(' ').nth(4) == Some(mp))
        .unwrap_or_else(|| panic!("{mp} not in\n{info}"))
}

#[test]
fn mounts_of_any_type_with_options_and_propagation() {
    let tmpfs = Mount::new(
        "tmpfs",
        "lp-test-tmp",
        "/mnt/t",
        ["nosuid", "noexec", "size=64k", "mode=700", "shared"],
    )
    .unwrap();
    let bind = Mount::new("bind", "/etc", "/mnt/b", ["rbind", "ro", "nodev", "rslave"]).unwrap();
    let mq = Mount::new("mqueue", "mqueue", "/dev/mqueue", ["nosuid", "nodev"]).unwrap();
    let b =
        sh("cat /proc/self/mountinfo; stat -c %a /mnt/t; touch /mnt/b/x 2>/dev/null || echo ro")
            .mount(tmpfs)
            .unwrap()
            .mount(bind)
            .unwrap()
            .mount(mq)
            .unwrap();
    let (res, out, err) = run_capture(b);
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0), "{err}");
    let t = mountinfo_line(&out, "/mnt/t");
    let f: Vec<&str> = t.split(' ').collect();
    assert!(f[5].contains("nosuid") && f[5].contains("noexec"), "{t}");
    assert!(f[6].starts_with("shared:"), "{t}");
    assert!(
        t.contains(" - tmpfs lp-test-tmp ") && t.contains("size=64k"),
        "{t}"
    );
    let b = mountinfo_line(&out, "/mnt/b");
    let f: Vec<&str> = b.split(' ').collect();
    assert!(f[5].starts_with("ro,") && f[5].contains("nodev"), "{b}");
    let m = mountinfo_line(&out, "/dev/mqueue");
    assert!(m.contains(" - mqueue mqueue "), "{m}");
    let mut tail = out.lines().rev();
    assert_eq!(tail.next(), Some("ro"));
    assert_eq!(tail.next(), Some("700"));
}

#[test]
fn rlimits_reach_the_command() {
    let b = sh("grep -E '^Max (open files|core file size)' /proc/self/limits")
        .rlimit(Rlimit {
            resource: RlimitResource::Nofile,
            soft: 100,
            hard: 200,
        })
        .unwrap()
        .rlimit(Rlimit {
            resource: isolate::spec::parse_rlimit("RLIMIT_CORE").unwrap(),
            soft: 4096,
            hard: 8192,
        })
        .unwrap();
    let (res, out, err) = run_capture(b);
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0), "{err}");
    let words = |key: &str| -> Vec<String> {
        let l = out.lines().find(|l| l.starts_with(key)).unwrap();
        l[key.len()..]
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    assert_eq!(words("Max open files")[..2], ["100", "200"]);
    assert_eq!(words("Max core file size")[..2], ["4096", "8192"]);
    let e = sh("true")
        .rlimit(Rlimit {
            resource: RlimitResource::Nofile,
            soft: 2,
            hard: 1,
        })
        .unwrap_err();
    assert!(matches!(e, ConfigError::BadOption(_)));
    let e = isolate::spec::parse_rlimit("RLIMIT_FLY").unwrap_err();
    assert!(e.to_string().contains("RLIMIT_FLY"), "{e}");
}

#[test]
fn sysctls_are_set_in_the_containers_namespaces() {
    let host_forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let host_shmmax = std::fs::read_to_string("/proc/sys/kernel/shmmax").unwrap();
    let want_forward = if host_forward.trim() == "1" { "0" } else { "1" };
    let b = sh("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax")
        .sysctl("net.ipv4.ip_forward", want_forward)
        .unwrap()
        .sysctl("kernel/shmmax", "12345678")
        .unwrap();
    let (res, out, err) = run_capture(b);
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0), "{err}");
    let mut l = out.lines();
    assert_eq!(l.next(), Some(want_forward));
    assert_eq!(l.next(), Some("12345678"));
    // The host's values are untouched.
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host_forward
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/shmmax").unwrap(),
        host_shmmax
    );
    // A sysctl of the whole machine, or a network one without a network namespace.
    let e = sh("true").sysctl("kernel.pid_max", "100").unwrap_err();
    assert!(e.to_string().contains("kernel.pid_max"), "{e}");
    let e = sh("true")
        .sysctl("net.ipv4.ip_forward", "1")
        .unwrap()
        .network(Network::Host)
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("network namespace"), "{e}");
}

#[test]
fn capability_sets_each_as_given() {
    let set = |names: &[&str]| parse_capability_set(names.iter().copied()).unwrap();
    let sets = CapabilitySets {
        bounding: set(&["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]),
        effective: set(&["CAP_KILL", "CAP_NET_BIND_SERVICE"]),
        permitted: set(&["CAP_KILL", "CAP_NET_BIND_SERVICE"]),
        inheritable: set(&["CAP_NET_BIND_SERVICE"]),
        ambient: set(&["CAP_NET_BIND_SERVICE"]),
    };
    let script = "grep -E '^(Cap|NoNewPrivs)' /proc/self/status; id -u";
    let (res, out, err) = run_capture(sh(script).capability_sets(sets).unwrap().user(1000, 1000));
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0), "{err}");
    // A non-root command keeps the ambient set (permitted and effective after execve).
    assert_eq!(status_field(&out, "CapBnd:"), "0000000000000421", "{out}");
    assert_eq!(status_field(&out, "CapInh:"), "0000000000000400", "{out}");
    assert_eq!(status_field(&out, "CapAmb:"), "0000000000000400", "{out}");
    assert_eq!(status_field(&out, "CapPrm:"), "0000000000000400", "{out}");
    assert_eq!(status_field(&out, "CapEff:"), "0000000000000400", "{out}");
    assert_eq!(out.lines().last(), Some("1000"));
    // Root: the bounding set and inheritable set as given.
    let (res, out, err) = run_capture(sh(script).capability_sets(sets).unwrap());
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0), "{err}");
    assert_eq!(status_field(&out, "CapBnd:"), "0000000000000421", "{out}");
    assert_eq!(status_field(&out, "CapInh:"), "0000000000000400", "{out}");
    assert_eq!(status_field(&out, "CapAmb:"), "0000000000000400", "{out}");
    // Unknown names are refused by name; an ambient one must be permitted and inheritable.
    let e = parse_capability_set(["CAP_KILL", "CAP_FLY"]).unwrap_err();
    assert!(e.to_string().contains("CAP_FLY"), "{e}");
    let bad = CapabilitySets {
        ambient: set(&["CAP_KILL"]),
        ..sets
    };
    assert!(sh("true").capability_sets(bad).is_err());
}

#[test]
fn seccomp_rules_with_argument_conditions() {
    // kill(pid, 0) fails with EXDEV; kill with another signal passes; everything else too.
    let profile = SeccompProfile {
        default_action: SeccompAction::Allow,
        architectures: vec!["SCMP_ARCH_X86_64".into(), "SCMP_ARCH_AARCH64".into()],
        rules: vec![SyscallRule {
            names: vec!["kill".into()],
            action: SeccompAction::parse("SCMP_ACT_ERRNO", Some(18)).unwrap(),
            args: vec![ArgCondition {
                index: 1,
                value: 0,
                value_two: 0,
                op: ArgOp::parse("SCMP_CMP_EQ").unwrap(),
            }],
        }],
    };
    let script = "kill -0 $$ 2>&1; echo rc=$?; kill -CONT $$; echo rc=$?; \
                  grep Seccomp: /proc/self/status";
    let (res, out, err) = run_capture(sh(script).seccomp_profile(profile).unwrap());
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0), "{err}");
    let l: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
    assert!(l[0].to_lowercase().contains("cross-device"), "{out}");
    assert_eq!(l[1], "rc=1", "{out}");
    assert_eq!(l[2], "rc=0", "{out}");
    assert_eq!(status_field(&out, "Seccomp:"), "2");
}

#[test]
fn masked_and_readonly_paths_as_given() {
    let script = "wc -c < /proc/version; ls /proc/driver | wc -l; \
                  touch /tmp/lp-test-x 2>/dev/null && echo rw || echo ro; \
                  echo lp > /proc/sys/kernel/domainname && cat /proc/sys/kernel/domainname";
    let b = sh(script)
        .masked_paths(["/proc/version", "/proc/driver"])
        .unwrap()
        .readonly_paths(["/tmp"])
        .unwrap();
    let (res, out, err) = run_capture(b);
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0), "{err}");
    let l: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(l, ["0", "0", "ro", "lp"], "{err}");
    assert!(sh("true").masked_paths(["relative"]).is_err());
}

#[test]
fn no_new_privileges_off_keeps_the_filter() {
    let script = "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status";
    let (res, out, err) = run_capture(sh(script).no_new_privileges(false));
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0), "{err}");
    assert_eq!(status_field(&out, "NoNewPrivs:"), "0", "{out}");
    assert_eq!(status_field(&out, "Seccomp:"), "2", "{out}");
    let (res, out, _) = run_capture(sh(script));
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0));
    assert_eq!(status_field(&out, "NoNewPrivs:"), "1", "{out}");
}

#[test]
fn device_nodes_with_owner_and_mode() {
    use isolate::spec::{Device, DeviceKind};
    let dev = Device {
        path: "/dev/lp-test/null".into(),
        kind: DeviceKind::parse("c").unwrap(),
        major: 1,
        minor: 3,
        file_mode: 0o640,
        uid: 1000,
        gid: 1001,
    };
    let script =
        "stat -c '%t %T %a %u %g' /dev/lp-test/null; echo hi > /dev/lp-test/null && echo ok";
    let (res, out, err) = run_capture(sh(script).device(dev.clone()).unwrap());
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0), "{err}");
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l, ["1 3 640 1000 1001", "ok"], "{err}");
    let bad = Device {
        path: "/dev/fd/x".into(),
        ..dev.clone()
    };
    assert!(sh("true").device(bad).is_err());
    let bad = Device {
        path: "/etc/x".into(),
        ..dev
    };
    assert!(sh("true").device(bad).is_err());
}

#[test]
fn resources_reach_the_cgroup_files() {
    let c = sh("sleep 30")
        .memory_limit(64 << 20)
        .unwrap()
        .memory_swap(96 << 20)
        .unwrap()
        .memory_reservation(32 << 20)
        .unwrap()
        .cpu_shares(512)
        .unwrap()
        .cpu_quota(25_000, 50_000)
        .unwrap()
        .pids_limit(33)
        .unwrap()
        .build()
        .unwrap();
    let mut r = c.spawn().unwrap();
    let paths = r.cgroup_paths();
    let read = |file: &str| -> Option<String> {
        paths
            .iter()
            .find_map(|d| std::fs::read_to_string(format!("{d}/{file}")).ok())
            .map(|s| s.trim().to_string())
    };
    let v2 = read("cgroup.controllers").is_some() && read("memory.max").is_some();
    if v2 {
        assert_eq!(read("memory.max").as_deref(), Some("67108864"));
        assert_eq!(read("memory.swap.max").as_deref(), Some("33554432"));
        assert_eq!(read("memory.low").as_deref(), Some("33554432"));
        assert_eq!(read("cpu.max").as_deref(), Some("25000 50000"));
        assert_eq!(read("cpu.weight").as_deref(), Some("20"));
    } else {
        assert_eq!(read("memory.limit_in_bytes").as_deref(), Some("67108864"));
        if let Some(sw) = read("memory.memsw.limit_in_bytes") {
            assert_eq!(sw, "100663296");
        }
        assert_eq!(
            read("memory.soft_limit_in_bytes").as_deref(),
            Some("33554432")
        );
        assert_eq!(read("cpu.shares").as_deref(), Some("512"));
        assert_eq!(read("cpu.cfs_quota_us").as_deref(), Some("25000"));
        assert_eq!(read("cpu.cfs_period_us").as_deref(), Some("50000"));
    }
    assert_eq!(read("pids.max").as_deref(), Some("33"));
    r.kill(isolate::Signal::SIGKILL).unwrap();
    r.wait().unwrap();
    // memory+swap below memory is refused.
    let e = sh("true")
        .memory_limit(64 << 20)
        .unwrap()
        .memory_swap(1 << 20)
        .unwrap()
        .build()
        .unwrap_err();
    assert!(matches!(e, ConfigError::BadLimit(_)), "{e}");
    assert!(sh("true").cpu_shares(1).is_err());
}

/// A network namespace made with `ip netns add`, deleted on drop.
struct NetNs(String);

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["netns", "delete", &self.0])
            .status();
    }
}

#[test]
fn a_network_namespace_joined_by_path() {
    use isolate::spec::NamespaceKind;
    let name = format!("lp-test-ns-{}", std::process::id());
    let ok = std::process::Command::new("ip")
        .args(["netns", "add", &name])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let ns = NetNs(name);
    let path = format!("/run/netns/{}", ns.0);
    let ino = std::os::linux::fs::MetadataExt::st_ino(&std::fs::metadata(&path).unwrap());
    let want = format!("net:[{ino}]");
    let b = sh("readlink /proc/self/ns/net")
        .join_namespace(NamespaceKind::parse("network").unwrap(), &path)
        .unwrap();
    let (res, out, err) = run_capture(b);
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0), "{err}");
    assert_eq!(out.trim(), want);
    // Without it the container has a namespace of its own.
    let (res, out, _) = run_capture(sh("readlink /proc/self/ns/net"));
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0));
    assert_ne!(out.trim(), want);
    // A file of another kind is refused by setns; pid namespaces by path are refused early.
    let c = sh("true")
        .join_namespace(NamespaceKind::Uts, &path)
        .unwrap()
        .build()
        .unwrap();
    match c.run() {
        Err(isolate::Error::Child { stage, errno, .. }) => {
            assert_eq!(stage, isolate::Stage::JoinNamespace);
            assert_eq!(errno, rawsys::Errno::EINVAL);
        }
        other => panic!("{other:?}"),
    }
    let e = sh("true")
        .join_namespace(NamespaceKind::Pid, "/proc/1/ns/pid")
        .unwrap_err();
    assert!(e.to_string().contains("not supported"), "{e}");
    let e = sh("true")
        .join_namespace(NamespaceKind::Network, &path)
        .unwrap()
        .network(Network::Host)
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("Network::None"), "{e}");
}

#[test]
fn hooks_get_the_state_on_stdin_and_their_failures_are_told() {
    use isolate::hooks::{Hook, HookError, Hooks, run_hook};
    let out = std::env::temp_dir().join(format!("lp-test-hook-{}", std::process::id()));
    let script = format!(
        "cat > {}; echo \"$LP_TEST\" >> {}",
        out.display(),
        out.display()
    );
    let h = Hook::new(
        "/bin/sh",
        vec!["sh".into(), "-c".into(), script],
        vec!["LP_TEST=from-env".into()],
        Some(10),
    )
    .unwrap();
    let state = br#"{"ociVersion":"1.2.0","id":"lp-test","status":"creating"}"#;
    run_hook(&h, state).unwrap();
    let got = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    assert_eq!(
        got,
        format!("{}from-env\n", std::str::from_utf8(state).unwrap())
    );

    let sh_hook = |script: &str, timeout| {
        Hook::new(
            "/bin/sh",
            vec!["sh".into(), "-c".into(), script.into()],
            vec![],
            timeout,
        )
        .unwrap()
    };
    match run_hook(&sh_hook("exit 3", None), b"{}") {
        Err(HookError::Exited { code: 3, .. }) => {}
        other => panic!("{other:?}"),
    }
    match run_hook(&sh_hook("exec sleep 5", Some(1)), b"{}") {
        Err(HookError::TimedOut { secs: 1, .. }) => {}
        other => panic!("{other:?}"),
    }
    let missing = Hook::new("/lp-test-no-such-hook", vec![], vec![], None).unwrap();
    match run_hook(&missing, b"{}") {
        Err(HookError::Exited { code: 127, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(Hook::new("relative", vec![], vec![], None).is_err());
    assert!(Hook::new("/bin/true", vec![], vec!["NOEQUALS".into()], None).is_err());
    // The builder keeps them per point for the lifecycle.
    let hooks = Hooks {
        poststart: vec![h.clone()],
        ..Hooks::default()
    };
    let c = sh("true").hooks(hooks.clone()).build().unwrap();
    assert_eq!(c.hooks(), &hooks);
}
