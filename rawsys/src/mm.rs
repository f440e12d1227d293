//! Memory mappings: `mmap`, `munmap`, `mprotect`, `madvise`, `mremap`.
//!
//! These work on raw pointers because mappings are the material allocators are built from;
//! the functions that could invalidate memory other code still uses are `unsafe`.
//!
//! ```
//! use rawsys::mm::{self, MapFlags, ProtFlags};
//!
//! let len = 1 << 20;
//! let p = mm::mmap_anonymous(len, ProtFlags::READ | ProtFlags::WRITE, MapFlags::PRIVATE)?;
//! // SAFETY: the mapping is ours, writable and `len` bytes long.
//! unsafe { p.write_bytes(7, len) };
//! // SAFETY: nothing refers to the mapping any more.
//! unsafe { mm::munmap(p, len)? };
//! # Ok::<(), rawsys::Errno>(())
//! ```

use crate::Result;
use crate::fd::AsFd;
use crate::sys::{self, Sysno};

/// The base page size on every architecture this crate targets with its default kernel config.
/// (`aarch64` kernels may use 16 or 64 KiB pages; [`page_size`] asks the kernel.)
pub const PAGE_SIZE: usize = 4096;

bitflags::bitflags! {
    /// Memory protection (`PROT_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct ProtFlags: u32 {
        /// `PROT_READ`
        const READ = 0x1;
        /// `PROT_WRITE`
        const WRITE = 0x2;
        /// `PROT_EXEC`
        const EXEC = 0x4;
    }
}

bitflags::bitflags! {
    /// Mapping flags (`MAP_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct MapFlags: u32 {
        /// `MAP_SHARED`
        const SHARED = 0x01;
        /// `MAP_PRIVATE`
        const PRIVATE = 0x02;
        /// `MAP_FIXED`: replace whatever is mapped at the address.
        const FIXED = 0x10;
        /// `MAP_ANONYMOUS`
        const ANONYMOUS = 0x20;
        /// `MAP_GROWSDOWN`
        const GROWSDOWN = 0x100;
        /// `MAP_NORESERVE`: do not reserve swap (commit) for the mapping.
        const NORESERVE = 0x4000;
        /// `MAP_POPULATE`: prefault the pages.
        const POPULATE = 0x8000;
        /// `MAP_STACK`
        const STACK = 0x20000;
        /// `MAP_HUGETLB`
        const HUGETLB = 0x40000;
        /// `MAP_FIXED_NOREPLACE`: like `FIXED` but fails with `EEXIST` instead of replacing.
        const FIXED_NOREPLACE = 0x100000;
    }
}

/// Advice for [`madvise`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Advice {
    /// `MADV_NORMAL`
    Normal = 0,
    /// `MADV_RANDOM`
    Random = 1,
    /// `MADV_SEQUENTIAL`
    Sequential = 2,
    /// `MADV_WILLNEED`
    WillNeed = 3,
    /// `MADV_DONTNEED`: drop the pages now; private anonymous memory reads back as zeros.
    DontNeed = 4,
    /// `MADV_FREE`: the kernel may reclaim the pages lazily; contents are undefined until written.
    Free = 8,
    /// `MADV_HUGEPAGE`
    HugePage = 14,
    /// `MADV_NOHUGEPAGE`
    NoHugePage = 15,
    /// `MADV_DONTDUMP`
    DontDump = 16,
}

bitflags::bitflags! {
    /// Flags for [`mremap`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct MremapFlags: u32 {
        /// `MREMAP_MAYMOVE`
        const MAYMOVE = 1;
        /// `MREMAP_FIXED`
        const FIXED = 2;
        /// `MREMAP_DONTUNMAP`
        const DONTUNMAP = 4;
    }
}

