//! Tier 1: the per-thread cache. Plain free lists, no lock, no atomics on the fast path.

use core::ptr;

use crate::size_class::{MAX_BATCH, NUM_CLASSES};

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

/// One thread's cache of free blocks, one list per size class.
///
/// A cache belongs to one [`Heap`](crate::Heap) for its whole life and is used by one thread
/// at a time; a [`TlsHook`](crate::TlsHook) creates it with [`ThreadCache::new`] and hands it to
/// [`Heap::flush_thread_cache`](crate::Heap::flush_thread_cache) when the thread ends. Dropping a
/// cache that still holds blocks leaks them (it is not unsafe).
pub struct ThreadCache {
    pub(crate) lists: [FreeList; NUM_CLASSES],
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
        ThreadCache {
            lists: [FreeList {
                head: ptr::null_mut(),
                len: 0,
                max_len: MAX_BATCH as u32,
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

    /// Detaches up to `n` blocks from the front of list `cls`, returning (head, count).
    pub(crate) fn take_front(&mut self, cls: usize, n: u32, size: usize) -> (*mut u8, u32) {
        let list = &mut self.lists[cls];
        let n = n.min(list.len);
        if n == 0 {
            return (ptr::null_mut(), 0);
        }
        let head = list.head;
        let mut tail = head;
        for _ in 1..n {
            // SAFETY: the list holds at least n linked free blocks.
            tail = unsafe { tail.cast::<*mut u8>().read() };
        }
        // SAFETY: tail is the n-th block of the list.
        unsafe {
            list.head = tail.cast::<*mut u8>().read();
            tail.cast::<*mut u8>().write(ptr::null_mut());
        }
        list.len -= n;
        self.bytes -= n as usize * size;
        (head, n)
    }
}
