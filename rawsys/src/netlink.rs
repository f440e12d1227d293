//! Raw rtnetlink: the kernel's message structs, constants, a message builder that writes into
//! a caller's buffer without allocating, and iterators that validate every length of a
//! received buffer (they never read past it and never panic, whatever the bytes).
//!
//! ```
//! use rawsys::netlink::*;
//!
//! // Ask for every link: an RTM_GETLINK dump request.
//! let mut buf = [0u8; 64];
//! let mut b = MsgBuilder::new(&mut buf, RTM_GETLINK, NlmFlags::REQUEST | NlmFlags::DUMP, 1)?;
//! b.push_struct(&IfInfoMsg::default())?;
//! let msg = b.finish();
//! assert_eq!(msg.len(), 32);
//!
//! // Parse it back.
//! let m = NlMsgIter::new(msg).next().unwrap()?;
//! assert_eq!(m.header.nlmsg_type, RTM_GETLINK);
//! # Ok::<(), rawsys::Errno>(())
//! ```

use core::mem::{offset_of, size_of};

use crate::Errno;
use crate::fd::OwnedFd;
use crate::net::{self, AddressFamily, Protocol, SocketAddrNl, SocketFlags, SocketType};

/// `EBADMSG`: what the parsers report for malformed input.
const EBADMSG: Errno = Errno::EBADMSG;

/// `NLMSG_ALIGN` / `RTA_ALIGN`: rounds up to a multiple of 4.
pub const fn nl_align(len: usize) -> usize {
    (len + 3) & !3
}

/// `struct nlmsghdr`: the header of every netlink message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct NlMsgHdr {
    /// Length of the message including this header.
    pub nlmsg_len: u32,
    /// Message type (`NLMSG_*` or `RTM_*`).
    pub nlmsg_type: u16,
    /// `NLM_F_*` flags (see [`NlmFlags`]).
    pub nlmsg_flags: u16,
    /// Sequence number, echoed in replies.
    pub nlmsg_seq: u32,
    /// Sender port id (0 for the kernel).
    pub nlmsg_pid: u32,
}

static_assertions::assert_eq_size!(NlMsgHdr, [u8; 16]);
static_assertions::const_assert_eq!(offset_of!(NlMsgHdr, nlmsg_len), 0);
static_assertions::const_assert_eq!(offset_of!(NlMsgHdr, nlmsg_type), 4);
static_assertions::const_assert_eq!(offset_of!(NlMsgHdr, nlmsg_flags), 6);
static_assertions::const_assert_eq!(offset_of!(NlMsgHdr, nlmsg_seq), 8);
static_assertions::const_assert_eq!(offset_of!(NlMsgHdr, nlmsg_pid), 12);

/// `struct nlmsgerr`: the payload of `NLMSG_ERROR` (an ACK when `error` is 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct NlMsgErr {
    /// 0 or a negative errno.
    pub error: i32,
    /// The header of the request this answers.
    pub msg: NlMsgHdr,
}

static_assertions::assert_eq_size!(NlMsgErr, [u8; 20]);
static_assertions::const_assert_eq!(offset_of!(NlMsgErr, error), 0);
static_assertions::const_assert_eq!(offset_of!(NlMsgErr, msg), 4);

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

/// `struct rtattr` (the same layout as `struct nlattr`): an attribute header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct RtAttr {
    /// Length of header and payload, without trailing padding.
    pub rta_len: u16,
    /// Attribute type, possibly with [`NLA_F_NESTED`] / [`NLA_F_NET_BYTEORDER`].
    pub rta_type: u16,
}

static_assertions::assert_eq_size!(RtAttr, [u8; 4]);
static_assertions::const_assert_eq!(offset_of!(RtAttr, rta_len), 0);
static_assertions::const_assert_eq!(offset_of!(RtAttr, rta_type), 2);

/// `struct nfgenmsg`: the fixed part of every nfnetlink (netfilter) message, see
/// [`crate::nfnetlink`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct NfGenMsg {
    /// `NFPROTO_*` family the message is about (`NFPROTO_IPV4`, `NFPROTO_INET`, ...).
    pub nfgen_family: u8,
    /// `NFNETLINK_V0`.
    pub version: u8,
    /// Resource id in network byte order (the subsystem for batch begin/end messages).
    pub res_id: u16,
}

