//! Helpers shared by the epoll tests.

use crate::epoll::{EpollCreateFlags, EpollEvent, epoll_create1, epoll_pwait};
use crate::fd::OwnedFd;

/// A close-on-exec epoll instance.
pub(crate) fn epoll() -> OwnedFd {
    epoll_create1(EpollCreateFlags::CLOEXEC).unwrap()
}

/// Waits up to `timeout_ms` and returns the events (at most 8).
pub(crate) fn wait(ep: &OwnedFd, timeout_ms: i32) -> std::vec::Vec<EpollEvent> {
    let mut evs = [EpollEvent::default(); 8];
    let n = epoll_pwait(ep, &mut evs, timeout_ms, None).unwrap();
    evs[..n].to_vec()
}
