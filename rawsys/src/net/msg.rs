//! Data transfer: `send`/`recv`, `sendto`/`recvfrom`, and `sendmsg`/`recvmsg` with several
//! buffers, the sender's address and control messages (descriptor passing with `SCM_RIGHTS`).

use core::marker::PhantomData;
use core::mem::size_of;

use super::addr::{SockAddrArg, SockaddrStorage, SocketAddr};
use super::sockopt::SOL_SOCKET;
use crate::Errno;
use crate::fd::{AsFd, BorrowedFd, RawFd};
use crate::sys::{self, Sysno};

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
            sys::fd_arg(fd),
            sys::by_ref(buf),
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
            sys::fd_arg(fd),
            sys::by_ref(buf),
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
            sys::fd_arg(fd),
            sys::by_mut(buf),
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
            sys::fd_arg(fd),
            sys::by_mut(buf),
            buf.len(),
            flags.bits() as usize,
            sys::by_mut(&mut st.0),
            sys::by_mut(&mut len),
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
            sys::fd_arg(fd),
            sys::by_ref(msg),
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
            sys::fd_arg(fd),
            sys::by_mut(msg),
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
    /// take each with [`OwnedFd::from_raw`](crate::fd::OwnedFd::from_raw) so they are closed.
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
    use crate::Errno;
    use crate::fd::OwnedFd;
    use crate::io;
    use crate::net::testing::*;
    use crate::net::*;
    use std::vec::Vec;

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
}