/// `mmap(2)` of `len` bytes of `fd` at `offset`, or anonymous memory when `fd` is `None`
/// (then [`MapFlags::ANONYMOUS`] is added).
///
/// # Safety
/// With [`MapFlags::FIXED`] the call replaces any mapping at `addr`; the caller must own that
/// range. Without it, `addr` is only a hint and the call is safe in itself.
pub unsafe fn mmap(
    addr: *mut u8,
    len: usize,
    prot: ProtFlags,
    mut flags: MapFlags,
    fd: Option<crate::fd::BorrowedFd<'_>>,
    offset: u64,
) -> Result<*mut u8> {
    let fd = match fd {
        Some(fd) => fd.as_fd().as_raw(),
        None => {
            flags |= MapFlags::ANONYMOUS;
            -1
        }
    };
    // SAFETY: the caller vouches for `addr` when FIXED is set; otherwise the kernel picks a
    // free range and no existing memory is touched.
    unsafe {
        sys::syscall6(
            Sysno::mmap,
            addr as usize,
            len,
            prot.bits() as usize,
            flags.bits() as usize,
            fd as usize,
            offset as usize,
        )
    }
    .map(|p| p as *mut u8)
}

/// `mmap(2)` of fresh anonymous memory at an address the kernel chooses.
///
/// `FIXED` in `flags` is refused with `EINVAL`: use [`mmap`] for that.
pub fn mmap_anonymous(len: usize, prot: ProtFlags, flags: MapFlags) -> Result<*mut u8> {
    if flags.intersects(MapFlags::FIXED | MapFlags::FIXED_NOREPLACE) {
        return Err(crate::Errno::EINVAL);
    }
    // SAFETY: without FIXED the kernel picks an unused range, so no live memory is replaced.
    unsafe { mmap(core::ptr::null_mut(), len, prot, flags, None, 0) }
}

/// `munmap(2)`.
///
/// # Safety
/// Nothing may use the range after this call.
pub unsafe fn munmap(addr: *mut u8, len: usize) -> Result<()> {
    // SAFETY: the caller guarantees the range is no longer used.
    unsafe { sys::syscall2(Sysno::munmap, addr as usize, len) }.map(drop)
}

/// `mprotect(2)`.
///
/// # Safety
/// Removing access from memory that safe code still references turns later accesses into
/// faults; the caller must own the range.
pub unsafe fn mprotect(addr: *mut u8, len: usize, prot: ProtFlags) -> Result<()> {
    // SAFETY: the caller owns the range.
    unsafe { sys::syscall3(Sysno::mprotect, addr as usize, len, prot.bits() as usize) }.map(drop)
}

/// `madvise(2)`.
///
/// # Safety
/// [`Advice::DontNeed`] and [`Advice::Free`] discard contents: the caller must own the range
/// and not rely on what it held.
pub unsafe fn madvise(addr: *mut u8, len: usize, advice: Advice) -> Result<()> {
    // SAFETY: the caller owns the range and accepts the loss of its contents.
    unsafe { sys::syscall3(Sysno::madvise, addr as usize, len, advice as usize) }.map(drop)
}

/// `mremap(2)`: grows or shrinks a mapping, moving it if `MAYMOVE` allows. Returns the new address.
///
/// # Safety
/// The caller owns the old range; if the mapping moves, pointers into the old range dangle.
pub unsafe fn mremap(
    old: *mut u8,
    old_len: usize,
    new_len: usize,
    flags: MremapFlags,
) -> Result<*mut u8> {
    // SAFETY: the caller owns the range and handles a move.
    unsafe {
        sys::syscall4(
            Sysno::mremap,
            old as usize,
            old_len,
            new_len,
            flags.bits() as usize,
        )
    }
    .map(|p| p as *mut u8)
}

