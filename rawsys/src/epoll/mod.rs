//! Readiness notification: `epoll`, and the descriptors made to be polled with it: `eventfd`,
//! `timerfd` and `signalfd`.
//!
//! ```
//! use rawsys::epoll::{self, EpollEvent, EpollFlags, EventfdFlags};
//!
//! let ep = epoll::epoll_create1(epoll::EpollCreateFlags::CLOEXEC)?;
//! let efd = epoll::eventfd2(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
//! epoll::epoll_ctl_add(&ep, &efd, EpollEvent::new(EpollFlags::IN | EpollFlags::ET, 7))?;
//! epoll::eventfd_write(&efd, 1)?;
//! let mut events = [EpollEvent::default(); 4];
//! let n = epoll::epoll_pwait(&ep, &mut events, 1000, None)?;
//! assert_eq!(n, 1);
//! assert_eq!(events[0].token(), 7);
//! assert!(events[0].flags().contains(EpollFlags::IN));
//! # Ok::<(), rawsys::Errno>(())
//! ```
//!
//! One file per concern: the epoll instance, `eventfd`, `timerfd`, `signalfd`.

mod eventfd;
mod poll;
mod signalfd;
mod timerfd;

#[cfg(test)]
pub(crate) mod testing;

pub use eventfd::*;
pub use poll::*;
pub use signalfd::*;
pub use timerfd::*;

use crate::Errno;
use crate::fd::AsFd;

/// Reads exactly 8 bytes as the kernel's native-endian `u64`; anything shorter is `EINVAL`
/// (eventfd, timerfd and friends never return less).
fn read_u64(fd: impl AsFd) -> crate::Result<u64> {
    let mut b = [0u8; 8];
    match crate::io::read(fd, &mut b)? {
        8 => Ok(u64::from_ne_bytes(b)),
        _ => Err(Errno::EINVAL),
    }
}
