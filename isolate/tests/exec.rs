//! `StateRoot::exec`: a process joining a running container, as root. Each test creates its
//! own container under its own state root (named `lp-test-ex-…`) and removes both, also
//! when it fails.

mod common;

use std::io::Read;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use isolate::lifecycle::ExecProcess;
use isolate::spec::CapabilitySets;
use isolate::{Builder, Command, Error, ExitStatus, Rootfs, Signal, StateRoot, Status, Stdio};
use rawsys::process::{self, CapSet, WaitId, WaitOptions};

use common::{pipe, sh};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A running container under a fresh state root; dropping it deletes both.
struct Running {
    root: StateRoot,
    id: String,
    pid: i32,
    cgroups: Vec<String>,
}

impl Running {
    fn start(what: &str, b: Builder<Rootfs, Command>) -> Running {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let me = std::process::id();
        let root = StateRoot::new(&format!("/run/lp-test-ex-root-{me}-{n}")).unwrap();
        let id = format!("lp-test-ex-{what}-{me}-{n}");
        let c = b.build().unwrap();
        let st = root.create(&c, &id, &[]).unwrap();
        let r = Running {
            root,
            id,
            pid: st.pid,
            cgroups: st.cgroup_paths,
        };
        r.root.start(&r.id).unwrap();
        r
    }

    fn exec(&self, p: &ExecProcess) -> Result<isolate::ExecHandle, Error> {
        self.root.exec(&self.id, &p)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.root.delete(&self.id, true);
        let _ = process::waitid(WaitId::Pid(self.pid), WaitOptions::EXITED);
        let _ = std::fs::remove_dir(self.root.dir());
    }
}

/// Runs `p` in the container with stdout and stderr captured.
fn exec_capture(c: &Running, p: ExecProcess) -> (ExitStatus, String, String) {
    let (mut r_out, w_out) = pipe();
    let (mut r_err, w_err) = pipe();
    let p = p.stdout(Stdio::Fd(w_out)).stderr(Stdio::Fd(w_err));
    let res = c.exec(&p);
    drop(p);
    let mut h = res.unwrap();
    let (mut out, mut err) = (String::new(), String::new());
    r_out.read_to_string(&mut out).unwrap();
    r_err.read_to_string(&mut err).unwrap();
    (h.wait().unwrap(), out, err)
}

fn shell(script: &str) -> ExecProcess {
    ExecProcess::new("sh", ["-c", script]).unwrap()
}

