//! The heap: the three tiers wired together, generic over the page source.

use core::alloc::Layout;
use core::ptr;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::central::{Central, transfer_capacity};
use crate::lock::SpinLock;
use crate::page_heap::PageHeap;
use crate::page_map::{PAGE_LIMIT, PageMap};
use crate::size_class::{
    CLASS_BATCH, CLASS_PAGES, MAX_SMALL_SIZE, NUM_CLASSES, PAGE_SHIFT, PAGE_SIZE, class_for,
    class_size,
};
use crate::source::PageSource;
use crate::span::{Span, SpanState};
use crate::stats::Stats;
use crate::thread_cache::{FreeList, MAX_CACHE_BYTES, MAX_LIST_LEN, ThreadCache};

/// Caches of ended threads kept for the next new threads.
const PARKED_SLOTS: usize = 8;
/// Only caches holding at most this much are parked; bigger ones are flushed.
const PARK_MAX_BYTES: usize = 2 << 20;

/// The lists of caches whose threads ended (see [`Heap::retire_thread_cache`]).
struct Parked {
    lists: [[FreeList; NUM_CLASSES]; PARKED_SLOTS],
    bytes: [usize; PARKED_SLOTS],
    count: usize,
}

// SAFETY: the lists hold free blocks owned by the heap; they are only used under the lock.
unsafe impl Send for Parked {}

/// How a thread reaches its [`ThreadCache`].
///
/// # Safety
/// Implementations guarantee that:
/// - every cache passed to `f` belongs to exactly one [`Heap`] (the one this hook is used
///   with) and is reached by one thread at a time;
/// - `with_thread_cache` never allocates through the heap, never re-enters itself, and
///   returns `None` (without calling `f`) when the calling thread has no usable cache, e.g.
///   while its thread-local storage is being destroyed;
/// - a cache that will not be used again is first given to
///   [`Heap::flush_thread_cache`] (or its blocks are leaked, never reused elsewhere).
pub unsafe trait TlsHook {
    /// Runs `f` on the calling thread's cache, or returns `None` when there is none.
    fn with_thread_cache<R>(&self, f: impl FnOnce(&mut ThreadCache) -> R) -> Option<R>;
}

/// Starts loading the cache line at `p` (any address, null included: a prefetch never faults).
#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching has no architectural effect and never faults, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Objects larger than this (2^46 bytes) are refused outright.
const MAX_REQUEST: usize = 1 << 46;
/// Zeroed large objects of at least this many bytes are zeroed by releasing their pages.
const ZERO_BY_RELEASE: usize = 256 << 10;

/// A tcmalloc-style heap: thread caches (through a [`TlsHook`]) over per-class transfer caches
/// over a page heap fed by a [`PageSource`].
///
/// ```
/// use alloc_core::{Heap, MmapSource, ThreadCache};
/// use core::alloc::Layout;
///
/// static HEAP: Heap<MmapSource> = Heap::new(MmapSource::new());
/// let mut cache = ThreadCache::new();
/// let layout = Layout::from_size_align(100, 8).unwrap();
/// // SAFETY: the cache is used with this heap only, on this thread.
/// unsafe {
///     let p = HEAP.allocate_in(&mut cache, layout);
///     assert!(!p.is_null());
///     p.write_bytes(1, 100);
///     HEAP.deallocate_in(&mut cache, p, layout);
///     HEAP.flush_thread_cache(&mut cache);
/// }
/// assert_eq!(HEAP.stats().bytes_in_use, 0);
/// ```
pub struct Heap<S: PageSource> {
    source: S,
    page_map: PageMap,
    page_heap: SpinLock<PageHeap>,
    central: [SpinLock<Central>; NUM_CLASSES],
    /// Parked caches of ended threads (a leaf lock: never held while taking another).
    parked: SpinLock<Parked>,
    /// Sum over thread caches of their last reported byte counts (wrapping arithmetic).
    thread_cache_bytes: AtomicUsize,
    refills: AtomicU64,
    overflows: AtomicU64,
    scavenges: AtomicU64,
    flushes: AtomicU64,
    uncached: AtomicU64,
    large_allocs: AtomicU64,
}

/// Default time a free span idles before its pages are released (500 ms).
pub const DEFAULT_RELEASE_DELAY_NS: u64 = 500_000_000;

impl<S: PageSource> Heap<S> {
    /// A heap with nothing mapped yet; usable in a `static`.
    pub const fn new(source: S) -> Self {
        Self::with_release_delay(source, DEFAULT_RELEASE_DELAY_NS)
    }

