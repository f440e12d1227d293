//! The netlink message format: the header, the error/ACK payload, header flags, the
//! plain-bytes [`NlStruct`] trait every kernel struct here implements, and [`NlMsgIter`], which
//! splits a received buffer into messages.

use core::mem::{offset_of, size_of};

use super::AttrIter;
use crate::Errno;

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

/// Keeps [`NlStruct`] implemented by this crate's structs only.
pub(crate) mod sealed {
    /// The supertrait that seals [`NlStruct`](super::NlStruct).
    pub trait Sealed {}
}

/// A netlink struct that is plain bytes: `#[repr(C)]`, integers only, no padding, so it can be
/// copied to and from a byte buffer. Implemented by the netlink structs of this crate only.
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

/// Implements [`NlStruct`] for kernel structs.
macro_rules! nl_struct {
    ($($t:ty),*) => {$(
        impl $crate::netlink::sealed::Sealed for $t {}
        // SAFETY: each of these is #[repr(C)] with integer fields only and its size asserted
        // equal to the sum of its fields, so it has no padding.
        unsafe impl $crate::netlink::NlStruct for $t {}
    )*};
}
pub(crate) use nl_struct;

nl_struct!(NlMsgHdr, NlMsgErr);

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

consts! { u16;
    NLMSG_NOOP = 1, "nothing; skip it";
    NLMSG_ERROR = 2, "an error or, with error 0, an ACK";
    NLMSG_DONE = 3, "end of a multipart reply";
    NLMSG_OVERRUN = 4, "data lost";
}

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
                _ => Err(Errno::EBADMSG),
            },
            None => Err(Errno::EBADMSG),
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
        let r = next_record(&mut self.rest, |h: &NlMsgHdr| h.nlmsg_len as usize)?;
        Some(r.map(|(header, payload)| NlMsg { header, payload }))
    }
}

/// Takes one length-prefixed record (a message or an attribute: `NLMSG_OK`/`NLMSG_NEXT`,
/// `RTA_OK`/`RTA_NEXT`) from the front of `rest`: its header `H`, whose length field `len`
/// reads, and the payload after the header up to that length; `rest` moves past the record and
/// its padding. `None` when `rest` is empty. A header that is short, or that claims less than
/// a header or more than `rest`, gives `Err(EBADMSG)` and empties `rest`, which ends the walk.
pub(super) fn next_record<'a, H: NlStruct>(
    rest: &mut &'a [u8],
    len: impl FnOnce(&H) -> usize,
) -> Option<crate::Result<(H, &'a [u8])>> {
    if rest.is_empty() {
        return None;
    }
    let buf = core::mem::take(rest);
    let Some(header) = H::read_from(buf) else {
        return Some(Err(Errno::EBADMSG));
    };
    let n = len(&header);
    if n < size_of::<H>() || n > buf.len() {
        return Some(Err(Errno::EBADMSG));
    }
    *rest = buf.get(nl_align(n)..).unwrap_or(&[]);
    Some(Ok((header, &buf[size_of::<H>()..n])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::testing::msg;
    use crate::netlink::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    #[test]
    fn iterators_reject_bad_lengths_once() {
        let mut buf = [0u8; 40];
        // A header claiming 200 bytes in a 40-byte buffer.
        buf[..4].copy_from_slice(&200u32.to_ne_bytes());
        let v: Vec<_> = NlMsgIter::new(&buf).collect();
        assert_eq!(v, [Err(Errno::EBADMSG)]);
        // A header claiming less than a header.
        buf[..4].copy_from_slice(&8u32.to_ne_bytes());
        assert_eq!(
            NlMsgIter::new(&buf).collect::<Vec<_>>(),
            [Err(Errno::EBADMSG)]
        );
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
            Some(Err(Errno::EBADMSG)),
            "error payload too short"
        );
        assert_eq!(
            NlMsgIter::new(&buf[..3]).collect::<Vec<_>>(),
            [Err(Errno::EBADMSG)]
        );
        // Attributes.
        assert_eq!(
            AttrIter::new(&[5, 0, 1, 0]).collect::<Vec<_>>(),
            [Err(Errno::EBADMSG)]
        );
        assert_eq!(
            AttrIter::new(&[2, 0, 1, 0]).collect::<Vec<_>>(),
            [Err(Errno::EBADMSG)]
        );
        assert_eq!(
            AttrIter::new(&[4, 0, 1]).collect::<Vec<_>>(),
            [Err(Errno::EBADMSG)]
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
        assert_eq!(
            msg(&h, &5i32.to_ne_bytes()).error(),
            Some(Err(Errno::EBADMSG))
        );
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
