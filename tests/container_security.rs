//! Hardening of the `container` example, black-box (run as root): a static probe
//! (tests/probe/probe.c) reports from inside what the container may do; runc's default
//! container is compared by scripts/compare-runc.sh; a rootless run uses a fresh
//! unprivileged user.

mod example_bin;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

fn target_dir() -> PathBuf {
    example_bin::profile_dir()
}

fn bin() -> PathBuf {
    example_bin::example_binary("container")
}

/// A directory removed (recursively) on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = PathBuf::from(format!("/var/tmp/lp-test-sec-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The probe, built once (static, so it runs in a busybox rootfs).
fn probe() -> &'static Path {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/probe/probe.c");
        // One fixed name in the target dir: rebuilt by each run, never accumulating.
        let out = target_dir().join("lp-test-probe");
        let st = Command::new("gcc")
            .args(["-static", "-O1", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("gcc (apt-get install gcc libc6-dev)");
        assert!(st.success(), "building the probe failed");
        out
    })
}

/// A busybox rootfs with the probe at /probe (and a setuid-root copy at /probe-suid).
fn rootfs(tag: &str) -> TempDir {
    let d = TempDir::new(tag);
    let r = &d.0;
    for sub in ["bin", "proc", "dev", "sys", "etc", "tmp", "mnt"] {
        std::fs::create_dir_all(r.join(sub)).unwrap();
    }
    std::fs::set_permissions(r.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let bb = ["/usr/bin/busybox", "/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox (apt-get install busybox-static)");
    std::fs::copy(bb, r.join("bin/busybox")).unwrap();
    for app in ["sh", "cat", "echo", "id", "ls"] {
        std::os::unix::fs::symlink("busybox", r.join("bin").join(app)).unwrap();
    }
    std::fs::copy(probe(), r.join("probe")).unwrap();
    std::fs::copy(probe(), r.join("probe-suid")).unwrap();
    std::fs::set_permissions(
        r.join("probe-suid"),
        std::fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    std::fs::write(r.join("etc/hostname"), "").unwrap();
    std::fs::write(r.join("etc/resolv.conf"), "").unwrap();
    d
}

fn container(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn parse(out: &str) -> HashMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn run_probe(root: &Path, extra: &[&str]) -> HashMap<String, String> {
    let r = root.to_str().unwrap();
    let mut args = vec!["run", "--net", "none", "--rootfs", r];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "/probe"]);
    let o = container(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    parse(&text(&o.stdout))
}

const DENIED: [&str; 24] = [
    "keyctl",
    "add_key",
    "bpf",
    "perf_event_open",
    "unshare(CLONE_NEWNS)",
    "unshare(CLONE_NEWUSER)",
    "clone(CLONE_NEWUSER)",
    "setns",
    "mount tmpfs",
    "umount2 /mnt",
    "pivot_root",
    "open_by_handle_at",
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "reboot(bad magic)",
    "ptrace(PEEKUSER self)",
    "userfaultfd",
    "iopl",
    "acct",
    "swapoff",
    "settimeofday(null)",
    "personality(ADDR_NO_RANDOMIZE)",
];

#[test]
fn a_default_container_is_confined_like_dockers() {
    let root = rootfs("default");
    let p = run_probe(&root.0, &[]);
    // Docker's 14 capabilities; nothing inheritable or ambient.
    assert_eq!(p["CapBnd"], "00000000a80425fb");
    assert_eq!(p["CapEff"], "00000000a80425fb");
    assert_eq!(p["CapPrm"], "00000000a80425fb");
    assert_eq!(p["CapInh"], "0000000000000000");
    assert_eq!(p["CapAmb"], "0000000000000000");
    assert_eq!(p["NoNewPrivs"], "1");
    assert_eq!(p["Seccomp"], "2");
    assert_eq!(p["cwd"], "/");
    assert_eq!(p["open fds"], "0,1,2");
    assert_eq!(p["dev nodes"], "null,zero,full,random,urandom,tty,ptmx,");
    for k in DENIED {
        assert_eq!(p[k], "EPERM", "{k}");
    }
    for k in ["/proc/keys", "/proc/timer_list"] {
        assert!(
            p[k] == "0 bytes" || p[k] == "ENOENT",
            "{k} not masked: {}",
            p[k]
        );
    }
    for k in ["/proc/acpi", "/sys/firmware"] {
        assert!(p[k] == "0 entries" || p[k] == "ENOENT", "{k}: {}", p[k]);
    }
    assert_eq!(p["write /proc/sys/kernel/domainname"], "EROFS");
    for k in ["mknod c 1:1 in /dev", "mknod c 1:1 in /tmp"] {
        assert!(!p[k].ends_with("open ok"), "{k}: {}", p[k]);
    }
}

#[test]
fn privileged_and_unconfined_lift_exactly_their_part() {
    let root = rootfs("unconfined");
    let p = run_probe(&root.0, &["--seccomp", "unconfined"]);
    assert_eq!(p["Seccomp"], "0");
    assert_eq!(p["CapEff"], "00000000a80425fb");
    // The kernel's own capability check still refuses mount; the filter no longer answers
    // keyctl (the keyring lookup works).
    assert_eq!(p["keyctl"], "ok");
    assert_eq!(p["mount tmpfs"], "EPERM");
    assert_eq!(p["write /proc/sys/kernel/domainname"], "EROFS");

    let p = run_probe(&root.0, &["--system-paths", "unconfined"]);
    assert_eq!(p["Seccomp"], "2");
    // No longer a read-only mount (the kernel's own permission check may still refuse).
    assert_ne!(p["write /proc/sys/kernel/domainname"], "EROFS");
    if Path::new("/sys/firmware")
        .read_dir()
        .is_ok_and(|mut d| d.next().is_some())
    {
        assert_ne!(p["/sys/firmware"], "0 entries");
    }

    let p = run_probe(&root.0, &["--privileged"]);
    assert_eq!(p["Seccomp"], "0");
    assert_ne!(p["CapEff"], "00000000a80425fb");
    assert_eq!(p["mount tmpfs"], "ok");

    let p = run_probe(
        &root.0,
        &["--cap-drop", "ALL", "--cap-add", "CAP_SYS_ADMIN"],
    );
    assert_eq!(p["CapEff"], "0000000000200000");
    // With CAP_SYS_ADMIN kept the filter lets mount through, as Docker's profile does.
    assert_eq!(p["mount tmpfs"], "ok");
    assert_eq!(p["keyctl"], "EPERM");
}

/// `--privileged=false` is the default container (it once meant privileged: the value was
/// ignored), `--privileged=true` the privileged one, any other value an error.
#[test]
fn privileged_takes_true_or_false() {
    let root = rootfs("privileged-value");
    for extra in [
        &["--privileged=false"][..],
        &["--privileged", "--privileged=false"],
    ] {
        let p = run_probe(&root.0, extra);
        assert_eq!(p["CapEff"], "00000000a80425fb", "{extra:?}");
        assert_eq!(p["CapBnd"], "00000000a80425fb", "{extra:?}");
        assert_eq!(p["Seccomp"], "2", "{extra:?}");
        assert_eq!(p["mount tmpfs"], "EPERM", "{extra:?}");
        assert!(
            p["/proc/keys"] == "0 bytes" || p["/proc/keys"] == "ENOENT",
            "{extra:?}: /proc/keys not masked: {}",
            p["/proc/keys"]
        );
    }
    for extra in [
        &["--privileged=true"][..],
        &["--privileged=false", "--privileged"],
    ] {
        let p = run_probe(&root.0, extra);
        assert_ne!(p["CapEff"], "00000000a80425fb", "{extra:?}");
        assert_eq!(p["Seccomp"], "0", "{extra:?}");
        assert_eq!(p["mount tmpfs"], "ok", "{extra:?}");
    }
    let r = root.0.to_str().unwrap();
    for bad in ["--privileged=no", "--privileged=0", "--privileged="] {
        let o = container(&["run", "--net", "none", "--rootfs", r, bad, "--", "/probe"]);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(125), "{bad}: {err}");
        assert!(
            err.starts_with("container: ") && err.contains("--privileged"),
            "{bad}: {err}"
        );
        assert_eq!(text(&o.stdout), "", "{bad}: the probe ran");
    }
}

#[test]
fn a_setuid_binary_does_not_escalate() {
    let root = rootfs("suid");
    let r = root.0.to_str().unwrap();
    let o = container(&[
        "run",
        "--net",
        "none",
        "--rootfs",
        r,
        "--user",
        "1000:1000",
        "--",
        "/probe-suid",
        "whoami",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout).trim(), "uid: 1000 euid: 1000");
    let o = container(&[
        "run",
        "--net",
        "none",
        "--rootfs",
        r,
        "--user",
        "1000:1000",
        "--",
        "/probe",
    ]);
    let p = parse(&text(&o.stdout));
    assert_eq!(p["CapEff"], "0000000000000000");
    assert_eq!(p["CapPrm"], "0000000000000000");
    assert_eq!(p["CapBnd"], "00000000a80425fb");
}

/// Clears close-on-exec so the descriptor leaks into the `container` process, as a careless
/// caller would.
fn leak(f: &std::fs::File) -> i32 {
    use std::os::fd::AsRawFd;
    // SAFETY: the file outlives this borrow.
    let b = unsafe { rawsys::BorrowedFd::borrow_raw(f.as_raw_fd()) };
    rawsys::io::fcntl_setfd(b, rawsys::io::FdFlags::empty()).unwrap();
    f.as_raw_fd()
}

#[test]
fn descriptors_do_not_leak_and_the_working_dir_stays_inside() {
    let root = rootfs("fds");
    let r = root.0.to_str().unwrap();
    let host_dir = std::fs::File::open("/var/tmp").unwrap();
    let n = leak(&host_dir);
    // The leaked descriptor is not open in the command.
    let p = run_probe(&root.0, &[]);
    assert_eq!(p["open fds"], "0,1,2");
    // runc's CVE-2024-21626: a working directory through a leaked descriptor.
    let wd = format!("/proc/self/fd/{n}");
    let o = container(&[
        "run", "--net", "none", "--rootfs", r, "-w", &wd, "--", "/probe",
    ]);
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stdout));
    let err = text(&o.stderr);
    assert!(err.contains("chdir into") && err.contains("ELOOP"), "{err}");
    // A passed descriptor arrives as 3, and only it.
    let (rd, wr) = rawsys::io::pipe2(rawsys::io::PipeFlags::CLOEXEC).unwrap();
    // SAFETY: the read end moves from one owner to the other.
    let mut rd = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(rd.into_raw()) };
    let mut cmd = Command::new(bin());
    cmd.args([
        "run",
        "--net",
        "none",
        "--rootfs",
        r,
        "--preserve-fds",
        "1",
        "--",
    ])
    .args(["sh", "-c", "echo passed >&3; /probe"])
    .stdin(Stdio::null())
    .stdout(Stdio::piped());
    let wr_fd = wr.as_raw();
    // SAFETY: dup2 and fcntl are async-signal-safe; the closure runs in the forked child
    // before exec and touches nothing else.
    unsafe {
        cmd.pre_exec(move || {
            let w = rawsys::BorrowedFd::borrow_raw(wr_fd);
            rawsys::io::dup3(w, 3, rawsys::io::DupFlags::empty())
                .map(|f| {
                    let _ = f.into_raw();
                })
                .map_err(std::io::Error::from)
        });
    }
    let out = cmd.output().unwrap();
    drop(wr);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut got = String::new();
    std::io::Read::read_to_string(&mut rd, &mut got).unwrap();
    assert_eq!(got, "passed\n");
    assert_eq!(parse(&text(&out.stdout))["open fds"], "0,1,2,3");
    drop(host_dir);
}

