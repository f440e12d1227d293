//! [`Heap::check_invariants`]: the invariants of INTERNALS.md, checked.

use super::Heap;
use crate::check::{Checked, ensure};
use crate::size_class::{PAGE_SIZE, SizeClass};
use crate::source::PageSource;
use crate::thread_cache::{ThreadCache, check_stacks};
use crate::transfer_cache::class_slots;

impl<S: PageSource> Heap<S> {
    /// Checks the invariants listed in `INTERNALS.md` and panics with a message naming the
    /// first one that does not hold. For tests and debugging: it takes every lock of the heap
    /// (as [`lock_all`](Self::lock_all) does) and walks every shared structure, so it costs
    /// time proportional to the heap's metadata; other threads may keep using the heap, they
    /// wait meanwhile.
    ///
    /// Checked: the page heap's free lists (lengths, states, the `nonempty` bitmap, byte
    /// counts), the page map entries of every free span and of every page of every class span
    /// reached, that free spans are coalesced; each class's transfer cache (batch count and
    /// sizes, every block a carved block of an in-use span of the class) and central free
    /// list (membership, `free list + uncarved + allocated == capacity`, no empty span kept);
    /// that class spans and large objects add up to the page heap's bytes in use; the lists
    /// of parked caches. Thread caches are private to their threads: pass one to
    /// [`check_invariants_with`](Self::check_invariants_with).
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
    ///     HEAP.check_invariants_with(&cache);
    ///     HEAP.deallocate_unsized_in(&mut cache, p);
    /// }
    /// HEAP.flush_thread_cache(&mut cache);
    /// HEAP.check_invariants();
    /// ```
    ///
    /// # Panics
    /// When an invariant does not hold (after releasing the locks).
    pub fn check_invariants(&self) {
        self.check_all(None);
    }

    /// [`check_invariants`](Self::check_invariants), and the lists of `cache` (a cache of this
    /// heap, not in use by another thread now): list `cls` holds `len` free blocks of class
    /// `cls`, null-terminated, each a carved block of an in-use span of the class; the
    /// cache's byte count is the sum of its lists.
    ///
    /// # Panics
    /// When an invariant does not hold.
    pub fn check_invariants_with(&self, cache: &ThreadCache) {
        self.check_all(Some(cache));
    }

    fn check_all(&self, cache: Option<&ThreadCache>) {
        self.lock_all();
        let result = self.check_locked(cache);
        // SAFETY: this thread took every lock just above, and holds no guard.
        unsafe { self.unlock_all() };
        // Only now: panicking allocates, which may need the locks.
        if let Err(violation) = result {
            panic!("alloc-core invariant violated: {violation}");
        }
    }

    /// The checks, with every lock held by the calling thread.
    fn check_locked(&self, cache: Option<&ThreadCache>) -> Checked {
        // SAFETY: the caller holds every lock (lock_all) until this returns.
        let ph = unsafe { self.page_heap.get_locked() };
        ph.check(&self.page_map)?;
        super::mapped::check_mapped(ph, &self.page_map)?;
        let mut class_bytes = 0usize;
        for cls in SizeClass::all() {
            // SAFETY: as above.
            let tc = unsafe { self.transfer(cls).get_locked() };
            tc.check(
                cls,
                class_slots(
                    self.transfer_slots
                        .load(core::sync::atomic::Ordering::Acquire),
                    cls,
                ),
                &self.page_map,
            )?;
            class_bytes += tc.spans * cls.pages() * PAGE_SIZE;
        }
        ensure!(
            class_bytes + ph.stats.large_in_use + ph.stats.releasing == ph.stats.in_use,
            "heap: class spans {class_bytes} + large objects {} + spans being released {} != page heap bytes in use {}",
            ph.stats.large_in_use,
            ph.stats.releasing,
            ph.stats.in_use
        );
        // SAFETY: as above.
        let parked = unsafe { self.parked.get_locked() };
        parked.check(&self.page_map)?;
        if let Some(c) = cache {
            check_stacks(c, &self.page_map, &"the thread cache")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use core::alloc::Layout;

    use crate::size_class::{PAGE_SHIFT, class_for};
    use crate::{Heap, MmapSource, ThreadCache};

    fn heap() -> &'static Heap<MmapSource> {
        std::boxed::Box::leak(std::boxed::Box::new(Heap::new(MmapSource::new())))
    }

    /// A heap with a few blocks allocated through `cache` (the first returned) and freed.
    fn used(cache: &mut ThreadCache) -> (&'static Heap<MmapSource>, *mut u8) {
        let heap = heap();
        let l = Layout::from_size_align(48, 8).unwrap();
        // SAFETY: the cache is used with this heap only; blocks are freed once.
        unsafe {
            let p = heap.allocate_in(cache, l);
            let q = heap.allocate_in(cache, l);
            let big = heap.allocate_in(cache, Layout::from_size_align(100_000, 8).unwrap());
            heap.deallocate_in(cache, q, l);
            heap.deallocate_in(cache, big, Layout::from_size_align(100_000, 8).unwrap());
            (heap, p)
        }
    }

    #[test]
    fn a_consistent_heap_passes() {
        let mut cache = ThreadCache::new();
        let (heap, p) = used(&mut cache);
        heap.check_invariants_with(&cache);
        // SAFETY: p is live, freed once.
        unsafe { heap.deallocate_unsized_in(&mut cache, p) };
        heap.flush_thread_cache(&mut cache);
        heap.check_invariants_with(&cache);
    }

    #[test]
    #[should_panic(expected = "the thread cache: list 6 has length")]
    fn a_wrong_list_length_is_found() {
        let mut cache = ThreadCache::new();
        let (heap, _) = used(&mut cache);
        let cls = class_for(48, 8).unwrap();
        assert_eq!(cls.index(), 6);
        cache.stacks[cls.index()].len += 1;
        heap.check_invariants_with(&cache);
    }

    #[test]
    #[should_panic(expected = "allocated 33 carved 32")]
    fn a_wrong_span_count_is_found() {
        let mut cache = ThreadCache::new();
        let (heap, p) = used(&mut cache);
        let span = heap.page_map.get(p as usize >> PAGE_SHIFT);
        // SAFETY: the span of a live block; no other thread uses this heap.
        unsafe { (*span).allocated += 1 };
        heap.check_invariants();
    }

    #[test]
    #[should_panic(expected = "page heap: lists hold")]
    fn wrong_free_bytes_are_found() {
        let mut cache = ThreadCache::new();
        let (heap, _) = used(&mut cache);
        heap.page_heap.lock().stats.free += 4096;
        heap.check_invariants();
    }

    #[test]
    fn the_locks_are_released_after_a_violation() {
        let mut cache = ThreadCache::new();
        let (heap, _) = used(&mut cache);
        heap.page_heap.lock().stats.free += 4096;
        let caught =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| heap.check_invariants()));
        assert!(caught.is_err());
        heap.page_heap.lock().stats.free -= 4096;
        heap.check_invariants_with(&cache);
    }
}