    /// Like [`new`](Self::new), releasing free spans after `delay_ns` of idling.
    pub const fn with_release_delay(source: S, delay_ns: u64) -> Self {
        Heap {
            source,
            page_map: PageMap::new(),
            page_heap: SpinLock::new(PageHeap::new(delay_ns)),
            central: [const { SpinLock::new(Central::new()) }; NUM_CLASSES],
            parked: SpinLock::new(Parked {
                lists: [ThreadCache::new().lists; PARKED_SLOTS],
                bytes: [0; PARKED_SLOTS],
                count: 0,
            }),
            thread_cache_bytes: AtomicUsize::new(0),
            refills: AtomicU64::new(0),
            overflows: AtomicU64::new(0),
            scavenges: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
            uncached: AtomicU64::new(0),
            large_allocs: AtomicU64::new(0),
        }
    }

    /// The page source.
    pub fn source(&self) -> &S {
        &self.source
    }

    // ---- through a hook -------------------------------------------------------------------

    /// Allocates through the calling thread's cache, or the shared tiers when it has none.
    /// Null on failure.
    ///
    /// # Safety
    /// `hook` is the only hook ever used with this heap (its caches belong to this heap).
    #[inline]
    pub unsafe fn allocate<H: TlsHook>(&self, hook: &H, layout: Layout) -> *mut u8 {
        let cached = hook.with_thread_cache(|c| {
            // SAFETY: the hook's caches belong to this heap (caller's contract).
            unsafe { self.allocate_in(c, layout) }
        });
        match cached {
            Some(p) => p,
            None => self.allocate_uncached(layout),
        }
    }

    /// Frees through the calling thread's cache.
    ///
    /// # Safety
    /// As [`allocate`](Self::allocate), and `ptr` was allocated by this heap with `layout` and
    /// is not used again.
    #[inline]
    pub unsafe fn deallocate<H: TlsHook>(&self, hook: &H, ptr: *mut u8, layout: Layout) {
        let freed = hook.with_thread_cache(|c| {
            // SAFETY: caller's contract: the hook's caches belong to this heap, ptr is ours.
            unsafe { self.deallocate_in(c, ptr, layout) }
        });
        if freed.is_none() {
            // SAFETY: caller's contract.
            unsafe { self.deallocate_uncached(ptr, layout) }
        }
    }

    /// Resizes, in place when the size class (or the span) allows.
    ///
    /// # Safety
    /// As [`GlobalAlloc::realloc`](core::alloc::GlobalAlloc::realloc), with `hook` as in
    /// [`allocate`](Self::allocate).
    pub unsafe fn reallocate<H: TlsHook>(
        &self,
        hook: &H,
        ptr: *mut u8,
        layout: Layout,
        new_size: usize,
    ) -> *mut u8 {
        if let Some(p) = self.resize_in_place(ptr, layout, new_size) {
            return p;
        }
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return ptr::null_mut();
        };
        // SAFETY: caller's contract.
        let new = unsafe { self.allocate(hook, new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are valid for the smaller size and distinct.
            unsafe {
                ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.deallocate(hook, ptr, layout);
            }
        }
        new
    }

    // ---- with an explicit cache -----------------------------------------------------------

    /// Allocates `layout` using `cache`. Null when out of memory or the size is absurd.
    ///
    /// # Safety
    /// `cache` is used with this heap only.
    #[inline]
    pub unsafe fn allocate_in(&self, cache: &mut ThreadCache, layout: Layout) -> *mut u8 {
        let cls = class_for(layout.size(), layout.align());
        if cls == 0 {
            return self.allocate_large(layout);
        }
        let head = Self::pop_cached(cache, cls);
        if !head.is_null() {
            return head;
        }
        self.refill(cache, cls)
    }

    /// Frees `ptr` into `cache`.
    ///
    /// # Safety
    /// `cache` is used with this heap only; `ptr` came from this heap with `layout` and is not
    /// used again.
    #[inline]
    pub unsafe fn deallocate_in(&self, cache: &mut ThreadCache, ptr: *mut u8, layout: Layout) {
        let cls = class_for(layout.size(), layout.align());
        if cls == 0 {
            // SAFETY: caller's contract.
            return unsafe { self.deallocate_large(ptr) };
        }
        // SAFETY: caller's contract; cls is the block's class.
        unsafe { self.free_class_in(cache, ptr, cls) }
    }

    /// The allocation fast path: pops a block of class `cls` (1..NUM_CLASSES) from the cache,
    /// or returns null when its list is empty.
    #[inline(always)]
    pub(crate) fn pop_cached(cache: &mut ThreadCache, cls: usize) -> *mut u8 {
        debug_assert!(cls != 0 && cls < NUM_CLASSES);
        // SAFETY: the caller passes a class index below NUM_CLASSES.
        let list = unsafe { cache.lists.get_unchecked_mut(cls) };
        let head = list.head;
        if !head.is_null() {
            // SAFETY: cached blocks are free and linked through their first word.
            let next = unsafe { head.cast::<*mut u8>().read() };
            // The next allocation of the class reads `next`'s link: start fetching it now.
            prefetch(next);
            list.head = next;
            list.len -= 1;
            cache.bytes -= class_size(cls);
        }
        head
    }

