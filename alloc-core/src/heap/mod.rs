//! The heap: the three tiers wired together, generic over the page source.
//!
//! Split by path, like mimalloc's `alloc.c` / `free.c` / `page.c`: `allocate` (the allocation
//! path and resizing), `free` (the free path and the overflow of thread caches), `large`
//! (whole-span objects), `parked` (caches of ended threads), `fork` (the `fork` protocol),
//! `check` (the invariants of INTERNALS.md). The per-tier operations live on the types that
//! own the data: [`ThreadCache`], `TransferCache`, `Span`, `PageHeap`.

use core::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};

use crate::lock::SpinLock;
use crate::page_heap::PageHeap;
use crate::page_map::PageMap;
use crate::size_class::{NUM_CLASSES, PAGE_SHIFT, PAGE_SIZE, SizeClass};
use crate::source::PageSource;
use crate::span::SpanState;
use crate::stats::Stats;
use crate::thread_cache::ThreadCache;
use crate::transfer_cache::{TRANSFER_SLOTS_BYTES, TransferCache, class_slots};

mod allocate;
mod check;
mod fast;
mod fork;
mod free;
mod large;
mod mapped;
mod parked;

use parked::Parked;

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
    /// Tier 2, one lock per class (index 0, no class, unused).
    transfer: [SpinLock<TransferCache>; NUM_CLASSES],
    /// Every class's transfer batches as pointers (`transfer_cache::TRANSFER_OFF`), mapped
    /// from the source on the first batch stored; null before.
    transfer_slots: AtomicPtr<*mut u8>,
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
            transfer: [const { SpinLock::new(TransferCache::new()) }; NUM_CLASSES],
            transfer_slots: AtomicPtr::new(core::ptr::null_mut()),
            parked: SpinLock::new(Parked::new()),
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

    /// The transfer cache of class `cls`.
    #[inline]
    fn transfer(&self, cls: SizeClass) -> &SpinLock<TransferCache> {
        &self.transfer[cls.index()]
    }

    /// Takes up to `out.len()` blocks of class `cls` from its transfer cache into `out` (a
    /// whole batch when it has one), carving new spans of the page heap as needed. Returns how
    /// many it wrote; 0 when out of memory.
    fn remove_range(&self, cls: SizeClass, out: &mut [*mut u8]) -> u32 {
        let mut tc = self.transfer(cls).lock();
        // Read under the class lock: a batch stored by another thread was stored after the
        // array was published, so a cache holding batches always sees the array here (read
        // before the lock, it could still be null while a batch arrived meanwhile).
        let slots = class_slots(self.transfer_slots.load(Ordering::Acquire), cls);
        tc.remove_range(cls, slots, out, || self.new_class_span(cls))
    }

    /// The transfer slot array, mapped on first use (outside every lock); null when the
    /// source cannot map it (then no batch is kept: blocks go back to their spans).
    #[cold]
    fn map_transfer_slots(&self) -> *mut *mut u8 {
        let Some(p) = self.source.map(TRANSFER_SLOTS_BYTES) else {
            return core::ptr::null_mut();
        };
        let p = p.as_ptr().cast::<*mut u8>();
        match self.transfer_slots.compare_exchange(
            core::ptr::null_mut(),
            p,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => p,
            Err(won) => {
                // SAFETY: our mapping lost the race; nothing else knows it.
                unsafe {
                    self.source.unmap(
                        core::ptr::NonNull::new_unchecked(p.cast()),
                        TRANSFER_SLOTS_BYTES,
                    )
                };
                won
            }
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

    // ---- maintenance ------------------------------------------------------------------------

    /// Releases every free span's pages to the OS now (after flushing parked thread caches);
    /// returns the bytes released.
    pub fn release_free_memory(&self) -> usize {
        self.flush_parked();
        let now = self.source.now_ns();
        let spans = self.release_idle_spans(now, true).0;
        spans + self.trim_mapping_cache(now, true).0
    }

    /// Releases free spans that have idled for the release delay; returns the bytes released.
    /// (The heap also does this by itself whenever a span is freed.)
    pub fn release_idle_memory(&self) -> usize {
        let now = self.source.now_ns();
        let spans = self.release_idle_spans(now, false).0;
        spans + self.trim_mapping_cache(now, false).0
    }

    /// Releases the free spans that idled for the release delay and returns how long (ns)
    /// until the next one left unreleased becomes due, or `None` when no free memory is left
    /// unreleased: the loop of a background purger (sleep that long, call again; park when
    /// `None` until [`PageSource::free_memory_pending`] says there is more).
    pub fn purge_idle_memory(&self) -> Option<u64> {
        let now = self.source.now_ns();
        let (_, spans_due) = self.release_idle_spans(now, false);
        let (_, cache_due) = self.trim_mapping_cache(now, false);
        match (spans_due, cache_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Releases free spans idle for the release delay (all when `force`) to the OS with no
    /// lock held during the system calls: a batch of spans is taken off the free lists under
    /// the page heap lock (`PageHeap::take_idle`), released, and put back (coalescing) under
    /// the lock again. Returns the bytes released and how long until the next unreleased free
    /// span is due (`None`: none left).
    fn release_idle_spans(&self, now: u64, force: bool) -> (usize, Option<u64>) {
        const BATCH: usize = 32;
        let mut total = 0;
        // Bounded: spans put back may merge with resident neighbours and be due again.
        for _ in 0..64 {
            let mut batch = [core::ptr::null_mut(); BATCH];
            let (n, next_due, more) = self.page_heap.lock().take_idle(now, force, &mut batch);
            let mut ok = [false; BATCH];
            for (span, ok) in batch[..n].iter().zip(ok.iter_mut()) {
                // SAFETY: take_idle hands these spans to this thread alone (state Releasing,
                // on no list); their pages are free and mapped.
                let (base, bytes) = unsafe { ((**span).base(), (**span).bytes()) };
                if let Some(base) = core::ptr::NonNull::new(base) {
                    // SAFETY: as above: nobody uses the contents.
                    *ok = unsafe { self.source.release(base, bytes) };
                }
                if *ok {
                    total += bytes;
                }
            }
            let mut ph = self.page_heap.lock();
            for (&span, &ok) in batch[..n].iter().zip(ok.iter()) {
                ph.finish_release(&self.page_map, span, ok);
            }
            drop(ph);
            if !more || ok[..n].iter().any(|ok| !ok) {
                return (total, if more { Some(0) } else { next_due });
            }
        }
        (total, Some(0))
    }

    /// Sets how long a free span idles before its pages are released (the delay given to
    /// [`with_release_delay`](Self::with_release_delay)); 0 releases spans as soon as the heap
    /// scans, which is whenever a span is freed.
    pub fn set_release_delay(&self, delay_ns: u64) {
        self.page_heap.lock().release_delay_ns = delay_ns;
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
        matches!(s.state, SpanState::InUse | SpanState::Mapped)
            && addr >= s.base() as usize
            && addr < s.base() as usize + s.bytes()
    }

    /// A snapshot of the heap's counters. Thread-cache figures are as each thread last
    /// published them (on its last slow-path operation).
    pub fn stats(&self) -> Stats {
        let mut st = Stats::default();
        let mut class_out = 0usize;
        for cls in SizeClass::all() {
            let c = self.transfer(cls).lock();
            let size = cls.size();
            let in_batches = c.blocks_in_batches(cls);
            st.bytes_transfer_cache += in_batches * size;
            st.bytes_central_free += c.spans * cls.pages() * PAGE_SIZE - c.allocated * size;
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
        let large = ph.stats.large_in_use + ph.stats.mapped_objects;
        st.bytes_in_use = (class_out + large).saturating_sub(st.bytes_thread_caches);
        st.bytes_large = large;
        st.bytes_mapped = ph.stats.mapped + ph.stats.mapped_objects + ph.stats.map_cached;
        st.bytes_metadata = ph.arena.bytes + self.page_map.bytes.load(Ordering::Relaxed);
        if !self.transfer_slots.load(Ordering::Relaxed).is_null() {
            st.bytes_metadata += TRANSFER_SLOTS_BYTES;
        }
        st.bytes_page_heap_free =
            ph.stats.free - ph.stats.released + ph.stats.map_cached + ph.stats.releasing;
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
