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
        // `start` returns once the process is released, maybe before its execve.
        let me = std::env::current_exe().unwrap();
        let t = Instant::now();
        while std::fs::read_link(format!("/proc/{}/exe", r.pid))
            .ok()
            .as_ref()
            == Some(&me)
        {
            assert!(t.elapsed() < Duration::from_secs(10), "no execve");
            std::thread::sleep(Duration::from_millis(2));
        }
        r
    }

    fn exec(&self, p: &ExecProcess) -> Result<isolate::ExecHandle, Error> {
        self.root.exec(&self.id, p)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.root.delete(&self.id, true);
        let _ = process::waitid(WaitId::Pid(self.pid), WaitOptions::EXITED);
        // Also after a failed delete (a panicked test): the state root is this test's own.
        let _ = std::fs::remove_dir_all(self.root.dir());
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

/// The attacker for the CVE-2016-9962 / CVE-2019-5736 test: PID 1 of the container, as root
/// with the default capabilities. It watches /proc for every other process and tries to reach
/// its descriptors, memory, working directory and executable (for writing, and by O_PATH then
/// reopened for writing through /proc/self/fd, as the runc exploit does), printing one line
/// per process and name: `pid comm what=result ...`. Listing `/proc/PID/fd` is allowed to
/// root for any process (the names are not the descriptors); following an entry is what
/// the escape needs.
const ATTACKER: &str = r#"
import os, sys, errno
def err(e): return errno.errorcode.get(e.errno, str(e.errno))
def attempt(pid):
    r = {}
    def tryit(k, f):
        try:
            x = f()
            if isinstance(x, int): os.close(x)
            r[k] = 'OK'
        except OSError as e:
            r[k] = err(e)
    def fds(follow):
        names = os.listdir('/proc/%d/fd' % pid)
        last = OSError(errno.ENOENT, 'no descriptors')
        for n in names:
            try:
                return follow('/proc/%d/fd/%s' % (pid, n))
            except OSError as e:
                last = e
        raise last
    tryit('fd_list', lambda: os.listdir('/proc/%d/fd' % pid))
    tryit('fd_link', lambda: fds(os.readlink))
    tryit('fd_open', lambda: fds(lambda p: os.open(p, os.O_PATH)))
    tryit('cwd', lambda: os.listdir('/proc/%d/cwd' % pid))
    tryit('mem', lambda: os.open('/proc/%d/mem' % pid, os.O_RDONLY))
    tryit('exe_w', lambda: os.open('/proc/%d/exe' % pid, os.O_WRONLY))
    try:
        p = os.open('/proc/%d/exe' % pid, os.O_PATH)
        r['exe_path'] = 'OK'
        tryit('exe_reopen_w', lambda: os.open('/proc/self/fd/%d' % p, os.O_WRONLY))
        os.close(p)
    except OSError as e:
        r['exe_path'] = err(e)
    return r
seen = set()
print('ready', flush=True)
while not os.path.exists('/tmp/lp-stop'):
    for name in os.listdir('/proc'):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        pid = int(name)
        try:
            comm = open('/proc/%d/comm' % pid).read().strip()
        except OSError:
            continue
        if (pid, comm) in seen:
            continue
        seen.add((pid, comm))
        r = attempt(pid)
        # Reported under its name only if it still has it: a process that finished its execve
        # while the attempts ran would otherwise have the new image's results under the old
        # name (one such false catch seen on a loaded machine). The next scan reports it
        # under its new name.
        try:
            after = open('/proc/%d/comm' % pid).read().strip()
        except OSError:
            continue
        if after != comm:
            continue
        print(pid, comm.replace(' ', '_'), ' '.join('%s=%s' % kv for kv in sorted(r.items())), flush=True)
"#;

/// An exec'd process killed and reaped when dropped, also when an assertion fails before the
/// test does it: the container's init, once killed, waits for every process of its PID
/// namespace to be reaped, and `Running`'s drop waits for the init (an unreaped exec'd
/// process deadlocked a failed run).
struct Reaped(Option<isolate::ExecHandle>);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(mut h) = self.0.take() {
            let _ = h.kill(Signal::SIGKILL);
            let _ = h.wait();
        }
    }
}

/// Whether `pid` has dropped its capabilities to the container's (docker's default set):
/// from then on only its being non-dumpable keeps the container's root out of its /proc.
fn caps_dropped(pid: i32) -> bool {
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    st.contains("CapPrm:\t00000000a80425fb") && st.contains("CapEff:\t00000000a80425fb")
}

