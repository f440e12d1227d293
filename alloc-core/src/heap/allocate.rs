//! The allocation path: through a hook or an explicit cache, without a cache, zeroed,
//! resizing, and the refill from the transfer cache.

use core::alloc::Layout;
use core::ptr;
use core::sync::atomic::Ordering;

use super::mapped::MAP_THRESHOLD;
use super::{Heap, MAX_REQUEST, TlsHook, ZERO_BY_RELEASE};
use crate::size_class::{MAX_SMALL_SIZE, PAGE_SHIFT, PAGE_SIZE, SizeClass, class_for};
use crate::source::PageSource;
use crate::span::{Span, SpanState};
use crate::thread_cache::ThreadCache;

impl<S: PageSource> Heap<S> {
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
        let new = unsafe { self.allocate_grown(hook, new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are valid for the smaller size and distinct.
            unsafe {
                ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.deallocate(hook, ptr, layout);
            }
        }
        new
    }

    /// Allocates `layout` using `cache`. Null when out of memory or the size is absurd.
    ///
    /// # Safety
    /// `cache` is used with this heap only.
    #[inline]
    pub unsafe fn allocate_in(&self, cache: &mut ThreadCache, layout: Layout) -> *mut u8 {
        let Some(cls) = class_for(layout.size(), layout.align()) else {
            return self.allocate_large(layout);
        };
        let head = cache.pop(cls);
        if !head.is_null() {
            return head;
        }
        self.refill(cache, cls)
    }

    /// Allocates without a thread cache (threads whose TLS is gone). Null on failure.
    pub fn allocate_uncached(&self, layout: Layout) -> *mut u8 {
        let Some(cls) = class_for(layout.size(), layout.align()) else {
            return self.allocate_large(layout);
        };
        self.uncached.fetch_add(1, Ordering::Relaxed);
        let mut one = [ptr::null_mut(); 1];
        if self.remove_range(cls, &mut one) == 0 {
            return ptr::null_mut();
        }
        one[0]
    }

    /// Like [`allocate`](Self::allocate), with the block zeroed. Memory that comes straight
    /// from the OS (or was released to it) is known to be zero and is not written, so a large
    /// zeroed request costs no page faults until it is touched.
    ///
    /// # Safety
    /// As [`allocate`](Self::allocate).
    pub unsafe fn allocate_zeroed<H: TlsHook>(&self, hook: &H, layout: Layout) -> *mut u8 {
        let (p, zeroed) = if class_for(layout.size(), layout.align()).is_none() {
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
        if let Some(cls) = cls {
            return Some(cls.size());
        }
        // SAFETY: caller's contract: ptr is a live large object, so its span record is live
        // and in use (its fields do not change while the object lives).
        let s = unsafe { &*span };
        (s.base() as usize + s.bytes()).checked_sub(ptr as usize)
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
        let old_size = if let Some(cls) = cls {
            let size = cls.size();
            if aligned && crate::resize_in_place(size, new_size) {
                return ptr;
            }
            size
        } else {
            // SAFETY: caller's contract: a live large object's span record is live and in use.
            let (bytes, state) = unsafe { ((*span).bytes(), (*span).state) };
            if aligned && new_size > MAX_SMALL_SIZE && new_size <= MAX_REQUEST {
                if let Some(p) = self.resize_large(span, state, None, new_size, align) {
                    return p;
                }
            }
            bytes
        };
        let Ok(layout) = Layout::from_size_align(new_size, align) else {
            return ptr::null_mut();
        };
        // SAFETY: caller's contract for hook.
        let new = unsafe { self.allocate_grown(hook, layout) };
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

    /// Returns `ptr` itself when the block can hold `new_size` bytes in place: same size class,
    /// or for spans, same pages or a span grown/shrunk in place.
    fn resize_in_place(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> Option<*mut u8> {
        let old_cls = class_for(layout.size(), layout.align());
        let new_cls = class_for(new_size, layout.align());
        match (old_cls, new_cls) {
            (Some(old), Some(new)) if old == new => return Some(ptr),
            (None, None) if new_size <= MAX_REQUEST => {}
            _ => return None,
        }
        let span = self.page_map.get(ptr as usize >> PAGE_SHIFT);
        if span.is_null() {
            return None;
        }
        // SAFETY: the record of a live large object (caller's contract).
        let state = unsafe { (*span).state };
        self.resize_large(span, state, Some(layout.size()), new_size, layout.align())
    }

    /// Resizes the large object of `span` (in state `state`) without copying: an own mapping
    /// with `mremap` (it may move), a span in place. `None` when that is not possible, or
    /// when the object should move (a span-heap object growing past [`MAP_THRESHOLD`] goes
    /// to a mapping of its own, a mapped one shrinking below it back to the span heap).
    fn resize_large(
        &self,
        span: *mut Span,
        state: SpanState,
        old_size: Option<usize>,
        new_size: usize,
        align: usize,
    ) -> Option<*mut u8> {
        let mapped_size = S::MAPS_OBJECTS && new_size > MAP_THRESHOLD;
        if state == SpanState::Mapped {
            if !mapped_size || align > PAGE_SIZE {
                return None;
            }
            let p = self.remap_mapped(span, old_size, new_size);
            return (!p.is_null()).then_some(p);
        }
        if mapped_size {
            return None;
        }
        let pages = new_size.div_ceil(PAGE_SIZE).max(1);
        // SAFETY: the record of a live large object.
        let base = unsafe { (*span).base() };
        self.resize_large_in_place(span, pages).then_some(base)
    }

    /// The allocation slow path: list `cls` of `cache` is empty. Fetches a batch from the
    /// transfer cache, returns its first block and keeps the rest.
    #[cold]
    fn refill(&self, cache: &mut ThreadCache, cls: SizeClass) -> *mut u8 {
        let slots = cache.refill_slots(cls);
        let n = self.remove_range(cls, slots);
        if n == 0 {
            return ptr::null_mut();
        }
        // Blocks carved from a span come in address order; the stack pops from the top, so
        // reversed they are handed out in address order too (as mimalloc's free lists do):
        // objects made one after another sit one after another, and a program that walks them
        // in the order it made them (sorting a vector of strings, filling a tree) reads memory
        // forwards, which the hardware prefetcher follows. Handed out backwards in runs of a
        // batch, `std-btree`'s sort spent ~20 % longer in `memcmp`.
        slots[..n as usize].reverse();
        let p = cache.fill(cls, n);
        self.publish(cache);
        p
    }

    /// A new span for class `cls`, every page mapped to it. Null when out of memory.
    pub(super) fn new_class_span(&self, cls: SizeClass) -> *mut Span {
        let mut ph = self.page_heap.lock();
        let span = ph.allocate(&self.source, &self.page_map, cls.pages(), 1);
        if span.is_null() {
            return span;
        }
        // SAFETY: a fresh in-use span, ours.
        let s = unsafe { &mut *span };
        s.init_class(cls);
        for page in s.start..s.start + s.pages {
            self.page_map.set_class(page, span, Some(cls));
        }
        span
    }
}
