//! Socket addresses in the kernel's own layout: IPv4, IPv6, Unix-domain and netlink, the
//! [`SocketAddr`] any of them decodes into, and the sealed [`SockAddrArg`] trait through which
//! the calls hand an address to the kernel.

use core::fmt;
use core::mem::{offset_of, size_of};

use crate::Errno;

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

    /// The address of an unnamed socket (for example either end of a [`socketpair`](super::socketpair)).
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

/// A socket address of any family, as returned by [`accept4`](super::accept4), [`getsockname`](super::getsockname),
/// [`getpeername`](super::getpeername) and [`recvfrom`](super::recvfrom).
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
pub(super) struct SockaddrStorage(pub(super) [u8; 128]);

static_assertions::assert_eq_size!(SockaddrStorage, [u8; 128]);

impl SockaddrStorage {
    pub(super) const fn new() -> SockaddrStorage {
        SockaddrStorage([0; 128])
    }

    /// Decodes the first `len` bytes, which the kernel filled.
    pub(super) fn decode(&self, len: u32) -> SocketAddr {
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

/// A socket address that can be handed to the kernel ([`bind`](super::bind), [`connect`](super::connect), [`sendto`](super::sendto),
/// [`MsgHdr::with_addr`](super::MsgHdr::with_addr)). Implemented by this module's address types only.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::net::testing::*;
    use crate::net::*;

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
