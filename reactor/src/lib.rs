//! `reactor`: the building blocks of an event-driven network server, `no_std` and without libc.
//!
//! - [`http`]: an incremental, strict, zero-copy HTTP/1.1 request parser (RFC 9112) with a
//!   chunked body decoder. It is a pure state machine: no allocation, no I/O, no syscalls.
//! - [`Poll`], [`Registry`], [`Token`], [`Interest`], [`Events`]: a mio-like, always
//!   edge-triggered `epoll` reactor (with one-shot registrations,
//!   [`Registry::register_oneshot`], for handing ready sources to a thread pool);
//!   [`Waker`] wakes a poll from another thread (eventfd);
//!   [`Timer`] (timerfd) and [`TimerWheel`] (many cancellable deadlines) for per-connection timeouts.
//!   It needs `alloc` only for the event buffer and the wheel's slots.
//!
//! # An echo server
//!
//! One thread, one [`Poll`], a listening socket and any number of connections. Because every
//! registration is edge-triggered, each handler drains its source until `EAGAIN`; a
//! connection whose peer reads slowly keeps its unsent bytes and waits for a writable event,
//! so it never blocks the others.
//!
//! ```
//! use std::collections::HashMap;
//! use std::time::Duration;
//!
//! use rawsys::net::{self, AddressFamily, Protocol, SocketAddr, SocketAddrV4, SocketFlags, SocketType};
//! use rawsys::{Errno, OwnedFd};
//! use reactor::{Events, Interest, Poll, Token};
//!
//! const LISTENER: Token = Token(0);
//!
//! struct Conn {
//!     fd: OwnedFd,
//!     unsent: Vec<u8>,
//! }
//!
//! /// Writes as much of `conn.unsent` as the socket takes.
//! fn flush(conn: &mut Conn) -> Result<(), Errno> {
//!     while !conn.unsent.is_empty() {
//!         match net::send(&conn.fd, &conn.unsent, net::SendFlags::NOSIGNAL) {
//!             Ok(n) => drop(conn.unsent.drain(..n)),
//!             Err(Errno::EAGAIN) => break, // the next writable event resumes
//!             Err(e) => return Err(e),
//!         }
//!     }
//!     Ok(())
//! }
//!
//! /// Reads until `EAGAIN`, echoing everything; `Ok(false)` once the peer closed.
//! fn echo(conn: &mut Conn) -> Result<bool, Errno> {
//!     let mut buf = [0u8; 4096];
//!     loop {
//!         match rawsys::io::read(&conn.fd, &mut buf) {
//!             Ok(0) => return Ok(false),
//!             Ok(n) => {
//!                 conn.unsent.extend_from_slice(&buf[..n]);
//!                 flush(conn)?;
//!             }
//!             Err(Errno::EAGAIN) => return Ok(true),
//!             Err(e) => return Err(e),
//!         }
//!     }
//! }
//!
//! fn main() -> Result<(), Errno> {
//!     let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
//!     let listener = net::socket(AddressFamily::INET, SocketType::STREAM, flags, Protocol::TCP)?;
//!     net::bind(&listener, &SocketAddrV4::new([127, 0, 0, 1], 0))?;
//!     net::listen(&listener, 128)?;
//!     let SocketAddr::V4(addr) = net::getsockname(&listener)? else { unreachable!() };
//!
//!     let mut poll = Poll::new()?;
//!     poll.registry().register(&listener, LISTENER, Interest::READABLE)?;
//!
//!     // A client on another thread: sends two lines, reads the echo back.
//!     let client = std::thread::spawn(move || {
//!         use std::io::{Read, Write};
//!         let mut s = std::net::TcpStream::connect(("127.0.0.1", addr.port())).unwrap();
//!         s.write_all(b"hello\nworld\n").unwrap();
//!         let mut back = [0u8; 12];
//!         s.read_exact(&mut back).unwrap();
//!         back
//!     });
//!
//!     let mut conns: HashMap<Token, Conn> = HashMap::new();
//!     let mut next = 1;
//!     let mut events = Events::with_capacity(128);
//!     while !client.is_finished() {
//!         poll.poll(&mut events, Some(Duration::from_millis(50)))?;
//!         for event in events.iter() {
//!             if event.token() == LISTENER {
//!                 loop {
//!                     match net::accept4(&listener, flags) {
//!                         Ok((fd, _peer)) => {
//!                             let token = Token(next);
//!                             next += 1;
//!                             let interest = Interest::READABLE | Interest::WRITABLE;
//!                             poll.registry().register(&fd, token, interest)?;
//!                             conns.insert(token, Conn { fd, unsent: Vec::new() });
//!                         }
//!                         Err(Errno::EAGAIN) => break,
//!                         Err(e) => return Err(e),
//!                     }
//!                 }
//!                 continue;
//!             }
//!             let Some(conn) = conns.get_mut(&event.token()) else { continue };
//!             let mut open = true;
//!             if event.is_writable() {
//!                 open &= flush(conn).is_ok();
//!             }
//!             if open && event.is_readable() {
//!                 open = echo(conn).unwrap_or(false);
//!             }
//!             if !open {
//!                 if let Some(conn) = conns.remove(&event.token()) {
//!                     poll.registry().deregister(&conn.fd)?;
//!                 } // dropping the OwnedFd closes the socket
//!             }
//!         }
//!     }
//!     assert_eq!(&client.join().unwrap(), b"hello\nworld\n");
//!     Ok(())
//! }
//! ```
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The README's examples, compiled and run as doctests so that they cannot fall out of date.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(test)]
extern crate std;

pub mod http;

mod events;
mod interest;
mod poll;
mod timer;
mod token;
mod waker;

pub use events::{Event, Events};
pub use interest::Interest;
pub use poll::{Poll, Registry};
pub use timer::{Timer, TimerKey, TimerWheel, monotonic_ms};
pub use token::Token;
pub use waker::Waker;