static_assertions::assert_eq_size!(NfGenMsg, [u8; 4]);
static_assertions::const_assert_eq!(offset_of!(NfGenMsg, nfgen_family), 0);
static_assertions::const_assert_eq!(offset_of!(NfGenMsg, version), 1);
static_assertions::const_assert_eq!(offset_of!(NfGenMsg, res_id), 2);

mod sealed {
    pub trait Sealed {}
}

/// A netlink struct that is plain bytes: `#[repr(C)]`, integers only, no padding, so it can be
/// copied to and from a byte buffer. Implemented by this module's structs only.
///
/// # Safety
/// Implementors have no padding and every bit pattern is a valid value.
pub unsafe trait NlStruct: Copy + sealed::Sealed {
    /// The struct's bytes.
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: the trait's contract: no padding, so every byte is initialised.
        unsafe { core::slice::from_raw_parts(self as *const Self as *const u8, size_of::<Self>()) }
    }

    /// Reads the struct from the front of `bytes`, or `None` if they are too short.
    fn read_from(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < size_of::<Self>() {
            return None;
        }
        // SAFETY: the length was checked, the read is unaligned, and every bit pattern is
        // valid (the trait's contract).
        Some(unsafe { bytes.as_ptr().cast::<Self>().read_unaligned() })
    }
}

macro_rules! nl_struct {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        // SAFETY: each of these is #[repr(C)] with integer fields only and its size asserted
        // equal to the sum of its fields, so it has no padding.
        unsafe impl NlStruct for $t {}
    )*};
}
nl_struct!(
    NlMsgHdr, NlMsgErr, IfInfoMsg, IfAddrMsg, RtMsg, RtAttr, NfGenMsg
);

bitflags::bitflags! {
    /// `NLM_F_*` header flags. Some share a value; which meaning applies depends on whether the
    /// request is a `GET` (`ROOT`, `MATCH`, `ATOMIC`, `DUMP`) or a `NEW` (`REPLACE`, `EXCL`,
    /// `CREATE`, `APPEND`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct NlmFlags: u16 {
        /// `NLM_F_REQUEST`: a request (every message to the kernel).
        const REQUEST = 0x1;
        /// `NLM_F_MULTI`: part of a multipart reply ending with `NLMSG_DONE`.
        const MULTI = 0x2;
        /// `NLM_F_ACK`: reply with an ACK (an `NLMSG_ERROR` with error 0) on success.
        const ACK = 0x4;
        /// `NLM_F_ECHO`: echo this request.
        const ECHO = 0x8;
        /// `NLM_F_DUMP_INTR`: the dump was interrupted by a change; it may be inconsistent.
        const DUMP_INTR = 0x10;
        /// `NLM_F_ROOT` (GET): the whole table.
        const ROOT = 0x100;
        /// `NLM_F_MATCH` (GET): every matching entry.
        const MATCH = 0x200;
        /// `NLM_F_ATOMIC` (GET): an atomic snapshot.
        const ATOMIC = 0x400;
        /// `NLM_F_DUMP` (GET): `ROOT | MATCH`.
        const DUMP = 0x300;
        /// `NLM_F_REPLACE` (NEW): replace an existing object.
        const REPLACE = 0x100;
        /// `NLM_F_EXCL` (NEW): fail if it exists.
        const EXCL = 0x200;
        /// `NLM_F_CREATE` (NEW): create if it does not exist.
        const CREATE = 0x400;
        /// `NLM_F_APPEND` (NEW): add to the end of the list.
        const APPEND = 0x800;
    }
}

macro_rules! consts {
    ($ty:ty; $($name:ident = $v:expr, $doc:expr;)*) => {$(
        #[doc = concat!("`", stringify!($name), "`: ", $doc, ".")]
        pub const $name: $ty = $v;
    )*};
}
pub(crate) use consts;

