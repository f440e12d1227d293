//! Tier 1: the per-thread cache. Plain free lists, no lock, no atomics on the fast path.
//!
//! Invariants (INTERNALS.md, "ThreadCache.lists"): list `cls` holds exactly `len` free blocks
//! of class `cls`, linked through their first word and null-terminated; `bytes` is the sum of
//! `len * size` over the lists. Only the owning thread touches a cache.

use core::ptr;

use crate::check::{Checked, ensure};
use crate::page_map::PageMap;
use crate::size_class::{MAX_BATCH, NUM_CLASSES, SizeClass};
use crate::transfer_cache::check_block;

/// Longest a single free list may grow to.
pub(crate) const MAX_LIST_LEN: u32 = 8192;
/// Bytes a thread cache may hold before it scavenges half of every list.
pub(crate) const MAX_CACHE_BYTES: usize = 4 << 20;

#[derive(Clone, Copy)]
pub(crate) struct FreeList {
    /// Free blocks linked through their first word.
    pub(crate) head: *mut u8,
    pub(crate) len: u32,
    /// The list gives a batch back once it holds more than this.
    pub(crate) max_len: u32,
}

/// One free list per class index (index 0, no class, stays empty).
pub(crate) type Lists = [FreeList; NUM_CLASSES];

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

/// One thread's cache of free blocks, one list per size class.
///
/// A cache belongs to one [`Heap`](crate::Heap) for its whole life and is used by one thread
/// at a time; a [`TlsHook`](crate::TlsHook) creates it with [`ThreadCache::new`] and hands it to
/// [`Heap::flush_thread_cache`](crate::Heap::flush_thread_cache) when the thread ends. Dropping a
/// cache that still holds blocks leaks them (it is not unsafe).
pub struct ThreadCache {
    pub(crate) lists: Lists,
    /// Bytes held in all lists.
    pub(crate) bytes: usize,
    /// `bytes` as last published to the heap's statistics.
    pub(crate) reported: usize,
    pub(crate) refills: u64,
    pub(crate) overflows: u64,
    pub(crate) scavenges: u64,
}

// SAFETY: the cache only holds pointers to free blocks owned by its heap; moving it to another
// thread moves that ownership along.
unsafe impl Send for ThreadCache {}

impl Default for ThreadCache {
    fn default() -> Self {
        Self::new()
    }
}

impl ThreadCache {
    /// An empty cache (const, so it can initialise a `thread_local!` without a lazy check).
    pub const fn new() -> Self {
        Self::with_bounds(MAX_BATCH as u32)
    }

    /// An empty cache whose lists all have bound `max_len` (0: the first free of every class
    /// overflows at once, see the std hook's *unarmed* caches).
    pub(crate) const fn with_bounds(max_len: u32) -> Self {
        ThreadCache {
            lists: [FreeList {
                head: ptr::null_mut(),
                len: 0,
                max_len,
            }; NUM_CLASSES],
            bytes: 0,
            reported: 0,
            refills: 0,
            overflows: 0,
            scavenges: 0,
        }
    }

    /// Bytes of free blocks the cache holds.
    pub fn cached_bytes(&self) -> usize {
        self.bytes
    }

    /// Sets every list's bound to `max_len`.
    pub(crate) fn set_bounds(&mut self, max_len: u32) {
        for list in &mut self.lists {
            list.max_len = max_len;
        }
    }