/// The kernel's page size, read from the auxiliary vector through `/proc/self/auxv`, falling
/// back to [`PAGE_SIZE`] if it cannot be read.
pub fn page_size() -> usize {
    use crate::fs::{self, CWD, Mode, OFlags};
    use crate::io;
    const AT_PAGESZ: usize = 6;
    let Ok(fd) = fs::openat(
        CWD,
        c"/proc/self/auxv",
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return PAGE_SIZE;
    };
    let mut buf = [0u8; 16];
    loop {
        match io::read(&fd, &mut buf) {
            Ok(16) => {
                let key = usize::from_ne_bytes(buf[..8].try_into().unwrap_or([0; 8]));
                let val = usize::from_ne_bytes(buf[8..].try_into().unwrap_or([0; 8]));
                if key == AT_PAGESZ && val.is_power_of_two() {
                    return val;
                }
                if key == 0 {
                    return PAGE_SIZE;
                }
            }
            _ => return PAGE_SIZE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;

    /// Resident pages of [addr, addr+len) from /proc/self/smaps would be heavy; mincore is not
    /// wrapped, so residency is checked through the zero-fill behaviour instead.
    #[test]
    fn anonymous_map_write_protect_unmap() {
        let len = 4 * PAGE_SIZE;
        let p = mmap_anonymous(len, ProtFlags::READ | ProtFlags::WRITE, MapFlags::PRIVATE).unwrap();
        assert_eq!(p as usize % PAGE_SIZE, 0);
        // SAFETY: p..p+len is our fresh read-write mapping.
        unsafe {
            assert_eq!(*p, 0, "anonymous memory starts zeroed");
            p.write_bytes(0xAB, len);
            assert_eq!(*p.add(len - 1), 0xAB);
            mprotect(p, len, ProtFlags::READ).unwrap();
            assert_eq!(*p.add(5), 0xAB);
            munmap(p, len).unwrap();
        }
        assert_eq!(
            mmap_anonymous(len, ProtFlags::READ, MapFlags::PRIVATE | MapFlags::FIXED),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            mmap_anonymous(len, ProtFlags::READ, MapFlags::empty()),
            Err(Errno::EINVAL),
            "needs SHARED or PRIVATE"
        );
    }

    #[test]
    fn madvise_dontneed_zeroes_and_free_is_accepted() {
        let len = 8 * PAGE_SIZE;
        let p = mmap_anonymous(len, ProtFlags::READ | ProtFlags::WRITE, MapFlags::PRIVATE).unwrap();
        // SAFETY: our mapping; the advice discards contents we no longer need.
        unsafe {
            p.write_bytes(1, len);
            madvise(p, len, Advice::DontNeed).unwrap();
            assert_eq!(
                *p.add(3 * PAGE_SIZE),
                0,
                "DONTNEED on private anonymous memory refills with zeros"
            );
            p.write_bytes(2, len);
            madvise(p, len, Advice::Free).unwrap();
            madvise(p, len, Advice::WillNeed).unwrap();
            assert_eq!(
                madvise(p.add(1), PAGE_SIZE, Advice::DontNeed),
                Err(Errno::EINVAL),
                "unaligned start"
            );
            munmap(p, len).unwrap();
        }
    }

    #[test]
    fn mremap_grows_and_keeps_contents_and_fixed_noreplace_refuses() {
        let p = mmap_anonymous(
            PAGE_SIZE,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::PRIVATE,
        )
        .unwrap();
        // SAFETY: our mapping; after mremap only the returned address is used.
        unsafe {
            *p = 42;
            let q = mremap(p, PAGE_SIZE, 64 * PAGE_SIZE, MremapFlags::MAYMOVE).unwrap();
            assert_eq!(*q, 42);
            *q.add(63 * PAGE_SIZE) = 7;
            assert_eq!(
                mmap(
                    q,
                    PAGE_SIZE,
                    ProtFlags::READ,
                    MapFlags::PRIVATE | MapFlags::FIXED_NOREPLACE,
                    None,
                    0
                ),
                Err(Errno::EEXIST)
            );
            munmap(q, 64 * PAGE_SIZE).unwrap();
        }
    }

    #[test]
    fn file_mapping_sees_file_bytes() {
        use crate::fs::{self, CWD, Mode, OFlags};
        let fd = fs::openat(
            CWD,
            c"/proc/self/exe",
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        // SAFETY: a private read-only mapping of a file at a kernel-chosen address.
        let p = unsafe {
            mmap(
                core::ptr::null_mut(),
                PAGE_SIZE,
                ProtFlags::READ,
                MapFlags::PRIVATE,
                Some(fd.as_fd()),
                0,
            )
        }
        .unwrap();
        // SAFETY: the first page of the mapping is readable.
        let head = unsafe { core::slice::from_raw_parts(p, 4) };
        assert_eq!(head, b"\x7fELF");
        // SAFETY: done with the mapping.
        unsafe { munmap(p, PAGE_SIZE).unwrap() };
    }

    #[test]
    fn page_size_comes_from_the_kernel() {
        let ps = page_size();
        assert!(ps.is_power_of_two() && ps >= 4096);
    }
}
