//! Parked caches: the lists of ended threads kept for the next new threads, and the pool of
//! cache boxes (the mappings thread caches live in, reused from ended threads).

use core::ptr::{self, NonNull};
use core::sync::atomic::Ordering;

use super::Heap;
use crate::check::{Checked, ensure};
use crate::page_map::PageMap;
use crate::size_class::{MAX_BATCH, NUM_CLASSES, SizeClass};
use crate::source::PageSource;
use crate::thread_cache::ThreadCache;
use crate::transfer_cache::check_block;

/// A parked stack: its blocks linked through their first word, null-terminated.
#[derive(Clone, Copy)]
pub(super) struct FreeList {
    head: *mut u8,
    len: u32,
}

/// One parked cache: a list per class index (index 0 stays empty).
pub(super) type Lists = [FreeList; NUM_CLASSES];

const EMPTY: Lists = [FreeList {
    head: ptr::null_mut(),
    len: 0,
}; NUM_CLASSES];

/// Caches of ended threads kept for the next new threads.
const PARKED_SLOTS: usize = 8;
/// Only caches holding at most this much are parked; bigger ones are flushed.
const PARK_MAX_BYTES: usize = 2 << 20;

/// A thread cache's own memory (see [`Heap::take_thread_cache`]): a mapping of its own, so
/// that a thread's TLS holds one pointer instead of a 71 KiB cache (which every new thread's
/// TLS set-up would clear, and which does not fit glibc's static-TLS reserve of a `dlopen`ed
/// library).
#[repr(C)]
struct CacheBox {
    /// The next box in the pool.
    next: *mut CacheBox,
    cache: ThreadCache,
}

/// The bytes mapped for one box.
const BOX_LEN: usize = size_of::<CacheBox>().next_multiple_of(4096);

/// The lists of caches whose threads ended (see [`Heap::retire_thread_cache`]) and the boxes
/// they lived in.
pub(super) struct Parked {
    lists: [Lists; PARKED_SLOTS],
    bytes: [usize; PARKED_SLOTS],
    count: usize,
    /// Empty cache boxes of ended threads (a stack linked through `next`), never unmapped:
    /// at most as many as threads ever ran at once.
    boxes: *mut CacheBox,
}

// SAFETY: the lists hold free blocks owned by the heap; they are only used under the lock.
unsafe impl Send for Parked {}

impl Parked {
    pub(super) const fn new() -> Self {
        Parked {
            lists: [EMPTY; PARKED_SLOTS],
            bytes: [0; PARKED_SLOTS],
            count: 0,
            boxes: ptr::null_mut(),
        }
    }

    /// Checks every parked cache: list 0 is empty, list `cls` holds exactly `len` blocks,
    /// each a carved block of an in-use span of class `cls`, and the byte count is their sum.
    pub(super) fn check(&self, map: &PageMap) -> Checked {
        for (i, (lists, &bytes)) in self.lists[..self.count].iter().zip(&self.bytes).enumerate() {
            ensure!(
                lists[0].head.is_null() && lists[0].len == 0,
                "parked cache {i}: list 0 is not empty"
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
                        "parked cache {i}: list {c} longer than its length {}",
                        list.len
                    );
                    check_block(map, cls, obj)?;
                    // SAFETY: parked blocks are free and linked through their first word.
                    obj = unsafe { obj.cast::<*mut u8>().read() };
                    n += 1;
                }
                ensure!(
                    n == list.len,
                    "parked cache {i}: list {c} has length {} but {n} blocks",
                    list.len
                );
                sum += n as usize * cls.size();
            }
            ensure!(
                sum == bytes,
                "parked cache {i}: lists hold {sum} bytes, the cache counts {bytes}"
            );
        }
        let mut b = self.boxes;
        while !b.is_null() {
            // SAFETY: pooled boxes are live mappings no thread uses; the lock is held.
            let cache = unsafe { &(*b).cache };
            ensure!(cache.is_empty(), "a pooled cache box holds blocks");
            // SAFETY: as above.
            b = unsafe { (*b).next };
        }
        Ok(())
    }
}

