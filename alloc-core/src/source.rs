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
    /// Whether [`map_object`](PageSource::map_object) gives large objects mappings of their
    /// own (then objects allocated above 32 MiB live there, and `realloc` moves a span-heap
    /// object that grows past 8 MiB into one instead of growing its span in place).
    const MAPS_OBJECTS: bool = false;

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

    /// Called, under the page heap lock, whenever a span is freed while the heap holds free
    /// memory not yet released to the OS: a source with a background purger wakes it here
    /// (the purger then calls [`Heap::purge_idle_memory`](crate::Heap::purge_idle_memory)).
    /// It must not block, allocate or call into the heap. The default does nothing (idle
    /// spans are then released only when the heap frees a span after the release delay).
    fn free_memory_pending(&self) {}

    /// Maps `len` bytes (a multiple of 4096) aligned to `align` (a power of two) as a mapping
    /// of its own for one large object, which the heap later resizes with
    /// [`remap_object`](PageSource::remap_object) and gives back with
    /// [`unmap`](PageSource::unmap). `None` when out of memory or when this source does not
    /// give objects their own mappings (the default): the heap then serves them from spans.
    fn map_object(&self, len: usize, align: usize) -> Option<NonNull<u8>> {
        let _ = (len, align);
        None
    }

    /// Resizes a mapping made by [`map_object`](PageSource::map_object) from `old_len` to
    /// `new_len` bytes (multiples of 4096), keeping its contents, possibly moving it (without
    /// copying: `mremap(MREMAP_MAYMOVE)`); the result is page aligned. `None` (the mapping
    /// untouched) when it cannot; the default always says `None`.
    ///
    /// # Safety
    /// The caller owns the mapping; when it moves, pointers into the old range dangle.
    unsafe fn remap_object(
        &self,
        ptr: NonNull<u8>,
        old_len: usize,
        new_len: usize,
    ) -> Option<NonNull<u8>> {
        let _ = (ptr, old_len, new_len);
        None
    }
}

/// 2 MiB: the x86_64 (and 4 KiB-granule aarch64) transparent huge page.
const HUGE_PAGE: usize = 2 << 20;
/// Mappings longer than 2 MiB are 2 MiB aligned and advised `MADV_HUGEPAGE`. The page heap
/// maps more than that at a time once it holds about 4.5 MiB (it grows by half its size, in
/// whole 2 MiB units beyond 2 MiB), so small heaps keep 4 KiB granularity (and a small
/// resident set) while big ones take one page fault per 2 MiB instead of 512: allocating and
/// touching a fresh 500 MiB costs about a third of the time then (the `seed-batch`
/// benchmark), and a Rust program building a 200k-entry `HashMap` of vectors takes 1.3-1.7k
/// page faults instead of 8.2-9.0k (`std-hashmap`, when the heap waited for 32 MiB). The page map's tables (exactly 2 MiB each) stay below the
/// threshold: they are touched sparsely.
const HUGE_MAP_MIN: usize = HUGE_PAGE + 4096;

/// The real page source: anonymous private `mmap` (2 MiB aligned, with `MADV_HUGEPAGE`, for
/// span-heap mappings and mapped objects of more than 2 MiB), `madvise(MADV_DONTNEED)` to
/// release, `CLOCK_MONOTONIC_COARSE` as the clock. All through rawsys.
#[derive(Debug, Default, Clone, Copy)]
pub struct MmapSource;

impl MmapSource {
    /// The source (stateless).
    pub const fn new() -> Self {
        MmapSource
    }
}

/// Maps `len + extra` bytes and, when `extra > 0`, unmaps what lies before the first
/// `align`-aligned address and after `len` bytes from it (`extra` must be at least `align`
/// minus the page size, so an aligned start always fits). The one place both [`MmapSource`]
/// mappings (huge-page spans, aligned objects) are made.
fn map_trimmed(len: usize, extra: usize, align: usize) -> Option<NonNull<u8>> {
    use rawsys::mm::{MapFlags, ProtFlags};
    let map_len = len.checked_add(extra)?;
    let p = rawsys::mm::mmap_anonymous(
        map_len,
        ProtFlags::READ | ProtFlags::WRITE,
        MapFlags::PRIVATE | MapFlags::NORESERVE,
    )
    .ok()?;
    if extra == 0 {
        return NonNull::new(p);
    }
    let addr = p as usize;
    let head = addr.next_multiple_of(align) - addr;
    let tail = extra - head;
    // SAFETY: head + len + tail == map_len: the trimmed ranges lie in the mapping just made,
    // which nothing else uses. A failed trim only wastes address space.
    unsafe {
        if head > 0 {
            let _ = rawsys::mm::munmap(p, head);
        }
        if tail > 0 {
            let _ = rawsys::mm::munmap(p.add(head + len), tail);
        }
        NonNull::new(p.add(head))
    }
}

// SAFETY: mmap without MAP_FIXED returns fresh page-aligned memory; madvise(DONTNEED) keeps the
// mapping; raw syscalls neither allocate nor re-enter; errors are returned, never panicked.
unsafe impl PageSource for MmapSource {
    const MAPS_OBJECTS: bool = true;

    fn map(&self, len: usize) -> Option<NonNull<u8>> {
        // A huge-page mapping is over-mapped by one huge page so that it can start on a
        // 2 MiB boundary (the kernel only backs aligned 2 MiB ranges with huge pages).
        if len < HUGE_MAP_MIN {
            return map_trimmed(len, 0, HUGE_PAGE);
        }
        let p = map_trimmed(len, HUGE_PAGE, HUGE_PAGE)?;
        // SAFETY: `p..p+len` is the mapping just made; a refused advice only means small pages.
        let _ = unsafe { rawsys::mm::madvise(p.as_ptr(), len, rawsys::mm::Advice::HugePage) };
        Some(p)
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

    fn map_object(&self, len: usize, align: usize) -> Option<NonNull<u8>> {
        if len < HUGE_MAP_MIN {
            return map_trimmed(len, align.max(4096) - 4096, align);
        }
        // Like the span heap's big mappings: 2 MiB aligned and advised `MADV_HUGEPAGE`. A
        // 9 MiB hash table or vector (`std-hashmap`'s last rehash, `std-btree`'s vector of
        // 400k strings) otherwise took ~2,300 page faults of 4 KiB each, most of the
        // workload's faults, where mimalloc's huge-page arenas took a handful.
        let align = align.max(HUGE_PAGE);
        let p = map_trimmed(len, align - 4096, align)?;
        // SAFETY: `p..p+len` is the mapping just made; a refused advice only means small pages.
        let _ = unsafe { rawsys::mm::madvise(p.as_ptr(), len, rawsys::mm::Advice::HugePage) };
        Some(p)
    }

    unsafe fn remap_object(
        &self,
        ptr: NonNull<u8>,
        old_len: usize,
        new_len: usize,
    ) -> Option<NonNull<u8>> {
        // SAFETY: the caller owns the mapping and handles a move.
        let p = unsafe {
            rawsys::mm::mremap(
                ptr.as_ptr(),
                old_len,
                new_len,
                rawsys::mm::MremapFlags::MAYMOVE,
            )
        }
        .ok()?;
        NonNull::new(p)
    }

    fn now_ns(&self) -> u64 {
        match rawsys::time::clock_gettime(rawsys::time::ClockId::MonotonicCoarse) {
            Ok(t) => t.as_nanos().max(0) as u64,
            Err(_) => 0,
        }
    }
}
