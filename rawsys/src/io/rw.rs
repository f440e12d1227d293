//! Moving bytes through descriptors: `read`/`write`, positioned and vectored forms, the file
//! position (`lseek`) and in-kernel copying with `sendfile`.

use core::marker::PhantomData;

use static_assertions::{assert_eq_size, const_assert_eq};

use crate::Result;
use crate::fd::AsFd;
use crate::sys::{self, Sysno};

/// `read(2)`: reads up to `buf.len()` bytes; `Ok(0)` is end of file.
pub fn read(fd: impl AsFd, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: buf is valid for writes of buf.len() bytes for the duration of the call.
    unsafe { sys::syscall3(Sysno::read, sys::fd_arg(fd), sys::by_mut(buf), buf.len()) }
}

/// `write(2)`: writes up to `buf.len()` bytes; a short count is returned as it is.
pub fn write(fd: impl AsFd, buf: &[u8]) -> Result<usize> {
    // SAFETY: buf is valid for reads of buf.len() bytes.
    unsafe { sys::syscall3(Sysno::write, sys::fd_arg(fd), sys::by_ref(buf), buf.len()) }
}

/// `pread64(2)`: reads at `offset` without moving the file position.
pub fn pread(fd: impl AsFd, buf: &mut [u8], offset: u64) -> Result<usize> {
    // SAFETY: buf is valid for writes of buf.len() bytes.
    unsafe {
        sys::syscall4(
            Sysno::pread64,
            sys::fd_arg(fd),
            sys::by_mut(buf),
            buf.len(),
            offset as usize,
        )
    }
}

/// `pwrite64(2)`: writes at `offset` without moving the file position.
pub fn pwrite(fd: impl AsFd, buf: &[u8], offset: u64) -> Result<usize> {
    // SAFETY: buf is valid for reads of buf.len() bytes.
    unsafe {
        sys::syscall4(
            Sysno::pwrite64,
            sys::fd_arg(fd),
            sys::by_ref(buf),
            buf.len(),
            offset as usize,
        )
    }
}

/// One buffer of a vectored write: the kernel's `struct iovec`, borrowing a byte slice.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct IoSlice<'a> {
    base: *const u8,
    len: usize,
    _buf: PhantomData<&'a [u8]>,
}

/// One buffer of a vectored read: the kernel's `struct iovec`, borrowing a mutable byte slice.
#[derive(Debug)]
#[repr(C)]
pub struct IoSliceMut<'a> {
    base: *mut u8,
    len: usize,
    _buf: PhantomData<&'a mut [u8]>,
}

