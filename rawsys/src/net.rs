//! Sockets: creation, addresses in the kernel's own layout, connecting and accepting, socket
//! options, and data transfer with `sendto`/`recvfrom` and `sendmsg`/`recvmsg` (including
//! descriptor passing with `SCM_RIGHTS`).
//!
//! ```
//! use rawsys::net::*;
//!
//! let listener = socket(AddressFamily::INET, SocketType::STREAM, SocketFlags::CLOEXEC, Protocol::DEFAULT)?;
//! bind(&listener, &SocketAddrV4::new([127, 0, 0, 1], 0))?;
//! listen(&listener, 16)?;
//! let SocketAddr::V4(local) = getsockname(&listener)? else { unreachable!() };
//!
//! let client = socket(AddressFamily::INET, SocketType::STREAM, SocketFlags::CLOEXEC, Protocol::DEFAULT)?;
//! connect(&client, &local)?;
//! let (server, _peer) = accept4(&listener, SocketFlags::CLOEXEC)?;
//! send(&client, b"hi", SendFlags::NOSIGNAL)?;
//! let mut buf = [0u8; 2];
//! assert_eq!(recv(&server, &mut buf, RecvFlags::WAITALL)?, 2);
//! assert_eq!(&buf, b"hi");
//! # Ok::<(), rawsys::Errno>(())
//! ```

use core::fmt;
use core::marker::PhantomData;
use core::mem::{offset_of, size_of};

use crate::Errno;
use crate::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use crate::sys::{self, Sysno};

/// An address family (`AF_*`), the first field of every socket address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct AddressFamily(pub u16);

impl AddressFamily {
    /// `AF_UNSPEC`
    pub const UNSPEC: AddressFamily = AddressFamily(0);
    /// `AF_UNIX`: local sockets.
    pub const UNIX: AddressFamily = AddressFamily(1);
    /// `AF_INET`: IPv4.
    pub const INET: AddressFamily = AddressFamily(2);
    /// `AF_INET6`: IPv6.
    pub const INET6: AddressFamily = AddressFamily(10);
    /// `AF_NETLINK`: kernel/user messaging (see [`crate::netlink`]).
    pub const NETLINK: AddressFamily = AddressFamily(16);
    /// `AF_PACKET`: raw link-level packets.
    pub const PACKET: AddressFamily = AddressFamily(17);
}

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

// ---------------------------------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------------------------------

/// An IPv4 socket address laid out as the kernel's `struct sockaddr_in` (port and address in
/// network byte order).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct SocketAddrV4 {
    sin_family: u16,
    sin_port: u16,
    sin_addr: [u8; 4],
    sin_zero: [u8; 8],
}

static_assertions::assert_eq_size!(SocketAddrV4, [u8; 16]);
static_assertions::const_assert_eq!(offset_of!(SocketAddrV4, sin_family), 0);
static_assertions::const_assert_eq!(offset_of!(SocketAddrV4, sin_port), 2);
static_assertions::const_assert_eq!(offset_of!(SocketAddrV4, sin_addr), 4);
static_assertions::const_assert_eq!(offset_of!(SocketAddrV4, sin_zero), 8);

impl SocketAddrV4 {
    /// `ip:port`, with `ip` in the usual order (`[127, 0, 0, 1]`) and `port` in host order.
    pub const fn new(ip: [u8; 4], port: u16) -> SocketAddrV4 {
        SocketAddrV4 {
            sin_family: AddressFamily::INET.0,
            sin_port: port.to_be(),
            sin_addr: ip,
            sin_zero: [0; 8],
        }
    }

    /// The address octets.
    pub const fn ip(&self) -> [u8; 4] {
        self.sin_addr
    }

    /// The port in host order.
    pub const fn port(&self) -> u16 {
        u16::from_be(self.sin_port)
    }

    /// Changes the port (host order).
    pub fn set_port(&mut self, port: u16) {
        self.sin_port = port.to_be();
    }
}

impl fmt::Debug for SocketAddrV4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for SocketAddrV4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.sin_addr;
        write!(f, "{a}.{b}.{c}.{d}:{}", self.port())
    }
}

/// An IPv6 socket address laid out as the kernel's `struct sockaddr_in6` (port, flow info and
/// address in network byte order; the scope id in host order, as the kernel keeps it).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct SocketAddrV6 {
    sin6_family: u16,
    sin6_port: u16,
    sin6_flowinfo: u32,
    sin6_addr: [u8; 16],
    sin6_scope_id: u32,
}

static_assertions::assert_eq_size!(SocketAddrV6, [u8; 28]);
static_assertions::const_assert_eq!(offset_of!(SocketAddrV6, sin6_family), 0);
static_assertions::const_assert_eq!(offset_of!(SocketAddrV6, sin6_port), 2);
static_assertions::const_assert_eq!(offset_of!(SocketAddrV6, sin6_flowinfo), 4);
static_assertions::const_assert_eq!(offset_of!(SocketAddrV6, sin6_addr), 8);
static_assertions::const_assert_eq!(offset_of!(SocketAddrV6, sin6_scope_id), 24);

impl SocketAddrV6 {
    /// `[segments]:port` with the eight 16-bit groups in the usual order
    /// (`[0, 0, 0, 0, 0, 0, 0, 1]` is `::1`) and `port` in host order; flow info and scope 0.
    pub const fn new(segments: [u16; 8], port: u16) -> SocketAddrV6 {
        let mut octets = [0u8; 16];
        let mut i = 0;
        while i < 8 {
            let [hi, lo] = segments[i].to_be_bytes();
            octets[2 * i] = hi;
            octets[2 * i + 1] = lo;
            i += 1;
        }
        SocketAddrV6::from_octets(octets, port, 0, 0)
    }

    /// An address from its sixteen octets, with flow info and scope id (all host order).
    pub const fn from_octets(
        ip: [u8; 16],
        port: u16,
        flowinfo: u32,
        scope_id: u32,
    ) -> SocketAddrV6 {
        SocketAddrV6 {
            sin6_family: AddressFamily::INET6.0,
            sin6_port: port.to_be(),
            sin6_flowinfo: flowinfo.to_be(),
            sin6_addr: ip,
            sin6_scope_id: scope_id,
        }
    }

    /// The address octets.
    pub const fn octets(&self) -> [u8; 16] {
        self.sin6_addr
    }

    /// The eight 16-bit groups.
    pub const fn segments(&self) -> [u16; 8] {
        let mut s = [0u16; 8];
        let mut i = 0;
        while i < 8 {
            s[i] = u16::from_be_bytes([self.sin6_addr[2 * i], self.sin6_addr[2 * i + 1]]);
            i += 1;
        }
        s
    }

    /// The port in host order.
    pub const fn port(&self) -> u16 {
        u16::from_be(self.sin6_port)
    }

    /// Changes the port (host order).
    pub fn set_port(&mut self, port: u16) {
        self.sin6_port = port.to_be();
    }

    /// The flow information in host order.
    pub const fn flowinfo(&self) -> u32 {
        u32::from_be(self.sin6_flowinfo)
    }

    /// The scope (interface) id.
    pub const fn scope_id(&self) -> u32 {
        self.sin6_scope_id
    }
}

impl fmt::Debug for SocketAddrV6 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for SocketAddrV6 {
    /// Uncompressed groups: `[0:0:0:0:0:0:0:1]:80`, with `%scope` when it is not 0.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, s) in self.segments().iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{s:x}")?;
        }
        if self.sin6_scope_id != 0 {
            write!(f, "%{}", self.sin6_scope_id)?;
        }
        write!(f, "]:{}", self.port())
    }
}

/// A netlink socket address laid out as the kernel's `struct sockaddr_nl`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct SocketAddrNl {
    nl_family: u16,
    nl_pad: u16,
    nl_pid: u32,
    nl_groups: u32,
}

static_assertions::assert_eq_size!(SocketAddrNl, [u8; 12]);
static_assertions::const_assert_eq!(offset_of!(SocketAddrNl, nl_family), 0);
static_assertions::const_assert_eq!(offset_of!(SocketAddrNl, nl_pad), 2);
static_assertions::const_assert_eq!(offset_of!(SocketAddrNl, nl_pid), 4);
static_assertions::const_assert_eq!(offset_of!(SocketAddrNl, nl_groups), 8);

impl SocketAddrNl {
    /// Port id `pid` (0: the kernel; or 0 when binding: let the kernel choose) and the bitmask
    /// of multicast `groups`.
    pub const fn new(pid: u32, groups: u32) -> SocketAddrNl {
        SocketAddrNl {
            nl_family: AddressFamily::NETLINK.0,
            nl_pad: 0,
            nl_pid: pid,
            nl_groups: groups,
        }
    }