impl<S: PageSource> Heap<S> {
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
                let bytes = cache.bytes;
                for cls in SizeClass::all() {
                    // Linked through the blocks while parked (a parked cache is a few hundred
                    // bytes, not a 71 KiB array of pointers), bottom of the stack first, so
                    // that the adopting thread gets the same stack (the blocks freed last on
                    // top).
                    let mut head: *mut u8 = ptr::null_mut();
                    let blocks = cache.blocks(cls);
                    for &obj in blocks.iter().rev() {
                        // SAFETY: a cached block is free and at least 8 bytes long.
                        unsafe { obj.cast::<*mut u8>().write(head) };
                        head = obj;
                    }
                    let len = blocks.len() as u32;
                    parked.lists[i][cls.index()] = FreeList { head, len };
                    cache.drop_top(cls, len);
                }
                parked.bytes[i] = bytes;
                parked.count += 1;
                drop(parked);
                // The bytes stay counted as thread-cache bytes while parked.
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
        if !cache.is_empty() {
            return false;
        }
        let mut parked = self.parked.lock();
        if parked.count == 0 {
            return false;
        }
        parked.count -= 1;
        let i = parked.count;
        let lists = parked.lists[i];
        drop(parked);
        for cls in SizeClass::all() {
            let list = lists[cls.index()];
            let mut obj = list.head;
            cache.push_all(
                cls,
                (0..list.len).map(|_| {
                    let p = obj;
                    // SAFETY: parked blocks are free and linked through their first word.
                    obj = unsafe { obj.cast::<*mut u8>().read() };
                    p
                }),
            );
        }
        // Already counted in the statistics when it was parked.
        cache.reported = cache.bytes;
        true
    }

    /// A cache for a new thread, in a box of its own: an ended thread's box from the pool, or
    /// a fresh mapping from the page source (`None` when that fails). It is filled with a
    /// parked cache's lists when there is one ([`adopt_parked_cache`](Self::adopt_parked_cache)),
    /// so a thread that replaces an ended one starts warm. The cache stays valid, used by one
    /// thread at a time, until it is handed to
    /// [`give_back_thread_cache`](Self::give_back_thread_cache); a thread-local then holds
    /// only the pointer (the std `GlobalHeap` and the malloc shim both do this).
    pub fn take_thread_cache(&self) -> Option<NonNull<ThreadCache>> {
        let mut parked = self.parked.lock();
        let b = parked.boxes;
        if !b.is_null() {
            // SAFETY: pooled boxes are live mappings no thread uses; the lock is held.
            parked.boxes = unsafe { (*b).next };
        }
        drop(parked);
        let b = if b.is_null() {
            let b = self.source.map(BOX_LEN)?.as_ptr().cast::<CacheBox>();
            // SAFETY: a fresh page-aligned mapping of BOX_LEN >= size_of::<CacheBox>() bytes,
            // ours; only the header is written: slots above a stack's length are never read,
            // so the 70 KiB of slots stay untouched (no page faults until used).
            unsafe {
                (&raw mut (*b).next).write(ptr::null_mut());
                ThreadCache::init_header(&raw mut (*b).cache, MAX_BATCH as u32);
            }
            b
        } else {
            b
        };
        // SAFETY: the box is ours now: popped from the pool or freshly mapped.
        let cache = unsafe { &mut (*b).cache };
        self.adopt_parked_cache(cache);
        Some(NonNull::from(cache))
    }

    /// Retires the cache of an ending thread ([`retire_thread_cache`](Self::retire_thread_cache):
    /// parked or flushed) and puts its box back in the pool for the next new thread.
    ///
    /// # Safety
    /// `cache` came from [`take_thread_cache`](Self::take_thread_cache) of this heap, was not
    /// given back since, and is not used again.
    pub unsafe fn give_back_thread_cache(&self, cache: NonNull<ThreadCache>) {
        // SAFETY: the caller's contract: a live box's cache, no other reference to it.
        self.retire_thread_cache(unsafe { &mut *cache.as_ptr() });
        // SAFETY: the cache is the field at offset_of!(CacheBox, cache) of its box.
        let b = unsafe {
            cache
                .as_ptr()
                .byte_sub(core::mem::offset_of!(CacheBox, cache))
                .cast::<CacheBox>()
        };
        let mut parked = self.parked.lock();
        // SAFETY: the box is live and no thread uses it any more; the lock is held.
        unsafe { (*b).next = parked.boxes };
        parked.boxes = b;
    }

    /// Flushes every parked cache; returns how many there were.
    pub(super) fn flush_parked(&self) -> usize {
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
}
