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
    let c = Running::start(
        "join",
        sh("exec sleep 100")
            .hostname("lp-exec-box")
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
    let mut h = c.exec(&ExecProcess::new("sleep", ["100"]).unwrap()).unwrap();
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
    assert_eq!(process::getppid(), process::getppid());
    let ppid = std::fs::read_to_string(format!("/proc/{}/stat", h.pid())).unwrap();
    let ppid: i32 = ppid.rsplit(')').next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(ppid, process::getpid());
    h.kill(Signal::SIGKILL).unwrap();
    assert_eq!(h.wait().unwrap(), ExitStatus::Signaled(Signal::SIGKILL));
    assert_eq!(h.wait().unwrap(), ExitStatus::Signaled(Signal::SIGKILL));
}
