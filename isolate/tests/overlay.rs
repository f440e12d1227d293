//! Overlay root filesystems ([`Rootfs::Overlay`]) and the read-only root, against the real
//! kernel: writes land in the upper directory, the layers stay untouched, whiteouts hide lower
//! files, a read-only root refuses writes with EROFS, and nothing stays mounted.
//!
//! Run under `flock /tmp/lp-test.lock` (they create containers).

mod common;

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use common::run_capture;
use isolate::{ConfigError, Container, Error, ExitStatus};

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("lp-test-overlay-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self, sub: &str) -> String {
        self.0.join(sub).to_str().unwrap().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A busybox root filesystem in `dir`.
fn busybox_rootfs(dir: &Path) {
    for sub in ["bin", "proc", "dev", "sys", "etc", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::set_permissions(dir.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let bb = ["/usr/bin/busybox", "/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox (apt-get install busybox-static)");
    std::fs::copy(bb, dir.join("bin/busybox")).unwrap();
    symlink("busybox", dir.join("bin/sh")).unwrap();
}

/// Every entry below `dir` with its size, sorted (a fingerprint of a tree).
fn tree(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let md = std::fs::symlink_metadata(e.path()).unwrap();
            out.push((e.path().display().to_string(), md.len()));
            if md.is_dir() {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

fn overlay_mounts() -> usize {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(" - overlay ") && l.contains("lp-test-overlay"))
        .count()
}

fn sh_on_overlay(
    t: &TempDir,
    lower: &[&str],
    script: &str,
) -> isolate::Builder<isolate::Rootfs, isolate::Command> {
    let lower: Vec<String> = lower.iter().map(|l| t.path(l)).collect();
    Container::builder()
        .overlay_rootfs(&lower, &t.path("upper"), &t.path("work"))
        .unwrap()
        .command("/bin/sh", ["-c", script])
        .unwrap()
}

#[test]
fn writes_land_in_upper_and_whiteouts_hide_lower_files() {
    let t = TempDir::new("cow");
    busybox_rootfs(&t.0.join("base"));
    std::fs::write(t.0.join("base/etc/doomed"), "lower\n").unwrap();
    std::fs::write(t.0.join("base/etc/kept"), "base\n").unwrap();
    std::fs::create_dir_all(t.0.join("top/etc")).unwrap();
    std::fs::write(t.0.join("top/etc/kept"), "top\n").unwrap();
    for d in ["upper", "work"] {
        std::fs::create_dir_all(t.0.join(d)).unwrap();
    }
    let before = (tree(&t.0.join("base")), tree(&t.0.join("top")));
    let mounts_before = overlay_mounts();

    let (res, out, err) = run_capture(sh_on_overlay(
        &t,
        &["top", "base"],
        "cat /etc/kept; echo new > /etc/made; rm /etc/doomed; \
         test -e /etc/doomed || echo gone; cat /etc/made",
    ));
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0), "{err}");
    // The top layer wins; the container sees its own write and its own delete.
    assert_eq!(out, "top\ngone\nnew\n");
    // The write is in upper, the delete a whiteout (char device 0/0) there.
    assert_eq!(
        std::fs::read_to_string(t.0.join("upper/etc/made")).unwrap(),
        "new\n"
    );
    let wh = std::fs::symlink_metadata(t.0.join("upper/etc/doomed")).unwrap();
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0);
    // The layers are untouched: the lower still has the deleted file.
    assert_eq!(
        std::fs::read_to_string(t.0.join("base/etc/doomed")).unwrap(),
        "lower\n"
    );
    assert_eq!((tree(&t.0.join("base")), tree(&t.0.join("top"))), before);
    assert!(!t.0.join("base/etc/made").exists());
    // Nothing is mounted on the host, during or after.
    assert_eq!(overlay_mounts(), mounts_before);

    // A second container on fresh upper/work dirs does not see the first one's changes.
    for d in ["upper", "work"] {
        std::fs::remove_dir_all(t.0.join(d)).unwrap();
        std::fs::create_dir_all(t.0.join(d)).unwrap();
    }
    let (res, out, err) = run_capture(sh_on_overlay(
        &t,
        &["top", "base"],
        "cat /etc/doomed; test -e /etc/made || echo no-made",
    ));
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0), "{err}");
    assert_eq!(out, "lower\nno-made\n");
}

