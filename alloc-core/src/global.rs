//! The ready-made global allocator (feature `std`): one static [`Heap`] on [`MmapSource`],
//! thread caches in `thread_local!` storage.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::{Cell, UnsafeCell};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use core::time::Duration;
use std::sync::OnceLock;

use crate::heap::{DEFAULT_RELEASE_DELAY_NS, Heap, TlsHook};
use crate::size_class::{SizeClass, class_for};
use crate::source::{MmapSource, PageSource};
use crate::stats::Stats;
use crate::thread_cache::ThreadCache;

/// The process-wide heap behind every [`GlobalHeap`] value.
static HEAP: Heap<PurgingSource> = Heap::new(PurgingSource(MmapSource::new()));

// ---- background purge ---------------------------------------------------------------------
//
// A thread that releases free spans once they idled for the release delay, so that memory goes
// back to the OS also when the program makes no further allocator call. It costs nothing when
// idle: it parks with no timeout while every free span is released, and the page heap wakes it
// (`free_memory_pending`, under its lock, only on the idle -> pending transition) when a span
// is freed. It is started on a slow path (never under a lock, never inside the hook) the first
// time a span is freed, so programs that never free a span never get it.

/// Nothing unreleased is known: the purger parks without a timeout.
const PURGE_IDLE: u8 = 0;
/// Free memory waits for release: the purger runs or is woken.
const PURGE_PENDING: u8 = 1;
static PURGE_STATE: AtomicU8 = AtomicU8::new(PURGE_IDLE);
/// The purger thread, once started.
static PURGER: OnceLock<std::thread::Thread> = OnceLock::new();
/// A span was freed and the purger does not exist yet: the next slow path starts it.
static PURGER_WANTED: AtomicBool = AtomicBool::new(false);
/// 0: may start; 1: started (or starting); 2: disabled (by the builder, or the spawn failed).
static PURGER_START: AtomicU8 = AtomicU8::new(0);
/// Whether a `GlobalHeap`'s settings were applied (the first slow path does it).
static CONFIGURED: AtomicBool = AtomicBool::new(false);

/// `MmapSource` plus the purger's wake-up.
struct PurgingSource(MmapSource);

// SAFETY: delegates to MmapSource; `free_memory_pending` only touches atomics and
// `Thread::unpark` (a futex wake), which neither allocates, blocks nor enters the heap.
unsafe impl PageSource for PurgingSource {
    const MAPS_OBJECTS: bool = true;

    fn map(&self, len: usize) -> Option<NonNull<u8>> {
        self.0.map(len)
    }

    unsafe fn release(&self, ptr: NonNull<u8>, len: usize) -> bool {
        // SAFETY: the caller's contract, passed on.
        unsafe { self.0.release(ptr, len) }
    }

    unsafe fn unmap(&self, ptr: NonNull<u8>, len: usize) {
        // SAFETY: the caller's contract, passed on.
        unsafe { self.0.unmap(ptr, len) }
    }

    fn now_ns(&self) -> u64 {
        self.0.now_ns()
    }

    fn map_object(&self, len: usize, align: usize) -> Option<NonNull<u8>> {
        self.0.map_object(len, align)
    }

    unsafe fn remap_object(
        &self,
        ptr: NonNull<u8>,
        old_len: usize,
        new_len: usize,
    ) -> Option<NonNull<u8>> {
        // SAFETY: the caller's contract, passed on.
        unsafe { self.0.remap_object(ptr, old_len, new_len) }
    }

    #[inline]
    fn free_memory_pending(&self) {
        if PURGE_STATE.load(Ordering::Relaxed) == PURGE_PENDING
            || PURGE_STATE.swap(PURGE_PENDING, Ordering::AcqRel) == PURGE_PENDING
        {
            return;
        }
        match PURGER.get() {
            Some(t) => t.unpark(),
            None => PURGER_WANTED.store(true, Ordering::Relaxed),
        }
    }
}

/// The purger's loop: release what is due, sleep until the next span is due, park when
/// everything free is released.
fn purge_loop() {
    loop {
        while let Some(wait) = HEAP.purge_idle_memory() {
            // At least 1 ms: a span freed just now is due a full delay later anyway.
            std::thread::park_timeout(Duration::from_nanos(wait.max(1_000_000)));
        }
        PURGE_STATE.store(PURGE_IDLE, Ordering::SeqCst);
        // A span freed between the scan above and the store saw PURGE_PENDING and did not
        // wake us: look once more before parking.
        if HEAP.purge_idle_memory().is_some() {
            PURGE_STATE.store(PURGE_PENDING, Ordering::SeqCst);
            continue;
        }
        while PURGE_STATE.load(Ordering::Acquire) == PURGE_IDLE {
            std::thread::park();
        }
    }
}

