//! Socket options: the raw `setsockopt`/`getsockopt` and typed setters and getters for the
//! options this project uses.

use core::mem::offset_of;

use super::SocketType;
use crate::Errno;
use crate::fd::AsFd;
use crate::sys::{self, Sysno};

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
            sys::fd_arg(fd),
            level as usize,
            name as usize,
            sys::by_ref(value),
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
            sys::fd_arg(fd),
            level as usize,
            name as usize,
            sys::by_mut(value),
            sys::by_mut(&mut len),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::io;
    use crate::net::testing::*;
    use crate::net::*;

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
}