    /// The port id.
    pub const fn pid(&self) -> u32 {
        self.nl_pid
    }

    /// The multicast group mask.
    pub const fn groups(&self) -> u32 {
        self.nl_groups
    }
}

/// The kernel's `struct sockaddr_un`.
#[derive(Clone, Copy)]
#[repr(C)]
struct SockaddrUn {
    sun_family: u16,
    sun_path: [u8; 108],
}

static_assertions::assert_eq_size!(SockaddrUn, [u8; 110]);
static_assertions::const_assert_eq!(offset_of!(SockaddrUn, sun_family), 0);
static_assertions::const_assert_eq!(offset_of!(SockaddrUn, sun_path), 2);

const SUN_PATH_OFFSET: usize = offset_of!(SockaddrUn, sun_path);

/// A Unix-domain socket address: a `struct sockaddr_un` plus the length that says how much of
/// it is meaningful (a pathname, an abstract name, or nothing for an unnamed socket).
#[derive(Clone, Copy)]
pub struct SocketAddrUnix {
    addr: SockaddrUn,
    len: u32,
}

impl SocketAddrUnix {
    /// A filesystem path address. Fails with `ENAMETOOLONG` if the path with its NUL does not
    /// fit in 108 bytes, and `EINVAL` if it is empty.
    pub fn new(path: &core::ffi::CStr) -> crate::Result<SocketAddrUnix> {
        let bytes = path.to_bytes_with_nul();
        if bytes.len() == 1 {
            return Err(Errno::EINVAL);
        }
        if bytes.len() > 108 {
            return Err(Errno::ENAMETOOLONG);
        }
        let mut addr = SockaddrUn {
            sun_family: AddressFamily::UNIX.0,
            sun_path: [0; 108],
        };
        addr.sun_path[..bytes.len()].copy_from_slice(bytes);
        Ok(SocketAddrUnix {
            addr,
            len: (SUN_PATH_OFFSET + bytes.len()) as u32,
        })
    }

    /// A Linux abstract-namespace address (no file; the name may hold any bytes). Fails with
    /// `ENAMETOOLONG` beyond 107 bytes.
    pub fn new_abstract(name: &[u8]) -> crate::Result<SocketAddrUnix> {
        if name.len() > 107 {
            return Err(Errno::ENAMETOOLONG);
        }
        let mut addr = SockaddrUn {
            sun_family: AddressFamily::UNIX.0,
            sun_path: [0; 108],
        };
        addr.sun_path[1..1 + name.len()].copy_from_slice(name);
        Ok(SocketAddrUnix {
            addr,
            len: (SUN_PATH_OFFSET + 1 + name.len()) as u32,
        })
    }

    /// The address of an unnamed socket (for example either end of a [`socketpair`]).
    pub const fn unnamed() -> SocketAddrUnix {
        SocketAddrUnix {
            addr: SockaddrUn {
                sun_family: AddressFamily::UNIX.0,
                sun_path: [0; 108],
            },
            len: SUN_PATH_OFFSET as u32,
        }
    }

    /// The meaningful part of `sun_path`.
    fn used(&self) -> &[u8] {
        let n = (self.len as usize).saturating_sub(SUN_PATH_OFFSET).min(108);
        &self.addr.sun_path[..n]
    }

    /// The filesystem path (without NUL), if this is a pathname address.
    pub fn path(&self) -> Option<&[u8]> {
        let used = self.used();
        match used.first() {
            None | Some(0) => None,
            Some(_) => Some(used.split(|b| *b == 0).next().unwrap_or(used)),
        }
    }

    /// The abstract name (without the leading NUL), if this is an abstract address.
    pub fn abstract_name(&self) -> Option<&[u8]> {
        match self.used() {
            [0, name @ ..] => Some(name),
            _ => None,
        }
    }

    /// Whether this is the address of an unnamed socket.
    pub fn is_unnamed(&self) -> bool {
        self.used().is_empty()
    }

    /// Decodes `len` bytes the kernel wrote into a `sockaddr_storage`.
    fn from_raw(bytes: &[u8]) -> SocketAddrUnix {
        let mut addr = SockaddrUn {
            sun_family: AddressFamily::UNIX.0,
            sun_path: [0; 108],
        };
        let path = bytes.get(SUN_PATH_OFFSET..).unwrap_or(&[]);
        let n = path.len().min(108);
        addr.sun_path[..n].copy_from_slice(&path[..n]);
        SocketAddrUnix {
            addr,
            len: (SUN_PATH_OFFSET + n) as u32,
        }
    }
}

impl PartialEq for SocketAddrUnix {
    fn eq(&self, other: &Self) -> bool {
        self.used() == other.used()
    }
}

impl Eq for SocketAddrUnix {}

impl fmt::Debug for SocketAddrUnix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.path() {
            write!(
                f,
                "SocketAddrUnix(path {:?})",
                core::str::from_utf8(p).unwrap_or("<non-utf8>")
            )
        } else if let Some(n) = self.abstract_name() {
            write!(f, "SocketAddrUnix(abstract {n:?})")
        } else {
            f.write_str("SocketAddrUnix(unnamed)")
        }
    }
}

/// A socket address of any family, as returned by [`accept4`], [`getsockname`],
/// [`getpeername`] and [`recvfrom`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketAddr {
    /// No address (for example `recvfrom` on a connected stream socket).
    Unspec,
    /// IPv4.
    V4(SocketAddrV4),
    /// IPv6.
    V6(SocketAddrV6),
    /// Unix domain.
    Unix(SocketAddrUnix),
    /// Netlink.
    Netlink(SocketAddrNl),
    /// A family this crate does not decode, or a truncated address of a known family.
    Other(AddressFamily),
}

/// The kernel's `struct sockaddr_storage`: room for any address, suitably aligned.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct SockaddrStorage([u8; 128]);

static_assertions::assert_eq_size!(SockaddrStorage, [u8; 128]);

impl SockaddrStorage {
    const fn new() -> SockaddrStorage {
        SockaddrStorage([0; 128])
    }

    /// Decodes the first `len` bytes, which the kernel filled.
    fn decode(&self, len: u32) -> SocketAddr {
        let bytes = &self.0[..(len as usize).min(128)];
        if bytes.len() < 2 {
            return SocketAddr::Unspec;
        }
        let family = AddressFamily(u16::from_ne_bytes([bytes[0], bytes[1]]));
        // SAFETY (all reads below): the storage is 8-aligned and 128 bytes long, every bit
        // pattern is valid for these integer-only structs, and the length was checked.
        match family {
            AddressFamily::UNSPEC => SocketAddr::Unspec,
            AddressFamily::INET if bytes.len() >= size_of::<SocketAddrV4>() => {
                // SAFETY: see above.
                SocketAddr::V4(unsafe { self.0.as_ptr().cast::<SocketAddrV4>().read() })
            }
            AddressFamily::INET6 if bytes.len() >= size_of::<SocketAddrV6>() => {
                // SAFETY: see above.
                SocketAddr::V6(unsafe { self.0.as_ptr().cast::<SocketAddrV6>().read() })
            }
            AddressFamily::NETLINK if bytes.len() >= size_of::<SocketAddrNl>() => {
                // SAFETY: see above.
                SocketAddr::Netlink(unsafe { self.0.as_ptr().cast::<SocketAddrNl>().read() })
            }
            AddressFamily::UNIX => SocketAddr::Unix(SocketAddrUnix::from_raw(bytes)),
            other => SocketAddr::Other(other),
        }
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A socket address that can be handed to the kernel ([`bind`], [`connect`], [`sendto`],
/// [`MsgHdr::with_addr`]). Implemented by this module's address types only.
pub trait SockAddrArg: sealed::Sealed {
    /// A pointer to the kernel-layout address and its length in bytes.
    fn as_raw(&self) -> (*const u8, u32);
}

macro_rules! sockaddr_arg {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl SockAddrArg for $t {
            fn as_raw(&self) -> (*const u8, u32) {
                (self as *const $t as *const u8, size_of::<$t>() as u32)
            }
        }
    )*};
}
sockaddr_arg!(SocketAddrV4, SocketAddrV6, SocketAddrNl);

impl sealed::Sealed for SocketAddrUnix {}
impl SockAddrArg for SocketAddrUnix {
    fn as_raw(&self) -> (*const u8, u32) {
        (&self.addr as *const SockaddrUn as *const u8, self.len)
    }
}

impl sealed::Sealed for SocketAddr {}
impl SockAddrArg for SocketAddr {
    /// `Unspec` and `Other` give a null address of length 0 (the kernel rejects it where an
    /// address is required).
    fn as_raw(&self) -> (*const u8, u32) {
        match self {
            SocketAddr::V4(a) => a.as_raw(),
            SocketAddr::V6(a) => a.as_raw(),
            SocketAddr::Unix(a) => a.as_raw(),
            SocketAddr::Netlink(a) => a.as_raw(),
            SocketAddr::Unspec | SocketAddr::Other(_) => (core::ptr::null(), 0),
        }
    }
}

#[cfg(feature = "std")]
mod std_conv {
    use super::*;

