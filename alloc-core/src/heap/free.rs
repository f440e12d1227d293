//! The free path: through a hook or an explicit cache, without a cache, without a layout,
//! and the overflow of a thread cache into the transfer cache.

use core::alloc::Layout;
use core::sync::atomic::Ordering;

use super::{Heap, TlsHook};
use crate::size_class::{MAX_BATCH, PAGE_SHIFT, SizeClass, class_for};
use crate::source::PageSource;
use crate::thread_cache::{MAX_CACHE_BYTES, ThreadCache};
use crate::transfer_cache::{SpanChains, class_slots};

impl<S: PageSource> Heap<S> {
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

    /// Frees `ptr` into `cache`.
    ///
    /// # Safety
    /// `cache` is used with this heap only; `ptr` came from this heap with `layout` and is not
    /// used again.
    #[inline]
    pub unsafe fn deallocate_in(&self, cache: &mut ThreadCache, ptr: *mut u8, layout: Layout) {
        let Some(cls) = class_for(layout.size(), layout.align()) else {
            // SAFETY: caller's contract.
            return unsafe { self.deallocate_large(ptr) };
        };
        // SAFETY: caller's contract; cls is the block's class.
        unsafe { self.free_class_in(cache, ptr, cls) }
    }

    /// Pushes the free block `ptr` of class `cls` on the cache's list.
    ///
    /// # Safety
    /// `cache` belongs to this heap; `ptr` is a block of class `cls` of this heap, no longer
    /// used.
    #[inline]
    unsafe fn free_class_in(&self, cache: &mut ThreadCache, ptr: *mut u8, cls: SizeClass) {
        // SAFETY: the caller's contract.
        if !unsafe { cache.push(ptr, cls) } {
            // SAFETY: the caller's contract.
            unsafe { self.overflow(cache, ptr, cls) };
        }
    }

    /// Frees without a thread cache.
    ///
    /// # Safety
    /// `ptr` came from this heap with `layout` and is not used again.
    pub unsafe fn deallocate_uncached(&self, ptr: *mut u8, layout: Layout) {
        let Some(cls) = class_for(layout.size(), layout.align()) else {
            // SAFETY: caller's contract.
            return unsafe { self.deallocate_large(ptr) };
        };
        // SAFETY: caller's contract; cls is the block's class.
        unsafe { self.free_class_uncached(ptr, cls) }
    }