assert_eq_size!(IoSlice<'static>, [usize; 2]);
assert_eq_size!(IoSliceMut<'static>, [usize; 2]);
const_assert_eq!(core::mem::offset_of!(IoSlice<'static>, base), 0);
const_assert_eq!(
    core::mem::offset_of!(IoSlice<'static>, len),
    core::mem::size_of::<usize>()
);
const_assert_eq!(core::mem::offset_of!(IoSliceMut<'static>, base), 0);
const_assert_eq!(
    core::mem::offset_of!(IoSliceMut<'static>, len),
    core::mem::size_of::<usize>()
);

impl<'a> IoSlice<'a> {
    /// Wraps a slice.
    pub const fn new(buf: &'a [u8]) -> Self {
        IoSlice {
            base: buf.as_ptr(),
            len: buf.len(),
            _buf: PhantomData,
        }
    }
    /// The number of bytes.
    pub const fn len(&self) -> usize {
        self.len
    }
    /// Whether the buffer is empty.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<'a> IoSliceMut<'a> {
    /// Wraps a mutable slice.
    pub fn new(buf: &'a mut [u8]) -> Self {
        IoSliceMut {
            base: buf.as_mut_ptr(),
            len: buf.len(),
            _buf: PhantomData,
        }
    }
    /// The number of bytes.
    pub const fn len(&self) -> usize {
        self.len
    }
    /// Whether the buffer is empty.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// `readv(2)`: scatters one read over several buffers.
pub fn readv(fd: impl AsFd, bufs: &mut [IoSliceMut<'_>]) -> Result<usize> {
    // SAFETY: IoSliceMut has the layout of struct iovec and each borrows a live mutable buffer.
    unsafe { sys::syscall3(Sysno::readv, sys::fd_arg(fd), sys::by_mut(bufs), bufs.len()) }
}

/// `writev(2)`: gathers one write from several buffers.
pub fn writev(fd: impl AsFd, bufs: &[IoSlice<'_>]) -> Result<usize> {
    // SAFETY: IoSlice has the layout of struct iovec and each borrows a live buffer.
    unsafe {
        sys::syscall3(
            Sysno::writev,
            sys::fd_arg(fd),
            sys::by_ref(bufs),
            bufs.len(),
        )
    }
}

/// Where [`lseek`] counts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whence {
    /// `SEEK_SET`
    Start,
    /// `SEEK_CUR`
    Current,
    /// `SEEK_END`
    End,
    /// `SEEK_DATA`: the next region holding data at or after the offset.
    Data,
    /// `SEEK_HOLE`: the next hole at or after the offset.
    Hole,
}

/// `lseek(2)`: returns the new offset.
pub fn lseek(fd: impl AsFd, offset: i64, whence: Whence) -> Result<u64> {
    let w = match whence {
        Whence::Start => 0,
        Whence::Current => 1,
        Whence::End => 2,
        Whence::Data => 3,
        Whence::Hole => 4,
    };
    // SAFETY: no pointers.
    unsafe { sys::syscall3(Sysno::lseek, sys::fd_arg(fd), offset as usize, w) }.map(|v| v as u64)
}

/// `sendfile(2)`: copies up to `count` bytes from `in_fd` to `out_fd` inside the kernel.
///
/// With `offset`, reads from there and advances it, leaving `in_fd`'s position alone.
pub fn sendfile(
    out_fd: impl AsFd,
    in_fd: impl AsFd,
    offset: Option<&mut u64>,
    count: usize,
) -> Result<usize> {
    let off = offset.map_or(core::ptr::null_mut(), |o| o as *mut u64);
    // SAFETY: off is null or points to a live u64 (loff_t) for the call.
    unsafe {
        sys::syscall4(
            Sysno::sendfile,
            sys::fd_arg(out_fd),
            sys::fd_arg(in_fd),
            off as usize,
            count,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::fs::testing::TempDir;
    use crate::fs::*;
    use crate::io::*;
    use std::vec::Vec;

    #[test]
    fn writing_to_a_closed_pipe_is_epipe_not_hidden() {
        // SIGPIPE is ignored by the Rust runtime, so the error surfaces as EPIPE.
        let (r, w) = pipe2(PipeFlags::CLOEXEC).unwrap();
        drop(r);
        assert_eq!(write(&w, b"x"), Err(Errno::EPIPE));
    }

    #[test]
    fn vectored_io_gathers_and_scatters() {
        let (r, w) = pipe2(PipeFlags::CLOEXEC).unwrap();
        let n = writev(
            &w,
            &[
                IoSlice::new(b"hello "),
                IoSlice::new(b""),
                IoSlice::new(b"world"),
            ],
        )
        .unwrap();
        assert_eq!(n, 11);
        let (mut a, mut b) = ([0u8; 3], [0u8; 16]);
        let n = readv(&r, &mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)]).unwrap();
        assert_eq!(n, 11);
        assert_eq!(&a, b"hel");
        assert_eq!(&b[..8], b"lo world");
    }

    #[test]
    fn sendfile_copies_in_kernel_with_and_without_offset() {
        let dir = TempDir::new("sendfile");
        let d = dir.open();
        let f = openat(
            &d,
            c"src",
            OFlags::RDWR | OFlags::CREAT | OFlags::CLOEXEC,
            Mode::RUSR | Mode::WUSR,
        )
        .unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut off = 0;
        while off < data.len() {
            off += write(&f, &data[off..]).unwrap();
        }
        let (r, w) = pipe2(PipeFlags::CLOEXEC).unwrap();
        let mut pos = 10u64;
        assert_eq!(sendfile(&w, &f, Some(&mut pos), 1000).unwrap(), 1000);
        assert_eq!(pos, 1010);
        assert_eq!(
            lseek(&f, 0, Whence::Current).unwrap(),
            100_000,
            "offset form keeps the position"
        );
        let mut got = [0u8; 1000];
        let mut n = 0;
        while n < 1000 {
            n += read(&r, &mut got[n..]).unwrap();
        }
        assert_eq!(&got[..], &data[10..1010]);
        lseek(&f, 99_990, Whence::Start).unwrap();
        assert_eq!(
            sendfile(&w, &f, None, 1000).unwrap(),
            10,
            "short at end of file"
        );
        assert_eq!(lseek(&f, 0, Whence::Current).unwrap(), 100_000);
    }
}