    impl From<std::net::SocketAddrV4> for SocketAddrV4 {
        fn from(a: std::net::SocketAddrV4) -> Self {
            SocketAddrV4::new(a.ip().octets(), a.port())
        }
    }

    impl From<SocketAddrV4> for std::net::SocketAddrV4 {
        fn from(a: SocketAddrV4) -> Self {
            std::net::SocketAddrV4::new(a.ip().into(), a.port())
        }
    }

    impl From<std::net::SocketAddrV6> for SocketAddrV6 {
        fn from(a: std::net::SocketAddrV6) -> Self {
            SocketAddrV6::from_octets(a.ip().octets(), a.port(), a.flowinfo(), a.scope_id())
        }
    }

    impl From<SocketAddrV6> for std::net::SocketAddrV6 {
        fn from(a: SocketAddrV6) -> Self {
            std::net::SocketAddrV6::new(a.octets().into(), a.port(), a.flowinfo(), a.scope_id())
        }
    }

    impl From<std::net::SocketAddr> for SocketAddr {
        fn from(a: std::net::SocketAddr) -> Self {
            match a {
                std::net::SocketAddr::V4(a) => SocketAddr::V4(a.into()),
                std::net::SocketAddr::V6(a) => SocketAddr::V6(a.into()),
            }
        }
    }

