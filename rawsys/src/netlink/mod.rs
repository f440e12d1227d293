//! Raw netlink, one file per concern: the message format ([`NlMsgHdr`], [`NlMsgIter`]),
//! attributes ([`RtAttr`], [`AttrIter`]), a message builder that writes into a caller's buffer
//! without allocating ([`MsgBuilder`]), rtnetlink's link, address and route messages, and the
//! `NETLINK_ROUTE` socket. The parsers validate every length of a received buffer: they never
//! read past it and never panic, whatever the bytes. nfnetlink (nftables) builds on this in
//! [`crate::nfnetlink`].
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

/// Defines documented `pub const`s of one type: `NAME = value, "what it is";`.
macro_rules! consts {
    ($ty:ty; $($name:ident = $v:expr, $doc:expr;)*) => {$(
        #[doc = concat!("`", stringify!($name), "`: ", $doc, ".")]
        pub const $name: $ty = $v;
    )*};
}
pub(crate) use consts;

mod attr;
mod builder;
mod message;
mod route;
mod socket;

#[cfg(test)]
mod testing;

pub use attr::*;
pub use builder::*;
pub use message::*;
pub use route::*;
pub use socket::*;

pub(crate) use message::{nl_struct, sealed};
pub(crate) use socket::bound_socket;

/// Re-exported from [`crate::nfnetlink`], where it belongs, for the paths that name it here.
#[doc(no_inline)]
pub use crate::nfnetlink::NfGenMsg;
