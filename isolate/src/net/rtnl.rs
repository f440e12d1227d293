//! Links, addresses and routes over rtnetlink.

use alloc::vec::Vec;

use rawsys::Errno;
use rawsys::net::AddressFamily;
use rawsys::netlink::*;

use super::nl::{Nl, message, push_str};

const AF_INET: u8 = AddressFamily::INET.0 as u8;

fn new_flags() -> NlmFlags {
    NlmFlags::REQUEST | NlmFlags::ACK | NlmFlags::CREATE | NlmFlags::EXCL
}

/// The index of the link called `name`, `None` if there is none.
pub(crate) fn link_index(nl: &mut Nl, name: &str) -> Result<Option<u32>, Errno> {
    Ok(link(nl, name)?.map(|l| l.index))
}

/// What [`link`] reports about a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) index: u32,
    /// The bridge it is a port of.
    pub(crate) master: Option<u32>,
    /// Its Ethernet address (none for a link without one, `lo`'s is all zeros).
    pub(crate) mac: Option<[u8; 6]>,
}

/// The link called `name` (index, master, MAC address), `None` if there is none.
pub(crate) fn link(nl: &mut Nl, name: &str) -> Result<Option<Link>, Errno> {
    let req = message(RTM_GETLINK, NlmFlags::REQUEST, &IfInfoMsg::default(), |b| {
        push_str(b, IFLA_IFNAME, name)
    })?;
    let mut found = None;
    match nl.request(req, |m| {
        if m.header.nlmsg_type == RTM_NEWLINK {
            if let Some((info, attrs)) = m.split::<IfInfoMsg>() {
                let mut l = Link {
                    index: info.ifi_index as u32,
                    master: None,
                    mac: None,
                };
                for a in attrs.flatten() {
                    match a.kind() {
                        IFLA_MASTER => l.master = a.as_u32(),
                        IFLA_ADDRESS => l.mac = <[u8; 6]>::try_from(a.payload).ok(),
                        _ => {}
                    }
                }
                found = Some(l);
            }
        }
    }) {
        Ok(()) => Ok(found),
        Err(Errno::ENODEV) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Creates a bridge called `name` (down, no address). `EEXIST` if it exists.
pub(crate) fn create_bridge(nl: &mut Nl, name: &str) -> Result<(), Errno> {
    let req = message(RTM_NEWLINK, new_flags(), &IfInfoMsg::default(), |b| {
        push_str(b, IFLA_IFNAME, name)?;
        let li = b.begin_nested(IFLA_LINKINFO)?;
        b.push_attr(IFLA_INFO_KIND, b"bridge")?;
        b.end_nested(li)
    })?;
    nl.transact(req, 1)
}

/// The `RTM_NEWADDR` request for `addr/prefix` on link `index`.
pub(crate) fn add_addr_msg(index: u32, addr: [u8; 4], prefix: u8) -> Result<Vec<u8>, Errno> {
    let host_bits = 32 - u32::from(prefix);
    let bcast = (u32::from_be_bytes(addr) | ((1u64 << host_bits) - 1) as u32).to_be_bytes();
    message(
        RTM_NEWADDR,
        new_flags(),
        &IfAddrMsg {
            ifa_family: AF_INET,
            ifa_prefixlen: prefix,
            ifa_flags: 0,
            ifa_scope: RT_SCOPE_UNIVERSE,
            ifa_index: index,
        },
        |b| {
            b.push_attr(IFA_LOCAL, &addr)?;
            b.push_attr(IFA_ADDRESS, &addr)?;
            b.push_attr(IFA_BROADCAST, &bcast)
        },
    )
}

/// The request that sets link `index` up.
pub(crate) fn link_up_msg(index: u32) -> Result<Vec<u8>, Errno> {
    message(
        RTM_NEWLINK,
        NlmFlags::REQUEST | NlmFlags::ACK,
        &IfInfoMsg {
            ifi_index: index as i32,
            ifi_flags: IFF_UP,
            ifi_change: IFF_UP,
            ..Default::default()
        },
        |_| Ok(()),
    )
}

/// The request adding the default route via `gateway` on link `index`.
pub(crate) fn default_route_msg(index: u32, gateway: [u8; 4]) -> Result<Vec<u8>, Errno> {
    message(
        RTM_NEWROUTE,
        new_flags(),
        &RtMsg {
            rtm_family: AF_INET,
            rtm_table: RT_TABLE_MAIN,
            rtm_protocol: RTPROT_BOOT,
            rtm_scope: RT_SCOPE_UNIVERSE,
            rtm_type: RTN_UNICAST,
            ..Default::default()
        },
        |b| {
            b.push_attr(RTA_GATEWAY, &gateway)?;
            b.push_attr_u32(RTA_OIF, index)
        },
    )
}

/// Creates a veth pair: `host` (up, enslaved to bridge `master`) in the caller's namespace and
/// `peer` (up) in the network namespace of process `pid`.
pub(crate) fn create_veth(
    nl: &mut Nl,
    host: &str,
    master: u32,
    peer: &str,
    pid: i32,
) -> Result<(), Errno> {
    let up = IfInfoMsg {
        ifi_flags: IFF_UP,
        ifi_change: IFF_UP,
        ..Default::default()
    };
    let req = message(RTM_NEWLINK, new_flags(), &up, |b| {
        push_str(b, IFLA_IFNAME, host)?;
        b.push_attr_u32(IFLA_MASTER, master)?;
        let li = b.begin_nested(IFLA_LINKINFO)?;
        b.push_attr(IFLA_INFO_KIND, b"veth")?;
        let data = b.begin_nested(IFLA_INFO_DATA)?;
        let p = b.begin_nested(VETH_INFO_PEER)?;
        b.push_struct(&IfInfoMsg::default())?;
        push_str(b, IFLA_IFNAME, peer)?;
        b.push_attr_u32(IFLA_NET_NS_PID, pid as u32)?;
        b.end_nested(p)?;
        b.end_nested(data)?;
        b.end_nested(li)
    })?;
    nl.transact(req, 1)
}

/// Deletes the link called `name`; `ENODEV` if there is none.
pub(crate) fn delete_link(nl: &mut Nl, name: &str) -> Result<(), Errno> {
    let req = message(
        RTM_DELLINK,
        NlmFlags::REQUEST | NlmFlags::ACK,
        &IfInfoMsg::default(),
        |b| push_str(b, IFLA_IFNAME, name),
    )?;
    nl.transact(req, 1)
}

/// An IPv4 route of the main table: destination, prefix length and output link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Route {
    pub(crate) dst: [u8; 4],
    pub(crate) len: u8,
    pub(crate) oif: Option<u32>,
}

/// Every IPv4 unicast route of the main routing table.
pub(crate) fn routes(nl: &mut Nl) -> Result<Vec<Route>, Errno> {
    let req = message(
        RTM_GETROUTE,
        NlmFlags::REQUEST | NlmFlags::DUMP,
        &RtMsg {
            rtm_family: AF_INET,
            ..Default::default()
        },
        |_| Ok(()),
    )?;
    let mut out = Vec::new();
    nl.request(req, |m| {
        if m.header.nlmsg_type != RTM_NEWROUTE {
            return;
        }
        let Some((rt, attrs)) = m.split::<RtMsg>() else {
            return;
        };
        let mut table = u32::from(rt.rtm_table);
        let mut dst = [0u8; 4];
        let mut oif = None;
        for a in attrs.flatten() {
            match a.kind() {
                RTA_TABLE => table = a.as_u32().unwrap_or(table),
                RTA_DST => {
                    if let Ok(d) = <[u8; 4]>::try_from(a.payload) {
                        dst = d;
                    }
                }
                RTA_OIF => oif = a.as_u32(),
                _ => {}
            }
        }
        if table == u32::from(RT_TABLE_MAIN) && rt.rtm_type == RTN_UNICAST && rt.rtm_dst_len <= 32 {
            out.push(Route {
                dst,
                len: rt.rtm_dst_len,
                oif,
            });
        }
    })?;
    Ok(out)
}

/// The IPv4 addresses (with prefix lengths) on link `index`.
pub(crate) fn addresses(nl: &mut Nl, index: u32) -> Result<Vec<([u8; 4], u8)>, Errno> {
    let req = message(
        RTM_GETADDR,
        NlmFlags::REQUEST | NlmFlags::DUMP,
        &IfAddrMsg {
            ifa_family: AF_INET,
            ..Default::default()
        },
        |_| Ok(()),
    )?;
    let mut out = Vec::new();
    nl.request(req, |m| {
        if m.header.nlmsg_type != RTM_NEWADDR {
            return;
        }
        let Some((ifa, attrs)) = m.split::<IfAddrMsg>() else {
            return;
        };
        if ifa.ifa_index != index {
            return;
        }
        for a in attrs.flatten() {
            if a.kind() == IFA_LOCAL {
                if let Ok(d) = <[u8; 4]>::try_from(a.payload) {
                    out.push((d, ifa.ifa_prefixlen));
                }
            }
        }
    })?;
    Ok(out)
}
