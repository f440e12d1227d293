//! Parked caches: the lists of ended threads kept for the next new threads.

use core::sync::atomic::Ordering;

use super::Heap;
use crate::source::PageSource;
use crate::thread_cache::{Lists, ThreadCache};

/// Caches of ended threads kept for the next new threads.
const PARKED_SLOTS: usize = 8;
/// Only caches holding at most this much are parked; bigger ones are flushed.
const PARK_MAX_BYTES: usize = 2 << 20;

/// The lists of caches whose threads ended (see [`Heap::retire_thread_cache`]).
pub(super) struct Parked {
    lists: [Lists; PARKED_SLOTS],
    bytes: [usize; PARKED_SLOTS],
    count: usize,
}

// SAFETY: the lists hold free blocks owned by the heap; they are only used under the lock.
unsafe impl Send for Parked {}

impl Parked {
    pub(super) const fn new() -> Self {
        Parked {
            lists: [ThreadCache::new().lists; PARKED_SLOTS],
            bytes: [0; PARKED_SLOTS],
            count: 0,
        }
    }

    /// The parked caches: each one's lists and bytes.
    pub(super) fn caches(&self) -> impl Iterator<Item = (&Lists, usize)> {
        self.lists[..self.count]
            .iter()
            .zip(self.bytes[..self.count].iter().copied())
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
                parked.lists[i] = cache.lists;
                parked.bytes[i] = cache.bytes;
                parked.count += 1;
                drop(parked);
                // The bytes stay counted as thread-cache bytes while parked.
                cache.lists = ThreadCache::new().lists;
                cache.bytes = 0;
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
        cache.lists = parked.lists[i];
        cache.bytes = parked.bytes[i];
        // Already counted in the statistics when it was parked.
        cache.reported = cache.bytes;
        true
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