    impl TryFrom<SocketAddr> for std::net::SocketAddr {
        type Error = Errno;
        /// Fails with `EAFNOSUPPORT` for anything but IPv4 and IPv6.
        fn try_from(a: SocketAddr) -> crate::Result<Self> {
            match a {
                SocketAddr::V4(a) => Ok(std::net::SocketAddr::V4(a.into())),
                SocketAddr::V6(a) => Ok(std::net::SocketAddr::V6(a.into())),
                _ => Err(Errno::EAFNOSUPPORT),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Creating, connecting, accepting
// ---------------------------------------------------------------------------------------------

fn raw(fd: impl AsFd) -> usize {
    fd.as_fd().as_raw() as usize
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
            fds.as_mut_ptr() as usize,
        )
    }?;
    Ok((sys::ret_fd(fds[0] as usize), sys::ret_fd(fds[1] as usize)))
}

/// `bind(2)`: gives the socket a local address.
pub fn bind(fd: impl AsFd, addr: &impl SockAddrArg) -> crate::Result<()> {
    let (p, len) = addr.as_raw();
    // SAFETY: `p` points to `len` readable bytes of a kernel-layout address (or is null, 0).
    unsafe { sys::syscall3(Sysno::bind, raw(fd), p as usize, len as usize) }.map(drop)
}

/// `connect(2)`: connects to `addr` (for datagram sockets: sets the default destination).
/// A non-blocking stream socket fails with `EINPROGRESS` and completes later (check
/// [`take_socket_error`] once writable).
pub fn connect(fd: impl AsFd, addr: &impl SockAddrArg) -> crate::Result<()> {
    let (p, len) = addr.as_raw();
    // SAFETY: as for bind.
    unsafe { sys::syscall3(Sysno::connect, raw(fd), p as usize, len as usize) }.map(drop)
}

/// `listen(2)`: marks a bound socket as accepting connections with a queue of `backlog`.
pub fn listen(fd: impl AsFd, backlog: i32) -> crate::Result<()> {
    // SAFETY: takes only integers.
    unsafe { sys::syscall2(Sysno::listen, raw(fd), backlog as isize as usize) }.map(drop)
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
            raw(fd),
            st.0.as_mut_ptr() as usize,
            &mut len as *mut u32 as usize,
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
            raw(fd),
            st.0.as_mut_ptr() as usize,
            &mut len as *mut u32 as usize,
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
    unsafe { sys::syscall2(Sysno::shutdown, raw(fd), how as i32 as usize) }.map(drop)
}

// ---------------------------------------------------------------------------------------------
// Socket options
// ---------------------------------------------------------------------------------------------

/// `SOL_SOCKET`: the level of generic socket options.
pub const SOL_SOCKET: i32 = 1;
/// `IPPROTO_IP`: the level of IPv4 options.
pub const IPPROTO_IP: i32 = 0;
/// `IPPROTO_TCP`: the level of TCP options.
pub const IPPROTO_TCP: i32 = 6;
/// `IPPROTO_IPV6`: the level of IPv6 options.
pub const IPPROTO_IPV6: i32 = 41;
/// `SO_REUSEADDR`
pub const SO_REUSEADDR: i32 = 2;
/// `SO_TYPE`
pub const SO_TYPE: i32 = 3;
/// `SO_ERROR`
pub const SO_ERROR: i32 = 4;
/// `SO_SNDBUF`
pub const SO_SNDBUF: i32 = 7;
/// `SO_RCVBUF`
pub const SO_RCVBUF: i32 = 8;
/// `SO_KEEPALIVE`
pub const SO_KEEPALIVE: i32 = 9;
/// `SO_LINGER`
pub const SO_LINGER: i32 = 13;
/// `SO_REUSEPORT`
pub const SO_REUSEPORT: i32 = 15;
/// `TCP_NODELAY`
pub const TCP_NODELAY: i32 = 1;
/// `TCP_CORK`
pub const TCP_CORK: i32 = 3;
/// `TCP_DEFER_ACCEPT`
pub const TCP_DEFER_ACCEPT: i32 = 9;
/// `TCP_NOTSENT_LOWAT`
pub const TCP_NOTSENT_LOWAT: i32 = 25;
/// `IPV6_V6ONLY`
pub const IPV6_V6ONLY: i32 = 26;

/// `setsockopt(2)` with raw bytes: sets option `name` at `level` to `value`.
pub fn setsockopt(fd: impl AsFd, level: i32, name: i32, value: &[u8]) -> crate::Result<()> {
    let len = u32::try_from(value.len()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `value` is readable for `len` bytes.
    unsafe {
        sys::syscall5(
            Sysno::setsockopt,
            raw(fd),
            level as usize,
            name as usize,
            value.as_ptr() as usize,
            len as usize,
        )
    }
    .map(drop)
}

/// `getsockopt(2)` with raw bytes: reads option `name` at `level` into `value` and returns how
/// many bytes the kernel wrote.
pub fn getsockopt(fd: impl AsFd, level: i32, name: i32, value: &mut [u8]) -> crate::Result<usize> {
    let mut len = u32::try_from(value.len()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `value` is writable for `len` bytes and `len` is a writable u32.
    unsafe {
        sys::syscall5(
            Sysno::getsockopt,
            raw(fd),
            level as usize,
            name as usize,
            value.as_mut_ptr() as usize,
            &mut len as *mut u32 as usize,
        )
    }?;
    Ok(len as usize)
}

fn set_int(fd: impl AsFd, level: i32, name: i32, v: i32) -> crate::Result<()> {
    setsockopt(fd, level, name, &v.to_ne_bytes())
}

fn get_int(fd: impl AsFd, level: i32, name: i32) -> crate::Result<i32> {
    let mut b = [0u8; 4];
    match getsockopt(fd, level, name, &mut b)? {
        4 => Ok(i32::from_ne_bytes(b)),
        _ => Err(Errno::EINVAL),
    }
}

macro_rules! bool_opt {
    ($set:ident, $get:ident, $level:expr, $name:ident, $what:expr) => {
        #[doc = concat!("`setsockopt(2)` `", stringify!($name), "`: ", $what, ".")]
        pub fn $set(fd: impl AsFd, on: bool) -> crate::Result<()> {
            set_int(fd, $level, $name, on as i32)
        }

        #[doc = concat!("`getsockopt(2)` `", stringify!($name), "`: ", $what, ".")]
        pub fn $get(fd: impl AsFd) -> crate::Result<bool> {
            get_int(fd, $level, $name).map(|v| v != 0)
        }
    };
}

bool_opt!(
    set_reuseaddr,
    reuseaddr,
    SOL_SOCKET,
    SO_REUSEADDR,
    "allow binding an address in TIME_WAIT"
);
bool_opt!(
    set_reuseport,
    reuseport,
    SOL_SOCKET,
    SO_REUSEPORT,
    "let several sockets bind the same port"
);
bool_opt!(
    set_keepalive,
    keepalive,
    SOL_SOCKET,
    SO_KEEPALIVE,
    "send TCP keep-alive probes"
);
bool_opt!(
    set_tcp_nodelay,
    tcp_nodelay,
    IPPROTO_TCP,
    TCP_NODELAY,
    "disable Nagle's algorithm"
);
bool_opt!(
    set_tcp_cork,
    tcp_cork,
    IPPROTO_TCP,
    TCP_CORK,
    "hold partial frames until uncorked"
);
bool_opt!(
    set_ipv6_v6only,
    ipv6_v6only,
    IPPROTO_IPV6,
    IPV6_V6ONLY,
    "accept IPv6 only, not v4-mapped"
);

/// `setsockopt(2)` `SO_RCVBUF`: requests a receive buffer of `bytes` (Linux doubles it for
/// bookkeeping and clamps it to `net.core.rmem_max`).
pub fn set_recv_buffer_size(fd: impl AsFd, bytes: usize) -> crate::Result<()> {
    set_int(
        fd,
        SOL_SOCKET,
        SO_RCVBUF,
        i32::try_from(bytes).map_err(|_| Errno::EINVAL)?,
    )
}

/// `getsockopt(2)` `SO_RCVBUF`: the receive buffer size in bytes.
pub fn recv_buffer_size(fd: impl AsFd) -> crate::Result<usize> {
    get_int(fd, SOL_SOCKET, SO_RCVBUF).map(|v| v as usize)
}

/// `setsockopt(2)` `SO_SNDBUF`: requests a send buffer of `bytes` (doubled and clamped like
/// `SO_RCVBUF`).
pub fn set_send_buffer_size(fd: impl AsFd, bytes: usize) -> crate::Result<()> {
    set_int(
        fd,
        SOL_SOCKET,
        SO_SNDBUF,
        i32::try_from(bytes).map_err(|_| Errno::EINVAL)?,
    )
}

/// `getsockopt(2)` `SO_SNDBUF`: the send buffer size in bytes.
pub fn send_buffer_size(fd: impl AsFd) -> crate::Result<usize> {
    get_int(fd, SOL_SOCKET, SO_SNDBUF).map(|v| v as usize)
}

/// `getsockopt(2)` `SO_ERROR`: takes (and clears) the socket's pending error, such as the
/// outcome of a non-blocking `connect`.
pub fn take_socket_error(fd: impl AsFd) -> crate::Result<Option<Errno>> {
    get_int(fd, SOL_SOCKET, SO_ERROR).map(|e| (e != 0).then_some(Errno::from_raw(e)))
}

/// `getsockopt(2)` `SO_TYPE`: the socket's type.
pub fn socket_type(fd: impl AsFd) -> crate::Result<SocketType> {
    get_int(fd, SOL_SOCKET, SO_TYPE).map(|t| SocketType(t as u32))
}

/// `setsockopt(2)` `TCP_DEFER_ACCEPT`: wake the listener only once data arrived, waiting up to
/// about `seconds` (the kernel rounds to its retransmission schedule).
pub fn set_tcp_defer_accept(fd: impl AsFd, seconds: u32) -> crate::Result<()> {
    set_int(
        fd,
        IPPROTO_TCP,
        TCP_DEFER_ACCEPT,
        i32::try_from(seconds).map_err(|_| Errno::EINVAL)?,
    )
}

/// `getsockopt(2)` `TCP_DEFER_ACCEPT`: the deferral in seconds, as rounded by the kernel.
pub fn tcp_defer_accept(fd: impl AsFd) -> crate::Result<u32> {
    get_int(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT).map(|v| v as u32)
}

/// `setsockopt(2)` `TCP_NOTSENT_LOWAT`: keep at most about `bytes` queued on the socket
/// that TCP has not sent yet. A write stops (short, or `EAGAIN`) once that much waits, and
/// the socket reports writable only when less does, so the sender hands data over as the
/// connection can take it rather than filling the whole send buffer ahead (less memory per
/// slow connection; on loopback, the sender rather than the receiver's acknowledgements
/// pushes the data out).
pub fn set_tcp_notsent_lowat(fd: impl AsFd, bytes: u32) -> crate::Result<()> {
    set_int(
        fd,
        IPPROTO_TCP,
        TCP_NOTSENT_LOWAT,
        i32::try_from(bytes).map_err(|_| Errno::EINVAL)?,
    )
}

/// `getsockopt(2)` `TCP_NOTSENT_LOWAT`: the socket's own limit in bytes; 0 (the default)
/// means the system-wide `net.ipv4.tcp_notsent_lowat` applies, itself unlimited by default.
pub fn tcp_notsent_lowat(fd: impl AsFd) -> crate::Result<u32> {
    get_int(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT).map(|v| v as u32)
}

/// `struct linger` for `SO_LINGER`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Linger {
    /// Non-zero: linger on close.
    pub l_onoff: i32,
    /// How long to linger, in seconds.
    pub l_linger: i32,
}

static_assertions::assert_eq_size!(Linger, [u8; 8]);
static_assertions::const_assert_eq!(offset_of!(Linger, l_onoff), 0);
static_assertions::const_assert_eq!(offset_of!(Linger, l_linger), 4);

/// `setsockopt(2)` `SO_LINGER`: `Some(secs)` makes `close` wait up to `secs` for unsent data
/// (0: reset the connection at once); `None` restores the default background close.
pub fn set_linger(fd: impl AsFd, secs: Option<u32>) -> crate::Result<()> {
    let l = match secs {
        Some(s) => Linger {
            l_onoff: 1,
            l_linger: i32::try_from(s).map_err(|_| Errno::EINVAL)?,
        },
        None => Linger::default(),
    };
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&l.l_onoff.to_ne_bytes());
    b[4..].copy_from_slice(&l.l_linger.to_ne_bytes());
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &b)
}

/// `getsockopt(2)` `SO_LINGER`: the linger time when lingering is on.
pub fn linger(fd: impl AsFd) -> crate::Result<Option<u32>> {
    let mut b = [0u8; 8];
    if getsockopt(fd, SOL_SOCKET, SO_LINGER, &mut b)? != 8 {
        return Err(Errno::EINVAL);
    }
    let on = i32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
    let secs = i32::from_ne_bytes([b[4], b[5], b[6], b[7]]);
    Ok((on != 0).then_some(secs as u32))
}

// ---------------------------------------------------------------------------------------------
// Data transfer
// ---------------------------------------------------------------------------------------------

bitflags::bitflags! {
    /// Flags for [`send`], [`sendto`] and [`sendmsg`] (`MSG_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct SendFlags: u32 {
        /// `MSG_OOB`: out-of-band data.
        const OOB = 0x1;
        /// `MSG_DONTROUTE`: do not route; the peer is on a local network.
        const DONTROUTE = 0x4;
        /// `MSG_DONTWAIT`: fail with `EAGAIN` instead of blocking, for this call only.
        const DONTWAIT = 0x40;
        /// `MSG_EOR`: end of record (`SOCK_SEQPACKET`).
        const EOR = 0x80;
        /// `MSG_CONFIRM`: the neighbour is known reachable.
        const CONFIRM = 0x800;
        /// `MSG_NOSIGNAL`: a broken connection gives `EPIPE` without raising `SIGPIPE`.
        const NOSIGNAL = 0x4000;
        /// `MSG_MORE`: more data follows; hold a partial frame (like `TCP_CORK` per call).
        const MORE = 0x8000;
    }
}

bitflags::bitflags! {
    /// Flags for [`recv`], [`recvfrom`] and [`recvmsg`], and the flags [`recvmsg`] reports
    /// back (`TRUNC`, `CTRUNC`, `EOR`, `OOB`) (`MSG_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct RecvFlags: u32 {
        /// `MSG_OOB`: out-of-band data.
        const OOB = 0x1;
        /// `MSG_PEEK`: return data without taking it from the queue.
        const PEEK = 0x2;
        /// `MSG_CTRUNC` (reported): control data did not fit.
        const CTRUNC = 0x8;
        /// `MSG_TRUNC`: return a datagram's real length even if it did not fit; (reported)
        /// the datagram was cut.
        const TRUNC = 0x20;
        /// `MSG_DONTWAIT`: fail with `EAGAIN` instead of blocking, for this call only.
        const DONTWAIT = 0x40;
        /// `MSG_EOR` (reported): end of record.
        const EOR = 0x80;
        /// `MSG_WAITALL`: wait for the full buffer (streams), unless a signal or error.
        const WAITALL = 0x100;
        /// `MSG_ERRQUEUE`: read the error queue.
        const ERRQUEUE = 0x2000;
        /// `MSG_CMSG_CLOEXEC`: received descriptors (`SCM_RIGHTS`) are close-on-exec.
        const CMSG_CLOEXEC = 0x4000_0000;
    }
}