    /// The free fast path: pushes the free block `ptr` of class `cls` (1..NUM_CLASSES) on the
    /// cache's list; returns true when the cache is over a bound and
    /// [`overflow`](Self::overflow) must run.
    ///
    /// # Safety
    /// `ptr` is a block of class `cls`, no longer used, of the heap `cache` belongs to.
    #[inline(always)]
    pub(crate) unsafe fn push_cached(cache: &mut ThreadCache, ptr: *mut u8, cls: usize) -> bool {
        debug_assert!(cls != 0 && cls < NUM_CLASSES);
        // SAFETY: the caller passes a class index below NUM_CLASSES.
        let list = unsafe { cache.lists.get_unchecked_mut(cls) };
        // SAFETY: the block is free now and at least 8 bytes long.
        unsafe { ptr.cast::<*mut u8>().write(list.head) };
        list.head = ptr;
        list.len += 1;
        cache.bytes += class_size(cls);
        list.len > list.max_len || cache.bytes > MAX_CACHE_BYTES
    }

    /// Pushes the free block `ptr` of class `cls` (1..NUM_CLASSES) on the cache's list.
    ///
    /// # Safety
    /// `cache` belongs to this heap; `ptr` is a block of class `cls` of this heap, no longer
    /// used.
    #[inline]
    unsafe fn free_class_in(&self, cache: &mut ThreadCache, ptr: *mut u8, cls: usize) {
        // SAFETY: the caller's contract.
        if unsafe { Self::push_cached(cache, ptr, cls) } {
            self.overflow(cache, cls);
        }
    }

    /// Allocates without a thread cache (threads whose TLS is gone). Null on failure.
    pub fn allocate_uncached(&self, layout: Layout) -> *mut u8 {
        let cls = class_for(layout.size(), layout.align());
        if cls == 0 {
            return self.allocate_large(layout);
        }
        self.uncached.fetch_add(1, Ordering::Relaxed);
        let (head, n) = self.remove_range(cls, 1);
        if n > 1 {
            // SAFETY: head starts a list of n free blocks of the class.
            let rest = unsafe { head.cast::<*mut u8>().read() };
            self.insert_range(cls, rest, n - 1);
        }
        head
    }

    /// Frees without a thread cache.
    ///
    /// # Safety
    /// `ptr` came from this heap with `layout` and is not used again.
    pub unsafe fn deallocate_uncached(&self, ptr: *mut u8, layout: Layout) {
        let cls = class_for(layout.size(), layout.align());
        if cls == 0 {
            // SAFETY: caller's contract.
            return unsafe { self.deallocate_large(ptr) };
        }
        // SAFETY: caller's contract; cls is the block's class.
        unsafe { self.free_class_uncached(ptr, cls) }
    }

    /// # Safety
    /// `ptr` is a block of class `cls` of this heap, no longer used.
    unsafe fn free_class_uncached(&self, ptr: *mut u8, cls: usize) {
        self.uncached.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the block is free and at least 8 bytes long.
        unsafe { ptr.cast::<*mut u8>().write(ptr::null_mut()) };
        self.insert_range(cls, ptr, 1);
    }

    // ---- without a layout (C's malloc API) ------------------------------------------------

    /// Like [`allocate`](Self::allocate), with the block zeroed. Memory that comes straight
    /// from the OS (or was released to it) is known to be zero and is not written, so a large
    /// zeroed request costs no page faults until it is touched.
    ///
    /// # Safety
    /// As [`allocate`](Self::allocate).
    pub unsafe fn allocate_zeroed<H: TlsHook>(&self, hook: &H, layout: Layout) -> *mut u8 {
        let cls = class_for(layout.size(), layout.align());
        let (p, zeroed) = if cls == 0 {
            let (p, mut zeroed) = self.allocate_large_info(layout);
            let bytes = layout.size().div_ceil(PAGE_SIZE) * PAGE_SIZE;
            if !p.is_null() && !zeroed && bytes >= ZERO_BY_RELEASE {
                // A span merged from fresh and reused parts is not known to be zero as a
                // whole: giving its pages back zeroes it without touching (or faulting in)
                // memory that was never used, however large.
                // SAFETY: the span is ours, just allocated; its contents are not needed.
                zeroed = unsafe { self.source.release(ptr::NonNull::new_unchecked(p), bytes) };
            }
            (p, zeroed)
        } else {
            // SAFETY: caller's contract.
            (unsafe { self.allocate(hook, layout) }, false)
        };
        if !p.is_null() && !zeroed {
            // SAFETY: the block holds at least layout.size() bytes.
            unsafe { p.write_bytes(0, layout.size()) };
        }
        p
    }