#[test]
fn exec_joins_the_containers_namespaces_and_cgroup() {
    let init = isolate::Container::builder()
        .host_rootfs()
        .command("sleep", ["100"])
        .unwrap();
    let c = Running::start(
        "join",
        init.hostname("lp-exec-box")
            .unwrap()
            .env("FROM_CONTAINER", "yes")
            .unwrap()
            .working_dir("/tmp")
            .unwrap()
            .memory_limit(64 << 20)
            .unwrap(),
    );
    let script = "echo pid=$$; tr '\\0' ' ' </proc/1/cmdline; echo; hostname; pwd; \
                  echo env=$FROM_CONTAINER,$X; id -u; id -g; id -G; \
                  test -e /work && echo host-root-visible; \
                  grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; exit 7";
    let (st, out, err) = exec_capture(&c, shell(script).env("X", "x1").unwrap());
    assert_eq!(st, ExitStatus::Exited(7), "{out}\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    // Its own pid is small (the container's PID namespace), pid 1 is the container's.
    let pid: u32 = lines[0].strip_prefix("pid=").unwrap().parse().unwrap();
    assert!((2..100).contains(&pid), "{out}");
    assert_eq!(lines[1], "sleep 100 ", "{out}");
    assert_eq!(lines[2], "lp-exec-box");
    assert_eq!(lines[3], "/tmp", "the container's working directory");
    assert_eq!(lines[4], "env=yes,x1");
    assert_eq!(&lines[5..8], ["0", "0", "0"]);
    // The container's hardening: docker's default capabilities, no_new_privs, a filter.
    let rest = lines[8..].join("\n");
    assert!(!rest.contains("host-root-visible"), "{out}");
    assert!(rest.contains("CapEff:\t00000000a80425fb"), "{out}");
    assert!(rest.contains("CapBnd:\t00000000a80425fb"), "{out}");
    assert!(rest.contains("NoNewPrivs:\t1"), "{out}");
    assert!(rest.contains("Seccomp:\t2"), "{out}");

    // Its process is in the container's cgroup(s) while it runs.
    let mut h = c
        .exec(&ExecProcess::new("sleep", ["100"]).unwrap())
        .unwrap();
    assert!(!c.cgroups.is_empty());
    for cg in &c.cgroups {
        let procs = std::fs::read_to_string(format!("{cg}/cgroup.procs")).unwrap();
        assert!(
            procs.lines().any(|l| l == h.pid().to_string()),
            "{} not in {cg}: {procs}",
            h.pid()
        );
    }
    // It is this process's child: it can be signalled and waited for.
    let ppid = std::fs::read_to_string(format!("/proc/{}/stat", h.pid())).unwrap();
    let ppid: i32 = ppid
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(ppid, process::getpid());
    h.kill(Signal::SIGKILL).unwrap();
    assert_eq!(h.wait().unwrap(), ExitStatus::Signaled(Signal::SIGKILL));
    assert_eq!(h.wait().unwrap(), ExitStatus::Signaled(Signal::SIGKILL));
}

#[test]
fn exec_takes_the_user_groups_capabilities_and_no_new_privs_it_is_given() {
    let c = Running::start("creds", sh("exec sleep 100"));
    let status = "id -u; id -g; id -G; grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/self/status";
    let p = shell(status)
        .user(1000, 1000)
        .additional_gids(&[5, 20])
        .unwrap();
    let (st, out, err) = exec_capture(&c, p);
    assert_eq!(st, ExitStatus::Exited(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..3], ["1000", "1000", "1000 5 20"], "{out}");
    assert_eq!(lines[3], "CapEff:\t0000000000000000", "{out}");
    assert_eq!(lines[4], "CapBnd:\t00000000a80425fb", "{out}");
    assert_eq!(lines[5], "NoNewPrivs:\t1", "{out}");

    // CAP_CHOWN (0) and CAP_KILL (5), without no_new_privs (the filter goes in first then).
    let two = CapSet::from_bits(0b10_0001);
    let sets = CapabilitySets {
        bounding: two,
        effective: two,
        permitted: two,
        inheritable: CapSet::empty(),
        ambient: CapSet::empty(),
    };
    let p = shell(status)
        .capabilities(sets)
        .unwrap()
        .no_new_privileges(false);
    let (st, out, err) = exec_capture(&c, p);
    assert_eq!(st, ExitStatus::Exited(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..3], ["0", "0", "0"], "{out}");
    assert_eq!(lines[3], "CapEff:\t0000000000000021", "{out}");
    assert_eq!(lines[4], "CapBnd:\t0000000000000021", "{out}");
    assert_eq!(lines[5], "NoNewPrivs:\t0", "{out}");

    // Only what is passed reaches the process: 0, 1, 2 (and ls's own directory).
    let (st, out, _) = exec_capture(&c, ExecProcess::new("ls", ["/proc/self/fd"]).unwrap());
    assert_eq!(st, ExitStatus::Exited(0));
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["0", "1", "2", "3"]
    );
    let (keep_r, keep_w) = pipe();
    let p = ExecProcess::new("ls", ["/proc/self/fd"])
        .unwrap()
        .pass_fd(keep_w)
        .unwrap();
    let (st, out, _) = exec_capture(&c, p);
    drop(keep_r);
    assert_eq!(st, ExitStatus::Exited(0));
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["0", "1", "2", "3", "4"]
    );

    // The environment can replace the container's.
    let p = shell("echo ${FROM_CONTAINER:-unset} $Y $PATH")
        .inherit_env(false)
        .env("Y", "y")
        .unwrap();
    let (_, out, _) = exec_capture(&c, p);
    assert_eq!(out, format!("unset y {}\n", isolate::DEFAULT_PATH));
}

