//! Credentials and sessions: real, effective and saved user and group ids, supplementary
//! groups, `setsid`/`getsid`.

use super::{Gid, Pid, Uid};
use crate::Result;
use crate::sys::{self, Sysno};

/// Passed for an id to [`setresuid`]/[`setresgid`]: leave that id unchanged (the kernel's `-1`).
pub const ID_UNCHANGED: u32 = u32::MAX;

/// `setresuid(2)`: sets the real, effective and saved user ids ([`ID_UNCHANGED`] keeps one).
///
/// The raw call affects only the calling thread; a multi-threaded process that wants
/// process-wide ids must call it in every thread (libc does this for you; this does not).
pub fn setresuid(ruid: Uid, euid: Uid, suid: Uid) -> Result<()> {
    // SAFETY: integers only.
    unsafe {
        sys::syscall3(
            Sysno::setresuid,
            ruid as usize,
            euid as usize,
            suid as usize,
        )
    }
    .map(drop)
}

/// `setresgid(2)`: sets the real, effective and saved group ids ([`ID_UNCHANGED`] keeps one).
/// Per thread, as [`setresuid`].
pub fn setresgid(rgid: Gid, egid: Gid, sgid: Gid) -> Result<()> {
    // SAFETY: integers only.
    unsafe {
        sys::syscall3(
            Sysno::setresgid,
            rgid as usize,
            egid as usize,
            sgid as usize,
        )
    }
    .map(drop)
}

/// `getresuid(2)`: the (real, effective, saved) user ids.
pub fn getresuid() -> Result<(Uid, Uid, Uid)> {
    let mut ids = [0u32; 3];
    // SAFETY: each pointer is a live u32 for the kernel to write.
    unsafe {
        let p = ids.as_mut_ptr();
        sys::syscall3(
            Sysno::getresuid,
            p as usize,
            p.add(1) as usize,
            p.add(2) as usize,
        )
    }?;
    Ok((ids[0], ids[1], ids[2]))
}

/// `getresgid(2)`: the (real, effective, saved) group ids.
pub fn getresgid() -> Result<(Gid, Gid, Gid)> {
    let mut ids = [0u32; 3];
    // SAFETY: each pointer is a live u32 for the kernel to write.
    unsafe {
        let p = ids.as_mut_ptr();
        sys::syscall3(
            Sysno::getresgid,
            p as usize,
            p.add(1) as usize,
            p.add(2) as usize,
        )
    }?;
    Ok((ids[0], ids[1], ids[2]))
}

/// `setgroups(2)`: replaces the supplementary group list (per thread, as [`setresuid`]).
pub fn setgroups(groups: &[Gid]) -> Result<()> {
    // SAFETY: the kernel reads groups.len() gids from the slice.
    unsafe { sys::syscall2(Sysno::setgroups, groups.len(), sys::by_ref(groups)) }.map(drop)
}

/// `getgroups(2)`: fills `groups` with the supplementary groups and returns how many there are.
/// With an empty slice it only returns the count; a too small one gives `EINVAL`.
pub fn getgroups(groups: &mut [Gid]) -> Result<usize> {
    // SAFETY: the kernel writes at most groups.len() gids into the slice.
    unsafe { sys::syscall2(Sysno::getgroups, groups.len(), sys::by_mut(groups)) }
}

/// `setsid(2)`: starts a new session and process group led by the caller; returns the session
/// id. Fails with `EPERM` for a process group leader.
pub fn setsid() -> Result<Pid> {
    // SAFETY: no arguments.
    unsafe { sys::syscall0(Sysno::setsid) }.map(|r| r as Pid)
}

/// `getsid(2)`: the session id of `pid` (0: the caller).
pub fn getsid(pid: Pid) -> Result<Pid> {
    // SAFETY: integer argument.
    unsafe { sys::syscall1(Sysno::getsid, pid as usize) }.map(|r| r as Pid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::process::testing::*;
    use crate::process::*;

    #[test]
    fn credentials_and_groups_change_in_a_child() {
        if geteuid() != 0 {
            std::eprintln!("skipped: needs root");
            return;
        }
        let before = (getresuid().unwrap(), getresgid().unwrap());
        let st = run(CloneFlags::empty(), &[], || {
            ensure!(setgroups(&[1234, 5678]).is_ok(), 1);
            let mut g = [0u32; 4];
            ensure!(getgroups(&mut []) == Ok(2), 2);
            ensure!(getgroups(&mut g) == Ok(2) && g[..2] == [1234, 5678], 3);
            ensure!(getgroups(&mut g[..1]) == Err(Errno::EINVAL), 4);
            ensure!(setresgid(1000, 1001, 1002).is_ok(), 5);
            ensure!(
                getresgid() == Ok((1000, 1001, 1002)) && getgid() == 1000 && getegid() == 1001,
                6
            );
            ensure!(setresuid(2000, 2001, 2002).is_ok(), 7);
            ensure!(
                getresuid() == Ok((2000, 2001, 2002)) && getuid() == 2000 && geteuid() == 2001,
                8
            );
            ensure!(setresuid(ID_UNCHANGED, 2002, ID_UNCHANGED).is_ok(), 9);
            ensure!(getresuid() == Ok((2000, 2002, 2002)), 10);
            // No longer privileged: neither root nor new groups come back.
            ensure!(setresuid(0, 0, 0) == Err(Errno::EPERM), 11);
            ensure!(setgroups(&[0]) == Err(Errno::EPERM), 12);
            0
        });
        assert_eq!(st, WaitStatus::Exited(0));
        assert_eq!((getresuid().unwrap(), getresgid().unwrap()), before);
    }

    #[test]
    fn setsid_makes_a_new_session_in_a_child() {
        let mine = getsid(0).unwrap();
        assert_eq!(getsid(getpid()), Ok(mine));
        let st = run(CloneFlags::empty(), &[], || {
            ensure!(getsid(0) == Ok(mine), 1);
            ensure!(setsid() == Ok(getpid()), 2);
            ensure!(getsid(0) == Ok(getpid()), 3);
            // A session leader cannot start another session.
            ensure!(setsid() == Err(Errno::EPERM), 4);
            0
        });
        assert_eq!(st, WaitStatus::Exited(0));
        assert_eq!(getsid(0), Ok(mine));
        assert_eq!(getsid(-3), Err(Errno::ESRCH));
    }
}
