//! Who the caller is: process, thread and parent ids, user and group ids, and the file-mode
//! creation mask.

use crate::sys::{self, Sysno};

/// A process or thread id. Where the kernel allows it, 0 means "the caller" and negative values
/// name process groups (see each call).
pub type Pid = i32;
/// A user id.
pub type Uid = u32;
/// A group id.
pub type Gid = u32;

/// `getpid(2)`: the caller's process (thread group) id.
pub fn getpid() -> Pid {
    // SAFETY: no arguments; getpid cannot fail.
    unsafe { sys::syscall0(Sysno::getpid) }.unwrap_or(0) as Pid
}

/// `gettid(2)`: the caller's thread id.
pub fn gettid() -> Pid {
    // SAFETY: no arguments; gettid cannot fail.
    unsafe { sys::syscall0(Sysno::gettid) }.unwrap_or(0) as Pid
}

/// `umask(2)`: sets the process's file-mode creation mask and returns the previous one.
///
/// The mask is process-wide: every thread's later `openat`/`mkdirat` sees it.
pub fn umask(mask: u32) -> u32 {
    // SAFETY: no pointers; umask cannot fail (the kernel keeps the low 9 bits).
    unsafe { sys::syscall1(Sysno::umask, (mask & 0o777) as usize) }.unwrap_or(0) as u32
}

/// `getppid(2)`: the parent's process id, or 0 when the parent is outside the caller's PID
/// namespace (as for the first process of a new PID namespace).
pub fn getppid() -> Pid {
    // SAFETY: no arguments; getppid cannot fail.
    unsafe { sys::syscall0(Sysno::getppid) }.unwrap_or(0) as Pid
}

/// `getuid(2)`: the real user id.
pub fn getuid() -> Uid {
    // SAFETY: no arguments; getuid cannot fail.
    unsafe { sys::syscall0(Sysno::getuid) }.unwrap_or(0) as Uid
}

/// `geteuid(2)`: the effective user id.
pub fn geteuid() -> Uid {
    // SAFETY: no arguments; geteuid cannot fail.
    unsafe { sys::syscall0(Sysno::geteuid) }.unwrap_or(0) as Uid
}

/// `getgid(2)`: the real group id.
pub fn getgid() -> Gid {
    // SAFETY: no arguments; getgid cannot fail.
    unsafe { sys::syscall0(Sysno::getgid) }.unwrap_or(0) as Gid
}

/// `getegid(2)`: the effective group id.
pub fn getegid() -> Gid {
    // SAFETY: no arguments; getegid cannot fail.
    unsafe { sys::syscall0(Sysno::getegid) }.unwrap_or(0) as Gid
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::testing::*;
    use crate::process::*;
    use std::format;
    use std::vec::Vec;

    #[test]
    fn umask_sets_and_returns_the_previous_mask() {
        // In a child: the mask is process-wide and other tests create files.
        let st = run(CloneFlags::empty(), &[], || {
            let old = umask(0o027);
            ensure!(umask(0o077) == 0o027, 1);
            ensure!(umask(old) == 0o077, 2);
            // A file made under mask 0o027 loses group-write and all "other" bits.
            umask(0o027);
            let dir = crate::fs::CWD;
            let path = c"/tmp/lp-test-umask-probe";
            let _ = crate::fs::unlinkat(dir, path, crate::fs::AtFlags::empty());
            let fd = match crate::fs::openat(
                dir,
                path,
                crate::fs::OFlags::CREAT | crate::fs::OFlags::WRONLY | crate::fs::OFlags::EXCL,
                crate::fs::Mode::from_bits_retain(0o666),
            ) {
                Ok(fd) => fd,
                Err(_) => return 3,
            };
            let mode = crate::fs::fstat(&fd).map(|s| s.st_mode & 0o777);
            let _ = crate::fs::unlinkat(dir, path, crate::fs::AtFlags::empty());
            ensure!(mode == Ok(0o640), 4);
            0
        });
        assert_eq!(st, WaitStatus::Exited(0));
    }

    #[test]
    fn identity_matches_proc() {
        assert_eq!(getpid() as u32, std::process::id());
        assert_eq!(getppid() as u32, std::os::unix::process::parent_id());
        let link = std::fs::read_link("/proc/thread-self").unwrap();
        assert_eq!(
            link.to_str().unwrap(),
            format!("{}/task/{}", getpid(), gettid())
        );
        let uids: Vec<u32> = proc_fields("/proc/self/status", "Uid:")
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let gids: Vec<u32> = proc_fields("/proc/self/status", "Gid:")
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!((getuid(), geteuid()), (uids[0], uids[1]));
        assert_eq!((getgid(), getegid()), (gids[0], gids[1]));
        assert_eq!(getresuid().unwrap(), (uids[0], uids[1], uids[2]));
        assert_eq!(getresgid().unwrap(), (gids[0], gids[1], gids[2]));
    }
}