#[test]
fn an_opaque_directory_in_a_layer_hides_the_lower_one() {
    let t = TempDir::new("opaque");
    busybox_rootfs(&t.0.join("base"));
    std::fs::create_dir_all(t.0.join("base/data")).unwrap();
    std::fs::write(t.0.join("base/data/old"), "old").unwrap();
    std::fs::create_dir_all(t.0.join("top/data")).unwrap();
    std::fs::write(t.0.join("top/data/new"), "new").unwrap();
    // What an image importer makes of `.wh..wh..opq`.
    let st = std::process::Command::new("setfattr")
        .args(["-n", "trusted.overlay.opaque", "-v", "y"])
        .arg(t.0.join("top/data"))
        .status();
    if !st.is_ok_and(|s| s.success()) {
        // Without setfattr (package attr), use the xattr through python.
        let ok = std::process::Command::new("python3")
            .args([
                "-c",
                "import os,sys; os.setxattr(sys.argv[1], 'trusted.overlay.opaque', b'y')",
            ])
            .arg(t.0.join("top/data"))
            .status()
            .unwrap();
        assert!(ok.success());
    }
    for d in ["upper", "work"] {
        std::fs::create_dir_all(t.0.join(d)).unwrap();
    }
    let (res, out, err) = run_capture(sh_on_overlay(&t, &["top", "base"], "ls /data"));
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0), "{err}");
    assert_eq!(out, "new\n");
}

#[test]
fn a_read_only_root_refuses_writes_but_tmpfs_mounts_take_them() {
    let t = TempDir::new("ro");
    busybox_rootfs(&t.0.join("base"));
    for d in ["upper", "work"] {
        std::fs::create_dir_all(t.0.join(d)).unwrap();
    }
    let script = "echo x > /etc/nope 2>/dev/null; echo rc=$?; \
                  busybox touch /etc/nope 2>&1; echo t > /scratch/f && cat /scratch/f; \
                  echo > /dev/null && echo devnull-ok";
    let b = sh_on_overlay(&t, &["base"], script)
        .read_only_root(true)
        .tmpfs("/scratch", None)
        .unwrap();
    let (res, out, err) = run_capture(b);
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0), "{err}");
    assert!(out.starts_with("rc=1\n"), "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(out.ends_with("t\ndevnull-ok\n"), "{out}");
    // Only the setup's mount targets (made before the remount, empty) are in upper.
    let upper: Vec<String> = tree(&t.0.join("upper"))
        .into_iter()
        .map(|(p, len)| format!("{}:{len}", p.rsplit_once("upper/").unwrap().1))
        .collect();
    assert_eq!(
        upper,
        [
            "etc:4096",
            "etc/hostname:0",
            "etc/hosts:0",
            "etc/resolv.conf:0",
            "scratch:4096"
        ]
    );

    // The same on a plain directory root and on the host system root.
    let b = Container::builder()
        .rootfs(&t.path("base"))
        .unwrap()
        .command("/bin/sh", ["-c", "echo x > /f 2>/dev/null; echo rc=$?"])
        .unwrap()
        .read_only_root(true);
    let (res, out, err) = run_capture(b);
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0), "{err}");
    assert_eq!(out, "rc=1\n");
    assert!(!t.0.join("base/f").exists());
    let (res, out, err) = run_capture(common::sh("touch /etc/x 2>&1; true").read_only_root(true));
    assert_eq!(res.unwrap().status, ExitStatus::Exited(0), "{err}");
    assert!(out.contains("Read-only file system"), "{out}");
}

