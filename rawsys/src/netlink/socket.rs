//! Netlink sockets.

use crate::fd::OwnedFd;
use crate::net::{self, AddressFamily, Protocol, SocketAddrNl, SocketFlags, SocketType};

/// `socket(2)` + `bind(2)`: a close-on-exec `NETLINK_ROUTE` socket bound to a port id the
/// kernel chooses, ready to send requests to the kernel (port 0).
pub fn route_socket() -> crate::Result<OwnedFd> {
    bound_socket(Protocol::NETLINK_ROUTE)
}

/// A close-on-exec netlink socket of `protocol` bound to a port id the kernel chooses.
pub(crate) fn bound_socket(protocol: Protocol) -> crate::Result<OwnedFd> {
    let fd = net::socket(
        AddressFamily::NETLINK,
        SocketType::RAW,
        SocketFlags::CLOEXEC,
        protocol,
    )?;
    net::bind(&fd, &SocketAddrNl::new(0, 0))?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::net::SocketAddr;
    use crate::netlink::testing::*;
    use crate::netlink::*;

    #[test]
    fn getlink_dump_finds_lo_at_index_1() {
        let fd = route_socket().unwrap();
        let SocketAddr::Netlink(me) = net::getsockname(&fd).unwrap() else {
            panic!()
        };
        assert_ne!(me.pid(), 0, "the kernel assigned a port id");
        let mut buf = [0u8; 64];
        let mut b =
            MsgBuilder::new(&mut buf, RTM_GETLINK, NlmFlags::REQUEST | NlmFlags::DUMP, 7).unwrap();
        b.push_struct(&IfInfoMsg::default()).unwrap();
        let replies = exchange(&fd, b.finish(), 7);
        assert!(msg(&replies.last().unwrap().0, &replies.last().unwrap().1).is_done());
        let mut found = None;
        for (h, p) in &replies {
            if h.nlmsg_type != RTM_NEWLINK {
                continue;
            }
            assert_eq!(h.nlmsg_pid, me.pid());
            let m = msg(h, p);
            let (info, attrs) = m.split::<IfInfoMsg>().unwrap();
            for a in attrs {
                let a = a.unwrap();
                if a.kind() == IFLA_IFNAME && a.as_cstr_bytes() == b"lo" {
                    found = Some(info);
                }
            }
        }
        let lo = found.expect("lo in the dump");
        assert_eq!(lo.ifi_index, 1);
        assert_eq!(lo.ifi_type, ARPHRD_LOOPBACK);
        assert_ne!(lo.ifi_flags & IFF_LOOPBACK, 0);
    }

    #[test]
    fn getaddr_dump_finds_127_0_0_1() {
        let fd = route_socket().unwrap();
        let mut buf = [0u8; 64];
        let mut b =
            MsgBuilder::new(&mut buf, RTM_GETADDR, NlmFlags::REQUEST | NlmFlags::DUMP, 9).unwrap();
        b.push_struct(&IfAddrMsg {
            ifa_family: AddressFamily::INET.0 as u8,
            ..Default::default()
        })
        .unwrap();
        let replies = exchange(&fd, b.finish(), 9);
        let mut found = false;
        for (h, p) in &replies {
            if h.nlmsg_type != RTM_NEWADDR {
                continue;
            }
            let m = msg(h, p);
            let (ifa, attrs) = m.split::<IfAddrMsg>().unwrap();
            assert_eq!(ifa.ifa_family, AddressFamily::INET.0 as u8);
            for a in attrs {
                let a = a.unwrap();
                if a.kind() == IFA_LOCAL && a.payload == [127, 0, 0, 1] {
                    assert_eq!(
                        (ifa.ifa_index, ifa.ifa_prefixlen, ifa.ifa_scope),
                        (1, 8, RT_SCOPE_HOST)
                    );
                    found = true;
                }
            }
        }
        assert!(found, "127.0.0.1 on lo");
    }

    #[test]
    fn kernel_error_is_parsed_into_errno() {
        let fd = route_socket().unwrap();
        let mut buf = [0u8; 64];
        let mut b =
            MsgBuilder::new(&mut buf, RTM_GETLINK, NlmFlags::REQUEST | NlmFlags::ACK, 11).unwrap();
        // An index no interface has.
        b.push_struct(&IfInfoMsg {
            ifi_index: 0x7fff_fff0,
            ..Default::default()
        })
        .unwrap();
        let req = b.finish().to_vec();
        let replies = exchange(&fd, &req, 11);
        assert_eq!(replies.len(), 1);
        let (h, p) = &replies[0];
        let m = msg(h, p);
        assert_eq!(m.error(), Some(Err(Errno::ENODEV)));
        let err = NlMsgErr::read_from(p).unwrap();
        assert_eq!(
            err.msg.nlmsg_type, RTM_GETLINK,
            "the request header is echoed"
        );
        assert_eq!(err.msg.nlmsg_seq, 11);
    }
}
