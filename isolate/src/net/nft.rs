//! NAT through nftables over nfnetlink: one `ip` table with three nat base chains, a
//! masquerade for the bridge's subnet, and per-container DNAT rules for published ports.
//!
//! `nft list table ip lp_nat` then shows (for the default subnet):
//!
//! ```text
//! table ip lp_nat {
//!     chain postrouting {
//!         type nat hook postrouting priority srcnat; policy accept;
//!         ip saddr 172.29.0.0/16 ip daddr != 172.29.0.0/16 masquerade comment "lp0 masquerade"
//!         ip saddr 127.0.0.0/8 ip daddr 172.29.0.0/16 masquerade comment "lp0 masquerade"
//!     }
//!     chain prerouting {
//!         type nat hook prerouting priority dstnat; policy accept;
//!         fib daddr type local tcp dport 8080 dnat to 172.29.0.2:80 comment "isolate-1-0 172.29.0.2"
//!     }
//!     chain output { ... the same DNAT rules ... }
//! }
//! ```
//!
//! Every rule carries a comment naming its owner, which is how a container's rules are found
//! and deleted again (also those of a crashed owner, found through its stale lease).

use alloc::string::String;
use alloc::vec::Vec;

use rawsys::Errno;
use rawsys::netlink::{MsgBuilder, NLA_F_NESTED, NfGenMsg, NlmFlags};
use rawsys::nfnetlink::*;

use super::nl::{Nl, message, push_str};
use super::{Ipv4Net, PortMapping};

/// `NFTNL_UDATA_RULE_COMMENT`: the user-data TLV type nft shows as `comment "..."`.
const UDATA_COMMENT: u8 = 0;

fn ipv4() -> NfGenMsg {
    NfGenMsg {
        nfgen_family: NFPROTO_IPV4,
        ..Default::default()
    }
}

/// A batch of nftables changes, each acknowledged.
struct Batch {
    bytes: Vec<u8>,
    n: usize,
}

impl Batch {
    fn new() -> Result<Batch, Errno> {
        let begin = message(
            NFNL_MSG_BATCH_BEGIN,
            NlmFlags::REQUEST,
            &batch_genmsg(),
            |_| Ok(()),
        )?;
        Ok(Batch { bytes: begin, n: 0 })
    }