consts! { u16;
    NLMSG_NOOP = 1, "nothing; skip it";
    NLMSG_ERROR = 2, "an error or, with error 0, an ACK";
    NLMSG_DONE = 3, "end of a multipart reply";
    NLMSG_OVERRUN = 4, "data lost";
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
    NLA_F_NESTED = 0x8000, "attribute type flag: the payload is attributes";
    NLA_F_NET_BYTEORDER = 0x4000, "attribute type flag: the payload is in network byte order";
    NLA_TYPE_MASK = 0x3fff, "the type bits of an attribute type";
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

// ---------------------------------------------------------------------------------------------
// Building
// ---------------------------------------------------------------------------------------------

/// Builds one netlink message in a caller's buffer: header, fixed struct, attributes (nested
/// ones too), all 4-byte aligned with zeroed padding. A push that does not fit fails with
/// `ENOBUFS` and leaves the message as it was.
#[derive(Debug)]
pub struct MsgBuilder<'a> {
    buf: &'a mut [u8],
    len: usize,
}

/// An open nested attribute, closed by [`MsgBuilder::end_nested`].
#[derive(Debug)]
#[must_use = "a nested attribute must be closed with end_nested"]
pub struct Nest {
    offset: usize,
}

impl<'a> MsgBuilder<'a> {
    /// Starts a message of type `ty` with `flags` and sequence number `seq` (port id 0: the
    /// kernel fills in the sender).
    pub fn new(
        buf: &'a mut [u8],
        ty: u16,
        flags: NlmFlags,
        seq: u32,
    ) -> crate::Result<MsgBuilder<'a>> {
        let mut b = MsgBuilder { buf, len: 0 };
        let hdr = NlMsgHdr {
            nlmsg_len: 0,
            nlmsg_type: ty,
            nlmsg_flags: flags.bits(),
            nlmsg_seq: seq,
            nlmsg_pid: 0,
        };
        b.append(&[hdr.as_bytes()])?;
        Ok(b)
    }

    /// Appends the concatenation of `parts` at the current (aligned) end, then zero padding to
    /// the next multiple of 4; all or nothing.
    fn append(&mut self, parts: &[&[u8]]) -> crate::Result<usize> {
        let start = self.len;
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let end = start.checked_add(nl_align(total)).ok_or(Errno::ENOBUFS)?;
        if end > self.buf.len() || end > u32::MAX as usize {
            return Err(Errno::ENOBUFS);
        }
        let mut at = start;
        for p in parts {
            self.buf[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        }
        self.buf[at..end].fill(0);
        self.len = end;
        Ok(start)
    }

    /// Appends a fixed struct such as [`IfInfoMsg`] (normally right after the header).
    pub fn push_struct<T: NlStruct>(&mut self, value: &T) -> crate::Result<()> {
        self.append(&[value.as_bytes()]).map(drop)
    }

    /// Appends raw bytes, padded to 4 (for payloads this module has no struct for).
    pub fn push_bytes(&mut self, bytes: &[u8]) -> crate::Result<()> {
        self.append(&[bytes]).map(drop)
    }

    /// Appends an attribute of type `ty` with `payload`. Fails with `EMSGSIZE` if it would be
    /// longer than an attribute length can say (65535).
    pub fn push_attr(&mut self, ty: u16, payload: &[u8]) -> crate::Result<()> {
        let len =
            u16::try_from(size_of::<RtAttr>() + payload.len()).map_err(|_| Errno::EMSGSIZE)?;
        let hdr = RtAttr {
            rta_len: len,
            rta_type: ty,
        };
        self.append(&[hdr.as_bytes(), payload]).map(drop)
    }

    /// Appends a `u8` attribute.
    pub fn push_attr_u8(&mut self, ty: u16, v: u8) -> crate::Result<()> {
        self.push_attr(ty, &[v])
    }

    /// Appends a `u16` attribute (native byte order).
    pub fn push_attr_u16(&mut self, ty: u16, v: u16) -> crate::Result<()> {
        self.push_attr(ty, &v.to_ne_bytes())
    }

    /// Appends a `u32` attribute (native byte order).
    pub fn push_attr_u32(&mut self, ty: u16, v: u32) -> crate::Result<()> {
        self.push_attr(ty, &v.to_ne_bytes())
    }

    /// Appends a string attribute with its terminating NUL, as `IFLA_IFNAME` wants.
    pub fn push_attr_str(&mut self, ty: u16, s: &core::ffi::CStr) -> crate::Result<()> {
        self.push_attr(ty, s.to_bytes_with_nul())
    }

    /// Opens a nested attribute of type `ty` (with [`NLA_F_NESTED`] or'ed in by the caller if
    /// the family wants it); attributes pushed until [`end_nested`](Self::end_nested) go
    /// inside.
    pub fn begin_nested(&mut self, ty: u16) -> crate::Result<Nest> {
        let hdr = RtAttr {
            rta_len: size_of::<RtAttr>() as u16,
            rta_type: ty,
        };
        let offset = self.append(&[hdr.as_bytes()])?;
        Ok(Nest { offset })
    }

    /// Closes a nested attribute, writing its length. Fails with `EMSGSIZE` if its contents
    /// grew past 65535 bytes, and `EINVAL` for a `Nest` from another builder.
    pub fn end_nested(&mut self, nest: Nest) -> crate::Result<()> {
        if nest.offset + size_of::<RtAttr>() > self.len {
            return Err(Errno::EINVAL);
        }
        let len = u16::try_from(self.len - nest.offset).map_err(|_| Errno::EMSGSIZE)?;
        self.buf[nest.offset..nest.offset + 2].copy_from_slice(&len.to_ne_bytes());
        Ok(())
    }

    /// The message length so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written (never true: the header is written by `new`).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes the total length into the header and returns the finished message.
    pub fn finish(self) -> &'a [u8] {
        let len = self.len as u32; // append keeps len <= u32::MAX
        self.buf[..4].copy_from_slice(&len.to_ne_bytes());
        &self.buf[..self.len]
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// One message found by [`NlMsgIter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NlMsg<'a> {
    /// The header.
    pub header: NlMsgHdr,
    /// The bytes after the header, up to `nlmsg_len`.
    pub payload: &'a [u8],
}

