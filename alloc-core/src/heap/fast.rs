//! The thread-cache fast paths alone, for a C front end that keeps its own slow path out of
//! line (the malloc shim): a pop or a push on the caller's cache and nothing else — no refill,
//! no large object, no lock, no call — so that `malloc` and `free` can be leaf functions that
//! save no register, with everything else behind one call.

use super::Heap;
use crate::size_class::{
    MAX_SMALL_SIZE, NUM_CLASSES, PAGE_SHIFT, SizeClass, build_sizes, class_for,
};
use crate::source::PageSource;
use crate::thread_cache::ThreadCache;

/// Requests up to this size find their class in [`MALLOC_LOOKUP`].
const MALLOC_LOOKUP_MAX: usize = 1024;

/// The class of a `malloc(size)` for sizes 0..=1024, by `(size + 7) / 8`: the smallest class
/// of at least `size` bytes whose blocks are aligned as `malloc` promises (16 bytes; 8 for
/// requests of at most 8 bytes). `class_for(size, 16)` finds the same class, but looks the
/// 24-, 40- and 56-byte classes up first and then searches upwards for an aligned one.
const MALLOC_LOOKUP: [SizeClass; MALLOC_LOOKUP_MAX / 8 + 1] = {
    let sizes = build_sizes();
    let mut t = [SizeClass::SMALLEST; MALLOC_LOOKUP_MAX / 8 + 1];
    let mut i = 0;
    while i < t.len() {
        let size = if i == 0 { 1 } else { i as u32 * 8 };
        let align = if size <= 8 { 8 } else { 16 };
        let mut c = 1;
        // Blocks of a class sit at multiples of its size from a page boundary.
        while c < NUM_CLASSES && (sizes[c] < size || !sizes[c].is_multiple_of(align)) {
            c += 1;
        }
        t[i] = match SizeClass::new(c) {
            Some(cls) => cls,
            None => panic!("no aligned class for a malloc size up to 1 KiB"),
        };
        i += 1;
    }
    t
};

impl<S: PageSource> Heap<S> {
    /// A block for C's `malloc(size)` (16-byte aligned, 8 for at most 8 bytes) from `cache`
    /// when `size` has a size class and the class's stack holds a block; null otherwise, with
    /// nothing done ([`allocate_in`](Self::allocate_in) then refills or serves a large
    /// object).
    ///
    /// # Safety
    /// `cache` is used with this heap only.
    ///
    /// ```
    /// use alloc_core::{Heap, MmapSource, ThreadCache};
    /// use core::alloc::Layout;
    ///
    /// static HEAP: Heap<MmapSource> = Heap::new(MmapSource::new());
    /// let mut cache = ThreadCache::new();
    /// // SAFETY: the cache is used with this heap only; each block is freed once.
    /// unsafe {
    ///     assert!(HEAP.malloc_from_cache(&mut cache, 100).is_null()); // nothing cached yet
    ///     let p = HEAP.allocate_in(&mut cache, Layout::from_size_align(100, 16).unwrap());
    ///     let q = HEAP.malloc_from_cache(&mut cache, 100); // from the batch p came with
    ///     assert!(!q.is_null() && q != p && q as usize % 16 == 0);
    ///     assert!(HEAP.free_to_cache(&mut cache, p));
    ///     assert!(HEAP.free_to_cache(&mut cache, q));
    ///     assert!(!HEAP.free_to_cache(&mut cache, core::ptr::null_mut()));
    ///     HEAP.flush_thread_cache(&mut cache);
    /// }
    /// assert_eq!(HEAP.stats().bytes_in_use, 0);
    /// ```
    #[inline(always)]
    pub unsafe fn malloc_from_cache(&self, cache: &mut ThreadCache, size: usize) -> *mut u8 {
        let cls = if size <= MALLOC_LOOKUP_MAX {
            MALLOC_LOOKUP[(size + 7) >> 3]
        } else if size <= MAX_SMALL_SIZE {
            match class_for(size, 16) {
                Some(cls) => cls,
                None => return core::ptr::null_mut(),
            }
        } else {
            return core::ptr::null_mut();
        };
        cache.pop(cls)
    }

    /// Frees `ptr` into `cache` and returns true when it is a block of a size class of this
    /// heap and its class's stack has room; returns false with nothing done otherwise (a
    /// large object, a pointer outside the heap such as null, a full stack:
    /// [`deallocate_unsized`](Self::deallocate_unsized) then frees it).
    ///
    /// # Safety
    /// `cache` is used with this heap only; `ptr` is a live block of this heap that is not used
    /// again when this returns true, or lies outside every mapping of this heap.
    #[inline(always)]
    pub unsafe fn free_to_cache(&self, cache: &mut ThreadCache, ptr: *mut u8) -> bool {
        match self.page_map.lookup(ptr as usize >> PAGE_SHIFT).1 {
            // SAFETY: the page map gives the class of the span holding ptr, a live block of
            // it (caller's contract); the cache belongs to this heap.
            Some(cls) => unsafe { cache.push(ptr, cls) },
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malloc_lookup_is_class_for_at_malloc_alignment() {
        for size in 0..=MALLOC_LOOKUP_MAX {
            let align = if size <= 8 { 8 } else { 16 };
            assert_eq!(
                Some(MALLOC_LOOKUP[(size + 7) >> 3]),
                class_for(size, align),
                "malloc({size})"
            );
        }
    }
}
