//! Large objects in mappings of their own (above [`MAP_THRESHOLD`]), as glibc serves big
//! requests with `mmap`: `realloc` resizes them with `mremap(MREMAP_MAYMOVE)` (the kernel
//! moves page tables, nothing is copied), and `free` unmaps them, so their memory goes back
//! at once and the span heap's mapping is never split.
//!
//! Each object has a span record (state `Mapped`) on the page heap's `mapped` list, and the
//! page map entry of its first page points at it, so `free` and `usable_size` find it in O(1)
//! like any large object. A small cache of recently freed mappings (at most
//! [`CACHE_ENTRIES`] mappings and [`CACHE_BYTES`] bytes, state `MappedCached`) serves loops
//! that free and allocate big buffers again: a cached mapping is resized with `mremap` to the
//! new request, which keeps its resident pages (no page faults, no zeroing by the kernel)
//! instead of an `munmap` + `mmap` + a fault per page. Cached mappings idle for the release
//! delay are unmapped by the same scans that release idle spans.
//!
//! No system call runs under the page heap lock: the lock is taken to pick or register a
//! record (and the page map entry), released for `mmap` / `mremap` / `munmap`, and taken
//! again to publish the result. While a mapping is being resized, its page map entry is
//! cleared and its record is on no list.

use core::ptr::{self, NonNull};
use core::sync::atomic::Ordering;

use super::Heap;
use crate::check::{Checked, ensure};
use crate::page_heap::PageHeap;
use crate::page_map::PageMap;
use crate::size_class::{PAGE_SHIFT, PAGE_SIZE};
use crate::source::PageSource;
use crate::span::{Span, SpanState};

/// Objects that `realloc` grows past 8 MiB get a mapping of their own (when the source offers
/// them; allocated as such, above [`MAP_THRESHOLD_NEW`]).
/// With 1 MiB, `alloc_bench large` (16 KiB-4 MiB blocks touched and freed) fell from 1.34 to
/// 0.04 M operations per CPU-second: own mappings fault every 4 KiB page in again, where the
/// span heap reuses resident (huge) pages.
pub(crate) const MAP_THRESHOLD: usize = 8 << 20;
/// Objects allocated as such (not grown by `realloc`) get a mapping of their own above this
/// (32 MiB, glibc's largest mmap threshold); up to it they come from the span heap.
pub(crate) const MAP_THRESHOLD_NEW: usize = 32 << 20;
/// At most this many freed mappings are cached.
pub(crate) const CACHE_ENTRIES: usize = 8;
/// At most this many bytes of freed mappings are cached; longer mappings are never cached.
pub(crate) const CACHE_BYTES: usize = 128 << 20;
/// 2 MiB, a transparent huge page: the tail of a reused mapping is released from a multiple
/// of it on.
const HUGE_PAGE: usize = 2 << 20;

/// Mappings to unmap once the lock is released.
struct Unmaps {
    list: [(usize, usize); CACHE_ENTRIES + 1],
    len: usize,
}

impl Unmaps {
    const fn new() -> Self {
        Unmaps {
            list: [(0, 0); CACHE_ENTRIES + 1],
            len: 0,
        }
    }

    fn push(&mut self, base: *mut u8, bytes: usize) {
        debug_assert!(self.len < self.list.len());
        if let Some(slot) = self.list.get_mut(self.len) {
            *slot = (base as usize, bytes);
            self.len += 1;
        }
    }

    /// Unmaps everything collected (without any lock held).
    fn run<S: PageSource>(&self, source: &S) -> usize {
        let mut total = 0;
        for &(base, bytes) in &self.list[..self.len] {
            if let Some(p) = NonNull::new(base as *mut u8) {
                // SAFETY: every entry was a mapping of ours whose record is gone and whose
                // page map entry was cleared under the lock: nothing refers to it.
                unsafe { source.unmap(p, bytes) };
                total += bytes;
            }
        }
        total
    }
}

