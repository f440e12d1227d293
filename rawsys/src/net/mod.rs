//! Sockets, one file per concern: addresses in the kernel's own layout ([`addr`](SocketAddr)),
//! creating, connecting and accepting ([`socket`]), socket options ([`setsockopt`] and typed
//! forms), and data transfer with `send`/`recv`, `sendto`/`recvfrom` and `sendmsg`/`recvmsg`
//! (including descriptor passing with `SCM_RIGHTS`).
//!
//! ```
//! use rawsys::net::*;
//!
//! let listener = socket(AddressFamily::INET, SocketType::STREAM, SocketFlags::CLOEXEC, Protocol::DEFAULT)?;
//! bind(&listener, &SocketAddrV4::new([127, 0, 0, 1], 0))?;
//! listen(&listener, 16)?;
//! let SocketAddr::V4(local) = getsockname(&listener)? else { unreachable!() };
//!
//! let client = socket(AddressFamily::INET, SocketType::STREAM, SocketFlags::CLOEXEC, Protocol::DEFAULT)?;
//! connect(&client, &local)?;
//! let (server, _peer) = accept4(&listener, SocketFlags::CLOEXEC)?;
//! send(&client, b"hi", SendFlags::NOSIGNAL)?;
//! let mut buf = [0u8; 2];
//! assert_eq!(recv(&server, &mut buf, RecvFlags::WAITALL)?, 2);
//! assert_eq!(&buf, b"hi");
//! # Ok::<(), rawsys::Errno>(())
//! ```

mod addr;
mod msg;
mod socket;
mod sockopt;

#[cfg(test)]
pub(crate) mod testing;

pub use addr::*;
pub use msg::*;
pub use socket::*;
pub use sockopt::*;
