//! The example binaries the black-box tests run, built for this test's profile.
//!
//! `cargo test` builds an example with `test = true` only as a test harness, so the plain
//! binary the tests start (`<target>/<profile>/examples/NAME`) may be missing or older than
//! the sources: each test process asks cargo to build it once (a no-op when it is current).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// Names already built by this test process.
static BUILT: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

/// `<target>/<profile>`, from this test executable's path (`<target>/<profile>/deps/TEST`).
pub(crate) fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe path");
    exe.parent()
        .and_then(Path::parent)
        .expect("profile dir")
        .to_path_buf()
}

/// The example `name` of this build profile, built (once per test process) if out of date.
pub(crate) fn example_binary(name: &'static str) -> PathBuf {
    let profile_dir = profile_dir();
    let bin = profile_dir.join("examples").join(name);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.contains(&name) {
        let target_dir = profile_dir.parent().expect("target dir");
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--quiet", "--example", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("CARGO_TARGET_DIR", target_dir);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let st = cmd.status().expect("run cargo build");
        assert!(st.success(), "cargo build --example {name} failed");
        built.push(name);
    }
    assert!(bin.exists(), "{} missing", bin.display());
    bin
}