    fn push(
        &mut self,
        msg: u16,
        flags: NlmFlags,
        attrs: impl FnOnce(&mut MsgBuilder<'_>) -> Result<(), Errno>,
    ) -> Result<(), Errno> {
        let m = message(
            nft_msg_type(msg),
            NlmFlags::REQUEST | NlmFlags::ACK | flags,
            &ipv4(),
            attrs,
        )?;
        self.bytes.extend_from_slice(&m);
        self.n += 1;
        Ok(())
    }

    fn commit(mut self, nl: &mut Nl) -> Result<(), Errno> {
        if self.n == 0 {
            return Ok(());
        }
        let end = message(
            NFNL_MSG_BATCH_END,
            NlmFlags::REQUEST,
            &batch_genmsg(),
            |_| Ok(()),
        )?;
        self.bytes.extend_from_slice(&end);
        nl.transact(self.bytes, self.n)
    }
}

fn be32(b: &mut MsgBuilder<'_>, ty: u16, v: u32) -> Result<(), Errno> {
    b.push_attr(ty, &v.to_be_bytes())
}

fn data(b: &mut MsgBuilder<'_>, ty: u16, value: &[u8]) -> Result<(), Errno> {
    let n = b.begin_nested(ty | NLA_F_NESTED)?;
    b.push_attr(NFTA_DATA_VALUE, value)?;
    b.end_nested(n)
}

fn expr(
    b: &mut MsgBuilder<'_>,
    name: &str,
    body: impl FnOnce(&mut MsgBuilder<'_>) -> Result<(), Errno>,
) -> Result<(), Errno> {
    let e = b.begin_nested(NFTA_LIST_ELEM | NLA_F_NESTED)?;
    push_str(b, NFTA_EXPR_NAME, name)?;
    let d = b.begin_nested(NFTA_EXPR_DATA | NLA_F_NESTED)?;
    body(b)?;
    b.end_nested(d)?;
    b.end_nested(e)
}

/// `ip saddr|daddr (==|!=) net`: load the address, mask it, compare.
fn match_net(b: &mut MsgBuilder<'_>, offset: u32, net: Ipv4Net, op: u32) -> Result<(), Errno> {
    expr(b, "payload", |b| {
        be32(b, NFTA_PAYLOAD_DREG, NFT_REG_1)?;
        be32(b, NFTA_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER)?;
        be32(b, NFTA_PAYLOAD_OFFSET, offset)?;
        be32(b, NFTA_PAYLOAD_LEN, 4)
    })?;
    expr(b, "bitwise", |b| {
        be32(b, NFTA_BITWISE_SREG, NFT_REG_1)?;
        be32(b, NFTA_BITWISE_DREG, NFT_REG_1)?;
        be32(b, NFTA_BITWISE_LEN, 4)?;
        data(b, NFTA_BITWISE_MASK, &net.mask().to_be_bytes())?;
        data(b, NFTA_BITWISE_XOR, &[0; 4])
    })?;
    cmp(b, op, &net.addr)
}

fn cmp(b: &mut MsgBuilder<'_>, op: u32, value: &[u8]) -> Result<(), Errno> {
    expr(b, "cmp", |b| {
        be32(b, NFTA_CMP_SREG, NFT_REG_1)?;
        be32(b, NFTA_CMP_OP, op)?;
        data(b, NFTA_CMP_DATA, value)
    })
}

fn comment(b: &mut MsgBuilder<'_>, text: &str) -> Result<(), Errno> {
    // One TLV: type, length (with the NUL), the string.
    let len = u8::try_from(text.len() + 1).map_err(|_| Errno::ENAMETOOLONG)?;
    let mut u = Vec::with_capacity(text.len() + 3);
    u.extend_from_slice(&[UDATA_COMMENT, len]);
    u.extend_from_slice(text.as_bytes());
    u.push(0);
    b.push_attr(NFTA_RULE_USERDATA, &u)
}

fn rule(
    batch: &mut Batch,
    table: &str,
    chain: &str,
    note: &str,
    exprs: impl FnOnce(&mut MsgBuilder<'_>) -> Result<(), Errno>,
) -> Result<(), Errno> {
    batch.push(NFT_MSG_NEWRULE, NlmFlags::CREATE | NlmFlags::APPEND, |b| {
        push_str(b, NFTA_RULE_TABLE, table)?;
        push_str(b, NFTA_RULE_CHAIN, chain)?;
        let l = b.begin_nested(NFTA_RULE_EXPRESSIONS | NLA_F_NESTED)?;
        exprs(b)?;
        b.end_nested(l)?;
        comment(b, note)
    })
}

/// Whether table `ip <table>` exists.
pub(crate) fn table_exists(nl: &mut Nl, table: &str) -> Result<bool, Errno> {
    let req = message(
        nft_msg_type(NFT_MSG_GETTABLE),
        NlmFlags::REQUEST,
        &ipv4(),
        |b| push_str(b, NFTA_TABLE_NAME, table),
    )?;
    match nl.request(req, |_| {}) {
        Ok(()) => Ok(true),
        Err(Errno::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The base chains: name, hook, priority.
const CHAINS: [(&str, u32, i32); 3] = [
    ("postrouting", NF_INET_POST_ROUTING, 100),
    ("prerouting", NF_INET_PRE_ROUTING, -100),
    ("output", NF_INET_LOCAL_OUT, -100),
];

/// Creates table `ip <table>` with its chains and the masquerade rules for `subnet`, in one
/// atomic batch (`EEXIST` if another process created the table first).
pub(crate) fn create_nat(
    nl: &mut Nl,
    table: &str,
    subnet: Ipv4Net,
    bridge: &str,
) -> Result<(), Errno> {
    let mut batch = Batch::new()?;
    batch.push(NFT_MSG_NEWTABLE, NlmFlags::CREATE | NlmFlags::EXCL, |b| {
        push_str(b, NFTA_TABLE_NAME, table)
    })?;
    for (name, hook, prio) in CHAINS {
        batch.push(NFT_MSG_NEWCHAIN, NlmFlags::CREATE, |b| {
            push_str(b, NFTA_CHAIN_TABLE, table)?;
            push_str(b, NFTA_CHAIN_NAME, name)?;
            let h = b.begin_nested(NFTA_CHAIN_HOOK | NLA_F_NESTED)?;
            be32(b, NFTA_HOOK_HOOKNUM, hook)?;
            b.push_attr(NFTA_HOOK_PRIORITY, &prio.to_be_bytes())?;
            b.end_nested(h)?;
            be32(b, NFTA_CHAIN_POLICY, NF_ACCEPT)?;
            push_str(b, NFTA_CHAIN_TYPE, "nat")
        })?;
    }
    let mut note = String::from(bridge);
    note.push_str(" masquerade");
    // Containers going anywhere but their own subnet leave with the host's address.
    rule(&mut batch, table, "postrouting", &note, |b| {
        match_net(b, 12, subnet, NFT_CMP_EQ)?;
        match_net(b, 16, subnet, NFT_CMP_NEQ)?;
        expr(b, "masq", |_| Ok(()))
    })?;
    // Published ports reached at 127.0.0.1 from the host: the reply must come back to an
    // address the container can route to (the bridge's).
    let lo = Ipv4Net {
        addr: [127, 0, 0, 0],
        prefix: 8,
    };
    rule(&mut batch, table, "postrouting", &note, |b| {
        match_net(b, 12, lo, NFT_CMP_EQ)?;
        match_net(b, 16, subnet, NFT_CMP_EQ)?;
        expr(b, "masq", |_| Ok(()))
    })?;
    batch.commit(nl)
}

/// Adds `fib daddr type local <proto> dport H dnat to ip:C` to prerouting and output for each
/// mapping, with comment `owner`.
pub(crate) fn add_dnat(
    nl: &mut Nl,
    table: &str,
    ports: &[PortMapping],
    ip: [u8; 4],
    owner: &str,
) -> Result<(), Errno> {
    let mut batch = Batch::new()?;
    for chain in ["prerouting", "output"] {
        for p in ports {
            rule(&mut batch, table, chain, owner, |b| {
                expr(b, "fib", |b| {
                    be32(b, NFTA_FIB_DREG, NFT_REG_1)?;
                    be32(b, NFTA_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE)?;
                    be32(b, NFTA_FIB_FLAGS, NFTA_FIB_F_DADDR)
                })?;
                cmp(
                    b,
                    NFT_CMP_EQ,
                    &u32::from(rawsys::netlink::RTN_LOCAL).to_ne_bytes(),
                )?;
                expr(b, "meta", |b| {
                    be32(b, NFTA_META_DREG, NFT_REG_1)?;
                    be32(b, NFTA_META_KEY, NFT_META_L4PROTO)
                })?;
                cmp(b, NFT_CMP_EQ, &[p.proto.number()])?;
                expr(b, "payload", |b| {
                    be32(b, NFTA_PAYLOAD_DREG, NFT_REG_1)?;
                    be32(b, NFTA_PAYLOAD_BASE, NFT_PAYLOAD_TRANSPORT_HEADER)?;
                    be32(b, NFTA_PAYLOAD_OFFSET, 2)?;
                    be32(b, NFTA_PAYLOAD_LEN, 2)
                })?;
                cmp(b, NFT_CMP_EQ, &p.host_port.to_be_bytes())?;
                expr(b, "immediate", |b| {
                    be32(b, NFTA_IMMEDIATE_DREG, NFT_REG_1)?;
                    data(b, NFTA_IMMEDIATE_DATA, &ip)
                })?;
                expr(b, "immediate", |b| {
                    be32(b, NFTA_IMMEDIATE_DREG, NFT_REG_2)?;
                    data(b, NFTA_IMMEDIATE_DATA, &p.container_port.to_be_bytes())
                })?;
                expr(b, "nat", |b| {
                    be32(b, NFTA_NAT_TYPE, NFT_NAT_DNAT)?;
                    be32(b, NFTA_NAT_FAMILY, u32::from(NFPROTO_IPV4))?;
                    be32(b, NFTA_NAT_REG_ADDR_MIN, NFT_REG_1)?;
                    be32(b, NFTA_NAT_REG_PROTO_MIN, NFT_REG_2)
                })
            })?;
        }
    }
    batch.commit(nl)
}

/// Deletes every rule of table `ip <table>` whose comment is `owner`; returns how many.
/// A missing table counts as nothing to delete.
///
/// Other processes change the same table at the same time (their own rules): a dump that the
/// kernel marks interrupted (`NLM_F_DUMP_INTR`) may list a rule twice or miss one, and a batch
/// that names a handle which is already gone fails whole with `ENOENT`. Both are retried from
/// a fresh dump, a few times.
pub(crate) fn delete_owned(nl: &mut Nl, table: &str, owner: &str) -> Result<usize, Errno> {
    let mut deleted = 0;
    for _ in 0..8 {
        let (found, interrupted) = match owned_rules(nl, table, owner)? {
            Some(r) => r,
            None => return Ok(deleted),
        };
        if found.is_empty() {
            if interrupted {
                continue;
            }
            return Ok(deleted);
        }
        let mut batch = Batch::new()?;
        for (chain, handle) in &found {
            batch.push(NFT_MSG_DELRULE, NlmFlags::empty(), |b| {
                push_str(b, NFTA_RULE_TABLE, table)?;
                push_str(b, NFTA_RULE_CHAIN, chain)?;
                b.push_attr(NFTA_RULE_HANDLE, handle)
            })?;
        }
        match batch.commit(nl) {
            Ok(()) if !interrupted => return Ok(deleted + found.len()),
            // Deleted; an interrupted dump may have missed one: look again.
            Ok(()) => deleted += found.len(),
            // One of them was gone already and the batch did nothing: look again.
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
    }
    Err(Errno::EAGAIN)
}

/// A rule's chain and its 8-byte handle.
type RuleRef = (String, [u8; 8]);

/// The (chain, handle) of every rule of table `ip <table>` whose comment is `owner`, without
/// duplicates, and whether the dump was interrupted; `None` if the table does not exist.
fn owned_rules(
    nl: &mut Nl,
    table: &str,
    owner: &str,
) -> Result<Option<(Vec<RuleRef>, bool)>, Errno> {
    let req = message(
        nft_msg_type(NFT_MSG_GETRULE),
        NlmFlags::REQUEST | NlmFlags::DUMP,
        &ipv4(),
        |b| push_str(b, NFTA_RULE_TABLE, table),
    )?;
    let mut found: Vec<RuleRef> = Vec::new();
    let mut interrupted = false;
    let r = nl.request(req, |m| {
        if m.flags().contains(NlmFlags::DUMP_INTR) {
            interrupted = true;
        }
        if m.header.nlmsg_type != nft_msg_type(NFT_MSG_NEWRULE) {
            return;
        }
        let Some((_, attrs)) = m.split::<NfGenMsg>() else {
            return;
        };
        let (mut t, mut chain, mut handle, mut note) = (None, None, None, None);
        for a in attrs.flatten() {
            match a.kind() {
                NFTA_RULE_TABLE => t = Some(a.as_cstr_bytes()),
                NFTA_RULE_CHAIN => chain = Some(a.as_cstr_bytes()),
                NFTA_RULE_HANDLE => handle = <[u8; 8]>::try_from(a.payload).ok(),
                NFTA_RULE_USERDATA => note = comment_of(a.payload),
                _ => {}
            }
        }
        if let (Some(t), Some(c), Some(h), Some(n)) = (t, chain, handle, note) {
            if t == table.as_bytes() && n == owner.as_bytes() {
                found.push((String::from_utf8_lossy(c).into_owned(), h));
            }
        }
    });
    match r {
        Ok(()) => {}
        Err(Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(e),
    }
    found.sort();
    found.dedup();
    Ok(Some((found, interrupted)))
}

/// The comment in a rule's user data (TLVs of type, length, value), without its NUL.
fn comment_of(udata: &[u8]) -> Option<&[u8]> {
    let mut rest = udata;
    while let [ty, len, tail @ ..] = rest {
        let len = usize::from(*len);
        let value = tail.get(..len)?;
        if *ty == UDATA_COMMENT {
            return Some(value.split(|b| *b == 0).next().unwrap_or(value));
        }
        rest = &tail[len..];
    }
    None
}

/// Deletes table `ip <table>` and everything in it (for tests and explicit teardown).
pub(crate) fn delete_table(nl: &mut Nl, table: &str) -> Result<(), Errno> {
    let mut batch = Batch::new()?;
    batch.push(NFT_MSG_DELTABLE, NlmFlags::empty(), |b| {
        push_str(b, NFTA_TABLE_NAME, table)
    })?;
    batch.commit(nl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_found_in_user_data_and_garbage_is_not() {
        assert_eq!(comment_of(&[0, 3, b'a', b'b', 0]), Some(&b"ab"[..]));
        assert_eq!(comment_of(&[1, 1, 9, 0, 2, b'x', 0]), Some(&b"x"[..]));
        assert_eq!(comment_of(&[0, 9, b'a']), None);
        assert_eq!(comment_of(&[]), None);
        assert_eq!(comment_of(&[5]), None);
    }
}
