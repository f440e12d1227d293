//! Attributes: the `rtattr`/`nlattr` header and [`AttrIter`], which walks the attributes of a
//! payload (nested ones too, through [`Attr::nested`]).

use core::mem::offset_of;

use super::message::next_record;
use super::nl_struct;

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

nl_struct!(RtAttr);

consts! { u16;
    NLA_F_NESTED = 0x8000, "attribute type flag: the payload is attributes";
    NLA_F_NET_BYTEORDER = 0x4000, "attribute type flag: the payload is in network byte order";
    NLA_TYPE_MASK = 0x3fff, "the type bits of an attribute type";
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
/// `Err(EBADMSG)` on malformed input as [`NlMsgIter`](super::NlMsgIter).
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
        let r = next_record(&mut self.rest, |h: &RtAttr| h.rta_len as usize)?;
        Some(r.map(|(hdr, payload)| Attr {
            raw_type: hdr.rta_type,
            payload,
        }))
    }
}