/// The pids (host, container) of processes in `cgroups` that are in a nested PID namespace.
fn nested_pids(cgroups: &[String]) -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    for cg in cgroups {
        let Ok(procs) = std::fs::read_to_string(format!("{cg}/cgroup.procs")) else {
            continue;
        };
        for pid in procs.lines().filter_map(|l| l.parse::<i32>().ok()) {
            let Ok(st) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
                continue;
            };
            let ns: Vec<i32> = st
                .lines()
                .find_map(|l| l.strip_prefix("NSpid:"))
                .map(|v| {
                    v.split_whitespace()
                        .filter_map(|x| x.parse().ok())
                        .collect()
                })
                .unwrap_or_default();
            if ns.len() == 2 && !out.contains(&(pid, ns[1])) {
                out.push((pid, ns[1]));
            }
        }
    }
    out
}

/// CVE-2016-9962 and CVE-2019-5736, run from inside: while `exec` joins the container, the
/// container's PID 1 tries to open `/proc/PID/{fd,cwd,mem,exe}` of every process it sees.
/// The joining process is caught before its `execve` but after it has dropped its
/// capabilities to the container's (a host thread stops it with SIGSTOP as soon as it shows
/// up so in the container's cgroup under this test's name, and lets it go once the attacker
/// has tried it), so the attack runs in the window where only non-dumpability protects it:
/// before, its larger capability sets alone refuse the attacker (ptrace access needs the
/// target's permitted set to be a subset of the caller's). Every
/// attempt on it must fail; after its `execve` the same attempts succeed (the attacker's
/// checks work), and this test binary's bytes are unchanged.
#[test]
fn the_container_cannot_reach_the_joining_process() {
    let me = std::fs::read_to_string("/proc/thread-self/comm").unwrap();
    let me = me.trim().replace(' ', "_");
    let exe = std::env::current_exe().unwrap();
    let bytes_before = std::fs::read(&exe).unwrap();
    let (out_r, out_w) = pipe();
    let init = isolate::Container::builder()
        .host_rootfs()
        .command("python3", ["-c", ATTACKER])
        .unwrap()
        .stdout(Stdio::Fd(out_w));
    let c = Running::start("attack", init);
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    {
        let lines = lines.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for l in std::io::BufReader::new(out_r).lines() {
                let Ok(l) = l else { break };
                lines.lock().unwrap().push(l);
            }
        });
    }
    let has = |pred: &dyn Fn(&str) -> bool| lines.lock().unwrap().iter().any(|l| pred(l));
    let t = Instant::now();
    while !has(&|l| l == "ready") {
        assert!(t.elapsed() < Duration::from_secs(20), "attacker not ready");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Exec until one joining process has been caught between dropping its capabilities and
    // its execve. The window is widened by a PATH of 63 missing directories before /bin.
    let mut path: Vec<String> = (0..63).map(|i| format!("/lp-test-missing-{i}")).collect();
    path.push("/bin".into());
    // The exec'd sleep outlives the attacker's next scan of /proc however loaded the machine
    // (a 0.3 s sleep was sometimes gone before the attacker saw it): rounds that catch
    // nothing kill it at once.
    let slow_lookup = ExecProcess::new("sleep", ["30"])
        .unwrap()
        .env("PATH", &path.join(":"))
        .unwrap();
    let mut caught = None;
    for round in 0..60 {
        let done = std::sync::atomic::AtomicBool::new(false);
        let cgroups = c.cgroups.clone();
        let found = std::thread::scope(|s| {
            let watcher = s.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    for (host, inner) in nested_pids(&cgroups) {
                        let comm = std::fs::read_to_string(format!("/proc/{host}/comm"))
                            .unwrap_or_default();
                        if comm.trim().replace(' ', "_") != me || !caps_dropped(host) {
                            continue;
                        }
                        // Still this test's image (before execve), with no more
                        // capabilities than the attacker: hold it there.
                        let _ = process::kill_process(host, Signal::SIGSTOP);
                        let prefix = format!("{inner} {me} ");
                        let t = Instant::now();
                        while !has(&|l| l.starts_with(&prefix)) && t.elapsed().as_secs() < 10 {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        let _ = process::kill_process(host, Signal::SIGCONT);
                        // A round whose stopped process the attacker did not report within
                        // 10 s (seen on a loaded machine) proves nothing: the next round
                        // tries again, and every reported catch is checked below.
                        if has(&|l| l.starts_with(&prefix)) {
                            return Some(inner);
                        }
                        eprintln!("round {round}: pid {inner} stopped but not reported");
                        return None;
                    }
                }
                None
            });
            let h = c.exec(&slow_lookup).unwrap();
            done.store(true, Ordering::Relaxed);
            (watcher.join().unwrap(), h)
        });
        let (found, mut h) = found;
        if let Some(inner) = found {
            eprintln!("caught in round {round}");
            caught = Some((inner, h));
            break;
        }
        h.kill(Signal::SIGKILL).unwrap();
        assert_eq!(h.wait().unwrap(), ExitStatus::Signaled(Signal::SIGKILL));
    }
    let (inner, sleeper) = caught.unwrap_or_else(|| {
        panic!(
            "no joining process caught before its execve in 60 rounds; the attacker said {:?}",
            lines.lock().unwrap()
        )
    });
    let mut sleeper = Reaped(Some(sleeper));
    let before = lines
        .lock()
        .unwrap()
        .iter()
        .find(|l| l.starts_with(&format!("{inner} {me} ")))
        .cloned()
        .unwrap();
    for what in ["fd_link", "fd_open", "cwd", "mem", "exe_w", "exe_path"] {
        let v = before
            .split(' ')
            .find_map(|kv| kv.strip_prefix(&format!("{what}=")))
            .unwrap_or_else(|| panic!("{before}"));
        assert!(matches!(v, "EACCES" | "EPERM"), "{what}={v}: {before}");
    }
    assert!(!before.contains("exe_reopen_w"), "{before}");
    // The same process after its execve, as sleep: dumpable, and the attacker reaches it.
    let t = Instant::now();
    while !has(&|l| l.starts_with(&format!("{inner} sleep "))) {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{:?}",
            lines.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let after = lines
        .lock()
        .unwrap()
        .iter()
        .find(|l| l.starts_with(&format!("{inner} sleep ")))
        .cloned()
        .unwrap();
    for what in ["fd_link", "fd_open", "cwd", "mem", "exe_path"] {
        assert!(after.contains(&format!("{what}=OK")), "{what}: {after}");
    }
    let mut sleeper = sleeper.0.take().unwrap();
    sleeper.kill(Signal::SIGKILL).unwrap();
    assert_eq!(
        sleeper.wait().unwrap(),
        ExitStatus::Signaled(Signal::SIGKILL)
    );
    // No line ever had write access to an executable; our binary is as it was.
    for l in lines.lock().unwrap().iter() {
        assert!(
            !l.contains("exe_w=OK") && !l.contains("exe_reopen_w=OK"),
            "{l}"
        );
    }
    assert!(
        std::fs::read(&exe).unwrap() == bytes_before,
        "the test binary changed"
    );
}

