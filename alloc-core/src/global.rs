//! The ready-made global allocator (feature `std`): one static [`Heap`] on [`MmapSource`],
//! thread caches in `thread_local!` storage.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;

use crate::heap::{Heap, TlsHook};
use crate::source::MmapSource;
use crate::stats::Stats;
use crate::thread_cache::ThreadCache;

/// The process-wide heap behind every [`GlobalHeap`] value.
static HEAP: Heap<MmapSource> = Heap::new(MmapSource::new());

/// A thread's cache; its destructor hands every cached block back when the thread ends.
struct LocalCache(UnsafeCell<ThreadCache>);

impl Drop for LocalCache {
    fn drop(&mut self) {
        HEAP.flush_thread_cache(self.0.get_mut());
    }
}

std::thread_local! {
    // Const-initialised: no lazy initialiser can allocate. The destructor is registered on
    // first use (glibc's `__cxa_thread_atexit_impl`, which does not call Rust's allocator).
    static CACHE: LocalCache = const { LocalCache(UnsafeCell::new(ThreadCache::new())) };
}

/// The std thread-local hook. After the thread's TLS is destroyed `try_with` fails and the
/// heap falls back to its shared tiers; the cache is never re-created.
struct StdTls;

// SAFETY: CACHE is used only with HEAP, one cache per thread; `try_with` neither allocates nor
// re-enters (the closure runs allocator code that never allocates through the global
// allocator), and reports a destroyed cache as `None`; the destructor flushes the cache.
unsafe impl TlsHook for StdTls {
    #[inline]
    fn with_thread_cache<R>(&self, f: impl FnOnce(&mut ThreadCache) -> R) -> Option<R> {
        CACHE
            .try_with(|c| {
                // SAFETY: only this thread reaches its cache, and the allocator never re-enters
                // itself while `f` runs, so this is the only live reference.
                f(unsafe { &mut *c.0.get() })
            })
            .ok()
    }
}

/// The allocator as a `#[global_allocator]`.
///
/// All `GlobalHeap` values share one process-wide heap.
///
/// ```
/// use alloc_core::GlobalHeap;
/// use std::alloc::{GlobalAlloc, Layout};
///
/// static A: GlobalHeap = GlobalHeap::new();
/// let layout = Layout::new::<[u64; 4]>();
/// // SAFETY: layout has non-zero size; the block is freed with the same layout.
/// unsafe {
///     let p = A.alloc(layout);
///     assert!(!p.is_null());
///     A.dealloc(p, layout);
/// }
/// assert!(GlobalHeap::stats().bytes_mapped > 0);
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct GlobalHeap;

impl GlobalHeap {
    /// The allocator (const, for `static A: GlobalHeap = GlobalHeap::new();`).
    pub const fn new() -> Self {
        GlobalHeap
    }

    /// Statistics of the process-wide heap.
    pub fn stats() -> Stats {
        HEAP.stats()
    }

    /// Releases every free span to the OS now; returns the bytes released.
    pub fn release_free_memory() -> usize {
        HEAP.release_free_memory()
    }

    /// Releases the spans that idled past the release delay; returns the bytes released.
    pub fn release_idle_memory() -> usize {
        HEAP.release_idle_memory()
    }

    /// Returns the calling thread's cached blocks to the shared tiers now (the thread keeps
    /// allocating normally afterwards).
    pub fn flush_thread_cache() {
        let _ = StdTls.with_thread_cache(|c| HEAP.flush_thread_cache(c));
    }
}

// SAFETY: the heap returns blocks of at least `layout.size()` bytes aligned to
// `layout.align()`, or null; blocks are disjoint while live.
unsafe impl GlobalAlloc for GlobalHeap {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: StdTls is the only hook used with HEAP.
        unsafe { HEAP.allocate(&StdTls, layout) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller passes a block of this allocator with its layout.
        unsafe { HEAP.deallocate(&StdTls, ptr, layout) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: StdTls is the only hook used with HEAP.
        unsafe { HEAP.allocate_zeroed(&StdTls, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's realloc contract.
        unsafe { HEAP.reallocate(&StdTls, ptr, layout, new_size) }
    }
}
