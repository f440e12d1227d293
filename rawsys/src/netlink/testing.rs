//! Helpers shared by the netlink tests.

use std::vec::Vec;

use crate::fd::OwnedFd;
use crate::net::{self, RecvFlags, SendFlags, SocketAddr, SocketAddrNl};
use crate::netlink::{NlMsg, NlMsgHdr, NlMsgIter};

/// Sends `req` to the kernel and collects every reply message until `NLMSG_DONE` or an
/// `NLMSG_ERROR` (returned as the last element).
pub(crate) fn exchange(fd: &OwnedFd, req: &[u8], seq: u32) -> Vec<(NlMsgHdr, Vec<u8>)> {
    assert_eq!(
        net::sendto(fd, req, SendFlags::empty(), &SocketAddrNl::new(0, 0)).unwrap(),
        req.len()
    );
    let mut out = Vec::new();
    let mut buf = std::vec![0u8; 64 * 1024];
    loop {
        let (n, from) = net::recvfrom(fd, &mut buf, RecvFlags::empty()).unwrap();
        assert!(
            matches!(from, SocketAddr::Netlink(a) if a.pid() == 0),
            "from the kernel"
        );
        for m in NlMsgIter::new(&buf[..n]) {
            let m = m.unwrap();
            assert_eq!(m.header.nlmsg_seq, seq);
            let last = m.is_done() || m.error().is_some();
            out.push((m.header, m.payload.to_vec()));
            if last {
                return out;
            }
        }
    }
}

/// The message with this header and payload.
pub(crate) fn msg<'a>(h: &NlMsgHdr, p: &'a [u8]) -> NlMsg<'a> {
    NlMsg {
        header: *h,
        payload: p,
    }
}
