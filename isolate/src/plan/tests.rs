use super::*;
use crate::Container;
use crate::error::ConfigError;
use alloc::vec;

fn plan_for(c: &Container) -> Plan {
    build(c, &Handles::default()).unwrap()
}

fn describe_all(p: &Plan) -> Vec<String> {
    (0..p.ops.len() as u32)
        .map(|index| {
            p.describe(&Report {
                index,
                sub: SubStep::PivotRoot,
                errno: rawsys::Errno::EPERM,
            })
            .1
        })
        .collect()
}

#[test]
fn host_rootfs_plan_pivots_and_never_chroots() {
    let c = Container::builder()
        .host_rootfs()
        .command("sh", ["-c", "true"])
        .unwrap()
        .build()
        .unwrap();
    let p = plan_for(&c);
    let descr = describe_all(&p);
    assert!(matches!(p.ops[0], Op::ParentDeathSignal));
    assert!(p.ops.iter().any(|o| matches!(o, Op::MakePrivate)));
    let pivot = p
        .ops
        .iter()
        .position(|o| matches!(o, Op::PivotRoot { .. }))
        .unwrap();
    let proc_mount = descr
        .iter()
        .position(|d| d.starts_with("mount proc on"))
        .unwrap();
    assert!(proc_mount < pivot);
    assert!(
        descr
            .iter()
            .any(|d| d.starts_with("remount") && d.ends_with("/usr read-only"))
    );
    assert!(descr.iter().any(|d| d.starts_with("mount sysfs on")));
    assert!(descr.iter().any(|d| d.starts_with("mount devpts on")));
    assert!(descr.iter().any(|d| d.contains("bind-mount /dev/null on")));
    // PATH lookup happens in the child over prepared candidates.
    assert!(
        p.exec
            .candidates
            .iter()
            .any(|c| c.to_bytes() == b"/usr/bin/sh")
    );
    assert_eq!(p.exec.argv.len(), 4);
    assert!(p.exec.argv.last().unwrap().is_null());
    assert!(p.exec.envp.last().unwrap().is_null());
    let exec = Report {
        index: p.ops.len() as u32,
        sub: SubStep::Exec,
        errno: rawsys::Errno::ENOENT,
    };
    assert_eq!(p.describe(&exec).0, Stage::Exec);
    let fork = Report {
        sub: SubStep::Fork,
        ..exec
    };
    assert_eq!(
        p.describe(&fork),
        (Stage::InitFork, "fork the command under init".into())
    );
}

#[test]
fn missing_rootfs_and_mount_sources_are_config_errors() {
    let c = Container::builder()
        .rootfs("/nonexistent-lp-test-root")
        .unwrap()
        .command("/bin/true", [""; 0])
        .unwrap()
        .build()
        .unwrap();
    assert!(matches!(
        build(&c, &Handles::default()).unwrap_err(),
        Error::Config(ConfigError::BadRootfs {
            errno: rawsys::Errno::ENOENT,
            ..
        })
    ));
    let c = Container::builder()
        .host_rootfs()
        .command("/bin/true", [""; 0])
        .unwrap()
        .bind_mount("/nonexistent-lp-test-src", "/x", false)
        .unwrap()
        .build()
        .unwrap();
    assert!(matches!(
        build(&c, &Handles::default()).unwrap_err(),
        Error::Config(ConfigError::BadMountSource { .. })
    ));
}

#[test]
fn handles_place_the_waits_first_and_last() {
    let c = Container::builder()
        .host_rootfs()
        .command("/bin/true", [""; 0])
        .unwrap()
        .user_namespace(crate::security::UserNamespace::rootless())
        .build()
        .unwrap();
    let procs = vec![(7, String::from("/sys/fs/cgroup/x"))];
    let h = Handles {
        cgroup_procs: &procs,
        id_maps: Some((5, 6)),
        network_ready: Some(9),
        terminal: None,
        address: None,
    };
    let p = build(&c, &h).unwrap();
    assert!(matches!(p.ops[0], Op::ParentDeathSignal));
    assert!(matches!(
        p.ops[1],
        Op::WaitForIdMaps {
            read: 5,
            write: 6,
            ..
        }
    ));
    assert!(matches!(p.ops[2], Op::LoopbackUp));
    assert!(matches!(p.ops[3], Op::JoinCgroup { fd: 7, .. }));
    assert!(matches!(p.ops[4], Op::UnshareCgroupNs));
    assert!(matches!(p.ops.last(), Some(Op::WaitParent { fd: 9 })));
}

#[test]
fn sub_steps_name_the_failing_call() {
    let root = CString::new("/x").unwrap();
    let op = Op::PivotRoot { root };
    assert_eq!(op.describe(SubStep::PivotRoot), "pivot_root into /x");
    assert_eq!(op.describe(SubStep::EnterRoot), "chdir into /x");
    assert_eq!(op.describe(SubStep::DetachOldRoot), "detach the old root");
    assert_eq!(op.describe(SubStep::EnterNewRoot), "chdir to the new root");
    let op = Op::DropBoundingSet { keep: 0 };
    assert_eq!(
        op.describe(SubStep::DropBounding(21)),
        "drop capability 21 from the bounding set"
    );
    let op = Op::PassFds { fds: vec![10, 11] };
    assert_eq!(op.describe(SubStep::PassFd(1)), "pass descriptor 4");
    assert_eq!(
        Op::OpenNull.describe(SubStep::Verify),
        "verify /dev/null inside is the null device (char 1:3)"
    );
}

#[test]
fn a_directory_is_made_once_unless_a_mount_hides_it() {
    // Mounts below /sys/fs/cgroup (as container's /sys/fs/cgroup view has them), a tmpfs
    // on /sys/fs/cgroup itself, then one more on a directory made before that tmpfs.
    let mut b = Container::builder()
        .host_rootfs()
        .command("true", [] as [&str; 0])
        .unwrap();
    for dest in [
        "/sys/fs/cgroup/a",
        "/sys/fs/cgroup/b",
        "/sys/fs/cgroup",
        "/sys/fs/cgroup/a",
    ] {
        b = b
            .mount(crate::spec::Mount::new("tmpfs", "tmpfs", dest, ["nosuid"]).unwrap())
            .unwrap();
    }
    let p = plan_for(&b.build().unwrap());
    let made = |suffix: &str| {
        p.ops
            .iter()
            .filter(|o| {
                matches!(o, Op::Mkdir { path, .. } if path.to_bytes().ends_with(suffix.as_bytes()))
            })
            .count()
    };
    // The parents once each (sysfs is mounted on /sys, which keeps what is below it made).
    assert_eq!(made("/sys/fs"), 1);
    assert_eq!(made("/sys/fs/cgroup"), 1);
    assert_eq!(made("/sys/fs/cgroup/b"), 1);
    // Made before the tmpfs on /sys/fs/cgroup hid it, and again inside that tmpfs.
    assert_eq!(made("/sys/fs/cgroup/a"), 2);
}