impl<S: PageSource> Heap<S> {
    /// A large object of `size` bytes aligned to `align` in a mapping of its own, and whether
    /// it reads as zeros; `None` when the source gives no such mappings or is out of memory.
    /// `growing`: the request is a `realloc`'s growth (see `reuse_cached_mapping`).
    pub(super) fn allocate_mapped(
        &self,
        size: usize,
        align: usize,
        growing: bool,
    ) -> Option<(*mut u8, bool)> {
        let bytes = size.div_ceil(PAGE_SIZE) * PAGE_SIZE;
        // Nested, not let chains: the crate builds with Rust 1.87.
        if align <= PAGE_SIZE {
            if let Some(p) = self.reuse_cached_mapping(bytes, growing) {
                return Some((p, false));
            }
        }
        let p = self.source.map_object(bytes, align)?;
        let mut ph = self.page_heap.lock();
        let span = ph.arena.new_span(
            &self.source,
            p.as_ptr() as usize >> PAGE_SHIFT,
            bytes / PAGE_SIZE,
        );
        if span.is_some_and(|s| self.register_mapped(&mut ph, s.as_ptr())) {
            ph.stats.os_maps += 1;
            return Some((p.as_ptr(), true));
        }
        if let Some(span) = span {
            // SAFETY: the record was just made and is on no list nor in the page map.
            unsafe { ph.arena.delete_span(span.as_ptr()) };
        }
        drop(ph);
        // SAFETY: the mapping was just made and nothing refers to it.
        unsafe { self.source.unmap(p, bytes) };
        None
    }

