//! The lifecycle that outlives its caller: create, start, state, kill, pause, resume, delete
//! by id, as root. Everything is named `lp-test-lc-…` and removed.

mod common;

use std::io::{BufRead, BufReader};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use isolate::{Error, Signal, StateRoot, Status, Stdio};
use rawsys::process::{self, WaitId, WaitOptions};

use common::{pipe, sh};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A fresh state root and a container id, both unique to this test process and call.
fn fresh(what: &str) -> (StateRoot, String) {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    let root = StateRoot::new(&format!("/run/lp-test-lc-root-{pid}-{n}")).unwrap();
    (root, format!("lp-test-lc-{what}-{pid}-{n}"))
}

/// Removes the (empty) root when the test is done.
fn remove_root(root: &StateRoot) {
    assert_eq!(
        root.list().unwrap(),
        Vec::<String>::new(),
        "containers left"
    );
    let _ = std::fs::remove_dir(root.dir());
}

fn exe_of(pid: i32) -> String {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// Waits until the container's status is `want` (the kernel finishes an exit or a freeze
/// asynchronously).
fn wait_status(root: &StateRoot, id: &str, want: Status) {
    let t = Instant::now();
    loop {
        let s = root.state(id).unwrap().status;
        if s == want {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{id} is {s}, not {want}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until `pid` sleeps (a created container's process blocks on its FIFO just after
/// `create` returns).
fn wait_asleep(pid: i32) {
    let t = Instant::now();
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        if status.contains("State:\tS") {
            return;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "{status}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Force-deletes the container if a test fails half way, so that nothing is left behind.
struct Cleanup<'a>(&'a StateRoot, String);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if let Ok(s) = self.0.state(&self.1) {
            let _ = self.0.delete(&self.1, true);
            reap(s.pid);
        }
        let _ = std::fs::remove_dir(self.0.dir());
    }
}

/// Reaps the container's process (this test process created it, so it is our child).
fn reap(pid: i32) {
    let _ = process::waitid(WaitId::Pid(pid), WaitOptions::EXITED);
}

#[test]
fn create_waits_before_exec_start_runs_kill_stops_delete_removes_everything() {
    let (root, id) = fresh("basic");
    let _cleanup = Cleanup(&root, id.clone());
    let (r, w) = pipe();
    let c = sh("echo started; exec sleep 100")
        .stdout(Stdio::Fd(w))
        .memory_limit(64 << 20)
        .unwrap()
        .build()
        .unwrap();
    let st = root.create(&c, &id, &[("bundle", "/srv/lp test")]).unwrap();
    drop(c);
    assert_eq!(st.status, Status::Created);
    assert_eq!(
        st.annotations,
        vec![("bundle".to_string(), "/srv/lp test".to_string())]
    );
    let pid = st.pid;
    // Not exec'd: the process is still a copy of this test binary, asleep on the FIFO.
    let me = std::env::current_exe().unwrap().display().to_string();
    assert_eq!(exe_of(pid), me);
    wait_asleep(pid);
    let dir = root.container_dir(&id).unwrap();
    assert!(std::path::Path::new(&format!("{dir}/start.fifo")).exists());
    let cgroups = st.cgroup_paths.clone();
    assert!(!cgroups.is_empty());
    for p in &cgroups {
        assert!(std::path::Path::new(p).is_dir(), "{p}");
    }
    assert_eq!(root.list().unwrap(), vec![id.clone()]);
    // A created container may not be deleted without force (runtime-spec).
    assert!(matches!(
        root.delete(&id, false),
        Err(Error::WrongStatus {
            status: Status::Created,
            ..
        })
    ));

    root.start(&id).unwrap();
    let mut line = String::new();
    BufReader::new(r).read_line(&mut line).unwrap();
    assert_eq!(line, "started\n");
    let s = root.state(&id).unwrap();
    assert_eq!((s.status, s.pid), (Status::Running, pid));
    assert_ne!(exe_of(pid), me);
    assert!(!std::path::Path::new(&format!("{dir}/start.fifo")).exists());
    let again = root.start(&id).unwrap_err();
    assert!(
        matches!(
            &again,
            Error::WrongStatus {
                op: "start",
                status: Status::Running,
                ..
            }
        ),
        "{again:?}"
    );
    assert!(again.to_string().contains("it is running"), "{again}");
    assert!(matches!(
        root.delete(&id, false),
        Err(Error::WrongStatus {
            status: Status::Running,
            ..
        })
    ));

    root.kill(&id, Signal::SIGKILL, false).unwrap();
    wait_status(&root, &id, Status::Stopped);
    assert!(matches!(
        root.kill(&id, Signal::SIGTERM, false),
        Err(Error::WrongStatus {
            status: Status::Stopped,
            ..
        })
    ));
    root.delete(&id, false).unwrap();
    reap(pid);
    assert!(!std::path::Path::new(&dir).exists(), "{dir} left behind");
    for p in &cgroups {
        assert!(!std::path::Path::new(p).exists(), "{p} left behind");
    }
    assert!(matches!(root.state(&id), Err(Error::NotFound(_))));
    assert!(matches!(root.start(&id), Err(Error::NotFound(_))));
    assert!(root.delete(&id, true).is_ok(), "force of an unknown id");
    remove_root(&root);
}

#[test]
fn two_creates_of_one_id_exactly_one_wins() {
    let (root, id) = fresh("race");
    let _cleanup = Cleanup(&root, id.clone());
    let results: Vec<Result<isolate::ContainerState, Error>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let c = sh("exec sleep 100").build().unwrap();
                    root.create(&c, &id, &[])
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    for r in &results {
        if let Err(e) = r {
            assert!(matches!(e, Error::Exists(_)), "{e:?}");
        }
    }
    let pid = won[0].pid;
    // No stray temporary directory from the losers.
    assert_eq!(root.list().unwrap(), vec![id.clone()]);
    let names: Vec<_> = std::fs::read_dir(root.dir()).unwrap().collect();
    assert_eq!(names.len(), 1, "{names:?}");
    root.delete(&id, true).unwrap();
    reap(pid);
    remove_root(&root);
}

#[test]
fn a_reused_pid_is_not_taken_for_the_container() {
    let (root, id) = fresh("reuse");
    let _cleanup = Cleanup(&root, id.clone());
    let c = sh("exec sleep 100").build().unwrap();
    let st = root.create(&c, &id, &[]).unwrap();
    let state_file = format!("{}/state", root.container_dir(&id).unwrap());
    let good = std::fs::read_to_string(&state_file).unwrap();
    // The same pid with another start time: some other process that got the pid.
    let forged: String = good
        .lines()
        .map(|l| match l.strip_prefix("start_time ") {
            Some(t) => format!("start_time {}\n", t.parse::<u64>().unwrap() + 1),
            None => format!("{l}\n"),
        })
        .collect();
    std::fs::write(&state_file, forged).unwrap();
    assert_eq!(root.state(&id).unwrap().status, Status::Stopped);
    assert!(matches!(
        root.kill(&id, Signal::SIGKILL, true),
        Err(Error::WrongStatus { .. })
    ));
    assert!(matches!(root.start(&id), Err(Error::WrongStatus { .. })));
    // The process was not touched.
    wait_asleep(st.pid);
    std::fs::write(&state_file, good).unwrap();
    assert_eq!(root.state(&id).unwrap().status, Status::Created);
    root.delete(&id, true).unwrap();
    reap(st.pid);
    remove_root(&root);
}

#[test]
fn pause_and_resume_freeze_and_thaw_the_container() {
    let (root, id) = fresh("pause");
    let _cleanup = Cleanup(&root, id.clone());
    let c = sh("exec sleep 100").build().unwrap();
    let st = root.create(&c, &id, &[]).unwrap();
    assert!(matches!(
        root.pause(&id),
        Err(Error::WrongStatus {
            status: Status::Created,
            ..
        })
    ));
    root.start(&id).unwrap();
    root.pause(&id).unwrap();
    assert_eq!(root.state(&id).unwrap().status, Status::Paused);
    // A frozen task sleeps in the freezer, whatever it was doing.
    let status = std::fs::read_to_string(format!("/proc/{}/status", st.pid)).unwrap();
    assert!(
        status.contains("State:\tD") || status.contains("State:\tS"),
        "{status}"
    );
    assert!(matches!(root.pause(&id), Err(Error::WrongStatus { .. })));
    root.resume(&id).unwrap();
    assert_eq!(root.state(&id).unwrap().status, Status::Running);
    assert!(matches!(root.resume(&id), Err(Error::WrongStatus { .. })));
    // Killing a paused container works too (it is thawed for the signal).
    root.pause(&id).unwrap();
    root.kill(&id, Signal::SIGKILL, true).unwrap();
    wait_status(&root, &id, Status::Stopped);
    root.delete(&id, false).unwrap();
    reap(st.pid);
    remove_root(&root);
}

#[test]
fn a_created_container_can_be_killed_and_force_deleted() {
    let (root, id) = fresh("kill-created");
    let _cleanup = Cleanup(&root, id.clone());
    let c = sh("exec sleep 100").build().unwrap();
    let st = root.create(&c, &id, &[]).unwrap();
    root.kill(&id, Signal::SIGKILL, false).unwrap();
    wait_status(&root, &id, Status::Stopped);
    assert!(matches!(root.start(&id), Err(Error::WrongStatus { .. })));
    root.delete(&id, false).unwrap();
    reap(st.pid);

    // Force-deleting a running one kills it and waits.
    let c = sh("exec sleep 100").build().unwrap();
    let st = root.create(&c, &id, &[]).unwrap();
    root.start(&id).unwrap();
    root.delete(&id, true).unwrap();
    reap(st.pid);
    assert!(matches!(root.state(&id), Err(Error::NotFound(_))));
    remove_root(&root);
}

#[test]
fn remove_returns_the_state_it_deleted() {
    let (root, id) = fresh("remove");
    let _cleanup = Cleanup(&root, id.clone());
    let c = sh("exec sleep 100").build().unwrap();
    let st = root.create(&c, &id, &[("bundle", "/srv/b")]).unwrap();
    assert_eq!(st.status, Status::Created);
    // Not stopped: refused without force, and nothing is removed.
    assert!(matches!(
        root.remove(&id, false),
        Err(Error::WrongStatus { .. })
    ));
    root.start(&id).unwrap();
    let gone = root.remove(&id, true).unwrap().expect("the state it had");
    reap(st.pid);
    assert_eq!(gone.id, id);
    assert_eq!(gone.pid, st.pid);
    assert_eq!(gone.status, Status::Running);
    assert_eq!(gone.annotations, st.annotations);
    assert_eq!(gone.cgroup_paths, st.cgroup_paths);
    for dir in &gone.cgroup_paths {
        assert!(!std::path::Path::new(dir).exists(), "{dir} left");
    }
    assert!(matches!(root.state(&id), Err(Error::NotFound(_))));
    // An unknown id: nothing with force, NotFound without.
    assert_eq!(root.remove(&id, true).unwrap(), None);
    assert!(matches!(root.remove(&id, false), Err(Error::NotFound(_))));
    remove_root(&root);
}

#[test]
fn a_missing_command_fails_at_create_and_leaves_nothing() {
    let (root, id) = fresh("missing");
    let c = isolate::Container::builder()
        .host_rootfs()
        .command("lp-test-no-such-command", [""; 0])
        .unwrap()
        .build()
        .unwrap();
    let e = root.create(&c, &id, &[]).unwrap_err();
    assert!(e.is_command_not_found(), "{e:?}");
    assert!(matches!(root.state(&id), Err(Error::NotFound(_))));
    let names: Vec<_> = std::fs::read_dir(root.dir()).unwrap().collect();
    assert!(names.is_empty(), "{names:?}");
    assert!(matches!(
        root.create(&c, "bad/id", &[]),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        root.create(&c, &id, &[("two words", "x")]),
        Err(Error::Config(_))
    ));
    remove_root(&root);
}

/// Run by [`the_container_outlives_its_creator_under_a_subreaper`] in a process of its own:
/// creates the container named in the environment and exits.
#[test]
fn helper_create_and_exit() {
    let Ok(spec) = std::env::var("LP_TEST_LC_CREATE") else {
        return;
    };
    let (root, id) = spec.split_once(' ').unwrap();
    let root = StateRoot::new(root).unwrap();
    let c = sh("exec sleep 100").build().unwrap();
    root.create(&c, id, &[]).unwrap();
}

#[test]
fn the_container_outlives_its_creator_under_a_subreaper() {
    let (root, id) = fresh("subreaper");
    let _cleanup = Cleanup(&root, id.clone());
    // This process plays conmon: a subreaper that adopts the container when `create` exits.
    process::set_child_subreaper(true).unwrap();
    // The container keeps the creator's stdio (by design): none here, so that nothing waits
    // for the pipes to close.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "helper_create_and_exit", "--test-threads=1"])
        .env("LP_TEST_LC_CREATE", format!("{} {id}", root.dir()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(out.success(), "{out:?}");
    let st = root.state(&id).unwrap();
    assert_eq!(st.status, Status::Created);
    let status = std::fs::read_to_string(format!("/proc/{}/status", st.pid)).unwrap();
    let ppid = format!("PPid:\t{}\n", std::process::id());
    assert!(status.contains(&ppid), "not adopted: {status}");
    root.start(&id).unwrap();
    // (PID 1 of a namespace ignores SIGTERM without a handler: SIGKILL.)
    root.kill(&id, Signal::SIGKILL, true).unwrap();
    // We are its parent now: the exit status reaches us.
    let info = process::waitid(WaitId::Pid(st.pid), WaitOptions::EXITED)
        .unwrap()
        .unwrap();
    assert_eq!(
        info.status,
        process::WaitStatus::Signaled {
            signal: Signal::SIGKILL,
            core_dumped: false
        }
    );
    root.delete(&id, false).unwrap();
    remove_root(&root);
}

#[test]
fn a_created_container_under_init_starts_its_command() {
    let (root, id) = fresh("init");
    let _cleanup = Cleanup(&root, id.clone());
    let (r, w) = pipe();
    let c = sh("echo pid $$; exec sleep 100")
        .init(true)
        .stdout(Stdio::Fd(w))
        .build()
        .unwrap();
    let st = root.create(&c, &id, &[]).unwrap();
    drop(c);
    root.start(&id).unwrap();
    let mut line = String::new();
    BufReader::new(r).read_line(&mut line).unwrap();
    // The command is PID 2 under the init.
    assert_eq!(line, "pid 2\n");
    assert_eq!(root.state(&id).unwrap().status, Status::Running);
    // The init forwards SIGTERM to the command, which dies of it; the init then exits.
    root.kill(&id, Signal::SIGTERM, false).unwrap();
    let info = process::waitid(WaitId::Pid(st.pid), WaitOptions::EXITED)
        .unwrap()
        .unwrap();
    assert_eq!(info.status, process::WaitStatus::Exited(128 + 15));
    root.delete(&id, false).unwrap();
    remove_root(&root);
}
