//! Helpers shared by the filesystem and I/O tests.

use std::ffi::CString;

use crate::fd::OwnedFd;
use crate::fs::{CWD, Mode, OFlags, openat};

/// A fresh directory under /tmp, removed (with its contents) on drop.
pub(crate) struct TempDir(pub(crate) std::path::PathBuf);
impl TempDir {
    /// Creates it; `tag` goes into the name.
    pub(crate) fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(std::format!(
            "lp-test-io-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir(&p).unwrap();
        TempDir(p)
    }
    /// The path as a C string.
    pub(crate) fn c(&self) -> CString {
        CString::new(self.0.as_os_str().as_encoded_bytes()).unwrap()
    }
    /// Opens the directory (read-only, close-on-exec).
    pub(crate) fn open(&self) -> OwnedFd {
        openat(
            CWD,
            &self.c(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap()
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
