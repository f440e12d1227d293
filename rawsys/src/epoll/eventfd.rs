//! Event counters: `eventfd2` and reading and writing its counter.

use super::read_u64;
use crate::Errno;
use crate::fd::{AsFd, OwnedFd};
use crate::sys::{self, Sysno};

bitflags::bitflags! {
    /// Flags for [`eventfd2`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct EventfdFlags: u32 {
        /// `EFD_SEMAPHORE`: each read takes 1 from the counter instead of all of it.
        const SEMAPHORE = 1;
        /// `EFD_CLOEXEC`
        const CLOEXEC = 0o2000000;
        /// `EFD_NONBLOCK`
        const NONBLOCK = 0o4000;
    }
}

/// `eventfd2(2)`: a counter descriptor starting at `initval`; readable while non-zero.
pub fn eventfd2(initval: u32, flags: EventfdFlags) -> crate::Result<OwnedFd> {
    // SAFETY: takes only integers.
    unsafe { sys::syscall2(Sysno::eventfd2, initval as usize, flags.bits() as usize) }
        .map(sys::ret_fd)
}

/// `read(2)` on an eventfd: takes the counter (or 1 with `EFD_SEMAPHORE`), waiting while it is
/// zero unless non-blocking (`EAGAIN`).
pub fn eventfd_read(fd: impl AsFd) -> crate::Result<u64> {
    read_u64(fd)
}

/// `write(2)` on an eventfd: adds `value` to the counter (`EAGAIN` if it would overflow and the
/// descriptor is non-blocking; `u64::MAX` is `EINVAL`).
pub fn eventfd_write(fd: impl AsFd, value: u64) -> crate::Result<()> {
    match crate::io::write(fd, &value.to_ne_bytes())? {
        8 => Ok(()),
        _ => Err(Errno::EINVAL),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::epoll::testing::*;
    use crate::epoll::*;
    use core::time::Duration;

    #[test]
    fn eventfd_counts_and_wakes_epoll() {
        let ep = epoll();
        let efd = eventfd2(5, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK).unwrap();
        assert_eq!(eventfd_read(&efd), Ok(5));
        assert_eq!(eventfd_read(&efd), Err(Errno::EAGAIN));
        epoll_ctl_add(
            &ep,
            &efd,
            EpollEvent::new(EpollFlags::IN | EpollFlags::ET, 42),
        )
        .unwrap();
        assert!(wait(&ep, 0).is_empty());
        // Wake from another thread while this one waits.
        let raw = efd.as_raw();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            // SAFETY: the main test thread keeps `efd` open until after join().
            let b = unsafe { crate::fd::BorrowedFd::borrow_raw(raw) };
            eventfd_write(b, 3).unwrap();
        });
        let evs = wait(&ep, 5000);
        t.join().unwrap();
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].token(), 42);
        eventfd_write(&efd, 4).unwrap();
        assert_eq!(eventfd_read(&efd), Ok(7));
        assert_eq!(eventfd_write(&efd, u64::MAX), Err(Errno::EINVAL));

        let sem = eventfd2(2, EventfdFlags::SEMAPHORE | EventfdFlags::NONBLOCK).unwrap();
        assert_eq!(eventfd_read(&sem), Ok(1));
        assert_eq!(eventfd_read(&sem), Ok(1));
        assert_eq!(eventfd_read(&sem), Err(Errno::EAGAIN));
    }
}
