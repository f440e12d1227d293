//! Where pages come from: the [`PageSource`] trait and its real implementation on `mmap`.

use core::ptr::NonNull;

/// A provider of page-aligned memory and of a clock, the bottom of the allocator.
///
/// # Safety
/// Implementations must uphold, for the heap above to be sound:
/// - [`map`](PageSource::map) returns `len` bytes of readable, writable memory aligned to
///   4096 that nothing else uses, or `None`;
/// - [`release`](PageSource::release) keeps the range mapped and usable (its contents may
///   become zero);
/// - no method allocates through the global allocator or calls back into the heap (they run
///   under the heap's locks), and none panics.
pub unsafe trait PageSource: Sync {
    /// Maps `len` bytes (a multiple of 4096) of fresh memory.
    fn map(&self, len: usize) -> Option<NonNull<u8>>;

    /// Returns the physical memory behind the range to the system; the range stays mapped.
    /// Returns whether the system accepted.
    ///
    /// # Safety
    /// The caller owns the range and no longer needs its contents.
    unsafe fn release(&self, ptr: NonNull<u8>, len: usize) -> bool;

    /// Unmaps a range obtained from [`map`](PageSource::map) that the heap cannot use.
    ///
    /// # Safety
    /// Nothing refers to the range any more.
    unsafe fn unmap(&self, ptr: NonNull<u8>, len: usize);

    /// A monotonic clock in nanoseconds: free spans are released after idling this long.
    fn now_ns(&self) -> u64;
}

/// The real page source: anonymous private `mmap`, `madvise(MADV_DONTNEED)` to release,
/// `CLOCK_MONOTONIC_COARSE` as the clock. All through rawsys.
#[derive(Debug, Default, Clone, Copy)]
pub struct MmapSource;

impl MmapSource {
    /// The source (stateless).
    pub const fn new() -> Self {
        MmapSource
    }
}

// SAFETY: mmap without MAP_FIXED returns fresh page-aligned memory; madvise(DONTNEED) keeps the
// mapping; raw syscalls neither allocate nor re-enter; errors are returned, never panicked.
unsafe impl PageSource for MmapSource {
    fn map(&self, len: usize) -> Option<NonNull<u8>> {
        use rawsys::mm::{MapFlags, ProtFlags};
        let p = rawsys::mm::mmap_anonymous(
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::PRIVATE | MapFlags::NORESERVE,
        )
        .ok()?;
        NonNull::new(p)
    }

    unsafe fn release(&self, ptr: NonNull<u8>, len: usize) -> bool {
        // SAFETY: the caller owns the range and gives up its contents.
        unsafe { rawsys::mm::madvise(ptr.as_ptr(), len, rawsys::mm::Advice::DontNeed) }.is_ok()
    }

    unsafe fn unmap(&self, ptr: NonNull<u8>, len: usize) {
        // SAFETY: the caller guarantees nothing refers to the range. A failure leaves it mapped,
        // which only wastes address space.
        let _ = unsafe { rawsys::mm::munmap(ptr.as_ptr(), len) };
    }

    fn now_ns(&self) -> u64 {
        match rawsys::time::clock_gettime(rawsys::time::ClockId::MonotonicCoarse) {
            Ok(t) => t.as_nanos().max(0) as u64,
            Err(_) => 0,
        }
    }
}
