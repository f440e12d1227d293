//! Leaving namespaces and joining other processes' namespaces: `unshare` and `setns`.

use crate::Result;
use crate::fd::AsFd;
use crate::process::CloneFlags;
use crate::sys::{self, Sysno};

/// `unshare(2)`: moves the caller into new namespaces (`NEW*` flags) and/or stops sharing
/// `FS`, `FILES`, `SYSVSEM` with other processes.
///
/// `CLONE_NEWPID` affects only children created afterwards; the caller stays where it is.
pub fn unshare(flags: CloneFlags) -> Result<()> {
    // SAFETY: integer argument.
    unsafe { sys::syscall1(Sysno::unshare, flags.bits() as usize) }.map(drop)
}

/// `setns(2)`: joins the namespace `fd` refers to (a `/proc/<pid>/ns/*` file or, for several
/// at once, a pidfd). `nstype` is the expected namespace type (one `NEW*` flag; empty accepts
/// any), or for a pidfd the set of namespaces to join.
pub fn setns(fd: impl AsFd, nstype: CloneFlags) -> Result<()> {
    // SAFETY: integer arguments; the descriptor is borrowed for the call.
    unsafe { sys::syscall2(Sysno::setns, sys::fd_arg(fd), nstype.bits() as usize) }.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::fd::OwnedFd;
    use crate::fs::{self, CWD, Mode, OFlags};
    use crate::io::{self, PipeFlags};
    use crate::ns::{sethostname, uname};
    use crate::process::testing::*;
    use crate::process::{self, WaitStatus};
    use std::ffi::CString;
    use std::format;

    #[test]
    fn setns_joins_a_childs_uts_namespace_by_nsfs_file_and_by_pidfd() {
        let (go_r, go_w) = io::pipe2(PipeFlags::CLOEXEC).unwrap();
        let (ready_r, ready_w) = io::pipe2(PipeFlags::CLOEXEC).unwrap();
        let holder = spawn(
            process::CloneFlags::NEWUTS,
            &[go_r.as_raw(), ready_w.as_raw()],
            || {
                ensure!(sethostname(b"lp-test-setns").is_ok(), 1);
                ensure!(poke(&ready_w), 2);
                if await_poke(&go_r) { 0 } else { 3 }
            },
        );
        drop(ready_w);
        let ready = await_poke(&ready_r);
        let path = CString::new(format!("/proc/{holder}/ns/uts")).unwrap();
        let nsfd = fs::openat(CWD, &path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty());
        let pidfd = process::pidfd_open(holder, process::PidfdFlags::empty());
        // `bad` is an nstype the kernel must refuse for this kind of descriptor.
        let check = |fd: &OwnedFd, ty: process::CloneFlags, bad: process::CloneFlags| {
            run(process::CloneFlags::empty(), &[fd.as_raw()], || {
                ensure!(setns(fd, bad) == Err(Errno::EINVAL), 1);
                ensure!(setns(fd, ty).is_ok(), 2);
                ensure!(uname().is_ok_and(|u| u.nodename() == c"lp-test-setns"), 3);
                0
            })
        };
        use process::CloneFlags as F;
        let by_file = nsfd.as_ref().map(|fd| check(fd, F::NEWUTS, F::NEWNET));
        let by_any = nsfd.as_ref().map(|fd| check(fd, F::empty(), F::NEWNET));
        let by_pidfd = pidfd.as_ref().map(|fd| check(fd, F::NEWUTS, F::VM));
        poke(&go_w);
        assert_eq!(reap(holder), WaitStatus::Exited(0));
        assert!(ready);
        assert_eq!(by_file, Ok(WaitStatus::Exited(0)));
        assert_eq!(by_any, Ok(WaitStatus::Exited(0)));
        assert_eq!(by_pidfd, Ok(WaitStatus::Exited(0)));
        assert_ne!(uname().unwrap().nodename(), c"lp-test-setns");
    }
}