    /// # Safety
    /// `ptr` is a block of class `cls` of this heap, no longer used.
    unsafe fn free_class_uncached(&self, ptr: *mut u8, cls: SizeClass) {
        self.uncached.fetch_add(1, Ordering::Relaxed);
        self.insert_range(cls, &[ptr]);
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
        let Some(cls) = cls else {
            // SAFETY: a live large object (caller's contract).
            unsafe { self.deallocate_large(ptr) };
            return true;
        };
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

    /// The free slow path: the push of `ptr` (a free block of class `cls`) found its stack at
    /// its bound or the cache at [`MAX_CACHE_BYTES`]. Gives back a batch (the top of the stack:
    /// the blocks freed last) when the stack is at its bound, and when the whole cache is
    /// over [`MAX_CACHE_BYTES`] gives back a batch of this stack and lowers its bound; only
    /// when this stack is too short to give a batch does it scavenge (halve every stack and
    /// its bound). Then keeps `ptr` (or, when the bound is 0, an unarmed or finished cache,
    /// hands it on alone).
    ///
    /// Halving every list whenever the cache passed the cap walked half of the cache's blocks
    /// (about 2 MiB of them, long evicted from L1/L2) once per 2 MiB freed, when the cache
    /// was linked lists: a program emptying a large collection (the `std-hashmap` workload)
    /// touched every freed block twice more. Giving back the stack being freed into keeps the
    /// same cap and moves one batch.
    ///
    /// # Safety
    /// `cache` belongs to this heap; `ptr` is a block of class `cls` of this heap, no longer
    /// used.
    #[cold]
    pub(crate) unsafe fn overflow(&self, cache: &mut ThreadCache, ptr: *mut u8, cls: SizeClass) {
        let batch = cls.batch();
        let stack = cache.stack_of(cls);
        if stack.len > 0 && stack.len >= stack.max_len {
            self.give_back(cache, cls, batch);
            cache.overflows += 1;
        }
        if cache.bytes >= MAX_CACHE_BYTES {
            let len = cache.stack_of(cls).len;
            if len >= batch {
                cache.set_bound(cls, (len - batch).max(batch));
                self.give_back(cache, cls, batch);
                cache.overflows += 1;
            } else {
                // Halve every stack and its bound: the thread holds more than it reuses.
                for c in SizeClass::all() {
                    let stack = cache.stack_of(c);
                    cache.set_bound(c, (stack.max_len / 2).max(c.batch()));
                    self.release_from_cache(cache, c, stack.len.div_ceil(2));
                }
                cache.scavenges += 1;
            }
        }
        // SAFETY: the caller's contract.
        if !unsafe { cache.push(ptr, cls) } {
            self.insert_range(cls, &[ptr]);
        }
        self.publish(cache);
    }

    /// Hands `blocks` of class `cls` to its transfer cache: a whole batch is kept while there
    /// is room; anything else goes back to its spans, linked per span before the class lock
    /// is taken ([`SpanChains`]), and spans left empty go back to the page heap (class lock,
    /// then page heap lock). A release scan that came due runs after both are released.
    pub(super) fn insert_range(&self, cls: SizeClass, blocks: &[*mut u8]) {
        if blocks.is_empty() {
            return;
        }
        if blocks.len() == cls.batch() as usize {
            if self.transfer_slots.load(Ordering::Acquire).is_null() {
                self.map_transfer_slots();
            }
            let mut tc = self.transfer(cls).lock();
            // Read under the lock, as in `remove_range`.
            let slots = class_slots(self.transfer_slots.load(Ordering::Acquire), cls);
            if tc.store_batch(cls, slots, blocks) {
                return;
            }
        }
        let mut due = false;
        let mut chains = SpanChains::new();
        for part in blocks.chunks(MAX_BATCH) {
            // SAFETY: the caller hands over free blocks of class `cls` of this heap; a chunk
            // holds at most MAX_BATCH.
            unsafe { chains.build(part, &self.page_map) };
            let mut tc = self.transfer(cls).lock();
            tc.insert_chains(cls, &chains, |span| {
                due |= self
                    .page_heap
                    .lock()
                    .deallocate(&self.source, &self.page_map, span);
            });
        }
        if due {
            self.release_idle_spans(self.source.now_ns(), false);
        }
    }

    /// Moves the top `n` blocks (at most) of stack `cls` to the transfer cache.
    fn give_back(&self, cache: &mut ThreadCache, cls: SizeClass, n: u32) {
        let blocks = cache.top(cls, n);
        let got = blocks.len() as u32;
        self.insert_range(cls, blocks);
        cache.drop_top(cls, got);
    }

    /// Moves `n` blocks of stack `cls` to the transfer cache, in whole batches where possible.
    fn release_from_cache(&self, cache: &mut ThreadCache, cls: SizeClass, mut n: u32) {
        let batch = cls.batch();
        while n > 0 && cache.stack_of(cls).len > 0 {
            let k = n.min(batch);
            self.give_back(cache, cls, k);
            n -= k;
        }
    }

    /// Gives every block of `cache` back (thread exit). The cache is empty afterwards and may
    /// be reused.
    pub fn flush_thread_cache(&self, cache: &mut ThreadCache) {
        for cls in SizeClass::all() {
            let len = cache.stack_of(cls).len;
            self.release_from_cache(cache, cls, len);
            cache.set_bound(cls, cls.batch());
        }
        self.flushes.fetch_add(1, Ordering::Relaxed);
        self.publish(cache);
    }
}
