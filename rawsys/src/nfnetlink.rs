//! Raw nfnetlink for nftables: the message types, attribute numbers and expression constants
//! of `linux/netfilter/nf_tables.h`, and a `NETLINK_NETFILTER` socket.
//!
//! Messages are built with [`crate::netlink::MsgBuilder`] (header, [`NfGenMsg`], attributes).
//! Changes to nftables travel in a batch: a [`NFNL_MSG_BATCH_BEGIN`] message, the changes, a
//! [`NFNL_MSG_BATCH_END`] message, all in one `sendto`; the kernel applies the batch
//! atomically. Unlike rtnetlink, nftables attributes that carry integers use network byte
//! order (`u32::to_be_bytes`).
//!
//! ```
//! use rawsys::netlink::{MsgBuilder, NlmFlags};
//! use rawsys::nfnetlink::*;
//!
//! // "nft add table ip t" as the middle message of a batch.
//! let mut buf = [0u8; 64];
//! let mut b = MsgBuilder::new(
//!     &mut buf,
//!     nft_msg_type(NFT_MSG_NEWTABLE),
//!     NlmFlags::REQUEST | NlmFlags::CREATE | NlmFlags::ACK,
//!     2,
//! )?;
//! b.push_struct(&NfGenMsg { nfgen_family: NFPROTO_IPV4, ..Default::default() })?;
//! b.push_attr_str(NFTA_TABLE_NAME, c"t")?;
//! assert_eq!(b.finish().len(), 16 + 4 + 8);
//! # Ok::<(), rawsys::Errno>(())
//! ```

use core::mem::offset_of;

use crate::fd::OwnedFd;
use crate::net::Protocol;
use crate::netlink::{bound_socket, consts, nl_struct};

/// `struct nfgenmsg`: the fixed part of every nfnetlink (netfilter) message, right after the
/// netlink header.
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

nl_struct!(NfGenMsg);

/// `NETLINK_NETFILTER`: the netlink family of netfilter (nftables, conntrack, ...).
pub const NETLINK_NETFILTER: Protocol = Protocol(12);

/// The message type of nftables message `msg` (`NFNL_SUBSYS_NFTABLES << 8 | msg`).
pub const fn nft_msg_type(msg: u16) -> u16 {
    (NFNL_SUBSYS_NFTABLES as u16) << 8 | msg
}

/// The [`NfGenMsg`] of batch begin and end messages: family unspecified, the subsystem in
/// `res_id` (network byte order).
pub const fn batch_genmsg() -> NfGenMsg {
    NfGenMsg {
        nfgen_family: 0,
        version: NFNETLINK_V0,
        res_id: (NFNL_SUBSYS_NFTABLES as u16).to_be(),
    }
}

consts! { u8;
    NFNETLINK_V0 = 0, "the nfnetlink version";
    NFNL_SUBSYS_NFTABLES = 10, "the nftables subsystem";
    NFPROTO_UNSPEC = 0, "any family";
    NFPROTO_INET = 1, "IPv4 and IPv6 (`inet` tables)";
    NFPROTO_IPV4 = 2, "IPv4 (`ip` tables)";
    NFPROTO_IPV6 = 10, "IPv6 (`ip6` tables)";
}