#[test]
fn unusable_overlays_are_clear_errors() {
    let t = TempDir::new("bad");
    busybox_rootfs(&t.0.join("base"));
    std::fs::create_dir_all(t.0.join("upper")).unwrap();
    // A missing work directory, then a missing layer: named before anything starts.
    let err = sh_on_overlay(&t, &["base"], "true")
        .build()
        .unwrap()
        .run()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(ConfigError::Overlay(m)) if m.contains("work directory") && m.contains("ENOENT")),
        "{err}"
    );
    std::fs::create_dir_all(t.0.join("work")).unwrap();
    let err = sh_on_overlay(&t, &["missing", "base"], "true")
        .build()
        .unwrap()
        .run()
        .unwrap_err();
    assert!(
        err.to_string().contains("layer") && err.to_string().contains("missing"),
        "{err}"
    );
    // Too many layers for one page of mount options.
    let many: Vec<String> = (0..200)
        .map(|i| t.path(&format!("layer-number-{i:04}")))
        .collect();
    let err = Container::builder()
        .overlay_rootfs(&many, &t.path("upper"), &t.path("work"))
        .unwrap_err();
    assert!(
        matches!(&err, ConfigError::Overlay(m) if m.contains("200 layers") && m.contains("one page")),
        "{err}"
    );
    // No layers, and paths overlayfs would split.
    assert!(
        Container::builder()
            .overlay_rootfs(&[] as &[&str], "/u", "/w")
            .is_err()
    );
    assert!(matches!(
        Container::builder()
            .overlay_rootfs(&["/a,b"], "/u", "/w")
            .unwrap_err(),
        ConfigError::BadPath { .. }
    ));
    assert!(matches!(
        Container::builder()
            .overlay_rootfs(&["/a"], "relative", "/w")
            .unwrap_err(),
        ConfigError::NotAbsolute { .. }
    ));
    assert_eq!(overlay_mounts(), 0);
}

/// Mounts on the host of a tmpfs writable layer (none should ever be seen there).
fn tmpfs_upper_mounts() -> usize {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains("isolate-upper"))
        .count()
}

#[test]
fn a_tmpfs_writable_layer_is_each_runs_own_and_leaves_nothing() {
    let t = TempDir::new("tmpfs");
    busybox_rootfs(&t.0.join("base"));
    std::fs::write(t.0.join("base/etc/doomed"), "lower\n").unwrap();
    let before = tree(&t.0.join("base"));
    let entries_before = tree(&t.0);
    let (overlays, uppers) = (overlay_mounts(), tmpfs_upper_mounts());
    // Each run writes, deletes a lower file and makes a directory; none sees another's.
    let script = "test -e /etc/made && echo saw-made; test -e /etc/doomed || echo saw-delete; \
                  test -d /new && echo saw-dir; \
                  echo new > /etc/made && rm /etc/doomed && mkdir -p /new/deep && \
                  head -c 1048576 /dev/zero > /new/deep/big && cat /etc/made; \
                  test -e /etc/doomed || echo gone; \
                  grep -c isolate-upper /proc/self/mountinfo; true";
    for _ in 0..5 {
        let b = Container::builder()
            .overlay_rootfs_tmpfs(&[t.path("base")])
            .unwrap()
            .command("/bin/sh", ["-c", script])
            .unwrap();
        let (res, out, err) = run_capture(b);
        assert_eq!(res.unwrap().status, ExitStatus::Exited(0), "{err}");
        // Its own write and delete; the raw upper tmpfs is not reachable inside.
        assert_eq!(out, "new\ngone\n0\n", "{err}");
        // Nothing reached the layer or anywhere in the test's directory; nothing mounted.
        assert_eq!(tree(&t.0.join("base")), before);
        assert_eq!(tree(&t.0), entries_before);
        assert_eq!((overlay_mounts(), tmpfs_upper_mounts()), (overlays, uppers));
    }
    // A missing layer is named before anything starts; paths overlayfs would split refused.
    let err = Container::builder()
        .overlay_rootfs_tmpfs(&[t.path("missing")])
        .unwrap()
        .command("/bin/true", [] as [&str; 0])
        .unwrap()
        .build()
        .unwrap()
        .run()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(ConfigError::Overlay(m)) if m.contains("layer") && m.contains("missing")),
        "{err}"
    );
    assert!(matches!(
        Container::builder()
            .overlay_rootfs_tmpfs(&["/a:b"])
            .unwrap_err(),
        ConfigError::BadPath { .. }
    ));
    assert!(
        Container::builder()
            .overlay_rootfs_tmpfs(&[] as &[&str])
            .is_err()
    );
}
