//! The 2025 runc `/proc` races, run for real against a rootfs directory a second process
//! changes while the container is being set up (as another container sharing the rootfs or a
//! volume would): CVE-2025-52881 (the runtime's writes to `/proc` redirected to other files)
//! and CVE-2025-31133 (masked paths left unmasked, or a mask's bind redirected through a fake
//! `/proc/self/fd`).
//!
//! The racer is a thread of this test: it waits until the child creates `<root>/lp-pad` (the
//! first of many tmpfs mounts the container asks for, made after `/proc` is mounted and before
//! `pivot_root`, which give the racer time), then renames the directory procfs is mounted on
//! out of the way and puts a plain directory or a symlink of its own at `<root>/proc`. It
//! waits at most 10 s and renames once. Every target is a file the test made in its own
//! temporary directory: no real sysctl of the host is written, none is named.
//!
//! Each test asserts that the container is refused with an error naming `/proc`, or, when it
//! ran, that what the attack aimed at did not happen; and that the racer did swap (so the
//! attack was really tried). The race can be lost by the racer (it is a scheduler race): each
//! test tries up to [`ATTEMPTS`] times and needs one attempt where the swap came before the
//! container's setup ended.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use isolate::{Builder, Command, Container, Error, ExitStatus, Rootfs};

use common::run_capture;

static SEQ: AtomicU32 = AtomicU32::new(0);

/// How many times a test runs its attack at most.
const ATTEMPTS: usize = 5;

/// The tmpfs mounts after `/proc` that give the racer its time (the builder takes 64 mounts
/// at most), each on a directory [`PAD_DEPTH`] levels down (one `mkdir` each).
const PADS: usize = 60;

/// See [`PADS`].
const PAD_DEPTH: usize = 20;

/// `cat` by its full name: busybox's shell finds its applets through `/proc/self/exe`, which
/// a swapped `/proc` may lack.
const CAT: &str = "/bin/busybox cat";

/// A rootfs directory with a static busybox, removed on drop.
struct Bundle {
    dir: PathBuf,
    _rm: common::TempDir,
}

impl Bundle {
    fn new(what: &str) -> Bundle {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("lp-test-race-{what}-{}-{n}", std::process::id()));
        let rm = common::TempDir::new(dir.clone());
        std::fs::create_dir_all(dir.join("root/bin")).unwrap();
        std::fs::copy("/usr/bin/busybox", dir.join("root/bin/busybox")).unwrap();
        std::fs::create_dir(dir.join("root/proc")).unwrap();
        Bundle { dir, _rm: rm }
    }

    fn root(&self) -> PathBuf {
        self.dir.join("root")
    }

    /// A container on this rootfs running `script` with the padding mounts.
    fn container(&self, script: &str) -> Builder<Rootfs, Command> {
        let mut b = Container::builder()
            .rootfs(self.root().to_str().unwrap())
            .unwrap()
            .command("/bin/busybox", ["sh", "-c", script])
            .unwrap();
        let deep = "/d".repeat(PAD_DEPTH);
        for i in 0..PADS {
            b = b.tmpfs(&format!("/lp-pad/{i}{deep}"), Some(4096)).unwrap();
        }
        b
    }
}

/// What the racer puts at `<root>/proc`.
#[derive(Clone, Copy)]
enum Swap {
    /// The directory `<root>/lp-decoy`.
    Directory,
    /// A symlink to `/lp-decoy`.
    Symlink,
}

/// Starts the racer: once `<root>/lp-pad` exists, `<root>/proc` (procfs's mount point) moves
/// to `<root>/lp-moved` and the decoy takes its name. Returns whether it swapped.
fn racer(root: PathBuf, swap: Swap) -> std::thread::JoinHandle<bool> {
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        let pad = root.join("lp-pad");
        while std::fs::symlink_metadata(&pad).is_err() {
            if Instant::now() > deadline {
                return false;
            }
            std::hint::spin_loop();
        }
        std::fs::rename(root.join("proc"), root.join("lp-moved")).unwrap();
        match swap {
            Swap::Directory => std::fs::rename(root.join("lp-decoy"), root.join("proc")).unwrap(),
            Swap::Symlink => std::os::unix::fs::symlink("/lp-decoy", root.join("proc")).unwrap(),
        }
        true
    })
}

/// Runs `b` against a racer; `Ok` with the output when the container ran.
fn race(bundle: &Bundle, swap: Swap, b: Builder<Rootfs, Command>) -> Result<String, Error> {
    let r = racer(bundle.root(), swap);
    let (res, out, err) = run_capture(b);
    assert!(r.join().unwrap(), "the racer never saw lp-pad");
    match res {
        Ok(o) => {
            assert_eq!(o.status, ExitStatus::Exited(0), "{out}\n{err}");
            Ok(out)
        }
        Err(e) => Err(e),
    }
}

