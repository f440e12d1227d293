//! [`Interest`]: which readiness a registration asks for.

use core::fmt;
use core::num::NonZeroU8;
use core::ops::{BitOr, BitOrAssign};

use rawsys::epoll::EpollFlags;

const READABLE: u8 = 0b01;
const WRITABLE: u8 = 0b10;

/// The readiness a registration wants to hear about: readable, writable, or both.
///
/// It is never empty (a registration that wants nothing should be deregistered). Errors and
/// hang-ups are always reported. Every registration is edge-triggered: an event says that
/// readiness *changed*, so the owner must read (or write) until `EAGAIN` before waiting again.
///
/// ```
/// use reactor::Interest;
///
/// let both = Interest::READABLE | Interest::WRITABLE;
/// assert!(both.is_readable() && both.is_writable());
/// assert_eq!(both.remove(Interest::WRITABLE), Some(Interest::READABLE));
/// assert_eq!(Interest::READABLE.remove(Interest::READABLE), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interest(NonZeroU8);

impl Interest {
    /// Readable: data, a pending connection, end-of-stream.
    pub const READABLE: Interest = Interest(NonZeroU8::new(READABLE).unwrap());
    /// Writable: room in the send buffer, or a completed non-blocking connect.
    pub const WRITABLE: Interest = Interest(NonZeroU8::new(WRITABLE).unwrap());

    /// Both interests.
    pub const fn add(self, other: Interest) -> Interest {
        match NonZeroU8::new(self.0.get() | other.0.get()) {
            Some(v) => Interest(v),
            None => self,
        }
    }

    /// The interests of `self` not in `other`, or `None` when nothing is left.
    pub const fn remove(self, other: Interest) -> Option<Interest> {
        match NonZeroU8::new(self.0.get() & !other.0.get()) {
            Some(v) => Some(Interest(v)),
            None => None,
        }
    }

    /// Whether readability is asked for.
    pub const fn is_readable(self) -> bool {
        self.0.get() & READABLE != 0
    }

    /// Whether writability is asked for.
    pub const fn is_writable(self) -> bool {
        self.0.get() & WRITABLE != 0
    }

    /// The epoll flags of this interest: always `EPOLLET`, and `EPOLLRDHUP` with readability
    /// so a half-closed peer is seen without an extra `read`.
    pub(crate) fn epoll_flags(self) -> EpollFlags {
        let mut flags = EpollFlags::ET;
        if self.is_readable() {
            flags |= EpollFlags::IN | EpollFlags::RDHUP;
        }
        if self.is_writable() {
            flags |= EpollFlags::OUT;
        }
        flags
    }
}

impl BitOr for Interest {
    type Output = Interest;
    fn bitor(self, other: Interest) -> Interest {
        self.add(other)
    }
}

impl BitOrAssign for Interest {
    fn bitor_assign(&mut self, other: Interest) {
        *self = self.add(other);
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.is_readable(), self.is_writable()) {
            (true, true) => f.write_str("READABLE | WRITABLE"),
            (true, false) => f.write_str("READABLE"),
            _ => f.write_str("WRITABLE"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_edge_triggered() {
        assert_eq!(
            Interest::READABLE.epoll_flags(),
            EpollFlags::ET | EpollFlags::IN | EpollFlags::RDHUP
        );
        assert_eq!(
            Interest::WRITABLE.epoll_flags(),
            EpollFlags::ET | EpollFlags::OUT
        );
        let both = Interest::WRITABLE | Interest::READABLE;
        assert!(
            both.epoll_flags()
                .contains(EpollFlags::IN | EpollFlags::OUT | EpollFlags::ET)
        );
        assert_eq!(std::format!("{both:?}"), "READABLE | WRITABLE");
    }
}