/// Starts the purger if a freed span asked for it. Runs on slow paths only, outside every
/// heap lock and outside the hook, on a thread whose cache is armed (spawning allocates).
#[inline]
fn maybe_start_purger() {
    if PURGER_WANTED.load(Ordering::Relaxed) {
        start_purger();
    }
}

#[cold]
#[inline(never)]
fn start_purger() {
    if local().state.get() != ARMED {
        return;
    }
    PURGER_WANTED.store(false, Ordering::Relaxed);
    if PURGER_START
        .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Relaxed)
        .is_err()
    {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("alloc-core-purge".into())
        .stack_size(64 << 10)
        .spawn(purge_loop);
    match spawned {
        Ok(handle) => {
            let _ = PURGER.set(handle.thread().clone());
            // The purger may have parked before PURGER was set: wake it to look again.
            handle.thread().unpark();
        }
        Err(_) => PURGER_START.store(2, Ordering::Release),
    }
}

/// The cache was never used: the exit guard is not registered yet.
const UNARMED: u8 = 0;
/// In use; the exit guard will flush it.
const ARMED: u8 = 1;
/// Flushed at thread exit (or the guard could not be registered): blocks pass through.
const FINISHED: u8 = 2;

/// The cache every thread without one of its own points to (not yet armed, finished, or out
/// of memory): empty, with bounds 0, so the fast paths only read it (`ThreadCache::pop_raw`
/// finds nothing, `push_raw` finds no room) and take their slow paths. It lives in `.bss`
/// (all zero), once per process.
struct EmptyCache(UnsafeCell<ThreadCache>);

// SAFETY: nothing writes the empty cache: the fast paths only read a cache with empty stacks
// and bounds 0, and the slow paths never hand it to the heap (see `ensure_armed`).
unsafe impl Sync for EmptyCache {}

static EMPTY: EmptyCache = EmptyCache(UnsafeCell::new(ThreadCache::with_bounds(0)));

/// A thread's cache pointer and state. The cache itself lives in a box of its own from the
/// heap's pool ([`Heap::take_thread_cache`]), taken on the thread's first slow path: a
/// thread's TLS is a pointer and a byte, not a 71 KiB cache that every new thread's TLS
/// set-up would clear. This has no destructor, so `thread_local!` stores it as a plain
/// thread-local (no lazy-state check on the fast path, valid until the thread is gone,
/// through every TLS destructor); [`ExitGuard`] gives the cache back instead.
///
/// Until armed, and once finished, `cache` is [`EMPTY`]: the first allocation and the first
/// free of each class take a slow path, which arms the thread (registers the guard, takes a
/// box) before a cache keeps anything; once finished, a free goes straight back to the shared
/// tiers and an allocation takes the uncached path, so nothing stays in a cache no destructor
/// will give back.
struct LocalCache {
    cache: Cell<*mut ThreadCache>,
    state: Cell<u8>,
}

/// Gives the thread's cache back when the thread's TLS destructors run.
struct ExitGuard;

impl Drop for ExitGuard {
    fn drop(&mut self) {
        let c = local();
        let was = c.state.replace(FINISHED);
        let cache = c.cache.replace(EMPTY.0.get());
        if was == ARMED {
            // SAFETY: an armed thread's cache came from HEAP.take_thread_cache; the allocator
            // does not run on this thread while this destructor does (it calls no allocating
            // code), and the thread points to EMPTY from now on, so the box is not used again.
            unsafe { HEAP.give_back_thread_cache(NonNull::new_unchecked(cache)) };
        }
    }
}

