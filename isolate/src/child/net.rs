//! The network in the child: `lo` up in a fresh namespace, and the wait for the parent to
//! connect the bridge.

use rawsys::io;
use rawsys::{Errno, RawFd};

use super::helpers::{StepResult, SubStep, at, borrowed, close};

/// Sets `lo` (index 1 in every network namespace) up: one `RTM_NEWLINK` over a netlink
/// socket, built on the stack, and its ACK.
pub(super) fn loopback_up() -> StepResult {
    use rawsys::net::{self, RecvFlags, SendFlags, SocketAddrNl};
    use rawsys::netlink::{IFF_UP, IfInfoMsg, MsgBuilder, NlMsgIter, NlmFlags, RTM_NEWLINK};
    let sock = rawsys::netlink::route_socket().map_err(at(SubStep::Socket))?;
    let mut buf = [0u8; 64];
    let r = (|| {
        let mut b = MsgBuilder::new(&mut buf, RTM_NEWLINK, NlmFlags::REQUEST | NlmFlags::ACK, 1)
            .map_err(at(SubStep::BuildMessage))?;
        b.push_struct(&IfInfoMsg {
            ifi_index: 1,
            ifi_flags: IFF_UP,
            ifi_change: IFF_UP,
            ..Default::default()
        })
        .map_err(at(SubStep::BuildMessage))?;
        let msg = b.finish();
        net::sendto(&sock, msg, SendFlags::empty(), &SocketAddrNl::new(0, 0))
            .map_err(at(SubStep::Send))?;
        let mut rbuf = [0u8; 256];
        let n = net::recv(&sock, &mut rbuf, RecvFlags::empty()).map_err(at(SubStep::Receive))?;
        for m in NlMsgIter::new(rbuf.get(..n).unwrap_or(&[])) {
            let m = m.map_err(at(SubStep::Receive))?;
            if let Some(res) = m.error() {
                return res.map_err(at(SubStep::Answer));
            }
        }
        Err((SubStep::Receive, Errno::EBADMSG))
    })();
    close(sock);
    r
}

/// Blocks until the parent has connected the network: one byte on `fd`.
pub(super) fn wait_parent(fd: RawFd) -> StepResult {
    let mut b = [0u8; 1];
    loop {
        match io::read(borrowed(fd), &mut b) {
            Ok(1) => return Ok(()),
            Ok(_) => return Err((SubStep::WaitForParent, Errno::ECANCELED)),
            Err(Errno::EINTR) => {}
            Err(e) => return Err((SubStep::WaitForParent, e)),
        }
    }
}
