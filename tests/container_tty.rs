//! `container run -it` and `exec -it` driven through a real pseudo-terminal (run as root):
//! the test opens a pty pair, starts `container` as the session leader of the slave (its
//! controlling terminal, as a shell would run it), types into the master and reads what the
//! user would see. Checked: the container's own `/dev/pts`, TERM, job control, `exit N` and
//! Ctrl-D with the shell's exit code, `stty size` after a resize (SIGWINCH forwarded),
//! Ctrl-C reaching the foreground program only, the user's terminal restored afterwards,
//! and the no-argument shell on a terminal.

mod example_bin;

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rawsys::fs::{self, CWD, Mode, OFlags};
use rawsys::io::{self, Winsize};

/// `container` on the slave of a pty pair; the master is ours.
struct Pty {
    master: std::fs::File,
    /// Our copy of the slave: its attributes are the user's terminal's.
    slave: rawsys::OwnedFd,
    seen: Arc<Mutex<Vec<u8>>>,
    child: Child,
    /// Where `seen` was last matched up to.
    mark: usize,
}

fn winsize(rows: u16, cols: u16) -> Winsize {
    Winsize {
        rows,
        cols,
        ..Winsize::default()
    }
}

impl Pty {
    fn spawn(args: &[&str], env: &[(&str, &str)]) -> Pty {
        let flags = OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC;
        let master = fs::openat(CWD, c"/dev/ptmx", flags, Mode::empty()).unwrap();
        io::ptmx_unlock(&master).unwrap();
        let slave = io::ptmx_open_peer(&master, flags).unwrap();
        io::set_window_size(&master, &winsize(24, 80)).unwrap();
        let stdio = || {
            let fd = io::fcntl_dupfd_cloexec(&slave, 3).unwrap();
            Stdio::from(std::os::fd::OwnedFd::from(fd))
        };
        let mut cmd = Command::new(example_bin::example_binary("container"));
        cmd.args(args)
            .env("TERM", "xterm-lp-test")
            .env("CONTAINER_NET", "none")
            .stdin(stdio())
            .stdout(stdio())
            .stderr(stdio());
        for (k, v) in env {
            cmd.env(k, v);
        }
        // SAFETY: setsid and TIOCSCTTY are raw system calls, async-signal-safe, touching no
        // memory of the parent: `container` runs as a login shell's job would.
        unsafe {
            cmd.pre_exec(|| {
                let e = |e: rawsys::Errno| std::io::Error::from_raw_os_error(e.raw());
                rawsys::process::setsid().map_err(e)?;
                io::set_controlling_terminal(rawsys::fd::stdio::STDIN).map_err(e)
            });
        }
        let child = cmd.spawn().unwrap();
        let master = std::fs::File::from(std::os::fd::OwnedFd::from(master));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().unwrap();
        let s = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once every holder of the slave has closed it.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                s.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Pty {
            master,
            slave,
            seen,
            child,
            mark: 0,
        }
    }

    fn send(&mut self, s: &str) {
        self.master.write_all(s.as_bytes()).unwrap();
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned()
    }