std::thread_local! {
    // Const-initialised and without a destructor: no initialiser can allocate, and access is
    // a plain thread-pointer offset.
    static CACHE: LocalCache = const {
        LocalCache { cache: Cell::new(EMPTY.0.get()), state: Cell::new(UNARMED) }
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

/// Arms the thread if it is not yet (registers the guard, takes a cache box); returns whether
/// it is armed (false once finished, or while no box can be mapped): then `c.cache` points to
/// the thread's own cache, otherwise to [`EMPTY`].
#[inline]
fn ensure_armed(c: &LocalCache) -> bool {
    match c.state.get() {
        ARMED => true,
        FINISHED => false,
        _ => arm(c),
    }
}

#[cold]
#[inline(never)]
fn arm(c: &LocalCache) -> bool {
    if GUARD.try_with(|_| ()).is_err() {
        c.state.set(FINISHED);
        return false;
    }
    // Out of memory: stays unarmed (uncached), and tries again on the next slow path.
    let Some(cache) = HEAP.take_thread_cache() else {
        return false;
    };
    c.cache.set(cache.as_ptr());
    c.state.set(ARMED);
    true
}

/// The std thread-local hook: the armed cache, or `None` once the thread's cache was given
/// back at exit (the heap then uses its shared tiers; the cache is never re-filled).
struct StdTls;

// SAFETY: the caches are used only with HEAP, one box per thread; the hook neither allocates
// nor re-enters (registering the guard goes through glibc, mapping a box through the page
// source, neither through this allocator); it hands out the cache only when armed (never
// EMPTY), so the guard gives back whatever the cache holds at thread exit.
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
fn alloc_slow(heap: &GlobalHeap, layout: Layout) -> *mut u8 {
    if !CONFIGURED.load(Ordering::Relaxed) {
        heap.configure();
    }
    let p = if class_for(layout.size(), layout.align()).is_none() {
        // A large object: straight to the page heap, not through the hook.
        HEAP.allocate_large(layout)
    } else {
        // SAFETY: StdTls is the only hook used with HEAP.
        unsafe { HEAP.allocate(&StdTls, layout) }
    };
    maybe_start_purger();
    p
}

/// # Safety
/// `ptr` is a live large object of HEAP (no size class) allocated with `layout`, not used
/// again.
#[cold]
#[inline(never)]
unsafe fn dealloc_slow(ptr: *mut u8, layout: Layout) {
    // `dealloc` found no class: a large object, freed straight to the page heap (not
    // through the hook and the class lookup again).
    debug_assert!(class_for(layout.size(), layout.align()).is_none());
    // SAFETY: the caller's contract: a live large object of HEAP.
    unsafe { HEAP.deallocate_large(ptr) };
    maybe_start_purger();
}

/// # Safety
/// As [`GlobalAlloc::realloc`].
#[cold]
#[inline(never)]
unsafe fn realloc_slow(ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
    // SAFETY: the caller's contract; StdTls is the only hook used with HEAP.
    let p = unsafe { HEAP.reallocate(&StdTls, ptr, layout, new_size) };
    maybe_start_purger();
    p
}

/// The fast path could not push `ptr`, a free block of class `cls`: its stack is at its
/// bound or the cache is full (or unarmed, or finished: bounds 0).
///
/// # Safety
/// `ptr` is a block of class `cls` of HEAP, not used again.
#[cold]
#[inline(never)]
unsafe fn overflow_slow(ptr: *mut u8, cls: SizeClass) {
    let c = local();
    if ensure_armed(c) {
        // SAFETY: as in `StdTls`; the caller's contract for ptr.
        unsafe { HEAP.overflow(&mut *c.cache.get(), ptr, cls) };
    } else {
        // SAFETY: the caller's contract.
        unsafe { HEAP.free_class_uncached(ptr, cls) };
    }
    maybe_start_purger();
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
///
/// # Giving memory back
/// A free span (the pages of freed large objects, or of a size class's span once every block
/// in it is free) is released to the OS with `madvise(MADV_DONTNEED)` once it has been free
/// for the release delay (500 ms by default): by the heap itself when it frees another span,
/// and by a background thread (`alloc-core-purge`) when the program makes no further call.
/// That thread is started the first time a span is freed, parks without a timeout whenever
/// everything free is released, and is woken by the heap only when a span is freed after such
/// a pause, so it costs nothing while idle and the allocation and free fast paths never look
/// at it. [`GlobalHeap::builder`] sets the delay and can turn the thread off (a program that
/// must stay single-threaded, e.g. to `unshare` a user namespace later). A forked child has no
/// purger: it releases idle spans only when it frees spans itself.
#[derive(Debug, Clone, Copy)]
pub struct GlobalHeap {
    release_delay_ns: u64,
    background_purge: bool,
    huge_pages: bool,
}

impl Default for GlobalHeap {
    fn default() -> Self {
        Self::new()
    }
}

/// Settings of the process-wide heap behind a [`GlobalHeap`] (see
/// [`GlobalHeap::builder`]).
#[derive(Debug, Clone, Copy)]
pub struct GlobalHeapBuilder {
    heap: GlobalHeap,
}

impl GlobalHeapBuilder {
    /// How long a free span idles before its pages go back to the OS (default 500 ms). A
    /// shorter delay gives memory back sooner and costs more page faults when the program
    /// allocates again; `Duration::ZERO` releases spans whenever the heap scans.
    pub const fn release_delay(mut self, delay: Duration) -> Self {
        let ns = delay.as_nanos();
        self.heap.release_delay_ns = if ns > u64::MAX as u128 {
            u64::MAX
        } else {
            ns as u64
        };
        self
    }

    /// Whether a background thread releases idle spans when the program makes no further
    /// allocator call (default true). Off, idle spans are released only when the heap frees
    /// another span after the delay (or on [`GlobalHeap::release_idle_memory`]).
    pub const fn background_purge(mut self, on: bool) -> Self {
        self.heap.background_purge = on;
        self
    }

    /// Whether mappings longer than 2 MiB (the span heap's growth once it holds about
    /// 4.5 MiB, objects of their own mapping) are 2 MiB aligned and advised `MADV_HUGEPAGE`
    /// (default true; see [`MmapSource::set_huge_pages`](crate::MmapSource::set_huge_pages)):
    /// one page fault per 2 MiB instead of 512 when a big heap is touched; off, 4 KiB pages
    /// only.
    pub const fn huge_pages(mut self, on: bool) -> Self {
        self.heap.huge_pages = on;
        self
    }

    /// The allocator with these settings.
    pub const fn build(self) -> GlobalHeap {
        self.heap
    }
}

impl GlobalHeap {
    /// The allocator with the default settings (const, for
    /// `static A: GlobalHeap = GlobalHeap::new();`).
    pub const fn new() -> Self {
        GlobalHeap {
            release_delay_ns: DEFAULT_RELEASE_DELAY_NS,
            background_purge: true,
            huge_pages: true,
        }
    }

    /// Settings for the process-wide heap, applied on the first allocation (all values share
    /// one heap: the first `GlobalHeap` to allocate sets them).
    ///
    /// ```
    /// use alloc_core::GlobalHeap;
    /// use std::time::Duration;
    ///
    /// #[global_allocator]
    /// static A: GlobalHeap = GlobalHeap::builder()
    ///     .release_delay(Duration::from_millis(200))
    ///     .background_purge(true)
    ///     .build();
    /// # fn main() { let _ = vec![1u8; 10]; }
    /// ```
    pub const fn builder() -> GlobalHeapBuilder {
        GlobalHeapBuilder {
            heap: GlobalHeap::new(),
        }
    }

    /// Applies this value's settings to the process-wide heap, once.
    #[cold]
    fn configure(&self) {
        if CONFIGURED.swap(true, Ordering::AcqRel) {
            return;
        }
        if self.release_delay_ns != DEFAULT_RELEASE_DELAY_NS {
            HEAP.set_release_delay(self.release_delay_ns);
        }
        if !self.huge_pages {
            MmapSource::set_huge_pages(false);
        }
        if !self.background_purge {
            let _ = PURGER_START.compare_exchange(0, 2, Ordering::AcqRel, Ordering::Relaxed);
        }
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
        // SAFETY: only this thread reaches its cache (or EMPTY, which nothing writes), and the
        // allocator does not run on this thread while the check does (it does not allocate),
        // so nothing changes the cache.
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
            // SAFETY: only this thread reaches its own cache and nothing holds a reference to
            // it now; an unarmed or finished thread points to EMPTY, which pops nothing.
            let p = unsafe { ThreadCache::pop_raw(local().cache.get(), cls) };
            if !p.is_null() {
                return p;
            }
        }
        alloc_slow(self, layout)
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(cls) = class_for(layout.size(), layout.align()) {
            // SAFETY: as in `alloc` (EMPTY has bounds 0: nothing is pushed); the caller passes
            // a block of this allocator with its layout, so it is a block of class `cls`.
            if !unsafe { ThreadCache::push_raw(local().cache.get(), ptr, cls) } {
                // SAFETY: as above.
                unsafe { overflow_slow(ptr, cls) };
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
        let align = layout.align();
        // Small to small (a growing String or Vec): the same fast paths as alloc and
        // dealloc, not the hook and the class lookups again in `Heap::reallocate`.
        if let (Some(old), Some(new)) =
            (class_for(layout.size(), align), class_for(new_size, align))
        {
            if old == new {
                return ptr;
            }
            let cache = local().cache.get();
            // SAFETY: as in `alloc`; EMPTY pops nothing.
            let p = unsafe { ThreadCache::pop_raw(cache, new) };
            if !p.is_null() {
                // SAFETY: both blocks hold the smaller size and are distinct; then the old
                // block (of class `old`, the caller's contract) is freed as in `dealloc` (a
                // pop succeeded: `cache` is the thread's own).
                unsafe {
                    core::ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                    if !ThreadCache::push_raw(cache, ptr, old) {
                        overflow_slow(ptr, old);
                    }
                }
                return p;
            }
        }
        // SAFETY: the caller's realloc contract.
        unsafe { realloc_slow(ptr, layout, new_size) }
    }
}
