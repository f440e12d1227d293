//! Resource limits: `prlimit64` and the `getrlimit`/`setrlimit` forms built on it.

use static_assertions::{assert_eq_size, const_assert_eq};

use super::Pid;
use crate::Result;
use crate::sys::{self, Sysno};

/// "No limit" for [`Rlimit`] fields.
pub const RLIM_INFINITY: u64 = u64::MAX;

/// The kernel's `struct rlimit64`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Rlimit {
    /// The soft limit, enforced; raisable up to `max`.
    pub cur: u64,
    /// The hard limit.
    pub max: u64,
}

assert_eq_size!(Rlimit, [u64; 2]);
const_assert_eq!(core::mem::offset_of!(Rlimit, cur), 0);
const_assert_eq!(core::mem::offset_of!(Rlimit, max), 8);

/// A limited resource (`RLIMIT_*`; the same numbers on x86_64 and aarch64).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Resource {
    /// `RLIMIT_CPU`: CPU seconds.
    Cpu = 0,
    /// `RLIMIT_FSIZE`: largest file size.
    Fsize = 1,
    /// `RLIMIT_DATA`: data segment size.
    Data = 2,
    /// `RLIMIT_STACK`: main stack size.
    Stack = 3,
    /// `RLIMIT_CORE`: core file size.
    Core = 4,
    /// `RLIMIT_RSS`: resident set (not enforced).
    Rss = 5,
    /// `RLIMIT_NPROC`: processes of the real user.
    Nproc = 6,
    /// `RLIMIT_NOFILE`: one more than the highest descriptor number.
    Nofile = 7,
    /// `RLIMIT_MEMLOCK`: locked memory.
    Memlock = 8,
    /// `RLIMIT_AS`: address space size.
    As = 9,
    /// `RLIMIT_LOCKS`: file locks.
    Locks = 10,
    /// `RLIMIT_SIGPENDING`: queued signals.
    Sigpending = 11,
    /// `RLIMIT_MSGQUEUE`: POSIX message queue bytes.
    Msgqueue = 12,
    /// `RLIMIT_NICE`: ceiling of the nice value.
    Nice = 13,
    /// `RLIMIT_RTPRIO`: real-time priority ceiling.
    Rtprio = 14,
    /// `RLIMIT_RTTIME`: real-time CPU microseconds without blocking.
    Rttime = 15,
}

/// `prlimit64(2)`: reads the limit of `resource` for process `pid` (0: the caller) and, if
/// `new` is given, replaces it. Returns the old limit.
pub fn prlimit(pid: Pid, resource: Resource, new: Option<&Rlimit>) -> Result<Rlimit> {
    let mut old = Rlimit::default();
    let new_ptr = sys::opt_ref(new);
    // SAFETY: new (if any) is a live rlimit64 to read; old is a live one to write.
    unsafe {
        sys::syscall4(
            Sysno::prlimit64,
            pid as usize,
            resource as usize,
            new_ptr,
            sys::by_mut(&mut old),
        )
    }?;
    Ok(old)
}

/// `getrlimit` through `prlimit64(2)`: the caller's limit of `resource`.
///
/// ```
/// use rawsys::process::{self, Resource};
/// let l = process::getrlimit(Resource::Nofile)?;
/// assert!(l.cur <= l.max);
/// # Ok::<(), rawsys::Errno>(())
/// ```
pub fn getrlimit(resource: Resource) -> Result<Rlimit> {
    prlimit(0, resource, None)
}

/// `setrlimit` through `prlimit64(2)`: sets the caller's (whole process's) limit of `resource`.
pub fn setrlimit(resource: Resource, limit: &Rlimit) -> Result<()> {
    prlimit(0, resource, Some(limit)).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::fd::OwnedFd;
    use crate::io;
    use crate::process::testing::*;
    use crate::process::*;
    use std::vec::Vec;

    #[test]
    fn rlimits_read_set_and_prlimit_another_process() {
        let nofile = getrlimit(Resource::Nofile).unwrap();
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap();
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            (f[3].parse::<u64>().unwrap(), f[4].parse::<u64>().unwrap()),
            (nofile.cur, nofile.max)
        );

        let (r, w) = pipe();
        let (done_r, done_w) = pipe();
        let low = Rlimit {
            cur: 16,
            max: nofile.max,
        };
        let keep = [r.as_raw(), done_w.as_raw()];
        let pid = spawn(CloneFlags::empty(), &keep, || {
            // Wait until the parent has set our limit with prlimit.
            ensure!(await_poke(&r), 1);
            ensure!(getrlimit(Resource::Nofile) == Ok(low), 2);
            ensure!(
                io::fcntl_dupfd_cloexec(&r, 20).map(OwnedFd::into_raw) == Err(Errno::EINVAL),
                3
            );
            let lower = Rlimit { cur: 8, max: 8 };
            ensure!(setrlimit(Resource::Nofile, &lower).is_ok(), 4);
            ensure!(getrlimit(Resource::Nofile) == Ok(lower), 5);
            // Raising the hard limit back needs CAP_SYS_RESOURCE.
            let raised = Rlimit { cur: 8, max: 9 };
            let Ok(caps) = capget(0) else { return 6 };
            let expect = if caps.effective.contains(Capability::SYS_RESOURCE) {
                Ok(())
            } else {
                Err(Errno::EPERM)
            };
            ensure!(setrlimit(Resource::Nofile, &raised) == expect, 6);
            ensure!(poke(&done_w), 7);
            0
        });
        drop(done_w);
        assert_eq!(prlimit(pid, Resource::Nofile, Some(&low)).unwrap(), nofile);
        assert!(poke(&w));
        let poked = await_poke(&done_r);
        assert_eq!(reap(pid), WaitStatus::Exited(0));
        assert!(poked);
        assert_eq!(
            getrlimit(Resource::Nofile).unwrap(),
            nofile,
            "the harness is unchanged"
        );
        let bad = Rlimit { cur: 10, max: 5 };
        assert_eq!(prlimit(0, Resource::Core, Some(&bad)), Err(Errno::EINVAL));
    }
}