    /// The bytes usable at `ptr` (its size class, or the rest of its span for a large
    /// object), or `None` when `ptr` is not in memory of this heap. `malloc_usable_size`.
    ///
    /// # Safety
    /// `ptr` is a live block of this heap, or lies outside every mapping of this heap (a
    /// pointer from another allocator, the stack, null).
    ///
    /// ```
    /// use alloc_core::{Heap, MmapSource, ThreadCache};
    /// use core::alloc::Layout;
    ///
    /// static HEAP: Heap<MmapSource> = Heap::new(MmapSource::new());
    /// let mut cache = ThreadCache::new();
    /// // SAFETY: the cache is used with this heap only; the block is freed once.
    /// unsafe {
    ///     let p = HEAP.allocate_in(&mut cache, Layout::from_size_align(100, 8).unwrap());
    ///     assert_eq!(HEAP.usable_size(p), Some(112));
    ///     assert_eq!(HEAP.usable_size(&0u8), None);
    ///     HEAP.deallocate_unsized_in(&mut cache, p);
    ///     HEAP.flush_thread_cache(&mut cache);
    /// }
    /// ```
    #[inline]
    pub unsafe fn usable_size(&self, ptr: *const u8) -> Option<usize> {
        let (span, cls) = self.page_map.lookup(ptr as usize >> PAGE_SHIFT);
        if span.is_null() {
            return None;
        }
        if cls != 0 {
            return Some(class_size(cls));
        }
        // SAFETY: caller's contract: ptr is a live large object, so its span record is live
        // and in use (its fields do not change while the object lives).
        let s = unsafe { &*span };
        (s.base() as usize + s.bytes()).checked_sub(ptr as usize)
    }

    /// Frees `ptr` without its layout: the page map gives its span, the span its class.
    /// Returns false (and frees nothing) when `ptr` is not in memory of this heap.
    ///
    /// # Safety
    /// As [`allocate`](Self::allocate) for `hook`; `ptr` is a live block of this heap that is
    /// not used again, or lies outside every mapping of this heap.
    #[inline]
    pub unsafe fn deallocate_unsized<H: TlsHook>(&self, hook: &H, ptr: *mut u8) -> bool {
        let (span, cls) = self.page_map.lookup(ptr as usize >> PAGE_SHIFT);
        if span.is_null() {
            return false;
        }
        if cls == 0 {
            // SAFETY: a live large object (caller's contract).
            unsafe { self.deallocate_large(ptr) };
            return true;
        }
        let freed = hook.with_thread_cache(|c| {
            // SAFETY: the hook's caches belong to this heap; ptr is a block of class cls.
            unsafe { self.free_class_in(c, ptr, cls) }
        });
        if freed.is_none() {
            // SAFETY: as above.
            unsafe { self.free_class_uncached(ptr, cls) };
        }
        true
    }