#[test]
fn symlinked_dev_null_and_mount_targets_are_refused() {
    let root = rootfs("links");
    let r = root.0.to_str().unwrap();
    let victim = TempDir::new("victim");
    std::fs::write(victim.0.join("keep"), "host\n").unwrap();
    let src = TempDir::new("src");

    // Something else bound over /dev/null is not used to mask /proc files.
    let o = container(&[
        "run",
        "--net",
        "none",
        "--rootfs",
        r,
        "-v",
        &format!("{}:/dev/null", root.0.join("etc/hostname").display()),
        "--",
        "/probe",
    ]);
    assert_eq!(o.status.code(), Some(125));
    let err = text(&o.stderr);
    assert!(
        err.contains("null device") && err.contains("ENODEV"),
        "{err}"
    );

    // A mount target that is a symlink (here to a host directory) is refused.
    std::os::unix::fs::symlink(&victim.0, root.0.join("mnt/target")).unwrap();
    let o = container(&[
        "run",
        "--net",
        "none",
        "--rootfs",
        r,
        "-v",
        &format!("{}:/mnt/target", src.0.display()),
        "--",
        "/probe",
    ]);
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stdout));
    let err = text(&o.stderr);
    assert!(
        err.contains("/mnt/target") && err.contains("ELOOP"),
        "{err}"
    );

    // A rootfs whose /dev/null is a symlink (to a host file) does not matter: /dev is a fresh
    // tmpfs and masking uses the verified null device.
    std::fs::remove_file(root.0.join("mnt/target")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.0.join("dev/null")).unwrap();
    let p = run_probe(&root.0, &[]);
    assert!(p["/proc/keys"] == "0 bytes" || p["/proc/keys"] == "ENOENT");
    std::fs::remove_file(root.0.join("dev/null")).unwrap();
    // A rootfs whose /dev is a symlink out of it is refused, not followed.
    std::fs::remove_dir(root.0.join("dev")).unwrap();
    std::os::unix::fs::symlink(&victim.0, root.0.join("dev")).unwrap();
    let o = container(&["run", "--net", "none", "--rootfs", r, "--", "/probe"]);
    assert_eq!(o.status.code(), Some(125));
    let err = text(&o.stderr);
    assert!(err.contains("/dev") && err.contains("ELOOP"), "{err}");
    std::fs::remove_file(root.0.join("dev")).unwrap();
    std::fs::create_dir(root.0.join("dev")).unwrap();

    // A symlinked directory on the way resolves inside the rootfs: /etc -> <host dir> gets
    // nothing written into the host directory.
    std::fs::remove_dir_all(root.0.join("etc")).unwrap();
    std::os::unix::fs::symlink(&victim.0, root.0.join("etc")).unwrap();
    let o = container(&["run", "--net", "none", "--rootfs", r, "--", "/probe"]);
    let names: Vec<_> = std::fs::read_dir(&victim.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["keep"], "{}", text(&o.stderr));
    assert!(!text(&o.stderr).contains("panicked"));
}