impl<'a> NlMsg<'a> {
    /// The header flags.
    pub fn flags(&self) -> NlmFlags {
        NlmFlags::from_bits_retain(self.header.nlmsg_flags)
    }

    /// For `NLMSG_ERROR`: `Ok(())` for an ACK, `Err(errno)` for a failure (`EBADMSG` if the
    /// payload is too short to say). `None` for other message types.
    pub fn error(&self) -> Option<crate::Result<()>> {
        if self.header.nlmsg_type != NLMSG_ERROR {
            return None;
        }
        Some(match self.payload.get(..4) {
            Some(b) => match i32::from_ne_bytes([b[0], b[1], b[2], b[3]]) {
                0 => Ok(()),
                e if e < 0 && e > -4096 => Err(Errno::from_raw(-e)),
                _ => Err(EBADMSG),
            },
            None => Err(EBADMSG),
        })
    }

    /// Whether this is `NLMSG_DONE`, the end of a dump.
    pub fn is_done(&self) -> bool {
        self.header.nlmsg_type == NLMSG_DONE
    }

    /// Splits the payload into the fixed struct `T` and the attributes after it (which start
    /// at the aligned end of `T`). `None` if the payload is shorter than `T`.
    pub fn split<T: NlStruct>(&self) -> Option<(T, AttrIter<'a>)> {
        let fixed = T::read_from(self.payload)?;
        let rest = self.payload.get(nl_align(size_of::<T>())..).unwrap_or(&[]);
        Some((fixed, AttrIter::new(rest)))
    }
}

/// Iterates over the netlink messages in a received buffer (`NLMSG_OK`/`NLMSG_NEXT`).
///
/// Every length is checked against what remains: a header that is short, or that claims less
/// than a header or more than the buffer, yields one `Err(EBADMSG)` and ends the iteration.
#[derive(Clone, Debug)]
pub struct NlMsgIter<'a> {
    rest: &'a [u8],
}

impl<'a> NlMsgIter<'a> {
    /// Iterates over `buf`.
    pub const fn new(buf: &'a [u8]) -> NlMsgIter<'a> {
        NlMsgIter { rest: buf }
    }
}

impl<'a> Iterator for NlMsgIter<'a> {
    type Item = crate::Result<NlMsg<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let rest = core::mem::take(&mut self.rest);
        let Some(header) = NlMsgHdr::read_from(rest) else {
            return Some(Err(EBADMSG));
        };
        let len = header.nlmsg_len as usize;
        if len < size_of::<NlMsgHdr>() || len > rest.len() {
            return Some(Err(EBADMSG));
        }
        let payload = &rest[size_of::<NlMsgHdr>()..len];
        self.rest = rest.get(nl_align(len)..).unwrap_or(&[]);
        Some(Ok(NlMsg { header, payload }))
    }
}