/// `sendto(2)` without an address: sends on a connected socket; returns the bytes sent.
pub fn send(fd: impl AsFd, buf: &[u8], flags: SendFlags) -> crate::Result<usize> {
    // SAFETY: `buf` is readable for its length; the address is null with length 0.
    unsafe {
        sys::syscall6(
            Sysno::sendto,
            raw(fd),
            buf.as_ptr() as usize,
            buf.len(),
            flags.bits() as usize,
            0,
            0,
        )
    }
}

/// `sendto(2)`: sends a datagram to `addr`; returns the bytes sent.
pub fn sendto(
    fd: impl AsFd,
    buf: &[u8],
    flags: SendFlags,
    addr: &impl SockAddrArg,
) -> crate::Result<usize> {
    let (p, len) = addr.as_raw();
    // SAFETY: `buf` is readable for its length; `p` points to `len` readable address bytes.
    unsafe {
        sys::syscall6(
            Sysno::sendto,
            raw(fd),
            buf.as_ptr() as usize,
            buf.len(),
            flags.bits() as usize,
            p as usize,
            len as usize,
        )
    }
}

/// `recvfrom(2)` without an address: receives into `buf`; returns the bytes received (0 at
/// end of stream; with `RecvFlags::TRUNC` on a datagram socket, the datagram's full length).
pub fn recv(fd: impl AsFd, buf: &mut [u8], flags: RecvFlags) -> crate::Result<usize> {
    // SAFETY: `buf` is writable for its length; no address is requested.
    unsafe {
        sys::syscall6(
            Sysno::recvfrom,
            raw(fd),
            buf.as_mut_ptr() as usize,
            buf.len(),
            flags.bits() as usize,
            0,
            0,
        )
    }
}

/// `recvfrom(2)`: receives into `buf`; returns the byte count and the sender's address
/// ([`SocketAddr::Unspec`] for connected stream sockets).
pub fn recvfrom(
    fd: impl AsFd,
    buf: &mut [u8],
    flags: RecvFlags,
) -> crate::Result<(usize, SocketAddr)> {
    let mut st = SockaddrStorage::new();
    let mut len = size_of::<SockaddrStorage>() as u32;
    // SAFETY: `buf` is writable for its length; `st` for `len` bytes; `len` is a writable u32.
    let n = unsafe {
        sys::syscall6(
            Sysno::recvfrom,
            raw(fd),
            buf.as_mut_ptr() as usize,
            buf.len(),
            flags.bits() as usize,
            st.0.as_mut_ptr() as usize,
            &mut len as *mut u32 as usize,
        )
    }?;
    Ok((n, st.decode(len)))
}

/// `struct iovec` for [`sendmsg`] / [`recvmsg`]: the same types as [`crate::io::readv`] and
/// [`crate::io::writev`] take.
pub use crate::io::{IoSlice, IoSliceMut};

/// `struct msghdr` for [`sendmsg`]: data from several slices, optional control data (see
/// [`encode_scm_rights`]) and an optional destination.
#[derive(Debug)]
#[repr(C)]
pub struct MsgHdr<'a> {
    msg_name: *const u8,
    msg_namelen: u32,
    msg_iov: *const IoSlice<'a>,
    msg_iovlen: usize,
    msg_control: *const u8,
    msg_controllen: usize,
    msg_flags: i32,
    _borrow: PhantomData<&'a [u8]>,
}

