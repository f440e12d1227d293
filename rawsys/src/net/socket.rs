//! Creating sockets and connections: `socket`, `socketpair`, `bind`, `connect`, `listen`,
//! `accept4`, the local and peer names, `shutdown`.

use core::mem::size_of;

use super::addr::{AddressFamily, SockAddrArg, SockaddrStorage, SocketAddr};
use crate::fd::{AsFd, OwnedFd};
use crate::sys::{self, Sysno};

/// A socket type (`SOCK_*`), without the creation flags (those are [`SocketFlags`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct SocketType(pub u32);

impl SocketType {
    /// `SOCK_STREAM`: reliable byte stream (TCP).
    pub const STREAM: SocketType = SocketType(1);
    /// `SOCK_DGRAM`: datagrams (UDP).
    pub const DGRAM: SocketType = SocketType(2);
    /// `SOCK_RAW`: raw protocol access (netlink uses it too).
    pub const RAW: SocketType = SocketType(3);
    /// `SOCK_SEQPACKET`: reliable, ordered datagrams.
    pub const SEQPACKET: SocketType = SocketType(5);
}

bitflags::bitflags! {
    /// Creation flags or'ed into the type of [`socket`], [`socketpair`] and [`accept4`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct SocketFlags: u32 {
        /// `SOCK_NONBLOCK`
        const NONBLOCK = 0o4000;
        /// `SOCK_CLOEXEC`
        const CLOEXEC = 0o2000000;
    }
}

/// A protocol number for [`socket`]: an `IPPROTO_*` value, or a `NETLINK_*` family for
/// `AF_NETLINK`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct Protocol(pub u32);

impl Protocol {
    /// 0: the family's default protocol for the type.
    pub const DEFAULT: Protocol = Protocol(0);
    /// `IPPROTO_ICMP`
    pub const ICMP: Protocol = Protocol(1);
    /// `IPPROTO_TCP`
    pub const TCP: Protocol = Protocol(6);
    /// `IPPROTO_UDP`
    pub const UDP: Protocol = Protocol(17);
    /// `IPPROTO_ICMPV6`
    pub const ICMPV6: Protocol = Protocol(58);
    /// `NETLINK_ROUTE`: routing and link configuration (rtnetlink).
    pub const NETLINK_ROUTE: Protocol = Protocol(0);
}

/// `socket(2)`: a new socket.
pub fn socket(
    family: AddressFamily,
    ty: SocketType,
    flags: SocketFlags,
    protocol: Protocol,
) -> crate::Result<OwnedFd> {
    // SAFETY: takes only integers.
    unsafe {
        sys::syscall3(
            Sysno::socket,
            family.0 as usize,
            (ty.0 | flags.bits()) as usize,
            protocol.0 as usize,
        )
    }
    .map(sys::ret_fd)
}

/// `socketpair(2)`: two connected sockets (`AF_UNIX` on Linux).
pub fn socketpair(
    family: AddressFamily,
    ty: SocketType,
    flags: SocketFlags,
    protocol: Protocol,
) -> crate::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1i32; 2];
    // SAFETY: `fds` has room for the two ints the kernel writes.
    unsafe {
        sys::syscall4(
            Sysno::socketpair,
            family.0 as usize,
            (ty.0 | flags.bits()) as usize,
            protocol.0 as usize,
            sys::by_mut(&mut fds),
        )
    }?;
    Ok((sys::ret_fd(fds[0] as usize), sys::ret_fd(fds[1] as usize)))
}

/// `bind(2)`: gives the socket a local address.
pub fn bind(fd: impl AsFd, addr: &impl SockAddrArg) -> crate::Result<()> {
    let (p, len) = addr.as_raw();
    // SAFETY: `p` points to `len` readable bytes of a kernel-layout address (or is null, 0).
    unsafe { sys::syscall3(Sysno::bind, sys::fd_arg(fd), p as usize, len as usize) }.map(drop)
}

/// `connect(2)`: connects to `addr` (for datagram sockets: sets the default destination).
/// A non-blocking stream socket fails with `EINPROGRESS` and completes later (check
/// [`take_socket_error`](super::take_socket_error) once writable).
pub fn connect(fd: impl AsFd, addr: &impl SockAddrArg) -> crate::Result<()> {
    let (p, len) = addr.as_raw();
    // SAFETY: as for bind.
    unsafe { sys::syscall3(Sysno::connect, sys::fd_arg(fd), p as usize, len as usize) }.map(drop)
}

/// `listen(2)`: marks a bound socket as accepting connections with a queue of `backlog`.
pub fn listen(fd: impl AsFd, backlog: i32) -> crate::Result<()> {
    // SAFETY: takes only integers.
    unsafe { sys::syscall2(Sysno::listen, sys::fd_arg(fd), backlog as isize as usize) }.map(drop)
}