consts! { u16;
    NFNL_MSG_BATCH_BEGIN = 16, "opens a batch (type outside any subsystem)";
    NFNL_MSG_BATCH_END = 17, "commits a batch";
    NFT_MSG_NEWTABLE = 0, "create a table";
    NFT_MSG_GETTABLE = 1, "get tables";
    NFT_MSG_DELTABLE = 2, "delete a table and everything in it";
    NFT_MSG_NEWCHAIN = 3, "create a chain";
    NFT_MSG_GETCHAIN = 4, "get chains";
    NFT_MSG_DELCHAIN = 5, "delete a chain";
    NFT_MSG_NEWRULE = 6, "add a rule";
    NFT_MSG_GETRULE = 7, "get rules";
    NFT_MSG_DELRULE = 8, "delete a rule";
    NFTA_TABLE_NAME = 1, "table name (string)";
    NFTA_TABLE_FLAGS = 2, "table flags (be32)";
    NFTA_TABLE_USE = 3, "number of chains (be32)";
    NFTA_TABLE_HANDLE = 4, "table handle (be64)";
    NFTA_CHAIN_TABLE = 1, "chain's table (string)";
    NFTA_CHAIN_HANDLE = 2, "chain handle (be64)";
    NFTA_CHAIN_NAME = 3, "chain name (string)";
    NFTA_CHAIN_HOOK = 4, "nested NFTA_HOOK_*: makes a base chain";
    NFTA_CHAIN_POLICY = 5, "base chain policy (be32 verdict)";
    NFTA_CHAIN_TYPE = 7, "base chain type: \"filter\", \"nat\" or \"route\"";
    NFTA_HOOK_HOOKNUM = 1, "netfilter hook (be32 `NF_INET_*`)";
    NFTA_HOOK_PRIORITY = 2, "hook priority (be32, signed)";
    NFTA_RULE_TABLE = 1, "rule's table (string)";
    NFTA_RULE_CHAIN = 2, "rule's chain (string)";
    NFTA_RULE_HANDLE = 3, "rule handle (be64)";
    NFTA_RULE_EXPRESSIONS = 4, "nested list of NFTA_LIST_ELEM expressions";
    NFTA_RULE_POSITION = 6, "insert relative to this handle (be64)";
    NFTA_RULE_USERDATA = 7, "opaque user data (nft keeps comments here)";
    NFTA_LIST_ELEM = 1, "one element of a nested list";
    NFTA_EXPR_NAME = 1, "expression name: \"payload\", \"cmp\", \"nat\", ...";
    NFTA_EXPR_DATA = 2, "nested, expression-specific attributes";
    NFTA_DATA_VALUE = 1, "in NFTA_*_DATA: raw bytes";
    NFTA_IMMEDIATE_DREG = 1, "immediate: destination register (be32)";
    NFTA_IMMEDIATE_DATA = 2, "immediate: nested NFTA_DATA_VALUE";
    NFTA_PAYLOAD_DREG = 1, "payload: destination register (be32)";
    NFTA_PAYLOAD_BASE = 2, "payload: header base (be32 `NFT_PAYLOAD_*`)";
    NFTA_PAYLOAD_OFFSET = 3, "payload: byte offset in the header (be32)";
    NFTA_PAYLOAD_LEN = 4, "payload: byte count (be32)";
    NFTA_CMP_SREG = 1, "cmp: source register (be32)";
    NFTA_CMP_OP = 2, "cmp: operator (be32 `NFT_CMP_*`)";
    NFTA_CMP_DATA = 3, "cmp: nested NFTA_DATA_VALUE to compare with";
    NFTA_BITWISE_SREG = 1, "bitwise: source register (be32)";
    NFTA_BITWISE_DREG = 2, "bitwise: destination register (be32)";
    NFTA_BITWISE_LEN = 3, "bitwise: byte count (be32)";
    NFTA_BITWISE_MASK = 4, "bitwise: nested NFTA_DATA_VALUE to AND with";
    NFTA_BITWISE_XOR = 5, "bitwise: nested NFTA_DATA_VALUE to XOR with";
    NFTA_META_DREG = 1, "meta: destination register (be32)";
    NFTA_META_KEY = 2, "meta: what to load (be32 `NFT_META_*`)";
    NFTA_NAT_TYPE = 1, "nat: `NFT_NAT_SNAT` or `NFT_NAT_DNAT` (be32)";
    NFTA_NAT_FAMILY = 2, "nat: `NFPROTO_*` (be32)";
    NFTA_NAT_REG_ADDR_MIN = 3, "nat: register holding the address (be32)";
    NFTA_NAT_REG_ADDR_MAX = 4, "nat: register holding the last address of a range (be32)";
    NFTA_NAT_REG_PROTO_MIN = 5, "nat: register holding the port (be32)";
    NFTA_NAT_REG_PROTO_MAX = 6, "nat: register holding the last port of a range (be32)";
    NFTA_NAT_FLAGS = 7, "nat: `NF_NAT_RANGE_*` flags (be32)";
    NFTA_MASQ_FLAGS = 1, "masq: `NF_NAT_RANGE_*` flags (be32)";
    NFTA_FIB_DREG = 1, "fib: destination register (be32)";
    NFTA_FIB_RESULT = 2, "fib: what to return (be32 `NFT_FIB_RESULT_*`)";
    NFTA_FIB_FLAGS = 3, "fib: which lookup (be32 `NFTA_FIB_F_*`)";
}