    /// Waits up to 20 s for `want` to appear after the last match.
    fn expect(&mut self, want: &str) {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let t = self.text();
            if let Some(i) = t[self.mark.min(t.len())..].find(want) {
                self.mark += i + want.len();
                return;
            }
            assert!(Instant::now() < end, "no {want:?} in {t:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The exit code of `container` (waited for up to 20 s).
    fn exit_code(&mut self) -> i32 {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < end,
                "container did not exit: {}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The cgroups named `name` anywhere under the hierarchies (a leftover check).
fn cgroups_named(name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![PathBuf::from("/sys/fs/cgroup")];
    while let Some(d) = stack.pop() {
        if let Ok(rd) = std::fs::read_dir(&d) {
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    if e.file_name() == name {
                        found.push(e.path());
                    }
                    if d.components().count() < 8 {
                        stack.push(e.path());
                    }
                }
            }
        }
    }
    found
}

#[test]
fn a_shell_on_its_own_pty_with_term_job_control_and_the_exit_code() {
    let name = format!("lp-test-tty-{}", std::process::id());
    let mut p = Pty::spawn(&["run", "-it", "--name", &name, "--", "/bin/sh"], &[]);
    let cooked = io::terminal_attributes(&p.slave).unwrap();
    p.send("echo \"T:$(tty) E:$TERM\"\n");
    p.expect("T:/dev/pts/0 E:xterm-lp-test");
    // While it runs the user's terminal is raw (no echo of its own, no signals from keys).
    let during = io::terminal_attributes(&p.slave).unwrap();
    assert!(
        !during.echoes() && !during.signals_from_keys(),
        "{during:?}"
    );
    // Job control: a background job, listed, brought back and finished.
    p.send("sleep 30 &\n");
    p.send("jobs; echo J:$((1+1))\n");
    p.expect("Running");
    p.expect("J:2");
    p.send("kill %1; wait; echo K:$((2+2))\n");
    p.expect("K:4");
    p.send("exit 3\n");
    assert_eq!(p.exit_code(), 3, "{}", p.text());
    let t = p.text();
    assert!(!t.contains("Cannot set tty process group"), "{t}");
    assert!(!t.contains("job control turned off"), "{t}");
    // The user's terminal is as it was.
    assert_eq!(io::terminal_attributes(&p.slave).unwrap(), cooked);
    assert!(cgroups_named(&name).is_empty(), "cgroups left");
}

#[test]
fn ctrl_d_and_exit_leave_with_the_shells_code_and_the_window_size_follows() {
    let mut p = Pty::spawn(&["run", "-it", "--", "/bin/sh"], &[]);
    p.send("stty size | sed 's/^/S:/'\n");
    p.expect("S:24 80");
    use std::os::fd::AsFd;
    let m = rawsys::BorrowedFd::from(p.master.as_fd());
    io::set_window_size(m, &winsize(40, 100)).unwrap();
    // SIGWINCH reaches `container`, which copies the size to the container's pty.
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        p.send("stty size | sed 's/^/S:/'\n");
        std::thread::sleep(Duration::from_millis(200));
        if p.text()[p.mark..].contains("S:40 100") {
            break;
        }
        assert!(Instant::now() < end, "{}", p.text());
    }
    p.send("exit\n");
    assert_eq!(p.exit_code(), 0);
    // Ctrl-D on an empty line ends the shell with 0.
    let mut p = Pty::spawn(&["run", "-it", "--", "/bin/sh"], &[]);
    p.send("echo R:$((3*3))\n");
    p.expect("R:9");
    p.send("\x04");
    assert_eq!(p.exit_code(), 0, "{}", p.text());
    assert!(!p.text().contains("Cannot set tty process group"));
}

#[test]
fn ctrl_c_reaches_the_foreground_program_only() {
    let mut p = Pty::spawn(&["run", "-it", "--", "/bin/sh"], &[]);
    p.send("echo U:$((5+5))\n");
    p.expect("U:10");
    // The foreground job traps SIGINT and exits 9; the interactive shell (in another process
    // group: job control) is not interrupted and goes on to the echo.
    p.send("sh -c 'trap \"echo G$((4+4))T; exit 9\" INT; echo R$((1+1))Y; while :; do sleep 0.1; done'; echo after=$?\n");
    p.expect("R2Y");
    p.send("\x03");
    p.expect("G8T");
    p.expect("after=9");
    p.send("echo alive:$((6+6))\n");
    p.expect("alive:12");
    assert!(p.child.try_wait().unwrap().is_none(), "container ended");
    p.send("exit 4\n");
    assert_eq!(p.exit_code(), 4);
}

#[test]
fn the_no_argument_shell_gets_a_terminal_and_exec_it_joins_one() {
    // No arguments, stdin a terminal: `run -it --memory 100M -- /bin/sh`.
    let mut p = Pty::spawn(&[], &[]);
    p.send("echo \"N:$(tty)\"\n");
    p.expect("N:/dev/pts/0");
    p.send("exit 5\n");
    assert_eq!(p.exit_code(), 5, "{}", p.text());
    // exec -it into a detached container: a new pty of the container's /dev/pts.
    let root = format!("/tmp/lp-test-tty-root-{}", std::process::id());
    let name = format!("lp-test-ttyx-{}", std::process::id());
    let env = [("CONTAINER_ROOT", root.as_str())];
    let bin = example_bin::example_binary("container");
    let o = Command::new(&bin)
        .args(["run", "-d", "--name", &name, "--", "sleep", "100"])
        .env("CONTAINER_ROOT", &root)
        // Off the host's default bridge, as the other runs here (-d is on it by default).
        .env("CONTAINER_NET", "none")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut x = Pty::spawn(&["exec", "-it", &name, "/bin/sh"], &env);
    x.send("echo \"X:$(tty) $(cat /proc/1/comm)\"\n");
    x.expect("X:/dev/pts/0 sleep");
    x.send("exit 6\n");
    assert_eq!(x.exit_code(), 6, "{}", x.text());
    let o = Command::new(&bin)
        .args(["rm", "-f", &name])
        .env("CONTAINER_ROOT", &root)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(cgroups_named(&name).is_empty(), "cgroups left");
    let left: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != ".container")
        .collect();
    assert!(left.is_empty(), "{left:?}");
    std::fs::remove_dir_all(&root).unwrap();
}