#[cfg(target_pointer_width = "64")]
mod msghdr_layout {
    use super::{MsgHdr, MsgHdrMut};
    use core::mem::offset_of;
    static_assertions::assert_eq_size!(MsgHdr<'static>, [u8; 56]);
    static_assertions::const_assert_eq!(offset_of!(MsgHdr<'static>, msg_name), 0);
    static_assertions::const_assert_eq!(offset_of!(MsgHdr<'static>, msg_namelen), 8);
    static_assertions::const_assert_eq!(offset_of!(MsgHdr<'static>, msg_iov), 16);
    static_assertions::const_assert_eq!(offset_of!(MsgHdr<'static>, msg_iovlen), 24);
    static_assertions::const_assert_eq!(offset_of!(MsgHdr<'static>, msg_control), 32);
    static_assertions::const_assert_eq!(offset_of!(MsgHdr<'static>, msg_controllen), 40);
    static_assertions::const_assert_eq!(offset_of!(MsgHdr<'static>, msg_flags), 48);
    static_assertions::assert_eq_size!(MsgHdrMut<'static>, [u8; 56]);
    static_assertions::const_assert_eq!(offset_of!(MsgHdrMut<'static>, msg_name), 0);
    static_assertions::const_assert_eq!(offset_of!(MsgHdrMut<'static>, msg_namelen), 8);
    static_assertions::const_assert_eq!(offset_of!(MsgHdrMut<'static>, msg_iov), 16);
    static_assertions::const_assert_eq!(offset_of!(MsgHdrMut<'static>, msg_iovlen), 24);
    static_assertions::const_assert_eq!(offset_of!(MsgHdrMut<'static>, msg_control), 32);
    static_assertions::const_assert_eq!(offset_of!(MsgHdrMut<'static>, msg_controllen), 40);
    static_assertions::const_assert_eq!(offset_of!(MsgHdrMut<'static>, msg_flags), 48);
}

impl<'a> MsgHdr<'a> {
    /// A message gathering the bytes of `iov` in order.
    pub const fn new(iov: &'a [IoSlice<'a>]) -> MsgHdr<'a> {
        MsgHdr {
            msg_name: core::ptr::null(),
            msg_namelen: 0,
            msg_iov: iov.as_ptr(),
            msg_iovlen: iov.len(),
            msg_control: core::ptr::null(),
            msg_controllen: 0,
            msg_flags: 0,
            _borrow: PhantomData,
        }
    }

    /// Adds ancillary (control) data, a sequence of `cmsghdr` records.
    pub const fn with_control(mut self, control: &'a [u8]) -> MsgHdr<'a> {
        self.msg_control = control.as_ptr();
        self.msg_controllen = control.len();
        self
    }

    /// Adds a destination address (for unconnected datagram sockets).
    pub fn with_addr<A: SockAddrArg>(mut self, addr: &'a A) -> MsgHdr<'a> {
        let (p, len) = addr.as_raw();
        self.msg_name = p;
        self.msg_namelen = len;
        self
    }
}

/// `struct msghdr` for [`recvmsg`]: scatters into several slices, with room for control data
/// and the sender's address. The kernel updates the lengths in place, so build a fresh one for
/// each call.
#[derive(Debug)]
#[repr(C)]
pub struct MsgHdrMut<'a> {
    msg_name: *mut u8,
    msg_namelen: u32,
    msg_iov: *mut IoSliceMut<'a>,
    msg_iovlen: usize,
    msg_control: *mut u8,
    msg_controllen: usize,
    msg_flags: i32,
    _borrow: PhantomData<&'a mut [u8]>,
}

/// Room for the sender's address of a [`MsgHdrMut`] (a `struct sockaddr_storage`).
#[derive(Clone, Copy)]
pub struct SockAddrBuf(SockaddrStorage);

impl SockAddrBuf {
    /// An empty buffer.
    pub const fn new() -> SockAddrBuf {
        SockAddrBuf(SockaddrStorage::new())
    }
}

impl Default for SockAddrBuf {
    fn default() -> Self {
        SockAddrBuf::new()
    }
}

impl<'a> MsgHdrMut<'a> {
    /// A message scattering into `iov` in order.
    pub fn new(iov: &'a mut [IoSliceMut<'a>]) -> MsgHdrMut<'a> {
        MsgHdrMut {
            msg_name: core::ptr::null_mut(),
            msg_namelen: 0,
            msg_iov: iov.as_mut_ptr(),
            msg_iovlen: iov.len(),
            msg_control: core::ptr::null_mut(),
            msg_controllen: 0,
            msg_flags: 0,
            _borrow: PhantomData,
        }
    }

    /// Adds room for ancillary data (size it with [`cmsg_space`]).
    pub fn with_control(mut self, control: &'a mut [u8]) -> MsgHdrMut<'a> {
        self.msg_control = control.as_mut_ptr();
        self.msg_controllen = control.len();
        self
    }

    /// Adds room for the sender's address, read back with [`MsgHdrMut::addr`].
    pub fn with_addr(mut self, addr: &'a mut SockAddrBuf) -> MsgHdrMut<'a> {
        self.msg_name = addr.0.0.as_mut_ptr();
        self.msg_namelen = size_of::<SockaddrStorage>() as u32;
        self
    }

    /// After [`recvmsg`]: the flags the kernel reported (`TRUNC`, `CTRUNC`, `EOR`, ...).
    pub fn flags(&self) -> RecvFlags {
        RecvFlags::from_bits_retain(self.msg_flags as u32)
    }

    /// After [`recvmsg`]: the control data received (iterate it with [`ControlMessages`]).
    pub fn control(&self) -> &[u8] {
        if self.msg_control.is_null() {
            return &[];
        }
        // SAFETY: `msg_control` came from a `&'a mut [u8]` this value borrows, and the kernel
        // only ever lowers `msg_controllen` from that slice's length.
        unsafe { core::slice::from_raw_parts(self.msg_control, self.msg_controllen) }
    }

    /// After [`recvmsg`]: the sender's address, if room for it was given.
    pub fn addr(&self) -> Option<SocketAddr> {
        if self.msg_name.is_null() {
            return None;
        }
        // SAFETY: `msg_name` came from a `&'a mut SockAddrBuf` this value borrows; it is an
        // aligned, initialised sockaddr_storage.
        let st = unsafe { &*(self.msg_name as *const SockaddrStorage) };
        Some(st.decode(self.msg_namelen))
    }
}

/// `sendmsg(2)`: sends the message; returns the bytes sent.
pub fn sendmsg(fd: impl AsFd, msg: &MsgHdr<'_>, flags: SendFlags) -> crate::Result<usize> {
    // SAFETY: every pointer in `msg` comes from a borrow that outlives `msg` with its length.
    unsafe {
        sys::syscall3(
            Sysno::sendmsg,
            raw(fd),
            msg as *const MsgHdr<'_> as usize,
            flags.bits() as usize,
        )
    }
}

/// `recvmsg(2)`: receives one message into `msg`'s buffers; returns the bytes received.
/// Afterwards read [`MsgHdrMut::flags`], [`MsgHdrMut::control`] and [`MsgHdrMut::addr`].
pub fn recvmsg(fd: impl AsFd, msg: &mut MsgHdrMut<'_>, flags: RecvFlags) -> crate::Result<usize> {
    // SAFETY: every pointer in `msg` comes from a mutable borrow that outlives `msg`, with
    // its length; the kernel writes only within them and updates msg's length fields.
    unsafe {
        sys::syscall3(
            Sysno::recvmsg,
            raw(fd),
            msg as *mut MsgHdrMut<'_> as usize,
            flags.bits() as usize,
        )
    }
}

/// `struct cmsghdr`: the header of one control message.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
struct CmsgHdr {
    cmsg_len: usize,
    cmsg_level: i32,
    cmsg_type: i32,
}

#[cfg(target_pointer_width = "64")]
mod cmsghdr_layout {
    use super::CmsgHdr;
    use core::mem::offset_of;
    static_assertions::assert_eq_size!(CmsgHdr, [u8; 16]);
    static_assertions::const_assert_eq!(offset_of!(CmsgHdr, cmsg_len), 0);
    static_assertions::const_assert_eq!(offset_of!(CmsgHdr, cmsg_level), 8);
    static_assertions::const_assert_eq!(offset_of!(CmsgHdr, cmsg_type), 12);
}

const fn cmsg_align(len: usize) -> usize {
    (len + size_of::<usize>() - 1) & !(size_of::<usize>() - 1)
}

/// `SCM_RIGHTS`: a control message carrying file descriptors.
pub const SCM_RIGHTS: i32 = 1;

/// `CMSG_SPACE`: the buffer bytes one control message with `data_len` bytes of data takes.
pub const fn cmsg_space(data_len: usize) -> usize {
    cmsg_align(size_of::<CmsgHdr>()) + cmsg_align(data_len)
}

/// `CMSG_LEN`: the `cmsg_len` of a control message with `data_len` bytes of data.
pub const fn cmsg_len(data_len: usize) -> usize {
    cmsg_align(size_of::<CmsgHdr>()) + data_len
}

/// Writes one `SCM_RIGHTS` control message carrying `fds` at the start of `buf` and returns
/// the bytes used (pass `&buf[..n]` to [`MsgHdr::with_control`]). Fails with `ENOBUFS` if
/// `buf` is smaller than `cmsg_space(4 * fds.len())`.
pub fn encode_scm_rights(buf: &mut [u8], fds: &[BorrowedFd<'_>]) -> crate::Result<usize> {
    let data_len = fds.len() * size_of::<RawFd>();
    let space = cmsg_space(data_len);
    let out = buf.get_mut(..space).ok_or(Errno::ENOBUFS)?;
    out.fill(0);
    let hdr = CmsgHdr {
        cmsg_len: cmsg_len(data_len),
        cmsg_level: SOL_SOCKET,
        cmsg_type: SCM_RIGHTS,
    };
    out[..8].copy_from_slice(&hdr.cmsg_len.to_ne_bytes());
    out[8..12].copy_from_slice(&hdr.cmsg_level.to_ne_bytes());
    out[12..16].copy_from_slice(&hdr.cmsg_type.to_ne_bytes());
    let data = &mut out[cmsg_align(size_of::<CmsgHdr>())..];
    for (chunk, fd) in data.chunks_exact_mut(4).zip(fds) {
        chunk.copy_from_slice(&fd.as_raw().to_ne_bytes());
    }
    Ok(space)
}

/// One control message found by [`ControlMessages`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlMessage<'a> {
    /// `cmsg_level`, such as [`SOL_SOCKET`].
    pub level: i32,
    /// `cmsg_type`, such as [`SCM_RIGHTS`].
    pub ty: i32,
    /// The data after the header.
    pub data: &'a [u8],
}

impl<'a> ControlMessage<'a> {
    /// For an `SCM_RIGHTS` message: the descriptor numbers it carries.
    ///
    /// Descriptors received by [`recvmsg`] are new and belong to the receiver, which should
    /// take each with [`OwnedFd::from_raw`] so they are closed.
    pub fn rights(&self) -> Option<impl Iterator<Item = RawFd> + 'a> {
        if self.level != SOL_SOCKET || self.ty != SCM_RIGHTS {
            return None;
        }
        let data = self.data;
        Some(
            data.chunks_exact(4)
                .map(|c| RawFd::from_ne_bytes([c[0], c[1], c[2], c[3]])),
        )
    }
}

/// Iterates over the control messages in a buffer (`CMSG_FIRSTHDR`/`CMSG_NXTHDR`); stops at
/// the first header that is short or claims more bytes than remain.
#[derive(Clone, Debug)]
pub struct ControlMessages<'a> {
    rest: &'a [u8],
}

impl<'a> ControlMessages<'a> {
    /// Iterates over `buf`, typically [`MsgHdrMut::control`].
    pub const fn new(buf: &'a [u8]) -> ControlMessages<'a> {
        ControlMessages { rest: buf }
    }
}

impl<'a> Iterator for ControlMessages<'a> {
    type Item = ControlMessage<'a>;

    fn next(&mut self) -> Option<ControlMessage<'a>> {
        let hdr_len = cmsg_align(size_of::<CmsgHdr>());
        let rest = self.rest;
        if rest.len() < hdr_len {
            self.rest = &[];
            return None;
        }
        let len = usize::from_ne_bytes(rest[..8].try_into().ok()?);
        let level = i32::from_ne_bytes(rest[8..12].try_into().ok()?);
        let ty = i32::from_ne_bytes(rest[12..16].try_into().ok()?);
        if len < hdr_len || len > rest.len() {
            self.rest = &[];
            return None;
        }
        let data = &rest[hdr_len..len];
        self.rest = rest.get(cmsg_align(len)..).unwrap_or(&[]);
        Some(ControlMessage { level, ty, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::epoll::{self, EpollEvent, EpollFlags};
    use crate::io;
    use std::vec::Vec;

    const LOCAL4: [u8; 4] = [127, 0, 0, 1];
    const LOCAL6: [u16; 8] = [0, 0, 0, 0, 0, 0, 0, 1];

    fn tcp(family: AddressFamily, flags: SocketFlags) -> OwnedFd {
        socket(
            family,
            SocketType::STREAM,
            SocketFlags::CLOEXEC | flags,
            Protocol::TCP,
        )
        .unwrap()
    }

    fn listener_v4(flags: SocketFlags) -> (OwnedFd, SocketAddrV4) {
        let l = tcp(AddressFamily::INET, flags);
        set_reuseaddr(&l, true).unwrap();
        bind(&l, &SocketAddrV4::new(LOCAL4, 0)).unwrap();
        listen(&l, 8).unwrap();
        let SocketAddr::V4(a) = getsockname(&l).unwrap() else {
            panic!("not v4")
        };
        (l, a)
    }

    #[test]
    fn address_layouts_and_accessors() {
        let a = SocketAddrV4::new([10, 1, 2, 3], 0x1234);
        assert_eq!((a.ip(), a.port()), ([10, 1, 2, 3], 0x1234));
        // SAFETY: SocketAddrV4 is 16 bytes of plain integers.
        let bytes: [u8; 16] = unsafe { core::mem::transmute(a) };
        assert_eq!(
            &bytes[..8],
            &[2, 0, 0x12, 0x34, 10, 1, 2, 3],
            "AF_INET, port BE, addr"
        );
        assert_eq!(std::format!("{a}"), "10.1.2.3:4660");

        let b = SocketAddrV6::from_octets(
            [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9],
            443,
            0xabcde,
            7,
        );
        assert_eq!(b.segments(), [0xfe80, 0, 0, 0, 0, 0, 0, 9]);
        assert_eq!((b.port(), b.flowinfo(), b.scope_id()), (443, 0xabcde, 7));
        // SAFETY: SocketAddrV6 is 28 bytes of plain integers.
        let bytes: [u8; 28] = unsafe { core::mem::transmute(b) };
        assert_eq!(&bytes[..8], &[10, 0, 0x01, 0xbb, 0, 0x0a, 0xbc, 0xde]);
        assert_eq!(&bytes[24..], &7u32.to_ne_bytes());
        assert_eq!(SocketAddrV6::new(LOCAL6, 1).octets()[15], 1);
        assert_eq!(
            std::format!("{}", SocketAddrV6::new(LOCAL6, 80)),
            "[0:0:0:0:0:0:0:1]:80"
        );

        let n = SocketAddrNl::new(42, 5);
        assert_eq!((n.pid(), n.groups()), (42, 5));

        let p = SocketAddrUnix::new(c"/run/x.sock").unwrap();
        assert_eq!(p.path(), Some(&b"/run/x.sock"[..]));
        assert_eq!(p.as_raw().1 as usize, 2 + 12);
        let ab = SocketAddrUnix::new_abstract(b"lp-test-a\0b").unwrap();
        assert_eq!(ab.abstract_name(), Some(&b"lp-test-a\0b"[..]));
        assert_eq!(ab.path(), None);
        assert!(SocketAddrUnix::unnamed().is_unnamed());
        assert_eq!(SocketAddrUnix::new(c""), Err(Errno::EINVAL).map(|()| p));
        let long = [b'a'; 120];
        assert!(SocketAddrUnix::new_abstract(&long).is_err());
        assert_eq!(SocketAddr::Unspec.as_raw().1, 0);
    }

    #[test]
    fn decode_handles_short_and_unknown_addresses() {
        let mut st = SockaddrStorage::new();
        assert_eq!(st.decode(0), SocketAddr::Unspec);
        st.0[..2].copy_from_slice(&AddressFamily::INET.0.to_ne_bytes());
        assert_eq!(
            st.decode(8),
            SocketAddr::Other(AddressFamily::INET),
            "truncated v4"
        );
        st.0[..2].copy_from_slice(&AddressFamily::PACKET.0.to_ne_bytes());
        assert_eq!(st.decode(20), SocketAddr::Other(AddressFamily::PACKET));
        assert_eq!(
            st.decode(10_000),
            SocketAddr::Other(AddressFamily::PACKET),
            "len clamped"
        );
    }

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

    fn peer_v4(c: &OwnedFd) -> SocketAddrV4 {
        match getsockname(c).unwrap() {
            SocketAddr::V4(a) => a,
            other => panic!("{other:?}"),
        }
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

    #[test]
    fn udp_sendto_recvfrom_and_trunc() {
        let udp = || {
            socket(
                AddressFamily::INET,
                SocketType::DGRAM,
                SocketFlags::CLOEXEC,
                Protocol::UDP,
            )
            .unwrap()
        };
        let a = udp();
        let b = udp();
        bind(&a, &SocketAddrV4::new(LOCAL4, 0)).unwrap();
        bind(&b, &SocketAddrV4::new(LOCAL4, 0)).unwrap();
        let (aa, ba) = (peer_v4(&a), peer_v4(&b));
        assert_eq!(sendto(&a, b"datagram", SendFlags::empty(), &ba).unwrap(), 8);
        let mut buf = [0u8; 4];
        let (n, from) = recvfrom(&b, &mut buf, RecvFlags::TRUNC).unwrap();
        assert_eq!(n, 8, "MSG_TRUNC reports the full datagram length");
        assert_eq!(&buf, b"data");
        assert_eq!(from, SocketAddr::V4(aa));
        // The generic enum also works as a destination.
        sendto(&b, b"x", SendFlags::empty(), &SocketAddr::V4(aa)).unwrap();
        assert_eq!(
            recvfrom(&a, &mut buf, RecvFlags::empty()).unwrap(),
            (1, SocketAddr::V4(ba))
        );
        assert_eq!(
            sendto(&a, b"x", SendFlags::empty(), &SocketAddr::Unspec),
            Err(Errno::EDESTADDRREQ)
        );
    }

    #[test]
    fn socket_options_round_trip() {
        let s = tcp(AddressFamily::INET, SocketFlags::empty());
        macro_rules! round_trip {
            ($($set:ident / $get:ident),*) => {$(
                $set(&s, true).unwrap();
                assert!($get(&s).unwrap(), stringify!($get));
                $set(&s, false).unwrap();
                assert!(!$get(&s).unwrap(), stringify!($get));
            )*};
        }
        round_trip!(
            set_reuseaddr / reuseaddr,
            set_reuseport / reuseport,
            set_keepalive / keepalive,
            set_tcp_nodelay / tcp_nodelay,
            set_tcp_cork / tcp_cork
        );
        set_recv_buffer_size(&s, 65536).unwrap();
        assert_eq!(
            recv_buffer_size(&s).unwrap(),
            2 * 65536,
            "Linux doubles SO_RCVBUF"
        );
        set_send_buffer_size(&s, 32768).unwrap();
        assert_eq!(send_buffer_size(&s).unwrap(), 2 * 32768);
        assert_eq!(linger(&s).unwrap(), None);
        set_linger(&s, Some(3)).unwrap();
        assert_eq!(linger(&s).unwrap(), Some(3));
        set_linger(&s, None).unwrap();
        assert_eq!(linger(&s).unwrap(), None);
        set_tcp_defer_accept(&s, 0).unwrap();
        assert_eq!(tcp_defer_accept(&s).unwrap(), 0);
        set_tcp_defer_accept(&s, 3).unwrap();
        assert!(tcp_defer_accept(&s).unwrap() >= 3);
        assert_eq!(take_socket_error(&s).unwrap(), None);
        // Raw form, and the kernel's errors come through.
        setsockopt(&s, SOL_SOCKET, SO_KEEPALIVE, &1i32.to_ne_bytes()).unwrap();
        let mut v = [0u8; 4];
        assert_eq!(getsockopt(&s, SOL_SOCKET, SO_KEEPALIVE, &mut v).unwrap(), 4);
        assert_eq!(i32::from_ne_bytes(v), 1);
        assert_eq!(
            setsockopt(&s, SOL_SOCKET, SO_KEEPALIVE, &[1]),
            Err(Errno::EINVAL)
        );
        assert_eq!(set_ipv6_v6only(&s, true), Err(Errno::ENOPROTOOPT));
        let (p, _q) = io::pipe2(io::PipeFlags::CLOEXEC).unwrap();
        assert_eq!(reuseaddr(&p), Err(Errno::ENOTSOCK));
    }

    /// Bytes a non-blocking sender gets queued towards a peer that reads nothing (a small
    /// receive buffer, a large send buffer), with `TCP_NOTSENT_LOWAT` at `lowat` if given.
    fn queued_before_eagain(lowat: Option<u32>) -> usize {
        let (l, laddr) = listener_v4(SocketFlags::empty());
        let c = tcp(AddressFamily::INET, SocketFlags::empty());
        set_recv_buffer_size(&c, 32 * 1024).unwrap();
        connect(&c, &laddr).unwrap();
        let (s, _) = accept4(&l, SocketFlags::CLOEXEC).unwrap();
        set_send_buffer_size(&s, 2 << 20).unwrap();
        if let Some(v) = lowat {
            set_tcp_notsent_lowat(&s, v).unwrap();
            assert_eq!(tcp_notsent_lowat(&s).unwrap(), v);
        }
        let chunk = [7u8; 16 * 1024];
        let mut queued = 0;
        loop {
            match send(&s, &chunk, SendFlags::NOSIGNAL | SendFlags::DONTWAIT) {
                Ok(n) => queued += n,
                Err(Errno::EAGAIN) => break,
                Err(e) => panic!("{e:?}"),
            }
            assert!(queued < 64 << 20, "the sender never blocked");
        }
        queued
    }

    #[test]
    fn notsent_lowat_bounds_what_waits_unsent() {
        let s = tcp(AddressFamily::INET, SocketFlags::empty());
        assert_eq!(
            tcp_notsent_lowat(&s).unwrap(),
            0,
            "the system-wide value applies"
        );
        set_tcp_notsent_lowat(&s, 128 * 1024).unwrap();
        assert_eq!(tcp_notsent_lowat(&s).unwrap(), 128 * 1024);
        assert_eq!(
            set_tcp_notsent_lowat(&s, u32::MAX),
            Err(Errno::EINVAL),
            "beyond i32"
        );
        // The peer's window (its 64 KiB receive buffer) takes what is in flight; past it,
        // without the limit the 4 MiB send buffer fills, with it about 16 KiB more waits.
        let free = queued_before_eagain(None);
        let bounded = queued_before_eagain(Some(16 * 1024));
        assert!(free > 1 << 20, "unbounded: {free}");
        assert!(
            bounded < 512 * 1024,
            "bounded: {bounded} (unbounded {free})"
        );
    }

    #[test]
    fn socketpair_sendmsg_recvmsg_with_iovecs_and_scm_rights() {
        let (a, b) = socketpair(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            Protocol::DEFAULT,
        )
        .unwrap();
        assert!(matches!(getsockname(&a).unwrap(), SocketAddr::Unix(u) if u.is_unnamed()));
        let (pr, pw) = io::pipe2(io::PipeFlags::CLOEXEC).unwrap();
        let mut control = [0u8; cmsg_space(4)];
        let clen = encode_scm_rights(&mut control, &[pw.as_fd()]).unwrap();
        assert_eq!(clen, cmsg_space(4));
        assert_eq!(
            encode_scm_rights(&mut [0u8; 8], &[pw.as_fd()]),
            Err(Errno::ENOBUFS)
        );
        let iov = [IoSlice::new(b"head-"), IoSlice::new(b"tail")];
        let msg = MsgHdr::new(&iov).with_control(&control[..clen]);
        assert_eq!(sendmsg(&a, &msg, SendFlags::NOSIGNAL).unwrap(), 9);
        drop(pw); // the kernel holds a reference in flight

        let (mut x, mut y) = ([0u8; 3], [0u8; 16]);
        let mut riov = [IoSliceMut::new(&mut x), IoSliceMut::new(&mut y)];
        let mut rcontrol = [0u8; 64];
        let mut rmsg = MsgHdrMut::new(&mut riov).with_control(&mut rcontrol);
        let n = recvmsg(&b, &mut rmsg, RecvFlags::CMSG_CLOEXEC).unwrap();
        assert_eq!(n, 9);
        assert!(!rmsg.flags().contains(RecvFlags::CTRUNC));
        let msgs: Vec<_> = ControlMessages::new(rmsg.control()).collect();
        assert_eq!(msgs.len(), 1);
        let fds: Vec<_> = msgs[0].rights().unwrap().collect();
        assert_eq!(fds.len(), 1);
        // SAFETY: the descriptor was just installed in this process by recvmsg.
        let got = unsafe { OwnedFd::from_raw(fds[0]) };
        assert_eq!(&x, b"hea");
        assert_eq!(&y[..6], b"d-tail");
        assert!(
            io::fcntl_getfd(&got)
                .unwrap()
                .contains(io::FdFlags::CLOEXEC),
            "MSG_CMSG_CLOEXEC"
        );
        io::write(&got, b"via fd").unwrap();
        let mut buf = [0u8; 6];
        assert_eq!(io::read(&pr, &mut buf).unwrap(), 6);
        assert_eq!(&buf, b"via fd");
    }

    #[test]
    fn recvmsg_reports_sender_and_truncation() {
        let udp = || {
            socket(
                AddressFamily::INET,
                SocketType::DGRAM,
                SocketFlags::CLOEXEC,
                Protocol::DEFAULT,
            )
            .unwrap()
        };
        let (a, b) = (udp(), udp());
        bind(&b, &SocketAddrV4::new(LOCAL4, 0)).unwrap();
        let ba = peer_v4(&b);
        let iov = [IoSlice::new(b"0123456789")];
        sendmsg(&a, &MsgHdr::new(&iov).with_addr(&ba), SendFlags::empty()).unwrap();
        let aa = peer_v4(&a);
        let mut small = [0u8; 4];
        let mut riov = [IoSliceMut::new(&mut small)];
        let mut name = SockAddrBuf::new();
        let mut rmsg = MsgHdrMut::new(&mut riov).with_addr(&mut name);
        assert_eq!(recvmsg(&b, &mut rmsg, RecvFlags::empty()).unwrap(), 4);
        assert!(rmsg.flags().contains(RecvFlags::TRUNC));
        // The sender was bound implicitly to 0.0.0.0:port; the datagram carries 127.0.0.1.
        let Some(SocketAddr::V4(from)) = rmsg.addr() else {
            panic!("{:?}", rmsg.addr())
        };
        assert_eq!((from.ip(), from.port()), (LOCAL4, aa.port()));
        assert_eq!(rmsg.control(), &[] as &[u8]);
    }

    #[test]
    fn control_messages_stop_on_garbage() {
        let mut buf = [0u8; 40];
        buf[..8].copy_from_slice(&1000usize.to_ne_bytes()); // claims more than the buffer
        assert_eq!(ControlMessages::new(&buf).count(), 0);
        buf[..8].copy_from_slice(&3usize.to_ne_bytes()); // shorter than a header
        assert_eq!(ControlMessages::new(&buf).count(), 0);
        assert_eq!(ControlMessages::new(&buf[..5]).count(), 0);
        buf[..8].copy_from_slice(&cmsg_len(4).to_ne_bytes());
        buf[8..12].copy_from_slice(&7i32.to_ne_bytes());
        let m: Vec<_> = ControlMessages::new(&buf).collect();
        assert_eq!(m.len(), 1, "the zeroed header after it is rejected: {m:?}");
        assert_eq!((m[0].level, m[0].ty, m[0].data.len()), (7, 0, 4));
        assert!(m[0].rights().is_none());
    }

    #[test]
    fn unix_abstract_and_path_sockets() {
        let name = std::format!("lp-test-net-{}", crate::signal::test_util::gettid());
        let addr = SocketAddrUnix::new_abstract(name.as_bytes()).unwrap();
        let l = socket(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            Protocol::DEFAULT,
        )
        .unwrap();
        bind(&l, &addr).unwrap();
        listen(&l, 2).unwrap();
        assert_eq!(getsockname(&l).unwrap(), SocketAddr::Unix(addr));
        let c = socket(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            Protocol::DEFAULT,
        )
        .unwrap();
        connect(&c, &addr).unwrap();
        let (s, peer) = accept4(&l, SocketFlags::CLOEXEC).unwrap();
        assert!(
            matches!(peer, SocketAddr::Unix(u) if u.is_unnamed()),
            "{peer:?}"
        );
        assert_eq!(getpeername(&c).unwrap(), SocketAddr::Unix(addr));
        send(&c, b"rec1", SendFlags::EOR).unwrap();
        let mut b = [0u8; 8];
        assert_eq!(recv(&s, &mut b, RecvFlags::empty()).unwrap(), 4);

        let path = std::format!(
            "/tmp/lp-test-net-{}.sock\0",
            crate::signal::test_util::gettid()
        );
        let cpath = core::ffi::CStr::from_bytes_with_nul(path.as_bytes()).unwrap();
        let _ = std::fs::remove_file(&path[..path.len() - 1]);
        let paddr = SocketAddrUnix::new(cpath).unwrap();
        let d = socket(
            AddressFamily::UNIX,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC,
            Protocol::DEFAULT,
        )
        .unwrap();
        let bound = bind(&d, &paddr);
        let name_back = getsockname(&d);
        std::fs::remove_file(&path[..path.len() - 1]).unwrap();
        bound.unwrap();
        let SocketAddr::Unix(u) = name_back.unwrap() else {
            panic!()
        };
        assert_eq!(u.path(), Some(cpath.to_bytes()));
    }

    #[cfg(feature = "std")]
    #[test]
    fn std_conversions() {
        let s: std::net::SocketAddrV4 = "127.0.0.1:8080".parse().unwrap();
        let r = SocketAddrV4::from(s);
        assert_eq!((r.ip(), r.port()), (LOCAL4, 8080));
        assert_eq!(std::net::SocketAddrV4::from(r), s);
        let s6 = std::net::SocketAddrV6::new("fe80::1".parse().unwrap(), 53, 9, 2);
        let r6 = SocketAddrV6::from(s6);
        assert_eq!(std::net::SocketAddrV6::from(r6), s6);
        let any: std::net::SocketAddr = s6.into();
        assert_eq!(
            std::net::SocketAddr::try_from(SocketAddr::from(any)),
            Ok(any)
        );
        assert_eq!(
            std::net::SocketAddr::try_from(SocketAddr::Unix(SocketAddrUnix::unnamed())),
            Err(Errno::EAFNOSUPPORT)
        );
    }
}