/// The refusal the checked `/proc` gives: the step named, with `/proc` in it.
fn assert_refused_over_proc(e: &Error) {
    let msg = e.to_string();
    assert!(
        matches!(e, Error::Child { .. }) && msg.contains("/proc"),
        "not the /proc check: {msg}"
    );
}

fn write(p: &Path, s: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, s).unwrap();
}

/// CVE-2025-52881: `/proc` swapped for a directory holding a regular file where the sysctl
/// is; the sysctl must land in procfs or the container be refused, never in that file.
#[test]
fn a_sysctl_is_not_written_through_a_proc_swapped_for_a_directory() {
    let key = "net.ipv4.ip_unprivileged_port_start";
    let rel = "sys/net/ipv4/ip_unprivileged_port_start";
    for attempt in 0..ATTEMPTS {
        let bundle = Bundle::new("sysctl");
        let target = bundle.root().join("lp-decoy").join(rel);
        write(&target, "lp-untouched\n");
        let script = format!("{CAT} /lp-moved/{rel} 2>/dev/null || {CAT} /proc/{rel}");
        let b = bundle.container(&script).sysctl(key, "1000").unwrap();
        let res = race(&bundle, Swap::Directory, b);
        // The decoy is <root>/proc now.
        let target = bundle.root().join("proc").join(rel);
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "lp-untouched\n",
            "the runtime's sysctl write went to the decoy file"
        );
        match res {
            Err(e) => return assert_refused_over_proc(&e),
            // The racer came late: the write went to procfs before the swap.
            Ok(out) => assert_eq!(out.trim(), "1000", "attempt {attempt}"),
        }
    }
    panic!("the racer never swapped /proc before the sysctl step in {ATTEMPTS} attempts");
}

/// The procfs mounts in `mountinfo` (mount points) and the mounts over their paths.
fn unprotected_procfs(mountinfo: &str) -> Vec<String> {
    let points: Vec<(&str, &str, &str)> = mountinfo
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let sep = f.iter().position(|x| *x == "-")?;
            Some((f[4], f[5], *f.get(sep + 1)?))
        })
        .collect();
    let mut bad = Vec::new();
    for (mp, _, fstype) in &points {
        if *fstype != "proc" || mp.starts_with("/lp-pad") {
            continue;
        }
        let covered = |sub: &str, ro: bool| {
            points.iter().any(|(m, opts, _)| {
                *m == format!("{mp}/{sub}") && (!ro || opts.split(',').any(|o| o == "ro"))
            })
        };
        if !covered("sys", true) || !covered("sysrq-trigger", true) || !covered("kcore", false) {
            bad.push(mp.to_string());
        }
    }
    bad
}

/// CVE-2025-31133 / CVE-2025-52881: `/proc` swapped for an empty directory while the masks
/// and read-only paths are being made. They must go onto the procfs mounted for the
/// container (wherever it was moved) or the container be refused: no procfs the container
/// can reach may have a writable `/sys` or an unmasked `kcore`.
#[test]
fn masks_are_not_lost_to_a_proc_swapped_for_a_directory() {
    for attempt in 0..ATTEMPTS {
        let bundle = Bundle::new("mask");
        // The decoy's self is the real one's (moved with it): /proc/self/fd/N still works.
        std::fs::create_dir(bundle.root().join("lp-decoy")).unwrap();
        std::os::unix::fs::symlink("/lp-moved/self", bundle.root().join("lp-decoy/self")).unwrap();
        let script =
            format!("{CAT} /lp-moved/self/mountinfo 2>/dev/null || {CAT} /proc/self/mountinfo");
        let res = race(&bundle, Swap::Directory, bundle.container(&script));
        match res {
            Err(e) => return assert_refused_over_proc(&e),
            Ok(out) => {
                assert!(out.contains(" - proc "), "{out}");
                let bad = unprotected_procfs(&out);
                assert!(
                    bad.is_empty(),
                    "attempt {attempt}: unprotected procfs {bad:?}\n{out}"
                );
            }
        }
    }
    panic!("the racer never swapped /proc before the masks in {ATTEMPTS} attempts");
}

