//! The OCI runtimes under test: a list, each entry run through a small wrapper script that
//! logs its calls (so a scenario can prove the runtime under test did the work) and, for
//! crun on this hybrid cgroup layout, hides the cgroup2 mount from it.
//!
//! The list is [`RUNTIMES`], or `LP_OCI_RUNTIMES` (comma-separated) when set. Entries:
//! - `runc`, `crun`: the binaries on PATH (Debian's packages, installed by .ci/run);
//! - `NAME=example:EXAMPLE`: this workspace's example EXAMPLE, built for the test's profile;
//! - `NAME=/path/to/binary`: any runc-compatible binary.
//!
//! A runtime in the list that cannot be found fails the test loudly: there is no skipping.
//! Called without `--root` (as podman as root calls it), runtime NAME keeps its state in
//! `/run/NAME`, as runc and crun do; the leftover check looks there.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{COMMAND_LIMIT, TestDir, run, shell_quote};

/// The runtimes every scenario runs with, unless `LP_OCI_RUNTIMES` names others. The
/// project's own runtime joins with one more entry, `"NAME=example:NAME"`, once
/// `examples/NAME` exists.
pub(crate) const RUNTIMES: &[&str] = &["runc", "crun", "isorun=example:isorun"];

/// One runtime under test.
pub(crate) struct Runtime {
    /// Its name in reports (and the name of its default state root, `/run/NAME`).
    pub(crate) name: String,
    /// The binary itself.
    pub(crate) real: PathBuf,
    /// What the clients are given (`podman --runtime`, `ctr run --runc-binary`): the wrapper.
    pub(crate) path: PathBuf,
    calls_log: PathBuf,
}

impl Runtime {
    /// Every call the clients made through the wrapper so far, one line of arguments each.
    pub(crate) fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(&self.calls_log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Where the runtime keeps its state when called without `--root` (podman's way).
    pub(crate) fn default_root(&self) -> PathBuf {
        PathBuf::from("/run").join(&self.name)
    }

    /// The container ids the runtime itself lists in its default root (`NAME list -q`).
    pub(crate) fn list_ids(&self) -> BTreeSet<String> {
        match run(Command::new(&self.real).args(["list", "-q"]), COMMAND_LIMIT) {
            Ok(o) if o.code == Some(0) => o.stdout.lines().map(str::to_string).collect(),
            // A root that does not exist yet lists nothing; anything else is reported as is.
            Ok(_) if !self.default_root().exists() => BTreeSet::new(),
            Ok(o) => BTreeSet::from([format!("(`list -q` failed: {})", o.stderr.trim())]),
            Err(e) => BTreeSet::from([format!("(`list -q` failed: {e})")]),
        }
    }
}

/// The runtimes of this run ([`RUNTIMES`] or `LP_OCI_RUNTIMES`), each with its wrapper in
/// `dir`. Panics with the reason when one of them is missing.
pub(crate) fn runtimes(dir: &TestDir) -> Vec<Runtime> {
    let list: Vec<String> = match std::env::var("LP_OCI_RUNTIMES") {
        Ok(v) => v
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        Err(_) => RUNTIMES.iter().map(|s| s.to_string()).collect(),
    };
    assert!(!list.is_empty(), "LP_OCI_RUNTIMES names no runtime");
    list.iter().map(|entry| runtime(dir, entry)).collect()
}

fn runtime(dir: &TestDir, entry: &str) -> Runtime {
    let (name, real) = match entry.split_once('=') {
        None if entry == "runc" || entry == "crun" => (entry.to_string(), on_path(entry)),
        None => panic!(
            "runtime `{entry}`: write NAME=example:EXAMPLE or NAME=/path (only runc and crun \
             are found by name)"
        ),
        Some((name, spec)) => {
            let real = match spec.strip_prefix("example:") {
                Some(ex) => {
                    let ex: &'static str = Box::leak(ex.to_string().into_boxed_str());
                    crate::example_bin::example_binary(ex)
                }
                None => PathBuf::from(spec),
            };
            (name.to_string(), real)
        }
    };
    assert!(
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "runtime name `{name}`: letters, digits, - and _ only"
    );
    let executable = std::fs::metadata(&real)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false);
    assert!(
        executable,
        "runtime `{name}`: {} is not an executable file",
        real.display()
    );
    // The wrapper keeps the binary's own file name: podman passes `--log-format=json --log`
    // only to runtimes it knows by name (runc, crun), so the wrapper must not hide the name.
    let wdir = dir.path(&format!("runtimes/{name}"));
    std::fs::create_dir_all(&wdir).unwrap();
    let calls_log = wdir.join("calls.log");
    let file_name = real.file_name().expect("runtime file name");
    let path = wdir.join(file_name);
    let real_q = shell_quote(&real.to_string_lossy());
    let exec = if name == "crun" {
        // crun 1.8.1 refuses this hybrid layout (cgroup v1 controllers and a cgroup2 mount at
        // /sys/fs/cgroup/unified) unless the cgroup2 mount is hidden from it, per call.
        format!(
            "exec unshare -m sh -c 'mount -t tmpfs none /sys/fs/cgroup/unified && exec \"$0\" \"$@\"' {real_q} \"$@\""
        )
    } else {
        format!("exec {real_q} \"$@\"")
    };
    let script = format!(
        "#!/bin/sh\n# lp-test wrapper for the OCI runtime `{name}`: log the call, run it unchanged.\n\
         printf '%s\\n' \"$*\" >> {}\n{exec}\n",
        shell_quote(&calls_log.to_string_lossy())
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    Runtime {
        name,
        real,
        path,
        calls_log,
    }
}

fn on_path(bin: &str) -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(bin))
        .find(|p| Path::new(p).is_file())
        .unwrap_or_else(|| {
            panic!("runtime `{bin}` is not installed (apt-get install {bin}; .ci/run installs it)")
        })
}