#[test]
fn exec_refuses_containers_that_are_not_running_and_reports_failed_steps() {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let me = std::process::id();
    let root = StateRoot::new(&format!("/run/lp-test-ex-root-{me}-{n}")).unwrap();
    let id = format!("lp-test-ex-states-{me}-{n}");
    let p = ExecProcess::new("true", [""; 0]).unwrap();
    assert!(matches!(root.exec(&id, &p), Err(Error::NotFound(_))));
    let built = sh("exec sleep 100").build().unwrap();
    let st = root.create(&built, &id, &[]).unwrap();
    let c = Running {
        root: StateRoot::new(root.dir()).unwrap(),
        id: id.clone(),
        pid: st.pid,
        cgroups: st.cgroup_paths,
    };
    let wrong = |e: Result<isolate::ExecHandle, Error>, want: Status| match e {
        Err(Error::WrongStatus {
            op: "exec", status, ..
        }) if status == want => {}
        other => panic!("{other:?} instead of exec refused as {want}"),
    };
    wrong(c.exec(&p), Status::Created);
    c.root.start(&id).unwrap();
    c.root.pause(&id).unwrap();
    wrong(c.exec(&p), Status::Paused);
    c.root.resume(&id).unwrap();
    // Failures inside name the step.
    let e = c
        .exec(&ExecProcess::new("lp-test-no-such-command", [""; 0]).unwrap())
        .unwrap_err();
    assert!(e.is_command_not_found(), "{e:?}");
    let e = c
        .exec(
            &ExecProcess::new("true", [""; 0])
                .unwrap()
                .working_dir("/no/such/dir")
                .unwrap(),
        )
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Child {
                stage: isolate::Stage::Chdir,
                errno: rawsys::Errno::ENOENT,
                ..
            }
        ),
        "{e:?}"
    );
    c.root.kill(&id, Signal::SIGKILL, false).unwrap();
    let _ = process::waitid(WaitId::Pid(c.pid), WaitOptions::EXITED);
    let t = Instant::now();
    while c.root.state(&id).unwrap().status != Status::Stopped {
        assert!(t.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(5));
    }
    wrong(c.exec(&p), Status::Stopped);
}

/// CVE-2024-21626's shape: a working directory that would lead out of the container's root
/// through `..`, a symlink, or a descriptor of the host leaked to the process.
#[test]
fn exec_working_directory_stays_inside_the_root() {
    let c = Running::start(
        "cwd",
        sh(
            "ln -s ../../../../../../../.. /tmp/up && ln -s /proc/self/root /tmp/magic && \
            exec sleep 100",
        ),
    );
    // Wait for the links.
    let t = Instant::now();
    loop {
        let (_, out, _) = exec_capture(&c, ExecProcess::new("ls", ["/tmp"]).unwrap());
        if out.contains("magic") {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "{out}");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Where the process is must be the container's own root: same inode, no host /work.
    let probe = "pwd -P; [ \"$(stat -c %d:%i .)\" = \"$(stat -c %d:%i /)\" ] && echo same-as-root; \
                 [ -e ./work ] && echo host-dir; true";
    for dir in ["/../../../../..", "/tmp/up", "/tmp/up/../.."] {
        let p = shell(probe).working_dir(dir).unwrap();
        let (st, out, err) = exec_capture(&c, p);
        assert_eq!(st, ExitStatus::Exited(0), "{dir}: {err}");
        assert_eq!(out, "/\nsame-as-root\n", "cwd {dir}");
    }
    // A magic link is refused, and a host directory descriptor left open by the caller
    // (runc's leak: a cgroupfs descriptor without close-on-exec) is neither reachable
    // through /proc/self/fd nor open in the process.
    let host_dir = std::fs::File::open("/sys/fs/cgroup").unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&host_dir);
    rawsys::io::fcntl_setfd(
        // SAFETY: `host_dir` keeps the descriptor open for the call.
        unsafe { rawsys::BorrowedFd::borrow_raw(fd) },
        rawsys::io::FdFlags::empty(),
    )
    .unwrap();
    for dir in [
        format!("/proc/self/fd/{fd}"),
        "/tmp/magic".into(),
        format!("/proc/1/fd/{fd}"),
    ] {
        let p = shell(probe).working_dir(&dir).unwrap();
        let e = c.exec(&p).map(|h| h.pid()).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Child {
                    stage: isolate::Stage::Chdir,
                    ..
                }
            ),
            "cwd {dir}: {e:?}"
        );
    }
    let (_, out, _) = exec_capture(&c, ExecProcess::new("ls", ["/proc/self/fd"]).unwrap());
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["0", "1", "2", "3"]
    );
    drop(host_dir);
}

/// The output of a pty master, read by a thread until the slave side is gone.
struct PtyReader {
    master: std::fs::File,
    out: std::sync::Arc<std::sync::Mutex<String>>,
}

impl PtyReader {
    fn new(master: rawsys::OwnedFd) -> PtyReader {
        let master = std::fs::File::from(std::os::fd::OwnedFd::from(master));
        let out = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (mut r, o) = (master.try_clone().unwrap(), out.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once no process holds the slave any more.
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    break;
                }
                o.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        PtyReader { master, out }
    }

    fn write(&self, s: &str) {
        use std::io::Write;
        (&self.master).write_all(s.as_bytes()).unwrap();
    }