/// CVE-2025-31133: `/proc` swapped for a symlink to a directory whose `self/fd/N` are links
/// to a decoy. A mask named through `/proc/self/fd/N` would bind the decoy over the decoy
/// and leave the masked file readable; it must be masked or the container refused.
#[test]
fn a_mask_is_not_redirected_through_a_fake_proc_self_fd() {
    for attempt in 0..ATTEMPTS {
        let bundle = Bundle::new("fakefd");
        let root = bundle.root();
        write(&root.join("lp-secret"), "lp-secret\n");
        write(&root.join("lp-decoy-file"), "lp-decoy\n");
        std::fs::create_dir_all(root.join("lp-decoy/lp-self/fd")).unwrap();
        std::os::unix::fs::symlink("lp-self", root.join("lp-decoy/self")).unwrap();
        for n in 0..256 {
            std::os::unix::fs::symlink(
                "/lp-decoy-file",
                root.join(format!("lp-decoy/lp-self/fd/{n}")),
            )
            .unwrap();
        }
        let b = bundle
            .container(&format!("{CAT} /lp-secret && echo end"))
            .masked_paths(["/lp-secret"])
            .unwrap()
            .readonly_paths(Vec::<&str>::new())
            .unwrap();
        match race(&bundle, Swap::Symlink, b) {
            Err(e) => return assert_refused_over_proc(&e),
            Ok(out) => {
                assert_eq!(out, "end\n", "attempt {attempt}: the masked file was read")
            }
        }
        assert_eq!(
            std::fs::read_to_string(root.join("lp-decoy-file")).unwrap(),
            "lp-decoy\n"
        );
    }
    panic!("the racer never swapped /proc before the masks in {ATTEMPTS} attempts");
}

/// Everything read from a pty master until the slave side is closed by every process.
fn read_pty(master: rawsys::OwnedFd) -> std::thread::JoinHandle<String> {
    use std::io::Read;
    let mut f = std::fs::File::from(std::os::fd::OwnedFd::from(master));
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        // EIO once no process holds the slave any more.
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&out).into_owned()
    })
}

/// CVE-2025-52565: with a terminal, `/dev/console` is the container's own pty (config-linux.md),
/// bound after the masks from descriptor to descriptor. A `/dev` the container's side
/// controls (a caller's bind of a shared directory, with its own devpts) whose `console` is
/// a symlink to a file elsewhere is refused, and that file is not mounted over.
#[test]
fn the_console_is_the_terminal_and_never_bound_through_a_link() {
    // The console is the terminal.
    let script = "[ \"$(stat -L -c %t:%T /dev/console)\" = \"$(stat -L -c %t:%T $(tty))\" ] \
                  && echo console-is-tty; echo via-console > /dev/console";
    let mut r = common::sh(script)
        .terminal(true)
        .build()
        .unwrap()
        .spawn()
        .unwrap();
    let out = read_pty(r.take_terminal().unwrap());
    assert_eq!(r.wait().unwrap().status, ExitStatus::Exited(0));
    drop(r);
    let out = out.join().unwrap();
    assert!(
        out.contains("console-is-tty") && out.contains("via-console"),
        "{out:?}"
    );

    // The attack.
    let bundle = Bundle::new("console");
    let root = bundle.root();
    write(&root.join("lp-target"), "lp-untouched\n");
    let dev = bundle.dir.join("dev");
    std::fs::create_dir_all(dev.join("pts")).unwrap();
    std::os::unix::fs::symlink("/lp-target", dev.join("console")).unwrap();
    let devpts = isolate::spec::Mount::new(
        "devpts",
        "devpts",
        "/dev/pts",
        ["newinstance", "ptmxmode=0666", "mode=0620"],
    )
    .unwrap();
    let b = Container::builder()
        .rootfs(root.to_str().unwrap())
        .unwrap()
        .command("/bin/busybox", ["stat", "-L", "-c", "%F", "/lp-target"])
        .unwrap()
        .system_paths(isolate::security::SystemPaths::Unconfined)
        .bind_mount(dev.to_str().unwrap(), "/dev", false)
        .unwrap()
        .mount(devpts)
        .unwrap()
        .terminal(true);
    let res = b.build().unwrap().spawn();
    let e = match res {
        Err(e) => e,
        Ok(mut r) => {
            let out = read_pty(r.take_terminal().unwrap());
            let _ = r.wait();
            drop(r);
            panic!(
                "started through a /dev/console symlink: {:?}",
                out.join().unwrap()
            );
        }
    };
    let msg = e.to_string();
    assert!(msg.contains("/dev/console"), "{msg}");
    assert_eq!(
        std::fs::read_to_string(root.join("lp-target")).unwrap(),
        "lp-untouched\n"
    );
    assert_eq!(
        std::fs::read_link(dev.join("console")).unwrap(),
        Path::new("/lp-target")
    );
}
