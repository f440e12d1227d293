//! Helpers shared by the socket tests.

use crate::fd::OwnedFd;
use crate::net::{
    AddressFamily, Protocol, SocketAddr, SocketAddrV4, SocketFlags, SocketType, bind, getsockname,
    listen, set_reuseaddr, socket,
};

/// `127.0.0.1`
pub(crate) const LOCAL4: [u8; 4] = [127, 0, 0, 1];
/// `::1`
pub(crate) const LOCAL6: [u16; 8] = [0, 0, 0, 0, 0, 0, 0, 1];

/// A close-on-exec TCP socket of `family` with extra `flags`.
pub(crate) fn tcp(family: AddressFamily, flags: SocketFlags) -> OwnedFd {
    socket(
        family,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | flags,
        Protocol::TCP,
    )
    .unwrap()
}

/// A TCP listener on an ephemeral port of 127.0.0.1, and its address.
pub(crate) fn listener_v4(flags: SocketFlags) -> (OwnedFd, SocketAddrV4) {
    let l = tcp(AddressFamily::INET, flags);
    set_reuseaddr(&l, true).unwrap();
    bind(&l, &SocketAddrV4::new(LOCAL4, 0)).unwrap();
    listen(&l, 8).unwrap();
    let SocketAddr::V4(a) = getsockname(&l).unwrap() else {
        panic!("not v4")
    };
    (l, a)
}

/// The IPv4 address the socket is bound to.
pub(crate) fn peer_v4(c: &OwnedFd) -> SocketAddrV4 {
    match getsockname(c).unwrap() {
        SocketAddr::V4(a) => a,
        other => panic!("{other:?}"),
    }
}