    /// Whether every list is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.bytes == 0 && self.lists.iter().all(|l| l.len == 0)
    }

    /// The list of class `cls` (borrowing only the lists, so `bytes` stays usable).
    #[inline(always)]
    fn list(lists: &mut Lists, cls: SizeClass) -> &mut FreeList {
        // SAFETY: a class's index is below NUM_CLASSES (SizeClass's invariant).
        unsafe { lists.get_unchecked_mut(cls.index()) }
    }

    /// The allocation fast path: pops a block of class `cls`, or returns null when its list
    /// is empty.
    #[inline(always)]
    pub(crate) fn pop(&mut self, cls: SizeClass) -> *mut u8 {
        let list = Self::list(&mut self.lists, cls);
        let head = list.head;
        if !head.is_null() {
            debug_assert!(
                list.len > 0,
                "class {}: non-empty list of length 0",
                cls.index()
            );
            // SAFETY: cached blocks are free and linked through their first word.
            let next = unsafe { head.cast::<*mut u8>().read() };
            // The next allocation of the class reads `next`'s link: start fetching it now.
            prefetch(next);
            list.head = next;
            list.len -= 1;
            self.bytes -= cls.size();
        }
        head
    }

    /// The free fast path: pushes the free block `ptr` of class `cls` on its list; returns
    /// true when the cache is over a bound and [`Heap::overflow`](crate::Heap) must run.
    ///
    /// # Safety
    /// `ptr` is a block of class `cls`, no longer used, of the heap the cache belongs to.
    #[inline(always)]
    pub(crate) unsafe fn push(&mut self, ptr: *mut u8, cls: SizeClass) -> bool {
        let list = Self::list(&mut self.lists, cls);
        // SAFETY: the block is free now and at least 8 bytes long.
        unsafe { ptr.cast::<*mut u8>().write(list.head) };
        list.head = ptr;
        list.len += 1;
        self.bytes += cls.size();
        list.len > list.max_len || self.bytes > MAX_CACHE_BYTES
    }

    /// Whether list `cls` holds more than its bound.
    pub(crate) fn over_bound(&self, cls: SizeClass) -> bool {
        let list = &self.lists[cls.index()];
        list.len > list.max_len
    }

    /// Refill: `head` starts a null-terminated list of `n >= 1` free blocks of class `cls`;
    /// the first is returned to the caller, the rest become list `cls` (which is empty), whose
    /// bound grows by a batch (up to [`MAX_LIST_LEN`]): a list that runs dry may hold more
    /// next time (tcmalloc's max_length growth).
    pub(crate) fn fill(&mut self, cls: SizeClass, head: *mut u8, n: u32) -> *mut u8 {
        debug_assert!(n >= 1 && !head.is_null());
        let list = Self::list(&mut self.lists, cls);
        debug_assert!(
            list.head.is_null() && list.len == 0,
            "refill of a non-empty list"
        );
        list.max_len = (list.max_len + cls.batch()).min(MAX_LIST_LEN);
        // SAFETY: head starts a list of n free blocks.
        list.head = unsafe { head.cast::<*mut u8>().read() };
        list.len = n - 1;
        self.bytes += (n as usize - 1) * cls.size();
        self.refills += 1;
        head
    }

    /// Detaches up to `n` blocks from the front of list `cls`, returning (head, count).
    pub(crate) fn take_front(&mut self, cls: SizeClass, n: u32) -> (*mut u8, u32) {
        let size = cls.size();
        let list = Self::list(&mut self.lists, cls);
        let n = n.min(list.len);
        if n == 0 {
            return (ptr::null_mut(), 0);
        }
        let head = list.head;
        let mut tail = head;
        for _ in 1..n {
            // SAFETY: the list holds at least n linked free blocks.
            tail = unsafe { tail.cast::<*mut u8>().read() };
            debug_assert!(
                !tail.is_null(),
                "class {}: list shorter than len",
                cls.index()
            );
        }
        // SAFETY: tail is the n-th block of the list.
        unsafe {
            list.head = tail.cast::<*mut u8>().read();
            tail.cast::<*mut u8>().write(ptr::null_mut());
        }
        list.len -= n;
        debug_assert!(list.len > 0 || list.head.is_null());
        self.bytes -= n as usize * size;
        (head, n)
    }
}

/// Checks a cache's lists (see the module documentation): list 0 is empty, list `cls` holds
/// exactly `len` blocks, each a carved block of an in-use span of class `cls`, and `bytes` is
/// their sum. `what` names the cache in a violation.
pub(crate) fn check_lists(
    lists: &Lists,
    bytes: usize,
    map: &PageMap,
    what: &dyn core::fmt::Display,
) -> Checked {
    ensure!(
        lists[0].head.is_null() && lists[0].len == 0,
        "{what}: list 0 is not empty"
    );
    let mut sum = 0usize;
    for cls in SizeClass::all() {
        let c = cls.index();
        let list = &lists[c];
        let mut n = 0u32;
        let mut obj = list.head;
        while !obj.is_null() {
            ensure!(
                n < list.len,
                "{what}: list {c} longer than its length {}",
                list.len
            );
            check_block(map, cls, obj)?;
            // SAFETY: cached blocks are free and linked through their first word.
            obj = unsafe { obj.cast::<*mut u8>().read() };
            n += 1;
        }
        ensure!(
            n == list.len,
            "{what}: list {c} has length {} but {n} blocks",
            list.len
        );
        sum += n as usize * cls.size();
    }
    ensure!(
        sum == bytes,
        "{what}: lists hold {sum} bytes, the cache counts {bytes}"
    );
    Ok(())
}
