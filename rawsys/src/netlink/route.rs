//! rtnetlink: the fixed structs and constants of link (`RTM_*LINK`), address (`RTM_*ADDR`)
//! and route (`RTM_*ROUTE`) messages.

use core::mem::offset_of;

use super::nl_struct;

/// `struct ifinfomsg`: the fixed part of `RTM_*LINK` messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct IfInfoMsg {
    /// Address family (`AF_UNSPEC`).
    pub ifi_family: u8,
    /// Padding.
    pub __ifi_pad: u8,
    /// Device type (`ARPHRD_*`).
    pub ifi_type: u16,
    /// Interface index.
    pub ifi_index: i32,
    /// Device flags (`IFF_*`).
    pub ifi_flags: u32,
    /// Which flags to change (`IFF_*` mask).
    pub ifi_change: u32,
}

static_assertions::assert_eq_size!(IfInfoMsg, [u8; 16]);
static_assertions::const_assert_eq!(offset_of!(IfInfoMsg, ifi_family), 0);
static_assertions::const_assert_eq!(offset_of!(IfInfoMsg, __ifi_pad), 1);
static_assertions::const_assert_eq!(offset_of!(IfInfoMsg, ifi_type), 2);
static_assertions::const_assert_eq!(offset_of!(IfInfoMsg, ifi_index), 4);
static_assertions::const_assert_eq!(offset_of!(IfInfoMsg, ifi_flags), 8);
static_assertions::const_assert_eq!(offset_of!(IfInfoMsg, ifi_change), 12);

/// `struct ifaddrmsg`: the fixed part of `RTM_*ADDR` messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct IfAddrMsg {
    /// Address family (`AF_INET`, `AF_INET6`).
    pub ifa_family: u8,
    /// Prefix length.
    pub ifa_prefixlen: u8,
    /// `IFA_F_*` flags.
    pub ifa_flags: u8,
    /// Scope (`RT_SCOPE_*`).
    pub ifa_scope: u8,
    /// Interface index.
    pub ifa_index: u32,
}

static_assertions::assert_eq_size!(IfAddrMsg, [u8; 8]);
static_assertions::const_assert_eq!(offset_of!(IfAddrMsg, ifa_family), 0);
static_assertions::const_assert_eq!(offset_of!(IfAddrMsg, ifa_prefixlen), 1);
static_assertions::const_assert_eq!(offset_of!(IfAddrMsg, ifa_flags), 2);
static_assertions::const_assert_eq!(offset_of!(IfAddrMsg, ifa_scope), 3);
static_assertions::const_assert_eq!(offset_of!(IfAddrMsg, ifa_index), 4);

/// `struct rtmsg`: the fixed part of `RTM_*ROUTE` messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct RtMsg {
    /// Address family.
    pub rtm_family: u8,
    /// Destination prefix length.
    pub rtm_dst_len: u8,
    /// Source prefix length.
    pub rtm_src_len: u8,
    /// Type of service.
    pub rtm_tos: u8,
    /// Routing table (`RT_TABLE_*`; larger ids go in `RTA_TABLE`).
    pub rtm_table: u8,
    /// Who installed the route (`RTPROT_*`).
    pub rtm_protocol: u8,
    /// Scope (`RT_SCOPE_*`).
    pub rtm_scope: u8,
    /// Route type (`RTN_*`).
    pub rtm_type: u8,
    /// `RTM_F_*` flags.
    pub rtm_flags: u32,
}

static_assertions::assert_eq_size!(RtMsg, [u8; 12]);
static_assertions::const_assert_eq!(offset_of!(RtMsg, rtm_family), 0);
static_assertions::const_assert_eq!(offset_of!(RtMsg, rtm_dst_len), 1);
static_assertions::const_assert_eq!(offset_of!(RtMsg, rtm_src_len), 2);
static_assertions::const_assert_eq!(offset_of!(RtMsg, rtm_tos), 3);
static_assertions::const_assert_eq!(offset_of!(RtMsg, rtm_table), 4);
static_assertions::const_assert_eq!(offset_of!(RtMsg, rtm_protocol), 5);
static_assertions::const_assert_eq!(offset_of!(RtMsg, rtm_scope), 6);
static_assertions::const_assert_eq!(offset_of!(RtMsg, rtm_type), 7);
static_assertions::const_assert_eq!(offset_of!(RtMsg, rtm_flags), 8);

nl_struct!(IfInfoMsg, IfAddrMsg, RtMsg);

