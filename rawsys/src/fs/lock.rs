//! Advisory whole-file locks: `flock`.

use crate::Result;
use crate::fd::AsFd;
use crate::sys::{self, Sysno};

bitflags::bitflags! {
    /// Operations for [`flock`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct FlockOp: u32 {
        /// `LOCK_SH`: a shared lock.
        const SHARED = 1;
        /// `LOCK_EX`: an exclusive lock.
        const EXCLUSIVE = 2;
        /// `LOCK_NB`: fail with `EWOULDBLOCK` instead of waiting.
        const NONBLOCK = 4;
        /// `LOCK_UN`: release the lock.
        const UNLOCK = 8;
    }
}

/// `flock(2)`: an advisory lock on the whole file, held by the open file description (so two
/// `openat`s of one file in one process exclude each other) and released when its last
/// descriptor closes.
pub fn flock(fd: impl AsFd, op: FlockOp) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { sys::syscall2(Sysno::flock, sys::fd_arg(fd), op.bits() as usize) }.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::fs::testing::TempDir;
    use crate::fs::*;

    #[test]
    fn flock_excludes_other_open_file_descriptions_until_closed() {
        let dir = TempDir::new("flock");
        let d = dir.open();
        let open = || {
            openat(
                &d,
                c"lock",
                OFlags::RDWR | OFlags::CREAT | OFlags::CLOEXEC,
                Mode::RUSR | Mode::WUSR,
            )
            .unwrap()
        };
        let (a, b) = (open(), open());
        flock(&a, FlockOp::EXCLUSIVE).unwrap();
        assert_eq!(
            flock(&b, FlockOp::SHARED | FlockOp::NONBLOCK),
            Err(Errno::EWOULDBLOCK)
        );
        // Re-locking through the holder's own description converts, never conflicts.
        flock(&a, FlockOp::SHARED | FlockOp::NONBLOCK).unwrap();
        flock(&b, FlockOp::SHARED | FlockOp::NONBLOCK).unwrap();
        assert_eq!(
            flock(&a, FlockOp::EXCLUSIVE | FlockOp::NONBLOCK),
            Err(Errno::EWOULDBLOCK)
        );
        flock(&b, FlockOp::UNLOCK).unwrap();
        flock(&a, FlockOp::EXCLUSIVE | FlockOp::NONBLOCK).unwrap();
        drop(a);
        flock(&b, FlockOp::EXCLUSIVE | FlockOp::NONBLOCK).unwrap();
        assert_eq!(flock(&b, FlockOp::all()), Err(Errno::EINVAL));
    }
}