consts! { u32;
    NF_INET_PRE_ROUTING = 0, "hook: packets arriving, before routing";
    NF_INET_LOCAL_IN = 1, "hook: packets for this host";
    NF_INET_FORWARD = 2, "hook: forwarded packets";
    NF_INET_LOCAL_OUT = 3, "hook: locally generated packets";
    NF_INET_POST_ROUTING = 4, "hook: packets leaving, after routing";
    NF_ACCEPT = 1, "verdict: accept";
    NFT_REG_VERDICT = 0, "the verdict register";
    NFT_REG_1 = 1, "the first 16-byte data register";
    NFT_REG_2 = 2, "the second 16-byte data register";
    NFT_REG_3 = 3, "the third 16-byte data register";
    NFT_PAYLOAD_LL_HEADER = 0, "payload base: link-layer header";
    NFT_PAYLOAD_NETWORK_HEADER = 1, "payload base: network (IP) header";
    NFT_PAYLOAD_TRANSPORT_HEADER = 2, "payload base: transport (TCP/UDP) header";
    NFT_CMP_EQ = 0, "cmp: equal";
    NFT_CMP_NEQ = 1, "cmp: not equal";
    NFT_META_L4PROTO = 16, "meta: the transport protocol number (1 byte)";
    NFT_NAT_SNAT = 0, "nat: source NAT";
    NFT_NAT_DNAT = 1, "nat: destination NAT";
    NF_NAT_RANGE_MAP_IPS = 1, "nat flag: an address is given";
    NF_NAT_RANGE_PROTO_SPECIFIED = 2, "nat flag: a port is given";
    NFTA_FIB_F_SADDR = 1, "fib flag: look up the source address";
    NFTA_FIB_F_DADDR = 2, "fib flag: look up the destination address";
    NFT_FIB_RESULT_OIF = 1, "fib result: output interface index";
    NFT_FIB_RESULT_ADDRTYPE = 3, "fib result: address type (`RTN_*`, host order u32)";
}