    /// Waits until the output matches `pattern` (a substring) and returns the output so far.
    fn wait_for(&self, pattern: &str) -> String {
        let t = Instant::now();
        loop {
            let o = self.out.lock().unwrap().clone();
            if o.contains(pattern) {
                return o;
            }
            assert!(
                t.elapsed() < Duration::from_secs(15),
                "no {pattern:?} in {o:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Drives an interactive shell on a pty: its tty, the window size set on the master, that it
/// is a session leader with the pty as controlling terminal, and job control (^C interrupts
/// the foreground job, not the shell).
fn interactive_shell_checks(pty: &PtyReader, first_pts: bool) {
    let ws = rawsys::io::Winsize {
        rows: 33,
        cols: 111,
        ..Default::default()
    };
    let fd = std::os::fd::AsRawFd::as_raw_fd(&pty.master);
    // SAFETY: the master stays open (owned by `pty`) for the call.
    rawsys::io::set_window_size(unsafe { rawsys::BorrowedFd::borrow_raw(fd) }, &ws).unwrap();
    pty.write("echo T=$(tty) S=$(stty size) P=$(cut -d' ' -f1,6,7 /proc/$$/stat) mark-$((6*7))\n");
    let out = pty.wait_for("mark-42\r\n");
    // The answer line (the echoed command line has `$(` where it has values).
    let line = out
        .lines()
        .find(|l| l.contains("T=/") || l.contains("T=not"))
        .unwrap_or_else(|| panic!("{out:?}"));
    let field = |k: &str| {
        let start = line.find(k).unwrap() + k.len();
        let end = line[start..]
            .find(" S=")
            .or_else(|| line[start..].find(" P="))
            .or_else(|| line[start..].find(" mark"))
            .unwrap();
        line[start..start + end].to_string()
    };
    let tty = field("T=");
    assert!(tty.starts_with("/dev/pts/"), "{out:?}");
    if first_pts {
        assert_eq!(tty, "/dev/pts/0", "the container's own devpts: {out:?}");
    }
    assert_eq!(field("S="), "33 111", "{out:?}");
    // pid, session, tty_nr: the shell leads its session and has a controlling terminal.
    let p = field("P=");
    let f: Vec<&str> = p.split(' ').collect();
    assert_eq!(f[0], f[1], "session leader: {out:?}");
    assert_ne!(f[2], "0", "controlling terminal: {out:?}");
    // ^C reaches the foreground job through the line discipline; the shell goes on.
    pty.write("sleep 60\n");
    std::thread::sleep(Duration::from_millis(300));
    pty.write("\x03");
    pty.write("echo after-$((40+2))\n");
    let t = Instant::now();
    pty.wait_for("after-42\r\n");
    assert!(t.elapsed() < Duration::from_secs(15));
    pty.write("exit 5\n");
}

#[test]
fn exec_with_a_terminal_gets_a_pty_of_the_container() {
    let c = Running::start("tty", sh("exec sleep 100"));
    let mut h = c
        .exec(&ExecProcess::new("sh", [""; 0]).unwrap().terminal(true))
        .unwrap();
    let pty = PtyReader::new(h.take_terminal().unwrap());
    assert!(h.take_terminal().is_none());
    interactive_shell_checks(&pty, true);
    assert_eq!(h.wait().unwrap(), ExitStatus::Exited(5));
    // Without a terminal there is none.
    let mut h = c.exec(&ExecProcess::new("true", [""; 0]).unwrap()).unwrap();
    assert!(h.take_terminal().is_none());
    h.wait().unwrap();
}

#[test]
fn a_created_container_with_a_terminal_hands_over_its_master() {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let me = std::process::id();
    let root = StateRoot::new(&format!("/run/lp-test-ex-root-{me}-{n}")).unwrap();
    let id = format!("lp-test-ex-ctty-{me}-{n}");
    let built = isolate::Container::builder()
        .host_rootfs()
        .command("sh", [""; 0])
        .unwrap()
        .terminal(true)
        .build()
        .unwrap();
    // The plain create refuses it (the master would be lost).
    assert!(matches!(
        root.create(&built, &id, &[]),
        Err(Error::Config(_))
    ));
    let (st, master) = root.create_with_terminal(&built, &id, &[]).unwrap();
    let c = Running {
        root,
        id: id.clone(),
        pid: st.pid,
        cgroups: st.cgroup_paths,
    };
    c.root.start(&id).unwrap();
    let pty = PtyReader::new(master);
    interactive_shell_checks(&pty, true);
    let (_, status) = process::wait4(c.pid, WaitOptions::empty())
        .unwrap()
        .unwrap();
    assert_eq!(status, process::WaitStatus::Exited(5));
    // spawn: the same through Running::take_terminal.
    let mut running = built.spawn().unwrap();
    let pty = PtyReader::new(running.take_terminal().unwrap());
    interactive_shell_checks(&pty, true);
    assert_eq!(running.wait().unwrap().status, ExitStatus::Exited(5));
}
