//! Helpers shared by the namespace tests. The directories are `fs`'s test [`TempDir`]s: once a
//! child that mounted on one in its own mount namespace has gone, the mount is gone too, so
//! dropping the directory removes everything.

use core::ffi::CStr;
use std::ffi::CString;

use super::{MountFlags, mount, unshare};
use crate::Result;
use crate::fd::OwnedFd;
pub(crate) use crate::fs::testing::TempDir;
use crate::fs::{self, AtFlags, CWD, Mode, OFlags};
use crate::process::CloneFlags;

/// `rel` below `dir`, as a C string.
pub(crate) fn join(dir: &TempDir, rel: &str) -> CString {
    CString::new(dir.0.join(rel).into_os_string().into_encoded_bytes()).unwrap()
}

/// Whether `path` exists (without following a final symlink).
pub(crate) fn exists(path: &CStr) -> Result<()> {
    fs::statat(CWD, path, AtFlags::SYMLINK_NOFOLLOW).map(drop)
}

/// Creates an empty file.
pub(crate) fn create(path: &CStr) -> Result<()> {
    fs::openat(
        CWD,
        path,
        OFlags::WRONLY | OFlags::CREAT | OFlags::CLOEXEC,
        Mode::RUSR | Mode::WUSR,
    )
    .map(drop)
}

/// Opens a directory (read-only, close-on-exec).
pub(crate) fn open_dir(path: &CStr) -> Result<OwnedFd> {
    fs::openat(
        CWD,
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Moves the calling (child) process into a new mount namespace whose mounts do not
/// propagate back to the host.
pub(crate) fn private_mount_ns() -> bool {
    unshare(CloneFlags::NEWNS).is_ok()
        && mount(None, c"/", None, MountFlags::REC | MountFlags::SLAVE, None).is_ok()
        && mount(
            None,
            c"/",
            None,
            MountFlags::REC | MountFlags::PRIVATE,
            None,
        )
        .is_ok()
}
