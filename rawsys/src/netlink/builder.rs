//! Building a message in a caller's buffer, without allocating.

use core::mem::size_of;

use super::{NlMsgHdr, NlStruct, NlmFlags, RtAttr, nl_align};
use crate::Errno;

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

    /// Appends a fixed struct such as [`IfInfoMsg`](super::IfInfoMsg) (normally right after
    /// the header).
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

    /// Opens a nested attribute of type `ty` (with [`NLA_F_NESTED`](super::NLA_F_NESTED) or'ed
    /// in by the caller if the family wants it); attributes pushed until
    /// [`end_nested`](Self::end_nested) go inside.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::*;
    use std::vec::Vec;

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
}
