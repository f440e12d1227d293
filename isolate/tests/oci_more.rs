//! The builder's later OCI options applied for real (run as root): sharing the caller's UTS,
//! IPC and cgroup namespaces, the domain name, the root's propagation, memory swappiness and
//! cpusets, and hooks run in a created container's namespaces. Everything is named
//! `lp-test-…` and removed.

mod common;

use isolate::hooks::{Hook, run_hook_in};
use isolate::spec::{Mount, NamespaceKind, Propagation};
use isolate::{CgroupParent, ExitStatus, StateRoot};
use rawsys::process::{self, WaitId, WaitOptions};

use common::{run_capture, sh};

fn ns(pid: &str, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .unwrap()
        .display()
        .to_string()
}

#[test]
fn shared_namespaces_are_the_callers_and_new_ones_are_not() {
    let script = "readlink /proc/self/ns/uts /proc/self/ns/ipc /proc/self/ns/cgroup; hostname";
    let b = sh(script)
        .share_namespace(NamespaceKind::Uts)
        .unwrap()
        .share_namespace(NamespaceKind::Ipc)
        .unwrap()
        .share_namespace(NamespaceKind::Cgroup)
        .unwrap();
    let (res, out, err) = run_capture(b);
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(
        lines,
        [
            ns("self", "uts").as_str(),
            ns("self", "ipc").as_str(),
            ns("self", "cgroup").as_str(),
            host_name.trim(),
        ],
        "the host's namespaces, and its hostname untouched"
    );
    // Not shared: new ones, with the names set.
    let b = sh(&format!("{script}; cat /proc/sys/kernel/domainname"))
        .hostname("lp-test-h")
        .unwrap()
        .domainname("lp-test.example")
        .unwrap();
    let (res, out, err) = run_capture(b);
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_ne!(lines[0], ns("self", "uts"));
    assert_ne!(lines[1], ns("self", "ipc"));
    assert_eq!(&lines[3..], ["lp-test-h", "lp-test.example"]);
}

/// A private bind of a shared host mount, propagated as `rslave` with the root slave first:
/// the container's mount is the host mount's slave (mountinfo `master:`); with the default
/// private root it is nobody's.
#[test]
fn a_slave_root_lets_an_rslave_bind_follow_its_shared_source() {
    let dir = format!("/run/lp-test-prop-{}", std::process::id());
    std::fs::create_dir_all(&dir).unwrap();
    let run = |root: Propagation| {
        let m = Mount::new("bind", &dir, "/mnt/s", ["rbind", "rslave"]).unwrap();
        let b = sh("grep ' /mnt/s ' /proc/self/mountinfo")
            .mount(m)
            .unwrap()
            .root_propagation(root)
            .unwrap();
        let (res, out, err) = run_capture(b);
        assert_eq!(res.unwrap().status, ExitStatus::Exited(0), "{err}");
        out
    };
    // The source: a bind of the directory onto itself, made shared, in this test's own
    // mount namespace (left with it when the test ends; unmounted below anyway).
    let c = std::ffi::CString::new(dir.clone()).unwrap();
    use rawsys::ns::{MountFlags, mount};
    let made = rawsys::ns::unshare(rawsys::process::CloneFlags::NEWNS)
        .and_then(|()| {
            mount(
                None,
                c"/",
                None,
                MountFlags::REC | MountFlags::PRIVATE,
                None,
            )
        })
        .and_then(|()| mount(Some(&c), &c, None, MountFlags::BIND, None))
        .and_then(|()| mount(None, &c, None, MountFlags::SHARED, None));
    made.unwrap();
    let slave = run(Propagation::Slave);
    let private = run(Propagation::Private);
    let _ = rawsys::ns::umount2(&c, rawsys::ns::UnmountFlags::DETACH);
    let _ = std::fs::remove_dir(&dir);
    assert!(slave.contains(" master:"), "{slave}");
    assert!(!private.contains(" master:"), "{private}");
    assert!(sh("true").root_propagation(Propagation::Shared).is_err());
}