/// `accept4(2)`: takes a pending connection, returning its socket (with `flags`) and the
/// peer's address. A non-blocking listener with none pending fails with `EAGAIN`.
pub fn accept4(fd: impl AsFd, flags: SocketFlags) -> crate::Result<(OwnedFd, SocketAddr)> {
    let mut st = SockaddrStorage::new();
    let mut len = size_of::<SockaddrStorage>() as u32;
    // SAFETY: `st` is writable for `len` bytes and `len` is a writable u32.
    let fd = unsafe {
        sys::syscall4(
            Sysno::accept4,
            sys::fd_arg(fd),
            sys::by_mut(&mut st.0),
            sys::by_mut(&mut len),
            flags.bits() as usize,
        )
    }
    .map(sys::ret_fd)?;
    Ok((fd, st.decode(len)))
}

fn name_call(nr: Sysno, fd: impl AsFd) -> crate::Result<SocketAddr> {
    let mut st = SockaddrStorage::new();
    let mut len = size_of::<SockaddrStorage>() as u32;
    // SAFETY: `st` is writable for `len` bytes and `len` is a writable u32.
    unsafe {
        sys::syscall3(
            nr,
            sys::fd_arg(fd),
            sys::by_mut(&mut st.0),
            sys::by_mut(&mut len),
        )
    }?;
    Ok(st.decode(len))
}

/// `getsockname(2)`: the socket's local address.
pub fn getsockname(fd: impl AsFd) -> crate::Result<SocketAddr> {
    name_call(Sysno::getsockname, fd)
}

/// `getpeername(2)`: the address of the connected peer (`ENOTCONN` if none).
pub fn getpeername(fd: impl AsFd) -> crate::Result<SocketAddr> {
    name_call(Sysno::getpeername, fd)
}

/// Which directions [`shutdown`] closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Shutdown {
    /// `SHUT_RD`
    Read = 0,
    /// `SHUT_WR`: the peer reads end-of-file.
    Write = 1,
    /// `SHUT_RDWR`
    Both = 2,
}