/// startContainer hooks join the container through `StateRoot::process_fd`'s pidfd (checked
/// against the start time): the hook runs in the container's namespaces while it runs, and
/// once its process has ended neither `process_fd` nor a pidfd taken earlier runs a hook
/// anywhere (a pid reused by then is never joined).
#[test]
fn hooks_join_the_container_through_a_checked_pidfd_and_never_after_it_ended() {
    use isolate::hooks::{Hook, run_hook_in_pidfd};
    let c = Running::start(
        "hookfd",
        sh("exec sleep 100").hostname("lp-hookfd").unwrap(),
    );
    let dir = common::TempDir::new(
        std::env::temp_dir().join(format!("lp-test-hookfd-{}", std::process::id())),
    );
    let marker = dir.0.join("ran");
    let hook = Hook::new(
        "/bin/sh",
        vec![
            "sh".into(),
            "-c".into(),
            format!("hostname > {}", marker.display()),
        ],
        vec!["PATH=/bin:/usr/bin".into()],
        Some(10),
    )
    .unwrap();
    let pidfd = c
        .root
        .process_fd(&c.id)
        .unwrap()
        .expect("a running container");
    // Without the mount namespace the marker path is the host's; the UTS one is joined.
    run_hook_in_pidfd(&hook, b"{}", &pidfd, false).unwrap();
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "lp-hookfd\n");
    std::fs::remove_file(&marker).unwrap();
    c.root.kill(&c.id, Signal::SIGKILL, false).unwrap();
    let _ = process::waitid(WaitId::Pid(c.pid), WaitOptions::EXITED);
    assert!(c.root.process_fd(&c.id).unwrap().is_none());
    let e = run_hook_in_pidfd(&hook, b"{}", &pidfd, false).unwrap_err();
    assert!(e.to_string().contains("ended"), "{e}");
    assert!(!marker.exists(), "a hook ran for a process that had ended");
}