#[test]
fn swappiness_and_cpuset_reach_the_cgroup() {
    let n = std::process::id();
    let name = format!("lp-test-cs-{n}");
    let root = StateRoot::new(&format!("/run/lp-test-cs-root-{n}")).unwrap();
    let v1 = std::path::Path::new("/sys/fs/cgroup/cpuset/cpuset.cpus").exists();
    let mut b = sh("true")
        .name(&name)
        .unwrap()
        .cgroup_parent(CgroupParent::OwnBelow(format!("{name}-parent")))
        .cpuset(Some("0"), Some("0"))
        .unwrap();
    if v1 {
        b = b.memory_swappiness(17).unwrap();
    }
    let st = root.create(&b.build().unwrap(), &name, &[]);
    let mut got = Vec::new();
    if let Ok(st) = &st {
        for dir in &st.cgroup_paths {
            for f in ["memory.swappiness", "cpuset.cpus", "cpuset.mems"] {
                if let Ok(v) = std::fs::read_to_string(format!("{dir}/{f}")) {
                    if f != "memory.swappiness" || v1 {
                        got.push(format!("{f}={}", v.trim()));
                    }
                }
            }
        }
        let _ = root.delete(&name, true);
        let _ = process::waitid(WaitId::Pid(st.pid), WaitOptions::EXITED);
    }
    let _ = std::fs::remove_dir(root.dir());
    // The parents made for the path (their cpusets initialised first, else the cgroup's
    // own write fails) are left by isolate, as runc leaves them: removed here.
    for line in std::fs::read_to_string("/proc/self/cgroup")
        .unwrap()
        .lines()
    {
        let mut f = line.splitn(3, ':');
        let (_, ctrls, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or(""));
        let ctrls = ctrls.strip_prefix("name=").unwrap_or(ctrls);
        let base = if ctrls.is_empty() {
            String::new()
        } else {
            format!("/{ctrls}")
        };
        let _ = std::fs::remove_dir(format!(
            "/sys/fs/cgroup{base}{}/{name}-parent",
            path.trim_end_matches('/')
        ));
    }
    st.unwrap();
    got.sort();
    let mut want = vec!["cpuset.cpus=0", "cpuset.mems=0"];
    if v1 {
        want.push("memory.swappiness=17");
    }
    assert_eq!(got, want);
    assert!(sh("true").memory_swappiness(101).is_err());
}

/// `run_hook_in` runs the hook in the created container's namespaces: its PID and UTS
/// namespaces, its mount namespace only when asked.
#[test]
fn hooks_run_in_a_created_containers_namespaces() {
    let n = std::process::id();
    let root = StateRoot::new(&format!("/run/lp-test-hk-root-{n}")).unwrap();
    let id = format!("lp-test-hk-{n}");
    let c = sh("true").hostname("lp-test-hk").unwrap().build().unwrap();
    let st = root.create(&c, &id, &[]).unwrap();
    let ctr_mnt = ns(&st.pid.to_string(), "mnt");
    let out = format!("/tmp/lp-test-hk-out-{n}");
    let sh_hook = |script: String| {
        Hook::new(
            "/bin/sh",
            vec!["sh".into(), "-c".into(), script],
            vec![],
            Some(10),
        )
        .unwrap()
    };
    // Outside the container's mount namespace: the host's /tmp is reachable.
    let outside = sh_hook(format!(
        "cat > {out}.state; {{ readlink /proc/self/ns/pid /proc/self/ns/mnt; hostname; }} > {out}"
    ));
    let res = run_hook_in(&outside, b"{\"id\":1}", st.pid, false);
    let got = std::fs::read_to_string(&out).unwrap_or_default();
    let state = std::fs::read_to_string(format!("{out}.state")).unwrap_or_default();
    // Inside it: exit 3 unless the mount namespace is the container's.
    let inside = sh_hook(format!(
        "cat >/dev/null; [ \"$(readlink /proc/self/ns/mnt)\" = '{ctr_mnt}' ] || exit 4; exit 3"
    ));
    let in_mount = run_hook_in(&inside, b"{}", st.pid, true);
    let _ = root.delete(&id, true);
    let _ = process::waitid(WaitId::Pid(st.pid), WaitOptions::EXITED);
    let _ = std::fs::remove_dir(root.dir());
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(format!("{out}.state"));
    res.unwrap();
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines.len(), 3, "{got:?}");
    assert_ne!(lines[0], ns("self", "pid"), "the container's pid namespace");
    assert_eq!(lines[1], ns("self", "mnt"), "the caller's mount namespace");
    assert_eq!(lines[2], "lp-test-hk", "the container's UTS namespace");
    assert_eq!(state, "{\"id\":1}");
    assert!(
        matches!(
            in_mount,
            Err(isolate::hooks::HookError::Exited { code: 3, .. })
        ),
        "{in_mount:?}"
    );
}
