//! Large objects: whole spans of the page heap.

use core::alloc::Layout;
use core::ptr;
use core::sync::atomic::Ordering;

use super::mapped::{MAP_THRESHOLD, MAP_THRESHOLD_NEW};
use super::{Heap, MAX_REQUEST, TlsHook};
use crate::page_map::PAGE_LIMIT;
use crate::size_class::{MAX_SMALL_SIZE, PAGE_SHIFT, PAGE_SIZE, class_for};
use crate::source::PageSource;
use crate::span::{Span, SpanState};

impl<S: PageSource> Heap<S> {
    pub(crate) fn allocate_large(&self, layout: Layout) -> *mut u8 {
        self.allocate_large_info(layout).0
    }

    /// A large object, and whether its memory is known to read as zeros.
    pub(super) fn allocate_large_info(&self, layout: Layout) -> (*mut u8, bool) {
        self.allocate_large_for(layout, false)
    }

    /// The new block of a `realloc` that cannot resize in place: like
    /// [`allocate`](Self::allocate), but a large object is known to be growth (a `Vec` or
    /// a buffer doubling), so that a cached mapping longer than the request is taken whole
    /// with its resident pages (`heap/mapped.rs`).
    ///
    /// # Safety
    /// As [`allocate`](Self::allocate).
    pub(super) unsafe fn allocate_grown<H: TlsHook>(&self, hook: &H, layout: Layout) -> *mut u8 {
        if class_for(layout.size(), layout.align()).is_none() {
            return self.allocate_large_for(layout, true).0;
        }
        // SAFETY: the caller's contract.
        unsafe { self.allocate(hook, layout) }
    }

    /// A large object, and whether it reads as zeros; `growing`: see
    /// [`allocate_grown`](Self::allocate_grown).
    fn allocate_large_for(&self, layout: Layout, growing: bool) -> (*mut u8, bool) {
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
        // Nested, not a let chain: the crate builds with Rust 1.87.
        let threshold = if growing {
            MAP_THRESHOLD
        } else {
            MAP_THRESHOLD_NEW
        };
        if S::MAPS_OBJECTS && size > threshold {
            if let Some(got) = self.allocate_mapped(size, layout.align(), growing) {
                return got;
            }
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
    pub(crate) unsafe fn deallocate_large(&self, ptr: *mut u8) {
        let page = ptr as usize >> PAGE_SHIFT;
        let span = self.page_map.get(page);
        // SAFETY: the span of a live large object is a live record (checked defensively).
        let state = (!span.is_null() && unsafe { (*span).start == page }).then(|| {
            // SAFETY: as above.
            unsafe { (*span).state }
        });
        match state {
            Some(SpanState::InUse) => {}
            Some(SpanState::Mapped) => return self.deallocate_mapped(span),
            _ => {
                debug_assert!(false, "free of a pointer this heap did not allocate");
                return;
            }
        }
        let mut ph = self.page_heap.lock();
        // SAFETY: as above.
        ph.stats.large_in_use -= unsafe { (*span).bytes() };
        if ph.deallocate(&self.source, &self.page_map, span) {
            drop(ph);
            self.release_idle_spans(self.source.now_ns(), false);
        }
    }

    /// Shrinks or grows the span of a live large object in place to `pages` pages.
    pub(super) fn resize_large_in_place(&self, span: *mut Span, pages: usize) -> bool {
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
}
