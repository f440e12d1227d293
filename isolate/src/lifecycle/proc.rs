//! The container's process from a later command: named by pid and start time, signalled
//! through a pidfd that is checked against that start time, waited for through the pidfd
//! (a later command is not its parent and cannot reap it).

use alloc::format;

use rawsys::epoll::{self, EpollCreateFlags, EpollEvent, EpollFlags};
use rawsys::process::{self, PidfdFlags};
use rawsys::signal::Signal;
use rawsys::{Errno, OwnedFd};

use crate::error::Error;
use crate::fsutil::{cjoin, read_string};

/// What `/proc/PID/stat` says about a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// Field 3: `R`, `S`, `D`, `T`, `Z` (zombie), `X` (dead), ...
    pub(crate) state: u8,
    /// Field 22: start time in clock ticks since boot.
    pub(crate) start_time: u64,
}

impl ProcStat {
    /// Reads `/proc/PID/stat`; `None` if there is no such process.
    pub(crate) fn read(pid: i32) -> Option<ProcStat> {
        let path = cjoin(&["/proc/", &format!("{pid}"), "/stat"]).ok()?;
        let s = read_string(&path).ok()?;
        // The command name (field 2) may contain spaces and parentheses: count from its end.
        let mut rest = s[s.rfind(')')? + 1..].split_ascii_whitespace();
        let state = *rest.next()?.as_bytes().first()?;
        let start_time = rest.nth(18)?.parse().ok()?;
        Some(ProcStat { state, start_time })
    }
}

/// Whether process `pid` is still the one that started at `start_time` and has not exited
/// (a zombie has).
pub(crate) fn alive(pid: i32, start_time: u64) -> bool {
    ProcStat::read(pid)
        .is_some_and(|s| s.start_time == start_time && !matches!(s.state, b'Z' | b'X' | b'x'))
}

/// A pidfd for `pid` if it is still the process that started at `start_time`; `None` if
/// that process is gone (whatever now has its pid).
///
/// The start time is checked after opening: the pidfd then names a process that was ours at
/// the check, and a pidfd never comes to name another.
pub(crate) fn open(pid: i32, start_time: u64) -> Result<Option<OwnedFd>, Error> {
    let fd = match process::pidfd_open(pid, PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(Errno::ESRCH) => return Ok(None),
        Err(e) => return Err(Error::host(format!("pidfd_open {pid}"), e)),
    };
    Ok(alive(pid, start_time).then_some(fd))
}

/// Sends `sig` to `pid` if it is still the process that started at `start_time`; a process
/// already gone is not an error.
pub(crate) fn signal(pid: i32, start_time: u64, sig: Signal) -> Result<(), Error> {
    let Some(fd) = open(pid, start_time)? else {
        return Ok(());
    };
    match process::pidfd_send_signal(&fd, sig) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(e) => Err(Error::host(format!("signal {sig:?} to pid {pid}"), e)),
    }
}

/// Sends `sig` to `pid` whatever its start time (a process of the container's cgroup, read
/// just now), through a pidfd so that the signal reaches the process that was read.
pub(crate) fn signal_any(pid: i32, sig: Signal) -> Result<(), Error> {
    let fd = match process::pidfd_open(pid, PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(Errno::ESRCH) => return Ok(()),
        Err(e) => return Err(Error::host(format!("pidfd_open {pid}"), e)),
    };
    match process::pidfd_send_signal(&fd, sig) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(e) => Err(Error::host(format!("signal {sig:?} to pid {pid}"), e)),
    }
}

/// Waits up to `timeout_ms` for the process behind `pidfd` to exit (a pidfd becomes readable
/// then, zombie or reaped); false on timeout.
pub(crate) fn wait_exit(pidfd: &OwnedFd, timeout_ms: i32) -> Result<bool, Error> {
    let host = |what: &'static str| move |e| Error::host(what, e);
    let ep = epoll::epoll_create1(EpollCreateFlags::CLOEXEC).map_err(host("epoll_create1"))?;
    epoll::epoll_ctl_add(&ep, pidfd, EpollEvent::new(EpollFlags::IN, 0))
        .map_err(host("epoll_ctl pidfd"))?;
    let mut ev = [EpollEvent::default(); 1];
    loop {
        match epoll::epoll_pwait(&ep, &mut ev, timeout_ms, None) {
            Ok(n) => return Ok(n > 0),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::host("epoll_pwait on a pidfd", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_a_wrong_start_time_is_not() {
        let me = process::getpid();
        let st = ProcStat::read(me).unwrap();
        assert!(matches!(st.state, b'R' | b'S'));
        assert!(alive(me, st.start_time));
        assert!(!alive(me, st.start_time + 1));
        assert!(open(me, st.start_time + 1).unwrap().is_none());
        assert!(open(me, st.start_time).unwrap().is_some());
        assert_eq!(ProcStat::read(-3), None);
    }
}
