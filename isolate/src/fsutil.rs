//! Small parent-side file helpers over `rawsys::io` (they allocate; never used in the child).

use alloc::ffi::CString;
use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::CStr;

use rawsys::fs::{self, AtFlags, CWD, Mode, OFlags};
use rawsys::io;
use rawsys::{Errno, OwnedFd};

use crate::error::{ConfigError, Error};

/// Turns `s` into a C string, rejecting interior NULs as a configuration error about `what`.
pub(crate) fn cstring(what: &'static str, s: &str) -> Result<CString, ConfigError> {
    CString::new(s).map_err(|_| ConfigError::InteriorNul { what })
}

/// Builds a C string from parts known to be NUL-free (checked again, never panics).
pub(crate) fn cjoin(parts: &[&str]) -> Result<CString, Error> {
    cjoin_below("", parts)
}

/// [`cjoin`] of `base` followed by `parts` (a path below a directory).
pub(crate) fn cjoin_below(base: &str, parts: &[&str]) -> Result<CString, Error> {
    // One allocation: the parts and the NUL that `CString::new` appends.
    let len = base.len() + parts.iter().map(|p| p.len()).sum::<usize>();
    let mut v = Vec::with_capacity(len + 1);
    v.extend_from_slice(base.as_bytes());
    for p in parts {
        v.extend_from_slice(p.as_bytes());
    }
    CString::new(v).map_err(|_| Error::Config(ConfigError::InteriorNul { what: "path" }))
}

/// Reads a whole (small, virtual) file.
pub(crate) fn read_file(path: &CStr) -> Result<Vec<u8>, Errno> {
    let fd = fs::openat(CWD, path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match io::read(&fd, &mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Reads a whole file as UTF-8 (lossy).
pub(crate) fn read_string(path: &CStr) -> Result<String, Errno> {
    read_file(path).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Writes `data` to an existing file (a control file: one write is one command).
pub(crate) fn write_existing(path: &CStr, data: &[u8]) -> Result<(), Errno> {
    let fd = fs::openat(CWD, path, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())?;
    write_all(&fd, data)
}

/// Writes all of `data` to `fd`.
pub(crate) fn write_all(fd: &OwnedFd, data: &[u8]) -> Result<(), Errno> {
    let mut off = 0;
    while off < data.len() {
        match io::write(fd, &data[off..]) {
            Ok(0) => return Err(Errno::EIO),
            Ok(n) => off += n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `stat`s `path`, following symlinks.
pub(crate) fn stat(path: &CStr) -> Result<fs::Stat, Errno> {
    fs::statat(CWD, path, AtFlags::empty())
}

/// `lstat`s `path`.
pub(crate) fn lstat(path: &CStr) -> Result<fs::Stat, Errno> {
    fs::statat(CWD, path, AtFlags::SYMLINK_NOFOLLOW)
}

/// Reads a symlink's target.
pub(crate) fn readlink(path: &CStr) -> Result<Vec<u8>, Errno> {
    let mut buf = alloc::vec![0u8; 4096];
    let n = fs::readlinkat(CWD, path, &mut buf)?;
    if n >= buf.len() {
        return Err(Errno::ENAMETOOLONG);
    }
    buf.truncate(n);
    Ok(buf)
}

/// Lists the names in a directory (without `.` and `..`), with their kinds.
pub(crate) fn list_dir(path: &CStr) -> Result<Vec<(String, fs::FileKind)>, Errno> {
    let fd = fs::openat(
        CWD,
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut out = Vec::new();
    let mut buf = alloc::vec![0u8; 8192];
    loop {
        let n = fs::getdents64(&fd, &mut buf)?;
        if n == 0 {
            return Ok(out);
        }
        for e in fs::DirEntries::new(&buf[..n]) {
            let name = e.name.to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            out.push((String::from_utf8_lossy(name).into_owned(), e.kind));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_files_and_lists_directories() {
        let s = read_string(c"/proc/self/cgroup").unwrap();
        assert!(s.lines().count() >= 1);
        let names = list_dir(c"/proc/self").unwrap();
        assert!(names.iter().any(|(n, _)| n == "cgroup"));
        assert_eq!(read_file(c"/nonexistent-lp-test"), Err(Errno::ENOENT));
        assert!(readlink(c"/proc/self/exe").unwrap().starts_with(b"/"));
        assert!(stat(c"/proc").unwrap().is_dir());
        assert_eq!(
            write_existing(c"/nonexistent-lp-test", b"x"),
            Err(Errno::ENOENT)
        );
    }

    #[test]
    fn interior_nul_is_a_config_error() {
        assert_eq!(
            cstring("hostname", "a\0b"),
            Err(ConfigError::InteriorNul { what: "hostname" })
        );
        assert!(cjoin(&["/a", "/b"]).unwrap().to_bytes() == b"/a/b");
    }
}