#[test]
fn the_probe_matches_runcs_default_container() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/compare-runc.sh");
    let o = Command::new("sh")
        .arg(&script)
        .arg(bin())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    println!("{}", text(&o.stdout));
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert!(text(&o.stdout).contains("all checks hold"));
}

/// An unprivileged user made for one test and removed again (also when the test fails).
struct TestUser {
    name: String,
    uid: u32,
}

impl TestUser {
    fn new() -> TestUser {
        let name = format!("lp-test-{}", std::process::id());
        let _ = Command::new("userdel").arg(&name).output();
        let st = Command::new("useradd")
            .args(["-M", "-s", "/usr/sbin/nologin", &name])
            .status()
            .unwrap();
        assert!(st.success(), "useradd {name}");
        let out = Command::new("id").args(["-u", &name]).output().unwrap();
        let uid = text(&out.stdout).trim().parse().unwrap();
        TestUser { name, uid }
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).output();
    }
}

#[test]
fn an_unprivileged_user_runs_a_rootless_container() {
    let user = TestUser::new();
    let dir = TempDir::new("rootless");
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = dir.0.join("root-owned");
    std::fs::write(&file, "host\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    // A copy of the binary the user can reach whatever the permissions of the target dir.
    let exe = dir.0.join("container");
    std::fs::copy(bin(), &exe).unwrap();
    let as_user = |args: &[&str]| {
        // Another test thread may fork while `copy` still holds the new file open for writing;
        // its child keeps that descriptor until its own exec, and exec of the copy fails with
        // ETXTBSY meanwhile. That window is short: try again.
        for _ in 0..100 {
            match Command::new(&exe)
                .args(args)
                .uid(user.uid)
                .gid(user.uid) // std drops root's supplementary groups with uid()
                .stdin(Stdio::null())
                .output()
            {
                Err(e) if e.raw_os_error() == Some(26) => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                r => return r.unwrap(),
            }
        }
        panic!("{}: still ETXTBSY after 2 s", exe.display());
    };
    let vol = format!("{}:/host-file", file.display());
    let o = as_user(&[
        "run",
        "--net",
        "none",
        "--userns",
        "-v",
        &vol,
        "--",
        "sh",
        "-c",
        "id -u; grep CapEff /proc/self/status; cat /proc/self/uid_map; \
         echo inside >> /host-file && echo WROTE; cat /host-file",
    ]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}\n{}", text(&o.stderr));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0", "{out}");
    assert!(lines[1].ends_with("00000000a80425fb"), "{out}");
    let map: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(map, ["0", &user.uid.to_string(), "1"]);
    assert!(!out.contains("WROTE"), "{out}");
    assert!(text(&o.stderr).contains("Permission denied"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "host\n");
    // Sharing the host's network: sysfs cannot be mounted there, the host's /sys is bound
    // read-only instead (and still masked).
    let o = as_user(&[
        "run",
        "--net",
        "host",
        "--userns",
        "--",
        "sh",
        "-c",
        "ls /sys/class >/dev/null && ls /sys/firmware | wc -l; echo x > /sys/kernel/uevent_helper",
    ]);
    assert_eq!(text(&o.stdout).trim(), "0", "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("Read-only file system"),
        "{}",
        text(&o.stderr)
    );
    // Without --userns: the clear "need root" line.
    let o = as_user(&["run", "--net", "none", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(text(&o.stderr).contains("--userns"), "{}", text(&o.stderr));
    // Limits need cgroups this user does not own: one clear line.
    let o = as_user(&[
        "run", "--net", "none", "--userns", "--memory", "100M", "true",
    ]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        text(&o.stderr).contains("limits need root or a delegated cgroup"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn bad_hardening_options_give_one_clear_line() {
    for (args, needle) in [
        (
            &["run", "--cap-add", "CAP_FLY", "true"][..],
            "unknown capability",
        ),
        (&["run", "--cap-drop", "", "true"][..], "unknown capability"),
        (&["run", "--seccomp", "maybe", "true"][..], "bad --seccomp"),
        (
            &["run", "--system-paths", "x", "true"][..],
            "bad --system-paths",
        ),
        (&["run", "--uidmap", "0:1", "true"][..], "bad id map"),
        (
            &["run", "--uidmap", "1:1:1", "--gidmap", "0:0:1", "true"][..],
            "must be mapped",
        ),
        (
            &["run", "--preserve-fds", "65", "true"][..],
            "bad --preserve-fds",
        ),
        (&["run", "--preserve-fds", "40", "true"][..], "is not open"),
    ] {
        let o = container(args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(125), "{args:?}: {err}");
        assert!(
            err.starts_with("container: ") && err.contains(needle),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}