    /// [`deallocate_unsized`](Self::deallocate_unsized) with an explicit cache.
    ///
    /// # Safety
    /// `cache` is used with this heap only; `ptr` as for `deallocate_unsized`.
    pub unsafe fn deallocate_unsized_in(&self, cache: &mut ThreadCache, ptr: *mut u8) -> bool {
        struct One<'a>(core::cell::Cell<Option<&'a mut ThreadCache>>);
        // SAFETY: hands out the one cache once, which belongs to this heap (caller's contract).
        unsafe impl TlsHook for One<'_> {
            fn with_thread_cache<R>(&self, f: impl FnOnce(&mut ThreadCache) -> R) -> Option<R> {
                self.0.take().map(f)
            }
        }
        // SAFETY: caller's contract.
        unsafe { self.deallocate_unsized(&One(core::cell::Cell::new(Some(cache))), ptr) }
    }

    /// Resizes `ptr` to `new_size` bytes aligned to `align` without its old layout
    /// (`realloc`): in place when the block's class still fits (and is not more than twice
    /// too large) or a large object's span can shrink or grow where it lies; otherwise a new
    /// block, the old contents copied, the old block freed. Null on failure (the old block is
    /// then untouched), and when `ptr` is not in memory of this heap.
    ///
    /// # Safety
    /// As [`deallocate_unsized`](Self::deallocate_unsized); `align` is a power of two.
    pub unsafe fn reallocate_unsized<H: TlsHook>(
        &self,
        hook: &H,
        ptr: *mut u8,
        new_size: usize,
        align: usize,
    ) -> *mut u8 {
        let (span, cls) = self.page_map.lookup(ptr as usize >> PAGE_SHIFT);
        if span.is_null() {
            return ptr::null_mut();
        }
        let aligned = ptr as usize & (align - 1) == 0;
        let old_size = if cls != 0 {
            let size = class_size(cls);
            if aligned && new_size <= size && (new_size > size / 2 || size <= 16) {
                return ptr;
            }
            size
        } else {
            // SAFETY: caller's contract: a live large object's span record is live and in use.
            let bytes = unsafe { (*span).bytes() };
            if aligned && new_size > MAX_SMALL_SIZE && new_size <= MAX_REQUEST {
                let pages = new_size.div_ceil(PAGE_SIZE);
                if self.resize_large_in_place(span, pages) {
                    return ptr;
                }
            }
            bytes
        };
        let Ok(layout) = Layout::from_size_align(new_size, align) else {
            return ptr::null_mut();
        };
        // SAFETY: caller's contract for hook.
        let new = unsafe { self.allocate(hook, layout) };
        if !new.is_null() {
            // SAFETY: both blocks are valid for the smaller size and distinct; then ptr is
            // freed once (caller's contract).
            unsafe {
                ptr::copy_nonoverlapping(ptr, new, old_size.min(new_size));
                self.deallocate_unsized(hook, ptr);
            }
        }
        new
    }

    // ---- fork ---------------------------------------------------------------------------

    /// Takes every lock of the heap (each class lock in index order, then the page heap lock)
    /// and keeps them, so that no other thread is inside the heap. This is the `fork` prepare
    /// step: a child forked now inherits a consistent heap, and [`unlock_all`](Self::unlock_all)
    /// in both processes makes it usable again. Until then the calling thread must not
    /// allocate from the heap's shared tiers (it would wait for itself).
    pub fn lock_all(&self) {
        self.parked.lock_raw();
        for c in &self.central {
            c.lock_raw();
        }
        self.page_heap.lock_raw();
    }

    /// Releases the locks [`lock_all`](Self::lock_all) took.
    ///
    /// # Safety
    /// The calling thread called `lock_all` and has not called `unlock_all` since; or the
    /// caller is a child forked while its parent held them that way (the copy of the thread
    /// that took them is the caller).
    pub unsafe fn unlock_all(&self) {
        // SAFETY: caller's contract: this thread holds every lock, with no guard alive.
        unsafe {
            self.page_heap.unlock_raw();
            for c in self.central.iter().rev() {
                c.unlock_raw();
            }
            self.parked.unlock_raw();
        }
    }

    /// Returns `ptr` itself when the block can hold `new_size` bytes in place: same size class,
    /// or for spans, same pages or a span grown/shrunk in place.
    fn resize_in_place(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> Option<*mut u8> {
        let old_cls = class_for(layout.size(), layout.align());
        let new_cls = class_for(new_size, layout.align());
        if old_cls != 0 && old_cls == new_cls {
            return Some(ptr);
        }
        if old_cls != 0 || new_cls != 0 || new_size > MAX_REQUEST {
            return None;
        }
        let pages = new_size.div_ceil(PAGE_SIZE).max(1);
        let span = self.page_map.get(ptr as usize >> PAGE_SHIFT);
        if span.is_null() {
            return None;
        }
        self.resize_large_in_place(span, pages).then_some(ptr)
    }

    /// Shrinks or grows the span of a live large object in place to `pages` pages.
    fn resize_large_in_place(&self, span: *mut Span, pages: usize) -> bool {
        let mut ph = self.page_heap.lock();
        // SAFETY: span belongs to a live large object, so the record is live and in use.
        let old = unsafe { (*span).bytes() };
        if ph.resize_in_place(&self.source, &self.page_map, span, pages) {
            // SAFETY: as above.
            let now = unsafe { (*span).bytes() };
            ph.stats.large_in_use = ph.stats.large_in_use - old + now;
            true
        } else {
            false
        }
    }

    // ---- slow paths -------------------------------------------------------------------------

    #[cold]
    fn refill(&self, cache: &mut ThreadCache, cls: usize) -> *mut u8 {
        let batch = CLASS_BATCH[cls] as u32;
        let (head, n) = self.remove_range(cls, batch);
        if n == 0 {
            return ptr::null_mut();
        }
        let list = &mut cache.lists[cls];
        // A list that runs dry may hold more next time (tcmalloc's max_length growth).
        list.max_len = (list.max_len + batch).min(MAX_LIST_LEN);
        // SAFETY: head starts a list of n free blocks.
        list.head = unsafe { head.cast::<*mut u8>().read() };
        list.len = n - 1;
        cache.bytes += (n as usize - 1) * class_size(cls);
        cache.refills += 1;
        self.publish(cache);
        head
    }

    /// Gives a batch back when list `cls` is over its bound, and scavenges when the whole
    /// cache is over [`MAX_CACHE_BYTES`].
    #[cold]
    #[allow(clippy::needless_range_loop)] // `c` indexes several tables and the cache.
    pub(crate) fn overflow(&self, cache: &mut ThreadCache, cls: usize) {
        let size = class_size(cls);
        if cache.lists[cls].len > cache.lists[cls].max_len {
            let batch = CLASS_BATCH[cls] as u32;
            let (head, n) = cache.take_front(cls, batch, size);
            self.insert_range(cls, head, n);
            cache.overflows += 1;
        }
        if cache.bytes > MAX_CACHE_BYTES {
            // Halve every list and its bound: the thread holds more than it reuses.
            for c in 1..NUM_CLASSES {
                let list = &mut cache.lists[c];
                list.max_len = (list.max_len / 2).max(CLASS_BATCH[c] as u32);
                let drop = list.len.div_ceil(2);
                self.release_from_cache(cache, c, drop);
            }
            cache.scavenges += 1;
        }
        self.publish(cache);
    }

    /// Moves `n` blocks of list `cls` to the transfer cache, in whole batches where possible.
    fn release_from_cache(&self, cache: &mut ThreadCache, cls: usize, mut n: u32) {
        let batch = CLASS_BATCH[cls] as u32;
        while n > 0 {
            let (head, got) = cache.take_front(cls, n.min(batch), class_size(cls));
            if got == 0 {
                break;
            }
            self.insert_range(cls, head, got);
            n -= got;
        }
    }

    /// Gives every block of `cache` back (thread exit). The cache is empty afterwards and may
    /// be reused.
    #[allow(clippy::needless_range_loop)] // `cls` indexes several tables and the cache.
    pub fn flush_thread_cache(&self, cache: &mut ThreadCache) {
        for cls in 1..NUM_CLASSES {
            let len = cache.lists[cls].len;
            self.release_from_cache(cache, cls, len);
            cache.lists[cls].max_len = CLASS_BATCH[cls] as u32;
        }
        self.flushes.fetch_add(1, Ordering::Relaxed);
        self.publish(cache);
    }

    /// Retires the cache of an ending thread: parks its lists for the next new thread
    /// ([`adopt_parked_cache`](Self::adopt_parked_cache)) when a slot is free and the cache
    /// holds at most 2 MiB, otherwise flushes it like
    /// [`flush_thread_cache`](Self::flush_thread_cache). Servers that end and create threads
    /// all the time (larson) then hand warm caches from thread to thread instead of walking
    /// every cached block back to the shared tiers and refilling the new thread's cache
    /// batch by batch. At most 8 caches (16 MiB) are parked;
    /// [`release_free_memory`](Self::release_free_memory) flushes them. The cache is empty
    /// afterwards either way.
    pub fn retire_thread_cache(&self, cache: &mut ThreadCache) {
        self.publish(cache);
        if cache.bytes <= PARK_MAX_BYTES {
            let mut parked = self.parked.lock();
            if parked.count < PARKED_SLOTS {
                let i = parked.count;
                parked.lists[i] = cache.lists;
                parked.bytes[i] = cache.bytes;
                parked.count += 1;
                drop(parked);
                // The bytes stay counted as thread-cache bytes while parked.
                cache.lists = ThreadCache::new().lists;
                cache.bytes = 0;
                cache.reported = 0;
                self.flushes.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        self.flush_thread_cache(cache);
    }

    /// Fills an empty cache (a new thread's) with a parked one's lists, if any; returns
    /// whether it did. A cache that is not empty is left alone.
    pub fn adopt_parked_cache(&self, cache: &mut ThreadCache) -> bool {
        if cache.bytes != 0 || cache.lists.iter().any(|l| l.len != 0) {
            return false;
        }
        let mut parked = self.parked.lock();
        if parked.count == 0 {
            return false;
        }
        parked.count -= 1;
        let i = parked.count;
        cache.lists = parked.lists[i];
        cache.bytes = parked.bytes[i];
        // Already counted in the statistics when it was parked.
        cache.reported = cache.bytes;
        true
    }

    /// Flushes every parked cache; returns how many there were.
    fn flush_parked(&self) -> usize {
        let mut n = 0;
        loop {
            let mut cache = ThreadCache::new();
            if !self.adopt_parked_cache(&mut cache) {
                return n;
            }
            self.flush_thread_cache(&mut cache);
            n += 1;
        }
    }

    /// Publishes the cache's byte count and counters to the heap statistics.
    fn publish(&self, cache: &mut ThreadCache) {
        let delta = cache.bytes.wrapping_sub(cache.reported);
        if delta != 0 {
            self.thread_cache_bytes.fetch_add(delta, Ordering::Relaxed);
            cache.reported = cache.bytes;
        }
        for (counter, local) in [
            (&self.refills, &mut cache.refills),
            (&self.overflows, &mut cache.overflows),
            (&self.scavenges, &mut cache.scavenges),
        ] {
            if *local != 0 {
                counter.fetch_add(*local, Ordering::Relaxed);
                *local = 0;
            }
        }
    }

    /// Takes up to `want` blocks of class `cls` (a whole batch when the transfer cache has
    /// one). Returns a null-terminated list and its length; (null, 0) when out of memory.
    fn remove_range(&self, cls: usize, want: u32) -> (*mut u8, u32) {
        let mut c = self.central[cls].lock();
        if c.num_batches > 0 {
            c.num_batches -= 1;
            c.batch_hits += 1;
            let i = c.num_batches;
            return (c.batches[i], CLASS_BATCH[cls] as u32);
        }
        c.span_refills += 1;
        let size = class_size(cls);
        let mut head: *mut u8 = ptr::null_mut();
        let mut count = 0u32;
        while count < want {
            let mut span = c.nonempty.first();
            if span.is_null() {
                span = self.new_class_span(cls);
                if span.is_null() {
                    break;
                }
                // SAFETY: a fresh span of the class, on no list.
                unsafe {
                    (*span).in_nonempty = true;
                    c.nonempty.push_front(span);
                }
                c.spans += 1;
            }
            // SAFETY: spans on the nonempty list are live spans of this class.
            let s = unsafe { &mut *span };
            while count < want {
                let obj = Central::take_from_span(s, size);
                if obj.is_null() {
                    break;
                }
                // SAFETY: obj is a free block of at least 8 bytes.
                unsafe { obj.cast::<*mut u8>().write(head) };
                head = obj;
                count += 1;
            }
            if Central::is_exhausted(s) {
                // SAFETY: the span is on the nonempty list.
                unsafe { c.nonempty.remove(span) };
                s.in_nonempty = false;
            }
        }
        c.allocated += count as usize;
        (head, count)
    }

    /// Hands `n` blocks of class `cls` (a null-terminated list) to the middle tier: a whole
    /// batch goes to the transfer cache while it has room, anything else back to its span.
    fn insert_range(&self, cls: usize, head: *mut u8, n: u32) {
        if n == 0 {
            return;
        }
        let mut c = self.central[cls].lock();
        if n == CLASS_BATCH[cls] as u32 && c.num_batches < transfer_capacity(cls) {
            let i = c.num_batches;
            c.batches[i] = head;
            c.num_batches += 1;
            c.batch_stores += 1;
            return;
        }
        let mut obj = head;
        let mut freed = 0usize;
        while !obj.is_null() {
            // SAFETY: obj is a free block of the list.
            let next = unsafe { obj.cast::<*mut u8>().read() };
            let span = self.page_map.get(obj as usize >> PAGE_SHIFT);
            debug_assert!(!span.is_null());
            if span.is_null() {
                // Not ours: leaking beats corrupting.
                obj = next;
                continue;
            }
            // SAFETY: a block of a live class span maps to that span's record.
            let s = unsafe { &mut *span };
            debug_assert_eq!(s.class as usize, cls);
            // SAFETY: obj is free; it joins its span's free list.
            unsafe { obj.cast::<*mut u8>().write(s.free_list) };
            s.free_list = obj;
            s.allocated -= 1;
            freed += 1;
            if s.allocated == 0 {
                if s.in_nonempty {
                    // SAFETY: the span is on the nonempty list.
                    unsafe { c.nonempty.remove(span) };
                    s.in_nonempty = false;
                }
                c.spans -= 1;
                c.span_returns += 1;
                let mut ph = self.page_heap.lock();
                ph.deallocate(&self.source, &self.page_map, span);
            } else if !s.in_nonempty {
                // SAFETY: the span is live and on no list.
                unsafe { c.nonempty.push_front(span) };
                s.in_nonempty = true;
            }
            obj = next;
        }
        c.allocated -= freed;
    }

    /// A new span for class `cls`, every page mapped to it. Null when out of memory.
    fn new_class_span(&self, cls: usize) -> *mut Span {
        let pages = CLASS_PAGES[cls] as usize;
        let mut ph = self.page_heap.lock();
        let span = ph.allocate(&self.source, &self.page_map, pages, 1);
        if span.is_null() {
            return span;
        }
        // SAFETY: a fresh in-use span, ours.
        let s = unsafe { &mut *span };
        s.class = cls as u8;
        s.capacity = (s.bytes() / class_size(cls)) as u32;
        s.carved = 0;
        s.allocated = 0;
        s.free_list = ptr::null_mut();
        for page in s.start..s.start + s.pages {
            self.page_map.set_class(page, span, cls);
        }
        span
    }

    fn allocate_large(&self, layout: Layout) -> *mut u8 {
        self.allocate_large_info(layout).0
    }

    /// A large object, and whether its memory is known to read as zeros.
    fn allocate_large_info(&self, layout: Layout) -> (*mut u8, bool) {
        let size = layout.size();
        if size > MAX_REQUEST || layout.align() > MAX_REQUEST {
            return (ptr::null_mut(), false);
        }
        debug_assert!(size > MAX_SMALL_SIZE || layout.align() > PAGE_SIZE);
        let pages = size.div_ceil(PAGE_SIZE).max(1);
        let align_pages = (layout.align() / PAGE_SIZE).max(1);
        if pages + align_pages >= PAGE_LIMIT {
            return (ptr::null_mut(), false);
        }
        let mut ph = self.page_heap.lock();
        let span = ph.allocate(&self.source, &self.page_map, pages, align_pages);
        if span.is_null() {
            return (ptr::null_mut(), false);
        }
        // SAFETY: fresh in-use span.
        let s = unsafe { &*span };
        ph.stats.large_in_use += s.bytes();
        self.large_allocs.fetch_add(1, Ordering::Relaxed);
        (s.base(), ph.last_alloc_zeroed)
    }

    /// # Safety
    /// `ptr` is a live large object of this heap.
    unsafe fn deallocate_large(&self, ptr: *mut u8) {
        let page = ptr as usize >> PAGE_SHIFT;
        let span = self.page_map.get(page);
        // SAFETY: the span of a live large object is a live record (checked defensively).
        if span.is_null() || unsafe { (*span).start != page || (*span).state != SpanState::InUse } {
            debug_assert!(false, "free of a pointer this heap did not allocate");
            return;
        }
        let mut ph = self.page_heap.lock();
        // SAFETY: as above.
        ph.stats.large_in_use -= unsafe { (*span).bytes() };
        ph.deallocate(&self.source, &self.page_map, span);
    }

    // ---- maintenance ------------------------------------------------------------------------

    /// Releases every free span's pages to the OS now (after flushing parked thread caches);
    /// returns the bytes released.
    pub fn release_free_memory(&self) -> usize {
        self.flush_parked();
        let now = self.source.now_ns();
        self.page_heap.lock().scavenge(&self.source, now, true)
    }

    /// Releases free spans that have idled for the release delay; returns the bytes released.
    /// (The heap also does this by itself whenever a span is freed.)
    pub fn release_idle_memory(&self) -> usize {
        let now = self.source.now_ns();
        self.page_heap.lock().scavenge(&self.source, now, false)
    }

    /// Whether `ptr` lies inside a span this heap currently has in use.
    pub fn owns(&self, ptr: *const u8) -> bool {
        let span = self.page_map.get(ptr as usize >> PAGE_SHIFT);
        if span.is_null() {
            return false;
        }
        let _ph = self.page_heap.lock();
        // SAFETY: under the lock, a mapped record is live (records are recycled, never unmapped).
        let s = unsafe { &*span };
        let addr = ptr as usize;
        s.state == SpanState::InUse
            && addr >= s.base() as usize
            && addr < s.base() as usize + s.bytes()
    }

    /// A snapshot of the heap's counters. Thread-cache figures are as each thread last
    /// published them (on its last slow-path operation).
    pub fn stats(&self) -> Stats {
        let mut st = Stats::default();
        let mut class_out = 0usize;
        for cls in 1..NUM_CLASSES {
            let c = self.central[cls].lock();
            let size = class_size(cls);
            let in_batches = c.num_batches * CLASS_BATCH[cls] as usize;
            st.bytes_transfer_cache += in_batches * size;
            st.bytes_central_free +=
                c.spans * CLASS_PAGES[cls] as usize * PAGE_SIZE - c.allocated * size;
            class_out += (c.allocated - in_batches) * size;
            st.transfer_batch_hits += c.batch_hits;
            st.transfer_batch_stores += c.batch_stores;
            st.central_span_refills += c.span_refills;
            st.central_span_returns += c.span_returns;
            st.class_spans += c.spans;
        }
        st.bytes_thread_caches =
            (self.thread_cache_bytes.load(Ordering::Relaxed) as isize).max(0) as usize;
        let ph = self.page_heap.lock();
        st.bytes_in_use =
            (class_out + ph.stats.large_in_use).saturating_sub(st.bytes_thread_caches);
        st.bytes_large = ph.stats.large_in_use;
        st.bytes_mapped = ph.stats.mapped;
        st.bytes_metadata = ph.arena.bytes + self.page_map.bytes.load(Ordering::Relaxed);
        st.bytes_page_heap_free = ph.stats.free - ph.stats.released;
        st.bytes_released = ph.stats.released;
        st.bytes_returned_total = ph.stats.returned_total;
        st.page_heap_span_allocs = ph.stats.span_allocs;
        st.page_heap_span_frees = ph.stats.span_frees;
        st.os_maps = ph.stats.os_maps;
        st.os_releases = ph.stats.os_releases;
        st.thread_cache_refills = self.refills.load(Ordering::Relaxed);
        st.thread_cache_overflows = self.overflows.load(Ordering::Relaxed);
        st.thread_cache_scavenges = self.scavenges.load(Ordering::Relaxed);
        st.thread_cache_flushes = self.flushes.load(Ordering::Relaxed);
        st.uncached_ops = self.uncached.load(Ordering::Relaxed);
        st.large_allocs = self.large_allocs.load(Ordering::Relaxed);
        st
    }
}