consts! { u16;
    RTM_NEWLINK = 16, "create or change a link";
    RTM_DELLINK = 17, "delete a link";
    RTM_GETLINK = 18, "get links";
    RTM_SETLINK = 19, "change a link";
    RTM_NEWADDR = 20, "add an address";
    RTM_DELADDR = 21, "remove an address";
    RTM_GETADDR = 22, "get addresses";
    RTM_NEWROUTE = 24, "add a route";
    RTM_DELROUTE = 25, "remove a route";
    RTM_GETROUTE = 26, "get routes";
    IFLA_ADDRESS = 1, "link-layer address";
    IFLA_BROADCAST = 2, "link-layer broadcast address";
    IFLA_IFNAME = 3, "interface name (NUL-terminated)";
    IFLA_MTU = 4, "MTU (u32)";
    IFLA_LINK = 5, "underlying link index (u32)";
    IFLA_QDISC = 6, "queueing discipline name";
    IFLA_STATS = 7, "statistics";
    IFLA_MASTER = 10, "master device index (u32), e.g. a bridge";
    IFLA_TXQLEN = 13, "transmit queue length (u32)";
    IFLA_OPERSTATE = 16, "operational state (u8)";
    IFLA_LINKINFO = 18, "nested: link kind and kind-specific data";
    IFLA_NET_NS_PID = 19, "move to the network namespace of this PID (u32)";
    IFLA_IFALIAS = 20, "interface alias";
    IFLA_NET_NS_FD = 28, "move to the network namespace of this fd (u32)";
    IFLA_INFO_KIND = 1, "in IFLA_LINKINFO: kind name such as \"veth\" or \"bridge\"";
    IFLA_INFO_DATA = 2, "in IFLA_LINKINFO: nested, kind-specific data";
    VETH_INFO_PEER = 1, "in a veth's IFLA_INFO_DATA: ifinfomsg and attributes of the peer";
    IFA_ADDRESS = 1, "interface address (peer address on point-to-point links)";
    IFA_LOCAL = 2, "local address";
    IFA_LABEL = 3, "address label (interface name)";
    IFA_BROADCAST = 4, "broadcast address";
    IFA_ANYCAST = 5, "anycast address";
    IFA_CACHEINFO = 6, "address lifetimes";
    RTA_DST = 1, "route destination";
    RTA_SRC = 2, "route source";
    RTA_IIF = 3, "input interface index (u32)";
    RTA_OIF = 4, "output interface index (u32)";
    RTA_GATEWAY = 5, "gateway address";
    RTA_PRIORITY = 6, "route priority / metric (u32)";
    RTA_PREFSRC = 7, "preferred source address";
    RTA_TABLE = 15, "routing table id (u32)";
    ARPHRD_ETHER = 1, "Ethernet device type";
    ARPHRD_LOOPBACK = 772, "loopback device type";
}

consts! { u32;
    IFF_UP = 0x1, "interface is administratively up";
    IFF_BROADCAST = 0x2, "broadcast address valid";
    IFF_LOOPBACK = 0x8, "loopback interface";
    IFF_POINTOPOINT = 0x10, "point-to-point link";
    IFF_RUNNING = 0x40, "resources allocated (operationally up)";
    IFF_NOARP = 0x80, "no ARP";
    IFF_PROMISC = 0x100, "promiscuous mode";
    IFF_MULTICAST = 0x1000, "multicast capable";
    IFF_LOWER_UP = 0x10000, "driver signals L1 up";
}

consts! { u8;
    RT_TABLE_UNSPEC = 0, "no table";
    RT_TABLE_DEFAULT = 253, "the default table";
    RT_TABLE_MAIN = 254, "the main table";
    RT_TABLE_LOCAL = 255, "the local table";
    RTPROT_UNSPEC = 0, "unknown origin";
    RTPROT_KERNEL = 2, "installed by the kernel";
    RTPROT_BOOT = 3, "installed at boot / by an administrator";
    RTPROT_STATIC = 4, "installed by an administrator";
    RT_SCOPE_UNIVERSE = 0, "global";
    RT_SCOPE_SITE = 200, "site";
    RT_SCOPE_LINK = 253, "on the link";
    RT_SCOPE_HOST = 254, "on this host";
    RT_SCOPE_NOWHERE = 255, "nowhere";
    RTN_UNSPEC = 0, "unknown route type";
    RTN_UNICAST = 1, "a gateway or direct route";
    RTN_LOCAL = 2, "a local interface route";
    RTN_BROADCAST = 3, "a broadcast route";
    RTN_BLACKHOLE = 6, "drop";
    RTN_UNREACHABLE = 7, "destination unreachable";
}
