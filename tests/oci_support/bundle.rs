//! OCI bundles for the conformance tests: a `config.json` (as a JSON value a check edits
//! before `create`) around one shared busybox-static rootfs, which containers get read-only
//! unless a check asks for a private, writable copy.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{Value, json};

use super::image::busybox_rootfs;

/// Mount points the checks use, made in the shared rootfs up front: a runtime creates a
/// missing mount point in the rootfs directory itself (before the read-only remount), which
/// would change the rootfs every other container shares.
const MOUNT_POINTS: &[&str] = &["mnt/a", "mnt/b", "mnt/c", "mnt/d", "out", "hookbin"];

/// The shared busybox rootfs, built once per test process in the target directory.
pub(crate) fn rootfs() -> &'static Path {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS.get_or_init(|| {
        let base = crate::example_bin::profile_dir().join("lp-test-oci-conformance");
        let _ = std::fs::remove_dir_all(&base);
        let rootfs = base.join("rootfs");
        busybox_rootfs(&rootfs, MOUNT_POINTS);
        rootfs
    })
}

/// docker's default capabilities (what `runc spec` and podman give a container).
pub(crate) const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// A bundle directory and the configuration that `write` puts into its `config.json`.
pub(crate) struct Bundle {
    /// The bundle directory (absolute).
    pub(crate) dir: PathBuf,
    /// The configuration, edited by the check before `create`.
    pub(crate) config: Value,
}

impl Bundle {
    /// An empty bundle directory `dir` with the default configuration: `sh -c true` as root
    /// with docker's default capabilities and `noNewPrivileges`, the shared rootfs read-only,
    /// hostname `lp-test`, runc's default mounts and new pid, network, ipc, uts and mount
    /// namespaces; no masked or read-only paths, no seccomp, no limits.
    pub(crate) fn new(dir: PathBuf) -> Bundle {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let caps: Vec<Value> = DEFAULT_CAPS.iter().map(|c| json!(c)).collect();
        let config = json!({
            "ociVersion": "1.0.2",
            "process": {
                "terminal": false,
                "user": {"uid": 0, "gid": 0},
                "args": ["sh", "-c", "true"],
                "env": ["PATH=/bin", "TERM=xterm"],
                "cwd": "/",
                "capabilities": {
                    "bounding": caps, "effective": caps, "permitted": caps,
                    "inheritable": [], "ambient": []
                },
                "noNewPrivileges": true
            },
            "root": {"path": rootfs(), "readonly": true},
            "hostname": "lp-test",
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                 "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
                {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                 "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
                {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
                 "options": ["nosuid", "noexec", "nodev"]},
                {"destination": "/sys", "type": "sysfs", "source": "sysfs",
                 "options": ["nosuid", "noexec", "nodev", "ro"]}
            ],
            "linux": {
                "namespaces": [
                    {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                    {"type": "uts"}, {"type": "mount"}
                ],
                "resources": {"devices": [{"allow": false, "access": "rwm"}]}
            }
        });
        Bundle { dir, config }
    }

    /// The container runs `sh -c SCRIPT`.
    pub(crate) fn script(&mut self, script: &str) -> &mut Bundle {
        self.set("/process/args", json!(["sh", "-c", script]))
    }

    /// Sets the value at a JSON pointer (`/process/user/uid`), creating objects on the way.
    pub(crate) fn set(&mut self, pointer: &str, value: Value) -> &mut Bundle {
        let mut at = &mut self.config;
        let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
        let (last, path) = parts.split_last().expect("pointer");
        for p in path {
            if !at.get(*p).is_some_and(Value::is_object) {
                at[*p] = json!({});
            }
            at = &mut at[*p];
        }
        at[*last] = value;
        self
    }

    /// Appends `value` to the array at `pointer` (made if missing).
    pub(crate) fn push(&mut self, pointer: &str, value: Value) -> &mut Bundle {
        if self.config.pointer(pointer).is_none_or(|v| !v.is_array()) {
            self.set(pointer, json!([]));
        }
        self.config
            .pointer_mut(pointer)
            .and_then(Value::as_array_mut)
            .expect("array")
            .push(value);
        self
    }

    /// Removes the value at `pointer` (an object member), if present.
    pub(crate) fn remove(&mut self, pointer: &str) -> &mut Bundle {
        let (parent, key) = pointer.rsplit_once('/').expect("pointer");
        let parent = if parent.is_empty() { "" } else { parent };
        if let Some(o) = self
            .config
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
        {
            o.remove(key);
        }
        self
    }

    /// Gives the container a private, writable copy of the rootfs at `rootfs` in the bundle
    /// (`root.path` relative to the bundle, as the spec allows).
    pub(crate) fn private_rootfs(&mut self) -> &mut Bundle {
        let copy = self.dir.join("rootfs");
        let st = std::process::Command::new("cp")
            .arg("-a")
            .arg(rootfs())
            .arg(&copy)
            .status()
            .unwrap();
        assert!(st.success(), "cp -a rootfs");
        self.set("/root", json!({"path": "rootfs", "readonly": false}))
    }

    /// A scratch directory `NAME` inside the bundle (bind-mount sources, hook logs).
    pub(crate) fn scratch(&self, name: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    /// Writes `config.json`.
    pub(crate) fn write(&self) {
        std::fs::write(
            self.dir.join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }
}
