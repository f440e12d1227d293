//! Heap statistics.

/// A snapshot of a heap's memory and per-tier counters.
///
/// Byte figures partition the mapped memory: `bytes_in_use + bytes_thread_caches +
/// bytes_transfer_cache + bytes_central_free + bytes_page_heap_free + bytes_released ==
/// bytes_mapped` (up to thread caches that have not published their latest count).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Bytes of blocks and large spans held by the application (block sizes, not request sizes).
    pub bytes_in_use: usize,
    /// Of which large objects (whole spans).
    pub bytes_large: usize,
    /// Bytes of address space mapped for spans.
    pub bytes_mapped: usize,
    /// Bytes mapped for metadata (span records, page map).
    pub bytes_metadata: usize,
    /// Free span bytes not backed by memory: returned to the OS, or never touched.
    pub bytes_released: usize,
    /// Total bytes returned to the OS with `madvise` so far.
    pub bytes_returned_total: u64,
    /// Free span bytes still backed by memory (waiting for the release delay).
    pub bytes_page_heap_free: usize,
    /// Free blocks held in thread caches.
    pub bytes_thread_caches: usize,
    /// Free blocks held as whole batches in transfer caches.
    pub bytes_transfer_cache: usize,
    /// Free (or never carved) bytes in spans of size classes, including span tails.
    pub bytes_central_free: usize,
    /// Spans currently carved into size-class blocks.
    pub class_spans: usize,
    /// Thread cache misses served by the tiers below.
    pub thread_cache_refills: u64,
    /// Thread cache lists that overflowed and returned a batch.
    pub thread_cache_overflows: u64,
    /// Thread caches over their byte bound that returned half of each list.
    pub thread_cache_scavenges: u64,
    /// Thread caches flushed whole (thread exit).
    pub thread_cache_flushes: u64,
    /// Allocations and frees that ran without a thread cache.
    pub uncached_ops: u64,
    /// Refills served by a whole batch of the transfer cache.
    pub transfer_batch_hits: u64,
    /// Batches stored in the transfer cache.
    pub transfer_batch_stores: u64,
    /// Refills served from spans (central free list).
    pub central_span_refills: u64,
    /// Class spans that emptied and went back to the page heap.
    pub central_span_returns: u64,
    /// Spans handed out by the page heap.
    pub page_heap_span_allocs: u64,
    /// Spans returned to the page heap.
    pub page_heap_span_frees: u64,
    /// Large (whole-span) allocations.
    pub large_allocs: u64,
    /// Mappings made.
    pub os_maps: u64,
    /// `madvise` releases made.
    pub os_releases: u64,
}
