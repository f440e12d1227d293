//! A small netlink client over `rawsys::netlink`: build messages into owned buffers, send a
//! batch of requests in one `sendto` and collect one ACK per request, or walk a dump.
//!
//! The kernel handles rtnetlink and nfnetlink requests synchronously inside `sendto`, so every
//! ACK is already queued when the send returns: they are read without blocking and a missing
//! one is an error, never a hang.

use alloc::vec;
use alloc::vec::Vec;
use core::ffi::CStr;

use rawsys::Errno;
use rawsys::OwnedFd;
use rawsys::net::{self, RecvFlags, SendFlags, SocketAddrNl};
use rawsys::netlink::{MsgBuilder, NLMSG_ERROR, NlMsg, NlMsgIter, NlStruct, NlmFlags};

/// Size of the scratch buffer one message is built in.
const MSG_MAX: usize = 2048;

/// A netlink socket with a receive buffer and a sequence counter.
pub(crate) struct Nl {
    fd: OwnedFd,
    seq: u32,
    rbuf: Vec<u8>,
}

/// Builds one message: header, fixed struct, then what `attrs` pushes.
pub(crate) fn message<T: NlStruct>(
    ty: u16,
    flags: NlmFlags,
    fixed: &T,
    attrs: impl FnOnce(&mut MsgBuilder<'_>) -> Result<(), Errno>,
) -> Result<Vec<u8>, Errno> {
    let mut buf = [0u8; MSG_MAX];
    let mut b = MsgBuilder::new(&mut buf, ty, flags, 0)?;
    b.push_struct(fixed)?;
    attrs(&mut b)?;
    Ok(b.finish().to_vec())
}

/// Pushes a string attribute from a `&str` (with its NUL).
pub(crate) fn push_str(b: &mut MsgBuilder<'_>, ty: u16, s: &str) -> Result<(), Errno> {
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    let c = CStr::from_bytes_with_nul(&v).map_err(|_| Errno::EINVAL)?;
    b.push_attr_str(ty, c)
}

impl core::fmt::Debug for Nl {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Nl")
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl Nl {
    /// Wraps a bound netlink socket.
    pub(crate) fn new(fd: OwnedFd) -> Nl {
        Nl {
            fd,
            seq: 1,
            rbuf: vec![0u8; 32 * 1024],
        }
    }

    /// A `NETLINK_ROUTE` socket in the caller's network namespace.
    pub(crate) fn route() -> Result<Nl, Errno> {
        rawsys::netlink::route_socket().map(Nl::new)
    }

    /// A `NETLINK_NETFILTER` socket.
    pub(crate) fn netfilter() -> Result<Nl, Errno> {
        rawsys::nfnetlink::netfilter_socket().map(Nl::new)
    }

    /// Numbers the messages in `msgs` (concatenated) and returns how many there are.
    fn number(&mut self, msgs: &mut [u8]) -> Result<usize, Errno> {
        let mut at = 0;
        let mut n = 0;
        while at + 16 <= msgs.len() {
            let len =
                u32::from_ne_bytes([msgs[at], msgs[at + 1], msgs[at + 2], msgs[at + 3]]) as usize;
            if len < 16 || at + len > msgs.len() {
                return Err(Errno::EINVAL);
            }
            msgs[at + 8..at + 12].copy_from_slice(&self.seq.to_ne_bytes());
            self.seq = self.seq.wrapping_add(1);
            at += rawsys::netlink::nl_align(len);
            n += 1;
        }
        Ok(n)
    }

    fn send(&self, msgs: &[u8]) -> Result<(), Errno> {
        let n = net::sendto(&self.fd, msgs, SendFlags::empty(), &SocketAddrNl::new(0, 0))?;
        if n != msgs.len() {
            return Err(Errno::EMSGSIZE);
        }
        Ok(())
    }

    /// Sends the concatenated requests `msgs` in one datagram and waits for `acks` ACKs; the
    /// first error reply is returned as its errno.
    pub(crate) fn transact(&mut self, mut msgs: Vec<u8>, acks: usize) -> Result<(), Errno> {
        self.number(&mut msgs)?;
        self.send(&msgs)?;
        let mut got = 0;
        while got < acks {
            let n = match net::recv(&self.fd, &mut self.rbuf, RecvFlags::DONTWAIT) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                // Everything the kernel had to say was queued during the send.
                Err(Errno::EAGAIN) => return Err(Errno::ENODATA),
                Err(e) => return Err(e),
            };
            for m in NlMsgIter::new(&self.rbuf[..n]) {
                let m = m?;
                if m.header.nlmsg_type == NLMSG_ERROR {
                    m.error().unwrap_or(Err(Errno::EBADMSG))?;
                    got += 1;
                }
            }
        }
        Ok(())
    }

    /// Sends one request and hands every reply message other than errors and `NLMSG_DONE` to
    /// `each` until the dump ends (or, for a non-dump request, until its single answer or
    /// error arrives).
    pub(crate) fn request(
        &mut self,
        mut msg: Vec<u8>,
        mut each: impl FnMut(&NlMsg<'_>),
    ) -> Result<(), Errno> {
        self.number(&mut msg)?;
        self.send(&msg)?;
        loop {
            let n = match net::recv(&self.fd, &mut self.rbuf, RecvFlags::empty()) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e),
            };
            let mut done = false;
            for m in NlMsgIter::new(&self.rbuf[..n]) {
                let m = m?;
                if let Some(r) = m.error() {
                    r?;
                    return Ok(());
                }
                if m.is_done() {
                    done = true;
                    break;
                }
                each(&m);
                if !m.flags().contains(NlmFlags::MULTI) {
                    done = true;
                }
            }
            if done {
                return Ok(());
            }
        }
    }
}