/// `shutdown(2)`: closes one or both directions of a connection.
pub fn shutdown(fd: impl AsFd, how: Shutdown) -> crate::Result<()> {
    // SAFETY: takes only integers.
    unsafe { sys::syscall2(Sysno::shutdown, sys::fd_arg(fd), how as i32 as usize) }.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::epoll::{self, EpollEvent, EpollFlags};
    use crate::io;
    use crate::net::testing::*;
    use crate::net::*;

    #[test]
    fn tcp_v4_connect_accept_transfer_shutdown() {
        let (l, laddr) = listener_v4(SocketFlags::empty());
        assert_eq!(laddr.ip(), LOCAL4);
        assert_ne!(laddr.port(), 0);
        let c = tcp(AddressFamily::INET, SocketFlags::empty());
        assert_eq!(getpeername(&c), Err(Errno::ENOTCONN));
        connect(&c, &laddr).unwrap();
        let (s, peer) = accept4(&l, SocketFlags::CLOEXEC).unwrap();
        assert!(
            io::fcntl_getfd(&s).unwrap().contains(io::FdFlags::CLOEXEC),
            "from accept4"
        );
        assert_eq!(SocketAddr::V4(peer_v4(&c)), peer);
        assert_eq!(getpeername(&c).unwrap(), SocketAddr::V4(laddr));
        assert_eq!(getpeername(&s).unwrap(), peer);
        assert_eq!(socket_type(&s).unwrap(), SocketType::STREAM);

        assert_eq!(
            send(&c, b"hello ", SendFlags::NOSIGNAL | SendFlags::MORE).unwrap(),
            6
        );
        assert_eq!(send(&c, b"world", SendFlags::NOSIGNAL).unwrap(), 5);
        let mut buf = [0u8; 11];
        assert_eq!(
            recv(&s, &mut buf[..5], RecvFlags::PEEK | RecvFlags::WAITALL).unwrap(),
            5
        );
        assert_eq!(&buf[..5], b"hello");
        assert_eq!(recv(&s, &mut buf, RecvFlags::WAITALL).unwrap(), 11);
        assert_eq!(&buf, b"hello world");
        assert_eq!(recv(&s, &mut buf, RecvFlags::DONTWAIT), Err(Errno::EAGAIN));

        // Half close: the server reads end-of-file but can still answer.
        shutdown(&c, Shutdown::Write).unwrap();
        assert_eq!(recv(&s, &mut buf, RecvFlags::empty()).unwrap(), 0);
        assert_eq!(send(&c, b"x", SendFlags::NOSIGNAL), Err(Errno::EPIPE));
        send(&s, b"bye", SendFlags::NOSIGNAL).unwrap();
        let (n, from) = recvfrom(&c, &mut buf[..3], RecvFlags::WAITALL).unwrap();
        assert_eq!((&buf[..n], from), (&b"bye"[..], SocketAddr::Unspec));

        // After the peer is gone entirely, MSG_NOSIGNAL turns SIGPIPE into EPIPE.
        drop(c);
        let mut r = Ok(0);
        for _ in 0..100 {
            r = send(&s, b"more", SendFlags::NOSIGNAL);
            if r.is_err() {
                break;
            }
            std::thread::sleep(core::time::Duration::from_millis(1));
        }
        assert!(matches!(r, Err(Errno::EPIPE | Errno::ECONNRESET)), "{r:?}");
    }

    #[test]
    fn tcp_v6_on_loopback() {
        let l = tcp(AddressFamily::INET6, SocketFlags::empty());
        set_ipv6_v6only(&l, true).unwrap();
        assert!(ipv6_v6only(&l).unwrap());
        bind(&l, &SocketAddrV6::new(LOCAL6, 0)).unwrap();
        listen(&l, 4).unwrap();
        let SocketAddr::V6(laddr) = getsockname(&l).unwrap() else {
            panic!()
        };
        assert_eq!(laddr.segments(), LOCAL6);
        let c = tcp(AddressFamily::INET6, SocketFlags::empty());
        connect(&c, &laddr).unwrap();
        let (s, peer) = accept4(&l, SocketFlags::CLOEXEC).unwrap();
        let SocketAddr::V6(p) = peer else {
            panic!("{peer:?}")
        };
        assert_eq!(p.segments(), LOCAL6);
        assert_eq!(getsockname(&c).unwrap(), peer);
        send(&c, b"v6", SendFlags::NOSIGNAL).unwrap();
        let mut b = [0u8; 2];
        assert_eq!(recv(&s, &mut b, RecvFlags::WAITALL).unwrap(), 2);
        assert_eq!(&b, b"v6");
        shutdown(&s, Shutdown::Both).unwrap();
        assert_eq!(recv(&c, &mut b, RecvFlags::empty()).unwrap(), 0);
    }

    #[test]
    fn nonblocking_accept_and_connect() {
        let (l, laddr) = listener_v4(SocketFlags::NONBLOCK);
        assert_eq!(
            accept4(&l, SocketFlags::empty()).map(drop),
            Err(Errno::EAGAIN)
        );
        let c = tcp(AddressFamily::INET, SocketFlags::NONBLOCK);
        match connect(&c, &laddr) {
            Ok(()) | Err(Errno::EINPROGRESS) => {}
            Err(e) => panic!("{e:?}"),
        }
        // Wait for the connection to be established, then for it to be acceptable.
        let ep = epoll::epoll_create1(epoll::EpollCreateFlags::CLOEXEC).unwrap();
        epoll::epoll_ctl_add(&ep, &c, EpollEvent::new(EpollFlags::OUT, 1)).unwrap();
        let mut evs = [EpollEvent::default(); 1];
        assert_eq!(epoll::epoll_pwait(&ep, &mut evs, 5000, None), Ok(1));
        assert_eq!(take_socket_error(&c).unwrap(), None);
        epoll::epoll_ctl_add(&ep, &l, EpollEvent::new(EpollFlags::IN, 2)).unwrap();
        epoll::epoll_ctl_delete(&ep, &c).unwrap();
        assert_eq!(epoll::epoll_pwait(&ep, &mut evs, 5000, None), Ok(1));
        let (s, _) = accept4(&l, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC).unwrap();
        let mut b = [0u8; 4];
        assert_eq!(
            recv(&s, &mut b, RecvFlags::empty()),
            Err(Errno::EAGAIN),
            "accepted non-blocking"
        );
    }

    #[test]
    fn refused_connect_sets_so_error() {
        // A port that was just free: bind, learn the port, close without listening.
        let probe = tcp(AddressFamily::INET, SocketFlags::empty());
        bind(&probe, &SocketAddrV4::new(LOCAL4, 0)).unwrap();
        let port = peer_v4(&probe).port();
        drop(probe);
        let c = tcp(AddressFamily::INET, SocketFlags::NONBLOCK);
        match connect(&c, &SocketAddrV4::new(LOCAL4, port)) {
            Err(Errno::ECONNREFUSED) => {}
            Err(Errno::EINPROGRESS) => {
                let ep = epoll::epoll_create1(epoll::EpollCreateFlags::CLOEXEC).unwrap();
                epoll::epoll_ctl_add(&ep, &c, EpollEvent::new(EpollFlags::OUT, 1)).unwrap();
                let mut evs = [EpollEvent::default(); 1];
                assert_eq!(epoll::epoll_pwait(&ep, &mut evs, 5000, None), Ok(1));
                assert_eq!(take_socket_error(&c).unwrap(), Some(Errno::ECONNREFUSED));
                assert_eq!(take_socket_error(&c).unwrap(), None, "reading clears it");
            }
            other => panic!("{other:?}"),
        }
    }
}