/// One attribute found by [`AttrIter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr<'a> {
    /// The raw type, including the [`NLA_F_NESTED`] and [`NLA_F_NET_BYTEORDER`] bits.
    pub raw_type: u16,
    /// The payload (without padding).
    pub payload: &'a [u8],
}

impl<'a> Attr<'a> {
    /// The type without flag bits.
    pub fn kind(&self) -> u16 {
        self.raw_type & NLA_TYPE_MASK
    }

    /// The payload read as attributes (for nested attributes).
    pub fn nested(&self) -> AttrIter<'a> {
        AttrIter::new(self.payload)
    }

    /// The payload as a `u8`, if it is exactly one byte.
    pub fn as_u8(&self) -> Option<u8> {
        match self.payload {
            [b] => Some(*b),
            _ => None,
        }
    }

    /// The payload as a native-endian `u16`, if it is exactly two bytes.
    pub fn as_u16(&self) -> Option<u16> {
        Some(u16::from_ne_bytes(self.payload.try_into().ok()?))
    }

    /// The payload as a native-endian `u32`, if it is exactly four bytes.
    pub fn as_u32(&self) -> Option<u32> {
        Some(u32::from_ne_bytes(self.payload.try_into().ok()?))
    }

    /// The payload up to its first NUL (for string attributes such as `IFLA_IFNAME`).
    pub fn as_cstr_bytes(&self) -> &'a [u8] {
        let p = self.payload;
        match p.iter().position(|b| *b == 0) {
            Some(n) => &p[..n],
            None => p,
        }
    }
}

/// Iterates over attributes (`RTA_OK`/`RTA_NEXT`), with the same checks and the same single
/// `Err(EBADMSG)` on malformed input as [`NlMsgIter`].
#[derive(Clone, Debug)]
pub struct AttrIter<'a> {
    rest: &'a [u8],
}

impl<'a> AttrIter<'a> {
    /// Iterates over `buf`.
    pub const fn new(buf: &'a [u8]) -> AttrIter<'a> {
        AttrIter { rest: buf }
    }
}

impl<'a> Iterator for AttrIter<'a> {
    type Item = crate::Result<Attr<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let rest = core::mem::take(&mut self.rest);
        let Some(hdr) = RtAttr::read_from(rest) else {
            return Some(Err(EBADMSG));
        };
        let len = hdr.rta_len as usize;
        if len < size_of::<RtAttr>() || len > rest.len() {
            return Some(Err(EBADMSG));
        }
        let payload = &rest[size_of::<RtAttr>()..len];
        self.rest = rest.get(nl_align(len)..).unwrap_or(&[]);
        Some(Ok(Attr {
            raw_type: hdr.rta_type,
            payload,
        }))
    }
}