    /// Publishes the record of a mapped object (state, page map entry, list, counts); false
    /// when the page map cannot hold its entry (out of memory).
    fn register_mapped(&self, ph: &mut PageHeap, span: *mut Span) -> bool {
        // SAFETY: the record is live, ours, on no list (lock held).
        let s = unsafe { &mut *span };
        if !self.page_map.ensure(&self.source, s.start, 1) {
            return false;
        }
        s.state = SpanState::Mapped;
        s.class = None;
        self.page_map.set(s.start, span);
        // SAFETY: live and on no list.
        unsafe { ph.mapped.push_front(span) };
        ph.stats.mapped_objects += s.bytes();
        self.large_allocs.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Takes a record off its list and out of the page map (lock held); its mapping stays.
    fn unregister(ph: &mut PageHeap, map: &PageMap, span: *mut Span) {
        // SAFETY: a live record on the list its state names.
        let s = unsafe { &mut *span };
        if map.get(s.start) == span {
            map.set(s.start, ptr::null_mut());
        }
        // SAFETY: as above.
        unsafe {
            if s.state == SpanState::Mapped {
                ph.mapped.remove(span);
                ph.stats.mapped_objects -= s.bytes();
            } else {
                ph.map_cache.remove(span);
                ph.stats.map_cached -= s.bytes();
            }
        }
    }

    /// A cached mapping resized to `bytes`: the smallest of at least `bytes`, else the
    /// largest. `None` when the cache is empty (or the resize failed: the mapping is then
    /// unmapped). A longer mapping is taken whole (up to 8 times the request); unless the
    /// request is a `realloc`'s growth (`growing`), its pages beyond the request (rounded up
    /// to 2 MiB) are released first when it is more than 4/3 of it.
    fn reuse_cached_mapping(&self, bytes: usize, growing: bool) -> Option<*mut u8> {
        let mut ph = self.page_heap.lock();
        let mut best: *mut Span = ptr::null_mut();
        let mut s = ph.map_cache.first();
        while !s.is_null() {
            // SAFETY: members of the cache list are live records (lock held).
            let (len, next) = unsafe { ((*s).bytes(), (*s).next) };
            if best.is_null() {
                best = s;
            } else {
                // SAFETY: as above.
                let b = unsafe { (*best).bytes() };
                if (len >= bytes && (b < bytes || len < b)) || (b < bytes && len > b) {
                    best = s;
                }
            }
            s = next;
        }
        if best.is_null() {
            return None;
        }
        Self::unregister(&mut ph, &self.page_map, best);
        // SAFETY: best is live and now ours alone (on no list, not in the page map).
        let (base, len) = unsafe { ((*best).base(), (*best).bytes()) };
        // A longer mapping is taken whole (up to 8 times the request): a vector that grows
        // again reuses its resident pages without a system call.
        if len >= bytes && len / 8 <= bytes {
            let ok = self.register_mapped(&mut ph, best);
            debug_assert!(ok, "the entry existed");
            drop(ph);
            // A buffer that is not growing keeps only what it asked for resident: taken
            // whole, the pages a longer buffer wrote before stayed resident with the new
            // one. In `alloc_bench huge` (mimalloc-bench's malloc-large: 20 buffers of
            // 5-25 MiB replaced at random) every buffer drifted into a 20-25 MiB mapping,
            // peak RSS 554-567 MiB against glibc's 505-517 (the external suite: 583 vs
            // 522). Released on a 2 MiB boundary, the huge pages below stay whole.
            let keep = bytes.next_multiple_of(HUGE_PAGE);
            if !growing && len - len / 4 > bytes && keep < len {
                // SAFETY: the mapping is the new object's; nothing was written beyond the
                // request yet and its contents there are unspecified.
                unsafe {
                    self.source
                        .release(NonNull::new(base.add(keep))?, len - keep)
                };
            }
            return Some(base);
        }
        drop(ph);
        // SAFETY: the mapping is ours alone (unregistered above).
        let moved = unsafe { self.source.remap_object(NonNull::new(base)?, len, bytes) };
        let mut ph = self.page_heap.lock();
        if let Some(p) = moved {
            // SAFETY: as above.
            let s = unsafe { &mut *best };
            s.start = p.as_ptr() as usize >> PAGE_SHIFT;
            s.pages = bytes / PAGE_SIZE;
            if self.register_mapped(&mut ph, best) {
                return Some(p.as_ptr());
            }
        }
        // SAFETY: the record is on no list and out of the page map.
        unsafe { ph.arena.delete_span(best) };
        drop(ph);
        let (p, len) = moved.map_or((base, len), |p| (p.as_ptr(), bytes));
        // SAFETY: unregistered: nothing refers to the mapping.
        unsafe { self.source.unmap(NonNull::new(p)?, len) };
        None
    }

    /// Frees a live mapped object: into the cache, or unmapped.
    pub(super) fn deallocate_mapped(&self, span: *mut Span) {
        let now = self.source.now_ns();
        let mut unmaps = Unmaps::new();
        let mut ph = self.page_heap.lock();
        Self::unregister(&mut ph, &self.page_map, span);
        // SAFETY: the record is live and ours (the object was live).
        let s = unsafe { &mut *span };
        if s.bytes() <= CACHE_BYTES / 2 {
            s.state = SpanState::MappedCached;
            s.freed_at = now;
            self.page_map.set(s.start, span);
            // SAFETY: live, on no list.
            unsafe { ph.map_cache.push_front(span) };
            ph.stats.map_cached += s.bytes();
            while ph.map_cache.len > CACHE_ENTRIES || ph.stats.map_cached > CACHE_BYTES {
                let mut last = ph.map_cache.first();
                // SAFETY: members of the cache list are live records.
                while !unsafe { (*last).next }.is_null() {
                    // SAFETY: as above.
                    last = unsafe { (*last).next };
                }
                self.drop_cached(&mut ph, last, &mut unmaps);
            }
            self.source.free_memory_pending();
        } else {
            unmaps.push(s.base(), s.bytes());
            // SAFETY: unregistered above: nothing refers to the record.
            unsafe { ph.arena.delete_span(span) };
        }
        drop(ph);
        unmaps.run(&self.source);
    }

    /// Takes a cached mapping out of the cache for unmapping after the lock is released.
    fn drop_cached(&self, ph: &mut PageHeap, span: *mut Span, unmaps: &mut Unmaps) {
        Self::unregister(ph, &self.page_map, span);
        // SAFETY: live record, now on no list and out of the page map.
        unsafe {
            unmaps.push((*span).base(), (*span).bytes());
            ph.arena.delete_span(span);
        }
    }

    /// Resizes a live mapped object's mapping to hold `new_size` bytes (`mremap`, possibly
    /// moving it). Null when the kernel refused (the object is then unchanged).
    /// The mapping is kept as it is when the request fits and is growth (`new_size` at least
    /// `old_size`: a vector growing inside a reused, longer cached mapping) or, when the old
    /// size is unknown (C's `realloc`), more than half of it.
    pub(super) fn remap_mapped(
        &self,
        span: *mut Span,
        old_size: Option<usize>,
        new_size: usize,
    ) -> *mut u8 {
        let bytes = new_size.div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let mut ph = self.page_heap.lock();
        // SAFETY: the record of a live object (caller's contract: the caller owns it).
        let (base, len) = unsafe { ((*span).base(), (*span).bytes()) };
        let keep = match old_size {
            Some(old) => new_size >= old || bytes > len / 2,
            None => bytes > len / 2,
        };
        if bytes <= len && keep {
            return base;
        }
        Self::unregister(&mut ph, &self.page_map, span);
        drop(ph);
        let Some(old) = NonNull::new(base) else {
            return ptr::null_mut();
        };
        // SAFETY: the caller owns the object, and with it the mapping.
        let moved = unsafe { self.source.remap_object(old, len, bytes) };
        let mut ph = self.page_heap.lock();
        // SAFETY: as above; the record is on no list.
        let s = unsafe { &mut *span };
        if let Some(p) = moved {
            s.start = p.as_ptr() as usize >> PAGE_SHIFT;
            s.pages = bytes / PAGE_SIZE;
        }
        if !self.register_mapped(&mut ph, span) {
            // Out of memory for a page map leaf: the object stays valid but unknown to the
            // heap (its free is refused, its mapping leaks).
            // SAFETY: the record is on no list and out of the page map.
            unsafe { ph.arena.delete_span(span) };
        }
        moved.map_or(ptr::null_mut(), NonNull::as_ptr)
    }

    /// Unmaps cached mappings idle for the release delay (all when `force`); returns the
    /// bytes unmapped and how long until the next one is due (`None`: the cache is empty).
    pub(super) fn trim_mapping_cache(&self, now: u64, force: bool) -> (usize, Option<u64>) {
        let mut unmaps = Unmaps::new();
        let mut next_due = None;
        let mut ph = self.page_heap.lock();
        let delay = ph.release_delay_ns;
        let mut s = ph.map_cache.first();
        while !s.is_null() {
            // SAFETY: members of the cache list are live records (lock held).
            let (next, freed_at) = unsafe { ((*s).next, (*s).freed_at) };
            if force || now.saturating_sub(freed_at) >= delay {
                self.drop_cached(&mut ph, s, &mut unmaps);
            } else {
                let due = (freed_at + delay).saturating_sub(now);
                next_due = Some(next_due.map_or(due, |d: u64| d.min(due)));
            }
            s = next;
        }
        drop(ph);
        (unmaps.run(&self.source), next_due)
    }
}

/// The invariants of mapped objects and of the cache (page heap lock held): every record on
/// `mapped` is `Mapped`, every one on `map_cache` is `MappedCached`, classless, with its
/// first page mapped to it; the byte counts match; the cache is within its bounds.
pub(super) fn check_mapped(ph: &PageHeap, map: &PageMap) -> Checked {
    for (list, state, counted, what) in [
        (
            &ph.mapped,
            SpanState::Mapped,
            ph.stats.mapped_objects,
            "mapped objects",
        ),
        (
            &ph.map_cache,
            SpanState::MappedCached,
            ph.stats.map_cached,
            "mapping cache",
        ),
    ] {
        let mut bytes = 0usize;
        list.check(&what, |span, s| {
            let at = s.start;
            ensure!(
                s.state == state && s.class.is_none() && s.pages > 0,
                "{what}: record at page {at:#x} is {:?} with class {:?}, {} pages",
                s.state,
                s.class,
                s.pages
            );
            ensure!(
                map.get(at) == span,
                "{what}: the first page {at:#x} does not map to its record"
            );
            bytes += s.bytes();
            Ok(())
        })?;
        ensure!(
            bytes == counted,
            "{what}: records hold {bytes} bytes, stats say {counted}"
        );
    }
    ensure!(
        ph.map_cache.len <= CACHE_ENTRIES && ph.stats.map_cached <= CACHE_BYTES,
        "mapping cache: {} mappings, {} bytes over its bounds",
        ph.map_cache.len,
        ph.stats.map_cached
    );
    Ok(())
}
