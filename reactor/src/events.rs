//! [`Events`] and [`Event`]: what one call to [`Poll::poll`](crate::Poll::poll) reported.

extern crate alloc;

use alloc::vec::Vec;
use core::fmt;

use rawsys::epoll::{EpollEvent, EpollFlags};

use crate::Token;

/// One readiness event: a token and what became ready.
///
/// It has the layout of the kernel's `epoll_event` (the events are filled in place).
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(transparent)]
pub struct Event(EpollEvent);

impl Event {
    /// The token of the registration.
    pub fn token(&self) -> Token {
        Token(self.0.token() as usize)
    }

    /// Readable: data or a connection is waiting, or the peer closed (a read returns 0).
    pub fn is_readable(&self) -> bool {
        self.0
            .flags()
            .intersects(EpollFlags::IN | EpollFlags::PRI | EpollFlags::RDHUP | EpollFlags::HUP)
    }

    /// Writable: there is room in the send buffer.
    pub fn is_writable(&self) -> bool {
        self.0.flags().contains(EpollFlags::OUT)
    }

    /// An error is pending on the descriptor (`EPOLLERR`).
    pub fn is_error(&self) -> bool {
        self.0.flags().contains(EpollFlags::ERR)
    }

    /// The peer shut down its writing half, or the connection is gone (`EPOLLRDHUP` or
    /// `EPOLLHUP`).
    pub fn is_read_closed(&self) -> bool {
        self.0
            .flags()
            .intersects(EpollFlags::RDHUP | EpollFlags::HUP)
    }

    /// Both directions are closed (`EPOLLHUP`), or an error ended the connection.
    pub fn is_write_closed(&self) -> bool {
        self.0.flags().intersects(EpollFlags::HUP | EpollFlags::ERR)
    }

    /// The raw epoll bits.
    pub fn flags(&self) -> EpollFlags {
        self.0.flags()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("token", &self.token())
            .field("flags", &self.flags())
            .finish()
    }
}

/// A buffer of events, filled by [`Poll::poll`](crate::Poll::poll).
///
/// Its capacity bounds how many events one call returns; the rest stay queued in the kernel
/// for the next call.
///
/// ```
/// use reactor::Events;
///
/// let events = Events::with_capacity(256);
/// assert_eq!(events.capacity(), 256);
/// assert!(events.is_empty());
/// ```
pub struct Events {
    buf: Vec<EpollEvent>,
    len: usize,
}

impl Events {
    /// Room for `capacity` events (at least one).
    pub fn with_capacity(capacity: usize) -> Events {
        let mut buf = Vec::new();
        buf.resize(capacity.max(1), EpollEvent::default());
        Events { buf, len: 0 }
    }

    /// How many events one poll can return.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// How many events the last poll returned.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the last poll returned nothing (a timeout).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The events of the last poll.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Event> + '_ {
        self.buf[..self.len].iter().map(|e| Event(*e))
    }

    /// Forgets the events (the next poll overwrites them anyway).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    pub(crate) fn raw_buffer(&mut self) -> &mut [EpollEvent] {
        &mut self.buf
    }

    pub(crate) fn set_len(&mut self, len: usize) {
        self.len = len.min(self.buf.len());
    }
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for &'a Events {
    type Item = Event;
    type IntoIter = core::iter::Map<core::slice::Iter<'a, EpollEvent>, fn(&EpollEvent) -> Event>;
    fn into_iter(self) -> Self::IntoIter {
        fn wrap(e: &EpollEvent) -> Event {
            Event(*e)
        }
        self.buf[..self.len]
            .iter()
            .map(wrap as fn(&EpollEvent) -> Event)
    }
}