/// `socket(2)` + `bind(2)`: a close-on-exec `NETLINK_ROUTE` socket bound to a port id the
/// kernel chooses, ready to send requests to the kernel (port 0).
pub fn route_socket() -> crate::Result<OwnedFd> {
    let fd = net::socket(
        AddressFamily::NETLINK,
        SocketType::RAW,
        SocketFlags::CLOEXEC,
        Protocol::NETLINK_ROUTE,
    )?;
    net::bind(&fd, &SocketAddrNl::new(0, 0))?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{RecvFlags, SendFlags, SocketAddr};
    use proptest::prelude::*;
    use std::vec::Vec;

    /// Sends `req` to the kernel and collects every reply message until `NLMSG_DONE` or an
    /// `NLMSG_ERROR` (returned as the last element).
    fn exchange(fd: &OwnedFd, req: &[u8], seq: u32) -> Vec<(NlMsgHdr, Vec<u8>)> {
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

    fn msg<'a>(h: &NlMsgHdr, p: &'a [u8]) -> NlMsg<'a> {
        NlMsg {
            header: *h,
            payload: p,
        }
    }

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

    #[test]
    fn builder_layout_nesting_and_overflow() {
        let mut buf = [0xAAu8; 128];
        let mut b = MsgBuilder::new(
            &mut buf,
            RTM_NEWLINK,
            NlmFlags::REQUEST | NlmFlags::CREATE | NlmFlags::EXCL,
            3,
        )
        .unwrap();
        b.push_struct(&IfInfoMsg::default()).unwrap();
        b.push_attr_str(IFLA_IFNAME, c"lp-test-v0").unwrap(); // 4 + 11 -> padded to 16
        let li = b.begin_nested(IFLA_LINKINFO).unwrap();
        b.push_attr(IFLA_INFO_KIND, b"veth").unwrap();
        let data = b.begin_nested(IFLA_INFO_DATA | NLA_F_NESTED).unwrap();
        b.push_attr_u32(IFLA_MTU, 1400).unwrap();
        b.push_attr_u16(99, 0xBEEF).unwrap();
        b.push_attr_u8(IFLA_OPERSTATE, 6).unwrap();
        b.end_nested(data).unwrap();
        b.end_nested(li).unwrap();
        assert_eq!(b.len(), 16 + 16 + 16 + 4 + 8 + 4 + 8 + 8 + 8);
        let bytes = b.finish().to_vec();
        assert_eq!(
            u32::from_ne_bytes(bytes[..4].try_into().unwrap()) as usize,
            bytes.len()
        );
        // The name's padding byte is zeroed, not left as 0xAA.
        assert_eq!(&bytes[32 + 4..32 + 16], b"lp-test-v0\0\0");

        let m = NlMsgIter::new(&bytes).next().unwrap().unwrap();
        assert_eq!(
            m.flags(),
            NlmFlags::REQUEST | NlmFlags::CREATE | NlmFlags::EXCL
        );
        assert_eq!(m.error(), None);
        let (_, attrs) = m.split::<IfInfoMsg>().unwrap();
        let attrs: Vec<_> = attrs.map(Result::unwrap).collect();
        assert_eq!(attrs.len(), 2);
        assert_eq!(attrs[0].as_cstr_bytes(), b"lp-test-v0");
        assert_eq!(attrs[1].kind(), IFLA_LINKINFO);
        let inner: Vec<_> = attrs[1].nested().map(Result::unwrap).collect();
        assert_eq!(inner[0].payload, b"veth");
        assert_eq!(inner[1].raw_type, IFLA_INFO_DATA | NLA_F_NESTED);
        assert_eq!(inner[1].kind(), IFLA_INFO_DATA);
        let data: Vec<_> = inner[1].nested().map(Result::unwrap).collect();
        assert_eq!(data[0].as_u32(), Some(1400));
        assert_eq!(data[1].as_u16(), Some(0xBEEF));
        assert_eq!(data[2].as_u8(), Some(6));
        assert_eq!(data[2].as_u32(), None);

        // Overflow is an error, and the failed push leaves the message unchanged.
        let mut small = [0u8; 24];
        assert_eq!(
            MsgBuilder::new(&mut small[..15], 0, NlmFlags::empty(), 0).map(|b| b.len()),
            Err(Errno::ENOBUFS)
        );
        let mut b = MsgBuilder::new(&mut small, RTM_GETLINK, NlmFlags::REQUEST, 1).unwrap();
        assert_eq!(b.push_struct(&IfInfoMsg::default()), Err(Errno::ENOBUFS));
        assert_eq!(b.push_attr(1, &[0; 5]), Err(Errno::ENOBUFS));
        assert_eq!(b.len(), 16);
        b.push_attr_u32(1, 5).unwrap();
        assert!(b.begin_nested(2).is_err());
        assert_eq!(b.finish().len(), 24);
        let mut big = std::vec![0u8; 70_000];
        let mut b = MsgBuilder::new(&mut big, 1, NlmFlags::empty(), 0).unwrap();
        assert_eq!(b.push_attr(1, &[0; 65_533]), Err(Errno::EMSGSIZE));
        let n = b.begin_nested(1).unwrap();
        b.push_bytes(&[0; 65_600]).unwrap();
        assert_eq!(b.end_nested(n), Err(Errno::EMSGSIZE));
        assert_eq!(b.end_nested(Nest { offset: 69_990 }), Err(Errno::EINVAL));
    }

    #[test]
    fn iterators_reject_bad_lengths_once() {
        let mut buf = [0u8; 40];
        // A header claiming 200 bytes in a 40-byte buffer.
        buf[..4].copy_from_slice(&200u32.to_ne_bytes());
        let v: Vec<_> = NlMsgIter::new(&buf).collect();
        assert_eq!(v, [Err(EBADMSG)]);
        // A header claiming less than a header.
        buf[..4].copy_from_slice(&8u32.to_ne_bytes());
        assert_eq!(NlMsgIter::new(&buf).collect::<Vec<_>>(), [Err(EBADMSG)]);
        // Two good messages, the second unaligned at the end.
        buf[..4].copy_from_slice(&18u32.to_ne_bytes());
        buf[20..24].copy_from_slice(&17u32.to_ne_bytes());
        buf[24..26].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        let v: Vec<_> = NlMsgIter::new(&buf[..37]).collect();
        assert_eq!(v.len(), 2);
        let second = v[1].unwrap();
        assert_eq!(second.payload.len(), 1);
        assert_eq!(
            second.error(),
            Some(Err(EBADMSG)),
            "error payload too short"
        );
        assert_eq!(
            NlMsgIter::new(&buf[..3]).collect::<Vec<_>>(),
            [Err(EBADMSG)]
        );
        // Attributes.
        assert_eq!(
            AttrIter::new(&[5, 0, 1, 0]).collect::<Vec<_>>(),
            [Err(EBADMSG)]
        );
        assert_eq!(
            AttrIter::new(&[2, 0, 1, 0]).collect::<Vec<_>>(),
            [Err(EBADMSG)]
        );
        assert_eq!(
            AttrIter::new(&[4, 0, 1]).collect::<Vec<_>>(),
            [Err(EBADMSG)]
        );
        let ok: Vec<_> = AttrIter::new(&[5, 0, 1, 0, 9]).collect();
        assert_eq!(
            ok,
            [Ok(Attr {
                raw_type: 1,
                payload: &[9]
            })]
        );
        // An error of 0 is an ACK, a positive one is malformed.
        let h = NlMsgHdr {
            nlmsg_type: NLMSG_ERROR,
            ..Default::default()
        };
        assert_eq!(msg(&h, &0i32.to_ne_bytes()).error(), Some(Ok(())));
        assert_eq!(msg(&h, &5i32.to_ne_bytes()).error(), Some(Err(EBADMSG)));
        assert_eq!(
            msg(&h, &(-13i32).to_ne_bytes()).error(),
            Some(Err(Errno::EACCES))
        );
        assert!(msg(&h, &[]).split::<IfInfoMsg>().is_none());
    }

    /// Walks everything the parsers can reach; returns how many items were seen.
    fn walk(bytes: &[u8]) -> usize {
        let mut seen = 0;
        for m in NlMsgIter::new(bytes) {
            seen += 1;
            let Ok(m) = m else { continue };
            let _ = m.error();
            let _ = m.is_done();
            for attrs in [
                m.split::<IfInfoMsg>().map(|x| x.1),
                m.split::<RtMsg>().map(|x| x.1),
            ]
            .into_iter()
            .flatten()
            {
                for a in attrs.flatten() {
                    seen += 1;
                    let _ = (a.as_u8(), a.as_u16(), a.as_u32(), a.as_cstr_bytes());
                    seen += a.nested().count();
                }
            }
        }
        seen
    }

    proptest! {
        #[test]
        fn parsers_never_panic_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            // Each item consumes at least 4 bytes, so the walk is bounded by the input.
            prop_assert!(walk(&bytes) <= 3 * bytes.len() + 3);
        }

        #[test]
        fn parsers_never_panic_on_mutated_messages(
            attrs in proptest::collection::vec((any::<u16>(), proptest::collection::vec(any::<u8>(), 0..40)), 0..8),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
            cut in any::<usize>(),
        ) {
            let mut buf = [0u8; 1024];
            let mut b = MsgBuilder::new(&mut buf, RTM_NEWLINK, NlmFlags::REQUEST, 1).unwrap();
            b.push_struct(&IfInfoMsg::default()).unwrap();
            for (ty, p) in &attrs {
                b.push_attr(*ty, p).unwrap();
            }
            let mut bytes = b.finish().to_vec();
            // Unmutated, it parses back exactly.
            let m = NlMsgIter::new(&bytes).next().unwrap().unwrap();
            let back: Vec<_> = m.split::<IfInfoMsg>().unwrap().1.map(|a| a.unwrap()).map(|a| (a.raw_type, a.payload.to_vec())).collect();
            prop_assert_eq!(&back, &attrs);
            for (at, v) in flips {
                let n = bytes.len();
                bytes[at % n] = v;
            }
            let cut = cut % (bytes.len() + 1);
            walk(&bytes[..cut]);
            walk(&bytes);
        }
    }
}
