//! `alloc-core`: a tcmalloc-style thread-caching allocator on raw `mmap`, usable as the
//! `#[global_allocator]` of any Rust program.
//!
//! Three tiers (see `INTERNALS.md`):
//! 1. [`ThreadCache`]: per size class free lists, no lock, reached through a [`TlsHook`];
//! 2. the `TransferCache`: per size class, batches of (by default) 32 blocks move under a
//!    small lock, over the central free list of the class's spans;
//! 3. the page heap: spans of 4 KiB pages from a [`PageSource`] (the real one is
//!    [`MmapSource`]), a radix page map, coalescing, release to the OS after idling.
//!
//! [`Heap::check_invariants`] (and `GlobalHeap::check_invariants`) walk every shared
//! structure and panic on the first invariant of `INTERNALS.md` that does not hold: the model
//! and stress tests run it, and it is there for debugging.
//!
//! With the `std` feature, `GlobalHeap` is a ready `#[global_allocator]`:
//!
//! ```
//! # #[cfg(feature = "std")] mod with_std {
//! #[global_allocator]
//! static A: alloc_core::GlobalHeap = alloc_core::GlobalHeap::new();
//! # }
//! ```
//!
//! Without it, build a [`Heap`] over a [`PageSource`] and implement [`TlsHook`] for your own
//! thread-local storage.
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The README's examples, compiled and run as doctests so that they cannot fall out of date
/// (they use `GlobalHeap`, hence `std`).
#[cfg(all(doctest, feature = "std"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(any(feature = "std", test))]
extern crate std;

mod check;
mod free_lists;
mod heap;
mod lock;
mod page_heap;
mod page_map;
mod size_class;
mod source;
mod span;
mod stats;
mod thread_cache;
mod transfer_cache;

#[cfg(feature = "std")]
mod global;

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use global::{GlobalHeap, GlobalHeapBuilder};
pub use heap::{DEFAULT_RELEASE_DELAY_NS, Heap, TlsHook};
pub use source::{MmapSource, PageSource};
pub use stats::Stats;
pub use thread_cache::ThreadCache;

use core::alloc::Layout;

/// The page size the heap manages (4 KiB): large objects are whole pages, so this is the
/// granularity of their [`Heap::usable_size`].
pub const PAGE_SIZE: usize = size_class::PAGE_SIZE;

/// The largest request (32 KiB, at an alignment up to [`PAGE_SIZE`]) served from size-class
/// blocks through the thread cache; larger ones are whole spans from the page heap (a lock,
/// and [`PAGE_SIZE`] granularity).
pub const MAX_SMALL_SIZE: usize = size_class::MAX_SMALL_SIZE;

/// The bytes a block allocated for `layout` has: what [`Heap::usable_size`] reports for it
/// (jemalloc's `nallocx`). A request can use this to ask for exactly what it will get
/// anyway. The size-class table itself stays private.
///
/// ```
/// use core::alloc::Layout;
///
/// assert_eq!(alloc_core::block_size(Layout::from_size_align(100, 8).unwrap()), 112);
/// assert_eq!(alloc_core::block_size(Layout::from_size_align(40_000, 8).unwrap()), 40_960);
/// ```
pub fn block_size(layout: Layout) -> usize {
    size_class::block_size(layout.size(), layout.align())
}

/// Whether a small block of `block` usable bytes is kept in place when resized to `new_size`
/// (an aligned block): the new size fits and is more than half of the block (or the block is
/// one of the two smallest classes), so a shrink to a much smaller class moves and frees the
/// space. [`Heap::reallocate_unsized`] applies this rule; a `realloc` fast path of its own can
/// apply the same one.
///
/// ```
/// assert!(alloc_core::resize_in_place(64, 40));
/// assert!(!alloc_core::resize_in_place(64, 32));
/// assert!(!alloc_core::resize_in_place(64, 65));
/// assert!(alloc_core::resize_in_place(16, 1));
/// ```
#[inline]
pub const fn resize_in_place(block: usize, new_size: usize) -> bool {
    new_size <= block && (new_size > block / 2 || block <= 16)
}
