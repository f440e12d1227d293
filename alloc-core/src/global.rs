//! The ready-made global allocator (feature `std`): one static [`Heap`] on [`MmapSource`],
//! thread caches in `thread_local!` storage.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::{Cell, UnsafeCell};

use crate::heap::{Heap, TlsHook};
use crate::size_class::{MAX_BATCH, SizeClass, class_for};
use crate::source::MmapSource;
use crate::stats::Stats;
use crate::thread_cache::ThreadCache;

/// The process-wide heap behind every [`GlobalHeap`] value.
static HEAP: Heap<MmapSource> = Heap::new(MmapSource::new());

/// The cache was never used: the exit guard is not registered yet.
const UNARMED: u8 = 0;
/// In use; the exit guard will flush it.
const ARMED: u8 = 1;
/// Flushed at thread exit (or the guard could not be registered): blocks pass through.
const FINISHED: u8 = 2;

/// A thread's cache. It has no destructor, so `thread_local!` stores it as a plain
/// thread-local (no lazy-state check on the fast path, and its memory stays valid until the
/// thread is gone, through every TLS destructor); [`ExitGuard`] flushes it instead.
///
/// Until armed, every list's bound is 0 and every list is empty, so the first allocation and
/// the first free of each class take a slow path, which arms the cache (registers the
/// guard) before the cache keeps anything. Once finished the bounds are 0 again: a free
/// goes straight back to the shared tiers, an allocation finds nothing cached and takes the
/// uncached path, so nothing stays in a cache no destructor will flush.
struct LocalCache {
    cache: UnsafeCell<ThreadCache>,
    state: Cell<u8>,
}

/// Flushes the thread's cache when the thread's TLS destructors run.
struct ExitGuard;

impl Drop for ExitGuard {
    fn drop(&mut self) {
        let c = local();
        c.state.set(FINISHED);
        // SAFETY: the allocator does not run on this thread while this destructor does (it
        // calls no allocating code), so this is the only reference to the cache.
        let cache = unsafe { &mut *c.cache.get() };
        HEAP.flush_thread_cache(cache);
        cache.set_bounds(0);
    }
}

std::thread_local! {
    // Const-initialised and without a destructor: no initialiser can allocate, and access is
    // a plain thread-pointer offset.
    static CACHE: LocalCache = const {
        LocalCache { cache: UnsafeCell::new(ThreadCache::with_bounds(0)), state: Cell::new(UNARMED) }
    };
    // Registered on a cache's first slow path (glibc's `__cxa_thread_atexit_impl`, which does
    // not call Rust's allocator).
    static GUARD: ExitGuard = const { ExitGuard };
}

/// The calling thread's cache cell (always available: it has no destructor).
#[inline(always)]
fn local() -> &'static LocalCache {
    // SAFETY: a thread-local without a destructor lives as long as its thread, and the
    // reference never leaves the thread (LocalCache is not Sync, and the uses below are
    // immediate).
    CACHE.with(|c| unsafe { &*(c as *const LocalCache) })
}

/// Arms the cache if it is not yet; returns whether it is armed (false once finished).
#[inline]
fn ensure_armed(c: &LocalCache) -> bool {
    match c.state.get() {
        ARMED => true,
        FINISHED => false,
        _ => {
            if GUARD.try_with(|_| ()).is_ok() {
                c.state.set(ARMED);
                // SAFETY: only this thread reaches its cache, and no other reference to it is
                // live while the allocator runs a slow path.
                let cache = unsafe { &mut *c.cache.get() };
                cache.set_bounds(MAX_BATCH as u32);
                true
            } else {
                c.state.set(FINISHED);
                false
            }
        }
    }
}

/// The std thread-local hook: the armed cache, or `None` once the thread's cache was flushed
/// at exit (the heap then uses its shared tiers; the cache is never re-filled).
struct StdTls;

// SAFETY: CACHE is used only with HEAP, one cache per thread; the hook neither allocates nor
// re-enters (registering the guard goes through glibc, not this allocator); it hands out the
// cache only when armed, so the guard flushes whatever the cache holds at thread exit.
unsafe impl TlsHook for StdTls {
    #[inline]
    fn with_thread_cache<R>(&self, f: impl FnOnce(&mut ThreadCache) -> R) -> Option<R> {
        let c = local();
        if !ensure_armed(c) {
            return None;
        }
        // SAFETY: only this thread reaches its cache, and the allocator never re-enters itself
        // while `f` runs, so this is the only live reference.
        Some(f(unsafe { &mut *c.cache.get() }))
    }
}

#[cold]
#[inline(never)]
fn alloc_slow(layout: Layout) -> *mut u8 {
    // SAFETY: StdTls is the only hook used with HEAP.
    unsafe { HEAP.allocate(&StdTls, layout) }
}

/// # Safety
/// `ptr` is a live block of HEAP allocated with `layout`, not used again.
#[cold]
#[inline(never)]
unsafe fn dealloc_slow(ptr: *mut u8, layout: Layout) {
    // SAFETY: the caller's contract.
    unsafe { HEAP.deallocate(&StdTls, ptr, layout) }
}

/// The fast path pushed a block of class `cls` and the cache is over a bound (or unarmed,
/// or finished: bounds 0).
#[cold]
#[inline(never)]
fn overflow_slow(cls: SizeClass) {
    let c = local();
    ensure_armed(c);
    // SAFETY: as in `StdTls`; a finished cache has bounds 0, so `overflow` hands the block
    // just pushed straight back.
    HEAP.overflow(unsafe { &mut *c.cache.get() }, cls);
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

    /// Checks the invariants of the process-wide heap and of the calling thread's cache (see
    /// [`Heap::check_invariants`]); panics on a violation. For tests and debugging: it holds
    /// every lock of the heap while it walks its structures.
    pub fn check_invariants() {
        // SAFETY: only this thread reaches its cache, and the allocator does not run on this
        // thread while the check does (it does not allocate), so nothing changes the cache.
        HEAP.check_invariants_with(unsafe { &*local().cache.get() });
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
        if let Some(cls) = class_for(layout.size(), layout.align()) {
            // SAFETY: only this thread reaches its cache and nothing else holds a reference
            // to it now; an unarmed or finished cache has empty lists, so this pops nothing.
            let p = unsafe { &mut *local().cache.get() }.pop(cls);
            if !p.is_null() {
                return p;
            }
        }
        alloc_slow(layout)
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(cls) = class_for(layout.size(), layout.align()) {
            // SAFETY: as in `alloc`; the caller passes a block of this allocator with its
            // layout, so it is a block of class `cls`.
            if unsafe { (*local().cache.get()).push(ptr, cls) } {
                overflow_slow(cls);
            }
            return;
        }
        // SAFETY: the caller's contract.
        unsafe { dealloc_slow(ptr, layout) }
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
