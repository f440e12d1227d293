//! Helpers shared by the black-box isolate tests (`mod common;` in each test file).

#![allow(dead_code)] // each test file uses a subset

use std::io::Read;
use std::os::fd::FromRawFd;

use isolate::{Builder, Command, Container, Error, Outcome, Rootfs, Stdio};

/// A close-on-exec pipe: the read end as a `File`, the write end as an `OwnedFd` to hand to a
/// container as its stdout or stderr.
pub(crate) fn pipe() -> (std::fs::File, rawsys::OwnedFd) {
    let (r, w) = rawsys::io::pipe2(rawsys::io::PipeFlags::CLOEXEC).unwrap();
    // SAFETY: the read end moves from one owner to the other.
    (unsafe { std::fs::File::from_raw_fd(r.into_raw()) }, w)
}

/// A container on the host's read-only rootfs running `/bin/sh -c script`.
pub(crate) fn sh(script: &str) -> Builder<Rootfs, Command> {
    Container::builder()
        .host_rootfs()
        .command("/bin/sh", ["-c", script])
        .unwrap()
}

/// Runs the container with stdout and stderr captured; returns the outcome and both texts.
pub(crate) fn run_capture(b: Builder<Rootfs, Command>) -> (Result<Outcome, Error>, String, String) {
    let (mut r_out, w_out) = pipe();
    let (mut r_err, w_err) = pipe();
    let c = b
        .stdout(Stdio::Fd(w_out))
        .stderr(Stdio::Fd(w_err))
        .build()
        .unwrap();
    let res = c.run();
    // Dropping the container closes our copies of the write ends: the reads end at EOF.
    drop(c);
    let (mut out, mut err) = (String::new(), String::new());
    r_out.read_to_string(&mut out).unwrap();
    r_err.read_to_string(&mut err).unwrap();
    (res, out, err)
}

/// A fresh directory (emptied first), removed with its contents on drop.
pub(crate) struct TempDir(pub(crate) std::path::PathBuf);

impl TempDir {
    pub(crate) fn new(path: std::path::PathBuf) -> TempDir {
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