/// `socket(2)` + `bind(2)`: a close-on-exec `NETLINK_NETFILTER` socket bound to a port id the
/// kernel chooses.
pub fn netfilter_socket() -> crate::Result<OwnedFd> {
    bound_socket(NETLINK_NETFILTER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::net::{self, RecvFlags, SendFlags, SocketAddrNl};
    use crate::netlink::{MsgBuilder, NLMSG_ERROR, NlMsgIter, NlmFlags};
    use std::vec::Vec;

    /// Appends one message built by `f` to `out`.
    fn push(
        out: &mut Vec<u8>,
        ty: u16,
        flags: NlmFlags,
        seq: u32,
        g: NfGenMsg,
        f: impl FnOnce(&mut MsgBuilder<'_>),
    ) {
        let mut buf = [0u8; 512];
        let mut b = MsgBuilder::new(&mut buf, ty, flags, seq).unwrap();
        b.push_struct(&g).unwrap();
        f(&mut b);
        out.extend_from_slice(b.finish());
    }

    /// Sends `req` and returns the error codes of the `NLMSG_ERROR` replies (0 for an ACK) and
    /// the other replies' types, taking what the kernel queued during the send.
    fn send(fd: &OwnedFd, req: &[u8]) -> (Vec<i32>, Vec<u16>) {
        net::sendto(fd, req, SendFlags::empty(), &SocketAddrNl::new(0, 0)).unwrap();
        let (mut errs, mut others) = (Vec::new(), Vec::new());
        let mut buf = std::vec![0u8; 65536];
        loop {
            let n = match net::recv(fd, &mut buf, RecvFlags::DONTWAIT) {
                Ok(n) => n,
                Err(Errno::EAGAIN) => return (errs, others),
                Err(e) => panic!("{e}"),
            };
            for m in NlMsgIter::new(&buf[..n]) {
                let m = m.unwrap();
                if m.header.nlmsg_type == NLMSG_ERROR {
                    errs.push(match m.error().unwrap() {
                        Ok(()) => 0,
                        Err(e) => -e.raw(),
                    });
                } else {
                    others.push(m.header.nlmsg_type);
                }
            }
        }
    }

    fn ip() -> NfGenMsg {
        NfGenMsg {
            nfgen_family: NFPROTO_IPV4,
            ..Default::default()
        }
    }

    fn batch(body: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut v = Vec::new();
        push(
            &mut v,
            NFNL_MSG_BATCH_BEGIN,
            NlmFlags::REQUEST,
            1,
            batch_genmsg(),
            |_| {},
        );
        body(&mut v);
        push(
            &mut v,
            NFNL_MSG_BATCH_END,
            NlmFlags::REQUEST,
            99,
            batch_genmsg(),
            |_| {},
        );
        v
    }

    #[test]
    fn batch_creates_gets_and_deletes_a_table() {
        let name = std::format!("lp-test-nfnl-{}\0", std::process::id());
        let cname = core::ffi::CStr::from_bytes_with_nul(name.as_bytes()).unwrap();
        let fd = netfilter_socket().unwrap();
        struct Cleanup<'a>(&'a core::ffi::CStr);
        impl Drop for Cleanup<'_> {
            fn drop(&mut self) {
                let Ok(fd) = netfilter_socket() else { return };
                let req = batch(|v| {
                    push(
                        v,
                        nft_msg_type(NFT_MSG_DELTABLE),
                        NlmFlags::REQUEST,
                        2,
                        ip(),
                        |b| b.push_attr_str(NFTA_TABLE_NAME, self.0).unwrap(),
                    )
                });
                let _ = net::sendto(&fd, &req, SendFlags::empty(), &SocketAddrNl::new(0, 0));
            }
        }
        let _guard = Cleanup(cname);

        let get = |fd: &OwnedFd| {
            let mut v = Vec::new();
            push(
                &mut v,
                nft_msg_type(NFT_MSG_GETTABLE),
                NlmFlags::REQUEST | NlmFlags::ACK,
                5,
                ip(),
                |b| b.push_attr_str(NFTA_TABLE_NAME, cname).unwrap(),
            );
            send(fd, &v)
        };
        assert_eq!(get(&fd).0, [-(Errno::ENOENT.raw())]);

        let create = batch(|v| {
            push(
                v,
                nft_msg_type(NFT_MSG_NEWTABLE),
                NlmFlags::REQUEST | NlmFlags::CREATE | NlmFlags::ACK,
                2,
                ip(),
                |b| b.push_attr_str(NFTA_TABLE_NAME, cname).unwrap(),
            );
            push(
                v,
                nft_msg_type(NFT_MSG_NEWCHAIN),
                NlmFlags::REQUEST | NlmFlags::CREATE | NlmFlags::ACK,
                3,
                ip(),
                |b| {
                    b.push_attr_str(NFTA_CHAIN_TABLE, cname).unwrap();
                    b.push_attr_str(NFTA_CHAIN_NAME, c"post").unwrap();
                    let h = b
                        .begin_nested(NFTA_CHAIN_HOOK | crate::netlink::NLA_F_NESTED)
                        .unwrap();
                    b.push_attr(NFTA_HOOK_HOOKNUM, &NF_INET_POST_ROUTING.to_be_bytes())
                        .unwrap();
                    b.push_attr(NFTA_HOOK_PRIORITY, &100i32.to_be_bytes())
                        .unwrap();
                    b.end_nested(h).unwrap();
                    b.push_attr_str(NFTA_CHAIN_TYPE, c"nat").unwrap();
                },
            );
        });
        assert_eq!(send(&fd, &create).0, [0, 0], "both changes acknowledged");
        let (errs, others) = get(&fd);
        assert_eq!(
            others,
            [nft_msg_type(NFT_MSG_NEWTABLE)],
            "the table is there"
        );
        assert_eq!(errs, [0]);

        // A batch with an error is applied not at all: the new chain is refused with the
        // duplicate-creating one.
        let bad = batch(|v| {
            for seq in [3, 4] {
                push(
                    v,
                    nft_msg_type(NFT_MSG_NEWCHAIN),
                    NlmFlags::REQUEST | NlmFlags::CREATE | NlmFlags::EXCL | NlmFlags::ACK,
                    seq,
                    ip(),
                    |b| {
                        b.push_attr_str(NFTA_CHAIN_TABLE, cname).unwrap();
                        b.push_attr_str(NFTA_CHAIN_NAME, c"post").unwrap();
                    },
                );
            }
        });
        let (errs, _) = send(&fd, &bad);
        assert!(errs.contains(&-(Errno::EEXIST.raw())), "{errs:?}");

        let del = batch(|v| {
            push(
                v,
                nft_msg_type(NFT_MSG_DELTABLE),
                NlmFlags::REQUEST | NlmFlags::ACK,
                2,
                ip(),
                |b| b.push_attr_str(NFTA_TABLE_NAME, cname).unwrap(),
            )
        });
        assert_eq!(send(&fd, &del).0, [0]);
        assert_eq!(get(&fd).0, [-(Errno::ENOENT.raw())]);
    }

    #[test]
    fn message_types_and_batch_header() {
        assert_eq!(nft_msg_type(NFT_MSG_NEWRULE), 0x0a06);
        let g = batch_genmsg();
        assert_eq!(
            crate::netlink::NlStruct::as_bytes(&g),
            [0, 0, 0, 10],
            "res_id in network order"
        );
    }
}
